//! Kernel arguments: the IOMMU and RDMA arguments a spec needs, against the command line.

use super::*;

/// The kernel-argument changes a spec needs.
pub(super) struct KernelChange {
    pub(super) reasons: Vec<String>,
    pub(super) add: Vec<String>,
    pub(super) remove: Vec<String>,
    pub(super) rdma_mode: Option<RdmaMode>,
}

/// Kernel arguments the spec needs but the command line lacks (or has but must not).
///
/// `vfio-pci` needs the IOMMU: when it is already active (IOMMU groups exist) nothing is
/// added, whatever the command line says; this avoids upstream's reboot loop on hosts whose
/// IOMMU is on by default or enabled by a variant such as `intel_iommu=on,sm_on`.
pub(super) fn kernel_args(
    observed: Observed<'_>,
    spec: &SriovNetworkNodeStateSpec,
) -> KernelChange {
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
    let rdma_mode = spec.system.as_ref().and_then(|s| s.rdma_mode);
    let rdma = match rdma_mode {
        Some(mode @ RdmaMode::Shared) => Some((mode, "1", "0")),
        Some(mode @ RdmaMode::Exclusive) => Some((mode, "0", "1")),
        None => None,
    };
    if let Some((mode, on, off)) = rdma {
        let add = format!("ib_core.netns_mode={on}");
        let remove = format!("ib_core.netns_mode={off}");
        if !has(&add) || has(&remove) {
            change.reasons.push(format!(
                "rdmaMode {} needs kernel argument {add}{}",
                mode.as_str(),
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
            change.rdma_mode = Some(mode);
        }
    }
    change
}
