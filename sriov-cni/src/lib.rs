//! The SR-IOV CNI plugin (binary `sriov`), invoked by Multus for each pod attachment.
//!
//! **Status: not yet implemented.** This crate is reserved by the workspace layout; the CNI
//! issue fills it. Nothing here is usable yet and no API is promised.
//!
//! What it will own: the CNI protocol (spec 1.1.0 with version negotiation, ADD, DEL, CHECK,
//! GC, STATUS, VERSION, error JSON with codes), the upstream-compatible `NetConf`, moving a
//! VF netdev into the pod network namespace, PF-side VF configuration (VLAN, MAC, spoofchk,
//! trust, rates, link state), IPAM delegation, and a cache of the original VF state so every
//! failure rolls back completely and DEL is idempotent.
//!
//! What it must not do: run an async runtime or talk to Kubernetes; host access goes through
//! `sriov-hw`.
//!
//! ```text
//! stdin (NetConf JSON) + CNI_* env --> ADD/DEL/CHECK --> sriov-hw (netlink, sysfs)
//!                                                    --> IPAM plugin via CNI_PATH
//! stdout <-- result or error JSON
//! ```
