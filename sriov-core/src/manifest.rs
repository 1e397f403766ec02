//! Reading manifests: multi-document YAML or JSON text into typed objects.
//!
//! Users hand us files written for the upstream operator; a typo there must not vanish
//! silently. Reading therefore keeps two lists per document: the typed object, and every
//! field the types did not recognise, with its full path and, when the schema knows a field
//! with a similar spelling, a suggestion (`spec.nicSelector.pfName`: did you mean
//! `pfNames`?). Type errors name the path too (`spec.numVfs: invalid type: string "4",
//! expected i32`). A `kind: List` (what `kubectl get -o yaml` prints) is expanded into its
//! items.
//!
//! Kinds understood: the seven `sriovnetwork.openshift.io/v1` kinds, the Multus
//! `NetworkAttachmentDefinition`, and the core `Node`, `Pod` and `ConfigMap`, which the
//! offline tools take as cluster context.

use std::fmt;

use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api;

/// Where a document sits in its input stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Index of the YAML document in the stream, from 0; empty documents are not counted.
    pub document: usize,
    /// Index inside a `kind: List` document, from 0; `None` for a plain document.
    pub item: Option<usize>,
}

impl fmt::Display for Position {
    /// Prints 1-based positions, the way people count documents: `document 2, item 3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "document {}", self.document + 1)?;
        if let Some(item) = self.item {
            write!(f, ", item {}", item + 1)?;
        }
        Ok(())
    }
}

/// Why a manifest or one of its documents could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The text is not valid YAML or JSON.
    #[error("cannot parse YAML/JSON: {message}")]
    Syntax {
        /// The parser's message, with line and column.
        message: String,
    },
    /// A document is not a mapping (for example a bare string or list).
    #[error("{position}: expected an object with apiVersion and kind")]
    NotAnObject {
        /// Where the document is.
        position: Position,
    },
    /// A document has no `apiVersion` or no `kind`.
    #[error("{position}: missing {field}")]
    MissingTypeMeta {
        /// Where the document is.
        position: Position,
        /// `apiVersion` or `kind`.
        field: &'static str,
    },
    /// A document's `apiVersion`/`kind` pair is not one this crate reads.
    #[error("{position}: unsupported kind {kind} in {api_version}")]
    UnsupportedKind {
        /// Where the document is.
        position: Position,
        /// The document's `apiVersion`.
        api_version: String,
        /// The document's `kind`.
        kind: String,
    },
    /// A field has the wrong type or a required field is missing.
    #[error("{position}: {kind} {name}: {path}: {message}")]
    InvalidField {
        /// Where the document is.
        position: Position,
        /// The document's kind.
        kind: String,
        /// `namespace/name` (or `name`) of the object, `<unnamed>` when it has none.
        name: String,
        /// Path of the offending field, e.g. `spec.numVfs`; `.` for the whole object.
        path: String,
        /// What is wrong with it.
        message: String,
    },
}

/// A field present in the input that the types do not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownField {
    /// Path of the field, e.g. `spec.nicSelector.pfName` or `status.interfaces[0].vfs`.
    pub path: String,
    /// A known field at the same place with a similar spelling, if any.
    pub suggestion: Option<String>,
}

impl fmt::Display for UnknownField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown field {}", self.path)?;
        if let Some(suggestion) = &self.suggestion {
            write!(f, " (did you mean {suggestion}?)")?;
        }
        Ok(())
    }
}

macro_rules! objects {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty) = $api_version:literal ),* $(,)?) => {
        /// A typed object read from a manifest.
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum Object {
            $( $(#[$doc])* $variant(Box<$ty>), )*
        }

        impl Object {
            /// The object's `kind`.
            pub fn kind(&self) -> &'static str {
                match self { $( Self::$variant(_) => stringify!($variant), )* }
            }

            /// The object's `apiVersion`.
            pub fn api_version(&self) -> &'static str {
                match self { $( Self::$variant(_) => $api_version, )* }
            }

            /// The object's metadata.
            pub fn meta(&self) -> &ObjectMeta {
                match self { $( Self::$variant(o) => kube::Resource::meta(o.as_ref()), )* }
            }

            /// The object as JSON, exactly as it would be written back.
            pub fn to_value(&self) -> Result<Value, serde_json::Error> {
                match self { $( Self::$variant(o) => serde_json::to_value(o), )* }
            }

            fn decode(
                api_version: &str,
                kind: &str,
                value: Value,
                unknown: &mut Vec<Vec<Segment>>,
            ) -> Option<Result<Self, (String, String)>> {
                match (api_version, kind) {
                    $( ($api_version, stringify!($variant)) => {
                        Some(decode::<$ty>(value, unknown).map(|o| Self::$variant(Box::new(o))))
                    } )*
                    _ => None,
                }
            }
        }
    };
}

objects! {
    /// A `SriovNetworkNodePolicy`.
    SriovNetworkNodePolicy(api::SriovNetworkNodePolicy) = "sriovnetwork.openshift.io/v1",
    /// A `SriovNetwork`.
    SriovNetwork(api::SriovNetwork) = "sriovnetwork.openshift.io/v1",
    /// A `SriovIBNetwork`.
    SriovIBNetwork(api::SriovIBNetwork) = "sriovnetwork.openshift.io/v1",
    /// An `OVSNetwork`.
    OVSNetwork(api::OVSNetwork) = "sriovnetwork.openshift.io/v1",
    /// A `SriovNetworkNodeState`.
    SriovNetworkNodeState(api::SriovNetworkNodeState) = "sriovnetwork.openshift.io/v1",
    /// A `SriovOperatorConfig`.
    SriovOperatorConfig(api::SriovOperatorConfig) = "sriovnetwork.openshift.io/v1",
    /// A `SriovNetworkPoolConfig`.
    SriovNetworkPoolConfig(api::SriovNetworkPoolConfig) = "sriovnetwork.openshift.io/v1",
    /// A Multus `NetworkAttachmentDefinition`.
    NetworkAttachmentDefinition(api::NetworkAttachmentDefinition) = "k8s.cni.cncf.io/v1",
    /// A core `Node`.
    Node(Node) = "v1",
    /// A core `Pod`.
    Pod(Pod) = "v1",
    /// A core `ConfigMap`.
    ConfigMap(ConfigMap) = "v1",
}

impl Object {
    /// `namespace/name`, or `name` for objects without a namespace, or `<unnamed>`.
    pub fn display_name(&self) -> String {
        display_name(
            self.meta().namespace.as_deref(),
            self.meta().name.as_deref(),
        )
    }
}

fn display_name(namespace: Option<&str>, name: Option<&str>) -> String {
    match (namespace, name) {
        (Some(ns), Some(name)) => format!("{ns}/{name}"),
        (None, Some(name)) => name.to_owned(),
        (_, None) => "<unnamed>".to_owned(),
    }
}

/// One object read from a manifest, with the fields the types did not recognise.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Where the object was in the input.
    pub position: Position,
    /// The typed object.
    pub object: Object,
    /// Fields present in the input that the object's type does not have.
    pub unknown_fields: Vec<UnknownField>,
}

/// Reads a YAML stream (or a JSON document) holding any number of objects.
///
/// The outer error means the text could not be parsed at all. Otherwise there is one entry
/// per object (items of a `kind: List` count individually; empty documents are skipped),
/// each either a [`Document`] or the reason that object could not be read, so one bad object
/// does not hide the others.
pub fn read_str(text: &str) -> Result<Vec<Result<Document, ManifestError>>, ManifestError> {
    let values = parse_values(text)?;
    let mut out = Vec::new();
    for (document, mut value) in values.into_iter().enumerate() {
        if value.is_null() {
            continue;
        }
        match take_list_items(&mut value) {
            Some(items) => {
                for (item, value) in items.into_iter().enumerate() {
                    let position = Position {
                        document,
                        item: Some(item),
                    };
                    out.push(read_value(value, position));
                }
            }
            None => out.push(read_value(
                value,
                Position {
                    document,
                    item: None,
                },
            )),
        }
    }
    Ok(out)
}

/// Parses text into JSON values: JSON (one document or several concatenated, as
/// `kubectl get -o json` prints) with serde_json, which is an order of magnitude faster on
/// large node states; anything else as a YAML stream (YAML 1.2, duplicate keys rejected,
/// alias expansion bounded).
fn parse_values(text: &str) -> Result<Vec<Value>, ManifestError> {
    let syntax = |message: String| ManifestError::Syntax { message };
    if text.trim_start().starts_with('{') {
        serde_json::Deserializer::from_str(text)
            .into_iter::<Value>()
            .collect::<Result<_, _>>()
            .map_err(|e| syntax(format!("JSON: {e}")))
    } else {
        serde_saphyr::from_multiple(text).map_err(|e| syntax(e.to_string()))
    }
}

/// The items of a list document (`kind: List`, or `<Kind>List` with `items`, as the API
/// server returns), taken out of it; `None` for any other document.
fn take_list_items(value: &mut Value) -> Option<Vec<Value>> {
    let map = value.as_object_mut()?;
    let kind = map.get("kind").and_then(Value::as_str)?;
    let has_items = map.get("items").is_some_and(Value::is_array);
    if kind != "List" && !(kind.ends_with("List") && has_items) {
        return None;
    }
    match map.remove("items") {
        Some(Value::Array(items)) => Some(items),
        _ => Some(Vec::new()),
    }
}

/// Reads one object already parsed into JSON.
pub fn read_value(value: Value, position: Position) -> Result<Document, ManifestError> {
    let Value::Object(map) = &value else {
        return Err(ManifestError::NotAnObject { position });
    };
    let field = |name: &'static str| {
        map.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(ManifestError::MissingTypeMeta {
                position,
                field: name,
            })
    };
    let api_version = field("apiVersion")?;
    let kind = field("kind")?;
    let meta = map.get("metadata");
    let name = display_name(
        meta.and_then(|m| m.get("namespace"))
            .and_then(Value::as_str),
        meta.and_then(|m| m.get("name")).and_then(Value::as_str),
    );
    let mut unknown = Vec::new();
    let object = match Object::decode(&api_version, &kind, value, &mut unknown) {
        None => {
            return Err(ManifestError::UnsupportedKind {
                position,
                api_version,
                kind,
            });
        }
        Some(Err((path, message))) => {
            return Err(ManifestError::InvalidField {
                position,
                kind,
                name,
                path,
                message,
            });
        }
        Some(Ok(object)) => object,
    };
    // apiVersion and kind were checked above; the derived root types do not store them.
    unknown.retain(
        |path| !matches!(path.as_slice(), [Segment::Key(k)] if k == "apiVersion" || k == "kind"),
    );
    let schema = if unknown.is_empty() {
        None
    } else {
        schema_for(&kind)
    };
    let unknown_fields = unknown
        .iter()
        .map(|path| UnknownField {
            path: format_path(path),
            suggestion: schema.as_ref().and_then(|s| suggest(s, path)),
        })
        .collect();
    Ok(Document {
        position,
        object,
        unknown_fields,
    })
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

fn segments(path: &serde_ignored::Path<'_>, out: &mut Vec<Segment>) {
    use serde_ignored::Path;
    match path {
        Path::Root => {}
        Path::Seq { parent, index } => {
            segments(parent, out);
            out.push(Segment::Index(*index));
        }
        Path::Map { parent, key } => {
            segments(parent, out);
            out.push(Segment::Key(key.clone()));
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => segments(parent, out),
    }
}

fn format_path(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

fn decode<T: DeserializeOwned>(
    value: Value,
    unknown: &mut Vec<Vec<Segment>>,
) -> Result<T, (String, String)> {
    let mut record = |path: serde_ignored::Path<'_>| {
        let mut out = Vec::new();
        segments(&path, &mut out);
        unknown.push(out);
    };
    let deserializer = serde_ignored::Deserializer::new(value, &mut record);
    serde_path_to_error::deserialize(deserializer)
        .map_err(|e| (e.path().to_string(), e.inner().to_string()))
}

fn schema_for(kind: &str) -> Option<Value> {
    crate::crd::operator_crds()
        .into_iter()
        .chain([crate::crd::network_attachment_definition_crd()])
        .find(|crd| crd.spec.names.kind == kind)
        .and_then(|crd| crd.spec.versions.into_iter().next())
        .and_then(|v| v.schema)
        .and_then(|s| s.open_api_v3_schema)
        .and_then(|s| serde_json::to_value(s).ok())
}

/// Finds a known field next to the unknown one whose name is a likely misspelling of it:
/// equal ignoring case, or at most two edits away.
fn suggest(schema: &Value, path: &[Segment]) -> Option<String> {
    let (Segment::Key(unknown), parents) = path.split_last()? else {
        return None;
    };
    let mut node = schema;
    for segment in parents {
        node = match segment {
            Segment::Key(key) => node.get("properties")?.get(key)?,
            Segment::Index(_) => node.get("items")?,
        };
    }
    let known = node.get("properties")?.as_object()?;
    known
        .keys()
        .map(|name| {
            (
                edit_distance(&unknown.to_lowercase(), &name.to_lowercase()),
                name,
            )
        })
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, name)| name.clone())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(previous + 1).min(row[j] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Result<Document, ManifestError> {
        let mut docs = read_str(text).unwrap();
        assert_eq!(docs.len(), 1, "{docs:?}");
        docs.remove(0)
    }

    const POLICY: &str = "apiVersion: sriovnetwork.openshift.io/v1
kind: SriovNetworkNodePolicy
metadata: {name: p1, namespace: sriov-network-operator}
spec:
  resourceName: r1
  nodeSelector: {}
  numVfs: 4
  nicSelector: {vendor: \"8086\"}
";

    #[test]
    fn misspelled_fields_are_reported_with_path_and_suggestion() {
        let text = POLICY.replace("{vendor: \"8086\"}", "{vendor: \"8086\", pfName: [ens1]}")
            + "  isRDMA: true\n  bogus: 1\n";
        let doc = one(&text).unwrap();
        let fields: Vec<String> = doc.unknown_fields.iter().map(ToString::to_string).collect();
        assert_eq!(
            fields,
            [
                "unknown field spec.nicSelector.pfName (did you mean pfNames?)",
                "unknown field spec.isRDMA (did you mean isRdma?)",
                "unknown field spec.bogus",
            ]
        );
    }

    #[test]
    fn unknown_fields_inside_lists_name_the_index() {
        let text = "apiVersion: sriovnetwork.openshift.io/v1
kind: SriovNetworkNodeState
metadata: {name: worker-0}
spec: {}
status:
  interfaces:
  - pciAddress: 0000:81:00.0
    totalVfs: 128
    Vfs:
    - {pciAddress: 0000:81:01.0, vfID: 0, vlan: 5}
";
        let doc = one(text).unwrap();
        let fields: Vec<String> = doc.unknown_fields.iter().map(ToString::to_string).collect();
        assert_eq!(
            fields,
            [
                "unknown field status.interfaces[0].totalVfs (did you mean totalvfs?)",
                "unknown field status.interfaces[0].Vfs[0].vlan (did you mean Vlan?)",
            ]
        );
    }

    #[test]
    fn type_errors_and_missing_required_fields_name_the_path() {
        let err = one(&POLICY.replace("numVfs: 4", "numVfs: \"4\"")).unwrap_err();
        let ManifestError::InvalidField {
            path,
            name,
            message,
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(
            (path.as_str(), name.as_str()),
            ("spec.numVfs", "sriov-network-operator/p1")
        );
        assert!(message.contains("invalid type: string \"4\""), "{message}");

        let err = one(&POLICY.replace("  resourceName: r1\n", "")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "document 1: SriovNetworkNodePolicy sriov-network-operator/p1: spec: missing field `resourceName`"
        );
    }

    #[test]
    fn enum_values_outside_the_crd_enum_are_rejected() {
        let err = one(&(POLICY.to_owned() + "  deviceType: vfio\n")).unwrap_err();
        assert!(
            err.to_string()
                .contains("spec.deviceType: unknown variant `vfio`"),
            "{err}"
        );
    }

    #[test]
    fn lists_are_expanded_and_positions_counted_per_item() {
        let text = format!(
            "---\n---\napiVersion: v1\nkind: List\nitems:\n- {}\n- {{apiVersion: v1, kind: Secret, metadata: {{name: s}}}}\n",
            serde_json::to_string(&serde_saphyr::from_str::<Value>(POLICY).unwrap()).unwrap()
        );
        let docs = read_str(&text).unwrap();
        assert_eq!(docs.len(), 2);
        let first = docs[0].as_ref().unwrap();
        // Empty documents are not counted.
        assert_eq!(
            first.position,
            Position {
                document: 0,
                item: Some(0)
            }
        );
        assert_eq!(first.object.kind(), "SriovNetworkNodePolicy");
        assert_eq!(
            docs[1].as_ref().unwrap_err().to_string(),
            "document 1, item 2: unsupported kind Secret in v1"
        );
    }

    #[test]
    fn broken_documents_do_not_hide_good_ones() {
        let text = format!("{POLICY}---\n- a list\n---\nkind: Pod\n---\n{POLICY}");
        let docs = read_str(&text).unwrap();
        let summary: Vec<String> = docs
            .iter()
            .map(|d| match d {
                Ok(doc) => doc.object.display_name(),
                Err(e) => e.to_string(),
            })
            .collect();
        assert_eq!(
            summary,
            [
                "sriov-network-operator/p1",
                "document 2: expected an object with apiVersion and kind",
                "document 3: missing apiVersion",
                "sriov-network-operator/p1",
            ]
        );
    }

    #[test]
    fn unparsable_text_is_a_syntax_error() {
        let err = read_str("kind: [unclosed").unwrap_err();
        assert!(matches!(err, ManifestError::Syntax { .. }), "{err:?}");
        let err = read_str("{\"kind\": ").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot parse YAML/JSON: JSON: EOF"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_keys_are_rejected_not_silently_resolved() {
        let text = POLICY.replace("numVfs: 4", "numVfs: 4\n  numVfs: 8");
        assert!(matches!(read_str(&text), Err(ManifestError::Syntax { .. })));
    }

    #[test]
    fn concatenated_json_documents_are_read_like_a_yaml_stream() {
        let json =
            serde_json::to_string(&serde_saphyr::from_str::<Value>(POLICY).unwrap()).unwrap();
        let from_json = read_str(&format!("{json}\n{json}")).unwrap();
        let from_yaml = read_str(&format!("{POLICY}---\n{POLICY}")).unwrap();
        assert_eq!(from_json, from_yaml);
        assert_eq!(from_json.len(), 2);
    }

    #[test]
    fn a_wrong_api_version_is_not_silently_accepted() {
        let err = one(&POLICY.replace("openshift.io/v1", "openshift.io/v2")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "document 1: unsupported kind SriovNetworkNodePolicy in sriovnetwork.openshift.io/v2"
        );
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("pfname", "pfnames"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
