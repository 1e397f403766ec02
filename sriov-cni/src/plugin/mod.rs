//! The commands: ADD, DEL, CHECK, GC, STATUS and VERSION.
//!
//! ADD records the VF's original state in the cache **before** changing anything, then
//! applies the PF-side settings, moves the netdev into the pod, runs IPAM and configures its
//! addresses. A failure at any step undoes every step before it (IPAM released, netdev back
//! under its host name, MAC and PF-side settings restored, cache removed).
//!
//! DEL is idempotent: without a cache there is nothing to undo; IPAM is released first and
//! its failure keeps the cache so a retry can finish; PF-side settings are restored before
//! the netdev is released; when the pod's namespace is gone the VF is found by its PCI
//! address in the host namespace and still restored; a VF that a newer ADD has claimed is
//! not touched.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::Value;
use sriov_hw::link::VfControl;
use sriov_hw::pci::PciSysfs;

use crate::conf::NetConf;
use crate::env::{Command, Env};
use crate::error::{CniError, Result, code};
use crate::log::{Level, Logger};
use crate::pod::{self, NetNs, Pods, Restore};
use crate::result::{Interface, Success};
use crate::state::{Cache, StateDir};
use crate::{ipam, version, vf};

/// What the plugin acts on.
#[derive(Clone, Copy)]
pub struct Host<'a> {
    /// PCI functions (VF, PF, netdev, driver) under the host root.
    pub pci: &'a dyn PciSysfs,
    /// The PF side of VFs.
    pub vfs: &'a dyn VfControl,
    /// State files.
    pub state: &'a StateDir,
    /// How long to wait for another invocation holding the same VF.
    pub lock_timeout: Duration,
    /// The host side: the namespace the plugin runs in ([`pod::KernelNs`], with one
    /// netlink connection there opened once per invocation).
    pub side: &'a dyn NetNs,
    /// Opening pods' namespaces ([`pod::KernelPods`] in the binary).
    pub pods: &'a dyn Pods,
    /// Test hook for fault injection: ADD fails right after this step (`pf-settings`,
    /// `moved`, `setup`, `ipam`, `addresses`, `allocation`). Always `None` in the binary.
    pub failpoint: Option<&'a str>,
}

/// ADD fails right after `step` when [`Host::failpoint`] names it (the rollback tests).
pub(super) fn failpoint(host: Host<'_>, step: &str) -> Result<()> {
    if host.failpoint == Some(step) {
        return Err(CniError::new(
            code::TRY_AGAIN_LATER,
            format!("injected failure after step {step}"),
        ));
    }
    Ok(())
}

mod add;
mod check;
mod del;
mod gc;
mod status;

/// One invocation's inputs, handed to the command that carries it out.
#[derive(Clone, Copy)]
pub(super) struct Attachment<'a> {
    env: &'a Env,
    stdin: &'a [u8],
    conf: &'a NetConf,
    host: Host<'a>,
    log: &'a Logger,
}

/// Runs one invocation: the text for stdout on success.
pub fn run(env: &Env, stdin: &[u8], host: Host<'_>, log: &mut Logger) -> Result<String> {
    if env.command == Command::Version {
        let requested = serde_json::from_slice::<Value>(stdin).ok().and_then(|v| {
            v.get("cniVersion")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        return Ok(version::version_info(requested.as_deref()));
    }
    let conf = NetConf::parse(stdin)?;
    log.configure(Level::parse(&conf.log_level), conf.log_file.clone());
    let a = Attachment {
        env,
        stdin,
        conf: &conf,
        host,
        log,
    };
    match env.command {
        Command::Add => add::add(a),
        Command::Del => del::del(a).map(|()| String::new()),
        Command::Check => {
            require(&conf, "0.4.0", "CHECK")?;
            check::check(a).map(|()| String::new())
        }
        Command::Gc => {
            require(&conf, "1.1.0", "GC")?;
            gc::gc(a).map(|()| String::new())
        }
        Command::Status => {
            require(&conf, "1.1.0", "STATUS")?;
            status::status(a).map(|()| String::new())
        }
        Command::Version => Ok(String::new()),
    }
}

pub(super) fn require(conf: &NetConf, min: &str, command: &str) -> Result<()> {
    if version::at_least(conf.cni_version, min) {
        Ok(())
    } else {
        Err(CniError::new(
            code::INCOMPATIBLE_VERSION,
            format!("config version does not allow {command}"),
        )
        .details(format!(
            "config is {:?}, {command} needs {min} or later",
            conf.cni_version
        )))
    }
}

pub(super) fn ipam_plugin(conf: &NetConf, env: &Env) -> Result<Option<String>> {
    match &conf.ipam_type {
        Some(t) if env.path.is_empty() => Err(CniError::new(
            code::INVALID_ENVIRONMENT,
            format!("required env variables [CNI_PATH] missing (needed to run IPAM plugin {t:?})"),
        )),
        other => Ok(other.clone()),
    }
}

pub(super) fn restore_of(cache: &Cache) -> Restore {
    Restore {
        name: cache.orig.host_ifname.clone(),
        mac: cache.orig.effective_mac.clone(),
        mtu: cache.orig.mtu,
    }
}
