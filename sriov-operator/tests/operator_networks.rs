//! The network controllers against the sandbox (in process, GC and namespace stand-ins
//! on): NADs created, updated, recreated and removed with their networks, upstream's
//! ownership rules, and the `Ready` condition.
// Test set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use sriov_core::api::{NetworkAttachmentDefinition, SriovNetwork};
use sriov_core::testing::NAMESPACE;
use sriov_operator::operator::Settings;
use sriov_operator::operator::networks::{self, FINALIZER, LAST_NETWORK_NAMESPACE};
use support::eventually;

struct Cluster {
    client: Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

async fn cluster() -> Cluster {
    let sandbox = support::sandbox(true, &["apps"]);
    let client = Client::new(sandbox.client_service(), NAMESPACE);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(networks::run(
        client.clone(),
        Arc::new(Settings::default()),
        async move {
            let _ = stopped.await;
        },
    ));
    Cluster {
        client,
        stop: Some(stop),
        task,
    }
}

fn network(name: &str, namespace: &str, spec: Value) -> SriovNetwork {
    let mut spec = spec;
    spec["resourceName"] = json!("intelnics");
    serde_json::from_value(
        json!({"apiVersion": "sriovnetwork.openshift.io/v1", "kind": "SriovNetwork",
        "metadata": {"name": name, "namespace": namespace}, "spec": spec}),
    )
    .unwrap()
}

/// The CNI configuration of a NAD, parsed.
fn config_of(nad: &NetworkAttachmentDefinition) -> Value {
    serde_json::from_str(&nad.spec.config).unwrap_or(Value::Null)
}

fn ready_of(network: &SriovNetwork) -> Option<(String, String, String, Option<i64>)> {
    let value = serde_json::to_value(network).unwrap();
    let ready = value
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?
        .clone();
    Some((
        ready["status"].as_str()?.to_owned(),
        ready["reason"].as_str()?.to_owned(),
        ready["message"].as_str().unwrap_or_default().to_owned(),
        ready["observedGeneration"].as_i64(),
    ))
}

#[tokio::test]
async fn a_network_keeps_its_nad_through_edits_deletions_and_a_move() {
    let c = cluster().await;
    let networks: Api<SriovNetwork> = Api::namespaced(c.client.clone(), NAMESPACE);
    let nads =
        |ns: &str| -> Api<NetworkAttachmentDefinition> { Api::namespaced(c.client.clone(), ns) };
    networks
        .create(
            &PostParams::default(),
            &network(
                "net1",
                NAMESPACE,
                json!({"networkNamespace": "apps", "vlan": 10}),
            ),
        )
        .await
        .unwrap();
    // The NAD appears in the target namespace; the network gets its finalizer, the
    // last-network-namespace annotation and Ready=True for its generation.
    eventually("the NAD is written", || async {
        nads("apps")
            .get_opt("net1")
            .await
            .unwrap()
            .is_some_and(|n| config_of(&n)["vlan"] == 10)
    })
    .await;
    eventually("the network is Ready", || async {
        let net = networks.get("net1").await.unwrap();
        ready_of(&net).is_some_and(|(s, r, m, g)| {
            s == "True"
                && r == "NetworkReady"
                && m == "NetworkAttachmentDefinition is provisioned and ready"
                && g == net.metadata.generation
        })
    })
    .await;
    let net = networks.get("net1").await.unwrap();
    assert!(net.finalizers().iter().any(|f| f == FINALIZER));
    assert_eq!(
        net.annotations()
            .get(LAST_NETWORK_NAMESPACE)
            .map(String::as_str),
        Some("apps")
    );

    // An edit is rendered again; a user's annotation on the NAD stays.
    nads("apps")
        .patch(
            "net1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"team": "blue"}}})),
        )
        .await
        .unwrap();
    networks
        .patch(
            "net1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"vlan": 20}})),
        )
        .await
        .unwrap();
    eventually("the NAD follows the edit", || async {
        config_of(&nads("apps").get("net1").await.unwrap())["vlan"] == 20
    })
    .await;
    assert_eq!(
        nads("apps")
            .get("net1")
            .await
            .unwrap()
            .annotations()
            .get("team")
            .map(String::as_str),
        Some("blue")
    );

    // A deleted NAD is recreated.
    nads("apps")
        .delete("net1", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the NAD is recreated", || async {
        nads("apps").get_opt("net1").await.unwrap().is_some()
    })
    .await;

    // A move: the NAD leaves the old namespace and appears in the new one.
    networks
        .patch(
            "net1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"networkNamespace": "default"}})),
        )
        .await
        .unwrap();
    eventually("the NAD moved", || async {
        nads("apps").get_opt("net1").await.unwrap().is_none()
            && nads("default").get_opt("net1").await.unwrap().is_some()
    })
    .await;
    eventually("the annotation follows", || async {
        networks
            .get("net1")
            .await
            .unwrap()
            .annotations()
            .get(LAST_NETWORK_NAMESPACE)
            .map(String::as_str)
            == Some("default")
    })
    .await;

    // Deleting the network removes its NAD, then the finalizer lets it go.
    networks
        .delete("net1", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the network and its NAD are gone", || async {
        networks.get_opt("net1").await.unwrap().is_none()
            && nads("default").get_opt("net1").await.unwrap().is_none()
    })
    .await;
}

#[tokio::test]
async fn ownership_rules_waiting_namespaces_and_misplaced_targets() {
    let c = cluster().await;
    let networks: Api<SriovNetwork> = Api::namespaced(c.client.clone(), NAMESPACE);
    let nads =
        |ns: &str| -> Api<NetworkAttachmentDefinition> { Api::namespaced(c.client.clone(), ns) };

    // A target namespace that does not exist yet: NamespaceNotFound, then the NAD once it
    // is created.
    networks
        .create(
            &PostParams::default(),
            &network("later", NAMESPACE, json!({"networkNamespace": "team-x"})),
        )
        .await
        .unwrap();
    eventually("the network waits for its namespace", || async {
        ready_of(&networks.get("later").await.unwrap()).is_some_and(|(s, r, m, _)| {
            s == "False"
                && r == "NamespaceNotFound"
                && m == "target namespace \"team-x\" does not exist"
        })
    })
    .await;
    let namespaces: Api<Namespace> = Api::all(c.client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "team-x"}})).unwrap(),
        )
        .await
        .unwrap();
    eventually("the NAD is written when the namespace appears", || async {
        nads("team-x").get_opt("later").await.unwrap().is_some()
    })
    .await;

    // A NAD another network owns is not overwritten.
    let other = nads("apps");
    other
        .create(&PostParams::default(), &serde_json::from_value(json!({"apiVersion": "k8s.cni.cncf.io/v1",
            "kind": "NetworkAttachmentDefinition",
            "metadata": {"name": "taken", "annotations": {"sriovnetwork.openshift.io/owner-ref": "SriovNetwork.sriovnetwork.openshift.io/elsewhere/taken"}},
            "spec": {"config": "{}"}})).unwrap())
        .await
        .unwrap();
    networks
        .create(
            &PostParams::default(),
            &network("taken", NAMESPACE, json!({"networkNamespace": "apps"})),
        )
        .await
        .unwrap();
    eventually("the conflict is reported", || async {
        ready_of(&networks.get("taken").await.unwrap()).is_some_and(|(s, r, m, _)| {
            s == "False"
                && r == "NetworkAttachmentDefinitionInvalid"
                && m.starts_with(
                    "NetworkAttachmentDefinition 'apps/taken' already exists and is owned by ",
                )
        })
    })
    .await;
    assert_eq!(
        other.get("taken").await.unwrap().spec.config,
        "{}",
        "not overwritten"
    );

    // Outside the operator namespace: no finalizer, an owner reference, and
    // networkNamespace is refused.
    let apps: Api<SriovNetwork> = Api::namespaced(c.client.clone(), "apps");
    apps.create(&PostParams::default(), &network("local", "apps", json!({})))
        .await
        .unwrap();
    eventually(
        "the local NAD is written with an owner reference",
        || async {
            nads("apps")
                .get_opt("local")
                .await
                .unwrap()
                .is_some_and(|n| {
                    n.owner_references()
                        .iter()
                        .any(|o| o.kind == "SriovNetwork" && o.name == "local")
                })
        },
    )
    .await;
    assert!(apps.get("local").await.unwrap().finalizers().is_empty());
    apps.create(
        &PostParams::default(),
        &network("misplaced", "apps", json!({"networkNamespace": "default"})),
    )
    .await
    .unwrap();
    eventually("a misplaced target is refused", || async {
        ready_of(&apps.get("misplaced").await.unwrap()).is_some_and(|(s, r, m, _)| {
            s == "False" && r == "NetworkAttachmentDefinitionInvalid"
                && m == format!("spec.networkNamespace cannot be set when the resource is not in the operator namespace ({NAMESPACE})")
        })
    })
    .await;
    // Deleting the local network lets the garbage collector take its NAD.
    apps.delete("local", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the owned NAD is collected", || async {
        nads("apps").get_opt("local").await.unwrap().is_none()
    })
    .await;
}
