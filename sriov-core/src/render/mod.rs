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

/// 64-bit FNV-1a: a hash that stays the same across builds and Rust versions (std's
/// `DefaultHasher` does not promise that), for names and fingerprints written to the API.
pub(crate) fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
