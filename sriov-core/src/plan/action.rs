//! The host actions a plan is made of, and how each reads in `sriovctl plan`.

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
        pf: String,
        /// VFs wanted.
        num_vfs: u16,
    },
    /// Set the PF's e-switch mode (with 0 VFs).
    SetEswitchMode {
        /// PF address.
        pf: String,
        /// `legacy` or `switchdev`.
        mode: String,
    },
    /// Raise the PF's MTU.
    SetPfMtu {
        /// PF address.
        pf: String,
        /// New MTU.
        mtu: u32,
    },
    /// Bind VF `index` of `pf` to a driver.
    BindVf {
        /// PF address.
        pf: String,
        /// VF index.
        index: u16,
        /// The driver.
        driver: VfDriver,
    },
    /// Set VF `index`'s administrative MAC on the PF to its current MAC (so it survives
    /// driver rebinds and moves between namespaces).
    SetVfAdminMac {
        /// PF address.
        pf: String,
        /// VF index.
        index: u16,
    },
    /// Set VF `index`'s netdev MTU.
    SetVfMtu {
        /// PF address.
        pf: String,
        /// VF index.
        index: u16,
        /// MTU.
        mtu: u32,
    },
    /// Bring the PF up.
    SetPfUp {
        /// PF address.
        pf: String,
    },
    /// Write the daemon's record of this PF.
    SaveRecord {
        /// The spec entry to record.
        interface: Interface,
    },
    /// Remove the PF's VFs and restore its MTU and e-switch mode.
    ResetPf {
        /// PF address.
        pf: String,
        /// MTU to restore.
        mtu: u32,
    },
    /// Delete the daemon's record of a PF.
    RemoveRecord {
        /// PF address.
        pf: String,
    },
    /// Set VF `index`'s InfiniBand node and port GUID, then rebind it if a kernel driver
    /// holds it so the driver picks the GUID up.
    SetVfGuid {
        /// PF address.
        pf: String,
        /// VF index.
        index: u16,
        /// The GUID, `xx:xx:xx:xx:xx:xx:xx:xx`.
        guid: String,
    },
    /// Replace the PF's udev rules: NetworkManager leaves its VFs alone, and a switchdev PF
    /// keeps its name (see [`crate::render::udev`]).
    WriteUdevRules {
        /// PF address.
        pf: String,
        /// The PF's netdev name.
        pf_name: String,
        /// VF device IDs the NetworkManager rule matches.
        vf_devices: Vec<String>,
        /// Whether the PF goes to switchdev mode.
        switchdev: bool,
    },
    /// Write the rule naming a switchdev PF's representors `<pf>_<vf>` (once its switch
    /// port is known, after the mode change).
    WriteRepresentorRule {
        /// PF address.
        pf: String,
        /// The PF's netdev name.
        pf_name: String,
    },
    /// Remove the PF's udev rules.
    RemoveUdevRules {
        /// PF address.
        pf: String,
    },
    /// Reload udev rules and replay `add` events for network devices.
    ReloadUdev,
    /// Record the RDMA namespace mode as an `ib_core` module option
    /// (`/etc/modprobe.d/sriov_network_operator_modules_config.conf`).
    SetRdmaMode {
        /// `shared` or `exclusive`.
        mode: String,
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

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SetNumVfs { pf, num_vfs } => {
                write!(f, "{pf}: set sriov_numvfs to 0, then {num_vfs}")
            }
            Self::SetEswitchMode { pf, mode } => write!(f, "{pf}: set e-switch mode {mode}"),
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
            Self::SaveRecord { interface } => write!(
                f,
                "{}: record the applied configuration",
                interface.pci_address
            ),
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
            Self::SetRdmaMode { mode } => write!(f, "set RDMA namespace mode {mode} (ib_core)"),
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
