//! The RBAC rules in `deploy/` against the requests the components really make: the whole
//! operator (every controller, with leader election) runs a scenario touching every code
//! path that talks to the API server, the sandbox records each request as kube-apiserver's
//! authorizer sees it (a server-side apply that creates counts as `create` too), and the
//! operator's rules (rendered with `kubectl kustomize deploy/`) must allow every request
//! and hold no rule the scenario never needed.
// Test set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube_sandbox::{AuditEvent, Sandbox};
use serde_json::{Value, json};
use sriov_core::api::SriovNetworkNodeState;
use sriov_core::testing::{NAMESPACE, PolicyBuilder, worker};
use sriov_operator::operator::leader::LeaseConfig;
use sriov_operator::operator::{self, Settings};
use support::eventually;

/// The objects `kubectl kustomize deploy/` renders.
fn deploy() -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(&dir)
        .output()
        .expect("kubectl (on every machine this project is tested on) renders deploy/");
    assert!(
        output.status.success(),
        "kubectl kustomize deploy/: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    serde_saphyr::from_str_multiple::<Value, Vec<Value>>(&text).unwrap()
}

/// One permission: (namespace it is limited to, group, resource[/subresource], verb).
type Grant = (Option<String>, String, String, String);

/// What a ServiceAccount's bindings grant, one entry per group × resource × verb.
fn grants(objects: &[Value], account: &str) -> BTreeSet<Grant> {
    let find_role = |kind: &str, name: &str, namespace: Option<&str>| {
        objects.iter().find(|o| {
            o["kind"] == kind
                && o["metadata"]["name"] == name
                && namespace.is_none_or(|ns| o["metadata"]["namespace"] == ns)
        })
    };
    let mut out = BTreeSet::new();
    for binding in objects
        .iter()
        .filter(|o| o["kind"] == "RoleBinding" || o["kind"] == "ClusterRoleBinding")
    {
        let bound = binding["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| {
                s["kind"] == "ServiceAccount" && s["name"] == account && s["namespace"] == NAMESPACE
            });
        if !bound {
            continue;
        }
        let scope = (binding["kind"] == "RoleBinding").then(|| {
            binding["metadata"]["namespace"]
                .as_str()
                .unwrap()
                .to_owned()
        });
        let role_kind = binding["roleRef"]["kind"].as_str().unwrap();
        let role_name = binding["roleRef"]["name"].as_str().unwrap();
        let role = find_role(
            role_kind,
            role_name,
            (role_kind == "Role").then_some(NAMESPACE),
        )
        .unwrap_or_else(|| panic!("{role_kind} {role_name} is in deploy/"));
        for rule in role["rules"].as_array().unwrap() {
            let list = |key: &str| -> Vec<String> {
                rule[key]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect()
            };
            for group in list("apiGroups") {
                for resource in list("resources") {
                    for verb in list("verbs") {
                        out.insert((scope.clone(), group.clone(), resource.clone(), verb));
                    }
                }
            }
        }
    }
    out
}

/// The grant that allows `event`, if any.
fn allowing<'a>(grants: &'a BTreeSet<Grant>, event: &AuditEvent) -> Option<&'a Grant> {
    let resource = match &event.subresource {
        Some(sub) => format!("{}/{sub}", event.resource),
        None => event.resource.clone(),
    };
    grants.iter().find(|(scope, group, r, verb)| {
        *group == event.group
            && *r == resource
            && *verb == event.verb
            && scope
                .as_ref()
                .is_none_or(|ns| event.namespace.as_deref() == Some(ns.as_str()))
    })
}

fn settings() -> Settings {
    let mut settings = Settings::from_env(|name| {
        (name == "STALE_NODE_STATE_CLEANUP_DELAY_MINUTES").then(|| "0".to_owned())
    })
    .unwrap();
    settings.drain_timeout = Duration::ZERO;
    settings.drain_retry = Duration::from_millis(200);
    settings.components.images = support::images();
    settings
}

/// Drives every controller through each of its API calls.
async fn scenario(sandbox: &Sandbox, client: &Client) {
    let create = |object: Value| sandbox.create(&object).unwrap();
    create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}));
    create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}));
    for name in ["worker-0", "worker-1", "worker-2"] {
        create(serde_json::to_value(worker(name)).unwrap());
    }
    create(
        serde_json::to_value(
            PolicyBuilder::new("intel")
                .vendor("8086")
                .resource("intelnics")
                .build(),
        )
        .unwrap(),
    );
    let states: Api<SriovNetworkNodeState> = Api::namespaced(client.clone(), NAMESPACE);
    let nodes: Api<Node> = Api::all(client.clone());
    let configs: Api<sriov_core::api::SriovOperatorConfig> =
        Api::namespaced(client.clone(), NAMESPACE);

    // The operator config with the injector: DaemonSets, a Deployment, a Service, a
    // mutating configuration (for pods, failing open: the sandbox runs no webhook server).
    configs
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"apiVersion": "sriovnetwork.openshift.io/v1",
                "kind": "SriovOperatorConfig", "metadata": {"name": "default", "namespace": NAMESPACE},
                "spec": {"enableInjector": true}}))
            .unwrap(),
        )
        .await
        .unwrap();
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), NAMESPACE);
    eventually("the injector is deployed", || async {
        deployments
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .len()
            == 1
    })
    .await;
    eventually("node states exist", || async {
        states.list(&Default::default()).await.unwrap().items.len() == 3
    })
    .await;

    // Networks of the three kinds; one moves to another namespace (its old NAD deleted).
    for (kind, spec) in [
        (
            "SriovNetwork",
            json!({"resourceName": "intelnics", "networkNamespace": "apps"}),
        ),
        (
            "SriovIBNetwork",
            json!({"resourceName": "ib", "networkNamespace": "apps"}),
        ),
        (
            "OVSNetwork",
            json!({"resourceName": "ovs", "networkNamespace": "apps"}),
        ),
    ] {
        create(
            json!({"apiVersion": "sriovnetwork.openshift.io/v1", "kind": kind,
            "metadata": {"name": format!("net-{}", kind.to_lowercase()), "namespace": NAMESPACE},
            "spec": spec}),
        );
    }
    let nads: Api<sriov_core::api::NetworkAttachmentDefinition> =
        Api::namespaced(client.clone(), "apps");
    eventually("three NADs", || async {
        nads.list(&Default::default()).await.unwrap().items.len() == 3
    })
    .await;
    Api::<sriov_core::api::SriovNetwork>::namespaced(client.clone(), NAMESPACE)
        .patch(
            "net-sriovnetwork",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"networkNamespace": "other"}})),
        )
        .await
        .unwrap();
    eventually("the NAD moved", || async {
        nads.list(&Default::default()).await.unwrap().items.len() == 2
    })
    .await;

    // A drain blocked by a budget (event, condition), withdrawn, asked again (the same
    // event again: a patch of its series), then let through (an eviction).
    let pods: Api<Pod> = Api::namespaced(client.clone(), "apps");
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "db-0", "namespace": "apps", "labels": {"app": "db"}},
            "spec": {"nodeName": "worker-0", "containers": [{"name": "db", "image": "db:1",
                "resources": {"requests": {"openshift.io/intelnics": "1"}}}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}))
        .unwrap(),
    )
    .await
    .unwrap();
    let pdbs = support::db_budget(client).await;
    let request = |value: &'static str| {
        let nodes = nodes.clone();
        let states = states.clone();
        async move {
            nodes
                .patch(
                    "worker-0",
                    &PatchParams::default(),
                    &Patch::Merge(&json!({"metadata": {"annotations":
                        {"sriovnetwork.openshift.io/state": value}}})),
                )
                .await
                .unwrap();
            states
                .patch(
                    "worker-0",
                    &PatchParams::default(),
                    &Patch::Merge(&json!({"metadata": {"annotations":
                        {"sriovnetwork.openshift.io/desired-state": value}}})),
                )
                .await
                .unwrap();
        }
    };
    let current = || async {
        states
            .get("worker-0")
            .await
            .unwrap()
            .metadata
            .annotations
            .and_then(|a| a.get("sriovnetwork.openshift.io/current-state").cloned())
            .unwrap_or_default()
    };
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(client.clone(), NAMESPACE);
    let blocked_events = || async {
        events
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .iter()
            .filter(|e| e.note.as_deref().is_some_and(|n| n.contains("apps/db-0")))
            .map(|e| e.series.as_ref().map_or(1, |s| s.count))
            .sum::<i32>()
    };
    request("Drain_Required").await;
    eventually("the blocked drain is reported", || async {
        blocked_events().await >= 1
    })
    .await;
    request("Idle").await;
    eventually("the drain is withdrawn", || async {
        current().await == "Idle"
    })
    .await;
    request("Drain_Required").await;
    eventually("the same report again", || async {
        blocked_events().await >= 2
    })
    .await;
    pdbs.delete("db", &DeleteParams::default()).await.unwrap();
    eventually("drained", || async { current().await == "DrainComplete" }).await;
    request("Idle").await;
    eventually("uncordoned", || async { current().await == "Idle" }).await;

    // A node goes: its state is deleted (no delay).
    nodes
        .delete("worker-2", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the stale state is deleted", || async {
        states.get_opt("worker-2").await.unwrap().is_none()
    })
    .await;

    // The injector off (its objects deleted), the operator webhook on (the validating
    // configuration created). Turning the operator webhook off again would need its
    // server: with no server, the validating webhook refuses every operator-config edit.
    configs
        .patch(
            "default",
            &PatchParams::default(),
            &Patch::Merge(
                &json!({"spec": {"enableInjector": false, "enableOperatorWebhook": true}}),
            ),
        )
        .await
        .unwrap();
    eventually(
        "the injector is removed, the operator webhook deployed",
        || async {
            let names: Vec<String> = deployments
                .list(&Default::default())
                .await
                .unwrap()
                .items
                .iter()
                .filter_map(|d| d.metadata.name.clone())
                .collect();
            names == ["operator-webhook"]
        },
    )
    .await;
    let validating = Api::<
        k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration,
    >::all(client.clone());
    eventually("the validating configuration exists", || async {
        validating
            .get_opt("sriov-operator-webhook-config")
            .await
            .unwrap()
            .is_some()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_rbac_allows_exactly_what_it_does() {
    let objects = deploy();
    let granted = grants(&objects, "sriov-network-operator");
    assert!(!granted.is_empty(), "the operator's account has rules");

    let sandbox = support::sandbox(true, &[]);
    sandbox.start_audit();
    // The operator's requests carry its own User-Agent, so the test's are told apart.
    let service = tower::ServiceBuilder::new()
        .map_request(|mut request: axum::http::Request<kube::client::Body>| {
            request.headers_mut().insert(
                axum::http::header::USER_AGENT,
                axum::http::HeaderValue::from_static(OPERATOR_AGENT),
            );
            request
        })
        .service(sandbox.client_service());
    let operator_client = Client::new(service, NAMESPACE);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let election = LeaseConfig {
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(300),
        ..LeaseConfig::new(NAMESPACE, "rbac-test")
    };
    let task = tokio::spawn(operator::run(
        operator_client,
        settings(),
        Some(election),
        async move {
            let _ = stopped.await;
        },
    ));
    let observer = Client::new(sandbox.client_service(), NAMESPACE);
    scenario(&sandbox, &observer).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the operator stops")
        .unwrap()
        .unwrap();

    let made: Vec<AuditEvent> = sandbox
        .audit()
        .into_iter()
        .filter(|e| e.user_agent.as_deref() == Some(OPERATOR_AGENT))
        .collect();
    assert!(
        made.len() > 50,
        "the scenario drove the operator: {}",
        made.len()
    );
    let mut refused = BTreeSet::new();
    let mut used = BTreeSet::new();
    for event in &made {
        match allowing(&granted, event) {
            Some(grant) => {
                used.insert(grant.clone());
            }
            None => {
                refused.insert(format!(
                    "{} {}{} in {}",
                    event.verb,
                    if event.group.is_empty() {
                        String::new()
                    } else {
                        format!("{}/", event.group)
                    },
                    match &event.subresource {
                        Some(sub) => format!("{}/{sub}", event.resource),
                        None => event.resource.clone(),
                    },
                    event.namespace.as_deref().unwrap_or("the cluster scope"),
                ));
            }
        }
    }
    assert!(
        refused.is_empty(),
        "requests the operator makes that deploy/rbac/operator.yaml does not allow:\n{}",
        refused.into_iter().collect::<Vec<_>>().join("\n")
    );
    let unused: Vec<String> = granted
        .difference(&used)
        .filter(|grant| {
            !UNREACHABLE.contains(&(grant.1.as_str(), grant.2.as_str(), grant.3.as_str()))
        })
        .map(|(scope, group, resource, verb)| {
            format!(
                "{verb} {group}/{resource} ({})",
                scope.as_deref().unwrap_or("cluster")
            )
        })
        .collect();
    assert!(
        unused.is_empty(),
        "rules in deploy/rbac/operator.yaml the operator never needed:\n{}",
        unused.join("\n")
    );
}

const OPERATOR_AGENT: &str = "sriov-network-operator/rbac-test";

/// Grants the operator's code needs that the scenario cannot reach, with why:
/// - deleting the validating configuration happens when the operator webhook is turned off
///   or the operator config is deleted, and with no webhook server in the sandbox the
///   validating webhook refuses both edits (the code path is the one that deletes the
///   injector's mutating configuration, which the scenario reaches);
/// - deleting a device-plugin ConfigMap shard happens when a cluster whose entries were
///   sharded (over 900 KiB, thousands of nodes) shrinks back.
const UNREACHABLE: [(&str, &str, &str); 2] = [
    (
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
        "delete",
    ),
    ("", "configmaps", "delete"),
];

#[test]
fn the_components_without_api_calls_have_accounts_and_no_rules() {
    let objects = deploy();
    for account in [
        "sriov-network-config-daemon",
        "sriov-device-plugin",
        "operator-webhook-sa",
        "network-resources-injector",
    ] {
        assert!(
            objects.iter().any(|o| o["kind"] == "ServiceAccount"
                && o["metadata"]["name"] == account
                && o["metadata"]["namespace"] == NAMESPACE),
            "deploy/ has the ServiceAccount {account} its workload runs as"
        );
        assert!(
            grants(&objects, account).is_empty(),
            "{account} has no rules"
        );
    }
    // The device plugin reads its configuration from a mounted ConfigMap and talks only
    // to the kubelet: it does not even link a Kubernetes client.
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../sriov-deviceplugin/Cargo.toml"),
    )
    .unwrap();
    let linked = manifest.lines().any(|line| {
        let line = line.trim_start();
        line.starts_with("kube") || line.starts_with("k8s-openapi")
    });
    assert!(!linked, "sriov-deviceplugin depends on no kube crate");
}
