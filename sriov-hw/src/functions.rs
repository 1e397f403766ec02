//! The functions a device plugin may offer, read in one pass from sysfs under a host root
//! (and `/dev`, `/proc/net/route`), as upstream's device plugin discovers them.
//!
//! Discovery is cheap enough to repeat (the device plugin rescans every few seconds): one
//! pass over `sys/bus/pci/devices`, reading each network or accelerator function relative
//! to an open directory handle ([`crate::pci`]'s function reader, shared with
//! [`crate::pci::PciSysfs::device`]), VF indexes taken from the PFs' `virtfn<i>` links, a
//! PF's VFs sharing the first VF's IDs and the PF's NUMA node, link layer and carrier, and
//! the few per-device extras (RDMA character devices, uio, vDPA) read only where they exist.
//! [`crate::pci::PciSysfs::functions`] runs it; [`crate::fake::FakeHost`] answers the same
//! call from its model.

use std::collections::{BTreeMap, BTreeSet};

use crate::pci::{CLASS_ACCELERATOR, CLASS_NETWORK, FunctionDir};
use crate::root::HostRoot;
use crate::sysfs::{self, DirHandle};
use crate::{Error, Result};

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

/// One offerable function (or auxiliary device). `Default` is an empty record for tests
/// and fakes to fill in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

/// What is read once per PF (or standalone function) and shared with its VFs.
#[derive(Debug, Clone)]
struct Parent {
    vendor: String,
    device: String,
    class: u8,
    numa: Option<i64>,
    netdev: Option<String>,
    link_type: Option<String>,
    carrier: Option<bool>,
}

/// The base class, 0 (never offered) when absent or unparsable, as upstream skips such
/// entries.
fn class_of(f: &FunctionDir) -> Result<u8> {
    match f.class() {
        Ok(class) => Ok(class.unwrap_or(0)),
        Err(Error::Parse { .. }) => Ok(0),
        Err(e) => Err(e),
    }
}

fn numa_of(f: &FunctionDir) -> Result<Option<i64>> {
    Ok(f.numa_node()?.map(i64::from))
}

fn ids_of(f: &FunctionDir) -> Result<(String, String)> {
    Ok((
        f.id("vendor")?.unwrap_or_default(),
        f.id("device")?.unwrap_or_default(),
    ))
}

/// `ether` or `infiniband` from a netdev's `type`, read relative to its PCI function.
fn link_type_at(dir: &DirHandle, netdev: &str) -> Result<Option<String>> {
    Ok(dir
        .read(&format!("net/{netdev}/type"))?
        .map(|t| if t == "32" { "infiniband" } else { "ether" }.to_owned()))
}

fn carrier_at(dir: &DirHandle, netdev: &str) -> Option<bool> {
    if let Ok(Some(text)) = dir.read(&format!("net/{netdev}/carrier")) {
        return Some(text == "1");
    }
    dir.read(&format!("net/{netdev}/operstate"))
        .ok()
        .flatten()
        .map(|s| s == "up")
}

struct Found {
    address: String,
    dir: FunctionDir,
    physfn: Option<String>,
}

/// The extras only some functions have: RDMA, uio, vDPA.
struct Extras {
    vdpa_bus: bool,
    noiommu_mode: bool,
}

fn rdma_of(f: &FunctionDir) -> Result<Rdma> {
    let dir = &f.dir;
    let mut rdma = Rdma {
        devices: f.rdma_devices()?,
        char_devices: Vec::new(),
    };
    if !rdma.devices.is_empty() {
        for verbs in dir.list("infiniband_verbs")? {
            rdma.char_devices.push(format!("/dev/infiniband/{verbs}"));
        }
        for mad in dir.list("infiniband_mad")? {
            rdma.char_devices.push(format!("/dev/infiniband/{mad}"));
        }
        rdma.char_devices.push("/dev/infiniband/rdma_cm".to_owned());
    }
    Ok(rdma)
}

fn vdpa_of(root: &HostRoot, address: &str) -> Result<Option<Vdpa>> {
    let name = format!("vdpa:{address}");
    let Some(v) = DirHandle::open(&root.join("sys/bus/vdpa/devices").join(&name))? else {
        return Ok(None);
    };
    let kind = match v.link_basename("driver")?.as_deref() {
        Some("vhost_vdpa") => "vhost",
        Some("virtio_vdpa") => "virtio",
        _ => return Ok(None),
    };
    let path = v
        .list(".")?
        .into_iter()
        .find(|e| e.starts_with("vhost-vdpa-"))
        .map(|e| format!("/dev/{e}"));
    Ok(Some(Vdpa {
        name,
        kind: kind.to_owned(),
        path,
    }))
}

#[allow(clippy::too_many_arguments)]
fn function(
    root: &HostRoot,
    extras: &Extras,
    found: &Found,
    parent: &Parent,
    pf: Option<(String, Option<String>)>,
    index: Option<u16>,
    is_vf: bool,
) -> Result<HostDevice> {
    let f = &found.dir;
    let dir = &f.dir;
    let driver = f.driver()?.unwrap_or_default();
    let iommu_group = f.iommu_group()?;
    let noiommu = match (&iommu_group, extras.noiommu_mode) {
        (Some(g), true) => {
            sysfs::read_optional(&root.join("sys/kernel/iommu_groups").join(g).join("name"))?
                .is_some_and(|n| n == "vfio-noiommu")
        }
        _ => false,
    };
    let netdev = if is_vf {
        f.netdevs()?.into_iter().next()
    } else {
        parent.netdev.clone()
    };
    // A VF has its PF's link layer; read its own only when it has a netdev and no PF
    // answered.
    let link_type = match (&parent.link_type, &netdev) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(n)) => link_type_at(dir, n)?,
        (None, None) => None,
    };
    let rdma = rdma_of(f)?;
    let pkey = match rdma.devices.first() {
        Some(dev) if link_type.as_deref() == Some("infiniband") => {
            dir.read(&format!("infiniband/{dev}/ports/1/pkeys/0"))?
        }
        _ => None,
    };
    let uio = dir
        .list("uio")?
        .into_iter()
        .next()
        .map(|u| format!("/dev/{u}"));
    let vdpa = if extras.vdpa_bus && is_vf {
        vdpa_of(root, &found.address)?
    } else {
        None
    };
    let acpi_index = if is_vf { None } else { dir.read("acpi_index")? };
    let unhealthy = if driver.is_empty() {
        Some("no driver bound".to_owned())
    } else if let (true, Some(false), Some((_, Some(pf_name)))) = (is_vf, parent.carrier, &pf) {
        Some(format!("PF {pf_name} has no carrier"))
    } else {
        None
    };
    Ok(HostDevice {
        id: found.address.clone(),
        pci: found.address.clone(),
        vendor: parent.vendor.clone(),
        device: parent.device.clone(),
        class: parent.class,
        driver,
        numa: parent.numa,
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
        unhealthy,
    })
}

/// Reads every network and accelerator function under `root`: PFs and standalone functions
/// fully; a PF's VFs share its IDs' source (the first VF's), NUMA node and link layer, so
/// each VF costs a handful of system calls.
pub fn scan(root: &HostRoot) -> Result<Inventory> {
    let devices_dir = root.join("sys/bus/pci/devices");
    let mut parents_found = Vec::new();
    let mut vfs_found: BTreeMap<String, Vec<Found>> = BTreeMap::new();
    for address in sysfs::list_dir(&devices_dir)? {
        let Some(dir) = FunctionDir::open(&devices_dir.join(&address))? else {
            continue;
        };
        let physfn = dir.physfn()?;
        let found = Found {
            address,
            dir,
            physfn: physfn.clone(),
        };
        match physfn {
            Some(pf) => vfs_found.entry(pf).or_default().push(found),
            None => parents_found.push(found),
        }
    }
    let extras = Extras {
        vdpa_bus: sysfs::list_dir(&root.join("sys/bus/vdpa/devices"))
            .map(|l| !l.is_empty())
            .unwrap_or(false),
        noiommu_mode: sysfs::read_optional(
            &root.join("sys/module/vfio/parameters/enable_unsafe_noiommu_mode"),
        )?
        .is_some_and(|v| v == "Y" || v == "1"),
    };
    let default_route = default_route_interfaces(root);
    let mut out = Vec::new();
    for found in parents_found {
        let f = &found.dir;
        let class = class_of(f)?;
        if class != CLASS_NETWORK && class != CLASS_ACCELERATOR {
            continue;
        }
        let netdevs = f.netdevs()?;
        let netdev = netdevs.first().cloned();
        let (vendor, device) = ids_of(f)?;
        let parent = Parent {
            vendor,
            device,
            class,
            numa: numa_of(f)?,
            link_type: match &netdev {
                Some(n) => link_type_at(&f.dir, n)?,
                None => None,
            },
            carrier: netdev.as_deref().and_then(|n| carrier_at(&f.dir, n)),
            netdev,
        };
        let num_vfs: u16 = f
            .dir
            .read("sriov_numvfs")?
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let sriov_pf = f.dir.read("sriov_totalvfs")?.is_some();
        let vfs = vfs_found.remove(&found.address).unwrap_or_default();
        if sriov_pf && num_vfs > 0 {
            // Its VFs are offered, not the PF. Indexes from its virtfn links.
            let mut index_of: BTreeMap<String, u16> = BTreeMap::new();
            for i in 0..num_vfs {
                if let Some(vf) = f.virtfn(i.into())? {
                    index_of.insert(vf, i);
                }
            }
            let mut vf_parent: Option<Parent> = None;
            for vf in &vfs {
                let p = match &vf_parent {
                    Some(p) => p.clone(),
                    None => {
                        let (vendor, device) = ids_of(&vf.dir)?;
                        let p = Parent {
                            vendor,
                            device,
                            class: class_of(&vf.dir)?,
                            ..parent.clone()
                        };
                        vf_parent = Some(p.clone());
                        p
                    }
                };
                out.push(function(
                    root,
                    &extras,
                    vf,
                    &p,
                    Some((found.address.clone(), parent.netdev.clone())),
                    index_of.get(&vf.address).copied(),
                    true,
                )?);
            }
            continue;
        }
        if netdevs.iter().any(|n| default_route.contains(n)) {
            continue;
        }
        out.push(function(root, &extras, &found, &parent, None, None, false)?);
    }
    // VFs whose PF is not visible (passed through to this machine) stand alone.
    for (_, vfs) in vfs_found {
        for vf in vfs {
            let class = class_of(&vf.dir)?;
            if class != CLASS_NETWORK && class != CLASS_ACCELERATOR {
                continue;
            }
            let (vendor, device) = ids_of(&vf.dir)?;
            let parent = Parent {
                vendor,
                device,
                class,
                numa: numa_of(&vf.dir)?,
                netdev: None,
                link_type: None,
                carrier: None,
            };
            let pf = vf.physfn.clone().map(|p| (p, None));
            out.push(function(root, &extras, &vf, &parent, pf, None, true)?);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out.extend(auxiliary(root)?);
    let vhost_net = root.join("dev/vhost-net").exists() && root.join("dev/net/tun").exists();
    Ok(Inventory {
        devices: out,
        vhost_net,
    })
}

/// Scalable functions on the auxiliary bus (`mlx5_core.sf.N`): ID is the auxiliary name,
/// the parent PCI function supplies IDs, driver, NUMA and PF.
fn auxiliary(root: &HostRoot) -> Result<Vec<HostDevice>> {
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
        let Some(p) = FunctionDir::open(parent)? else {
            continue;
        };
        let Some(aux) = DirHandle::open(&real)? else {
            continue;
        };
        let netdev = aux.list("net")?.into_iter().next();
        let pf_name = p.netdevs()?.into_iter().next();
        let (vendor, device) = ids_of(&p)?;
        out.push(HostDevice {
            id: name.clone(),
            pci: parent_pci.clone(),
            vendor,
            device,
            class: CLASS_NETWORK,
            driver: p.driver()?.unwrap_or_default(),
            numa: numa_of(&p)?,
            acpi_index: None,
            iommu_group: None,
            noiommu: false,
            link_type: match &pf_name {
                Some(n) => link_type_at(&p.dir, n)?,
                None => None,
            },
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
