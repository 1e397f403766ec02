//! Rendering: what the operator writes, as pure functions of what it reads.
//!
//! - [`node_state`]: policies + a node's discovered PFs → the node state's spec.

pub mod node_state;
