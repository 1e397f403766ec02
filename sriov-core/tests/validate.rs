//! The validating webhook's rules, one or more tests per rule, with upstream's messages.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use sriov_core::api::{
    DeviceType, ESwitchMode, LinkType, OvsConfig, OvsHardwareOffloadConfig, SriovNetworkNodePolicy,
    SriovNetworkNodeState, SriovNetworkPoolConfig, SriovNetworkPoolConfigSpec, SriovOperatorConfig,
    SriovOperatorConfigSpec, VdpaType,
};
use sriov_core::nic::SupportedNics;
use sriov_core::testing::{InterfaceBuilder, NAMESPACE, PolicyBuilder, node_state, worker};
use sriov_core::validate::{self, Context, Operation, Verdict};

struct Cluster {
    nodes: Vec<sriov_core::api::NodeView>,
    states: Vec<SriovNetworkNodeState>,
    policies: Vec<SriovNetworkNodePolicy>,
    nics: SupportedNics,
}

fn cluster() -> Cluster {
    Cluster {
        nodes: vec![worker("worker-0").into(), worker("worker-1").into()],
        states: vec![
            node_state(
                "worker-0",
                vec![
                    InterfaceBuilder::new("0000:81:00.0", "ens801f0")
                        .intel_e810()
                        .alt_name("enp129s0f0")
                        .num_vfs(0)
                        .build(),
                    InterfaceBuilder::new("0000:81:00.1", "ens801f1")
                        .intel_e810()
                        .build(),
                ],
            ),
            node_state(
                "worker-1",
                vec![
                    InterfaceBuilder::new("0000:3b:00.0", "ens2f0")
                        .mellanox_cx6dx()
                        .num_vfs(8)
                        .mtu(1500)
                        .build(),
                ],
            ),
        ],
        policies: Vec::new(),
        nics: SupportedNics::default(),
    }
}

impl Cluster {
    fn with(mut self, policy: PolicyBuilder) -> Self {
        self.policies.push(policy.build());
        self
    }

    fn ctx(&self) -> Context<'_> {
        Context {
            operator_namespace: NAMESPACE,
            nodes: &self.nodes,
            node_states: &self.states,
            policies: &self.policies,
            nics: &self.nics,
            dev_mode: false,
        }
    }

    fn check(&self, policy: PolicyBuilder) -> Verdict {
        validate::policy(&policy.build(), Operation::Create, &self.ctx())
    }
}

fn e810(name: &str) -> PolicyBuilder {
    PolicyBuilder::new(name)
        .resource(name)
        .vendor("8086")
        .device("1592")
        .num_vfs(8)
}

fn rejects(verdict: &Verdict, message: &str) {
    assert!(
        verdict.violations.iter().any(|v| v == message),
        "want {message:?}\ngot {:?}",
        verdict.violations
    );
}

#[test]
fn a_good_policy_is_admitted() {
    let verdict = cluster().check(e810("good").pf("ens801f0#0-3"));
    assert!(verdict.allowed(), "{verdict:?}");
    assert!(verdict.warnings.is_empty());
}

#[test]
fn resource_name_rules_p1_to_p3() {
    let c = cluster();
    rejects(
        &c.check(e810("a").resource("")),
        "resource name must not be empty",
    );
    let long = "x".repeat(64);
    rejects(
        &c.check(e810("a").resource(&long)),
        &format!("resource name \"{long}\" must be no more than 63 characters"),
    );
    assert!(
        c.check(e810("a").resource("bad.name")).violations[0]
            .starts_with("resource name \"bad.name\" is invalid")
    );
}

#[test]
fn nic_selector_rules_p4_to_p8() {
    let c = cluster();
    rejects(
        &c.check(PolicyBuilder::new("empty").num_vfs(1)),
        "at least one of these parameters (vendor, deviceID, pfNames, rootDevices or netFilter) has to be defined in nicSelector in CR empty",
    );
    let filtered = || {
        PolicyBuilder::new("f")
            .net_filter("openstack/NetworkID:abc")
            .num_vfs(1)
    };
    let verdict = c.check(
        filtered()
            .vendor("8086")
            .eswitch(ESwitchMode::Switchdev)
            .link_type(LinkType::IbUpper)
            .ovs_bridge(OvsConfig::default()),
    );
    rejects(
        &verdict,
        "nicSelector fields vendor, deviceID, pfNames, and rootDevices are not allowed when netFilter is specified",
    );
    rejects(
        &verdict,
        "eSwitchMode is not supported when netFilter is specified",
    );
    rejects(
        &verdict,
        "bridge configuration is not supported when netFilter is specified",
    );
    rejects(
        &verdict,
        "linkType \"IB\" is not allowed when netFilter is specified, only 'eth' or 'ETH' are supported",
    );
}

#[test]
fn supported_nic_rules_p9_to_p11_and_dev_mode() {
    let c = cluster();
    rejects(
        &c.check(PolicyBuilder::new("v").vendor("abcd").num_vfs(1)),
        "vendor abcd is not supported",
    );
    rejects(
        &c.check(
            PolicyBuilder::new("v")
                .vendor("8086")
                .device("1528")
                .num_vfs(1),
        ),
        "vendor/device 8086/1528 is not supported",
    );
    rejects(
        &c.check(PolicyBuilder::new("v").device("1528").num_vfs(1)),
        "device 1528 is not supported",
    );
    let mut ctx = c.ctx();
    ctx.dev_mode = true;
    let verdict = validate::policy(
        &PolicyBuilder::new("v")
            .vendor("8086")
            .device("1528")
            .num_vfs(1)
            .build(),
        Operation::Create,
        &ctx,
    );
    assert!(
        !verdict
            .violations
            .iter()
            .any(|v| v.contains("not supported")),
        "{verdict:?}"
    );
}

#[test]
fn pf_range_rules_p12_to_p16() {
    let c = cluster();
    let msg = |entry: &str, reason: &str| {
        format!("failed to parse {entry} PF name in nicSelector, {reason}")
    };
    rejects(
        &c.check(e810("r").pf("ens801f0#0-1#2-3")),
        &msg(
            "ens801f0#0-1#2-3",
            "probably incorrect separator character usage",
        ),
    );
    rejects(
        &c.check(e810("r").pf("ens801f0#3")),
        &msg("ens801f0#3", "probably incorrect range character usage"),
    );
    rejects(
        &c.check(e810("r").pf("ens801f0#a-3")),
        &msg("ens801f0#a-3", "start range is incorrect"),
    );
    rejects(
        &c.check(e810("r").pf("ens801f0#1-b")),
        &msg("ens801f0#1-b", "end range is incorrect"),
    );
    rejects(
        &c.check(e810("r").pf("ens801f0#3-1")),
        &msg(
            "ens801f0#3-1",
            "end range shall not be smaller than start range",
        ),
    );
    rejects(
        &c.check(e810("r").pf("ens801f0#4-8")),
        &msg("ens801f0#4-8", "end range exceeds the maximum VF index "),
    );
}

#[test]
fn combination_rules_p17_to_p22() {
    let c = cluster();
    rejects(
        &c.check(e810("x").device_type(DeviceType::VfioPci).rdma(true)),
        "'deviceType: vfio-pci' conflicts with 'isRdma: true'; Set 'deviceType' to (string)'netdevice' Or Set 'isRdma' to (bool)'false'",
    );
    rejects(
        &c.check(
            e810("x")
                .link_type(LinkType::Ib)
                .eswitch(ESwitchMode::Switchdev),
        ),
        "'eSwitchMode: switchdev' can be used only with ethernet links",
    );
    let vdpa = c.check(
        e810("x")
            .device_type(DeviceType::VfioPci)
            .vdpa(VdpaType::Virtio),
    );
    rejects(
        &vdpa,
        "'deviceType: vfio-pci' conflicts with 'virtio'; Set 'deviceType' to (string)'netdevice' Or Remove 'vdpaType'",
    );
    rejects(
        &vdpa,
        "vdpa requires the device to be configured in switchdev mode",
    );
    let bridge = c.check(
        e810("x")
            .ovs_bridge(OvsConfig::default())
            .externally_managed(true),
    );
    rejects(
        &bridge,
        "software bridge management requires the device to be configured in switchdev mode",
    );
    rejects(
        &bridge,
        "software bridge management can't be used when the device externally managed",
    );
}

#[test]
fn node_and_nic_rules_d1_d2_d3() {
    let c = cluster();
    rejects(
        &c.check(e810("n").node_label("gpu", "true")),
        "no matched node is selected by the nodeSelector in CR n",
    );
    rejects(
        &c.check(PolicyBuilder::new("n").pf("ens9f9").num_vfs(1)),
        "no supported NIC is selected by the nicSelector in CR n",
    );
    rejects(
        &c.check(e810("n").num_vfs(0)),
        "numVfs(0) in CR n is not allowed",
    );
}

#[test]
fn vf_count_rules_d4_d5() {
    let c = cluster();
    rejects(
        &c.check(e810("n").num_vfs(200)),
        "numVfs(200) in CR n exceed the maximum allowed value(128) interface(ens801f0)",
    );
    rejects(
        &c.check(PolicyBuilder::new("m").vendor("15b3").num_vfs(200)),
        "numVfs(200) in CR m exceed the maximum allowed value(128) interface(ens2f0)",
    );
    assert!(
        c.check(PolicyBuilder::new("m").vendor("15b3").num_vfs(128))
            .allowed(),
        "Mellanox may exceed totalvfs up to 128"
    );
}

#[test]
fn externally_managed_rules_d6_to_d8_and_vdpa_vendor_d9() {
    let c = cluster();
    let ext = PolicyBuilder::new("ext")
        .pf("ens2f0")
        .num_vfs(16)
        .mtu(9000)
        .link_type(LinkType::Ib)
        .externally_managed(true);
    let verdict = c.check(ext);
    rejects(
        &verdict,
        "numVfs(16) in CR ext is higher than the virtual functions allocated for the PF externally value(8)",
    );
    rejects(
        &verdict,
        "MTU(9000) in CR ext is higher than the MTU for the PF externally value(1500)",
    );
    rejects(
        &verdict,
        "LinkType(ib) in CR ext is not equal to the LinkType for the PF externally value(ETH)",
    );
    rejects(
        &c.check(
            e810("v")
                .vdpa(VdpaType::Vhost)
                .eswitch(ESwitchMode::Switchdev),
        ),
        "vendor(8086) in CR v not supported for vdpa interface(ens801f0)",
    );
}

#[test]
fn overlapping_ranges_d11_are_found_through_alt_names_and_later_entries() {
    // Upstream stops at the first equal PF name and does not resolve alt-names.
    let c = cluster().with(e810("existing").pf("ens801f1#0-1").pf("ens801f0#4-7"));
    rejects(
        &c.check(e810("new").pf("ens801f1#2-3").pf("enp129s0f0#6-7")),
        "VF index range in enp129s0f0#6-7 is overlapped with existing policy existing",
    );
    assert!(
        c.check(e810("new").pf("ens801f1#2-3").pf("enp129s0f0#0-3"))
            .allowed()
    );
}

#[test]
fn a_range_less_entry_counts_as_the_whole_pf() {
    let c = cluster().with(e810("whole").pf("ens801f0").num_vfs(8));
    rejects(
        &c.check(e810("part").pf("ens801f0#2-3")),
        "VF index range in ens801f0#2-3 is overlapped with existing policy whole",
    );
    // Beyond the whole policy's numVfs there is room.
    assert!(
        c.check(e810("part").pf("ens801f0#8-9").num_vfs(10))
            .allowed()
    );
}

#[test]
fn externally_managed_must_agree_d10_and_root_devices_d12_are_range_aware() {
    let c = cluster().with(
        e810("existing")
            .pf("ens801f0#0-3")
            .root("0000:81:00.0")
            .externally_managed(true),
    );
    rejects(
        &c.check(e810("n").pf("ens801f0#4-7")),
        "externallyManage is inconsistent with existing policy existing",
    );
    let c = cluster().with(e810("existing").pf("ens801f0#0-3").root("0000:81:00.0"));
    assert!(
        c.check(e810("n").pf("ens801f0#4-7").root("0000:81:00.0"))
            .allowed()
    );
    rejects(
        &c.check(e810("n").pf("ens801f0#2-7").root("0000:81:00.0")),
        "root device 0000:81:00.0 is overlapped with existing policy existing",
    );
}

#[test]
fn same_resource_needs_the_same_exclude_topology_d13() {
    let c = cluster().with(
        e810("existing")
            .resource("shared")
            .pf("ens801f1")
            .exclude_topology(true),
    );
    rejects(
        &c.check(e810("n").resource("shared").pf("ens801f0")),
        "excludeTopology[false] field conflicts with policy [existing].ExcludeTopology[true] as they target the same resource[shared]",
    );
}

#[test]
fn policies_elsewhere_warn_the_default_policy_and_deletes_pass() {
    let c = cluster();
    let verdict = c.check(e810("p").namespace("default"));
    assert_eq!(
        verdict.warnings,
        [
            "p is created or updated but not used. Only policy in sriov-network-operator namespace is respected."
        ]
    );
    assert!(c.check(PolicyBuilder::new("default").num_vfs(1)).allowed());
    let deleting = validate::policy(
        &PolicyBuilder::new("x").build(),
        Operation::Delete,
        &c.ctx(),
    );
    assert!(deleting.allowed());
}

#[test]
fn operator_config_rules_oc1_oc2_and_the_drain_warning() {
    let mut c = cluster();
    let config = |name: &str, disable: Option<bool>| {
        let mut config = SriovOperatorConfig::new(
            name,
            SriovOperatorConfigSpec {
                disable_drain: disable,
                ..Default::default()
            },
        );
        config.metadata.namespace = Some(NAMESPACE.into());
        config
    };
    rejects(
        &validate::operator_config(&config("other", None), None, Operation::Create, &c.ctx()),
        "only default SriovOperatorConfig in sriov-network-operator namespace is used",
    );
    c.states[1].status.as_mut().unwrap().sync_status = Some("InProgress".into());
    let verdict = validate::operator_config(
        &config("default", Some(true)),
        Some(&config("default", Some(false))),
        Operation::Update,
        &c.ctx(),
    );
    rejects(
        &verdict,
        "can't set Spec.DisableDrain = true while node[worker-1] is updating",
    );
    assert_eq!(
        verdict.warnings,
        [
            "Node draining is disabled for applying SriovNetworkNodePolicy, it may result in workload interruption."
        ]
    );
    assert!(
        validate::operator_config(&config("other", None), None, Operation::Delete, &c.ctx())
            .allowed()
    );
}

#[test]
fn pool_config_rules_pc1_pc2_and_the_zero_limit_warning() {
    let c = cluster();
    let pool = |max: Option<IntOrString>, offload: Option<&str>| {
        SriovNetworkPoolConfig::new(
            "pool",
            SriovNetworkPoolConfigSpec {
                max_unavailable: max,
                ovs_hardware_offload_config: offload.map(|n| OvsHardwareOffloadConfig {
                    name: Some(n.into()),
                }),
                ..Default::default()
            },
        )
    };
    rejects(
        &validate::pool_config(&pool(Some(IntOrString::Int(1)), Some("mcp")), &c.ctx()),
        "SriovOperatorConfig can't have both parallel configuration and OvsHardwareOffloadConfig",
    );
    let verdict = validate::pool_config(
        &pool(Some(IntOrString::String("50".into())), None),
        &c.ctx(),
    );
    assert!(
        verdict.violations[0].starts_with(
            "SriovOperatorConfig invalid maxUnavailable: strings needs to be a percentage"
        ),
        "{verdict:?}"
    );
    let verdict = validate::pool_config(
        &pool(Some(IntOrString::String("30%".into())), None),
        &c.ctx(),
    );
    assert!(verdict.allowed());
    assert_eq!(
        verdict.warnings,
        [
            "maxUnavailable allows 0 of the 2 node(s) this pool selects to drain; none of them can ever be reconfigured"
        ]
    );
}

#[test]
fn network_namespace_rule_nw1() {
    let c = cluster();
    rejects(
        &validate::network("team-a", Some("team-b"), &c.ctx()),
        ".Spec.NetworkNamespace field can't be specified if the resource is not in the sriov-network-operator namespace",
    );
    assert!(validate::network(NAMESPACE, Some("team-b"), &c.ctx()).allowed());
    assert!(validate::network("team-a", None, &c.ctx()).allowed());
}
