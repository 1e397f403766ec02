//! PCI devices through sysfs: what a function is, its SR-IOV state, and the writes that
//! change it (VF count, driver binding).

use sriov_core::ids::{PciAddress, VfIndex};

use std::path::Path;

use crate::error::{Error, Result};
use crate::functions::Inventory;
use crate::root::HostRoot;
use crate::sysfs::{self, DirHandle};

/// PCI base class of network controllers.
pub const CLASS_NETWORK: u8 = 0x02;
/// PCI base class of processing accelerators.
pub const CLASS_ACCELERATOR: u8 = 0x12;

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
    /// Every function the device plugin may offer, in one pass (see [`crate::functions`]).
    fn functions(&self) -> Result<Inventory>;
}

/// One PCI function's sysfs directory, opened once: every attribute is read relative to
/// the handle, one `openat` or `readlinkat` each. [`SysfsHost`]'s [`PciSysfs::device`] and
/// the one-pass scan of [`crate::functions`] both read functions through it.
pub(crate) struct FunctionDir {
    pub(crate) dir: DirHandle,
}

impl FunctionDir {
    /// Opens the directory; `None` when it does not exist.
    pub(crate) fn open(path: &Path) -> Result<Option<Self>> {
        Ok(DirHandle::open(path)?.map(|dir| Self { dir }))
    }

    /// The base class from `class` (`0x020000` is 0x02); `None` when absent.
    pub(crate) fn class(&self) -> Result<Option<u8>> {
        let Some(text) = self.dir.read("class")? else {
            return Ok(None);
        };
        u32::from_str_radix(text.trim_start_matches("0x"), 16)
            .map(|c| Some((c >> 16) as u8))
            .map_err(|_| Error::Parse {
                path: self.dir.path().join("class"),
                content: text,
                expected: "a PCI class like 0x020000",
            })
    }

    /// A hex ID file (`vendor`, `device`) without `0x`, in lower case; `None` when absent.
    pub(crate) fn id(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .dir
            .read(name)?
            .map(|t| t.trim_start_matches("0x").to_ascii_lowercase()))
    }

    /// A hex ID file that must hold 4 hex digits.
    fn strict_id(&self, name: &str) -> Result<String> {
        let path = || self.dir.path().join(name);
        let text = self.id(name)?.ok_or_else(|| {
            Error::io(
                "read",
                path(),
                std::io::Error::from_raw_os_error(libc::ENOENT),
            )
        })?;
        if text.len() == 4 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(text)
        } else {
            Err(Error::Parse {
                path: path(),
                content: text,
                expected: "a 16-bit hex ID like 0x8086",
            })
        }
    }

    /// The NUMA node; `None` for -1 (no affinity), absent or unreadable.
    pub(crate) fn numa_node(&self) -> Result<Option<u32>> {
        Ok(self.dir.read("numa_node")?.and_then(|n| n.parse().ok()))
    }

    /// The bound driver.
    pub(crate) fn driver(&self) -> Result<Option<String>> {
        self.dir.link_basename("driver")
    }

    /// The IOMMU group, as its directory name.
    pub(crate) fn iommu_group(&self) -> Result<Option<String>> {
        self.dir.link_basename("iommu_group")
    }

    /// The PF's address, as the `physfn` link names it.
    pub(crate) fn physfn(&self) -> Result<Option<String>> {
        self.dir.link_basename("physfn")
    }

    /// Netdev names under `net/`.
    pub(crate) fn netdevs(&self) -> Result<Vec<String>> {
        self.dir.list("net")
    }

    /// RDMA device names under `infiniband/`.
    pub(crate) fn rdma_devices(&self) -> Result<Vec<String>> {
        self.dir.list("infiniband")
    }

    /// A VF count file (`sriov_totalvfs`, `sriov_numvfs`); `None` when absent.
    pub(crate) fn count(&self, name: &str) -> Result<Option<u16>> {
        match self.dir.read(name)? {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| Error::Parse {
                path: self.dir.path().join(name),
                content: text,
                expected: "a VF count",
            }),
        }
    }

    /// The target of VF link `virtfn<index>`.
    pub(crate) fn virtfn(&self, index: VfIndex) -> Result<Option<String>> {
        self.dir.link_basename(&format!("virtfn{index}"))
    }
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
        let path = self.root.pci_device(&address.to_string());
        let f = FunctionDir::open(&path)?.ok_or_else(|| Error::NotFound {
            what: "PCI device",
            name: address.to_string(),
        })?;
        let class = f.class()?.ok_or_else(|| {
            Error::io(
                "read",
                path.join("class"),
                std::io::Error::from_raw_os_error(libc::ENOENT),
            )
        })?;
        let physfn = match f.physfn()? {
            Some(name) => Some(parse_address(&name, &path.join("physfn"))?),
            None => None,
        };
        let total_vfs = f.count("sriov_totalvfs")?;
        let num_vfs = f.count("sriov_numvfs")?;
        let mut virtfns = Vec::new();
        if total_vfs.is_some() {
            for entry in f.dir.list(".")? {
                let Some(index) = entry
                    .strip_prefix("virtfn")
                    .and_then(|i| i.parse::<VfIndex>().ok())
                else {
                    continue;
                };
                if let Some(target) = f.virtfn(index)? {
                    virtfns.push((index, parse_address(&target, &path.join(&entry))?));
                }
            }
            virtfns.sort();
        }
        let driver_override = f
            .dir
            .read("driver_override")?
            .filter(|o| !o.is_empty() && o != "(null)");
        Ok(PciDevice {
            address: *address,
            vendor: f.strict_id("vendor")?,
            device: f.strict_id("device")?,
            class,
            driver: f.driver()?,
            driver_override,
            numa_node: f.numa_node()?,
            iommu_group: f.iommu_group()?.and_then(|g| g.parse().ok()),
            physfn,
            total_vfs,
            num_vfs,
            virtfns,
            netdevs: f.netdevs()?,
            rdma_devices: f.rdma_devices()?,
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
        let dir = DirHandle::open(&path)?.ok_or_else(|| Error::NotFound {
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

    fn functions(&self) -> Result<Inventory> {
        crate::functions::scan(&self.root)
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
