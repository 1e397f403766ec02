//! Devlink over generic netlink: reading and setting a PF's e-switch mode (`legacy` or
//! `switchdev`), which rtnetlink does not cover.
//!
//! The generic-netlink framing is small enough to write here (a 4-byte command header
//! followed by attributes); the request loop is the one the rtnetlink client uses.

use netlink_packet_core::Nla;
use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, NLM_F_ACK, NetlinkDeserializable, NetlinkHeader,
    NetlinkSerializable, NlasIterator,
};
use netlink_sys::{Socket, protocols::NETLINK_GENERIC};

use crate::error::{Error, Result};
use crate::netlink::{Channel, open_socket, transact};

const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const DEVLINK_CMD_ESWITCH_GET: u8 = 29;
const DEVLINK_CMD_ESWITCH_SET: u8 = 30;
const DEVLINK_ATTR_BUS_NAME: u16 = 1;
const DEVLINK_ATTR_DEV_NAME: u16 = 2;
const DEVLINK_ATTR_ESWITCH_MODE: u16 = 25;
const DEVLINK_CMD_INFO_GET: u8 = 51;
const DEVLINK_ATTR_INFO_VERSION_RUNNING: u16 = 101;
const DEVLINK_ATTR_INFO_VERSION_NAME: u16 = 103;
const DEVLINK_ATTR_INFO_VERSION_VALUE: u16 = 104;

/// One generic-netlink message: family (the netlink message type), command, attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenlMessage {
    /// Family ID.
    pub family: u16,
    /// Command.
    pub cmd: u8,
    /// Attributes.
    pub attrs: Vec<DefaultNla>,
}

impl NetlinkSerializable for GenlMessage {
    fn message_type(&self) -> u16 {
        self.family
    }

    fn buffer_len(&self) -> usize {
        4 + self.attrs.as_slice().buffer_len()
    }

    fn serialize(&self, buffer: &mut [u8]) {
        buffer[0] = self.cmd;
        buffer[1] = 1;
        buffer[2] = 0;
        buffer[3] = 0;
        self.attrs.as_slice().emit(&mut buffer[4..]);
    }
}

impl NetlinkDeserializable for GenlMessage {
    type Error = DecodeError;

    fn deserialize(
        header: &NetlinkHeader,
        payload: &[u8],
    ) -> std::result::Result<Self, DecodeError> {
        let (Some(&cmd), Some(rest)) = (payload.first(), payload.get(4..)) else {
            return Err(DecodeError::from("generic netlink header too short"));
        };
        let mut attrs = Vec::new();
        for nla in NlasIterator::new(rest) {
            let nla = nla?;
            attrs.push(DefaultNla::new(nla.kind(), nla.value().to_vec()));
        }
        Ok(Self {
            family: header.message_type,
            cmd,
            attrs,
        })
    }
}

fn string_attr(kind: u16, value: &str) -> DefaultNla {
    let mut bytes = value.as_bytes().to_vec();
    bytes.push(0);
    DefaultNla::new(kind, bytes)
}

/// Opens a generic-netlink socket and resolves family `name` to its ID.
fn open_family(name: &str) -> Result<(Socket, u16)> {
    let socket = open_socket(NETLINK_GENERIC, "NETLINK_GENERIC")?;
    let request = GenlMessage {
        family: GENL_ID_CTRL,
        cmd: CTRL_CMD_GETFAMILY,
        attrs: vec![string_attr(CTRL_ATTR_FAMILY_NAME, name)],
    };
    let replies = transact(
        &socket,
        1,
        request,
        0,
        name,
        "resolve generic netlink family",
    )?;
    let family = replies
        .iter()
        .find_map(|r| value_of(r, CTRL_ATTR_FAMILY_ID))
        .and_then(|v| v.get(..2).map(|b| u16::from_ne_bytes([b[0], b[1]])))
        .ok_or_else(|| Error::NotFound {
            what: "generic netlink family",
            name: name.into(),
        })?;
    Ok((socket, family))
}

/// The ID of generic-netlink family `name` (`nlctrl` is always 0x10).
pub fn family_id(name: &str) -> Result<u16> {
    open_family(name).map(|(_, id)| id)
}

/// A devlink connection.
#[derive(Debug)]
pub struct Devlink {
    channel: Channel,
    family: u16,
}

fn value_of(message: &GenlMessage, kind: u16) -> Option<Vec<u8>> {
    message.attrs.iter().find(|a| a.kind() == kind).map(|a| {
        let mut value = vec![0u8; a.value_len()];
        a.emit_value(&mut value);
        value
    })
}

impl Devlink {
    /// Opens a generic-netlink socket and looks up the devlink family; an error when the
    /// kernel has no devlink.
    pub fn new() -> Result<Self> {
        let (socket, family) = open_family("devlink")?;
        Ok(Self {
            channel: Channel::new(socket),
            family,
        })
    }

    fn request(
        &self,
        cmd: u8,
        pci: &str,
        extra: Vec<DefaultNla>,
        flags: u16,
        op: &'static str,
    ) -> Result<Vec<GenlMessage>> {
        let mut attrs = vec![
            string_attr(DEVLINK_ATTR_BUS_NAME, "pci"),
            string_attr(DEVLINK_ATTR_DEV_NAME, pci),
        ];
        attrs.extend(extra);
        self.channel.request(
            GenlMessage {
                family: self.family,
                cmd,
                attrs,
            },
            flags,
            pci,
            op,
        )
    }

    /// The e-switch mode of the PF at `pci`: `legacy` or `switchdev`.
    pub fn eswitch_mode(&self, pci: &str) -> Result<String> {
        let replies = self.request(
            DEVLINK_CMD_ESWITCH_GET,
            pci,
            Vec::new(),
            0,
            "get e-switch mode",
        )?;
        let mode = replies
            .iter()
            .find_map(|r| value_of(r, DEVLINK_ATTR_ESWITCH_MODE))
            .and_then(|v| v.get(..2).map(|b| u16::from_ne_bytes([b[0], b[1]])));
        match mode {
            Some(0) => Ok("legacy".into()),
            Some(1) => Ok("switchdev".into()),
            other => Err(Error::Parse {
                path: pci.into(),
                content: format!("{other:?}"),
                expected: "an e-switch mode (0 legacy, 1 switchdev)",
            }),
        }
    }

    /// The running firmware/package versions the device reports (`devlink dev info`):
    /// name → value, e.g. `fw.app.name` → `ICE OS Default Package` (an Intel DDP profile).
    pub fn running_versions(
        &self,
        pci: &str,
    ) -> Result<std::collections::BTreeMap<String, String>> {
        let replies = self.request(DEVLINK_CMD_INFO_GET, pci, Vec::new(), 0, "get device info")?;
        Ok(replies.iter().flat_map(running_versions).collect())
    }

    /// Sets the e-switch mode of the PF at `pci`.
    pub fn set_eswitch_mode(&self, pci: &str, mode: &str) -> Result<()> {
        let value: u16 = match mode {
            "legacy" => 0,
            "switchdev" => 1,
            other => {
                return Err(Error::Parse {
                    path: pci.into(),
                    content: other.into(),
                    expected: "legacy or switchdev",
                });
            }
        };
        let attr = DefaultNla::new(DEVLINK_ATTR_ESWITCH_MODE, value.to_ne_bytes().to_vec());
        self.request(
            DEVLINK_CMD_ESWITCH_SET,
            pci,
            vec![attr],
            NLM_F_ACK,
            "set e-switch mode",
        )
        .map(|_| ())
    }
}

fn nla_string(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes.split(|b| *b == 0).next().unwrap_or_default()).into_owned()
}

/// The running versions in one `DEVLINK_CMD_INFO_GET` reply: each
/// `DEVLINK_ATTR_INFO_VERSION_RUNNING` nest holds a name and a value.
pub fn running_versions(message: &GenlMessage) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for attr in message
        .attrs
        .iter()
        .filter(|a| a.kind() == DEVLINK_ATTR_INFO_VERSION_RUNNING)
    {
        let mut nest = vec![0u8; attr.value_len()];
        attr.emit_value(&mut nest);
        let (mut name, mut value) = (None, None);
        for inner in NlasIterator::new(&nest[..]).flatten() {
            match inner.kind() {
                DEVLINK_ATTR_INFO_VERSION_NAME => name = Some(nla_string(inner.value())),
                DEVLINK_ATTR_INFO_VERSION_VALUE => value = Some(nla_string(inner.value())),
                _ => {}
            }
        }
        if let (Some(name), Some(value)) = (name, value) {
            out.push((name, value));
        }
    }
    out
}
