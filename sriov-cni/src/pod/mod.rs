//! The VF netdev and the pod: moving it in with one netlink request that moves and renames
//! it (the kernel checks the new name in the pod only, so neither side's names clash on the
//! way), clearing alt-names that would block later renames, setting its MAC and bringing it
//! up; configuring addresses and routes; and releasing it back to the host under its
//! original name, MAC and MTU.
//!
//! Every step goes through [`NetNs`], one namespace's operations: [`KernelNs`] on a real
//! host, where netlink work happens on a connection opened inside the namespace concerned
//! and the calling thread joins a namespace only for the moment it opens such a connection
//! or writes a sysctl there ([`sriov_hw::netns::run_in`]); [`fake::FakeNs`] in tests that
//! run without root.

use std::net::IpAddr;
use std::time::Duration;

use sriov_hw::netlink::Link;

use crate::error::{CniError, Result, code};
use crate::result::Success;

pub mod fake;
mod kernel;

pub use kernel::{KernelNs, KernelPods};

fn pod_err(msg: impl Into<String>, e: impl std::fmt::Display) -> CniError {
    CniError::new(code::POD_INTERFACE, msg).details(e.to_string())
}

/// One network namespace, as the plugin acts on it: the host's (where the runtime calls
/// the plugin) or a pod's. [`KernelNs`] is a real namespace with one rtnetlink connection
/// in it, opened once per invocation; [`fake::FakeNs`] a namespace of an in-memory model,
/// so the plugin's steps can be tested without root.
pub trait NetNs: std::fmt::Debug + Send + Sync {
    /// One link by name.
    fn link(&self, name: &str) -> sriov_hw::Result<Link>;
    /// Sets a link's hardware address.
    fn set_address(&self, name: &str, mac: &str) -> sriov_hw::Result<()>;
    /// Brings a link up or down.
    fn set_admin_up(&self, name: &str, up: bool) -> sriov_hw::Result<()>;
    /// Sets a link's MTU.
    fn set_mtu(&self, name: &str, mtu: u32) -> sriov_hw::Result<()>;
    /// Renames a link (it must be down).
    fn rename(&self, name: &str, new_name: &str) -> sriov_hw::Result<()>;
    /// Removes an alternative name.
    fn del_alt_name(&self, name: &str, alt_name: &str) -> sriov_hw::Result<()>;
    /// Adds an address with its prefix length.
    fn add_address(&self, name: &str, address: IpAddr, prefix_len: u8) -> sriov_hw::Result<()>;
    /// A link's addresses with their prefix lengths.
    fn addresses(&self, name: &str) -> sriov_hw::Result<Vec<(IpAddr, u8)>>;
    /// Adds a route through a link (`None` destination: the default route).
    fn add_route(
        &self,
        name: &str,
        destination: Option<(IpAddr, u8)>,
        gateway: Option<IpAddr>,
    ) -> sriov_hw::Result<()>;
    /// Moves link `name` into namespace `to`, named `new_name` there, in one step (the
    /// name is checked in `to` only; EEXIST when it is taken there). `to` must be of the
    /// same kind as `self`.
    fn move_link(&self, name: &str, to: &dyn NetNs, new_name: &str) -> sriov_hw::Result<()>;
    /// Sets `arp_notify`, `ndisc_notify` and `optimistic_dad` of `ifname` to 1, best effort;
    /// which notifications are on.
    fn enable_notifications(&self, ifname: &str) -> Notify;
    /// Announces `ips` of `ifname` (see [`crate::announce`]); how many were announced.
    fn announce(&self, ifname: &str, ips: &[IpAddr], notify: Notify) -> usize;
    /// The namespace as `Any`, so [`NetNs::move_link`] can reach its target's handle.
    fn as_any(&self) -> &dyn std::any::Any;
}

/// Opening pods' namespaces by their `CNI_NETNS` path.
pub trait Pods: Sync {
    /// The namespace at `path`; code 3 when it does not open.
    fn open(&self, path: &str) -> Result<Box<dyn NetNs>>;
    /// Whether the namespace at `path` still exists.
    fn alive(&self, path: &str) -> bool;
}

/// Removes alt-names equal to `name` (newer kernels keep an old name as an alt-name, which
/// then blocks renaming another device to it).
fn drop_alt_name(nl: &dyn NetNs, link: &str, name: &str) {
    if let Ok(l) = nl.link(link)
        && l.alt_names.iter().any(|a| a == name)
    {
        let _ = nl.del_alt_name(link, name);
    }
}

/// Which of the kernel's address announcements are on for an interface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Notify {
    /// `arp_notify`: gratuitous ARP for IPv4 addresses.
    pub arp: bool,
    /// `ndisc_notify`: unsolicited Neighbor Advertisements for IPv6 addresses.
    pub ndisc: bool,
}

/// How many times the netdev MAC is set and checked.
const MAC_RETRIES: u32 = 20;

/// Moves host netdev `vf` into `pod` as `ifname`, in one netlink request (move and
/// rename). The kernel renames after the move, so a name taken in the pod is refused
/// before anything moves, and a rename that still fails sends the netdev back.
pub fn move_in(host: &dyn NetNs, vf: &str, pod: &dyn NetNs, ifname: &str) -> Result<()> {
    let (host_nl, pod_nl) = (host, pod);
    let taken = || {
        CniError::new(
            code::POD_INTERFACE,
            format!("interface {ifname} already exists in the pod"),
        )
    };
    if pod_nl.link(ifname).is_ok() {
        return Err(taken());
    }
    if let Err(e) = host_nl.move_link(vf, pod, ifname) {
        // Moved but not renamed: bring it back under its own name.
        if pod_nl.link(vf).is_ok()
            && let Err(back) = pod_nl.move_link(vf, host, vf)
        {
            return Err(pod_err(
                format!("failed to rename {vf} to {ifname} in the pod"),
                format!("{e}; moving it back failed: {back}"),
            ));
        }
        return Err(if e.errno() == Some(libc::EEXIST) {
            taken().details(e.to_string())
        } else {
            pod_err(format!("failed to move {vf} into the pod as {ifname}"), e)
        });
    }
    Ok(())
}

/// In the pod: drops an alt-name left from the host name `vf`, enables ARP/ND
/// notifications and optimistic DAD, sets `mac` if given (verified) and brings `ifname` up.
/// Returns which of the kernel's ARP/ND notifications are on (see [`crate::announce`]).
pub fn setup(pod: &dyn NetNs, vf: &str, ifname: &str, mac: Option<&str>) -> Result<Notify> {
    let pod_nl = pod;
    drop_alt_name(pod_nl, ifname, vf);
    let notify = pod.enable_notifications(ifname);
    if let Some(mac) = mac {
        let mut verified = false;
        let mut last = String::new();
        for attempt in 0..MAC_RETRIES {
            match pod_nl.set_address(ifname, mac) {
                Ok(()) => match pod_nl.link(ifname) {
                    Ok(l) if l.address.as_deref() == Some(mac) => {
                        verified = true;
                        break;
                    }
                    Ok(l) => last = format!("effective mac address is {:?}", l.address),
                    Err(e) => last = e.to_string(),
                },
                Err(e) => last = e.to_string(),
            }
            if attempt + 1 < MAC_RETRIES {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        if !verified {
            return Err(CniError::new(
                code::POD_INTERFACE,
                format!("failed to set netlink MAC address to {mac}"),
            )
            .details(last));
        }
    }
    pod_nl
        .set_admin_up(ifname, true)
        .map_err(|e| pod_err("error bringing interface up in container ns", e))?;
    Ok(notify)
}

/// What to put back when the netdev leaves the pod.
#[derive(Debug, Clone, Default)]
pub struct Restore {
    /// Host name.
    pub name: String,
    /// The netdev's own MAC before ADD ("" to leave it).
    pub mac: String,
    /// MTU before ADD (0 to leave it).
    pub mtu: u32,
}

/// Puts back MAC and MTU (the link is set down first when it is up); only what differs is
/// changed.
fn restore_link(nl: &dyn NetNs, link: &str, restore: &Restore) -> Result<()> {
    let current = nl
        .link(link)
        .map_err(|e| pod_err(format!("failed to read {link}"), e))?;
    if current.up {
        nl.set_admin_up(link, false)
            .map_err(|e| pod_err(format!("failed to set {link} down"), e))?;
    }
    if !restore.mac.is_empty() && current.address.as_deref() != Some(restore.mac.as_str()) {
        nl.set_address(link, &restore.mac)
            .map_err(|e| pod_err(format!("failed to restore the MAC of {link}"), e))?;
    }
    if restore.mtu > 0 && current.mtu != Some(restore.mtu) {
        nl.set_mtu(link, restore.mtu)
            .map_err(|e| pod_err(format!("failed to restore the MTU of {link}"), e))?;
    }
    Ok(())
}

/// Moves `ifname` from `pod` back to `host`, restoring name, MAC and MTU. When the original
/// name is taken in the host meanwhile, the netdev still leaves the pod, under a name
/// derived from this process, and the error says so.
pub fn release(pod: &dyn NetNs, ifname: &str, host: &dyn NetNs, restore: &Restore) -> Result<()> {
    let (pod_nl, host_nl) = (pod, host);
    let wanted = if restore.name.is_empty() {
        ifname
    } else {
        restore.name.as_str()
    };
    let fallback = format!("sriov{}", std::process::id() % 100_000);
    let name = if host_nl.link(wanted).is_ok() {
        fallback.as_str()
    } else {
        wanted
    };
    drop_alt_name(pod_nl, ifname, name);
    // The move closes the link (no separate "down", which would wait for a second RCU grace
    // period); MAC and MTU are restored once it is back, still down.
    if let Err(e) = pod_nl.move_link(ifname, host, name) {
        // Moved but not renamed: it is in the host under its pod name; rename it there.
        if host_nl.link(ifname).is_ok() && pod_nl.link(ifname).is_err() {
            host_nl.rename(ifname, name).map_err(|e2| {
                pod_err(
                    format!("failed to rename {ifname} back to {name}"),
                    format!("{e}; {e2}"),
                )
            })?;
        } else {
            return Err(pod_err(
                format!("failed to move {ifname} back to the host namespace as {name}"),
                e,
            ));
        }
    }
    drop_alt_name(host_nl, name, ifname);
    restore_link(host_nl, name, restore)?;
    if name != wanted {
        return Err(pod_err(
            format!("{wanted} is taken in the host namespace; the VF came back as {name}"),
            "rename it by hand once the other interface is gone",
        ));
    }
    Ok(())
}

/// Puts a VF netdev that is already in the host namespace (its pod namespace was deleted)
/// back to its original name, MAC and MTU.
pub fn restore_in_host(host_nl: &dyn NetNs, current: &str, restore: &Restore) -> Result<()> {
    restore_link(host_nl, current, restore)?;
    if !restore.name.is_empty() && restore.name != current {
        host_nl.rename(current, &restore.name).map_err(|e| {
            pod_err(
                format!("failed to rename {current} back to {}", restore.name),
                e,
            )
        })?;
        drop_alt_name(host_nl, &restore.name, current);
    }
    Ok(())
}

/// Parses `a.b.c.d/n` or `x::y/n`.
pub fn cidr(text: &str) -> Result<(IpAddr, u8)> {
    let (ip, len) = text.split_once('/').unwrap_or((text, ""));
    let ip: IpAddr = ip.parse().map_err(|_| {
        CniError::new(
            code::IPAM,
            format!("IPAM returned an invalid address {text:?}"),
        )
    })?;
    let max = if ip.is_ipv6() { 128 } else { 32 };
    let len: u8 = if len.is_empty() {
        max
    } else {
        len.parse().ok().filter(|l| *l <= max).ok_or_else(|| {
            CniError::new(
                code::IPAM,
                format!("IPAM returned an invalid prefix {text:?}"),
            )
        })?
    };
    Ok((ip, len))
}

/// Configures the result's addresses and routes on `ifname` in the pod. A route without a
/// gateway goes through the gateway of the first address of its family, if any.
pub fn configure_ips(pod: &dyn NetNs, ifname: &str, result: &Success) -> Result<()> {
    let nl = pod;
    let mut gateways: Vec<IpAddr> = Vec::new();
    for ip in &result.ips {
        let (address, len) = cidr(&ip.address)?;
        nl.add_address(ifname, address, len).map_err(|e| {
            pod_err(
                format!("failed to add address {} to {ifname}", ip.address),
                e,
            )
        })?;
        if let Some(gw) = ip.gateway.as_deref().and_then(|g| g.parse::<IpAddr>().ok()) {
            gateways.push(gw);
        }
    }
    for route in &result.routes {
        let (dst, len) = cidr(&route.dst)?;
        let gw = match route.gw.as_deref() {
            Some(g) => Some(g.parse::<IpAddr>().map_err(|_| {
                CniError::new(
                    code::IPAM,
                    format!("IPAM returned an invalid route gateway {g:?}"),
                )
            })?),
            None => gateways
                .iter()
                .copied()
                .find(|g| g.is_ipv6() == dst.is_ipv6()),
        };
        nl.add_route(ifname, Some((dst, len)), gw).map_err(|e| {
            pod_err(
                format!("failed to add route to {} via {gw:?}", route.dst),
                e,
            )
        })?;
    }
    Ok(())
}
