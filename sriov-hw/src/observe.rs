//! One look at a host: everything the config daemon (and `sriovctl discover`/`plan`) reads
//! before deciding anything, taken once and owned, so the NodeState `status` and the plan's
//! input come from the same observation.
//!
//! [`observe`] looks at a host root (this kernel's `/`, a pod's `/host`, or a
//! [`crate::fake::FakeSysfs`] tree): it checks that the root is one, discovers the PFs and
//! VFs (with rtnetlink alt-names and devlink e-switch modes when the root is this kernel's),
//! and reads the daemon's per-PF records, the kernel command line, IOMMU groups, CPU vendor,
//! the InfiniBand GUID pool and the RDMA namespace mode. [`observe_view`] does the same over
//! any backend (the in-memory [`crate::fake::FakeHost`]) with the kernel facts given.

use std::collections::BTreeMap;

use sriov_core::api::{Interface, InterfaceExt, RdmaMode, SriovNetworkNodeStateStatus, System};
use sriov_core::ib::GuidPool;
use sriov_core::nic::SupportedNics;
use sriov_core::plan::{CpuVendor, Observed};

use crate::SysfsHost;
use crate::discover::{self, HostView, Options};
use crate::error::{Error, Result};
use crate::link::{LinkQuery, NoNetlink};
use crate::live::LiveLinks;
use crate::root::HostRoot;
use crate::store::RecordFiles;
use crate::system::{self, HostSystem, RootSystem};

/// What the kernel says about itself, beside the devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelFacts {
    /// `/proc/cmdline`, split; `None` when the root has no `proc/cmdline` (discovery does not
    /// need it; planning does, and says so).
    pub cmdline: Option<Vec<String>>,
    /// How many IOMMU groups exist (none: the IOMMU is off).
    pub iommu_groups: usize,
    /// The CPU vendor (which IOMMU kernel arguments apply).
    pub cpu: CpuVendor,
    /// The RDMA subsystem's namespace mode, when the host has RDMA.
    pub rdma_mode: Option<RdmaMode>,
}

impl KernelFacts {
    /// Whether the IOMMU is on (IOMMU groups exist).
    pub fn iommu_active(&self) -> bool {
        self.iommu_groups > 0
    }

    /// Reads them under `root`: the command line, IOMMU groups, `proc/cpuinfo`, and the
    /// RDMA mode (RDMA netlink when the root is this kernel's `/`, else `ib_core`'s
    /// parameter).
    pub fn read(root: &HostRoot) -> Result<Self> {
        let cmdline = match crate::kernel::cmdline(root) {
            Ok(cmdline) => Some(cmdline),
            Err(e) if e.errno() == Some(libc::ENOENT) => None,
            Err(e) => return Err(e),
        };
        Ok(Self {
            cmdline,
            iommu_groups: crate::kernel::iommu_group_count(root)?,
            cpu: crate::kernel::cpu_vendor(root)?,
            rdma_mode: crate::rdma::netns_mode(root)?,
        })
    }
}

/// One observation of a host, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSnapshot {
    /// The PFs and their VFs, as `status.interfaces` reports them.
    pub interfaces: Vec<InterfaceExt>,
    /// The daemon's record of what it configured, per PF PCI address.
    pub records: BTreeMap<String, Interface>,
    /// The kernel's facts.
    pub kernel: KernelFacts,
    /// The static InfiniBand GUID pool, when the host has one.
    pub guids: Option<GuidPool>,
}

impl HostSnapshot {
    /// The NodeState `status` this host reports: interfaces and, when known, the RDMA mode.
    pub fn status(&self) -> SriovNetworkNodeStateStatus {
        SriovNetworkNodeStateStatus {
            interfaces: Some(self.interfaces.clone()),
            system: self.kernel.rdma_mode.map(|rdma_mode| System {
                rdma_mode: Some(rdma_mode),
            }),
            ..Default::default()
        }
    }

    /// The plan's view of this host; an error when the root had no `proc/cmdline`.
    pub fn observed<'a>(&'a self, nics: &'a SupportedNics) -> Result<Observed<'a>> {
        let cmdline = self
            .kernel
            .cmdline
            .as_deref()
            .ok_or_else(|| Error::NotFound {
                what: "kernel command line",
                name: "proc/cmdline".into(),
            })?;
        Ok(Observed {
            interfaces: &self.interfaces,
            records: &self.records,
            cmdline,
            iommu_active: self.kernel.iommu_active(),
            cpu: self.kernel.cpu,
            nics,
            guids: self.guids.as_ref(),
        })
    }
}

/// Observes the host at `root` (see the module docs). `dev_mode` also reports SR-IOV PFs
/// that are not in `nics`.
pub fn observe(root: &HostRoot, nics: &SupportedNics, dev_mode: bool) -> Result<HostSnapshot> {
    root.check()?;
    let host = SysfsHost::new(root.clone());
    // Netlink and devlink answer for this kernel only: a fake root's links are not its.
    let live = if root.is_system_root() {
        LiveLinks::new().ok()
    } else {
        None
    };
    let netlink: &dyn LinkQuery = match &live {
        Some(live) => live,
        None => &NoNetlink,
    };
    let records = RecordFiles::new(root.clone());
    let view = HostView {
        pci: &host,
        links: &host,
        netlink,
        store: &records,
    };
    observe_view(
        view,
        &RootSystem::new(root.clone()),
        KernelFacts::read(root)?,
        Options { nics, dev_mode },
    )
}

/// Observes a host through `view` and `system`, with the kernel's facts given.
pub fn observe_view(
    view: HostView<'_>,
    system: &dyn HostSystem,
    kernel: KernelFacts,
    options: Options<'_>,
) -> Result<HostSnapshot> {
    let interfaces = discover::discover(view, options)?;
    let mut records = BTreeMap::new();
    for iface in &interfaces {
        let pci = iface.pci_address.parse().map_err(|_| Error::NotFound {
            what: "PCI device of a discovered interface",
            name: iface.pci_address.clone(),
        })?;
        if let Some(record) = view.store.load(&pci)? {
            records.insert(iface.pci_address.clone(), record);
        }
    }
    Ok(HostSnapshot {
        interfaces,
        records,
        kernel,
        guids: system::guid_pool(system)?,
    })
}
