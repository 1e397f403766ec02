//! The fake's call log: one typed value per mutating call, what tests assert on and what
//! failure injection matches.

use std::fmt;

use sriov_core::api::ESwitchMode;
use sriov_core::ib::Guid;
use sriov_core::ids::{PciAddress, VfIndex};

use crate::netlink::VfSettings;

/// One mutating call [`super::FakeHost`] received.
///
/// `Display` prints it as one line (`set_num_vfs 0000:81:00.0 4`), which is what
/// [`super::FakeHost::calls`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `sriov_numvfs` written.
    SetNumVfs {
        /// The PF.
        pf: PciAddress,
        /// The value written.
        num_vfs: u16,
    },
    /// A function unbound from its driver.
    Unbind {
        /// The function.
        device: PciAddress,
    },
    /// A function bound to a driver.
    Bind {
        /// The function.
        device: PciAddress,
        /// The driver.
        driver: String,
    },
    /// A link's MTU set.
    SetMtu {
        /// The link.
        link: String,
        /// The MTU.
        mtu: u32,
    },
    /// A link set administratively up.
    SetUp {
        /// The link.
        link: String,
    },
    /// A VF's administrative MAC set through its PF.
    SetVfMac {
        /// The PF netdev.
        pf: String,
        /// The VF.
        vf: VfIndex,
        /// The MAC.
        mac: String,
    },
    /// A VF's InfiniBand GUID set through its PF.
    SetVfGuid {
        /// The PF netdev.
        pf: String,
        /// The VF.
        vf: VfIndex,
        /// The GUID.
        guid: Guid,
    },
    /// PF-side VF settings applied (the CNI plugin's calls).
    SetVf {
        /// The PF netdev.
        pf: String,
        /// The VF.
        vf: VfIndex,
        /// What was set.
        settings: VfSettings,
    },
    /// A PF's e-switch mode set.
    SetEswitchMode {
        /// The PF.
        pf: PciAddress,
        /// The mode.
        mode: ESwitchMode,
    },
    /// The daemon's record of a PF written.
    SaveRecord {
        /// The PF.
        pf: PciAddress,
    },
    /// The daemon's record of a PF deleted.
    RemoveRecord {
        /// The PF.
        pf: PciAddress,
    },
    /// A host file written.
    WriteFile {
        /// Its path, relative to the host root.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// A host file removed.
    RemoveFile {
        /// Its path, relative to the host root.
        path: String,
    },
    /// A host program run.
    Run {
        /// The program.
        program: String,
        /// Its arguments.
        args: Vec<String>,
    },
}

impl Call {
    /// The operation, as a kernel error names it.
    pub(super) fn op(&self) -> &'static str {
        match self {
            Self::SetNumVfs { .. } => "write sriov_numvfs",
            Self::Unbind { .. } => "unbind",
            Self::Bind { .. } => "bind",
            Self::SetMtu { .. } => "set MTU",
            Self::SetUp { .. } => "set link up",
            Self::SetVfMac { .. } => "set VF MAC",
            Self::SetVfGuid { .. } => "set VF GUID",
            Self::SetVf { .. } => "set VF",
            Self::SetEswitchMode { .. } => "set e-switch mode",
            Self::SaveRecord { .. } => "save record",
            Self::RemoveRecord { .. } => "remove record",
            Self::WriteFile { .. } => "write file",
            Self::RemoveFile { .. } => "remove file",
            Self::Run { .. } => "run",
        }
    }

    /// What the operation acts on, as a kernel error names it.
    pub(super) fn target(&self) -> String {
        match self {
            Self::SetNumVfs { pf, .. }
            | Self::SetEswitchMode { pf, .. }
            | Self::SaveRecord { pf }
            | Self::RemoveRecord { pf } => pf.to_string(),
            Self::Unbind { device } | Self::Bind { device, .. } => device.to_string(),
            Self::SetMtu { link, .. } | Self::SetUp { link } => link.clone(),
            Self::SetVfMac { pf, .. } | Self::SetVfGuid { pf, .. } | Self::SetVf { pf, .. } => {
                pf.clone()
            }
            Self::WriteFile { path, .. } | Self::RemoveFile { path } => path.clone(),
            Self::Run { program, .. } => program.clone(),
        }
    }
}

fn settings_text(settings: &VfSettings) -> String {
    let mut parts = Vec::new();
    if let Some((vlan, qos)) = settings.vlan {
        let proto = if settings.vlan_qinq {
            "802.1ad"
        } else {
            "802.1q"
        };
        parts.push(format!("vlan={vlan} qos={qos} proto={proto}"));
    }
    if let Some(mac) = &settings.mac {
        parts.push(format!("mac={mac}"));
    }
    if let Some((min, max)) = settings.rate {
        parts.push(format!("rate={min}-{max}"));
    }
    if let Some(on) = settings.spoofchk {
        parts.push(format!("spoofchk={on}"));
    }
    if let Some(on) = settings.trust {
        parts.push(format!("trust={on}"));
    }
    if let Some(link_state) = &settings.link_state {
        parts.push(format!("link_state={link_state}"));
    }
    if let Some(guid) = settings.ib_guid {
        parts.push(format!("guid={guid:016x}"));
    }
    parts.join(" ")
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SetNumVfs { pf, num_vfs } => write!(f, "set_num_vfs {pf} {num_vfs}"),
            Self::Unbind { device } => write!(f, "unbind {device}"),
            Self::Bind { device, driver } => write!(f, "bind {device} {driver}"),
            Self::SetMtu { link, mtu } => write!(f, "set_mtu {link} {mtu}"),
            Self::SetUp { link } => write!(f, "set_up {link}"),
            Self::SetVfMac { pf, vf, mac } => write!(f, "set_vf_mac {pf} {vf} {mac}"),
            Self::SetVfGuid { pf, vf, guid } => {
                write!(f, "set_vf_guid {pf} {vf} {:016x}", guid.0)
            }
            Self::SetVf { pf, vf, settings } => {
                write!(f, "set_vf {pf} {vf} {}", settings_text(settings))
            }
            Self::SetEswitchMode { pf, mode } => {
                write!(f, "set_eswitch_mode {pf} {}", mode.as_str())
            }
            Self::SaveRecord { pf } => write!(f, "save_record {pf}"),
            Self::RemoveRecord { pf } => write!(f, "remove_record {pf}"),
            Self::WriteFile { path, mode } => write!(f, "write_file {path} {mode:o}"),
            Self::RemoveFile { path } => write!(f, "remove_file {path}"),
            Self::Run { program, args } => {
                write!(f, "run {program}")?;
                for arg in args {
                    write!(f, " {arg}")?;
                }
                Ok(())
            }
        }
    }
}
