//! The operator's controllers over a kube client: thin shells that read the cluster through
//! reflector stores, call the pure decisions of `sriov-core`, and write what differs.
//!
//! So far:
//! - the policy sync ([`node_policy`]): policies, nodes and pools → node states, the
//!   device-plugin ConfigMap and the nodes' device-plugin label, with stale node states
//!   kept for `STALE_NODE_STATE_CLEANUP_DELAY_MINUTES` and then deleted;
//! - the network controllers ([`networks`]): each network → its
//!   NetworkAttachmentDefinition;
//! - the drain controller ([`drain`]): the daemons' drain requests → cordon, evictions,
//!   uncordon, within each pool's `maxUnavailable`;
//! - the operator-config controller ([`operator_config`]): the default SriovOperatorConfig →
//!   the config daemon and device plugin DaemonSets and the webhooks.

use std::sync::Arc;

use kube::Client;

pub mod drain;
pub mod inputs;
pub mod leader;
pub mod metrics;
pub mod networks;
pub mod node_policy;
pub mod operator_config;
pub mod settings;

pub use settings::Settings;

/// A request to the API server that failed, with what it was for (`node state
/// worker-0`); controllers retry after it.
#[derive(Debug, thiserror::Error)]
pub struct RequestError {
    /// What the request was for.
    pub what: String,
    /// The client's error.
    #[source]
    pub source: kube::Error,
}

/// An error with its causes, as `outer: cause: root cause` (kube's own text stops at
/// "client error (Connect)"; the cause says "Connection refused"). A cause whose text
/// the one before it already ends with is left out.
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let next = e.to_string();
        if !next.is_empty() && !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = e.source();
    }
    text
}

impl std::fmt::Display for RequestError {
    /// The server's own message, code and reason for an API error (kube's text would
    /// append the whole `Status` in debug form to every log line); the client's text
    /// for the rest.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            kube::Error::Api(status) => write!(
                f,
                "{}: {} ({} {})",
                self.what, status.message, status.code, status.reason
            ),
            other => write!(f, "{}: {}", self.what, with_causes(other)),
        }
    }
}

impl RequestError {
    /// Whether the server refused the write because the object changed since it was read
    /// (409 Conflict): the normal race of a controller reading from its cache, retried
    /// soon, with the newer object on the way through the watch.
    pub fn is_conflict(&self) -> bool {
        matches!(&self.source, kube::Error::Api(status) if status.code == 409)
    }
}

/// How a per-object controller retries a failed reconcile: a conflict soon and quietly
/// (debug), anything else after `backoff` with a warning.
pub(crate) fn retry_after(
    controller: &str,
    error: &RequestError,
    backoff: std::time::Duration,
) -> kube::runtime::controller::Action {
    if error.is_conflict() {
        tracing::debug!(controller, %error, "write conflicted with a newer version; retrying");
        kube::runtime::controller::Action::requeue(std::time::Duration::from_millis(200))
    } else {
        tracing::warn!(controller, %error, "reconcile failed; retrying");
        kube::runtime::controller::Action::requeue(backoff)
    }
}

/// kube's default watch backoff (0.8 s doubling to 30 s, jittered, starting over once
/// 120 s pass without a failure), except that an event does not start it over. A watcher
/// that cannot list emits `Init` before each failed list, and kube's backoff, reset by
/// every event, then retried about once a second for as long as the API server was
/// unreachable: nine watches, sixteen failures a second in the log. Used by the stores'
/// reflectors and, as their trigger backoff, by the per-object controllers.
#[derive(Default)]
pub(crate) struct WatchBackoff(kube::runtime::watcher::DefaultBackoff);

impl Iterator for WatchBackoff {
    type Item = std::time::Duration;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next()
    }
}

impl kube::runtime::utils::Backoff for WatchBackoff {
    fn reset(&mut self) {}
}

/// Wraps a client error with what the request was for.
pub(crate) fn failed(what: impl Into<String>) -> impl FnOnce(kube::Error) -> RequestError {
    let what = what.into();
    move |source| RequestError { what, source }
}

/// Sends a patch to `K`'s object `name` and reads the answer only for its status: the
/// controllers see the result through their watches, and decoding every answer into its
/// type was a sixth of the operator's CPU time in a 10,000-node cold start.
pub(crate) async fn patch_unread<K: kube::Resource<DynamicType = ()>>(
    client: &Client,
    namespace: Option<&str>,
    name: &str,
    params: &kube::api::PatchParams,
    patch: &kube::api::Patch<impl serde::Serialize + std::fmt::Debug>,
) -> Result<(), kube::Error> {
    let mut request = kube::core::Request::new(K::url_path(&(), namespace))
        .patch(name, params, patch)
        .map_err(kube::Error::BuildRequest)?;
    // What kube's own `Api::patch` tags its requests with (the span name of its traces).
    request.extensions_mut().insert("patch");
    client.request_text(request).await.map(drop)
}

/// The clients the controllers use: one for everything, and one for evictions that does
/// not retry 429 answers (built with `default_retry` off). In-process tests pass one
/// client for both.
#[derive(Clone)]
pub struct Clients {
    /// Every request but evictions.
    pub api: Client,
    /// Evictions.
    pub evictions: Client,
}

impl From<Client> for Clients {
    fn from(client: Client) -> Self {
        Self {
            evictions: client.clone(),
            api: client,
        }
    }
}

/// Why the operator stopped before being asked to.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Leadership was lost; the controllers stopped at once (the process should exit and
    /// start over as a candidate, as controller-runtime's managers do).
    #[error("lost the leader lease; stopped all controllers")]
    LostLease,
    /// The leader-election settings are inconsistent.
    #[error("leader election: {0}")]
    Election(String),
}

/// Tasks aborted when dropped: the reflectors must stop with the controllers, however
/// those stop (a lost lease drops them mid-flight).
struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Runs the controllers until `shutdown` resolves. With `election`, they run only while
/// this replica holds the lease: it waits to become the leader, and if leadership is lost
/// every controller is dropped at once (no further write is started) and
/// [`RunError::LostLease`] is returned. On shutdown the controllers finish their running
/// reconciles, then the lease is released.
pub async fn run(
    clients: impl Into<Clients>,
    settings: Settings,
    election: Option<leader::LeaseConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let clients = clients.into();
    let client = clients.api.clone();
    futures::pin_mut!(shutdown);
    let Some(config) = election else {
        controllers(clients, settings, shutdown).await;
        return Ok(());
    };
    config.check().map_err(RunError::Election)?;
    let mut elector = leader::Elector::new(client.clone(), config);
    tokio::select! {
        () = elector.acquire() => {}
        () = &mut shutdown => return Ok(()),
    }
    metrics::global().leader.set(1);
    let (stop, stopping) = tokio::sync::oneshot::channel::<()>();
    let outcome = {
        let running = controllers(clients, settings, async move {
            let _ = stopping.await;
        });
        futures::pin_mut!(running);
        tokio::select! {
            () = elector.hold() => Err(RunError::LostLease),
            () = &mut shutdown => {
                let _ = stop.send(());
                // Still leading while the running reconciles finish.
                tokio::select! {
                    () = &mut running => {}
                    () = elector.hold() => {}
                }
                Ok(())
            }
            () = &mut running => Ok(()),
        }
    };
    metrics::global().leader.set(0);
    if outcome.is_ok() {
        elector.release().await;
    }
    outcome
}

/// Every controller, until `shutdown` resolves.
async fn controllers(
    clients: Clients,
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    let client = clients.api.clone();
    let settings = Arc::new(settings);
    let triggers = inputs::Triggers::default();
    let (inputs, tasks) = inputs::start(&client, &settings.namespace, &triggers);
    let _tasks = AbortOnDrop(tasks);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let policy = node_policy::run(
        client.clone(),
        Arc::clone(&settings),
        inputs.clone(),
        triggers.render,
        self::stopped(stopped.clone()),
    );
    let drains = drain::run(
        clients,
        Arc::clone(&settings),
        inputs,
        triggers.drain,
        self::stopped(stopped.clone()),
    );
    let networks = networks::run(
        client.clone(),
        Arc::clone(&settings),
        self::stopped(stopped.clone()),
    );
    let config = operator_config::run(client, settings, stopped);
    let stopper = async move {
        shutdown.await;
        let _ = stop.send(true);
    };
    futures::future::join5(policy, drains, networks, config, stopper).await;
}

/// Resolves once `rx` says the operator is stopping.
pub(crate) async fn stopped(mut rx: tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// How long running reconciles may take to finish once the operator is stopping.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Drives a kube-runtime controller until it ends, or until `SHUTDOWN_GRACE` after the
/// operator starts stopping: the controller stops its own watch at shutdown but not those
/// of `.owns()`/`.watches()`, so its stream may not end by itself.
pub(crate) async fn until_stopped(
    run: impl std::future::Future<Output = ()>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    tokio::select! {
        () = run => {}
        () = async {
            stopped(shutdown).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::utils::Backoff;

    fn api_error(code: u16, reason: &str, message: &str) -> RequestError {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "code": code, "reason": reason, "message": message,
            "details": {"name": "default", "kind": "sriovoperatorconfigs"},
        }))
        .expect("a Status");
        failed("the operator config's finalizer")(kube::Error::Api(Box::new(status)))
    }

    #[test]
    fn the_watch_backoff_keeps_growing_through_the_events_between_failures() {
        let mut backoff = WatchBackoff::default();
        let first = backoff.next().unwrap();
        // What a watcher that cannot list yields between its failures: an event, which
        // resets the backoff kube-runtime's StreamBackoff holds.
        backoff.reset();
        backoff.next().unwrap();
        backoff.reset();
        let third = backoff.next().unwrap();
        assert!(first < std::time::Duration::from_millis(1600), "{first:?}");
        // 0.8 s doubled twice (plus jitter): the resets did not start it over.
        assert!(third >= std::time::Duration::from_millis(3200), "{third:?}");
    }

    #[test]
    fn an_error_reads_with_its_causes_once_each() {
        #[derive(Debug, thiserror::Error)]
        #[error("{0}")]
        struct Outer(&'static str, #[source] std::io::Error);
        let refused = |text| {
            let cause =
                std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
            with_causes(&Outer(text, cause))
        };
        assert_eq!(
            refused("client error (Connect)"),
            "client error (Connect): Connection refused"
        );
        // A cause the text already ends with is not said twice.
        assert_eq!(
            refused("list failed: Connection refused"),
            "list failed: Connection refused"
        );
    }

    #[test]
    fn an_api_error_reads_as_the_servers_message_without_the_status_dump() {
        let error = api_error(409, "Conflict", "the object has been modified");
        assert_eq!(
            error.to_string(),
            "the operator config's finalizer: the object has been modified (409 Conflict)"
        );
        assert!(error.is_conflict());
        assert!(!api_error(403, "Forbidden", "no").is_conflict());
    }
}
