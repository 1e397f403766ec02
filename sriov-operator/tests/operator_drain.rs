//! The drain controller against the sandbox (in process, with its kubelet, garbage
//! collector and disruption controller stand-ins): the hand-shake for one node (external
//! drainer, partial and full drains, a single-node reboot without eviction), serial drains
//! by default, parallel ones within a pool's `maxUnavailable` (nil, a number, two pools, an
//! empty selector), a PodDisruptionBudget that blocks a drain reported and recovered, and
//! the node never left cordoned.
//!
//! The config daemon's side is played by the test: it writes the Node's request and the
//! node state's `desired-state`, as the daemon does.
// Test set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use kube_sandbox::{Config, Sandbox};
use serde_json::{Value, json};
use sriov_core::api::{CURRENT_STATE_ANNOTATION, SriovNetworkNodeState};
use sriov_core::drain::NODE_STATE_ANNOTATION;
use sriov_core::testing::NAMESPACE;
use sriov_operator::operator::Settings;
use sriov_operator::operator::drain::{CORDONED_ANNOTATION, DRAIN_BLOCKED, Drainer, PassReport};
use sriov_operator::operator::inputs::{self, Inputs, Triggers};

struct Cluster {
    sandbox: Sandbox,
    client: Client,
    inputs: Inputs,
    drainer: Drainer,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn node_object(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}})
}

async fn cluster(nodes: &[(&str, Value)], settings: Settings) -> Cluster {
    let sandbox = Sandbox::new(Config {
        controllers: true,
        ..Config::default()
    });
    for crd in sriov_core::crd::operator_crds() {
        sandbox
            .create(&serde_json::to_value(&crd).unwrap())
            .unwrap();
    }
    for ns in [NAMESPACE, "apps"] {
        sandbox
            .create(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
            .unwrap();
    }
    for (name, labels) in nodes {
        sandbox.create(&node_object(name, labels.clone())).unwrap();
        sandbox
            .create(&json!({"apiVersion": "sriovnetwork.openshift.io/v1",
                "kind": "SriovNetworkNodeState",
                "metadata": {"name": name, "namespace": NAMESPACE}, "spec": {}}))
            .unwrap();
    }
    let client = Client::new(sandbox.client_service(), NAMESPACE);
    let (inputs, tasks) = inputs::start(&client, NAMESPACE, &Triggers::default());
    assert!(inputs.ready().await);
    let drainer = Drainer::new(client.clone(), Arc::new(settings), inputs.clone());
    Cluster {
        sandbox,
        client,
        inputs,
        drainer,
        tasks,
    }
}

fn quick() -> Settings {
    Settings {
        drain_timeout: Duration::ZERO,
        ..Settings::default()
    }
}

impl Cluster {
    fn nodes(&self) -> Api<Node> {
        Api::all(self.client.clone())
    }

    fn states(&self) -> Api<SriovNetworkNodeState> {
        Api::namespaced(self.client.clone(), NAMESPACE)
    }

    /// One pass, once the stores have seen every write made so far.
    async fn pass(&mut self) -> PassReport {
        self.settle().await;
        self.drainer.pass().await.unwrap()
    }

    /// Waits until the stores hold the API's current nodes and node states.
    async fn settle(&self) {
        for _ in 0..250 {
            let nodes = self.nodes().list(&ListParams::default()).await.unwrap();
            let states = self.states().list(&ListParams::default()).await.unwrap();
            let same_nodes = nodes.items.len() == self.inputs.nodes.state().len()
                && nodes.items.iter().all(|n| {
                    self.inputs
                        .nodes
                        .get(&kube::runtime::reflector::ObjectRef::new(&n.name_any()))
                        .is_some_and(|s| s.resource_version() == n.resource_version())
                });
            let same_states = states.items.len() == self.inputs.node_states.state().len()
                && states.items.iter().all(|n| {
                    self.inputs
                        .node_states
                        .get(&kube::runtime::reflector::ObjectRef::from_obj(n))
                        .is_some_and(|s| s.resource_version() == n.resource_version())
                });
            if same_nodes && same_states {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the stores never caught up");
    }

    /// The daemon asks for `request` on `node` (and mirrors it on the node state).
    async fn request(&self, node: &str, request: &str) {
        self.nodes()
            .patch(
                node,
                &PatchParams::default(),
                &Patch::Merge(
                    &json!({"metadata": {"annotations": {NODE_STATE_ANNOTATION: request}}}),
                ),
            )
            .await
            .unwrap();
        self.states()
            .patch(
                node,
                &PatchParams::default(),
                &Patch::Merge(&json!({"metadata": {"annotations":
                    {"sriovnetwork.openshift.io/desired-state": request}}})),
            )
            .await
            .unwrap();
    }

    async fn current(&self, node: &str) -> String {
        let state = self.states().get(node).await.unwrap();
        state
            .annotations()
            .get(CURRENT_STATE_ANNOTATION)
            .cloned()
            .unwrap_or_default()
    }

    async fn cordoned(&self, node: &str) -> bool {
        let node = self.nodes().get(node).await.unwrap();
        node.spec.and_then(|s| s.unschedulable) == Some(true)
    }

    async fn pod(&self, name: &str, node: &str, labels: Value, sriov: bool) {
        let mut container = json!({"name": "app", "image": "app:1"});
        if sriov {
            container["resources"] = json!({"requests": {"openshift.io/intelnics": "1"},
                "limits": {"openshift.io/intelnics": "1"}});
        }
        let pod: Pod = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "apps", "labels": labels},
            "spec": {"nodeName": node, "containers": [container]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}))
        .unwrap();
        Api::<Pod>::namespaced(self.client.clone(), "apps")
            .create(&PostParams::default(), &pod)
            .await
            .unwrap();
    }

    async fn pods(&self) -> Vec<String> {
        let mut names: Vec<String> = Api::<Pod>::namespaced(self.client.clone(), "apps")
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .map(ResourceExt::name_any)
            .collect();
        names.sort();
        names
    }

    async fn pool(&self, name: &str, selector: Value, max: Value) {
        let pool = json!({"apiVersion": "sriovnetwork.openshift.io/v1",
            "kind": "SriovNetworkPoolConfig",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"nodeSelector": selector, "maxUnavailable": max}});
        Api::<sriov_core::api::SriovNetworkPoolConfig>::namespaced(self.client.clone(), NAMESPACE)
            .create(
                &PostParams::default(),
                &serde_json::from_value(pool).unwrap(),
            )
            .await
            .unwrap();
        for _ in 0..250 {
            if self
                .inputs
                .pool_configs
                .state()
                .iter()
                .any(|p| p.name_any() == name)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("pool {name} never reached the store");
    }

    async fn warnings(&self) -> Vec<String> {
        Api::<Event>::namespaced(self.client.clone(), NAMESPACE)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .filter(|e| e.type_.as_deref() == Some("Warning"))
            .filter_map(|e| e.message.clone())
            .collect()
    }
}

fn blocked_of(state: &SriovNetworkNodeState) -> Option<(String, String)> {
    let value = serde_json::to_value(state).unwrap();
    let c = value
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == DRAIN_BLOCKED)?
        .clone();
    Some((
        c["status"].as_str()?.to_owned(),
        c["message"].as_str()?.to_owned(),
    ))
}

#[tokio::test]
async fn one_node_drains_only_sriov_pods_and_is_uncordoned_when_done() {
    let mut c = cluster(&[("worker-0", json!({})), ("worker-1", json!({}))], quick()).await;
    // Missing annotations read as Idle: nothing is written.
    let first = c.pass().await;
    assert_eq!(first.writes, 0, "{first:?}");
    assert_eq!(c.current("worker-0").await, "");

    c.pod("vf-user", "worker-0", json!({}), true).await;
    c.pod("plain", "worker-0", json!({}), false).await;
    c.request("worker-0", "Drain_Required").await;
    let start = c.pass().await;
    assert_eq!(start.started, ["worker-0"], "{start:?}");
    assert_eq!(start.evicted, 1);
    assert!(c.cordoned("worker-0").await);
    assert_eq!(
        c.pods().await,
        ["plain"],
        "only the pod using a VF is evicted"
    );
    let drained = c.pass().await;
    assert_eq!(drained.drained, ["worker-0"], "{drained:?}");
    assert_eq!(c.current("worker-0").await, "DrainComplete");
    assert_eq!(c.pass().await.writes, 0, "drained: waiting for the daemon");

    c.request("worker-0", "Idle").await;
    let done = c.pass().await;
    assert_eq!(done.completed, ["worker-0"]);
    assert_eq!(c.current("worker-0").await, "Idle");
    assert!(!c.cordoned("worker-0").await);
    let node = c.nodes().get("worker-0").await.unwrap();
    assert!(!node.annotations().contains_key(CORDONED_ANNOTATION));
}

#[tokio::test]
async fn a_reboot_evicts_every_pod_but_daemon_set_pods() {
    let mut c = cluster(&[("worker-0", json!({})), ("worker-1", json!({}))], quick()).await;
    c.pass().await;
    c.pod("vf-user", "worker-0", json!({}), true).await;
    c.pod("plain", "worker-0", json!({}), false).await;
    c.pod("elsewhere", "worker-1", json!({}), false).await;
    // A DaemonSet's pod stays (it would come straight back).
    let ds: k8s_openapi::api::apps::v1::DaemonSet = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "apps"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "a", "image": "a:1"}]}}}}))
    .unwrap();
    let ds = Api::namespaced(c.client.clone(), "apps")
        .create(&PostParams::default(), &ds)
        .await
        .unwrap();
    let ds_pod: Pod = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "agent-x", "namespace": "apps", "ownerReferences": [{"apiVersion": "apps/v1",
            "kind": "DaemonSet", "name": "agent", "uid": ds.uid(), "controller": true}]},
        "spec": {"nodeName": "worker-0", "containers": [{"name": "a", "image": "a:1"}]}}))
    .unwrap();
    Api::<Pod>::namespaced(c.client.clone(), "apps")
        .create(&PostParams::default(), &ds_pod)
        .await
        .unwrap();
    c.request("worker-0", "Reboot_Required").await;
    let report = c.pass().await;
    assert_eq!(report.evicted, 2, "{report:?}");
    assert_eq!(c.pods().await, ["agent-x", "elsewhere"]);
    assert_eq!(c.pass().await.drained, ["worker-0"]);
}

#[tokio::test]
async fn a_single_node_reboots_without_eviction_and_an_external_drainer_is_left_alone() {
    let mut c = cluster(&[("only", json!({}))], quick()).await;
    c.pass().await;
    c.pod("vf-user", "only", json!({}), true).await;
    c.request("only", "Reboot_Required").await;
    let report = c.pass().await;
    assert_eq!(
        (report.started.as_slice(), report.drained.as_slice()),
        (&["only".to_owned()][..], &["only".to_owned()][..]),
        "{report:?}"
    );
    assert!(
        !c.cordoned("only").await,
        "nowhere to move pods: not cordoned"
    );
    assert_eq!(c.pods().await, ["vf-user"]);

    // A node handed to an external drainer is not touched at all.
    let mut c = cluster(&[("worker-0", json!({})), ("worker-1", json!({}))], quick()).await;
    c.pass().await;
    c.states()
        .patch(
            "worker-0",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"annotations":
                {"sriovnetwork.openshift.io/use-external-drainer": "true"}}})),
        )
        .await
        .unwrap();
    c.request("worker-0", "Drain_Required").await;
    let report = c.pass().await;
    assert_eq!(report.writes, 0, "{report:?}");
    assert_eq!(c.current("worker-0").await, "");
}

#[tokio::test]
async fn nodes_drain_one_at_a_time_by_default() {
    let names = ["worker-0", "worker-1", "worker-2"];
    let nodes: Vec<(&str, Value)> = names.iter().map(|n| (*n, json!({}))).collect();
    let mut c = cluster(&nodes, quick()).await;
    c.pass().await;
    for name in names {
        c.request(name, "Drain_Required").await;
    }
    let first = c.pass().await;
    assert_eq!(first.started, ["worker-0"], "{first:?}");
    assert_eq!(first.waiting.len(), 2);
    // worker-0 has drained (no pods) but is still being configured: its slot is taken.
    let second = c.pass().await;
    assert!(second.started.is_empty(), "{second:?}");
    c.request("worker-0", "Idle").await;
    let third = c.pass().await;
    assert_eq!(third.completed, ["worker-0"]);
    assert_eq!(third.started, ["worker-1"], "{third:?}");
}

#[tokio::test]
async fn pools_drain_in_parallel_up_to_max_unavailable() {
    let rack = |r: &str| json!({"rack": r});
    let nodes = [
        ("a-0", rack("a")),
        ("a-1", rack("a")),
        ("a-2", rack("a")),
        ("b-0", rack("b")),
        ("b-1", rack("b")),
        ("c-0", rack("c")),
        ("c-1", rack("c")),
    ];
    let mut c = cluster(&nodes, quick()).await;
    c.pool("rack-a", json!({"matchLabels": {"rack": "a"}}), json!(2))
        .await;
    // No maxUnavailable: no limit.
    c.pool("rack-b", json!({"matchLabels": {"rack": "b"}}), Value::Null)
        .await;
    c.pass().await;
    for (name, _) in &nodes {
        c.request(name, "Drain_Required").await;
    }
    let report = c.pass().await;
    // rack-a: 2 of 3; rack-b: both; rack c is in no pool: the default pool, one at a time.
    assert_eq!(
        report.started,
        ["a-0", "a-1", "b-0", "b-1", "c-0"],
        "{report:?}"
    );
    assert_eq!(report.waiting.keys().collect::<Vec<_>>(), ["a-2", "c-1"]);
}

#[tokio::test]
async fn an_empty_selector_pools_every_node_and_a_node_in_two_pools_is_refused() {
    let nodes = [
        ("n-0", json!({"x": "1"})),
        ("n-1", json!({})),
        ("n-2", json!({})),
    ];
    let mut c = cluster(&nodes, quick()).await;
    c.pool("everyone", json!({}), json!("100%")).await;
    c.pass().await;
    for (name, _) in &nodes {
        c.request(name, "Drain_Required").await;
    }
    let report = c.pass().await;
    assert_eq!(report.started, ["n-0", "n-1", "n-2"], "{report:?}");
    for (name, _) in &nodes {
        c.request(name, "Idle").await;
    }
    assert_eq!(c.pass().await.completed.len(), 3);

    c.pool("x", json!({"matchLabels": {"x": "1"}}), json!(1))
        .await;
    c.request("n-0", "Drain_Required").await;
    let report = c.pass().await;
    assert!(report.started.is_empty(), "{report:?}");
    assert!(
        report.problems.iter().any(|p| p.contains("n-0")),
        "{:?}",
        report.problems
    );
    let warnings = c.warnings().await;
    assert!(
        warnings.iter().any(|w| w.contains("n-0")),
        "a Warning event names the node: {warnings:?}"
    );
}

#[tokio::test]
async fn a_drain_blocked_by_a_disruption_budget_is_reported_and_recovers() {
    let mut c = cluster(&[("worker-0", json!({})), ("worker-1", json!({}))], quick()).await;
    c.pass().await;
    c.pod("db-0", "worker-0", json!({"app": "db"}), true).await;
    let pdbs = support::db_budget(&c.client).await;
    c.request("worker-0", "Drain_Required").await;
    let report = c.pass().await;
    assert_eq!(report.evicted, 0, "{report:?}");
    let left = &report.in_progress["worker-0"];
    assert!(
        left[0].starts_with("apps/db-0: eviction refused by a PodDisruptionBudget"),
        "{left:?}"
    );
    let state = c.states().get("worker-0").await.unwrap();
    let (status, message) = blocked_of(&state).expect("DrainBlocked is set");
    assert_eq!(status, "True");
    assert!(message.contains("apps/db-0"), "{message}");
    assert!(c.warnings().await.iter().any(|w| w.contains("apps/db-0")));
    assert!(c.cordoned("worker-0").await);

    // The budget is relaxed: the next passes evict, finish, and clear the condition.
    pdbs.delete("db", &DeleteParams::default()).await.unwrap();
    let retry = c.pass().await;
    assert_eq!(retry.evicted, 1, "{retry:?}");
    let done = c.pass().await;
    assert_eq!(done.drained, ["worker-0"], "{done:?}");
    let state = c.states().get("worker-0").await.unwrap();
    assert_eq!(blocked_of(&state).map(|b| b.0), Some("False".into()));
}

/// With a drain timeout, a refused eviction is only retried at first; the drain is
/// reported blocked once it has lasted the timeout.
#[tokio::test]
async fn a_drain_is_reported_blocked_only_after_the_drain_timeout() {
    let timeout = Duration::from_secs(1);
    let settings = Settings {
        drain_timeout: timeout,
        ..Settings::default()
    };
    let mut c = cluster(
        &[("worker-0", json!({})), ("worker-1", json!({}))],
        settings,
    )
    .await;
    c.pass().await;
    c.pod("db-0", "worker-0", json!({"app": "db"}), true).await;
    let _pdbs = support::db_budget(&c.client).await;
    c.request("worker-0", "Drain_Required").await;
    let started = std::time::Instant::now();
    let first = c.pass().await;
    assert_eq!(first.evicted, 0, "{first:?}");
    assert!(
        first.in_progress["worker-0"][0].contains("PodDisruptionBudget"),
        "{first:?}"
    );
    let state = c.states().get("worker-0").await.unwrap();
    assert_eq!(blocked_of(&state), None, "not yet: {state:?}");
    assert!(
        !c.warnings().await.iter().any(|w| w.contains("apps/db-0")),
        "no warning before the timeout"
    );

    tokio::time::sleep(timeout.saturating_sub(started.elapsed()) + Duration::from_millis(50)).await;
    let later = c.pass().await;
    assert_eq!(later.evicted, 0, "{later:?}");
    let state = c.states().get("worker-0").await.unwrap();
    let (status, message) = blocked_of(&state).expect("DrainBlocked after the timeout");
    assert_eq!(status, "True");
    assert!(message.contains("after 1s"), "{message}");
    assert!(message.contains("apps/db-0"), "{message}");
    assert!(c.warnings().await.iter().any(|w| w.contains("apps/db-0")));
    assert!(
        c.cordoned("worker-0").await,
        "still cordoned while it keeps trying"
    );
}

#[tokio::test]
async fn a_withdrawn_request_uncordons_and_an_admins_cordon_is_kept() {
    let mut c = cluster(&[("worker-0", json!({})), ("worker-1", json!({}))], quick()).await;
    c.pass().await;
    // A pod that never finishes terminating keeps the drain going.
    let stuck: Pod = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "stuck", "namespace": "apps", "finalizers": ["example.com/hold"]},
        "spec": {"nodeName": "worker-0", "containers": [{"name": "c", "image": "c:1",
            "resources": {"requests": {"openshift.io/intelnics": "1"}}}]}}))
    .unwrap();
    Api::<Pod>::namespaced(c.client.clone(), "apps")
        .create(&PostParams::default(), &stuck)
        .await
        .unwrap();
    c.request("worker-0", "Drain_Required").await;
    c.pass().await;
    let waiting = c.pass().await;
    assert_eq!(
        waiting.in_progress["worker-0"],
        ["apps/stuck: terminating"],
        "{waiting:?}"
    );
    assert!(c.cordoned("worker-0").await);
    c.request("worker-0", "Idle").await;
    let done = c.pass().await;
    assert_eq!(done.completed, ["worker-0"]);
    assert!(!c.cordoned("worker-0").await, "never left cordoned");

    // An admin cordoned worker-1 before its drain: it stays cordoned afterwards.
    c.nodes()
        .patch(
            "worker-1",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"unschedulable": true}})),
        )
        .await
        .unwrap();
    c.request("worker-1", "Drain_Required").await;
    assert_eq!(c.pass().await.started, ["worker-1"]);
    c.request("worker-1", "Idle").await;
    assert_eq!(c.pass().await.completed, ["worker-1"]);
    assert!(c.cordoned("worker-1").await);
}

#[tokio::test]
async fn annotation_values_no_version_writes_are_reported() {
    let mut c = cluster(&[("worker-0", json!({})), ("worker-1", json!({}))], quick()).await;
    c.pass().await;
    c.request("worker-0", "Drain").await;
    let report = c.pass().await;
    assert!(
        report.problems[0].contains("\"Drain\" is none of"),
        "{:?}",
        report.problems
    );
    assert!(c.warnings().await.iter().any(|w| w.contains("\"Drain\"")));
    assert_eq!(c.pass().await.writes, 0, "the event is published once");
}

/// The controller's loop: woken by the daemon's request, it drains and answers without a
/// pass being called.
#[tokio::test]
async fn the_loop_answers_a_request_on_its_own() {
    let c = cluster(&[("worker-0", json!({})), ("worker-1", json!({}))], quick()).await;
    let triggers = Triggers::default();
    let (inputs, tasks) = inputs::start(&c.client, NAMESPACE, &triggers);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(sriov_operator::operator::drain::run(
        c.client.clone().into(),
        Arc::new(quick()),
        inputs,
        triggers.drain,
        async move {
            let _ = stopped.await;
        },
    ));
    c.pod("vf-user", "worker-1", json!({}), true).await;
    c.request("worker-1", "Drain_Required").await;
    for _ in 0..250 {
        if c.current("worker-1").await == "DrainComplete" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(c.current("worker-1").await, "DrainComplete");
    assert!(c.pods().await.is_empty());
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the loop stops")
        .unwrap();
    for task in tasks {
        task.abort();
    }
}

/// With kube-client's default retry on the main client (as the binary builds it), a
/// budget's 429 still comes back at once through the eviction client: the pass reports the
/// blocked pod instead of hanging in retries for minutes.
#[tokio::test]
async fn a_budgets_refusal_is_not_retried_by_the_client() {
    let c = cluster(&[("worker-0", json!({})), ("worker-1", json!({}))], quick()).await;
    c.pod("db-0", "worker-0", json!({"app": "db"}), true).await;
    support::db_budget(&c.client).await;
    c.request("worker-0", "Drain_Required").await;
    c.settle().await;
    // Clients built as the binary builds them, over TCP: the main one with kube-client's
    // default retry of 429s, the eviction one without.
    let (address, _) = c
        .sandbox
        .serve("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let config = || {
        let mut config = kube::Config::new(format!("http://{address}").parse().unwrap());
        config.default_namespace = NAMESPACE.into();
        config
    };
    let mut plain = config();
    plain.default_retry = false;
    assert!(config().default_retry, "the default client retries");
    let api = Client::try_from(config()).unwrap();
    let evictions = Client::try_from(plain).unwrap();
    let mut drainer =
        Drainer::new(api, Arc::new(quick()), c.inputs.clone()).with_eviction_client(evictions);
    let report = tokio::time::timeout(Duration::from_secs(10), drainer.pass())
        .await
        .expect("the pass does not hang in retries")
        .unwrap();
    let left = &report.in_progress["worker-0"];
    assert!(left[0].contains("PodDisruptionBudget"), "{left:?}");
}
