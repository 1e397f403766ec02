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

/// Feature gates with upstream's names and defaults.
pub mod gates {
    /// Configure a node's PFs in parallel (config daemon flag `--parallel-nic-config`).
    pub const PARALLEL_NIC_CONFIG: &str = "parallelNicConfig";
    /// The injector's webhook fails closed, but only for pods naming networks.
    pub const RESOURCE_INJECTOR_MATCH_CONDITION: &str = "resourceInjectorMatchCondition";
    /// Deploy the metrics exporter.
    pub const METRICS_EXPORTER: &str = "metricsExporter";
    /// Manage OVS bridges from policies.
    pub const MANAGE_SOFTWARE_BRIDGES: &str = "manageSoftwareBridges";
    /// The device plugin waits for its node's configuration before it starts.
    pub const BLOCK_DEVICE_PLUGIN_UNTIL_CONFIGURED: &str = "blockDevicePluginUntilConfigured";
    /// Reset Mellanox firmware after changing it.
    pub const MELLANOX_FIRMWARE_RESET: &str = "mellanoxFirmwareReset";

    /// Every known gate with its default, as upstream sets them.
    pub const DEFAULTS: [(&str, bool); 6] = [
        (PARALLEL_NIC_CONFIG, false),
        (RESOURCE_INJECTOR_MATCH_CONDITION, false),
        (METRICS_EXPORTER, false),
        (MANAGE_SOFTWARE_BRIDGES, false),
        (BLOCK_DEVICE_PLUGIN_UNTIL_CONFIGURED, true),
        (MELLANOX_FIRMWARE_RESET, true),
    ];
}

/// The feature gates in effect: the user's values over [`gates::DEFAULTS`]. A gate nobody
/// knows reads as off (upstream keeps it too, and it never turns anything on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureGates(BTreeMap<String, bool>);

impl FeatureGates {
    /// The gates of an operator config's `spec.featureGates`.
    pub fn new(spec: Option<&BTreeMap<String, bool>>) -> Self {
        let mut gates: BTreeMap<String, bool> = gates::DEFAULTS
            .iter()
            .map(|(name, on)| ((*name).to_owned(), *on))
            .collect();
        gates.extend(spec.into_iter().flatten().map(|(k, v)| (k.clone(), *v)));
        Self(gates)
    }

    /// The gates an operator config sets (defaults when there is no config).
    pub fn of(config: Option<&SriovOperatorConfig>) -> Self {
        Self::new(config.and_then(|c| c.spec.feature_gates.as_ref()))
    }

    /// Whether `gate` is on.
    pub fn enabled(&self, gate: &str) -> bool {
        self.0.get(gate).copied().unwrap_or(false)
    }

    /// Gates set that no version of the operator knows (likely misspelt).
    pub fn unknown(&self) -> impl Iterator<Item = &str> {
        self.0
            .keys()
            .map(String::as_str)
            .filter(|k| !gates::DEFAULTS.iter().any(|(name, _)| name == k))
    }
}
