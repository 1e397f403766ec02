//! ADD: the VF recorded, configured on its PF, moved into the pod, addressed; every step
//! undone when a later one fails.

use super::*;

/// What ADD has done so far, to undo on failure.
#[derive(Default)]
pub(super) struct Done {
    pf_settings: bool,
    moved: bool,
    ipam: bool,
}

pub(super) fn add(a: Attachment<'_>) -> Result<String> {
    let (env, stdin, conf, host, log) = (a.env, a.stdin, a.conf, a.host, a.log);
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
        if host.pods.alive(&owner) {
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
    let pod = host.pods.open(&env.netns)?;
    let pod = &*pod;
    let host_nl = host.side;

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
            pod::move_in(host.side, name, pod, &env.ifname)?;
            done.moved = true;
            failpoint(host, "moved")?;
            kernel_notify = pod::setup(pod, name, &env.ifname, mac.as_deref())?;
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
                pod::configure_ips(pod, &env.ifname, &ipam_result)?;
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
            rollback(a, &cache, &vf, &done, pod, ipam_type.as_deref());
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
        pod.announce(&env.ifname, &ips, kernel_notify);
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

/// Undoes what `done` says ADD did, newest first; each failure is logged, none stops the
/// rest.
fn rollback(
    a: Attachment<'_>,
    cache: &Cache,
    vf: &vf::Vf,
    done: &Done,
    pod: &dyn NetNs,
    ipam_type: Option<&str>,
) {
    let Attachment {
        env,
        stdin,
        host,
        log,
        ..
    } = a;
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
