//! Golden tests: each directory of manifests under `tests/inputs/render/` (and the example
//! cluster) renders to exactly the committed snapshot: the `v1` List the operator would
//! write, then the problems it reports. Review changes with `cargo insta review`, or accept
//! them with `INSTA_UPDATE=always`.
// Test and benchmark set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};

use sriov_core::manifest;
use sriov_core::render::cluster::Snapshot;

const NAMESPACE: &str = "sriov-network-operator";

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn render_dir(dir: &Path) -> String {
    let mut snapshot = Snapshot::default();
    for file in yaml_files(dir) {
        let text = std::fs::read_to_string(&file).expect("readable");
        for doc in manifest::read_str(&text).expect("valid YAML") {
            let doc = doc.unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            assert!(
                doc.unknown_fields.is_empty(),
                "{}: {:?}",
                file.display(),
                doc.unknown_fields
            );
            snapshot.add(doc.object);
        }
    }
    snapshot.apply_admission_defaults();
    let nics = snapshot.supported_nics(NAMESPACE).expect("NIC table");
    let desired = sriov_core::render::desired(&snapshot.inputs(NAMESPACE, "openshift.io", &nics));
    let mut out = serde_saphyr::to_string(&desired.to_list().expect("serializes")).expect("YAML");
    out.push_str("# problems:\n");
    for problem in &desired.problems {
        out.push_str(&format!("# - {problem}\n"));
    }
    out
}

fn inputs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inputs/render")
}

#[test]
fn example_cluster_renders_as_committed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/cluster");
    insta::assert_snapshot!("example-cluster", render_dir(&dir));
}

#[test]
fn alt_name_ranges_render_as_committed() {
    insta::assert_snapshot!(
        "alt-name-range",
        render_dir(&inputs().join("alt-name-range"))
    );
}

#[test]
fn new_and_unreported_nodes_render_as_committed() {
    insta::assert_snapshot!(
        "new-and-unreported-nodes",
        render_dir(&inputs().join("new-and-unreported-nodes"))
    );
}

#[test]
fn bad_input_is_reported_and_the_rest_renders_as_committed() {
    insta::assert_snapshot!("bad-input", render_dir(&inputs().join("bad-input")));
}

#[test]
fn every_input_directory_has_a_test() {
    let mut dirs: Vec<String> = std::fs::read_dir(inputs())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(
        dirs,
        ["alt-name-range", "bad-input", "new-and-unreported-nodes"]
    );
}

fn validate_dir(dir: &Path) -> String {
    let mut snapshot = Snapshot::default();
    for file in yaml_files(dir) {
        let text = std::fs::read_to_string(&file).expect("readable");
        for doc in manifest::read_str(&text).expect("valid YAML") {
            snapshot.add(
                doc.unwrap_or_else(|e| panic!("{}: {e}", file.display()))
                    .object,
            );
        }
    }
    let nics = snapshot.supported_nics(NAMESPACE).expect("NIC table");
    let mut out = String::new();
    for checked in sriov_core::validate::cluster(&snapshot, NAMESPACE, &nics, false) {
        let verdict = if checked.verdict.allowed() {
            "allowed"
        } else {
            "denied"
        };
        out.push_str(&format!("{} {}: {verdict}\n", checked.kind, checked.name));
        for violation in &checked.verdict.violations {
            out.push_str(&format!("  - {violation}\n"));
        }
        for warning in &checked.verdict.warnings {
            out.push_str(&format!("  ! {warning}\n"));
        }
    }
    out
}

#[test]
fn mixed_admission_batch_validates_as_committed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inputs/validate/mixed");
    insta::assert_snapshot!("validate-mixed", validate_dir(&dir));
}
