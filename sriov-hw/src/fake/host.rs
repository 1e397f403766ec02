//! `FakeHost`: an in-memory kernel model with the kernel's rules, call recording and failure
//! injection, implementing every host trait so discovery, planning and applying can be
//! tested without a tree on disk.
//!
//! Rules modelled: writing `sriov_numvfs` creates VFs (bound to the model's VF driver, with
//! netdevs) or removes them; changing it between two non-zero values is `EBUSY`; more than
//! `sriov_totalvfs` is `ERANGE`; unbinding removes the netdev; binding `vfio-pci` needs an
//! IOMMU group (`EINVAL` otherwise); binding a kernel driver creates the netdev again.

use std::collections::BTreeMap;
use std::io;
use std::sync::Mutex;

use sriov_core::api::Interface;
use sriov_core::ids::PciAddress;

use sriov_core::plan::is_userspace_driver;

use super::{Nic, vf_address};
use crate::error::{Error, Result};
use crate::link::{EswitchOps, LinkAttrs, LinkLayer, LinkOps, LinkQuery, LinkSysfs};
use crate::pci::{PciDevice, PciSysfs, VfFunction, VfNetdev};
use crate::store::PfStore;

#[derive(Debug, Clone)]
struct Function {
    nic: Nic,
    is_vf: bool,
    physfn: Option<PciAddress>,
    driver: Option<String>,
    iommu_group: Option<u32>,
    total_vfs: u16,
    vfs: Vec<PciAddress>,
    netdev: Option<String>,
    netdev_base: String,
    /// VF index on its PF (0 for a PF).
    index: u16,
}

#[derive(Debug, Clone)]
struct Link {
    mtu: u32,
    mac: String,
    up: bool,
    speed: Option<i64>,
    /// PF-side state of each VF, by index.
    vfs: BTreeMap<u16, crate::netlink::VfState>,
    /// IPoIB link: 20-byte address whose last 8 bytes are the port GUID.
    infiniband: bool,
    /// VF GUIDs set on this PF link, by VF index.
    vf_guids: BTreeMap<u16, u64>,
}

#[derive(Debug, Default)]
struct State {
    functions: BTreeMap<PciAddress, Function>,
    links: BTreeMap<String, Link>,
    eswitch: BTreeMap<String, String>,
    records: BTreeMap<String, Interface>,
    calls: Vec<String>,
    failures: BTreeMap<String, i32>,
    next_group: u32,
    files: BTreeMap<String, String>,
}

/// The in-memory kernel model.
#[derive(Debug, Default)]
pub struct FakeHost {
    state: Mutex<State>,
}

const ZERO_MAC: &str = "00:00:00:00:00:00";

/// A VF's PF-side state right after it was created.
fn idle_vf(index: u16) -> crate::netlink::VfState {
    crate::netlink::VfState {
        index: u32::from(index),
        mac: ZERO_MAC.to_owned(),
        spoofchk: Some(true),
        trust: Some(false),
        rate: Some((0, 0)),
        link_state: Some("auto".to_owned()),
        ..Default::default()
    }
}

fn kernel(op: &'static str, target: impl Into<String>, errno: i32) -> Error {
    Error::Kernel {
        op,
        target: target.into(),
        errno: io::Error::from_raw_os_error(errno),
    }
}

impl FakeHost {
    /// An empty host.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a PF of model `nic` named `name`, with `num_vfs` VFs already created.
    pub fn add_pf(&self, address: &str, nic: Nic, name: &str, num_vfs: u16) -> Result<PciAddress> {
        let pf: PciAddress = address
            .parse()
            .map_err(|_| kernel("add PF", address, libc::EINVAL))?;
        {
            let mut state = self.lock();
            state.next_group += 1;
            let group = state.next_group;
            state.functions.insert(
                pf,
                Function {
                    nic,
                    is_vf: false,
                    physfn: None,
                    driver: Some(nic.pf_driver.to_owned()),
                    iommu_group: Some(group),
                    total_vfs: nic.total_vfs,
                    vfs: Vec::new(),
                    netdev: Some(name.to_owned()),
                    netdev_base: name.to_owned(),
                    index: 0,
                },
            );
            state.links.insert(
                name.to_owned(),
                Link {
                    mtu: 1500,
                    mac: format!("02:00:00:{:02x}:{:02x}:ff", pf.bus(), pf.function()),
                    up: true,
                    speed: Some(i64::from(nic.speed_mbps)),
                    vfs: BTreeMap::new(),
                    infiniband: false,
                    vf_guids: BTreeMap::new(),
                },
            );
        }
        if num_vfs > 0 {
            self.set_num_vfs(&pf, num_vfs)?;
        }
        self.lock().calls.clear();
        Ok(pf)
    }

    /// Switches PF netdev `pf_name` to InfiniBand (IPoIB): its VFs' netdevs then carry
    /// 20-byte addresses whose port GUID is what was set with
    /// [`LinkOps::set_vf_guid`] when the VF driver last bound (zero before). Call it before
    /// creating VFs.
    pub fn set_infiniband(&self, pf_name: &str) {
        if let Some(link) = self.lock().links.get_mut(pf_name) {
            link.infiniband = true;
            // 12 bytes of flags, QPN and subnet prefix, then the 8-byte port GUID.
            let tail = link.mac.get(9..).unwrap_or("00:00:00").to_owned();
            link.mac = format!("00:00:10:87:fe:80:00:00:00:00:00:00:0c:42:a1:03:00:{tail}");
        }
    }

    /// Puts a file into the host's file system (path relative to the host root).
    pub fn add_file(&self, path: &str, content: &str) {
        self.lock()
            .files
            .insert(path.to_owned(), content.to_owned());
    }

    /// A file of the host's file system (path relative to the host root).
    pub fn file(&self, path: &str) -> Option<String> {
        self.lock().files.get(path).cloned()
    }

    /// Makes the next call whose log line starts with `prefix` fail with `errno`.
    pub fn fail_next(&self, prefix: &str, errno: i32) {
        self.lock().failures.insert(prefix.to_owned(), errno);
    }

    /// Removes a function's IOMMU group (IOMMU off).
    pub fn remove_iommu_group(&self, address: &PciAddress) {
        if let Some(f) = self.lock().functions.get_mut(address) {
            f.iommu_group = None;
        }
    }

    /// Sets a link's MTU behind the operator's back.
    pub fn set_link_mtu(&self, ifname: &str, mtu: u32) {
        if let Some(l) = self.lock().links.get_mut(ifname) {
            l.mtu = mtu;
        }
    }

    /// Every mutating call so far, one line each (`set_num_vfs 0000:81:00.0 4`).
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// The administrative MAC of VF `vf` on PF netdev `pf`.
    pub fn vf_admin_mac(&self, pf: &str, vf: u16) -> Option<String> {
        self.lock()
            .links
            .get(pf)?
            .vfs
            .get(&vf)
            .map(|s| s.mac.clone())
            .filter(|m| m != ZERO_MAC)
    }

    /// Records a call, or fails it when a failure was injected for it.
    fn call(state: &mut State, line: String, op: &'static str, target: &str) -> Result<()> {
        let hit = state
            .failures
            .keys()
            .find(|p| line.starts_with(p.as_str()))
            .cloned();
        if let Some(prefix) = hit {
            let errno = state.failures.remove(&prefix).unwrap_or(libc::EIO);
            return Err(kernel(op, target, errno));
        }
        state.calls.push(line);
        Ok(())
    }

    fn attach_netdev(state: &mut State, address: &PciAddress) {
        let Some(f) = state.functions.get_mut(address) else {
            return;
        };
        let name = f.netdev_base.clone();
        f.netdev = Some(name.clone());
        let (index, physfn) = (f.index, f.physfn);
        let mut mac = format!(
            "02:00:{:02x}:{:02x}:{:02x}:{:02x}",
            address.bus(),
            address.device(),
            address.function(),
            0x10
        );
        let pf_link = physfn
            .and_then(|pf| state.functions.get(&pf))
            .and_then(|pf| pf.netdev.as_ref())
            .and_then(|n| state.links.get(n));
        let infiniband = pf_link.is_some_and(|l| l.infiniband);
        if let Some(pf_link) = pf_link.filter(|l| l.infiniband) {
            let guid = pf_link.vf_guids.get(&index).copied().unwrap_or(0);
            let bytes: Vec<String> = guid
                .to_be_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            mac = format!("00:00:10:87:fe:80:00:00:00:00:00:00:{}", bytes.join(":"));
        }
        state.links.entry(name).or_insert(Link {
            mtu: if infiniband { 2044 } else { 1500 },
            mac,
            up: true,
            speed: None,
            vfs: BTreeMap::new(),
            infiniband,
            vf_guids: BTreeMap::new(),
        });
    }

    fn detach_netdev(state: &mut State, address: &PciAddress) {
        if let Some(name) = state
            .functions
            .get_mut(address)
            .and_then(|f| f.netdev.take())
        {
            state.links.remove(&name);
        }
    }

    fn function<'a>(state: &'a State, address: &PciAddress) -> Result<&'a Function> {
        state.functions.get(address).ok_or_else(|| Error::NotFound {
            what: "PCI device",
            name: address.to_string(),
        })
    }
}

impl PciSysfs for FakeHost {
    fn list(&self) -> Result<Vec<PciAddress>> {
        Ok(self.lock().functions.keys().copied().collect())
    }

    fn device(&self, address: &PciAddress) -> Result<PciDevice> {
        let state = self.lock();
        let f = Self::function(&state, address)?;
        Ok(PciDevice {
            address: *address,
            vendor: f.nic.vendor.to_owned(),
            device: if f.is_vf {
                f.nic.vf_device
            } else {
                f.nic.pf_device
            }
            .to_owned(),
            class: crate::pci::CLASS_NETWORK,
            driver: f.driver.clone(),
            driver_override: None,
            numa_node: Some(0),
            iommu_group: f.iommu_group,
            physfn: f.physfn,
            total_vfs: (!f.is_vf).then_some(f.total_vfs),
            num_vfs: (!f.is_vf).then(|| u16::try_from(f.vfs.len()).unwrap_or(u16::MAX)),
            virtfns: f
                .vfs
                .iter()
                .enumerate()
                .map(|(i, a)| (u16::try_from(i).unwrap_or(u16::MAX), *a))
                .collect(),
            netdevs: f.netdev.iter().cloned().collect(),
            rdma_devices: Vec::new(),
        })
    }

    fn physfn(&self, address: &PciAddress) -> Result<Option<PciAddress>> {
        Ok(Self::function(&self.lock(), address)?.physfn)
    }

    fn ids(&self, address: &PciAddress) -> Result<(String, String)> {
        let d = self.device(address)?;
        Ok((d.vendor, d.device))
    }

    fn vf(&self, address: &PciAddress) -> Result<VfFunction> {
        let state = self.lock();
        let f = Self::function(&state, address)?;
        let netdev = f.netdev.as_ref().map(|name| {
            let link = state.links.get(name);
            VfNetdev {
                name: name.clone(),
                mtu: link.map(|l| l.mtu),
                address: link.map(|l| l.mac.clone()),
            }
        });
        Ok(VfFunction {
            address: *address,
            driver: f.driver.clone(),
            netdev,
        })
    }

    fn set_num_vfs(&self, pf: &PciAddress, num_vfs: u16) -> Result<()> {
        let mut state = self.lock();
        let target = pf.to_string();
        Self::call(
            &mut state,
            format!("set_num_vfs {pf} {num_vfs}"),
            "write sriov_numvfs",
            &target,
        )?;
        let f = Self::function(&state, pf)?.clone();
        let current = u16::try_from(f.vfs.len()).unwrap_or(u16::MAX);
        if current != 0 && num_vfs != 0 && current != num_vfs {
            return Err(kernel("write sriov_numvfs", target, libc::EBUSY));
        }
        if num_vfs > f.total_vfs {
            return Err(kernel("write sriov_numvfs", target, libc::ERANGE));
        }
        if let Some(link) = f.netdev.as_ref().and_then(|n| state.links.get_mut(n)) {
            link.vfs = (0..num_vfs).map(|i| (i, idle_vf(i))).collect();
        }
        if num_vfs == 0 {
            for vf in &f.vfs {
                Self::detach_netdev(&mut state, vf);
                state.functions.remove(vf);
            }
            if let Some(pf) = state.functions.get_mut(pf) {
                pf.vfs.clear();
            }
            return Ok(());
        }
        if current == num_vfs {
            return Ok(());
        }
        let mut vfs = Vec::new();
        for i in 0..num_vfs {
            let address = vf_address(pf, i)
                .ok_or_else(|| kernel("write sriov_numvfs", pf.to_string(), libc::ENOSPC))?;
            state.next_group += 1;
            let group = f.iommu_group.map(|_| state.next_group);
            state.functions.insert(
                address,
                Function {
                    nic: f.nic,
                    is_vf: true,
                    physfn: Some(*pf),
                    driver: Some(f.nic.vf_driver.to_owned()),
                    iommu_group: group,
                    total_vfs: 0,
                    vfs: Vec::new(),
                    netdev: None,
                    netdev_base: format!("{}v{i}", f.netdev_base),
                    index: i,
                },
            );
            Self::attach_netdev(&mut state, &address);
            vfs.push(address);
        }
        if let Some(pf) = state.functions.get_mut(pf) {
            pf.vfs = vfs;
        }
        Ok(())
    }

    fn unbind(&self, address: &PciAddress) -> Result<()> {
        let mut state = self.lock();
        Self::call(
            &mut state,
            format!("unbind {address}"),
            "unbind",
            &address.to_string(),
        )?;
        Self::detach_netdev(&mut state, address);
        if let Some(f) = state.functions.get_mut(address) {
            f.driver = None;
        }
        Ok(())
    }

    fn bind(&self, address: &PciAddress, driver: &str) -> Result<()> {
        let mut state = self.lock();
        Self::call(
            &mut state,
            format!("bind {address} {driver}"),
            "bind",
            &address.to_string(),
        )?;
        let f = Self::function(&state, address)?;
        if f.driver.is_some() {
            return Err(kernel("bind", address.to_string(), libc::EBUSY));
        }
        if driver == "vfio-pci" && f.iommu_group.is_none() {
            return Err(kernel("bind vfio-pci", address.to_string(), libc::EINVAL));
        }
        if let Some(f) = state.functions.get_mut(address) {
            f.driver = Some(driver.to_owned());
        }
        if !is_userspace_driver(driver) {
            Self::attach_netdev(&mut state, address);
        }
        Ok(())
    }

    fn bind_default(&self, address: &PciAddress) -> Result<()> {
        let driver = Self::function(&self.lock(), address)?.nic.vf_driver;
        self.bind(address, driver)
    }
}

impl LinkSysfs for FakeHost {
    fn link_attrs(&self, name: &str) -> Result<LinkAttrs> {
        let state = self.lock();
        let link = state.links.get(name).ok_or_else(|| Error::NotFound {
            what: "network interface",
            name: name.to_owned(),
        })?;
        Ok(LinkAttrs {
            name: name.to_owned(),
            mtu: Some(link.mtu),
            address: Some(link.mac.clone()),
            admin_up: link.up,
            operstate: Some(if link.up { "up" } else { "down" }.to_owned()),
            speed_mbps: link.speed.filter(|_| link.up),
            layer: Some(if link.infiniband {
                LinkLayer::Infiniband
            } else {
                LinkLayer::Ethernet
            }),
            phys_port_name: None,
            phys_switch_id: None,
        })
    }

    fn link_names(&self) -> Result<Vec<String>> {
        Ok(self.lock().links.keys().cloned().collect())
    }
}

impl LinkOps for FakeHost {
    fn set_mtu(&self, ifname: &str, mtu: u32) -> Result<()> {
        let mut state = self.lock();
        Self::call(
            &mut state,
            format!("set_mtu {ifname} {mtu}"),
            "set MTU",
            ifname,
        )?;
        let link = state
            .links
            .get_mut(ifname)
            .ok_or_else(|| kernel("set MTU", ifname, libc::ENODEV))?;
        link.mtu = mtu;
        Ok(())
    }

    fn set_up(&self, ifname: &str) -> Result<()> {
        let mut state = self.lock();
        Self::call(
            &mut state,
            format!("set_up {ifname}"),
            "set link up",
            ifname,
        )?;
        let link = state
            .links
            .get_mut(ifname)
            .ok_or_else(|| kernel("set link up", ifname, libc::ENODEV))?;
        link.up = true;
        Ok(())
    }

    fn set_vf_mac(&self, pf: &str, vf: u16, mac: &str) -> Result<()> {
        let mut state = self.lock();
        Self::call(
            &mut state,
            format!("set_vf_mac {pf} {vf} {mac}"),
            "set VF MAC",
            pf,
        )?;
        let link = state
            .links
            .get_mut(pf)
            .ok_or_else(|| kernel("set VF MAC", pf, libc::ENODEV))?;
        link.vfs.entry(vf).or_insert_with(|| idle_vf(vf)).mac = mac.to_owned();
        Ok(())
    }

    fn set_vf_guid(&self, pf: &str, vf: u16, guid: u64) -> Result<()> {
        let mut state = self.lock();
        Self::call(
            &mut state,
            format!("set_vf_guid {pf} {vf} {guid:016x}"),
            "set VF GUID",
            pf,
        )?;
        let link = state
            .links
            .get_mut(pf)
            .ok_or_else(|| kernel("set VF GUID", pf, libc::ENODEV))?;
        if !link.infiniband {
            return Err(kernel("set VF GUID", pf, libc::EOPNOTSUPP));
        }
        link.vf_guids.insert(vf, guid);
        Ok(())
    }
}

impl EswitchOps for FakeHost {
    fn set_eswitch_mode(&self, pci: &str, mode: &str) -> Result<()> {
        let mut state = self.lock();
        Self::call(
            &mut state,
            format!("set_eswitch_mode {pci} {mode}"),
            "set e-switch mode",
            pci,
        )?;
        state.eswitch.insert(pci.to_owned(), mode.to_owned());
        Ok(())
    }
}

impl LinkQuery for FakeHost {
    fn alt_names(&self, _ifname: &str) -> Vec<String> {
        Vec::new()
    }

    fn eswitch_mode(&self, pci: &str) -> Result<Option<String>> {
        Ok(self.lock().eswitch.get(pci).cloned())
    }
}

impl PfStore for FakeHost {
    fn load(&self, pci: &str) -> Result<Option<Interface>> {
        Ok(self.lock().records.get(pci).cloned())
    }

    fn save(&self, interface: &Interface) -> Result<()> {
        let mut state = self.lock();
        Self::call(
            &mut state,
            format!("save_record {}", interface.pci_address),
            "save record",
            &interface.pci_address,
        )?;
        state
            .records
            .insert(interface.pci_address.clone(), interface.clone());
        Ok(())
    }

    fn remove(&self, pci: &str) -> Result<()> {
        let mut state = self.lock();
        Self::call(
            &mut state,
            format!("remove_record {pci}"),
            "remove record",
            pci,
        )?;
        state.records.remove(pci);
        Ok(())
    }
}

impl crate::system::HostSystem for FakeHost {
    fn read_file(&self, path: &str) -> Result<Option<String>> {
        Ok(self.lock().files.get(path).cloned())
    }

    fn write_file(&self, path: &str, content: &str, mode: u32) -> Result<()> {
        let mut state = self.lock();
        Self::call(
            &mut state,
            format!("write_file {path} {mode:o}"),
            "write file",
            path,
        )?;
        state.files.insert(path.to_owned(), content.to_owned());
        Ok(())
    }

    fn remove_file(&self, path: &str) -> Result<()> {
        let mut state = self.lock();
        if state.files.contains_key(path) {
            Self::call(
                &mut state,
                format!("remove_file {path}"),
                "remove file",
                path,
            )?;
            state.files.remove(path);
        }
        Ok(())
    }

    fn exists(&self, path: &str) -> bool {
        let state = self.lock();
        let dir = format!("{path}/");
        state.files.contains_key(path) || state.files.keys().any(|k| k.starts_with(&dir))
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<String> {
        let mut state = self.lock();
        let line = std::iter::once(program)
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        Self::call(&mut state, format!("run {line}"), "run", program)?;
        Ok(String::new())
    }
}

impl crate::link::VfControl for FakeHost {
    fn vf_states(&self, pf: &str) -> Result<Vec<crate::netlink::VfState>> {
        let state = self.lock();
        let link = state
            .links
            .get(pf)
            .ok_or_else(|| kernel("read VF info", pf, libc::ENODEV))?;
        Ok(link.vfs.values().cloned().collect())
    }

    fn set_vf(&self, pf: &str, vf: u32, settings: &crate::netlink::VfSettings) -> Result<()> {
        let mut state = self.lock();
        let mut parts = Vec::new();
        if let Some((vlan, qos)) = settings.vlan {
            parts.push(format!(
                "vlan={vlan} qos={qos} proto={}",
                if settings.vlan_qinq {
                    "802.1ad"
                } else {
                    "802.1q"
                }
            ));
        }
        if let Some(mac) = &settings.mac {
            parts.push(format!("mac={mac}"));
        }
        if let Some((min, max)) = settings.rate {
            parts.push(format!("rate={min}-{max}"));
        }
        if let Some(on) = settings.spoofchk {
            parts.push(format!("spoofchk={on}"));
        }
        if let Some(on) = settings.trust {
            parts.push(format!("trust={on}"));
        }
        if let Some(link_state) = &settings.link_state {
            parts.push(format!("link_state={link_state}"));
        }
        if let Some(guid) = settings.ib_guid {
            parts.push(format!("guid={guid:016x}"));
        }
        Self::call(
            &mut state,
            format!("set_vf {pf} {vf} {}", parts.join(" ")),
            "set VF",
            pf,
        )?;
        let link = state
            .links
            .get_mut(pf)
            .ok_or_else(|| kernel("set VF", pf, libc::ENODEV))?;
        let index = u16::try_from(vf).map_err(|_| kernel("set VF", pf, libc::EINVAL))?;
        let entry = link
            .vfs
            .get_mut(&index)
            .ok_or_else(|| kernel("set VF", pf, libc::EINVAL))?;
        if settings
            .vlan
            .is_some_and(|(vlan, qos)| vlan > 4095 || qos > 7)
        {
            return Err(kernel("set VF VLAN", pf, libc::EINVAL));
        }
        if let Some((vlan, qos)) = settings.vlan {
            (entry.vlan, entry.qos, entry.vlan_qinq) = (vlan, qos, settings.vlan_qinq);
        }
        if let Some(mac) = &settings.mac {
            entry.mac = mac.clone();
        }
        if let Some(rate) = settings.rate {
            entry.rate = Some(rate);
        }
        if let Some(on) = settings.spoofchk {
            entry.spoofchk = Some(on);
        }
        if let Some(on) = settings.trust {
            entry.trust = Some(on);
        }
        if let Some(link_state) = &settings.link_state {
            entry.link_state = Some(link_state.clone());
        }
        Ok(())
    }
}
