//! Admission webhooks for the SR-IOV operator.
//!
//! **Status: not yet implemented.** This crate is reserved by the workspace layout; the
//! webhook issue fills it. Nothing here is usable yet and no API is promised.
//!
//! What it will own: the HTTPS transport (axum + rustls, certificate reload), decoding
//! `AdmissionReview` requests, dispatching per kind to the pure rules in
//! `sriov_core` (policy defaulting and validation, network and config validation), and the
//! network-resources-injector that adds VF resource requests to pods from their
//! `k8s.v1.cni.cncf.io/networks` annotation.
//!
//! What it must not do: hold policy logic itself; every decision is a pure function in
//! `sriov-core`, this crate only transports and maps errors to admission responses.
//!
//! ```text
//! AdmissionReview --> dispatch(kind) --> sriov_core rules --> allow / deny(field, reason) / patch
//! ```
