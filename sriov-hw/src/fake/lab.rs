//! [`NetLab`]: real links for tests and benchmarks that need them (root): a temp dir, a
//! "host" network namespace, veth pairs standing in for VF (and PF) netdevs, pod
//! namespaces, and a [`FakeSysfs`] tree whose functions name those veths. The CNI
//! plugin's end-to-end tests and its ADD/DEL benchmark share it.

use std::path::Path;

use sriov_core::ids::PciAddress;

use super::{FakeSysfs, Nic};
use crate::error::{Error, Result};
use crate::netlink::{Link, Netlink};
use crate::netns::{self, NamedNetns};

/// The lab. Everything it made goes away with it: the namespaces with their links, and
/// the temp dir.
#[derive(Debug)]
pub struct NetLab {
    // Field order is drop order: namespaces (pinned under `dir`) before the dir.
    host: NamedNetns,
    fake: FakeSysfs,
    dir: tempfile::TempDir,
}

impl NetLab {
    /// An empty host namespace and an empty host root.
    pub fn new() -> Result<Self> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("create", "a temp dir", e))?;
        let host = NamedNetns::create(&dir.path().join("host"))?;
        Ok(Self {
            host,
            fake: FakeSysfs::new()?,
            dir,
        })
    }

    /// The lab's temp dir (for state and data files of the code under test).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The host root.
    pub fn fake(&self) -> &FakeSysfs {
        &self.fake
    }

    /// The host namespace.
    pub fn host(&self) -> &NamedNetns {
        &self.host
    }

    /// A netlink connection in the host namespace.
    pub fn host_netlink(&self) -> Result<Netlink> {
        Netlink::in_netns(&self.host.open()?)
    }

    /// A veth pair in the host namespace: `netdev` (what the tree names) and `peer`, which
    /// is brought up so `netdev` gets a carrier when it comes up. `mac` sets `netdev`'s
    /// address.
    pub fn veth(&self, netdev: &str, peer: &str, mac: Option<&str>) -> Result<()> {
        let nl = self.host_netlink()?;
        nl.add_veth(netdev, peer)?;
        if let Some(mac) = mac {
            nl.set_address(netdev, mac)?;
        }
        nl.set_admin_up(peer, true)
    }

    /// A VF passed through to this machine (no PF in the tree) bound to `driver`, whose
    /// netdev is the veth `netdev` (peer `peer`, address `mac`).
    pub fn passthrough_vf(
        &self,
        pci: &str,
        nic: Nic,
        driver: &str,
        netdev: &str,
        peer: &str,
        mac: Option<&str>,
    ) -> Result<PciAddress> {
        self.veth(netdev, peer, mac)?;
        self.fake.passthrough_vf(pci, nic, driver, Some(netdev))
    }

    /// A new pod namespace, pinned under the lab's dir as `name`.
    pub fn pod(&self, name: &str) -> Result<NamedNetns> {
        NamedNetns::create(&self.dir.path().join(name))
    }

    /// The links of the namespace pinned at `ns`, sorted by name.
    pub fn links(ns: &Path) -> Result<Vec<Link>> {
        let mut links = Netlink::in_netns(&netns::open(ns)?)?.links()?;
        links.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(links)
    }
}
