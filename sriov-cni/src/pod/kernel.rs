//! [`NetNs`] on a real host: a network namespace and one rtnetlink connection in it.

use std::fs::File;
use std::net::IpAddr;

use sriov_hw::netlink::{Link, Netlink};
use sriov_hw::netns;

use super::{NetNs, Notify, Pods, pod_err};
use crate::error::{CniError, Result, code};

/// A real network namespace and one rtnetlink connection inside it, opened once per
/// invocation and used by every step.
#[derive(Debug)]
pub struct KernelNs {
    ns: File,
    nl: Netlink,
}

impl KernelNs {
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

    /// The namespace's file.
    pub fn file(&self) -> &File {
        &self.ns
    }

    /// The connection inside the namespace (on the host, also the PF side of VFs).
    pub fn netlink(&self) -> &Netlink {
        &self.nl
    }
}

impl NetNs for KernelNs {
    fn link(&self, name: &str) -> sriov_hw::Result<Link> {
        self.nl.link(name)
    }

    fn set_address(&self, name: &str, mac: &str) -> sriov_hw::Result<()> {
        self.nl.set_address(name, mac)
    }

    fn set_admin_up(&self, name: &str, up: bool) -> sriov_hw::Result<()> {
        self.nl.set_admin_up(name, up)
    }

    fn set_mtu(&self, name: &str, mtu: u32) -> sriov_hw::Result<()> {
        self.nl.set_mtu(name, mtu)
    }

    fn rename(&self, name: &str, new_name: &str) -> sriov_hw::Result<()> {
        self.nl.rename(name, new_name)
    }

    fn del_alt_name(&self, name: &str, alt_name: &str) -> sriov_hw::Result<()> {
        self.nl.del_alt_name(name, alt_name)
    }

    fn add_address(&self, name: &str, address: IpAddr, prefix_len: u8) -> sriov_hw::Result<()> {
        self.nl.add_address(name, address, prefix_len)
    }

    fn addresses(&self, name: &str) -> sriov_hw::Result<Vec<(IpAddr, u8)>> {
        self.nl.addresses(name)
    }

    fn add_route(
        &self,
        name: &str,
        destination: Option<(IpAddr, u8)>,
        gateway: Option<IpAddr>,
    ) -> sriov_hw::Result<()> {
        self.nl.add_route(name, destination, gateway)
    }

    fn move_link(&self, name: &str, to: &dyn NetNs, new_name: &str) -> sriov_hw::Result<()> {
        let target =
            to.as_any()
                .downcast_ref::<Self>()
                .ok_or_else(|| sriov_hw::Error::Unsupported {
                    op: "move a link into a namespace that is not a kernel namespace",
                    target: name.to_owned(),
                })?;
        self.nl.move_to_netns_as(name, &target.ns, new_name)
    }

    /// In one visit to the namespace. Best effort, as upstream: a missing knob (IPv6
    /// disabled) is no reason to fail.
    fn enable_notifications(&self, ifname: &str) -> Notify {
        let paths = [
            format!("/proc/sys/net/ipv4/conf/{ifname}/arp_notify"),
            format!("/proc/sys/net/ipv6/conf/{ifname}/ndisc_notify"),
            format!("/proc/sys/net/ipv6/conf/{ifname}/optimistic_dad"),
        ];
        netns::run_in(&self.ns, move || {
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

    /// From inside the namespace, for the fallback sockets.
    fn announce(&self, ifname: &str, ips: &[IpAddr], notify: Notify) -> usize {
        netns::run_in(&self.ns, || {
            crate::announce::announce(&self.nl, ifname, ips, notify)
        })
        .unwrap_or(0)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Pods' namespaces on a real host, opened by path.
#[derive(Debug, Clone, Copy, Default)]
pub struct KernelPods;

impl Pods for KernelPods {
    fn open(&self, path: &str) -> Result<Box<dyn NetNs>> {
        Ok(Box::new(KernelNs::open(path)?))
    }

    fn alive(&self, path: &str) -> bool {
        !path.is_empty() && File::open(path).is_ok()
    }
}
