//! Discovery documents: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/<g>`, `/apis/<g>/<v>`,
//! in the legacy (non-aggregated) form every client falls back to.

use serde_json::{Value, json};

use crate::resources::{Registry, ResourceType};

/// The Kubernetes version the sandbox reports.
pub const VERSION: (&str, &str) = ("1", "33");

/// `/version`: all nine fields kube-rs requires.
pub fn version() -> Value {
    json!({
        "major": VERSION.0,
        "minor": VERSION.1,
        "gitVersion": format!("v{}.{}.0-sandbox", VERSION.0, VERSION.1),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "none (kube-sandbox, Rust)",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    })
}

/// `/api`.
pub fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [],
    })
}

fn group_document(group: &str, versions: &[&str]) -> Value {
    let entries: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "name": group,
        "versions": entries,
        "preferredVersion": entries.first().cloned().unwrap_or(Value::Null),
    })
}

/// The named groups and their versions, preferred (first registered) version first.
fn groups(registry: &Registry) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for ((group, version), _) in registry.versions() {
        if group.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(g, _)| g == group) {
            Some((_, versions)) => versions.push(version.clone()),
            None => out.push((group.clone(), vec![version.clone()])),
        }
    }
    // `v1` before `v1beta1` before `v1alpha1`, as the real server prefers stable versions.
    for (_, versions) in &mut out {
        versions.sort_by_key(|v| (v.contains("alpha"), v.contains("beta"), v.clone()));
    }
    out
}

/// `/apis`.
pub fn group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> = groups(registry)
        .iter()
        .map(|(g, vs)| group_document(g, &vs.iter().map(String::as_str).collect::<Vec<_>>()))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`, when served.
pub fn group(registry: &Registry, name: &str) -> Option<Value> {
    let (g, versions) = groups(registry).into_iter().find(|(g, _)| g == name)?;
    let mut document = group_document(&g, &versions.iter().map(String::as_str).collect::<Vec<_>>());
    document["kind"] = json!("APIGroup");
    document["apiVersion"] = json!("v1");
    Some(document)
}

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn entries(resource: &ResourceType) -> Vec<Value> {
    let mut main = json!({
        "name": resource.plural,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": VERBS,
    });
    if !resource.short_names.is_empty() {
        main["shortNames"] = json!(resource.short_names);
    }
    if !resource.categories.is_empty() {
        main["categories"] = json!(resource.categories);
    }
    let mut out = vec![main];
    if resource.status {
        out.push(json!({
            "name": format!("{}/status", resource.plural),
            "singularName": "",
            "namespaced": resource.namespaced,
            "kind": resource.kind,
            "verbs": ["get", "patch", "update"],
        }));
    }
    if resource.eviction {
        out.push(json!({
            "name": format!("{}/eviction", resource.plural),
            "singularName": "",
            "namespaced": resource.namespaced,
            "group": "policy",
            "version": "v1",
            "kind": "Eviction",
            "verbs": ["create"],
        }));
    }
    out
}

/// `/api/v1` or `/apis/<g>/<v>`, when served.
pub fn resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let (_, resources) = registry
        .versions()
        .find(|((g, v), _)| g == group && v == version)?;
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    let resources: Vec<Value> = resources.iter().flat_map(entries).collect();
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_advertise_status_and_eviction_as_drain_needs() {
        let registry = Registry::new();
        let list = resource_list(&registry, "", "v1").expect("core is served");
        let names: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert!(names.contains(&"pods/status") && names.contains(&"pods/eviction"));
        let eviction = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "pods/eviction")
            .unwrap();
        assert_eq!(
            (eviction["group"].as_str(), eviction["kind"].as_str()),
            (Some("policy"), Some("Eviction"))
        );
        assert!(
            group_list(&registry)["groups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["name"] == "apps" && g["preferredVersion"]["version"] == "v1")
        );
        assert!(resource_list(&registry, "nope", "v1").is_none());
    }
}
