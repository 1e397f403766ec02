//! The `sriov` binary end to end, as root, in network namespaces the tests create: veth
//! pairs stand in for VF netdevs (a FakeSysfs tree maps the VF PCI addresses to them), and
//! Debian's containernetworking-plugins provide IPAM (`host-local`, `static`) and a chained
//! `tuning` plugin. PF-side settings, which veth cannot hold, are tested in `pf_side.rs`.
// Test helpers panic on setup failures by design: that is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Lab, failure, lab_ready, stdout, success};
use serde_json::json;

const VF: &str = "0000:af:06.0";

/// Returns from the test (after a loud skip) unless it can run: root, `nsenter`, and the
/// Debian CNI plugins named.
macro_rules! require_lab {
    ($($plugin:literal),*) => {
        if !lab_ready(&[$($plugin),*]) {
            return;
        }
    };
}

#[test]
fn add_check_del_round_trip_with_host_local_ipam() {
    require_lab!("host-local");
    let lab = Lab::new();
    let pod = lab.pod("pod1");
    let netns = pod.path().display().to_string();
    let before = lab.host_links();
    let conf = lab.conf(VF, &lab.host_local());

    let result = success(&lab.run("ADD", "c1", &netns, "net1", &conf));
    assert_eq!(result["cniVersion"], "1.0.0");
    assert_eq!(result["interfaces"][0]["name"], "net1");
    assert_eq!(result["interfaces"][0]["sandbox"], netns.as_str());
    assert_eq!(result["interfaces"][0]["mac"], "02:00:00:00:0a:00");
    assert_eq!(result["interfaces"][0]["mtu"], 1500);
    assert_eq!(result["ips"][0]["interface"], 0);
    assert_eq!(result["ips"][0]["address"], "10.56.217.2/24");
    assert_eq!(result["routes"][0]["dst"], "0.0.0.0/0");

    // The VF netdev is in the pod, up, addressed; gone from the host.
    let in_pod = Lab::links(pod.path());
    assert!(in_pod.iter().any(|l| l.0 == "net1" && l.3), "{in_pod:?}");
    let pod_nl = sriov_hw::netlink::Netlink::in_netns(&pod.open().unwrap()).unwrap();
    assert!(
        pod_nl
            .addresses("net1")
            .unwrap()
            .contains(&("10.56.217.2".parse().unwrap(), 24))
    );
    assert!(!lab.host_links().iter().any(|l| l.0 == "vf0"));
    assert_eq!(lab.state_files(), ["0000:af:06.0", "c1-net1"]);
    assert!(
        std::path::Path::new(&lab.data_dir())
            .join("sriov-net/10.56.217.2")
            .exists()
    );

    // CHECK against the ADD result.
    let mut check_conf: serde_json::Value = serde_json::from_str(&conf).unwrap();
    check_conf["prevResult"] = result.clone();
    success(&lab.run("CHECK", "c1", &netns, "net1", &check_conf.to_string()));

    // DEL: the host is exactly as before, twice over.
    success(&lab.run("DEL", "c1", &netns, "net1", &conf));
    assert_eq!(lab.host_links(), before);
    assert_eq!(Lab::links(pod.path()).len(), 1, "only lo left in the pod");
    assert!(lab.state_files().is_empty(), "{:?}", lab.state_files());
    success(&lab.run("DEL", "c1", &netns, "net1", &conf));
    // CHECK after DEL finds nothing.
    let err = failure(&lab.run("CHECK", "c1", &netns, "net1", &check_conf.to_string()));
    assert_eq!(err["code"], 106);
    // The lease was released.
    let lease = std::path::Path::new(&lab.data_dir()).join("sriov-net/10.56.217.2");
    assert!(
        !lease.exists(),
        "host-local lease {} left behind",
        lease.display()
    );
}

#[test]
fn a_requested_mac_is_set_in_the_pod_and_the_original_restored() {
    require_lab!();
    let lab = Lab::new();
    let pod = lab.pod("pod1");
    let netns = pod.path().display().to_string();
    let before = lab.host_links();
    let conf = lab.conf(VF, r#""runtimeConfig":{"mac":"0A:00:00:00:00:99"}"#);
    let result = success(&lab.run("ADD", "c1", &netns, "eth1", &conf));
    assert_eq!(result["interfaces"][0]["mac"], "0a:00:00:00:00:99");
    let in_pod = Lab::links(pod.path());
    assert!(
        in_pod
            .iter()
            .any(|l| l.0 == "eth1" && l.1.as_deref() == Some("0a:00:00:00:00:99"))
    );
    success(&lab.run("DEL", "c1", &netns, "eth1", &conf));
    assert_eq!(lab.host_links(), before);
}

#[test]
fn a_chained_tuning_plugin_extends_the_result_and_del_undoes_its_mtu() {
    require_lab!("host-local", "tuning");
    let lab = Lab::new();
    let pod = lab.pod("pod1");
    let netns = pod.path().display().to_string();
    let before = lab.host_links();
    let conf = lab.conf(VF, &lab.host_local());
    let result = success(&lab.run("ADD", "c1", &netns, "net1", &conf));
    let tuning = json!({"cniVersion": "1.0.0", "name": "sriov-net", "type": "tuning", "mtu": 1400, "prevResult": result});
    let tuned = lab.run_plugin("tuning", "ADD", "c1", &netns, "net1", &tuning.to_string());
    assert!(tuned.status.success(), "tuning: {}", stdout(&tuned));
    assert!(
        Lab::links(pod.path())
            .iter()
            .any(|l| l.0 == "net1" && l.2 == Some(1400))
    );
    let tuning_del = lab.run_plugin("tuning", "DEL", "c1", &netns, "net1", &tuning.to_string());
    assert!(
        tuning_del.status.success(),
        "tuning DEL: {}",
        stdout(&tuning_del)
    );
    success(&lab.run("DEL", "c1", &netns, "net1", &conf));
    assert_eq!(lab.host_links(), before, "MTU restored from the cache");
}

#[test]
fn del_after_the_pod_namespace_was_deleted_restores_the_vf_in_the_host() {
    require_lab!();
    let lab = Lab::new();
    let pod = lab.pod("pod1");
    let netns = pod.path().display().to_string();
    let conf = lab.conf(VF, r#""mac":"0a:00:00:00:00:42""#);
    success(&lab.run("ADD", "c1", &netns, "net1", &conf));
    pod.delete().unwrap();
    // A real VF returns to the host namespace under its pod name (a veth dies with its
    // namespace, so the test recreates it there, as the kernel would have left the VF).
    let nl = lab.host_nl();
    nl.add_veth("net1", "wire9").unwrap();
    nl.set_address("net1", "0a:00:00:00:00:42").unwrap();
    lab.fake().rename_netdev(VF, "vf0", "net1").unwrap();
    success(&lab.run("DEL", "c1", &netns, "net1", &conf));
    let links = lab.host_links();
    assert!(
        !links.iter().any(|l| l.0 == "net1"),
        "no pod name left behind: {links:?}"
    );
    let vf0 = links
        .iter()
        .find(|l| l.0 == "vf0")
        .expect("back under its name");
    assert_eq!(vf0.1.as_deref(), Some("02:00:00:00:0a:00"), "original MAC");
    assert!(lab.state_files().is_empty(), "{:?}", lab.state_files());
    // And a DEL with no netns at all (CNI_NETNS empty) is fine too.
    success(&lab.run("DEL", "c1", "", "net1", &conf));
}

#[test]
fn add_failures_leave_the_host_exactly_as_before() {
    require_lab!("static");
    let lab = Lab::new();
    let pod = lab.pod("pod1");
    let netns = pod.path().display().to_string();
    let before = lab.host_links();
    let mac = r#""runtimeConfig":{"mac":"0a:00:00:00:00:77"}"#;
    let cases = [
        // IPAM rejects its configuration: after the netdev moved into the pod.
        (
            format!(r#"{mac},"ipam":{{"type":"static","addresses":[{{"address":"not-an-ip"}}]}}"#),
            None,
        ),
        // IPAM succeeds, then its route cannot be configured (unreachable gateway): the
        // address is released by IPAM DEL as well.
        (
            format!(
                r#"{mac},"ipam":{{"type":"static","addresses":[{{"address":"10.1.0.2/24"}}],"routes":[{{"dst":"192.168.0.0/16","gw":"172.16.0.1"}}]}}"#
            ),
            None,
        ),
        // The IPAM plugin does not exist: refused before anything is touched.
        (
            format!(r#"{mac},"ipam":{{"type":"no-such-ipam"}}"#),
            Some(7),
        ),
    ];
    for (extra, code) in cases {
        let err = failure(&lab.run("ADD", "c1", &netns, "net1", &lab.conf(VF, &extra)));
        if let Some(code) = code {
            assert_eq!(err["code"], code, "{err}");
        }
        assert_eq!(lab.host_links(), before, "after {extra}: {err}");
        assert_eq!(Lab::links(pod.path()).len(), 1, "pod empty after {extra}");
        assert!(lab.state_files().is_empty(), "{:?}", lab.state_files());
        // DEL after a failed ADD (the runtime always sends one) is fine.
        success(&lab.run("DEL", "c1", &netns, "net1", &lab.conf(VF, "")));
    }
    // The interface name is already taken in the pod.
    let pod_nl = sriov_hw::netlink::Netlink::in_netns(&pod.open().unwrap()).unwrap();
    pod_nl.add_veth("net1", "other").unwrap();
    let err = failure(&lab.run("ADD", "c1", &netns, "net1", &lab.conf(VF, mac)));
    assert_eq!(err["code"], 103);
    assert_eq!(err["msg"], "interface net1 already exists in the pod");
    assert_eq!(lab.host_links(), before);
    assert!(lab.state_files().is_empty());
}

#[test]
fn two_pods_racing_for_one_vf_get_it_once() {
    require_lab!();
    let lab = Lab::new();
    let (a, b) = (lab.pod("pod-a"), lab.pod("pod-b"));
    let conf = lab.conf(VF, "");
    let (pa, pb) = (
        a.path().display().to_string(),
        b.path().display().to_string(),
    );
    let (ra, rb) = std::thread::scope(|s| {
        let ta = s.spawn(|| lab.run("ADD", "ca", &pa, "net1", &conf));
        let tb = s.spawn(|| lab.run("ADD", "cb", &pb, "net1", &conf));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    let (won, lost, lost_cid, won_cid, won_ns) = if ra.status.success() {
        (ra, rb, "cb", "ca", pa.clone())
    } else {
        (rb, ra, "ca", "cb", pb.clone())
    };
    success(&won);
    let err = failure(&lost);
    // Whoever lost either found the VF allocated or its netdev already gone.
    let code = err["code"].as_u64().unwrap();
    assert!(code == 101 || code == 100 || code == 103, "{err}");
    if code == 101 {
        assert_eq!(err["msg"], format!("pci address {VF} is already allocated"));
    }
    // The loser's DEL does not touch the winner's VF.
    success(&lab.run(
        "DEL",
        lost_cid,
        if lost_cid == "ca" { &pa } else { &pb },
        "net1",
        &conf,
    ));
    let winner = if won_cid == "ca" { &a } else { &b };
    assert!(Lab::links(winner.path()).iter().any(|l| l.0 == "net1"));
    success(&lab.run("DEL", won_cid, &won_ns, "net1", &conf));
    assert!(lab.host_links().iter().any(|l| l.0 == "vf0"));
}

#[test]
fn a_del_for_a_vf_that_a_newer_add_claimed_leaves_it_alone() {
    require_lab!();
    let lab = Lab::new();
    let (old, new) = (lab.pod("old"), lab.pod("new"));
    let conf = lab.conf(VF, "");
    let old_ns = old.path().display().to_string();
    success(&lab.run("ADD", "c-old", &old_ns, "net1", &conf));
    // The VF now belongs to another pod (as after the old pod's namespace died and a new ADD
    // reclaimed the allocation).
    std::fs::write(
        lab.state.join("pci").join(VF),
        new.path().display().to_string(),
    )
    .unwrap();
    success(&lab.run("DEL", "c-old", &old_ns, "net1", &conf));
    assert!(
        Lab::links(old.path()).iter().any(|l| l.0 == "net1"),
        "not touched"
    );
    assert_eq!(
        lab.state_files(),
        ["0000:af:06.0"],
        "only the new owner's allocation"
    );
}

#[test]
fn gc_cleans_attachments_that_are_no_longer_valid() {
    require_lab!();
    let lab = Lab::new();
    let pod = lab.pod("pod1");
    let netns = pod.path().display().to_string();
    let conf = lab.conf(VF, "");
    success(&lab.run("ADD", "c1", &netns, "net1", &conf));
    let gc = |valid: serde_json::Value| {
        json!({"cniVersion": "1.1.0", "name": "sriov-net", "type": "sriov", "cni.dev/valid-attachments": valid}).to_string()
    };
    // Still valid: kept.
    success(&lab.run_with(
        "GC",
        "",
        "",
        "",
        &gc(json!([{"containerID": "c1", "ifname": "net1"}])),
        &[],
    ));
    assert_eq!(lab.state_files().len(), 2);
    // Not listed, pod alive: left for its DEL.
    success(&lab.run_with("GC", "", "", "", &gc(json!([])), &[]));
    assert_eq!(lab.state_files().len(), 2);
    // Not listed, pod gone: collected.
    pod.delete().unwrap();
    success(&lab.run_with("GC", "", "", "", &gc(json!([])), &[]));
    assert!(lab.state_files().is_empty(), "{:?}", lab.state_files());
    // GC needs 1.1.0.
    let err = failure(&lab.run_with("GC", "", "", "", &lab.conf(VF, ""), &[]));
    assert_eq!(
        (err["code"].as_u64(), err["msg"].as_str()),
        (Some(1), Some("config version does not allow GC"))
    );
}

#[test]
fn bad_input_gets_the_right_code_and_message() {
    require_lab!();
    let lab = Lab::new();
    let pod = lab.pod("pod1");
    let netns = pod.path().display().to_string();
    let before = lab.host_links();
    let run = |conf: &str| failure(&lab.run("ADD", "c1", &netns, "net1", conf));
    let cases: Vec<(String, u64, &str)> = vec![
        ("{".into(), 6, "error parsing configuration"),
        (
            r#"{"cniVersion":"9.0.0","name":"n"}"#.into(),
            1,
            "incompatible CNI versions",
        ),
        (
            r#"{"cniVersion":"1.0.0","name":"n","type":"sriov"}"#.into(),
            7,
            "LoadConf(): VF pci addr is required",
        ),
        (
            lab.conf(VF, r#""vlan":4095"#),
            7,
            "vlan id 4095 invalid: value must be in the range 0-4094",
        ),
        (
            lab.conf("0000:af:07.0", ""),
            100,
            "LoadConf(): failed to get VF information",
        ),
        (
            lab.conf(VF, r#""vlan":100"#),
            102,
            "VF 0000:af:06.0 cannot be configured on its PF: VF 0000:af:06.0 has no visible PF (no physfn)",
        ),
        (
            lab.conf(VF, r#""trust":"maybe""#),
            7,
            "trust: \"maybe\" is not \"on\" or \"off\"",
        ),
    ];
    for (conf, code, msg) in cases {
        let err = run(&conf);
        assert_eq!(err["code"].as_u64(), Some(code), "{conf}: {err}");
        assert!(
            err["msg"].as_str().unwrap().starts_with(msg),
            "{conf}: {err}"
        );
        assert!(err["cniVersion"].is_string());
    }
    // Environment problems are named.
    let out = lab.run("ADD", "", &netns, "net1", &lab.conf(VF, ""));
    let err = failure(&out);
    assert_eq!(
        (err["code"].as_u64(), err["msg"].as_str()),
        (
            Some(4),
            Some("required env variables [CNI_CONTAINERID] missing")
        )
    );
    assert_eq!(lab.host_links(), before);
    assert!(lab.state_files().is_empty());
    // VERSION answers without a VF.
    let version = success(&lab.run("VERSION", "", "", "", r#"{"cniVersion":"0.4.0"}"#));
    assert_eq!(version["cniVersion"], "0.4.0");
    assert_eq!(version["supportedVersions"].as_array().unwrap().len(), 7);
}

#[test]
fn results_follow_the_requested_version() {
    require_lab!();
    let lab = Lab::new();
    let pod = lab.pod("pod1");
    let netns = pod.path().display().to_string();
    for version in ["0.3.1", "0.4.0", "1.1.0"] {
        let conf = format!(
            r#"{{"cniVersion":"{version}","name":"sriov-net","type":"sriov","deviceID":"{VF}"}}"#
        );
        let result = success(&lab.run("ADD", "c1", &netns, "net1", &conf));
        assert_eq!(result["cniVersion"], version);
        assert_eq!(result["interfaces"][0]["name"], "net1");
        assert_eq!(
            result["interfaces"][0].get("pciID").is_some(),
            version == "1.1.0"
        );
        success(&lab.run("DEL", "c1", &netns, "net1", &conf));
    }
}

#[test]
fn a_failure_injected_after_each_add_step_is_fully_rolled_back() {
    require_lab!("host-local");
    let lab = Lab::new();
    let pod = lab.pod("pod1");
    let netns = pod.path().display().to_string();
    let before = lab.host_links();
    let conf = lab.conf(
        VF,
        &format!(
            r#""runtimeConfig":{{"mac":"0a:00:00:00:00:55"}},{}"#,
            lab.host_local()
        ),
    );
    let leases = || {
        std::fs::read_dir(std::path::Path::new(&lab.data_dir()).join("sriov-net"))
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("10."))
                    .count()
            })
            .unwrap_or(0)
    };
    for step in ["moved", "setup", "ipam", "addresses", "allocation"] {
        let err = lab
            .run_in_process("ADD", "c1", &netns, "net1", &conf, Some(step))
            .unwrap_err();
        assert_eq!(err.msg, format!("injected failure after step {step}"));
        assert_eq!(lab.host_links(), before, "host after a failure at {step}");
        assert_eq!(
            Lab::links(pod.path()).len(),
            1,
            "pod after a failure at {step}"
        );
        assert!(
            lab.state_files().is_empty(),
            "state after {step}: {:?}",
            lab.state_files()
        );
        assert_eq!(leases(), 0, "IPAM lease released after {step}");
    }
    // Without the failure the same ADD works.
    success(&lab.run("ADD", "c1", &netns, "net1", &conf));
    success(&lab.run("DEL", "c1", &netns, "net1", &conf));
}

#[test]
fn the_pods_address_is_announced_to_its_neighbours() {
    require_lab!("host-local");
    let lab = Lab::new();
    let pod = lab.pod("pod1");
    let netns = pod.path().display().to_string();
    // The VF's wire end plays the neighbour: it learns from gratuitous ARP (arp_accept).
    let nl = lab.host_nl();
    nl.add_address("wire0", "10.56.217.1".parse().unwrap(), 24)
        .unwrap();
    let host = lab.host().open().unwrap();
    sriov_hw::netns::run_in(&host, || {
        std::fs::write("/proc/sys/net/ipv4/conf/wire0/arp_accept", "1")
    })
    .unwrap()
    .unwrap();
    let conf = lab.conf(VF, &lab.host_local());
    success(&lab.run("ADD", "c1", &netns, "net1", &conf));
    let learned = || {
        sriov_hw::netns::run_in(&host, || {
            std::fs::read_to_string("/proc/thread-self/net/arp").unwrap()
        })
        .unwrap()
    };
    let mut table = learned();
    for _ in 0..50 {
        if table.contains("10.56.217.2 ") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        table = learned();
    }
    let entry = table
        .lines()
        .find(|l| l.starts_with("10.56.217.2 "))
        .unwrap_or_else(|| panic!("no ARP entry for the pod's address:\n{table}"));
    assert!(entry.contains("02:00:00:00:0a:00"), "{entry}");
    success(&lab.run("DEL", "c1", &netns, "net1", &conf));
}

#[test]
fn a_move_that_fails_while_host_local_runs_releases_the_lease() {
    require_lab!("host-local");
    let lab = Lab::new();
    let pod = lab.pod("pod1");
    let netns = pod.path().display().to_string();
    let before = lab.host_links();
    // The name is taken in the pod: the move fails while IPAM ADD runs beside it.
    let pod_nl = sriov_hw::netlink::Netlink::in_netns(&pod.open().unwrap()).unwrap();
    pod_nl.add_veth("net1", "other").unwrap();
    let conf = lab.conf(VF, &lab.host_local());
    let err = failure(&lab.run("ADD", "c1", &netns, "net1", &conf));
    assert_eq!(err["code"], 103, "{err}");
    assert_eq!(lab.host_links(), before);
    assert!(lab.state_files().is_empty(), "{:?}", lab.state_files());
    let leases: Vec<String> =
        std::fs::read_dir(std::path::Path::new(&lab.data_dir()).join("sriov-net"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("10."))
                    .collect()
            })
            .unwrap_or_default();
    assert!(leases.is_empty(), "lease left behind: {leases:?}");
}

#[test]
fn a_failed_ipam_del_keeps_the_state_for_the_retry_and_the_retry_finishes() {
    require_lab!();
    let lab = Lab::new();
    let pod = lab.pod("pod1");
    let netns = pod.path().display().to_string();
    let before = lab.host_links();
    // A stand-in for whereabouts (an IPAM plugin that runs beside the move): ADD hands
    // out an address, DEL fails while a flag file exists.
    let bin = lab.dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let flag = lab.dir().join("fail-del");
    let script = format!(
        "#!/bin/sh\ncat >/dev/null\ncase \"$CNI_COMMAND\" in\n  ADD) echo '{{\"cniVersion\":\"1.0.0\",\"ips\":[{{\"address\":\"10.9.0.5/24\"}}]}}' ;;\n  DEL) if [ -e {flag} ]; then echo '{{\"code\":11,\"msg\":\"store unreachable\"}}'; exit 1; fi ;;\nesac\n",
        flag = flag.display()
    );
    let plugin = bin.join("whereabouts");
    std::fs::write(&plugin, script).unwrap();
    std::fs::set_permissions(&plugin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cni_path = bin.display().to_string();
    let conf = lab.conf(VF, r#""ipam":{"type":"whereabouts"}"#);
    let env = [("CNI_PATH", cni_path.as_str())];
    let result = success(&lab.run_with("ADD", "c1", &netns, "net1", &conf, &env));
    assert_eq!(result["ips"][0]["address"], "10.9.0.5/24");

    std::fs::write(&flag, "").unwrap();
    let err = failure(&lab.run_with("DEL", "c1", &netns, "net1", &conf, &env));
    assert_eq!(err["code"], 11, "{err}");
    assert!(
        err["msg"].as_str().unwrap().contains("store unreachable"),
        "{err}"
    );
    // The VF went home anyway; the cache and the allocation stay for the retry.
    assert_eq!(lab.host_links(), before);
    assert_eq!(lab.state_files(), ["0000:af:06.0", "c1-net1"]);

    std::fs::remove_file(&flag).unwrap();
    success(&lab.run_with("DEL", "c1", &netns, "net1", &conf, &env));
    assert_eq!(lab.host_links(), before);
    assert!(lab.state_files().is_empty(), "{:?}", lab.state_files());
}
