//! Per-PF decisions: whether a PF or VF differs from its spec entry, and the actions that
//! configure a PF.

use super::*;

pub(super) fn plan_error(pf: &str, reason: String) -> Error {
    Error::Plan {
        pf: pf.to_owned(),
        reason,
    }
}

/// The first group whose range holds VF `index`.
pub(super) fn group_of(groups: &[VfGroup], index: u16) -> Option<&VfGroup> {
    groups.iter().find(|g| {
        g.vf_range
            .as_deref()
            .and_then(|r| r.parse::<VfRange>().ok())
            .is_some_and(|r| r.contains(index))
    })
}

/// Whether a `linkType` (`ETH`, `IB`, any case) is InfiniBand.
pub(super) fn is_ib(link_type: Option<&str>) -> bool {
    link_type.is_some_and(|t| t.eq_ignore_ascii_case("ib"))
}

pub(super) fn eswitch(mode: Option<&str>) -> &str {
    mode.filter(|m| !m.is_empty()).unwrap_or("legacy")
}

/// Upstream's NeedToUpdateSriov: whether the PF differs from its spec entry.
pub fn needs_update(spec: &Interface, status: &InterfaceExt) -> bool {
    let spec_mtu = spec.mtu.unwrap_or(0);
    if spec_mtu > 0 && spec_mtu > status.mtu.unwrap_or(0) {
        return true;
    }
    if eswitch(spec.e_switch_mode.as_deref()) != eswitch(status.e_switch_mode.as_deref()) {
        return true;
    }
    if spec.num_vfs.unwrap_or(0) != status.num_vfs.unwrap_or(0) {
        return true;
    }
    if status.link_admin_state.as_deref() == Some("down") {
        return true;
    }
    if spec.num_vfs.unwrap_or(0) > 0 {
        let groups = spec.vf_groups.as_deref().unwrap_or_default();
        let infiniband = is_ib(status.link_type.as_deref());
        for vf in status.vfs.iter().flatten() {
            let Some(group) = u16::try_from(vf.vf_id)
                .ok()
                .and_then(|i| group_of(groups, i))
            else {
                continue;
            };
            if vf_needs_update(spec, group, vf, infiniband) {
                return true;
            }
        }
    }
    false
}

pub(super) fn vf_needs_update(
    spec: &Interface,
    group: &VfGroup,
    vf: &VirtualFunction,
    infiniband: bool,
) -> bool {
    let Some(driver) = vf.driver.as_deref() else {
        return true;
    };
    let device_type = group.device_type.as_deref().unwrap_or("netdevice");
    if device_type != "netdevice" {
        if driver != device_type {
            return true;
        }
    } else if is_userspace_driver(driver) {
        return true;
    }
    let (vf_mtu, group_mtu) = (vf.mtu.unwrap_or(0), group.mtu.unwrap_or(0));
    if vf_mtu != 0 && group_mtu != 0 && vf_mtu != group_mtu {
        return true;
    }
    let zero_guid = vf
        .guid
        .as_deref()
        .and_then(|g| g.parse::<Guid>().ok())
        .is_some_and(|g| g == ib::ZERO);
    if (infiniband || group.is_rdma == Some(true)) && zero_guid {
        return true;
    }
    if spec.externally_managed == Some(true) {
        return true;
    }
    group.vdpa_type.as_deref().unwrap_or("") != vf.vdpa_type.as_deref().unwrap_or("")
}

pub(super) fn configure(
    plan: &mut Plan,
    observed: Observed<'_>,
    wanted: &Interface,
    status: &InterfaceExt,
) -> Result<()> {
    let pci = wanted.pci_address.as_str();
    let num_vfs = u16::try_from(wanted.num_vfs.unwrap_or(0)).map_err(|_| {
        plan_error(
            pci,
            format!("numVfs {} is not a VF count", wanted.num_vfs.unwrap_or(0)),
        )
    })?;
    let external = wanted.externally_managed == Some(true);
    let wanted_mode = eswitch(wanted.e_switch_mode.as_deref());
    if external {
        let current = status.num_vfs.unwrap_or(0);
        if current < i32::from(num_vfs) {
            return Err(plan_error(
                pci,
                format!("externally managed PF has {current} VFs, the spec needs {num_vfs}"),
            ));
        }
        if wanted_mode != eswitch(status.e_switch_mode.as_deref()) {
            return Err(plan_error(
                pci,
                format!("externally managed PF is not in {wanted_mode} e-switch mode"),
            ));
        }
        if wanted.mtu.unwrap_or(0) > status.mtu.unwrap_or(0) {
            return Err(plan_error(
                pci,
                format!(
                    "externally managed PF has MTU {}, the spec needs {}",
                    status.mtu.unwrap_or(0),
                    wanted.mtu.unwrap_or(0)
                ),
            ));
        }
    } else {
        if let Some(total) = status.total_vfs
            && i32::from(num_vfs) > total
        {
            return Err(plan_error(
                pci,
                format!("NumVfs ({num_vfs}) is larger than TotalVfs ({total})"),
            ));
        }
        let mode_differs = wanted_mode != eswitch(status.e_switch_mode.as_deref());
        let switchdev = wanted_mode == "switchdev";
        let pf_name = wanted
            .name
            .clone()
            .or_else(|| status.name.clone())
            .unwrap_or_default();
        let mut vf_devices: Vec<String> = observed
            .nics
            .vf_devices()
            .into_iter()
            .map(str::to_owned)
            .collect();
        // A PF outside the table (dev mode) still gets its own VFs matched.
        for vf in status.vfs.iter().flatten() {
            if let Some(id) = &vf.device_id
                && !vf_devices.contains(id)
            {
                vf_devices.push(id.clone());
            }
        }
        plan.actions.push(Action::WriteUdevRules {
            pf: pci.to_owned(),
            pf_name: pf_name.clone(),
            vf_devices,
            switchdev,
        });
        if status.num_vfs.unwrap_or(0) != i32::from(num_vfs) || mode_differs {
            if mode_differs {
                plan.actions.push(Action::SetEswitchMode {
                    pf: pci.to_owned(),
                    mode: wanted_mode.to_owned(),
                });
            }
            plan.actions.push(Action::SetNumVfs {
                pf: pci.to_owned(),
                num_vfs,
            });
        }
        if switchdev {
            plan.actions.push(Action::WriteRepresentorRule {
                pf: pci.to_owned(),
                pf_name,
            });
        }
        if let Some(mtu) = wanted.mtu.filter(|m| *m > status.mtu.unwrap_or(0)) {
            plan.actions.push(Action::SetPfMtu {
                pf: pci.to_owned(),
                mtu: mtu.unsigned_abs(),
            });
        }
    }
    let groups = wanted.vf_groups.as_deref().unwrap_or_default();
    let infiniband = is_ib(wanted.link_type.as_deref()) || is_ib(status.link_type.as_deref());
    // The PF's port GUID: the last 8 bytes of its 20-byte IPoIB hardware address.
    let pf_guid = status
        .mac
        .as_deref()
        .filter(|m| m.len() == 59)
        .and_then(|m| m.get(36..))
        .and_then(|g| g.parse::<Guid>().ok());
    let pool = observed.guids.and_then(|p| p.lookup(pci, pf_guid));
    for index in 0..num_vfs {
        // VFs outside every group are left alone.
        let Some(group) = group_of(groups, index) else {
            continue;
        };
        let device_type = group.device_type.as_deref().unwrap_or("netdevice");
        let seen = status
            .vfs
            .iter()
            .flatten()
            .find(|v| v.vf_id == i32::from(index));
        let driver = if device_type == "netdevice" {
            VfDriver::Default
        } else {
            VfDriver::Named(device_type.to_owned())
        };
        let bound_right = seen
            .and_then(|v| v.driver.as_deref())
            .is_some_and(|d| match &driver {
                VfDriver::Default => !is_userspace_driver(d),
                VfDriver::Named(name) => d == name,
            });
        if infiniband && (driver == VfDriver::Default || !bound_right) {
            let guid = match pool {
                Some(pool) => pool.get(index).ok_or_else(|| {
                    plan_error(
                        pci,
                        format!(
                            "the InfiniBand GUID pool has {} GUIDs for this PF, VF {index} needs one",
                            pool.len()
                        ),
                    )
                })?,
                None => ib::derived(
                    &pf_guid.map_or_else(|| pci.to_owned(), |g| g.to_string()),
                    index,
                ),
            };
            let current = seen
                .and_then(|v| v.guid.as_deref())
                .and_then(|g| g.parse::<Guid>().ok());
            if current != Some(guid) {
                plan.actions.push(Action::SetVfGuid {
                    pf: pci.to_owned(),
                    index,
                    guid: guid.to_string(),
                });
            }
        }
        if !bound_right {
            plan.actions.push(Action::BindVf {
                pf: pci.to_owned(),
                index,
                driver: driver.clone(),
            });
        }
        if driver == VfDriver::Default {
            if !infiniband {
                plan.actions.push(Action::SetVfAdminMac {
                    pf: pci.to_owned(),
                    index,
                });
            }
            if let Some(mtu) = group.mtu.filter(|m| *m > 0)
                && seen.and_then(|v| v.mtu) != Some(mtu)
            {
                plan.actions.push(Action::SetVfMtu {
                    pf: pci.to_owned(),
                    index,
                    mtu: mtu.unsigned_abs(),
                });
            }
        }
    }
    if status.link_admin_state.as_deref() == Some("down") {
        plan.actions.push(Action::SetPfUp { pf: pci.to_owned() });
    }
    plan.actions.push(Action::SaveRecord {
        interface: wanted.clone(),
    });
    Ok(())
}
