//! Discovery: the host's SR-IOV PFs and VFs as `SriovNetworkNodeState.status.interfaces`
//! (what upstream's daemon reports), read from sysfs so it works over any host root.
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
use std::collections::BTreeMap;

use sriov_core::ids::{PciAddress, VfIndex};

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
        // VFs are most of a busy host's functions: skip them with one readlink.
        if host.pci.physfn(&address)?.is_some() {
            continue;
        }
        let device = host.pci.device(&address)?;
        if device.class != CLASS_NETWORK || device.driver.is_none() || device.netdevs.is_empty() {
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
    let e_switch_mode = host
        .netlink
        .eswitch_mode(&pci)?
        .unwrap_or_else(|| "legacy".to_owned());
    let vfs = if num_vfs > 0 {
        let representors = representors(host, &link)?;
        // vDPA devices exist only on switchdev PFs: skip the per-VF lookup otherwise.
        let vdpa = e_switch_mode == "switchdev";
        Some(vfs_status(
            host,
            &device.virtfns,
            &link,
            &representors,
            vdpa,
        )?)
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
        e_switch_mode: Some(e_switch_mode),
        externally_managed: host
            .store
            .load(&device.address)?
            .and_then(|i| i.externally_managed),
        total_vfs: device.total_vfs.map(i32::from),
        vfs,
        alt_names: (!alt_names.is_empty()).then_some(alt_names),
    })
}

/// Reads a PF's VFs, spread over a few threads (sysfs reads are syscall-bound, and a dense
/// host has a thousand VFs), keeping `virtfn` order.
fn vfs_status(
    host: HostView<'_>,
    virtfns: &[(VfIndex, PciAddress)],
    pf: &LinkAttrs,
    representors: &BTreeMap<String, String>,
    vdpa_bus: bool,
) -> Result<Vec<VirtualFunction>> {
    let Some((_, first)) = virtfns.first() else {
        return Ok(Vec::new());
    };
    // Every VF of a PF has the same IDs (one VF device ID in the SR-IOV capability).
    let ids = host.pci.ids(first)?;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    let chunk = virtfns.len().div_ceil(threads).max(32);
    let results: Vec<Result<Vec<VirtualFunction>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = virtfns
            .chunks(chunk)
            .map(|part| {
                let ids = &ids;
                scope.spawn(move || {
                    part.iter()
                        .map(|(index, vf)| {
                            vf_status(host, *vf, *index, ids, pf, representors, vdpa_bus)
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(crate::error::Error::NotFound {
                        what: "VF reader thread result",
                        name: "panicked".into(),
                    })
                })
            })
            .collect()
    });
    let mut out = Vec::with_capacity(virtfns.len());
    for part in results {
        out.extend(part?);
    }
    Ok(out)
}

fn vf_status(
    host: HostView<'_>,
    address: PciAddress,
    index: VfIndex,
    ids: &(String, String),
    pf: &LinkAttrs,
    representors: &BTreeMap<String, String>,
    vdpa_bus: bool,
) -> Result<VirtualFunction> {
    let device = host.pci.vf(&address)?;
    let netdev = device.netdev;
    let guid = if pf.layer == Some(LinkLayer::Infiniband) {
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
        driver: device.driver,
        pci_address: address.to_string(),
        vendor: Some(ids.0.clone()),
        device_id: Some(ids.1.clone()),
        vlan: None,
        mtu: netdev
            .as_ref()
            .and_then(|n| n.mtu)
            .and_then(|m| i32::try_from(m).ok()),
        vf_id: i32::from(index),
        vdpa_type: if vdpa_bus {
            host.pci
                .vdpa_driver(&address)?
                .and_then(|d| match d.as_str() {
                    "virtio_vdpa" => Some("virtio".to_owned()),
                    "vhost_vdpa" => Some("vhost".to_owned()),
                    _ => None,
                })
        } else {
            None
        },
        representor_name: pf
            .phys_port_name
            .as_deref()
            .and_then(|p| p.strip_prefix('p'))
            .and_then(|port| representors.get(&format!("pf{port}vf{index}")))
            .cloned(),
        guid,
    })
}

/// The port GUID of an IPoIB interface: the last 8 bytes of its 20-byte hardware address.
fn ib_guid(address: &str) -> Option<String> {
    let bytes: Vec<&str> = address.split(':').collect();
    (bytes.len() == 20).then(|| bytes[12..].join(":"))
}

/// The switchdev representors on a PF's switch, by port name (`pf0vf3` → netdev): empty
/// unless the PF is a switchdev uplink. One pass over the host's links per PF.
fn representors(host: HostView<'_>, pf: &LinkAttrs) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let Some(switch) = &pf.phys_switch_id else {
        return Ok(out);
    };
    for name in host.links.link_names()? {
        let attrs = host.links.link_attrs(&name)?;
        if attrs.phys_switch_id.as_ref() == Some(switch)
            && let Some(port) = attrs.phys_port_name
        {
            out.insert(port, name);
        }
    }
    Ok(out)
}
