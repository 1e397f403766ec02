//! A small synchronous rtnetlink client: links (list, MTU, up/down, rename, move to a
//! network namespace, alt-names), addresses and routes, and the PF-side VF settings, on a
//! plain netlink socket.
//!
//! Synchronous on purpose: the CNI plugin and the config daemon make a handful of requests
//! each, so an async runtime would only add start-up time and binary size. Messages are
//! built and parsed with `netlink-packet-route`, sent on a `netlink-sys` socket.
//!
//! A socket belongs to the network namespace it was created in. [`Netlink::in_netns`]
//! creates one inside another namespace from a short-lived thread that joins it, so the
//! process never switches namespaces.
//!
//! Files: `socket.rs` is the request/reply core shared with devlink ([`crate::devlink`]) and
//! RDMA netlink ([`crate::rdma`]); `link.rs` the link requests; `address.rs` addresses and
//! routes; `vf.rs` the PF-side VF attributes.

use std::fs::File;

use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL};
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
use netlink_sys::protocols::NETLINK_ROUTE;
use std::net::IpAddr;

use sriov_core::ib::Guid;
use sriov_core::ids::VfIndex;

use crate::error::{Error, Result};

mod address;
mod link;
mod socket;
mod vf;

pub use link::Link;
pub(crate) use socket::{Channel, open_socket, transact};
pub use vf::{VfSettings, VfState, vf_infos, vf_state};

/// An rtnetlink connection in one network namespace.
#[derive(Debug)]
pub struct Netlink {
    channel: Channel,
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

impl Netlink {
    /// A connection in this process's network namespace.
    pub fn new() -> Result<Self> {
        let socket = open_socket(NETLINK_ROUTE, "NETLINK_ROUTE")?;
        Ok(Self {
            channel: Channel::new(socket),
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
        self.channel.request(message, flags, target, op)
    }

    /// Sends a request that creates something (`NLM_F_CREATE | NLM_F_EXCL`: EEXIST when it
    /// is there already) and waits for the ACK.
    fn create(&self, message: RouteNetlinkMessage, target: &str, op: &'static str) -> Result<()> {
        self.request(message, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, target, op)
            .map(|_| ())
    }
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
