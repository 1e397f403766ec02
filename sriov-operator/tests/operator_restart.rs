//! An operator killed in the middle of its first sync, then started again, converges: one
//! node state per node, one device-plugin ConfigMap, one NAD per network, the two
//! DaemonSets, and afterwards a sync that changes nothing writes nothing.
// Test set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use sriov_core::api::{NetworkAttachmentDefinition, SriovNetworkNodeState};
use sriov_core::testing::{NAMESPACE, PolicyBuilder, worker};
use sriov_operator::operator;

const NODES: usize = 300;

fn start(
    client: Client,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        operator::run(client, support::settings(), None, async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_sync_converges_without_duplicates() {
    let sandbox = support::sandbox(true, &["apps"]);
    support::default_config(&sandbox);
    for i in 0..NODES {
        sandbox
            .create(&serde_json::to_value(worker(&format!("worker-{i:04}"))).unwrap())
            .unwrap();
    }
    let policy = PolicyBuilder::new("intel")
        .vendor("8086")
        .resource("intelnics")
        .build();
    sandbox
        .create(&serde_json::to_value(policy).unwrap())
        .unwrap();
    for i in 0..3 {
        sandbox
            .create(
                &json!({"apiVersion": "sriovnetwork.openshift.io/v1", "kind": "SriovNetwork",
                "metadata": {"name": format!("net-{i}"), "namespace": NAMESPACE},
                "spec": {"resourceName": "intelnics", "networkNamespace": "apps"}}),
            )
            .unwrap();
    }
    let client = Client::new(sandbox.client_service(), NAMESPACE);
    let states: Api<SriovNetworkNodeState> = Api::namespaced(client.clone(), NAMESPACE);
    let count = || async {
        states
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len()
    };

    // Killed (not stopped) once part of the node states are written.
    let (_stop, task) = start(client.clone());
    let mut at_kill = 0;
    for _ in 0..5000 {
        at_kill = count().await;
        if at_kill > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    task.abort();
    let _ = task.await;
    assert!(
        at_kill > 0 && at_kill < NODES,
        "the kill came in the middle of the first sync ({at_kill} of {NODES} states)"
    );

    let (stop, task) = start(client.clone());
    for _ in 0..1000 {
        if count().await == NODES {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let names: Vec<String> = states
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    let expected: Vec<String> = (0..NODES).map(|i| format!("worker-{i:04}")).collect();
    assert_eq!(names, expected, "one node state per node");
    let nads: Api<NetworkAttachmentDefinition> = Api::namespaced(client.clone(), "apps");
    for _ in 0..250 {
        if nads.list(&ListParams::default()).await.unwrap().items.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let nad_names: Vec<String> = nads
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    assert_eq!(nad_names, ["net-0", "net-1", "net-2"]);
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let config = maps.get("device-plugin-config").await.unwrap();
    assert_eq!(config.data.unwrap().len(), NODES, "one entry per node");
    let daemon_sets: Api<DaemonSet> = Api::namespaced(client.clone(), NAMESPACE);
    let mut ds: Vec<String> = daemon_sets
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    ds.sort();
    assert_eq!(ds, ["sriov-device-plugin", "sriov-network-config-daemon"]);

    // Every node labelled, then settled: the operator keeps running and writes nothing.
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    let labelled = || async {
        nodes
            .list(&ListParams::default().labels("sriovnetwork.openshift.io/device-plugin"))
            .await
            .unwrap()
            .items
            .len()
    };
    for _ in 0..1000 {
        if labelled().await == NODES {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        labelled().await,
        NODES,
        "every node has its device-plugin label"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = sandbox.write_requests();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        sandbox.write_requests(),
        before,
        "converged: no further writes"
    );
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the operator stops")
        .unwrap();
}
