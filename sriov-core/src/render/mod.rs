//! Rendering: what the operator writes, as pure functions of what it reads.
//!
//! - [`node_state`]: policies + a node's discovered PFs → the node state's spec;
//! - [`device_plugin`]: policies + a node → the device plugin's resource list;
//! - [`net_attach`]: networks → NetworkAttachmentDefinitions;
//! - [`cluster`]: a whole snapshot → everything above for every managed node and network.
//! - [`components`]: the operator config → the DaemonSets and webhooks the operator deploys;
//! - [`status`]: conditions on policies and node states from the render and the daemons' reports;
//! - [`stale`]: node states of nodes no longer managed: kept for a delay, then deleted;
//! - [`udev`]: the daemon's udev rules and helper scripts for a PF.

pub use cluster::{ClusterInputs, Desired, desired};

pub mod cluster;
pub mod components;
pub mod device_plugin;
pub mod net_attach;
pub mod node_state;
pub mod stale;
pub mod status;
pub mod udev;
