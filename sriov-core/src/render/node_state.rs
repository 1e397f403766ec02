//! Policies + one node's discovered PFs → that node's `SriovNetworkNodeState.spec`.
//!
//! Follows upstream's algorithm: the spec is rebuilt from scratch;
//! policies that select the node are applied in [`crate::policy::PolicySet`] order (lowest priority first,
//! so the winner is applied last); on each selected PF a policy contributes one VF group.
//! When a PF already has groups, the new group goes first and existing groups survive only
//! if they have a different resource name and a non-overlapping range. The PF's `numVfs`
//! and `mtu` become the maximum of old and new when the two policies have equal priority or
//! some existing group survived; otherwise the new policy's values replace them. `linkType`,
//! `eSwitchMode` and `externallyManaged` always come from the last policy applied.
//!
//! Deliberate difference: a `pfNames` range given on an alternative name applies (upstream
//! ignores it and takes all VFs); see [`Policy::vf_range_on`].

use crate::api::{
    Bridges, DeviceType, ESwitchMode, Interface, InterfaceExt, LinkType, OvsConfigExt,
    OvsUplinkConfigExt, RdmaMode, SriovNetworkNodeStateSpec, System, VdpaType, VfGroup,
};
use crate::error::{Error, Result};
use crate::ids::VfRange;
use crate::labels::Labels;
use crate::policy::Policy;

/// Inputs for rendering one node.
#[derive(Debug, Clone, Copy)]
pub struct NodeInputs<'a> {
    /// The node's labels.
    pub labels: &'a Labels,
    /// The PFs the config daemon discovered (`status.interfaces`), in status order.
    pub interfaces: &'a [InterfaceExt],
    /// RDMA mode from the node's pool config.
    pub rdma_mode: Option<RdmaMode>,
    /// Feature gate `manageSoftwareBridges`: render `spec.bridges` from policies.
    pub manage_bridges: bool,
}

/// The rendered spec, and errors of policies whose bridge settings could not be applied
/// (the rest of the spec is still rendered).
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedSpec {
    /// The desired spec.
    pub spec: SriovNetworkNodeStateSpec,
    /// Problems met on the way, each naming its policy.
    pub errors: Vec<Error>,
}

#[derive(Debug, Clone, PartialEq)]
struct Group {
    range: VfRange,
    resource_name: String,
    device_type: DeviceType,
    policy_name: String,
    mtu: Option<u32>,
    is_rdma: bool,
    vdpa_type: Option<VdpaType>,
}

#[derive(Debug, Clone, PartialEq)]
struct PfSpec {
    pci_address: String,
    name: Option<String>,
    mtu: Option<u32>,
    num_vfs: u16,
    link_type: Option<LinkType>,
    e_switch_mode: Option<ESwitchMode>,
    externally_managed: bool,
    groups: Vec<Group>,
}

/// Renders the spec of one node from the policies that select it, in application order
/// (see [`crate::policy::PolicySet::for_node`]).
pub fn render(node: NodeInputs<'_>, policies: &[&Policy]) -> RenderedSpec {
    let mut pfs: Vec<PfSpec> = Vec::new();
    let mut bridges: Vec<OvsConfigExt> = Vec::new();
    let mut errors = Vec::new();
    let mut previous_priority: Option<u8> = None;
    for &policy in policies {
        apply(
            &mut pfs,
            policy,
            node.interfaces,
            previous_priority == Some(policy.priority),
        );
        if node.manage_bridges
            && let Err(e) = apply_bridge(&mut bridges, policy, node.interfaces)
        {
            errors.push(e);
        }
        previous_priority = Some(policy.priority);
    }
    let interfaces: Vec<Interface> = pfs.into_iter().map(PfSpec::into_api).collect();
    let spec = SriovNetworkNodeStateSpec {
        interfaces: (!interfaces.is_empty()).then_some(interfaces),
        bridges: Some(Bridges {
            ovs: (!bridges.is_empty()).then_some(bridges),
        }),
        system: Some(System {
            rdma_mode: node.rdma_mode,
        }),
    };
    RenderedSpec { spec, errors }
}

fn apply(
    pfs: &mut Vec<PfSpec>,
    policy: &Policy,
    interfaces: &[InterfaceExt],
    equal_priority: bool,
) {
    for iface in interfaces {
        if !policy.nic.selects(iface) {
            continue;
        }
        // A policy asking for 0 VFs contributes nothing.
        let Some(range) = policy.vf_range_on(iface) else {
            continue;
        };
        let mut result = PfSpec {
            pci_address: iface.pci_address.clone(),
            name: iface.name.clone(),
            mtu: policy.mtu,
            num_vfs: policy.num_vfs,
            link_type: policy.link_type,
            e_switch_mode: policy.e_switch_mode,
            externally_managed: policy.externally_managed,
            groups: vec![Group {
                range,
                resource_name: policy.resource_name.to_string(),
                device_type: policy.device_type,
                policy_name: policy.name.clone(),
                mtu: policy.mtu,
                is_rdma: policy.is_rdma,
                vdpa_type: policy.vdpa_type,
            }],
        };
        match pfs
            .iter_mut()
            .find(|pf| pf.pci_address == iface.pci_address)
        {
            Some(existing) => {
                merge(existing, &mut result, equal_priority);
                *existing = result;
            }
            None => pfs.push(result),
        }
    }
}

/// Merges the groups already on a PF into `result`, which holds the new policy's group.
fn merge(existing: &PfSpec, result: &mut PfSpec, equal_priority: bool) {
    let new = result.groups[0].clone();
    let mut kept_any = false;
    for group in &existing.groups {
        if group.resource_name == new.resource_name || group.range.overlaps(&new.range) {
            continue;
        }
        result.groups.push(group.clone());
        kept_any = true;
    }
    if equal_priority || kept_any {
        result.mtu = result.mtu.max(existing.mtu);
        result.num_vfs = result.num_vfs.max(existing.num_vfs);
    }
}

/// Name of the bridge the operator manages for a PF: `br-` and the PCI address with `:`
/// replaced by `_` (`br-0000_86_00.0`).
pub fn bridge_name(pci_address: &str) -> String {
    format!("br-{}", pci_address.replace(':', "_"))
}

fn apply_bridge(
    bridges: &mut Vec<OvsConfigExt>,
    policy: &Policy,
    interfaces: &[InterfaceExt],
) -> Result<()> {
    if policy.nic.is_empty() {
        return Ok(());
    }
    if policy.bridge.is_some() {
        let fail = |reason: &str| Error::Policy {
            policy: policy.id(),
            field: "spec.bridge".into(),
            reason: reason.into(),
        };
        if policy.e_switch_mode != Some(ESwitchMode::Switchdev) {
            return Err(fail(
                "eSwitchMode must be switchdev to use software bridge management",
            ));
        }
        if policy.link_type.is_some_and(LinkType::is_infiniband) {
            return Err(fail(
                "linkType must be eth or ETH to use software bridge management",
            ));
        }
        if policy.externally_managed {
            return Err(fail(
                "software bridge management can't be used when link is externally managed",
            ));
        }
    }
    for iface in interfaces.iter().filter(|i| policy.nic.selects(i)) {
        match &policy.bridge {
            None => {
                for bridge in bridges.iter_mut() {
                    if let Some(uplinks) = &mut bridge.uplinks {
                        uplinks.retain(|u| u.pci_address != iface.pci_address);
                    }
                }
                bridges.retain(|b| b.uplinks.as_ref().is_some_and(|u| !u.is_empty()));
            }
            Some(ovs) => {
                let mut interface = ovs.uplink.as_ref().and_then(|u| u.interface.clone());
                if let Some(mtu) = policy.mtu {
                    interface.get_or_insert_default().mtu_request = i32::try_from(mtu).ok();
                }
                let bridge = OvsConfigExt {
                    name: bridge_name(&iface.pci_address),
                    bridge: ovs.bridge.clone(),
                    uplinks: Some(vec![OvsUplinkConfigExt {
                        pci_address: iface.pci_address.clone(),
                        name: iface.name.clone(),
                        interface,
                    }]),
                };
                match bridges.binary_search_by(|b| b.name.cmp(&bridge.name)) {
                    Ok(i) => bridges[i] = bridge,
                    Err(i) => bridges.insert(i, bridge),
                }
            }
        }
    }
    Ok(())
}

impl PfSpec {
    fn into_api(self) -> Interface {
        let groups = self
            .groups
            .into_iter()
            .map(|g| VfGroup {
                resource_name: Some(g.resource_name),
                device_type: Some(g.device_type.as_str().to_owned()),
                vf_range: Some(g.range.to_string()),
                policy_name: Some(g.policy_name),
                mtu: g.mtu.and_then(|m| i32::try_from(m).ok()),
                is_rdma: g.is_rdma.then_some(true),
                vdpa_type: g.vdpa_type.map(|v| v.as_str().to_owned()),
            })
            .collect();
        Interface {
            pci_address: self.pci_address,
            num_vfs: Some(i32::from(self.num_vfs)),
            mtu: self.mtu.and_then(|m| i32::try_from(m).ok()),
            name: self.name,
            link_type: self.link_type.map(|l| l.as_str().to_owned()),
            e_switch_mode: self.e_switch_mode.map(|e| e.as_str().to_owned()),
            vf_groups: Some(groups),
            externally_managed: self.externally_managed.then_some(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{OvsConfig, OvsUplinkConfig};
    use crate::policy::PolicySet;
    use crate::testing::{InterfaceBuilder, PolicyBuilder};

    fn workers() -> Labels {
        [("node-role.kubernetes.io/worker".to_owned(), String::new())].into()
    }

    fn pf() -> InterfaceExt {
        InterfaceBuilder::new("0000:86:00.1", "ens803f1")
            .intel_e810()
            .alt_name("enp134s0f1")
            .build()
    }

    fn render_with(policies: Vec<PolicyBuilder>, interfaces: &[InterfaceExt]) -> RenderedSpec {
        let set = PolicySet::resolve(
            &policies
                .into_iter()
                .map(PolicyBuilder::build)
                .collect::<Vec<_>>(),
        );
        assert!(set.rejected().is_empty(), "{:?}", set.rejected());
        let labels = workers();
        render(
            NodeInputs {
                labels: &labels,
                interfaces,
                rdma_mode: None,
                manage_bridges: true,
            },
            &set.for_node(&labels),
        )
    }

    /// `(resourceName, vfRange)` of each group, and the PF's numVfs and mtu.
    fn summary(
        spec: &SriovNetworkNodeStateSpec,
    ) -> (Vec<(String, String)>, Option<i32>, Option<i32>) {
        let iface = &spec.interfaces.as_ref().expect("one PF")[0];
        let groups = iface
            .vf_groups
            .iter()
            .flatten()
            .map(|g| {
                (
                    g.resource_name.clone().unwrap(),
                    g.vf_range.clone().unwrap(),
                )
            })
            .collect();
        (groups, iface.num_vfs, iface.mtu)
    }

    fn groups(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(r, v)| ((*r).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn a_single_policy_takes_a_whole_pf() {
        let out = render_with(
            vec![
                PolicyBuilder::new("p1")
                    .resource("p1res")
                    .pf("ens803f1")
                    .num_vfs(2),
            ],
            &[pf()],
        );
        assert_eq!(
            summary(&out.spec),
            (groups(&[("p1res", "0-1")]), Some(2), None)
        );
        let iface = &out.spec.interfaces.as_ref().unwrap()[0];
        assert_eq!(iface.name.as_deref(), Some("ens803f1"));
        assert_eq!(
            iface.vf_groups.as_ref().unwrap()[0].device_type.as_deref(),
            Some("netdevice")
        );
        assert_eq!(
            iface.vf_groups.as_ref().unwrap()[0].policy_name.as_deref(),
            Some("p1")
        );
    }

    #[test]
    fn higher_priority_policy_replaces_an_overlapping_group_and_its_numvfs() {
        // Upstream worked example: vfiores 0-1 (numVfs 3) then p1res 0-1 at higher priority.
        let out = render_with(
            vec![
                PolicyBuilder::new("vfio")
                    .priority(20)
                    .resource("vfiores")
                    .pf("ens803f1#0-1")
                    .num_vfs(3),
                PolicyBuilder::new("p1")
                    .priority(10)
                    .resource("p1res")
                    .pf("ens803f1#0-1")
                    .num_vfs(2),
            ],
            &[pf()],
        );
        assert_eq!(
            summary(&out.spec),
            (groups(&[("p1res", "0-1")]), Some(2), None)
        );
    }

    #[test]
    fn equal_priority_takes_the_maximum_numvfs_and_mtu() {
        let out = render_with(
            vec![
                PolicyBuilder::new("a-vfio")
                    .priority(10)
                    .resource("vfiores")
                    .pf("ens803f1#0-1")
                    .num_vfs(3)
                    .mtu(2000),
                PolicyBuilder::new("b-p1")
                    .priority(10)
                    .resource("p1res")
                    .pf("ens803f1#0-1")
                    .num_vfs(2),
            ],
            &[pf()],
        );
        assert_eq!(
            summary(&out.spec),
            (groups(&[("p1res", "0-1")]), Some(3), Some(2000))
        );
    }

    #[test]
    fn disjoint_ranges_of_different_resources_share_a_pf() {
        let out = render_with(
            vec![
                PolicyBuilder::new("vfio")
                    .priority(20)
                    .resource("vfiores")
                    .pf("ens803f1#2-4")
                    .num_vfs(5),
                PolicyBuilder::new("p1")
                    .priority(10)
                    .resource("p1res")
                    .pf("ens803f1#0-1")
                    .num_vfs(2),
            ],
            &[pf()],
        );
        // A group survived, so numVfs is the maximum even across priorities.
        assert_eq!(
            summary(&out.spec),
            (
                groups(&[("p1res", "0-1"), ("vfiores", "2-4")]),
                Some(5),
                None
            )
        );
    }

    #[test]
    fn the_same_resource_name_is_replaced_even_without_overlap() {
        // Equal priorities apply in name order, so b-new is applied last.
        let out = render_with(
            vec![
                PolicyBuilder::new("a-old")
                    .priority(20)
                    .resource("p1res")
                    .pf("ens803f1#2-3")
                    .num_vfs(4),
                PolicyBuilder::new("b-new")
                    .priority(20)
                    .resource("p1res")
                    .pf("ens803f1#0-1")
                    .num_vfs(2),
            ],
            &[pf()],
        );
        assert_eq!(
            summary(&out.spec),
            (groups(&[("p1res", "0-1")]), Some(4), None)
        );
    }

    #[test]
    fn every_group_overlapping_the_new_range_is_dropped() {
        let out = render_with(
            vec![
                PolicyBuilder::new("a-v1")
                    .priority(30)
                    .resource("vfiores1")
                    .pf("ens803f1#0-0")
                    .num_vfs(2),
                PolicyBuilder::new("b-v2")
                    .priority(30)
                    .resource("vfiores2")
                    .pf("ens803f1#1-1")
                    .num_vfs(2),
                PolicyBuilder::new("c-p1")
                    .priority(30)
                    .resource("p1res")
                    .pf("ens803f1#0-1")
                    .num_vfs(2),
            ],
            &[pf()],
        );
        assert_eq!(
            summary(&out.spec),
            (groups(&[("p1res", "0-1")]), Some(2), None)
        );
    }

    #[test]
    fn zero_vf_policies_contribute_nothing() {
        let out = render_with(
            vec![PolicyBuilder::new("zero").pf("ens803f1").num_vfs(0)],
            &[pf()],
        );
        assert_eq!(out.spec.interfaces, None);
    }

    #[test]
    fn an_empty_nic_selector_selects_nothing() {
        let out = render_with(vec![PolicyBuilder::new("empty").num_vfs(4)], &[pf()]);
        assert_eq!(out.spec.interfaces, None);
    }

    #[test]
    fn policies_for_other_nodes_are_ignored() {
        let out = render_with(
            vec![
                PolicyBuilder::new("gpu")
                    .node_label("gpu", "true")
                    .pf("ens803f1")
                    .num_vfs(4),
            ],
            &[pf()],
        );
        assert_eq!(out.spec.interfaces, None);
    }

    #[test]
    fn a_range_on_an_alt_name_is_honoured() {
        let out = render_with(
            vec![PolicyBuilder::new("alt").pf("enp134s0f1#0-3").num_vfs(8)],
            &[pf()],
        );
        assert_eq!(summary(&out.spec).0, groups(&[("alt", "0-3")]));
    }

    #[test]
    fn link_type_and_eswitch_mode_come_from_the_winner_even_when_unset() {
        let out = render_with(
            vec![
                PolicyBuilder::new("low")
                    .priority(50)
                    .resource("a")
                    .pf("ens803f1#0-1")
                    .num_vfs(4)
                    .link_type(LinkType::EthUpper)
                    .eswitch(ESwitchMode::Switchdev),
                PolicyBuilder::new("high")
                    .priority(5)
                    .resource("b")
                    .pf("ens803f1#2-3")
                    .num_vfs(4),
            ],
            &[pf()],
        );
        let iface = &out.spec.interfaces.unwrap()[0];
        assert_eq!(
            (iface.link_type.as_deref(), iface.e_switch_mode.as_deref()),
            (None, None)
        );
    }

    #[test]
    fn system_and_bridges_are_always_present_like_upstream() {
        let out = render_with(vec![], &[pf()]);
        assert_eq!(
            serde_json::to_value(&out.spec).unwrap(),
            serde_json::json!({"bridges": {}, "system": {}})
        );
    }

    #[test]
    fn switchdev_policies_get_a_sorted_bridge_per_pf_with_the_policy_mtu() {
        let cx6 = |pci: &str, name: &str| InterfaceBuilder::new(pci, name).mellanox_cx6dx().build();
        let ovs = OvsConfig {
            uplink: Some(OvsUplinkConfig::default()),
            ..Default::default()
        };
        let out = render_with(
            vec![
                PolicyBuilder::new("sw")
                    .vendor("15b3")
                    .num_vfs(4)
                    .mtu(9000)
                    .eswitch(ESwitchMode::Switchdev)
                    .ovs_bridge(ovs),
            ],
            &[cx6("0000:d8:00.0", "ens5f0"), cx6("0000:3b:00.0", "ens3f0")],
        );
        let bridges = out.spec.bridges.unwrap().ovs.unwrap();
        let names: Vec<&str> = bridges.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["br-0000_3b_00.0", "br-0000_d8_00.0"]);
        let uplink = &bridges[0].uplinks.as_ref().unwrap()[0];
        assert_eq!(uplink.name.as_deref(), Some("ens3f0"));
        assert_eq!(uplink.interface.as_ref().unwrap().mtu_request, Some(9000));
    }

    #[test]
    fn a_bridge_without_switchdev_is_an_error_naming_the_policy() {
        let out = render_with(
            vec![
                PolicyBuilder::new("bad")
                    .pf("ens803f1")
                    .num_vfs(2)
                    .ovs_bridge(OvsConfig::default()),
            ],
            &[pf()],
        );
        assert_eq!(
            out.errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "SriovNetworkNodePolicy sriov-network-operator/bad: spec.bridge: eSwitchMode must be switchdev to use software bridge management"
            ]
        );
        assert!(out.spec.interfaces.is_some(), "the VFs are still rendered");
    }
}
