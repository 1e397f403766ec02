//! CHECK: the attachment is still as ADD left it.

use super::*;

pub(super) fn check(a: Attachment<'_>) -> Result<()> {
    let (env, stdin, conf, host) = (a.env, a.stdin, a.conf, a.host);
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
        let pod = host.pods.open(&env.netns)?;
        let nl = &*pod;
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
