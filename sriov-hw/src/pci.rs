//! PCI devices through sysfs: what a function is, its SR-IOV state, and the writes that
//! change it (VF count, driver binding).

use sriov_core::ids::{PciAddress, VfIndex};

use crate::error::{Error, Result};
use crate::root::HostRoot;
use crate::sysfs;

/// PCI base class of network controllers.
pub const CLASS_NETWORK: u8 = 0x02;

/// One PCI function as sysfs shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PciDevice {
    /// Its address.
    pub address: PciAddress,
    /// Vendor ID (4 lower-case hex digits).
    pub vendor: String,
    /// Device ID (4 lower-case hex digits).
    pub device: String,
    /// Base class (`0x02` for network).
    pub class: u8,
    /// Bound driver.
    pub driver: Option<String>,
    /// `driver_override`, when set.
    pub driver_override: Option<String>,
    /// NUMA node (`None` for -1 or unreadable).
    pub numa_node: Option<u32>,
    /// IOMMU group number.
    pub iommu_group: Option<u32>,
    /// The PF of a VF.
    pub physfn: Option<PciAddress>,
    /// `sriov_totalvfs` (an SR-IOV capable PF).
    pub total_vfs: Option<u16>,
    /// `sriov_numvfs`.
    pub num_vfs: Option<u16>,
    /// The PF's VFs as `(index, address)`, from `virtfn<i>` links, in index order.
    pub virtfns: Vec<(VfIndex, PciAddress)>,
    /// Netdev names under `net/`.
    pub netdevs: Vec<String>,
    /// RDMA device names under `infiniband/`.
    pub rdma_devices: Vec<String>,
}

impl PciDevice {
    /// Whether this function is a VF.
    pub fn is_vf(&self) -> bool {
        self.physfn.is_some()
    }
}

/// What discovery reads for every VF: its driver and netdevs (two sysfs operations). The
/// vendor and device IDs are the same for every VF of a PF (the PCIe SR-IOV capability has
/// one VF device ID), so they are read once per PF with [`PciSysfs::ids`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VfFunction {
    /// Its address.
    pub address: PciAddress,
    /// Bound driver.
    pub driver: Option<String>,
    /// Its netdev (the first under `net/`), if it has one.
    pub netdev: Option<VfNetdev>,
}

/// A VF's netdev as its status reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VfNetdev {
    /// Interface name.
    pub name: String,
    /// MTU.
    pub mtu: Option<u32>,
    /// MAC (or IPoIB) address.
    pub address: Option<String>,
}

/// Reading and changing PCI functions. Implemented over a real or fake sysfs tree
/// ([`SysfsHost`]) and by the in-memory kernel model used in tests. `Sync`, because
/// discovery reads VFs from several threads.
pub trait PciSysfs: Sync {
    /// Every PCI function, sorted by address.
    fn list(&self) -> Result<Vec<PciAddress>>;
    /// One function's details.
    fn device(&self, address: &PciAddress) -> Result<PciDevice>;
    /// The PF of a function, `None` when it is not a VF (one `readlink`).
    fn physfn(&self, address: &PciAddress) -> Result<Option<PciAddress>>;
    /// Vendor and device ID of a function.
    fn ids(&self, address: &PciAddress) -> Result<(String, String)>;
    /// The facts discovery needs for every VF.
    fn vf(&self, address: &PciAddress) -> Result<VfFunction>;
    /// The driver of the vDPA device made from a VF (`vdpa:<pci>` on the vdpa bus):
    /// `virtio_vdpa` or `vhost_vdpa`; `None` when the VF has no vDPA device.
    fn vdpa_driver(&self, _vf: &PciAddress) -> Result<Option<String>> {
        Ok(None)
    }
    /// Writes `sriov_numvfs`.
    fn set_num_vfs(&self, pf: &PciAddress, num_vfs: u16) -> Result<()>;
    /// Unbinds the function from its driver (no-op when unbound).
    fn unbind(&self, address: &PciAddress) -> Result<()>;
    /// Binds the function to `driver` through `driver_override`, then clears the override.
    fn bind(&self, address: &PciAddress, driver: &str) -> Result<()>;
    /// Clears `driver_override` and asks the kernel to probe the default driver.
    fn bind_default(&self, address: &PciAddress) -> Result<()>;
}

/// The host through its files: [`PciSysfs`], [`crate::link::LinkSysfs`] and
/// [`crate::store::PfStore`] over the tree of a [`HostRoot`] (the real `/`, `/host`, or a
/// [`crate::fake::FakeSysfs`]).
#[derive(Debug, Clone)]
pub struct SysfsHost {
    root: HostRoot,
}

impl SysfsHost {
    /// Reads and writes under `root`.
    pub fn new(root: HostRoot) -> Self {
        Self { root }
    }

    /// The host root.
    pub fn root(&self) -> &HostRoot {
        &self.root
    }
}

/// A VF count file (`sriov_totalvfs`, `sriov_numvfs`), `None` when absent.
fn read_count(path: &std::path::Path) -> Result<Option<u16>> {
    match sysfs::read_optional(path)? {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| Error::Parse {
            path: path.to_owned(),
            content: text,
            expected: "a VF count",
        }),
    }
}

/// The base class from a `class` file (`0x020000` → `0x02`).
fn read_class(path: &std::path::Path) -> Result<u8> {
    let text = sysfs::read_trimmed(path)?;
    u32::from_str_radix(text.trim_start_matches("0x"), 16)
        .map(|c| (c >> 16) as u8)
        .map_err(|_| Error::Parse {
            path: path.to_owned(),
            content: text,
            expected: "a PCI class like 0x020000",
        })
}

fn parse_address(text: &str, path: &std::path::Path) -> Result<PciAddress> {
    text.parse().map_err(|_| Error::Parse {
        path: path.to_owned(),
        content: text.to_owned(),
        expected: "a PCI address",
    })
}

impl PciSysfs for SysfsHost {
    fn list(&self) -> Result<Vec<PciAddress>> {
        let dir = self.root.join("sys/bus/pci/devices");
        // Entries that are not PCI addresses (none on a real host) are skipped, not fatal:
        // one odd entry must not hide every device, as it does in upstream's library.
        let mut out: Vec<PciAddress> = sysfs::list_dir(&dir)?
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect();
        out.sort();
        Ok(out)
    }

    fn device(&self, address: &PciAddress) -> Result<PciDevice> {
        let dir = self.root.pci_device(&address.to_string());
        if !dir.exists() {
            return Err(Error::NotFound {
                what: "PCI device",
                name: address.to_string(),
            });
        }
        let class = read_class(&dir.join("class"))?;
        let numa_node =
            sysfs::read_optional(&dir.join("numa_node"))?.and_then(|n| n.parse::<u32>().ok());
        let iommu_group =
            sysfs::link_basename(&dir.join("iommu_group"))?.and_then(|g| g.parse().ok());
        let physfn = match sysfs::link_basename(&dir.join("physfn"))? {
            Some(name) => Some(parse_address(&name, &dir.join("physfn"))?),
            None => None,
        };
        let total_vfs = read_count(&dir.join("sriov_totalvfs"))?;
        let num_vfs = read_count(&dir.join("sriov_numvfs"))?;
        let mut virtfns = Vec::new();
        for entry in sysfs::list_dir(&dir)? {
            let Some(index) = entry
                .strip_prefix("virtfn")
                .and_then(|i| i.parse::<VfIndex>().ok())
            else {
                continue;
            };
            let link = dir.join(&entry);
            if let Some(target) = sysfs::link_basename(&link)? {
                virtfns.push((index, parse_address(&target, &link)?));
            }
        }
        virtfns.sort();
        let driver_override = sysfs::read_optional(&dir.join("driver_override"))?
            .filter(|o| !o.is_empty() && o != "(null)");
        Ok(PciDevice {
            address: *address,
            vendor: sysfs::read_hex_id(&dir.join("vendor"))?,
            device: sysfs::read_hex_id(&dir.join("device"))?,
            class,
            driver: sysfs::link_basename(&dir.join("driver"))?,
            driver_override,
            numa_node,
            iommu_group,
            physfn,
            total_vfs,
            num_vfs,
            virtfns,
            netdevs: sysfs::list_dir(&dir.join("net"))?,
            rdma_devices: sysfs::list_dir(&dir.join("infiniband"))?,
        })
    }

    fn physfn(&self, address: &PciAddress) -> Result<Option<PciAddress>> {
        let link = self.root.pci_device(&address.to_string()).join("physfn");
        match sysfs::link_basename(&link)? {
            Some(name) => Ok(Some(parse_address(&name, &link)?)),
            None => Ok(None),
        }
    }

    fn ids(&self, address: &PciAddress) -> Result<(String, String)> {
        let dir = self.root.pci_device(&address.to_string());
        Ok((
            sysfs::read_hex_id(&dir.join("vendor"))?,
            sysfs::read_hex_id(&dir.join("device"))?,
        ))
    }

    fn vf(&self, address: &PciAddress) -> Result<VfFunction> {
        let path = self.root.pci_device(&address.to_string());
        let dir = sysfs::DirHandle::open(&path)?.ok_or_else(|| Error::NotFound {
            what: "PCI device",
            name: address.to_string(),
        })?;
        let netdev = match dir.list("net")?.into_iter().next() {
            Some(name) => Some(VfNetdev {
                mtu: dir
                    .read(&format!("net/{name}/mtu"))?
                    .and_then(|m| m.parse().ok()),
                address: dir
                    .read(&format!("net/{name}/address"))?
                    .filter(|a| !a.is_empty()),
                name,
            }),
            None => None,
        };
        Ok(VfFunction {
            address: *address,
            driver: dir.link_basename("driver")?,
            netdev,
        })
    }

    fn vdpa_driver(&self, vf: &PciAddress) -> Result<Option<String>> {
        let device = self
            .root
            .join("sys/bus/vdpa/devices")
            .join(format!("vdpa:{vf}"));
        sysfs::link_basename(&device.join("driver"))
    }

    fn set_num_vfs(&self, pf: &PciAddress, num_vfs: u16) -> Result<()> {
        sysfs::write(
            &self.root.pci_device(&pf.to_string()).join("sriov_numvfs"),
            &num_vfs.to_string(),
        )
    }

    fn unbind(&self, address: &PciAddress) -> Result<()> {
        let dir = self.root.pci_device(&address.to_string());
        if sysfs::link_basename(&dir.join("driver"))?.is_none() {
            return Ok(());
        }
        sysfs::write(&dir.join("driver/unbind"), &address.to_string())
    }

    fn bind(&self, address: &PciAddress, driver: &str) -> Result<()> {
        let dir = self.root.pci_device(&address.to_string());
        sysfs::write(&dir.join("driver_override"), driver)?;
        let bind = self
            .root
            .join("sys/bus/pci/drivers")
            .join(driver)
            .join("bind");
        let result = sysfs::write(&bind, &address.to_string());
        // Clear the override whatever happened, so a later default probe is not pinned.
        let cleared = sysfs::write(&dir.join("driver_override"), "\n");
        result.and(cleared)
    }

    fn bind_default(&self, address: &PciAddress) -> Result<()> {
        let dir = self.root.pci_device(&address.to_string());
        sysfs::write(&dir.join("driver_override"), "\n")?;
        sysfs::write(
            &self.root.join("sys/bus/pci/drivers_probe"),
            &address.to_string(),
        )
    }
}
