//! The daemon's per-PF record (`/etc/sriov-operator/pci/<pci>`, JSON of the spec
//! `Interface` it applied, upstream's format): its presence means "the operator created this
//! PF's VFs", which decides whether a PF no longer in the spec is reset.

use sriov_core::api::Interface;
use sriov_core::ids::PciAddress;

use crate::error::{Error, Result};
use crate::root::HostRoot;
use crate::sysfs;

/// Reading and writing per-PF records.
pub trait PfStore: Sync {
    /// The record of PF `pci`, if any.
    fn load(&self, pci: &PciAddress) -> Result<Option<Interface>>;
    /// Writes `interface` as the record of PF `pci`.
    fn save(&self, pci: &PciAddress, interface: &Interface) -> Result<()>;
    /// Deletes the record of PF `pci` (no-op when absent).
    fn remove(&self, pci: &PciAddress) -> Result<()>;
}

/// The records as files under a host root (`etc/sriov-operator/pci/<pci>`), where
/// upstream's daemon keeps them.
#[derive(Debug, Clone)]
pub struct RecordFiles {
    root: HostRoot,
}

impl RecordFiles {
    /// The records under `root`.
    pub fn new(root: HostRoot) -> Self {
        Self { root }
    }

    fn root(&self) -> &HostRoot {
        &self.root
    }
}

impl PfStore for RecordFiles {
    fn load(&self, pci: &PciAddress) -> Result<Option<Interface>> {
        let path = self.root().pf_store_file(&pci.to_string());
        let Some(text) = sysfs::read_optional(&path)? else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|_| Error::Parse {
                path,
                content: text,
                expected: "a JSON interface record",
            })
    }

    fn save(&self, pci: &PciAddress, interface: &Interface) -> Result<()> {
        let path = self.root().pf_store_file(&pci.to_string());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("mkdir", dir, e))?;
        }
        let json = serde_json::to_string(interface)
            .map_err(|e| Error::io("serialize", &path, e.into()))?;
        sysfs::write(&path, &json)
    }

    fn remove(&self, pci: &PciAddress) -> Result<()> {
        let path = self.root().pf_store_file(&pci.to_string());
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("remove", path, e)),
            _ => Ok(()),
        }
    }
}
