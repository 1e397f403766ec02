//! Every example manifest deserializes into our types and serializes back with no field
//! lost, renamed or added, and none of its fields is unknown to the types.
// Test and benchmark set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sriov_core::manifest::{self, Document};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/manifests")
}

fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .expect("examples/manifests exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

/// Parses a file twice: as plain JSON values (the reference) and as typed documents.
fn load(path: &Path) -> (Vec<Value>, Vec<Document>) {
    let text = std::fs::read_to_string(path).expect("readable example");
    let raw: Vec<Value> = serde_saphyr::from_multiple(&text).expect("valid YAML");
    let docs = manifest::read_str(&text)
        .expect("valid YAML")
        .into_iter()
        .map(|doc| doc.unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect();
    (raw, docs)
}

#[test]
fn every_example_round_trips_without_losing_or_renaming_a_field() {
    let mut kinds = BTreeSet::new();
    let mut objects = 0;
    for path in example_files() {
        let (raw, docs) = load(&path);
        assert_eq!(raw.len(), docs.len(), "{}", path.display());
        for (original, doc) in raw.iter().zip(&docs) {
            let name = format!(
                "{}: {} {}",
                path.display(),
                doc.object.kind(),
                doc.object.display_name()
            );
            assert!(
                doc.unknown_fields.is_empty(),
                "{name}: {:?}",
                doc.unknown_fields
            );
            let written = doc.object.to_value().expect("serializes");
            assert_eq!(
                &written, original,
                "{name} changed on the way through our types"
            );
            kinds.insert(doc.object.kind().to_owned());
            objects += 1;
        }
    }
    let expected: BTreeSet<String> = [
        "SriovNetworkNodePolicy",
        "SriovNetwork",
        "SriovIBNetwork",
        "OVSNetwork",
        "SriovNetworkNodeState",
        "SriovOperatorConfig",
        "SriovNetworkPoolConfig",
        "NetworkAttachmentDefinition",
        "Pod",
        "Node",
    ]
    .map(String::from)
    .into();
    assert_eq!(kinds, expected, "examples must cover every kind");
    assert!(objects >= 15, "only {objects} example objects");
}

#[test]
fn mission_manifests_keep_their_exact_spellings() {
    let (_, states) = load(&examples_dir().join("sriovnetworknodestate.yaml"));
    let state = states[0].object.to_value().unwrap();
    let ports = state["status"]["interfaces"].as_array().unwrap();
    let names: Vec<&str> = ports.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ens801f0", "ens801f1"]);
    assert!(
        ports
            .iter()
            .all(|p| p["totalvfs"] == 128 && p["deviceID"] == "1592")
    );
    // vfID is always written, including VF 0; Vlan keeps its capital V.
    assert_eq!(ports[0]["Vfs"][0]["vfID"], 0);
    assert_eq!(ports[0]["Vfs"][1]["Vlan"], 100);

    let (_, policies) = load(&examples_dir().join("sriovnetworknodepolicy-intel.yaml"));
    let policy = policies[0].object.to_value().unwrap();
    assert_eq!(
        policy["spec"]["nicSelector"]["pfNames"],
        serde_json::json!(["ens801f0"])
    );
    assert_eq!(policy["spec"]["deviceType"], "netdevice");
}

#[test]
fn vf_id_zero_is_written_even_when_it_is_the_only_field_besides_the_address() {
    let vf = sriov_core::api::VirtualFunction {
        pci_address: "0000:81:01.0".into(),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(&vf).unwrap(),
        serde_json::json!({"pciAddress": "0000:81:01.0", "vfID": 0})
    );
}

#[test]
fn defaults_are_not_invented_on_the_way_through() {
    // A policy without deviceType/priority/isRdma stays without them: defaulting is the API
    // server's and the webhook's job, and writing them back would change the user's object.
    let text = "apiVersion: sriovnetwork.openshift.io/v1
kind: SriovNetworkNodePolicy
metadata: {name: minimal, namespace: sriov-network-operator}
spec: {resourceName: r, nodeSelector: {}, numVfs: 1, nicSelector: {rootDevices: ['0000:3b:00.0']}}
";
    let doc = manifest::read_str(text).unwrap().remove(0).unwrap();
    let spec = &doc.object.to_value().unwrap()["spec"];
    assert_eq!(spec.as_object().unwrap().len(), 4, "{spec}");
}
