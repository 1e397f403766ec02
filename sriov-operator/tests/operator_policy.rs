//! The policy sync against the sandbox (in process): node states, the device-plugin
//! ConfigMap and node labels written from policies and discovered hardware; nothing
//! written when nothing changed; stale node states kept, then deleted.
// Test set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Node};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, ResourceExt};
use kube_sandbox::Sandbox;
use serde_json::json;
use sriov_core::api::{
    KEEP_STATE_UNTIL_ANNOTATION, NodeView, SriovNetworkNodeState, SriovOperatorConfig,
};
use sriov_core::testing::{InterfaceBuilder, NAMESPACE, PolicyBuilder, worker};
use sriov_operator::operator::Settings;
use sriov_operator::operator::inputs::{self, Inputs};
use sriov_operator::operator::node_policy::{self, SyncReport};

const LABEL: &str = "sriovnetwork.openshift.io/device-plugin";
const CAPABLE: &str = "feature.node.kubernetes.io/network-sriov.capable";

struct Cluster {
    sandbox: Sandbox,
    client: Client,
    inputs: Inputs,
    settings: Settings,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A sandbox with the CRDs, the operator namespace, the default operator config, two
/// workers and an Intel policy; the stores started and ready.
async fn cluster(settings: Settings) -> Cluster {
    let sandbox = Sandbox::default();
    for crd in sriov_core::crd::operator_crds() {
        sandbox
            .create(&serde_json::to_value(&crd).unwrap())
            .unwrap();
    }
    sandbox
        .create(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}))
        .unwrap();
    let client = Client::new(sandbox.client_service(), NAMESPACE);
    let configs: Api<SriovOperatorConfig> = Api::namespaced(client.clone(), NAMESPACE);
    configs
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"apiVersion": "sriovnetwork.openshift.io/v1",
                "kind": "SriovOperatorConfig", "metadata": {"name": "default"}, "spec": {}}))
            .unwrap(),
        )
        .await
        .unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    for name in ["worker-0", "worker-1"] {
        let mut node = worker(name);
        if name == "worker-0" {
            node.labels_mut().insert(CAPABLE.into(), "true".into());
        }
        nodes.create(&PostParams::default(), &node).await.unwrap();
    }
    // The policy selects worker-0 only.
    let policies = Api::namespaced(client.clone(), NAMESPACE);
    let policy = PolicyBuilder::new("intel")
        .vendor("8086")
        .num_vfs(4)
        .resource("intelnics")
        .node_label(CAPABLE, "true")
        .build();
    policies
        .create(&PostParams::default(), &policy)
        .await
        .unwrap();
    let (inputs, tasks) = inputs::start(&client, NAMESPACE, &inputs::Triggers::default());
    assert!(inputs.ready().await);
    Cluster {
        sandbox,
        client,
        inputs,
        settings,
        tasks,
    }
}

impl Cluster {
    async fn sync(&self, now: Timestamp) -> SyncReport {
        node_policy::sync(&self.client, &self.settings, &self.inputs, now)
            .await
            .unwrap()
    }

    /// Waits until the node-state store shows `check` true for `name` (or its absence).
    async fn state_until(
        &self,
        name: &str,
        check: impl Fn(Option<&SriovNetworkNodeState>) -> bool,
    ) {
        for _ in 0..250 {
            let state = self
                .inputs
                .node_states
                .get(&ObjectRef::new(name).within(NAMESPACE));
            if check(state.as_deref()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the node-state store never showed the expected {name}");
    }

    async fn node_until(&self, name: &str, check: impl Fn(Option<&NodeView>) -> bool) {
        for _ in 0..250 {
            if check(self.inputs.nodes.get(&ObjectRef::new(name)).as_deref()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the node store never showed the expected {name}");
    }

    async fn config_map_until(&self, check: impl Fn(Option<&ConfigMap>) -> bool) {
        for _ in 0..250 {
            let map = self
                .inputs
                .config_maps
                .get(&ObjectRef::new("device-plugin-config").within(NAMESPACE));
            if check(map.as_deref()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the ConfigMap store never showed the expected device-plugin-config");
    }

    /// What the config daemon does: report the node's PFs in the status.
    async fn discover(&self, name: &str) {
        let pf = InterfaceBuilder::new("0000:81:00.0", "ens801f0")
            .intel_e810()
            .build();
        let states: Api<SriovNetworkNodeState> = Api::namespaced(self.client.clone(), NAMESPACE);
        states
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"interfaces": [pf], "syncStatus": "Succeeded"}})),
            )
            .await
            .unwrap();
    }
}

fn now() -> Timestamp {
    "2026-12-01T10:00:00Z".parse().unwrap()
}

fn label_of(node: Option<&NodeView>) -> Option<String> {
    node.and_then(|n| n.labels().get(LABEL).cloned())
}

#[tokio::test]
async fn policies_and_discovered_pfs_become_node_states_config_and_labels_then_nothing_more() {
    let c = cluster(Settings::default()).await;

    // Before any daemon reports: a node state per worker (owned by the operator config),
    // empty specs; the device plugin is enabled where a policy selects the node (its
    // resource is configured by vendor already), disabled elsewhere.
    let first = c.sync(now()).await;
    assert_eq!(first.node_states_written, 2, "{first:?}");
    assert_eq!(first.device_plugin_configs_written, 1);
    assert_eq!(first.labels_written, 2);
    c.state_until("worker-0", |s| s.is_some()).await;
    c.state_until("worker-1", |s| s.is_some()).await;
    c.node_until("worker-1", |n| label_of(n).as_deref() == Some("Disabled"))
        .await;
    c.node_until("worker-0", |n| label_of(n).as_deref() == Some("Enabled"))
        .await;
    c.config_map_until(|m| m.is_some()).await;
    let state = c
        .inputs
        .node_states
        .get(&ObjectRef::new("worker-0").within(NAMESPACE))
        .unwrap();
    let owner = &state.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("SriovOperatorConfig", "default")
    );

    // Nothing changed: no request at all.
    let before = c.sandbox.write_requests();
    let idle = c.sync(now()).await;
    assert_eq!(idle.writes(), 0, "{idle:?}");
    assert_eq!(c.sandbox.write_requests(), before);

    // worker-0's daemon reports an E810: its spec is rendered (the device plugin's
    // resource selects by vendor, so its configuration stays as it was).
    c.discover("worker-0").await;
    c.state_until("worker-0", |s| {
        s.and_then(|s| s.status.as_ref())
            .and_then(|s| s.interfaces.as_ref())
            .is_some()
    })
    .await;
    let second = c.sync(now()).await;
    assert_eq!(
        (
            second.node_states_written,
            second.device_plugin_configs_written,
            second.labels_written
        ),
        (1, 0, 0),
        "{second:?}"
    );
    c.state_until("worker-0", |s| {
        s.is_some_and(|s| {
            s.spec.interfaces.as_ref().is_some_and(|i| {
                i.len() == 1 && i[0].num_vfs == Some(4) && i[0].pci_address == "0000:81:00.0"
            })
        })
    })
    .await;
    c.node_until("worker-0", |n| label_of(n).as_deref() == Some("Enabled"))
        .await;
    c.config_map_until(|m| {
        m.and_then(|m| m.data.as_ref())
            .and_then(|d| d.get("worker-0"))
            .is_some_and(|json| json.contains("\"resourceName\":\"intelnics\""))
    })
    .await;
    // The daemon's status survives the operator's apply of the spec.
    let stored: Api<SriovNetworkNodeState> = Api::namespaced(c.client.clone(), NAMESPACE);
    let worker0 = stored.get("worker-0").await.unwrap();
    assert_eq!(
        worker0.status.unwrap().sync_status.as_deref(),
        Some("Succeeded")
    );

    // The daemon's Succeeded report shows on the policy (one node matched, one synced).
    let policy_synced = || {
        c.inputs.policies.state().iter().any(|p| {
            p.status
                .as_ref()
                .is_some_and(|s| s.matched_nodes == Some(1) && s.synced_nodes == Some(1))
        })
    };
    for _ in 0..250 {
        if policy_synced() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(policy_synced(), "the policy reports 1 of 1 node synced");

    let before = c.sandbox.write_requests();
    let idle = c.sync(now()).await;
    assert_eq!(idle.writes(), 0, "{idle:?}");
    assert_eq!(
        c.sandbox.write_requests(),
        before,
        "a resync with no change writes nothing"
    );
}

#[tokio::test]
async fn a_node_that_leaves_keeps_its_state_for_the_delay_then_loses_it() {
    let c = cluster(Settings::default()).await;
    c.sync(now()).await;
    c.state_until("worker-1", |s| s.is_some()).await;
    c.node_until("worker-1", |n| label_of(n).is_some()).await;

    // worker-1 stops being a worker: its label goes, its state is marked for 30 minutes.
    let nodes: Api<Node> = Api::all(c.client.clone());
    nodes
        .patch(
            "worker-1",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"labels": {"node-role.kubernetes.io/worker": null}}}),
            ),
        )
        .await
        .unwrap();
    c.node_until("worker-1", |n| {
        n.is_some_and(|n| !n.labels().contains_key("node-role.kubernetes.io/worker"))
    })
    .await;
    let marked = c.sync(now()).await;
    assert_eq!(
        (marked.stale_marked, marked.labels_written),
        (1, 1),
        "{marked:?}"
    );
    c.state_until("worker-1", |s| {
        s.and_then(|s| s.annotations().get(KEEP_STATE_UNTIL_ANNOTATION).cloned())
            .as_deref()
            == Some("2026-12-01T10:30:00Z")
    })
    .await;
    c.node_until("worker-1", |n| label_of(n).is_none()).await;
    c.config_map_until(|m| {
        m.and_then(|m| m.data.as_ref())
            .is_some_and(|d| !d.contains_key("worker-1"))
    })
    .await;

    // Twenty minutes later: still kept, nothing written.
    let later = now() + SignedDuration::from_mins(20);
    let before = c.sandbox.write_requests();
    let idle = c.sync(later).await;
    assert_eq!(idle.writes(), 0, "{idle:?}");
    assert_eq!(c.sandbox.write_requests(), before);

    // It comes back before the deadline: the mark is withdrawn.
    nodes
        .patch(
            "worker-1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"node-role.kubernetes.io/worker": ""}}})),
        )
        .await
        .unwrap();
    c.node_until("worker-1", |n| {
        n.is_some_and(|n| n.labels().contains_key("node-role.kubernetes.io/worker"))
    })
    .await;
    let back = c.sync(later).await;
    assert_eq!(back.stale_withdrawn, 1, "{back:?}");
    c.state_until("worker-1", |s| {
        s.is_some_and(|s| !s.annotations().contains_key(KEEP_STATE_UNTIL_ANNOTATION))
    })
    .await;

    // Deleted for good: marked, and deleted once the delay has passed.
    nodes
        .delete("worker-1", &DeleteParams::default())
        .await
        .unwrap();
    c.node_until("worker-1", |n| n.is_none()).await;
    let marked = c.sync(later).await;
    assert_eq!(marked.stale_marked, 1, "{marked:?}");
    assert_eq!(
        marked.labels_written, 0,
        "a missing node's label is not written"
    );
    c.state_until("worker-1", |s| {
        s.is_some_and(|s| s.annotations().contains_key(KEEP_STATE_UNTIL_ANNOTATION))
    })
    .await;
    let expired = c.sync(later + SignedDuration::from_mins(31)).await;
    assert_eq!(expired.stale_deleted, 1, "{expired:?}");
    c.state_until("worker-1", |s| s.is_none()).await;
}

#[tokio::test]
async fn a_zero_delay_deletes_a_stale_state_at_once_and_custom_delays_count() {
    let settings = Settings::from_env(|name| {
        (name == "STALE_NODE_STATE_CLEANUP_DELAY_MINUTES").then(|| "0".to_owned())
    })
    .unwrap();
    let c = cluster(settings).await;
    c.sync(now()).await;
    c.state_until("worker-1", |s| s.is_some()).await;
    let nodes: Api<Node> = Api::all(c.client.clone());
    nodes
        .delete("worker-1", &DeleteParams::default())
        .await
        .unwrap();
    c.node_until("worker-1", |n| n.is_none()).await;
    let report = c.sync(now()).await;
    assert_eq!(
        (report.stale_marked, report.stale_deleted),
        (0, 1),
        "{report:?}"
    );
    c.state_until("worker-1", |s| s.is_none()).await;

    let five = Settings::from_env(|name| {
        (name == "STALE_NODE_STATE_CLEANUP_DELAY_MINUTES").then(|| "5".to_owned())
    })
    .unwrap();
    let c = cluster(five).await;
    c.sync(now()).await;
    c.state_until("worker-0", |s| s.is_some()).await;
    let nodes: Api<Node> = Api::all(c.client.clone());
    nodes
        .delete("worker-0", &DeleteParams::default())
        .await
        .unwrap();
    c.node_until("worker-0", |n| n.is_none()).await;
    c.sync(now()).await;
    c.state_until("worker-0", |s| {
        s.and_then(|s| s.annotations().get(KEEP_STATE_UNTIL_ANNOTATION).cloned())
            .as_deref()
            == Some("2026-12-01T10:05:00Z")
    })
    .await;
}

#[tokio::test]
async fn nothing_is_written_until_the_default_operator_config_exists() {
    let c = cluster(Settings::default()).await;
    let configs: Api<SriovOperatorConfig> = Api::namespaced(c.client.clone(), NAMESPACE);
    configs
        .delete("default", &DeleteParams::default())
        .await
        .unwrap();
    for _ in 0..250 {
        if c.inputs.operator_configs.state().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = c.sandbox.write_requests();
    let report = c.sync(now()).await;
    assert!(report.waiting_for_config);
    assert_eq!(c.sandbox.write_requests(), before);
}
