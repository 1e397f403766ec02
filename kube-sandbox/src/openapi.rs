//! `/openapi/v3`: the index of group-versions and one OpenAPI 3.0 document per group-version.
//!
//! What kubectl needs from it: for `apply`/`create -f` with its default `--validate=strict`,
//! a PATCH operation on each kind's item path carrying the `x-kubernetes-group-version-kind`
//! extension and a `fieldValidation` query parameter (kubectl then sends
//! `fieldValidation=Strict` and leaves checking to the server); for `kubectl explain`, the
//! kind's schema under `components.schemas` with the same extension. Custom resources get
//! their CRD's schema; built-in kinds get an open object (no strategic-merge patch type is
//! advertised, so kubectl never builds patches from these schemas).

use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::{Map, Value, json};

use crate::resources::{Registry, ResourceType};

/// The index path of a group-version: `api/v1`, `apis/apps/v1`.
fn index_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn hash(document: &Value) -> String {
    let mut hasher = DefaultHasher::new();
    document.to_string().hash(&mut hasher);
    format!("{:016X}", hasher.finish())
}

/// The schema name of a kind: its group reversed, then version and kind
/// (`com.example.v1.Widget`; core kinds `io.k8s.api.core.v1.Pod`).
fn schema_name(resource: &ResourceType) -> String {
    let group: Vec<&str> = if resource.group.is_empty() {
        vec!["io", "k8s", "api", "core"]
    } else {
        resource.group.split('.').rev().collect()
    };
    format!("{}.{}.{}", group.join("."), resource.version, resource.kind)
}

fn query_parameter(name: &str, kind: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": kind, "uniqueItems": true}})
}

fn operations(resource: &ResourceType) -> (String, Value) {
    let prefix = if resource.group.is_empty() {
        format!("/api/{}", resource.version)
    } else {
        format!("/apis/{}/{}", resource.group, resource.version)
    };
    let path = if resource.namespaced {
        format!(
            "{prefix}/namespaces/{{namespace}}/{}/{{name}}",
            resource.plural
        )
    } else {
        format!("{prefix}/{}/{{name}}", resource.plural)
    };
    let gvk = json!({"group": resource.group, "version": resource.version, "kind": resource.kind});
    let reference = json!({"$ref": format!("#/components/schemas/{}", schema_name(resource))});
    let content = |schema: &Value| -> Value { json!({"application/json": {"schema": schema}}) };
    let patch_body: Map<String, Value> = [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/apply-patch+yaml",
    ]
    .iter()
    .map(|t| ((*t).to_owned(), json!({"schema": {"type": "object"}})))
    .collect();
    let operations = json!({
        "get": {
            "operationId": format!("read{}", resource.kind),
            "x-kubernetes-action": "get",
            "x-kubernetes-group-version-kind": gvk,
            "responses": {"200": {"description": "OK", "content": content(&reference)}},
        },
        "put": {
            "operationId": format!("replace{}", resource.kind),
            "x-kubernetes-action": "put",
            "x-kubernetes-group-version-kind": gvk,
            "parameters": [
                query_parameter("dryRun", "string", "When present, modifications are not persisted (All)."),
                query_parameter("fieldManager", "string", "The actor making the change."),
                query_parameter("fieldValidation", "string", "Ignore, Warn or Strict handling of unknown or duplicate fields."),
            ],
            "requestBody": {"content": content(&reference)},
            "responses": {"200": {"description": "OK", "content": content(&reference)}},
        },
        "patch": {
            "operationId": format!("patch{}", resource.kind),
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
            "parameters": [
                query_parameter("dryRun", "string", "When present, modifications are not persisted (All)."),
                query_parameter("fieldManager", "string", "The actor making the change."),
                query_parameter("fieldValidation", "string", "Ignore, Warn or Strict handling of unknown or duplicate fields."),
                query_parameter("force", "boolean", "Force an apply over conflicts."),
            ],
            "requestBody": {"content": patch_body},
            "responses": {"200": {"description": "OK", "content": content(&reference)}},
        },
        "delete": {
            "operationId": format!("delete{}", resource.kind),
            "x-kubernetes-action": "delete",
            "x-kubernetes-group-version-kind": gvk,
            "responses": {"200": {"description": "OK"}},
        },
    });
    (path, operations)
}

fn schema(resource: &ResourceType) -> Value {
    let mut schema = resource.schema.as_deref().cloned().unwrap_or_else(|| {
        json!({
            "type": "object",
            "description": format!("{} (the sandbox does not carry the built-in schemas)", resource.kind),
            "x-kubernetes-preserve-unknown-fields": true,
        })
    });
    schema["x-kubernetes-group-version-kind"] =
        json!([{"group": resource.group, "version": resource.version, "kind": resource.kind}]);
    schema
}

/// The document of `group`/`version`, when served.
pub fn document(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let (_, resources) = registry
        .versions()
        .find(|((g, v), _)| g == group && v == version)?;
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for resource in resources {
        let (path, ops) = operations(resource);
        paths.insert(path, ops);
        schemas.insert(schema_name(resource), schema(resource));
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (kube-sandbox)", "version": format!("v{}.{}.0", crate::discovery::VERSION.0, crate::discovery::VERSION.1)},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// `/openapi/v3`: every served group-version with the URL of its document (the hash
/// changes whenever the document does, as clients cache by URL).
pub fn index(registry: &Registry) -> Value {
    let mut paths = Map::new();
    for ((group, version), _) in registry.versions() {
        if let Some(document) = document(registry, group, version) {
            let path = index_path(group, version);
            paths.insert(
                path.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={}", hash(&document))}),
            );
        }
    }
    json!({"paths": paths})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_patch_operation_kubectl_recognises() {
        let registry = Registry::new();
        let index = index(&registry);
        assert!(
            index["paths"]["api/v1"]["serverRelativeURL"]
                .as_str()
                .unwrap()
                .starts_with("/openapi/v3/api/v1?hash=")
        );
        let core = document(&registry, "", "v1").unwrap();
        let patch = &core["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "ConfigMap"
        );
        assert!(
            patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(
            patch["requestBody"]["content"]
                .get("application/strategic-merge-patch+json")
                .is_none()
        );
        assert!(
            core["paths"].get("/api/v1/nodes/{name}").is_some(),
            "cluster-scoped path"
        );
        assert!(core["components"]["schemas"]["io.k8s.api.core.v1.Pod"].is_object());
        assert!(document(&registry, "nope", "v1").is_none());
    }
}
