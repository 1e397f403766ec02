//! `sriovdp`'s command line: upstream's flags (`--config-file`, `--resource-prefix`,
//! `--use-cdi`, also spelt with one dash as Go's flag package allows, and the glog flags,
//! accepted and mapped to a log level), plus the paths that make it testable and runnable
//! from a pod with the host at `/host`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use sriov_hw::process::{self, LogFormat};

use crate::manager::{self, Options, defaults};

/// The SR-IOV device plugin.
#[derive(Debug, Parser)]
#[command(name = "sriovdp", version, about, args_override_self = true)]
struct Args {
    /// The pools' configuration (upstream's format).
    #[arg(long, default_value = defaults::CONFIG_FILE)]
    config_file: PathBuf,
    /// Resource prefix for pools that set none.
    #[arg(long, default_value = defaults::RESOURCE_PREFIX)]
    resource_prefix: String,
    /// Hand devices out through CDI (specs in --cdi-dir, annotations in Allocate).
    #[arg(long)]
    use_cdi: bool,
    /// Host root holding sys/, dev/, proc/ (`/host` in a pod).
    #[arg(long, env = sriov_hw::root::HOST_ROOT_ENV, default_value = defaults::HOST_ROOT)]
    host_root: PathBuf,
    /// The kubelet's device-plugin directory (holding kubelet.sock).
    #[arg(long, default_value = defaults::DEVICE_PLUGIN_DIR)]
    device_plugin_dir: PathBuf,
    /// The kubelet's plugin-watcher directory; used when it exists.
    #[arg(long, default_value = defaults::PLUGINS_REGISTRY_DIR)]
    plugins_registry_dir: PathBuf,
    /// Where device-info files for Multus go.
    #[arg(long, default_value = defaults::DEVICE_INFO_DIR)]
    device_info_dir: PathBuf,
    /// Where CDI specs go.
    #[arg(long, default_value = defaults::CDI_DIR)]
    cdi_dir: PathBuf,
    /// Seconds between rescans of the configuration and the devices.
    #[arg(long, default_value_t = defaults::RESCAN_INTERVAL_SECS)]
    rescan_interval: u64,
    /// Log verbosity, as glog's -v (0-2 info, 3 and up debug); also `-v N`, `-v=N`,
    /// `--v=N`.
    #[arg(long, short = 'v', visible_alias = "v", default_value_t = 2)]
    log_level: u32,
    /// Log lines as text or one JSON object each.
    #[arg(long, default_value = "text", value_parser = clap::value_parser!(LogFormat))]
    log_format: LogFormat,
    /// Accepted for upstream compatibility; logs always go to stderr.
    #[arg(long, alias = "log_dir", hide = true)]
    log_dir: Option<String>,
    /// Accepted for upstream compatibility (glog); logs always go to stderr.
    #[arg(long, alias = "log_file", hide = true)]
    log_file: Option<String>,
    /// Accepted for upstream compatibility (glog boolean: `-logtostderr[=true|false]`).
    #[arg(long, hide = true, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    logtostderr: Option<String>,
    /// Accepted for upstream compatibility (glog boolean).
    #[arg(long, hide = true, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    alsologtostderr: Option<String>,
    /// Accepted for upstream compatibility (glog).
    #[arg(long, hide = true)]
    stderrthreshold: Option<String>,
    /// Accepted for upstream compatibility (glog).
    #[arg(long, hide = true)]
    vmodule: Option<String>,
    /// Accepted for upstream compatibility (glog).
    #[arg(long, alias = "log_backtrace_at", hide = true)]
    log_backtrace_at: Option<String>,
    /// Arguments after the flags: Go's flag package stops at the first non-flag and
    /// upstream ignores the rest; so do we, with a warning.
    #[arg(hide = true, num_args = 0.., trailing_var_arg = true)]
    rest: Vec<String>,
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
    init_logging(args.log_level, args.log_format);
    if !args.rest.is_empty() {
        tracing::warn!(ignored = ?args.rest, "arguments after the flags are ignored");
    }
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
    process::run("sriovdp", 2, |shutdown| {
        manager::run(options, shutdown, None)
    })
}

/// Logs to stderr at the level `-v` asks for (`RUST_LOG` overrides it), plus
/// [`AuthorityResets`].
fn init_logging(verbosity: u32, format: LogFormat) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::{LevelFilter, Targets};
    let level = if verbosity >= 3 { "debug" } else { "info" };
    let resets = AuthorityResets::default()
        .with_filter(Targets::new().with_target("h2::server", LevelFilter::DEBUG));
    process::init_logging(level, format, Some(Box::new(resets)));
}

/// Turns h2's debug record of a request it reset for a malformed `:authority` into one
/// clear warning per distinct authority.
///
/// gRPC clients that dial a Unix socket by its path send that path as `:authority`:
/// kubelets before Kubernetes 1.26, gRPC's C-core and Java clients, grpcurl. The HTTP/2
/// server under tonic (h2) refuses such a request with a stream reset (`PROTOCOL_ERROR`)
/// before any of our code sees it, and offers no option to accept it; all that is left
/// to us is to say so in the log instead of failing silently.
#[derive(Default)]
struct AuthorityResets {
    seen: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for AuthorityResets {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let Some(rest) = message
            .0
            .strip_prefix("malformed headers: malformed authority (")
        else {
            return;
        };
        let authority = rest.rsplit_once("):").map_or(rest, |(a, _)| a).to_owned();
        let first = self
            .seen
            .lock()
            .map(|mut seen| seen.insert(authority.clone()))
            .unwrap_or(true);
        if first {
            tracing::warn!(
                authority = %authority,
                "refused a gRPC request whose :authority is not a host name (a client that \
                 dials a Unix socket by its path sends the path): the gRPC server resets it \
                 with PROTOCOL_ERROR. Kubelets from Kubernetes 1.26 on send \"localhost\"; \
                 older kubelets, and clients such as grpcurl, cannot talk to this plugin"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        let args = std::iter::once("sriovdp")
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        Args::try_parse_from(normalize(args))
    }

    #[test]
    fn glog_flags_in_every_spelling_go_passes_them_are_accepted() {
        for (args, level) in [
            (&["-v=10"][..], 10),
            (&["--v=10"], 10),
            (&["-v", "4"], 4),
            (&["--v", "4"], 4),
            (&["--log-level=10"], 10),
            (&["-log-level", "1"], 1),
            (
                &[
                    "-log_dir=/tmp",
                    "-logtostderr",
                    "-alsologtostderr=true",
                    "-stderrthreshold=INFO",
                    "-vmodule=x=2",
                    "-log_backtrace_at=a.go:1",
                    "-v",
                    "3",
                ],
                3,
            ),
            (&["-log_dir", "/tmp", "-logtostderr=false"], 2),
            // What upstream's image entrypoint takes.
            (&["--log-dir=sriovdp", "--log-level=10", "--use-cdi"], 10),
        ] {
            let parsed = parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert_eq!(parsed.log_level, level, "{args:?}");
        }
        assert!(parse(&["-log_dir=/tmp"]).unwrap().log_dir.as_deref() == Some("/tmp"));
        // A bool flag does not swallow the next argument.
        let parsed = parse(&["-logtostderr", "-config-file=/c.json"]).unwrap();
        assert_eq!(parsed.config_file, PathBuf::from("/c.json"));
        assert!(parse(&["-no-such-flag"]).is_err());
        // As with Go's flag package: the last of a repeated flag wins, and parsing stops at
        // the first argument that is not a flag.
        let parsed = parse(&["-v=2", "-v=10", "-config-file=/a", "-config-file=/b"]).unwrap();
        assert_eq!(
            (parsed.log_level, parsed.config_file),
            (10, PathBuf::from("/b"))
        );
        let parsed = parse(&["--logtostderr", "10", "-v", "5"]).unwrap();
        assert_eq!(parsed.rest, ["10", "-v", "5"]);
        assert_eq!(parsed.log_level, 2);
    }

    #[test]
    fn the_flags_defaults_are_the_managers() {
        let args = parse(&[]).unwrap();
        let defaults = Options::defaults();
        assert_eq!(args.config_file, defaults.config_file);
        assert_eq!(args.resource_prefix, defaults.resource_prefix);
        assert_eq!(args.device_plugin_dir, defaults.device_plugin_dir);
        assert_eq!(args.plugins_registry_dir, defaults.plugins_registry_dir);
        assert_eq!(args.device_info_dir, defaults.device_info_dir);
        assert_eq!(args.cdi_dir, defaults.cdi_dir);
        assert_eq!(
            Duration::from_secs(args.rescan_interval),
            defaults.rescan_interval
        );
    }

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
