//! The host traits over the model: each mutating call is logged as a [`Call`] (or fails
//! with an injected errno) before the model changes.

use sriov_core::api::{ESwitchMode, Interface};
use sriov_core::ib::Guid;
use sriov_core::ids::{PciAddress, VfIndex};
use sriov_core::plan::is_userspace_driver;

use super::{Call, FakeHost, Function, idle_vf, kernel};
use crate::error::{Error, Result};
use crate::fake::vf_address;
use crate::functions::{HostDevice, Inventory};
use crate::link::{EswitchOps, LinkAttrs, LinkLayer, LinkOps, LinkQuery, LinkSysfs};
use crate::pci::{PciDevice, PciSysfs, VfFunction, VfNetdev};
use crate::store::PfStore;

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
                .map(|(i, a)| (VfIndex::new(u16::try_from(i).unwrap_or(u16::MAX)), *a))
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
        Self::call(&mut state, Call::SetNumVfs { pf: *pf, num_vfs })?;
        let f = Self::function(&state, pf)?.clone();
        let current = u16::try_from(f.vfs.len()).unwrap_or(u16::MAX);
        if current != 0 && num_vfs != 0 && current != num_vfs {
            return Err(kernel("write sriov_numvfs", target, libc::EBUSY));
        }
        if num_vfs > f.total_vfs {
            return Err(kernel("write sriov_numvfs", target, libc::ERANGE));
        }
        if let Some(link) = f.netdev.as_ref().and_then(|n| state.links.get_mut(n)) {
            link.vfs = VfIndex::all(num_vfs).map(|i| (i, idle_vf(i))).collect();
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
        for i in VfIndex::all(num_vfs) {
            let address = vf_address(pf, i.get())
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
        Self::call(&mut state, Call::Unbind { device: *address })?;
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
            Call::Bind {
                device: *address,
                driver: driver.to_owned(),
            },
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

    fn functions(&self) -> Result<Inventory> {
        let state = self.lock();
        let link_of = |f: &Function| f.netdev.as_ref().and_then(|n| state.links.get(n));
        let mut devices = Vec::new();
        for (address, f) in &state.functions {
            if f.is_vf {
                continue;
            }
            let link = link_of(f);
            let link_type =
                link.map(|l| if l.infiniband { "infiniband" } else { "ether" }.to_owned());
            // A PF with VFs offers its VFs; one without offers itself.
            let offered: Vec<(PciAddress, &Function)> = if f.vfs.is_empty() {
                vec![(*address, f)]
            } else {
                f.vfs
                    .iter()
                    .filter_map(|vf| state.functions.get(vf).map(|v| (*vf, v)))
                    .collect()
            };
            for (id, function) in offered {
                let driver = function.driver.clone().unwrap_or_default();
                let pf = function
                    .is_vf
                    .then(|| (address.to_string(), f.netdev.clone()));
                let unhealthy = if driver.is_empty() {
                    Some("no driver bound".to_owned())
                } else if let (true, Some(false), Some(name)) =
                    (function.is_vf, link.map(|l| l.up), &f.netdev)
                {
                    Some(format!("PF {name} has no carrier"))
                } else {
                    None
                };
                devices.push(HostDevice {
                    id: id.to_string(),
                    pci: id.to_string(),
                    vendor: f.nic.vendor.to_owned(),
                    device: if function.is_vf {
                        f.nic.vf_device
                    } else {
                        f.nic.pf_device
                    }
                    .to_owned(),
                    class: crate::pci::CLASS_NETWORK,
                    driver,
                    numa: Some(0),
                    iommu_group: function.iommu_group.map(|g| g.to_string()),
                    pf,
                    index: function.is_vf.then_some(function.index.get()),
                    netdev: function.netdev.clone(),
                    link_type: link_type.clone(),
                    unhealthy,
                    ..HostDevice::default()
                });
            }
        }
        devices.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Inventory {
            devices,
            vhost_net: false,
        })
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
            Call::SetMtu {
                link: ifname.to_owned(),
                mtu,
            },
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
            Call::SetUp {
                link: ifname.to_owned(),
            },
        )?;
        let link = state
            .links
            .get_mut(ifname)
            .ok_or_else(|| kernel("set link up", ifname, libc::ENODEV))?;
        link.up = true;
        Ok(())
    }

    fn set_vf_mac(&self, pf: &str, vf: VfIndex, mac: &str) -> Result<()> {
        let mut state = self.lock();
        Self::call(
            &mut state,
            Call::SetVfMac {
                pf: pf.to_owned(),
                vf,
                mac: mac.to_owned(),
            },
        )?;
        let link = state
            .links
            .get_mut(pf)
            .ok_or_else(|| kernel("set VF MAC", pf, libc::ENODEV))?;
        link.vfs.entry(vf).or_insert_with(|| idle_vf(vf)).mac = mac.to_owned();
        Ok(())
    }

    fn set_vf_guid(&self, pf: &str, vf: VfIndex, guid: Guid) -> Result<()> {
        let mut state = self.lock();
        Self::call(
            &mut state,
            Call::SetVfGuid {
                pf: pf.to_owned(),
                vf,
                guid,
            },
        )?;
        let link = state
            .links
            .get_mut(pf)
            .ok_or_else(|| kernel("set VF GUID", pf, libc::ENODEV))?;
        if !link.infiniband {
            return Err(kernel("set VF GUID", pf, libc::EOPNOTSUPP));
        }
        link.vf_guids.insert(vf, guid.0);
        Ok(())
    }
}

impl EswitchOps for FakeHost {
    fn set_eswitch_mode(&self, pci: &PciAddress, mode: ESwitchMode) -> Result<()> {
        let mut state = self.lock();
        Self::call(&mut state, Call::SetEswitchMode { pf: *pci, mode })?;
        state.eswitch.insert(*pci, mode);
        Ok(())
    }
}

impl LinkQuery for FakeHost {
    fn alt_names(&self, _ifname: &str) -> Vec<String> {
        Vec::new()
    }

    fn eswitch_mode(&self, pci: &str) -> Result<Option<String>> {
        let Ok(pci) = pci.parse::<PciAddress>() else {
            return Ok(None);
        };
        Ok(self.lock().eswitch.get(&pci).map(|m| m.as_str().to_owned()))
    }
}

impl PfStore for FakeHost {
    fn load(&self, pci: &PciAddress) -> Result<Option<Interface>> {
        Ok(self.lock().records.get(pci).cloned())
    }

    fn save(&self, pci: &PciAddress, interface: &Interface) -> Result<()> {
        let mut state = self.lock();
        Self::call(&mut state, Call::SaveRecord { pf: *pci })?;
        state.records.insert(*pci, interface.clone());
        Ok(())
    }

    fn remove(&self, pci: &PciAddress) -> Result<()> {
        let mut state = self.lock();
        Self::call(&mut state, Call::RemoveRecord { pf: *pci })?;
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
            Call::WriteFile {
                path: path.to_owned(),
                mode,
            },
        )?;
        state.files.insert(path.to_owned(), content.to_owned());
        Ok(())
    }

    fn remove_file(&self, path: &str) -> Result<()> {
        let mut state = self.lock();
        if state.files.contains_key(path) {
            Self::call(
                &mut state,
                Call::RemoveFile {
                    path: path.to_owned(),
                },
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
        Self::call(
            &mut state,
            Call::Run {
                program: program.to_owned(),
                args: args.iter().map(|a| (*a).to_owned()).collect(),
            },
        )?;
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

    fn set_vf(&self, pf: &str, vf: VfIndex, settings: &crate::netlink::VfSettings) -> Result<()> {
        let mut state = self.lock();
        Self::call(
            &mut state,
            Call::SetVf {
                pf: pf.to_owned(),
                vf,
                settings: settings.clone(),
            },
        )?;
        let link = state
            .links
            .get_mut(pf)
            .ok_or_else(|| kernel("set VF", pf, libc::ENODEV))?;
        let entry = link
            .vfs
            .get_mut(&vf)
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
