//! A temp-dir host root laid out like a real kernel's sysfs.
//!
//! Devices live under `sys/devices/pci<domain>:<bus>/<bridge>/<addr>`, with
//! `sys/bus/pci/devices/<addr>` and `sys/class/net/<if>` as symlinks to them, `driver` →
//! `sys/bus/pci/drivers/<name>`, `virtfn<i>`/`physfn` between PF and VFs, `iommu_group` →
//! `sys/kernel/iommu_groups/<n>`, and `net/<if>/` holding the link attributes (`mtu`,
//! `address`, `flags`, `operstate`, `speed`, `type`). `proc/cmdline`, `proc/modules` and
//! `sys/kernel/security/lockdown` complete a host root for prerequisite checks.
//!
//! ```
//! use sriov_hw::fake::{FakeSysfs, presets};
//!
//! let host = FakeSysfs::new().unwrap();
//! host.pf("0000:3b:00.0", presets::INTEL_E810_CQDA2).name("ens1f0").num_vfs(4).build().unwrap();
//! assert!(host.root().pci_device("0000:3b:00.0").join("virtfn3").exists());
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sriov_core::ids::PciAddress;

use super::vf_address;
use crate::error::{Error, Result};
use crate::link::LinkQuery;
use crate::root::HostRoot;

/// A NIC model: IDs, drivers and how many VFs its PFs support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nic {
    /// Marketing name.
    pub model: &'static str,
    /// PCI vendor ID.
    pub vendor: &'static str,
    /// PF device ID.
    pub pf_device: &'static str,
    /// VF device ID.
    pub vf_device: &'static str,
    /// PF kernel driver.
    pub pf_driver: &'static str,
    /// VF kernel driver.
    pub vf_driver: &'static str,
    /// `sriov_totalvfs` of each PF.
    pub total_vfs: u16,
    /// Link speed in Mb/s.
    pub speed_mbps: u32,
}

/// The NIC models the tests use: Intel E810 and X710, Mellanox ConnectX-6 Dx, Broadcom.
pub mod presets {
    use super::Nic;

    /// Intel X710 (SFP+), i40e/iavf.
    pub const INTEL_X710: Nic = Nic {
        model: "Intel X710",
        vendor: "8086",
        pf_device: "1572",
        vf_device: "154c",
        pf_driver: "i40e",
        vf_driver: "iavf",
        total_vfs: 64,
        speed_mbps: 10_000,
    };
    /// Intel XL710 (QSFP+), i40e/iavf.
    pub const INTEL_XL710: Nic = Nic {
        model: "Intel XL710",
        vendor: "8086",
        pf_device: "1583",
        vf_device: "154c",
        pf_driver: "i40e",
        vf_driver: "iavf",
        total_vfs: 64,
        speed_mbps: 40_000,
    };
    /// Intel E810-CQDA2, ice/iavf.
    pub const INTEL_E810_CQDA2: Nic = Nic {
        model: "Intel E810-CQDA2",
        vendor: "8086",
        pf_device: "1592",
        vf_device: "1889",
        pf_driver: "ice",
        vf_driver: "iavf",
        total_vfs: 128,
        speed_mbps: 100_000,
    };
    /// Intel E810-XXVDA4, ice/iavf.
    pub const INTEL_E810_XXVDA4: Nic = Nic {
        model: "Intel E810-XXVDA4",
        vendor: "8086",
        pf_device: "1593",
        vf_device: "1889",
        pf_driver: "ice",
        vf_driver: "iavf",
        total_vfs: 64,
        speed_mbps: 25_000,
    };
    /// Mellanox ConnectX-4 Lx, mlx5_core.
    pub const MLX_CX4_LX: Nic = Nic {
        model: "Mellanox ConnectX-4 Lx",
        vendor: "15b3",
        pf_device: "1015",
        vf_device: "1016",
        pf_driver: "mlx5_core",
        vf_driver: "mlx5_core",
        total_vfs: 16,
        speed_mbps: 25_000,
    };
    /// Mellanox ConnectX-5, mlx5_core.
    pub const MLX_CX5: Nic = Nic {
        model: "Mellanox ConnectX-5",
        vendor: "15b3",
        pf_device: "1017",
        vf_device: "1018",
        pf_driver: "mlx5_core",
        vf_driver: "mlx5_core",
        total_vfs: 16,
        speed_mbps: 100_000,
    };
    /// Mellanox ConnectX-6 Dx, mlx5_core.
    pub const MLX_CX6_DX: Nic = Nic {
        model: "Mellanox ConnectX-6 Dx",
        vendor: "15b3",
        pf_device: "101d",
        vf_device: "101e",
        pf_driver: "mlx5_core",
        vf_driver: "mlx5_core",
        total_vfs: 127,
        speed_mbps: 100_000,
    };
    /// Broadcom BCM57414, bnxt_en.
    pub const BCM57414: Nic = Nic {
        model: "Broadcom BCM57414",
        vendor: "14e4",
        pf_device: "16d7",
        vf_device: "16dc",
        pf_driver: "bnxt_en",
        vf_driver: "bnxt_en",
        total_vfs: 128,
        speed_mbps: 25_000,
    };
    /// Broadcom BCM57508, bnxt_en.
    pub const BCM57508: Nic = Nic {
        model: "Broadcom BCM57508",
        vendor: "14e4",
        pf_device: "1750",
        vf_device: "1806",
        pf_driver: "bnxt_en",
        vf_driver: "bnxt_en",
        total_vfs: 128,
        speed_mbps: 100_000,
    };

    /// Every preset.
    pub const ALL: [Nic; 9] = [
        INTEL_X710,
        INTEL_XL710,
        INTEL_E810_CQDA2,
        INTEL_E810_XXVDA4,
        MLX_CX4_LX,
        MLX_CX5,
        MLX_CX6_DX,
        BCM57414,
        BCM57508,
    ];
}

/// A fake host root in a temp dir (removed on drop).
#[derive(Debug)]
pub struct FakeSysfs {
    dir: tempfile::TempDir,
    root: HostRoot,
    links: StaticLinks,
    next_iommu_group: Mutex<u32>,
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |e| Error::io(op, path, e)
}

fn mkdir(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(io("mkdir", path))
}

fn put(path: &Path, content: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        mkdir(parent)?;
    }
    fs::write(path, content).map_err(io("write", path))
}

fn link(target: &Path, at: &Path) -> Result<()> {
    if let Some(parent) = at.parent() {
        mkdir(parent)?;
    }
    symlink(target, at).map_err(io("symlink", at))
}

impl FakeSysfs {
    /// An empty host: the sysfs skeleton, a kernel command line with the IOMMU on
    /// (`intel_iommu=on iommu=pt`), `vfio_pci` loaded, no lockdown.
    pub fn new() -> Result<Self> {
        // sysfs lives in memory; so does the fake when /dev/shm (tmpfs) is there, which
        // also keeps its timings close to a real host's.
        let base = Path::new("/dev/shm");
        let base = if base.is_dir() {
            base.to_owned()
        } else {
            std::env::temp_dir()
        };
        let dir = tempfile::Builder::new()
            .prefix("fake-host-")
            .tempdir_in(&base)
            .or_else(|_| tempfile::Builder::new().prefix("fake-host-").tempdir())
            .map_err(|e| Error::io("mkdir", &base, e))?;
        let root = HostRoot::new(dir.path());
        for d in [
            "sys/bus/pci/devices",
            "sys/bus/pci/drivers",
            "sys/class/net",
            "sys/kernel/iommu_groups",
            "dev",
            "etc",
        ] {
            mkdir(&root.join(d))?;
        }
        put(&root.join("sys/bus/pci/drivers_probe"), "")?;
        put(
            &root.join("proc/cmdline"),
            "BOOT_IMAGE=/vmlinuz-6.8.0 root=/dev/sda2 ro intel_iommu=on iommu=pt\n",
        )?;
        put(
            &root.join("proc/modules"),
            "vfio_pci 16384 0 - Live 0x0000000000000000\nvfio 45056 1 vfio_pci, Live 0x0000000000000000\n",
        )?;
        put(
            &root.join("sys/kernel/security/lockdown"),
            "[none] integrity confidentiality\n",
        )?;
        Ok(Self {
            dir,
            root,
            links: StaticLinks::default(),
            next_iommu_group: Mutex::new(10),
        })
    }

    /// A host root with one Intel E810 port, `0000:81:00.0` named `ens801f0`, with
    /// `num_vfs` VFs (`0000:82:00.<i>`, netdevs `ens801f0v<i>`): the host most tests start
    /// from.
    pub fn e810(num_vfs: u16) -> Result<Self> {
        let fake = Self::new()?;
        fake.pf("0000:81:00.0", presets::INTEL_E810_CQDA2)
            .name("ens801f0")
            .num_vfs(num_vfs)
            .build()?;
        Ok(fake)
    }

    /// The host root to hand to the code under test.
    pub fn root(&self) -> HostRoot {
        self.root.clone()
    }

    /// The temp dir.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// What netlink would report for the fake's links (alt-names set with
    /// [`PfBuilder::alt_name`]).
    pub fn links(&self) -> &StaticLinks {
        &self.links
    }

    /// Replaces `/proc/cmdline`.
    pub fn cmdline(&self, cmdline: &str) -> Result<()> {
        put(&self.root.join("proc/cmdline"), &format!("{cmdline}\n"))
    }

    /// Replaces `/proc/modules` with these module names.
    pub fn modules(&self, modules: &[&str]) -> Result<()> {
        let text: String = modules
            .iter()
            .map(|m| format!("{m} 16384 0 - Live 0x0000000000000000\n"))
            .collect();
        put(&self.root.join("proc/modules"), &text)
    }

    /// Adds a VF without a visible PF (no `physfn`), as a guest sees a VF passed through to
    /// it: model `nic`'s VF IDs, bound to `driver`, with netdev `netdev` when given. Tests map
    /// such VFs to real stand-in interfaces (veth) of the same name.
    pub fn passthrough_vf(
        &self,
        address: &str,
        nic: Nic,
        driver: &str,
        netdev: Option<&str>,
    ) -> Result<PciAddress> {
        let address: PciAddress = address.parse().map_err(|_| Error::Parse {
            path: self.root.path().to_owned(),
            content: address.to_owned(),
            expected: "a PCI address",
        })?;
        let dir = self.function(
            &address,
            nic.vendor,
            nic.vf_device,
            Some(driver),
            None,
            true,
        )?;
        if let Some(name) = netdev {
            self.netdev(
                &dir,
                &Netdev {
                    name,
                    mac: "02:00:00:00:00:00",
                    mtu: 1500,
                    up: false,
                    speed: None,
                    infiniband: false,
                },
            )?;
        }
        Ok(address)
    }

    /// Renames the netdev entry of the function at `address` (as the kernel shows a device
    /// under its new name after a rename or a namespace move back to the host).
    pub fn rename_netdev(&self, address: &str, from: &str, to: &str) -> Result<()> {
        let device = self.root.join("sys/bus/pci/devices").join(address);
        let dir = std::fs::canonicalize(&device).map_err(|e| Error::io("resolve", &device, e))?;
        let (old, new) = (dir.join("net").join(from), dir.join("net").join(to));
        std::fs::rename(&old, &new).map_err(|e| Error::io("rename", &old, e))?;
        let class = self.root.join("sys/class/net");
        let _ = std::fs::remove_file(class.join(from));
        link(&new, &class.join(to))
    }

    /// Starts describing a PF at `address` of model `nic`.
    pub fn pf<'a>(&'a self, address: &str, nic: Nic) -> PfBuilder<'a> {
        PfBuilder {
            host: self,
            address: address.to_owned(),
            nic,
            name: None,
            alt_names: Vec::new(),
            num_vfs: 0,
            total_vfs: nic.total_vfs,
            mtu: 1500,
            up: true,
            numa_node: Some(0),
            iommu: true,
            infiniband: false,
            vf_driver: None,
        }
    }

    fn take_iommu_group(&self) -> u32 {
        let mut next = self
            .next_iommu_group
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *next += 1;
        *next
    }

    fn driver_dir(&self, driver: &str) -> Result<PathBuf> {
        let dir = self.root.join("sys/bus/pci/drivers").join(driver);
        if !dir.exists() {
            for file in ["bind", "unbind", "new_id", "remove_id"] {
                put(&dir.join(file), "")?;
            }
        }
        Ok(dir)
    }

    /// Creates one PCI function directory with its IDs, driver and IOMMU group, and its
    /// `sys/bus/pci/devices` link.
    fn function(
        &self,
        address: &PciAddress,
        vendor: &str,
        device: &str,
        driver: Option<&str>,
        numa: Option<u32>,
        iommu: bool,
    ) -> Result<PathBuf> {
        let bridge_bus = address.bus().saturating_sub(1);
        let dir = self.root.join(format!(
            "sys/devices/pci{:04x}:{bridge_bus:02x}/{:04x}:{bridge_bus:02x}:00.0/{address}",
            address.domain(),
            address.domain()
        ));
        mkdir(&dir)?;
        put(&dir.join("vendor"), &format!("0x{vendor}\n"))?;
        put(&dir.join("device"), &format!("0x{device}\n"))?;
        put(&dir.join("class"), "0x020000\n")?;
        put(
            &dir.join("numa_node"),
            &format!("{}\n", numa.map_or(-1, i64::from)),
        )?;
        put(&dir.join("driver_override"), "(null)\n")?;
        put(&dir.join("enable"), "1\n")?;
        if let Some(driver) = driver {
            let driver_dir = self.driver_dir(driver)?;
            link(&driver_dir, &dir.join("driver"))?;
            link(&dir, &driver_dir.join(address.to_string()))?;
        }
        if iommu {
            let group = self
                .root
                .join("sys/kernel/iommu_groups")
                .join(self.take_iommu_group().to_string());
            mkdir(&group.join("devices"))?;
            link(&group, &dir.join("iommu_group"))?;
            link(&dir, &group.join("devices").join(address.to_string()))?;
        }
        link(&dir, &self.root.pci_device(&address.to_string()))?;
        Ok(dir)
    }

    /// Creates `net/<name>/` under a function with link attributes, and its class link.
    fn netdev(&self, function: &Path, netdev: &Netdev<'_>) -> Result<()> {
        let Netdev {
            name,
            mac,
            mtu,
            up,
            speed,
            infiniband,
        } = *netdev;
        let dir = function.join("net").join(name);
        put(&dir.join("mtu"), &format!("{mtu}\n"))?;
        put(&dir.join("address"), &format!("{mac}\n"))?;
        put(&dir.join("flags"), if up { "0x1003\n" } else { "0x1002\n" })?;
        put(&dir.join("operstate"), if up { "up\n" } else { "down\n" })?;
        put(&dir.join("type"), if infiniband { "32\n" } else { "1\n" })?;
        if let Some(speed) = speed.filter(|_| up) {
            put(&dir.join("speed"), &format!("{speed}\n"))?;
        }
        link(function, &dir.join("device"))?;
        link(&dir, &self.root.class_net(name))
    }
}

/// A netdev to lay out under a PCI function.
#[derive(Debug, Clone, Copy)]
struct Netdev<'a> {
    name: &'a str,
    mac: &'a str,
    mtu: u32,
    up: bool,
    speed: Option<u32>,
    infiniband: bool,
}

/// Describes one PF (and its VFs) of a [`FakeSysfs`]; [`PfBuilder::build`] writes it.
#[derive(Debug)]
pub struct PfBuilder<'a> {
    host: &'a FakeSysfs,
    address: String,
    nic: Nic,
    name: Option<String>,
    alt_names: Vec<String>,
    num_vfs: u16,
    total_vfs: u16,
    mtu: u32,
    up: bool,
    numa_node: Option<u32>,
    iommu: bool,
    infiniband: bool,
    vf_driver: Option<String>,
}

impl PfBuilder<'_> {
    /// The PF netdev name (default `ens<bus>f<function>`).
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }
    /// An alternative name (reported through [`FakeSysfs::links`]).
    pub fn alt_name(mut self, name: &str) -> Self {
        self.alt_names.push(name.to_owned());
        self
    }
    /// VFs present now.
    pub fn num_vfs(mut self, n: u16) -> Self {
        self.num_vfs = n;
        self
    }
    /// `sriov_totalvfs` (0: SR-IOV disabled in firmware).
    pub fn total_vfs(mut self, n: u16) -> Self {
        self.total_vfs = n;
        self
    }
    /// PF MTU (VFs get the same).
    pub fn mtu(mut self, mtu: u32) -> Self {
        self.mtu = mtu;
        self
    }
    /// Administratively down.
    pub fn down(mut self) -> Self {
        self.up = false;
        self
    }
    /// NUMA node (`None`: -1).
    pub fn numa_node(mut self, node: Option<u32>) -> Self {
        self.numa_node = node;
        self
    }
    /// No IOMMU groups (IOMMU off in firmware or kernel).
    pub fn without_iommu(mut self) -> Self {
        self.iommu = false;
        self
    }
    /// InfiniBand link layer.
    pub fn infiniband(mut self) -> Self {
        self.infiniband = true;
        self
    }
    /// Bind every VF to this driver instead of the model's VF driver; `vfio-pci` and other
    /// user-space drivers leave VFs without netdevs.
    pub fn vf_driver(mut self, driver: &str) -> Self {
        self.vf_driver = Some(driver.to_owned());
        self
    }

    /// Writes the PF and its VFs.
    pub fn build(self) -> Result<PciAddress> {
        let host = self.host;
        let address: PciAddress = self.address.parse().map_err(|_| Error::Parse {
            path: PathBuf::from(&self.address),
            content: self.address.clone(),
            expected: "a PCI address",
        })?;
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| format!("ens{}f{}", address.bus(), address.function()));
        let nic = self.nic;
        let pf = host.function(
            &address,
            nic.vendor,
            nic.pf_device,
            Some(nic.pf_driver),
            self.numa_node,
            self.iommu,
        )?;
        put(&pf.join("sriov_totalvfs"), &format!("{}\n", self.total_vfs))?;
        put(&pf.join("sriov_numvfs"), &format!("{}\n", self.num_vfs))?;
        let infiniband = self.infiniband;
        let mac = |last: u32| {
            let tail = format!(
                "{}:{:02x}:{:02x}:{:02x}:{:02x}",
                &nic.vendor[..2],
                address.bus(),
                address.function(),
                last >> 8,
                last & 0xff
            );
            if infiniband {
                // IPoIB: 4 bytes of flags and QPN, 8 of subnet prefix, 8 of port GUID.
                format!("00:00:10:87:fe:80:00:00:00:00:00:00:0c:42:a1:{tail}")
            } else {
                format!("02:{tail}")
            }
        };
        host.netdev(
            &pf,
            &Netdev {
                name: &name,
                mac: &mac(0xffff),
                mtu: self.mtu,
                up: self.up,
                speed: Some(nic.speed_mbps),
                infiniband: self.infiniband,
            },
        )?;
        host.links.insert(&name, self.alt_names.clone());
        for i in 0..self.num_vfs {
            let vf = vf_address(&address, i).ok_or_else(|| Error::Parse {
                path: pf.clone(),
                content: format!("VF {i}"),
                expected: "a VF address that fits on the PCI bus",
            })?;
            let driver = self.vf_driver.as_deref().unwrap_or(nic.vf_driver);
            let dir = host.function(
                &vf,
                nic.vendor,
                nic.vf_device,
                Some(driver),
                self.numa_node,
                self.iommu,
            )?;
            link(&pf, &dir.join("physfn"))?;
            link(&dir, &pf.join(format!("virtfn{i}")))?;
            let kernel_driver = !sriov_core::plan::is_userspace_driver(driver);
            if kernel_driver {
                host.netdev(
                    &dir,
                    &Netdev {
                        name: &format!("{name}v{i}"),
                        mac: &mac(u32::from(i)),
                        mtu: self.mtu,
                        up: true,
                        speed: None,
                        infiniband: self.infiniband,
                    },
                )?;
            }
        }
        Ok(address)
    }
}

/// A [`LinkQuery`] answering from a table: alt-names per interface, e-switch mode per PF.
#[derive(Debug, Default)]
pub struct StaticLinks {
    alt_names: Mutex<BTreeMap<String, Vec<String>>>,
    eswitch: Mutex<BTreeMap<String, String>>,
}

impl StaticLinks {
    /// Records alt-names for an interface.
    pub fn insert(&self, ifname: &str, alt_names: Vec<String>) {
        self.alt_names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(ifname.to_owned(), alt_names);
    }

    /// Records the e-switch mode of the PF at PCI address `pci`.
    pub fn set_eswitch(&self, pci: &str, mode: &str) {
        self.eswitch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(pci.to_owned(), mode.to_owned());
    }
}

impl LinkQuery for StaticLinks {
    fn alt_names(&self, ifname: &str) -> Vec<String> {
        self.alt_names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(ifname)
            .cloned()
            .unwrap_or_default()
    }

    fn eswitch_mode(&self, pci: &str) -> Result<Option<String>> {
        Ok(self
            .eswitch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(pci)
            .cloned())
    }
}
