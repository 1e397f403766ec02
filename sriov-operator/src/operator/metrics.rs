//! The operator's Prometheus metrics (prometheus-client), one process-wide registry, and
//! the HTTP endpoints: `/metrics` on `--metrics-addr`, `/healthz` and `/readyz` on
//! `--health-addr`.
//!
//! | Metric | Labels | What |
//! |---|---|---|
//! | `sriov_operator_reconcile_total` | `controller` | reconciles (policy sync runs, drain passes, network and operator-config reconciles) |
//! | `sriov_operator_reconcile_errors_total` | `controller` | reconciles that failed |
//! | `sriov_operator_reconcile_duration_seconds` | `controller` | their duration |
//! | `sriov_operator_nodes` | `sync_status` | node states by `status.syncStatus` (`Succeeded`, `InProgress`, `Failed`, `Unknown` before the first report) |
//! | `sriov_operator_drains_in_progress` | | nodes draining |
//! | `sriov_operator_drains_waiting` | | nodes waiting for a slot in their pool |
//! | `sriov_operator_leader` | | 1 while this replica holds the lease (or runs without election) |

use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::http::StatusCode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels naming a controller.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    /// `policy`, `drain`, `operator-config`, `SriovNetwork`, `SriovIBNetwork`, `OVSNetwork`.
    pub controller: String,
}

/// Labels of the node-count gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SyncLabels {
    /// A node state's `status.syncStatus`.
    pub sync_status: String,
}

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Every metric the operator exports.
pub struct Metrics {
    registry: Registry,
    /// Reconciles per controller.
    pub reconciles: Family<ControllerLabels, Counter>,
    /// Failed reconciles per controller.
    pub reconcile_errors: Family<ControllerLabels, Counter>,
    /// Reconcile durations per controller.
    pub reconcile_duration: Family<ControllerLabels, Histogram, fn() -> Histogram>,
    /// Node states by sync status.
    pub nodes: Family<SyncLabels, Gauge>,
    /// Nodes draining.
    pub drains_in_progress: Gauge,
    /// Nodes waiting for their pool.
    pub drains_waiting: Gauge,
    /// Whether this replica leads.
    pub leader: Gauge,
    ready: AtomicBool,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("sriov_operator");
        let reconciles = Family::<ControllerLabels, Counter>::default();
        let reconcile_errors = Family::<ControllerLabels, Counter>::default();
        let reconcile_duration =
            Family::<ControllerLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram,
            );
        let nodes = Family::<SyncLabels, Gauge>::default();
        let drains_in_progress = Gauge::default();
        let drains_waiting = Gauge::default();
        let leader = Gauge::default();
        registry.register("reconcile", "Reconciles per controller", reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Failed reconciles per controller",
            reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile duration per controller",
            reconcile_duration.clone(),
        );
        registry.register("nodes", "Node states by sync status", nodes.clone());
        registry.register(
            "drains_in_progress",
            "Nodes being drained",
            drains_in_progress.clone(),
        );
        registry.register(
            "drains_waiting",
            "Nodes waiting for a drain slot in their pool",
            drains_waiting.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica is the leader",
            leader.clone(),
        );
        Self {
            registry,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            nodes,
            drains_in_progress,
            drains_waiting,
            leader,
            ready: AtomicBool::new(false),
        }
    }

    /// Records one reconcile of `controller` that started at `started`.
    pub fn observe(&self, controller: &str, started: Instant, ok: bool) {
        let labels = ControllerLabels {
            controller: controller.to_owned(),
        };
        self.reconciles.get_or_create(&labels).inc();
        if !ok {
            self.reconcile_errors.get_or_create(&labels).inc();
        }
        self.reconcile_duration
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
    }

    /// Sets the node gauge from the node states' sync statuses.
    pub fn set_nodes<'a>(&self, statuses: impl Iterator<Item = Option<&'a str>>) {
        let mut counts = std::collections::BTreeMap::<&str, i64>::new();
        for known in ["Succeeded", "InProgress", "Failed", "Unknown"] {
            counts.insert(known, 0);
        }
        for status in statuses {
            let status = status.filter(|s| !s.is_empty()).unwrap_or("Unknown");
            *counts.entry(status).or_default() += 1;
        }
        for (status, count) in counts {
            self.nodes
                .get_or_create(&SyncLabels {
                    sync_status: status.to_owned(),
                })
                .set(count);
        }
    }

    /// Says the operator has reached the API server (readiness).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    /// Whether the operator has reached the API server.
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The metrics in Prometheus' text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        out
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn global() -> &'static Metrics {
    &METRICS
}

/// The `/metrics` endpoint.
pub fn metrics_router() -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async {
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )],
                global().encode(),
            )
        }),
    )
}

/// The `/healthz` (alive) and `/readyz` (the API server has answered) endpoints.
pub fn health_router() -> axum::Router {
    axum::Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route(
            "/readyz",
            axum::routing::get(|| async {
                if global().ready() {
                    (StatusCode::OK, "ok")
                } else {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "not connected to the API server yet",
                    )
                }
            }),
        )
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
