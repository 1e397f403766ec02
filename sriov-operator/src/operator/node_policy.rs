//! The policy sync: one cluster-wide work item, coalesced. Each run reads the stores,
//! calls `sriov_core::render::desired`, and writes only what differs from what is stored:
//! node states (server-side apply of `spec` and the owner reference), the stale-state
//! annotation and deletions, the `device-plugin-config` ConfigMap and the nodes'
//! `sriovnetwork.openshift.io/device-plugin` label. A run with nothing to change makes no
//! request at all.
//!
//! How "differs" is decided: the typed spec and owner references of the stored node state
//! against the rendered ones (the node-state schema has no defaults, so what the server
//! stores of an apply is exactly what was applied); the ConfigMap's `data` and owner
//! references; each node's label value.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Node};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use sriov_core::api::{KEEP_STATE_UNTIL_ANNOTATION, SriovNetworkNodePolicy, SriovNetworkNodeState};
use sriov_core::render::cluster::Snapshot;
use sriov_core::render::stale::{self, Stale};
use sriov_core::render::{desired, device_plugin};

use super::inputs::Inputs;
use super::settings::Settings;

/// Why a sync could not finish.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// A write was refused or the server could not be reached.
    #[error(transparent)]
    Write(#[from] super::RequestError),
    /// The supported-NIC ConfigMap cannot be read.
    #[error("{0}")]
    Render(#[from] sriov_core::error::Error),
}

/// What one sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// Node states created or changed.
    pub node_states_written: usize,
    /// Stale node states marked with a deletion time.
    pub stale_marked: usize,
    /// Stale node states deleted.
    pub stale_deleted: usize,
    /// Deletion marks withdrawn (the node is managed again).
    pub stale_withdrawn: usize,
    /// Device-plugin ConfigMaps (or shards) written or deleted.
    pub device_plugin_configs_written: usize,
    /// Node labels changed.
    pub labels_written: usize,
    /// Policy statuses written (matched and synced nodes, conditions).
    pub policy_statuses_written: usize,
    /// Rendering problems (each names its object and field), logged.
    pub problems: Vec<String>,
    /// Skipped: no `default` SriovOperatorConfig yet (upstream waits for it too).
    pub waiting_for_config: bool,
}

impl SyncReport {
    /// How many write requests the sync made.
    pub fn writes(&self) -> usize {
        self.node_states_written
            + self.stale_marked
            + self.stale_deleted
            + self.stale_withdrawn
            + self.device_plugin_configs_written
            + self.labels_written
            + self.policy_statuses_written
    }
}

/// The field manager of the stale-state annotation: separate from the spec's, so applying
/// an empty intent under it removes the annotation and nothing else.
fn stale_manager(settings: &Settings) -> String {
    format!("{}-stale-state", settings.field_manager)
}

/// One sync at `now`.
pub async fn sync(
    client: &Client,
    settings: &Settings,
    inputs: &Inputs,
    now: Timestamp,
) -> Result<SyncReport, SyncError> {
    let mut report = SyncReport::default();
    let namespace = settings.namespace.as_str();
    // The stores' objects, shared (no object is copied).
    let snapshot = Snapshot {
        nodes: inputs.nodes.state(),
        node_states: inputs.node_states.state(),
        policies: inputs.policies.state(),
        sriov_networks: inputs.sriov_networks.state(),
        ib_networks: inputs.ib_networks.state(),
        ovs_networks: inputs.ovs_networks.state(),
        pool_configs: inputs.pool_configs.state(),
        operator_configs: inputs.operator_configs.state(),
        config_maps: inputs.config_maps.state(),
    };
    if snapshot.operator_config(namespace).is_none() {
        report.waiting_for_config = true;
        return Ok(report);
    }
    let nics = snapshot.supported_nics(namespace)?;
    let wanted = desired(&sriov_core::render::ClusterInputs {
        keep_status: false,
        ..snapshot.inputs(namespace, &settings.resource_prefix, &nics)
    });
    report.problems = wanted.problems.iter().map(ToString::to_string).collect();

    let states: Api<SriovNetworkNodeState> = Api::namespaced(client.clone(), namespace);
    let live: BTreeMap<String, Arc<SriovNetworkNodeState>> = inputs
        .node_states
        .state()
        .into_iter()
        .map(|s| (s.name_any(), s))
        .collect();
    let apply = PatchParams::apply(&settings.field_manager).force();
    // The states to write (their intents are built as each write starts, not all at once:
    // at 10,000 nodes they would be tens of megabytes).
    let mut changed: Vec<&SriovNetworkNodeState> = Vec::new();
    let mut withdrawn = Vec::new();
    for state in &wanted.node_states {
        let name = state.name_any();
        let current = live.get(&name);
        let same = current.is_some_and(|c| {
            c.spec == state.spec && c.metadata.owner_references == state.metadata.owner_references
        });
        if !same {
            changed.push(state);
        }
        // The node is managed again: a pending deletion is withdrawn.
        if current.is_some_and(|c| c.annotations().contains_key(KEEP_STATE_UNTIL_ANNOTATION)) {
            withdrawn.push(name);
        }
    }
    // The managed nodes by what their daemons last reported (a state just created: none).
    super::metrics::global().set_nodes(wanted.node_states.iter().map(|state| {
        live.get(state.metadata.name.as_deref().unwrap_or_default())
            .and_then(|s| s.status.as_ref())
            .and_then(|status| status.sync_status.as_deref())
    }));
    let sync_of: BTreeMap<String, sriov_core::render::status::NodeSync> = wanted
        .node_states
        .iter()
        .map(|s| {
            let name = s.name_any();
            let state = sriov_core::render::status::node_sync(live.get(&name).map(|l| &**l));
            (name, state)
        })
        .collect();
    // Node states of nodes no longer managed: what to do with each.
    let managed: BTreeSet<&str> = wanted
        .node_states
        .iter()
        .filter_map(|s| s.metadata.name.as_deref())
        .collect();
    let unmanaged: Vec<(String, bool, Stale)> = live
        .iter()
        .filter(|(name, _)| !managed.contains(name.as_str()))
        .map(|(name, state)| {
            let labelled = inputs
                .nodes
                .get(&kube::runtime::reflector::ObjectRef::new(name))
                .is_some_and(|n| n.labels().contains_key(device_plugin::NODE_LABEL));
            (
                name.clone(),
                labelled,
                stale::decide(state, now, settings.stale_delay),
            )
        })
        .collect();
    // The stores' objects are let go before writing: each write replaces its object in the
    // store, and holding the old ones through the writes doubled the operator's memory at
    // 10,000 nodes.
    drop(live);
    drop(snapshot);

    report.node_states_written = parallel(changed, |state| {
        write_state(client, namespace, &apply, state)
    })
    .await?;
    let stale_apply = PatchParams::apply(&stale_manager(settings)).force();
    report.stale_withdrawn = parallel(&withdrawn, |name| {
        stale_mark(client, namespace, &stale_apply, name, None)
    })
    .await?;

    write_statuses(
        client,
        settings,
        inputs,
        &wanted,
        &sync_of,
        now,
        &mut report,
    )
    .await?;

    for (name, labelled, decision) in &unmanaged {
        if *labelled {
            write_label(client, name, None).await?;
            report.labels_written += 1;
        }
        match decision {
            Stale::Wait => {}
            Stale::KeepUntil(until) => {
                stale_mark(client, namespace, &stale_apply, name, Some(until)).await?;
                report.stale_marked += 1;
            }
            Stale::Delete => {
                match states.delete(name, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 404 => {}
                    Err(e) => return Err(super::failed(format!("node state {name}"))(e).into()),
                }
                report.stale_deleted += 1;
            }
        }
    }

    // The device plugin's configuration (one ConfigMap, or its shards at scale).
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    for config in &wanted.device_plugin_configs {
        let name = config.name_any();
        let current = inputs
            .config_maps
            .get(&kube::runtime::reflector::ObjectRef::new(&name).within(namespace));
        let same = current.is_some_and(|c| {
            c.data == config.data && c.metadata.owner_references == config.metadata.owner_references
        });
        if same {
            continue;
        }
        let intent = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace,
                "ownerReferences": config.metadata.owner_references},
            "data": config.data,
        });
        maps.patch(&name, &apply, &Patch::Apply(&intent))
            .await
            .map_err(super::failed(format!("the device-plugin ConfigMap {name}")))?;
        report.device_plugin_configs_written += 1;
    }
    for name in &wanted.device_plugin_unused {
        let present = inputs
            .config_maps
            .get(&kube::runtime::reflector::ObjectRef::new(name).within(namespace))
            .is_some();
        if present {
            match maps.delete(name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => {
                    return Err(
                        super::failed(format!("the device-plugin ConfigMap {name}"))(e).into(),
                    );
                }
            }
            report.device_plugin_configs_written += 1;
        }
    }

    // Which nodes run the device plugin.
    let mut labels: Vec<(String, &'static str)> = Vec::new();
    for (name, value) in &wanted.device_plugin_labels {
        let node = inputs
            .nodes
            .get(&kube::runtime::reflector::ObjectRef::new(name));
        let current = node
            .as_ref()
            .and_then(|n| n.labels().get(device_plugin::NODE_LABEL).cloned());
        if node.is_some() && current.as_deref() != Some(*value) {
            labels.push((name.clone(), *value));
        }
    }
    report.labels_written += parallel(&labels, |(name, value)| {
        write_label(client, name, Some(value))
    })
    .await?;
    for problem in &report.problems {
        tracing::warn!(%problem, "policy sync");
    }
    Ok(report)
}

/// How many writes of one sync are in flight at once: enough to hide round trips, few
/// enough not to flood the API server (client-go's default QPS is 5, burst 10; the
/// operator's writes are already only the differences).
const WRITE_CONCURRENCY: usize = 16;

/// Runs `write` on each of `items` with at most [`WRITE_CONCURRENCY`] in flight; the
/// number done, or the first error (the others still finish). Each write's future is made
/// as it starts, not all first: at 10,000 node states, the futures alone took 14 MB. (A
/// loop over `FuturesUnordered` rather than `stream::iter(items.map(write))`: through
/// that adaptor rustc cannot prove the controller's future `Send`.)
async fn parallel<T, W, F>(
    items: impl IntoIterator<Item = T>,
    mut write: W,
) -> Result<usize, SyncError>
where
    W: FnMut(T) -> F,
    F: std::future::Future<Output = Result<(), SyncError>>,
{
    use futures::StreamExt;
    let mut items = items.into_iter();
    let mut in_flight = futures::stream::FuturesUnordered::new();
    let (mut done, mut first_error) = (0, None);
    loop {
        while in_flight.len() < WRITE_CONCURRENCY {
            let Some(item) = items.next() else { break };
            in_flight.push(write(item));
        }
        let Some(result) = in_flight.next().await else {
            break;
        };
        match result {
            Ok(()) => done += 1,
            Err(e) => first_error = first_error.or(Some(e)),
        }
    }
    first_error.map_or(Ok(done), Err)
}

/// Applies a node state's spec and owner (the intent is built here, as the write starts).
async fn write_state(
    client: &Client,
    namespace: &str,
    apply: &PatchParams,
    state: &SriovNetworkNodeState,
) -> Result<(), SyncError> {
    let name = state.name_any();
    let intent = json!({
        "apiVersion": sriov_core::api::API_VERSION,
        "kind": "SriovNetworkNodeState",
        "metadata": {"name": name, "namespace": namespace,
            "ownerReferences": state.metadata.owner_references},
        "spec": state.spec,
    });
    super::patch_unread::<SriovNetworkNodeState>(
        client,
        Some(namespace),
        &name,
        apply,
        &Patch::Apply(&intent),
    )
    .await
    .map_err(|e| super::failed(format!("node state {name}"))(e).into())
}

/// Applies, as the stale-state field manager, a node state's `keep-state-until` mark
/// (`until`) or, with `None`, nothing: the empty apply withdraws a mark made earlier.
async fn stale_mark(
    client: &Client,
    namespace: &str,
    stale_apply: &PatchParams,
    name: &str,
    until: Option<&str>,
) -> Result<(), SyncError> {
    let mut metadata = json!({"name": name, "namespace": namespace});
    if let Some(until) = until {
        metadata["annotations"] = json!({KEEP_STATE_UNTIL_ANNOTATION: until});
    }
    let intent = json!({
        "apiVersion": sriov_core::api::API_VERSION,
        "kind": "SriovNetworkNodeState",
        "metadata": metadata,
    });
    super::patch_unread::<SriovNetworkNodeState>(
        client,
        Some(namespace),
        name,
        stale_apply,
        &Patch::Apply(&intent),
    )
    .await
    .map_err(|e| super::failed(format!("node state {name}"))(e).into())
}

/// Sets a node's device-plugin label (`None` removes it).
async fn write_label(client: &Client, name: &str, value: Option<&str>) -> Result<(), SyncError> {
    let patch = json!({"metadata": {"labels": {device_plugin::NODE_LABEL: value}}});
    super::patch_unread::<Node>(
        client,
        None,
        name,
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(|e| super::failed(format!("node {name}"))(e).into())
}

/// The field manager of the statuses the policy sync writes.
fn status_manager(settings: &Settings) -> String {
    format!("{}-status", settings.field_manager)
}

/// Policies' statuses (`sriov_core::render::status`), written by server-side apply of the
/// status subresource, only when they change. A node state's own `Ready`/`Progressing`/
/// `Degraded` are the config daemon's to write with the status they derive from (one
/// request instead of two per report: at 10,000 nodes the operator writing them doubled
/// the cold start's writes).
async fn write_statuses(
    client: &Client,
    settings: &Settings,
    inputs: &Inputs,
    wanted: &sriov_core::render::Desired,
    sync: &BTreeMap<String, sriov_core::render::status::NodeSync>,
    now: Timestamp,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    use sriov_core::render::status;
    let namespace = settings.namespace.as_str();
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now);
    let apply = PatchParams::apply(&status_manager(settings)).force();
    let by_policy = status::nodes_by_policy(&wanted.node_states);
    let policies: Api<SriovNetworkNodePolicy> = Api::namespaced(client.clone(), namespace);
    for policy in inputs.policies.state() {
        if policy.namespace().as_deref() != Some(namespace) {
            continue;
        }
        let matched = by_policy
            .get(policy.metadata.name.as_deref().unwrap_or_default())
            .map_or(&[][..], Vec::as_slice);
        let next = status::policy_status(
            &policy,
            matched,
            sync,
            &wanted.problems,
            policy.status.as_ref(),
            &now,
        );
        if policy.status.as_ref() == Some(&next) {
            continue;
        }
        let name = policy.name_any();
        let intent = json!({
            "apiVersion": sriov_core::api::API_VERSION, "kind": "SriovNetworkNodePolicy",
            "metadata": {"name": name, "namespace": namespace}, "status": next,
        });
        policies
            .patch_status(&name, &apply, &Patch::Apply(&intent))
            .await
            .map_err(super::failed(format!("status of policy {name}")))?;
        report.policy_statuses_written += 1;
    }
    Ok(())
}

/// Runs the sync whenever `trigger` fires (after `settings.debounce`, so a burst of
/// changes is one run) and every `settings.resync`, until `shutdown` resolves. A failed
/// run is retried after the debounce.
pub async fn run(
    client: Client,
    settings: Arc<Settings>,
    inputs: Inputs,
    trigger: Arc<tokio::sync::Notify>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    futures::pin_mut!(shutdown);
    tokio::select! {
        ready = inputs.ready() => if !ready { return; },
        () = &mut shutdown => return,
    }
    super::metrics::global().set_ready();
    loop {
        let started = std::time::Instant::now();
        let outcome = sync(&client, &settings, &inputs, Timestamp::now()).await;
        super::metrics::global().observe("policy", started, outcome.is_ok());
        let retry = match &outcome {
            Ok(report) => {
                tracing::debug!(writes = report.writes(), "policy sync done");
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "policy sync failed; retrying");
                true
            }
        };
        let wait = if retry {
            settings.debounce
        } else {
            settings.resync
        };
        tokio::select! {
            () = trigger.notified() => {}
            () = tokio::time::sleep(wait) => {}
            () = &mut shutdown => return,
        }
        // Gather the rest of a burst.
        tokio::select! {
            () = tokio::time::sleep(settings.debounce) => {}
            () = &mut shutdown => return,
        }
    }
}
