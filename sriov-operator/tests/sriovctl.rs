//! `sriovctl` end to end: the real binary, real files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use std::io::Write;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sriovctl(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sriovctl"))
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sriovctl starts");
    let mut pipe = child.stdin.take().expect("stdin");
    pipe.write_all(stdin.unwrap_or_default().as_bytes())
        .expect("stdin written");
    drop(pipe);
    child.wait_with_output().expect("sriovctl finishes")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 stdout")
}

#[test]
fn crds_prints_exactly_the_committed_files_in_order() {
    let output = sriovctl(&["crds"], None);
    assert!(output.status.success());
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("deploy/crds"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 7);
    let committed: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert!(
        stdout(&output) == committed,
        "sriovctl crds differs from cat deploy/crds/*.yaml"
    );
}

#[test]
fn crds_out_dir_writes_one_file_per_crd() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("crds");
    let output = sriovctl(&["crds", "--out-dir", out.to_str().unwrap()], None);
    assert!(output.status.success(), "{output:?}");
    for entry in std::fs::read_dir(repo().join("deploy/crds")).unwrap() {
        let path = entry.unwrap().path();
        let written = std::fs::read_to_string(out.join(path.file_name().unwrap())).unwrap();
        assert_eq!(written, std::fs::read_to_string(&path).unwrap());
    }
}

#[test]
fn validate_accepts_every_example_manifest() {
    let output = sriovctl(&["validate", "-f", "examples/manifests"], None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{}{stderr}", stdout(&output));
    assert_eq!(stdout(&output), "");
    assert!(
        stderr.contains("18 object(s) in 12 input(s): 0 rejected"),
        "{stderr}"
    );
}

#[test]
fn validate_reports_unknown_fields_and_type_errors_and_exits_1() {
    let manifest = "\
apiVersion: sriovnetwork.openshift.io/v1
kind: SriovNetworkNodePolicy
metadata: {name: p1, namespace: sriov-network-operator}
spec:
  resourceName: r1
  nodeSelector: {}
  numVfs: 4
  nicSelector: {vendor: \"8086\", pfName: [ens1]}
  isRDMA: true
---
apiVersion: sriovnetwork.openshift.io/v1
kind: SriovNetwork
metadata: {name: n1, namespace: default}
spec: {resourceName: r1, vlan: \"100\"}
";
    let output = sriovctl(&["validate", "-f", "-"], Some(manifest));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout(&output),
        "SriovNetworkNodePolicy sriov-network-operator/p1: unknown field spec.nicSelector.pfName (did you mean pfNames?)\n\
         SriovNetworkNodePolicy sriov-network-operator/p1: unknown field spec.isRDMA (did you mean isRdma?)\n\
         SriovNetwork default/n1: spec.vlan: invalid type: string \"100\", expected i32\n\
         SriovNetworkNodePolicy sriov-network-operator/p1: no matched node is selected by the nodeSelector in CR p1\n"
    );
}

#[test]
fn validate_exits_2_on_unreadable_input() {
    let missing = sriovctl(&["validate", "-f", "does/not/exist.yaml"], None);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("error: reading does/not/exist.yaml")
    );

    let broken = sriovctl(&["validate", "-f", "-"], Some("kind: [unclosed\n"));
    assert_eq!(broken.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&broken.stderr).contains("cannot parse YAML/JSON"));
}

#[test]
fn validate_reads_json_and_kubectl_lists() {
    let list = r#"{"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "sriovnetwork.openshift.io/v1", "kind": "SriovIBNetwork",
         "metadata": {"name": "ib", "namespace": "x"}, "spec": {"resourceName": "ib", "linkstate": "auto"}}
    ]}"#;
    let output = sriovctl(&["validate", "-f", "-"], Some(list));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout(&output),
        "SriovIBNetwork x/ib: unknown field spec.linkstate (did you mean linkState?)\n"
    );
}

#[test]
fn validate_rejects_kinds_it_cannot_check_naming_the_document() {
    let input = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n";
    let output = sriovctl(&["validate", "-f", "-"], Some(input));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout(&output),
        "<stdin>: document 1: unsupported kind Secret in v1\n"
    );
}

#[test]
fn render_prints_the_example_clusters_list_and_labels() {
    let output = sriovctl(&["render", "-f", "examples/cluster/", "-o", "json"], None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let list: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON list");
    let kinds: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "SriovNetworkNodeState",
            "SriovNetworkNodeState",
            "SriovNetworkNodeState",
            "ConfigMap",
            "NetworkAttachmentDefinition"
        ]
    );
    let e810 = &list["items"][0]["spec"]["interfaces"];
    assert_eq!(e810[0]["vfGroups"][0]["vfRange"], "0-3");
    assert_eq!(e810[1]["numVfs"], 16);
    assert!(
        stderr.contains("node worker-0: label sriovnetwork.openshift.io/device-plugin=Enabled")
    );
}

#[test]
fn render_reports_objects_it_cannot_render_and_exits_1() {
    let input = "\
apiVersion: v1
kind: Node
metadata: {name: w, labels: {kubernetes.io/os: linux, node-role.kubernetes.io/worker: ''}}
---
apiVersion: sriovnetwork.openshift.io/v1
kind: SriovNetworkNodePolicy
metadata: {name: p, namespace: sriov-network-operator}
spec: {resourceName: 'bad name', nodeSelector: {}, numVfs: 1, nicSelector: {vendor: '8086'}}
";
    let output = sriovctl(&["render", "-f", "-"], Some(input));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: SriovNetworkNodePolicy sriov-network-operator/p: spec.resourceName: resource name \"bad name\" is invalid"),
        "{stderr}"
    );
    assert!(stdout(&output).contains("kind: List"));
}

#[test]
fn validate_applies_the_webhook_rules_with_the_input_as_cluster() {
    let cluster = std::fs::read_to_string(repo().join("examples/cluster/nodes.yaml")).unwrap()
        + "---\n"
        + &std::fs::read_to_string(repo().join("examples/cluster/nodestates.yaml")).unwrap();
    let policies = "
---
apiVersion: sriovnetwork.openshift.io/v1
kind: SriovNetworkNodePolicy
metadata: {name: a, namespace: sriov-network-operator}
spec: {resourceName: a, nodeSelector: {}, numVfs: 8, nicSelector: {pfNames: ['ens801f0#0-3']}}
---
apiVersion: sriovnetwork.openshift.io/v1
kind: SriovNetworkNodePolicy
metadata: {name: b, namespace: sriov-network-operator}
spec: {resourceName: b, nodeSelector: {}, numVfs: 8, nicSelector: {pfNames: ['enp129s0f0#2-5'], vendor: '8086', deviceID: '1528'}}
---
apiVersion: sriovnetwork.openshift.io/v1
kind: SriovNetworkNodePolicy
metadata: {name: c, namespace: default}
spec: {resourceName: c, nodeSelector: {}, numVfs: 2, nicSelector: {pfNames: ['ens2f1']}}
";
    let output = sriovctl(
        &["validate", "-f", "-"],
        Some(&(cluster.clone() + policies)),
    );
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    for line in [
        "SriovNetworkNodePolicy sriov-network-operator/a: VF index range in ens801f0#0-3 is overlapped with existing policy b",
        "SriovNetworkNodePolicy sriov-network-operator/b: vendor/device 8086/1528 is not supported",
        "SriovNetworkNodePolicy sriov-network-operator/b: VF index range in enp129s0f0#2-5 is overlapped with existing policy a",
        "warning: SriovNetworkNodePolicy default/c: c is created or updated but not used. Only policy in sriov-network-operator namespace is respected.",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    // --dev-mode drops the supported-NIC rule.
    let dev = sriovctl(
        &["validate", "--dev-mode", "-f", "-"],
        Some(&(cluster + policies)),
    );
    assert!(!stdout(&dev).contains("is not supported"));
}

#[test]
fn render_names_the_object_and_field_of_bad_input_and_never_panics() {
    let input = "\
apiVersion: sriovnetwork.openshift.io/v1
kind: SriovNetworkNodePolicy
metadata: {name: no-resource, namespace: sriov-network-operator}
spec: {nodeSelector: {}, numVfs: 1, nicSelector: {vendor: '8086'}}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
apiVersion: sriovnetwork.openshift.io/v1
kind: SriovNetworkNodePolicy
metadata: {name: bad-range, namespace: sriov-network-operator}
spec: {resourceName: r, nodeSelector: {}, numVfs: 4, nicSelector: {pfNames: ['ens1#3']}}
";
    let output = sriovctl(&["render", "-f", "-"], Some(input));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "error: <stdin>: document 1: SriovNetworkNodePolicy sriov-network-operator/no-resource: spec: missing field `resourceName`",
        "error: <stdin>: document 2: unsupported kind Widget in example.com/v1",
        "error: SriovNetworkNodePolicy sriov-network-operator/bad-range: spec.nicSelector.pfNames[0]: invalid PF selector \"ens1#3\": probably incorrect range character usage",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in\n{stderr}"
        );
    }
    let malformed = sriovctl(&["render", "-f", "-"], Some("kind: [\n"));
    assert_eq!(malformed.status.code(), Some(2));
}

#[test]
fn a_supported_nic_config_map_in_the_input_replaces_the_built_in_table() {
    let base = "\
apiVersion: v1
kind: Node
metadata: {name: w, labels: {kubernetes.io/os: linux, node-role.kubernetes.io/worker: ''}}
---
apiVersion: sriovnetwork.openshift.io/v1
kind: SriovNetworkNodeState
metadata: {name: w, namespace: sriov-network-operator}
status:
  interfaces: [{name: eno1, pciAddress: '0000:01:00.0', vendor: '8086', deviceID: '1528', totalvfs: 63}]
spec: {}
---
apiVersion: sriovnetwork.openshift.io/v1
kind: SriovNetworkNodePolicy
metadata: {name: x540, namespace: sriov-network-operator}
spec: {resourceName: x540, nodeSelector: {}, numVfs: 8, nicSelector: {vendor: '8086', deviceID: '1528'}}
";
    let rejected = sriovctl(&["validate", "-f", "-"], Some(base));
    assert!(stdout(&rejected).contains("vendor/device 8086/1528 is not supported"));
    let with_table = format!(
        "{base}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: supported-nic-ids, namespace: sriov-network-operator}}\ndata: {{Intel_ixgbe_X540: '8086 1528 1515'}}\n"
    );
    let accepted = sriov_ctl_ok(&with_table);
    assert_eq!(accepted, "");
}

fn sriov_ctl_ok(input: &str) -> String {
    let output = sriovctl(&["validate", "-f", "-"], Some(input));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    stdout(&output)
}

#[test]
fn discover_and_doctor_read_the_host_root_they_are_given() {
    use sriov_hw::fake::{FakeSysfs, presets};
    let fake = FakeSysfs::new().unwrap();
    fake.pf("0000:81:00.0", presets::INTEL_E810_CQDA2)
        .name("ens801f0")
        .num_vfs(2)
        .build()
        .unwrap();
    let root = fake.path().to_str().unwrap().to_owned();

    let output = sriovctl(&["discover", "--host-root", &root, "-o", "json"], None);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let status: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(status["interfaces"][0]["name"], "ens801f0");
    assert_eq!(status["interfaces"][0]["Vfs"][1]["vfID"], 1);
    assert_eq!(status.get("system"), None, "no RDMA on this host");
    let params = fake.root().join("sys/module/ib_core/parameters");
    std::fs::create_dir_all(&params).unwrap();
    std::fs::write(params.join("netns_mode"), "N\n").unwrap();
    let output = sriovctl(&["discover", "--host-root", &root, "-o", "json"], None);
    let status: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(status["system"]["rdmaMode"], "exclusive");

    let doctor = sriovctl(&["doctor", "--host-root", &root], None);
    assert_eq!(doctor.status.code(), Some(0), "{}", stdout(&doctor));
    assert!(
        stdout(&doctor)
            .contains("[PASS] PF 0000:81:00.0 (8086:1592, ens801f0): supported, up to 128 VFs")
    );

    fake.cmdline("root=/dev/sda2").unwrap();
    std::fs::remove_dir_all(fake.root().join("sys/kernel/iommu_groups")).unwrap();
    let failing = sriovctl(&["doctor", "--host-root", &root], None);
    assert_eq!(failing.status.code(), Some(1));
    assert!(stdout(&failing).contains("[FAIL] IOMMU active"));
}

#[test]
fn plan_shows_what_the_daemon_would_do_on_a_host() {
    use sriov_hw::fake::{FakeSysfs, presets};
    let fake = FakeSysfs::new().unwrap();
    fake.pf("0000:81:00.0", presets::INTEL_E810_CQDA2)
        .name("ens801f0")
        .build()
        .unwrap();
    fake.pf("0000:81:00.1", presets::INTEL_E810_CQDA2)
        .name("ens801f1")
        .num_vfs(2)
        .build()
        .unwrap();
    let root = fake.path().to_str().unwrap().to_owned();
    let state = fake.path().join("state.yaml");
    std::fs::write(
        &state,
        "apiVersion: sriovnetwork.openshift.io/v1
kind: SriovNetworkNodeState
metadata: {name: worker-0, namespace: sriov-network-operator}
spec:
  interfaces:
  - pciAddress: '0000:81:00.0'
    numVfs: 2
    vfGroups: [{resourceName: dpdk, deviceType: vfio-pci, vfRange: 0-1, policyName: p}]
  - pciAddress: '0000:81:00.1'
    numVfs: 4
    vfGroups: [{resourceName: net, deviceType: netdevice, vfRange: 0-3, policyName: q}]
",
    )
    .unwrap();
    let text = sriovctl(
        &["plan", "-f", state.to_str().unwrap(), "--host-root", &root],
        None,
    );
    assert_eq!(
        text.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );
    let text = stdout(&text);
    assert!(
        text.starts_with(
            "disruption: drain\n  because 0000:81:00.1: reconfiguring a PF that has 2 VFs\n"
        ),
        "{text}"
    );
    assert!(text.contains("  1. 0000:81:00.0: write udev rules (NetworkManager ignores its VFs)\n  2. 0000:81:00.0: set sriov_numvfs to 0, then 2\n  3. 0000:81:00.0 VF 0: bind vfio-pci\n"), "{text}");

    let json = sriovctl(
        &[
            "plan",
            "-f",
            state.to_str().unwrap(),
            "--host-root",
            &root,
            "-o",
            "json",
        ],
        None,
    );
    let plan: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(plan["disruption"], "drain");
    assert_eq!(
        plan["actions"][1],
        serde_json::json!({"action": "setNumVfs", "pf": "0000:81:00.0", "numVfs": 2})
    );
    assert_eq!(plan["actions"][0]["action"], "writeUdevRules");

    // IOMMU off (no groups) on an Intel host: vfio-pci needs kernel arguments and a reboot.
    fake.cmdline("root=/dev/sda2").unwrap();
    std::fs::remove_dir_all(fake.root().join("sys/kernel/iommu_groups")).unwrap();
    std::fs::write(
        fake.root().join("proc/cpuinfo"),
        "processor\t: 0\nvendor_id\t: GenuineIntel\n",
    )
    .unwrap();
    let reboot = sriovctl(
        &[
            "plan",
            "-f",
            state.to_str().unwrap(),
            "--host-root",
            &root,
            "-o",
            "json",
        ],
        None,
    );
    let plan: serde_json::Value = serde_json::from_str(&stdout(&reboot)).unwrap();
    assert_eq!(plan["disruption"], "reboot");
    assert_eq!(
        plan["actions"].as_array().unwrap().last().unwrap(),
        &serde_json::json!({"action": "setKernelArgs", "add": ["intel_iommu=on", "iommu=pt"], "remove": []})
    );
}
