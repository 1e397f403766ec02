//! Discovery: the host's SR-IOV PFs and VFs as `SriovNetworkNodeState.status.interfaces`
//! (reference spec §6.2), read from sysfs so it works over any host root.
//!
//! PFs are network-class functions that are not VFs, have a driver and a netdev, and (unless
//! in dev mode) are a supported model. Per PF: the netdev name (for a switchdev PF with
//! representors, the uplink: `phys_port_name` `p<N>`), alt-names, driver, IDs, MTU, MAC,
//! `ETH`/`IB`, `"<n> Mb/s"`, admin state, e-switch mode (`legacy` unless netlink says
//! otherwise), `totalvfs`, `numVfs`, `externallyManaged` from the daemon's record, and the
//! VFs with `vfID`, driver, IDs, netdev name, MAC, MTU, representor and IB GUID.

use sriov_core::api::{InterfaceExt, VirtualFunction};
use sriov_core::nic::SupportedNics;

use crate::error::Result;
use crate::link::{LinkAttrs, LinkLayer, LinkQuery, LinkSysfs};
use crate::pci::{CLASS_NETWORK, PciDevice, PciSysfs};
use crate::store::PfStore;

/// The host, as discovery reads it.
#[derive(Clone, Copy)]
pub struct HostView<'a> {
    /// PCI functions.
    pub pci: &'a dyn PciSysfs,
    /// Link attributes.
    pub links: &'a dyn LinkSysfs,
    /// Netlink-only facts (alt-names, e-switch mode).
    pub netlink: &'a dyn LinkQuery,
    /// The daemon's per-PF records.
    pub store: &'a dyn PfStore,
}

/// Options of a discovery run.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// Supported NIC models.
    pub nics: &'a SupportedNics,
    /// `DEV_MODE`: report every SR-IOV capable network PF, supported or not.
    pub dev_mode: bool,
}

/// Discovers the host's PFs, sorted by PCI address.
pub fn discover(host: HostView<'_>, options: Options<'_>) -> Result<Vec<InterfaceExt>> {
    let mut out = Vec::new();
    for address in host.pci.list()? {
        let device = host.pci.device(&address)?;
        if device.class != CLASS_NETWORK
            || device.is_vf()
            || device.driver.is_none()
            || device.netdevs.is_empty()
        {
            continue;
        }
        if !options.dev_mode && !options.nics.is_supported_pf(&device.vendor, &device.device) {
            continue;
        }
        out.push(pf_status(host, &device)?);
    }
    Ok(out)
}

/// The uplink among a PF's netdevs: with switchdev representors sharing the PCI function,
/// the one with a switch ID and a `p<N>` port name; otherwise the first.
fn pf_netdev(host: HostView<'_>, device: &PciDevice) -> Result<LinkAttrs> {
    let mut first = None;
    for name in &device.netdevs {
        let attrs = host.links.link_attrs(name)?;
        let uplink = attrs.phys_switch_id.is_some()
            && attrs
                .phys_port_name
                .as_deref()
                .and_then(|p| p.strip_prefix('p'))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if uplink {
            return Ok(attrs);
        }
        first.get_or_insert(attrs);
    }
    // The caller checked that netdevs is not empty.
    first.ok_or_else(|| crate::error::Error::NotFound {
        what: "network interface of PCI device",
        name: device.address.to_string(),
    })
}

fn pf_status(host: HostView<'_>, device: &PciDevice) -> Result<InterfaceExt> {
    let pci = device.address.to_string();
    let link = pf_netdev(host, device)?;
    let alt_names = host.netlink.alt_names(&link.name);
    let num_vfs = device.num_vfs.unwrap_or(0);
    let vfs = if num_vfs > 0 {
        let mut vfs = Vec::with_capacity(device.virtfns.len());
        for (index, vf) in &device.virtfns {
            vfs.push(vf_status(host, &host.pci.device(vf)?, *index, &link)?);
        }
        Some(vfs)
    } else {
        None
    };
    Ok(InterfaceExt {
        name: Some(link.name.clone()),
        mac: link.address.clone(),
        driver: device.driver.clone(),
        pci_address: pci.clone(),
        vendor: Some(device.vendor.clone()),
        device_id: Some(device.device.clone()),
        net_filter: None,
        mtu: link.mtu.and_then(|m| i32::try_from(m).ok()),
        num_vfs: device.total_vfs.map(|_| i32::from(num_vfs)),
        link_speed: link.speed_mbps.map(|s| format!("{s} Mb/s")),
        link_type: link
            .layer
            .map(|l| l.status_name().to_owned())
            .filter(|l| !l.is_empty()),
        link_admin_state: Some(if link.admin_up { "up" } else { "down" }.to_owned()),
        e_switch_mode: Some(
            host.netlink
                .eswitch_mode(&link.name)
                .unwrap_or_else(|| "legacy".to_owned()),
        ),
        externally_managed: host.store.load(&pci)?.and_then(|i| i.externally_managed),
        total_vfs: device.total_vfs.map(i32::from),
        vfs,
        alt_names: (!alt_names.is_empty()).then_some(alt_names),
    })
}

fn vf_status(
    host: HostView<'_>,
    device: &PciDevice,
    index: u16,
    pf: &LinkAttrs,
) -> Result<VirtualFunction> {
    let netdev = match device.netdevs.first() {
        Some(name) => Some(host.links.link_attrs(name)?),
        None => None,
    };
    let guid = if pf.layer == Some(LinkLayer::Infiniband) || !device.rdma_devices.is_empty() {
        netdev
            .as_ref()
            .and_then(|n| n.address.as_deref())
            .and_then(ib_guid)
    } else {
        None
    };
    Ok(VirtualFunction {
        name: netdev.as_ref().map(|n| n.name.clone()),
        mac: netdev.as_ref().and_then(|n| n.address.clone()),
        assigned: None,
        driver: device.driver.clone(),
        pci_address: device.address.to_string(),
        vendor: Some(device.vendor.clone()),
        device_id: Some(device.device.clone()),
        vlan: None,
        mtu: netdev
            .as_ref()
            .and_then(|n| n.mtu)
            .and_then(|m| i32::try_from(m).ok()),
        vf_id: i32::from(index),
        vdpa_type: None,
        representor_name: representor(host, pf, index)?,
        guid,
    })
}

/// The port GUID of an IPoIB interface: the last 8 bytes of its 20-byte hardware address.
fn ib_guid(address: &str) -> Option<String> {
    let bytes: Vec<&str> = address.split(':').collect();
    (bytes.len() == 20).then(|| bytes[12..].join(":"))
}

/// The switchdev representor of VF `index`: the netdev on the PF's switch with port name
/// `pf<N>vf<index>`, `N` from the uplink's `p<N>`.
fn representor(host: HostView<'_>, pf: &LinkAttrs, index: u16) -> Result<Option<String>> {
    let (Some(switch), Some(port)) = (
        &pf.phys_switch_id,
        pf.phys_port_name
            .as_deref()
            .and_then(|p| p.strip_prefix('p')),
    ) else {
        return Ok(None);
    };
    let wanted = format!("pf{port}vf{index}");
    for name in host.links.link_names()? {
        let attrs = host.links.link_attrs(&name)?;
        if attrs.phys_switch_id.as_ref() == Some(switch)
            && attrs.phys_port_name.as_deref() == Some(wanted.as_str())
        {
            return Ok(Some(name));
        }
    }
    Ok(None)
}
