//! Rendering a whole cluster (node states, device-plugin config) from a snapshot: the
//! operator's per-sync decision. Target: 5,000 nodes x 4 PFs with 200 policies in under
//! 200 ms on one core, growing linearly with the number of nodes.

use sriov_core::nic::SupportedNics;

fn main() {
    divan::main();
}

#[divan::bench(args = [1_000, 2_500, 5_000], sample_count = 20)]
fn render_cluster_200_policies(bencher: divan::Bencher<'_, '_>, nodes: usize) {
    let snapshot = sriov_benches::cluster(nodes, 200);
    let nics = SupportedNics::default();
    let inputs = snapshot.inputs("sriov-network-operator", "openshift.io", &nics);
    bencher.bench(|| {
        let desired = sriov_core::render::desired(divan::black_box(&inputs));
        assert_eq!(desired.node_states.len(), nodes);
        assert!(desired.problems.is_empty());
        desired
    });
}
