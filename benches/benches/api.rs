//! Reading API objects: how long it takes to turn a large reported node state into typed
//! objects, with and without the unknown-field bookkeeping `sriovctl` does.
// Test and benchmark set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used)]

use sriov_core::api::SriovNetworkNodeState;

fn main() {
    divan::main();
}

/// Two 128-VF ports and four 256-VF ports: a typical and a dense node.
const SHAPES: &[(usize, usize)] = &[(2, 128), (4, 256)];

#[divan::bench(args = SHAPES)]
fn manifest_read_node_state(bencher: divan::Bencher<'_, '_>, shape: (usize, usize)) {
    let text = sriov_benches::node_state_yaml(shape.0, shape.1);
    bencher.bench(|| {
        let docs = sriov_core::manifest::read_str(divan::black_box(&text)).expect("parses");
        assert!(docs.iter().all(Result::is_ok));
        docs
    });
}

#[divan::bench(args = SHAPES)]
fn json_decode_node_state(bencher: divan::Bencher<'_, '_>, shape: (usize, usize)) {
    let text = sriov_benches::node_state_yaml(shape.0, shape.1);
    let value: serde_json::Value = serde_saphyr::from_str(&text).expect("parses");
    let json = serde_json::to_vec(&value).expect("serializes");
    bencher.bench(|| {
        serde_json::from_slice::<SriovNetworkNodeState>(divan::black_box(&json)).expect("decodes")
    });
}

#[divan::bench(args = SHAPES)]
fn yaml_parse_node_state(bencher: divan::Bencher<'_, '_>, shape: (usize, usize)) {
    let text = sriov_benches::node_state_yaml(shape.0, shape.1);
    bencher.bench(|| {
        serde_saphyr::from_multiple::<serde_json::Value>(divan::black_box(&text)).expect("parses")
    });
}

#[divan::bench(args = SHAPES)]
fn manifest_read_node_state_json(bencher: divan::Bencher<'_, '_>, shape: (usize, usize)) {
    let text = sriov_benches::node_state_yaml(shape.0, shape.1);
    let value: serde_json::Value = serde_saphyr::from_str(&text).expect("parses");
    let json = serde_json::to_string(&value).expect("serializes");
    bencher.bench(|| {
        let docs = sriov_core::manifest::read_str(divan::black_box(&json)).expect("parses");
        assert!(docs.iter().all(Result::is_ok));
        docs
    });
}
