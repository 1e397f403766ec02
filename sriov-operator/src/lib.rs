//! The SR-IOV network operator's control plane, and `sriovctl`, its offline command line.
//!
//! **Status:** only [`ctl`] (the `sriovctl` command) exists so far. The controllers
//! (policies → node states, device-plugin ConfigMap, networks → NetworkAttachmentDefinitions,
//! operator config → DaemonSets and webhooks, drain coordination) and the per-node config
//! daemon are the open issues; they are to be thin shells: gather a snapshot from the
//! cluster, call the pure functions of `sriov-core`, write the result.
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
