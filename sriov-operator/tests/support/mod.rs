//! What the operator's test files share: a sandbox with the operator's CRDs, a polling
//! helper, and settings with every component image set.
// Each test file uses a part of this module.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use kube_sandbox::{Config, Sandbox};
use serde_json::json;
use sriov_core::render::components::Images;
use sriov_core::testing::NAMESPACE;
use sriov_operator::operator::Settings;

/// A sandbox (controller stand-ins on or off) with the operator's CRDs, the Multus NAD CRD
/// and the operator namespace, plus `namespaces`.
pub(crate) fn sandbox(controllers: bool, namespaces: &[&str]) -> Sandbox {
    let sandbox = Sandbox::new(Config {
        controllers,
        ..Config::default()
    });
    for crd in sriov_core::crd::operator_crds()
        .into_iter()
        .chain([sriov_core::crd::network_attachment_definition_crd()])
    {
        sandbox
            .create(&serde_json::to_value(&crd).unwrap())
            .unwrap();
    }
    for ns in std::iter::once(&NAMESPACE).chain(namespaces) {
        sandbox
            .create(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
            .unwrap();
    }
    sandbox
}

/// Adds the default SriovOperatorConfig (empty spec).
pub(crate) fn default_config(sandbox: &Sandbox) {
    sandbox
        .create(
            &json!({"apiVersion": "sriovnetwork.openshift.io/v1", "kind": "SriovOperatorConfig",
            "metadata": {"name": "default", "namespace": NAMESPACE}, "spec": {}}),
        )
        .unwrap();
}

/// Every component image set (to placeholder names).
pub(crate) fn images() -> Images {
    Images {
        config_daemon: Some("daemon:1".into()),
        device_plugin: Some("dp:1".into()),
        sriov_cni: Some("cni:1".into()),
        ib_sriov_cni: Some("ib-cni:1".into()),
        injector: Some("injector:1".into()),
        webhook: Some("webhook:1".into()),
        ..Images::default()
    }
}

/// Default settings with every image set.
pub(crate) fn settings() -> Settings {
    let mut settings = Settings::default();
    settings.components.images = images();
    settings
}

/// Creates the PodDisruptionBudget `db` in `apps` (at least one `app: db` pod available,
/// so evicting the only one is refused); returns its API for the test to relax it.
pub(crate) async fn db_budget(
    client: &kube::Client,
) -> kube::Api<k8s_openapi::api::policy::v1::PodDisruptionBudget> {
    let pdbs = kube::Api::namespaced(client.clone(), "apps");
    pdbs.create(
        &kube::api::PostParams::default(),
        &serde_json::from_value(
            json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "db", "namespace": "apps"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "db"}}}}),
        )
        .unwrap(),
    )
    .await
    .unwrap();
    pdbs
}

/// Polls `check` until it holds (a convergence deadline of 10 s, not a performance bound).
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..500 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never happened: {what}");
}
