//! `FakeHost`: an in-memory kernel model with the kernel's rules, a typed call log and
//! failure injection, implementing every host trait so discovery, planning and applying
//! can be tested without a tree on disk.
//!
//! This file holds the model and what tests use to shape and inspect it; `calls.rs` the
//! call log; `impls.rs` the host traits over the model.
//!
//! Rules modelled: writing `sriov_numvfs` creates VFs (bound to the model's VF driver, with
//! netdevs) or removes them; changing it between two non-zero values is `EBUSY`; more than
//! `sriov_totalvfs` is `ERANGE`; unbinding removes the netdev; binding `vfio-pci` needs an
//! IOMMU group (`EINVAL` otherwise); binding a kernel driver creates the netdev again.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::sync::Mutex;

use sriov_core::api::{ESwitchMode, Interface};
use sriov_core::ids::{PciAddress, VfIndex};

use super::Nic;
use crate::error::{Error, Result};
use crate::pci::PciSysfs;

mod calls;
mod impls;

pub use calls::Call;

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
    index: VfIndex,
}

#[derive(Debug, Clone)]
struct Link {
    mtu: u32,
    mac: String,
    up: bool,
    speed: Option<i64>,
    /// PF-side state of each VF, by index.
    vfs: BTreeMap<VfIndex, crate::netlink::VfState>,
    /// IPoIB link: 20-byte address whose last 8 bytes are the port GUID.
    infiniband: bool,
    /// VF GUIDs set on this PF link, by VF index.
    vf_guids: BTreeMap<VfIndex, u64>,
}

/// A failure waiting for the first call it matches.
struct Failure {
    matches: Box<dyn Fn(&Call) -> bool + Send>,
    errno: i32,
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Failure(errno {})", self.errno)
    }
}

#[derive(Debug, Default)]
struct State {
    functions: BTreeMap<PciAddress, Function>,
    links: BTreeMap<String, Link>,
    eswitch: BTreeMap<PciAddress, ESwitchMode>,
    records: BTreeMap<PciAddress, Interface>,
    calls: Vec<Call>,
    failures: Vec<Failure>,
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
fn idle_vf(index: VfIndex) -> crate::netlink::VfState {
    crate::netlink::VfState {
        index,
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
                    index: VfIndex::new(0),
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
    /// [`crate::link::LinkOps::set_vf_guid`] when the VF driver last bound (zero before). Call it before
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

    /// Makes the next call that `matches` accepts fail with `errno` instead of changing the
    /// model (and leaves it out of the log), for example
    /// `host.fail_next(|c| matches!(c, Call::SetMtu { link, .. } if link == "ens1f0"), libc::EINVAL)`.
    pub fn fail_next(&self, matches: impl Fn(&Call) -> bool + Send + 'static, errno: i32) {
        self.lock().failures.push(Failure {
            matches: Box::new(matches),
            errno,
        });
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
        self.lock().calls.iter().map(Call::to_string).collect()
    }

    /// Every mutating call so far.
    pub fn call_log(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The administrative MAC of VF `vf` on PF netdev `pf`.
    pub fn vf_admin_mac(&self, pf: &str, vf: VfIndex) -> Option<String> {
        self.lock()
            .links
            .get(pf)?
            .vfs
            .get(&vf)
            .map(|s| s.mac.clone())
            .filter(|m| m != ZERO_MAC)
    }

    /// Records a call, or fails it when an injected failure matches it (the failure is
    /// then used up).
    fn call(state: &mut State, call: Call) -> Result<()> {
        if let Some(i) = state.failures.iter().position(|f| (f.matches)(&call)) {
            let failure = state.failures.remove(i);
            return Err(kernel(call.op(), call.target(), failure.errno));
        }
        state.calls.push(call);
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
