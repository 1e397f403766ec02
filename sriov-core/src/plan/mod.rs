//! Observed host + desired spec → the ordered host actions and the disruption they need,
//! in upstream's daemon's order. Pure: the caller passes what it observed (discovered
//! status, the daemon's per-PF records, the kernel command line).
//!
//! Rules followed:
//! - a spec PF is configured when `needs_update` holds (upstream's NeedToUpdateSriov):
//!   MTU to raise, e-switch mode, VF count, PF down, or a VF in a group with the wrong
//!   driver, MTU, vDPA type, a zero IB GUID, or any VF of an externally managed PF;
//! - configuring a PF that already has VFs needs a drain; creating VFs on a PF with none
//!   does not; resetting a PF this daemon configured (it has a record) needs a drain;
//! - a PF without spec entry is reset only when the daemon's record says it created its
//!   VFs; an externally managed PF is never changed, only checked, and its record dropped;
//! - `vfio-pci` needs an active IOMMU, and `rdmaMode` the matching `ib_core.netns_mode`:
//!   a missing kernel argument means editing the boot loader's command line and a reboot;
//! - a configured PF gets udev rules (NetworkManager ignores its VFs; a switchdev PF keeps
//!   its name and names its representors), removed again when the PF is reset;
//! - InfiniBand VFs get a GUID from the static pool file, or one derived from their PF and
//!   index (stable, unlike upstream's random GUIDs).
//!
//! Actions address VFs by `(PF, index)`: VFs that do not exist yet get their PCI address
//! when the apply step creates them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::api::{
    ESwitchMode, Interface, InterfaceExt, RdmaMode, SriovNetworkNodeStateSpec, VirtualFunction,
};
use crate::error::{Error, Result};
use crate::ib::{self, Guid, GuidPool};
use crate::ids::{IfName, PciAddress, VfIndex, VfRange};
use crate::nic::SupportedNics;

/// How disruptive applying a plan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Disruption {
    /// Nothing running is affected.
    None,
    /// Pods using the affected VFs must be evicted first.
    Drain,
    /// The node must reboot (after a full drain).
    Reboot,
}

/// Driver a VF should be bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "name")]
pub enum VfDriver {
    /// Whatever the kernel probes (the VF's own network driver).
    Default,
    /// A user-space driver such as `vfio-pci`.
    Named(String),
}

mod action;
mod kernel;
mod pf;
mod resolve;

pub use action::Action;
pub use pf::needs_update;
pub use resolve::{GroupSpec, PfSpec, PfStatus, VfStatus};

use kernel::kernel_args;
use pf::{configure, is_ib, plan_error};

/// What applying a spec to a host takes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The most disruptive requirement.
    pub disruption: Disruption,
    /// Why a drain or reboot is needed, one line each.
    pub reasons: Vec<String>,
    /// The actions, in order.
    pub actions: Vec<Action>,
    /// Things in the spec that the plan cannot act on, one line each: an interface whose
    /// PCI address is not on this host.
    pub warnings: Vec<String>,
    /// PFs whose VFs are created outside the operator (by the spec or by the daemon's
    /// record): applying the plan never resets them, not even when one of their steps
    /// fails.
    #[serde(
        rename = "externallyManaged",
        skip_serializing_if = "BTreeSet::is_empty"
    )]
    pub externally_managed: BTreeSet<PciAddress>,
}

impl Plan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty() && self.disruption == Disruption::None
    }

    /// Whether a failed step on `pf` may be undone by resetting the PF (removing its VFs):
    /// false for externally managed PFs.
    pub fn resets_on_failure(&self, pf: &PciAddress) -> bool {
        !self.externally_managed.contains(pf)
    }
}

/// The CPU vendor, which decides the IOMMU kernel arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CpuVendor {
    /// `GenuineIntel`.
    Intel,
    /// `AuthenticAMD`.
    Amd,
    /// Arm: the SMMU needs no kernel argument.
    Arm,
    /// Anything else; treated as Intel, as upstream does.
    #[default]
    Unknown,
}

/// What the daemon observed.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// Discovered PFs (`status.interfaces`).
    pub interfaces: &'a [InterfaceExt],
    /// The daemon's per-PF records, by PCI address.
    pub records: &'a BTreeMap<String, Interface>,
    /// The kernel command line's parameters.
    pub cmdline: &'a [String],
    /// Whether the IOMMU is active (IOMMU groups exist): `vfio-pci` then needs no kernel
    /// argument, whatever the command line says.
    pub iommu_active: bool,
    /// The CPU vendor.
    pub cpu: CpuVendor,
    /// The supported-NIC table (VF device IDs for the NetworkManager udev rule).
    pub nics: &'a SupportedNics,
    /// The static InfiniBand GUID pool, when the host has one.
    pub guids: Option<&'a GuidPool>,
}

/// VF drivers that hand the device to user space (DPDK): VFs bound to them have no netdev.
pub const USERSPACE_DRIVERS: [&str; 3] = ["vfio-pci", "uio_pci_generic", "igb_uio"];

/// Whether `driver` hands the VF to user space (see [`USERSPACE_DRIVERS`]).
pub fn is_userspace_driver(driver: &str) -> bool {
    USERSPACE_DRIVERS.contains(&driver)
}

/// Computes the plan for applying `spec` to the observed host.
///
/// The spec and the discovered interfaces are resolved first ([`PfSpec::resolve`],
/// [`PfStatus::resolve`]): a malformed value is an error naming the PF and the field.
/// Other errors name the PF too: more VFs than the PF supports, or an externally managed PF
/// that does not already satisfy its spec entry.
pub fn plan(observed: Observed<'_>, spec: &SriovNetworkNodeStateSpec) -> Result<Plan> {
    let specs = spec
        .interfaces
        .iter()
        .flatten()
        .map(PfSpec::resolve)
        .collect::<Result<Vec<_>>>()?;
    let statuses = observed
        .interfaces
        .iter()
        .map(PfStatus::resolve)
        .collect::<Result<Vec<_>>>()?;
    let mut plan = Plan {
        disruption: Disruption::None,
        reasons: Vec::new(),
        actions: Vec::new(),
        warnings: Vec::new(),
        externally_managed: BTreeSet::new(),
    };
    for (i, wanted) in specs.iter().enumerate() {
        if let Some(first) = specs[..i].iter().position(|s| s.pci == wanted.pci) {
            return Err(plan_error(
                &wanted.pci.to_string(),
                format!("spec.interfaces[{first}] and spec.interfaces[{i}] both configure it"),
            ));
        }
        for (g, group) in wanted.groups.iter().enumerate() {
            if group.range.exceeds(i64::from(wanted.num_vfs)) {
                plan.warnings.push(format!(
                    "{}: vfGroups[{g}].vfRange {} reaches beyond its {} VFs; the VFs past the last are left alone",
                    wanted.pci, group.range, wanted.num_vfs
                ));
            }
        }
        if !statuses.iter().any(|s| s.pci == wanted.pci) {
            plan.warnings.push(format!(
                "interface {} ({}) is in the spec but not on this host; nothing is done for it",
                wanted.entry.name.as_deref().unwrap_or("<unnamed>"),
                wanted.pci
            ));
        }
    }
    let raise = |plan: &mut Plan, level: Disruption, reason: String| {
        plan.disruption = plan.disruption.max(level);
        plan.reasons.push(reason);
    };
    for status in &statuses {
        let pci = status.pci;
        let current_vfs = status.num_vfs;
        let record = observed.records.get(status.entry.pci_address.as_str());
        match specs.iter().find(|s| s.pci == pci) {
            Some(wanted) => {
                if wanted.externally_managed {
                    plan.externally_managed.insert(pci);
                }
                if !needs_update(wanted, status) {
                    if record != Some(wanted.entry) {
                        plan.actions.push(Action::SaveRecord {
                            pf: pci,
                            interface: wanted.entry.clone(),
                        });
                    }
                    continue;
                }
                if current_vfs > 0 {
                    raise(
                        &mut plan,
                        Disruption::Drain,
                        format!("{pci}: reconfiguring a PF that has {current_vfs} VFs"),
                    );
                }
                configure(&mut plan, observed, wanted, status)?;
            }
            None => match record {
                None => {}
                Some(record) if record.externally_managed == Some(true) => {
                    plan.externally_managed.insert(pci);
                    plan.actions.push(Action::RemoveRecord { pf: pci });
                }
                Some(_) => {
                    if current_vfs > 0 {
                        raise(
                            &mut plan,
                            Disruption::Drain,
                            format!("{pci}: removing the {current_vfs} VFs the operator created"),
                        );
                        plan.actions.push(Action::ResetPf {
                            pf: pci,
                            mtu: if status.infiniband { 2048 } else { 1500 },
                        });
                    }
                    plan.actions.push(Action::RemoveUdevRules { pf: pci });
                    plan.actions.push(Action::RemoveRecord { pf: pci });
                }
            },
        }
    }
    let switchdev_configured = plan.actions.iter().any(|a| {
        matches!(
            a,
            Action::WriteUdevRules {
                switchdev: true,
                ..
            }
        )
    });
    if switchdev_configured {
        plan.actions.push(Action::ReloadUdev);
    }
    let kernel = kernel_args(observed, spec);
    if !kernel.reasons.is_empty() {
        for reason in kernel.reasons {
            raise(&mut plan, Disruption::Reboot, reason);
        }
        if let Some(mode) = kernel.rdma_mode {
            plan.actions.push(Action::SetRdmaMode { mode });
        }
        plan.actions.push(Action::SetKernelArgs {
            add: kernel.add,
            remove: kernel.remove,
        });
    }
    Ok(plan)
}
