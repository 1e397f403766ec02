//! The operator's settings: upstream's environment variables, with upstream's defaults.

use std::time::Duration;

use sriov_core::render::components::{ClusterType, ComponentSettings, Images, WebhookTls};

/// What the controllers need to know about their deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `NAMESPACE`: where policies, node states, pool configs and the operator config live.
    pub namespace: String,
    /// `RESOURCE_PREFIX`: the device plugin's resource-name prefix (`openshift.io`).
    pub resource_prefix: String,
    /// `STALE_NODE_STATE_CLEANUP_DELAY_MINUTES`: how long a node state outlives its node.
    pub stale_delay: Duration,
    /// How long triggers are gathered before one policy sync runs (upstream: 1 s).
    pub debounce: Duration,
    /// How often the policy sync runs with no trigger (upstream: 5 min).
    pub resync: Duration,
    /// The field manager of every write.
    pub field_manager: String,
    /// How often the drain controller looks again while a drain is in progress or waits
    /// for its pool (upstream: 5 s).
    pub drain_retry: Duration,
    /// How long a drain may take before it is reported as blocked (`DrainBlocked` on the
    /// node state, and an event); it keeps trying (upstream's per-attempt timeout: 90 s).
    pub drain_timeout: Duration,
    /// What the operator-config controller renders its DaemonSets and webhooks with
    /// (images, `CLUSTER_TYPE`, certificates); its namespace and resource prefix are the
    /// two above.
    pub components: ComponentSettings,
    /// The logger the operator config's `logLevel` is applied to (the binary passes its
    /// own; none by default, and then `logLevel` changes nothing).
    pub log_level: sriov_hw::process::LogLevel,
}

/// The field manager the operator's writes are recorded under.
pub const FIELD_MANAGER: &str = "sriov-network-operator";

/// Default of [`Settings::drain_retry`].
pub const DRAIN_RETRY: Duration = Duration::from_secs(5);
/// Default of [`Settings::drain_timeout`].
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(90);

/// The environment variables the operator reads, for `--help`.
pub const VARIABLES: &str = "\
NAMESPACE (default sriov-network-operator), RESOURCE_PREFIX (default openshift.io), \
CLUSTER_TYPE (kubernetes or openshift), STALE_NODE_STATE_CLEANUP_DELAY_MINUTES (default 30; \
0 deletes at once), the images SRIOV_NETWORK_CONFIG_DAEMON_IMAGE, SRIOV_DEVICE_PLUGIN_IMAGE, \
SRIOV_CNI_IMAGE, SRIOV_INFINIBAND_CNI_IMAGE, NETWORK_RESOURCES_INJECTOR_IMAGE, \
SRIOV_NETWORK_WEBHOOK_IMAGE, OVS_CNI_IMAGE and RDMA_CNI_IMAGE (optional), SRIOV_CNI_BIN_PATH \
(default /var/lib/cni/bin), DEV_MODE, USE_EXTERNAL_DRAINER, IMAGE_PULL_SECRETS (comma-separated), \
RELEASEVERSION, ADMISSION_CONTROLLERS_CERTIFICATES_CERT_MANAGER_ENABLED, \
ADMISSION_CONTROLLERS_CERTIFICATES_{OPERATOR,INJECTOR}_SECRET_NAME and \
ADMISSION_CONTROLLERS_CERTIFICATES_{OPERATOR,INJECTOR}_CA_CRT (base64 PEM).";

fn truthy(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

fn base64_ca(name: &str, value: Option<String>) -> Result<Option<Vec<u8>>, String> {
    let Some(text) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    // k8s-openapi's ByteString reads standard base64, as the API server does.
    serde_json::from_value::<k8s_openapi::ByteString>(serde_json::Value::String(
        text.trim().to_owned(),
    ))
    .map(|b| Some(b.0))
    .map_err(|e| format!("{name}: not base64 ({e})"))
}

impl Settings {
    /// Reads the settings through `var` (the process environment in the binary). Fails,
    /// naming the variable, on a `CLUSTER_TYPE` or CA certificate that cannot be read.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let text = |name: &str, default: &str| {
            var(name)
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        let optional = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let namespace = text("NAMESPACE", sriov_core::api::DEFAULT_OPERATOR_NAMESPACE);
        let resource_prefix = text("RESOURCE_PREFIX", "openshift.io");
        let defaults = WebhookTls::default();
        let components = ComponentSettings {
            namespace: namespace.clone(),
            resource_prefix: resource_prefix.clone(),
            cluster_type: ClusterType::parse(&text("CLUSTER_TYPE", ""))?,
            images: Images {
                config_daemon: optional("SRIOV_NETWORK_CONFIG_DAEMON_IMAGE"),
                device_plugin: optional("SRIOV_DEVICE_PLUGIN_IMAGE"),
                sriov_cni: optional("SRIOV_CNI_IMAGE"),
                ib_sriov_cni: optional("SRIOV_INFINIBAND_CNI_IMAGE"),
                ovs_cni: optional("OVS_CNI_IMAGE"),
                rdma_cni: optional("RDMA_CNI_IMAGE"),
                injector: optional("NETWORK_RESOURCES_INJECTOR_IMAGE"),
                webhook: optional("SRIOV_NETWORK_WEBHOOK_IMAGE"),
            },
            cni_bin_path: text("SRIOV_CNI_BIN_PATH", "/var/lib/cni/bin"),
            dev_mode: truthy(var("DEV_MODE").as_deref()),
            use_external_drainer: truthy(var("USE_EXTERNAL_DRAINER").as_deref()),
            image_pull_secrets: optional("IMAGE_PULL_SECRETS")
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            release_version: optional("RELEASEVERSION"),
            webhook_tls: WebhookTls {
                cert_manager: truthy(
                    var("ADMISSION_CONTROLLERS_CERTIFICATES_CERT_MANAGER_ENABLED").as_deref(),
                ),
                operator_secret: text(
                    "ADMISSION_CONTROLLERS_CERTIFICATES_OPERATOR_SECRET_NAME",
                    &defaults.operator_secret,
                ),
                injector_secret: text(
                    "ADMISSION_CONTROLLERS_CERTIFICATES_INJECTOR_SECRET_NAME",
                    &defaults.injector_secret,
                ),
                operator_ca: base64_ca(
                    "ADMISSION_CONTROLLERS_CERTIFICATES_OPERATOR_CA_CRT",
                    var("ADMISSION_CONTROLLERS_CERTIFICATES_OPERATOR_CA_CRT"),
                )?,
                injector_ca: base64_ca(
                    "ADMISSION_CONTROLLERS_CERTIFICATES_INJECTOR_CA_CRT",
                    var("ADMISSION_CONTROLLERS_CERTIFICATES_INJECTOR_CA_CRT"),
                )?,
            },
        };
        Ok(Self {
            namespace,
            resource_prefix,
            stale_delay: sriov_core::render::stale::cleanup_delay(
                var("STALE_NODE_STATE_CLEANUP_DELAY_MINUTES").as_deref(),
            ),
            debounce: Duration::from_secs(1),
            resync: Duration::from_secs(5 * 60),
            field_manager: FIELD_MANAGER.to_owned(),
            drain_retry: DRAIN_RETRY,
            drain_timeout: DRAIN_TIMEOUT,
            components,
            log_level: sriov_hw::process::LogLevel::default(),
        })
    }
}

/// Values of the environment that are accepted but probably not what was meant, one
/// message each naming the variable (the binary logs them at start): a cleanup delay that
/// is not a whole number of minutes (30 is used, as upstream does), a `DEV_MODE` or
/// `USE_EXTERNAL_DRAINER` that is neither true nor false (read as false), and a
/// `RESOURCE_PREFIX` that is not a DNS subdomain (the device plugin's resources would be
/// refused by the kubelet).
pub fn env_warnings(var: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(delay) =
        var("STALE_NODE_STATE_CLEANUP_DELAY_MINUTES").filter(|v| !v.trim().is_empty())
        && delay.trim().parse::<u64>().is_err()
    {
        out.push(format!(
            "STALE_NODE_STATE_CLEANUP_DELAY_MINUTES={delay:?} is not a whole number of minutes; using 30"
        ));
    }
    for name in ["DEV_MODE", "USE_EXTERNAL_DRAINER"] {
        if let Some(value) = var(name).filter(|v| !v.trim().is_empty()) {
            let known = ["true", "false"]
                .iter()
                .any(|k| value.trim().eq_ignore_ascii_case(k));
            if !known {
                out.push(format!(
                    "{name}={value:?} is neither true nor false; read as false"
                ));
            }
        }
    }
    if let Some(prefix) = var("RESOURCE_PREFIX").filter(|v| !v.trim().is_empty()) {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if prefix.len() > 253 || !prefix.split('.').all(label_ok) {
            out.push(format!(
                "RESOURCE_PREFIX={prefix:?} is not a DNS subdomain (lower-case letters, digits, '-' and '.'); the kubelet will refuse the device plugin's resource names"
            ));
        }
    }
    out
}

impl Default for Settings {
    /// Upstream's defaults, with no images (the operator config then reports which image
    /// variables are missing instead of deploying components).
    fn default() -> Self {
        let components = ComponentSettings::default();
        Self {
            namespace: components.namespace.clone(),
            resource_prefix: components.resource_prefix.clone(),
            stale_delay: sriov_core::render::stale::cleanup_delay(None),
            debounce: Duration::from_secs(1),
            resync: Duration::from_secs(5 * 60),
            field_manager: FIELD_MANAGER.to_owned(),
            drain_retry: DRAIN_RETRY,
            drain_timeout: DRAIN_TIMEOUT,
            components,
            log_level: sriov_hw::process::LogLevel::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_variables_take_upstreams_defaults() {
        let settings = Settings::default();
        assert_eq!(settings.namespace, "sriov-network-operator");
        assert_eq!(settings.resource_prefix, "openshift.io");
        assert_eq!(settings.stale_delay, Duration::from_secs(1800));
        assert_eq!(Settings::from_env(|_| None), Ok(settings));
        let custom = Settings::from_env(|name| match name {
            "NAMESPACE" => Some("sriov".into()),
            "STALE_NODE_STATE_CLEANUP_DELAY_MINUTES" => Some("0".into()),
            "CLUSTER_TYPE" => Some("openshift".into()),
            "SRIOV_CNI_IMAGE" => Some("cni:1".into()),
            "IMAGE_PULL_SECRETS" => Some("a, b,".into()),
            "ADMISSION_CONTROLLERS_CERTIFICATES_OPERATOR_CA_CRT" => Some("Y2EK".into()),
            _ => None,
        });
        let custom = custom.unwrap_or_default();
        assert_eq!(custom.namespace, "sriov");
        assert_eq!(custom.components.namespace, "sriov");
        assert_eq!(custom.stale_delay, Duration::ZERO);
        assert_eq!(custom.components.cluster_type, ClusterType::OpenShift);
        assert_eq!(custom.components.images.sriov_cni.as_deref(), Some("cni:1"));
        assert_eq!(custom.components.image_pull_secrets, ["a", "b"]);
        assert_eq!(
            custom.components.webhook_tls.operator_ca.as_deref(),
            Some(&b"ca\n"[..])
        );
    }

    #[test]
    fn doubtful_values_are_warned_about() {
        let warnings = env_warnings(|name| match name {
            "STALE_NODE_STATE_CLEANUP_DELAY_MINUTES" => Some("abc".into()),
            "DEV_MODE" => Some("maybe".into()),
            "USE_EXTERNAL_DRAINER" => Some("TRUE".into()),
            "RESOURCE_PREFIX" => Some("bad prefix!".into()),
            _ => None,
        });
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].starts_with("STALE_NODE_STATE_CLEANUP_DELAY_MINUTES=\"abc\""));
        assert!(warnings[1].starts_with("DEV_MODE=\"maybe\""));
        assert!(warnings[2].starts_with("RESOURCE_PREFIX=\"bad prefix!\""));
        assert!(
            env_warnings(|name| (name == "RESOURCE_PREFIX").then(|| "example.com".into()))
                .is_empty()
        );
        assert!(env_warnings(|_| None).is_empty());
    }

    #[test]
    fn unreadable_variables_are_named() {
        let bad_type = Settings::from_env(|n| (n == "CLUSTER_TYPE").then(|| "k3s".into()));
        assert!(bad_type.is_err_and(|e| e.contains("CLUSTER_TYPE")));
        let bad_ca = Settings::from_env(|n| {
            (n == "ADMISSION_CONTROLLERS_CERTIFICATES_INJECTOR_CA_CRT").then(|| "***".into())
        });
        assert!(bad_ca.is_err_and(|e| e.contains("INJECTOR_CA_CRT: not base64")));
    }
}
