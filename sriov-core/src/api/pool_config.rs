//! `SriovNetworkPoolConfig`: groups nodes for parallel draining and RDMA mode.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::RdmaMode;

/// A pool of nodes that share drain limits and RDMA mode.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "sriovnetwork.openshift.io",
    version = "v1",
    kind = "SriovNetworkPoolConfig",
    plural = "sriovnetworkpoolconfigs",
    singular = "sriovnetworkpoolconfig",
    namespaced,
    status = "SriovNetworkPoolConfigStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "A pool of nodes sharing a drain limit (maxUnavailable) and an RDMA mode."
)]
#[serde(rename_all = "camelCase")]
pub struct SriovNetworkPoolConfigSpec {
    /// OpenShift only: MachineConfigPool to enable OVS hardware offload on. Pools with this
    /// set are left out of drain and RDMA handling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ovs_hardware_offload_config: Option<OvsHardwareOffloadConfig>,
    /// Nodes in the pool; unset selects every node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-map-type" = "atomic"))]
    pub node_selector: Option<LabelSelector>,
    /// How many pool nodes may drain at once: a number or a percentage like `"30%"`.
    /// Unset means no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    /// RDMA subsystem mode for the pool's nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdma_mode: Option<RdmaMode>,
}

/// OVS hardware-offload settings of a pool (OpenShift).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct OvsHardwareOffloadConfig {
    /// Name of the MachineConfigPool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Status of a pool config: intentionally empty.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct SriovNetworkPoolConfigStatus {}
