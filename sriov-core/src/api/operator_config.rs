//! `SriovOperatorConfig`: operator-wide settings; only the object named `default` in the
//! operator namespace is used.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Condition;

/// The name of the one SriovOperatorConfig the operator reads (in its namespace).
pub const OPERATOR_CONFIG_NAME: &str = "default";

/// Operator-wide settings.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "sriovnetwork.openshift.io",
    version = "v1",
    kind = "SriovOperatorConfig",
    plural = "sriovoperatorconfigs",
    singular = "sriovoperatorconfig",
    namespaced,
    status = "SriovOperatorConfigStatus",
    derive = "PartialEq",
    derive = "Default",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    doc = "Operator-wide settings. Only the object named default in the operator namespace is used."
)]
#[serde(rename_all = "camelCase")]
pub struct SriovOperatorConfigSpec {
    /// Nodes that run the config daemon and device plugin and get a node state. Defaults to
    /// Linux worker nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_daemon_node_selector: Option<BTreeMap<String, String>>,
    /// Deploy the network-resources-injector webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_injector: Option<bool>,
    /// Deploy the operator's admission webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_operator_webhook: Option<bool>,
    /// Log verbosity of the operator and daemons, 0 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 2))]
    pub log_level: Option<i32>,
    /// Skip draining nodes before reconfiguring them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_drain: Option<bool>,
    /// Declared for compatibility; has no effect (as upstream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_ovs_offload: Option<bool>,
    /// How the config daemon applies configuration: as a daemon or through systemd.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration_mode: Option<ConfigurationMode>,
    /// Make the device plugin use the Container Device Interface.
    #[serde(default, rename = "useCDI", skip_serializing_if = "Option::is_none")]
    pub use_cdi: Option<bool>,
    /// Vendor plugins the config daemon must not load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_plugins: Option<Vec<PluginName>>,
    /// Feature gates, merged over the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_gates: Option<BTreeMap<String, bool>>,
    /// Extra environment variables for the config daemon container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_daemon_env_vars: Option<BTreeMap<String, String>>,
}

/// How the config daemon applies configuration.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum ConfigurationMode {
    /// The daemon configures the host directly (the default).
    #[serde(rename = "daemon")]
    Daemon,
    /// A systemd service configures the host at boot.
    #[serde(rename = "systemd")]
    Systemd,
}

/// A config-daemon vendor plugin that can be disabled.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum PluginName {
    /// The Mellanox firmware plugin.
    #[serde(rename = "mellanox")]
    Mellanox,
}

/// Observed state of the operator configuration.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SriovOperatorConfigStatus {
    /// Current conditions, keyed by `type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Option<Vec<Condition>>,
    /// Injector deployment state (declared for compatibility; not written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub injector: Option<String>,
    /// Webhook deployment state (declared for compatibility; not written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_webhook: Option<String>,
}
