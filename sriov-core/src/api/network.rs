//! `SriovNetwork`, `SriovIBNetwork` and `OVSNetwork`: the networks pods attach to. The
//! operator turns each into a Multus `NetworkAttachmentDefinition`.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::NetworkStatus;

/// An Ethernet network on SR-IOV VFs, rendered to a `sriov` CNI configuration.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "sriovnetwork.openshift.io",
    version = "v1",
    kind = "SriovNetwork",
    plural = "sriovnetworks",
    singular = "sriovnetwork",
    namespaced,
    status = "NetworkStatus",
    derive = "PartialEq",
    derive = "Default",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    doc = "An SR-IOV Ethernet network; the operator writes a NetworkAttachmentDefinition for it."
)]
#[serde(rename_all = "camelCase")]
pub struct SriovNetworkSpec {
    /// Namespace to write the NetworkAttachmentDefinition into; only allowed for networks in
    /// the operator namespace. Defaults to the network's own namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_namespace: Option<String>,
    /// Resource name of the VF pool (as in the policy, without prefix).
    pub resource_name: String,
    /// CNI capabilities as a JSON object string, e.g. `{"mac": true, "ips": true}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<String>,
    /// IPAM configuration as a JSON object string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam: Option<String>,
    /// VLAN ID set on the VF; 0 means untagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 4094))]
    pub vlan: Option<i32>,
    /// VLAN priority (QoS) set on the VF.
    #[serde(default, rename = "vlanQoS", skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 7))]
    pub vlan_qos: Option<i32>,
    /// VLAN protocol: 802.1q or 802.1ad, either case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan_proto: Option<VlanProto>,
    /// MAC spoof checking on the VF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spoof_chk: Option<OnOff>,
    /// VF trust mode (allows promiscuous mode and MAC changes from the pod).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<OnOff>,
    /// VF link state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_state: Option<LinkState>,
    /// Minimum transmit rate of the VF in Mbps; 0 disables the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub min_tx_rate: Option<i32>,
    /// Maximum transmit rate of the VF in Mbps; 0 disables the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_tx_rate: Option<i32>,
    /// Further CNI plugins chained after sriov: one or more JSON objects, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_plugins: Option<String>,
    /// Log level of the sriov CNI plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "info"))]
    pub log_level: Option<CniLogLevel>,
    /// Log file of the sriov CNI plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_file: Option<String>,
}

/// An InfiniBand network on SR-IOV VFs, rendered to an `ib-sriov` CNI configuration.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "sriovnetwork.openshift.io",
    version = "v1",
    kind = "SriovIBNetwork",
    plural = "sriovibnetworks",
    singular = "sriovibnetwork",
    namespaced,
    status = "NetworkStatus",
    derive = "PartialEq",
    derive = "Default",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    doc = "An SR-IOV InfiniBand network; the operator writes a NetworkAttachmentDefinition for it."
)]
#[serde(rename_all = "camelCase")]
pub struct SriovIBNetworkSpec {
    /// Namespace to write the NetworkAttachmentDefinition into; only allowed for networks in
    /// the operator namespace. Defaults to the network's own namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_namespace: Option<String>,
    /// Resource name of the VF pool (as in the policy, without prefix).
    pub resource_name: String,
    /// CNI capabilities as a JSON object string, e.g. `{"infinibandGUID": true}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<String>,
    /// IPAM configuration as a JSON object string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam: Option<String>,
    /// VF link state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_state: Option<LinkState>,
    /// Further CNI plugins chained after ib-sriov: one or more JSON objects, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_plugins: Option<String>,
}

/// A network on switchdev VFs attached through OVS, rendered to an `ovs` CNI configuration.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "sriovnetwork.openshift.io",
    version = "v1",
    kind = "OVSNetwork",
    plural = "ovsnetworks",
    singular = "ovsnetwork",
    namespaced,
    status = "NetworkStatus",
    derive = "PartialEq",
    derive = "Default",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    doc = "An OVS network on switchdev VFs; the operator writes a NetworkAttachmentDefinition for it."
)]
#[serde(rename_all = "camelCase")]
pub struct OVSNetworkSpec {
    /// Namespace to write the NetworkAttachmentDefinition into; only allowed for networks in
    /// the operator namespace. Defaults to the network's own namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_namespace: Option<String>,
    /// Resource name of the VF pool (as in the policy, without prefix).
    pub resource_name: String,
    /// CNI capabilities as a JSON object string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<String>,
    /// IPAM configuration as a JSON object string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam: Option<String>,
    /// Further CNI plugins chained after ovs: one or more JSON objects, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_plugins: Option<String>,
    /// OVS bridge to attach to; empty lets ovs-cni pick the bridge of the VF's PF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    /// Access VLAN tag of the port; 0 means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 4095))]
    pub vlan: Option<u32>,
    /// MTU of the port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Trunk VLANs of the port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trunk: Option<Vec<TrunkConfig>>,
    /// OVS interface type, e.g. `netdev` for userspace datapaths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface_type: Option<String>,
}

/// One trunk entry of an OVS port: a single VLAN `id`, or a `minID`..`maxID` span.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct TrunkConfig {
    /// First VLAN of a span.
    #[serde(default, rename = "minID", skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 4095))]
    pub min_id: Option<u32>,
    /// Last VLAN of a span.
    #[serde(default, rename = "maxID", skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 4095))]
    pub max_id: Option<u32>,
    /// A single VLAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 4095))]
    pub id: Option<u32>,
}

/// VLAN protocol. Both spellings are accepted, as upstream does, and kept as written.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum VlanProto {
    /// IEEE 802.1Q (C-tag), lower case.
    #[serde(rename = "802.1q")]
    Dot1q,
    /// IEEE 802.1Q (C-tag), upper case.
    #[serde(rename = "802.1Q")]
    Dot1qUpper,
    /// IEEE 802.1ad (S-tag, QinQ), lower case.
    #[serde(rename = "802.1ad")]
    Dot1ad,
    /// IEEE 802.1ad (S-tag, QinQ), upper case.
    #[serde(rename = "802.1AD")]
    Dot1adUpper,
}

impl VlanProto {
    /// Whether this is 802.1ad (QinQ), whatever the spelling.
    pub fn is_qinq(self) -> bool {
        matches!(self, Self::Dot1ad | Self::Dot1adUpper)
    }
}

/// A switch written `on` or `off`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum OnOff {
    /// Enabled.
    #[serde(rename = "on")]
    On,
    /// Disabled.
    #[serde(rename = "off")]
    Off,
}

/// Administrative link state of a VF.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum LinkState {
    /// Follow the PF's link.
    #[serde(rename = "auto")]
    Auto,
    /// Always up.
    #[serde(rename = "enable")]
    Enable,
    /// Always down.
    #[serde(rename = "disable")]
    Disable,
}

/// Log level of the sriov CNI plugin; the empty string turns logging off.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum CniLogLevel {
    /// Only panics.
    #[serde(rename = "panic")]
    Panic,
    /// Errors.
    #[serde(rename = "error")]
    Error,
    /// Warnings and errors.
    #[serde(rename = "warning")]
    Warning,
    /// Informational messages and above (the CRD default).
    #[serde(rename = "info")]
    Info,
    /// Everything.
    #[serde(rename = "debug")]
    Debug,
    /// Logging disabled.
    #[serde(rename = "")]
    Off,
}
