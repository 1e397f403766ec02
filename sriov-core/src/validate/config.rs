//! The operator config (OC1, OC2), pool configs (PC1, PC2) and networks (NW1).

use super::*;

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
        && !pool_config::is_drain_pool(pool_config)
    {
        verdict
            .violations
            .push("SriovOperatorConfig can't have both parallel configuration and OvsHardwareOffloadConfig".into());
    }
    let size = ctx
        .nodes
        .iter()
        .filter(|n| pool_config::selects(pool_config, &node_labels(n)).unwrap_or(false))
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
