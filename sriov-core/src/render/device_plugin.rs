//! Policies + a node → the device plugin's `resourceList` for that node, as upstream's
//! operator renders it and stores it in the `device-plugin-config` ConfigMap under the node's name.
//!
//! Selectors are merged per resource name over the node's policies in application order:
//! the first policy with a resource name creates it, later ones add vendors, VF device IDs,
//! PF names (alt-names resolved to the node's primary names, `#range` kept), root devices,
//! link types and PCI addresses (for network filters); `IsRdma`, `NeedVhostNet` and
//! `vdpaType` stay as the first policy set them, `excludeTopology` follows the last.

use crate::api::{DeviceType, InterfaceExt};
use crate::error::Error;
use crate::nic::SupportedNics;
use crate::policy::{Policy, net_filter_matches};

/// Name of the ConfigMap holding every node's resource list (while they fit in one).
pub const CONFIG_MAP_NAME: &str = "device-plugin-config";

/// How many ConfigMaps the node entries spread over once they no longer fit in one.
pub const SHARDS: usize = 16;

/// The most entry bytes one ConfigMap takes (the API server refuses more than 1 MiB of
/// data; this leaves room for the rest of the object).
pub const SHARD_BUDGET: usize = 900 * 1024;

/// The name of shard `index`: shard 0 is [`CONFIG_MAP_NAME`] itself.
pub fn shard_name(index: usize) -> String {
    if index == 0 {
        CONFIG_MAP_NAME.to_owned()
    } else {
        format!("{CONFIG_MAP_NAME}-{index}")
    }
}

/// The shard a node's entry lives in once the entries are sharded: a stable hash of the
/// node name (FNV-1a), so a node's entry never moves while the cluster grows.
pub fn shard_of(node: &str) -> usize {
    usize::try_from(super::fnv1a(node.bytes()) % SHARDS as u64).unwrap_or(0)
}

/// Splits the per-node entries (node name → JSON) over ConfigMaps: all in
/// [`CONFIG_MAP_NAME`] while they fit in [`SHARD_BUDGET`] (upstream's layout, for the
/// clusters upstream can hold), else over [`SHARDS`] by [`shard_of`]. Index `i` of the
/// result is the data of [`shard_name`]`(i)`; empty shards are to be removed. Every
/// device-plugin pod mounts all shards in one directory, so its file is found either way.
pub fn shard_entries(
    entries: std::collections::BTreeMap<String, String>,
) -> Vec<std::collections::BTreeMap<String, String>> {
    let size: usize = entries.iter().map(|(k, v)| k.len() + v.len()).sum();
    let mut shards = vec![std::collections::BTreeMap::new(); SHARDS];
    if size <= SHARD_BUDGET {
        shards[0] = entries;
    } else {
        for (node, entry) in entries {
            shards[shard_of(&node)].insert(node, entry);
        }
    }
    shards
}
/// Node label telling the device-plugin DaemonSet whether to run on the node.
pub const NODE_LABEL: &str = "sriovnetwork.openshift.io/device-plugin";

/// One resource (VF pool) of the device plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource {
    /// Resource name without prefix.
    pub resource_name: String,
    /// Leave NUMA topology out.
    pub exclude_topology: bool,
    /// PCI vendor IDs.
    pub vendors: Vec<String>,
    /// VF PCI device IDs.
    pub devices: Vec<String>,
    /// VF PCI addresses (from network filters).
    pub pci_addresses: Vec<String>,
    /// PF names with optional `#first-last` ranges.
    pub pf_names: Vec<String>,
    /// PF PCI addresses.
    pub root_devices: Vec<String>,
    /// `ether` or `infiniband`.
    pub link_types: Vec<String>,
    /// Expose RDMA devices.
    pub is_rdma: bool,
    /// Mount vhost-net.
    pub need_vhost_net: bool,
    /// vDPA type.
    pub vdpa_type: Option<String>,
}

/// A node's resources, in the order they were first created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceList {
    /// The resources; empty when no policy selects the node.
    pub resources: Vec<Resource>,
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}

/// Renders a node's resource list from the policies that select the node, in application
/// order (see [`crate::policy::PolicySet::for_node`]). `interfaces` is the node state's
/// discovered PFs (`None` when the node has no node state yet). Errors name the policy; the
/// policy's other selectors are still rendered.
pub fn render(
    interfaces: Option<&[InterfaceExt]>,
    policies: &[&Policy],
    nics: &SupportedNics,
) -> (ResourceList, Vec<Error>) {
    let mut list = ResourceList::default();
    let mut errors = Vec::new();
    let interfaces = interfaces.unwrap_or_default();
    for &policy in policies {
        let name = policy.resource_name.as_str();
        let index = match list.resources.iter().position(|r| r.resource_name == name) {
            Some(index) => index,
            None => {
                list.resources.push(Resource {
                    resource_name: name.to_owned(),
                    is_rdma: policy.is_rdma,
                    need_vhost_net: policy.need_vhost_net,
                    vdpa_type: policy.vdpa_type.map(|v| v.as_str().to_owned()),
                    ..Default::default()
                });
                list.resources.len() - 1
            }
        };
        let resource = &mut list.resources[index];
        resource.exclude_topology = policy.exclude_topology;
        let nic = &policy.nic;
        if let Some(vendor) = &nic.vendor {
            push_unique(&mut resource.vendors, vendor.clone());
        }
        if let Some(device) = &nic.device_id {
            let vf_device = if policy.num_vfs == 0 {
                Some(device.as_str())
            } else {
                nics.vf_device_of(device)
            };
            if let Some(vf_device) = vf_device {
                push_unique(&mut resource.devices, vf_device.to_owned());
            }
        }
        for entry in &nic.pf_names {
            let primary = interfaces
                .iter()
                .find(|i| i.has_name(entry.name()))
                .and_then(|i| i.name.as_deref())
                .unwrap_or(entry.name());
            let text = match entry.range() {
                Some(range) => format!("{primary}#{range}"),
                None => primary.to_owned(),
            };
            push_unique(&mut resource.pf_names, text);
        }
        for root in &nic.root_devices {
            push_unique(&mut resource.root_devices, root.to_string());
        }
        if let Some(link_type) = policy.link_type
            && policy.device_type != DeviceType::VfioPci
        {
            let name = if link_type.is_infiniband() {
                "infiniband"
            } else {
                "ether"
            };
            push_unique(&mut resource.link_types, name.to_owned());
        }
        if let Some(filter) = &nic.net_filter {
            if interfaces.is_empty() {
                errors.push(Error::Policy {
                    policy: policy.id(),
                    field: "spec.nicSelector.netFilter".into(),
                    reason:
                        "the node state has no discovered interfaces to match the filter against"
                            .into(),
                });
            }
            for iface in interfaces {
                if net_filter_matches(filter, iface.net_filter.as_deref()) {
                    push_unique(&mut resource.pci_addresses, iface.pci_address.clone());
                }
            }
        }
    }
    (list, errors)
}

/// Appends `value` as JSON. Strings and string lists cannot fail to serialize.
fn push_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let _ = serde_json::to_writer(&mut *out, value);
}

impl Resource {
    /// Writes the resource as upstream's Go struct serializes: `resourceName`, optional
    /// `excludeTopology`, `selectors` (non-empty lists in upstream's key order, then
    /// `IsRdma`, `NeedVhostNet` always, optional `vdpaType`), `SelectorObj: null`.
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"resourceName\":");
        push_json(out, &self.resource_name);
        if self.exclude_topology {
            out.extend_from_slice(b",\"excludeTopology\":true");
        }
        out.extend_from_slice(b",\"selectors\":{");
        for (key, values) in [
            ("vendors", &self.vendors),
            ("devices", &self.devices),
            ("pciAddresses", &self.pci_addresses),
            ("pfNames", &self.pf_names),
            ("rootDevices", &self.root_devices),
            ("linkTypes", &self.link_types),
        ] {
            if !values.is_empty() {
                out.push(b'"');
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(b"\":");
                push_json(out, values);
                out.push(b',');
            }
        }
        out.extend_from_slice(b"\"IsRdma\":");
        push_json(out, &self.is_rdma);
        out.extend_from_slice(b",\"NeedVhostNet\":");
        push_json(out, &self.need_vhost_net);
        if let Some(vdpa) = &self.vdpa_type {
            out.extend_from_slice(b",\"vdpaType\":");
            push_json(out, vdpa);
        }
        out.extend_from_slice(b"},\"SelectorObj\":null}");
    }
}

impl ResourceList {
    /// The device plugin's config file content, byte-compatible with upstream's operator:
    /// compact JSON, keys in upstream's order, `"resourceList":null` when empty.
    pub fn to_json(&self) -> String {
        if self.resources.is_empty() {
            return r#"{"resourceList":null}"#.to_owned();
        }
        let mut out = Vec::with_capacity(160 * self.resources.len() + 20);
        out.extend_from_slice(b"{\"resourceList\":[");
        for (i, resource) in self.resources.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            resource.write_json(&mut out);
        }
        out.extend_from_slice(b"]}");
        // Only UTF-8 was written: ASCII punctuation and serde_json's output.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Value of the [`NODE_LABEL`] for the node: `Enabled` when it has resources.
    pub fn node_label_value(&self) -> &'static str {
        if self.resources.is_empty() {
            "Disabled"
        } else {
            "Enabled"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{DeviceType, LinkType};
    use crate::labels::Labels;
    use crate::policy::PolicySet;
    use crate::testing::{InterfaceBuilder, PolicyBuilder};
    use serde_json::{Value, json};

    fn render_for(
        policies: Vec<PolicyBuilder>,
        interfaces: Option<&[InterfaceExt]>,
    ) -> (String, Vec<String>) {
        let raw: Vec<_> = policies.into_iter().map(PolicyBuilder::build).collect();
        let set = PolicySet::resolve(&raw);
        let (list, errors) = render(
            interfaces,
            &set.for_node(&Labels::new()),
            &SupportedNics::default(),
        );
        (
            list.to_json(),
            errors.iter().map(ToString::to_string).collect(),
        )
    }

    #[test]
    fn entries_stay_in_one_config_map_until_it_would_overflow_then_shard_stably() {
        use std::collections::BTreeMap;
        let small: BTreeMap<String, String> = (0..10)
            .map(|i| (format!("node-{i}"), "{}".to_owned()))
            .collect();
        let shards = shard_entries(small.clone());
        assert_eq!(shards.len(), SHARDS);
        assert_eq!(shards[0], small, "all in device-plugin-config");
        assert!(shards[1..].iter().all(BTreeMap::is_empty));

        let entry = "x".repeat(400);
        let big: BTreeMap<String, String> = (0..10_000)
            .map(|i| (format!("node-{i:05}"), entry.clone()))
            .collect();
        let shards = shard_entries(big);
        let sizes: Vec<usize> = shards
            .iter()
            .map(|s| s.iter().map(|(k, v)| k.len() + v.len()).sum())
            .collect();
        assert!(
            sizes.iter().all(|s| *s > 0 && *s <= SHARD_BUDGET),
            "{sizes:?}"
        );
        assert_eq!(shards.iter().map(BTreeMap::len).sum::<usize>(), 10_000);
        for (i, shard) in shards.iter().enumerate() {
            assert!(shard.keys().all(|node| shard_of(node) == i));
        }
        assert_eq!(shard_name(0), CONFIG_MAP_NAME);
        assert_eq!(shard_name(3), "device-plugin-config-3");
    }

    #[test]
    fn upstream_example_renders_byte_for_byte() {
        let (json, errors) = render_for(
            vec![
                PolicyBuilder::new("p")
                    .resource("r")
                    .vendor("8086")
                    .pf("ens0#0-9")
                    .num_vfs(10),
            ],
            None,
        );
        assert!(errors.is_empty());
        assert_eq!(
            json,
            r#"{"resourceList":[{"resourceName":"r","selectors":{"vendors":["8086"],"pfNames":["ens0#0-9"],"IsRdma":false,"NeedVhostNet":false},"SelectorObj":null}]}"#
        );
    }

    #[test]
    fn a_node_without_policies_has_a_null_list_and_is_disabled() {
        let (list, _) = render(None, &[], &SupportedNics::default());
        assert_eq!(list.to_json(), r#"{"resourceList":null}"#);
        assert_eq!(list.node_label_value(), "Disabled");
    }

    #[test]
    fn policies_sharing_a_resource_merge_their_selectors() {
        let e810 = InterfaceBuilder::new("0000:81:00.0", "ens801f0")
            .intel_e810()
            .alt_name("enp129s0f0")
            .build();
        let (json, _) = render_for(
            vec![
                PolicyBuilder::new("a")
                    .priority(50)
                    .resource("intel")
                    .vendor("8086")
                    .device("1592")
                    .pf("enp129s0f0#0-3")
                    .num_vfs(8)
                    .rdma(true)
                    .link_type(LinkType::Eth),
                PolicyBuilder::new("b")
                    .priority(10)
                    .resource("intel")
                    .vendor("8086")
                    .device("1593")
                    .pf("ens801f1")
                    .root("0000:81:00.1")
                    .num_vfs(8)
                    .exclude_topology(true),
            ],
            Some(&[e810]),
        );
        let value: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value,
            json!({"resourceList": [{
                "resourceName": "intel",
                "excludeTopology": true,
                "selectors": {
                    "vendors": ["8086"],
                    "devices": ["1889"],
                    "pfNames": ["ens801f0#0-3", "ens801f1"],
                    "rootDevices": ["0000:81:00.1"],
                    "linkTypes": ["ether"],
                    "IsRdma": true,
                    "NeedVhostNet": false
                },
                "SelectorObj": null
            }]})
        );
    }

    #[test]
    fn vfio_policies_get_no_link_type_and_zero_vf_policies_use_the_pf_device() {
        let (json, _) = render_for(
            vec![
                PolicyBuilder::new("dpdk")
                    .resource("dpdk")
                    .device("1592")
                    .num_vfs(4)
                    .device_type(DeviceType::VfioPci)
                    .link_type(LinkType::Eth),
                PolicyBuilder::new("zero")
                    .resource("zero")
                    .device("1592")
                    .num_vfs(0),
            ],
            None,
        );
        assert!(
            json.contains(r#"{"resourceName":"dpdk","selectors":{"devices":["1889"],"IsRdma""#),
            "{json}"
        );
        assert!(
            json.contains(r#"{"resourceName":"zero","selectors":{"devices":["1592"],"IsRdma""#),
            "{json}"
        );
    }

    #[test]
    fn net_filters_become_pci_addresses_and_need_a_discovered_status() {
        let vf = InterfaceBuilder::new("0000:00:05.0", "eth1")
            .net_filter("openstack/NetworkID:abc")
            .build();
        let policy = || {
            PolicyBuilder::new("os")
                .resource("os")
                .net_filter("openstack/NetworkID: abc")
                .num_vfs(1)
        };
        let (json, errors) = render_for(vec![policy()], Some(&[vf]));
        assert!(errors.is_empty());
        assert!(
            json.contains(r#""pciAddresses":["0000:00:05.0"]"#),
            "{json}"
        );
        let (_, errors) = render_for(vec![policy()], None);
        assert_eq!(
            errors,
            [
                "SriovNetworkNodePolicy sriov-network-operator/os: spec.nicSelector.netFilter: the node state has no discovered interfaces to match the filter against"
            ]
        );
    }
}
