//! A policy against the nodes it selects and their discovered PFs: D1–D9.

use super::conflicts::conflicts;
use super::*;

pub(super) const INTEL: &str = "8086";
pub(super) const MELLANOX: &str = "15b3";
/// Most VFs upstream lets a Mellanox PF have, whatever `totalvfs` says (firmware can raise it).
pub(super) const MELLANOX_MAX_VFS: i32 = 128;

pub(super) fn is_virtual_platform(node: &NodeView) -> bool {
    node.spec
        .provider_id
        .as_deref()
        .is_some_and(|p| p.contains("openstack") || p.contains("aws"))
}

pub(super) fn state_of<'a>(node: &NodeView, ctx: &Context<'a>) -> Option<&'a [InterfaceExt]> {
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
pub(super) fn nic_model_selected(
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

pub(super) fn dynamic_checks(
    policy: &SriovNetworkNodePolicy,
    parsed: &[PfSelector],
    ctx: &Context<'_>,
    out: &mut Vec<String>,
) {
    let name = policy.metadata.name.as_deref().unwrap_or_default();
    let spec = &policy.spec;
    let selected_nodes: Vec<&NodeView> = ctx
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
        let shared: Vec<&&NodeView> = selected_nodes
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
pub(super) fn resolve_name<'a>(
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
