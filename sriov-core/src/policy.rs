//! Resolved policies and NIC selection.
//!
//! A raw [`SriovNetworkNodePolicy`] is exactly what the user wrote; [`Policy::resolve`] turns
//! it into a [`Policy`] whose fields are parsed and checked (resource name, PCI addresses,
//! `pf#first-last` ranges, bounds), or into an error naming the field. Only resolved
//! policies reach rendering.
//!
//! Selection follows upstream: an empty NIC selector selects nothing; otherwise every set
//! criterion must hold (vendor, PF device ID, root devices, PF names including alternative
//! names, network filter), and a node is selected when it carries every `nodeSelector` label
//! with exactly its value.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::api::{
    DeviceType, ESwitchMode, InterfaceExt, LinkType, OvsConfig, SriovNetworkNodePolicy, VdpaType,
};
use crate::error::{Error, Result};
use crate::ids::{PciAddress, PfSelector, ResourceName, VfRange};
use crate::labels::{self, Labels};

/// Upstream's name for a deprecated policy that every component ignores.
pub const IGNORED_POLICY_NAME: &str = "default";

/// A policy with every field parsed and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (empty when unset).
    pub namespace: String,
    /// 0 (wins) to 99. A policy stored without `priority` has 0, as in upstream's controller;
    /// the mutating webhook normally sets 99.
    pub priority: u8,
    /// Device-plugin resource name.
    pub resource_name: ResourceName,
    /// Exact-match node labels.
    pub node_selector: Labels,
    /// VF (and minimum PF) MTU.
    pub mtu: Option<u32>,
    /// VFs per selected PF.
    pub num_vfs: u16,
    /// Which PFs the policy selects.
    pub nic: NicSelector,
    /// `netdevice` unless set.
    pub device_type: DeviceType,
    /// RDMA devices exposed.
    pub is_rdma: bool,
    /// vhost-net mounted.
    pub need_vhost_net: bool,
    /// Requested PF link type.
    pub link_type: Option<LinkType>,
    /// Requested e-switch mode.
    pub e_switch_mode: Option<ESwitchMode>,
    /// vDPA device type.
    pub vdpa_type: Option<VdpaType>,
    /// Device plugin leaves out NUMA topology.
    pub exclude_topology: bool,
    /// The PF is managed outside the operator.
    pub externally_managed: bool,
    /// Software bridge settings; `Some` (even empty) asks for a managed bridge.
    pub bridge: Option<OvsConfig>,
}

/// The parsed `nicSelector` of a policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NicSelector {
    /// PCI vendor ID.
    pub vendor: Option<String>,
    /// PF PCI device ID.
    pub device_id: Option<String>,
    /// PF addresses.
    pub root_devices: Vec<PciAddress>,
    /// PF names or alt-names, with optional VF ranges.
    pub pf_names: Vec<PfSelector>,
    /// Virtual-platform network filter.
    pub net_filter: Option<String>,
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value.as_ref().filter(|v| !v.is_empty()).cloned()
}

impl Policy {
    /// Parses and checks a raw policy. The error names the policy and the field.
    pub fn resolve(raw: &SriovNetworkNodePolicy) -> Result<Self> {
        let namespace = raw.metadata.namespace.clone().unwrap_or_default();
        let name = raw.metadata.name.clone().unwrap_or_default();
        let id = crate::api::object_name(Some(&namespace), Some(&name));
        let fail = |field: &str, reason: String| Error::Policy {
            policy: id.clone(),
            field: field.to_owned(),
            reason,
        };
        let spec = &raw.spec;

        let resource_name = spec
            .resource_name
            .parse()
            .map_err(|e: Error| fail("spec.resourceName", e.to_string()))?;
        let priority = match spec.priority {
            None => 0,
            Some(p) => u8::try_from(p)
                .ok()
                .filter(|p| *p <= 99)
                .ok_or_else(|| fail("spec.priority", format!("{p} is outside 0..=99")))?,
        };
        let mtu = match spec.mtu {
            None => None,
            Some(m) => Some(
                u32::try_from(m)
                    .ok()
                    .filter(|m| *m >= 1)
                    .ok_or_else(|| fail("spec.mtu", format!("{m} is not a positive MTU")))?,
            ),
        };
        let num_vfs = u16::try_from(spec.num_vfs).map_err(|_| {
            fail(
                "spec.numVfs",
                format!("{} is outside 0..={}", spec.num_vfs, u16::MAX),
            )
        })?;

        let raw_nic = &spec.nic_selector;
        let mut root_devices = Vec::new();
        for (i, text) in raw_nic.root_devices.iter().flatten().enumerate() {
            let field = format!("spec.nicSelector.rootDevices[{i}]");
            root_devices.push(
                text.parse()
                    .map_err(|e: Error| fail(&field, e.to_string()))?,
            );
        }
        let mut pf_names = Vec::new();
        for (i, text) in raw_nic.pf_names.iter().flatten().enumerate() {
            let field = format!("spec.nicSelector.pfNames[{i}]");
            let selector: PfSelector = text
                .parse()
                .map_err(|e: Error| fail(&field, e.to_string()))?;
            // A policy without VFs has nothing to range over (D3 rejects it).
            if let Some(range) = selector.range()
                && num_vfs > 0
                && range.exceeds(i64::from(num_vfs))
            {
                return Err(fail(
                    &field,
                    format!(
                        "VF range {range} ends beyond the last VF index {} of numVfs {num_vfs}",
                        num_vfs - 1
                    ),
                ));
            }
            pf_names.push(selector);
        }

        Ok(Self {
            name,
            namespace,
            priority,
            resource_name,
            node_selector: spec.node_selector.clone(),
            mtu,
            num_vfs,
            nic: NicSelector {
                vendor: non_empty(&raw_nic.vendor),
                device_id: non_empty(&raw_nic.device_id),
                root_devices,
                pf_names,
                net_filter: non_empty(&raw_nic.net_filter),
            },
            device_type: spec.device_type.unwrap_or_default(),
            is_rdma: spec.is_rdma.unwrap_or(false),
            need_vhost_net: spec.need_vhost_net.unwrap_or(false),
            link_type: spec.link_type,
            e_switch_mode: spec.e_switch_mode,
            vdpa_type: spec.vdpa_type,
            exclude_topology: spec.exclude_topology.unwrap_or(false),
            externally_managed: spec.externally_managed.unwrap_or(false),
            bridge: spec.bridge.as_ref().and_then(|b| b.ovs.clone()),
        })
    }

    /// `namespace/name`.
    pub fn id(&self) -> String {
        crate::api::object_name(Some(&self.namespace), Some(&self.name))
    }

    /// Whether the node's labels satisfy the policy's `nodeSelector`.
    pub fn selects_node(&self, node_labels: &Labels) -> bool {
        labels::matches_exact(&self.node_selector, node_labels)
    }

    /// The VF range this policy takes on a selected PF: the range of the first `pfNames`
    /// entry naming the PF (by name or alt-name), or all `numVfs` VFs. `None` when the policy
    /// asks for no VFs.
    ///
    /// Differs from upstream, which recognises only the primary name here: a policy that
    /// selects `enp59s0f0np0#0-3` by its alt-name takes VFs 0-3, not all of them.
    pub fn vf_range_on(&self, iface: &InterfaceExt) -> Option<VfRange> {
        let whole = VfRange::whole(self.num_vfs)?;
        let named = self
            .nic
            .pf_names
            .iter()
            .find(|entry| iface.has_name(entry.name()));
        Some(named.and_then(PfSelector::range).unwrap_or(whole))
    }

    /// Upstream's application order: priority number descending (99 first), then name
    /// ascending. The last policy applied to a PF wins, so a lower number wins.
    pub fn application_order(a: &Self, b: &Self) -> Ordering {
        b.priority
            .cmp(&a.priority)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.namespace.cmp(&b.namespace))
    }
}

impl NicSelector {
    /// Whether no criterion is set; an empty selector selects nothing.
    pub fn is_empty(&self) -> bool {
        self.vendor.is_none()
            && self.device_id.is_none()
            && self.root_devices.is_empty()
            && self.pf_names.is_empty()
            && self.net_filter.is_none()
    }

    /// Whether the discovered PF satisfies every set criterion.
    pub fn selects(&self, iface: &InterfaceExt) -> bool {
        if self.is_empty() {
            return false;
        }
        self.selects_model(iface)
            && self
                .net_filter
                .as_deref()
                .is_none_or(|filter| net_filter_matches(filter, iface.net_filter.as_deref()))
    }

    /// Selection without the network filter: what the webhook's NIC-model check compares.
    pub fn selects_model(&self, iface: &InterfaceExt) -> bool {
        if let Some(vendor) = &self.vendor
            && iface.vendor.as_ref() != Some(vendor)
        {
            return false;
        }
        if let Some(device) = &self.device_id
            && iface.device_id.as_ref() != Some(device)
        {
            return false;
        }
        if !self.root_devices.is_empty() {
            let address = iface.pci_address.parse::<PciAddress>().ok();
            if !address.is_some_and(|a| self.root_devices.contains(&a)) {
                return false;
            }
        }
        if !self.pf_names.is_empty()
            && !self
                .pf_names
                .iter()
                .any(|entry| iface.has_name(entry.name()))
        {
            return false;
        }
        true
    }
}

/// Parses `key:value` (whitespace allowed around `:`; the value is its first word).
fn net_filter_parts(text: &str) -> Option<(&str, &str)> {
    let (key, value) = text.split_once(':')?;
    let key = key.split_whitespace().last()?;
    let value = value.split_whitespace().next()?;
    Some((key, value))
}

/// Whether a policy's network filter matches a PF's: same key and value; anything that
/// does not parse matches nothing.
pub fn net_filter_matches(selector: &str, iface: Option<&str>) -> bool {
    match (net_filter_parts(selector), iface.and_then(net_filter_parts)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Resolved policies in application order (see [`Policy::application_order`]), with the
/// policies that could not be resolved kept apart. Policies named `default` are left out,
/// as upstream ignores them.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    policies: Vec<Policy>,
    rejected: Vec<Error>,
    /// The distinct node selectors of `policies`, and for each policy the index of its
    /// selector here: many policies share a selector, so a node is matched against each
    /// distinct selector once.
    selectors: Vec<Labels>,
    selector_of: Vec<usize>,
}

impl PolicySet {
    /// Resolves and orders the given raw policies.
    pub fn resolve<'a>(raw: impl IntoIterator<Item = &'a SriovNetworkNodePolicy>) -> Self {
        let mut set = Self::default();
        for policy in raw {
            if policy.metadata.name.as_deref() == Some(IGNORED_POLICY_NAME) {
                continue;
            }
            match Policy::resolve(policy) {
                Ok(p) => set.policies.push(p),
                Err(e) => set.rejected.push(e),
            }
        }
        set.policies.sort_by(Policy::application_order);
        set.index_selectors();
        set
    }

    fn index_selectors(&mut self) {
        let mut index: BTreeMap<&Labels, usize> = BTreeMap::new();
        let mut selectors = Vec::new();
        let mut selector_of = Vec::with_capacity(self.policies.len());
        for policy in &self.policies {
            let next = index.len();
            let i = *index.entry(&policy.node_selector).or_insert_with(|| {
                selectors.push(policy.node_selector.clone());
                next
            });
            selector_of.push(i);
        }
        self.selectors = selectors;
        self.selector_of = selector_of;
    }

    /// The policies whose `nodeSelector` the node's labels satisfy, in application order.
    pub fn for_node(&self, node_labels: &Labels) -> Vec<&Policy> {
        let matches: Vec<bool> = self
            .selectors
            .iter()
            .map(|s| labels::matches_exact(s, node_labels))
            .collect();
        self.policies
            .iter()
            .zip(&self.selector_of)
            .filter(|(_, s)| matches[**s])
            .map(|(p, _)| p)
            .collect()
    }

    /// Orders already resolved policies.
    pub fn from_policies(mut policies: Vec<Policy>) -> Self {
        policies.retain(|p| p.name != IGNORED_POLICY_NAME);
        policies.sort_by(Policy::application_order);
        let mut set = Self {
            policies,
            ..Self::default()
        };
        set.index_selectors();
        set
    }

    /// The resolved policies, in application order.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// Why each unresolvable policy was left out.
    pub fn rejected(&self) -> &[Error] {
        &self.rejected
    }

    /// Policies by `namespace/name`, for lookups.
    pub fn by_id(&self) -> BTreeMap<String, &Policy> {
        self.policies.iter().map(|p| (p.id(), p)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{InterfaceBuilder, PolicyBuilder};

    #[test]
    fn resolution_errors_name_the_policy_and_the_field() {
        let err =
            |builder: PolicyBuilder| Policy::resolve(&builder.build()).unwrap_err().to_string();
        assert_eq!(
            err(PolicyBuilder::new("p").resource("bad name")),
            "SriovNetworkNodePolicy sriov-network-operator/p: spec.resourceName: resource name \"bad name\" is invalid: must consist of alphanumeric characters, '-' or '_', and must start and end with an alphanumeric character (regex used for validation is '^[a-zA-Z0-9]([a-zA-Z0-9_-]*[a-zA-Z0-9])?$')"
        );
        assert_eq!(
            err(PolicyBuilder::new("p").priority(100)),
            "SriovNetworkNodePolicy sriov-network-operator/p: spec.priority: 100 is outside 0..=99"
        );
        assert_eq!(
            err(PolicyBuilder::new("p").root("0000:3b:00")),
            "SriovNetworkNodePolicy sriov-network-operator/p: spec.nicSelector.rootDevices[0]: invalid PCI address \"0000:3b:00\": expected a '.' between device and function"
        );
        assert_eq!(
            err(PolicyBuilder::new("p").pf("ens1").pf("ens2#2-9").num_vfs(8)),
            "SriovNetworkNodePolicy sriov-network-operator/p: spec.nicSelector.pfNames[1]: VF range 2-9 ends beyond the last VF index 7 of numVfs 8"
        );
        assert!(
            err(PolicyBuilder::new("p").num_vfs(-1))
                .ends_with("spec.numVfs: -1 is outside 0..=65535")
        );
        assert!(err(PolicyBuilder::new("p").mtu(0)).ends_with("spec.mtu: 0 is not a positive MTU"));
    }

    #[test]
    fn unset_fields_resolve_to_upstreams_defaults() {
        let p = PolicyBuilder::new("p").pf("ens1").resolve();
        assert_eq!(
            (p.priority, p.device_type, p.is_rdma, p.mtu),
            (0, DeviceType::Netdevice, false, None)
        );
    }

    #[test]
    fn every_set_criterion_must_match() {
        let pf = InterfaceBuilder::new("0000:3b:00.0", "ens1f0")
            .intel_e810()
            .alt_name("enp59s0f0")
            .build();
        let selects = |b: PolicyBuilder| b.resolve().nic.selects(&pf);
        assert!(selects(
            PolicyBuilder::new("p").vendor("8086").device("1592")
        ));
        assert!(selects(PolicyBuilder::new("p").root("0000:3B:00.0")));
        assert!(selects(
            PolicyBuilder::new("p").pf("enp59s0f0#0-3").num_vfs(4)
        ));
        assert!(!selects(
            PolicyBuilder::new("p").vendor("8086").device("1593")
        ));
        assert!(!selects(
            PolicyBuilder::new("p").vendor("15b3").pf("ens1f0")
        ));
        assert!(!selects(PolicyBuilder::new("p").root("0000:3b:00.1")));
        assert!(
            !selects(PolicyBuilder::new("p")),
            "an empty selector selects nothing"
        );
    }

    #[test]
    fn net_filters_compare_key_and_first_word_of_the_value() {
        assert!(net_filter_matches(
            "openstack/NetworkID:abc",
            Some("openstack/NetworkID: abc")
        ));
        assert!(net_filter_matches(
            " aws/NetworkID : x1 ",
            Some("aws/NetworkID:x1 extra")
        ));
        assert!(!net_filter_matches(
            "openstack/NetworkID:abc",
            Some("aws/NetworkID:abc")
        ));
        assert!(!net_filter_matches("no-colon", Some("no-colon")));
        assert!(!net_filter_matches("openstack/NetworkID:abc", None));
    }

    #[test]
    fn application_order_is_priority_descending_then_name() {
        let set = PolicySet::resolve(&[
            PolicyBuilder::new("b").priority(10).build(),
            PolicyBuilder::new("a").priority(10).build(),
            PolicyBuilder::new("z").priority(99).build(),
            PolicyBuilder::new("default").priority(50).build(),
        ]);
        let names: Vec<&str> = set.policies().iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["z", "a", "b"],
            "the deprecated 'default' policy is ignored"
        );
    }
}
