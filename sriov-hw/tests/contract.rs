//! One suite of expectations, run against both backends: the real sysfs code reading a
//! `FakeSysfs` tree, and the `FakeHost` kernel model. Keeps the two fakes honest with each
//! other: a test passing on `FakeHost` means the same on a tree shaped like a real kernel's.

// Setup helpers shared by the tests: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

use sriov_core::api::InterfaceExt;
use sriov_core::nic::SupportedNics;
use sriov_hw::SysfsHost;
use sriov_hw::discover::{self, HostView, Options};
use sriov_hw::fake::{FakeHost, FakeSysfs, presets};
use sriov_hw::link::{LinkQuery, LinkSysfs};
use sriov_hw::pci::PciSysfs;
use sriov_hw::store::PfStore;

/// The same host in both backends: an E810 port with 3 VFs and a ConnectX-6 Dx port without.
struct Backends {
    _tree: FakeSysfs,
    sysfs: SysfsHost,
    records: sriov_hw::store::RecordFiles,
    model: FakeHost,
}

fn backends() -> Backends {
    let tree = FakeSysfs::e810(3).unwrap();
    tree.pf("0000:3b:00.0", presets::MLX_CX6_DX)
        .name("ens2f0")
        .build()
        .unwrap();
    let model = FakeHost::new();
    model
        .add_pf("0000:81:00.0", presets::INTEL_E810_CQDA2, "ens801f0", 3)
        .unwrap();
    model
        .add_pf("0000:3b:00.0", presets::MLX_CX6_DX, "ens2f0", 0)
        .unwrap();
    Backends {
        sysfs: SysfsHost::new(tree.root()),
        records: sriov_hw::store::RecordFiles::new(tree.root()),
        _tree: tree,
        model,
    }
}

fn each(check: impl Fn(&str, &dyn PciSysfs, &dyn LinkSysfs, &dyn LinkQuery, &dyn PfStore)) {
    let b = backends();
    let no_netlink = sriov_hw::link::NoNetlink;
    check("sysfs tree", &b.sysfs, &b.sysfs, &no_netlink, &b.records);
    check("kernel model", &b.model, &b.model, &b.model, &b.model);
}

#[test]
fn both_backends_list_the_same_functions() {
    each(|backend, pci, _, _, _| {
        let listed: Vec<String> = pci
            .list()
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            listed,
            [
                "0000:3b:00.0",
                "0000:81:00.0",
                "0000:82:00.0",
                "0000:82:00.1",
                "0000:82:00.2"
            ],
            "{backend}"
        );
    });
}

#[test]
fn both_backends_describe_a_pf_and_its_vfs_alike() {
    each(|backend, pci, links, _, _| {
        let pf = pci.device(&"0000:81:00.0".parse().unwrap()).unwrap();
        assert_eq!(
            (
                pf.vendor.as_str(),
                pf.device.as_str(),
                pf.driver.as_deref(),
                pf.total_vfs,
                pf.num_vfs,
                pf.virtfns.len()
            ),
            ("8086", "1592", Some("ice"), Some(128), Some(3), 3),
            "{backend}"
        );
        assert_eq!(pf.netdevs, ["ens801f0"], "{backend}");
        assert!(pf.iommu_group.is_some(), "{backend}");
        let (index, vf) = pf.virtfns[2];
        assert_eq!(
            (index.get(), vf.to_string().as_str()),
            (2, "0000:82:00.2"),
            "{backend}"
        );
        assert_eq!(pci.physfn(&vf).unwrap(), Some(pf.address), "{backend}");
        assert_eq!(pci.physfn(&pf.address).unwrap(), None, "{backend}");
        assert_eq!(
            pci.ids(&vf).unwrap(),
            ("8086".to_owned(), "1889".to_owned()),
            "{backend}"
        );
        let vf_info = pci.vf(&vf).unwrap();
        assert_eq!(vf_info.driver.as_deref(), Some("iavf"), "{backend}");
        assert_eq!(
            vf_info.netdev.as_ref().map(|n| (n.name.as_str(), n.mtu)),
            Some(("ens801f0v2", Some(1500))),
            "{backend}"
        );
        let link = links.link_attrs("ens801f0").unwrap();
        assert_eq!(
            (link.mtu, link.admin_up, link.speed_mbps),
            (Some(1500), true, Some(100_000)),
            "{backend}"
        );
        assert!(links.link_attrs("nope0").is_err(), "{backend}");
        assert!(
            pci.device(&"0000:99:00.0".parse().unwrap()).is_err(),
            "{backend}"
        );
    });
}

fn without_macs(mut status: Vec<InterfaceExt>) -> Vec<InterfaceExt> {
    for pf in &mut status {
        pf.mac = None;
        for vf in pf.vfs.iter_mut().flatten() {
            vf.mac = None;
        }
    }
    status
}

#[test]
fn both_backends_discover_the_same_status() {
    let b = backends();
    let nics = SupportedNics::default();
    let options = Options {
        nics: &nics,
        dev_mode: false,
    };
    let no_netlink = sriov_hw::link::NoNetlink;
    let tree = discover::discover(
        HostView {
            pci: &b.sysfs,
            links: &b.sysfs,
            netlink: &no_netlink,
            store: &b.records,
        },
        options,
    )
    .unwrap();
    let model = discover::discover(
        HostView {
            pci: &b.model,
            links: &b.model,
            netlink: &b.model,
            store: &b.model,
        },
        options,
    )
    .unwrap();
    assert_eq!(tree.len(), 2);
    assert_eq!(without_macs(tree), without_macs(model));
}

#[test]
fn both_backends_keep_the_daemons_records() {
    each(|backend, _, _, _, store| {
        let record = sriov_core::api::Interface {
            pci_address: "0000:81:00.0".into(),
            num_vfs: Some(3),
            ..Default::default()
        };
        assert_eq!(
            store.load(&"0000:81:00.0".parse().unwrap()).unwrap(),
            None,
            "{backend}"
        );
        store
            .save(&"0000:81:00.0".parse().unwrap(), &record)
            .unwrap();
        assert_eq!(
            store.load(&"0000:81:00.0".parse().unwrap()).unwrap(),
            Some(record),
            "{backend}"
        );
        store.remove(&"0000:81:00.0".parse().unwrap()).unwrap();
        store.remove(&"0000:81:00.0".parse().unwrap()).unwrap();
        assert_eq!(
            store.load(&"0000:81:00.0".parse().unwrap()).unwrap(),
            None,
            "{backend}"
        );
    });
}

#[test]
fn both_backends_offer_the_same_functions_to_the_device_plugin() {
    let b = backends();
    // What a pool selects on and what allocation hands out; IOMMU group numbers are each
    // backend's own.
    let summary = |pci: &dyn PciSysfs| -> Vec<String> {
        let inventory = pci.functions().unwrap();
        assert!(!inventory.vhost_net);
        inventory
            .devices
            .iter()
            .map(|d| {
                format!(
                    "{} {}:{} class {:#04x} driver {} numa {:?} pf {:?} index {:?} netdev {:?} {:?} iommu {} unhealthy {:?}",
                    d.id,
                    d.vendor,
                    d.device,
                    d.class,
                    d.driver,
                    d.numa,
                    d.pf,
                    d.index,
                    d.netdev,
                    d.link_type,
                    d.iommu_group.is_some(),
                    d.unhealthy
                )
            })
            .collect()
    };
    let tree = summary(&b.sysfs);
    assert_eq!(tree, summary(&b.model));
    // The E810 PF offers its three VFs, not itself; the ConnectX port without VFs offers
    // itself.
    assert_eq!(tree.len(), 4, "{tree:#?}");
    assert!(
        tree[0].starts_with("0000:3b:00.0 15b3:101d class 0x02 driver mlx5_core"),
        "{tree:#?}"
    );
    assert!(
        tree[1].starts_with(
            "0000:82:00.0 8086:1889 class 0x02 driver iavf numa Some(0) pf Some((\"0000:81:00.0\", Some(\"ens801f0\"))) index Some(0)"
        ),
        "{tree:#?}"
    );
}
