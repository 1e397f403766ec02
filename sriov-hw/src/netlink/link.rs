//! Link requests: list, look up, MTU, up/down, rename, hardware address, moves between
//! network namespaces, alt-names, and veth pairs for tests.

use super::*;

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

impl Netlink {
    pub(super) fn link_message(name: &str) -> LinkMessage {
        let mut message = LinkMessage::default();
        message
            .attributes
            .push(LinkAttribute::IfName(name.to_owned()));
        message
    }

    pub(super) fn to_link(message: &LinkMessage) -> Link {
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

    pub(super) fn get(&self, name: &str, with_vfs: bool) -> Result<LinkMessage> {
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

    pub(super) fn set(
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
        self.alt_name(name, alt_name, true)
    }

    /// Removes an alternative name (`ip link property del ... altname ...`).
    pub fn del_alt_name(&self, name: &str, alt_name: &str) -> Result<()> {
        self.alt_name(name, alt_name, false)
    }

    fn alt_name(&self, name: &str, alt_name: &str, add: bool) -> Result<()> {
        let mut message = LinkMessage::default();
        message.header.index = self.get(name, false)?.header.index;
        message
            .attributes
            .push(LinkAttribute::PropList(vec![Prop::AltIfName(
                alt_name.to_owned(),
            )]));
        if add {
            self.create(
                RouteNetlinkMessage::NewLinkProp(message),
                name,
                "add alt-name",
            )
        } else {
            self.request(
                RouteNetlinkMessage::DelLinkProp(message),
                NLM_F_ACK,
                name,
                "remove alt-name",
            )
            .map(|_| ())
        }
    }

    /// Creates a veth pair (for tests standing in for VF netdevs).
    pub fn add_veth(&self, name: &str, peer: &str) -> Result<()> {
        let mut message = Self::link_message(name);
        message.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(Self::link_message(peer)))),
        ]));
        self.create(
            RouteNetlinkMessage::NewLink(message),
            name,
            "create veth pair",
        )
    }
}
