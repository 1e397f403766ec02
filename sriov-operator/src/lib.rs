//! The SR-IOV network operator's control plane, and `sriovctl`, its offline command line.
//!
//! **Status:** [`ctl`] (the `sriovctl` command) and, in [`operator`], the first controller
//! of `sriov-network-operator`: the policy sync (policies → node states, the device-plugin
//! ConfigMap and node labels, stale node states). The network, operator-config and drain
//! controllers and the per-node config daemon are open issues; they are thin shells too:
//! gather a snapshot from the cluster, call the pure functions of `sriov-core`, write what
//! differs.
//!
//! `sriovctl` lives here because it is the operator's offline face: it prints what the
//! operator installs (CRDs), what it would render and what its webhook would reject, from
//! files instead of a cluster, and what the config daemon would see and do on a host. This
//! crate already depends on everything those commands need, so the tool adds no crate of
//! its own and no extra build.
//!
//! ```text
//! files / stdin --sriov_core::manifest--> typed objects --sriov_core--> YAML / diagnostics
//! host root --sriov_hw::discover / doctor--> node-state status, checklist, plan
//! ```

pub mod ctl;
pub mod operator;
