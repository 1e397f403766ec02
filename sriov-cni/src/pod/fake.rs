//! An in-memory model of network namespaces and their links, for tests that run the
//! plugin's steps without root: [`FakeNet`] holds the namespaces, [`FakeNs`] is one of
//! them as a [`NetNs`], and [`FakeNet`] opens pods by path as [`Pods`].
//!
//! Rules modelled, as the kernel has them: link names are unique per namespace (EEXIST); an
//! unknown link is ENODEV; renaming a link that is up is EBUSY; a link moved to another
//! namespace arrives down; an address already on a link is EEXIST.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use sriov_hw::netlink::Link;

use super::{NetNs, Notify, Pods};
use crate::error::{CniError, Result, code};

/// A route through a link: destination (`None`: the default route) and gateway (`None`:
/// directly connected).
pub type FakeRoute = (Option<(IpAddr, u8)>, Option<IpAddr>);

#[derive(Debug, Clone, Default)]
struct FakeLink {
    index: u32,
    mac: String,
    mtu: u32,
    up: bool,
    alt_names: Vec<String>,
    addresses: Vec<(IpAddr, u8)>,
    routes: Vec<FakeRoute>,
}

#[derive(Debug, Default)]
struct World {
    /// Links by name, per namespace.
    namespaces: BTreeMap<String, BTreeMap<String, FakeLink>>,
    next_index: u32,
}

/// The model: namespaces by name (a pod's name is its `CNI_NETNS` path).
#[derive(Debug, Clone, Default)]
pub struct FakeNet {
    world: Arc<Mutex<World>>,
}

/// One namespace of a [`FakeNet`].
#[derive(Debug, Clone)]
pub struct FakeNs {
    world: Arc<Mutex<World>>,
    name: String,
}

fn lock(world: &Mutex<World>) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(|e| e.into_inner())
}

fn kernel(op: &'static str, target: &str, errno: i32) -> sriov_hw::Error {
    sriov_hw::Error::Kernel {
        op,
        target: target.to_owned(),
        errno: std::io::Error::from_raw_os_error(errno),
    }
}

impl FakeNet {
    /// No namespaces yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Namespace `name`, created empty when new.
    pub fn namespace(&self, name: &str) -> FakeNs {
        lock(&self.world)
            .namespaces
            .entry(name.to_owned())
            .or_default();
        FakeNs {
            world: Arc::clone(&self.world),
            name: name.to_owned(),
        }
    }

    /// Deletes namespace `name`; its links are gone with it (a VF netdev would return to
    /// the host, which tests model by adding it there).
    pub fn delete(&self, name: &str) {
        lock(&self.world).namespaces.remove(name);
    }
}

impl FakeNs {
    /// Adds a link, up, with `mac` and `mtu` (a stand-in for a VF netdev).
    pub fn add_link(&self, name: &str, mac: &str, mtu: u32) {
        let mut world = lock(&self.world);
        world.next_index += 1;
        let index = world.next_index;
        world
            .namespaces
            .entry(self.name.clone())
            .or_default()
            .insert(
                name.to_owned(),
                FakeLink {
                    index,
                    mac: mac.to_owned(),
                    mtu,
                    up: true,
                    ..FakeLink::default()
                },
            );
    }

    /// Every link, sorted by name.
    pub fn links(&self) -> Vec<Link> {
        let world = lock(&self.world);
        world
            .namespaces
            .get(&self.name)
            .into_iter()
            .flatten()
            .map(|(name, l)| to_link(name, l))
            .collect()
    }

    /// The routes through link `name`: destination (`None`: default) and gateway.
    pub fn routes(&self, name: &str) -> Vec<FakeRoute> {
        self.with(name, "read routes", |l| Ok(l.routes.clone()))
            .unwrap_or_default()
    }

    fn with<T>(
        &self,
        name: &str,
        op: &'static str,
        f: impl FnOnce(&mut FakeLink) -> sriov_hw::Result<T>,
    ) -> sriov_hw::Result<T> {
        let mut world = lock(&self.world);
        let link = world
            .namespaces
            .get_mut(&self.name)
            .and_then(|links| links.get_mut(name))
            .ok_or_else(|| kernel(op, name, libc::ENODEV))?;
        f(link)
    }
}

fn to_link(name: &str, l: &FakeLink) -> Link {
    Link {
        index: l.index,
        name: name.to_owned(),
        alt_names: l.alt_names.clone(),
        mtu: Some(l.mtu),
        address: Some(l.mac.clone()),
        up: l.up,
        carrier: l.up,
    }
}

impl NetNs for FakeNs {
    fn link(&self, name: &str) -> sriov_hw::Result<Link> {
        self.with(name, "get link", |l| Ok(to_link(name, l)))
    }

    fn set_address(&self, name: &str, mac: &str) -> sriov_hw::Result<()> {
        self.with(name, "set address", |l| {
            l.mac = mac.to_owned();
            Ok(())
        })
    }

    fn set_admin_up(&self, name: &str, up: bool) -> sriov_hw::Result<()> {
        self.with(name, "set link state", |l| {
            l.up = up;
            Ok(())
        })
    }

    fn set_mtu(&self, name: &str, mtu: u32) -> sriov_hw::Result<()> {
        self.with(name, "set MTU", |l| {
            l.mtu = mtu;
            Ok(())
        })
    }

    fn rename(&self, name: &str, new_name: &str) -> sriov_hw::Result<()> {
        let mut world = lock(&self.world);
        let links = world
            .namespaces
            .get_mut(&self.name)
            .ok_or_else(|| kernel("rename", name, libc::ENODEV))?;
        if links.contains_key(new_name) {
            return Err(kernel("rename", name, libc::EEXIST));
        }
        let link = links
            .get(name)
            .ok_or_else(|| kernel("rename", name, libc::ENODEV))?;
        if link.up {
            return Err(kernel("rename", name, libc::EBUSY));
        }
        if let Some(link) = links.remove(name) {
            links.insert(new_name.to_owned(), link);
        }
        Ok(())
    }

    fn del_alt_name(&self, name: &str, alt_name: &str) -> sriov_hw::Result<()> {
        self.with(name, "delete alt-name", |l| {
            let before = l.alt_names.len();
            l.alt_names.retain(|a| a != alt_name);
            if l.alt_names.len() == before {
                return Err(kernel("delete alt-name", name, libc::ENOENT));
            }
            Ok(())
        })
    }

    fn add_address(&self, name: &str, address: IpAddr, prefix_len: u8) -> sriov_hw::Result<()> {
        self.with(name, "add address", |l| {
            if l.addresses.contains(&(address, prefix_len)) {
                return Err(kernel("add address", name, libc::EEXIST));
            }
            l.addresses.push((address, prefix_len));
            Ok(())
        })
    }

    fn addresses(&self, name: &str) -> sriov_hw::Result<Vec<(IpAddr, u8)>> {
        self.with(name, "read addresses", |l| Ok(l.addresses.clone()))
    }

    fn add_route(
        &self,
        name: &str,
        destination: Option<(IpAddr, u8)>,
        gateway: Option<IpAddr>,
    ) -> sriov_hw::Result<()> {
        self.with(name, "add route", |l| {
            l.routes.push((destination, gateway));
            Ok(())
        })
    }

    fn move_link(&self, name: &str, to: &dyn NetNs, new_name: &str) -> sriov_hw::Result<()> {
        let target = to
            .as_any()
            .downcast_ref::<Self>()
            .filter(|t| Arc::ptr_eq(&t.world, &self.world))
            .ok_or_else(|| sriov_hw::Error::Unsupported {
                op: "move a link out of this fake network",
                target: name.to_owned(),
            })?;
        let mut world = lock(&self.world);
        if !world
            .namespaces
            .get(&self.name)
            .is_some_and(|l| l.contains_key(name))
        {
            return Err(kernel("move link", name, libc::ENODEV));
        }
        let taken = world
            .namespaces
            .get(&target.name)
            .is_none_or(|l| l.contains_key(new_name));
        if taken {
            return Err(kernel("move link", name, libc::EEXIST));
        }
        let Some(mut link) = world
            .namespaces
            .get_mut(&self.name)
            .and_then(|l| l.remove(name))
        else {
            return Err(kernel("move link", name, libc::ENODEV));
        };
        link.up = false;
        link.addresses.clear();
        link.routes.clear();
        world
            .namespaces
            .entry(target.name.clone())
            .or_default()
            .insert(new_name.to_owned(), link);
        Ok(())
    }

    fn enable_notifications(&self, _ifname: &str) -> Notify {
        Notify {
            arp: true,
            ndisc: true,
        }
    }

    fn announce(&self, _ifname: &str, _ips: &[IpAddr], _notify: Notify) -> usize {
        0
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl Pods for FakeNet {
    fn open(&self, path: &str) -> Result<Box<dyn NetNs>> {
        if !self.alive(path) {
            return Err(CniError::new(
                code::UNKNOWN_CONTAINER,
                format!("failed to open netns {path:?}"),
            )
            .details("no such namespace in the fake network"));
        }
        Ok(Box::new(self.namespace(path)))
    }

    fn alive(&self, path: &str) -> bool {
        lock(&self.world).namespaces.contains_key(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_refuses_what_the_kernel_refuses() {
        let net = FakeNet::new();
        let host = net.namespace("host");
        let pod = net.namespace("/run/netns/p");
        host.add_link("vf0", "02:00:00:00:00:01", 1500);
        pod.add_link("net1", "02:00:00:00:00:02", 1500);
        let errno = |r: sriov_hw::Result<()>| r.unwrap_err().errno();
        assert_eq!(errno(host.rename("vf0", "x")), Some(libc::EBUSY), "up");
        assert_eq!(
            errno(host.move_link("vf0", &pod, "net1")),
            Some(libc::EEXIST)
        );
        assert_eq!(errno(host.set_mtu("nope", 9000)), Some(libc::ENODEV));
        host.move_link("vf0", &pod, "net2").unwrap();
        let moved = pod.link("net2").unwrap();
        assert!(!moved.up, "a moved link arrives down");
        assert_eq!(moved.address.as_deref(), Some("02:00:00:00:00:01"));
        assert!(host.links().is_empty());
        let ip: IpAddr = "10.0.0.2".parse().unwrap();
        pod.add_address("net2", ip, 24).unwrap();
        assert_eq!(errno(pod.add_address("net2", ip, 24)), Some(libc::EEXIST));
        assert!(net.alive("/run/netns/p") && !net.alive("/run/netns/q"));
        assert_eq!(
            net.open("/run/netns/q").unwrap_err().code,
            code::UNKNOWN_CONTAINER
        );
        let other = FakeNet::new().namespace("host");
        assert!(pod.move_link("net2", &other, "x").is_err(), "another model");
    }
}
