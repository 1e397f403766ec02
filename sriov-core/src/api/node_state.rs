//! `SriovNetworkNodeState`: one per node. The operator writes `spec` (what the node should
//! look like), the config daemon writes `status` (what it found and how syncing went).

// Three printer columns share `type_ = "string"`; clippy reads them as one duplicated
// attribute list.
#![allow(clippy::duplicated_attributes)]

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{OvsBridgeConfig, OvsInterfaceConfig, RdmaMode};

/// Annotation holding the drain state the operator wants for the node.
pub const DESIRED_STATE_ANNOTATION: &str = "sriovnetwork.openshift.io/desired-state";
/// Annotation holding the drain state the daemon reports for the node.
pub const CURRENT_STATE_ANNOTATION: &str = "sriovnetwork.openshift.io/current-state";
/// Annotation set to `"true"` when an external drainer handles the node.
pub const USE_EXTERNAL_DRAINER_ANNOTATION: &str = "sriovnetwork.openshift.io/use-external-drainer";
/// Annotation (RFC 3339 time) until which a stale node state is kept.
pub const KEEP_STATE_UNTIL_ANNOTATION: &str = "sriovnetwork.openshift.io/keep-state-until";

/// Desired and observed SR-IOV state of one node; the object is named after the node.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "sriovnetwork.openshift.io",
    version = "v1",
    kind = "SriovNetworkNodeState",
    plural = "sriovnetworknodestates",
    singular = "sriovnetworknodestate",
    namespaced,
    status = "SriovNetworkNodeStateStatus",
    derive = "PartialEq",
    derive = "Default",
    printcolumn(
        name = "Sync Status",
        type_ = "string",
        json_path = ".status.syncStatus"
    ),
    printcolumn(
        name = "Desired Sync State",
        type_ = "string",
        json_path = ".metadata.annotations.sriovnetwork\\.openshift\\.io/desired-state"
    ),
    printcolumn(
        name = "Current Sync State",
        type_ = "string",
        json_path = ".metadata.annotations.sriovnetwork\\.openshift\\.io/current-state"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    doc = "Desired (spec, from the operator) and discovered (status, from the config daemon) \
           SR-IOV state of the node this object is named after."
)]
#[serde(rename_all = "camelCase")]
pub struct SriovNetworkNodeStateSpec {
    /// PFs to configure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interfaces: Option<Vec<Interface>>,
    /// Software bridges to manage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridges: Option<Bridges>,
    /// Node-wide settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<System>,
}

/// Desired configuration of one PF.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Interface {
    /// PCI address of the PF.
    pub pci_address: String,
    /// Number of VFs to create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_vfs: Option<i32>,
    /// PF MTU (only ever raised).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<i32>,
    /// PF name, copied from the discovered status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Link type to set (`eth`/`ib`, any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_type: Option<String>,
    /// E-switch mode to set (`legacy`/`switchdev`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_switch_mode: Option<String>,
    /// VF groups, one per contributing policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vf_groups: Option<Vec<VfGroup>>,
    /// The PF and its VFs are created outside the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub externally_managed: Option<bool>,
}

/// A range of VFs on one PF configured by one policy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VfGroup {
    /// Resource name of the pool the VFs join.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// `netdevice` or `vfio-pci`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_type: Option<String>,
    /// VF indices, `first-last`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vf_range: Option<String>,
    /// Name of the policy the group comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    /// VF MTU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<i32>,
    /// Whether the VFs expose RDMA devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_rdma: Option<bool>,
    /// vDPA device type per VF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vdpa_type: Option<String>,
}

/// Managed software bridges.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct Bridges {
    /// OVS bridges, sorted by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ovs: Option<Vec<OvsConfigExt>>,
}

/// One OVS bridge on a node.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct OvsConfigExt {
    /// Bridge name (`br-<pci address>` when the operator makes it).
    pub name: String,
    /// The bridge row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<OvsBridgeConfig>,
    /// The bridge's uplinks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uplinks: Option<Vec<OvsUplinkConfigExt>>,
}

/// One uplink (a PF) of an OVS bridge.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OvsUplinkConfigExt {
    /// PCI address of the PF.
    pub pci_address: String,
    /// PF name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The uplink's interface row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<OvsInterfaceConfig>,
}

/// Node-wide settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct System {
    /// RDMA subsystem mode, from the node's pool config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdma_mode: Option<RdmaMode>,
}

/// What the config daemon found on the node and how its last sync went.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SriovNetworkNodeStateStatus {
    /// Discovered SR-IOV capable PFs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interfaces: Option<Vec<InterfaceExt>>,
    /// Discovered software bridges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridges: Option<Bridges>,
    /// Discovered node-wide settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<System>,
    /// `Succeeded`, `Failed` or `InProgress`; empty before the first sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_status: Option<String>,
    /// Why the last sync failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_error: Option<String>,
    /// The `metadata.generation` of the spec the daemon last acted on (beyond upstream; a
    /// daemon that does not write it is taken at its `syncStatus` alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions, keyed by `type` (beyond upstream): the operator's `Ready`, `Progressing`
    /// and `Degraded`, and the drain controller's `DrainBlocked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Option<Vec<super::Condition>>,
}

/// A discovered PF.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceExt {
    /// Netdev name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// MAC address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Bound kernel driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// PCI address.
    pub pci_address: String,
    /// PCI vendor ID (hex, no `0x`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// PCI device ID (hex, no `0x`).
    #[serde(default, rename = "deviceID", skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// Virtual-platform network ID, e.g. `openstack/NetworkID:<uuid>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_filter: Option<String>,
    /// Current MTU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<i32>,
    /// Current number of VFs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_vfs: Option<i32>,
    /// Link speed, e.g. `25000 Mb/s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_speed: Option<String>,
    /// `ETH` or `IB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_type: Option<String>,
    /// `up` or `down`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_admin_state: Option<String>,
    /// `legacy` or `switchdev`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_switch_mode: Option<String>,
    /// Whether a policy marks this PF as externally managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub externally_managed: Option<bool>,
    /// Most VFs the PF supports (`sriov_totalvfs`).
    #[serde(default, rename = "totalvfs", skip_serializing_if = "Option::is_none")]
    pub total_vfs: Option<i32>,
    /// The PF's VFs.
    #[serde(default, rename = "Vfs", skip_serializing_if = "Option::is_none")]
    pub vfs: Option<Vec<VirtualFunction>>,
    /// Alternative interface names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_names: Option<Vec<String>>,
}

impl InterfaceExt {
    /// Whether the PF is called `name`: its netdev name or one of its alternative names
    /// (how policies and device-plugin selectors name PFs).
    pub fn has_name(&self, name: &str) -> bool {
        self.name.as_deref() == Some(name) || self.alt_names.iter().flatten().any(|a| a == name)
    }
}

/// A discovered VF.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualFunction {
    /// Netdev name (absent for VFs on vfio-pci).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// MAC address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Unused; kept for compatibility.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned: Option<String>,
    /// Bound driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// PCI address.
    pub pci_address: String,
    /// PCI vendor ID (hex, no `0x`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// PCI device ID (hex, no `0x`).
    #[serde(default, rename = "deviceID", skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// VLAN set on the VF.
    #[serde(default, rename = "Vlan", skip_serializing_if = "Option::is_none")]
    pub vlan: Option<i32>,
    /// MTU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<i32>,
    /// VF index on its PF; always written, including 0.
    #[serde(rename = "vfID")]
    pub vf_id: i32,
    /// vDPA device type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vdpa_type: Option<String>,
    /// Switchdev representor netdev.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representor_name: Option<String>,
    /// InfiniBand node GUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guid: Option<String>,
}
