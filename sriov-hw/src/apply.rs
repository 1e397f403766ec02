//! Executing a [`Plan`] step by step, in the order upstream's daemon applies a spec.
//!
//! `sriov_numvfs` is always written 0 first, then the count, and the VFs are waited for; VF
//! drivers are bound by index once the VFs exist (`vfio-pci` needs an IOMMU group, and its
//! absence is reported with the fix); PF MTUs are only raised. When a step fails, the PF it
//! belongs to is reset (its VFs removed) unless it is externally managed, and the error
//! names the step, the PF and the cause with its errno: nothing is left half-applied.

use std::time::Duration;

use sriov_core::ids::{PciAddress, VfIndex};
use sriov_core::plan::{Action, Plan, VfDriver, is_userspace_driver};

use sriov_core::render::udev::SwitchPort;

use crate::error::Error;
use crate::link::{EswitchOps, LinkOps, LinkSysfs};
use crate::pci::PciSysfs;
use crate::store::PfStore;
use crate::system::{self, HostSystem};

/// The host, as applying changes it.
#[derive(Clone, Copy)]
pub struct HostOps<'a> {
    /// PCI functions.
    pub pci: &'a dyn PciSysfs,
    /// Link changes (rtnetlink).
    pub links: &'a dyn LinkOps,
    /// E-switch mode changes (devlink).
    pub eswitch: &'a dyn EswitchOps,
    /// Link attributes (a switchdev PF's switch port, for its udev rule).
    pub link_attrs: &'a dyn LinkSysfs,
    /// The daemon's per-PF records.
    pub store: &'a dyn PfStore,
    /// Host files and commands (udev rules, kernel arguments).
    pub system: &'a dyn HostSystem,
}

/// How long to wait for the kernel to create VFs.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    /// Checks before giving up.
    pub attempts: u32,
    /// Pause between checks.
    pub interval: Duration,
}

impl Default for Wait {
    /// Two minutes, as upstream waits.
    fn default() -> Self {
        Self {
            attempts: 240,
            interval: Duration::from_millis(500),
        }
    }
}

/// A failed step.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {error}{}", reset.as_ref().map(|r| format!(" (resetting the PF failed too: {r})")).unwrap_or_default())]
pub struct ApplyError {
    /// The step, as the plan prints it.
    pub step: String,
    /// What failed (part of the message, not a separate `source()`).
    pub error: Error,
    /// When resetting the PF after the failure failed as well.
    pub reset: Option<Box<Error>>,
}

fn pf_netdev(host: HostOps<'_>, pf: &PciAddress) -> Result<String, Error> {
    host.pci
        .device(pf)?
        .netdevs
        .into_iter()
        .next()
        .ok_or_else(|| Error::NotFound {
            what: "network interface of PF",
            name: pf.to_string(),
        })
}

fn vf_address(host: HostOps<'_>, pf: &PciAddress, index: VfIndex) -> Result<PciAddress, Error> {
    host.pci
        .device(pf)?
        .virtfns
        .into_iter()
        .find(|(i, _)| *i == index)
        .map(|(_, a)| a)
        .ok_or_else(|| Error::NotFound {
            what: "VF",
            name: format!("{pf} VF {index}"),
        })
}

fn step(host: HostOps<'_>, action: &Action, wait: Wait) -> Result<(), Error> {
    match action {
        Action::SetNumVfs { pf, num_vfs } => {
            let device = host.pci.device(pf)?;
            // Already there (a plan applied twice): rewriting would destroy and recreate
            // VFs that pods may be using.
            if device.num_vfs == Some(*num_vfs) && device.virtfns.len() == usize::from(*num_vfs) {
                return Ok(());
            }
            if device.num_vfs.unwrap_or(0) != 0 {
                host.pci.set_num_vfs(pf, 0)?;
            }
            if *num_vfs > 0 {
                host.pci.set_num_vfs(pf, *num_vfs)?;
                for attempt in 0..wait.attempts.max(1) {
                    if host.pci.device(pf)?.virtfns.len() == usize::from(*num_vfs) {
                        return Ok(());
                    }
                    if attempt + 1 < wait.attempts {
                        std::thread::sleep(wait.interval);
                    }
                }
                return Err(Error::NotFound {
                    what: "VFs after writing sriov_numvfs",
                    name: format!("{num_vfs} on {pf}"),
                });
            }
            Ok(())
        }
        Action::SetEswitchMode { pf, mode } => host.eswitch.set_eswitch_mode(pf, *mode),
        Action::SetPfMtu { pf, mtu } => host.links.set_mtu(&pf_netdev(host, pf)?, *mtu),
        Action::BindVf { pf, index, driver } => {
            let vf = vf_address(host, pf, *index)?;
            let current = host.pci.vf(&vf)?.driver;
            match driver {
                VfDriver::Default => {
                    if current.as_deref().is_some_and(|d| !is_userspace_driver(d)) {
                        return Ok(());
                    }
                    host.pci.unbind(&vf)?;
                    host.pci.bind_default(&vf)
                }
                VfDriver::Named(name) => {
                    if current.as_deref() == Some(name.as_str()) {
                        return Ok(());
                    }
                    if name == "vfio-pci" && host.pci.device(&vf)?.iommu_group.is_none() {
                        return Err(Error::NotFound {
                            what: "IOMMU group",
                            name: format!(
                                "IOMMU is not enabled (no iommu_group for {vf}): enable VT-d/AMD-Vi in firmware and add intel_iommu=on/amd_iommu=on"
                            ),
                        });
                    }
                    host.pci.unbind(&vf)?;
                    host.pci.bind(&vf, name)
                }
            }
        }
        Action::SetVfAdminMac { pf, index } => {
            let vf = vf_address(host, pf, *index)?;
            let mac = host
                .pci
                .vf(&vf)?
                .netdev
                .and_then(|n| n.address)
                .ok_or_else(|| Error::NotFound {
                    what: "netdev MAC of VF",
                    name: vf.to_string(),
                })?;
            host.links.set_vf_mac(&pf_netdev(host, pf)?, *index, &mac)
        }
        Action::SetVfMtu { pf, index, mtu } => {
            let vf = vf_address(host, pf, *index)?;
            let netdev = host.pci.vf(&vf)?.netdev.ok_or_else(|| Error::NotFound {
                what: "netdev of VF",
                name: vf.to_string(),
            })?;
            host.links.set_mtu(&netdev.name, *mtu)
        }
        Action::SetPfUp { pf } => host.links.set_up(&pf_netdev(host, pf)?),
        Action::SaveRecord { pf, interface } => host.store.save(pf, interface),
        Action::ResetPf { pf, mtu } => reset(host, pf, *mtu),
        Action::RemoveRecord { pf } => host.store.remove(pf),
        Action::SetVfGuid { pf, index, guid } => {
            host.links
                .set_vf_guid(&pf_netdev(host, pf)?, *index, *guid)?;
            // The driver reads the GUID when it binds: rebind a kernel-driver VF.
            let vf = vf_address(host, pf, *index)?;
            if host
                .pci
                .vf(&vf)?
                .driver
                .as_deref()
                .is_some_and(|d| !is_userspace_driver(d))
            {
                host.pci.unbind(&vf)?;
                host.pci.bind_default(&vf)?;
            }
            Ok(())
        }
        Action::WriteUdevRules {
            pf,
            pf_name,
            vf_devices,
            switchdev,
        } => system::write_pf_rules(host.system, pf, pf_name, vf_devices, *switchdev),
        Action::WriteRepresentorRule { pf, pf_name } => {
            let attrs = host.link_attrs.link_attrs(&pf_netdev(host, pf)?)?;
            match (attrs.phys_switch_id, attrs.phys_port_name) {
                (Some(switch_id), Some(port_name)) => system::write_representor_rule(
                    host.system,
                    pf,
                    pf_name,
                    &SwitchPort {
                        switch_id,
                        port_name,
                    },
                ),
                // Upstream skips the rule when the switch port is unreadable; so do we.
                _ => Ok(()),
            }
        }
        Action::RemoveUdevRules { pf } => system::remove_pf_rules(host.system, pf),
        Action::ReloadUdev => system::reload_udev(host.system),
        Action::SetRdmaMode { mode } => system::set_rdma_mode(host.system, *mode),
        Action::SetKernelArgs { add, remove } => system::edit_kernel_args(host.system, add, remove),
    }
}

/// Removes a PF's VFs, when it has any.
fn remove_vfs(host: HostOps<'_>, pf: &PciAddress) -> Result<(), Error> {
    if host.pci.device(pf)?.num_vfs.unwrap_or(0) != 0 {
        host.pci.set_num_vfs(pf, 0)?;
    }
    Ok(())
}

fn reset(host: HostOps<'_>, pf: &PciAddress, mtu: u32) -> Result<(), Error> {
    remove_vfs(host, pf)?;
    host.links.set_mtu(&pf_netdev(host, pf)?, mtu)
}

/// Runs every action of `plan` in order. On the first failure, the failing action's PF is
/// reset (VFs removed), unless the plan says it must not be
/// ([`Plan::resets_on_failure`]: an externally managed PF), and the error is returned.
pub fn apply(host: HostOps<'_>, plan: &Plan, wait: Wait) -> Result<(), Box<ApplyError>> {
    for action in &plan.actions {
        if let Err(source) = step(host, action, wait) {
            let reset = action
                .pf()
                .filter(|pf| plan.resets_on_failure(pf))
                .and_then(|pf| remove_vfs(host, pf).err());
            return Err(Box::new(ApplyError {
                step: action.to_string(),
                error: source,
                reset: reset.map(Box::new),
            }));
        }
    }
    Ok(())
}
