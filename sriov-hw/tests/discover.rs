//! Discovery over fake host roots shaped like real kernels' sysfs.
// Test and benchmark set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used)]

use sriov_core::api::{Interface, InterfaceExt};
use sriov_core::nic::SupportedNics;
use sriov_hw::SysfsHost;
use sriov_hw::discover::{self, HostView, Options};
use sriov_hw::fake::{FakeSysfs, Nic, presets};
use sriov_hw::store::PfStore;

fn try_run(fake: &FakeSysfs, dev_mode: bool) -> sriov_hw::Result<Vec<InterfaceExt>> {
    let host = SysfsHost::new(fake.root());
    let nics = SupportedNics::default();
    let view = HostView {
        pci: &host,
        links: &host,
        netlink: fake.links(),
        store: &sriov_hw::store::RecordFiles::new(fake.root()),
    };
    discover::discover(
        view,
        Options {
            nics: &nics,
            dev_mode,
        },
    )
}

fn run(fake: &FakeSysfs, dev_mode: bool) -> Vec<InterfaceExt> {
    try_run(fake, dev_mode).expect("discovery succeeds")
}

#[test]
fn an_e810_port_with_vfs_is_reported_like_upstream() {
    let fake = FakeSysfs::new().unwrap();
    fake.pf("0000:81:00.0", presets::INTEL_E810_CQDA2)
        .name("ens801f0")
        .alt_name("enp129s0f0")
        .num_vfs(4)
        .build()
        .unwrap();
    let status = run(&fake, false);
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(
        json[0]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k != "Vfs")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<serde_json::Map<_, _>>(),
        serde_json::json!({
            "name": "ens801f0",
            "mac": "02:80:81:00:ff:ff",
            "driver": "ice",
            "pciAddress": "0000:81:00.0",
            "vendor": "8086",
            "deviceID": "1592",
            "mtu": 1500,
            "numVfs": 4,
            "linkSpeed": "100000 Mb/s",
            "linkType": "ETH",
            "linkAdminState": "up",
            "eSwitchMode": "legacy",
            "totalvfs": 128,
            "altNames": ["enp129s0f0"]
        })
        .as_object()
        .unwrap()
        .clone()
    );
    let vfs = status[0].vfs.as_ref().unwrap();
    assert_eq!(vfs.len(), 4);
    assert_eq!(
        serde_json::to_value(&vfs[3]).unwrap(),
        serde_json::json!({
            "name": "ens801f0v3",
            "mac": "02:80:81:00:00:03",
            "driver": "iavf",
            "pciAddress": "0000:82:00.3",
            "vendor": "8086",
            "deviceID": "1889",
            "mtu": 1500,
            "vfID": 3
        })
    );
}

#[test]
fn every_mission_nic_preset_is_discovered_with_its_ids_and_drivers() {
    let fake = FakeSysfs::new().unwrap();
    for (i, nic) in presets::ALL.iter().enumerate() {
        fake.pf(&format!("0000:{:02x}:00.0", 0x10 + 4 * i), *nic)
            .num_vfs(2)
            .build()
            .unwrap();
    }
    let status = run(&fake, false);
    assert_eq!(status.len(), presets::ALL.len());
    for (iface, nic) in status.iter().zip(presets::ALL) {
        assert_eq!(
            (
                iface.vendor.as_deref(),
                iface.device_id.as_deref(),
                iface.driver.as_deref(),
                iface.total_vfs
            ),
            (
                Some(nic.vendor),
                Some(nic.pf_device),
                Some(nic.pf_driver),
                Some(i32::from(nic.total_vfs))
            ),
            "{}",
            nic.model
        );
        let vf = &iface.vfs.as_ref().unwrap()[1];
        assert_eq!(
            (vf.device_id.as_deref(), vf.driver.as_deref(), vf.vf_id),
            (Some(nic.vf_device), Some(nic.vf_driver), 1)
        );
    }
}

#[test]
fn unsupported_nics_are_reported_only_in_dev_mode() {
    let x540 = Nic {
        model: "Intel X540",
        pf_device: "1528",
        vf_device: "1515",
        pf_driver: "ixgbe",
        vf_driver: "ixgbevf",
        ..presets::INTEL_X710
    };
    let fake = FakeSysfs::new().unwrap();
    fake.pf("0000:05:00.0", x540).build().unwrap();
    assert!(run(&fake, false).is_empty());
    assert_eq!(run(&fake, true)[0].device_id.as_deref(), Some("1528"));
}

#[test]
fn dpdk_vfs_have_no_netdev_and_a_down_pf_has_no_speed() {
    let fake = FakeSysfs::new().unwrap();
    fake.pf("0000:3b:00.0", presets::INTEL_X710)
        .name("ens1f0")
        .down()
        .vf_driver("vfio-pci")
        .num_vfs(2)
        .build()
        .unwrap();
    let status = run(&fake, false);
    assert_eq!(status[0].link_admin_state.as_deref(), Some("down"));
    assert_eq!(status[0].link_speed, None);
    let vf = &status[0].vfs.as_ref().unwrap()[0];
    assert_eq!(
        (vf.driver.as_deref(), vf.name.as_deref(), vf.mac.as_deref()),
        (Some("vfio-pci"), None, None)
    );
}

#[test]
fn infiniband_vfs_report_their_port_guid() {
    let fake = FakeSysfs::new().unwrap();
    fake.pf("0000:5e:00.0", presets::MLX_CX6_DX)
        .name("ibs5f0")
        .infiniband()
        .num_vfs(1)
        .build()
        .unwrap();
    let status = run(&fake, false);
    assert_eq!(status[0].link_type.as_deref(), Some("IB"));
    assert_eq!(
        status[0].vfs.as_ref().unwrap()[0].guid.as_deref(),
        Some("0c:42:a1:15:5e:00:00:00")
    );
}

#[test]
fn the_daemons_record_marks_externally_managed_pfs() {
    let fake = FakeSysfs::new().unwrap();
    fake.pf("0000:3b:00.0", presets::MLX_CX5).build().unwrap();
    let host = sriov_hw::store::RecordFiles::new(fake.root());
    host.save(
        &"0000:3b:00.0".parse().unwrap(),
        &Interface {
            pci_address: "0000:3b:00.0".into(),
            externally_managed: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(run(&fake, false)[0].externally_managed, Some(true));
    assert_eq!(
        host.load(&"0000:3b:00.0".parse().unwrap())
            .unwrap()
            .unwrap()
            .externally_managed,
        Some(true)
    );
    host.remove(&"0000:3b:00.0".parse().unwrap()).unwrap();
    host.remove(&"0000:3b:00.0".parse().unwrap()).unwrap();
    assert_eq!(run(&fake, false)[0].externally_managed, None);
}

#[test]
fn a_corrupt_sysfs_file_is_an_error_naming_it() {
    let fake = FakeSysfs::new().unwrap();
    fake.pf("0000:3b:00.0", presets::MLX_CX5).build().unwrap();
    std::fs::write(
        fake.root().pci_device("0000:3b:00.0").join("sriov_numvfs"),
        "lots\n",
    )
    .unwrap();
    let err = try_run(&fake, false).unwrap_err();
    assert!(err.to_string().starts_with("parse "), "{err}");
    assert!(
        err.to_string()
            .ends_with("sriov_numvfs: \"lots\" is not a VF count"),
        "{err}"
    );
}

#[test]
fn the_eswitch_mode_comes_from_devlink_by_pci_address_and_defaults_to_legacy() {
    let fake = FakeSysfs::new().unwrap();
    fake.pf("0000:3b:00.0", presets::MLX_CX6_DX)
        .name("ens3f0np0")
        .build()
        .unwrap();
    fake.pf("0000:3b:00.1", presets::MLX_CX6_DX)
        .name("ens3f1np1")
        .build()
        .unwrap();
    fake.links().set_eswitch("0000:3b:00.0", "switchdev");
    let modes: Vec<Option<String>> = run(&fake, false)
        .into_iter()
        .map(|i| i.e_switch_mode)
        .collect();
    assert_eq!(
        modes,
        [Some("switchdev".to_owned()), Some("legacy".to_owned())]
    );
}

#[test]
fn vdpa_devices_of_switchdev_vfs_report_their_type() {
    let fake = FakeSysfs::new().unwrap();
    fake.pf("0000:3b:00.0", presets::MLX_CX6_DX)
        .name("ens3f0np0")
        .num_vfs(2)
        .build()
        .unwrap();
    fake.links().set_eswitch("0000:3b:00.0", "switchdev");
    // vdpa:<pci> on the vdpa bus, bound to virtio_vdpa, for VF 0 only.
    let root = fake.root();
    let device = root.join("sys/bus/vdpa/devices/vdpa:0000:3c:00.0");
    let driver = root.join("sys/bus/vdpa/drivers/virtio_vdpa");
    std::fs::create_dir_all(&device).unwrap();
    std::fs::create_dir_all(&driver).unwrap();
    std::os::unix::fs::symlink(&driver, device.join("driver")).unwrap();
    let status = run(&fake, false);
    let types: Vec<Option<&str>> = status[0]
        .vfs
        .as_ref()
        .unwrap()
        .iter()
        .map(|v| v.vdpa_type.as_deref())
        .collect();
    assert_eq!(types, [Some("virtio"), None]);
}

/// Answers like a kernel that refuses to say: alt-names empty, every e-switch query an error.
struct RefusingDevlink;

impl sriov_hw::link::LinkQuery for RefusingDevlink {
    fn alt_names(&self, _ifname: &str) -> Vec<String> {
        Vec::new()
    }

    fn eswitch_mode(&self, pci: &str) -> sriov_hw::Result<Option<String>> {
        Err(sriov_hw::Error::Kernel {
            op: "get e-switch mode",
            target: pci.to_owned(),
            errno: std::io::Error::from_raw_os_error(libc::EPERM),
        })
    }
}

#[test]
fn an_e_switch_mode_that_cannot_be_read_is_an_error_not_legacy() {
    let fake = FakeSysfs::new().unwrap();
    fake.pf("0000:81:00.0", presets::MLX_CX6_DX)
        .name("ens1f0")
        .build()
        .unwrap();
    let host = SysfsHost::new(fake.root());
    let nics = SupportedNics::default();
    let view = HostView {
        pci: &host,
        links: &host,
        netlink: &RefusingDevlink,
        store: &sriov_hw::store::RecordFiles::new(fake.root()),
    };
    let err = discover::discover(
        view,
        Options {
            nics: &nics,
            dev_mode: false,
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "get e-switch mode 0000:81:00.0: Operation not permitted (os error 1)"
    );
}

#[test]
fn one_observation_gives_the_status_and_the_plans_input() {
    use sriov_hw::observe;
    let fake = FakeSysfs::e810(2).unwrap();
    fake.cmdline("root=/dev/sda2 intel_iommu=on iommu=pt")
        .unwrap();
    let record = Interface {
        pci_address: "0000:81:00.0".into(),
        num_vfs: Some(2),
        ..Default::default()
    };
    sriov_hw::store::RecordFiles::new(fake.root())
        .save(&"0000:81:00.0".parse().unwrap(), &record)
        .unwrap();
    let nics = SupportedNics::default();
    let snapshot = observe::observe(&fake.root(), &nics, false).unwrap();
    // The status is what discovery reports.
    assert_eq!(snapshot.status().interfaces.unwrap(), run(&fake, false));
    assert_eq!(snapshot.status().system, None, "no RDMA on this host");
    // The plan's input carries the same interfaces, the record and the kernel's facts.
    let observed = snapshot.observed(&nics).unwrap();
    assert_eq!(observed.interfaces, snapshot.interfaces.as_slice());
    assert_eq!(observed.records.get("0000:81:00.0"), Some(&record));
    assert_eq!(
        observed.cmdline,
        ["root=/dev/sda2", "intel_iommu=on", "iommu=pt"]
    );
    assert!(observed.iommu_active);

    // Without proc/cmdline the status still works; planning says what is missing.
    std::fs::remove_file(fake.root().join("proc/cmdline")).unwrap();
    let snapshot = observe::observe(&fake.root(), &nics, false).unwrap();
    assert!(snapshot.status().interfaces.is_some());
    assert_eq!(
        snapshot.observed(&nics).unwrap_err().to_string(),
        "kernel command line not found: proc/cmdline"
    );
    // Not a host root at all.
    let err = observe::observe(&sriov_hw::HostRoot::new("/nonexistent"), &nics, false).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent is not a host root"),
        "{err}"
    );
}
