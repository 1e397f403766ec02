//! The drain controller: answers each config daemon's drain request (the Node's
//! `sriovnetwork.openshift.io/state`) on the node state (`current-state`), with upstream's
//! state machine (`sriov_core::drain::next_step`) and pool limits
//! (`sriov_core::drain::schedule`): cordon, evict through the Eviction API (only pods
//! using `<RESOURCE_PREFIX>/…` resources for `Drain_Required`, every pod but DaemonSet and
//! mirror pods for `Reboot_Required`), `DrainComplete` once they are gone, and uncordon
//! and `Idle` when the request is withdrawn. A missing annotation reads as `Idle` and is
//! not written (upstream first writes `Idle` into every node and node state). A node whose state says
//! `use-external-drainer: "true"` is left to that drainer; a single-node cluster that
//! must reboot is not drained (nothing could take its pods).
//!
//! It runs as passes over the reflector stores rather than a per-object controller: a pass
//! looks at every node (cheap, pure), acts on those that need it, and sees its own writes
//! at once (so two nodes of a pool never both take its last slot); passes repeat every
//! `drain_retry` while a drain is in progress or waiting, else on a change.
//!
//! Beyond upstream:
//! - a drain that has not finished after `drain_timeout` (a PodDisruptionBudget refusing,
//!   a pod that will not terminate) sets `DrainBlocked=True` on the node state naming the
//!   pods and why, and a Warning event; it keeps trying, and the condition turns `False`
//!   when the drain finishes or is withdrawn;
//! - the node is uncordoned only if this controller cordoned it (a node an admin cordoned
//!   beforehand stays cordoned), and always when the request is withdrawn.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{EvictParams, ListParams, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use sriov_core::api::{
    CURRENT_STATE_ANNOTATION, Condition, NodeView, SriovNetworkNodeState,
    USE_EXTERNAL_DRAINER_ANNOTATION,
};
use sriov_core::drain::{self, CurrentState, NODE_STATE_ANNOTATION, NodeDrain, Step};

use super::inputs::Inputs;
use super::settings::Settings;

/// Annotation the controller puts on a node it cordons, so it uncordons only those.
pub const CORDONED_ANNOTATION: &str = "sriovnetwork.openshift.io/cordoned-by-drain";
/// The node-state condition reporting a drain that cannot finish.
pub const DRAIN_BLOCKED: &str = "DrainBlocked";
/// Event reason of the drain controller's events (upstream's).
pub const EVENT_REASON: &str = "DrainController";

/// A request the controller could not make (the pass is retried).
pub use super::RequestError as DrainError;
use super::failed;

/// What one pass did, for tests and logs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    /// Nodes whose drain started (`Draining`).
    pub started: Vec<String>,
    /// Nodes drained (`DrainComplete`).
    pub drained: Vec<String>,
    /// Nodes whose drain was completed (uncordoned, `Idle`).
    pub completed: Vec<String>,
    /// Nodes waiting for a slot in their pool, with the pool.
    pub waiting: BTreeMap<String, String>,
    /// Nodes still draining, with the pods left (`namespace/name: why`).
    pub in_progress: BTreeMap<String, Vec<String>>,
    /// Evictions the API server accepted.
    pub evicted: usize,
    /// Problems (invalid annotations, pool errors), each also an event.
    pub problems: Vec<String>,
    /// Write requests made (patches, evictions, events, status).
    pub writes: usize,
}

impl PassReport {
    /// Whether another pass is due soon (something is draining or waiting).
    pub fn busy(&self) -> bool {
        !self.waiting.is_empty() || !self.in_progress.is_empty() || !self.started.is_empty()
    }
}

/// A node's drain round in a pass: its state, node and outcome.
type DrainRound = (
    Arc<SriovNetworkNodeState>,
    Arc<NodeView>,
    Result<Outcome, DrainError>,
);

/// How one node's drain went in a pass.
enum Outcome {
    Drained,
    Left {
        pods: Vec<String>,
        writes: usize,
        evicted: usize,
    },
}

/// The drain controller's memory between passes.
pub struct Drainer {
    client: Client,
    /// Evictions go through a client that does not retry 429s: for an eviction a 429 is a
    /// PodDisruptionBudget's answer, not an overloaded server, and kube-client's default
    /// retry (15 times, backing off up to minutes) would hold the whole pass.
    evictions: Client,
    settings: Arc<Settings>,
    inputs: Inputs,
    recorder: Recorder,
    /// The `current-state` this controller last wrote per node: fresher than the store.
    written: HashMap<String, CurrentState>,
    /// When each node's drain started (this process), for `drain_timeout`.
    since: HashMap<String, Instant>,
    /// The last problem or blocked message published per node, so each is published once.
    published: HashMap<String, String>,
}

impl Drainer {
    /// A drainer over the stores of `inputs`.
    pub fn new(client: Client, settings: Arc<Settings>, inputs: Inputs) -> Self {
        let reporter = Reporter {
            controller: settings.field_manager.clone(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            evictions: client.clone(),
            client,
            settings,
            inputs,
            written: HashMap::new(),
            since: HashMap::new(),
            published: HashMap::new(),
        }
    }

    /// Sends evictions through `client` (one without kube-client's retry of 429s).
    pub fn with_eviction_client(mut self, client: Client) -> Self {
        self.evictions = client;
        self
    }

    fn states(&self) -> Api<SriovNetworkNodeState> {
        Api::namespaced(self.client.clone(), &self.settings.namespace)
    }

    async fn annotate_state(
        &mut self,
        name: &str,
        annotations: serde_json::Value,
        report: &mut PassReport,
    ) -> Result<(), DrainError> {
        self.states()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"metadata": {"annotations": annotations}})),
            )
            .await
            .map_err(failed(format!("node state {name}")))?;
        report.writes += 1;
        Ok(())
    }

    async fn set_current(
        &mut self,
        name: &str,
        current: CurrentState,
        report: &mut PassReport,
    ) -> Result<(), DrainError> {
        self.annotate_state(
            name,
            json!({CURRENT_STATE_ANNOTATION: current.as_str()}),
            report,
        )
        .await?;
        self.written.insert(name.to_owned(), current);
        Ok(())
    }

    /// Publishes a Warning event on the node state, once per distinct message.
    async fn warn(
        &mut self,
        state: &SriovNetworkNodeState,
        action: &str,
        message: String,
        report: &mut PassReport,
    ) {
        let name = state.name_any();
        if self.published.get(&name) == Some(&message) {
            return;
        }
        let event = Event {
            type_: EventType::Warning,
            reason: EVENT_REASON.to_owned(),
            note: Some(message.clone()),
            action: action.to_owned(),
            secondary: None,
        };
        match self.recorder.publish(&event, &state.object_ref(&())).await {
            Ok(()) => report.writes += 1,
            Err(e) => tracing::warn!(node = %name, error = %e, "publishing an event failed"),
        }
        self.published.insert(name, message);
    }

    /// Writes the `DrainBlocked` condition when it changes. `None` turns an existing one
    /// `False` (and writes nothing when there is none).
    async fn set_blocked(
        &mut self,
        state: &SriovNetworkNodeState,
        blocked: Option<&str>,
        report: &mut PassReport,
    ) -> Result<(), DrainError> {
        let current = state
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default();
        let existing = current.iter().find(|c| c.type_ == DRAIN_BLOCKED);
        if blocked.is_none() && existing.is_none() {
            return Ok(());
        }
        let (holds, reason, message) = match blocked {
            Some(message) => (true, "EvictionIncomplete", message),
            None => (false, "NotBlocked", ""),
        };
        let condition = Condition::new(
            DRAIN_BLOCKED,
            holds,
            reason,
            message,
            state.metadata.generation,
            Time(k8s_openapi::jiff::Timestamp::now()),
        );
        // Only this condition, under the drain controller's own field manager: the other
        // conditions (the policy sync's) and the daemon's status stay as they are.
        let Some(conditions) = sriov_core::api::set_condition(current, condition) else {
            return Ok(());
        };
        let ours: Vec<&Condition> = conditions
            .iter()
            .filter(|c| c.type_ == DRAIN_BLOCKED)
            .collect();
        let name = state.name_any();
        let intent = json!({
            "apiVersion": sriov_core::api::API_VERSION, "kind": "SriovNetworkNodeState",
            "metadata": {"name": name, "namespace": self.settings.namespace},
            "status": {"conditions": ours},
        });
        self.states()
            .patch_status(
                &name,
                &PatchParams::apply(&format!("{}-drain", self.settings.field_manager)).force(),
                &Patch::Apply(&intent),
            )
            .await
            .map_err(failed(format!("status of node state {name}")))?;
        report.writes += 1;
        Ok(())
    }

    /// One pass over every node.
    pub async fn pass(&mut self) -> Result<PassReport, DrainError> {
        let mut report = PassReport::default();
        // Names borrowed from the stores' objects: a pass runs on every drain-relevant
        // change, and at 10,000 nodes copying each name (or sorting by copied names) was
        // most of its cost.
        let all_nodes = self.inputs.nodes.state();
        let nodes: HashMap<&str, &Arc<NodeView>> = all_nodes
            .iter()
            .map(|n| (n.metadata.name.as_deref().unwrap_or_default(), n))
            .collect();
        let mut states: Vec<Arc<SriovNetworkNodeState>> = self
            .inputs
            .node_states
            .state()
            .into_iter()
            .filter(|s| s.metadata.namespace.as_deref() == Some(self.settings.namespace.as_str()))
            .collect();
        states.sort_unstable_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let state_of: HashMap<&str, &Arc<SriovNetworkNodeState>> = states
            .iter()
            .map(|s| (s.metadata.name.as_deref().unwrap_or_default(), s))
            .collect();
        // The store catches up with what this controller wrote: forget the override.
        if !self.written.is_empty() {
            for (name, state) in &state_of {
                let stored = state
                    .annotations()
                    .get(CURRENT_STATE_ANNOTATION)
                    .and_then(|c| CurrentState::parse(c));
                if stored.is_some() && stored == self.written.get(*name).copied() {
                    self.written.remove(*name);
                }
            }
        }

        let mut to_start = BTreeSet::new();
        let mut to_drain: Vec<(Arc<SriovNetworkNodeState>, Arc<NodeView>, bool)> = Vec::new();
        for state in &states {
            let name = state.metadata.name.as_deref().unwrap_or_default();
            let Some(node) = nodes.get(name) else {
                continue;
            };
            if state
                .annotations()
                .get(USE_EXTERNAL_DRAINER_ANNOTATION)
                .is_some_and(|v| v == "true")
            {
                continue;
            }
            let request = node
                .annotations()
                .get(NODE_STATE_ANNOTATION)
                .map(String::as_str);
            let current = self
                .written
                .get(name)
                .map(|c| c.as_str().to_owned())
                .or_else(|| state.annotations().get(CURRENT_STATE_ANNOTATION).cloned());
            match drain::next_step(request, current.as_deref()) {
                Step::Nothing => {
                    if current.as_deref() == Some(CurrentState::DrainComplete.as_str()) {
                        self.since.remove(name);
                        self.set_blocked(state, None, &mut report).await?;
                    }
                }
                Step::Complete => {
                    self.uncordon(node, &mut report).await?;
                    self.set_current(name, CurrentState::Idle, &mut report)
                        .await?;
                    self.since.remove(name);
                    self.published.remove(name);
                    self.set_blocked(state, None, &mut report).await?;
                    report.completed.push(name.to_owned());
                }
                Step::Start => {
                    to_start.insert(name.to_owned());
                }
                Step::Drain { full } => to_drain.push((Arc::clone(state), Arc::clone(node), full)),
                Step::Invalid(problem) => {
                    if self.published.get(name) != Some(&problem) {
                        tracing::warn!(node = %name, %problem, "drain request not understood");
                    }
                    self.warn(state, "DrainNode", problem.clone(), &mut report)
                        .await;
                    report.problems.push(format!("{name}: {problem}"));
                }
            }
        }

        // Nodes asking to start take their pool's free slots, in name order.
        if !to_start.is_empty() {
            let pools = self.inputs.pool_configs.state();
            let pools: Vec<_> = pools
                .iter()
                .filter(|p| p.namespace().as_deref() == Some(self.settings.namespace.as_str()))
                .map(|p| (**p).clone())
                .collect();
            let entries: Vec<NodeDrain<'_>> = states
                .iter()
                .filter_map(|state| {
                    let name = state.name_any();
                    let node = nodes.get(name.as_str())?;
                    let current = self.written.get(&name).copied().or_else(|| {
                        state
                            .annotations()
                            .get(CURRENT_STATE_ANNOTATION)
                            .map(|c| CurrentState::parse(c))
                            .unwrap_or(Some(CurrentState::Idle))
                    })?;
                    Some(NodeDrain {
                        node,
                        current,
                        requested: to_start.contains(&name),
                    })
                })
                .collect();
            let decision = drain::schedule(&entries, &pools);
            report.waiting = decision.wait;
            for problem in &decision.warnings {
                tracing::warn!(%problem, "drain scheduling");
                report.problems.push(problem.clone());
            }
            // A node that is neither started nor waiting was refused (in two pools).
            for name in &to_start {
                let scheduled = decision.start.contains(name) || report.waiting.contains_key(name);
                let state = state_of.get(name.as_str());
                if let (false, Some(state)) = (scheduled, state) {
                    let why = decision
                        .warnings
                        .iter()
                        .find(|w| w.contains(name.as_str()))
                        .cloned()
                        .unwrap_or_else(|| "cannot be scheduled for a drain".into());
                    let state = Arc::clone(state);
                    self.warn(&state, "DrainNode", why, &mut report).await;
                }
            }
            for name in decision.start {
                self.set_current(&name, CurrentState::Draining, &mut report)
                    .await?;
                self.since.insert(name.clone(), Instant::now());
                if let (Some(state), Some(node)) =
                    (state_of.get(name.as_str()), nodes.get(name.as_str()))
                {
                    let full = node
                        .annotations()
                        .get(NODE_STATE_ANNOTATION)
                        .map(String::as_str)
                        == Some(drain::Request::RebootRequired.as_str());
                    to_drain.push((Arc::clone(state), Arc::clone(node), full));
                }
                report.started.push(name);
            }
        }

        // Drains in progress, a few nodes at a time.
        let single_node = nodes.len() == 1;
        let this = &*self;
        let outcomes: Vec<DrainRound> = futures::stream::iter(to_drain)
            .map(|(state, node, full)| async move {
                let outcome = this.drain_node(&node, full, single_node).await;
                (state, node, outcome)
            })
            .buffer_unordered(DRAIN_CONCURRENCY)
            .collect()
            .await;
        for (state, node, outcome) in outcomes {
            let name = node.name_any();
            match outcome? {
                Outcome::Drained => {
                    self.set_current(&name, CurrentState::DrainComplete, &mut report)
                        .await?;
                    self.since.remove(&name);
                    self.set_blocked(&state, None, &mut report).await?;
                    report.drained.push(name);
                }
                Outcome::Left {
                    pods,
                    writes,
                    evicted,
                } => {
                    report.writes += writes;
                    report.evicted += evicted;
                    let started = *self.since.entry(name.clone()).or_insert_with(Instant::now);
                    if started.elapsed() >= self.settings.drain_timeout && !pods.is_empty() {
                        let message = format!(
                            "drain has not finished after {}s; still on the node: {}",
                            self.settings.drain_timeout.as_secs(),
                            pods.join("; ")
                        );
                        self.set_blocked(&state, Some(&message), &mut report)
                            .await?;
                        self.warn(&state, "DrainNode", message, &mut report).await;
                    }
                    report.in_progress.insert(name, pods);
                }
            }
        }
        Ok(report)
    }

    async fn uncordon(&self, node: &NodeView, report: &mut PassReport) -> Result<(), DrainError> {
        if !node.annotations().contains_key(CORDONED_ANNOTATION) {
            return Ok(());
        }
        let name = node.name_any();
        Api::<Node>::all(self.client.clone())
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(
                    &json!({"metadata": {"annotations": {CORDONED_ANNOTATION: null}},
                    "spec": {"unschedulable": null}}),
                ),
            )
            .await
            .map_err(failed(format!("uncordoning node {name}")))?;
        report.writes += 1;
        Ok(())
    }

    /// One round of draining a node: cordon it (once), evict what is left, and say whether
    /// it is drained.
    async fn drain_node(
        &self,
        node: &NodeView,
        full: bool,
        single_node: bool,
    ) -> Result<Outcome, DrainError> {
        let name = node.name_any();
        if full && single_node {
            // Nowhere to move the pods: the daemon reboots with them (upstream too).
            return Ok(Outcome::Drained);
        }
        let mut writes = 0;
        let mut evicted = 0;
        if !node.unschedulable() {
            Api::<Node>::all(self.client.clone())
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(
                        &json!({"metadata": {"annotations": {CORDONED_ANNOTATION: "true"}},
                        "spec": {"unschedulable": true}}),
                    ),
                )
                .await
                .map_err(failed(format!("cordoning node {name}")))?;
            writes += 1;
        }
        let pods = Api::<Pod>::all(self.client.clone())
            .list(&ListParams::default().fields(&format!("spec.nodeName={name}")))
            .await
            .map_err(failed(format!("pods of node {name}")))?
            .items;
        let prefix = &self.settings.resource_prefix;
        if drain::drained(&pods, prefix, full) {
            return Ok(Outcome::Drained);
        }
        let mut left = Vec::new();
        for pod in &pods {
            let id = format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any());
            match drain::eviction(pod, prefix, full) {
                Ok(()) => {}
                Err(drain::Skip::Terminating) => {
                    left.push(format!("{id}: terminating"));
                    continue;
                }
                Err(_) => continue,
            }
            let api: Api<Pod> =
                Api::namespaced(self.evictions.clone(), &pod.namespace().unwrap_or_default());
            match api.evict(&pod.name_any(), &EvictParams::default()).await {
                Ok(_) => {
                    writes += 1;
                    evicted += 1;
                    left.push(format!("{id}: evicted, terminating"));
                }
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(kube::Error::Api(e)) => {
                    writes += 1;
                    // The budget's own words (kube-apiserver names it in the causes).
                    let causes: Vec<String> = e
                        .details
                        .iter()
                        .flat_map(|d| d.causes.iter())
                        .map(|c| c.message.clone())
                        .filter(|m| !m.is_empty())
                        .collect();
                    let why = if e.code == 429 {
                        let detail = if causes.is_empty() {
                            e.message.clone()
                        } else {
                            causes.join("; ")
                        };
                        format!("eviction refused by a PodDisruptionBudget ({detail})")
                    } else {
                        format!("eviction failed: {} ({})", e.message, e.code)
                    };
                    left.push(format!("{id}: {why}"));
                }
                Err(e) => return Err(failed(format!("evicting {id}"))(e)),
            }
        }
        Ok(Outcome::Left {
            pods: left,
            writes,
            evicted,
        })
    }
}

/// How many nodes a pass drains at once.
const DRAIN_CONCURRENCY: usize = 16;

/// Runs passes on every drain trigger, every `drain_retry` while something is draining or
/// waiting, and every resync otherwise, until `shutdown` resolves.
pub async fn run(
    clients: super::Clients,
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
    let retry = settings.drain_retry;
    let resync = settings.resync;
    let mut drainer =
        Drainer::new(clients.api, settings, inputs).with_eviction_client(clients.evictions);
    loop {
        let started = Instant::now();
        // A pass in flight ends with the operator (its writes are each whole).
        let outcome = tokio::select! {
            outcome = drainer.pass() => outcome,
            () = &mut shutdown => return,
        };
        let metrics = super::metrics::global();
        metrics.observe("drain", started, outcome.is_ok());
        let wait = match outcome {
            Ok(report) => {
                let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
                metrics
                    .drains_in_progress
                    .set(count(report.in_progress.len()));
                metrics.drains_waiting.set(count(report.waiting.len()));
                if report.writes > 0 {
                    tracing::info!(
                        started = ?report.started,
                        drained = ?report.drained,
                        completed = ?report.completed,
                        waiting = report.waiting.len(),
                        in_progress = report.in_progress.len(),
                        "drain pass"
                    );
                }
                if report.busy() { retry } else { resync }
            }
            Err(e) => {
                tracing::warn!(error = %e, "drain pass failed; retrying");
                retry
            }
        };
        tokio::select! {
            () = trigger.notified() => {}
            () = tokio::time::sleep(wait) => {}
            () = &mut shutdown => return,
        }
    }
}
