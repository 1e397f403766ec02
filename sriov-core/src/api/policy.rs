//! `SriovNetworkNodePolicy`: which NICs on which nodes get how many VFs, and how.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{OvsBridgeConfig, OvsInterfaceConfig};

/// Desired VF configuration for the NICs a policy selects.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "sriovnetwork.openshift.io",
    version = "v1",
    kind = "SriovNetworkNodePolicy",
    plural = "sriovnetworknodepolicies",
    singular = "sriovnetworknodepolicy",
    namespaced,
    status = "SriovNetworkNodePolicyStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "Asks for VFs on the NICs a nicSelector picks, on the nodes a nodeSelector picks. \
           Only policies in the operator namespace take effect."
)]
#[serde(rename_all = "camelCase")]
pub struct SriovNetworkNodePolicySpec {
    /// Device-plugin resource name for the VFs (the operator adds its resource prefix).
    pub resource_name: String,
    /// Labels a node must carry, all with exactly these values; empty selects every node.
    pub node_selector: BTreeMap<String, String>,
    /// Conflict priority, 0 to 99; a lower number wins. The webhook defaults it to 99.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 99))]
    pub priority: Option<i32>,
    /// MTU for the VFs; the PF's MTU is raised to it when lower.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub mtu: Option<i32>,
    /// Number of VFs to create on each selected PF.
    #[schemars(range(min = 0))]
    pub num_vfs: i32,
    /// Which PFs to use; the set criteria are ANDed.
    pub nic_selector: SriovNetworkNicSelector,
    /// Driver kind for the VFs: `netdevice` (kernel driver) or `vfio-pci` (DPDK).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "netdevice"))]
    pub device_type: Option<DeviceType>,
    /// Expose the VFs' RDMA devices to pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_rdma: Option<bool>,
    /// Also mount /dev/vhost-net (and /dev/net/tun) into pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub need_vhost_net: Option<bool>,
    /// Link type to set on the PF (Mellanox firmware change): eth or ib, either case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_type: Option<LinkType>,
    /// E-switch mode of the PF; unset means legacy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_switch_mode: Option<ESwitchMode>,
    /// Create a vDPA device of this type for each VF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vdpa_type: Option<VdpaType>,
    /// Leave NUMA topology out of the device-plugin resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_topology: Option<bool>,
    /// The PF and its VFs are created outside the operator; it only configures the VFs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub externally_managed: Option<bool>,
    /// Software bridge for the PF (switchdev only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<Bridge>,
}

/// Status of a policy (beyond upstream, whose policy status is empty): on how many nodes
/// it configures VFs and how many of them have synced, with `Ready`, `Progressing` and
/// `Degraded` conditions naming the nodes behind them. Written by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SriovNetworkNodePolicyStatus {
    /// Nodes whose node state the policy contributes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_nodes: Option<i32>,
    /// Of those, the nodes whose config daemon reports the state applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_nodes: Option<i32>,
    /// Current conditions, keyed by `type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Option<Vec<super::Condition>>,
}

/// Which PFs a policy selects. Every set criterion must match; an empty selector matches
/// nothing.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SriovNetworkNicSelector {
    /// PCI vendor ID in hex without `0x`, e.g. `8086` or `15b3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// PCI device ID of the PF in hex without `0x`, e.g. `1592`.
    #[serde(default, rename = "deviceID", skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// PF PCI addresses, e.g. `0000:86:00.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_devices: Option<Vec<String>>,
    /// PF names or alternative names, each optionally limited to a VF range: `ens1f0#0-3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pf_names: Option<Vec<String>>,
    /// Virtual-platform network filter: `openstack/NetworkID:<uuid>` or `aws/NetworkID:<id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_filter: Option<String>,
}

/// Driver kind for VFs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum DeviceType {
    /// The VF stays on its kernel network driver and appears as a netdev.
    #[default]
    #[serde(rename = "netdevice")]
    Netdevice,
    /// The VF is bound to vfio-pci for user-space (DPDK) drivers.
    #[serde(rename = "vfio-pci")]
    VfioPci,
}

/// Requested PF link type. Upstream accepts both spellings of each; the spelling is kept so
/// manifests round-trip unchanged.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum LinkType {
    /// Ethernet, lower case.
    #[serde(rename = "eth")]
    Eth,
    /// Ethernet, upper case.
    #[serde(rename = "ETH")]
    EthUpper,
    /// InfiniBand, lower case.
    #[serde(rename = "ib")]
    Ib,
    /// InfiniBand, upper case.
    #[serde(rename = "IB")]
    IbUpper,
}

impl DeviceType {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Netdevice => "netdevice",
            Self::VfioPci => "vfio-pci",
        }
    }
}

impl ESwitchMode {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Legacy => "legacy",
            Self::Switchdev => "switchdev",
        }
    }
}

impl VdpaType {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Virtio => "virtio",
            Self::Vhost => "vhost",
        }
    }
}

impl LinkType {
    /// The JSON spelling, as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eth => "eth",
            Self::EthUpper => "ETH",
            Self::Ib => "ib",
            Self::IbUpper => "IB",
        }
    }

    /// Whether this is InfiniBand, whatever the spelling.
    pub fn is_infiniband(self) -> bool {
        matches!(self, Self::Ib | Self::IbUpper)
    }

    /// Whether this is Ethernet, whatever the spelling.
    pub fn is_ethernet(self) -> bool {
        !self.is_infiniband()
    }
}

/// E-switch mode of a PF.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum ESwitchMode {
    /// Classic SR-IOV: the NIC's embedded switch forwards by MAC/VLAN.
    #[serde(rename = "legacy")]
    Legacy,
    /// Switchdev: each VF gets a representor netdev and flows are offloaded.
    #[serde(rename = "switchdev")]
    Switchdev,
}

impl ESwitchMode {
    /// Reads a NodeState's `eSwitchMode` (spec or status): absent or empty means legacy;
    /// `None` for anything but `legacy` or `switchdev`.
    pub fn from_state(value: Option<&str>) -> Option<Self> {
        match value.unwrap_or_default() {
            "" | "legacy" => Some(Self::Legacy),
            "switchdev" => Some(Self::Switchdev),
            _ => None,
        }
    }
}

/// vDPA device type created for each VF.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum VdpaType {
    /// virtio-vdpa: a virtio-net netdev in the kernel.
    #[serde(rename = "virtio")]
    Virtio,
    /// vhost-vdpa: a /dev/vhost-vdpa-N character device for user space.
    #[serde(rename = "vhost")]
    Vhost,
}

/// Software bridge settings of a policy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct Bridge {
    /// An OVS bridge with the PF as its uplink. Present (even empty) means "manage a bridge".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ovs: Option<OvsConfig>,
}

/// OVS bridge settings of a policy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct OvsConfig {
    /// The bridge row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<OvsBridgeConfig>,
    /// The uplink (the PF) row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uplink: Option<OvsUplinkConfig>,
}

/// Uplink settings of a policy's OVS bridge.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct OvsUplinkConfig {
    /// The uplink's interface row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<OvsInterfaceConfig>,
}
