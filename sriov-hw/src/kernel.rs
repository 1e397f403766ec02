//! Kernel prerequisites read from the host root: command line, loaded modules, IOMMU groups,
//! lockdown.

use crate::error::Result;
use crate::root::HostRoot;
use crate::sysfs;

/// The kernel command line's parameters.
pub fn cmdline(root: &HostRoot) -> Result<Vec<String>> {
    Ok(sysfs::read_trimmed(&root.join("proc/cmdline"))?
        .split_whitespace()
        .map(str::to_owned)
        .collect())
}

/// Names of loaded modules (`/proc/modules`, first column).
pub fn modules(root: &HostRoot) -> Result<Vec<String>> {
    Ok(sysfs::read_optional(&root.join("proc/modules"))?
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect())
}

/// Whether a module is available: loaded, or built into the kernel (its directory exists in
/// `/sys/module`).
pub fn module_available(root: &HostRoot, name: &str) -> Result<bool> {
    Ok(modules(root)?.iter().any(|m| m == name) || root.join("sys/module").join(name).exists())
}

/// Number of IOMMU groups (`/sys/kernel/iommu_groups`); 0 means the IOMMU is off.
pub fn iommu_group_count(root: &HostRoot) -> Result<usize> {
    Ok(sysfs::list_dir(&root.join("sys/kernel/iommu_groups"))?.len())
}

/// The active lockdown mode (`none`, `integrity`, `confidentiality`), when the kernel has
/// lockdown support.
pub fn lockdown(root: &HostRoot) -> Result<Option<String>> {
    Ok(
        sysfs::read_optional(&root.join("sys/kernel/security/lockdown"))?.and_then(|text| {
            text.split_whitespace()
                .find(|w| w.starts_with('['))
                .map(|w| w.trim_matches(|c| c == '[' || c == ']').to_owned())
        }),
    )
}

/// The CPU vendor from `/proc/cpuinfo` (`vendor_id`, or an Arm `CPU implementer`).
pub fn cpu_vendor(root: &HostRoot) -> Result<sriov_core::plan::CpuVendor> {
    use sriov_core::plan::CpuVendor;
    let text = sysfs::read_optional(&root.join("proc/cpuinfo"))?.unwrap_or_default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match (key.trim(), value.trim()) {
            ("vendor_id", "GenuineIntel") => return Ok(CpuVendor::Intel),
            ("vendor_id", "AuthenticAMD" | "HygonGenuine") => return Ok(CpuVendor::Amd),
            ("CPU implementer", _) => return Ok(CpuVendor::Arm),
            _ => {}
        }
    }
    Ok(CpuVendor::Unknown)
}
