//! The validating webhook's rules as pure functions (IDs and messages: `docs/rules.md`): every rule is
//! checked and every violation returned (upstream stops at the first), with upstream's
//! message texts, plus warnings. The caller supplies the cluster context.
//!
//! Deliberate differences from upstream, also in `docs/compatibility.md`:
//! - D11 compares every pair of `pfNames` entries on the same PF (upstream stops at the
//!   first equal name), resolves alt-names, and counts an entry without a range as the whole
//!   `0..numVfs-1` (upstream treats it as `-1..-1`, so a whole-PF policy never conflicts with
//!   a ranged one on the same PF, while two whole-PF policies always do).
//! - D12 is range-aware: two policies listing the same root device conflict only when their
//!   VF ranges on that PF overlap.
//! - A `pfNames` entry with an impossible interface name (empty, whitespace, `/`, `:`) is
//!   rejected (upstream accepts it and never matches it).

use k8s_openapi::api::core::v1::Node;

use crate::api::{
    DeviceType, ESwitchMode, InterfaceExt, SriovNetworkNodePolicy, SriovNetworkNodeState,
    SriovNetworkPoolConfig, SriovOperatorConfig,
};
use crate::drain;
use crate::error::{Error, PfSelectorProblem, ResourceNameProblem, VfRangeProblem};
use crate::ids::{PfSelector, ResourceName, VfRange};
use crate::labels::{self, Labels};
use crate::nic::SupportedNics;
use crate::pool;

/// The admission operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// CREATE.
    Create,
    /// UPDATE.
    Update,
    /// DELETE (the old object is validated).
    Delete,
}

/// The outcome of validating one object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Reasons to reject, each with upstream's message text.
    pub violations: Vec<String>,
    /// Warnings returned with an admitted (or rejected) object.
    pub warnings: Vec<String>,
}

impl Verdict {
    /// Whether the object is admitted.
    pub fn allowed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// The cluster as the webhook sees it.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The operator namespace.
    pub operator_namespace: &'a str,
    /// Every node.
    pub nodes: &'a [Node],
    /// Node states (status is what matters).
    pub node_states: &'a [SriovNetworkNodeState],
    /// Every policy already in the cluster (the one being validated is skipped by name).
    pub policies: &'a [SriovNetworkNodePolicy],
    /// Supported NIC models.
    pub nics: &'a SupportedNics,
    /// `DEV_MODE`: skip the supported-NIC checks.
    pub dev_mode: bool,
}

const INTEL: &str = "8086";
const MELLANOX: &str = "15b3";
/// Most VFs upstream lets a Mellanox PF have, whatever `totalvfs` says (firmware can raise it).
const MELLANOX_MAX_VFS: i32 = 128;

fn pf_parse_message(entry: &str, problem: PfSelectorProblem) -> String {
    let reason = match problem {
        PfSelectorProblem::Separator => "probably incorrect separator character usage".to_owned(),
        PfSelectorProblem::Name => format!("{}", PfSelectorProblem::Name),
        PfSelectorProblem::Range(VfRangeProblem::Format) => {
            "probably incorrect range character usage".to_owned()
        }
        PfSelectorProblem::Range(p) => p.to_string(),
    };
    format!("failed to parse {entry} PF name in nicSelector, {reason}")
}

/// Validates a policy (rules P1-P22 and D1-D13).
pub fn policy(policy: &SriovNetworkNodePolicy, operation: Operation, ctx: &Context<'_>) -> Verdict {
    let mut verdict = Verdict::default();
    let name = policy.metadata.name.as_deref().unwrap_or_default();
    let namespace = policy.metadata.namespace.as_deref().unwrap_or_default();
    if name == crate::policy::IGNORED_POLICY_NAME && namespace == ctx.operator_namespace {
        return verdict;
    }
    if namespace != ctx.operator_namespace {
        verdict.warnings.push(format!(
            "{name} is created or updated but not used. Only policy in {} namespace is respected.",
            ctx.operator_namespace
        ));
    }
    if operation == Operation::Delete {
        return verdict;
    }
    let ranges = static_checks(policy, ctx, &mut verdict.violations);
    dynamic_checks(policy, &ranges, ctx, &mut verdict.violations);
    verdict
}

/// The parsed `pfNames` entries that are valid (invalid ones are reported as violations).
fn static_checks(
    policy: &SriovNetworkNodePolicy,
    ctx: &Context<'_>,
    out: &mut Vec<String>,
) -> Vec<PfSelector> {
    let name = policy.metadata.name.as_deref().unwrap_or_default();
    let spec = &policy.spec;
    let nic = &spec.nic_selector;
    if let Err(Error::ResourceName { problem }) = spec.resource_name.parse::<ResourceName>() {
        // P1-P3.
        out.push(match problem {
            ResourceNameProblem::Empty => "resource name must not be empty".to_owned(),
            other => other.to_string(),
        });
    }
    let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    let list = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|l| !l.is_empty());
    let has_net_filter = set(&nic.net_filter);
    let has_hw =
        set(&nic.vendor) || set(&nic.device_id) || list(&nic.pf_names) || list(&nic.root_devices);
    if !has_hw && !has_net_filter {
        out.push(format!(
            "at least one of these parameters (vendor, deviceID, pfNames, rootDevices or netFilter) has to be defined in nicSelector in CR {name}"
        ));
    }
    if has_net_filter {
        if has_hw {
            out.push("nicSelector fields vendor, deviceID, pfNames, and rootDevices are not allowed when netFilter is specified".into());
        }
        if spec.e_switch_mode.is_some() {
            out.push("eSwitchMode is not supported when netFilter is specified".into());
        }
        if spec.bridge.as_ref().is_some_and(|b| b.ovs.is_some()) {
            out.push("bridge configuration is not supported when netFilter is specified".into());
        }
        if let Some(link) = spec.link_type.filter(|l| l.is_infiniband()) {
            out.push(format!(
                "linkType \"{}\" is not allowed when netFilter is specified, only 'eth' or 'ETH' are supported",
                link.as_str()
            ));
        }
    }
    if !ctx.dev_mode {
        let vendor = nic.vendor.as_deref().filter(|v| !v.is_empty());
        let device = nic.device_id.as_deref().filter(|d| !d.is_empty());
        match (vendor, device) {
            (Some(vendor), _) if !ctx.nics.has_vendor(vendor) => {
                out.push(format!("vendor {vendor} is not supported"));
            }
            (Some(vendor), Some(device)) if !ctx.nics.is_supported_pf(vendor, device) => {
                out.push(format!("vendor/device {vendor}/{device} is not supported"));
            }
            (None, Some(device)) if !ctx.nics.has_pf_device(device) => {
                out.push(format!("device {device} is not supported"));
            }
            _ => {}
        }
    }
    let mut parsed = Vec::new();
    for entry in nic.pf_names.iter().flatten() {
        match entry.parse::<PfSelector>() {
            Ok(selector) => {
                if selector
                    .range()
                    .is_some_and(|range| range.exceeds(i64::from(spec.num_vfs)))
                {
                    // P16 (upstream's text, trailing space included).
                    out.push(format!(
                        "failed to parse {entry} PF name in nicSelector, end range exceeds the maximum VF index "
                    ));
                }
                parsed.push(selector);
            }
            Err(Error::PfSelector { problem, .. }) => out.push(pf_parse_message(entry, problem)),
            Err(other) => out.push(other.to_string()),
        }
    }
    let device_type = spec.device_type.unwrap_or_default();
    if device_type == DeviceType::VfioPci && spec.is_rdma == Some(true) {
        out.push("'deviceType: vfio-pci' conflicts with 'isRdma: true'; Set 'deviceType' to (string)'netdevice' Or Set 'isRdma' to (bool)'false'".into());
    }
    let switchdev = spec.e_switch_mode == Some(ESwitchMode::Switchdev);
    if spec.link_type.is_some_and(|l| l.is_infiniband()) && switchdev {
        out.push("'eSwitchMode: switchdev' can be used only with ethernet links".into());
    }
    if let Some(vdpa) = spec.vdpa_type {
        if device_type != DeviceType::Netdevice {
            out.push(format!(
                "'deviceType: {}' conflicts with '{}'; Set 'deviceType' to (string)'netdevice' Or Remove 'vdpaType'",
                device_type.as_str(),
                vdpa.as_str()
            ));
        }
        if !switchdev {
            out.push("vdpa requires the device to be configured in switchdev mode".into());
        }
    }
    if spec.bridge.as_ref().is_some_and(|b| b.ovs.is_some()) {
        if !switchdev {
            out.push(
                "software bridge management requires the device to be configured in switchdev mode"
                    .into(),
            );
        }
        if spec.externally_managed == Some(true) {
            out.push(
                "software bridge management can't be used when the device externally managed"
                    .into(),
            );
        }
    }
    parsed
}

fn node_labels(node: &Node) -> Labels {
    node.metadata.labels.clone().unwrap_or_default()
}

fn is_virtual_platform(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.provider_id.as_deref())
        .is_some_and(|p| p.contains("openstack") || p.contains("aws"))
}

fn state_of<'a>(node: &Node, ctx: &Context<'a>) -> Option<&'a [InterfaceExt]> {
    let name = node.metadata.name.as_deref()?;
    ctx.node_states
        .iter()
        .find(|s| {
            s.metadata.name.as_deref() == Some(name)
                && s.metadata.namespace.as_deref() == Some(ctx.operator_namespace)
        })
        .and_then(|s| s.status.as_ref())
        .and_then(|s| s.interfaces.as_deref())
}

/// The NIC-model check used by D2-D9: the selector matches (ignoring netFilter) and the model
/// is supported, or, on a virtual platform, the netFilter matches and the VF model is.
fn nic_model_selected(
    policy: &SriovNetworkNodePolicy,
    iface: &InterfaceExt,
    virtual_platform: bool,
    ctx: &Context<'_>,
) -> bool {
    let Ok(resolved) = crate::policy::Policy::resolve(policy) else {
        return false;
    };
    if resolved.nic.is_empty() || !resolved.nic.selects_model(iface) {
        return false;
    }
    if ctx.dev_mode {
        return true;
    }
    let (vendor, device) = (
        iface.vendor.as_deref().unwrap_or_default(),
        iface.device_id.as_deref().unwrap_or_default(),
    );
    ctx.nics.is_supported_pf(vendor, device)
        || (virtual_platform
            && policy.spec.nic_selector.net_filter.is_some()
            && policy.spec.nic_selector.net_filter == iface.net_filter
            && ctx.nics.is_supported_vf(vendor, device))
}

fn dynamic_checks(
    policy: &SriovNetworkNodePolicy,
    parsed: &[PfSelector],
    ctx: &Context<'_>,
    out: &mut Vec<String>,
) {
    let name = policy.metadata.name.as_deref().unwrap_or_default();
    let spec = &policy.spec;
    let selected_nodes: Vec<&Node> = ctx
        .nodes
        .iter()
        .filter(|n| labels::matches_exact(&spec.node_selector, &node_labels(n)))
        .collect();
    if selected_nodes.is_empty() {
        out.push(format!(
            "no matched node is selected by the nodeSelector in CR {name}"
        ));
        return;
    }
    let mut any_nic = false;
    for node in &selected_nodes {
        let virtual_platform = is_virtual_platform(node);
        for iface in state_of(node, ctx).unwrap_or_default() {
            if !nic_model_selected(policy, iface, virtual_platform, ctx) {
                continue;
            }
            any_nic = true;
            let ifname = iface.name.as_deref().unwrap_or_default();
            if spec.num_vfs == 0 {
                out.push(format!("numVfs(0) in CR {name} is not allowed"));
            }
            let vendor = iface.vendor.as_deref().unwrap_or_default();
            let limit = match vendor {
                INTEL => iface.total_vfs,
                MELLANOX => Some(MELLANOX_MAX_VFS),
                _ => None,
            };
            if let Some(limit) = limit
                && spec.num_vfs > limit
            {
                out.push(format!(
                    "numVfs({}) in CR {name} exceed the maximum allowed value({limit}) interface({ifname})",
                    spec.num_vfs
                ));
            }
            if spec.externally_managed == Some(true) {
                let current = iface.num_vfs.unwrap_or(0);
                if spec.num_vfs > current {
                    out.push(format!(
                        "numVfs({}) in CR {name} is higher than the virtual functions allocated for the PF externally value({current})",
                        spec.num_vfs
                    ));
                }
                if let Some(mtu) = spec.mtu.filter(|m| *m != 0)
                    && mtu > iface.mtu.unwrap_or(0)
                {
                    out.push(format!(
                        "MTU({mtu}) in CR {name} is higher than the MTU for the PF externally value({})",
                        iface.mtu.unwrap_or(0)
                    ));
                }
                if let Some(link) = spec.link_type {
                    let current = iface.link_type.as_deref().unwrap_or_default();
                    if !link.as_str().eq_ignore_ascii_case(current) {
                        out.push(format!(
                            "LinkType({}) in CR {name} is not equal to the LinkType for the PF externally value({current})",
                            link.as_str()
                        ));
                    }
                }
            }
            if spec.vdpa_type.is_some() && vendor != MELLANOX {
                out.push(format!(
                    "vendor({vendor}) in CR {name} not supported for vdpa interface({ifname})"
                ));
            }
        }
    }
    if !any_nic {
        out.push(format!(
            "no supported NIC is selected by the nicSelector in CR {name}"
        ));
    }
    for other in ctx.policies {
        let other_name = other.metadata.name.as_deref().unwrap_or_default();
        if other_name == name || other.metadata.namespace != policy.metadata.namespace {
            continue;
        }
        let shared: Vec<&&Node> = selected_nodes
            .iter()
            .filter(|n| labels::matches_exact(&other.spec.node_selector, &node_labels(n)))
            .collect();
        if shared.is_empty() {
            continue;
        }
        conflicts(policy, parsed, other, &shared, ctx, out);
    }
}

/// The primary name of a PF name or alt-name on this node, and that PF.
fn resolve_name<'a>(
    name: &'a str,
    interfaces: &'a [InterfaceExt],
) -> (&'a str, Option<&'a InterfaceExt>) {
    for iface in interfaces {
        if iface.has_name(name) {
            return (iface.name.as_deref().unwrap_or(name), Some(iface));
        }
    }
    (name, None)
}

fn whole(num_vfs: i32) -> Option<VfRange> {
    u16::try_from(num_vfs).ok().and_then(VfRange::whole)
}

/// D10-D13 between `policy` and one other policy sharing nodes.
fn conflicts(
    policy: &SriovNetworkNodePolicy,
    parsed: &[PfSelector],
    other: &SriovNetworkNodePolicy,
    nodes: &[&&Node],
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

/// Validates the operator config (OC1, OC2 and the disable-drain warning).
pub fn operator_config(
    config: &SriovOperatorConfig,
    old: Option<&SriovOperatorConfig>,
    operation: Operation,
    ctx: &Context<'_>,
) -> Verdict {
    let mut verdict = Verdict::default();
    if operation == Operation::Delete {
        return verdict;
    }
    if config.metadata.name.as_deref() != Some(crate::api::OPERATOR_CONFIG_NAME)
        || config.metadata.namespace.as_deref() != Some(ctx.operator_namespace)
    {
        verdict.violations.push(format!(
            "only default SriovOperatorConfig in {} namespace is used",
            ctx.operator_namespace
        ));
    }
    if config.spec.disable_drain == Some(true) {
        verdict.warnings.push(
            "Node draining is disabled for applying SriovNetworkNodePolicy, it may result in workload interruption.".into(),
        );
        if old.is_some_and(|o| o.spec.disable_drain != Some(true)) {
            for state in ctx
                .node_states
                .iter()
                .filter(|s| s.metadata.namespace.as_deref() == Some(ctx.operator_namespace))
            {
                if state.status.as_ref().and_then(|s| s.sync_status.as_deref())
                    == Some("InProgress")
                {
                    verdict.violations.push(format!(
                        "can't set Spec.DisableDrain = true while node[{}] is updating",
                        state.metadata.name.as_deref().unwrap_or_default()
                    ));
                }
            }
        }
    }
    verdict
}

/// Validates a pool config (PC1, PC2; also on DELETE), and warns when `maxUnavailable`
/// rounds down to zero for the pool's current size.
pub fn pool_config(pool_config: &SriovNetworkPoolConfig, ctx: &Context<'_>) -> Verdict {
    let mut verdict = Verdict::default();
    let spec = &pool_config.spec;
    if (spec.max_unavailable.is_some() || spec.node_selector.is_some())
        && !pool::is_drain_pool(pool_config)
    {
        verdict
            .violations
            .push("SriovOperatorConfig can't have both parallel configuration and OvsHardwareOffloadConfig".into());
    }
    let size = ctx
        .nodes
        .iter()
        .filter(|n| pool::selects(pool_config, &node_labels(n)).unwrap_or(false))
        .count();
    match drain::max_unavailable(spec.max_unavailable.as_ref(), size) {
        Err(e) => verdict
            .violations
            .push(format!("SriovOperatorConfig invalid maxUnavailable: {e}")),
        Ok(limit) => verdict.warnings.extend(drain::never_drains(limit, size)),
    }
    if let Some(selector) = &spec.node_selector
        && let Err(e) = labels::matches_selector(selector, &Labels::new())
    {
        verdict.violations.push(e.to_string());
    }
    verdict
}

/// Validates a network of any kind (NW1): only networks in the operator namespace may name
/// another target namespace.
pub fn network(namespace: &str, network_namespace: Option<&str>, ctx: &Context<'_>) -> Verdict {
    let mut verdict = Verdict::default();
    verdict.violations.extend(network_namespace_violation(
        namespace,
        network_namespace,
        ctx.operator_namespace,
    ));
    verdict
}

/// NW1 on its own (rendering uses it too): a network outside the operator namespace may
/// not name a target namespace.
pub fn network_namespace_violation(
    namespace: &str,
    network_namespace: Option<&str>,
    operator_namespace: &str,
) -> Option<String> {
    (namespace != operator_namespace && network_namespace.is_some_and(|n| !n.is_empty())).then(
        || {
            format!(
                ".Spec.NetworkNamespace field can't be specified if the resource is not in the {operator_namespace} namespace"
            )
        },
    )
}

/// One validated object of a [`cluster`] run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The object's kind.
    pub kind: &'static str,
    /// `namespace/name`.
    pub name: String,
    /// What the webhook would answer.
    pub verdict: Verdict,
}

/// Validates, as CREATE, every policy, network, pool config and operator config of a
/// snapshot, with the rest of the snapshot (and the other policies) as cluster context.
/// Policies are checked after the mutating webhook's defaults are applied.
pub fn cluster(
    snapshot: &crate::render::cluster::Snapshot,
    operator_namespace: &str,
    nics: &SupportedNics,
    dev_mode: bool,
) -> Vec<Checked> {
    let mut policies = snapshot.policies.clone();
    for p in &mut policies {
        crate::admission::crd_defaults::policy(p);
        crate::admission::apply_policy_defaults(p);
    }
    let ctx = Context {
        operator_namespace,
        nodes: &snapshot.nodes,
        node_states: &snapshot.node_states,
        policies: &policies,
        nics,
        dev_mode,
    };
    let id = crate::api::meta_name;
    let mut out = Vec::new();
    for p in &policies {
        out.push(Checked {
            kind: "SriovNetworkNodePolicy",
            name: id(&p.metadata),
            verdict: policy(p, Operation::Create, &ctx),
        });
    }
    let networks = snapshot
        .sriov_networks
        .iter()
        .map(|n| {
            (
                "SriovNetwork",
                &n.metadata,
                n.spec.network_namespace.as_deref(),
            )
        })
        .chain(snapshot.ib_networks.iter().map(|n| {
            (
                "SriovIBNetwork",
                &n.metadata,
                n.spec.network_namespace.as_deref(),
            )
        }))
        .chain(snapshot.ovs_networks.iter().map(|n| {
            (
                "OVSNetwork",
                &n.metadata,
                n.spec.network_namespace.as_deref(),
            )
        }));
    for (kind, meta, target) in networks {
        let verdict = network(meta.namespace.as_deref().unwrap_or_default(), target, &ctx);
        out.push(Checked {
            kind,
            name: id(meta),
            verdict,
        });
    }
    for p in &snapshot.pool_configs {
        out.push(Checked {
            kind: "SriovNetworkPoolConfig",
            name: id(&p.metadata),
            verdict: pool_config(p, &ctx),
        });
    }
    for c in &snapshot.operator_configs {
        out.push(Checked {
            kind: "SriovOperatorConfig",
            name: id(&c.metadata),
            verdict: operator_config(c, None, Operation::Create, &ctx),
        });
    }
    out
}
