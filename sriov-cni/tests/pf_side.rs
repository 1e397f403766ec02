//! PF-side VF settings (VLAN, MAC, rates, spoofchk, trust, link state), which veth cannot
//! hold, against FakeHost's PF model; the host and pod namespaces are `sriov_cni::pod::fake`'s
//! model, so these tests need no root (the e2e tests cover the same steps on real
//! namespaces and veths).
// Test and benchmark set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used)]
// Test helpers panic on setup failures by design: that is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use sriov_cni::env::Env;
use sriov_cni::log::{Level, Logger};
use sriov_cni::plugin::{self, Host};
use sriov_cni::pod::fake::{FakeNet, FakeNs};
use sriov_cni::state::StateDir;
use sriov_hw::fake::{Call, FakeHost, presets};
use sriov_hw::link::VfControl;
use sriov_hw::netlink::VfState;

const PF: &str = "0000:81:00.0";

/// Matches the PF-side call on VF 0 of `ens801f0` that sets `what` (`vlan`, `mac`, `rate`,
/// `spoofchk`, `trust` or `link_state`).
fn sets_vf0(what: &'static str) -> impl Fn(&Call) -> bool + Send + 'static {
    move |call| {
        let Call::SetVf { pf, vf, settings } = call else {
            return false;
        };
        pf == "ens801f0"
            && vf.get() == 0
            && match what {
                "vlan" => settings.vlan.is_some(),
                "mac" => settings.mac.is_some(),
                "rate" => settings.rate.is_some(),
                "spoofchk" => settings.spoofchk.is_some(),
                "trust" => settings.trust.is_some(),
                "link_state" => settings.link_state.is_some(),
                other => panic!("no VF setting {other}"),
            }
    }
}
const VF0: &str = "0000:82:00.0";

struct Bench {
    dir: tempfile::TempDir,
    fake: FakeHost,
    net: FakeNet,
    host: FakeNs,
    state: StateDir,
}

/// The pod's namespace in the fake network (its `CNI_NETNS`).
const POD: &str = "/var/run/netns/pod";

impl Bench {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let fake = FakeHost::new();
        fake.add_pf(PF, presets::INTEL_E810_CQDA2, "ens801f0", 2)
            .unwrap();
        let net = FakeNet::new();
        let host = net.namespace("host");
        host.add_link("ens801f0v0", "02:00:82:00:00:10", 1500);
        net.namespace(POD);
        let state = StateDir::new(dir.path().join("state"));
        Self {
            dir,
            fake,
            net,
            host,
            state,
        }
    }

    fn run(&self, command: &str, conf: &str) -> sriov_cni::Result<String> {
        self.run_with(command, conf, None)
    }

    fn run_with(
        &self,
        command: &str,
        conf: &str,
        failpoint: Option<&str>,
    ) -> sriov_cni::Result<String> {
        let vars: BTreeMap<String, String> = [
            ("CNI_COMMAND", command),
            ("CNI_CONTAINERID", "c1"),
            ("CNI_NETNS", POD),
            ("CNI_IFNAME", "net1"),
            ("CNI_PATH", common::CNI_PATH),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let env = Env::from_vars(vars)?;
        let host = Host {
            pci: &self.fake,
            vfs: &self.fake,
            state: &self.state,
            lock_timeout: Duration::from_secs(5),
            side: &self.host,
            pods: &self.net,
            failpoint,
        };
        let mut log = Logger::new(Level::Error, None);
        plugin::run(&env, conf.as_bytes(), host, &mut log)
    }

    fn vf0(&self) -> VfState {
        self.fake.vf_states("ens801f0").unwrap().remove(0)
    }

    fn host_links(&self) -> Vec<(String, Option<String>, Option<u32>)> {
        let mut out: Vec<_> = self
            .host
            .links()
            .into_iter()
            .map(|l| (l.name, l.address, l.mtu))
            .collect();
        out.sort();
        out
    }

    fn files(&self) -> usize {
        std::fs::read_dir(self.state.root())
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                    .count()
            })
            .unwrap_or(0)
    }
}

const FULL: &str = r#"{"cniVersion":"1.0.0","name":"net","type":"sriov","deviceID":"0000:82:00.0",
    "vlan":100,"vlanQoS":3,"vlanProto":"802.1ad","mac":"0a:00:00:00:00:01","min_tx_rate":100,
    "max_tx_rate":1000,"spoofchk":"off","trust":"on","link_state":"disable"}"#;

#[test]
fn settings_are_applied_in_upstreams_order_and_restored_on_del() {
    let bench = Bench::new();
    let original = bench.vf0();
    let before = bench.host_links();
    let out = bench.run("ADD", FULL).unwrap();
    let result: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(result["interfaces"][0]["mac"], "0a:00:00:00:00:01");
    let calls: Vec<String> = bench
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("set_vf "))
        .collect();
    assert_eq!(
        calls,
        [
            "set_vf ens801f0 0 vlan=100 qos=3 proto=802.1ad",
            "set_vf ens801f0 0 mac=0a:00:00:00:00:01",
            "set_vf ens801f0 0 rate=100-1000",
            "set_vf ens801f0 0 spoofchk=false",
            "set_vf ens801f0 0 trust=true",
            "set_vf ens801f0 0 link_state=disable",
        ]
    );
    let applied = bench.vf0();
    assert_eq!(
        (applied.vlan, applied.qos, applied.vlan_qinq),
        (100, 3, true)
    );
    assert_eq!((applied.spoofchk, applied.trust), (Some(false), Some(true)));
    // The cache holds the original state in upstream's shape.
    let cache: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bench.state.cache_path("c1", "net1")).unwrap())
            .unwrap();
    assert_eq!(cache["Master"], "ens801f0");
    assert_eq!(cache["OrigVfState"]["SpoofChk"], true);
    assert_eq!(cache["OrigVfState"]["HostIFName"], "ens801f0v0");
    // The netdev is in the pod as net1, up, with the requested MAC; gone from the host.
    let pod = bench.net.namespace(POD).links();
    assert_eq!(
        pod.iter()
            .map(|l| (l.name.as_str(), l.address.as_deref(), l.up))
            .collect::<Vec<_>>(),
        [("net1", Some("0a:00:00:00:00:01"), true)]
    );
    assert!(bench.host_links().is_empty());

    bench.run("DEL", FULL).unwrap();
    assert!(bench.net.namespace(POD).links().is_empty());
    assert_eq!(bench.vf0(), original);
    assert_eq!(bench.host_links(), before);
    assert_eq!(bench.files(), 0);
}

#[test]
fn a_failure_at_any_pf_step_restores_everything() {
    for step in ["vlan", "mac", "rate", "spoofchk", "trust", "link_state"] {
        let bench = Bench::new();
        let original = bench.vf0();
        let before = bench.host_links();
        bench.fake.fail_next(sets_vf0(step), libc::EOPNOTSUPP);
        let err = bench.run("ADD", FULL).unwrap_err();
        assert_eq!(err.code, 102, "{step}: {err}");
        assert!(
            err.msg
                .starts_with("SRIOV-CNI failed to configure VF: failed to set"),
            "{err}"
        );
        assert!(err.details.contains("Operation not supported"), "{err}");
        assert_eq!(bench.vf0(), original, "after a failing {step}");
        assert_eq!(bench.host_links(), before);
        assert_eq!(bench.files(), 0, "no cache after a failing {step}");
    }
}

#[test]
fn a_failure_after_the_pf_settings_restores_them() {
    let bench = Bench::new();
    let original = bench.vf0();
    let before = bench.host_links();
    let err = bench
        .run_with("ADD", FULL, Some("pf-settings"))
        .unwrap_err();
    assert_eq!(err.msg, "injected failure after step pf-settings");
    assert_eq!(bench.vf0(), original);
    assert_eq!(bench.host_links(), before);
    assert_eq!(bench.files(), 0);
}

#[test]
fn a_busy_driver_gets_its_mac_retried() {
    let bench = Bench::new();
    bench.fake.fail_next(sets_vf0("mac"), libc::EBUSY);
    bench
        .run("ADD", r#"{"cniVersion":"1.0.0","name":"net","deviceID":"0000:82:00.0","mac":"0a:00:00:00:00:02"}"#)
        .unwrap();
    assert_eq!(bench.vf0().mac, "0a:00:00:00:00:02");
}

#[test]
fn dpdk_vfs_are_configured_without_moving_anything_and_restored() {
    use sriov_hw::pci::PciSysfs;
    let bench = Bench::new();
    let vf0 = VF0.parse().unwrap();
    bench.fake.unbind(&vf0).unwrap();
    bench.fake.bind(&vf0, "vfio-pci").unwrap();
    let original = bench.vf0();
    let before = bench.host_links();
    let conf = r#"{"cniVersion":"1.0.0","name":"net","deviceID":"0000:82:00.0","vlan":42}"#;
    let out = bench.run("ADD", conf).unwrap();
    let result: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(result["interfaces"][0]["name"], "net1");
    assert_eq!(bench.vf0().vlan, 42);
    assert_eq!(bench.host_links(), before, "nothing moved");
    let cache: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bench.state.cache_path("c1", "net1")).unwrap())
            .unwrap();
    assert_eq!(cache["DPDKMode"], true);
    bench.run("DEL", conf).unwrap();
    assert_eq!(bench.vf0(), original);
    assert_eq!(bench.files(), 0);
    let _ = &bench.dir;
}
