//! Fluent builders for tests and property tests, ours and users'.
//!
//! ```
//! use sriov_core::testing::{InterfaceBuilder, PolicyBuilder};
//!
//! let policy = PolicyBuilder::new("p1").priority(10).pf("ens1f0#0-3").num_vfs(8).resolve();
//! let pf = InterfaceBuilder::new("0000:3b:00.0", "ens1f0").intel_e810().total_vfs(64).build();
//! assert!(policy.nic.selects(&pf));
//! ```

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::{
    DeviceType, ESwitchMode, Interface, InterfaceExt, LinkType, OvsConfig, SriovNetworkNodePolicy,
    SriovNetworkNodePolicySpec, SriovNetworkNodeState, SriovNetworkNodeStateSpec,
    SriovNetworkNodeStateStatus, VdpaType, VfGroup, VirtualFunction,
};
use crate::policy::Policy;

/// The operator namespace builders put objects in.
pub const NAMESPACE: &str = "sriov-network-operator";

/// Builds a raw [`SriovNetworkNodePolicy`]. Defaults: namespace [`NAMESPACE`], resource
/// name equal to the policy name (with `-` for invalid characters), 1 VF, every node, no
/// priority (resolves to 0, as upstream's controller reads an unset priority).
#[derive(Debug, Clone)]
pub struct PolicyBuilder(SriovNetworkNodePolicy);

impl PolicyBuilder {
    /// A policy named `name`.
    pub fn new(name: &str) -> Self {
        let mut policy = SriovNetworkNodePolicy::new(
            name,
            SriovNetworkNodePolicySpec {
                resource_name: name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
                num_vfs: 1,
                ..Default::default()
            },
        );
        policy.metadata.namespace = Some(NAMESPACE.into());
        Self(policy)
    }

    /// Sets `metadata.namespace`.
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.0.metadata.namespace = Some(namespace.into());
        self
    }
    /// Sets `priority`.
    pub fn priority(mut self, priority: i32) -> Self {
        self.0.spec.priority = Some(priority);
        self
    }
    /// Sets `resourceName`.
    pub fn resource(mut self, name: &str) -> Self {
        self.0.spec.resource_name = name.into();
        self
    }
    /// Sets `numVfs`.
    pub fn num_vfs(mut self, n: i32) -> Self {
        self.0.spec.num_vfs = n;
        self
    }
    /// Sets `mtu`.
    pub fn mtu(mut self, mtu: i32) -> Self {
        self.0.spec.mtu = Some(mtu);
        self
    }
    /// Sets `nicSelector.vendor`.
    pub fn vendor(mut self, vendor: &str) -> Self {
        self.0.spec.nic_selector.vendor = Some(vendor.into());
        self
    }
    /// Sets `nicSelector.deviceID`.
    pub fn device(mut self, device: &str) -> Self {
        self.0.spec.nic_selector.device_id = Some(device.into());
        self
    }
    /// Adds a `nicSelector.pfNames` entry (`name` or `name#a-b`).
    pub fn pf(mut self, entry: &str) -> Self {
        self.0
            .spec
            .nic_selector
            .pf_names
            .get_or_insert_default()
            .push(entry.into());
        self
    }
    /// Adds a `nicSelector.rootDevices` entry.
    pub fn root(mut self, pci: &str) -> Self {
        self.0
            .spec
            .nic_selector
            .root_devices
            .get_or_insert_default()
            .push(pci.into());
        self
    }
    /// Sets `nicSelector.netFilter`.
    pub fn net_filter(mut self, filter: &str) -> Self {
        self.0.spec.nic_selector.net_filter = Some(filter.into());
        self
    }
    /// Adds a `nodeSelector` label.
    pub fn node_label(mut self, key: &str, value: &str) -> Self {
        self.0.spec.node_selector.insert(key.into(), value.into());
        self
    }
    /// Sets `deviceType`.
    pub fn device_type(mut self, device_type: DeviceType) -> Self {
        self.0.spec.device_type = Some(device_type);
        self
    }
    /// Sets `isRdma`.
    pub fn rdma(mut self, on: bool) -> Self {
        self.0.spec.is_rdma = Some(on);
        self
    }
    /// Sets `needVhostNet`.
    pub fn vhost_net(mut self, on: bool) -> Self {
        self.0.spec.need_vhost_net = Some(on);
        self
    }
    /// Sets `linkType`.
    pub fn link_type(mut self, link_type: LinkType) -> Self {
        self.0.spec.link_type = Some(link_type);
        self
    }
    /// Sets `eSwitchMode`.
    pub fn eswitch(mut self, mode: ESwitchMode) -> Self {
        self.0.spec.e_switch_mode = Some(mode);
        self
    }
    /// Sets `vdpaType`.
    pub fn vdpa(mut self, vdpa: VdpaType) -> Self {
        self.0.spec.vdpa_type = Some(vdpa);
        self
    }
    /// Sets `excludeTopology`.
    pub fn exclude_topology(mut self, on: bool) -> Self {
        self.0.spec.exclude_topology = Some(on);
        self
    }
    /// Sets `externallyManaged`.
    pub fn externally_managed(mut self, on: bool) -> Self {
        self.0.spec.externally_managed = Some(on);
        self
    }
    /// Sets `bridge.ovs`.
    pub fn ovs_bridge(mut self, ovs: OvsConfig) -> Self {
        self.0.spec.bridge = Some(crate::api::Bridge { ovs: Some(ovs) });
        self
    }
    /// The raw policy.
    pub fn build(self) -> SriovNetworkNodePolicy {
        self.0
    }
    /// The resolved policy.
    ///
    /// # Panics
    /// When the built policy does not resolve; builders are for tests.
    pub fn resolve(self) -> Policy {
        Policy::resolve(&self.0).unwrap_or_else(|e| panic!("test policy does not resolve: {e}"))
    }
}

/// Builds a discovered PF ([`InterfaceExt`]).
#[derive(Debug, Clone)]
pub struct InterfaceBuilder(InterfaceExt);

impl InterfaceBuilder {
    /// A PF at `pci` named `name`, with MTU 1500, no VFs, link up.
    pub fn new(pci: &str, name: &str) -> Self {
        Self(InterfaceExt {
            pci_address: pci.into(),
            name: Some(name.into()),
            mtu: Some(1500),
            link_admin_state: Some("up".into()),
            link_type: Some("ETH".into()),
            ..Default::default()
        })
    }
    fn model(mut self, vendor: &str, device: &str, driver: &str, total: i32) -> Self {
        self.0.vendor = Some(vendor.into());
        self.0.device_id = Some(device.into());
        self.0.driver = Some(driver.into());
        self.0.total_vfs = Some(total);
        self
    }
    /// Intel E810-CQDA2 (`8086:1592`, ice, 128 VFs).
    pub fn intel_e810(self) -> Self {
        self.model("8086", "1592", "ice", 128)
    }
    /// Intel X710 (`8086:1572`, i40e, 64 VFs).
    pub fn intel_x710(self) -> Self {
        self.model("8086", "1572", "i40e", 64)
    }
    /// Mellanox ConnectX-6 Dx (`15b3:101d`, mlx5_core, 127 VFs).
    pub fn mellanox_cx6dx(self) -> Self {
        self.model("15b3", "101d", "mlx5_core", 127)
    }
    /// Broadcom BCM57508 (`14e4:1750`, bnxt_en, 128 VFs).
    pub fn broadcom_57508(self) -> Self {
        self.model("14e4", "1750", "bnxt_en", 128)
    }
    /// Sets `totalvfs`.
    pub fn total_vfs(mut self, n: i32) -> Self {
        self.0.total_vfs = Some(n);
        self
    }
    /// Sets `numVfs` (VFs currently present).
    pub fn num_vfs(mut self, n: i32) -> Self {
        self.0.num_vfs = Some(n);
        self
    }
    /// Sets `mtu`.
    pub fn mtu(mut self, mtu: i32) -> Self {
        self.0.mtu = Some(mtu);
        self
    }
    /// Sets `linkType` (`ETH` or `IB`).
    pub fn link_type(mut self, link_type: &str) -> Self {
        self.0.link_type = Some(link_type.into());
        self
    }
    /// Adds an alternative name.
    pub fn alt_name(mut self, name: &str) -> Self {
        self.0.alt_names.get_or_insert_default().push(name.into());
        self
    }
    /// Sets `netFilter`.
    pub fn net_filter(mut self, filter: &str) -> Self {
        self.0.net_filter = Some(filter.into());
        self
    }
    /// The PF.
    pub fn build(self) -> InterfaceExt {
        self.0
    }
}

/// A node named `name` with these labels.
pub fn node(name: &str, labels: &[(&str, &str)]) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A Linux worker node (the labels the operator manages by default) named `name`.
pub fn worker(name: &str) -> Node {
    node(
        name,
        &[
            ("kubernetes.io/os", "linux"),
            ("node-role.kubernetes.io/worker", ""),
            ("kubernetes.io/hostname", name),
        ],
    )
}

/// A node state for `node` in [`NAMESPACE`] whose status lists `pfs`, with an empty spec.
pub fn node_state(node: &str, pfs: Vec<InterfaceExt>) -> SriovNetworkNodeState {
    let mut state = SriovNetworkNodeState::new(node, SriovNetworkNodeStateSpec::default());
    state.metadata.namespace = Some(NAMESPACE.into());
    state.status = Some(SriovNetworkNodeStateStatus {
        interfaces: Some(pfs),
        ..Default::default()
    });
    state
}

/// A node-state VF group: VFs `range` (`first-last`) of resource `resource` (also the
/// policy's name), bound as `device_type` (`netdevice`, `vfio-pci`, ...), with a VF MTU.
pub fn vf_group(resource: &str, range: &str, device_type: &str, mtu: Option<i32>) -> VfGroup {
    VfGroup {
        resource_name: Some(resource.into()),
        device_type: Some(device_type.into()),
        vf_range: Some(range.into()),
        policy_name: Some(resource.into()),
        mtu,
        ..Default::default()
    }
}

/// A node-state spec entry: PF `pci` with `num_vfs` VFs in `groups`.
pub fn spec_interface(pci: &str, num_vfs: i32, groups: Vec<VfGroup>) -> Interface {
    Interface {
        pci_address: pci.into(),
        num_vfs: Some(num_vfs),
        vf_groups: Some(groups),
        ..Default::default()
    }
}

/// A node-state spec holding `interfaces` and nothing else.
pub fn node_state_spec(interfaces: Vec<Interface>) -> SriovNetworkNodeStateSpec {
    SriovNetworkNodeStateSpec {
        interfaces: Some(interfaces),
        ..Default::default()
    }
}

/// A discovered VF `index` at `pci`, bound to `driver`, with netdev MTU `mtu`.
pub fn vf_status(pci: &str, index: i32, driver: &str, mtu: i32) -> VirtualFunction {
    VirtualFunction {
        pci_address: pci.into(),
        vf_id: index,
        driver: Some(driver.into()),
        mtu: Some(mtu),
        ..Default::default()
    }
}
