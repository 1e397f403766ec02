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

use std::fs::File;
use std::net::IpAddr;
use std::time::Duration;

use serde_json::Value;
use sriov_hw::link::VfControl;
use sriov_hw::netns;
use sriov_hw::pci::PciSysfs;

use crate::conf::NetConf;
use crate::env::{Command, Env};
use crate::error::{CniError, Result, code};
use crate::log::{Level, Logger};
use crate::pod::{self, Restore, Side};
use crate::result::{Interface, Success};
use crate::state::{Cache, StateDir};
use crate::{announce, ipam, version, vf};

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
    /// The host side: the namespace the plugin runs in and one netlink connection there,
    /// opened once per invocation.
    pub side: &'a Side,
    /// Test hook for fault injection: ADD fails right after this step (`pf-settings`,
    /// `moved`, `setup`, `ipam`, `addresses`, `allocation`). Always `None` in the binary.
    pub failpoint: Option<&'a str>,
}

/// ADD fails right after `step` when [`Host::failpoint`] names it (the rollback tests).
fn failpoint(host: Host<'_>, step: &str) -> Result<()> {
    if host.failpoint == Some(step) {
        return Err(CniError::new(
            code::TRY_AGAIN_LATER,
            format!("injected failure after step {step}"),
        ));
    }
    Ok(())
}

/// Whether a netns path still opens.
fn netns_alive(path: &str) -> bool {
    !path.is_empty() && File::open(path).is_ok()
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
    match env.command {
        Command::Add => add(env, stdin, &conf, host, log),
        Command::Del => del(env, stdin, &conf, host, log).map(|()| String::new()),
        Command::Check => {
            require(&conf, "0.4.0", "CHECK")?;
            check(env, stdin, &conf, host).map(|()| String::new())
        }
        Command::Gc => {
            require(&conf, "1.1.0", "GC")?;
            gc(env, stdin, &conf, host, log).map(|()| String::new())
        }
        Command::Status => {
            require(&conf, "1.1.0", "STATUS")?;
            status(env, stdin, &conf, host).map(|()| String::new())
        }
        Command::Version => Ok(String::new()),
    }
}

fn require(conf: &NetConf, min: &str, command: &str) -> Result<()> {
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

fn ipam_plugin(conf: &NetConf, env: &Env) -> Result<Option<String>> {
    match &conf.ipam_type {
        Some(t) if env.path.is_empty() => Err(CniError::new(
            code::INVALID_ENVIRONMENT,
            format!("required env variables [CNI_PATH] missing (needed to run IPAM plugin {t:?})"),
        )),
        other => Ok(other.clone()),
    }
}

/// What ADD has done so far, to undo on failure.
#[derive(Default)]
struct Done {
    pf_settings: bool,
    moved: bool,
    ipam: bool,
}

fn add(env: &Env, stdin: &[u8], conf: &NetConf, host: Host<'_>, log: &Logger) -> Result<String> {
    let address = conf.validate_for_add()?;
    let mac = conf.effective_mac(&env.args)?;
    // Chained after another plugin: its result is extended (checked before anything moves).
    let prev = conf
        .prev_result
        .as_ref()
        .map(|p| Success::parse(p, conf.cni_version))
        .transpose()?;
    let ipam_type = ipam_plugin(conf, env)?;
    let vf = vf::lookup(host.pci, &address)?;
    let pci = address.to_string();
    let _lock = host.state.lock(&pci, host.lock_timeout)?;
    if let Some(owner) = host.state.allocation(&pci)? {
        if netns_alive(&owner) {
            return Err(CniError::new(
                code::VF_BUSY,
                format!("pci address {pci} is already allocated"),
            )
            .details(format!("held by the pod network namespace {owner}")));
        }
        log.info(
            "reclaiming a stale allocation",
            &[("pci", &pci), ("netns", &owner)],
        );
        host.state.remove_allocation(&pci)?;
    }
    // Without a visible PF (a VF passed through to a VM) a requested MAC still goes on the
    // netdev; only the settings that exist solely on the PF side are impossible.
    let wants_pf = conf.wants_pf_settings(vf.pf.as_ref().and(mac.as_deref()));
    if wants_pf && vf.pf.is_none() {
        return Err(CniError::new(
            code::VF_CONFIG,
            format!("VF {pci} cannot be configured on its PF: {}", vf.no_pf.clone().unwrap_or_default()),
        )
        .details("remove vlan, mac, spoofchk, trust, link_state and the tx rates from the configuration, or use a VF whose PF this host sees"));
    }
    let pod = Side::open(&env.netns)?;
    let host_nl = &host.side.nl;

    // The original state, recorded before anything changes.
    let mut cache = Cache::new(conf, &pci);
    cache.netns = env.netns.clone();
    cache.dpdk = vf.is_dpdk();
    cache.mac = mac.clone().unwrap_or_default();
    if let Some((pf, index)) = &vf.pf {
        cache.master = Some(pf.clone());
        cache.vf_id = Some(*index);
        match vf::snapshot(host.vfs, pf, *index) {
            Ok(state) => vf::record(&mut cache.orig, &state),
            Err(e) if wants_pf => return Err(e),
            Err(e) => log.info(
                "PF reports no VF info; no PF-side setting requested",
                &[("error", &e.to_string())],
            ),
        }
    }
    if let Some(name) = &vf.netdev {
        let link = host_nl.link(name).map_err(|e| {
            CniError::new(
                code::VF_NOT_FOUND,
                format!("VF netdev {name} is not in the host namespace"),
            )
            .details(e.to_string())
        })?;
        cache.orig.host_ifname = name.clone();
        cache.orig.effective_mac = link.address.unwrap_or_default();
        cache.orig.mtu = link.mtu.unwrap_or(0);
        cache.mtu = cache.orig.mtu;
    } else if let Some((pf, _)) = &vf.pf {
        cache.mtu = host_nl.link(pf).ok().and_then(|l| l.mtu).unwrap_or(0);
    }
    host.state
        .save_cache(&env.container_id, &env.ifname, &cache)?;

    let mut done = Done::default();
    let mut kernel_notify = pod::Notify::default();
    // An IPAM plugin that does not look at the interface runs while the netdev moves: the
    // move spends most of its time waiting inside the kernel (an RCU grace period).
    let mut early_ipam: Option<ipam::Running> = None;
    let outcome = (|| -> Result<Success> {
        if let Some(plugin) = ipam_type
            .as_deref()
            .filter(|p| !cache.dpdk && ipam::independent_of_interface(p))
        {
            early_ipam = Some(ipam::spawn(env, plugin, "ADD", stdin)?);
            // From here on a failure must release whatever it allocates.
            done.ipam = true;
        }
        if let (true, Some((pf, index))) = (wants_pf, &vf.pf) {
            done.pf_settings = true;
            log.debug("configuring the VF on its PF", &[("pf", pf)]);
            vf::apply(host.vfs, pf, *index, &cache, mac.as_deref()).map_err(|e| CniError {
                msg: format!("SRIOV-CNI failed to configure VF: {}", e.msg),
                ..e
            })?;
            failpoint(host, "pf-settings")?;
        }
        if let Some(name) = &vf.netdev {
            log.debug("moving the VF netdev into the pod", &[("netdev", name)]);
            pod::move_in(host.side, name, &pod, &env.ifname)?;
            done.moved = true;
            failpoint(host, "moved")?;
            kernel_notify = pod::setup(&pod, name, &env.ifname, mac.as_deref())?;
            failpoint(host, "setup")?;
        }
        let reported_mac = mac.clone().or_else(|| {
            if cache.dpdk {
                Some(cache.orig.admin_mac.clone())
                    .filter(|m| !m.is_empty() && m != "00:00:00:00:00:00")
            } else {
                Some(cache.orig.effective_mac.clone()).filter(|m| !m.is_empty())
            }
        });
        let mut result = Success {
            interfaces: vec![Interface {
                name: env.ifname.clone(),
                mac: reported_mac,
                mtu: Some(cache.mtu).filter(|m| *m > 0),
                sandbox: Some(env.netns.clone()),
                pci_id: Some(pci.clone()),
            }],
            dns: serde_json::json!({}),
            ..Success::default()
        };
        if let Some(plugin) = &ipam_type {
            let ipam_result = match early_ipam.take() {
                Some(running) => running.wait_add(conf.cni_version)?,
                None => {
                    let result = ipam::add(env, plugin, stdin, conf.cni_version)?;
                    done.ipam = true;
                    result
                }
            };
            failpoint(host, "ipam")?;
            if !cache.dpdk {
                pod::configure_ips(&pod, &env.ifname, &ipam_result)?;
                failpoint(host, "addresses")?;
            }
            result.ips = ipam_result.ips;
            result.routes = ipam_result.routes;
            result.dns = ipam_result.dns;
        }
        host.state.save_allocation(&pci, &env.netns)?;
        if let Err(e) = failpoint(host, "allocation") {
            let _ = host.state.remove_allocation(&pci);
            return Err(e);
        }
        Ok(result)
    })();
    let mut result = match outcome {
        Ok(result) => result,
        Err(e) => {
            log.error("ADD failed; rolling back", &[("error", &e.to_string())]);
            // An IPAM ADD still running finishes before its DEL, so nothing it hands out
            // is left behind.
            if let Some(running) = early_ipam.take() {
                let _ = running.wait();
            }
            rollback(
                env,
                stdin,
                &cache,
                &vf,
                host,
                &done,
                &pod,
                log,
                ipam_type.as_deref(),
            );
            return Err(e);
        }
    };
    if !cache.dpdk && !result.ips.is_empty() {
        let ips: Vec<IpAddr> = result
            .ips
            .iter()
            .filter_map(|ip| pod::cidr(&ip.address).ok().map(|(a, _)| a))
            .collect();
        // In the pod, for the fallback sockets; the MAC re-set goes over the pod's connection.
        let _ = netns::run_in(&pod.ns, || {
            announce::announce(&pod.nl, &env.ifname, &ips, kernel_notify)
        });
    }
    if let Some(mut merged) = prev {
        let index = merged.interfaces.len();
        merged.interfaces.append(&mut result.interfaces);
        for ip in &mut result.ips {
            ip.interface = Some(index);
        }
        merged.ips.append(&mut result.ips);
        merged.routes.append(&mut result.routes);
        if result.dns != serde_json::json!({}) {
            merged.dns = result.dns;
        }
        result = merged;
    }
    log.info("ADD done", &[("pci", &pci)]);
    Ok(result.to_value(conf.cni_version).to_string())
}

#[allow(clippy::too_many_arguments)]
fn rollback(
    env: &Env,
    stdin: &[u8],
    cache: &Cache,
    vf: &vf::Vf,
    host: Host<'_>,
    done: &Done,
    pod: &Side,
    log: &Logger,
    ipam_type: Option<&str>,
) {
    let report = |what: &str, r: Result<()>| {
        if let Err(e) = r {
            log.error(
                &format!("rollback: {what} failed"),
                &[("error", &e.to_string())],
            );
        }
    };
    if done.ipam
        && let Some(plugin) = ipam_type
    {
        report(
            "IPAM DEL",
            ipam::exec(env, plugin, "DEL", stdin).map(|_| ()),
        );
    }
    if done.moved {
        report(
            "releasing the netdev",
            pod::release(pod, &env.ifname, host.side, &restore_of(cache)),
        );
    }
    if done.pf_settings
        && let Some((pf, index)) = &vf.pf
    {
        report(
            "restoring the VF settings",
            vf::restore(host.vfs, pf, *index, cache),
        );
    }
    report(
        "removing the cache",
        host.state.remove_cache(&env.container_id, &env.ifname),
    );
}

fn restore_of(cache: &Cache) -> Restore {
    Restore {
        name: cache.orig.host_ifname.clone(),
        mac: cache.orig.effective_mac.clone(),
        mtu: cache.orig.mtu,
    }
}

/// Puts the VF's netdev back in the host namespace under its original name, wherever it is:
/// in the pod (released), or already in the host (its pod namespace was deleted).
fn release_netdev(
    env_netns: &str,
    ifname: &str,
    cache: &Cache,
    host: Host<'_>,
    log: &Logger,
) -> Result<()> {
    let host_nl = &host.side.nl;
    let restore = restore_of(cache);
    if netns_alive(env_netns)
        && let Ok(pod) = Side::open(env_netns)
        && pod.nl.link(ifname).is_ok()
    {
        return pod::release(&pod, ifname, host.side, &restore);
    }
    // The pod's namespace is gone (the kernel returned the VF to the host) or the netdev
    // already left it: find the VF by PCI address.
    let address = cache.device_id.parse().map_err(|e| {
        CniError::new(
            code::STATE,
            format!("cache: deviceID {:?}: {e}", cache.device_id),
        )
    })?;
    match vf::lookup(host.pci, &address) {
        Ok(found) => match found.netdev {
            Some(current) if host_nl.link(&current).is_ok() => {
                log.info(
                    "restoring the VF netdev found in the host namespace",
                    &[("netdev", &current)],
                );
                pod::restore_in_host(host_nl, &current, &restore)
            }
            Some(current) => {
                log.info(
                    "VF netdev is not in the host namespace; nothing to release",
                    &[("netdev", &current)],
                );
                Ok(())
            }
            None => Ok(()),
        },
        Err(e) => {
            log.info(
                "VF netdev not found in the host namespace; nothing to release",
                &[("error", &e.to_string())],
            );
            Ok(())
        }
    }
}

fn del(env: &Env, stdin: &[u8], conf: &NetConf, host: Host<'_>, log: &Logger) -> Result<()> {
    let ipam_type = ipam_plugin(conf, env)?;
    let cache = match host.state.load_cache(&env.container_id, &env.ifname) {
        Ok(cache) => cache,
        Err(e) => {
            log.error(
                "unreadable cache; nothing to undo",
                &[("error", &e.to_string())],
            );
            None
        }
    };
    let Some(cache) = cache else {
        // Nothing of ours to undo; IPAM still releases whatever it may hold (idempotent).
        if let Some(plugin) = &ipam_type {
            ipam::exec(env, plugin, "DEL", stdin)?;
        }
        log.info("DEL: no cache, nothing to undo", &[]);
        return Ok(());
    };
    let pci = cache.device_id.clone();
    let _lock = host
        .state
        .lock(&pci, host.lock_timeout)
        .map_err(|e| CniError {
            msg: format!(
                "cmdDel() error obtaining lock for device [{pci}]: {}",
                e.msg
            ),
            ..e
        })?;
    // IPAM DEL runs first, as upstream does; one that does not look at the interface runs
    // while the netdev moves back, and its outcome is taken before anything is forgotten.
    let mut early_ipam = match &ipam_type {
        Some(plugin) if ipam::independent_of_interface(plugin) => {
            Some(ipam::spawn(env, plugin, "DEL", stdin)?)
        }
        Some(plugin) => {
            ipam::exec(env, plugin, "DEL", stdin)?;
            None
        }
        None => None,
    };
    let released = release_vf(env, &cache, &pci, host, log);
    let ipam_outcome = early_ipam.take().map_or(Ok(()), |r| r.wait().map(|_| ()));
    // A failed IPAM DEL keeps the cache and the allocation: the runtime retries DEL, which
    // asks IPAM again and finds the VF already released.
    let owner = released?;
    ipam_outcome?;
    if owner.is_some_and(|o| cache.netns.is_empty() || o == cache.netns) {
        host.state.remove_allocation(&pci).map_err(|e| CniError {
            msg: format!(
                "error cleaning the pci allocation for vf pci address {pci}: {}",
                e.msg
            ),
            ..e
        })?;
    }
    host.state.remove_cache(&env.container_id, &env.ifname)?;
    log.info("DEL done", &[("pci", &pci)]);
    Ok(())
}

/// DEL's host side: PF-side settings restored and the netdev released, unless the VF now
/// belongs to a newer attachment. Returns the VF's current allocation owner (the netns
/// recorded for it), or `None` when there is nothing more to clean.
fn release_vf(
    env: &Env,
    cache: &Cache,
    pci: &str,
    host: Host<'_>,
    log: &Logger,
) -> Result<Option<String>> {
    let owner = host.state.allocation(pci)?;
    if let Some(owner) = &owner
        && !cache.netns.is_empty()
        && *owner != cache.netns
    {
        log.info(
            "VF belongs to a newer attachment; leaving it alone",
            &[("pci", pci), ("owner", owner)],
        );
        return Ok(None);
    }
    // PF-side settings first: some drivers refuse MAC changes once the netdev moved.
    if let (Some(pf), Some(index)) = (&cache.master, cache.vf_id) {
        let still_there = cache
            .device_id
            .parse()
            .ok()
            .and_then(|a| vf::lookup(host.pci, &a).ok())
            .is_some_and(|v| v.pf.as_ref().is_some_and(|(p, i)| p == pf && *i == index));
        if still_there {
            vf::restore(host.vfs, pf, index, cache).map_err(|e| CniError {
                msg: format!("cmdDel() error reseting VF: {}", e.msg),
                ..e
            })?;
        } else {
            log.info(
                "VF no longer on its PF; settings not restored",
                &[("pci", pci)],
            );
        }
    }
    if !cache.dpdk {
        release_netdev(&env.netns, &env.ifname, cache, host, log)?;
    }
    Ok(owner)
}

fn check(env: &Env, stdin: &[u8], conf: &NetConf, host: Host<'_>) -> Result<()> {
    let failed = |msg: String| CniError::new(code::CHECK_FAILED, msg);
    let cache = host
        .state
        .load_cache(&env.container_id, &env.ifname)?
        .ok_or_else(|| {
            failed(format!(
                "no attachment {}-{} was made by this plugin",
                env.container_id, env.ifname
            ))
        })?;
    let prev = conf
        .prev_result
        .as_ref()
        .map(|p| Success::parse(p, conf.cni_version))
        .transpose()?;
    let ours = prev.as_ref().and_then(|p| {
        p.interfaces
            .iter()
            .position(|i| i.name == env.ifname && i.sandbox.as_deref() == Some(env.netns.as_str()))
    });
    if prev.is_some() && ours.is_none() {
        return Err(failed(format!(
            "prevResult has no interface {} in {}",
            env.ifname, env.netns
        )));
    }
    if !cache.dpdk {
        let pod = Side::open(&env.netns)?;
        let nl = &pod.nl;
        let link = nl.link(&env.ifname).map_err(|e| {
            failed(format!("interface {} is missing from the pod", env.ifname))
                .details(e.to_string())
        })?;
        let expected_mac = (!cache.mac.is_empty())
            .then(|| cache.mac.clone())
            .or_else(|| {
                prev.as_ref()
                    .zip(ours)
                    .and_then(|(p, i)| p.interfaces[i].mac.clone())
            });
        if let Some(mac) = expected_mac
            && link.address.as_deref() != Some(mac.as_str())
        {
            return Err(failed(format!(
                "interface {} has MAC {:?}, expected {mac}",
                env.ifname, link.address
            )));
        }
        if let (Some(prev), Some(index)) = (&prev, ours) {
            let have = nl.addresses(&env.ifname).unwrap_or_default();
            for ip in prev.ips.iter().filter(|ip| ip.interface == Some(index)) {
                let (address, len) = pod::cidr(&ip.address)?;
                if !have.contains(&(address, len)) {
                    return Err(failed(format!(
                        "interface {} lacks address {}",
                        env.ifname, ip.address
                    )));
                }
            }
        }
    }
    if let Some(plugin) = ipam_plugin(conf, env)? {
        ipam::exec(env, &plugin, "CHECK", stdin)?;
    }
    Ok(())
}

fn gc(env: &Env, stdin: &[u8], conf: &NetConf, host: Host<'_>, log: &Logger) -> Result<()> {
    let valid: Vec<String> = conf
        .raw
        .get("cni.dev/valid-attachments")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|a| {
                    let cid = a.get("containerID")?.as_str()?;
                    let ifname = a.get("ifname")?.as_str()?;
                    Some(format!("{cid}-{ifname}"))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut errors = Vec::new();
    for (name, cache) in host.state.caches()? {
        if valid.contains(&name) {
            continue;
        }
        let cache = match cache {
            Ok(cache) => cache,
            Err(e) => {
                log.error(
                    "GC: removing an unreadable cache",
                    &[("file", &name), ("error", &e.to_string())],
                );
                let _ = std::fs::remove_file(host.state.root().join(&name));
                continue;
            }
        };
        // Caches of other networks sharing the state directory are theirs to collect only
        // when this network's name matches.
        if cache
            .config
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| n != conf.name)
        {
            continue;
        }
        if let Err(e) = collect(&name, &cache, host, log) {
            errors.push(format!("{name}: {e}"));
        }
    }
    if let Some(plugin) = ipam_plugin(conf, env)?
        && let Err(e) = ipam::exec(env, &plugin, "GC", stdin)
    {
        errors.push(e.to_string());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(
            CniError::new(code::STATE, "GC could not clean every attachment")
                .details(errors.join("; ")),
        )
    }
}

/// Undoes a stale attachment whose pod no longer exists.
fn collect(name: &str, cache: &Cache, host: Host<'_>, log: &Logger) -> Result<()> {
    let pci = cache.device_id.clone();
    let _lock = host.state.lock(&pci, host.lock_timeout)?;
    let owner = host.state.allocation(&pci)?;
    let ours = owner
        .as_ref()
        .is_none_or(|o| cache.netns.is_empty() || *o == cache.netns);
    if ours && netns_alive(&cache.netns) {
        // Its pod still exists: the runtime will DEL it; do not pull the VF out from under it.
        log.info(
            "GC: attachment not listed but its pod is alive; left for DEL",
            &[("attachment", name)],
        );
        return Ok(());
    }
    if ours {
        if let (Some(pf), Some(index)) = (&cache.master, cache.vf_id) {
            let _ = vf::restore(host.vfs, pf, index, cache);
        }
        if !cache.dpdk {
            release_netdev("", "", cache, host, log)?;
        }
        host.state.remove_allocation(&pci)?;
    }
    log.info("GC: removed stale attachment", &[("attachment", name)]);
    std::fs::remove_file(host.state.root().join(name))
        .map_err(|e| CniError::new(code::STATE, format!("remove {name}")).details(e.to_string()))
}

fn status(env: &Env, stdin: &[u8], conf: &NetConf, host: Host<'_>) -> Result<()> {
    std::fs::create_dir_all(host.state.root()).map_err(|e| {
        CniError::new(
            50,
            format!(
                "state directory {} is not usable",
                host.state.root().display()
            ),
        )
        .details(e.to_string())
    })?;
    if let Some(plugin) = ipam_plugin(conf, env)? {
        ipam::exec(env, &plugin, "STATUS", stdin)?;
    }
    Ok(())
}
