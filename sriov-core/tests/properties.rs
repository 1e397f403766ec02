//! Properties of rendering over generated clusters: the output does not depend on the
//! order objects arrive in, equal inputs give byte-identical output, VF ranges on a PF never
//! overlap across resource names, and every rendered range lies inside the PF's numVfs.
// Test and benchmark set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used)]

use proptest::prelude::*;
use sriov_core::api::{InterfaceExt, SriovNetworkNodePolicy};
use sriov_core::ids::VfRange;
use sriov_core::nic::SupportedNics;
use sriov_core::render::{self, cluster::Snapshot};
use sriov_core::testing::{InterfaceBuilder, PolicyBuilder, node_state, worker};
use std::sync::Arc;

const NAMESPACE: &str = "sriov-network-operator";

/// A selector entry: PF index, optional `(start, length)` range, by alt-name.
type Entry = (usize, Option<(u16, u16)>, bool);
/// A generated policy: priority, resource index, numVfs, entries, select by vendor.
type GeneratedPolicy = (Option<i32>, usize, i32, Vec<Entry>, bool);

/// A node's PFs: an E810 and a ConnectX-6 Dx port, named per node, with alt-names.
fn pfs(node: usize, count: usize) -> Vec<InterfaceExt> {
    (0..count)
        .map(|i| {
            let pci = format!("0000:{:02x}:00.{i}", 0x3b + node);
            let name = format!("ens{i}f0");
            let builder = InterfaceBuilder::new(&pci, &name).alt_name(&format!("enp{node}s0f{i}"));
            if i % 2 == 0 {
                builder.intel_e810()
            } else {
                builder.mellanox_cx6dx()
            }
            .build()
        })
        .collect()
}

/// One generated policy: priority, resource (few names, so they collide), numVfs, and its
/// selector entries (PF index, optional range start/length, by name or alt-name).
fn policy_strategy() -> impl Strategy<Value = GeneratedPolicy> {
    (
        proptest::option::of(0i32..100),
        0usize..4,
        0i32..16,
        proptest::collection::vec(
            (
                0usize..3,
                proptest::option::of((0u16..16, 1u16..8)),
                any::<bool>(),
            ),
            0..3,
        ),
        any::<bool>(),
    )
}

fn build_policy(index: usize, generated: &GeneratedPolicy) -> Option<SriovNetworkNodePolicy> {
    let (priority, resource, num_vfs, entries, by_vendor) = generated;
    let mut builder = PolicyBuilder::new(&format!("p{index:02}"))
        .resource(&format!("res{resource}"))
        .num_vfs(*num_vfs);
    if let Some(priority) = priority {
        builder = builder.priority(*priority);
    }
    if *by_vendor {
        builder = builder.vendor("8086");
    }
    for (pf, range, alt) in entries {
        let name = if *alt {
            format!("enp0s0f{pf}")
        } else {
            format!("ens{pf}f0")
        };
        let entry = match range {
            // Ranges must end inside numVfs, as the webhook and the resolver require.
            Some((start, len)) => {
                let last = start + len - 1;
                if i32::from(last) >= *num_vfs {
                    return None;
                }
                format!("{name}#{start}-{last}")
            }
            None => name,
        };
        builder = builder.pf(&entry);
    }
    Some(builder.build())
}

fn cluster_strategy() -> impl Strategy<Value = Snapshot> {
    (
        1usize..4,
        1usize..4,
        proptest::collection::vec(policy_strategy(), 0..10),
    )
        .prop_map(|(nodes, pf_count, policies)| {
            let mut snapshot = Snapshot::default();
            for n in 0..nodes {
                let name = format!("worker-{n}");
                snapshot.nodes.push(Arc::new(worker(&name).into()));
                snapshot
                    .node_states
                    .push(Arc::new(node_state(&name, pfs(n, pf_count))));
            }
            snapshot.policies = policies
                .iter()
                .enumerate()
                .filter_map(|(i, p)| build_policy(i, p))
                .map(Arc::new)
                .collect();
            snapshot
        })
}

fn rendered(snapshot: &Snapshot) -> String {
    let nics = SupportedNics::default();
    let desired = render::desired(&snapshot.inputs(NAMESPACE, "openshift.io", &nics));
    let list = desired.to_list().expect("serializes");
    let mut text = serde_json::to_string(&list).expect("serializes");
    for problem in &desired.problems {
        text.push_str(&problem.to_string());
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn output_does_not_depend_on_input_order((snapshot, seed) in (cluster_strategy(), any::<u64>())) {
        let mut shuffled = snapshot.clone();
        let mut rng = seed;
        let mut next = || { rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); (rng >> 33) as usize };
        for i in (1..shuffled.policies.len()).rev() { let j = next() % (i + 1); shuffled.policies.swap(i, j); }
        for i in (1..shuffled.nodes.len()).rev() { let j = next() % (i + 1); shuffled.nodes.swap(i, j); }
        shuffled.node_states.reverse();
        prop_assert_eq!(rendered(&snapshot), rendered(&shuffled));
    }

    #[test]
    fn equal_input_gives_byte_identical_output(snapshot in cluster_strategy()) {
        prop_assert_eq!(rendered(&snapshot), rendered(&snapshot.clone()));
    }

    #[test]
    fn ranges_are_disjoint_across_resources_and_inside_num_vfs(snapshot in cluster_strategy()) {
        let nics = SupportedNics::default();
        let desired = render::desired(&snapshot.inputs(NAMESPACE, "openshift.io", &nics));
        for state in &desired.node_states {
            for iface in state.spec.interfaces.iter().flatten() {
                let num_vfs = iface.num_vfs.unwrap_or(0);
                let groups: Vec<(String, VfRange)> = iface.vf_groups.iter().flatten().map(|g| {
                    (g.resource_name.clone().unwrap(), g.vf_range.as_deref().unwrap().parse().unwrap())
                }).collect();
                prop_assert!(!groups.is_empty());
                for (i, (resource, range)) in groups.iter().enumerate() {
                    prop_assert!(i32::from(range.last()) < num_vfs, "{range} outside numVfs {num_vfs}");
                    for (other, other_range) in &groups[i + 1..] {
                        prop_assert_ne!(resource, other, "one resource twice on a PF");
                        prop_assert!(!range.overlaps(other_range), "{range} overlaps {other_range}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_lowest_priority_number_owns_the_vfs_it_asked_for(snapshot in cluster_strategy()) {
        // Among resolvable policies, the winner (lowest number, then last name) selecting a PF
        // always finds its own group on that PF.
        let nics = SupportedNics::default();
        let desired = render::desired(&snapshot.inputs(NAMESPACE, "openshift.io", &nics));
        let set = sriov_core::policy::PolicySet::resolve(snapshot.policies.iter().map(|p| &**p));
        for state in &desired.node_states {
            let status = &snapshot.node_states.iter().find(|s| s.metadata.name == state.metadata.name).unwrap().status;
            for pf in status.as_ref().unwrap().interfaces.iter().flatten() {
                let winner = set.policies().iter().rev().find(|p| p.nic.selects(pf) && p.num_vfs > 0);
                if let Some(winner) = winner {
                    let iface = state.spec.interfaces.iter().flatten().find(|i| i.pci_address == pf.pci_address).unwrap();
                    let owns = iface.vf_groups.iter().flatten().any(|g| g.policy_name.as_deref() == Some(winner.name.as_str()));
                    prop_assert!(owns, "winner {} lost its group on {}", winner.name, pf.pci_address);
                }
            }
        }
    }
}
