//! Types shared by several kinds.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How messages name an object: `namespace/name`, `name` for a cluster-scoped object (no or
/// empty namespace), `<unnamed>` when it has no name.
pub fn object_name(namespace: Option<&str>, name: Option<&str>) -> String {
    match (namespace.filter(|ns| !ns.is_empty()), name) {
        (Some(ns), Some(name)) => format!("{ns}/{name}"),
        (None, Some(name)) => name.to_owned(),
        (_, None) => "<unnamed>".to_owned(),
    }
}

/// [`object_name`] of an object's metadata.
pub fn meta_name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    object_name(meta.namespace.as_deref(), meta.name.as_deref())
}

/// Status shared by the network kinds: standard Kubernetes conditions, of which `Ready` is
/// the one the operator writes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct NetworkStatus {
    /// Current conditions, keyed by `type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Option<Vec<Condition>>,
}

/// One aspect of an object's state, shaped like Kubernetes' `metav1.Condition` (same JSON
/// and the same schema validation as upstream's CRDs declare).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type in CamelCase, or `example.com/CamelCase`; the operator writes `Ready`.
    #[schemars(length(max = 316))]
    #[schemars(regex(
        pattern = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
    ))]
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: ConditionStatus,
    /// The `metadata.generation` the condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,
    /// When the status last changed.
    pub last_transition_time: Time,
    /// Machine-readable CamelCase reason for the last transition.
    #[schemars(length(min = 1, max = 1024))]
    #[schemars(regex(pattern = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"))]
    pub reason: String,
    /// Human-readable details; may be empty.
    #[schemars(length(max = 32768))]
    pub message: String,
}

/// Status of a [`Condition`].
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Not known yet.
    Unknown,
}

/// Which RDMA subsystem namespace mode a node runs in.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum RdmaMode {
    /// RDMA devices are visible in every network namespace.
    #[serde(rename = "shared")]
    Shared,
    /// Each RDMA device is visible only in the network namespace it was moved to.
    #[serde(rename = "exclusive")]
    Exclusive,
}

impl RdmaMode {
    /// The API's spelling: `shared` or `exclusive`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shared => "shared",
            Self::Exclusive => "exclusive",
        }
    }
}

/// What OVS does when it loses its controller (OVSDB `Bridge.fail_mode`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum OvsFailMode {
    /// Drop traffic that no flow matches.
    #[serde(rename = "secure")]
    Secure,
    /// Act as a learning switch.
    #[serde(rename = "standalone")]
    Standalone,
}

/// Settings for an OVS bridge row (OVSDB `Bridge` table).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OvsBridgeConfig {
    /// `Bridge.datapath_type`, e.g. `netdev` or `system`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datapath_type: Option<String>,
    /// `Bridge.external_ids`.
    #[serde(
        default,
        rename = "externalIDs",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_ids: Option<BTreeMap<String, String>>,
    /// `Bridge.other_config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_config: Option<BTreeMap<String, String>>,
    /// `Bridge.fail_mode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_mode: Option<OvsFailMode>,
}

/// Settings for the OVS interface row of a bridge uplink (OVSDB `Interface` table).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OvsInterfaceConfig {
    /// `Interface.type`, e.g. `dpdk`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// `Interface.options`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<BTreeMap<String, String>>,
    /// `Interface.external_ids`.
    #[serde(
        default,
        rename = "externalIDs",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_ids: Option<BTreeMap<String, String>>,
    /// `Interface.other_config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_config: Option<BTreeMap<String, String>>,
    /// `Interface.mtu_request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu_request: Option<i32>,
}

impl Condition {
    /// A condition of `type_` computed from `generation`, changed at `now`.
    pub fn new(
        type_: &str,
        holds: bool,
        reason: &str,
        message: &str,
        generation: Option<i64>,
        now: Time,
    ) -> Self {
        Self {
            type_: type_.to_owned(),
            status: if holds {
                ConditionStatus::True
            } else {
                ConditionStatus::False
            },
            observed_generation: generation,
            last_transition_time: now,
            reason: reason.to_owned(),
            message: message.to_owned(),
        }
    }
}

/// `conditions` with `condition` set (replacing the one of its type), or `None` when the
/// stored one already says the same (status, reason, message and generation), so callers
/// write status only on change. The transition time moves only when the status does.
pub fn set_condition(conditions: &[Condition], mut condition: Condition) -> Option<Vec<Condition>> {
    let current = conditions.iter().find(|c| c.type_ == condition.type_);
    if let Some(current) = current {
        if current.status == condition.status
            && current.reason == condition.reason
            && current.message == condition.message
            && current.observed_generation == condition.observed_generation
        {
            return None;
        }
        if current.status == condition.status {
            condition.last_transition_time = current.last_transition_time.clone();
        }
    }
    let mut out: Vec<Condition> = conditions
        .iter()
        .filter(|c| c.type_ != condition.type_)
        .cloned()
        .collect();
    out.push(condition);
    out.sort_by(|a, b| a.type_.cmp(&b.type_));
    Some(out)
}

#[cfg(test)]
mod condition_tests {
    use super::*;

    fn at(seconds: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(seconds).unwrap_or_default())
    }

    #[test]
    fn set_condition_writes_only_changes_and_keeps_the_transition_time() {
        let first = set_condition(
            &[],
            Condition::new("Ready", true, "Ok", "", Some(1), at(10)),
        );
        let first = first.unwrap_or_default();
        assert_eq!(first.len(), 1);
        let same = Condition::new("Ready", true, "Ok", "", Some(1), at(20));
        assert_eq!(set_condition(&first, same), None);
        let newer = set_condition(
            &first,
            Condition::new("Ready", true, "Ok", "", Some(2), at(30)),
        )
        .unwrap_or_default();
        assert_eq!(newer[0].last_transition_time, at(10), "status unchanged");
        let other = set_condition(
            &newer,
            Condition::new("Degraded", false, "No", "", None, at(40)),
        )
        .unwrap_or_default();
        assert_eq!(other.len(), 2);
        let flipped = set_condition(
            &other,
            Condition::new("Ready", false, "Bad", "x", Some(2), at(50)),
        )
        .unwrap_or_default();
        assert_eq!(flipped[1].last_transition_time, at(50));
        assert_eq!(flipped[0].type_, "Degraded");
    }
}
