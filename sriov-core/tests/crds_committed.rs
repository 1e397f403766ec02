//! The CRDs committed under `deploy/crds/` are exactly what the API types generate.
//! Regenerate them with `cargo run -p sriov-operator --bin sriovctl -- crds --out-dir deploy/crds`.

use std::collections::BTreeSet;
use std::path::Path;

use sriov_core::crd;

const REGENERATE: &str = "cargo run -p sriov-operator --bin sriovctl -- crds --out-dir deploy/crds";

#[test]
fn committed_crds_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/crds");
    let mut expected = BTreeSet::new();
    for c in crd::operator_crds() {
        let name = crd::file_name(&c);
        let committed = std::fs::read_to_string(dir.join(&name))
            .unwrap_or_else(|e| panic!("deploy/crds/{name}: {e}; run `{REGENERATE}`"));
        assert!(
            committed == crd::to_yaml(&c).unwrap(),
            "deploy/crds/{name} is stale; run `{REGENERATE}`"
        );
        expected.insert(name);
    }
    let present: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("deploy/crds exists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        present, expected,
        "deploy/crds holds files the types do not generate"
    );
}

#[test]
fn crd_files_are_named_like_upstreams() {
    let names: Vec<String> = crd::operator_crds().iter().map(crd::file_name).collect();
    assert_eq!(
        names,
        [
            "sriovnetwork.openshift.io_ovsnetworks.yaml",
            "sriovnetwork.openshift.io_sriovibnetworks.yaml",
            "sriovnetwork.openshift.io_sriovnetworknodepolicies.yaml",
            "sriovnetwork.openshift.io_sriovnetworknodestates.yaml",
            "sriovnetwork.openshift.io_sriovnetworkpoolconfigs.yaml",
            "sriovnetwork.openshift.io_sriovnetworks.yaml",
            "sriovnetwork.openshift.io_sriovoperatorconfigs.yaml",
        ]
    );
}

#[test]
fn generated_crds_parse_back_as_crds() {
    for c in crd::operator_crds() {
        let yaml = crd::to_yaml(&c).unwrap();
        let back: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition =
            serde_saphyr::from_str(yaml.trim_start_matches("---\n")).expect("valid CRD YAML");
        assert_eq!(back, c);
    }
}
