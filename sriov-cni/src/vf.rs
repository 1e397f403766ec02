//! The VF named by `deviceID`: its PF and index, netdev and driver (read through
//! `sriov-hw`'s sysfs layer, as upstream reads them), and its PF-side settings: applied in
//! upstream's order, snapshotted before, and restored from the snapshot.

use std::time::Duration;

use sriov_core::ids::{PciAddress, VfIndex};
use sriov_core::plan::is_userspace_driver;
use sriov_hw::link::VfControl;
use sriov_hw::netlink::{VfSettings, VfState};
use sriov_hw::pci::PciSysfs;

use crate::conf::VlanProto;
use crate::error::{CniError, Result, code};
use crate::state::{Cache, OrigVfState, link_state_number, link_state_text};

/// A VF as this host shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vf {
    /// Its PCI address.
    pub address: PciAddress,
    /// PF netdev and VF index, when the PF is visible (not for a VF passed through to a VM).
    pub pf: Option<(String, VfIndex)>,
    /// Why the PF is not usable, when it is not.
    pub no_pf: Option<String>,
    /// Its netdev in this namespace, if any.
    pub netdev: Option<String>,
    /// Its driver.
    pub driver: Option<String>,
}

impl Vf {
    /// Bound to a user-space driver (DPDK): no netdev to move.
    pub fn is_dpdk(&self) -> bool {
        self.netdev.is_none() && self.driver.as_deref().is_some_and(is_userspace_driver)
    }
}

fn lookup_err(address: &PciAddress, e: impl std::fmt::Display) -> CniError {
    CniError::new(
        code::VF_NOT_FOUND,
        format!("LoadConf(): failed to get VF information: \"{e}\""),
    )
    .details(format!("deviceID {address}"))
}

/// Resolves the VF at `address`.
pub fn lookup(pci: &dyn PciSysfs, address: &PciAddress) -> Result<Vf> {
    let function = pci.vf(address).map_err(|e| lookup_err(address, e))?;
    let (pf, no_pf) = match pci.physfn(address).map_err(|e| lookup_err(address, e))? {
        None => (
            None,
            Some(format!("VF {address} has no visible PF (no physfn)")),
        ),
        Some(pf_address) => {
            let device = pci
                .device(&pf_address)
                .map_err(|e| lookup_err(address, e))?;
            let mut netdevs = device.netdevs.clone();
            netdevs.sort();
            match netdevs.into_iter().next() {
                None => (
                    None,
                    Some(format!(
                        "PF {pf_address} of VF {address} has no network device"
                    )),
                ),
                Some(name) => {
                    let index = device
                        .virtfns
                        .iter()
                        .find(|(_, a)| a == address)
                        .map(|(i, _)| *i)
                        .ok_or_else(|| {
                            lookup_err(
                                address,
                                format!(
                                    "unable to get VF ID with PF: {name} and VF pci address {address}"
                                ),
                            )
                        })?;
                    (Some((name, index)), None)
                }
            }
        }
    };
    let vf = Vf {
        address: *address,
        pf,
        no_pf,
        netdev: function.netdev.map(|n| n.name),
        driver: function.driver,
    };
    if vf.netdev.is_none() && !vf.is_dpdk() {
        return Err(CniError::new(
            code::VF_NOT_FOUND,
            format!("LoadConf(): the VF {address} does not have a interface name or a dpdk driver"),
        )
        .details(format!(
            "driver: {}",
            vf.driver.as_deref().unwrap_or("none (unbound)")
        )));
    }
    Ok(vf)
}

/// The PF's current view of VF `index`.
pub fn snapshot(ctl: &dyn VfControl, pf: &str, index: VfIndex) -> Result<VfState> {
    ctl.vf_states(pf)
        .map_err(|e| {
            CniError::new(
                code::VF_CONFIG,
                format!("failed to read VF info of PF {pf}"),
            )
            .details(e.to_string())
        })?
        .into_iter()
        .find(|s| s.index == index)
        .ok_or_else(|| CniError::new(code::VF_CONFIG, format!("failed to find vf {index}")))
}

/// Fills the PF-side part of `orig` from the PF's view.
pub fn record(orig: &mut OrigVfState, state: &VfState) {
    orig.admin_mac = state.mac.clone();
    orig.vlan = state.vlan;
    orig.vlan_qos = state.qos;
    orig.vlan_proto = if state.vlan_qinq { 0x88a8 } else { 0x8100 };
    orig.spoofchk = state.spoofchk.unwrap_or(false);
    orig.trust = state.trust.unwrap_or(false);
    let (min, max) = state.rate.unwrap_or((0, 0));
    (orig.min_tx_rate, orig.max_tx_rate) = (min, max);
    orig.link_state = link_state_number(state.link_state.as_deref().unwrap_or("auto"));
}

fn set(ctl: &dyn VfControl, pf: &str, index: VfIndex, what: &str, s: VfSettings) -> Result<()> {
    ctl.set_vf(pf, index, &s).map_err(|e| {
        CniError::new(
            code::VF_CONFIG,
            format!("failed to set {what} of vf {index} on PF {pf}"),
        )
        .details(e.to_string())
    })
}

/// How long to wait for a driver to show a new admin MAC (i40e applies it asynchronously).
pub const MAC_RETRIES: u32 = 20;
/// Pause between MAC checks.
pub const MAC_RETRY_INTERVAL: Duration = Duration::from_millis(100);

fn set_mac_verified(ctl: &dyn VfControl, pf: &str, index: VfIndex, mac: &str) -> Result<()> {
    let mut last = String::new();
    for attempt in 0..MAC_RETRIES {
        match ctl.set_vf(
            pf,
            index,
            &VfSettings {
                mac: Some(mac.to_owned()),
                ..VfSettings::default()
            },
        ) {
            Ok(()) => match snapshot(ctl, pf, index) {
                Ok(state) if state.mac.eq_ignore_ascii_case(mac) => return Ok(()),
                Ok(state) => last = format!("the PF reports {}", state.mac),
                Err(e) => last = e.to_string(),
            },
            // EBUSY: the driver is still busy with the previous change.
            Err(e) if e.errno() == Some(libc::EBUSY) => last = e.to_string(),
            Err(e) => {
                return Err(CniError::new(
                    code::VF_CONFIG,
                    format!("failed to set MAC of vf {index} on PF {pf} to {mac}"),
                )
                .details(e.to_string()));
            }
        }
        if attempt + 1 < MAC_RETRIES {
            std::thread::sleep(MAC_RETRY_INTERVAL);
        }
    }
    Err(CniError::new(
        code::VF_CONFIG,
        format!("failed to set MAC of vf {index} on PF {pf} to {mac}"),
    )
    .details(last))
}

/// Applies what `cache` configures (and `mac`), in upstream's order: VLAN, MAC (verified),
/// rates, spoofchk, trust, link state.
pub fn apply(
    ctl: &dyn VfControl,
    pf: &str,
    index: VfIndex,
    cache: &Cache,
    mac: Option<&str>,
) -> Result<()> {
    if let Some(vlan) = cache.vlan {
        set(
            ctl,
            pf,
            index,
            "vlan",
            VfSettings {
                vlan: Some((vlan, cache.vlan_qos.unwrap_or(0))),
                vlan_qinq: cache.vlan_proto == Some(VlanProto::Dot1ad),
                ..VfSettings::default()
            },
        )?;
    }
    if let Some(mac) = mac {
        set_mac_verified(ctl, pf, index, mac)?;
    }
    if cache.min_tx_rate.is_some() || cache.max_tx_rate.is_some() {
        set(
            ctl,
            pf,
            index,
            "tx rates",
            VfSettings {
                rate: Some((
                    cache.min_tx_rate.unwrap_or(0),
                    cache.max_tx_rate.unwrap_or(0),
                )),
                ..VfSettings::default()
            },
        )?;
    }
    if let Some(on) = cache.spoofchk {
        set(
            ctl,
            pf,
            index,
            "spoofchk",
            VfSettings {
                spoofchk: Some(on),
                ..VfSettings::default()
            },
        )?;
    }
    if let Some(on) = cache.trust {
        set(
            ctl,
            pf,
            index,
            "trust",
            VfSettings {
                trust: Some(on),
                ..VfSettings::default()
            },
        )?;
    }
    if let Some(state) = &cache.link_state {
        set(
            ctl,
            pf,
            index,
            "link state",
            VfSettings {
                link_state: Some(state.clone()),
                ..VfSettings::default()
            },
        )?;
    }
    Ok(())
}

/// Restores what `cache` configured from its snapshot, in upstream's DEL order: VLAN,
/// spoofchk, admin MAC (always, when one was recorded: also undoes MACs a DPDK application
/// changed), trust, rates, link state. Every step is tried; the first error is returned.
pub fn restore(ctl: &dyn VfControl, pf: &str, index: VfIndex, cache: &Cache) -> Result<()> {
    let orig = &cache.orig;
    let mut steps: Vec<(&str, VfSettings)> = Vec::new();
    if cache.vlan.is_some() {
        steps.push((
            "vlan",
            VfSettings {
                vlan: Some((orig.vlan, orig.vlan_qos)),
                vlan_qinq: orig.vlan_proto == 0x88a8,
                ..VfSettings::default()
            },
        ));
    }
    if cache.spoofchk.is_some() {
        steps.push((
            "spoofchk",
            VfSettings {
                spoofchk: Some(orig.spoofchk),
                ..VfSettings::default()
            },
        ));
    }
    if !orig.admin_mac.is_empty() {
        steps.push((
            "MAC",
            VfSettings {
                mac: Some(orig.admin_mac.clone()),
                ..VfSettings::default()
            },
        ));
    }
    if cache.trust.is_some() {
        steps.push((
            "trust",
            VfSettings {
                trust: Some(orig.trust),
                ..VfSettings::default()
            },
        ));
    }
    if cache.min_tx_rate.is_some() || cache.max_tx_rate.is_some() {
        steps.push((
            "tx rates",
            VfSettings {
                rate: Some((orig.min_tx_rate, orig.max_tx_rate)),
                ..VfSettings::default()
            },
        ));
    }
    if cache.link_state.is_some() {
        steps.push((
            "link state",
            VfSettings {
                link_state: Some(link_state_text(orig.link_state).to_owned()),
                ..VfSettings::default()
            },
        ));
    }
    let mut first = None;
    for (what, settings) in steps {
        if let Err(e) = set(ctl, pf, index, what, settings) {
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}
