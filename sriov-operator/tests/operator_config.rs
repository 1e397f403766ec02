//! The operator-config controller against the sandbox (in process, with the garbage
//! collector stand-in): DaemonSets by default, webhooks on and off, the finalizer, node
//! selector and environment changes reaching the DaemonSets, an injected caBundle kept,
//! edits put back, missing images reported, and a resync that writes nothing.
// Test set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use kube_sandbox::Sandbox;
use serde_json::{Value, json};
use sriov_core::api::SriovOperatorConfig;
use sriov_core::render::components::{
    CONFIG_DAEMON, DEVICE_PLUGIN, INJECTOR, INJECTOR_CONFIG, INJECTOR_SERVICE, OPERATOR_WEBHOOK,
    OPERATOR_WEBHOOK_CONFIG, OPERATOR_WEBHOOK_SERVICE,
};
use sriov_core::testing::NAMESPACE;
use sriov_operator::operator::Settings;
use sriov_operator::operator::operator_config::{self, FINALIZER, reconcile_config};
use support::{eventually, settings};

async fn sandbox() -> (Sandbox, Client) {
    let sandbox = support::sandbox(true, &[]);
    let client = Client::new(sandbox.client_service(), NAMESPACE);
    (sandbox, client)
}

async fn create_config(client: &Client, spec: Value) -> SriovOperatorConfig {
    let api: Api<SriovOperatorConfig> = Api::namespaced(client.clone(), NAMESPACE);
    let config: SriovOperatorConfig = serde_json::from_value(json!({
        "apiVersion": "sriovnetwork.openshift.io/v1", "kind": "SriovOperatorConfig",
        "metadata": {"name": "default", "namespace": NAMESPACE}, "spec": spec,
    }))
    .unwrap();
    api.create(&PostParams::default(), &config).await.unwrap()
}

async fn config(client: &Client) -> SriovOperatorConfig {
    Api::<SriovOperatorConfig>::namespaced(client.clone(), NAMESPACE)
        .get("default")
        .await
        .unwrap()
}

async fn set_spec(client: &Client, spec: Value) {
    Api::<SriovOperatorConfig>::namespaced(client.clone(), NAMESPACE)
        .patch(
            "default",
            &PatchParams::default(),
            &Patch::Merge(&json!({ "spec": spec })),
        )
        .await
        .unwrap();
}

fn ready_of(config: &SriovOperatorConfig) -> Option<(String, String, String)> {
    let value = serde_json::to_value(config).unwrap();
    let ready = value
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?
        .clone();
    Some((
        ready["status"].as_str()?.to_owned(),
        ready["reason"].as_str()?.to_owned(),
        ready["message"].as_str()?.to_owned(),
    ))
}

async fn names<K>(api: Api<K>) -> Vec<String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut names: Vec<String> = api
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn defaults_deploy_the_daemon_sets_and_a_resync_writes_nothing() {
    let (sandbox, client) = sandbox().await;
    let settings = settings();
    create_config(&client, json!({})).await;
    let first = reconcile_config(&client, &settings, &config(&client).await)
        .await
        .unwrap();
    assert_eq!(
        first.applied,
        [
            format!("DaemonSet/{CONFIG_DAEMON}"),
            format!("DaemonSet/{DEVICE_PLUGIN}")
        ]
    );
    assert!(first.finalizer_written && first.status_written, "{first:?}");
    let stored = config(&client).await;
    assert_eq!(stored.finalizers(), [FINALIZER]);
    assert_eq!(
        ready_of(&stored),
        Some((
            "True".into(),
            "OperatorConfigReady".into(),
            "SriovOperatorConfig reconciled successfully".into()
        ))
    );
    let daemon_sets = names(Api::<DaemonSet>::namespaced(client.clone(), NAMESPACE)).await;
    assert_eq!(daemon_sets, [DEVICE_PLUGIN, CONFIG_DAEMON]);
    assert!(
        names(Api::<Deployment>::namespaced(client.clone(), NAMESPACE))
            .await
            .is_empty()
    );

    let before = sandbox.write_requests();
    let again = reconcile_config(&client, &settings, &stored).await.unwrap();
    assert_eq!(again.writes(), 0, "{again:?}");
    assert_eq!(sandbox.write_requests(), before, "a resync sends no write");
}

#[tokio::test]
async fn webhooks_are_deployed_when_enabled_and_removed_when_disabled() {
    let (_sandbox, client) = sandbox().await;
    let settings = settings();
    create_config(
        &client,
        json!({"enableInjector": true, "enableOperatorWebhook": true}),
    )
    .await;
    reconcile_config(&client, &settings, &config(&client).await)
        .await
        .unwrap();
    let deployments = || names(Api::<Deployment>::namespaced(client.clone(), NAMESPACE));
    let services = || names(Api::<Service>::namespaced(client.clone(), NAMESPACE));
    let mutating = || names(Api::<MutatingWebhookConfiguration>::all(client.clone()));
    let validating = || names(Api::<ValidatingWebhookConfiguration>::all(client.clone()));
    assert_eq!(deployments().await, [INJECTOR, OPERATOR_WEBHOOK]);
    assert_eq!(
        services().await,
        [INJECTOR_SERVICE, OPERATOR_WEBHOOK_SERVICE]
    );
    assert_eq!(mutating().await, [INJECTOR_CONFIG, OPERATOR_WEBHOOK_CONFIG]);
    assert_eq!(validating().await, [OPERATOR_WEBHOOK_CONFIG]);
    let hook = Api::<MutatingWebhookConfiguration>::all(client.clone())
        .get(INJECTOR_CONFIG)
        .await
        .unwrap();
    let hook = &hook.webhooks.unwrap()[0];
    assert_eq!(hook.failure_policy.as_deref(), Some("Ignore"));
    // No CA given, none injected: the API server could not call the webhooks.
    let (status, _, message) = ready_of(&config(&client).await).unwrap();
    assert_eq!(status, "False");
    assert!(
        message.contains("ADMISSION_CONTROLLERS_CERTIFICATES_INJECTOR_CA_CRT")
            && message.contains("ADMISSION_CONTROLLERS_CERTIFICATES_OPERATOR_CA_CRT"),
        "{message}"
    );

    // The match-condition gate makes the injector fail closed for pods naming networks.
    // (The validating configuration is removed first; see below.)
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .delete(OPERATOR_WEBHOOK_CONFIG, &DeleteParams::default())
        .await
        .unwrap();
    set_spec(
        &client,
        json!({"featureGates": {"resourceInjectorMatchCondition": true}}),
    )
    .await;
    reconcile_config(&client, &settings, &config(&client).await)
        .await
        .unwrap();
    let hook = Api::<MutatingWebhookConfiguration>::all(client.clone())
        .get(INJECTOR_CONFIG)
        .await
        .unwrap();
    let hook = &hook.webhooks.unwrap()[0];
    assert_eq!(hook.failure_policy.as_deref(), Some("Fail"));
    assert_eq!(
        hook.match_conditions.as_ref().map(|m| m[0].name.as_str()),
        Some("include-networks-annotation")
    );

    // The validating webhook now guards operator configs with failurePolicy Fail, and the
    // sandbox runs no webhook server: the edit would be refused (as kube-apiserver refuses
    // it while the webhook pods are down). An admin in that spot removes the configuration
    // first; the reconcile puts it back.
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .delete(OPERATOR_WEBHOOK_CONFIG, &DeleteParams::default())
        .await
        .unwrap();
    set_spec(&client, json!({"enableInjector": false})).await;
    let report = reconcile_config(&client, &settings, &config(&client).await)
        .await
        .unwrap();
    assert_eq!(
        report.removed,
        [
            format!("Deployment/{INJECTOR}"),
            format!("Service/{INJECTOR_SERVICE}"),
            format!("MutatingWebhookConfiguration/{INJECTOR_CONFIG}"),
        ]
    );
    assert_eq!(
        report.applied,
        [format!(
            "ValidatingWebhookConfiguration/{OPERATOR_WEBHOOK_CONFIG}"
        )]
    );
    assert_eq!(deployments().await, [OPERATOR_WEBHOOK]);
    assert_eq!(mutating().await, [OPERATOR_WEBHOOK_CONFIG]);
    assert_eq!(validating().await, [OPERATOR_WEBHOOK_CONFIG]);
}

#[tokio::test]
async fn a_ca_bundle_injected_by_another_tool_is_kept() {
    let (_sandbox, client) = sandbox().await;
    let settings = settings();
    create_config(&client, json!({"enableOperatorWebhook": true})).await;
    reconcile_config(&client, &settings, &config(&client).await)
        .await
        .unwrap();
    let api = Api::<ValidatingWebhookConfiguration>::all(client.clone());
    let live = api.get(OPERATOR_WEBHOOK_CONFIG).await.unwrap();
    assert_eq!(
        live.webhooks.as_ref().unwrap()[0].client_config.ca_bundle,
        None
    );
    // cert-manager's CA injector writes the bundle under its own manager.
    let inject = json!({"apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": OPERATOR_WEBHOOK_CONFIG},
        "webhooks": [{"name": "operator-webhook.sriovnetwork.openshift.io",
            "clientConfig": {"caBundle": "aW5qZWN0ZWQ="}}]});
    api.patch(
        OPERATOR_WEBHOOK_CONFIG,
        &PatchParams::default(),
        &Patch::Strategic(&inject),
    )
    .await
    .unwrap();
    for _ in 0..2 {
        reconcile_config(&client, &settings, &config(&client).await)
            .await
            .unwrap();
        let live = api.get(OPERATOR_WEBHOOK_CONFIG).await.unwrap();
        let hook = &live.webhooks.unwrap()[0];
        assert_eq!(
            hook.client_config
                .ca_bundle
                .as_ref()
                .map(|b| b.0.as_slice()),
            Some(&b"injected"[..])
        );
        assert_eq!(hook.failure_policy.as_deref(), Some("Fail"));
    }
    let quiet = reconcile_config(&client, &settings, &config(&client).await)
        .await
        .unwrap();
    assert_eq!(quiet.writes(), 0, "{quiet:?}");
}

#[tokio::test]
async fn missing_images_leave_the_config_not_ready_naming_the_variable() {
    let (_sandbox, client) = sandbox().await;
    create_config(&client, json!({})).await;
    reconcile_config(&client, &Settings::default(), &config(&client).await)
        .await
        .unwrap();
    let (status, reason, message) = ready_of(&config(&client).await).unwrap();
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "OperatorConfigSyncFailed")
    );
    assert!(
        message.contains("SRIOV_NETWORK_CONFIG_DAEMON_IMAGE is not set"),
        "{message}"
    );
    assert!(
        names(Api::<DaemonSet>::namespaced(client.clone(), NAMESPACE))
            .await
            .is_empty()
    );
}

/// The controller itself: reacting to spec changes, putting back edits of what it
/// rendered, and cleaning up on deletion through its finalizer and owner references.
#[tokio::test]
async fn the_controller_follows_the_config_and_cleans_up_on_deletion() {
    let (_sandbox, client) = sandbox().await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // The injector's CA is given, so its webhook can be verified and the config is Ready.
    let mut with_ca = settings();
    with_ca.components.webhook_tls.injector_ca = Some(b"-----BEGIN CERTIFICATE-----\n".to_vec());
    let task = tokio::spawn(operator_config::run(
        client.clone(),
        Arc::new(with_ca),
        stopped,
    ));
    create_config(
        &client,
        // The injector, not the operator webhook: the sandbox runs no webhook server, and the
        // operator webhook would refuse the edits below (see the test above).
        json!({"enableInjector": true, "configDaemonEnvVars": {"EXTRA": "1"}}),
    )
    .await;
    let daemon_sets = Api::<DaemonSet>::namespaced(client.clone(), NAMESPACE);
    let daemon = || async {
        daemon_sets
            .get_opt(CONFIG_DAEMON)
            .await
            .unwrap()
            .map(|d| serde_json::to_value(d).unwrap())
    };
    let env_names = |d: &Value| -> Vec<String> {
        d.pointer("/spec/template/spec/containers/0/env")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e["name"].as_str().map(str::to_owned))
            .collect()
    };
    eventually(
        "the config daemon is deployed with the extra variable",
        || async {
            daemon()
                .await
                .is_some_and(|d| env_names(&d).contains(&"EXTRA".to_owned()))
        },
    )
    .await;
    eventually("Ready", || async {
        ready_of(&config(&client).await).is_some_and(|r| r.0 == "True")
    })
    .await;

    // A variable removed from the config leaves the DaemonSet (a removal is a change).
    set_spec(
        &client,
        json!({"configDaemonEnvVars": null,
            "configDaemonNodeSelector": {"sriov": "capable"}}),
    )
    .await;
    eventually("the variable is gone and the selector applied", || async {
        daemon().await.is_some_and(|d| {
            !env_names(&d).contains(&"EXTRA".to_owned())
                && d.pointer("/spec/template/spec/nodeSelector")
                    == Some(&json!({"sriov": "capable"}))
        })
    })
    .await;

    // An edit by hand of a rendered field is put back.
    daemon_sets
        .patch(
            CONFIG_DAEMON,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"template": {"spec": {"hostPID": false}}}})),
        )
        .await
        .unwrap();
    eventually("hostPID is restored", || async {
        daemon()
            .await
            .is_some_and(|d| d.pointer("/spec/template/spec/hostPID") == Some(&json!(true)))
    })
    .await;

    // Deleting the config removes the webhook configurations (finalizer) and, through the
    // owner references, everything namespaced.
    Api::<SriovOperatorConfig>::namespaced(client.clone(), NAMESPACE)
        .delete("default", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the config is gone", || async {
        Api::<SriovOperatorConfig>::namespaced(client.clone(), NAMESPACE)
            .get_opt("default")
            .await
            .unwrap()
            .is_none()
    })
    .await;
    assert!(
        names(Api::<MutatingWebhookConfiguration>::all(client.clone()))
            .await
            .is_empty()
    );
    eventually("the DaemonSets are collected", || async {
        names(daemon_sets.clone()).await.is_empty()
    })
    .await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the controller stops")
        .unwrap();
}
