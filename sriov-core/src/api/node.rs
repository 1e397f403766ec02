//! [`NodeView`]: a core `Node` as the stack reads it.

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

/// A core `Node` with only what the stack reads from one: its metadata (name, labels, the
/// drain annotations), whether it is cordoned, and its provider ID (the webhook's
/// virtual-platform rules).
///
/// Reading a Node's JSON into it skips everything else (the status with its images,
/// conditions and capacity, the rest of the spec), so a watch of nodes through it keeps a
/// few hundred bytes a node where a full [`Node`] takes 1,496 bytes inline before any of
/// its status. It is a Kubernetes resource of its own for `v1` `nodes`
/// (`kube::Api::<NodeView>::all(client)` lists and watches nodes). It is for reading: it
/// serializes as a `v1` `Node` with only these fields, so replacing a node with one would
/// drop the rest of it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct NodeView {
    /// The node's metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// What is read of its spec.
    #[serde(default)]
    pub spec: NodeViewSpec,
}

/// What [`NodeView`] keeps of a node's spec.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeViewSpec {
    /// `spec.unschedulable`: the node is cordoned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unschedulable: Option<bool>,
    /// `spec.providerID`.
    #[serde(
        default,
        rename = "providerID",
        skip_serializing_if = "Option::is_none"
    )]
    pub provider_id: Option<String>,
}

impl NodeViewSpec {
    fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

impl Serialize for NodeView {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct AsNode<'a> {
            api_version: &'static str,
            kind: &'static str,
            metadata: &'a ObjectMeta,
            #[serde(skip_serializing_if = "NodeViewSpec::is_empty")]
            spec: &'a NodeViewSpec,
        }
        AsNode {
            api_version: <Self as k8s_openapi::Resource>::API_VERSION,
            kind: <Self as k8s_openapi::Resource>::KIND,
            metadata: &self.metadata,
            spec: &self.spec,
        }
        .serialize(serializer)
    }
}

impl NodeView {
    /// Whether the node is cordoned (`spec.unschedulable: true`).
    pub fn unschedulable(&self) -> bool {
        self.spec.unschedulable == Some(true)
    }
}

impl From<&Node> for NodeView {
    fn from(node: &Node) -> Self {
        let spec = node.spec.as_ref();
        Self {
            metadata: node.metadata.clone(),
            spec: NodeViewSpec {
                unschedulable: spec.and_then(|s| s.unschedulable),
                provider_id: spec.and_then(|s| s.provider_id.clone()),
            },
        }
    }
}

impl From<Node> for NodeView {
    fn from(node: Node) -> Self {
        let spec = node.spec.unwrap_or_default();
        Self {
            metadata: node.metadata,
            spec: NodeViewSpec {
                unschedulable: spec.unschedulable,
                provider_id: spec.provider_id,
            },
        }
    }
}

impl k8s_openapi::Resource for NodeView {
    const API_VERSION: &'static str = <Node as k8s_openapi::Resource>::API_VERSION;
    const GROUP: &'static str = <Node as k8s_openapi::Resource>::GROUP;
    const KIND: &'static str = <Node as k8s_openapi::Resource>::KIND;
    const VERSION: &'static str = <Node as k8s_openapi::Resource>::VERSION;
    const URL_PATH_SEGMENT: &'static str = <Node as k8s_openapi::Resource>::URL_PATH_SEGMENT;
    type Scope = <Node as k8s_openapi::Resource>::Scope;
}

impl k8s_openapi::Metadata for NodeView {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_reads_into_its_view_keeping_only_what_the_stack_reads() {
        let json = serde_json::json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "worker-0", "labels": {"node-role.kubernetes.io/worker": ""},
                "annotations": {"sriovnetwork.openshift.io/state": "Drain_Required"}},
            "spec": {"unschedulable": true, "providerID": "openstack:///x",
                "taints": [{"key": "k", "effect": "NoSchedule"}]},
            "status": {"images": [{"names": ["registry/image:tag"], "sizeBytes": 1}],
                "conditions": [{"type": "Ready", "status": "True"}]},
        });
        let view: NodeView = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(view.metadata.name.as_deref(), Some("worker-0"));
        assert!(view.unschedulable());
        assert_eq!(view.spec.provider_id.as_deref(), Some("openstack:///x"));
        let node: Node = serde_json::from_value(json).unwrap();
        assert_eq!(NodeView::from(&node), view);
        assert_eq!(NodeView::from(node), view);
        // A node without a spec is schedulable.
        let bare: NodeView = serde_json::from_value(serde_json::json!({"metadata": {}})).unwrap();
        assert!(!bare.unschedulable());
        assert!(std::mem::size_of::<NodeView>() < std::mem::size_of::<Node>() / 2);
        // Written out, it is a Node again (with only these fields).
        let written = serde_json::to_value(&view).unwrap();
        assert_eq!(written["apiVersion"], "v1");
        assert_eq!(written["kind"], "Node");
        assert_eq!(written["spec"]["providerID"], "openstack:///x");
        assert!(written.get("status").is_none());
        assert_eq!(serde_json::from_value::<NodeView>(written).unwrap(), view);
    }

    #[test]
    fn it_is_the_nodes_resource() {
        use kube::Resource;
        assert_eq!(NodeView::kind(&()), "Node");
        assert_eq!(NodeView::api_version(&()), "v1");
        assert_eq!(NodeView::plural(&()), "nodes");
        assert_eq!(NodeView::url_path(&(), None), "/api/v1/nodes");
    }
}
