//! The pure core of the SR-IOV network operator stack.
//!
//! `sriov-core` owns everything that can be decided without touching a host or a cluster:
//!
//! - [`api`]: the `sriovnetwork.openshift.io/v1` types, compatible with the upstream Go
//!   operator field for field, plus the Multus `NetworkAttachmentDefinition`;
//! - [`crd`]: the CustomResourceDefinitions generated from those types;
//! - [`ids`]: parsed identifiers (PCI addresses, VF ranges, PF selectors, resource names);
//! - [`ib`]: InfiniBand VF GUIDs and the static GUID pool file;
//! - [`manifest`]: reading multi-document YAML/JSON into typed objects, reporting unknown
//!   fields and type errors with their paths;
//! - [`nic`]: the supported-NIC table; [`labels`]: label matching; [`pool_config`]:
//!   `SriovNetworkPoolConfig` membership;
//! - [`policy`]: raw policies resolved into checked [`policy::Policy`] values, NIC selection;
//! - [`render`]: what the operator writes (node-state specs, the device-plugin config,
//!   NetworkAttachmentDefinitions), for one node or a whole cluster snapshot;
//! - [`schema`]: checking values against a CRD's structural schema, as the API server does;
//! - [`admission`] and [`validate`]: the webhooks' defaults and rules;
//! - [`drain`]: which nodes may start draining;
//! - [`plan`]: observed host + desired spec → ordered host actions and their disruption;
//! - [`testing`]: fluent builders for tests and property tests.
//!
//! What it must not do: perform I/O, spawn tasks, read clocks or environment variables.
//! Everything here is a function of its arguments, so the controller, the webhook, the
//! config daemon and users' own tools get the same answers offline.
//!
//! ```text
//! YAML/JSON --manifest--> api types --policy::PolicySet--> render::desired --> NodeStates,
//!                            |                                             device-plugin
//!                            |                                             ConfigMap, NADs
//!                            +--admission / validate--> patches, violations, warnings
//!                            +--crd--> CustomResourceDefinitions (deploy/crds/)
//! ```

pub mod admission;
pub mod api;
pub mod crd;
pub mod drain;
pub mod error;
pub mod ib;
pub mod ids;
pub mod labels;
pub mod manifest;
pub mod nic;
pub mod plan;
pub mod policy;
pub mod pool_config;
pub mod render;
pub mod schema;
pub mod testing;
pub mod validate;

pub use error::{Error, Result};
