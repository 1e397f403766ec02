//! The operator's settings: upstream's environment variables, with upstream's defaults.

use std::time::Duration;

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
}

/// The field manager the operator's writes are recorded under.
pub const FIELD_MANAGER: &str = "sriov-network-operator";

impl Settings {
    /// Reads the settings through `var` (the process environment in the binary).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Self {
        let text = |name: &str, default: &str| {
            var(name)
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        Self {
            namespace: text("NAMESPACE", crate::ctl::DEFAULT_NAMESPACE),
            resource_prefix: text("RESOURCE_PREFIX", "openshift.io"),
            stale_delay: sriov_core::render::stale::cleanup_delay(
                var("STALE_NODE_STATE_CLEANUP_DELAY_MINUTES").as_deref(),
            ),
            debounce: Duration::from_secs(1),
            resync: Duration::from_secs(5 * 60),
            field_manager: FIELD_MANAGER.to_owned(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self::from_env(|_| None)
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
        let custom = Settings::from_env(|name| match name {
            "NAMESPACE" => Some("sriov".into()),
            "STALE_NODE_STATE_CLEANUP_DELAY_MINUTES" => Some("0".into()),
            _ => None,
        });
        assert_eq!(custom.namespace, "sriov");
        assert_eq!(custom.stale_delay, Duration::ZERO);
    }
}
