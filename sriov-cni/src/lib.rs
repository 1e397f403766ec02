//! The SR-IOV CNI plugin (binary `sriov`), invoked by Multus for each pod attachment.
//!
//! It speaks CNI 0.1.0 to 1.1.0 ([`version`], [`result`], [`error`]), reads the
//! upstream-compatible configuration ([`conf`]) and environment ([`mod@env`]), resolves the VF
//! named by `deviceID` ([`vf`]), configures it on its PF, moves its netdev into the pod
//! ([`pod`]), delegates IP addressing ([`ipam`]) and announces the addresses
//! ([`announce`]). Its state ([`state`]) sits where upstream's does, in the same format.
//! [`plugin`] holds the commands; [`main`] is what the binary runs.
//!
//! What it must not do: run an async runtime or talk to Kubernetes; host access goes through
//! `sriov-hw`.
//!
//! ```text
//! stdin (NetConf JSON) + CNI_* env --> ADD/DEL/CHECK/GC/STATUS --> sriov-hw (netlink, sysfs)
//!                                                               --> IPAM plugin via CNI_PATH
//! stdout <-- result or error JSON
//! ```

use std::collections::BTreeMap;
use std::io::{Read, Write};

pub mod announce;
pub mod conf;
pub mod env;
pub mod error;
pub mod ipam;
pub mod log;
pub mod plugin;
pub mod pod;
pub mod result;
pub mod state;
pub mod version;
pub mod vf;

pub use error::{CniError, Result};

/// The binary: without `CNI_COMMAND`, prints [`version::about`] on stderr and returns 0;
/// otherwise reads the environment and stdin, runs the command against this host
/// (`SRIOV_HOST_ROOT`, default `/`; state in `SRIOV_CNI_STATE_DIR`, default
/// `/var/lib/cni/sriov`), prints the result or the error JSON, and returns the exit code.
pub fn main() -> i32 {
    let vars: BTreeMap<String, String> = std::env::vars().collect();
    // Run by a person (no CNI_COMMAND; `sriov --help`, `sriov --version`): say what this
    // is, before reading stdin, which would wait on a terminal.
    if vars.get("CNI_COMMAND").is_none_or(String::is_empty) {
        let _ = writeln!(std::io::stderr(), "{}", version::about());
        return 0;
    }
    let mut stdin = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut stdin);
    let requested = serde_json::from_slice::<serde_json::Value>(&stdin)
        .ok()
        .and_then(|v| {
            v.get("cniVersion")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
        .filter(|v| version::SUPPORTED.contains(&v.as_str()))
        .unwrap_or_else(|| version::CURRENT.to_owned());
    let mut log = log::Logger::new(log::Level::Info, None);
    let outcome = env::Env::from_vars(vars.clone()).and_then(|env| {
        log = log::Logger::new(log::Level::Info, None)
            .with("containerID", &env.container_id)
            .with("netns", &env.netns)
            .with("ifname", &env.ifname);
        let root = sriov_hw::HostRoot::new(
            vars.get("SRIOV_HOST_ROOT")
                .filter(|r| !r.is_empty())
                .map_or("/", String::as_str),
        );
        let sysfs = sriov_hw::SysfsHost::new(root);
        // The host side, opened once: its connection also configures VFs on their PF.
        let side = pod::KernelNs::current()?;
        let state = state::StateDir::from_env(vars.get("SRIOV_CNI_STATE_DIR").map(String::as_str));
        plugin::run(
            &env,
            &stdin,
            plugin::Host {
                pci: &sysfs,
                vfs: side.netlink(),
                state: &state,
                lock_timeout: state::LOCK_TIMEOUT,
                side: &side,
                pods: &pod::KernelPods,
                failpoint: None,
            },
            &mut log,
        )
    });
    let mut out = std::io::stdout();
    match outcome {
        Ok(text) => {
            if !text.is_empty() {
                let _ = writeln!(out, "{text}");
            }
            0
        }
        Err(e) => {
            log.error(
                "command failed",
                &[("code", &e.code.to_string()), ("error", &e.to_string())],
            );
            let _ = writeln!(out, "{}", e.to_json(&requested));
            1
        }
    }
}
