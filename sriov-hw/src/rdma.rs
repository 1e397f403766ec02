//! The RDMA subsystem's network-namespace mode (`status.system.rdmaMode`): `shared` (RDMA
//! devices visible in every namespace) or `exclusive` (each device in one namespace, as
//! RDMA-in-pods needs).
//!
//! Read over RDMA netlink (`RDMA_NLDEV_CMD_SYS_GET`, the query `rdma system show` makes),
//! which reflects runtime changes; when the kernel has no RDMA netlink, the `ib_core`
//! module parameter under the host root; when neither exists, the host has no RDMA and the
//! mode is unknown.

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, NetlinkDeserializable, NetlinkHeader, NetlinkSerializable,
    Nla, NlasIterator,
};

use sriov_core::api::RdmaMode;

use crate::error::Result;
use crate::netlink::{open_socket, transact};
use crate::root::HostRoot;
use crate::sysfs;

/// `NETLINK_RDMA`.
const NETLINK_RDMA: isize = 20;
/// `RDMA_NL_NLDEV`: the device-interface client.
const RDMA_NL_NLDEV: u16 = 5;
/// `RDMA_NLDEV_CMD_SYS_GET`.
const RDMA_NLDEV_CMD_SYS_GET: u16 = 6;
/// `RDMA_NLDEV_SYS_ATTR_NETNS_MODE` (u8: 1 shared, 0 exclusive).
pub const RDMA_NLDEV_SYS_ATTR_NETNS_MODE: u16 = 66;

/// An RDMA netlink message: its type is `client << 10 | op`, its payload attributes only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdmaMessage {
    /// `RDMA_NL_GET_TYPE(client, op)`.
    pub message_type: u16,
    /// Attributes.
    pub attrs: Vec<DefaultNla>,
}

impl RdmaMessage {
    /// The `RDMA_NLDEV_CMD_SYS_GET` request.
    pub fn sys_get() -> Self {
        Self {
            message_type: (RDMA_NL_NLDEV << 10) | RDMA_NLDEV_CMD_SYS_GET,
            attrs: Vec::new(),
        }
    }

    /// The namespace mode a `SYS_GET` reply carries: `shared` or `exclusive`.
    pub fn netns_mode(&self) -> Option<RdmaMode> {
        self.attrs
            .iter()
            .find(|a| a.kind() == RDMA_NLDEV_SYS_ATTR_NETNS_MODE)
            .and_then(|a| {
                let mut value = vec![0u8; a.value_len()];
                a.emit_value(&mut value);
                value.first().copied()
            })
            .map(|v| {
                if v == 0 {
                    RdmaMode::Exclusive
                } else {
                    RdmaMode::Shared
                }
            })
    }
}

impl NetlinkSerializable for RdmaMessage {
    fn message_type(&self) -> u16 {
        self.message_type
    }

    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }

    fn serialize(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer);
    }
}

impl NetlinkDeserializable for RdmaMessage {
    type Error = DecodeError;

    fn deserialize(
        header: &NetlinkHeader,
        payload: &[u8],
    ) -> std::result::Result<Self, DecodeError> {
        let mut attrs = Vec::new();
        for nla in NlasIterator::new(payload) {
            let nla = nla?;
            attrs.push(DefaultNla::new(nla.kind(), nla.value().to_vec()));
        }
        Ok(Self {
            message_type: header.message_type,
            attrs,
        })
    }
}

/// The mode over RDMA netlink in this process's network namespace; `None` when the kernel
/// has no RDMA netlink (no `ib_core`).
pub fn netns_mode_netlink() -> Result<Option<RdmaMode>> {
    let socket = match open_socket(NETLINK_RDMA, "NETLINK_RDMA") {
        Ok(socket) => socket,
        Err(e) if e.errno() == Some(libc::EPROTONOSUPPORT) => return Ok(None),
        Err(e) => return Err(e),
    };
    let replies = transact(
        &socket,
        1,
        RdmaMessage::sys_get(),
        0,
        "RDMA subsystem",
        "read RDMA namespace mode",
    )?;
    Ok(replies.iter().find_map(RdmaMessage::netns_mode))
}

/// The `ib_core` boot parameter under `root` (`Y`: shared, `N`: exclusive); `None` when
/// `ib_core` is not loaded.
pub fn netns_mode_parameter(root: &HostRoot) -> Result<Option<RdmaMode>> {
    let path = root.join("sys/module/ib_core/parameters/netns_mode");
    Ok(sysfs::read_optional(&path)?.and_then(|v| match v.trim() {
        "Y" | "1" => Some(RdmaMode::Shared),
        "N" | "0" => Some(RdmaMode::Exclusive),
        _ => None,
    }))
}

/// The host's RDMA namespace mode: netlink when the host root is this kernel's `/`, else
/// (or when netlink has no answer) the `ib_core` parameter.
pub fn netns_mode(root: &HostRoot) -> Result<Option<RdmaMode>> {
    if root.is_system_root()
        && let Some(mode) = netns_mode_netlink()?
    {
        return Ok(Some(mode));
    }
    netns_mode_parameter(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{NetlinkMessage, NetlinkPayload};

    #[test]
    fn sys_get_request_and_reply_round_trip_through_the_wire_format() {
        let request = NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::InnerMessage(RdmaMessage::sys_get()),
        );
        let mut packet = request;
        packet.finalize();
        let mut bytes = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut bytes);
        // nlmsghdr: length 16, type RDMA_NL_GET_TYPE(5, 6) = 5126.
        assert_eq!(&bytes[..6], &[16, 0, 0, 0, 0x06, 0x14]);

        for (value, mode) in [(1u8, RdmaMode::Shared), (0, RdmaMode::Exclusive)] {
            let reply = RdmaMessage {
                message_type: 5126,
                attrs: vec![DefaultNla::new(RDMA_NLDEV_SYS_ATTR_NETNS_MODE, vec![value])],
            };
            let mut packet = NetlinkMessage::new(
                NetlinkHeader::default(),
                NetlinkPayload::InnerMessage(reply),
            );
            packet.finalize();
            let mut bytes = vec![0u8; packet.buffer_len()];
            packet.serialize(&mut bytes);
            let parsed = NetlinkMessage::<RdmaMessage>::deserialize(&bytes).expect("parses");
            let NetlinkPayload::InnerMessage(message) = parsed.payload else {
                panic!("not an RDMA message");
            };
            assert_eq!(message.netns_mode(), Some(mode));
        }
    }

    #[test]
    fn a_kernel_without_rdma_netlink_is_not_an_error() {
        // Kernels without ib_core (like CI's) answer None; with ib_core, a mode. Neither
        // may be an error.
        netns_mode_netlink().expect("no error either way");
    }

    #[test]
    fn the_ib_core_parameter_is_the_fallback() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = HostRoot::new(dir.path());
        assert_eq!(netns_mode(&root).expect("reads"), None);
        let params = dir.path().join("sys/module/ib_core/parameters");
        std::fs::create_dir_all(&params).expect("mkdir");
        std::fs::write(params.join("netns_mode"), "N\n").expect("write");
        assert_eq!(netns_mode(&root).expect("reads"), Some(RdmaMode::Exclusive));
        std::fs::write(params.join("netns_mode"), "Y\n").expect("write");
        assert_eq!(netns_mode(&root).expect("reads"), Some(RdmaMode::Shared));
    }
}
