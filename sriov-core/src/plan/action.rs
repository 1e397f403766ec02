//! The host actions a plan is made of, and how each reads in `sriovctl plan`.
//!
//! Every field is a resolved value (a [`PciAddress`], a [`VfIndex`], an [`ESwitchMode`], a
//! [`Guid`], an [`IfName`]): an action can be executed without parsing anything.

use super::*;

/// One host action, in execution order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "action"
)]
pub enum Action {
    /// Set `sriov_numvfs` (0 first, then the count) and wait for the VFs.
    SetNumVfs {
        /// PF address.
        pf: PciAddress,
        /// VFs wanted.
        num_vfs: u16,
    },
    /// Set the PF's e-switch mode (with 0 VFs).
    SetEswitchMode {
        /// PF address.
        pf: PciAddress,
        /// The mode.
        mode: ESwitchMode,
    },
    /// Raise the PF's MTU.
    SetPfMtu {
        /// PF address.
        pf: PciAddress,
        /// New MTU.
        mtu: u32,
    },
    /// Bind VF `index` of `pf` to a driver.
    BindVf {
        /// PF address.
        pf: PciAddress,
        /// VF index.
        index: VfIndex,
        /// The driver.
        driver: VfDriver,
    },
    /// Set VF `index`'s administrative MAC on the PF to its current MAC (so it survives
    /// driver rebinds and moves between namespaces).
    SetVfAdminMac {
        /// PF address.
        pf: PciAddress,
        /// VF index.
        index: VfIndex,
    },
    /// Set VF `index`'s netdev MTU.
    SetVfMtu {
        /// PF address.
        pf: PciAddress,
        /// VF index.
        index: VfIndex,
        /// MTU.
        mtu: u32,
    },
    /// Bring the PF up.
    SetPfUp {
        /// PF address.
        pf: PciAddress,
    },
    /// Write the daemon's record of this PF.
    SaveRecord {
        /// PF address.
        pf: PciAddress,
        /// The spec entry to record.
        interface: Interface,
    },
    /// Remove the PF's VFs and restore its MTU and e-switch mode.
    ResetPf {
        /// PF address.
        pf: PciAddress,
        /// MTU to restore.
        mtu: u32,
    },
    /// Delete the daemon's record of a PF.
    RemoveRecord {
        /// PF address.
        pf: PciAddress,
    },
    /// Set VF `index`'s InfiniBand node and port GUID, then rebind it if a kernel driver
    /// holds it so the driver picks the GUID up.
    SetVfGuid {
        /// PF address.
        pf: PciAddress,
        /// VF index.
        index: VfIndex,
        /// The GUID (serialized as `xx:xx:xx:xx:xx:xx:xx:xx`).
        guid: Guid,
    },
    /// Replace the PF's udev rules: NetworkManager leaves its VFs alone, and a switchdev PF
    /// keeps its name (see [`crate::render::udev`]).
    WriteUdevRules {
        /// PF address.
        pf: PciAddress,
        /// The PF's netdev name.
        pf_name: IfName,
        /// VF device IDs the NetworkManager rule matches.
        vf_devices: Vec<String>,
        /// Whether the PF goes to switchdev mode.
        switchdev: bool,
    },
    /// Write the rule naming a switchdev PF's representors `<pf>_<vf>` (once its switch
    /// port is known, after the mode change).
    WriteRepresentorRule {
        /// PF address.
        pf: PciAddress,
        /// The PF's netdev name.
        pf_name: IfName,
    },
    /// Remove the PF's udev rules.
    RemoveUdevRules {
        /// PF address.
        pf: PciAddress,
    },
    /// Reload udev rules and replay `add` events for network devices.
    ReloadUdev,
    /// Record the RDMA namespace mode as an `ib_core` module option
    /// (`/etc/modprobe.d/sriov_network_operator_modules_config.conf`).
    SetRdmaMode {
        /// The mode.
        mode: RdmaMode,
    },
    /// Edit the boot loader's kernel command line (effective after the reboot the plan
    /// asks for).
    SetKernelArgs {
        /// Arguments to add.
        add: Vec<String>,
        /// Arguments to remove.
        remove: Vec<String>,
    },
}

impl Action {
    /// The PF the action belongs to; `None` for host-wide actions (udev reload, RDMA mode,
    /// kernel arguments).
    pub fn pf(&self) -> Option<&PciAddress> {
        match self {
            Self::SetNumVfs { pf, .. }
            | Self::SetEswitchMode { pf, .. }
            | Self::SetPfMtu { pf, .. }
            | Self::BindVf { pf, .. }
            | Self::SetVfAdminMac { pf, .. }
            | Self::SetVfMtu { pf, .. }
            | Self::SetPfUp { pf }
            | Self::SaveRecord { pf, .. }
            | Self::ResetPf { pf, .. }
            | Self::RemoveRecord { pf }
            | Self::SetVfGuid { pf, .. }
            | Self::WriteUdevRules { pf, .. }
            | Self::WriteRepresentorRule { pf, .. }
            | Self::RemoveUdevRules { pf } => Some(pf),
            Self::ReloadUdev | Self::SetRdmaMode { .. } | Self::SetKernelArgs { .. } => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SetNumVfs { pf, num_vfs } => {
                write!(f, "{pf}: set sriov_numvfs to 0, then {num_vfs}")
            }
            Self::SetEswitchMode { pf, mode } => {
                write!(f, "{pf}: set e-switch mode {}", mode.as_str())
            }
            Self::SetPfMtu { pf, mtu } => write!(f, "{pf}: raise PF MTU to {mtu}"),
            Self::BindVf {
                pf,
                index,
                driver: VfDriver::Default,
            } => write!(f, "{pf} VF {index}: bind the default driver"),
            Self::BindVf {
                pf,
                index,
                driver: VfDriver::Named(name),
            } => write!(f, "{pf} VF {index}: bind {name}"),
            Self::SetVfAdminMac { pf, index } => {
                write!(f, "{pf} VF {index}: pin its MAC as the administrative MAC")
            }
            Self::SetVfMtu { pf, index, mtu } => write!(f, "{pf} VF {index}: set MTU {mtu}"),
            Self::SetPfUp { pf } => write!(f, "{pf}: set link up"),
            Self::SaveRecord { pf, .. } => write!(f, "{pf}: record the applied configuration"),
            Self::ResetPf { pf, mtu } => write!(
                f,
                "{pf}: remove VFs, restore MTU {mtu} and legacy e-switch mode"
            ),
            Self::RemoveRecord { pf } => write!(f, "{pf}: delete the daemon's record"),
            Self::SetVfGuid { pf, index, guid } => {
                write!(f, "{pf} VF {index}: set InfiniBand GUID {guid}")
            }
            Self::WriteUdevRules { pf, switchdev, .. } => write!(
                f,
                "{pf}: write udev rules (NetworkManager ignores its VFs{})",
                if *switchdev { ", PF name kept" } else { "" }
            ),
            Self::WriteRepresentorRule { pf, pf_name } => {
                write!(
                    f,
                    "{pf}: write udev rule naming representors {pf_name}_<vf>"
                )
            }
            Self::RemoveUdevRules { pf } => write!(f, "{pf}: remove udev rules"),
            Self::ReloadUdev => write!(f, "reload udev rules"),
            Self::SetRdmaMode { mode } => {
                write!(f, "set RDMA namespace mode {} (ib_core)", mode.as_str())
            }
            Self::SetKernelArgs { add, remove } => {
                write!(f, "edit kernel arguments:")?;
                for a in add {
                    write!(f, " +{a}")?;
                }
                for r in remove {
                    write!(f, " -{r}")?;
                }
                Ok(())
            }
        }
    }
}
