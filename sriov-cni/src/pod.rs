//! The VF netdev and the pod: moving it in through a private temporary namespace (so its
//! name clashes with nothing on either side), renaming it, clearing alt-names that would
//! block later renames, setting its MAC and bringing it up; configuring addresses and
//! routes; and releasing it back to the host under its original name, MAC and MTU.
//!
//! All netlink work happens on connections opened inside the namespace concerned; the
//! process itself never changes namespace.

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

fn connect(ns: &File, which: &str) -> Result<Netlink> {
    Netlink::in_netns(ns).map_err(|e| {
        pod_err(
            format!("failed to open netlink in the {which} namespace"),
            e,
        )
    })
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

fn sysctl(pod: &File, path: String) {
    // Best effort, as upstream: a missing knob (IPv6 disabled) is no reason to fail.
    let _ = netns::run_in(pod, move || std::fs::write(path, "1"));
}

/// How many times the netdev MAC is set and checked.
const MAC_RETRIES: u32 = 20;

/// Moves host netdev `vf` into `pod` as `ifname`; on failure it is back in `host` under its
/// name. Then (in the pod) enables ARP/ND notifications, sets `mac` if given (verified),
/// enables optimistic DAD and brings the link up.
pub fn move_in(
    host: &File,
    host_nl: &Netlink,
    vf: &str,
    pod: &File,
    ifname: &str,
    mac: Option<&str>,
) -> Result<()> {
    let temp = netns::create().map_err(|e| pod_err("failed to create a temporary namespace", e))?;
    host_nl
        .move_to_netns(vf, &temp)
        .map_err(|e| pod_err(format!("failed to move {vf} out of the host namespace"), e))?;
    let temp_nl = connect(&temp, "temporary")?;
    let moved = (|| {
        if vf != ifname {
            temp_nl
                .rename(vf, ifname)
                .map_err(|e| pod_err(format!("failed to rename {vf} to {ifname}"), e))?;
        }
        drop_alt_name(&temp_nl, ifname, vf);
        temp_nl.move_to_netns(ifname, pod).map_err(|e| {
            if e.errno() == Some(libc::EEXIST) {
                CniError::new(
                    code::POD_INTERFACE,
                    format!("interface {ifname} already exists in the pod"),
                )
                .details(e.to_string())
            } else {
                pod_err(format!("failed to move {ifname} into the pod"), e)
            }
        })
    })();
    if let Err(e) = moved {
        // Back to the host under the original name; whatever name it has now.
        let current = if temp_nl.link(ifname).is_ok() {
            ifname
        } else {
            vf
        };
        if current != vf {
            let _ = temp_nl.rename(current, vf);
        }
        drop_alt_name(&temp_nl, vf, ifname);
        if let Err(back) = temp_nl.move_to_netns(vf, host) {
            return Err(CniError {
                details: format!("{}; rollback failed: {back}", e.details),
                ..e
            });
        }
        return Err(e);
    }
    let pod_nl = connect(pod, "pod")?;
    sysctl(pod, format!("/proc/sys/net/ipv4/conf/{ifname}/arp_notify"));
    sysctl(
        pod,
        format!("/proc/sys/net/ipv6/conf/{ifname}/ndisc_notify"),
    );
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
    sysctl(
        pod,
        format!("/proc/sys/net/ipv6/conf/{ifname}/optimistic_dad"),
    );
    pod_nl
        .set_admin_up(ifname, true)
        .map_err(|e| pod_err("error bringing interface up in container ns", e))
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

fn restore_link(nl: &Netlink, link: &str, restore: &Restore) -> Result<()> {
    nl.set_admin_up(link, false)
        .map_err(|e| pod_err(format!("failed to set {link} down"), e))?;
    if !restore.mac.is_empty() {
        nl.set_address(link, &restore.mac)
            .map_err(|e| pod_err(format!("failed to restore the MAC of {link}"), e))?;
    }
    if restore.mtu > 0 {
        nl.set_mtu(link, restore.mtu)
            .map_err(|e| pod_err(format!("failed to restore the MTU of {link}"), e))?;
    }
    Ok(())
}

/// Moves `ifname` from `pod` back to `host`, restoring name, MAC and MTU.
pub fn release(pod: &File, ifname: &str, host: &File, restore: &Restore) -> Result<()> {
    let pod_nl = connect(pod, "pod")?;
    restore_link(&pod_nl, ifname, restore)?;
    let temp = netns::create().map_err(|e| pod_err("failed to create a temporary namespace", e))?;
    pod_nl
        .move_to_netns(ifname, &temp)
        .map_err(|e| pod_err(format!("failed to move {ifname} out of the pod"), e))?;
    let temp_nl = connect(&temp, "temporary")?;
    let name = if restore.name.is_empty() {
        ifname
    } else {
        restore.name.as_str()
    };
    if name != ifname {
        temp_nl
            .rename(ifname, name)
            .map_err(|e| pod_err(format!("failed to rename {ifname} back to {name}"), e))?;
    }
    drop_alt_name(&temp_nl, name, ifname);
    temp_nl.move_to_netns(name, host).map_err(|e| {
        pod_err(
            format!("failed to move {name} back to the host namespace"),
            e,
        )
    })
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
pub fn configure_ips(pod: &File, ifname: &str, result: &Success) -> Result<()> {
    let nl = connect(pod, "pod")?;
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
