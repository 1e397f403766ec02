//! What the device plugin knows about one function it may offer: the one-pass discovery
//! lives in `sriov-hw` ([`sriov_hw::functions`], reached through
//! [`sriov_hw::pci::PciSysfs::functions`] so the fake backend and the contract suite cover
//! it); this module re-exports its types and adds the Intel DDP profile lookup.

use std::collections::BTreeMap;

pub use sriov_hw::functions::{HostDevice, Inventory, Rdma, Vdpa};
pub use sriov_hw::pci::{CLASS_ACCELERATOR, CLASS_NETWORK};

/// Discovers every function the plugin may offer under `root` (a real or fake host tree).
pub fn discover(root: &sriov_hw::HostRoot) -> sriov_hw::Result<Inventory> {
    sriov_hw::functions::scan(root)
}

/// A VF of an Intel E810 (PF `0000:81:00.0` named `ens801f0`), for unit tests to adjust.
#[cfg(test)]
pub(crate) fn example(id: &str, driver: &str, index: u16) -> HostDevice {
    HostDevice {
        id: id.into(),
        pci: id.into(),
        vendor: "8086".into(),
        device: "1889".into(),
        class: CLASS_NETWORK,
        driver: driver.into(),
        numa: Some(0),
        iommu_group: Some("42".into()),
        pf: Some(("0000:81:00.0".into(), Some("ens801f0".into()))),
        index: Some(index),
        link_type: Some("ether".into()),
        ..HostDevice::default()
    }
}

/// Fills each device's Intel DDP profile from its PF's running `fw.app.name` (what
/// `devlink dev info` shows), asking `lookup` once per PF.
pub fn fill_ddp_profiles(inventory: &mut Inventory, lookup: impl Fn(&str) -> Option<String>) {
    let mut cache: BTreeMap<String, Option<String>> = BTreeMap::new();
    for device in &mut inventory.devices {
        let pf = device
            .pf
            .as_ref()
            .map_or_else(|| device.pci.clone(), |(a, _)| a.clone());
        let profile = cache.entry(pf.clone()).or_insert_with(|| lookup(&pf));
        device.ddp_profile = profile.clone();
    }
}

/// The DDP profile of the PF at `pci` through devlink, when the kernel and driver report one.
pub fn devlink_ddp_profile(devlink: &sriov_hw::devlink::Devlink, pci: &str) -> Option<String> {
    devlink.running_versions(pci).ok()?.remove("fw.app.name")
}
