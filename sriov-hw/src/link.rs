//! Network interfaces as sysfs shows them (`/sys/class/net/<if>/...`), which works over any
//! host root; netlink covers only what sysfs lacks (alt-names, VF info).

use sriov_core::api::ESwitchMode;
use sriov_core::ib::Guid;
use sriov_core::ids::{PciAddress, VfIndex};

use crate::error::Result;
use crate::root::HostRoot;
use crate::sysfs;

/// `IFF_UP` in `flags`.
const IFF_UP: u32 = 0x1;
/// `ARPHRD_ETHER`.
const ARPHRD_ETHER: u32 = 1;
/// `ARPHRD_INFINIBAND`.
const ARPHRD_INFINIBAND: u32 = 32;

/// Link layer of an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkLayer {
    /// Ethernet (`ETH` in node states).
    Ethernet,
    /// InfiniBand (`IB`).
    Infiniband,
    /// Anything else, with its ARPHRD number.
    Other(u32),
}

impl LinkLayer {
    /// The node-state spelling: `ETH`, `IB`, or empty.
    pub fn status_name(self) -> &'static str {
        match self {
            Self::Ethernet => "ETH",
            Self::Infiniband => "IB",
            Self::Other(_) => "",
        }
    }
}

/// What sysfs says about an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkAttrs {
    /// Interface name.
    pub name: String,
    /// MTU.
    pub mtu: Option<u32>,
    /// MAC (or IPoIB hardware) address.
    pub address: Option<String>,
    /// Administratively up (`IFF_UP`).
    pub admin_up: bool,
    /// `operstate` (`up`, `down`, ...).
    pub operstate: Option<String>,
    /// Speed in Mb/s, when the driver reports one (not for a link that is down).
    pub speed_mbps: Option<i64>,
    /// Link layer from `type`.
    pub layer: Option<LinkLayer>,
    /// `phys_port_name` (switchdev: `p0` for an uplink, `pf0vf3` for a representor).
    pub phys_port_name: Option<String>,
    /// `phys_switch_id` (switchdev).
    pub phys_switch_id: Option<String>,
}

/// Reads `sys/class/net/<name>` under `root`.
pub fn read_link(root: &HostRoot, name: &str) -> Result<LinkAttrs> {
    let dir = root.class_net(name);
    if !dir.exists() {
        return Err(crate::Error::NotFound {
            what: "network interface",
            name: name.to_owned(),
        });
    }
    let optional = |file: &str| -> Result<Option<String>> {
        // Some attributes fail with EINVAL/EOPNOTSUPP when not applicable (speed of a down
        // link, phys_port_name without switchdev): that means "none", not an error.
        match sysfs::read_optional(&dir.join(file)) {
            Ok(v) => Ok(v.filter(|s| !s.is_empty())),
            Err(e) if matches!(e.errno(), Some(libc::EINVAL | libc::EOPNOTSUPP)) => Ok(None),
            Err(e) => Err(e),
        }
    };
    let flags = optional("flags")?
        .and_then(|f| u32::from_str_radix(f.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0);
    let layer = optional("type")?
        .and_then(|t| t.parse::<u32>().ok())
        .map(|t| match t {
            ARPHRD_ETHER => LinkLayer::Ethernet,
            ARPHRD_INFINIBAND => LinkLayer::Infiniband,
            other => LinkLayer::Other(other),
        });
    Ok(LinkAttrs {
        name: name.to_owned(),
        mtu: optional("mtu")?.and_then(|m| m.parse().ok()),
        address: optional("address")?,
        admin_up: flags & IFF_UP != 0,
        operstate: optional("operstate")?,
        speed_mbps: optional("speed")?.and_then(|s| s.parse().ok()),
        layer,
        phys_port_name: optional("phys_port_name")?,
        phys_switch_id: optional("phys_switch_id")?,
    })
}

/// Reading link attributes.
pub trait LinkSysfs: Sync {
    /// The attributes of interface `name`.
    fn link_attrs(&self, name: &str) -> Result<LinkAttrs>;
    /// Every interface name.
    fn link_names(&self) -> Result<Vec<String>>;
}

impl LinkSysfs for crate::pci::SysfsHost {
    fn link_attrs(&self, name: &str) -> Result<LinkAttrs> {
        read_link(self.root(), name)
    }

    fn link_names(&self) -> Result<Vec<String>> {
        sysfs::list_dir(&self.root().join("sys/class/net"))
    }
}

/// Changing links over rtnetlink: [`crate::netlink::Netlink`] on a real host (and
/// [`crate::live::LiveLinks`], which wraps it), [`crate::fake::FakeHost`] in tests.
pub trait LinkOps: Sync {
    /// Sets an interface's MTU.
    fn set_mtu(&self, ifname: &str, mtu: u32) -> Result<()>;
    /// Brings an interface administratively up.
    fn set_up(&self, ifname: &str) -> Result<()>;
    /// Sets the administrative MAC of VF `vf` on PF netdev `pf_netdev`.
    fn set_vf_mac(&self, pf_netdev: &str, vf: VfIndex, mac: &str) -> Result<()>;
    /// Sets the InfiniBand node and port GUID of VF `vf` on PF netdev `pf_netdev`.
    fn set_vf_guid(&self, pf_netdev: &str, vf: VfIndex, guid: Guid) -> Result<()>;
}

/// Changing a PF's e-switch mode, over devlink: [`crate::live::LiveLinks`] on a real host
/// (an error naming the PF when the kernel has no devlink), [`crate::fake::FakeHost`] in
/// tests.
pub trait EswitchOps: Sync {
    /// Sets the e-switch mode of the PF at `pci`.
    fn set_eswitch_mode(&self, pci: &PciAddress, mode: ESwitchMode) -> Result<()>;
}

/// What netlink (or devlink) knows that sysfs does not. The Linux backend asks the kernel;
/// tests use [`NoNetlink`] or a table.
pub trait LinkQuery: Sync {
    /// Alternative names of an interface (empty when it has none or on error).
    fn alt_names(&self, ifname: &str) -> Vec<String>;
    /// E-switch mode of the PF at PCI address `pci` (`legacy`/`switchdev`): `None` when
    /// the device or the kernel has no e-switch to ask about (discovery then reports
    /// `legacy`), an error when asking failed for another reason (a permission error must
    /// not pass for `legacy`, or a plan would "change" the mode back).
    fn eswitch_mode(&self, pci: &str) -> Result<Option<String>>;
}

/// A [`LinkQuery`] that knows nothing: no alt-names, legacy e-switch mode.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNetlink;

impl LinkQuery for NoNetlink {
    fn alt_names(&self, _ifname: &str) -> Vec<String> {
        Vec::new()
    }

    fn eswitch_mode(&self, _pci: &str) -> Result<Option<String>> {
        Ok(None)
    }
}

/// The PF side of VFs: the per-VF state a PF reports (`IFLA_VFINFO_LIST`) and the
/// settings it applies to one VF (`IFLA_VF_*`): what the CNI plugin configures and restores.
pub trait VfControl: Sync {
    /// The VFs PF netdev `pf_netdev` reports, in VF order.
    fn vf_states(&self, pf_netdev: &str) -> Result<Vec<crate::netlink::VfState>>;
    /// Applies `settings` to VF `vf` of PF netdev `pf_netdev`; `None` fields are left
    /// alone.
    fn set_vf(
        &self,
        pf_netdev: &str,
        vf: VfIndex,
        settings: &crate::netlink::VfSettings,
    ) -> Result<()>;
}
