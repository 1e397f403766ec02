//! Planning: which actions, in which order, and what disruption they need.

use std::collections::BTreeMap;

use sriov_core::api::{
    Interface, InterfaceExt, RdmaMode, SriovNetworkNodeStateSpec, System, VfGroup, VirtualFunction,
};
use sriov_core::plan::{self, Action, Disruption, Observed, Plan, VfDriver};
use sriov_core::testing::PfBuilder;

const PCI: &str = "0000:81:00.0";

fn group(resource: &str, range: &str, device_type: &str, mtu: Option<i32>) -> VfGroup {
    VfGroup {
        resource_name: Some(resource.into()),
        device_type: Some(device_type.into()),
        vf_range: Some(range.into()),
        policy_name: Some(resource.into()),
        mtu,
        ..Default::default()
    }
}

fn wanted(num_vfs: i32, groups: Vec<VfGroup>) -> Interface {
    Interface {
        pci_address: PCI.into(),
        name: Some("ens801f0".into()),
        num_vfs: Some(num_vfs),
        vf_groups: Some(groups),
        ..Default::default()
    }
}

fn vf(index: i32, driver: &str, mtu: i32) -> VirtualFunction {
    VirtualFunction {
        pci_address: format!("0000:82:00.{index}"),
        vf_id: index,
        driver: Some(driver.into()),
        mtu: Some(mtu),
        ..Default::default()
    }
}

fn pf(num_vfs: i32, vfs: Vec<VirtualFunction>) -> InterfaceExt {
    let mut pf = PfBuilder::new(PCI, "ens801f0")
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
    plan::plan(
        Observed {
            interfaces: status,
            records,
            cmdline: &cmdline,
        },
        &spec,
    )
    .expect("plans")
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
        &["intel_iommu=on"],
    );
    assert_eq!(plan.disruption, Disruption::None, "{:?}", plan.reasons);
    assert_eq!(
        plan.actions,
        [
            Action::SetNumVfs {
                pf: PCI.into(),
                num_vfs: 2
            },
            Action::BindVf {
                pf: PCI.into(),
                index: 0,
                driver: VfDriver::Default
            },
            Action::SetVfAdminMac {
                pf: PCI.into(),
                index: 0
            },
            Action::SetVfMtu {
                pf: PCI.into(),
                index: 0,
                mtu: 9000
            },
            Action::BindVf {
                pf: PCI.into(),
                index: 1,
                driver: VfDriver::Named("vfio-pci".into())
            },
            Action::SaveRecord { interface: spec },
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
            vec![Action::SaveRecord { interface: spec }]
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
    assert_eq!(
        plan.actions[0],
        Action::SetNumVfs {
            pf: PCI.into(),
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
    assert!(!plan::needs_update(&spec, &ok));
    let wrong_driver = pf(2, vec![vf(0, "iavf", 1500), vf(1, "iavf", 9000)]);
    assert!(plan::needs_update(&spec, &wrong_driver));
    let wrong_mtu = pf(2, vec![vf(0, "vfio-pci", 0), vf(1, "iavf", 1500)]);
    assert!(plan::needs_update(&spec, &wrong_mtu));
    let mut unbound = ok.clone();
    unbound.vfs.as_mut().unwrap()[1].driver = None;
    assert!(plan::needs_update(&spec, &unbound));
    let mut down = ok.clone();
    down.link_admin_state = Some("down".into());
    assert!(plan::needs_update(&spec, &down));
    let mut higher_mtu = spec.clone();
    higher_mtu.mtu = Some(9000);
    assert!(plan::needs_update(&higher_mtu, &ok));
    let mut lower_mtu = spec.clone();
    lower_mtu.mtu = Some(1000);
    assert!(
        !plan::needs_update(&lower_mtu, &ok),
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
    let cmdline = vec!["root=/dev/sda".to_owned()];
    let observed = Observed {
        interfaces: &[],
        records: &BTreeMap::new(),
        cmdline: &cmdline,
    };
    let plan = plan::plan(observed, &spec).unwrap();
    assert_eq!(plan.disruption, Disruption::Reboot);
    assert_eq!(
        plan.reasons,
        [
            "kernel argument intel_iommu=on (or amd_iommu=on) is needed for vfio-pci VFs",
            "kernel argument ib_core.netns_mode=0 is needed for rdmaMode exclusive",
        ]
    );
    spec.system = None;
    let cmdline = vec!["amd_iommu=on".to_owned()];
    let observed = Observed {
        interfaces: &[],
        records: &BTreeMap::new(),
        cmdline: &cmdline,
    };
    assert_eq!(
        plan::plan(observed, &spec).unwrap().disruption,
        Disruption::None
    );
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
                pf: PCI.into(),
                mtu: 1500
            },
            Action::RemoveRecord { pf: PCI.into() }
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
        (
            Disruption::None,
            vec![Action::RemoveRecord { pf: PCI.into() }]
        )
    );
}

#[test]
fn impossible_specs_are_errors_naming_the_pf() {
    let cmdline = Vec::new();
    let records = BTreeMap::new();
    let status = [pf(0, vec![])];
    let observed = Observed {
        interfaces: &status,
        records: &records,
        cmdline: &cmdline,
    };
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
