//! A policy against the other policies on shared nodes: D10–D13.

use super::nodes::{resolve_name, state_of};
use super::*;

pub(super) fn whole(num_vfs: i32) -> Option<VfRange> {
    u16::try_from(num_vfs).ok().and_then(VfRange::whole)
}

/// D10-D13 between `policy` and one other policy sharing nodes.
pub(super) fn conflicts(
    policy: &SriovNetworkNodePolicy,
    parsed: &[PfSelector],
    other: &SriovNetworkNodePolicy,
    nodes: &[&&NodeView],
    ctx: &Context<'_>,
    out: &mut Vec<String>,
) {
    let other_name = other.metadata.name.as_deref().unwrap_or_default();
    let theirs: Vec<PfSelector> = other
        .spec
        .nic_selector
        .pf_names
        .iter()
        .flatten()
        .filter_map(|e| e.parse().ok())
        .collect();
    let mut push = |message: String| {
        if !out.contains(&message) {
            out.push(message);
        }
    };
    for node in nodes {
        let interfaces = state_of(node, ctx).unwrap_or_default();
        for ours in parsed {
            let our_pf = resolve_name(ours.name(), interfaces);
            for their in &theirs {
                let their_pf = resolve_name(their.name(), interfaces);
                if our_pf != their_pf {
                    continue;
                }
                if policy.spec.externally_managed.unwrap_or(false)
                    != other.spec.externally_managed.unwrap_or(false)
                {
                    push(format!(
                        "externallyManage is inconsistent with existing policy {other_name}"
                    ));
                }
                let our_range = ours.range().or_else(|| whole(policy.spec.num_vfs));
                let their_range = their.range().or_else(|| whole(other.spec.num_vfs));
                if let (Some(a), Some(b)) = (our_range, their_range)
                    && a.overlaps(&b)
                {
                    push(format!(
                        "VF index range in {ours} is overlapped with existing policy {other_name}"
                    ));
                }
            }
        }
    }
    for root in policy.spec.nic_selector.root_devices.iter().flatten() {
        if !other
            .spec
            .nic_selector
            .root_devices
            .iter()
            .flatten()
            .any(|r| r == root)
        {
            continue;
        }
        // Range-aware: each policy's range on that PF (from the pfNames entry naming it,
        // else the whole PF). Without a discovered PF, both count as whole.
        let pf = nodes
            .iter()
            .flat_map(|n| state_of(n, ctx).unwrap_or_default())
            .find(|i| &i.pci_address == root);
        let range_on = |selectors: &[PfSelector], num_vfs: i32| {
            pf.and_then(|pf| selectors.iter().find(|s| pf.has_name(s.name())))
                .and_then(PfSelector::range)
                .or_else(|| whole(num_vfs))
        };
        let (a, b) = (
            range_on(parsed, policy.spec.num_vfs),
            range_on(&theirs, other.spec.num_vfs),
        );
        if a.zip(b).is_none_or(|(a, b)| a.overlaps(&b)) {
            push(format!(
                "root device {root} is overlapped with existing policy {other_name}"
            ));
        }
    }
    if policy.spec.resource_name == other.spec.resource_name
        && policy.spec.exclude_topology.unwrap_or(false)
            != other.spec.exclude_topology.unwrap_or(false)
    {
        push(format!(
            "excludeTopology[{}] field conflicts with policy [{other_name}].ExcludeTopology[{}] as they target the same resource[{}]",
            policy.spec.exclude_topology.unwrap_or(false),
            other.spec.exclude_topology.unwrap_or(false),
            policy.spec.resource_name
        ));
    }
}
