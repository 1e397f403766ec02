//! `sriov-network-operator`: the controller manager. Flags and environment, then the
//! library ([`sriov_operator::operator`]).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use sriov_hw::process::{self, LogFormat};
use sriov_operator::operator::{self, Settings};

/// The SR-IOV network operator: turns SriovNetworkNodePolicies into node states, the device
/// plugin's configuration and node labels, networks into NetworkAttachmentDefinitions, and
/// the SriovOperatorConfig into the node components and webhooks.
#[derive(Debug, Parser)]
#[command(version, after_help = format!("Environment: {}", operator::settings::VARIABLES))]
struct Args {
    /// A kubeconfig to use instead of the in-cluster configuration (or KUBECONFIG).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Log line format.
    #[arg(long, default_value = "text", value_parser = clap::value_parser!(LogFormat))]
    log_format: LogFormat,
    /// Log level (an env-filter directive; RUST_LOG replaces it).
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Seconds a node's drain may take before it is reported as blocked (DrainBlocked on
    /// its node state, and a Warning event naming the pods left); it keeps trying.
    #[arg(long, value_name = "SECONDS", default_value_t = operator::settings::DRAIN_TIMEOUT.as_secs())]
    drain_timeout: u64,
    /// Seconds between attempts while a drain is in progress or waits for its pool.
    #[arg(long, value_name = "SECONDS", default_value_t = operator::settings::DRAIN_RETRY.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..))]
    drain_retry_interval: u64,
}

async fn client(kubeconfig: Option<PathBuf>) -> Result<kube::Client, String> {
    let config = match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(&path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| format!("no cluster configuration: {e}"))?,
    };
    kube::Client::try_from(config).map_err(|e| format!("building the client: {e}"))
}

fn main() {
    let args = Args::parse();
    process::init_logging(&args.log_level, args.log_format, None);
    let settings = match Settings::from_env(|name| std::env::var(name).ok()) {
        Ok(settings) => Settings {
            drain_timeout: Duration::from_secs(args.drain_timeout),
            drain_retry: Duration::from_secs(args.drain_retry_interval),
            ..settings
        },
        Err(e) => {
            eprintln!("sriov-network-operator: {e}");
            std::process::exit(2);
        }
    };
    let status = process::run("sriov-network-operator", 2, |shutdown| async move {
        let client = client(args.kubeconfig).await?;
        tracing::info!(namespace = %settings.namespace, "starting");
        operator::run(client, settings, shutdown).await;
        tracing::info!("stopped");
        Ok::<(), String>(())
    });
    std::process::exit(status);
}
