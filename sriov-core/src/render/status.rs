//! Conditions the operator reports beyond upstream, as pure functions of what it renders
//! and what the config daemons report:
//! - on each policy ([`policy_status`]): the nodes whose node state it contributes to,
//!   how many of those have synced, and `Ready` / `Progressing` / `Degraded` naming the
//!   nodes behind them (or the policy's own rendering problem);
//! - on each node state ([`node_state_conditions`]): `Ready` / `Progressing` / `Degraded`
//!   from the daemon's `syncStatus` and `lastSyncError`, for the config daemon to write
//!   with the status they derive from (the operator writing them would double its writes).
//!
//! A node counts as synced when its daemon reports `Succeeded` for the current spec: when
//! the daemon records `status.observedGeneration`, a report older than the spec's
//! generation counts as in progress; a daemon that does not record it is taken at its
//! `syncStatus` alone (upstream's daemon sets `InProgress` as soon as it sees a new spec).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::{
    Condition, SriovNetworkNodePolicy, SriovNetworkNodePolicyStatus, SriovNetworkNodeState,
    set_condition,
};
use crate::error::Error;

/// How many node names a condition message lists before "and N more".
const LISTED: usize = 5;

fn listing(names: &[String]) -> String {
    let mut out = names
        .iter()
        .take(LISTED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > LISTED {
        out.push_str(&format!(" and {} more", names.len() - LISTED));
    }
    out
}

/// Where one node stands, from its daemon's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeSync {
    /// The daemon reports the current spec applied.
    Synced,
    /// Applying, not yet reported, or the spec just changed.
    InProgress,
    /// The last attempt failed, with the daemon's error.
    Failed(String),
}

/// A node's sync as its live state reports it.
pub fn node_sync(live: Option<&SriovNetworkNodeState>) -> NodeSync {
    let status = live.and_then(|s| s.status.as_ref());
    let behind = live.is_some_and(|s| {
        status
            .and_then(|st| st.observed_generation)
            .is_some_and(|seen| seen < s.metadata.generation.unwrap_or(0))
    });
    match status.and_then(|s| s.sync_status.as_deref()) {
        Some("Succeeded") if behind => NodeSync::InProgress,
        Some("Succeeded") => NodeSync::Synced,
        Some("Failed") => NodeSync::Failed(
            status
                .and_then(|s| s.last_sync_error.clone())
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "no error given".to_owned()),
        ),
        _ => NodeSync::InProgress,
    }
}

/// Names of the policies a node state's spec uses (its VF groups' `policyName`).
pub fn policies_of(state: &SriovNetworkNodeState) -> BTreeSet<&str> {
    state
        .spec
        .interfaces
        .iter()
        .flatten()
        .flat_map(|i| i.vf_groups.iter().flatten())
        .filter_map(|g| g.policy_name.as_deref())
        .collect()
}

/// For each policy name, the nodes whose rendered state uses it, in one pass over the
/// states (what [`policy_status`] takes for every policy).
pub fn nodes_by_policy(rendered: &[SriovNetworkNodeState]) -> BTreeMap<&str, Vec<&str>> {
    let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for state in rendered {
        let Some(node) = state.metadata.name.as_deref() else {
            continue;
        };
        for policy in policies_of(state) {
            out.entry(policy).or_default().push(node);
        }
    }
    out
}

/// The status a policy should have. `matched` are the nodes whose rendered state uses it
/// ([`nodes_by_policy`]), `sync` each node's [`NodeSync`], `problems` the render's
/// problems (the policy's own are reported as `Degraded`), `current` the stored status
/// (transition times are kept where a condition's status does not change).
pub fn policy_status(
    policy: &SriovNetworkNodePolicy,
    matched: &[&str],
    sync: &BTreeMap<String, NodeSync>,
    problems: &[Error],
    current: Option<&SriovNetworkNodePolicyStatus>,
    now: &Time,
) -> SriovNetworkNodePolicyStatus {
    let id = crate::api::meta_name(&policy.metadata);
    let generation = policy.metadata.generation;
    let mut synced = 0;
    let mut syncing = Vec::new();
    let mut failed = Vec::new();
    for node in matched {
        match sync.get(*node).unwrap_or(&NodeSync::InProgress) {
            NodeSync::Synced => synced += 1,
            NodeSync::InProgress => syncing.push((*node).to_owned()),
            NodeSync::Failed(e) => failed.push(format!("{node} ({e})")),
        }
    }
    let own_problems: Vec<String> = problems
        .iter()
        .filter(|p| matches!(p, Error::Policy { policy, .. } if *policy == id))
        .map(ToString::to_string)
        .collect();

    let total = matched.len();
    let (ready, ready_reason, ready_message) = if total == 0 {
        (
            false,
            "NoMatchingNodes",
            "the policy configures no NIC on any managed node".to_owned(),
        )
    } else if synced == total {
        (
            true,
            "AllNodesSynced",
            format!("configured on {total} node(s)"),
        )
    } else {
        (
            false,
            "NodesNotSynced",
            format!("synced on {synced} of {total} node(s)"),
        )
    };
    let progressing = if syncing.is_empty() {
        (false, "NoNodesSyncing", String::new())
    } else {
        (
            true,
            "NodesSyncing",
            format!("{} node(s) syncing: {}", syncing.len(), listing(&syncing)),
        )
    };
    let degraded = if !own_problems.is_empty() {
        (true, "InvalidPolicy", own_problems.join("; "))
    } else if !failed.is_empty() {
        (
            true,
            "NodesFailed",
            format!("{} node(s) failed: {}", failed.len(), listing(&failed)),
        )
    } else {
        (false, "NoFailures", String::new())
    };

    let mut conditions = current
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    for (type_, (holds, reason, message)) in [
        ("Ready", (ready, ready_reason, ready_message)),
        ("Progressing", progressing),
        ("Degraded", degraded),
    ] {
        let condition = Condition::new(type_, holds, reason, &message, generation, now.clone());
        if let Some(next) = set_condition(&conditions, condition) {
            conditions = next;
        }
    }
    let count = |n: usize| Some(i32::try_from(n).unwrap_or(i32::MAX));
    SriovNetworkNodePolicyStatus {
        matched_nodes: count(total),
        synced_nodes: count(synced),
        conditions: Some(conditions),
    }
}

/// The operator's conditions for a node state (`Ready`, `Progressing`, `Degraded`), from
/// its daemon's report; `None` before the daemon has reported anything. Conditions of
/// other types on the state (the drain controller's `DrainBlocked`) are left out: each
/// writer applies only its own.
pub fn node_state_conditions(state: &SriovNetworkNodeState, now: &Time) -> Option<Vec<Condition>> {
    let status = state.status.as_ref()?;
    let sync = status.sync_status.as_deref().filter(|s| !s.is_empty())?;
    let error = status.last_sync_error.clone().unwrap_or_default();
    let (ready, progressing, degraded) = match sync {
        "Succeeded" => (
            (true, "Synced", String::new()),
            (false, "Idle", String::new()),
            (false, "NoFailure", String::new()),
        ),
        "Failed" => (
            (false, "SyncFailed", error.clone()),
            (false, "Idle", String::new()),
            (true, "SyncFailed", error),
        ),
        _ => (
            (false, "Syncing", String::new()),
            (
                true,
                "Syncing",
                "the config daemon is applying the spec".to_owned(),
            ),
            (false, "NoFailure", String::new()),
        ),
    };
    let current: Vec<Condition> = status
        .conditions
        .iter()
        .flatten()
        .filter(|c| matches!(c.type_.as_str(), "Ready" | "Progressing" | "Degraded"))
        .cloned()
        .collect();
    let mut conditions = current;
    for (type_, (holds, reason, message)) in [
        ("Ready", ready),
        ("Progressing", progressing),
        ("Degraded", degraded),
    ] {
        // Based on the daemon's report: the generation it reports acting on, if any.
        let condition = Condition::new(
            type_,
            holds,
            reason,
            &message,
            status.observed_generation,
            now.clone(),
        );
        if let Some(next) = set_condition(&conditions, condition) {
            conditions = next;
        }
    }
    Some(conditions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Interface, SriovNetworkNodeStateStatus, VfGroup};
    use crate::testing::PolicyBuilder;

    fn now() -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(1_000).unwrap_or_default())
    }

    fn state(node: &str, policy: Option<&str>) -> SriovNetworkNodeState {
        let mut s = crate::testing::node_state(node, Vec::new());
        if let Some(policy) = policy {
            s.spec.interfaces = Some(vec![Interface {
                vf_groups: Some(vec![VfGroup {
                    policy_name: Some(policy.to_owned()),
                    ..VfGroup::default()
                }]),
                ..Interface::default()
            }]);
        }
        s
    }

    fn condition<'a>(status: &'a SriovNetworkNodePolicyStatus, t: &str) -> &'a Condition {
        status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == t)
            .unwrap_or_else(|| panic!("{t} is set"))
    }

    #[test]
    fn a_policy_reports_its_nodes_sync() {
        let policy = PolicyBuilder::new("intel").build();
        let rendered = vec![
            state("n-0", Some("intel")),
            state("n-1", Some("intel")),
            state("n-2", Some("intel")),
            state("n-3", Some("other")),
        ];
        let sync = BTreeMap::from([
            ("n-0".to_owned(), NodeSync::Synced),
            ("n-1".to_owned(), NodeSync::InProgress),
            ("n-2".to_owned(), NodeSync::Failed("no such PF".into())),
        ]);
        let by_policy = nodes_by_policy(&rendered);
        let matched = &by_policy["intel"];
        assert_eq!(matched, &["n-0", "n-1", "n-2"]);
        let status = policy_status(&policy, matched, &sync, &[], None, &now());
        assert_eq!(
            (status.matched_nodes, status.synced_nodes),
            (Some(3), Some(1))
        );
        assert_eq!(
            condition(&status, "Ready").message,
            "synced on 1 of 3 node(s)"
        );
        assert_eq!(
            condition(&status, "Progressing").message,
            "1 node(s) syncing: n-1"
        );
        assert_eq!(
            condition(&status, "Degraded").message,
            "1 node(s) failed: n-2 (no such PF)"
        );

        let all = BTreeMap::from([
            ("n-0".to_owned(), NodeSync::Synced),
            ("n-1".to_owned(), NodeSync::Synced),
            ("n-2".to_owned(), NodeSync::Synced),
        ]);
        let later = Time(k8s_openapi::jiff::Timestamp::from_second(2_000).unwrap_or_default());
        let done = policy_status(&policy, matched, &all, &[], Some(&status), &later);
        let ready = condition(&done, "Ready");
        assert_eq!(ready.reason, "AllNodesSynced");
        assert_eq!(
            ready.last_transition_time, later,
            "False → True moves the time"
        );
        let again = policy_status(&policy, matched, &all, &[], Some(&done), &now());
        assert_eq!(again, done, "nothing changed: the same status");
    }

    #[test]
    fn a_policy_on_no_node_or_with_a_problem_says_so() {
        let policy = PolicyBuilder::new("unused").build();
        let status = policy_status(&policy, &[], &BTreeMap::new(), &[], None, &now());
        assert_eq!(condition(&status, "Ready").reason, "NoMatchingNodes");
        let problem = Error::Policy {
            policy: crate::api::meta_name(&policy.metadata),
            field: "spec.nicSelector.pfNames".into(),
            reason: "overlaps policy a".into(),
        };
        let status = policy_status(&policy, &[], &BTreeMap::new(), &[problem], None, &now());
        let degraded = condition(&status, "Degraded");
        assert_eq!(degraded.reason, "InvalidPolicy");
        assert!(
            degraded.message.contains("overlaps policy a"),
            "{}",
            degraded.message
        );
    }

    #[test]
    fn many_failures_are_listed_briefly() {
        let names: Vec<String> = (0..8).map(|i| format!("n-{i}")).collect();
        assert_eq!(listing(&names), "n-0, n-1, n-2, n-3, n-4 and 3 more");
    }

    #[test]
    fn node_state_conditions_follow_the_daemon() {
        let mut s = state("n-0", None);
        assert_eq!(node_state_conditions(&s, &now()), None, "no report yet");
        s.status = Some(SriovNetworkNodeStateStatus {
            sync_status: Some("Failed".into()),
            last_sync_error: Some("writing sriov_numvfs: EBUSY".into()),
            ..SriovNetworkNodeStateStatus::default()
        });
        let conditions = node_state_conditions(&s, &now()).unwrap_or_default();
        let degraded = conditions.iter().find(|c| c.type_ == "Degraded");
        assert_eq!(
            degraded.map(|c| c.message.as_str()),
            Some("writing sriov_numvfs: EBUSY")
        );
        assert_eq!(
            node_sync(Some(&s)),
            NodeSync::Failed("writing sriov_numvfs: EBUSY".into())
        );
        assert_eq!(node_sync(None), NodeSync::InProgress);
        let mut done = s.clone();
        done.metadata.generation = Some(3);
        if let Some(st) = done.status.as_mut() {
            st.sync_status = Some("Succeeded".into());
            st.observed_generation = Some(2);
        }
        assert_eq!(
            node_sync(Some(&done)),
            NodeSync::InProgress,
            "a report for an older spec"
        );
        if let Some(st) = done.status.as_mut() {
            st.observed_generation = Some(3);
        }
        assert_eq!(node_sync(Some(&done)), NodeSync::Synced);
    }
}
