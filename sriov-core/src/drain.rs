//! Drain scheduling as a pure decision, as upstream schedules drains: which pool a node is in, how
//! many of the pool's nodes may be unavailable at once, and which of the nodes asking to
//! drain may start now.
//!
//! Beyond upstream: a percentage that rounds down to zero for the pool's size (30 % of a
//! 3-node pool) would block that pool forever; [`schedule`] reports it as a warning.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
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

/// One node's part in the decision.
#[derive(Debug, Clone)]
pub struct NodeDrain<'a> {
    /// The node.
    pub node: &'a Node,
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
        let nodes: Vec<Node> = (0..4)
            .map(|i| node(&format!("n{i}"), &[("rack", if i < 3 { "a" } else { "b" })]))
            .chain([node("loner-1", &[]), node("loner-2", &[])])
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
        let nodes = [node("n0", &[("rack", "a")]), node("n1", &[("rack", "a")])];
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
}
