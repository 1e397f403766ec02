//! Address and route requests.

use super::*;

impl Netlink {
    /// Adds an IP address with its prefix length to a link.
    pub fn add_address(&self, name: &str, address: IpAddr, prefix_len: u8) -> Result<()> {
        let index = self.get(name, false)?.header.index;
        let mut message = AddressMessage::default();
        message.header.family = family(address);
        message.header.prefix_len = prefix_len;
        message.header.index = index;
        message.attributes.push(AddressAttribute::Local(address));
        message.attributes.push(AddressAttribute::Address(address));
        self.create(
            RouteNetlinkMessage::NewAddress(message),
            name,
            "add address",
        )
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
        self.create(RouteNetlinkMessage::NewRoute(message), name, "add route")
    }
}

fn family(address: IpAddr) -> AddressFamily {
    if address.is_ipv6() {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    }
}
