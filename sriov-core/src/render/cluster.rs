//! Everything the operator writes for a cluster, from a snapshot of what it reads:
//! [`desired`] is the controller's whole decision as one pure function.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;

use super::{device_plugin, net_attach, node_state};
use crate::admission;
use crate::api::{
    KEEP_STATE_UNTIL_ANNOTATION, NetworkAttachmentDefinition, NodeView, OVSNetwork, SriovIBNetwork,
    SriovNetwork, SriovNetworkNodePolicy, SriovNetworkNodeState, SriovNetworkNodeStateSpec,
    SriovNetworkPoolConfig, SriovOperatorConfig,
};
use crate::error::{Error, Result};
use crate::labels::{self, Labels};
use crate::manifest::Object;
use crate::nic::SupportedNics;
use crate::policy::PolicySet;
use crate::pool_config;

/// Nodes the operator manages when the operator config sets no `configDaemonNodeSelector`.
pub fn default_node_selector() -> Labels {
    Labels::from([
        ("node-role.kubernetes.io/worker".to_owned(), String::new()),
        ("kubernetes.io/os".to_owned(), "linux".to_owned()),
    ])
}

/// A snapshot of everything the operator reads.
#[derive(Debug, Clone, Copy)]
pub struct ClusterInputs<'a> {
    /// The operator namespace; only policies, node states and pool configs there count.
    pub namespace: &'a str,
    /// Prefix of device-plugin resource names (`openshift.io`).
    pub resource_prefix: &'a str,
    /// Every node.
    pub nodes: &'a [Arc<NodeView>],
    /// Existing node states (with the daemon's status).
    pub node_states: &'a [Arc<SriovNetworkNodeState>],
    /// Every policy.
    pub policies: &'a [Arc<SriovNetworkNodePolicy>],
    /// Every SriovNetwork.
    pub sriov_networks: &'a [Arc<SriovNetwork>],
    /// Every SriovIBNetwork.
    pub ib_networks: &'a [Arc<SriovIBNetwork>],
    /// Every OVSNetwork.
    pub ovs_networks: &'a [Arc<OVSNetwork>],
    /// Every pool config.
    pub pool_configs: &'a [Arc<SriovNetworkPoolConfig>],
    /// The `default` operator config, if any.
    pub operator_config: Option<&'a SriovOperatorConfig>,
    /// The supported-NIC table.
    pub nics: &'a SupportedNics,
    /// Copy each existing node state's status into the rendered one (what `sriovctl
    /// render` shows); the operator, which writes only spec and owner, turns it off and
    /// saves a copy of every status per sync.
    pub keep_status: bool,
}

/// What the operator would write.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// One node state per managed node, sorted by name; status kept from the input (unless
    /// [`ClusterInputs::keep_status`] is off).
    pub node_states: Vec<SriovNetworkNodeState>,
    /// The device plugin's ConfigMaps: `device-plugin-config` holding every node's entry
    /// while they fit in one, else shards of it (`device_plugin::shard_entries`). Only
    /// shards with entries are here.
    pub device_plugin_configs: Vec<ConfigMap>,
    /// Shard ConfigMaps not in use, to delete if they exist.
    pub device_plugin_unused: Vec<String>,
    /// Value of the `sriovnetwork.openshift.io/device-plugin` label per managed node.
    pub device_plugin_labels: BTreeMap<String, &'static str>,
    /// One NetworkAttachmentDefinition per renderable network, sorted by namespace and name.
    pub network_attachments: Vec<NetworkAttachmentDefinition>,
    /// Objects that could not be (fully) rendered, each error naming object and field.
    pub problems: Vec<Error>,
}

fn in_namespace<K: Resource>(object: &K, namespace: &str) -> bool {
    object.meta().namespace.as_deref() == Some(namespace)
}

/// Every object of a cluster description, by kind: what `sriovctl render` reads from files
/// and what a test assembles from builders.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Nodes.
    pub nodes: Vec<Arc<NodeView>>,
    /// Node states.
    pub node_states: Vec<Arc<SriovNetworkNodeState>>,
    /// Policies.
    pub policies: Vec<Arc<SriovNetworkNodePolicy>>,
    /// SriovNetworks.
    pub sriov_networks: Vec<Arc<SriovNetwork>>,
    /// SriovIBNetworks.
    pub ib_networks: Vec<Arc<SriovIBNetwork>>,
    /// OVSNetworks.
    pub ovs_networks: Vec<Arc<OVSNetwork>>,
    /// Pool configs.
    pub pool_configs: Vec<Arc<SriovNetworkPoolConfig>>,
    /// Operator configs (only `default` in the operator namespace is used).
    pub operator_configs: Vec<Arc<SriovOperatorConfig>>,
    /// ConfigMaps (only `supported-nic-ids` in the operator namespace is used).
    pub config_maps: Vec<Arc<ConfigMap>>,
}

impl Snapshot {
    /// Adds an object; kinds the operator does not read (Pods, NetworkAttachmentDefinitions,
    /// [`Object::Other`]) are dropped.
    pub fn add(&mut self, object: Object) {
        match object {
            Object::Node(o) => self.nodes.push(Arc::new(NodeView::from(*o))),
            Object::SriovNetworkNodeState(o) => self.node_states.push(Arc::from(o)),
            Object::SriovNetworkNodePolicy(o) => self.policies.push(Arc::from(o)),
            Object::SriovNetwork(o) => self.sriov_networks.push(Arc::from(o)),
            Object::SriovIBNetwork(o) => self.ib_networks.push(Arc::from(o)),
            Object::OVSNetwork(o) => self.ovs_networks.push(Arc::from(o)),
            Object::SriovNetworkPoolConfig(o) => self.pool_configs.push(Arc::from(o)),
            Object::SriovOperatorConfig(o) => self.operator_configs.push(Arc::from(o)),
            Object::ConfigMap(o) => self.config_maps.push(Arc::from(o)),
            Object::Pod(_) | Object::NetworkAttachmentDefinition(_) | Object::Other(_) => {}
        }
    }

    /// Applies what the API server (CRD defaults) and the mutating webhook would have done
    /// before storing the objects, so files render as the cluster would.
    pub fn apply_admission_defaults(&mut self) {
        for policy in &mut self.policies {
            let policy = Arc::make_mut(policy);
            admission::crd_defaults::policy(policy);
            admission::apply_policy_defaults(policy);
        }
        for network in &mut self.sriov_networks {
            admission::crd_defaults::sriov_network(Arc::make_mut(network));
        }
    }

    /// The supported-NIC table: the snapshot's `supported-nic-ids` ConfigMap in
    /// `namespace`, or the built-in table.
    pub fn supported_nics(&self, namespace: &str) -> Result<SupportedNics> {
        match self.config_maps.iter().find(|c| {
            c.metadata.name.as_deref() == Some(crate::nic::CONFIG_MAP_NAME)
                && c.metadata.namespace.as_deref() == Some(namespace)
        }) {
            Some(config_map) => SupportedNics::from_config_map(config_map),
            None => Ok(SupportedNics::default()),
        }
    }

    /// The `default` operator config in `namespace`.
    pub fn operator_config(&self, namespace: &str) -> Option<&SriovOperatorConfig> {
        self.operator_configs.iter().map(|c| &**c).find(|c| {
            c.metadata.name.as_deref() == Some(crate::api::OPERATOR_CONFIG_NAME)
                && c.metadata.namespace.as_deref() == Some(namespace)
        })
    }

    /// The snapshot as rendering inputs.
    pub fn inputs<'a>(
        &'a self,
        namespace: &'a str,
        resource_prefix: &'a str,
        nics: &'a SupportedNics,
    ) -> ClusterInputs<'a> {
        ClusterInputs {
            namespace,
            resource_prefix,
            nodes: &self.nodes,
            node_states: &self.node_states,
            policies: &self.policies,
            sriov_networks: &self.sriov_networks,
            ib_networks: &self.ib_networks,
            ovs_networks: &self.ovs_networks,
            pool_configs: &self.pool_configs,
            operator_config: self.operator_config(namespace),
            nics,
            keep_status: true,
        }
    }
}

impl Desired {
    /// Everything as one `v1` `List`: node states, the device-plugin ConfigMap, then the
    /// NetworkAttachmentDefinitions.
    pub fn to_list(&self) -> Result<serde_json::Value> {
        let serialize = |e: serde_json::Error| Error::Serialize {
            what: "rendered objects".into(),
            message: e.to_string(),
        };
        let mut items = Vec::new();
        for state in &self.node_states {
            items.push(serde_json::to_value(state).map_err(serialize)?);
        }
        for config in &self.device_plugin_configs {
            items.push(serde_json::to_value(config).map_err(serialize)?);
        }
        for nad in &self.network_attachments {
            items.push(serde_json::to_value(nad).map_err(serialize)?);
        }
        Ok(serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}))
    }
}

/// Computes everything the operator writes for the snapshot.
pub fn desired(inputs: &ClusterInputs<'_>) -> Desired {
    let mut problems = Vec::new();
    let policies = PolicySet::resolve(
        inputs
            .policies
            .iter()
            .map(|p| &**p)
            .filter(|p| in_namespace(*p, inputs.namespace)),
    );
    problems.extend(policies.rejected().iter().cloned());

    let config = inputs.operator_config.map(|c| &c.spec);
    let node_selector = config
        .and_then(|c| c.config_daemon_node_selector.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(default_node_selector);
    let manage_bridges =
        crate::api::FeatureGates::new(config.and_then(|c| c.feature_gates.as_ref()))
            .enabled(crate::api::gates::MANAGE_SOFTWARE_BRIDGES);
    let owner = inputs.operator_config.and_then(controller_reference);

    let existing: BTreeMap<&str, &SriovNetworkNodeState> = inputs
        .node_states
        .iter()
        .map(|s| &**s)
        .filter(|s| in_namespace(*s, inputs.namespace))
        .filter_map(|s| Some((s.metadata.name.as_deref()?, s)))
        .collect();
    let empty = Labels::new();
    let mut managed: Vec<(&str, &NodeView)> = inputs
        .nodes
        .iter()
        .filter(|n| {
            labels::matches_exact(&node_selector, n.metadata.labels.as_ref().unwrap_or(&empty))
        })
        .filter_map(|n| Some((n.metadata.name.as_deref()?, &**n)))
        .collect();
    managed.sort_by_key(|(name, _)| *name);

    let mut node_states = Vec::with_capacity(managed.len());
    let mut dp_data = BTreeMap::new();
    let mut dp_labels = BTreeMap::new();
    for (name, node) in managed {
        let node_labels = node.metadata.labels.as_ref().unwrap_or(&empty);
        let selected = policies.for_node(node_labels);
        let state = existing.get(name).copied();
        let interfaces = state
            .and_then(|s| s.status.as_ref())
            .and_then(|s| s.interfaces.as_deref());
        let rdma_mode = match pool_config::node_pool(node, inputs.pool_configs) {
            Ok(pool) => pool.and_then(|p| p.spec.rdma_mode),
            Err(e) => {
                problems.push(e);
                None
            }
        };
        let spec = match (state, interfaces) {
            // The daemon has not reported yet: leave the spec as it is.
            (Some(state), None) | (Some(state), Some([])) => state.spec.clone(),
            _ => {
                let rendered = node_state::render(
                    node_state::NodeInputs {
                        labels: node_labels,
                        interfaces: interfaces.unwrap_or_default(),
                        rdma_mode,
                        manage_bridges,
                    },
                    &selected,
                );
                problems.extend(rendered.errors);
                rendered.spec
            }
        };
        node_states.push(node_state_object(
            name,
            inputs.namespace,
            state,
            spec,
            owner.clone(),
            inputs.keep_status,
        ));

        let (list, errors) = device_plugin::render(interfaces, &selected, inputs.nics);
        problems.extend(errors);
        dp_labels.insert(name.to_owned(), list.node_label_value());
        dp_data.insert(name.to_owned(), list.to_json());
    }

    let mut device_plugin_configs = Vec::new();
    let mut device_plugin_unused = Vec::new();
    for (index, data) in device_plugin::shard_entries(dp_data)
        .into_iter()
        .enumerate()
    {
        let name = device_plugin::shard_name(index);
        // Shard 0 is upstream's ConfigMap: always written, empty or not.
        if data.is_empty() && index > 0 {
            device_plugin_unused.push(name);
            continue;
        }
        device_plugin_configs.push(ConfigMap {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(inputs.namespace.to_owned()),
                owner_references: owner.clone().map(|o| vec![o]),
                ..Default::default()
            },
            data: Some(data),
            ..Default::default()
        });
    }

    let mut network_attachments = Vec::new();
    let mut render_network = |result: Result<NetworkAttachmentDefinition>| match result {
        Ok(nad) => network_attachments.push(nad),
        Err(e) => problems.push(e),
    };
    for net in inputs.sriov_networks.iter().map(|n| &**n) {
        render_network(
            check_target(net, net.spec.network_namespace.as_deref(), inputs.namespace)
                .and_then(|()| net_attach::sriov_network(net, inputs.resource_prefix)),
        );
    }
    for net in inputs.ib_networks.iter().map(|n| &**n) {
        render_network(
            check_target(net, net.spec.network_namespace.as_deref(), inputs.namespace)
                .and_then(|()| net_attach::sriov_ib_network(net, inputs.resource_prefix)),
        );
    }
    for net in inputs.ovs_networks.iter().map(|n| &**n) {
        render_network(
            check_target(net, net.spec.network_namespace.as_deref(), inputs.namespace)
                .and_then(|()| net_attach::ovs_network(net, inputs.resource_prefix)),
        );
    }
    network_attachments.sort_by(|a, b| {
        (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name))
    });

    Desired {
        node_states,
        device_plugin_configs,
        device_plugin_unused,
        device_plugin_labels: dp_labels,
        network_attachments,
        problems,
    }
}

/// A network outside the operator namespace may not pick another target namespace.
fn check_target<K: Resource<DynamicType = ()>>(
    network: &K,
    target: Option<&str>,
    operator_namespace: &str,
) -> Result<()> {
    let namespace = network.meta().namespace.as_deref().unwrap_or_default();
    match crate::validate::network_namespace_violation(namespace, target, operator_namespace) {
        Some(reason) => Err(Error::Network {
            kind: K::kind(&()).into_owned(),
            network: crate::api::meta_name(network.meta()),
            field: "spec.networkNamespace".into(),
            reason,
        }),
        None => Ok(()),
    }
}

pub(crate) fn controller_reference(config: &SriovOperatorConfig) -> Option<OwnerReference> {
    Some(OwnerReference {
        api_version: crate::api::API_VERSION.to_owned(),
        kind: "SriovOperatorConfig".to_owned(),
        name: config.metadata.name.clone()?,
        uid: config.metadata.uid.clone()?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

fn node_state_object(
    name: &str,
    namespace: &str,
    existing: Option<&SriovNetworkNodeState>,
    spec: SriovNetworkNodeStateSpec,
    owner: Option<OwnerReference>,
    keep_status: bool,
) -> SriovNetworkNodeState {
    let mut state = match existing {
        Some(existing) if keep_status => existing.clone(),
        Some(existing) => SriovNetworkNodeState {
            metadata: existing.metadata.clone(),
            spec: SriovNetworkNodeStateSpec::default(),
            status: None,
        },
        None => {
            let mut state = SriovNetworkNodeState::new(name, SriovNetworkNodeStateSpec::default());
            state.metadata.namespace = Some(namespace.to_owned());
            state
        }
    };
    state.spec = spec;
    // The node is managed again: a pending stale-state deletion is cancelled.
    if let Some(annotations) = &mut state.metadata.annotations {
        annotations.remove(KEEP_STATE_UNTIL_ANNOTATION);
        if annotations.is_empty() {
            state.metadata.annotations = None;
        }
    }
    if owner.is_some() {
        state.metadata.owner_references = owner.map(|o| vec![o]);
    }
    state
}
