//! Built-in kinds decoded as kube-apiserver decodes them: into their API types (here the
//! k8s-openapi types of the same group-version), so a value of the wrong type is refused
//! with the field that holds it, unknown fields are reported (and dropped) as the
//! request's `fieldValidation` asks, and what is stored is what the type serializes. A
//! ConfigMap with a number in `data`, which kubectl could not read back, never gets in.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::resources::ResourceType;

/// What decoding a built-in object gives: the object as its type serializes it, and the
/// paths of the fields the type does not have.
pub(crate) type Decoded = (Value, Vec<String>);

/// Decodes `object` as the built-in `resource`; `None` for kinds without a type here.
pub(crate) fn decode(resource: &ResourceType, object: &Value) -> Option<Result<Decoded, String>> {
    use k8s_openapi::api::{
        admissionregistration::v1 as admission, apps::v1 as apps, coordination::v1 as coordination,
        core::v1 as core, policy::v1 as policy, rbac::v1 as rbac,
    };
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
    let decode: fn(&Value) -> Result<Decoded, String> =
        match (resource.group.as_str(), resource.plural.as_str()) {
            ("", "namespaces") => typed::<core::Namespace>,
            ("", "nodes") => typed::<core::Node>,
            ("", "pods") => typed::<core::Pod>,
            ("", "configmaps") => typed::<core::ConfigMap>,
            ("", "secrets") => typed::<core::Secret>,
            ("", "services") => typed::<core::Service>,
            ("", "serviceaccounts") => typed::<core::ServiceAccount>,
            // Both Event APIs store the core form.
            ("", "events") | ("events.k8s.io", "events") => typed::<core::Event>,
            ("apps", "daemonsets") => typed::<apps::DaemonSet>,
            ("apps", "deployments") => typed::<apps::Deployment>,
            ("apps", "replicasets") => typed::<apps::ReplicaSet>,
            ("apps", "statefulsets") => typed::<apps::StatefulSet>,
            ("policy", "poddisruptionbudgets") => typed::<policy::PodDisruptionBudget>,
            ("coordination.k8s.io", "leases") => typed::<coordination::Lease>,
            ("apiextensions.k8s.io", "customresourcedefinitions") => {
                typed::<apiextensions::CustomResourceDefinition>
            }
            ("admissionregistration.k8s.io", "mutatingwebhookconfigurations") => {
                typed::<admission::MutatingWebhookConfiguration>
            }
            ("admissionregistration.k8s.io", "validatingwebhookconfigurations") => {
                typed::<admission::ValidatingWebhookConfiguration>
            }
            ("rbac.authorization.k8s.io", "roles") => typed::<rbac::Role>,
            ("rbac.authorization.k8s.io", "rolebindings") => typed::<rbac::RoleBinding>,
            ("rbac.authorization.k8s.io", "clusterroles") => typed::<rbac::ClusterRole>,
            ("rbac.authorization.k8s.io", "clusterrolebindings") => {
                typed::<rbac::ClusterRoleBinding>
            }
            _ => return None,
        };
    let mut decoded = decode(object);
    // kube-apiserver's defaulting, where clients rely on it.
    if let Ok((value, _)) = &mut decoded
        && resource.group.is_empty()
        && resource.plural == "secrets"
        && value
            .get("type")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        value["type"] = Value::from("Opaque");
    }
    Some(decoded)
}

/// A field path as Kubernetes writes it (`spec.containers[0].image`).
fn path_text(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", path_text(parent)),
        Path::Map { parent, key } => {
            let parent = path_text(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => path_text(parent),
    }
}

fn typed<K: DeserializeOwned + Serialize>(object: &Value) -> Result<Decoded, String> {
    let mut unknown = Vec::new();
    let decoded: K = {
        let mut note = |path: serde_ignored::Path<'_>| unknown.push(path_text(&path));
        let ignored = serde_ignored::Deserializer::new(object, &mut note);
        serde_path_to_error::deserialize(ignored).map_err(|e| {
            let path = e.path().to_string();
            if path == "." {
                e.inner().to_string()
            } else {
                format!("{path}: {}", e.inner())
            }
        })?
    };
    let value = serde_json::to_value(&decoded).map_err(|e| e.to_string())?;
    Ok((value, unknown))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resource(group: &str, plural: &str) -> ResourceType {
        crate::resources::builtins()
            .into_iter()
            .find(|r| r.group == group && r.plural == plural)
            .unwrap()
    }

    #[test]
    fn wrong_types_name_their_field_and_unknown_fields_are_listed() {
        let cm = resource("", "configmaps");
        let bad = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": 1}});
        let error = decode(&cm, &bad).unwrap().unwrap_err();
        assert!(
            error.starts_with("data.k: invalid type: integer `1`, expected a string"),
            "{error}"
        );

        let pods = resource("", "pods");
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "i", "imagePullPolcy": "Always",
              "ports": [{"containerPort": 80}]}]}, "extra": true});
        let (stored, unknown) = decode(&pods, &pod).unwrap().unwrap();
        assert_eq!(unknown, ["spec.containers[0].imagePullPolcy", "extra"]);
        assert!(
            stored
                .pointer("/spec/containers/0/imagePullPolcy")
                .is_none()
        );
        assert!(stored.get("extra").is_none());
        assert_eq!(
            stored["spec"]["containers"][0]["ports"][0]["containerPort"],
            80
        );
        let port = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "ports": [{"containerPort": "eighty"}]}]}});
        let error = decode(&pods, &port).unwrap().unwrap_err();
        assert!(
            error.starts_with("spec.containers[0].ports[0].containerPort: invalid type"),
            "{error}"
        );
    }

    #[test]
    fn numbers_where_quantities_go_are_accepted_as_kubectl_sends_them() {
        let pods = resource("", "pods");
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": 1, "openshift.io/intelnics": "2"}}}]}});
        let (stored, unknown) = decode(&pods, &pod).unwrap().unwrap();
        assert!(unknown.is_empty());
        assert_eq!(
            stored["spec"]["containers"][0]["resources"]["requests"]["cpu"],
            "1"
        );
    }
}
