//! DEL: IPAM released, PF-side settings restored and the netdev back in the host,
//! wherever it is; idempotent.

use super::*;

/// Puts the VF's netdev back in the host namespace under its original name, wherever it is:
/// in the pod (released), or already in the host (its pod namespace was deleted).
pub(super) fn release_netdev(
    env_netns: &str,
    ifname: &str,
    cache: &Cache,
    host: Host<'_>,
    log: &Logger,
) -> Result<()> {
    let host_nl = host.side;
    let restore = restore_of(cache);
    if host.pods.alive(env_netns)
        && let Ok(pod) = host.pods.open(env_netns)
        && pod.link(ifname).is_ok()
    {
        return pod::release(&*pod, ifname, host.side, &restore);
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

pub(super) fn del(a: Attachment<'_>) -> Result<()> {
    let (env, stdin, conf, host, log) = (a.env, a.stdin, a.conf, a.host, a.log);
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
pub(super) fn release_vf(
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
