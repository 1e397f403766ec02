//! The link side of a real host: rtnetlink for links and VF settings, devlink for e-switch
//! modes (when the kernel has devlink).

use sriov_core::api::ESwitchMode;
use sriov_core::ib::Guid;
use sriov_core::ids::{PciAddress, VfIndex};

use crate::devlink::Devlink;
use crate::error::{Error, Result};
use crate::link::{EswitchOps, LinkOps, LinkQuery};
use crate::netlink::Netlink;

/// Netlink and devlink connections to the kernel this process runs on.
#[derive(Debug)]
pub struct LiveLinks {
    netlink: Netlink,
    devlink: Option<Devlink>,
}

impl LiveLinks {
    /// Connects to rtnetlink (required) and devlink (when the kernel has it).
    pub fn new() -> Result<Self> {
        Ok(Self {
            netlink: Netlink::new()?,
            devlink: Devlink::new().ok(),
        })
    }

    /// The rtnetlink connection.
    pub fn netlink(&self) -> &Netlink {
        &self.netlink
    }
}

impl LinkQuery for LiveLinks {
    fn alt_names(&self, ifname: &str) -> Vec<String> {
        self.netlink.alt_names(ifname)
    }

    fn eswitch_mode(&self, pci: &str) -> Result<Option<String>> {
        let Some(devlink) = &self.devlink else {
            return Ok(None);
        };
        match devlink.eswitch_mode(pci) {
            Ok(mode) => Ok(Some(mode)),
            Err(e) if no_eswitch(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Whether devlink's answer means "no e-switch here" (the device is not a devlink device,
/// or its driver has no e-switch), as opposed to a failure to ask (permissions, I/O).
fn no_eswitch(e: &Error) -> bool {
    matches!(
        e.errno(),
        Some(libc::ENODEV | libc::EOPNOTSUPP | libc::EINVAL | libc::ENOENT)
    )
}

impl LinkOps for LiveLinks {
    fn set_mtu(&self, ifname: &str, mtu: u32) -> Result<()> {
        LinkOps::set_mtu(&self.netlink, ifname, mtu)
    }

    fn set_up(&self, ifname: &str) -> Result<()> {
        LinkOps::set_up(&self.netlink, ifname)
    }

    fn set_vf_mac(&self, pf_netdev: &str, vf: VfIndex, mac: &str) -> Result<()> {
        LinkOps::set_vf_mac(&self.netlink, pf_netdev, vf, mac)
    }

    fn set_vf_guid(&self, pf_netdev: &str, vf: VfIndex, guid: Guid) -> Result<()> {
        LinkOps::set_vf_guid(&self.netlink, pf_netdev, vf, guid)
    }
}

impl EswitchOps for LiveLinks {
    fn set_eswitch_mode(&self, pci: &PciAddress, mode: ESwitchMode) -> Result<()> {
        match &self.devlink {
            Some(devlink) => devlink.set_eswitch_mode(&pci.to_string(), mode.as_str()),
            None => Err(Error::Unsupported {
                op: "set e-switch mode (this kernel has no devlink)",
                target: pci.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_answers_that_mean_no_e_switch_count_as_none() {
        let kernel = |errno| Error::Kernel {
            op: "get e-switch mode",
            target: "0000:81:00.0".into(),
            errno: std::io::Error::from_raw_os_error(errno),
        };
        for errno in [libc::ENODEV, libc::EOPNOTSUPP, libc::EINVAL, libc::ENOENT] {
            assert!(no_eswitch(&kernel(errno)), "{errno}");
        }
        for errno in [libc::EPERM, libc::EACCES, libc::EIO, libc::EBUSY] {
            assert!(!no_eswitch(&kernel(errno)), "{errno}");
        }
    }
}
