//! Golden tests of the objects the operator deploys for its SriovOperatorConfig
//! (`sriov_core::render::components`): each scenario renders to the committed snapshot, and
//! every manifest decodes into its k8s-openapi type with no field left over and
//! re-encodes to the same JSON (so a misspelt field cannot hide in a snapshot).
// Test set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used)]

use std::collections::BTreeMap;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::Service;
use serde_json::Value;
use sriov_core::api::{
    ConfigurationMode, PluginName, SriovOperatorConfig, SriovOperatorConfigSpec, gates,
};
use sriov_core::render::components::{
    ClusterType, ComponentSettings, Components, Images, Kind, render,
};

fn settings() -> ComponentSettings {
    ComponentSettings {
        images: Images {
            config_daemon: Some("quay.io/example/sriov-network-config-daemon:v1".into()),
            device_plugin: Some("quay.io/example/sriov-device-plugin:v1".into()),
            sriov_cni: Some("quay.io/example/sriov-cni:v1".into()),
            ib_sriov_cni: Some("quay.io/example/ib-sriov-cni:v1".into()),
            injector: Some("quay.io/example/network-resources-injector:v1".into()),
            webhook: Some("quay.io/example/sriov-network-webhook:v1".into()),
            ..Images::default()
        },
        ..ComponentSettings::default()
    }
}

fn config(spec: SriovOperatorConfigSpec) -> SriovOperatorConfig {
    let mut config = SriovOperatorConfig::new("default", spec);
    config.metadata.namespace = Some("sriov-network-operator".into());
    config.metadata.uid = Some("8c0ffee0-0000-4000-8000-000000000001".into());
    config
}

/// Decodes `object` as `T`, failing on any field `T` does not have, and checks that it
/// encodes back to the same JSON.
fn strict<T: serde::de::DeserializeOwned + serde::Serialize>(object: &Value) {
    let mut unknown = Vec::new();
    let typed: T = serde_ignored::deserialize(object.clone(), |path| {
        unknown.push(path.to_string());
    })
    .expect("decodes");
    assert!(unknown.is_empty(), "unknown fields {unknown:?} in {object}");
    let back = serde_json::to_value(&typed).expect("encodes");
    assert_eq!(&back, object, "re-encoded differently");
}

fn check_and_print(c: &Components) -> String {
    for m in &c.apply {
        assert_eq!(m.object["kind"], m.kind.as_str());
        assert_eq!(m.object["metadata"]["name"], m.name.as_str());
        match m.kind {
            Kind::DaemonSet => strict::<DaemonSet>(&m.object),
            Kind::Deployment => strict::<Deployment>(&m.object),
            Kind::Service => strict::<Service>(&m.object),
            Kind::MutatingWebhookConfiguration => strict::<MutatingWebhookConfiguration>(&m.object),
            Kind::ValidatingWebhookConfiguration => {
                strict::<ValidatingWebhookConfiguration>(&m.object)
            }
        }
    }
    let objects: Vec<&Value> = c.apply.iter().map(|m| &m.object).collect();
    let mut out = serde_saphyr::to_string(&objects).expect("YAML");
    for (kind, name) in &c.remove {
        out.push_str(&format!("# remove: {kind} {name}\n"));
    }
    for e in &c.errors {
        out.push_str(&format!("# error: {e}\n"));
    }
    for w in &c.warnings {
        out.push_str(&format!("# warning: {w}\n"));
    }
    out
}

#[test]
fn default_config() {
    let c = render(&config(SriovOperatorConfigSpec::default()), &settings());
    insta::assert_snapshot!("components-default", check_and_print(&c));
}

#[test]
fn everything_enabled() {
    let spec = SriovOperatorConfigSpec {
        enable_injector: Some(true),
        enable_operator_webhook: Some(true),
        config_daemon_node_selector: Some(BTreeMap::from([(
            "feature.node.kubernetes.io/network-sriov.capable".into(),
            "true".into(),
        )])),
        config_daemon_env_vars: Some(BTreeMap::from([("GOMAXPROCS".into(), "2".into())])),
        disable_plugins: Some(vec![PluginName::Mellanox]),
        use_cdi: Some(true),
        configuration_mode: Some(ConfigurationMode::Systemd),
        feature_gates: Some(BTreeMap::from([
            (gates::RESOURCE_INJECTOR_MATCH_CONDITION.into(), true),
            (gates::MANAGE_SOFTWARE_BRIDGES.into(), true),
            (gates::PARALLEL_NIC_CONFIG.into(), true),
        ])),
        ..SriovOperatorConfigSpec::default()
    };
    let mut s = settings();
    s.images.ovs_cni = Some("quay.io/example/ovs-cni:v1".into());
    s.images.rdma_cni = Some("quay.io/example/rdma-cni:v1".into());
    s.webhook_tls.operator_ca = Some(b"-----BEGIN CERTIFICATE-----\n".to_vec());
    s.webhook_tls.injector_ca = Some(b"-----BEGIN CERTIFICATE-----\n".to_vec());
    s.use_external_drainer = true;
    s.image_pull_secrets = vec!["registry-a".into()];
    s.release_version = Some("4.18.0".into());
    let c = render(&config(spec), &s);
    insta::assert_snapshot!("components-everything", check_and_print(&c));
}

#[test]
fn openshift_and_cert_manager_leave_the_ca_to_others() {
    let spec = SriovOperatorConfigSpec {
        enable_injector: Some(true),
        enable_operator_webhook: Some(true),
        ..SriovOperatorConfigSpec::default()
    };
    for (name, cluster, cert_manager) in [
        ("components-openshift", ClusterType::OpenShift, false),
        ("components-cert-manager", ClusterType::Kubernetes, true),
    ] {
        let mut s = settings();
        s.cluster_type = cluster;
        s.webhook_tls.cert_manager = cert_manager;
        s.webhook_tls.operator_ca = Some(b"never rendered".to_vec());
        let c = render(&config(spec.clone()), &s);
        let text = check_and_print(&c);
        assert!(!text.contains("caBundle"), "{name}");
        insta::assert_snapshot!(name, text);
    }
}

#[test]
fn missing_images() {
    let spec = SriovOperatorConfigSpec {
        enable_injector: Some(true),
        ..SriovOperatorConfigSpec::default()
    };
    let c = render(&config(spec), &ComponentSettings::default());
    insta::assert_snapshot!("components-missing-images", check_and_print(&c));
}
