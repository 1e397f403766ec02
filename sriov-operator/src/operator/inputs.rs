//! What the policy sync and the drain controller read, kept current by reflectors: one
//! store per kind, and two triggers: [`Triggers::render`] fires when a change could alter
//! what the policy sync writes (a node's labels, a node state's discovered interfaces or
//! annotations, any policy, network, pool or config), [`Triggers::drain`] when it could
//! alter a drain decision (a node's drain request, its schedulability and, while it asks
//! for a drain, its labels; a node state's annotations, a pool, a node or node state
//! appearing or going).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use sriov_core::api::{
    NodeView, OVSNetwork, SriovIBNetwork, SriovNetwork, SriovNetworkNodePolicy,
    SriovNetworkNodeState, SriovNetworkPoolConfig, SriovOperatorConfig,
};
use tokio::sync::Notify;

/// The stores the policy sync reads.
#[derive(Clone)]
pub struct Inputs {
    /// Every node: what the operator reads of it ([`NodeView`]: metadata and
    /// schedulability; a node's status is never read, nor decoded).
    pub nodes: Store<NodeView>,
    /// Node states in the operator namespace.
    pub node_states: Store<SriovNetworkNodeState>,
    /// Policies in the operator namespace.
    pub policies: Store<SriovNetworkNodePolicy>,
    /// SriovNetworks (every namespace).
    pub sriov_networks: Store<SriovNetwork>,
    /// SriovIBNetworks (every namespace).
    pub ib_networks: Store<SriovIBNetwork>,
    /// OVSNetworks (every namespace).
    pub ovs_networks: Store<OVSNetwork>,
    /// Pool configs in the operator namespace.
    pub pool_configs: Store<SriovNetworkPoolConfig>,
    /// Operator configs in the operator namespace.
    pub operator_configs: Store<SriovOperatorConfig>,
    /// ConfigMaps in the operator namespace (the supported-NIC table, the device-plugin
    /// config).
    pub config_maps: Store<ConfigMap>,
}

impl std::fmt::Debug for Inputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inputs")
            .field("nodes", &self.nodes.state().len())
            .field("node_states", &self.node_states.state().len())
            .field("policies", &self.policies.state().len())
            .finish_non_exhaustive()
    }
}

/// A fingerprint of the parts of an object that matter to a consumer.
type Relevant<K> = fn(&K) -> u64;

/// Who is woken by which changes.
#[derive(Debug, Clone, Default)]
pub struct Triggers {
    /// The policy sync.
    pub render: Arc<Notify>,
    /// The drain controller.
    pub drain: Arc<Notify>,
}

fn hash_of(value: &impl serde::Serialize) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(value)
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish()
}

fn node_labels(node: &NodeView) -> u64 {
    hash_of(&node.metadata.labels)
}

/// A node's drain request and schedulability, and its labels while it asks for a drain
/// (they place it in a pool). The labels of a node that asks for nothing change no drain
/// decision: leaving them out keeps the operator's own device-plugin labelling of every
/// node from waking the drain controller once per node.
fn node_drain(node: &NodeView) -> u64 {
    let request = node
        .annotations()
        .get(sriov_core::drain::NODE_STATE_ANNOTATION);
    let asking = request.is_some_and(|r| r != sriov_core::drain::Request::Idle.as_str());
    hash_of(&(
        asking.then_some(&node.metadata.labels),
        request,
        node.spec.unschedulable,
    ))
}

fn state_annotations(state: &SriovNetworkNodeState) -> u64 {
    hash_of(&state.metadata.annotations)
}

fn discovered(state: &SriovNetworkNodeState) -> u64 {
    let status = state.status.as_ref();
    hash_of(&(
        status.map(|s| (&s.interfaces, &s.sync_status, &s.last_sync_error)),
        &state.metadata.annotations,
        &state.spec,
    ))
}

/// What is kept of a node's view: its metadata without managed fields.
fn node_identity(node: &mut NodeView) {
    node.metadata.managed_fields = None;
}

/// What is kept of a node state: everything but the VFs the daemon lists under each PF
/// (nothing the operator renders reads them, and they are most of the object).
fn without_vfs(state: &mut SriovNetworkNodeState) {
    for interface in state
        .status
        .iter_mut()
        .flat_map(|s| s.interfaces.iter_mut().flatten())
    {
        interface.vfs = None;
    }
    state.metadata.managed_fields = None;
}

fn spec_and_deletion<K: Resource>(object: &K) -> u64 {
    let meta = object.meta();
    hash_of(&(
        meta.generation,
        meta.deletion_timestamp.is_some(),
        &meta.labels,
        &meta.uid,
    ))
}

fn whole<K: serde::Serialize>(object: &K) -> u64 {
    hash_of(object)
}

/// Runs a reflector for `api` into a store, firing each trigger when an object appears,
/// goes, or changes what its fingerprint reads.
fn reflect<K>(
    api: Api<K>,
    config: watcher::Config,
    triggers: Vec<(Relevant<K>, Arc<Notify>)>,
    trim: fn(&mut K),
) -> (Store<K>, tokio::task::JoinHandle<()>)
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let task = tokio::spawn(async move {
        let mut seen: HashMap<(Option<String>, String), Vec<u64>> = HashMap::new();
        let events = reflector::reflector(writer, watcher(api, config).modify(trim))
            .backoff(super::WatchBackoff::default());
        futures::pin_mut!(events);
        while let Some(event) = events.next().await {
            let all = || vec![true; triggers.len()];
            let changed = match event {
                Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                    let key = (object.namespace(), object.name_any());
                    let prints: Vec<u64> = triggers.iter().map(|(f, _)| f(&object)).collect();
                    let before = seen.insert(key, prints.clone());
                    match before {
                        Some(before) => before.iter().zip(&prints).map(|(a, b)| a != b).collect(),
                        None => all(),
                    }
                }
                Ok(watcher::Event::Delete(object)) => {
                    seen.remove(&(object.namespace(), object.name_any()));
                    all()
                }
                Ok(watcher::Event::Init) => vec![false; triggers.len()],
                Ok(watcher::Event::InitDone) => all(),
                Err(e) => {
                    tracing::warn!(
                        kind = %K::kind(&()),
                        error = %super::with_causes(&e),
                        "watch failed; retrying"
                    );
                    vec![false; triggers.len()]
                }
            };
            for ((_, trigger), changed) in triggers.iter().zip(changed) {
                if changed {
                    trigger.notify_one();
                }
            }
        }
    });
    (reader, task)
}

/// Starts the reflectors, firing `triggers` on relevant changes. The tasks end when they
/// are aborted (or the client's connection ends for good).
pub fn start(
    client: &Client,
    namespace: &str,
    triggers: &Triggers,
) -> (Inputs, Vec<tokio::task::JoinHandle<()>>) {
    let mut tasks = Vec::new();
    let config = watcher::Config::default;
    macro_rules! render {
        ($f:expr) => {
            ($f as Relevant<_>, Arc::clone(&triggers.render))
        };
    }
    macro_rules! drain {
        ($f:expr) => {
            ($f as Relevant<_>, Arc::clone(&triggers.drain))
        };
    }
    macro_rules! store {
        ($api:expr, [$($trigger:expr),*]) => {
            store!($api, [$($trigger),*], |_| {})
        };
        ($api:expr, [$($trigger:expr),*], $trim:expr) => {{
            let (store, task) = reflect($api, config(), vec![$($trigger),*], $trim);
            tasks.push(task);
            store
        }};
    }
    let inputs = Inputs {
        nodes: store!(
            Api::all(client.clone()),
            [render!(node_labels), drain!(node_drain)],
            node_identity
        ),
        node_states: store!(
            Api::namespaced(client.clone(), namespace),
            [render!(discovered), drain!(state_annotations)],
            without_vfs
        ),
        policies: store!(
            Api::namespaced(client.clone(), namespace),
            [render!(whole::<SriovNetworkNodePolicy>)]
        ),
        sriov_networks: store!(
            Api::all(client.clone()),
            [render!(spec_and_deletion::<SriovNetwork>)]
        ),
        ib_networks: store!(
            Api::all(client.clone()),
            [render!(spec_and_deletion::<SriovIBNetwork>)]
        ),
        ovs_networks: store!(
            Api::all(client.clone()),
            [render!(spec_and_deletion::<OVSNetwork>)]
        ),
        pool_configs: store!(
            Api::namespaced(client.clone(), namespace),
            [
                render!(whole::<SriovNetworkPoolConfig>),
                drain!(whole::<SriovNetworkPoolConfig>)
            ]
        ),
        operator_configs: store!(
            Api::namespaced(client.clone(), namespace),
            [render!(whole::<SriovOperatorConfig>)]
        ),
        config_maps: store!(
            Api::namespaced(client.clone(), namespace),
            [render!(whole::<ConfigMap>)]
        ),
    };
    (inputs, tasks)
}

impl Inputs {
    /// Waits until every store holds its first full list.
    pub async fn ready(&self) -> bool {
        self.nodes.wait_until_ready().await.is_ok()
            && self.node_states.wait_until_ready().await.is_ok()
            && self.policies.wait_until_ready().await.is_ok()
            && self.sriov_networks.wait_until_ready().await.is_ok()
            && self.ib_networks.wait_until_ready().await.is_ok()
            && self.ovs_networks.wait_until_ready().await.is_ok()
            && self.pool_configs.wait_until_ready().await.is_ok()
            && self.operator_configs.wait_until_ready().await.is_ok()
            && self.config_maps.wait_until_ready().await.is_ok()
    }
}
