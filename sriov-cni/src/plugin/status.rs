//! STATUS: the plugin can serve ADDs.

use super::*;

pub(super) fn status(a: Attachment<'_>) -> Result<()> {
    let (env, stdin, conf, host) = (a.env, a.stdin, a.conf, a.host);
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
