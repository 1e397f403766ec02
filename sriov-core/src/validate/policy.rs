//! A policy: the entry point, and the static rules P1–P22 (`docs/rules.md`).

use super::nodes::dynamic_checks;
use super::*;

pub(super) fn pf_parse_message(entry: &str, problem: PfSelectorProblem) -> String {
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
pub(super) fn static_checks(
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
