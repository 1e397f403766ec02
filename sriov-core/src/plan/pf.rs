//! Per-PF decisions: whether a PF or VF differs from its spec entry, and the actions that
//! configure a PF.

use super::*;

pub(super) fn plan_error(pf: &str, reason: String) -> Error {
    Error::Plan {
        pf: pf.to_owned(),
        reason,
    }
}

/// Whether a `linkType` (`ETH`, `IB`, any case) is InfiniBand.
pub(super) fn is_ib(link_type: Option<&str>) -> bool {
    link_type.is_some_and(|t| t.eq_ignore_ascii_case("ib"))
}

/// Whether a VF bound to `bound` (or to nothing) has the driver a group wants.
fn bound_right(bound: Option<&str>, wanted: &VfDriver) -> bool {
    bound.is_some_and(|d| match wanted {
        VfDriver::Default => !is_userspace_driver(d),
        VfDriver::Named(name) => d == name,
    })
}

/// Upstream's NeedToUpdateSriov: whether the PF differs from its spec entry.
pub fn needs_update(spec: &PfSpec<'_>, status: &PfStatus<'_>) -> bool {
    if spec.mtu.is_some_and(|mtu| mtu > status.mtu)
        || spec.eswitch != status.eswitch
        || spec.num_vfs != status.num_vfs
        || status.down
    {
        return true;
    }
    spec.num_vfs > 0
        && status.vfs.iter().any(|vf| {
            spec.group_of(vf.index)
                .is_some_and(|group| vf_needs_update(spec, group, vf, status.infiniband))
        })
}

fn vf_needs_update(
    spec: &PfSpec<'_>,
    group: &GroupSpec,
    vf: &VfStatus<'_>,
    infiniband: bool,
) -> bool {
    if !bound_right(vf.entry.driver.as_deref(), &group.driver) {
        return true;
    }
    if let (Some(have), Some(want)) = (positive(vf.entry.mtu), group.mtu)
        && have != want
    {
        return true;
    }
    if (infiniband || group.rdma) && vf.guid == Some(ib::ZERO) {
        return true;
    }
    if spec.externally_managed {
        return true;
    }
    group.vdpa_type != vf.entry.vdpa_type.as_deref().unwrap_or("")
}

fn positive(value: Option<i32>) -> Option<u32> {
    value.filter(|v| *v > 0).map(i32::unsigned_abs)
}

pub(super) fn configure(
    plan: &mut Plan,
    observed: Observed<'_>,
    wanted: &PfSpec<'_>,
    status: &PfStatus<'_>,
) -> Result<()> {
    let pci = wanted.pci;
    let fail = |reason: String| plan_error(&pci.to_string(), reason);
    let num_vfs = wanted.num_vfs;
    if wanted.externally_managed {
        if status.num_vfs < num_vfs {
            return Err(fail(format!(
                "externally managed PF has {} VFs, the spec needs {num_vfs}",
                status.num_vfs
            )));
        }
        if wanted.eswitch != status.eswitch {
            return Err(fail(format!(
                "externally managed PF is not in {} e-switch mode",
                wanted.eswitch.as_str()
            )));
        }
        if let Some(mtu) = wanted.mtu.filter(|m| *m > status.mtu) {
            return Err(fail(format!(
                "externally managed PF has MTU {}, the spec needs {mtu}",
                status.mtu
            )));
        }
    } else {
        if let Some(total) = status.entry.total_vfs
            && i32::from(num_vfs) > total
        {
            return Err(fail(format!(
                "NumVfs ({num_vfs}) is larger than TotalVfs ({total})"
            )));
        }
        let mode_differs = wanted.eswitch != status.eswitch;
        let switchdev = wanted.eswitch == ESwitchMode::Switchdev;
        let pf_name = wanted
            .name
            .clone()
            .or_else(|| status.name.clone())
            .ok_or_else(|| {
                fail(
                    "neither the spec nor discovery names its netdev, which its udev rules need"
                        .to_owned(),
                )
            })?;
        let mut vf_devices: Vec<String> = observed
            .nics
            .vf_devices()
            .into_iter()
            .map(str::to_owned)
            .collect();
        // A PF outside the table (dev mode) still gets its own VFs matched.
        for vf in &status.vfs {
            if let Some(id) = &vf.entry.device_id
                && !vf_devices.contains(id)
            {
                vf_devices.push(id.clone());
            }
        }
        plan.actions.push(Action::WriteUdevRules {
            pf: pci,
            pf_name: pf_name.clone(),
            vf_devices,
            switchdev,
        });
        if status.num_vfs != num_vfs || mode_differs {
            if mode_differs {
                plan.actions.push(Action::SetEswitchMode {
                    pf: pci,
                    mode: wanted.eswitch,
                });
            }
            plan.actions.push(Action::SetNumVfs { pf: pci, num_vfs });
        }
        if switchdev {
            plan.actions
                .push(Action::WriteRepresentorRule { pf: pci, pf_name });
        }
        if let Some(mtu) = wanted.mtu.filter(|m| *m > status.mtu) {
            plan.actions.push(Action::SetPfMtu { pf: pci, mtu });
        }
    }
    let infiniband = wanted.infiniband || status.infiniband;
    let pci_text = pci.to_string();
    let pool = observed
        .guids
        .and_then(|p| p.lookup(&pci_text, status.guid));
    for index in VfIndex::all(num_vfs) {
        // VFs outside every group are left alone.
        let Some(group) = wanted.group_of(index) else {
            continue;
        };
        let seen = status.vf(index);
        let driver = &group.driver;
        let bound_right = bound_right(seen.and_then(|v| v.entry.driver.as_deref()), driver);
        if infiniband && (*driver == VfDriver::Default || !bound_right) {
            let guid = match pool {
                Some(pool) => pool.get(index.get()).ok_or_else(|| {
                    fail(format!(
                        "the InfiniBand GUID pool has {} GUIDs for this PF, VF {index} needs one",
                        pool.len()
                    ))
                })?,
                None => ib::derived(
                    &status
                        .guid
                        .map_or_else(|| pci_text.clone(), |g| g.to_string()),
                    index.get(),
                ),
            };
            if seen.and_then(|v| v.guid) != Some(guid) {
                plan.actions.push(Action::SetVfGuid {
                    pf: pci,
                    index,
                    guid,
                });
            }
        }
        if !bound_right {
            plan.actions.push(Action::BindVf {
                pf: pci,
                index,
                driver: driver.clone(),
            });
        }
        if *driver == VfDriver::Default {
            if !infiniband {
                plan.actions.push(Action::SetVfAdminMac { pf: pci, index });
            }
            if let Some(mtu) = group.mtu
                && seen.and_then(|v| positive(v.entry.mtu)) != Some(mtu)
            {
                plan.actions.push(Action::SetVfMtu {
                    pf: pci,
                    index,
                    mtu,
                });
            }
        }
    }
    if status.down {
        plan.actions.push(Action::SetPfUp { pf: pci });
    }
    plan.actions.push(Action::SaveRecord {
        pf: pci,
        interface: wanted.entry.clone(),
    });
    Ok(())
}
