//! Pools: which devices each configured resource offers (selectors applied in upstream's
//! filter order; across the whole file a device goes to the first resource and selector
//! that match it), and how a pool's device list changes between scans: new matching
//! devices are added, devices that now belong elsewhere (rebound) are dropped, and devices
//! that vanished, lost their driver or whose PF lost carrier stay listed as `Unhealthy`
//! until they recover.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Config, DeviceKind, PfEntry, ResourceConfig, Selector};
use crate::device::{CLASS_ACCELERATOR, CLASS_NETWORK, HostDevice, Inventory};

fn any_pf_entry(entries: &[PfEntry], pf_key: Option<&str>, index: Option<u16>) -> bool {
    let (Some(key), Some(index)) = (pf_key, index) else {
        return false;
    };
    // Upstream consults only the first entry naming the PF.
    entries
        .iter()
        .find(|e| e.pf.eq_ignore_ascii_case(key))
        .is_some_and(|e| e.contains(index))
}

/// Whether `device` passes `selector` (filter order: vendors, devices, drivers,
/// pciAddresses, acpiIndexes, pfNames, rootDevices, linkTypes, ddpProfiles, pKeys, isRdma,
/// vdpaType, auxTypes).
pub fn selects(
    selector: &Selector,
    device: &HostDevice,
    kind: DeviceKind,
    vhost_net: bool,
) -> bool {
    let within = |list: &[String], value: Option<&str>| {
        list.is_empty() || value.is_some_and(|v| list.iter().any(|x| x == v))
    };
    let class_ok = match kind {
        DeviceKind::NetDevice => device.class == CLASS_NETWORK && device.aux_type.is_none(),
        DeviceKind::Accelerator => device.class == CLASS_ACCELERATOR,
        DeviceKind::AuxNetDevice => device.aux_type.is_some(),
    };
    class_ok
        && within(&selector.vendors, Some(&device.vendor))
        && within(&selector.devices, Some(&device.device))
        && within(&selector.drivers, Some(&device.driver))
        && within(&selector.pci_addresses, Some(&device.id))
        && within(&selector.acpi_indexes, device.acpi_index.as_deref())
        && (selector.pf_names.is_empty()
            || any_pf_entry(
                &selector.pf_names,
                device.pf.as_ref().and_then(|(_, n)| n.as_deref()),
                device.index,
            ))
        && (selector.root_devices.is_empty()
            || any_pf_entry(
                &selector.root_devices,
                device.pf.as_ref().map(|(a, _)| a.as_str()),
                device.index,
            ))
        && within(&selector.link_types, device.link_type.as_deref())
        && within(&selector.ddp_profiles, device.ddp_profile.as_deref())
        && within(&selector.pkeys, device.pkey.as_deref())
        && (!selector.is_rdma || !device.rdma.devices.is_empty())
        && selector
            .vdpa_type
            .as_ref()
            .is_none_or(|t| device.vdpa.as_ref().is_some_and(|v| &v.kind == t))
        && within(&selector.aux_types, device.aux_type.as_deref())
        && (!selector.need_vhost_net || vhost_net)
}

/// A device as a pool offers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// What discovery last saw of it.
    pub device: HostDevice,
    /// Which selector took it (decides `needVhostNet`).
    pub selector: usize,
    /// Why it is unhealthy, if it is.
    pub unhealthy: Option<String>,
    /// Consecutive scans it has been missing from the host.
    pub missing_scans: u32,
}

/// One resource pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePool {
    /// Its configuration.
    pub config: ResourceConfig,
    /// Its devices, by ID.
    pub members: BTreeMap<String, Member>,
}

impl ResourcePool {
    /// `<prefix>/<name>`.
    pub fn resource_name(&self) -> String {
        self.config.full_name()
    }

    /// Whether any member is listed (a pool with none is not advertised).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// Assigns the inventory's devices to pools, first match wins across the file.
pub fn assign(config: &Config, inventory: &Inventory) -> Vec<ResourcePool> {
    let mut taken: BTreeSet<&str> = BTreeSet::new();
    let mut pools = Vec::with_capacity(config.resources.len());
    for resource in &config.resources {
        let mut members = BTreeMap::new();
        for (i, selector) in resource.selectors.iter().enumerate() {
            for device in &inventory.devices {
                if device.driver.is_empty() || taken.contains(device.id.as_str()) {
                    continue;
                }
                if selects(selector, device, resource.device_type, inventory.vhost_net) {
                    taken.insert(&device.id);
                    members.insert(
                        device.id.clone(),
                        Member {
                            device: device.clone(),
                            selector: i,
                            unhealthy: device.unhealthy.clone(),
                            missing_scans: 0,
                        },
                    );
                }
            }
        }
        pools.push(ResourcePool {
            config: resource.clone(),
            members,
        });
    }
    pools
}

/// How many consecutive scans a vanished device stays listed (as `Unhealthy`) before it is
/// dropped: long enough to ride out a VF being re-created (a driver reload, a PF reset),
/// short enough that capacity follows a deliberate change of `numVfs`.
pub const MISSING_SCANS_KEPT: u32 = 12;

/// The next state of pools after a rescan: `fresh` is [`assign`] of the new scan, `old`
/// the pools as advertised. Members that vanished from the host (or lost their driver)
/// stay, unhealthy, a vanished one for [`MISSING_SCANS_KEPT`] scans; members that now
/// belong to another pool (rebound) leave.
pub fn evolve(
    old: &[ResourcePool],
    fresh: Vec<ResourcePool>,
    inventory: &Inventory,
) -> Vec<ResourcePool> {
    let present: BTreeMap<&str, &HostDevice> = inventory
        .devices
        .iter()
        .map(|d| (d.id.as_str(), d))
        .collect();
    fresh
        .into_iter()
        .map(|mut pool| {
            if let Some(before) = old.iter().find(|p| p.config == pool.config) {
                for (id, member) in &before.members {
                    if pool.members.contains_key(id) {
                        continue;
                    }
                    match present.get(id.as_str()) {
                        None if member.missing_scans < MISSING_SCANS_KEPT => {
                            let mut gone = member.clone();
                            gone.unhealthy = Some("device vanished".to_owned());
                            gone.missing_scans += 1;
                            pool.members.insert(id.clone(), gone);
                        }
                        None => {}
                        Some(now) if now.driver.is_empty() => {
                            let mut unbound = member.clone();
                            unbound.unhealthy = Some("no driver bound".to_owned());
                            pool.members.insert(id.clone(), unbound);
                        }
                        // Present with a driver but no longer selected: it moved.
                        Some(_) => {}
                    }
                }
            }
            pool
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vf(id: &str, pf: &str, index: u16, driver: &str) -> HostDevice {
        let mut d = crate::device::example(id, driver, index);
        d.pf = Some(("0000:81:00.0".into(), Some(pf.into())));
        d
    }

    #[test]
    fn first_match_wins_across_pools_and_ranges_select_vfs() {
        let config = Config::parse(
            r#"{"resourceList":[
              {"resourceName":"dpdk","selectors":{"drivers":["vfio-pci"]}},
              {"resourceName":"low","selectors":{"pfNames":["ens1f0#0-1"]}},
              {"resourceName":"all","selectors":{"vendors":["8086"]}}
            ]}"#,
            "intel.com",
        )
        .unwrap();
        let inventory = Inventory {
            devices: vec![
                vf("0000:82:00.0", "ens1f0", 0, "iavf"),
                vf("0000:82:00.1", "ens1f0", 1, "vfio-pci"),
                vf("0000:82:00.2", "ens1f0", 2, "iavf"),
                vf("0000:82:00.3", "ens1f0", 3, ""),
            ],
            vhost_net: false,
        };
        let pools = assign(&config, &inventory);
        let ids = |p: &ResourcePool| p.members.keys().cloned().collect::<Vec<_>>();
        assert_eq!(ids(&pools[0]), ["0000:82:00.1"]);
        assert_eq!(ids(&pools[1]), ["0000:82:00.0"]);
        assert_eq!(
            ids(&pools[2]),
            ["0000:82:00.2"],
            "unbound functions are not taken"
        );
    }

    #[test]
    fn vanished_or_unbound_members_turn_unhealthy_and_rebound_ones_move() {
        let config = Config::parse(
            r#"{"resourceList":[
              {"resourceName":"net","selectors":{"drivers":["iavf"]}},
              {"resourceName":"dpdk","selectors":{"drivers":["vfio-pci"]}}
            ]}"#,
            "intel.com",
        )
        .unwrap();
        let first = Inventory {
            devices: vec![
                vf("0000:82:00.0", "p", 0, "iavf"),
                vf("0000:82:00.1", "p", 1, "iavf"),
                vf("0000:82:00.2", "p", 2, "iavf"),
            ],
            vhost_net: false,
        };
        let pools = assign(&config, &first);
        let mut unbound = vf("0000:82:00.1", "p", 1, "");
        unbound.unhealthy = Some("no driver bound".into());
        let second = Inventory {
            devices: vec![unbound, vf("0000:82:00.2", "p", 2, "vfio-pci")],
            vhost_net: false,
        };
        let next = evolve(&pools, assign(&config, &second), &second);
        let health = |p: &ResourcePool| {
            p.members
                .iter()
                .map(|(id, m)| (id.clone(), m.unhealthy.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            health(&next[0]),
            [
                (
                    "0000:82:00.0".to_owned(),
                    Some("device vanished".to_owned())
                ),
                (
                    "0000:82:00.1".to_owned(),
                    Some("no driver bound".to_owned())
                ),
            ]
        );
        assert_eq!(health(&next[1]), [("0000:82:00.2".to_owned(), None)]);
        // Gone for good: a vanished member is dropped after MISSING_SCANS_KEPT scans; an
        // unbound one (still on the host) stays.
        let mut lasting = next.clone();
        for scan in 1..=MISSING_SCANS_KEPT {
            lasting = evolve(&lasting, assign(&config, &second), &second);
            assert_eq!(
                lasting[0].members.contains_key("0000:82:00.0"),
                scan < MISSING_SCANS_KEPT,
                "scan {scan}"
            );
        }
        assert!(lasting[0].members.contains_key("0000:82:00.1"));
        // Back again: healthy.
        let third = assign(&config, &first);
        let recovered = evolve(&next, third, &first);
        assert!(recovered[0].members.values().all(|m| m.unhealthy.is_none()));
        assert_eq!(recovered[0].members.len(), 3);
    }
}
