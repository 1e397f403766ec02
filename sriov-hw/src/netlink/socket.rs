//! The request/reply core every netlink family here uses (rtnetlink, generic netlink for
//! devlink, RDMA netlink): open a socket, send one request, collect the replies until the
//! ACK or the end of a dump, and turn an error reply into its errno.

use std::io;
use std::sync::Mutex;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_sys::{Socket, SocketAddr};

use crate::error::{Error, Result};

/// A netlink family's message: what [`transact`] sends and parses.
pub(crate) trait Message:
    netlink_packet_core::NetlinkSerializable
    + netlink_packet_core::NetlinkDeserializable
    + std::fmt::Debug
{
}

impl<T> Message for T where
    T: netlink_packet_core::NetlinkSerializable
        + netlink_packet_core::NetlinkDeserializable
        + std::fmt::Debug
{
}

pub(crate) fn io_err(op: &'static str, target: &str, e: io::Error) -> Error {
    Error::Kernel {
        op,
        target: target.to_owned(),
        errno: e,
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
pub(crate) fn transact<I: Message>(
    socket: &Socket,
    sequence: u32,
    message: I,
    flags: u16,
    target: &str,
    op: &'static str,
) -> Result<Vec<I>> {
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

/// A socket with its request sequence numbers, shared between threads: one request at a
/// time.
#[derive(Debug)]
pub(crate) struct Channel {
    socket: Mutex<(Socket, u32)>,
}

impl Channel {
    /// Requests on `socket`, numbered from 2 (1 is left for a set-up request made on the
    /// socket before, such as resolving a generic-netlink family).
    pub(crate) fn new(socket: Socket) -> Self {
        Self {
            socket: Mutex::new((socket, 1)),
        }
    }

    /// Sends one request with the next sequence number (see [`transact`]).
    pub(crate) fn request<I: Message>(
        &self,
        message: I,
        flags: u16,
        target: &str,
        op: &'static str,
    ) -> Result<Vec<I>> {
        let mut guard = self.socket.lock().unwrap_or_else(|e| e.into_inner());
        let (socket, sequence) = &mut *guard;
        *sequence = sequence.wrapping_add(1);
        transact(socket, *sequence, message, flags, target, op)
    }
}
