//! The VF netdev and the pod: moving it in with one netlink request that moves and renames
//! it (the kernel checks the new name in the pod only, so neither side's names clash on the
//! way), clearing alt-names that would block later renames, setting its MAC and bringing it
//! up; configuring addresses and routes; and releasing it back to the host under its
//! original name, MAC and MTU.
//!
//! Netlink work happens on connections opened inside the namespace concerned; the calling
//! thread joins a namespace only for the moment it opens such a connection or writes a
//! sysctl there ([`sriov_hw::netns::run_in`]), then returns.

use std::fs::File;
use std::net::IpAddr;
use std::time::Duration;

use sriov_hw::netlink::Netlink;
use sriov_hw::netns;

use crate::error::{CniError, Result, code};
use crate::result::Success;

fn pod_err(msg: impl Into<String>, e: impl std::fmt::Display) -> CniError {
    CniError::new(code::POD_INTERFACE, msg).details(e.to_string())
}

/// One side of an attachment: a network namespace and one rtnetlink connection in it,
/// opened once per invocation and used by every step.
#[derive(Debug)]
pub struct Side {
    /// The namespace.
    pub ns: File,
    /// A connection inside it.
    pub nl: Netlink,
}

impl Side {
    /// The calling thread's namespace (the host's, where the runtime calls the plugin).
    pub fn current() -> Result<Self> {
        let ns = netns::current().map_err(|e| {
            CniError::new(code::IO, "failed to open the host namespace").details(e.to_string())
        })?;
        let nl = Netlink::new().map_err(|e| {
            CniError::new(code::IO, "failed to open netlink").details(e.to_string())
        })?;
        Ok(Self { ns, nl })
    }

    /// The namespace at `path` (the pod's `CNI_NETNS`); code 3 when it does not open.
    pub fn open(path: &str) -> Result<Self> {
        let ns = netns::open(path.as_ref()).map_err(|e| {
            CniError::new(
                code::UNKNOWN_CONTAINER,
                format!("failed to open netns {path:?}"),
            )
            .details(e.to_string())
        })?;
        let nl = Netlink::in_netns(&ns)
            .map_err(|e| pod_err("failed to open netlink in the pod namespace", e))?;
        Ok(Self { ns, nl })
    }
}

/// Removes alt-names equal to `name` (newer kernels keep an old name as an alt-name, which
/// then blocks renaming another device to it).
fn drop_alt_name(nl: &Netlink, link: &str, name: &str) {
    if let Ok(l) = nl.link(link)
        && l.alt_names.iter().any(|a| a == name)
    {
        let _ = nl.del_alt_name(link, name);
    }
}

/// Sets the pod-side knobs to 1 (in one visit to the pod namespace): `arp_notify` and
/// `ndisc_notify` (the kernel then announces the interface's addresses when it comes up or
/// its MAC is set) and `optimistic_dad`. Best effort, as upstream: a missing knob (IPv6
/// disabled) is no reason to fail. Returns which notifications are on.
fn sysctls(pod: &File, ifname: &str) -> Notify {
    let paths = [
        format!("/proc/sys/net/ipv4/conf/{ifname}/arp_notify"),
        format!("/proc/sys/net/ipv6/conf/{ifname}/ndisc_notify"),
        format!("/proc/sys/net/ipv6/conf/{ifname}/optimistic_dad"),
    ];
    netns::run_in(pod, move || {
        let done: Vec<bool> = paths
            .iter()
            .map(|p| std::fs::write(p, "1").is_ok())
            .collect();
        Notify {
            arp: done[0],
            ndisc: done[1],
        }
    })
    .unwrap_or_default()
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
pub fn move_in(host: &Side, vf: &str, pod: &Side, ifname: &str) -> Result<()> {
    let (host_nl, pod_nl) = (&host.nl, &pod.nl);
    let taken = || {
        CniError::new(
            code::POD_INTERFACE,
            format!("interface {ifname} already exists in the pod"),
        )
    };
    if pod_nl.link(ifname).is_ok() {
        return Err(taken());
    }
    if let Err(e) = host_nl.move_to_netns_as(vf, &pod.ns, ifname) {
        // Moved but not renamed: bring it back under its own name.
        if pod_nl.link(vf).is_ok()
            && let Err(back) = pod_nl.move_to_netns_as(vf, &host.ns, vf)
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
pub fn setup(pod: &Side, vf: &str, ifname: &str, mac: Option<&str>) -> Result<Notify> {
    let pod_nl = &pod.nl;
    drop_alt_name(pod_nl, ifname, vf);
    let notify = sysctls(&pod.ns, ifname);
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
fn restore_link(nl: &Netlink, link: &str, restore: &Restore) -> Result<()> {
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
pub fn release(pod: &Side, ifname: &str, host: &Side, restore: &Restore) -> Result<()> {
    let (pod_nl, host_nl) = (&pod.nl, &host.nl);
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
    if let Err(e) = pod_nl.move_to_netns_as(ifname, &host.ns, name) {
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
pub fn restore_in_host(host_nl: &Netlink, current: &str, restore: &Restore) -> Result<()> {
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
pub fn configure_ips(pod: &Side, ifname: &str, result: &Success) -> Result<()> {
    let nl = &pod.nl;
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
