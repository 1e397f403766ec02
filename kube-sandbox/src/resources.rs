//! What the server serves: one [`ResourceType`] per resource (built-in kinds from a table,
//! custom resources from the CRDs stored), looked up by group, version and plural, by kind,
//! or by short name.

use std::collections::BTreeMap;

use serde_json::Value;

/// One served resource: its names, scope and subresources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    /// API group (`""` for core).
    pub group: String,
    /// Version (`v1`).
    pub version: String,
    /// Kind (`Pod`).
    pub kind: String,
    /// List kind (`PodList`).
    pub list_kind: String,
    /// Plural (`pods`): the path segment.
    pub plural: String,
    /// Singular (`pod`).
    pub singular: String,
    /// Short names (`po`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Namespaced (or cluster-scoped).
    pub namespaced: bool,
    /// Has a `status` subresource: the main endpoint keeps the stored status, `/status`
    /// keeps everything else.
    pub status: bool,
    /// Has an `eviction` subresource (pods).
    pub eviction: bool,
    /// Bumps `metadata.generation` on spec changes.
    pub tracks_generation: bool,
    /// Defined by a CRD (custom resource) rather than built in.
    pub custom: bool,
    /// The CRD's `openAPIV3Schema` for this version, when it has one (shared: resource
    /// types are cloned per request).
    pub schema: Option<std::sync::Arc<Value>>,
    /// The schema, compiled for validation.
    pub compiled: Option<crate::schema::Compiled>,
    /// A CRD version's `additionalPrinterColumns` (what `kubectl get` shows).
    pub printer_columns: std::sync::Arc<[Value]>,
}

impl ResourceType {
    /// `apiVersion` of its objects (`v1`, `apps/v1`).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The resource as errors name it: `pods`, `deployments.apps`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The kind as validation errors name it: `Pod`, `Deployment.apps`.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// The key its objects are stored under (group and plural; versions share storage).
    /// Where its objects are stored (the `events.k8s.io` Events are the core ones).
    pub fn key(&self) -> ResourceKey {
        if crate::events::is_view(self) {
            return ResourceKey {
                group: String::new(),
                plural: "events".into(),
            };
        }
        ResourceKey {
            group: self.group.clone(),
            plural: self.plural.clone(),
        }
    }
}

/// Where a resource's objects are stored: group and plural.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceKey {
    /// API group.
    pub group: String,
    /// Plural.
    pub plural: String,
}

/// One built-in row: group, version, kind, plural, short names, namespaced, status,
/// categories.
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    bool,
    bool,
    &'static [&'static str],
);

const BUILTINS: &[Builtin] = &[
    (
        "",
        "v1",
        "Namespace",
        "namespaces",
        &["ns"],
        false,
        true,
        &[],
    ),
    ("", "v1", "Node", "nodes", &["no"], false, true, &[]),
    ("", "v1", "Pod", "pods", &["po"], true, true, &["all"]),
    (
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        &["cm"],
        true,
        false,
        &[],
    ),
    ("", "v1", "Secret", "secrets", &[], true, false, &[]),
    (
        "",
        "v1",
        "Service",
        "services",
        &["svc"],
        true,
        true,
        &["all"],
    ),
    (
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        &["sa"],
        true,
        false,
        &[],
    ),
    ("", "v1", "Event", "events", &["ev"], true, false, &[]),
    (
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        &["ds"],
        true,
        true,
        &["all"],
    ),
    (
        "apps",
        "v1",
        "Deployment",
        "deployments",
        &["deploy"],
        true,
        true,
        &["all"],
    ),
    (
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        &["rs"],
        true,
        true,
        &["all"],
    ),
    (
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        &["sts"],
        true,
        true,
        &["all"],
    ),
    (
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        &["pdb"],
        true,
        true,
        &[],
    ),
    (
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        &[],
        true,
        false,
        &[],
    ),
    (
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        &["ev"],
        true,
        false,
        &[],
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        &["crd", "crds"],
        false,
        true,
        &[],
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        &[],
        false,
        false,
        &[],
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        &[],
        false,
        false,
        &[],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        &[],
        true,
        false,
        &[],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        &[],
        true,
        false,
        &[],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        &[],
        false,
        false,
        &[],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        &[],
        false,
        false,
        &[],
    ),
];

/// Built-in kinds whose `metadata.generation` follows spec changes.
const GENERATION_KINDS: &[&str] = &[
    "DaemonSet",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "PodDisruptionBudget",
    "CustomResourceDefinition",
];

/// The built-in resources.
pub fn builtins() -> Vec<ResourceType> {
    BUILTINS
        .iter()
        .map(
            |&(group, version, kind, plural, short, namespaced, status, categories)| ResourceType {
                group: group.to_owned(),
                version: version.to_owned(),
                kind: kind.to_owned(),
                list_kind: format!("{kind}List"),
                plural: plural.to_owned(),
                singular: kind.to_ascii_lowercase(),
                short_names: short.iter().map(|s| (*s).to_owned()).collect(),
                categories: categories.iter().map(|s| (*s).to_owned()).collect(),
                namespaced,
                status,
                eviction: plural == "pods" && group.is_empty(),
                tracks_generation: GENERATION_KINDS.contains(&kind),
                custom: false,
                schema: None,
                compiled: None,
                printer_columns: std::sync::Arc::from(Vec::new()),
            },
        )
        .collect()
}

/// Why a CRD cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct CrdError {
    /// The offending field (`spec.names.plural`).
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

fn text<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
}

fn strings(value: &Value, path: &[&str]) -> Vec<String> {
    crate::meta::strings_at(value, &format!("/{}", path.join("/")))
}

/// The resources a CRD (an `apiextensions.k8s.io/v1` object as JSON) serves: one per served
/// version. Errors name the field: a name that is not `<plural>.<group>`, missing names, no
/// served version.
pub fn from_crd(crd: &Value) -> Result<Vec<ResourceType>, CrdError> {
    let fail = |field: &str, reason: &str| CrdError {
        field: field.to_owned(),
        reason: reason.to_owned(),
    };
    let group =
        text(crd, &["spec", "group"]).ok_or_else(|| fail("spec.group", "Required value"))?;
    let plural = text(crd, &["spec", "names", "plural"])
        .ok_or_else(|| fail("spec.names.plural", "Required value"))?;
    let kind = text(crd, &["spec", "names", "kind"])
        .ok_or_else(|| fail("spec.names.kind", "Required value"))?;
    let name = text(crd, &["metadata", "name"]).unwrap_or_default();
    if name != format!("{plural}.{group}") {
        return Err(fail(
            "metadata.name",
            &format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    let namespaced = match text(crd, &["spec", "scope"]) {
        Some("Namespaced") => true,
        Some("Cluster") => false,
        _ => {
            return Err(fail(
                "spec.scope",
                "Unsupported value: supported values: \"Cluster\", \"Namespaced\"",
            ));
        }
    };
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut served: Vec<ResourceType> = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        if v.get("served").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let Some(version) = v.get("name").and_then(Value::as_str) else {
            continue;
        };
        let schema = v.pointer("/schema/openAPIV3Schema").cloned();
        let compiled = match &schema {
            Some(schema) => Some(crate::schema::compile(schema).map_err(|reason| CrdError {
                field: format!("spec.versions[{i}].schema.openAPIV3Schema"),
                reason,
            })?),
            None => None,
        };
        served.push(ResourceType {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
            list_kind: text(crd, &["spec", "names", "listKind"])
                .map_or_else(|| format!("{kind}List"), str::to_owned),
            plural: plural.to_owned(),
            singular: text(crd, &["spec", "names", "singular"])
                .map_or_else(|| kind.to_ascii_lowercase(), str::to_owned),
            short_names: strings(crd, &["spec", "names", "shortNames"]),
            categories: strings(crd, &["spec", "names", "categories"]),
            namespaced,
            status: v.pointer("/subresources/status").is_some(),
            eviction: false,
            tracks_generation: true,
            custom: true,
            schema: schema.map(std::sync::Arc::new),
            compiled,
            printer_columns: v
                .get("additionalPrinterColumns")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .into(),
        });
    }
    if served.is_empty() {
        return Err(fail("spec.versions", "Invalid value: no version is served"));
    }
    Ok(served)
}

/// Every resource served now, by group and version.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// `(group, version)` → resources, sorted by plural.
    by_version: BTreeMap<(String, String), Vec<ResourceType>>,
}

impl Registry {
    /// The built-ins.
    pub fn new() -> Self {
        let mut registry = Self::default();
        for resource in builtins() {
            registry.insert(resource);
        }
        registry
    }

    fn insert(&mut self, resource: ResourceType) {
        let list = self
            .by_version
            .entry((resource.group.clone(), resource.version.clone()))
            .or_default();
        list.retain(|r| r.plural != resource.plural);
        list.push(resource);
        list.sort_by(|a, b| a.plural.cmp(&b.plural));
    }

    /// Serves a CRD's resources (replacing those it served before).
    pub fn add_crd(&mut self, resources: Vec<ResourceType>) {
        if let Some(first) = resources.first() {
            self.remove_crd(&first.group, &first.plural);
        }
        for resource in resources {
            self.insert(resource);
        }
    }

    /// Stops serving a CRD's resources.
    pub fn remove_crd(&mut self, group: &str, plural: &str) {
        for ((g, _), list) in &mut self.by_version {
            if g == group {
                list.retain(|r| !(r.custom && r.plural == plural));
            }
        }
        self.by_version.retain(|_, list| !list.is_empty());
    }

    /// The resource `plural` of `group`/`version`.
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.by_version
            .get(&(group.to_owned(), version.to_owned()))?
            .iter()
            .find(|r| r.plural == plural)
    }

    /// Whether `group`/`version` is served.
    pub fn serves(&self, group: &str, version: &str) -> bool {
        self.by_version
            .contains_key(&(group.to_owned(), version.to_owned()))
    }

    /// Every served `(group, version)` with its resources.
    pub fn versions(&self) -> impl Iterator<Item = (&(String, String), &Vec<ResourceType>)> {
        self.by_version.iter()
    }

    /// The served resource whose objects have this `apiVersion` and kind.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceType> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.by_version
            .get(&(group.to_owned(), version.to_owned()))?
            .iter()
            .find(|r| r.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crd_serves_its_versions_with_its_names() {
        let crd = serde_json::json!({
            "metadata": {"name": "foos.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "foos", "kind": "Foo", "shortNames": ["fo"]},
                "versions": [
                    {"name": "v1", "served": true, "storage": true, "subresources": {"status": {}}},
                    {"name": "v1beta1", "served": false, "storage": false}
                ]}
        });
        let served = from_crd(&crd).expect("a valid CRD");
        assert_eq!(served.len(), 1);
        let foo = &served[0];
        assert_eq!(
            (
                foo.api_version(),
                foo.list_kind.as_str(),
                foo.singular.as_str()
            ),
            ("example.com/v1".to_owned(), "FooList", "foo")
        );
        assert!(foo.status && foo.namespaced && foo.custom);
        let mut registry = Registry::new();
        registry.add_crd(served);
        assert!(registry.get("example.com", "v1", "foos").is_some());
        assert!(registry.by_kind("example.com/v1", "Foo").is_some());
        registry.remove_crd("example.com", "foos");
        assert!(!registry.serves("example.com", "v1"));
        assert!(registry.get("", "v1", "pods").is_some(), "built-ins stay");
    }

    #[test]
    fn a_crd_named_otherwise_than_plural_dot_group_is_refused() {
        let crd = serde_json::json!({
            "metadata": {"name": "bars.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "foos", "kind": "Foo"},
                "versions": [{"name": "v1", "served": true, "storage": true}]}
        });
        let err = from_crd(&crd).unwrap_err();
        assert_eq!(err.field, "metadata.name");
    }
}
