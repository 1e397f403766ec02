//! Discovery over FakeSysfs trees: what is offered, what is skipped, and the extras
//! (RDMA, uio, vDPA, no-IOMMU groups, link type, health).

// Test helpers panic on setup failures by design: that is the test failing.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use sriov_deviceplugin::device::{HostDevice, discover};
use sriov_hw::fake::{FakeSysfs, presets};

fn put(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn by_id<'a>(devices: &'a [HostDevice], id: &str) -> &'a HostDevice {
    devices
        .iter()
        .find(|d| d.id == id)
        .unwrap_or_else(|| panic!("{id} not found"))
}

#[test]
fn vfs_are_offered_their_pf_is_not_and_pfs_without_vfs_are() {
    let fake = FakeSysfs::new().unwrap();
    fake.pf("0000:81:00.0", presets::INTEL_E810_CQDA2)
        .name("ens801f0")
        .num_vfs(2)
        .numa_node(Some(1))
        .build()
        .unwrap();
    fake.pf("0000:81:00.1", presets::INTEL_E810_CQDA2)
        .name("ens801f1")
        .build()
        .unwrap();
    let inventory = discover(&fake.root()).unwrap();
    let ids: Vec<&str> = inventory.devices.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["0000:81:00.1", "0000:82:00.0", "0000:82:00.1"]);
    let vf = by_id(&inventory.devices, "0000:82:00.1");
    assert_eq!(
        (vf.vendor.as_str(), vf.device.as_str(), vf.driver.as_str()),
        ("8086", "1889", "iavf")
    );
    assert_eq!(
        vf.pf,
        Some(("0000:81:00.0".to_owned(), Some("ens801f0".to_owned())))
    );
    assert_eq!((vf.index, vf.numa), (Some(1), Some(1)));
    assert_eq!(vf.netdev.as_deref(), Some("ens801f0v1"));
    assert_eq!(vf.link_type.as_deref(), Some("ether"));
    assert!(vf.iommu_group.is_some() && !vf.noiommu);
    assert_eq!(vf.unhealthy, None);
    assert!(!inventory.vhost_net);
}

#[test]
fn the_nic_holding_the_default_route_is_skipped() {
    let fake = FakeSysfs::new().unwrap();
    fake.pf("0000:81:00.1", presets::INTEL_E810_CQDA2)
        .name("eno1")
        .build()
        .unwrap();
    fake.pf("0000:81:00.2", presets::INTEL_E810_CQDA2)
        .name("eno2")
        .build()
        .unwrap();
    put(
        &fake.path().join("proc/net/route"),
        "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\nenp0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\neno1\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\n",
    );
    let ids: Vec<String> = discover(&fake.root())
        .unwrap()
        .devices
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, ["0000:81:00.2"]);
}

#[test]
fn rdma_uio_vdpa_noiommu_and_vhost_are_read_where_they_exist() {
    let fake = FakeSysfs::new().unwrap();
    fake.pf("0000:3b:00.0", presets::MLX_CX6_DX)
        .name("ens1f0")
        .num_vfs(3)
        .build()
        .unwrap();
    let vf = |i: u8| {
        fake.path()
            .join(format!("sys/bus/pci/devices/0000:3c:00.{i}"))
    };
    // VF 0: RDMA with its character devices.
    std::fs::create_dir_all(vf(0).join("infiniband/mlx5_3")).unwrap();
    std::fs::create_dir_all(vf(0).join("infiniband_verbs/uverbs3")).unwrap();
    std::fs::create_dir_all(vf(0).join("infiniband_mad/umad3")).unwrap();
    std::fs::create_dir_all(vf(0).join("infiniband_mad/issm3")).unwrap();
    // VF 1: a uio device.
    std::fs::create_dir_all(vf(1).join("uio/uio2")).unwrap();
    // VF 2: a vhost vDPA device.
    let vdpa = fake.path().join("sys/bus/vdpa/devices/vdpa:0000:3c:00.2");
    std::fs::create_dir_all(vdpa.join("vhost-vdpa-1")).unwrap();
    std::fs::create_dir_all(fake.path().join("sys/bus/vdpa/drivers/vhost_vdpa")).unwrap();
    std::os::unix::fs::symlink("../../drivers/vhost_vdpa", vdpa.join("driver")).unwrap();
    // vhost-net and tun.
    put(&fake.path().join("dev/vhost-net"), "");
    put(&fake.path().join("dev/net/tun"), "");
    let inventory = discover(&fake.root()).unwrap();
    let d0 = by_id(&inventory.devices, "0000:3c:00.0");
    assert_eq!(d0.rdma.devices, ["mlx5_3"]);
    assert_eq!(
        d0.rdma.char_devices,
        [
            "/dev/infiniband/uverbs3",
            "/dev/infiniband/issm3",
            "/dev/infiniband/umad3",
            "/dev/infiniband/rdma_cm"
        ]
    );
    assert_eq!(
        by_id(&inventory.devices, "0000:3c:00.1").uio.as_deref(),
        Some("/dev/uio2")
    );
    let v = by_id(&inventory.devices, "0000:3c:00.2")
        .vdpa
        .clone()
        .unwrap();
    assert_eq!(
        (v.kind.as_str(), v.path.as_deref()),
        ("vhost", Some("/dev/vhost-vdpa-1"))
    );
    assert!(inventory.vhost_net);

    // A no-IOMMU host (VM without vIOMMU): groups named vfio-noiommu.
    put(
        &fake
            .path()
            .join("sys/module/vfio/parameters/enable_unsafe_noiommu_mode"),
        "Y\n",
    );
    let group = by_id(&inventory.devices, "0000:3c:00.0")
        .iommu_group
        .clone()
        .unwrap();
    put(
        &fake
            .path()
            .join(format!("sys/kernel/iommu_groups/{group}/name")),
        "vfio-noiommu\n",
    );
    let again = discover(&fake.root()).unwrap();
    assert!(by_id(&again.devices, "0000:3c:00.0").noiommu);
    assert!(!by_id(&again.devices, "0000:3c:00.1").noiommu);
}

#[test]
fn unbound_vfs_and_a_pf_without_carrier_are_unhealthy() {
    let fake = FakeSysfs::e810(2).unwrap();
    let vf1 = fake.path().join("sys/bus/pci/devices/0000:82:00.1/driver");
    std::fs::remove_file(&vf1).unwrap();
    let inventory = discover(&fake.root()).unwrap();
    assert_eq!(
        by_id(&inventory.devices, "0000:82:00.1")
            .unhealthy
            .as_deref(),
        Some("no driver bound")
    );
    assert_eq!(by_id(&inventory.devices, "0000:82:00.0").unhealthy, None);
    put(
        &fake
            .path()
            .join("sys/bus/pci/devices/0000:81:00.0/net/ens801f0/carrier"),
        "0\n",
    );
    let inventory = discover(&fake.root()).unwrap();
    assert_eq!(
        by_id(&inventory.devices, "0000:82:00.0")
            .unhealthy
            .as_deref(),
        Some("PF ens801f0 has no carrier")
    );
}

#[test]
fn ddp_profiles_come_from_the_pf_once_per_pf_and_feed_the_selector() {
    use sriov_deviceplugin::config::Config;
    use sriov_deviceplugin::device::fill_ddp_profiles;
    use sriov_deviceplugin::resource_pool::assign;
    let fake = FakeSysfs::e810(2).unwrap();
    fake.pf("0000:81:00.1", presets::INTEL_E810_CQDA2)
        .name("ens801f1")
        .num_vfs(2)
        .build()
        .unwrap();
    let mut inventory = discover(&fake.root()).unwrap();
    let asked = std::cell::RefCell::new(Vec::new());
    fill_ddp_profiles(&mut inventory, |pci| {
        asked.borrow_mut().push(pci.to_owned());
        (pci == "0000:81:00.1").then(|| "ICE COMMS Package".to_owned())
    });
    assert_eq!(*asked.borrow(), ["0000:81:00.0", "0000:81:00.1"]);
    let config = Config::parse(
        r#"{"resourceList":[{"resourceName":"comms","selectors":{"ddpProfiles":["ICE COMMS Package"]}}]}"#,
        "intel.com",
    )
    .unwrap();
    let ids: Vec<String> = assign(&config, &inventory)[0]
        .members
        .keys()
        .cloned()
        .collect();
    assert_eq!(ids, ["0000:83:00.0", "0000:83:00.1"]);
}
