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
    /// Log line format: text or json.
    #[arg(long, default_value = "text", value_parser = clap::value_parser!(LogFormat))]
    log_format: LogFormat,
    /// Log level at start (an env-filter directive). The default SriovOperatorConfig's
    /// logLevel replaces it once read; RUST_LOG replaces both.
    #[arg(long, default_value = "info", value_parser = level_directive)]
    log_level: String,
    /// Seconds a node's drain may take before it is reported as blocked (DrainBlocked on
    /// its node state, and a Warning event naming the pods left); it keeps trying.
    #[arg(long, value_name = "SECONDS", default_value_t = operator::settings::DRAIN_TIMEOUT.as_secs())]
    drain_timeout: u64,
    /// Seconds between attempts while a drain is in progress or waits for its pool.
    #[arg(long, value_name = "SECONDS", default_value_t = operator::settings::DRAIN_RETRY.as_secs(),
        value_parser = positive_seconds)]
    drain_retry_interval: u64,
    /// Where /metrics is served ("0" turns it off).
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8080")]
    metrics_addr: String,
    /// Where /healthz and /readyz are served ("0" turns them off).
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8081")]
    health_addr: String,
    /// Run the controllers only while holding the leader lease (a56def2a.openshift.io in
    /// the operator namespace); needed with more than one replica.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    leader_elect: bool,
    /// This replica's identity in the election (default: POD_NAME, else HOST_PID).
    #[arg(long, value_name = "NAME")]
    leader_elect_identity: Option<String>,
    /// Seconds a lease not renewed stays held.
    #[arg(long, value_name = "SECONDS", default_value_t = 137)]
    leader_elect_lease_duration: u64,
    /// Seconds the leader keeps leading without a successful renewal.
    #[arg(long, value_name = "SECONDS", default_value_t = 107)]
    leader_elect_renew_deadline: u64,
    /// Seconds between election attempts and renewals.
    #[arg(long, value_name = "SECONDS", default_value_t = 26)]
    leader_elect_retry_period: u64,
}

/// Binds an address flag ("0" turns the endpoint off).
async fn bind(flag: &str, addr: &str) -> Result<Option<tokio::net::TcpListener>, String> {
    if addr == "0" {
        return Ok(None);
    }
    tokio::net::TcpListener::bind(addr)
        .await
        .map(Some)
        .map_err(|e| format!("--{flag} {addr}: {e}"))
}

fn identity(flag: Option<String>) -> String {
    flag.or_else(|| std::env::var("POD_NAME").ok())
        .filter(|s| !s.is_empty())
        .or_else(|| {
            // The process id keeps two replicas on one host (a local run) from sharing an
            // identity, which would let both believe they lead.
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .map(|h| format!("{h}_{}", std::process::id()))
        })
        .unwrap_or_else(|| format!("sriov-network-operator-{}", std::process::id()))
}

/// The clients from `--kubeconfig`, else the in-cluster configuration or `KUBECONFIG`: one
/// with kube-client's retry of 429/503/504, and one without for evictions (whose 429 is a
/// PodDisruptionBudget's refusal, to be reported, not retried for minutes).
/// Also returns the API server's address, for the log.
async fn clients(kubeconfig: Option<PathBuf>) -> Result<(operator::Clients, String), String> {
    let config = match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(&path)
                .map_err(|e| format!("--kubeconfig: {e}"))?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| format!("no cluster configuration: {e}"))?,
    };
    let server = config.cluster_url.to_string();
    let mut no_retry = config.clone();
    no_retry.default_retry = false;
    let build =
        |config| kube::Client::try_from(config).map_err(|e| format!("building the client: {e}"));
    Ok((
        operator::Clients {
            api: build(config)?,
            evictions: build(no_retry)?,
        },
        server,
    ))
}

/// A `--log-level` the logger will read as meant ([`process::check_level`]).
fn level_directive(text: &str) -> Result<String, String> {
    process::check_level(text).map(|()| text.to_owned())
}

/// A whole number of seconds above zero.
fn positive_seconds(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("must be at least 1 second".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{text:?} is not a whole number of seconds")),
    }
}

/// Checks an address flag before anything starts ("0" turns the endpoint off).
fn check_addr(flag: &str, addr: &str) -> Result<(), String> {
    use std::net::ToSocketAddrs;
    if addr == "0" {
        return Ok(());
    }
    addr.to_socket_addrs()
        .map(drop)
        .map_err(|e| format!("--{flag} {addr:?} is not an address to listen on ({e}); give HOST:PORT, or 0 to turn it off"))
}

fn main() {
    let args = Args::parse();
    let log_level = process::init_logging(&args.log_level, args.log_format, None);
    let settings = match Settings::from_env(|name| std::env::var(name).ok()) {
        Ok(settings) => Settings {
            drain_timeout: Duration::from_secs(args.drain_timeout),
            drain_retry: Duration::from_secs(args.drain_retry_interval),
            log_level,
            ..settings
        },
        Err(e) => {
            eprintln!("sriov-network-operator: {e}");
            std::process::exit(2);
        }
    };
    for warning in operator::settings::env_warnings(|name| std::env::var(name).ok()) {
        tracing::warn!(%warning, "environment");
    }
    for (flag, addr) in [
        ("metrics-addr", &args.metrics_addr),
        ("health-addr", &args.health_addr),
    ] {
        if let Err(e) = check_addr(flag, addr) {
            eprintln!("sriov-network-operator: {e}");
            std::process::exit(2);
        }
    }
    if let Some(path) = &args.kubeconfig
        && let Err(e) = std::fs::File::open(path)
    {
        eprintln!(
            "sriov-network-operator: --kubeconfig {}: {e}",
            path.display()
        );
        std::process::exit(2);
    }
    let election = args.leader_elect.then(|| operator::leader::LeaseConfig {
        lease_duration: Duration::from_secs(args.leader_elect_lease_duration),
        renew_deadline: Duration::from_secs(args.leader_elect_renew_deadline),
        retry_period: Duration::from_secs(args.leader_elect_retry_period),
        ..operator::leader::LeaseConfig::new(
            &settings.namespace,
            &identity(args.leader_elect_identity.clone()),
        )
    });
    if let Some(Err(e)) = election.as_ref().map(operator::leader::LeaseConfig::check) {
        eprintln!("sriov-network-operator: {e}");
        std::process::exit(2);
    }
    let status = process::run("sriov-network-operator", 2, |shutdown| async move {
        let metrics = bind("metrics-addr", &args.metrics_addr).await?;
        let health = bind("health-addr", &args.health_addr).await?;
        let (clients, server) = clients(args.kubeconfig).await?;
        // The bound addresses, not the flags: with port 0 the kernel picks the port.
        let bound = |listener: &Option<tokio::net::TcpListener>| {
            listener
                .as_ref()
                .and_then(|l| l.local_addr().ok())
                .map_or_else(|| "off".to_owned(), |a| a.to_string())
        };
        tracing::info!(
            namespace = %settings.namespace,
            %server,
            leader_elect = election.is_some(),
            metrics = %bound(&metrics),
            health = %bound(&health),
            "starting"
        );
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut servers = Vec::new();
        for (listener, router) in [
            (metrics, operator::metrics::metrics_router()),
            (health, operator::metrics::health_router()),
        ] {
            if let Some(listener) = listener {
                let mut stopped = stopped.clone();
                servers.push(tokio::spawn(operator::metrics::serve(
                    listener,
                    router,
                    async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    },
                )));
            }
        }
        if election.is_none() {
            operator::metrics::global().leader.set(1);
        }
        let outcome = operator::run(clients, settings, election, shutdown).await;
        let _ = stop.send(true);
        for server in servers {
            let _ = server.await;
        }
        tracing::info!("stopped");
        outcome.map_err(|e| e.to_string())
    });
    std::process::exit(status);
}
