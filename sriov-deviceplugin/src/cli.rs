//! `sriovdp`'s command line: upstream's flags (`--config-file`, `--resource-prefix`,
//! `--use-cdi`, also spelt with one dash as Go's flag package allows, and the glog flags,
//! accepted and mapped to a log level), plus the paths that make it testable and runnable
//! from a pod with the host at `/host`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::manager::{self, Options};

/// The SR-IOV device plugin.
#[derive(Debug, Parser)]
#[command(name = "sriovdp", version, about)]
struct Args {
    /// The pools' configuration (upstream's format).
    #[arg(long, default_value = "/etc/pcidp/config.json")]
    config_file: PathBuf,
    /// Resource prefix for pools that set none.
    #[arg(long, default_value = "intel.com")]
    resource_prefix: String,
    /// Hand devices out through CDI (specs in --cdi-dir, annotations in Allocate).
    #[arg(long)]
    use_cdi: bool,
    /// Host root holding sys/, dev/, proc/ (`/host` in a pod).
    #[arg(long, env = "SRIOV_HOST_ROOT", default_value = "/")]
    host_root: PathBuf,
    /// The kubelet's device-plugin directory (holding kubelet.sock).
    #[arg(long, default_value = "/var/lib/kubelet/device-plugins")]
    device_plugin_dir: PathBuf,
    /// The kubelet's plugin-watcher directory; used when it exists.
    #[arg(long, default_value = "/var/lib/kubelet/plugins_registry")]
    plugins_registry_dir: PathBuf,
    /// Where device-info files for Multus go.
    #[arg(long, default_value = "/var/run/k8s.cni.cncf.io/devinfo/dp")]
    device_info_dir: PathBuf,
    /// Where CDI specs go.
    #[arg(long, default_value = "/var/run/cdi")]
    cdi_dir: PathBuf,
    /// Seconds between rescans of the configuration and the devices.
    #[arg(long, default_value_t = 5)]
    rescan_interval: u64,
    /// Log verbosity as glog's -v (0-2 info, 3 and up debug).
    #[arg(long, short = 'v', default_value_t = 2)]
    log_level: u32,
    /// Accepted for upstream compatibility (logs go to stderr).
    #[arg(long, hide = true)]
    log_dir: Option<String>,
    /// Accepted for upstream compatibility.
    #[arg(long, hide = true)]
    logtostderr: bool,
    /// Accepted for upstream compatibility.
    #[arg(long, hide = true)]
    alsologtostderr: bool,
}

/// Go-style single-dash long flags (`-config-file=x`) become `--config-file=x`.
fn normalize(args: Vec<String>) -> Vec<String> {
    args.into_iter()
        .enumerate()
        .map(|(i, a)| {
            if i > 0 && a.starts_with('-') && !a.starts_with("--") && a.len() > 2 {
                format!("-{a}")
            } else {
                a
            }
        })
        .collect()
}

/// Parses `args` and runs the plugin until SIGTERM/SIGINT; the exit code.
pub fn main(args: Vec<String>) -> i32 {
    let args = match Args::try_parse_from(normalize(args)) {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let level = if args.log_level >= 3 { "debug" } else { "info" };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let options = Options {
        config_file: args.config_file,
        resource_prefix: args.resource_prefix,
        use_cdi: args.use_cdi,
        host_root: sriov_hw::HostRoot::new(args.host_root),
        device_plugin_dir: args.device_plugin_dir,
        plugins_registry_dir: args.plugins_registry_dir,
        device_info_dir: args.device_info_dir,
        cdi_dir: args.cdi_dir,
        rescan_interval: Duration::from_secs(args.rescan_interval.max(1)),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sriovdp: cannot start the runtime: {e}");
            return 1;
        }
    };
    let outcome = runtime.block_on(async {
        let shutdown = async {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return std::future::pending().await,
                };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        manager::run(options, shutdown, None).await
    });
    match outcome {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error = %e, "sriovdp stopped");
            eprintln!("sriovdp: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_flags_are_accepted() {
        let args = Args::try_parse_from(normalize(vec![
            "sriovdp".into(),
            "-config-file=/x.json".into(),
            "--resource-prefix=openshift.io".into(),
            "-v".into(),
            "10".into(),
            "--log-dir=sriovdp".into(),
        ]))
        .unwrap();
        assert_eq!(args.config_file, PathBuf::from("/x.json"));
        assert_eq!(args.resource_prefix, "openshift.io");
        assert_eq!(args.log_level, 10);
    }
}
