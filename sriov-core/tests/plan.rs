//! Planning: which actions, in which order, and what disruption they need.
// Test and benchmark set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use sriov_core::api::{
    Interface, InterfaceExt, RdmaMode, SriovNetworkNodeStateSpec, System, VfGroup, VirtualFunction,
};
use sriov_core::ib::GuidPool;
use sriov_core::ids::{PciAddress, VfIndex};
use sriov_core::nic::SupportedNics;
use sriov_core::plan::{
    self, Action, CpuVendor, Disruption, Observed, PfSpec, PfStatus, Plan, VfDriver,
};
use sriov_core::testing::{self, InterfaceBuilder, vf_group as group};

static NICS: LazyLock<SupportedNics> = LazyLock::new(SupportedNics::default);

/// An Intel host whose IOMMU is off, without a GUID pool.
fn observed<'a>(
    interfaces: &'a [InterfaceExt],
    records: &'a BTreeMap<String, Interface>,
    cmdline: &'a [String],
) -> Observed<'a> {
    Observed {
        interfaces,
        records,
        cmdline,
        iommu_active: false,
        cpu: CpuVendor::Intel,
        nics: &NICS,
        guids: None,
    }
}

/// The udev step every configured PF starts with.
fn udev(pf_name: &str, switchdev: bool) -> Action {
    Action::WriteUdevRules {
        pf: pci(),
        pf_name: pf_name.parse().expect("an interface name"),
        vf_devices: NICS.vf_devices().into_iter().map(str::to_owned).collect(),
        switchdev,
    }
}

const PCI: &str = "0000:81:00.0";

fn pci() -> PciAddress {
    PCI.parse().expect("a PCI address")
}

/// Upstream's NeedToUpdateSriov over the raw API values.
fn needs_update(spec: &Interface, status: &InterfaceExt) -> bool {
    plan::needs_update(
        &PfSpec::resolve(spec).expect("a valid spec entry"),
        &PfStatus::resolve(status).expect("a valid status entry"),
    )
}

fn wanted(num_vfs: i32, groups: Vec<VfGroup>) -> Interface {
    Interface {
        name: Some("ens801f0".into()),
        ..testing::spec_interface(PCI, num_vfs, groups)
    }
}

fn vf(index: i32, driver: &str, mtu: i32) -> VirtualFunction {
    testing::vf_status(&format!("0000:82:00.{index}"), index, driver, mtu)
}

fn pf(num_vfs: i32, vfs: Vec<VirtualFunction>) -> InterfaceExt {
    let mut pf = InterfaceBuilder::new(PCI, "ens801f0")
        .intel_e810()
        .num_vfs(num_vfs)
        .build();
    pf.e_switch_mode = Some("legacy".into());
    pf.vfs = (!vfs.is_empty()).then_some(vfs);
    pf
}

fn run(
    status: &[InterfaceExt],
    spec: Vec<Interface>,
    records: &BTreeMap<String, Interface>,
    cmdline: &[&str],
) -> Plan {
    let cmdline: Vec<String> = cmdline.iter().map(|s| (*s).to_owned()).collect();
    let spec = SriovNetworkNodeStateSpec {
        interfaces: Some(spec),
        ..Default::default()
    };
    plan::plan(observed(status, records, &cmdline), &spec).expect("plans")
}

#[test]
fn creating_vfs_on_an_idle_pf_needs_no_drain_and_follows_the_apply_order() {
    let spec = wanted(
        2,
        vec![
            group("net", "0-0", "netdevice", Some(9000)),
            group("dpdk", "1-1", "vfio-pci", None),
        ],
    );
    let plan = run(
        &[pf(0, vec![])],
        vec![spec.clone()],
        &BTreeMap::new(),
        &["intel_iommu=on", "iommu=pt"],
    );
    assert_eq!(plan.disruption, Disruption::None, "{:?}", plan.reasons);
    assert_eq!(
        plan.actions,
        [
            udev("ens801f0", false),
            Action::SetNumVfs {
                pf: pci(),
                num_vfs: 2
            },
            Action::BindVf {
                pf: pci(),
                index: VfIndex::new(0),
                driver: VfDriver::Default
            },
            Action::SetVfAdminMac {
                pf: pci(),
                index: VfIndex::new(0)
            },
            Action::SetVfMtu {
                pf: pci(),
                index: VfIndex::new(0),
                mtu: 9000
            },
            Action::BindVf {
                pf: pci(),
                index: VfIndex::new(1),
                driver: VfDriver::Named("vfio-pci".into())
            },
            Action::SaveRecord {
                pf: pci(),
                interface: spec
            },
        ]
    );
}

#[test]
fn an_applied_spec_plans_nothing() {
    let spec = wanted(2, vec![group("net", "0-1", "netdevice", None)]);
    let status = [pf(2, vec![vf(0, "iavf", 1500), vf(1, "iavf", 1500)])];
    let records = BTreeMap::from([(PCI.to_owned(), spec.clone())]);
    assert!(run(&status, vec![spec.clone()], &records, &[]).is_empty());
    // Without the record, only the record is written (no drain).
    let plan = run(&status, vec![spec.clone()], &BTreeMap::new(), &[]);
    assert_eq!(
        (plan.disruption, plan.actions),
        (
            Disruption::None,
            vec![Action::SaveRecord {
                pf: pci(),
                interface: spec
            }]
        )
    );
}

#[test]
fn changing_a_pf_that_has_vfs_needs_a_drain() {
    let status = [pf(2, vec![vf(0, "iavf", 1500), vf(1, "iavf", 1500)])];
    let plan = run(
        &status,
        vec![wanted(4, vec![group("net", "0-3", "netdevice", None)])],
        &BTreeMap::new(),
        &[],
    );
    assert_eq!(plan.disruption, Disruption::Drain);
    assert_eq!(
        plan.reasons,
        ["0000:81:00.0: reconfiguring a PF that has 2 VFs"]
    );
    assert_eq!(plan.actions[0], udev("ens801f0", false));
    assert_eq!(
        plan.actions[1],
        Action::SetNumVfs {
            pf: pci(),
            num_vfs: 4
        }
    );
}

#[test]
fn vf_level_differences_trigger_an_update() {
    let spec = wanted(
        2,
        vec![
            group("dpdk", "0-0", "vfio-pci", None),
            group("net", "1-1", "netdevice", Some(9000)),
        ],
    );
    let ok = pf(2, vec![vf(0, "vfio-pci", 0), vf(1, "iavf", 9000)]);
    assert!(!needs_update(&spec, &ok));
    let wrong_driver = pf(2, vec![vf(0, "iavf", 1500), vf(1, "iavf", 9000)]);
    assert!(needs_update(&spec, &wrong_driver));
    let wrong_mtu = pf(2, vec![vf(0, "vfio-pci", 0), vf(1, "iavf", 1500)]);
    assert!(needs_update(&spec, &wrong_mtu));
    let mut unbound = ok.clone();
    unbound.vfs.as_mut().unwrap()[1].driver = None;
    assert!(needs_update(&spec, &unbound));
    let mut down = ok.clone();
    down.link_admin_state = Some("down".into());
    assert!(needs_update(&spec, &down));
    let mut higher_mtu = spec.clone();
    higher_mtu.mtu = Some(9000);
    assert!(needs_update(&higher_mtu, &ok));
    let mut lower_mtu = spec.clone();
    lower_mtu.mtu = Some(1000);
    assert!(
        !needs_update(&lower_mtu, &ok),
        "the PF MTU is never lowered"
    );
}

#[test]
fn vfio_without_iommu_and_rdma_mode_without_its_argument_need_a_reboot() {
    let mut spec = SriovNetworkNodeStateSpec {
        interfaces: Some(vec![wanted(
            1,
            vec![group("dpdk", "0-0", "vfio-pci", None)],
        )]),
        system: Some(System {
            rdma_mode: Some(RdmaMode::Exclusive),
        }),
        ..Default::default()
    };
    let cmdline = vec![
        "root=/dev/sda".to_owned(),
        "ib_core.netns_mode=1".to_owned(),
    ];
    let records = BTreeMap::new();
    let plan = plan::plan(observed(&[], &records, &cmdline), &spec).unwrap();
    assert_eq!(plan.disruption, Disruption::Reboot);
    assert_eq!(
        plan.reasons,
        [
            "vfio-pci VFs need the IOMMU, which is off: adding kernel arguments intel_iommu=on iommu=pt",
            "rdmaMode exclusive needs kernel argument ib_core.netns_mode=0 instead of ib_core.netns_mode=1",
        ]
    );
    assert_eq!(
        plan.actions,
        [
            Action::SetRdmaMode {
                mode: RdmaMode::Exclusive
            },
            Action::SetKernelArgs {
                add: vec![
                    "intel_iommu=on".into(),
                    "iommu=pt".into(),
                    "ib_core.netns_mode=0".into()
                ],
                remove: vec!["ib_core.netns_mode=1".into()],
            }
        ]
    );
    // AMD: its own IOMMU argument, only what is missing.
    spec.system = None;
    let cmdline = vec!["iommu=pt".to_owned()];
    let mut amd = observed(&[], &records, &cmdline);
    amd.cpu = CpuVendor::Amd;
    assert_eq!(
        plan::plan(amd, &spec).unwrap().actions,
        [Action::SetKernelArgs {
            add: vec!["amd_iommu=on".into()],
            remove: vec![]
        }]
    );
    // An active IOMMU needs nothing, whatever the command line says (no reboot loop on
    // `intel_iommu=on,sm_on` or IOMMUs on by default); neither does Arm.
    let mut active = observed(&[], &records, &cmdline);
    active.iommu_active = true;
    assert!(plan::plan(active, &spec).unwrap().is_empty());
    let mut arm = observed(&[], &records, &cmdline);
    arm.cpu = CpuVendor::Arm;
    assert!(plan::plan(arm, &spec).unwrap().is_empty());
}

#[test]
fn pfs_without_spec_are_reset_only_when_the_daemon_configured_them() {
    let status = [pf(2, vec![vf(0, "iavf", 1500), vf(1, "iavf", 1500)])];
    assert!(
        run(&status, vec![], &BTreeMap::new(), &[]).is_empty(),
        "not ours: left alone"
    );
    let ours = BTreeMap::from([(PCI.to_owned(), wanted(2, vec![]))]);
    let plan = run(&status, vec![], &ours, &[]);
    assert_eq!(plan.disruption, Disruption::Drain);
    assert_eq!(
        plan.actions,
        [
            Action::ResetPf {
                pf: pci(),
                mtu: 1500
            },
            Action::RemoveUdevRules { pf: pci() },
            Action::RemoveRecord { pf: pci() }
        ]
    );
    let mut external = wanted(2, vec![]);
    external.externally_managed = Some(true);
    let plan = run(
        &status,
        vec![],
        &BTreeMap::from([(PCI.to_owned(), external)]),
        &[],
    );
    assert_eq!(
        (plan.disruption, plan.actions),
        (Disruption::None, vec![Action::RemoveRecord { pf: pci() }])
    );
}

#[test]
fn impossible_specs_are_errors_naming_the_pf() {
    let cmdline = Vec::new();
    let records = BTreeMap::new();
    let status = [pf(0, vec![])];
    let observed = observed(&status, &records, &cmdline);
    let too_many = SriovNetworkNodeStateSpec {
        interfaces: Some(vec![wanted(200, vec![])]),
        ..Default::default()
    };
    assert_eq!(
        plan::plan(observed, &too_many).unwrap_err().to_string(),
        "PF 0000:81:00.0: NumVfs (200) is larger than TotalVfs (128)"
    );
    let mut external = wanted(4, vec![]);
    external.externally_managed = Some(true);
    let spec = SriovNetworkNodeStateSpec {
        interfaces: Some(vec![external]),
        ..Default::default()
    };
    assert_eq!(
        plan::plan(observed, &spec).unwrap_err().to_string(),
        "PF 0000:81:00.0: externally managed PF has 0 VFs, the spec needs 4"
    );
}

fn infiniband_pf(vfs: Vec<VirtualFunction>) -> InterfaceExt {
    let mut pf = InterfaceBuilder::new(PCI, "ibp129s0f0")
        .mellanox_cx6dx()
        .num_vfs(i32::try_from(vfs.len()).expect("few VFs"))
        .build();
    pf.link_type = Some("IB".into());
    // IPoIB address: the last 8 bytes are the port GUID.
    pf.mac = Some("00:00:10:87:fe:80:00:00:00:00:00:00:0c:42:a1:03:00:65:5f:3a".into());
    pf.vfs = (!vfs.is_empty()).then_some(vfs);
    pf
}

#[test]
fn infiniband_vfs_get_stable_guids_from_the_pool_or_derived() {
    let spec = Interface {
        name: Some("ibp129s0f0".into()),
        ..wanted(2, vec![group("ib", "0-1", "netdevice", None)])
    };
    let status = [infiniband_pf(vec![])];
    let records = BTreeMap::new();
    let cmdline = Vec::new();
    let spec_of = |i: Interface| SriovNetworkNodeStateSpec {
        interfaces: Some(vec![i]),
        ..Default::default()
    };
    let guids = |plan: &Plan| -> Vec<(u16, String)> {
        plan.actions
            .iter()
            .filter_map(|a| match a {
                Action::SetVfGuid { index, guid, .. } => Some((index.get(), guid.to_string())),
                _ => None,
            })
            .collect()
    };
    // Derived: stable across runs, distinct per VF, and no admin MAC for IB VFs.
    let first = plan::plan(
        observed(&status, &records, &cmdline),
        &spec_of(spec.clone()),
    )
    .unwrap();
    let derived = guids(&first);
    assert_eq!(derived.len(), 2);
    assert_ne!(derived[0].1, derived[1].1);
    let again = plan::plan(
        observed(&status, &records, &cmdline),
        &spec_of(spec.clone()),
    )
    .unwrap();
    assert_eq!(guids(&again), derived);
    assert!(
        !first
            .actions
            .iter()
            .any(|a| matches!(a, Action::SetVfAdminMac { .. }))
    );

    // The pool, matched by the PF's port GUID.
    let pool = GuidPool::parse(
        r#"[{"pfGuid": "0c:42:a1:03:00:65:5f:3a", "guidsRange": {"start": "02:00:00:00:00:aa:00:02", "end": "02:00:00:00:00:aa:00:03"}}]"#,
    )
    .unwrap();
    let mut with_pool = observed(&status, &records, &cmdline);
    with_pool.guids = Some(&pool);
    let plan = plan::plan(with_pool, &spec_of(spec.clone())).unwrap();
    assert_eq!(
        guids(&plan),
        [
            (0, "02:00:00:00:00:aa:00:02".to_owned()),
            (1, "02:00:00:00:00:aa:00:03".to_owned())
        ]
    );
    // A VF that already has its GUID is not touched again.
    let mut vf0 = vf(0, "mlx5_core", 2044);
    vf0.guid = Some("0200:0000:00aa:0002".into());
    let status_done = [infiniband_pf(vec![vf0, vf(1, "mlx5_core", 2044)])];
    let mut done = observed(&status_done, &records, &cmdline);
    done.guids = Some(&pool);
    let plan = plan::plan(
        done,
        &spec_of(Interface {
            mtu: Some(4000),
            ..spec.clone()
        }),
    )
    .unwrap();
    assert_eq!(guids(&plan), [(1, "02:00:00:00:00:aa:00:03".to_owned())]);
    // Too few GUIDs for the VFs is an error naming the PF.
    let err = plan::plan(
        with_pool,
        &spec_of(Interface {
            num_vfs: Some(3),
            vf_groups: Some(vec![group("ib", "0-2", "netdevice", None)]),
            ..spec.clone()
        }),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "PF 0000:81:00.0: the InfiniBand GUID pool has 2 GUIDs for this PF, VF 2 needs one"
    );
}

#[test]
fn switchdev_pfs_get_name_and_representor_rules_and_a_udev_reload() {
    let spec = Interface {
        e_switch_mode: Some("switchdev".into()),
        ..wanted(2, vec![group("net", "0-1", "netdevice", None)])
    };
    let status = [pf(0, vec![])];
    let records = BTreeMap::new();
    let cmdline = Vec::new();
    let plan = plan::plan(
        observed(&status, &records, &cmdline),
        &SriovNetworkNodeStateSpec {
            interfaces: Some(vec![spec]),
            ..Default::default()
        },
    )
    .unwrap();
    let kinds: Vec<String> = plan
        .actions
        .iter()
        .map(|a| {
            serde_json::to_value(a).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .filter(|k| !k.starts_with("bindVf") && !k.starts_with("setVfAdminMac"))
        .collect();
    assert_eq!(
        kinds,
        [
            "writeUdevRules",
            "setEswitchMode",
            "setNumVfs",
            "writeRepresentorRule",
            "saveRecord",
            "reloadUdev"
        ]
    );
    assert_eq!(plan.actions[0], udev("ens801f0", true));
}

#[test]
fn a_spec_interface_absent_from_the_host_is_a_warning_not_a_silent_skip() {
    let mut absent = wanted(2, vec![group("net", "0-1", "netdevice", None)]);
    absent.pci_address = "0000:d8:00.0".into();
    absent.name = Some("ens9f0".into());
    let plan = run(
        &[pf(0, vec![])],
        vec![absent],
        &BTreeMap::new(),
        &["intel_iommu=on", "iommu=pt"],
    );
    assert_eq!(
        plan.warnings,
        [
            "interface ens9f0 (0000:d8:00.0) is in the spec but not on this host; nothing is done for it"
        ]
    );
    assert!(plan.is_empty(), "{plan:?}");
}

#[test]
fn malformed_spec_and_status_values_are_errors_naming_the_pf_and_the_field() {
    let status = [pf(0, vec![])];
    let records = BTreeMap::new();
    let cmdline = Vec::new();
    let spec_of = |i: Interface| SriovNetworkNodeStateSpec {
        interfaces: Some(vec![i]),
        ..Default::default()
    };
    let err = |spec: &SriovNetworkNodeStateSpec, status: &[InterfaceExt]| {
        plan::plan(observed(status, &records, &cmdline), spec)
            .unwrap_err()
            .to_string()
    };
    // A range that does not parse is refused, not skipped as "no group".
    let bad_range = wanted(4, vec![group("net", "3-1", "netdevice", None)]);
    assert_eq!(
        err(&spec_of(bad_range), &status),
        "PF 0000:81:00.0: vfGroups[0].vfRange: invalid VF range \"3-1\": end range shall not be smaller than start range"
    );
    let bad_pci = Interface {
        pci_address: "81:00.0".into(),
        ..wanted(1, vec![])
    };
    assert_eq!(
        err(&spec_of(bad_pci), &status),
        "PF 81:00.0: pciAddress: invalid PCI address \"81:00.0\": expected domain:bus:device.function, e.g. 0000:86:00.1"
    );
    let bad_mode = Interface {
        e_switch_mode: Some("offload".into()),
        ..wanted(1, vec![])
    };
    assert_eq!(
        err(&spec_of(bad_mode), &status),
        "PF 0000:81:00.0: eSwitchMode: \"offload\" is neither legacy nor switchdev"
    );
    let bad_name = Interface {
        name: Some("a/b".into()),
        ..wanted(1, vec![])
    };
    assert_eq!(
        err(&spec_of(bad_name), &status),
        "PF 0000:81:00.0: name: invalid interface name \"a/b\": it contains `/`, `:` or white space"
    );
    assert_eq!(
        err(&spec_of(wanted(-1, vec![])), &status),
        "PF 0000:81:00.0: numVfs: -1 is not a VF count"
    );
    let twice = SriovNetworkNodeStateSpec {
        interfaces: Some(vec![wanted(2, vec![]), wanted(3, vec![])]),
        ..Default::default()
    };
    assert_eq!(
        err(&twice, &status),
        "PF 0000:81:00.0: spec.interfaces[0] and spec.interfaces[1] both configure it"
    );
    let mut bad_vf = pf(1, vec![vf(0, "iavf", 1500)]);
    bad_vf.vfs.as_mut().unwrap()[0].vf_id = -1;
    assert_eq!(
        err(&spec_of(wanted(1, vec![])), &[bad_vf]),
        "PF 0000:81:00.0: status Vfs[0].vfID: -1 is not a VF index"
    );
}

#[test]
fn the_plan_names_the_externally_managed_pfs_apply_must_not_reset() {
    let status = [pf(2, vec![vf(0, "iavf", 1500), vf(1, "iavf", 1500)])];
    let mut external = wanted(2, vec![group("net", "0-1", "netdevice", Some(9000))]);
    external.externally_managed = Some(true);
    let plan = run(&status, vec![external.clone()], &BTreeMap::new(), &[]);
    assert!(!plan.actions.is_empty());
    assert!(!plan.resets_on_failure(&pci()));
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["externallyManaged"], serde_json::json!([PCI]));
    // A PF the daemon only remembers as externally managed is kept too: dropping its
    // record must never remove VFs someone else created.
    let plan = run(
        &status,
        vec![],
        &BTreeMap::from([(PCI.to_owned(), external)]),
        &[],
    );
    assert_eq!(plan.actions, [Action::RemoveRecord { pf: pci() }]);
    assert!(!plan.resets_on_failure(&pci()));
    let ours = run(
        &status,
        vec![wanted(4, vec![group("net", "0-3", "netdevice", None)])],
        &BTreeMap::new(),
        &[],
    );
    assert!(ours.resets_on_failure(&pci()));
}

#[test]
fn a_group_reaching_past_the_vf_count_is_planned_for_the_vfs_that_exist_and_warned_about() {
    let status = [pf(0, vec![])];
    let plan = run(
        &status,
        vec![wanted(2, vec![group("net", "0-5", "netdevice", None)])],
        &BTreeMap::new(),
        &[],
    );
    assert_eq!(
        plan.warnings,
        [
            "0000:81:00.0: vfGroups[0].vfRange 0-5 reaches beyond its 2 VFs; the VFs past the last are left alone"
        ]
    );
    let bound: Vec<u16> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::BindVf { index, .. } => Some(index.get()),
            _ => None,
        })
        .collect();
    assert_eq!(bound, [0, 1]);
}
