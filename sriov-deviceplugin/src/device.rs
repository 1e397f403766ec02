//! What the device plugin knows about one function it may offer, read from sysfs under the
//! host root (and `/dev`, `/proc/net/route`), as upstream's discovery reads it.
//!
//! Discovery is cheap enough to repeat (the plugin rescans every few seconds): one pass over
//! `sys/bus/pci/devices`, reading each network or accelerator function relative to an open
//! directory handle, VF indexes taken from the PFs' `virtfn<i>` links, and the few
//! per-device extras (RDMA character devices, uio, vDPA) read only where they exist.

use std::collections::{BTreeMap, BTreeSet};

use sriov_hw::HostRoot;
use sriov_hw::sysfs::{self, DirHandle};

/// PCI base class of network controllers.
pub const CLASS_NETWORK: u8 = 0x02;
/// PCI base class of processing accelerators.
pub const CLASS_ACCELERATOR: u8 = 0x12;

/// A function's RDMA side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rdma {
    /// RDMA device names (`mlx5_3`).
    pub devices: Vec<String>,
    /// Character devices to hand to a container (`/dev/infiniband/uverbs3`, ...).
    pub char_devices: Vec<String>,
}

/// A vDPA device made from a VF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vdpa {
    /// Its name (`vdpa:0000:65:00.2`).
    pub name: String,
    /// `vhost` or `virtio`.
    pub kind: String,
    /// `/dev/vhost-vdpa-N` (vhost only).
    pub path: Option<String>,
}

/// One offerable function (or auxiliary device).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDevice {
    /// Device ID given to the kubelet: the PCI address, or the auxiliary device name.
    pub id: String,
    /// PCI address of the function (the parent's for an auxiliary device).
    pub pci: String,
    /// Vendor ID, 4 lower-case hex digits.
    pub vendor: String,
    /// Device ID, 4 lower-case hex digits.
    pub device: String,
    /// Base class.
    pub class: u8,
    /// Bound driver.
    pub driver: String,
    /// NUMA node, when known.
    pub numa: Option<i64>,
    /// ACPI index.
    pub acpi_index: Option<String>,
    /// IOMMU group number.
    pub iommu_group: Option<String>,
    /// The group is a no-IOMMU group (`vfio-noiommu`, VMs without a vIOMMU).
    pub noiommu: bool,
    /// The PF: PCI address and netdev name (for a VF or SF).
    pub pf: Option<(String, Option<String>)>,
    /// Index of the VF (or SF number) on its PF.
    pub index: Option<u16>,
    /// Its own netdev, if any.
    pub netdev: Option<String>,
    /// `ether` or `infiniband` (from its netdev, else its PF's).
    pub link_type: Option<String>,
    /// RDMA devices and character devices.
    pub rdma: Rdma,
    /// `/dev/uioN`.
    pub uio: Option<String>,
    /// The vDPA device.
    pub vdpa: Option<Vdpa>,
    /// Default InfiniBand partition key (`0xffff`).
    pub pkey: Option<String>,
    /// Intel DDP profile name, when known.
    pub ddp_profile: Option<String>,
    /// Auxiliary device (SF): its type (`sf`).
    pub aux_type: Option<String>,
    /// Why the device is unhealthy, when it is.
    pub unhealthy: Option<String>,
}

impl HostDevice {
    /// Whether the device is bound to `vfio-pci`.
    pub fn is_vfio(&self) -> bool {
        self.driver == "vfio-pci"
    }
}

/// What a discovery pass found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Offerable functions, by PCI address order.
    pub devices: Vec<HostDevice>,
    /// `/dev/vhost-net` and `/dev/net/tun` both exist.
    pub vhost_net: bool,
}

fn hex_id(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim_start_matches("0x").to_ascii_lowercase())
}

/// Interfaces holding an IPv4 default route (`/proc/net/route`: destination and mask 0).
fn default_route_interfaces(root: &HostRoot) -> BTreeSet<String> {
    let text = sysfs::read_optional(&root.join("proc/net/route"))
        .ok()
        .flatten()
        .unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() > 7 && f[1] == "00000000" && f[7] == "00000000").then(|| f[0].to_owned())
        })
        .collect()
}

struct Function {
    address: String,
    dir: DirHandle,
    vendor: String,
    device: String,
    class: u8,
    driver: Option<String>,
    physfn: Option<String>,
    num_vfs: Option<u16>,
    total_vfs: bool,
    netdevs: Vec<String>,
}

fn link_type(root: &HostRoot, netdev: &str) -> Option<String> {
    let text = sysfs::read_optional(&root.class_net(netdev).join("type"))
        .ok()
        .flatten()?;
    Some(
        match text.as_str() {
            "32" => "infiniband",
            _ => "ether",
        }
        .to_owned(),
    )
}

/// Whether a netdev has carrier; `None` when unknown.
pub fn carrier(root: &HostRoot, netdev: &str) -> Option<bool> {
    let dir = root.class_net(netdev);
    if let Ok(Some(text)) = sysfs::read_optional(&dir.join("carrier")) {
        return Some(text == "1");
    }
    sysfs::read_optional(&dir.join("operstate"))
        .ok()
        .flatten()
        .map(|s| s == "up")
}

/// Reads every network and accelerator function under `root`.
pub fn discover(root: &HostRoot) -> sriov_hw::Result<Inventory> {
    let devices_dir = root.join("sys/bus/pci/devices");
    let mut functions = Vec::new();
    for address in sysfs::list_dir(&devices_dir)? {
        let Some(dir) = DirHandle::open(&devices_dir.join(&address))? else {
            continue;
        };
        let class = dir
            .read("class")?
            .and_then(|c| u32::from_str_radix(c.trim_start_matches("0x"), 16).ok())
            .map_or(0, |c| (c >> 16) as u8);
        if class != CLASS_NETWORK && class != CLASS_ACCELERATOR {
            continue;
        }
        let physfn = dir.link_basename("physfn")?;
        let (total_vfs, num_vfs) = if physfn.is_none() {
            let total = dir.read("sriov_totalvfs")?;
            let num = dir.read("sriov_numvfs")?.and_then(|n| n.parse().ok());
            (total.is_some(), num)
        } else {
            (false, None)
        };
        functions.push(Function {
            vendor: hex_id(dir.read("vendor")?).unwrap_or_default(),
            device: hex_id(dir.read("device")?).unwrap_or_default(),
            class,
            driver: dir.link_basename("driver")?,
            physfn,
            num_vfs,
            total_vfs,
            netdevs: dir.list("net")?,
            address,
            dir,
        });
    }
    // VF index and PF netdev, from the PFs.
    let mut vf_of: BTreeMap<String, (String, u16)> = BTreeMap::new();
    let mut pf_netdev: BTreeMap<String, Option<String>> = BTreeMap::new();
    for f in functions.iter().filter(|f| f.total_vfs) {
        pf_netdev.insert(f.address.clone(), f.netdevs.first().cloned());
        if f.num_vfs.unwrap_or(0) == 0 {
            continue;
        }
        for entry in f.dir.list(".")? {
            if let Some(index) = entry
                .strip_prefix("virtfn")
                .and_then(|i| i.parse::<u16>().ok())
                && let Some(vf) = f.dir.link_basename(&entry)?
            {
                vf_of.insert(vf, (f.address.clone(), index));
            }
        }
    }
    let default_route = default_route_interfaces(root);
    let vdpa_dir = root.join("sys/bus/vdpa/devices");
    let mut out = Vec::new();
    for f in functions {
        // An unbound function is kept (with an empty driver) so that pools holding it can
        // report it unhealthy; no selector takes a new one.
        let driver = f.driver.clone().unwrap_or_default();
        // A PF whose VFs are enabled is not offered (its VFs are), nor a NIC carrying the
        // default route.
        if f.total_vfs && f.num_vfs.unwrap_or(0) > 0 {
            continue;
        }
        if f.netdevs.iter().any(|n| default_route.contains(n)) {
            continue;
        }
        let numa = f
            .dir
            .read("numa_node")?
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| *n >= 0);
        let iommu_group = f.dir.link_basename("iommu_group")?;
        let noiommu = match &iommu_group {
            Some(g) => {
                sysfs::read_optional(&root.join("sys/kernel/iommu_groups").join(g).join("name"))?
                    .is_some_and(|n| n == "vfio-noiommu")
            }
            None => false,
        };
        let (pf, index) = match f.physfn.as_ref() {
            Some(pf) => {
                let index = vf_of.get(&f.address).map(|(_, i)| *i);
                let name = match pf_netdev.get(pf) {
                    Some(name) => name.clone(),
                    None => sysfs::list_dir(&root.pci_device(pf).join("net"))?
                        .into_iter()
                        .next(),
                };
                (Some((pf.clone(), name)), index)
            }
            None => (None, None),
        };
        let netdev = f.netdevs.first().cloned();
        let link_type = netdev
            .as_deref()
            .or_else(|| pf.as_ref().and_then(|(_, n)| n.as_deref()))
            .and_then(|n| link_type(root, n));
        let mut rdma = Rdma {
            devices: f.dir.list("infiniband")?,
            char_devices: Vec::new(),
        };
        if !rdma.devices.is_empty() {
            for verbs in f.dir.list("infiniband_verbs")? {
                rdma.char_devices.push(format!("/dev/infiniband/{verbs}"));
            }
            for mad in f.dir.list("infiniband_mad")? {
                rdma.char_devices.push(format!("/dev/infiniband/{mad}"));
            }
            rdma.char_devices.push("/dev/infiniband/rdma_cm".to_owned());
        }
        let pkey = match rdma.devices.first() {
            Some(dev) if link_type.as_deref() == Some("infiniband") => {
                f.dir.read(&format!("infiniband/{dev}/ports/1/pkeys/0"))?
            }
            _ => None,
        };
        let uio = f
            .dir
            .list("uio")?
            .into_iter()
            .next()
            .map(|u| format!("/dev/{u}"));
        let vdpa_name = format!("vdpa:{}", f.address);
        let vdpa = match DirHandle::open(&vdpa_dir.join(&vdpa_name))? {
            None => None,
            Some(v) => {
                let kind = match v.link_basename("driver")?.as_deref() {
                    Some("vhost_vdpa") => "vhost",
                    Some("virtio_vdpa") => "virtio",
                    _ => "",
                };
                let path = v
                    .list(".")?
                    .into_iter()
                    .find(|e| e.starts_with("vhost-vdpa-"))
                    .map(|e| format!("/dev/{e}"));
                (!kind.is_empty()).then(|| Vdpa {
                    name: vdpa_name.clone(),
                    kind: kind.to_owned(),
                    path,
                })
            }
        };
        let acpi_index = f.dir.read("acpi_index")?;
        out.push(HostDevice {
            id: f.address.clone(),
            pci: f.address,
            vendor: f.vendor,
            device: f.device,
            class: f.class,
            driver,
            numa,
            acpi_index,
            iommu_group,
            noiommu,
            pf,
            index,
            netdev,
            link_type,
            rdma,
            uio,
            vdpa,
            pkey,
            ddp_profile: None,
            aux_type: None,
            unhealthy: None,
        });
    }
    for d in &mut out {
        if d.driver.is_empty() {
            d.unhealthy = Some("no driver bound".to_owned());
        } else if let Some((_, Some(pf))) = &d.pf
            && carrier(root, pf) == Some(false)
        {
            d.unhealthy = Some(format!("PF {pf} has no carrier"));
        }
    }
    out.extend(auxiliary(root)?);
    let vhost_net = root.join("dev/vhost-net").exists() && root.join("dev/net/tun").exists();
    Ok(Inventory {
        devices: out,
        vhost_net,
    })
}

/// Scalable functions on the auxiliary bus (`mlx5_core.sf.N`): ID is the auxiliary name,
/// the parent PCI function supplies IDs, driver, NUMA and PF.
fn auxiliary(root: &HostRoot) -> sriov_hw::Result<Vec<HostDevice>> {
    let dir = root.join("sys/bus/auxiliary/devices");
    let mut out = Vec::new();
    for name in sysfs::list_dir(&dir)? {
        if !name.contains(".sf.") {
            continue;
        }
        let Ok(real) = std::fs::canonicalize(dir.join(&name)) else {
            continue;
        };
        let Some(parent) = real.parent() else {
            continue;
        };
        let Some(parent_pci) = parent.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let Some(p) = DirHandle::open(parent)? else {
            continue;
        };
        let Some(aux) = DirHandle::open(&real)? else {
            continue;
        };
        let netdev = aux.list("net")?.into_iter().next();
        let pf_name = p.list("net")?.into_iter().next();
        out.push(HostDevice {
            id: name.clone(),
            pci: parent_pci.clone(),
            vendor: hex_id(p.read("vendor")?).unwrap_or_default(),
            device: hex_id(p.read("device")?).unwrap_or_default(),
            class: CLASS_NETWORK,
            driver: p.link_basename("driver")?.unwrap_or_default(),
            numa: p
                .read("numa_node")?
                .and_then(|n| n.parse::<i64>().ok())
                .filter(|n| *n >= 0),
            acpi_index: None,
            iommu_group: None,
            noiommu: false,
            link_type: netdev
                .as_deref()
                .or(pf_name.as_deref())
                .and_then(|n| link_type(root, n)),
            pf: Some((parent_pci, pf_name)),
            index: aux.read("sfnum")?.and_then(|n| n.parse().ok()),
            netdev,
            rdma: Rdma {
                devices: aux.list("infiniband")?,
                char_devices: Vec::new(),
            },
            uio: None,
            vdpa: None,
            pkey: None,
            ddp_profile: None,
            aux_type: Some("sf".to_owned()),
            unhealthy: None,
        });
    }
    Ok(out)
}
