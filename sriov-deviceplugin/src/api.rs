//! The kubelet gRPC APIs, generated from `proto/` at build time.

#![allow(
    missing_docs,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    rustdoc::all
)]

/// Device-plugin API v1beta1 (`Registration` on the kubelet, `DevicePlugin` on plugins).
pub mod v1beta1 {
    tonic::include_proto!("v1beta1");
}

/// Plugin-watcher registration API v1 (`Registration` on plugins).
pub mod pluginregistration {
    tonic::include_proto!("pluginregistration");
}
