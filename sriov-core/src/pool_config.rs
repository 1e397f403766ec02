//! Pool membership of nodes (`SriovNetworkPoolConfig`), shared by rendering (RDMA mode) and
//! drain scheduling.

use crate::api::NodeView;

use crate::api::SriovNetworkPoolConfig;
use crate::error::{Error, Result};
use crate::labels::{self, Labels};

/// Whether the pool takes part in drain and RDMA handling: pools that configure OVS
/// hardware offload (`ovsHardwareOffloadConfig.name`) do not.
pub fn is_drain_pool(pool: &SriovNetworkPoolConfig) -> bool {
    pool.spec
        .ovs_hardware_offload_config
        .as_ref()
        .and_then(|o| o.name.as_deref())
        .is_none_or(str::is_empty)
}

/// Whether the pool's selector matches the labels (no selector matches every node).
pub fn selects(pool: &SriovNetworkPoolConfig, labels: &Labels) -> Result<bool> {
    match &pool.spec.node_selector {
        None => Ok(true),
        Some(selector) => labels::matches_selector(selector, labels),
    }
}

/// The drain pool a node belongs to: `None` when no pool selects it (it is then in the
/// implicit default pool), an error when more than one does or a selector is invalid.
/// `pools` may hold the configs or shared pointers to them (`Arc`, as stores hold them).
pub fn node_pool<'a, P: std::borrow::Borrow<SriovNetworkPoolConfig>>(
    node: &NodeView,
    pools: &'a [P],
) -> Result<Option<&'a SriovNetworkPoolConfig>> {
    let empty = Labels::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    let mut found = Vec::new();
    for pool in pools.iter().map(P::borrow).filter(|p| is_drain_pool(p)) {
        if selects(pool, labels)? {
            found.push(pool);
        }
    }
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(Error::Pool {
            node: node.metadata.name.clone().unwrap_or_default(),
            pools: many
                .iter()
                .map(|p| p.metadata.name.clone().unwrap_or_default())
                .collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    use super::*;
    use crate::api::{OvsHardwareOffloadConfig, SriovNetworkPoolConfigSpec};
    use crate::testing::node;

    fn pool(name: &str, label: Option<(&str, &str)>) -> SriovNetworkPoolConfig {
        SriovNetworkPoolConfig::new(
            name,
            SriovNetworkPoolConfigSpec {
                node_selector: label.map(|(k, v)| LabelSelector {
                    match_labels: Some([(k.to_owned(), v.to_owned())].into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
    }

    #[test]
    fn a_node_belongs_to_the_one_pool_that_selects_it() {
        let pools = [
            pool("a", Some(("rack", "1"))),
            pool("b", Some(("rack", "2"))),
        ];
        let n = NodeView::from(node("n", &[("rack", "2")]));
        assert_eq!(
            node_pool(&n, &pools)
                .unwrap()
                .unwrap()
                .metadata
                .name
                .as_deref(),
            Some("b")
        );
        assert!(node_pool(&node("m", &[]).into(), &pools).unwrap().is_none());
    }

    #[test]
    fn two_matching_pools_are_an_error_and_offload_pools_do_not_count() {
        let mut offload = pool("offload", None);
        offload.spec.ovs_hardware_offload_config = Some(OvsHardwareOffloadConfig {
            name: Some("mcp".into()),
        });
        let pools = [
            pool("all", None),
            pool("rack", Some(("rack", "1"))),
            offload,
        ];
        let err = node_pool(&node("n", &[("rack", "1")]).into(), &pools).unwrap_err();
        assert_eq!(
            err.to_string(),
            "node n is selected by more than one SriovNetworkPoolConfig: all, rack"
        );
        assert_eq!(
            node_pool(&node("m", &[]).into(), &pools)
                .unwrap()
                .unwrap()
                .metadata
                .name
                .as_deref(),
            Some("all")
        );
    }
}
