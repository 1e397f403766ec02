//! A small synchronous rtnetlink client: links (list, MTU, up/down, rename, move to a
//! network namespace, alt-names) and the PF-side VF settings, on a plain netlink socket.
//!
//! Synchronous on purpose: the CNI plugin and the config daemon make a handful of requests
//! each, so an async runtime would only add start-up time and binary size. Messages are
//! built and parsed with `netlink-packet-route`, sent on a `netlink-sys` socket.
//!
//! A socket belongs to the network namespace it was created in. [`Netlink::in_netns`]
//! creates one inside another namespace from a short-lived thread that joins it, so the
//! process never switches namespaces.

use std::fs::File;
use std::io;
use std::sync::Mutex;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkExtentMask, LinkFlags, LinkInfo, LinkMessage,
    LinkVfInfo, Prop, VfInfo, VfInfoGuid, VfInfoLinkState, VfInfoMac, VfInfoRate, VfInfoSpoofCheck,
    VfInfoTrust, VfInfoVlan, VfLinkState, VfVlan, VfVlanInfo, VlanProtocol,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use std::net::IpAddr;

use sriov_core::ib::Guid;
use sriov_core::ids::VfIndex;

use crate::error::{Error, Result};

/// One VF as its PF reports it (`IFLA_VFINFO_LIST`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VfState {
    /// VF index.
    pub index: VfIndex,
    /// Administrative MAC (all zero when unset).
    pub mac: String,
    /// VLAN ID.
    pub vlan: u32,
    /// VLAN priority.
    pub qos: u32,
    /// VLAN protocol is 802.1ad (reported only by kernels sending the VLAN list).
    pub vlan_qinq: bool,
    /// Spoof checking.
    pub spoofchk: Option<bool>,
    /// Trust mode.
    pub trust: Option<bool>,
    /// Minimum and maximum transmit rate in Mb/s.
    pub rate: Option<(u32, u32)>,
    /// Link state: `auto`, `enable` or `disable`.
    pub link_state: Option<String>,
    /// InfiniBand node GUID, when the driver reports it.
    pub ib_node_guid: Option<u64>,
    /// InfiniBand port GUID, when the driver reports it.
    pub ib_port_guid: Option<u64>,
}

/// PF-side settings for one VF; `None` leaves a setting alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VfSettings {
    /// Administrative MAC, `aa:bb:cc:dd:ee:ff`.
    pub mac: Option<String>,
    /// VLAN ID and priority.
    pub vlan: Option<(u32, u32)>,
    /// VLAN protocol for [`Self::vlan`]: 802.1ad (QinQ) when true, 802.1Q otherwise.
    pub vlan_qinq: bool,
    /// Spoof checking.
    pub spoofchk: Option<bool>,
    /// Trust mode.
    pub trust: Option<bool>,
    /// Minimum and maximum transmit rate in Mb/s.
    pub rate: Option<(u32, u32)>,
    /// Link state: `auto`, `enable` or `disable`.
    pub link_state: Option<String>,
    /// InfiniBand GUID, set as both the node and the port GUID.
    pub ib_guid: Option<u64>,
}

/// A link as netlink reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Link {
    /// Interface index.
    pub index: u32,
    /// Name.
    pub name: String,
    /// Alternative names.
    pub alt_names: Vec<String>,
    /// MTU.
    pub mtu: Option<u32>,
    /// Hardware address.
    pub address: Option<String>,
    /// Administratively up.
    pub up: bool,
    /// Carrier (`IFF_LOWER_UP`, which the kernel reports at once; `IFF_RUNNING` follows
    /// the operational state, which link-watch may update up to a second later).
    pub carrier: bool,
}

/// An rtnetlink connection in one network namespace.
#[derive(Debug)]
pub struct Netlink {
    socket: Mutex<(Socket, u32)>,
}

fn mac_text(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = text
        .split(':')
        .filter_map(|p| u8::from_str_radix(p, 16).ok())
        .collect();
    parts.try_into().ok()
}

pub(crate) fn io_err(op: &'static str, target: &str, e: io::Error) -> Error {
    Error::Kernel {
        op,
        target: target.to_owned(),
        errno: e,
    }
}

impl Netlink {
    /// A connection in this process's network namespace.
    pub fn new() -> Result<Self> {
        let socket = open_socket(NETLINK_ROUTE, "NETLINK_ROUTE")?;
        Ok(Self {
            socket: Mutex::new((socket, 1)),
        })
    }

    /// A connection inside the network namespace `netns` (a `/proc/<pid>/ns/net` or
    /// `/run/netns/<name>` file), made from a thread that joins it and exits.
    pub fn in_netns(netns: &File) -> Result<Self> {
        crate::netns::run_in(netns, Self::new)?
    }

    /// Sends one request and collects the replies until the ACK or the end of the dump.
    fn request(
        &self,
        message: RouteNetlinkMessage,
        flags: u16,
        target: &str,
        op: &'static str,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        let mut guard = self.socket.lock().unwrap_or_else(|e| e.into_inner());
        let (socket, sequence) = &mut *guard;
        *sequence = sequence.wrapping_add(1);
        transact(socket, *sequence, message, flags, target, op)
    }

    fn link_message(name: &str) -> LinkMessage {
        let mut message = LinkMessage::default();
        message
            .attributes
            .push(LinkAttribute::IfName(name.to_owned()));
        message
    }

    fn to_link(message: &LinkMessage) -> Link {
        let mut link = Link {
            index: message.header.index,
            up: message.header.flags.contains(LinkFlags::Up),
            carrier: message.header.flags.contains(LinkFlags::LowerUp),
            ..Default::default()
        };
        for attribute in &message.attributes {
            match attribute {
                LinkAttribute::IfName(name) => link.name = name.clone(),
                LinkAttribute::Mtu(mtu) => link.mtu = Some(*mtu),
                LinkAttribute::Address(address) => link.address = Some(mac_text(address)),
                LinkAttribute::PropList(props) => {
                    link.alt_names.extend(props.iter().filter_map(|p| match p {
                        Prop::AltIfName(name) => Some(name.clone()),
                        _ => None,
                    }))
                }
                _ => {}
            }
        }
        link
    }

    /// Every link.
    pub fn links(&self) -> Result<Vec<Link>> {
        let replies = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
            "*",
            "list links",
        )?;
        Ok(replies
            .iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewLink(m) => Some(Self::to_link(m)),
                _ => None,
            })
            .collect())
    }

    fn get(&self, name: &str, with_vfs: bool) -> Result<LinkMessage> {
        let mut message = Self::link_message(name);
        if with_vfs {
            message
                .attributes
                .push(LinkAttribute::ExtMask(vec![LinkExtentMask::Vf]));
        }
        let replies = self.request(RouteNetlinkMessage::GetLink(message), 0, name, "get link")?;
        replies
            .into_iter()
            .find_map(|r| match r {
                RouteNetlinkMessage::NewLink(m) => Some(m),
                _ => None,
            })
            .ok_or_else(|| Error::NotFound {
                what: "network interface",
                name: name.to_owned(),
            })
    }

    /// One link by name.
    pub fn link(&self, name: &str) -> Result<Link> {
        self.get(name, false).map(|m| Self::to_link(&m))
    }

    fn set(
        &self,
        name: &str,
        op: &'static str,
        change: impl FnOnce(&mut LinkMessage),
    ) -> Result<()> {
        let index = self.get(name, false)?.header.index;
        let mut message = LinkMessage::default();
        message.header.index = index;
        change(&mut message);
        self.request(RouteNetlinkMessage::SetLink(message), NLM_F_ACK, name, op)
            .map(|_| ())
    }

    /// Sets the MTU.
    pub fn set_mtu(&self, name: &str, mtu: u32) -> Result<()> {
        self.set(name, "set MTU", |m| {
            m.attributes.push(LinkAttribute::Mtu(mtu))
        })
    }

    /// Brings the link up or down.
    pub fn set_admin_up(&self, name: &str, up: bool) -> Result<()> {
        self.set(
            name,
            if up { "set link up" } else { "set link down" },
            |m| {
                m.header.change_mask = LinkFlags::Up;
                if up {
                    m.header.flags = LinkFlags::Up;
                }
            },
        )
    }

    /// Renames the link (it must be down).
    pub fn rename(&self, name: &str, new_name: &str) -> Result<()> {
        self.set(name, "rename link", |m| {
            m.attributes
                .push(LinkAttribute::IfName(new_name.to_owned()))
        })
    }

    /// Sets the hardware address.
    pub fn set_address(&self, name: &str, mac: &str) -> Result<()> {
        let bytes = parse_mac(mac).ok_or_else(|| Error::Parse {
            path: name.into(),
            content: mac.to_owned(),
            expected: "a MAC address aa:bb:cc:dd:ee:ff",
        })?;
        self.set(name, "set MAC address", |m| {
            m.attributes.push(LinkAttribute::Address(bytes.to_vec()))
        })
    }

    /// Moves the link into the network namespace `netns`.
    pub fn move_to_netns(&self, name: &str, netns: &File) -> Result<()> {
        use std::os::fd::AsRawFd;
        let fd = netns.as_raw_fd();
        self.set(name, "move link to network namespace", |m| {
            m.attributes.push(LinkAttribute::NetNsFd(fd))
        })
    }

    /// Moves the link into `netns` and gives it `new_name` there, in one request: the name
    /// is checked only in the target namespace, so neither side's names can clash on the
    /// way (EEXIST means `new_name` is taken in the target).
    pub fn move_to_netns_as(&self, name: &str, netns: &File, new_name: &str) -> Result<()> {
        use std::os::fd::AsRawFd;
        let fd = netns.as_raw_fd();
        self.set(name, "move link to network namespace", |m| {
            m.attributes.push(LinkAttribute::NetNsFd(fd));
            m.attributes
                .push(LinkAttribute::IfName(new_name.to_owned()));
        })
    }

    /// Adds an alternative name (`ip link property add ... altname ...`).
    pub fn add_alt_name(&self, name: &str, alt_name: &str) -> Result<()> {
        let index = self.get(name, false)?.header.index;
        let mut message = LinkMessage::default();
        message.header.index = index;
        message
            .attributes
            .push(LinkAttribute::PropList(vec![Prop::AltIfName(
                alt_name.to_owned(),
            )]));
        self.request(
            RouteNetlinkMessage::NewLinkProp(message),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            name,
            "add alt-name",
        )
        .map(|_| ())
    }

    /// Removes an alternative name (`ip link property del ... altname ...`).
    pub fn del_alt_name(&self, name: &str, alt_name: &str) -> Result<()> {
        let index = self.get(name, false)?.header.index;
        let mut message = LinkMessage::default();
        message.header.index = index;
        message
            .attributes
            .push(LinkAttribute::PropList(vec![Prop::AltIfName(
                alt_name.to_owned(),
            )]));
        self.request(
            RouteNetlinkMessage::DelLinkProp(message),
            NLM_F_ACK,
            name,
            "remove alt-name",
        )
        .map(|_| ())
    }

    /// Adds an IP address with its prefix length to a link.
    pub fn add_address(&self, name: &str, address: IpAddr, prefix_len: u8) -> Result<()> {
        let index = self.get(name, false)?.header.index;
        let mut message = AddressMessage::default();
        message.header.family = family(address);
        message.header.prefix_len = prefix_len;
        message.header.index = index;
        message.attributes.push(AddressAttribute::Local(address));
        message.attributes.push(AddressAttribute::Address(address));
        self.request(
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            name,
            "add address",
        )
        .map(|_| ())
    }

    /// The IP addresses of a link, with prefix lengths.
    pub fn addresses(&self, name: &str) -> Result<Vec<(IpAddr, u8)>> {
        let index = self.get(name, false)?.header.index;
        let replies = self.request(
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            NLM_F_DUMP,
            name,
            "list addresses",
        )?;
        let mut out = Vec::new();
        for reply in replies {
            let RouteNetlinkMessage::NewAddress(m) = reply else {
                continue;
            };
            if m.header.index != index {
                continue;
            }
            let address = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Address(ip) => Some(*ip),
                _ => None,
            });
            if let Some(address) = address {
                out.push((address, m.header.prefix_len));
            }
        }
        Ok(out)
    }

    /// Adds a route through a link: to `destination` (`None`: the default route) via
    /// `gateway` (`None`: directly connected).
    pub fn add_route(
        &self,
        name: &str,
        destination: Option<(IpAddr, u8)>,
        gateway: Option<IpAddr>,
    ) -> Result<()> {
        let index = self.get(name, false)?.header.index;
        let v6 = match (destination, gateway) {
            (Some((d, _)), _) => d.is_ipv6(),
            (None, Some(g)) => g.is_ipv6(),
            (None, None) => false,
        };
        let mut message = RouteMessage::default();
        message.header.address_family = if v6 {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        message.header.table = RouteHeader::RT_TABLE_MAIN;
        message.header.protocol = RouteProtocol::Boot;
        message.header.kind = RouteType::Unicast;
        message.header.scope = if gateway.is_some() {
            RouteScope::Universe
        } else {
            RouteScope::Link
        };
        if let Some((dst, len)) = destination
            && len > 0
        {
            message.header.destination_prefix_length = len;
            message
                .attributes
                .push(RouteAttribute::Destination(RouteAddress::from(dst)));
        }
        if let Some(gw) = gateway {
            message
                .attributes
                .push(RouteAttribute::Gateway(RouteAddress::from(gw)));
        }
        message.attributes.push(RouteAttribute::Oif(index));
        self.request(
            RouteNetlinkMessage::NewRoute(message),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            name,
            "add route",
        )
        .map(|_| ())
    }

    /// Creates a veth pair (for tests standing in for VF netdevs).
    pub fn add_veth(&self, name: &str, peer: &str) -> Result<()> {
        let mut message = Self::link_message(name);
        message.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(Self::link_message(peer)))),
        ]));
        self.request(
            RouteNetlinkMessage::NewLink(message),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            name,
            "create veth pair",
        )
        .map(|_| ())
    }

    /// The VFs a PF reports.
    pub fn vf_states(&self, pf: &str) -> Result<Vec<VfState>> {
        let message = self.get(pf, true)?;
        let mut out = Vec::new();
        for attribute in &message.attributes {
            let LinkAttribute::VfInfoList(list) = attribute else {
                continue;
            };
            for LinkVfInfo(infos) in list {
                out.push(vf_state(infos));
            }
        }
        Ok(out)
    }

    /// Applies PF-side settings to VF `vf` of `pf`.
    pub fn set_vf(&self, pf: &str, vf: VfIndex, settings: &VfSettings) -> Result<()> {
        let infos = vf_infos(u32::from(vf), settings).map_err(|content| Error::Parse {
            path: format!("{pf} VF {vf}").into(),
            content,
            expected: "a MAC address aa:bb:cc:dd:ee:ff and a link state auto/enable/disable",
        })?;
        self.set(pf, "set VF", |m| {
            m.attributes
                .push(LinkAttribute::VfInfoList(vec![LinkVfInfo(infos)]))
        })
    }
}

fn family(address: IpAddr) -> AddressFamily {
    if address.is_ipv6() {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    }
}

/// A netlink socket of `protocol`, bound to a kernel-chosen port.
pub(crate) fn open_socket(protocol: isize, name: &str) -> Result<Socket> {
    let mut socket = Socket::new(protocol).map_err(|e| io_err("open netlink socket", name, e))?;
    socket
        .bind_auto()
        .map_err(|e| io_err("bind netlink socket", name, e))?;
    Ok(socket)
}

/// Sends one request on `socket` and collects the replies until the ACK or the end of the
/// dump; an error reply becomes an error with its errno.
pub(crate) fn transact<I>(
    socket: &Socket,
    sequence: u32,
    message: I,
    flags: u16,
    target: &str,
    op: &'static str,
) -> Result<Vec<I>>
where
    I: netlink_packet_core::NetlinkSerializable
        + netlink_packet_core::NetlinkDeserializable
        + std::fmt::Debug,
{
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | flags;
    header.sequence_number = sequence;
    let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(message));
    packet.finalize();
    let mut buf = vec![0u8; packet.buffer_len()];
    packet.serialize(&mut buf);
    socket
        .send_to(&buf, &SocketAddr::new(0, 0), 0)
        .map_err(|e| io_err(op, target, e))?;
    let mut replies = Vec::new();
    loop {
        let (bytes, _) = socket.recv_from_full().map_err(|e| io_err(op, target, e))?;
        let mut offset = 0;
        while offset < bytes.len() {
            let reply = NetlinkMessage::<I>::deserialize(&bytes[offset..]).map_err(|e| {
                io_err(
                    op,
                    target,
                    io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
                )
            })?;
            let length = reply.header.length as usize;
            match reply.payload {
                NetlinkPayload::Done(_) => return Ok(replies),
                NetlinkPayload::Error(error) => {
                    return match error.code {
                        None => Ok(replies),
                        Some(code) => Err(io_err(
                            op,
                            target,
                            io::Error::from_raw_os_error(-code.get()),
                        )),
                    };
                }
                NetlinkPayload::InnerMessage(inner) => {
                    replies.push(inner);
                    if flags & NLM_F_DUMP == 0 && flags & NLM_F_ACK == 0 {
                        return Ok(replies);
                    }
                }
                _ => {}
            }
            if length == 0 {
                break;
            }
            offset += (length + 3) & !3;
        }
    }
}

/// The `IFLA_VF_*` attributes for `settings`; the error is the offending value.
pub fn vf_infos(vf: u32, settings: &VfSettings) -> std::result::Result<Vec<VfInfo>, String> {
    let mut infos = Vec::new();
    if let Some(mac) = &settings.mac {
        let bytes = parse_mac(mac).ok_or_else(|| mac.clone())?;
        infos.push(VfInfo::Mac(VfInfoMac::new(vf, &bytes)));
    }
    if let Some((vlan, qos)) = settings.vlan {
        if settings.vlan_qinq {
            // The protocol only travels in the VLAN list (IFLA_VF_VLAN_LIST).
            infos.push(VfInfo::VlanList(vec![VfVlan::Info(VfVlanInfo::new(
                vf,
                vlan,
                qos,
                VlanProtocol::Ieee8021Ad,
            ))]));
        } else {
            infos.push(VfInfo::Vlan(VfInfoVlan::new(vf, vlan, qos)));
        }
    }
    if let Some(on) = settings.spoofchk {
        infos.push(VfInfo::SpoofCheck(VfInfoSpoofCheck::new(vf, on)));
    }
    if let Some(on) = settings.trust {
        infos.push(VfInfo::Trust(VfInfoTrust::new(vf, on)));
    }
    if let Some((min, max)) = settings.rate {
        infos.push(VfInfo::Rate(VfInfoRate::new(vf, min, max)));
    }
    if let Some(state) = &settings.link_state {
        let state = match state.as_str() {
            "auto" => VfLinkState::Auto,
            "enable" => VfLinkState::Enable,
            "disable" => VfLinkState::Disable,
            other => return Err(other.to_owned()),
        };
        infos.push(VfInfo::LinkState(VfInfoLinkState::new(vf, state)));
    }
    if let Some(guid) = settings.ib_guid {
        infos.push(VfInfo::IbNodeGuid(VfInfoGuid::new(vf, guid)));
        infos.push(VfInfo::IbPortGuid(VfInfoGuid::new(vf, guid)));
    }
    Ok(infos)
}

/// Reads one `IFLA_VF_INFO` nest.
pub fn vf_state(infos: &[VfInfo]) -> VfState {
    let mut state = VfState::default();
    for info in infos {
        match info {
            VfInfo::Mac(m) => {
                // The kernel's VF IDs are `sriov_numvfs` indexes, which fit in 16 bits.
                if let Ok(index) = VfIndex::try_from(m.vf_id) {
                    state.index = index;
                }
                state.mac = mac_text(&m.mac[..6]);
            }
            VfInfo::Vlan(v) => (state.vlan, state.qos) = (v.vlan_id, v.qos),
            VfInfo::VlanList(list) => {
                for entry in list {
                    if let VfVlan::Info(v) = entry {
                        (state.vlan, state.qos) = (v.vlan_id, v.qos);
                        state.vlan_qinq = v.protocol == VlanProtocol::Ieee8021Ad;
                    }
                }
            }
            VfInfo::SpoofCheck(s) => state.spoofchk = Some(s.enabled),
            VfInfo::Trust(t) => state.trust = Some(t.enabled),
            VfInfo::Rate(r) => state.rate = Some((r.min_tx_rate, r.max_tx_rate)),
            VfInfo::IbNodeGuid(g) => state.ib_node_guid = Some(g.guid),
            VfInfo::IbPortGuid(g) => state.ib_port_guid = Some(g.guid),
            VfInfo::LinkState(l) => {
                state.link_state = Some(
                    match l.state {
                        VfLinkState::Auto => "auto",
                        VfLinkState::Enable => "enable",
                        VfLinkState::Disable => "disable",
                        _ => "unknown",
                    }
                    .to_owned(),
                );
            }
            _ => {}
        }
    }
    state
}

impl crate::link::LinkQuery for Netlink {
    fn alt_names(&self, ifname: &str) -> Vec<String> {
        self.link(ifname).map(|l| l.alt_names).unwrap_or_default()
    }

    fn eswitch_mode(&self, _pci: &str) -> Result<Option<String>> {
        // devlink, not rtnetlink: [`crate::live::LiveLinks`] asks devlink.
        Ok(None)
    }
}

impl crate::link::LinkOps for Netlink {
    fn set_mtu(&self, ifname: &str, mtu: u32) -> Result<()> {
        Netlink::set_mtu(self, ifname, mtu)
    }

    fn set_up(&self, ifname: &str) -> Result<()> {
        self.set_admin_up(ifname, true)
    }

    fn set_vf_mac(&self, pf_netdev: &str, vf: VfIndex, mac: &str) -> Result<()> {
        self.set_vf(
            pf_netdev,
            vf,
            &VfSettings {
                mac: Some(mac.to_owned()),
                ..Default::default()
            },
        )
    }

    fn set_vf_guid(&self, pf_netdev: &str, vf: VfIndex, guid: Guid) -> Result<()> {
        self.set_vf(
            pf_netdev,
            vf,
            &VfSettings {
                ib_guid: Some(guid.0),
                ..Default::default()
            },
        )
    }
}

impl crate::link::VfControl for Netlink {
    fn vf_states(&self, pf_netdev: &str) -> Result<Vec<VfState>> {
        Netlink::vf_states(self, pf_netdev)
    }

    fn set_vf(&self, pf_netdev: &str, vf: VfIndex, settings: &VfSettings) -> Result<()> {
        Netlink::set_vf(self, pf_netdev, vf, settings)
    }
}
