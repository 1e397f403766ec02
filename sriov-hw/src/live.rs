//! The link side of a real host: rtnetlink for links and VF settings, devlink for e-switch
//! modes (when the kernel has devlink).

use crate::devlink::Devlink;
use crate::error::{Error, Result};
use crate::link::{LinkOps, LinkQuery};
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

    fn eswitch_mode(&self, pci: &str) -> Option<String> {
        self.devlink.as_ref()?.eswitch_mode(pci).ok()
    }
}

impl LinkOps for LiveLinks {
    fn set_mtu(&self, ifname: &str, mtu: u32) -> Result<()> {
        LinkOps::set_mtu(&self.netlink, ifname, mtu)
    }

    fn set_up(&self, ifname: &str) -> Result<()> {
        LinkOps::set_up(&self.netlink, ifname)
    }

    fn set_vf_mac(&self, pf: &str, vf: u16, mac: &str) -> Result<()> {
        LinkOps::set_vf_mac(&self.netlink, pf, vf, mac)
    }

    fn set_vf_guid(&self, pf: &str, vf: u16, guid: u64) -> Result<()> {
        LinkOps::set_vf_guid(&self.netlink, pf, vf, guid)
    }

    fn set_eswitch_mode(&self, pci: &str, mode: &str) -> Result<()> {
        match &self.devlink {
            Some(devlink) => devlink.set_eswitch_mode(pci, mode),
            None => Err(Error::Unsupported {
                op: "set e-switch mode (this kernel has no devlink)",
                target: pci.to_owned(),
            }),
        }
    }
}
