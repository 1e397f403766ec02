//! A checklist of a host's SR-IOV prerequisites, each with a verdict and a remedy: what
//! `sriovctl doctor` prints.

use sriov_core::nic::SupportedNics;

use crate::error::{Error, Result};
use crate::kernel;
use crate::observe::KernelFacts;
use crate::pci::{CLASS_NETWORK, PciSysfs};
use crate::root::HostRoot;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Fine.
    Pass,
    /// Works, but worth changing.
    Warn,
    /// Blocks SR-IOV (or the named feature).
    Fail,
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// The outcome.
    pub verdict: Outcome,
    /// What was found.
    pub detail: String,
    /// What to do about it (empty when passing).
    pub remedy: String,
}

fn check(
    name: impl Into<String>,
    verdict: Outcome,
    detail: impl Into<String>,
    remedy: &str,
) -> Check {
    Check {
        name: name.into(),
        verdict,
        detail: detail.into(),
        remedy: if verdict == Outcome::Pass {
            String::new()
        } else {
            remedy.to_owned()
        },
    }
}

/// Runs every check against the host at `root`, whose kernel facts (command line, IOMMU
/// groups) were read as `facts` ([`KernelFacts::read`], what the config daemon reads too);
/// the module and lockdown checks read what only they need. An error when the root has no
/// `proc/cmdline`.
pub fn run(
    root: &HostRoot,
    facts: &KernelFacts,
    pci: &dyn PciSysfs,
    nics: &SupportedNics,
) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    let cmdline = facts.cmdline.as_deref().ok_or_else(|| {
        Error::io(
            "read",
            root.join("proc/cmdline"),
            std::io::Error::from_raw_os_error(libc::ENOENT),
        )
    })?;
    let has = |arg: &str| cmdline.iter().any(|a| a == arg);
    let groups = facts.iommu_groups;
    checks.push(if groups > 0 {
        check("IOMMU active", Outcome::Pass, format!("{groups} IOMMU groups"), "")
    } else {
        check(
            "IOMMU active",
            Outcome::Fail,
            format!(
                "no IOMMU groups in {}: vfio-pci (DPDK) VFs cannot be used",
                root.join("sys/kernel/iommu_groups").display()
            ),
            "enable VT-d/AMD-Vi in the firmware and add intel_iommu=on (Intel) or amd_iommu=on (AMD) to the kernel command line",
        )
    });
    let iommu_arg = has("intel_iommu=on") || has("amd_iommu=on");
    checks.push(check(
        "IOMMU on the kernel command line",
        if iommu_arg || groups > 0 {
            Outcome::Pass
        } else {
            Outcome::Fail
        },
        if iommu_arg {
            "intel_iommu=on or amd_iommu=on present".to_owned()
        } else {
            "neither intel_iommu=on nor amd_iommu=on".to_owned()
        },
        "add intel_iommu=on (Intel) or amd_iommu=on (AMD) to the kernel command line",
    ));
    checks.push(check(
        "iommu=pt",
        if has("iommu=pt") {
            Outcome::Pass
        } else {
            Outcome::Warn
        },
        if has("iommu=pt") {
            "present"
        } else {
            "absent: host DMA goes through the IOMMU too, costing throughput"
        },
        "add iommu=pt to the kernel command line",
    ));
    let vfio = kernel::module_available(root, "vfio_pci")?
        || root.join("sys/bus/pci/drivers/vfio-pci").exists();
    checks.push(check(
        "vfio-pci available",
        if vfio { Outcome::Pass } else { Outcome::Warn },
        if vfio {
            "vfio_pci loaded"
        } else {
            "vfio_pci is not loaded (needed only for deviceType: vfio-pci)"
        },
        "modprobe vfio-pci (the config daemon loads it when a policy asks for vfio-pci)",
    ));
    if let Some(mode) = kernel::lockdown(root)?.filter(|m| m != "none") {
        checks.push(check(
            "kernel lockdown",
            Outcome::Warn,
            format!("lockdown={mode}: Mellanox firmware (NUM_OF_VFS, LINK_TYPE) cannot be changed"),
            "set the firmware values with mstconfig before enabling lockdown, or boot with lockdown=none",
        ));
    }

    let mut pfs = 0;
    for address in pci.list()? {
        let device = pci.device(&address)?;
        let Some(total) = device.total_vfs else {
            continue;
        };
        if device.class != CLASS_NETWORK || device.is_vf() {
            continue;
        }
        pfs += 1;
        let name = format!(
            "PF {address} ({}:{}, {})",
            device.vendor,
            device.device,
            device
                .netdevs
                .first()
                .map(String::as_str)
                .unwrap_or("no netdev")
        );
        let supported = nics.is_supported_pf(&device.vendor, &device.device);
        checks.push(if total == 0 {
            check(
                name,
                Outcome::Fail,
                "sriov_totalvfs is 0: SR-IOV is disabled in firmware",
                "enable SR-IOV (and set the VF count) in the NIC's firmware/BIOS settings, e.g. mstconfig set SRIOV_EN=1 NUM_OF_VFS=<n> for Mellanox",
            )
        } else if !supported {
            check(
                name,
                Outcome::Warn,
                format!("supports {total} VFs but is not in the supported-NIC table"),
                "add it to the supported-nic-ids ConfigMap (\"<vendor> <pf device> <vf device>\"), or run the operator in dev mode",
            )
        } else {
            check(name, Outcome::Pass, format!("supported, up to {total} VFs"), "")
        });
        let unbound: Vec<String> = device
            .virtfns
            .iter()
            .map(|(_, vf)| pci.device(vf))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .filter(|vf| vf.driver.is_none())
            .map(|vf| vf.address.to_string())
            .collect();
        if !unbound.is_empty() {
            checks.push(check(
                format!("VFs of {address}"),
                Outcome::Fail,
                format!("{} VF(s) have no driver: {}", unbound.len(), unbound.join(", ")),
                "load the VF driver module (iavf, mlx5_core, bnxt_en, ...) or bind the VFs (echo <pci> > /sys/bus/pci/drivers_probe)",
            ));
        }
    }
    if pfs == 0 {
        checks.push(check(
            "SR-IOV capable NICs",
            Outcome::Fail,
            "no network PF with sriov_totalvfs found",
            "install an SR-IOV capable NIC, or enable SR-IOV in the server BIOS (often a global \"SR-IOV Support\" switch)",
        ));
    }
    Ok(checks)
}

/// Whether nothing in the checklist blocks SR-IOV.
pub fn passes(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.verdict != Outcome::Fail)
}
