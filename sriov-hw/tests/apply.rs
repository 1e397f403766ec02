//! Applying plans on the in-memory kernel model: order, rollback, idempotence, convergence.
// Test and benchmark set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used)]

use std::time::Duration;

use proptest::prelude::*;
use sriov_core::api::{Interface, InterfaceExt, RdmaMode, SriovNetworkNodeStateSpec, VfGroup};
use sriov_core::ids::VfIndex;
use sriov_core::nic::SupportedNics;
use sriov_core::plan::{self, Action, CpuVendor, Disruption, Plan};
use sriov_core::testing;
use sriov_hw::apply::{self, HostOps, Wait};
use sriov_hw::discover::{HostView, Options};
use sriov_hw::fake::{Call, FakeHost, presets};
use sriov_hw::observe::{self, HostSnapshot, KernelFacts};
use sriov_hw::store::PfStore;
use sriov_hw::system::{self, HostSystem};

const PF: &str = "0000:81:00.0";
const NO_WAIT: Wait = Wait {
    attempts: 1,
    interval: Duration::ZERO,
};

/// One observation of the fake host, as the config daemon takes it (an Intel host with the
/// IOMMU on).
fn snapshot(host: &FakeHost) -> HostSnapshot {
    let nics = SupportedNics::default();
    observe::observe_view(
        HostView {
            pci: host,
            links: host,
            netlink: host,
            store: host,
        },
        host,
        KernelFacts {
            cmdline: Some(vec!["intel_iommu=on".to_owned(), "iommu=pt".to_owned()]),
            iommu_groups: 8,
            cpu: CpuVendor::Intel,
            rdma_mode: None,
        },
        Options {
            nics: &nics,
            dev_mode: false,
        },
    )
    .expect("observes")
}

fn status(host: &FakeHost) -> Vec<InterfaceExt> {
    snapshot(host).interfaces
}

fn plan_for(host: &FakeHost, spec: &SriovNetworkNodeStateSpec) -> Plan {
    let nics = SupportedNics::default();
    let snapshot = snapshot(host);
    plan::plan(snapshot.observed(&nics).expect("a command line"), spec).expect("plans")
}

fn ops(host: &FakeHost) -> HostOps<'_> {
    HostOps {
        pci: host,
        links: host,
        eswitch: host,
        link_attrs: host,
        store: host,
        system: host,
    }
}

fn group(range: &str, device_type: &str, mtu: Option<i32>) -> VfGroup {
    testing::vf_group(&format!("r{range}"), range, device_type, mtu)
}

fn spec(
    pf: &str,
    num_vfs: i32,
    mtu: Option<i32>,
    groups: Vec<VfGroup>,
) -> SriovNetworkNodeStateSpec {
    testing::node_state_spec(vec![Interface {
        mtu,
        ..testing::spec_interface(pf, num_vfs, groups)
    }])
}

#[test]
fn a_partitioned_pf_is_configured_and_a_second_plan_is_empty() {
    let host = FakeHost::new();
    host.add_pf(PF, presets::INTEL_E810_CQDA2, "ens801f0", 0)
        .unwrap();
    let wanted = spec(
        PF,
        4,
        Some(9000),
        vec![
            group("0-1", "netdevice", Some(9000)),
            group("2-3", "vfio-pci", None),
        ],
    );
    let plan = plan_for(&host, &wanted);
    apply::apply(ops(&host), &plan, NO_WAIT).unwrap();
    let after = status(&host);
    let vfs = after[0].vfs.as_ref().unwrap();
    let drivers: Vec<_> = vfs.iter().map(|v| v.driver.as_deref().unwrap()).collect();
    assert_eq!(drivers, ["iavf", "iavf", "vfio-pci", "vfio-pci"]);
    assert_eq!((after[0].mtu, vfs[0].mtu), (Some(9000), Some(9000)));
    assert!(
        host.vf_admin_mac("ens801f0", VfIndex::new(1)).is_some(),
        "kernel VFs get their MAC pinned"
    );
    assert!(
        plan_for(&host, &wanted).is_empty(),
        "{:?}",
        plan_for(&host, &wanted)
    );
}

#[test]
fn changing_the_vf_count_writes_zero_first_and_never_lowers_the_pf_mtu() {
    let host = FakeHost::new();
    host.add_pf(PF, presets::INTEL_E810_CQDA2, "ens801f0", 2)
        .unwrap();
    host.set_link_mtu("ens801f0", 9000);
    let wanted = spec(PF, 4, Some(1500), vec![group("0-3", "netdevice", None)]);
    let plan = plan_for(&host, &wanted);
    assert_eq!(plan.disruption, Disruption::Drain);
    apply::apply(ops(&host), &plan, NO_WAIT).unwrap();
    let calls = host.calls();
    let num_vfs: Vec<&String> = calls
        .iter()
        .filter(|c| c.starts_with("set_num_vfs"))
        .collect();
    assert_eq!(
        num_vfs,
        [
            &format!("set_num_vfs {PF} 0"),
            &format!("set_num_vfs {PF} 4")
        ]
    );
    assert!(
        !calls.iter().any(|c| c.starts_with("set_mtu ens801f0")),
        "{calls:?}"
    );
    assert_eq!(status(&host)[0].mtu, Some(9000));
}

#[test]
fn vfio_without_an_iommu_fails_with_the_fix_and_resets_the_pf() {
    let host = FakeHost::new();
    let pf = host
        .add_pf(PF, presets::INTEL_E810_CQDA2, "ens801f0", 0)
        .unwrap();
    let wanted = spec(PF, 2, None, vec![group("0-1", "vfio-pci", None)]);
    let plan = plan_for(&host, &wanted);
    // VFs created by the plan inherit "no IOMMU" from their PF.
    host.remove_iommu_group(&pf);
    let err = apply::apply(ops(&host), &plan, NO_WAIT).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("0000:81:00.0 VF 0: bind vfio-pci: "),
        "{text}"
    );
    assert!(text.contains("IOMMU is not enabled (no iommu_group for 0000:82:00.0): enable VT-d/AMD-Vi in firmware and add intel_iommu=on/amd_iommu=on"), "{text}");
    assert_eq!(status(&host)[0].num_vfs, Some(0), "the PF was reset");
    assert_eq!(
        host.load(&PF.parse().unwrap()).unwrap(),
        None,
        "no record of a failed configuration"
    );
}

#[test]
fn an_injected_kernel_error_names_the_step_and_errno_and_rolls_back() {
    let host = FakeHost::new();
    host.add_pf(PF, presets::INTEL_E810_CQDA2, "ens801f0", 0)
        .unwrap();
    host.fail_next(
        |c| matches!(c, Call::SetMtu { link, .. } if link == "ens801f0v1"),
        libc::EINVAL,
    );
    let wanted = spec(PF, 2, None, vec![group("0-1", "netdevice", Some(9000))]);
    let err = apply::apply(ops(&host), &plan_for(&host, &wanted), NO_WAIT).unwrap_err();
    assert_eq!(err.error.errno(), Some(libc::EINVAL));
    assert!(
        err.to_string()
            .starts_with("0000:81:00.0 VF 1: set MTU 9000: set MTU ens801f0v1: Invalid argument"),
        "{err}"
    );
    assert_eq!(status(&host)[0].num_vfs, Some(0));
}

#[test]
fn a_failure_on_an_externally_managed_pf_never_removes_its_vfs() {
    let host = FakeHost::new();
    let pf = host
        .add_pf(PF, presets::INTEL_E810_CQDA2, "ens801f0", 2)
        .unwrap();
    let external = Interface {
        pci_address: PF.into(),
        num_vfs: Some(2),
        externally_managed: Some(true),
        ..Default::default()
    };
    // The spec no longer mentions the PF: the plan drops the record, and dropping it
    // fails. The VFs belong to someone else, so they stay.
    host.save(&pf, &external).unwrap();
    host.fail_next(|c| matches!(c, Call::RemoveRecord { .. }), libc::EIO);
    let plan = plan_for(&host, &SriovNetworkNodeStateSpec::default());
    let err = apply::apply(ops(&host), &plan, NO_WAIT).unwrap_err();
    assert_eq!(err.error.errno(), Some(libc::EIO));
    assert_eq!(status(&host)[0].num_vfs, Some(2));
    // While in the spec, a failed step on it is not undone by a reset either.
    host.fail_next(
        |c| matches!(c, Call::SetMtu { link, .. } if link == "ens801f0v0"),
        libc::EINVAL,
    );
    let wanted = SriovNetworkNodeStateSpec {
        interfaces: Some(vec![Interface {
            vf_groups: Some(vec![group("0-1", "netdevice", Some(9000))]),
            ..external
        }]),
        ..Default::default()
    };
    let err = apply::apply(ops(&host), &plan_for(&host, &wanted), NO_WAIT).unwrap_err();
    assert_eq!(err.error.errno(), Some(libc::EINVAL), "{err}");
    assert!(err.reset.is_none());
    assert_eq!(status(&host)[0].num_vfs, Some(2));
}

#[test]
fn the_kernel_model_refuses_what_the_kernel_refuses() {
    use sriov_hw::pci::PciSysfs;
    let host = FakeHost::new();
    let pf = host.add_pf(PF, presets::INTEL_X710, "ens1f0", 2).unwrap();
    assert_eq!(
        host.set_num_vfs(&pf, 4).unwrap_err().errno(),
        Some(libc::EBUSY)
    );
    assert_eq!(
        host.set_num_vfs(&pf, 0)
            .map(|()| host.set_num_vfs(&pf, 65))
            .unwrap()
            .unwrap_err()
            .errno(),
        Some(libc::ERANGE)
    );
    host.set_num_vfs(&pf, 1).unwrap();
    let vf = host.device(&pf).unwrap().virtfns[0].1;
    assert!(host.vf(&vf).unwrap().netdev.is_some());
    host.unbind(&vf).unwrap();
    assert_eq!(
        host.vf(&vf).unwrap().netdev,
        None,
        "unbinding removes the netdev"
    );
    assert_eq!(
        host.bind(&vf, "vfio-pci")
            .map(|()| host.bind(&vf, "iavf"))
            .unwrap()
            .unwrap_err()
            .errno(),
        Some(libc::EBUSY)
    );
}

#[test]
fn removing_the_spec_resets_only_what_the_daemon_made() {
    let host = FakeHost::new();
    host.add_pf(PF, presets::INTEL_E810_CQDA2, "ens801f0", 0)
        .unwrap();
    host.add_pf("0000:81:00.1", presets::INTEL_E810_CQDA2, "ens801f1", 3)
        .unwrap();
    let wanted = spec(PF, 2, None, vec![group("0-1", "netdevice", None)]);
    apply::apply(ops(&host), &plan_for(&host, &wanted), NO_WAIT).unwrap();
    let empty = SriovNetworkNodeStateSpec::default();
    apply::apply(ops(&host), &plan_for(&host, &empty), NO_WAIT).unwrap();
    let after = status(&host);
    assert_eq!(
        (after[0].num_vfs, after[1].num_vfs),
        (Some(0), Some(3)),
        "the PF nobody configured keeps its VFs"
    );
    assert!(plan_for(&host, &empty).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn planning_again_after_applying_finds_nothing_to_do(
        initial in 0u16..8,
        num_vfs in 0i32..12,
        split in 0i32..12,
        first_vfio in any::<bool>(),
        vf_mtu in proptest::option::of(prop_oneof![Just(1500), Just(9000)]),
        pf_mtu in proptest::option::of(prop_oneof![Just(1000), Just(9000)]),
        infiniband in any::<bool>(),
    ) {
        let host = FakeHost::new();
        if infiniband {
            host.add_pf(PF, presets::MLX_CX6_DX, "ens801f0", 0).unwrap();
            host.set_infiniband("ens801f0");
            if initial > 0 {
                use sriov_hw::pci::PciSysfs;
                host.set_num_vfs(&PF.parse().unwrap(), initial).unwrap();
            }
        } else {
            host.add_pf(PF, presets::INTEL_E810_CQDA2, "ens801f0", initial).unwrap();
        }
        let mut groups = Vec::new();
        if num_vfs > 0 {
            let split = split.min(num_vfs - 1);
            let (a, b) = if first_vfio { ("vfio-pci", "netdevice") } else { ("netdevice", "vfio-pci") };
            groups.push(group(&format!("0-{split}"), a, if a == "netdevice" { vf_mtu } else { None }));
            if split + 1 < num_vfs {
                groups.push(group(&format!("{}-{}", split + 1, num_vfs - 1), b, if b == "netdevice" { vf_mtu } else { None }));
            }
        }
        let wanted = spec(PF, num_vfs, pf_mtu, groups);
        let first = plan_for(&host, &wanted);
        apply::apply(ops(&host), &first, NO_WAIT).unwrap();
        let second = plan_for(&host, &wanted);
        prop_assert!(second.is_empty(), "first {:?}\nsecond {:?}", first.actions, second);
    }
}

#[test]
fn applying_the_same_plan_twice_changes_nothing_the_second_time() {
    let host = FakeHost::new();
    host.add_pf(PF, presets::INTEL_E810_CQDA2, "ens801f0", 0)
        .unwrap();
    let wanted = spec(
        PF,
        3,
        Some(9000),
        vec![
            group("0-1", "netdevice", Some(9000)),
            group("2-2", "vfio-pci", None),
        ],
    );
    let plan = plan_for(&host, &wanted);
    apply::apply(ops(&host), &plan, NO_WAIT).unwrap();
    let before = status(&host);
    let calls = host.calls().len();
    apply::apply(ops(&host), &plan, NO_WAIT).unwrap();
    assert_eq!(status(&host), before);
    let again: Vec<String> = host.calls()[calls..].to_vec();
    assert!(
        again.iter().all(|c| !c.starts_with("set_num_vfs")
            && !c.starts_with("bind")
            && !c.starts_with("unbind")),
        "second apply touched VFs: {again:?}"
    );
}

#[test]
fn infiniband_vfs_get_their_guids_and_keep_them() {
    let host = FakeHost::new();
    host.add_pf(PF, presets::MLX_CX6_DX, "ibp129s0f0", 0)
        .unwrap();
    host.set_infiniband("ibp129s0f0");
    let wanted = spec(PF, 2, None, vec![group("0-1", "netdevice", None)]);
    let plan = plan_for(&host, &wanted);
    apply::apply(ops(&host), &plan, NO_WAIT).unwrap();
    let guids = |host: &FakeHost| -> Vec<Option<String>> {
        status(host)[0]
            .vfs
            .iter()
            .flatten()
            .map(|v| v.guid.clone())
            .collect()
    };
    let derived = guids(&host);
    assert!(
        derived
            .iter()
            .all(|g| g.as_deref().is_some_and(|g| g != "00:00:00:00:00:00:00:00")),
        "{derived:?}"
    );
    assert_ne!(derived[0], derived[1]);
    assert!(
        plan_for(&host, &wanted).is_empty(),
        "{:?}",
        plan_for(&host, &wanted)
    );

    // A pool file assigns the GUIDs the fabric expects (VF i takes GUID i).
    let host = FakeHost::new();
    host.add_pf(PF, presets::MLX_CX6_DX, "ibp129s0f0", 0)
        .unwrap();
    host.set_infiniband("ibp129s0f0");
    host.add_file(
        system::GUID_POOL,
        &format!(r#"[{{"pciAddress": "{PF}", "guids": ["02:00:00:00:00:00:00:01", "02:00:00:00:00:00:00:02"]}}]"#),
    );
    apply::apply(ops(&host), &plan_for(&host, &wanted), NO_WAIT).unwrap();
    assert_eq!(
        guids(&host),
        [
            Some("02:00:00:00:00:00:00:01".to_owned()),
            Some("02:00:00:00:00:00:00:02".to_owned())
        ]
    );
    // The VF was rebound after its GUID was set.
    let calls = host.call_log();
    let set = calls
        .iter()
        .position(
            |c| matches!(c, Call::SetVfGuid { pf, vf, .. } if pf == "ibp129s0f0" && vf.get() == 0),
        )
        .unwrap();
    assert!(
        matches!(
            (&calls[set + 1], &calls[set + 2]),
            (Call::Unbind { device: a }, Call::Bind { device: b, .. }) if a == b
        ),
        "{calls:?}"
    );
    // A broken pool file is an error naming it.
    host.add_file(system::GUID_POOL, "[{}]");
    let err = system::guid_pool(&host).unwrap_err().to_string();
    assert!(
        err.contains("etc/sriov-operator/infiniband/guids") && err.contains("entry 0"),
        "{err}"
    );
}

#[test]
fn configured_pfs_get_udev_rules_that_a_reset_removes() {
    let host = FakeHost::new();
    host.add_pf(PF, presets::INTEL_E810_CQDA2, "ens801f0", 0)
        .unwrap();
    let wanted = spec(PF, 2, None, vec![group("0-1", "netdevice", None)]);
    apply::apply(ops(&host), &plan_for(&host, &wanted), NO_WAIT).unwrap();
    let rule = host
        .file(&format!("etc/udev/rules.d/10-nm-disable-{PF}.rules"))
        .expect("NetworkManager rule written");
    assert!(rule.contains("0x1889") && rule.contains(PF), "{rule}");
    assert!(host.file("etc/udev/disable-nm-sriov.sh").is_some());
    apply::apply(
        ops(&host),
        &plan_for(&host, &SriovNetworkNodeStateSpec::default()),
        NO_WAIT,
    )
    .unwrap();
    assert_eq!(
        host.file(&format!("etc/udev/rules.d/10-nm-disable-{PF}.rules")),
        None
    );

    // switchdev: the PF-name rule, then a udev reload.
    let mut switchdev = spec(PF, 2, None, vec![group("0-1", "netdevice", None)]);
    let iface = &mut switchdev.interfaces.as_mut().unwrap()[0];
    iface.e_switch_mode = Some("switchdev".into());
    iface.name = Some("ens801f0".into());
    apply::apply(ops(&host), &plan_for(&host, &switchdev), NO_WAIT).unwrap();
    let name_rule = host
        .file(&format!("etc/udev/rules.d/10-pf-name-{PF}.rules"))
        .expect("PF name rule");
    assert!(name_rule.contains("NAME=\"ens801f0\""), "{name_rule}");
    let calls = host.calls();
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.starts_with("run udevadm"))
            .count(),
        2,
        "{calls:?}"
    );
}

fn kernel_args(add: &[&str], remove: &[&str]) -> Plan {
    Plan {
        warnings: Vec::new(),
        externally_managed: Default::default(),
        disruption: Disruption::Reboot,
        reasons: vec![],
        actions: vec![Action::SetKernelArgs {
            add: add.iter().map(|s| (*s).to_owned()).collect(),
            remove: remove.iter().map(|s| (*s).to_owned()).collect(),
        }],
    }
}

#[test]
fn kernel_arguments_are_edited_with_the_hosts_own_tool() {
    // ostree hosts: rpm-ostree.
    let host = FakeHost::new();
    host.add_file("run/ostree-booted", "");
    apply::apply(
        ops(&host),
        &kernel_args(&["intel_iommu=on"], &["ib_core.netns_mode=1"]),
        NO_WAIT,
    )
    .unwrap();
    assert_eq!(
        host.calls(),
        ["run rpm-ostree kargs --append=intel_iommu=on --delete=ib_core.netns_mode=1"]
    );
    // grubby hosts.
    let host = FakeHost::new();
    host.add_file("usr/sbin/grubby", "");
    apply::apply(
        ops(&host),
        &kernel_args(&["intel_iommu=on", "iommu=pt"], &[]),
        NO_WAIT,
    )
    .unwrap();
    assert_eq!(
        host.calls(),
        ["run /usr/sbin/grubby --update-kernel=ALL --args=intel_iommu=on iommu=pt"]
    );
    // Debian and Ubuntu: /etc/default/grub, then update-grub.
    let host = FakeHost::new();
    host.add_file(
        "etc/default/grub",
        "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=\"quiet\"\n",
    );
    host.add_file("usr/sbin/update-grub", "");
    apply::apply(ops(&host), &kernel_args(&["iommu=pt"], &[]), NO_WAIT).unwrap();
    assert_eq!(
        host.file("etc/default/grub").unwrap(),
        "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=\"quiet iommu=pt\"\n"
    );
    assert_eq!(host.calls().last().unwrap(), "run /usr/sbin/update-grub");
    // Nothing to edit with: an error saying what to do, not a silent reboot loop.
    let host = FakeHost::new();
    let err = apply::apply(ops(&host), &kernel_args(&["iommu=pt"], &[]), NO_WAIT)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("add iommu=pt to the kernel command line yourself"),
        "{err}"
    );
    // A failing tool fails the step with its name.
    let host = FakeHost::new();
    host.add_file("usr/sbin/grubby", "");
    host.fail_next(
        |c| matches!(c, Call::Run { program, .. } if program == "/usr/sbin/grubby"),
        libc::EIO,
    );
    let err = apply::apply(ops(&host), &kernel_args(&["iommu=pt"], &[]), NO_WAIT)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("edit kernel arguments: +iommu=pt: run /usr/sbin/grubby"),
        "{err}"
    );
}

#[test]
fn rdma_mode_is_recorded_as_a_module_option() {
    let host = FakeHost::new();
    let plan = Plan {
        warnings: Vec::new(),
        externally_managed: Default::default(),
        disruption: Disruption::Reboot,
        reasons: vec![],
        actions: vec![Action::SetRdmaMode {
            mode: RdmaMode::Exclusive,
        }],
    };
    apply::apply(ops(&host), &plan, NO_WAIT).unwrap();
    assert_eq!(
        host.file(system::RDMA_MODPROBE).unwrap(),
        "options ib_core netns_mode=0\n"
    );
    assert!(host.exists("etc/modprobe.d"));
}
