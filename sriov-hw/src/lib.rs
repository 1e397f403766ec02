//! Host access for the SR-IOV stack: everything that touches a real (or fake) Linux host.
//!
//! **Status: not yet implemented.** This crate is reserved by the workspace layout; the
//! host-layer issue fills it. Nothing here is usable yet and no API is promised.
//!
//! What it will own:
//! - PCI sysfs (`sriov_totalvfs`, `sriov_numvfs`, `virtfnN`/`physfn`, driver bind/unbind,
//!   `driver_override`, IOMMU groups, NUMA node), always under an explicit host root
//!   passed in by the caller, never a process-wide global;
//! - links over rtnetlink (MTU, admin state, rename, netns moves, alt-names, the PF-side VF
//!   settings: MAC, VLAN/QoS/protocol, spoofchk, trust, rates, link state);
//! - network namespaces, kernel prerequisites (`/proc/cmdline`, modules, lockdown);
//! - discovery of PFs/VFs into `SriovNetworkNodeState.status` and applying a plan computed by
//!   `sriov-core`;
//! - two fakes for tests: `FakeSysfs` (a temp-dir tree shaped like a real kernel's) and
//!   `FakeHost` (an in-memory kernel model with failure injection).
//!
//! What it must not do: talk to the Kubernetes API or decide policy; decisions come from
//! `sriov-core`, this crate only observes and acts.
//!
//! ```text
//! host root (/ or /host) --read--> discovery --> NodeState.status
//! sriov_core::plan(status, spec) --> Plan --apply--> sysfs + netlink
//! ```
