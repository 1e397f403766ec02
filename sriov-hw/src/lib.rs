//! Host access for the SR-IOV stack: everything that touches a real (or fake) Linux host.
//!
//! What it owns:
//! - [`root::HostRoot`]: every host path resolved under an explicit root (`/`, `/host` in a
//!   pod, a temp dir in tests), never a process-wide global;
//! - [`pci`]: PCI functions through sysfs (IDs, driver, IOMMU group, NUMA node, SR-IOV state,
//!   `virtfn<i>`/`physfn`) and the writes that change them (`sriov_numvfs`, driver binding);
//! - [`link`]: interface attributes from `sys/class/net`, and the netlink-only facts behind a
//!   trait;
//! - [`store`]: the daemon's per-PF records;
//! - [`discover`]: the host as `SriovNetworkNodeState.status`;
//! - [`observe`]: one owned snapshot of a host (discovery, per-PF records, command line,
//!   IOMMU, CPU vendor, GUID pool, RDMA mode) giving both the status and the plan's input;
//! - [`kernel`]: prerequisites (`/proc/cmdline`, modules, IOMMU groups, lockdown), and
//!   [`doctor`]: the checklist built on them;
//! - [`fake`]: `FakeSysfs`, a temp-dir host root shaped like a real kernel's.
//!
//! - [`apply`]: executing a `sriov_core::plan::Plan`, resetting the PF on failure;
//! - [`fake::FakeHost`]: an in-memory kernel model with the kernel's rules, call recording
//!   and failure injection.
//!
//! - [`netlink`]: a synchronous rtnetlink client (links, MTU, up/down, rename, netns moves,
//!   alt-names, PF-side VF settings), usable inside another network namespace without
//!   switching the process.
//!
//! - [`netns`]: network namespaces opened, created, pinned, and joined by the calling
//!   thread for the length of a closure;
//! - [`devlink`]: e-switch mode over generic netlink; [`live::LiveLinks`] combines it with
//!   rtnetlink as the link side of a real host.
//!
//! - `process` (feature `process`): the long-running binaries' scaffold: logging (text or
//!   JSON), the tokio runtime, SIGTERM/SIGINT, the exit status;
//! - [`rdma`]: the RDMA subsystem's namespace mode (RDMA netlink, `ib_core` parameter);
//! - [`system`]: host files outside sysfs (udev rules, modprobe options, the IB GUID pool)
//!   and host commands (`udevadm`, boot-loader kernel arguments).
//!
//! What it must not do: talk to the Kubernetes API or decide policy; decisions come from
//! `sriov-core`, this crate only observes and acts.
//!
//! ```text
//! HostRoot (/ or /host) --observe--> HostSnapshot --status()--> NodeState.status
//!                                                  --observed()--> sriov_core::plan --> apply
//! ```

pub mod apply;
pub mod devlink;
pub mod discover;
pub mod doctor;
pub mod error;
pub mod fake;
pub mod functions;
pub mod kernel;
pub mod link;
pub mod live;
pub mod netlink;
pub mod netns;
pub mod observe;
pub mod pci;
#[cfg(feature = "process")]
pub mod process;
pub mod rdma;
pub mod root;
pub mod store;
pub mod sysfs;
pub mod system;

pub use error::{Error, Result};
pub use pci::SysfsHost;
pub use root::HostRoot;
