//! The SR-IOV device plugin (binary `sriovdp`): advertises VF pools to the kubelet.
//!
//! What it owns: the upstream `resourceList` config format and its selectors
//! ([`config`]), the offerable functions ([`device`], re-exporting `sriov_hw::functions`), pools and
//! per-VF health across rescans ([`resource_pool`]), the kubelet `v1beta1` device-plugin and
//! `pluginregistration/v1` gRPC services ([`server`], [`api`]), `Allocate` output (PCI env
//! vars, device specs, device-info files, CDI: [`allocate`]), the rescanning loop
//! ([`manager`]) and the binary's flags and logging ([`cli`]).
//!
//! What it must not do: configure VFs (that is the config daemon's job) or reach the
//! Kubernetes API server.
//!
//! ```text
//! config file + sysfs --> pools --> ListAndWatch --> kubelet
//!                                   Allocate     --> env vars, /dev/vfio/N, devinfo, CDI
//! ```

pub mod allocate;
pub mod api;
pub mod config;
pub mod device;
pub mod manager;
pub mod resource_pool;
pub mod server;

pub mod cli;

/// The binary's entry point; returns the exit code.
pub fn main() -> i32 {
    cli::main(std::env::args().collect())
}
