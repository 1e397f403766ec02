//! GC: attachments the runtime no longer knows, whose pods are gone, are undone.

use super::del::release_netdev;
use super::*;

pub(super) fn gc(a: Attachment<'_>) -> Result<()> {
    let (env, stdin, conf, host, log) = (a.env, a.stdin, a.conf, a.host, a.log);
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
pub(super) fn collect(name: &str, cache: &Cache, host: Host<'_>, log: &Logger) -> Result<()> {
    let pci = cache.device_id.clone();
    let _lock = host.state.lock(&pci, host.lock_timeout)?;
    let owner = host.state.allocation(&pci)?;
    let ours = owner
        .as_ref()
        .is_none_or(|o| cache.netns.is_empty() || *o == cache.netns);
    if ours && host.pods.alive(&cache.netns) {
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
