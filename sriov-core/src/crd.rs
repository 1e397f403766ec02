//! CustomResourceDefinitions generated from the [`crate::api`] types.
//!
//! The seven `sriovnetwork.openshift.io` CRDs are committed under `deploy/crds/`, one file
//! per CRD, named like upstream's (`sriovnetwork.openshift.io_<plural>.yaml`); a test fails
//! when the committed files differ from what these functions produce.
//!
//! One deliberate post-processing step: `nullable: true`, which the schema generator adds
//! for every `Option` field, is removed. Upstream's schemas have no nullable fields, so the
//! API server prunes an explicit `null` and then applies the field's default (for example
//! `deviceType: null` becomes `netdevice`); with `nullable` it would store the `null` and skip
//! the default. Our types read `null` and absent alike, so nothing is lost.

pub use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::{Value, json};

use crate::api;
use crate::error::{Error, Result};

/// The seven SR-IOV operator CRDs, in the order of their file names.
pub fn operator_crds() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![
        finish(api::OVSNetwork::crd()),
        finish(api::SriovIBNetwork::crd()),
        finish(api::SriovNetworkNodePolicy::crd()),
        finish(api::SriovNetworkNodeState::crd()),
        finish(api::SriovNetworkPoolConfig::crd()),
        finish(api::SriovNetwork::crd()),
        finish(api::SriovOperatorConfig::crd()),
    ];
    crds.sort_by_key(file_name);
    crds
}

/// The Multus `NetworkAttachmentDefinition` CRD as our type describes it. Multus installs
/// the real one; this exists so tests can check our type against it.
pub fn network_attachment_definition_crd() -> CustomResourceDefinition {
    finish(api::NetworkAttachmentDefinition::crd())
}

/// File name of a CRD under `deploy/crds/`: `<group>_<plural>.yaml`.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}_{}.yaml", crd.spec.group, crd.spec.names.plural)
}

/// One CRD as a YAML document, starting with `---` so files concatenate into a stream.
pub fn to_yaml(crd: &CustomResourceDefinition) -> Result<String> {
    let body = serde_saphyr::to_string(crd).map_err(|e| Error::Serialize {
        what: format!("CRD {}", crd.metadata.name.as_deref().unwrap_or_default()),
        message: e.to_string(),
    })?;
    Ok(format!("---\n{body}"))
}

/// All seven operator CRDs as one YAML stream, in file-name order: the output of
/// `sriovctl crds`, equal to concatenating the files in `deploy/crds/`.
pub fn operator_crds_yaml() -> Result<String> {
    operator_crds().iter().map(to_yaml).collect()
}

/// Post-processes a derived CRD (see the module docs). The JSON round trip cannot fail for
/// a derived CRD; should it ever, the CRD is returned unchanged and the committed-files
/// test shows the difference.
fn finish(crd: CustomResourceDefinition) -> CustomResourceDefinition {
    let Ok(mut value) = serde_json::to_value(&crd) else {
        return crd;
    };
    strip_nullable(&mut value);
    if let Some(versions) = value
        .pointer_mut("/spec/versions")
        .and_then(Value::as_array_mut)
    {
        for version in versions {
            if let Some(root) = version.pointer_mut("/schema/openAPIV3Schema") {
                add_type_meta(root);
            }
        }
    }
    serde_json::from_value(value).unwrap_or(crd)
}

/// Declares `apiVersion`, `kind` and `metadata` at the root, as kubebuilder-made CRDs do
/// (the API server validates them itself; declaring them keeps `kubectl explain` complete).
fn add_type_meta(root: &mut Value) {
    let Some(properties) = root.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    let string = |description: &str| json!({ "description": description, "type": "string" });
    properties.insert(
        "apiVersion".into(),
        string("Versioned schema of this object, group/version (sriovnetwork.openshift.io/v1)."),
    );
    properties.insert(
        "kind".into(),
        string("REST resource this object represents, in CamelCase."),
    );
    properties.insert("metadata".into(), json!({ "type": "object" }));
    properties.sort_keys();
}

fn strip_nullable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true)) {
                map.remove("nullable");
            }
            map.values_mut().for_each(strip_nullable);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nullable),
        _ => {}
    }
}
