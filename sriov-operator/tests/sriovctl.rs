//! `sriovctl` end to end: the real binary, real files.
// Test and benchmark set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used)]

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
    // A command that does not read its standard input may exit before we write it.
    match pipe.write_all(stdin.unwrap_or_default().as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("stdin: {e}"),
        _ => {}
    }
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
        stderr.contains("18 object(s) in 12 input(s): 0 rejected, 0 skipped"),
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
        "<stdin>:8:33: SriovNetworkNodePolicy sriov-network-operator/p1: unknown field spec.nicSelector.pfName (did you mean pfNames?)\n\
         <stdin>:9:3: SriovNetworkNodePolicy sriov-network-operator/p1: unknown field spec.isRDMA (did you mean isRdma?)\n\
         <stdin>:14:26: SriovNetwork default/n1: spec.vlan: expected an integer, got string \"100\"\n\
         <stdin>:1:1: SriovNetworkNodePolicy sriov-network-operator/p1: no matched node is selected by the nodeSelector in CR p1\n"
    );
    // Two objects rejected (the policy counts once for its three problems).
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .ends_with("2 object(s) in 1 input(s): 2 rejected, 0 skipped\n"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn validate_counts_an_object_once_and_puts_the_location_on_every_line() {
    let manifest = "\
apiVersion: sriovnetwork.openshift.io/v1
kind: SriovNetworkNodePolicy
metadata: {name: p1, namespace: sriov-network-operator}
spec:
  resourceName: r1
  nodeSelector: {}
  numVfs: 4
  nicSelector: {vendor: \"8086\"}
  one: 1
  two: 2
  three: 3
";
    let output = sriovctl(&["validate", "-f", "-"], Some(manifest));
    assert_eq!(output.status.code(), Some(1));
    let lines: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    for (line, at) in lines
        .iter()
        .zip(["<stdin>:9:3: ", "<stdin>:10:3: ", "<stdin>:11:3: "])
    {
        assert!(line.starts_with(at), "{line}");
    }
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "1 object(s) in 1 input(s): 1 rejected, 0 skipped\n"
    );
}

#[test]
fn a_value_the_schema_rejects_is_reported_first_by_every_command() {
    let manifest = "\
apiVersion: sriovnetwork.openshift.io/v1
kind: SriovNetworkNodePolicy
metadata: {name: p1, namespace: sriov-network-operator}
spec:
  resourceName: r1
  nodeSelector: {kubernetes.io/hostname: worker-0}
  numVfs: -1
  nicSelector: {pfNames: [ens1f0]}
";
    let expected = "<stdin>:7:3: SriovNetworkNodePolicy sriov-network-operator/p1: spec.numVfs: -1 is less than the minimum: must be at least 0";
    let validate = sriovctl(&["validate", "-f", "-"], Some(manifest));
    assert_eq!(validate.status.code(), Some(1));
    assert_eq!(
        stdout(&validate),
        format!("{expected}\n"),
        "nothing else is reported"
    );
    let render = sriovctl(&["render", "-f", "-"], Some(manifest));
    assert_eq!(render.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&render.stderr);
    assert_eq!(
        stderr.lines().next(),
        Some(format!("error: {expected}").as_str()),
        "{stderr}"
    );
    assert!(!stderr.contains("outside"), "{stderr}");
}

#[test]
fn two_objects_without_a_separator_are_one_line_naming_file_document_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("namespaces.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: foo\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: bar\n",
    )
    .unwrap();
    for command in ["validate", "render"] {
        let output = sriovctl(&[command, "-f", file.to_str().unwrap()], None);
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().next().unwrap();
        assert_eq!(
            first,
            format!(
                "error: {}:5:1: document 1: duplicate mapping key `apiVersion` is not allowed here (if two objects follow each other, separate them with a line holding ---)",
                file.display()
            ),
            "{command}"
        );
        for leak in ["<input>", "Options", "error: error", " --> "] {
            assert!(!stderr.contains(leak), "{command}: {leak:?} in {stderr}");
        }
    }
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
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(stderr.starts_with("error: <stdin>:"), "{stderr}");
    assert_eq!(
        stderr.lines().count(),
        2,
        "one line, then the summary: {stderr}"
    );
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
        "<stdin> (document 1, item 1): SriovIBNetwork x/ib: unknown field spec.linkstate (did you mean linkState?)\n"
    );
}

#[test]
fn kinds_the_operator_does_not_read_are_skipped_with_a_note() {
    let input = "apiVersion: v1\nkind: Namespace\nmetadata: {name: sriov-network-operator}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: x}\nspec: {}\n";
    for command in ["validate", "render"] {
        let output = sriovctl(&[command, "-f", "-"], Some(input));
        assert_eq!(output.status.code(), Some(0), "{command}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("note: <stdin>:1:1: skipped Namespace sriov-network-operator (v1): the operator does not read this kind\nnote: <stdin>:5:1: skipped Deployment x/d (apps/v1): the operator does not read this kind\n"),
            "{command}: {stderr}"
        );
    }
    let validate = sriovctl(&["validate", "-f", "-"], Some(input));
    assert_eq!(stdout(&validate), "");
    assert!(
        String::from_utf8_lossy(&validate.stderr)
            .ends_with("2 object(s) in 1 input(s): 0 rejected, 2 skipped\n")
    );
    // A kind in the operator's own group that does not exist is a mistake, not a skip.
    let typo =
        "apiVersion: sriovnetwork.openshift.io/v1\nkind: SriovNetworkPolicy\nmetadata: {name: p}\n";
    let output = sriovctl(&["validate", "-f", "-"], Some(typo));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).starts_with("<stdin>:2:1: document 1: unsupported kind SriovNetworkPolicy in sriovnetwork.openshift.io/v1 (did you mean sriovnetwork.openshift.io/v1 SriovNetworkNodePolicy?)"),
        "{}",
        stdout(&output)
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
    let input = cluster.clone() + policies;
    let output = sriovctl(&["validate", "-f", "-"], Some(&input));
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    // Each line names where its object starts: the apiVersion line, two above metadata.
    let start = |name: &str| {
        let metadata = input
            .lines()
            .position(|l| l.starts_with(&format!("metadata: {{name: {name},")))
            .unwrap();
        format!("<stdin>:{}:1", metadata - 1)
    };
    let (a, b, c) = (start("a"), start("b"), start("c"));
    for line in [
        format!(
            "{a}: SriovNetworkNodePolicy sriov-network-operator/a: VF index range in ens801f0#0-3 is overlapped with existing policy b"
        ),
        format!(
            "{b}: SriovNetworkNodePolicy sriov-network-operator/b: vendor/device 8086/1528 is not supported"
        ),
        format!(
            "{b}: SriovNetworkNodePolicy sriov-network-operator/b: VF index range in enp129s0f0#2-5 is overlapped with existing policy a"
        ),
        format!(
            "warning: {c}: SriovNetworkNodePolicy default/c: c is created or updated but not used. Only policy in sriov-network-operator namespace is respected."
        ),
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
        "error: <stdin>:4:1: SriovNetworkNodePolicy sriov-network-operator/no-resource: spec.resourceName: required field is missing",
        "note: <stdin>:6:1: skipped Widget w (example.com/v1): the operator does not read this kind",
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
    use sriov_hw::fake::FakeSysfs;
    let fake = FakeSysfs::e810(2).unwrap();
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

/// A host root with one E810 port, `0000:81:00.0` named `ens801f0`, without VFs; and its
/// path.
fn e810_host() -> (sriov_hw::fake::FakeSysfs, String) {
    let fake = sriov_hw::fake::FakeSysfs::e810(0).expect("a host root");
    let root = fake.path().to_str().expect("a UTF-8 path").to_owned();
    (fake, root)
}

#[test]
fn plan_shows_what_the_daemon_would_do_on_a_host() {
    use sriov_hw::fake::{FakeSysfs, presets};
    let fake = FakeSysfs::e810(0).unwrap();
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

    let plan_json = || -> serde_json::Value {
        let args = [
            "plan",
            "-f",
            state.to_str().unwrap(),
            "--host-root",
            &root,
            "-o",
            "json",
        ];
        serde_json::from_str(&stdout(&sriovctl(&args, None))).unwrap()
    };
    let plan = plan_json();
    assert_eq!(plan["disruption"], "drain");
    assert!(
        plan.get("externallyManaged").is_none(),
        "listed only when there are some"
    );
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
    let plan = plan_json();
    assert_eq!(plan["disruption"], "reboot");
    assert_eq!(
        plan["actions"].as_array().unwrap().last().unwrap(),
        &serde_json::json!({"action": "setKernelArgs", "add": ["intel_iommu=on", "iommu=pt"], "remove": []})
    );
}

#[test]
fn plan_refuses_a_malformed_vf_range_naming_the_pf_and_field() {
    let (_fake, root) = e810_host();
    let state = "apiVersion: sriovnetwork.openshift.io/v1
kind: SriovNetworkNodeState
metadata: {name: worker-0, namespace: sriov-network-operator}
spec:
  interfaces:
  - pciAddress: '0000:81:00.0'
    numVfs: 2
    vfGroups: [{resourceName: net, deviceType: netdevice, vfRange: 1-x, policyName: p}]
";
    let output = sriovctl(&["plan", "-f", "-", "--host-root", &root], Some(state));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: PF 0000:81:00.0: vfGroups[0].vfRange: invalid VF range \"1-x\": end range is incorrect\n"
    );
}

#[test]
fn a_host_root_without_sys_bus_pci_is_an_error_naming_it() {
    let state = "apiVersion: sriovnetwork.openshift.io/v1\nkind: SriovNetworkNodeState\nmetadata: {name: w}\nspec: {}\n";
    for args in [
        &["discover", "--host-root", "/nonexistent"][..],
        &["doctor", "--host-root", "/nonexistent"],
        &["plan", "-f", "-", "--host-root", "/nonexistent"],
    ] {
        let output = sriovctl(args, Some(state));
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert_eq!(stdout(&output), "", "{args:?}: nothing on stdout");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            "error: /nonexistent is not a host root: /nonexistent/sys/bus/pci: No such file or directory (os error 2)\n",
            "{args:?}"
        );
    }
}

#[test]
fn plan_picks_the_node_state_of_a_list_by_name_and_warns_about_absent_pfs() {
    let (_fake, root) = e810_host();
    let state = |node: &str, pci: &str| {
        format!(
            r#"{{"apiVersion": "sriovnetwork.openshift.io/v1", "kind": "SriovNetworkNodeState",
             "metadata": {{"name": "{node}", "namespace": "sriov-network-operator"}},
             "spec": {{"interfaces": [{{"pciAddress": "{pci}", "name": "ens801f0", "numVfs": 2,
               "vfGroups": [{{"resourceName": "r", "deviceType": "netdevice", "vfRange": "0-1", "policyName": "p"}}]}}]}}}}"#
        )
    };
    let list = format!(
        r#"{{"apiVersion": "v1", "kind": "List", "items": [{}, {}]}}"#,
        state("worker-0", "0000:81:00.0"),
        state("worker-1", "0000:d8:00.0")
    );
    let plan = |extra: &[&str]| {
        let mut args = vec!["plan", "-f", "-", "--host-root", &root];
        args.extend_from_slice(extra);
        sriovctl(&args, Some(&list))
    };

    let ambiguous = plan(&[]);
    assert_eq!(ambiguous.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&ambiguous.stderr),
        "error: -: 2 node states (worker-0, worker-1); choose one with --node NAME\n"
    );
    assert_eq!(stdout(&ambiguous), "");

    let missing = plan(&["--node", "worker-9"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr),
        "error: -: no SriovNetworkNodeState for node worker-9 (found: worker-0, worker-1)\n"
    );

    let worker0 = plan(&["--node", "worker-0"]);
    assert_eq!(worker0.status.code(), Some(0));
    assert!(stdout(&worker0).contains("0000:81:00.0: set sriov_numvfs to 0, then 2"));
    assert_eq!(String::from_utf8_lossy(&worker0.stderr), "");

    // worker-1's PF is not on this host: nothing to do, and a warning says so.
    let worker1 = plan(&["--node", "worker-1"]);
    assert_eq!(worker1.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&worker1.stderr),
        "warning: interface ens801f0 (0000:d8:00.0) is in the spec but not on this host; nothing is done for it\n"
    );
    assert_eq!(stdout(&worker1), "disruption: none\nnothing to do\n");
}

/// The table in `examples/cluster/README.md` says, per worker, which PFs get a spec, the
/// device-plugin label and the resources in its device-plugin config; the render must
/// say the same.
#[test]
fn the_example_clusters_readme_tells_what_render_writes() {
    let readme = std::fs::read_to_string(repo().join("examples/cluster/README.md")).unwrap();
    let output = sriovctl(&["render", "-f", "examples/cluster/", "-o", "json"], None);
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let list: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let items = list["items"].as_array().unwrap();
    let config = items.iter().find(|i| i["kind"] == "ConfigMap").unwrap();
    let list_or_none = |names: Vec<String>| {
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    };
    let mut rows = 0;
    let table = readme
        .lines()
        .skip_while(|l| !l.starts_with("| Node | Configured PFs |"))
        .take_while(|l| l.starts_with('|'));
    for row in table.filter(|l| l.starts_with("| worker-")) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let [node, pfs, label, resources] = cells[..] else {
            panic!("row {row:?} does not have four cells")
        };
        let state = items
            .iter()
            .find(|i| i["kind"] == "SriovNetworkNodeState" && i["metadata"]["name"] == node)
            .unwrap_or_else(|| panic!("no node state for {node}"));
        let rendered_pfs: Vec<String> = state["spec"]["interfaces"]
            .as_array()
            .map(|ifaces| {
                ifaces
                    .iter()
                    .map(|i| format!("`{}`", i["name"].as_str().unwrap()))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(pfs, list_or_none(rendered_pfs), "{node}: configured PFs");
        assert!(
            stderr.contains(&format!(
                "node {node}: label sriovnetwork.openshift.io/device-plugin={label}\n"
            )),
            "{node}: label {label} not in\n{stderr}"
        );
        let node_config: serde_json::Value =
            serde_json::from_str(config["data"][node].as_str().unwrap()).unwrap();
        let rendered_resources: Vec<String> = node_config["resourceList"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|r| r["resourceName"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            resources,
            list_or_none(rendered_resources),
            "{node}: resources"
        );
        rows += 1;
    }
    assert_eq!(rows, 3, "one row per worker");
    assert!(
        readme.contains("control-plane-0 is not a worker")
            && !items
                .iter()
                .any(|i| i["metadata"]["name"] == "control-plane-0"),
        "control-plane-0 gets nothing"
    );
}

#[test]
fn input_without_any_object_is_an_error_not_an_empty_cluster() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a manifest").unwrap();
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "# nothing here\n").unwrap();
    let d = dir.path().display().to_string();
    let e = empty.display().to_string();
    for command in ["validate", "render"] {
        let none = sriovctl(&[command, "-f", &e], None);
        assert_eq!(none.status.code(), Some(2), "{command}");
        assert!(
            String::from_utf8_lossy(&none.stderr).contains(&format!("error: no objects in {e}")),
            "{command}: {}",
            String::from_utf8_lossy(&none.stderr)
        );
        let nested = dir.path().join("sub");
        std::fs::create_dir_all(&nested).unwrap();
        let n = nested.display().to_string();
        let no_files = sriovctl(&[command, "-f", &n], None);
        assert_eq!(no_files.status.code(), Some(2), "{command}");
        assert!(
            String::from_utf8_lossy(&no_files.stderr).contains(&format!(
                "error: reading {n}: no manifest files (*.yaml, *.yml, *.json) in it"
            )),
            "{command}: {}",
            String::from_utf8_lossy(&no_files.stderr)
        );
    }
    // A directory whose only manifest is empty is no better.
    let output = sriovctl(&["validate", "-f", &d], None);
    assert_eq!(output.status.code(), Some(2));
}
