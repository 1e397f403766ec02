//! The mutating webhook's defaults for policies, as pure functions: `priority: 99`,
//! `isRdma: false`, and `isRdma: true` for InfiniBand links (rules M1 to M5 in
//! `docs/rules.md`), and the JSON patch that applies them. The validating rules are in
//! [`crate::validate`].

use serde::Serialize;
use serde_json::{Value, json};

use crate::api::{DeviceType, SriovNetworkNodePolicy};
use crate::policy::IGNORED_POLICY_NAME;

/// Priority the webhook gives a policy that has none.
pub const DEFAULT_PRIORITY: i32 = 99;

/// One JSON Patch (RFC 6902) operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchOp {
    /// Always `add` for the defaults.
    pub op: &'static str,
    /// JSON pointer of the field.
    pub path: &'static str,
    /// The value to add.
    pub value: Value,
}

/// The patch the mutating webhook returns for a policy, given the object as JSON.
///
/// M1: a policy named `default` is left alone. M2: so is one without an object `spec`.
/// M3: a missing `priority` becomes 99. M4: a missing `isRdma` becomes `false`.
/// M5: an InfiniBand `linkType` (any case) without `deviceType: vfio-pci` sets `isRdma: true`
/// (after M4, so it wins, even over a user's `isRdma: false`, as upstream does).
pub fn policy_defaults(policy: &Value) -> Vec<PatchOp> {
    let mut ops = Vec::new();
    if policy.pointer("/metadata/name").and_then(Value::as_str) == Some(IGNORED_POLICY_NAME) {
        return ops;
    }
    let Some(spec) = policy.get("spec").and_then(Value::as_object) else {
        return ops;
    };
    if !spec.contains_key("priority") {
        ops.push(PatchOp {
            op: "add",
            path: "/spec/priority",
            value: json!(DEFAULT_PRIORITY),
        });
    }
    if !spec.contains_key("isRdma") {
        ops.push(PatchOp {
            op: "add",
            path: "/spec/isRdma",
            value: json!(false),
        });
    }
    let text = |key: &str| spec.get(key).and_then(Value::as_str).unwrap_or_default();
    if text("linkType").eq_ignore_ascii_case("ib")
        && !text("deviceType").eq_ignore_ascii_case("vfio-pci")
    {
        ops.push(PatchOp {
            op: "add",
            path: "/spec/isRdma",
            value: json!(true),
        });
    }
    ops
}

/// [`policy_defaults`] applied to a typed policy, for offline tools that mimic what the
/// cluster would store.
pub fn apply_policy_defaults(policy: &mut SriovNetworkNodePolicy) {
    if policy.metadata.name.as_deref() == Some(IGNORED_POLICY_NAME) {
        return;
    }
    let spec = &mut policy.spec;
    spec.priority.get_or_insert(DEFAULT_PRIORITY);
    spec.is_rdma.get_or_insert(false);
    if spec.link_type.is_some_and(|l| l.is_infiniband())
        && spec.device_type != Some(DeviceType::VfioPci)
    {
        spec.is_rdma = Some(true);
    }
}

/// The defaults the API server applies from the CRD schemas (`deviceType: netdevice` on
/// policies, `logLevel: info` on SriovNetworks), for offline tools.
pub mod crd_defaults {
    use crate::api::{CniLogLevel, DeviceType, SriovNetwork, SriovNetworkNodePolicy};

    /// Sets a missing `deviceType` to `netdevice`.
    pub fn policy(policy: &mut SriovNetworkNodePolicy) {
        policy.spec.device_type.get_or_insert(DeviceType::Netdevice);
    }

    /// Sets a missing `logLevel` to `info`.
    pub fn sriov_network(network: &mut SriovNetwork) {
        network.spec.log_level.get_or_insert(CniLogLevel::Info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{LinkType, SriovNetworkNodePolicySpec};

    fn paths(policy: Value) -> Vec<(String, Value)> {
        policy_defaults(&policy)
            .into_iter()
            .map(|op| (op.path.to_owned(), op.value))
            .collect()
    }

    #[test]
    fn missing_priority_and_isrdma_are_added() {
        assert_eq!(
            paths(json!({"metadata": {"name": "p"}, "spec": {"numVfs": 1}})),
            [
                ("/spec/priority".to_owned(), json!(99)),
                ("/spec/isRdma".to_owned(), json!(false))
            ]
        );
        assert!(
            paths(json!({"metadata": {"name": "p"}, "spec": {"priority": 5, "isRdma": false}}))
                .is_empty()
        );
    }

    #[test]
    fn the_default_policy_and_specless_objects_are_not_patched() {
        assert!(paths(json!({"metadata": {"name": "default"}, "spec": {}})).is_empty());
        assert!(paths(json!({"metadata": {"name": "p"}})).is_empty());
        assert!(paths(json!({"metadata": {"name": "p"}, "spec": 3})).is_empty());
    }

    #[test]
    fn infiniband_without_vfio_forces_rdma_even_over_false() {
        let ops = paths(
            json!({"metadata": {"name": "p"}, "spec": {"priority": 1, "isRdma": false, "linkType": "Ib"}}),
        );
        assert_eq!(ops, [("/spec/isRdma".to_owned(), json!(true))]);
        let vfio = paths(
            json!({"metadata": {"name": "p"}, "spec": {"priority": 1, "isRdma": false, "linkType": "IB", "deviceType": "VFIO-PCI"}}),
        );
        assert!(vfio.is_empty());
    }

    #[test]
    fn the_typed_defaults_agree_with_the_patch() {
        let mut policy = SriovNetworkNodePolicy::new(
            "p",
            SriovNetworkNodePolicySpec {
                link_type: Some(LinkType::IbUpper),
                ..Default::default()
            },
        );
        apply_policy_defaults(&mut policy);
        assert_eq!(
            (policy.spec.priority, policy.spec.is_rdma),
            (Some(99), Some(true))
        );
    }
}
