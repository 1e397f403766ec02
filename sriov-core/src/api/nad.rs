//! The Multus `NetworkAttachmentDefinition` (`k8s.cni.cncf.io/v1`), which the operator
//! writes for every network. Its CRD belongs to Multus; the type lives here because the
//! operator renders it.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Annotation naming the device-plugin resource a network's pods must request.
pub const RESOURCE_NAME_ANNOTATION: &str = "k8s.v1.cni.cncf.io/resourceName";
/// Annotation recording which SR-IOV network object a NetworkAttachmentDefinition belongs to.
pub const OWNER_REF_ANNOTATION: &str = "sriovnetwork.openshift.io/owner-ref";

/// A secondary network a pod can attach to through Multus.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "k8s.cni.cncf.io",
    version = "v1",
    kind = "NetworkAttachmentDefinition",
    plural = "network-attachment-definitions",
    singular = "network-attachment-definition",
    shortname = "nad",
    shortname = "net-attach-def",
    namespaced,
    derive = "PartialEq",
    derive = "Default",
    doc = "A secondary network (Network Plumbing Working Group multi-net spec) described by a \
           CNI configuration."
)]
pub struct NetworkAttachmentDefinitionSpec {
    /// The CNI configuration, as a JSON document in a string.
    #[serde(default)]
    #[schemars(transform = without_default)]
    pub config: String,
}

/// Multus declares `config` without a default; keep the serde default out of the schema.
fn without_default(schema: &mut schemars::Schema) {
    schema.remove("default");
}
