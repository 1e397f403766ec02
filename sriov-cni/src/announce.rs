//! Announcing a pod's new addresses so neighbours update their caches at once: one
//! gratuitous ARP per IPv4 address and one unsolicited Neighbor Advertisement (override
//! flag, to all-nodes) per IPv6 address, after waiting briefly for carrier. Best effort,
//! as upstream: a failure here never fails the attachment.
//!
//! With the interface's `arp_notify` and `ndisc_notify` on (the plugin turns them on, as
//! upstream does), the kernel itself sends exactly these announcements when the link's MAC
//! is set, so re-setting the current MAC is the whole job: one netlink request. Sending
//! from user space (an `AF_PACKET` socket for ARP, a raw ICMPv6 socket for NA) is the
//! fallback; closing an `AF_PACKET` socket waits for an RCU grace period (about 10 ms
//! here), which is most of what upstream's announcement costs a pod start.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrIn6, sendto, setsockopt,
    socket, sockopt,
};
use sriov_hw::netlink::Netlink;

/// Waits up to 200 ms for the link to be up with carrier (polling 2 ms, growing ×1.5).
/// Carrier is read from `IFF_LOWER_UP`: upstream waits for `IFF_RUNNING`, which follows the
/// operational state that the kernel's link-watch may publish up to a second late.
pub fn wait_for_carrier(nl: &Netlink, ifname: &str) -> bool {
    let start = Instant::now();
    let mut pause = Duration::from_millis(2);
    while start.elapsed() < Duration::from_millis(200) {
        if nl.link(ifname).is_ok_and(|l| l.up && l.carrier) {
            return true;
        }
        std::thread::sleep(pause);
        pause = pause.mul_f32(1.5);
    }
    false
}

/// The ARP request announcing `ip` from `mac` (sender and target address both `ip`).
pub fn garp_payload(mac: [u8; 6], ip: Ipv4Addr) -> [u8; 28] {
    let mut p = [0u8; 28];
    p[0..2].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    p[2..4].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    p[4] = 6;
    p[5] = 4;
    p[6..8].copy_from_slice(&1u16.to_be_bytes()); // request
    p[8..14].copy_from_slice(&mac);
    p[14..18].copy_from_slice(&ip.octets());
    p[24..28].copy_from_slice(&ip.octets());
    p
}

/// The unsolicited Neighbor Advertisement for `ip` with `mac` as target link-layer address
/// (the kernel fills in the checksum of raw ICMPv6 sockets).
pub fn na_payload(mac: [u8; 6], ip: Ipv6Addr) -> [u8; 32] {
    let mut p = [0u8; 32];
    p[0] = 136; // Neighbor Advertisement
    p[4] = 0x20; // override
    p[8..24].copy_from_slice(&ip.octets());
    p[24] = 2; // target link-layer address option
    p[25] = 1; // 8 bytes
    p[26..32].copy_from_slice(&mac);
    p
}

#[allow(unsafe_code)]
fn send_garp(ifindex: u32, mac: [u8; 6], ip: Ipv4Addr) -> std::io::Result<()> {
    let protocol = (libc::ETH_P_ARP as u16).to_be();
    let fd = socket(
        AddressFamily::Packet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let payload = garp_payload(mac, ip);
    // SAFETY: sockaddr_ll is plain data; zeroed is a valid value for every field.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = protocol;
    addr.sll_ifindex = i32::try_from(ifindex).map_err(std::io::Error::other)?;
    addr.sll_halen = 6;
    addr.sll_addr[..6].copy_from_slice(&[0xff; 6]);
    // SAFETY: the buffer and the address point to live, correctly sized values for the
    // duration of the call; the socket is owned by `fd`.
    let sent = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            payload.as_ptr().cast(),
            payload.len(),
            0,
            std::ptr::from_ref(&addr).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn send_na(ifname: &str, ifindex: u32, mac: [u8; 6], ip: Ipv6Addr) -> std::io::Result<()> {
    let fd = socket(
        AddressFamily::Inet6,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::IcmpV6,
    )?;
    setsockopt(
        &fd,
        sockopt::BindToDevice,
        &std::ffi::OsString::from(ifname),
    )?;
    setsockopt(&fd, sockopt::Ipv6MulticastHops, &255)?;
    let all_nodes = SockaddrIn6::from(std::net::SocketAddrV6::new(
        Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
        0,
        0,
        ifindex,
    ));
    sendto(
        fd.as_raw_fd(),
        &na_payload(mac, ip),
        &all_nodes,
        MsgFlags::empty(),
    )?;
    Ok(())
}

fn mac_bytes(text: &str) -> Option<[u8; 6]> {
    let bytes: Vec<u8> = text
        .split(':')
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    bytes.try_into().ok()
}

/// Announces `ips` on `ifname` (call from a thread inside the pod's namespace): through the
/// kernel when its notifications cover every address family present, else from user
/// space. Returns how many announcements were sent.
pub fn announce(nl: &Netlink, ifname: &str, ips: &[IpAddr], notify: crate::pod::Notify) -> usize {
    let kernel_notify = ips.iter().all(|ip| {
        if ip.is_ipv4() {
            notify.arp
        } else {
            notify.ndisc
        }
    });
    wait_for_carrier(nl, ifname);
    let Ok(link) = nl.link(ifname) else { return 0 };
    let Some(text) = link.address.as_deref() else {
        return 0;
    };
    if kernel_notify && nl.set_address(ifname, text).is_ok() {
        return ips.len();
    }
    let Some(mac) = mac_bytes(text) else {
        return 0;
    };
    ips.iter()
        .filter(|ip| match ip {
            IpAddr::V4(v4) => send_garp(link.index, mac, *v4).is_ok(),
            IpAddr::V6(v6) => send_na(ifname, link.index, mac, *v6).is_ok(),
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_have_the_wire_layout() {
        let mac = [0x02, 0, 0, 0, 0, 0x01];
        let garp = garp_payload(mac, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(&garp[..8], &[0, 1, 8, 0, 6, 4, 0, 1]);
        assert_eq!(&garp[14..18], &garp[24..28]);
        assert_eq!(&garp[18..24], &[0; 6], "target hardware address unknown");
        let na = na_payload(mac, "fd00::2".parse().unwrap());
        assert_eq!((na[0], na[4], na[24], na[25]), (136, 0x20, 2, 1));
        assert_eq!(&na[26..], &mac);
    }
}
