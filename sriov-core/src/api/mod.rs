//! The `sriovnetwork.openshift.io/v1` API and the Multus `NetworkAttachmentDefinition`.
//!
//! These are the *raw* types: field for field what the CRDs hold, JSON names spelled
//! exactly as the upstream Go operator spells them (`Vfs`, `Vlan`, `totalvfs`, an
//! always-present `vfID`), so any manifest written for upstream deserializes here and
//! serializes back unchanged. Nothing is resolved or defaulted on deserialization: a field
//! the user left out stays `None` and is not written back. Defaults that the API server
//! applies (`deviceType: netdevice`, `logLevel: info`) are declared in the generated CRD
//! schemas; the policy engine applies the webhook's defaults explicitly.
//!
//! # Unknown fields
//!
//! The types accept and drop fields they do not know, as every Kubernetes client must (a
//! newer API server may add fields). Tools that read user files, like `sriovctl`, detect
//! unknown fields with [`crate::manifest`], which reports each one with its path instead of
//! dropping it silently.

mod common;
mod nad;
mod network;
mod node;
mod node_state;
mod operator_config;
mod policy;
mod pool_config;

pub use common::*;
pub use nad::*;
pub use network::*;
pub use node::*;
pub use node_state::*;
pub use operator_config::*;
pub use policy::*;
pub use pool_config::*;

/// The namespace the operator is installed in when `NAMESPACE` does not say otherwise.
pub const DEFAULT_OPERATOR_NAMESPACE: &str = "sriov-network-operator";

/// The API group of every SR-IOV operator kind.
pub const GROUP: &str = "sriovnetwork.openshift.io";
/// The only served and stored version.
pub const VERSION: &str = "v1";
/// `apiVersion` of every SR-IOV operator kind.
pub const API_VERSION: &str = "sriovnetwork.openshift.io/v1";
