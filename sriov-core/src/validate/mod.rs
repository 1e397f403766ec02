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

use crate::api::{
    DeviceType, ESwitchMode, InterfaceExt, NodeView, SriovNetworkNodePolicy, SriovNetworkNodeState,
    SriovNetworkPoolConfig, SriovOperatorConfig,
};
use crate::drain;
use crate::error::{Error, PfSelectorProblem, ResourceNameProblem, VfRangeProblem};
use crate::ids::{PfSelector, ResourceName, VfRange};
use crate::labels::{self, Labels};
use crate::nic::SupportedNics;
use crate::pool_config;

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
    pub nodes: &'a [NodeView],
    /// Node states (status is what matters).
    pub node_states: &'a [SriovNetworkNodeState],
    /// Every policy already in the cluster (the one being validated is skipped by name).
    pub policies: &'a [SriovNetworkNodePolicy],
    /// Supported NIC models.
    pub nics: &'a SupportedNics,
    /// `DEV_MODE`: skip the supported-NIC checks.
    pub dev_mode: bool,
}

mod config;
mod conflicts;
mod nodes;
mod policy;

pub use config::{network, network_namespace_violation, operator_config, pool_config};
pub use policy::policy;

pub(super) fn node_labels(node: &NodeView) -> Labels {
    node.metadata.labels.clone().unwrap_or_default()
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
    // The offline path (sriovctl validate): owned copies are fine here.
    fn owned<T: Clone>(v: &[std::sync::Arc<T>]) -> Vec<T> {
        v.iter().map(|o| (**o).clone()).collect()
    }
    let mut policies: Vec<SriovNetworkNodePolicy> = owned(&snapshot.policies);
    for p in &mut policies {
        crate::admission::crd_defaults::policy(p);
        crate::admission::apply_policy_defaults(p);
    }
    let nodes: Vec<NodeView> = owned(&snapshot.nodes);
    let node_states: Vec<SriovNetworkNodeState> = owned(&snapshot.node_states);
    let ctx = Context {
        operator_namespace,
        nodes: &nodes,
        node_states: &node_states,
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
