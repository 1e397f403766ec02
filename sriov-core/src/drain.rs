//! Drain coordination as pure decisions, as upstream makes them: which pool a node is in,
//! how many of the pool's nodes may be unavailable at once, which of the nodes asking to
//! drain may start now ([`schedule`]), what the drain controller does for one node given
//! its request and drain state ([`next_step`]), and which of its pods a drain evicts
//! ([`pods_to_evict`]).
//!
//! The hand-shake, through annotations: the config daemon asks on its Node
//! (`sriovnetwork.openshift.io/state`: `Idle`, `Drain_Required`, `Reboot_Required`, see
//! [`Request`]) and mirrors the request on its node state (`desired-state`); the drain
//! controller answers on the node state (`current-state`: `Idle`, `Draining`,
//! `DrainComplete`, see [`CurrentState`]).
//!
//! Beyond upstream: a percentage that rounds down to zero for the pool's size (30 % of a
//! 3-node pool) would block that pool forever; [`schedule`] reports it as a warning.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

use crate::api::NodeView;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::api::SriovNetworkPoolConfig;
use crate::pool_config;

/// The warning for a pool whose `maxUnavailable` (resolved to `limit` for its `size`
/// nodes) lets none of them drain: `None` when some may, or the pool is empty.
pub fn never_drains(limit: Option<usize>, size: usize) -> Option<String> {
    (limit == Some(0) && size > 0).then(|| {
        format!(
            "maxUnavailable allows 0 of the {size} node(s) this pool selects to drain; none of them can ever be reconfigured"
        )
    })
}

/// How many nodes of a pool of `pool_size` may be unavailable at once: `None` for no limit
/// (no `maxUnavailable`), otherwise the integer, or the percentage of the pool rounded down.
pub fn max_unavailable(
    value: Option<&IntOrString>,
    pool_size: usize,
) -> std::result::Result<Option<usize>, String> {
    match value {
        None => Ok(None),
        Some(IntOrString::Int(n)) => usize::try_from(*n)
            .map(Some)
            .map_err(|_| format!("negative value {n} is not allowed")),
        Some(IntOrString::String(text)) => {
            let Some(number) = text.strip_suffix('%') else {
                return Err(format!("strings needs to be a percentage, not {text:?}"));
            };
            let percent: usize = number
                .parse()
                .map_err(|_| format!("{text:?} is not a whole-number percentage"))?;
            if !(1..=100).contains(&percent) {
                return Err(format!("percentage {text} is outside 1%..100%"));
            }
            Ok(Some(pool_size * percent / 100))
        }
    }
}

/// The drain state a node's SriovNetworkNodeState reports (`current-state` annotation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurrentState {
    /// Not draining.
    Idle,
    /// Being drained.
    Draining,
    /// Drained, being configured.
    DrainComplete,
}

impl CurrentState {
    /// The annotation value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "Idle",
            Self::Draining => "Draining",
            Self::DrainComplete => "DrainComplete",
        }
    }

    /// Reads the annotation value (`None` for anything else).
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Idle, Self::Draining, Self::DrainComplete]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// Annotation on the Node where its config daemon asks for a drain.
pub const NODE_STATE_ANNOTATION: &str = "sriovnetwork.openshift.io/state";

/// What a node's config daemon asks for (the Node's `sriovnetwork.openshift.io/state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Nothing: the node is not being reconfigured (or is done).
    Idle,
    /// Evict the pods using SR-IOV resources, then the daemon reconfigures.
    DrainRequired,
    /// Evict every pod: the daemon reboots the node.
    RebootRequired,
}

impl Request {
    /// The annotation value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "Idle",
            Self::DrainRequired => "Drain_Required",
            Self::RebootRequired => "Reboot_Required",
        }
    }

    /// Reads the annotation value (`None` for anything else).
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Idle, Self::DrainRequired, Self::RebootRequired]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// What the drain controller does next for one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing: idle, or drained and waiting for the daemon.
    Nothing,
    /// The request was withdrawn: uncordon, then `current-state` back to `Idle`.
    Complete,
    /// Ask the node's pool for a slot, then set `Draining`.
    Start,
    /// Keep draining (cordon, evict; `full` evicts every pod, not only SR-IOV ones).
    Drain {
        /// `Reboot_Required`: every evictable pod goes.
        full: bool,
    },
    /// The annotations hold values no version of the hand-shake writes.
    Invalid(String),
}

/// The drain controller's decision for a node from its request (the Node's annotation) and
/// its drain state (the node state's `current-state`). A missing annotation reads as
/// `Idle` (upstream writes `Idle` into every missing one first: at 10,000 nodes that is
/// 20,000 writes before anything can happen).
pub fn next_step(request: Option<&str>, current: Option<&str>) -> Step {
    let request_text = request.unwrap_or(Request::Idle.as_str());
    let current_text = current.unwrap_or(CurrentState::Idle.as_str());
    let Some(request) = Request::parse(request_text) else {
        return Step::Invalid(format!(
            "node annotation {NODE_STATE_ANNOTATION}={request_text:?} is none of Idle, Drain_Required, Reboot_Required"
        ));
    };
    let Some(current) = CurrentState::parse(current_text) else {
        return Step::Invalid(format!(
            "node state annotation {}={current_text:?} is none of Idle, Draining, DrainComplete",
            crate::api::CURRENT_STATE_ANNOTATION
        ));
    };
    match (request, current) {
        (Request::Idle, CurrentState::Idle) => Step::Nothing,
        (Request::Idle, _) => Step::Complete,
        (_, CurrentState::DrainComplete) => Step::Nothing,
        (_, CurrentState::Idle) => Step::Start,
        (request, CurrentState::Draining) => Step::Drain {
            full: request == Request::RebootRequired,
        },
    }
}

/// Why a pod stays on a draining node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Run by a DaemonSet (it would come back at once; kubectl drain ignores them too).
    DaemonSet,
    /// A static pod's mirror (the kubelet owns it; evicting it does nothing).
    Mirror,
    /// One the drain would evict, already terminating: waited for, not evicted again.
    Terminating,
    /// A partial drain, and the pod uses no SR-IOV resource.
    NoSriovResource,
}

fn uses_prefix(pod: &Pod, prefix: &str) -> bool {
    let Some(spec) = &pod.spec else {
        return false;
    };
    let wanted = format!("{prefix}/");
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .filter_map(|c| c.resources.as_ref())
        .flat_map(|r| r.requests.iter().flatten().chain(r.limits.iter().flatten()))
        .any(|(name, _)| name.starts_with(&wanted))
}

/// Whether a drain evicts `pod` (`Ok`), or why not. A partial drain (`full` false, for
/// `Drain_Required`) evicts only pods whose containers (or init containers) request or
/// limit a resource named `<resource_prefix>/…`; a full drain every pod but DaemonSet pods
/// and mirror pods.
pub fn eviction(pod: &Pod, resource_prefix: &str, full: bool) -> Result<(), Skip> {
    let meta = &pod.metadata;
    if meta
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "DaemonSet" && o.controller == Some(true))
    {
        return Err(Skip::DaemonSet);
    }
    if meta
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"))
    {
        return Err(Skip::Mirror);
    }
    if !full && !uses_prefix(pod, resource_prefix) {
        return Err(Skip::NoSriovResource);
    }
    // Last, so `Terminating` means: the drain would evict it, and it is already going.
    if meta.deletion_timestamp.is_some() {
        return Err(Skip::Terminating);
    }
    Ok(())
}

/// The pods of `pods` a drain evicts (see [`eviction`]).
pub fn pods_to_evict<'a>(pods: &'a [Pod], resource_prefix: &str, full: bool) -> Vec<&'a Pod> {
    pods.iter()
        .filter(|p| eviction(p, resource_prefix, full).is_ok())
        .collect()
}

/// Whether the drain of a node is over: no pod the drain evicts is left, terminating ones
/// included (a pod that is still shutting down may still hold its VF).
pub fn drained(pods: &[Pod], resource_prefix: &str, full: bool) -> bool {
    pods.iter().all(|p| {
        !matches!(
            eviction(p, resource_prefix, full),
            Ok(()) | Err(Skip::Terminating)
        )
    })
}

/// One node's part in the decision.
#[derive(Debug, Clone)]
pub struct NodeDrain<'a> {
    /// The node.
    pub node: &'a NodeView,
    /// Its current drain state.
    pub current: CurrentState,
    /// Whether its daemon asks to drain (`Drain_Required` or `Reboot_Required`).
    pub requested: bool,
}

/// The decision for one round of the drain controller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainSchedule {
    /// Nodes that may start draining now, by name.
    pub start: Vec<String>,
    /// Nodes that must wait for their pool, with the pool name.
    pub wait: BTreeMap<String, String>,
    /// Problems: nodes in several pools, invalid `maxUnavailable`, a limit that rounds to 0.
    pub warnings: Vec<String>,
}

/// Name used for the implicit pool of nodes no pool config selects (limit 1).
pub const DEFAULT_POOL: &str = "<default pool>";

/// Decides which requesting, idle nodes may start draining: per pool, the nodes already
/// draining (or drained) count against `maxUnavailable`; requesting nodes are admitted in
/// name order until the limit. Nodes in no pool form an implicit pool with limit 1. A node
/// in several pools is not started (upstream treats it as an error).
pub fn schedule(nodes: &[NodeDrain<'_>], pools: &[SriovNetworkPoolConfig]) -> DrainSchedule {
    let mut out = DrainSchedule::default();
    // Pool name -> (limit, members).
    let mut members: BTreeMap<String, Vec<&NodeDrain<'_>>> = BTreeMap::new();
    let mut pool_of: BTreeMap<String, Option<&SriovNetworkPoolConfig>> = BTreeMap::new();
    for entry in nodes {
        match pool_config::node_pool(entry.node, pools) {
            Ok(pool) => {
                let key = pool
                    .and_then(|p| p.metadata.name.clone())
                    .unwrap_or_else(|| DEFAULT_POOL.to_owned());
                pool_of.insert(key.clone(), pool);
                members.entry(key).or_default().push(entry);
            }
            Err(e) => out.warnings.push(e.to_string()),
        }
    }
    for (pool_name, mut entries) in members {
        entries.sort_by_key(|e| e.node.metadata.name.clone());
        let limit = match pool_of.get(&pool_name).copied().flatten() {
            None => Some(1),
            Some(pool) => {
                match max_unavailable(pool.spec.max_unavailable.as_ref(), entries.len()) {
                    Ok(limit) => {
                        out.warnings.extend(
                            never_drains(limit, entries.len())
                                .map(|w| format!("SriovNetworkPoolConfig {pool_name}: {w}")),
                        );
                        limit
                    }
                    Err(e) => {
                        out.warnings.push(format!(
                            "SriovNetworkPoolConfig {pool_name}: invalid maxUnavailable: {e}"
                        ));
                        Some(0)
                    }
                }
            }
        };
        let mut busy = entries
            .iter()
            .filter(|e| e.current != CurrentState::Idle)
            .count();
        for entry in entries
            .iter()
            .filter(|e| e.requested && e.current == CurrentState::Idle)
        {
            let name = entry.node.metadata.name.clone().unwrap_or_default();
            if limit.is_none_or(|l| busy < l) {
                busy += 1;
                out.start.push(name);
            } else {
                out.wait.insert(name, pool_name.clone());
            }
        }
    }
    out.start.sort();
    out
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use serde_json::json;

    use super::*;
    use crate::api::SriovNetworkPoolConfigSpec;
    use crate::testing::node;

    #[test]
    fn max_unavailable_follows_upstream() {
        let pct = |s: &str| IntOrString::String(s.into());
        assert_eq!(max_unavailable(None, 10), Ok(None));
        assert_eq!(max_unavailable(Some(&IntOrString::Int(3)), 10), Ok(Some(3)));
        assert_eq!(max_unavailable(Some(&pct("30%")), 10), Ok(Some(3)));
        assert_eq!(max_unavailable(Some(&pct("30%")), 3), Ok(Some(0)));
        assert!(
            max_unavailable(Some(&pct("30")), 3)
                .unwrap_err()
                .contains("needs to be a percentage")
        );
        assert!(max_unavailable(Some(&pct("0%")), 3).is_err());
        assert!(max_unavailable(Some(&pct("101%")), 3).is_err());
        assert!(max_unavailable(Some(&IntOrString::Int(-1)), 3).is_err());
    }

    fn pool(name: &str, rack: &str, max: Option<IntOrString>) -> SriovNetworkPoolConfig {
        SriovNetworkPoolConfig::new(
            name,
            SriovNetworkPoolConfigSpec {
                node_selector: Some(LabelSelector {
                    match_labels: Some([("rack".to_owned(), rack.to_owned())].into()),
                    ..Default::default()
                }),
                max_unavailable: max,
                ..Default::default()
            },
        )
    }

    #[test]
    fn nodes_start_in_name_order_up_to_each_pools_limit() {
        let nodes: Vec<NodeView> = (0..4)
            .map(|i| node(&format!("n{i}"), &[("rack", if i < 3 { "a" } else { "b" })]))
            .chain([node("loner-1", &[]), node("loner-2", &[])])
            .map(NodeView::from)
            .collect();
        let drains: Vec<NodeDrain<'_>> = nodes
            .iter()
            .map(|n| NodeDrain {
                node: n,
                current: if n.metadata.name.as_deref() == Some("n0") {
                    CurrentState::Draining
                } else {
                    CurrentState::Idle
                },
                requested: true,
            })
            .collect();
        let pools = [
            pool("a", "a", Some(IntOrString::Int(2))),
            pool("b", "b", None),
        ];
        let decision = schedule(&drains, &pools);
        // Pool a: n0 is draining, so only n1 may join; pool b has no limit; the default pool
        // (nodes in no pool) admits one.
        assert_eq!(decision.start, ["loner-1", "n1", "n3"]);
        assert_eq!(decision.wait.get("n2").map(String::as_str), Some("a"));
        assert_eq!(
            decision.wait.get("loner-2").map(String::as_str),
            Some(DEFAULT_POOL)
        );
        assert!(decision.warnings.is_empty());
    }

    #[test]
    fn a_percentage_that_rounds_to_zero_is_a_warning_not_a_silent_block() {
        let nodes =
            [node("n0", &[("rack", "a")]), node("n1", &[("rack", "a")])].map(NodeView::from);
        let drains: Vec<NodeDrain<'_>> = nodes
            .iter()
            .map(|n| NodeDrain {
                node: n,
                current: CurrentState::Idle,
                requested: true,
            })
            .collect();
        let decision = schedule(
            &drains,
            &[pool("small", "a", Some(IntOrString::String("30%".into())))],
        );
        assert!(decision.start.is_empty());
        assert_eq!(
            decision.warnings,
            [
                "SriovNetworkPoolConfig small: maxUnavailable allows 0 of the 2 node(s) this pool selects to drain; none of them can ever be reconfigured"
            ]
        );
    }

    #[test]
    fn next_step_follows_the_hand_shake() {
        let step = |r: &str, c: &str| next_step(Some(r), Some(c));
        assert_eq!(
            next_step(None, None),
            Step::Nothing,
            "missing reads as Idle"
        );
        assert_eq!(next_step(Some("Drain_Required"), None), Step::Start);
        assert_eq!(next_step(None, Some("Draining")), Step::Complete);
        assert_eq!(step("Idle", "Idle"), Step::Nothing);
        assert_eq!(step("Idle", "Draining"), Step::Complete);
        assert_eq!(step("Idle", "DrainComplete"), Step::Complete);
        assert_eq!(step("Drain_Required", "Idle"), Step::Start);
        assert_eq!(step("Reboot_Required", "Idle"), Step::Start);
        assert_eq!(
            step("Drain_Required", "Draining"),
            Step::Drain { full: false }
        );
        assert_eq!(
            step("Reboot_Required", "Draining"),
            Step::Drain { full: true }
        );
        assert_eq!(step("Drain_Required", "DrainComplete"), Step::Nothing);
        assert!(matches!(step("Drain", "Idle"), Step::Invalid(m) if m.contains("\"Drain\"")));
        assert!(matches!(step("Idle", "Done"), Step::Invalid(m) if m.contains("current-state")));
    }

    fn pod(name: &str, extra: serde_json::Value) -> Pod {
        let mut value = json!({"metadata": {"name": name, "namespace": "apps"},
            "spec": {"containers": [{"name": "c"}]}});
        if let (Some(base), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                if k == "metadata" {
                    if let (Some(meta), Some(more)) =
                        (base["metadata"].as_object_mut(), v.as_object())
                    {
                        meta.extend(more.clone());
                    }
                } else {
                    base.insert(k.clone(), v.clone());
                }
            }
        }
        serde_json::from_value(value).unwrap_or_default()
    }

    #[test]
    fn partial_drains_evict_only_sriov_pods_and_no_drain_evicts_daemon_or_mirror_pods() {
        let sriov = pod(
            "sriov",
            json!({"spec": {"containers": [{"name": "c",
            "resources": {"limits": {"openshift.io/intelnics": "1"}}}]}}),
        );
        let init = pod(
            "init",
            json!({"spec": {"containers": [{"name": "c"}],
            "initContainers": [{"name": "i", "resources": {"requests": {"openshift.io/x": "1"}}}]}}),
        );
        let plain = pod("plain", json!({}));
        let other_prefix = pod(
            "other",
            json!({"spec": {"containers": [{"name": "c",
            "resources": {"requests": {"example.com/intelnics": "1"}}}]}}),
        );
        let daemon = pod(
            "ds",
            json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1",
            "kind": "DaemonSet", "name": "d", "uid": "u", "controller": true}]}}),
        );
        let mirror = pod(
            "mirror",
            json!({"metadata": {"annotations": {"kubernetes.io/config.mirror": "x"}}}),
        );
        let pods = vec![sriov, init, plain, other_prefix, daemon, mirror];
        let names = |full| -> Vec<String> {
            pods_to_evict(&pods, "openshift.io", full)
                .iter()
                .filter_map(|p| p.metadata.name.clone())
                .collect()
        };
        assert_eq!(names(false), ["sriov", "init"]);
        assert_eq!(names(true), ["sriov", "init", "plain", "other"]);
        assert!(!drained(&pods, "openshift.io", false));

        let mut gone = pods[2..].to_vec();
        assert!(drained(&gone, "openshift.io", false));
        let mut terminating = pods[0].clone();
        terminating.metadata.deletion_timestamp = pods[0]
            .metadata
            .creation_timestamp
            .clone()
            .or_else(|| serde_json::from_value(json!("2026-01-01T00:00:00Z")).ok());
        assert_eq!(
            eviction(&terminating, "openshift.io", false),
            Err(Skip::Terminating)
        );
        gone.push(terminating);
        assert!(
            !drained(&gone, "openshift.io", false),
            "a terminating SR-IOV pod still counts"
        );
        assert!(!drained(&gone, "openshift.io", true));
    }
}
