//! The error type of `sriov-core`.

use std::fmt;

/// Everything `sriov-core` can reject. Each variant carries the input and the reason, so a
/// caller can name the field and act on it without parsing the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A PCI address did not have the `dddd:bb:dd.f` shape.
    #[error("invalid PCI address {input:?}: {reason}")]
    PciAddress {
        /// The rejected text.
        input: String,
        /// Which part was wrong.
        reason: &'static str,
    },
    /// A network interface name breaks the kernel's rule.
    #[error("invalid interface name {input:?}: {reason}")]
    InterfaceName {
        /// The rejected text.
        input: String,
        /// Why.
        reason: &'static str,
    },
    /// A VF range did not have the `first-last` shape.
    #[error("invalid VF range {input:?}: {problem}")]
    VfRange {
        /// The rejected text.
        input: String,
        /// Which part was wrong.
        problem: VfRangeProblem,
    },
    /// A `pfNames` entry did not have the `name[#first-last]` shape.
    #[error("invalid PF selector {input:?}: {problem}")]
    PfSelector {
        /// The rejected text.
        input: String,
        /// Which part was wrong.
        problem: PfSelectorProblem,
    },
    /// A device-plugin resource name broke the naming rules.
    #[error("{problem}")]
    ResourceName {
        /// Which rule was broken (the message names the input, as upstream's does).
        problem: ResourceNameProblem,
    },
    /// A supported-NIC table entry is malformed.
    #[error(
        "supported-nic-ids entry {entry}: {value:?} is not \"<vendor> <pf device> <vf device>\" in 4-digit hex"
    )]
    SupportedNic {
        /// The entry's key.
        entry: String,
        /// The entry's value.
        value: String,
    },
    /// A label selector uses an operator Kubernetes does not define.
    #[error(
        "label selector on key {key}: unknown operator {operator:?} (want In, NotIn, Exists or DoesNotExist)"
    )]
    LabelSelector {
        /// The requirement's key.
        key: String,
        /// The unknown operator.
        operator: String,
    },
    /// A policy cannot be resolved: a field holds a value the engine cannot use.
    #[error("SriovNetworkNodePolicy {policy}: {field}: {reason}")]
    Policy {
        /// `namespace/name` of the policy.
        policy: String,
        /// Path of the field, e.g. `spec.nicSelector.pfNames[1]`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A network's CNI configuration cannot be rendered.
    #[error("{kind} {network}: {field}: {reason}")]
    Network {
        /// `SriovNetwork`, `SriovIBNetwork` or `OVSNetwork`.
        kind: String,
        /// `namespace/name` of the network.
        network: String,
        /// Path of the field, e.g. `spec.ipam`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A node is in more than one pool.
    #[error("node {node} is selected by more than one SriovNetworkPoolConfig: {}", pools.join(", "))]
    Pool {
        /// The node.
        node: String,
        /// The pools selecting it.
        pools: Vec<String>,
    },
    /// A spec cannot be applied to the host as observed.
    #[error("PF {pf}: {reason}")]
    Plan {
        /// The PF's PCI address.
        pf: String,
        /// Why.
        reason: String,
    },
    /// An object could not be serialized.
    #[error("cannot serialize {what}: {message}")]
    Serialize {
        /// What was being serialized.
        what: String,
        /// The serializer's message.
        message: String,
    },
    /// A manifest could not be read as a known, well-formed object.
    #[error(transparent)]
    Manifest(#[from] crate::manifest::ManifestError),
}

/// Why a VF range was rejected. The texts match the upstream webhook's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VfRangeProblem {
    /// Not exactly two numbers joined by one `-`.
    Format,
    /// The first number is not a non-negative integer.
    Start,
    /// The last number is not a non-negative integer.
    End,
    /// The last index is smaller than the first.
    EndBeforeStart,
}

impl fmt::Display for VfRangeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Format => "probably incorrect range character usage",
            Self::Start => "start range is incorrect",
            Self::End => "end range is incorrect",
            Self::EndBeforeStart => "end range shall not be smaller than start range",
        })
    }
}

/// Why a `pfNames` entry was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PfSelectorProblem {
    /// More than one `#`.
    Separator,
    /// Nothing before the `#`, or the name is not a possible interface name.
    Name,
    /// The part after `#` is not a valid range.
    Range(VfRangeProblem),
}

impl fmt::Display for PfSelectorProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Separator => f.write_str("probably incorrect separator character usage"),
            Self::Name => f.write_str(
                "the interface name must be 1 to 127 characters without '/', ':', '#' or whitespace",
            ),
            Self::Range(p) => p.fmt(f),
        }
    }
}

/// Why a resource name was rejected. The texts match the upstream webhook's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceNameProblem {
    /// The name is empty.
    Empty,
    /// The name is longer than 63 characters.
    TooLong(String),
    /// The name has a character outside `[A-Za-z0-9_-]`, or starts or ends with `_`/`-`.
    Invalid(String),
}

impl fmt::Display for ResourceNameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("resource name must not be empty"),
            Self::TooLong(name) => {
                write!(
                    f,
                    "resource name \"{name}\" must be no more than 63 characters"
                )
            }
            Self::Invalid(name) => write!(
                f,
                "resource name \"{name}\" is invalid: must consist of alphanumeric characters, \
                 '-' or '_', and must start and end with an alphanumeric character \
                 (regex used for validation is '^[a-zA-Z0-9]([a-zA-Z0-9_-]*[a-zA-Z0-9])?$')"
            ),
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
