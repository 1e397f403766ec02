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

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::api::{
    Interface, InterfaceExt, RdmaMode, SriovNetworkNodeStateSpec, VfGroup, VirtualFunction,
};
use crate::error::{Error, Result};
use crate::ib::{self, Guid, GuidPool};
use crate::ids::VfRange;
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

/// One host action, in execution order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "action"
)]
pub enum Action {
    /// Set `sriov_numvfs` (0 first, then the count) and wait for the VFs.
    SetNumVfs {
        /// PF address.
        pf: String,
        /// VFs wanted.
        num_vfs: u16,
    },
    /// Set the PF's e-switch mode (with 0 VFs).
    SetEswitchMode {
        /// PF address.
        pf: String,
        /// `legacy` or `switchdev`.
        mode: String,
    },
    /// Raise the PF's MTU.
    SetPfMtu {
        /// PF address.
        pf: String,
        /// New MTU.
        mtu: u32,
    },
    /// Bind VF `index` of `pf` to a driver.
    BindVf {
        /// PF address.
        pf: String,
        /// VF index.
        index: u16,
        /// The driver.
        driver: VfDriver,
    },
    /// Set VF `index`'s administrative MAC on the PF to its current MAC (so it survives
    /// driver rebinds and moves between namespaces).
    SetVfAdminMac {
        /// PF address.
        pf: String,
        /// VF index.
        index: u16,
    },
    /// Set VF `index`'s netdev MTU.
    SetVfMtu {
        /// PF address.
        pf: String,
        /// VF index.
        index: u16,
        /// MTU.
        mtu: u32,
    },
    /// Bring the PF up.
    SetPfUp {
        /// PF address.
        pf: String,
    },
    /// Write the daemon's record of this PF.
    SaveRecord {
        /// The spec entry to record.
        interface: Interface,
    },
    /// Remove the PF's VFs and restore its MTU and e-switch mode.
    ResetPf {
        /// PF address.
        pf: String,
        /// MTU to restore.
        mtu: u32,
    },
    /// Delete the daemon's record of a PF.
    RemoveRecord {
        /// PF address.
        pf: String,
    },
    /// Set VF `index`'s InfiniBand node and port GUID, then rebind it if a kernel driver
    /// holds it so the driver picks the GUID up.
    SetVfGuid {
        /// PF address.
        pf: String,
        /// VF index.
        index: u16,
        /// The GUID, `xx:xx:xx:xx:xx:xx:xx:xx`.
        guid: String,
    },
    /// Replace the PF's udev rules: NetworkManager leaves its VFs alone, and a switchdev PF
    /// keeps its name (see [`crate::render::udev`]).
    WriteUdevRules {
        /// PF address.
        pf: String,
        /// The PF's netdev name.
        pf_name: String,
        /// VF device IDs the NetworkManager rule matches.
        vf_devices: Vec<String>,
        /// Whether the PF goes to switchdev mode.
        switchdev: bool,
    },
    /// Write the rule naming a switchdev PF's representors `<pf>_<vf>` (once its switch
    /// port is known, after the mode change).
    WriteRepresentorRule {
        /// PF address.
        pf: String,
        /// The PF's netdev name.
        pf_name: String,
    },
    /// Remove the PF's udev rules.
    RemoveUdevRules {
        /// PF address.
        pf: String,
    },
    /// Reload udev rules and replay `add` events for network devices.
    ReloadUdev,
    /// Record the RDMA namespace mode as an `ib_core` module option
    /// (`/etc/modprobe.d/sriov_network_operator_modules_config.conf`).
    SetRdmaMode {
        /// `shared` or `exclusive`.
        mode: String,
    },
    /// Edit the boot loader's kernel command line (effective after the reboot the plan
    /// asks for).
    SetKernelArgs {
        /// Arguments to add.
        add: Vec<String>,
        /// Arguments to remove.
        remove: Vec<String>,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SetNumVfs { pf, num_vfs } => {
                write!(f, "{pf}: set sriov_numvfs to 0, then {num_vfs}")
            }
            Self::SetEswitchMode { pf, mode } => write!(f, "{pf}: set e-switch mode {mode}"),
            Self::SetPfMtu { pf, mtu } => write!(f, "{pf}: raise PF MTU to {mtu}"),
            Self::BindVf {
                pf,
                index,
                driver: VfDriver::Default,
            } => write!(f, "{pf} VF {index}: bind the default driver"),
            Self::BindVf {
                pf,
                index,
                driver: VfDriver::Named(name),
            } => write!(f, "{pf} VF {index}: bind {name}"),
            Self::SetVfAdminMac { pf, index } => {
                write!(f, "{pf} VF {index}: pin its MAC as the administrative MAC")
            }
            Self::SetVfMtu { pf, index, mtu } => write!(f, "{pf} VF {index}: set MTU {mtu}"),
            Self::SetPfUp { pf } => write!(f, "{pf}: set link up"),
            Self::SaveRecord { interface } => write!(
                f,
                "{}: record the applied configuration",
                interface.pci_address
            ),
            Self::ResetPf { pf, mtu } => write!(
                f,
                "{pf}: remove VFs, restore MTU {mtu} and legacy e-switch mode"
            ),
            Self::RemoveRecord { pf } => write!(f, "{pf}: delete the daemon's record"),
            Self::SetVfGuid { pf, index, guid } => {
                write!(f, "{pf} VF {index}: set InfiniBand GUID {guid}")
            }
            Self::WriteUdevRules { pf, switchdev, .. } => write!(
                f,
                "{pf}: write udev rules (NetworkManager ignores its VFs{})",
                if *switchdev { ", PF name kept" } else { "" }
            ),
            Self::WriteRepresentorRule { pf, pf_name } => {
                write!(
                    f,
                    "{pf}: write udev rule naming representors {pf_name}_<vf>"
                )
            }
            Self::RemoveUdevRules { pf } => write!(f, "{pf}: remove udev rules"),
            Self::ReloadUdev => write!(f, "reload udev rules"),
            Self::SetRdmaMode { mode } => write!(f, "set RDMA namespace mode {mode} (ib_core)"),
            Self::SetKernelArgs { add, remove } => {
                write!(f, "edit kernel arguments:")?;
                for a in add {
                    write!(f, " +{a}")?;
                }
                for r in remove {
                    write!(f, " -{r}")?;
                }
                Ok(())
            }
        }
    }
}

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
}

impl Plan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty() && self.disruption == Disruption::None
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

fn plan_error(pf: &str, reason: String) -> Error {
    Error::Plan {
        pf: pf.to_owned(),
        reason,
    }
}

/// The first group whose range holds VF `index`.
fn group_of(groups: &[VfGroup], index: u16) -> Option<&VfGroup> {
    groups.iter().find(|g| {
        g.vf_range
            .as_deref()
            .and_then(|r| r.parse::<VfRange>().ok())
            .is_some_and(|r| r.contains(index))
    })
}

/// Whether a `linkType` (`ETH`, `IB`, any case) is InfiniBand.
fn is_ib(link_type: Option<&str>) -> bool {
    link_type.is_some_and(|t| t.eq_ignore_ascii_case("ib"))
}

fn eswitch(mode: Option<&str>) -> &str {
    mode.filter(|m| !m.is_empty()).unwrap_or("legacy")
}

/// Upstream's NeedToUpdateSriov: whether the PF differs from its spec entry.
pub fn needs_update(spec: &Interface, status: &InterfaceExt) -> bool {
    let spec_mtu = spec.mtu.unwrap_or(0);
    if spec_mtu > 0 && spec_mtu > status.mtu.unwrap_or(0) {
        return true;
    }
    if eswitch(spec.e_switch_mode.as_deref()) != eswitch(status.e_switch_mode.as_deref()) {
        return true;
    }
    if spec.num_vfs.unwrap_or(0) != status.num_vfs.unwrap_or(0) {
        return true;
    }
    if status.link_admin_state.as_deref() == Some("down") {
        return true;
    }
    if spec.num_vfs.unwrap_or(0) > 0 {
        let groups = spec.vf_groups.as_deref().unwrap_or_default();
        let infiniband = is_ib(status.link_type.as_deref());
        for vf in status.vfs.iter().flatten() {
            let Some(group) = u16::try_from(vf.vf_id)
                .ok()
                .and_then(|i| group_of(groups, i))
            else {
                continue;
            };
            if vf_needs_update(spec, group, vf, infiniband) {
                return true;
            }
        }
    }
    false
}

fn vf_needs_update(
    spec: &Interface,
    group: &VfGroup,
    vf: &VirtualFunction,
    infiniband: bool,
) -> bool {
    let Some(driver) = vf.driver.as_deref() else {
        return true;
    };
    let device_type = group.device_type.as_deref().unwrap_or("netdevice");
    if device_type != "netdevice" {
        if driver != device_type {
            return true;
        }
    } else if is_userspace_driver(driver) {
        return true;
    }
    let (vf_mtu, group_mtu) = (vf.mtu.unwrap_or(0), group.mtu.unwrap_or(0));
    if vf_mtu != 0 && group_mtu != 0 && vf_mtu != group_mtu {
        return true;
    }
    let zero_guid = vf
        .guid
        .as_deref()
        .and_then(|g| g.parse::<Guid>().ok())
        .is_some_and(|g| g == ib::ZERO);
    if (infiniband || group.is_rdma == Some(true)) && zero_guid {
        return true;
    }
    if spec.externally_managed == Some(true) {
        return true;
    }
    group.vdpa_type.as_deref().unwrap_or("") != vf.vdpa_type.as_deref().unwrap_or("")
}

/// Computes the plan for applying `spec` to the observed host.
///
/// Errors name the PF: more VFs than the PF supports, or an externally managed PF that does
/// not already satisfy its spec entry.
pub fn plan(observed: Observed<'_>, spec: &SriovNetworkNodeStateSpec) -> Result<Plan> {
    let mut plan = Plan {
        disruption: Disruption::None,
        reasons: Vec::new(),
        actions: Vec::new(),
        warnings: Vec::new(),
    };
    let spec_ifaces = spec.interfaces.as_deref().unwrap_or_default();
    for wanted in spec_ifaces {
        if !observed
            .interfaces
            .iter()
            .any(|i| i.pci_address == wanted.pci_address)
        {
            plan.warnings.push(format!(
                "interface {} ({}) is in the spec but not on this host; nothing is done for it",
                wanted.name.as_deref().unwrap_or("<unnamed>"),
                wanted.pci_address
            ));
        }
    }
    let raise = |plan: &mut Plan, level: Disruption, reason: String| {
        plan.disruption = plan.disruption.max(level);
        plan.reasons.push(reason);
    };
    for status in observed.interfaces {
        let pci = status.pci_address.as_str();
        let current_vfs = status.num_vfs.unwrap_or(0);
        match spec_ifaces.iter().find(|s| s.pci_address == pci) {
            Some(wanted) => {
                if !needs_update(wanted, status) {
                    if observed.records.get(pci) != Some(wanted) {
                        plan.actions.push(Action::SaveRecord {
                            interface: wanted.clone(),
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
            None => match observed.records.get(pci) {
                None => {}
                Some(record) if record.externally_managed == Some(true) => {
                    plan.actions
                        .push(Action::RemoveRecord { pf: pci.to_owned() });
                }
                Some(_) => {
                    if current_vfs > 0 {
                        raise(
                            &mut plan,
                            Disruption::Drain,
                            format!("{pci}: removing the {current_vfs} VFs the operator created"),
                        );
                        let infiniband = is_ib(status.link_type.as_deref());
                        plan.actions.push(Action::ResetPf {
                            pf: pci.to_owned(),
                            mtu: if infiniband { 2048 } else { 1500 },
                        });
                    }
                    plan.actions
                        .push(Action::RemoveUdevRules { pf: pci.to_owned() });
                    plan.actions
                        .push(Action::RemoveRecord { pf: pci.to_owned() });
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

fn configure(
    plan: &mut Plan,
    observed: Observed<'_>,
    wanted: &Interface,
    status: &InterfaceExt,
) -> Result<()> {
    let pci = wanted.pci_address.as_str();
    let num_vfs = u16::try_from(wanted.num_vfs.unwrap_or(0)).map_err(|_| {
        plan_error(
            pci,
            format!("numVfs {} is not a VF count", wanted.num_vfs.unwrap_or(0)),
        )
    })?;
    let external = wanted.externally_managed == Some(true);
    let wanted_mode = eswitch(wanted.e_switch_mode.as_deref());
    if external {
        let current = status.num_vfs.unwrap_or(0);
        if current < i32::from(num_vfs) {
            return Err(plan_error(
                pci,
                format!("externally managed PF has {current} VFs, the spec needs {num_vfs}"),
            ));
        }
        if wanted_mode != eswitch(status.e_switch_mode.as_deref()) {
            return Err(plan_error(
                pci,
                format!("externally managed PF is not in {wanted_mode} e-switch mode"),
            ));
        }
        if wanted.mtu.unwrap_or(0) > status.mtu.unwrap_or(0) {
            return Err(plan_error(
                pci,
                format!(
                    "externally managed PF has MTU {}, the spec needs {}",
                    status.mtu.unwrap_or(0),
                    wanted.mtu.unwrap_or(0)
                ),
            ));
        }
    } else {
        if let Some(total) = status.total_vfs
            && i32::from(num_vfs) > total
        {
            return Err(plan_error(
                pci,
                format!("NumVfs ({num_vfs}) is larger than TotalVfs ({total})"),
            ));
        }
        let mode_differs = wanted_mode != eswitch(status.e_switch_mode.as_deref());
        let switchdev = wanted_mode == "switchdev";
        let pf_name = wanted
            .name
            .clone()
            .or_else(|| status.name.clone())
            .unwrap_or_default();
        let mut vf_devices: Vec<String> = observed
            .nics
            .vf_devices()
            .into_iter()
            .map(str::to_owned)
            .collect();
        // A PF outside the table (dev mode) still gets its own VFs matched.
        for vf in status.vfs.iter().flatten() {
            if let Some(id) = &vf.device_id
                && !vf_devices.contains(id)
            {
                vf_devices.push(id.clone());
            }
        }
        plan.actions.push(Action::WriteUdevRules {
            pf: pci.to_owned(),
            pf_name: pf_name.clone(),
            vf_devices,
            switchdev,
        });
        if status.num_vfs.unwrap_or(0) != i32::from(num_vfs) || mode_differs {
            if mode_differs {
                plan.actions.push(Action::SetEswitchMode {
                    pf: pci.to_owned(),
                    mode: wanted_mode.to_owned(),
                });
            }
            plan.actions.push(Action::SetNumVfs {
                pf: pci.to_owned(),
                num_vfs,
            });
        }
        if switchdev {
            plan.actions.push(Action::WriteRepresentorRule {
                pf: pci.to_owned(),
                pf_name,
            });
        }
        if let Some(mtu) = wanted.mtu.filter(|m| *m > status.mtu.unwrap_or(0)) {
            plan.actions.push(Action::SetPfMtu {
                pf: pci.to_owned(),
                mtu: mtu.unsigned_abs(),
            });
        }
    }
    let groups = wanted.vf_groups.as_deref().unwrap_or_default();
    let infiniband = is_ib(wanted.link_type.as_deref()) || is_ib(status.link_type.as_deref());
    // The PF's port GUID: the last 8 bytes of its 20-byte IPoIB hardware address.
    let pf_guid = status
        .mac
        .as_deref()
        .filter(|m| m.len() == 59)
        .and_then(|m| m.get(36..))
        .and_then(|g| g.parse::<Guid>().ok());
    let pool = observed.guids.and_then(|p| p.lookup(pci, pf_guid));
    for index in 0..num_vfs {
        // VFs outside every group are left alone.
        let Some(group) = group_of(groups, index) else {
            continue;
        };
        let device_type = group.device_type.as_deref().unwrap_or("netdevice");
        let seen = status
            .vfs
            .iter()
            .flatten()
            .find(|v| v.vf_id == i32::from(index));
        let driver = if device_type == "netdevice" {
            VfDriver::Default
        } else {
            VfDriver::Named(device_type.to_owned())
        };
        let bound_right = seen
            .and_then(|v| v.driver.as_deref())
            .is_some_and(|d| match &driver {
                VfDriver::Default => !is_userspace_driver(d),
                VfDriver::Named(name) => d == name,
            });
        if infiniband && (driver == VfDriver::Default || !bound_right) {
            let guid = match pool {
                Some(pool) => pool.get(index).ok_or_else(|| {
                    plan_error(
                        pci,
                        format!(
                            "the InfiniBand GUID pool has {} GUIDs for this PF, VF {index} needs one",
                            pool.len()
                        ),
                    )
                })?,
                None => ib::derived(
                    &pf_guid.map_or_else(|| pci.to_owned(), |g| g.to_string()),
                    index,
                ),
            };
            let current = seen
                .and_then(|v| v.guid.as_deref())
                .and_then(|g| g.parse::<Guid>().ok());
            if current != Some(guid) {
                plan.actions.push(Action::SetVfGuid {
                    pf: pci.to_owned(),
                    index,
                    guid: guid.to_string(),
                });
            }
        }
        if !bound_right {
            plan.actions.push(Action::BindVf {
                pf: pci.to_owned(),
                index,
                driver: driver.clone(),
            });
        }
        if driver == VfDriver::Default {
            if !infiniband {
                plan.actions.push(Action::SetVfAdminMac {
                    pf: pci.to_owned(),
                    index,
                });
            }
            if let Some(mtu) = group.mtu.filter(|m| *m > 0)
                && seen.and_then(|v| v.mtu) != Some(mtu)
            {
                plan.actions.push(Action::SetVfMtu {
                    pf: pci.to_owned(),
                    index,
                    mtu: mtu.unsigned_abs(),
                });
            }
        }
    }
    if status.link_admin_state.as_deref() == Some("down") {
        plan.actions.push(Action::SetPfUp { pf: pci.to_owned() });
    }
    plan.actions.push(Action::SaveRecord {
        interface: wanted.clone(),
    });
    Ok(())
}

/// The kernel-argument changes a spec needs.
struct KernelChange {
    reasons: Vec<String>,
    add: Vec<String>,
    remove: Vec<String>,
    rdma_mode: Option<String>,
}

/// Kernel arguments the spec needs but the command line lacks (or has but must not).
///
/// `vfio-pci` needs the IOMMU: when it is already active (IOMMU groups exist) nothing is
/// added, whatever the command line says; this avoids upstream's reboot loop on hosts whose
/// IOMMU is on by default or enabled by a variant such as `intel_iommu=on,sm_on`.
fn kernel_args(observed: Observed<'_>, spec: &SriovNetworkNodeStateSpec) -> KernelChange {
    let has = |arg: &str| observed.cmdline.iter().any(|a| a == arg);
    let mut change = KernelChange {
        reasons: Vec::new(),
        add: Vec::new(),
        remove: Vec::new(),
        rdma_mode: None,
    };
    let vfio = spec
        .interfaces
        .iter()
        .flatten()
        .flat_map(|i| i.vf_groups.iter().flatten())
        .any(|g| g.device_type.as_deref() == Some("vfio-pci"));
    if vfio && !observed.iommu_active {
        let wanted: &[&str] = match observed.cpu {
            CpuVendor::Intel | CpuVendor::Unknown => &["intel_iommu=on", "iommu=pt"],
            CpuVendor::Amd => &["amd_iommu=on", "iommu=pt"],
            CpuVendor::Arm => &[],
        };
        let missing: Vec<String> = wanted
            .iter()
            .filter(|a| !has(a))
            .map(|a| (*a).to_owned())
            .collect();
        if !missing.is_empty() {
            change.reasons.push(format!(
                "vfio-pci VFs need the IOMMU, which is off: adding kernel arguments {}",
                missing.join(" ")
            ));
            change.add.extend(missing);
        }
    }
    let rdma = match spec.system.as_ref().and_then(|s| s.rdma_mode) {
        Some(RdmaMode::Shared) => Some(("shared", "1", "0")),
        Some(RdmaMode::Exclusive) => Some(("exclusive", "0", "1")),
        _ => None,
    };
    if let Some((mode, on, off)) = rdma {
        let add = format!("ib_core.netns_mode={on}");
        let remove = format!("ib_core.netns_mode={off}");
        if !has(&add) || has(&remove) {
            change.reasons.push(format!(
                "rdmaMode {mode} needs kernel argument {add}{}",
                if has(&remove) {
                    format!(" instead of {remove}")
                } else {
                    String::new()
                }
            ));
            if !has(&add) {
                change.add.push(add);
            }
            if has(&remove) {
                change.remove.push(remove);
            }
            change.rdma_mode = Some(mode.to_owned());
        }
    }
    change
}
