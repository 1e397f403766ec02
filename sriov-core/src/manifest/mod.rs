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
//! Objects of our CRDs are checked against the CRD's schema first, as the API server would
//! check them (`spec.numVfs: -1 is less than the minimum: must be at least 0`), and every
//! violation is reported, not only the first. YAML input keeps the line and column of
//! each node, so every problem points at its field ([`Location`]).
//!
//! Kinds understood: the seven `sriovnetwork.openshift.io/v1` kinds, the Multus
//! `NetworkAttachmentDefinition`, and the core `Node`, `Pod` and `ConfigMap`, which the
//! offline tools take as cluster context. Any other kind (a `Namespace`, a `Deployment`
//! kept in the same directory) is read as [`Object::Other`], which the tools skip; only an
//! unknown kind or version in the operator's own API groups is an error, because it is a
//! mistake in a manifest meant for the operator.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api;
use crate::schema::{self, FieldPath, PathSegment};

mod spans;

pub use spans::Location;
use spans::Spans;

/// API groups whose kinds a manifest for the operator may hold; an unknown kind or version
/// in these is an error, any other group's kind is [`Object::Other`].
pub const OWN_GROUPS: [&str; 2] = ["sriovnetwork.openshift.io", "k8s.cni.cncf.io"];

/// Where a document sits in its input stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Index of the YAML document in the stream, from 0.
    pub document: usize,
    /// Index inside a `kind: List` document, from 0; `None` for a plain document.
    pub item: Option<usize>,
    /// Where the object starts in the text; `None` for JSON input.
    pub location: Option<Location>,
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

/// A field with a value that cannot be stored: a schema violation, a wrong type, a missing
/// required field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the offending field, e.g. `spec.numVfs`; `.` for the whole object.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
    /// Where the field is in the text (the nearest enclosing node when it is missing).
    pub location: Option<Location>,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Why a manifest or one of its documents could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The text is not valid YAML or JSON.
    #[error("{}{message}", document.map(|d| format!("document {}: ", d + 1)).unwrap_or_default())]
    Syntax {
        /// What is wrong, in one line.
        message: String,
        /// Index of the document the error is in, from 0, when known.
        document: Option<usize>,
        /// Where the error is.
        location: Option<Location>,
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
    /// A document's `apiVersion`/`kind` pair is in one of the operator's API groups
    /// ([`OWN_GROUPS`]) but is not a kind this crate reads.
    #[error("{position}: unsupported kind {kind} in {api_version}{}", suggestion.as_ref().map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
    UnsupportedKind {
        /// Where the document is.
        position: Position,
        /// The document's `apiVersion`.
        api_version: String,
        /// The document's `kind`.
        kind: String,
        /// A supported `apiVersion`/`kind` with a similar spelling, if any.
        suggestion: Option<String>,
    },
    /// Fields the schema rejects or the types cannot hold.
    #[error("{position}: {kind} {name}: {}", fields.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// Where the document is.
        position: Position,
        /// The document's kind.
        kind: String,
        /// `namespace/name` (or `name`) of the object, `<unnamed>` when it has none.
        name: String,
        /// Every offending field, in document order (at least one).
        fields: Vec<FieldError>,
    },
}

impl ManifestError {
    /// Where the problem is in the text: the first offending field, else the object.
    pub fn location(&self) -> Option<Location> {
        match self {
            Self::Syntax { location, .. } => *location,
            Self::NotAnObject { position }
            | Self::MissingTypeMeta { position, .. }
            | Self::UnsupportedKind { position, .. } => position.location,
            Self::Invalid {
                position, fields, ..
            } => fields.iter().find_map(|f| f.location).or(position.location),
        }
    }
}

/// A field present in the input that the types do not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownField {
    /// Path of the field, e.g. `spec.nicSelector.pfName` or `status.interfaces[0].vfs`.
    pub path: String,
    /// A known field at the same place with a similar spelling, if any.
    pub suggestion: Option<String>,
    /// Where the field's key is in the text.
    pub location: Option<Location>,
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

/// An object of a kind the operator does not read (a `Namespace`, a `Deployment`): kept
/// with its type and metadata so tools can say what they skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct OtherObject {
    /// Its `apiVersion`.
    pub api_version: String,
    /// Its `kind`.
    pub kind: String,
    /// Its metadata (empty when it has none or it cannot be read).
    pub metadata: ObjectMeta,
    /// The whole object as read.
    pub value: Value,
}

macro_rules! objects {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty) = $api_version:literal ),* $(,)?) => {
        /// A typed object read from a manifest.
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum Object {
            $( $(#[$doc])* $variant(Box<$ty>), )*
            /// Any kind outside the operator's API groups and the core kinds above.
            Other(Box<OtherObject>),
        }

        impl Object {
            /// The object's `kind`.
            pub fn kind(&self) -> &str {
                match self {
                    $( Self::$variant(_) => stringify!($variant), )*
                    Self::Other(o) => &o.kind,
                }
            }

            /// The object's `apiVersion`.
            pub fn api_version(&self) -> &str {
                match self {
                    $( Self::$variant(_) => $api_version, )*
                    Self::Other(o) => &o.api_version,
                }
            }

            /// The object's metadata.
            pub fn meta(&self) -> &ObjectMeta {
                match self {
                    $( Self::$variant(o) => kube::Resource::meta(o.as_ref()), )*
                    Self::Other(o) => &o.metadata,
                }
            }

            /// The object as JSON, exactly as it would be written back.
            pub fn to_value(&self) -> Result<Value, serde_json::Error> {
                match self {
                    $( Self::$variant(o) => serde_json::to_value(o), )*
                    Self::Other(o) => Ok(o.value.clone()),
                }
            }

            fn decode(
                api_version: &str,
                kind: &str,
                value: Value,
                unknown: &mut Vec<Vec<PathSegment>>,
            ) -> Option<Result<Self, (Vec<PathSegment>, String)>> {
                match (api_version, kind) {
                    $( ($api_version, stringify!($variant)) => {
                        Some(decode::<$ty>(value, unknown).map(|o| Self::$variant(Box::new(o))))
                    } )*
                    _ => None,
                }
            }

            /// Every `apiVersion`/`kind` pair read into a typed variant.
            fn known() -> &'static [(&'static str, &'static str)] {
                &[ $( ($api_version, stringify!($variant)), )* ]
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

use crate::api::object_name as display_name;

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

/// Reads a YAML stream (or a JSON document) into its objects as plain JSON values, of any
/// kind, without checking them against a type: what is handed to an API server as is. Items
/// of a `kind: List` count individually; empty documents are skipped.
pub fn read_values(text: &str) -> Result<Vec<Value>, ManifestError> {
    let mut out = Vec::new();
    for (mut value, _) in parse_values(text)? {
        if value.is_null() {
            continue;
        }
        match take_list_items(&mut value) {
            Some(items) => out.extend(items.into_iter().filter(|v| !v.is_null())),
            None => out.push(value),
        }
    }
    Ok(out)
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
    for (document, (mut value, mut spans)) in values.into_iter().enumerate() {
        if value.is_null() {
            continue;
        }
        match take_list_items(&mut value) {
            Some(items) => {
                let mut item_spans = spans.take_list("items").into_iter();
                for (item, value) in items.into_iter().enumerate() {
                    let spans = item_spans.next().unwrap_or_default();
                    let position = Position {
                        document,
                        item: Some(item),
                        location: spans.at(),
                    };
                    out.push(read_located(value, position, &spans));
                }
            }
            None => {
                let position = Position {
                    document,
                    item: None,
                    location: spans.at(),
                };
                out.push(read_located(value, position, &spans));
            }
        }
    }
    Ok(out)
}

/// Parses text into JSON values: JSON (one document or several concatenated, as
/// `kubectl get -o json` prints) with serde_json, which is an order of magnitude faster on
/// large node states (without field positions); anything else as a YAML stream (YAML 1.2,
/// duplicate keys rejected, alias expansion bounded), keeping every node's position.
fn parse_values(text: &str) -> Result<Vec<(Value, Spans)>, ManifestError> {
    if text.trim_start().starts_with('{') {
        let mut values = Vec::new();
        for value in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
            match value {
                Ok(value) => values.push((value, Spans::default())),
                Err(e) => {
                    return Err(ManifestError::Syntax {
                        message: format!("invalid JSON: {}", json_message(&e)),
                        document: Some(values.len()),
                        location: u32::try_from(e.line()).ok().filter(|l| *l > 0).map(|line| {
                            Location {
                                line,
                                column: u32::try_from(e.column()).unwrap_or(u32::MAX),
                            }
                        }),
                    });
                }
            }
        }
        return Ok(values);
    }
    spans::parse_yaml(text).map_err(|e| yaml_error(text, &e))
}

/// serde_json's message without its own ` at line L column C` suffix (the location is
/// reported separately).
fn json_message(e: &serde_json::Error) -> String {
    let message = e.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

/// A YAML parse error as one line: the parser's user-facing message (no source excerpt,
/// no hints about the parser's options), the document it is in, and where.
fn yaml_error(text: &str, e: &serde_saphyr::Error) -> ManifestError {
    use serde_saphyr::MessageFormatter;
    let inner = e.without_snippet();
    let location = inner.location().and_then(Location::from_saphyr);
    let mut message = serde_saphyr::UserMessageFormatter
        .format_message(inner)
        .into_owned();
    if message.starts_with("duplicate mapping key") {
        // The most common way to get here is two objects pasted without a separator.
        message
            .push_str(" (if two objects follow each other, separate them with a line holding ---)");
    }
    let document = location.map(|l| document_at_line(text, l.line));
    ManifestError::Syntax {
        message,
        document,
        location,
    }
}

/// Index of the YAML document holding `line` (1-based): the number of document markers
/// (`---` at the start of a line) before it, not counting a marker that opens the stream.
fn document_at_line(text: &str, line: u32) -> usize {
    let mut document = 0;
    let mut content_seen = false;
    for (number, text_line) in text.lines().enumerate() {
        if number + 1 >= line as usize {
            break;
        }
        let is_marker =
            text_line == "---" || text_line.starts_with("--- ") || text_line.starts_with("---\t");
        if is_marker {
            if content_seen {
                document += 1;
            }
            content_seen = true;
        } else if !content_seen {
            let trimmed = text_line.trim();
            content_seen =
                !(trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('%'));
        }
    }
    document
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

/// Reads one object already parsed into JSON (without positions in a text).
pub fn read_value(value: Value, position: Position) -> Result<Document, ManifestError> {
    read_located(value, position, &Spans::default())
}

fn read_located(
    value: Value,
    position: Position,
    spans: &Spans,
) -> Result<Document, ManifestError> {
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
    if !Object::known().contains(&(api_version.as_str(), kind.as_str())) {
        // An error about the kind points at the `kind:` line.
        let at_kind = Position {
            location: spans
                .find(&[PathSegment::Key("kind".into())])
                .or(position.location),
            ..position
        };
        return other(value, api_version, kind, position, at_kind);
    }
    let schema = schema_for(&api_version, &kind);
    if let Some(schema) = schema {
        let violations = schema::check(schema, &value);
        if !violations.is_empty() {
            let fields = violations
                .into_iter()
                .map(|v| FieldError {
                    location: spans.find(&v.path.0),
                    path: v.path.to_string(),
                    message: v.message,
                })
                .collect();
            return Err(ManifestError::Invalid {
                position,
                kind,
                name,
                fields,
            });
        }
    }
    let mut unknown = Vec::new();
    let object = match Object::decode(&api_version, &kind, value, &mut unknown) {
        // Not reached: `known()` was checked above; say so rather than invent an object.
        None => {
            return Err(ManifestError::UnsupportedKind {
                position,
                api_version,
                kind,
                suggestion: None,
            });
        }
        Some(Err((path, message))) => {
            return Err(ManifestError::Invalid {
                position,
                kind,
                name,
                fields: vec![FieldError {
                    location: spans.find(&path),
                    path: FieldPath(path).to_string(),
                    message,
                }],
            });
        }
        Some(Ok(object)) => object,
    };
    // apiVersion and kind were checked above; the derived root types do not store them.
    unknown.retain(|path| {
        !matches!(path.as_slice(), [PathSegment::Key(k)] if k == "apiVersion" || k == "kind")
    });
    let unknown_fields = unknown
        .into_iter()
        .map(|path| UnknownField {
            suggestion: schema.and_then(|s| suggest(s, &path)),
            location: spans.find(&path),
            path: FieldPath(path).to_string(),
        })
        .collect();
    Ok(Document {
        position,
        object,
        unknown_fields,
    })
}

/// A kind not decoded into a typed variant: an error in the operator's own groups (a typo
/// or a wrong version), otherwise an [`Object::Other`] holding the value.
fn other(
    value: Value,
    api_version: String,
    kind: String,
    position: Position,
    at_kind: Position,
) -> Result<Document, ManifestError> {
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    if OWN_GROUPS.contains(&group) {
        return Err(ManifestError::UnsupportedKind {
            position: at_kind,
            suggestion: suggest_kind(&api_version, &kind),
            api_version,
            kind,
        });
    }
    let metadata = value
        .get("metadata")
        .and_then(|m| serde_json::from_value(m.clone()).ok())
        .unwrap_or_default();
    Ok(Document {
        position,
        object: Object::Other(Box::new(OtherObject {
            api_version,
            kind,
            metadata,
            value,
        })),
        unknown_fields: Vec::new(),
    })
}

/// The supported `apiVersion kind` closest to a wrong one: the kind within a quarter of
/// its length in edits (at least two: `SriovNetworkPolicy` finds
/// `SriovNetworkNodePolicy`), the version within two.
fn suggest_kind(api_version: &str, kind: &str) -> Option<String> {
    let (wanted_kind, wanted_version) = (kind.to_lowercase(), api_version.to_lowercase());
    Object::known()
        .iter()
        .filter_map(|(v, k)| {
            let kind_distance = edit_distance(&wanted_kind, &k.to_lowercase());
            let version_distance = edit_distance(&wanted_version, &v.to_lowercase());
            (kind_distance <= (kind.len() / 4).max(2) && version_distance <= 2)
                .then(|| (kind_distance + version_distance, format!("{v} {k}")))
        })
        .min()
        .map(|(_, known)| known)
}

fn segments(path: &serde_ignored::Path<'_>, out: &mut Vec<PathSegment>) {
    use serde_ignored::Path;
    match path {
        Path::Root => {}
        Path::Seq { parent, index } => {
            segments(parent, out);
            out.push(PathSegment::Index(*index));
        }
        Path::Map { parent, key } => {
            segments(parent, out);
            out.push(PathSegment::Key(key.clone()));
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => segments(parent, out),
    }
}

fn decode<T: DeserializeOwned>(
    value: Value,
    unknown: &mut Vec<Vec<PathSegment>>,
) -> Result<T, (Vec<PathSegment>, String)> {
    let mut record = |path: serde_ignored::Path<'_>| {
        let mut out = Vec::new();
        segments(&path, &mut out);
        unknown.push(out);
    };
    let deserializer = serde_ignored::Deserializer::new(value, &mut record);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Seq { index } => Some(PathSegment::Index(*index)),
                serde_path_to_error::Segment::Map { key } => Some(PathSegment::Key(key.clone())),
                serde_path_to_error::Segment::Enum { .. }
                | serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
        (path, e.inner().to_string())
    })
}

/// The `openAPIV3Schema` of our CRD for `apiVersion`/`kind`, built once per process.
fn schema_for(api_version: &str, kind: &str) -> Option<&'static Value> {
    static SCHEMAS: OnceLock<HashMap<(String, String), Value>> = OnceLock::new();
    let schemas = SCHEMAS.get_or_init(|| {
        crate::crd::operator_crds()
            .into_iter()
            .chain([crate::crd::network_attachment_definition_crd()])
            .flat_map(|crd| {
                let group = crd.spec.group.clone();
                let kind = crd.spec.names.kind.clone();
                crd.spec.versions.into_iter().filter_map(move |v| {
                    let schema = serde_json::to_value(v.schema?.open_api_v3_schema?).ok()?;
                    Some(((format!("{group}/{}", v.name), kind.clone()), schema))
                })
            })
            .collect()
    });
    schemas.get(&(api_version.to_owned(), kind.to_owned()))
}

/// Finds a known field next to the unknown one whose name is a likely misspelling of it:
/// equal ignoring case, or at most two edits away.
fn suggest(schema: &Value, path: &[PathSegment]) -> Option<String> {
    let (PathSegment::Key(unknown), parents) = path.split_last()? else {
        return None;
    };
    let mut node = schema;
    for segment in parents {
        node = match segment {
            PathSegment::Key(key) => node.get("properties")?.get(key)?,
            PathSegment::Index(_) => node.get("items")?,
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
    fn type_errors_and_missing_required_fields_name_the_path_and_line() {
        let err = one(&POLICY.replace("numVfs: 4", "numVfs: \"4\"")).unwrap_err();
        let ManifestError::Invalid { name, fields, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(name, "sriov-network-operator/p1");
        assert_eq!(
            fields,
            &[FieldError {
                path: "spec.numVfs".into(),
                message: "expected an integer, got string \"4\"".into(),
                location: Some(Location { line: 7, column: 3 }),
            }]
        );

        let err = one(&POLICY.replace("  resourceName: r1\n", "")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "document 1: SriovNetworkNodePolicy sriov-network-operator/p1: spec.resourceName: required field is missing"
        );
        // A missing field points at the object holding it.
        assert_eq!(err.location(), Some(Location { line: 4, column: 1 }));
    }

    #[test]
    fn values_the_schema_rejects_are_all_reported_before_anything_else() {
        let text =
            POLICY.replace("numVfs: 4", "numVfs: -1\n  priority: 100\n  mtu: 0") + "  bogus: 1\n";
        let err = one(&text).unwrap_err();
        let ManifestError::Invalid { fields, .. } = &err else {
            panic!("{err:?}")
        };
        let got: Vec<(String, u32)> = fields
            .iter()
            .map(|f| (f.to_string(), f.location.unwrap().line))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "spec.numVfs: -1 is less than the minimum: must be at least 0".to_owned(),
                    7
                ),
                (
                    "spec.priority: 100 is more than the maximum: must be at most 99".to_owned(),
                    8
                ),
                (
                    "spec.mtu: 0 is less than the minimum: must be at least 1".to_owned(),
                    9
                ),
            ]
        );
    }

    #[test]
    fn our_crds_patterns_compile() {
        fn patterns(schema: &Value, out: &mut Vec<String>) {
            match schema {
                Value::Object(map) => {
                    if let Some(Value::String(p)) = map.get("pattern") {
                        out.push(p.clone());
                    }
                    map.values().for_each(|v| patterns(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| patterns(v, out)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        for (api_version, kind) in Object::known() {
            if let Some(schema) = schema_for(api_version, kind) {
                patterns(schema, &mut found);
            }
        }
        assert!(!found.is_empty());
        for pattern in found {
            assert!(regex_lite::Regex::new(&pattern).is_ok(), "{pattern}");
        }
    }

    #[test]
    fn unknown_fields_carry_the_line_of_their_key() {
        let text = POLICY.replace(
            "{vendor: \"8086\"}",
            "\n    vendor: \"8086\"\n    pfName: [a]",
        );
        let doc = one(&text).unwrap();
        assert_eq!(
            doc.unknown_fields[0].location,
            Some(Location {
                line: 10,
                column: 5
            })
        );
    }

    #[test]
    fn kinds_of_other_groups_are_kept_as_other_objects() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: foo}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: x}\nspec: {}\n";
        let docs = read_str(text).unwrap();
        let got: Vec<(String, String, String)> = docs
            .iter()
            .map(|d| {
                let d = d.as_ref().unwrap();
                (
                    d.object.api_version().to_owned(),
                    d.object.kind().to_owned(),
                    d.object.display_name(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("v1".into(), "Namespace".into(), "foo".into()),
                ("apps/v1".into(), "Deployment".into(), "x/d".into()),
            ]
        );
        assert_eq!(docs[1].as_ref().unwrap().position.location.unwrap().line, 5);
    }

    #[test]
    fn a_missing_word_in_a_kind_is_still_suggested_and_the_error_points_at_kind() {
        let text = "apiVersion: sriovnetwork.openshift.io/v1\nmetadata: {name: p}\nkind: SriovNetworkPolicy\n";
        let err = one(text).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("(did you mean sriovnetwork.openshift.io/v1 SriovNetworkNodePolicy?)"),
            "{err}"
        );
        assert_eq!(err.location(), Some(Location { line: 3, column: 1 }));
        // Far from every kind: no suggestion.
        let err = one("apiVersion: sriovnetwork.openshift.io/v1\nkind: Widget\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "document 1: unsupported kind Widget in sriovnetwork.openshift.io/v1"
        );
    }

    #[test]
    fn unknown_kinds_in_our_groups_are_errors_with_a_suggestion() {
        let err = one(&POLICY.replace(
            "kind: SriovNetworkNodePolicy",
            "kind: SriovNetworkNodePolicie",
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "document 1: unsupported kind SriovNetworkNodePolicie in sriovnetwork.openshift.io/v1 (did you mean sriovnetwork.openshift.io/v1 SriovNetworkNodePolicy?)"
        );
    }

    #[test]
    fn two_objects_without_a_separator_are_one_syntax_error_naming_document_and_line() {
        let text = "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\napiVersion: v1\nkind: Namespace\n";
        let err = read_str(text).unwrap_err();
        assert_eq!(err.location(), Some(Location { line: 9, column: 1 }));
        let message = err.to_string();
        assert!(
            message.starts_with("document 2: duplicate mapping key `apiVersion`"),
            "{message}"
        );
        assert!(
            message.contains("separate them with a line holding ---"),
            "{message}"
        );
        assert!(!message.contains('\n'), "one line: {message}");
        assert!(!message.contains("Options"), "{message}");
    }

    #[test]
    fn enum_values_outside_the_crd_enum_are_rejected() {
        let err = one(&(POLICY.to_owned() + "  deviceType: vfio\n")).unwrap_err();
        assert!(
            err.to_string()
                .contains("spec.deviceType: \"vfio\" is not one of \"netdevice\", \"vfio-pci\""),
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
        assert_eq!((first.position.document, first.position.item), (0, Some(0)));
        assert_eq!(first.object.kind(), "SriovNetworkNodePolicy");
        let second = docs[1].as_ref().unwrap();
        assert_eq!(second.object.kind(), "Secret");
        assert_eq!(second.position.item, Some(1));
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
            err.to_string().starts_with("document 1: invalid JSON: EOF"),
            "{err}"
        );
        assert_eq!(err.location(), Some(Location { line: 1, column: 9 }));
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
        let objects = |docs: Vec<Result<Document, ManifestError>>| -> Vec<Object> {
            docs.into_iter().map(|d| d.unwrap().object).collect()
        };
        assert_eq!(objects(from_json), objects(from_yaml));
    }

    #[test]
    fn a_wrong_api_version_is_not_silently_accepted() {
        let err = one(&POLICY.replace("openshift.io/v1", "openshift.io/v2")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "document 1: unsupported kind SriovNetworkNodePolicy in sriovnetwork.openshift.io/v2 (did you mean sriovnetwork.openshift.io/v1 SriovNetworkNodePolicy?)"
        );
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("pfname", "pfnames"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
