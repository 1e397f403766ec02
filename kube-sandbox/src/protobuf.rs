//! Reading the protobuf bodies kubectl's typed clients send (`kubectl create configmap`,
//! `secret`, `namespace`, `serviceaccount`, `deployment`, `service`, `role`, `rolebinding`,
//! `clusterrole`, `clusterrolebinding`, `poddisruptionbudget`, `kubectl run`, and the
//! Eviction `kubectl drain` posts): the Kubernetes envelope (`k8s\0` + `runtime.Unknown`)
//! and a field table per message, with the field numbers of Kubernetes' `generated.proto`.
//! Answers are always JSON (those clients accept it).
//!
//! Go writes every non-pointer field, set or not, so empty strings, zeros, `false` and empty
//! messages read as absent (pointer fields, where zero means something, keep it). A field
//! the tables do not know is refused when it carries a value (never dropped silently);
//! other kinds are refused with 415, naming JSON as the way to send them.

use serde_json::{Map, Value, json};

/// The envelope's magic prefix.
const MAGIC: &[u8] = b"k8s\0";

/// One field of a message: its number and how it reads.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    /// An integer whose zero is Go's "unset" (a non-pointer field).
    Int,
    /// An integer behind a Go pointer: zero is a value (`replicas: 0`).
    OptInt,
    /// A bool whose `false` is Go's "unset".
    Bool,
    /// A bool behind a Go pointer: `false` is a value.
    OptBool,
    Message(&'static [Field]),
    /// `intstr.IntOrString` (type 1: 0 int, 1 string; intVal 2; strVal 3).
    IntOrString,
    /// `map<string, resource.Quantity>` (a Quantity is `{string: 1}`).
    QuantityMap,
    /// Read elsewhere (the envelope's raw bytes and encodings).
    Ignored,
    /// A `map<string, string>` (entries: key 1, value 2).
    TextMap,
    /// A `map<string, bytes>`, written as base64 (Secret data).
    BytesMap,
    RepeatedText,
    RepeatedMessage(&'static [Field]),
}

#[derive(Clone, Copy)]
struct Field {
    number: u64,
    name: &'static str,
    kind: Kind,
}

const fn f(number: u64, name: &'static str, kind: Kind) -> Field {
    Field { number, name, kind }
}

const OWNER_REFERENCE: &[Field] = &[
    f(1, "kind", Kind::Text),
    f(3, "name", Kind::Text),
    f(4, "uid", Kind::Text),
    f(5, "apiVersion", Kind::Text),
    f(6, "controller", Kind::Bool),
    f(7, "blockOwnerDeletion", Kind::Bool),
];

const OBJECT_META: &[Field] = &[
    f(1, "name", Kind::Text),
    f(2, "generateName", Kind::Text),
    f(3, "namespace", Kind::Text),
    f(5, "uid", Kind::Text),
    f(6, "resourceVersion", Kind::Text),
    f(7, "generation", Kind::Int),
    f(11, "labels", Kind::TextMap),
    f(12, "annotations", Kind::TextMap),
    f(
        13,
        "ownerReferences",
        Kind::RepeatedMessage(OWNER_REFERENCE),
    ),
    f(14, "finalizers", Kind::RepeatedText),
];

const CONFIG_MAP: &[Field] = &[
    f(1, "metadata", Kind::Message(OBJECT_META)),
    f(2, "data", Kind::TextMap),
    f(3, "binaryData", Kind::BytesMap),
    f(4, "immutable", Kind::Bool),
];

const SECRET: &[Field] = &[
    f(1, "metadata", Kind::Message(OBJECT_META)),
    f(2, "data", Kind::BytesMap),
    f(3, "type", Kind::Text),
    f(4, "stringData", Kind::TextMap),
    f(5, "immutable", Kind::Bool),
];

const NAMESPACE_SPEC: &[Field] = &[f(1, "finalizers", Kind::RepeatedText)];

const NAMESPACE: &[Field] = &[
    f(1, "metadata", Kind::Message(OBJECT_META)),
    f(2, "spec", Kind::Message(NAMESPACE_SPEC)),
];

const SERVICE_ACCOUNT: &[Field] = &[f(1, "metadata", Kind::Message(OBJECT_META))];

const PRECONDITIONS: &[Field] = &[f(1, "uid", Kind::Text), f(2, "resourceVersion", Kind::Text)];

const DELETE_OPTIONS: &[Field] = &[
    f(1, "gracePeriodSeconds", Kind::Int),
    f(2, "preconditions", Kind::Message(PRECONDITIONS)),
    f(3, "orphanDependents", Kind::Bool),
    f(4, "propagationPolicy", Kind::Text),
    f(5, "dryRun", Kind::RepeatedText),
];

const EVICTION: &[Field] = &[
    f(1, "metadata", Kind::Message(OBJECT_META)),
    f(2, "deleteOptions", Kind::Message(DELETE_OPTIONS)),
];

const TYPE_META: &[Field] = &[f(1, "apiVersion", Kind::Text), f(2, "kind", Kind::Text)];

const LABEL_SELECTOR_REQUIREMENT: &[Field] = &[
    f(1, "key", Kind::Text),
    f(2, "operator", Kind::Text),
    f(3, "values", Kind::RepeatedText),
];

const LABEL_SELECTOR: &[Field] = &[
    f(1, "matchLabels", Kind::TextMap),
    f(
        2,
        "matchExpressions",
        Kind::RepeatedMessage(LABEL_SELECTOR_REQUIREMENT),
    ),
];

const POLICY_RULE: &[Field] = &[
    f(1, "verbs", Kind::RepeatedText),
    f(2, "apiGroups", Kind::RepeatedText),
    f(3, "resources", Kind::RepeatedText),
    f(4, "resourceNames", Kind::RepeatedText),
    f(5, "nonResourceURLs", Kind::RepeatedText),
];

const SUBJECT: &[Field] = &[
    f(1, "kind", Kind::Text),
    f(2, "apiGroup", Kind::Text),
    f(3, "name", Kind::Text),
    f(4, "namespace", Kind::Text),
];

const ROLE_REF: &[Field] = &[
    f(1, "apiGroup", Kind::Text),
    f(2, "kind", Kind::Text),
    f(3, "name", Kind::Text),
];

const AGGREGATION_RULE: &[Field] = &[f(
    1,
    "clusterRoleSelectors",
    Kind::RepeatedMessage(LABEL_SELECTOR),
)];

const ROLE: &[Field] = &[
    f(1, "metadata", Kind::Message(OBJECT_META)),
    f(2, "rules", Kind::RepeatedMessage(POLICY_RULE)),
];

const CLUSTER_ROLE: &[Field] = &[
    f(1, "metadata", Kind::Message(OBJECT_META)),
    f(2, "rules", Kind::RepeatedMessage(POLICY_RULE)),
    f(3, "aggregationRule", Kind::Message(AGGREGATION_RULE)),
];

const BINDING: &[Field] = &[
    f(1, "metadata", Kind::Message(OBJECT_META)),
    f(2, "subjects", Kind::RepeatedMessage(SUBJECT)),
    f(3, "roleRef", Kind::Message(ROLE_REF)),
];

const PDB_SPEC: &[Field] = &[
    f(1, "minAvailable", Kind::IntOrString),
    f(2, "selector", Kind::Message(LABEL_SELECTOR)),
    f(3, "maxUnavailable", Kind::IntOrString),
    f(4, "unhealthyPodEvictionPolicy", Kind::Text),
];

const PDB: &[Field] = &[
    f(1, "metadata", Kind::Message(OBJECT_META)),
    f(2, "spec", Kind::Message(PDB_SPEC)),
];

const SERVICE_PORT: &[Field] = &[
    f(1, "name", Kind::Text),
    f(2, "protocol", Kind::Text),
    f(6, "appProtocol", Kind::Text),
    f(3, "port", Kind::Int),
    f(4, "targetPort", Kind::IntOrString),
    f(5, "nodePort", Kind::Int),
];

const SERVICE_SPEC: &[Field] = &[
    f(1, "ports", Kind::RepeatedMessage(SERVICE_PORT)),
    f(2, "selector", Kind::TextMap),
    f(3, "clusterIP", Kind::Text),
    f(18, "clusterIPs", Kind::RepeatedText),
    f(4, "type", Kind::Text),
    f(5, "externalIPs", Kind::RepeatedText),
    f(7, "sessionAffinity", Kind::Text),
    f(10, "externalName", Kind::Text),
    f(11, "externalTrafficPolicy", Kind::Text),
    f(13, "publishNotReadyAddresses", Kind::Bool),
    f(19, "ipFamilies", Kind::RepeatedText),
    f(17, "ipFamilyPolicy", Kind::Text),
    f(20, "allocateLoadBalancerNodePorts", Kind::OptBool),
    f(22, "internalTrafficPolicy", Kind::Text),
];

const SERVICE: &[Field] = &[
    f(1, "metadata", Kind::Message(OBJECT_META)),
    f(2, "spec", Kind::Message(SERVICE_SPEC)),
];

const CONTAINER_PORT: &[Field] = &[
    f(1, "name", Kind::Text),
    f(2, "hostPort", Kind::Int),
    f(3, "containerPort", Kind::Int),
    f(4, "protocol", Kind::Text),
    f(5, "hostIP", Kind::Text),
];

const ENV_VAR: &[Field] = &[f(1, "name", Kind::Text), f(2, "value", Kind::Text)];

const RESOURCES: &[Field] = &[
    f(1, "limits", Kind::QuantityMap),
    f(2, "requests", Kind::QuantityMap),
];

const CONTAINER: &[Field] = &[
    f(1, "name", Kind::Text),
    f(2, "image", Kind::Text),
    f(3, "command", Kind::RepeatedText),
    f(4, "args", Kind::RepeatedText),
    f(5, "workingDir", Kind::Text),
    f(6, "ports", Kind::RepeatedMessage(CONTAINER_PORT)),
    f(7, "env", Kind::RepeatedMessage(ENV_VAR)),
    f(8, "resources", Kind::Message(RESOURCES)),
    f(13, "terminationMessagePath", Kind::Text),
    f(20, "terminationMessagePolicy", Kind::Text),
    f(14, "imagePullPolicy", Kind::Text),
    f(16, "stdin", Kind::Bool),
    f(17, "stdinOnce", Kind::Bool),
    f(18, "tty", Kind::Bool),
];

const LOCAL_OBJECT_REFERENCE: &[Field] = &[f(1, "name", Kind::Text)];

const POD_SPEC: &[Field] = &[
    f(20, "initContainers", Kind::RepeatedMessage(CONTAINER)),
    f(2, "containers", Kind::RepeatedMessage(CONTAINER)),
    f(3, "restartPolicy", Kind::Text),
    f(4, "terminationGracePeriodSeconds", Kind::OptInt),
    f(5, "activeDeadlineSeconds", Kind::OptInt),
    f(6, "dnsPolicy", Kind::Text),
    f(7, "nodeSelector", Kind::TextMap),
    f(8, "serviceAccountName", Kind::Text),
    f(9, "serviceAccount", Kind::Text),
    f(21, "automountServiceAccountToken", Kind::OptBool),
    f(10, "nodeName", Kind::Text),
    f(11, "hostNetwork", Kind::Bool),
    f(12, "hostPID", Kind::Bool),
    f(13, "hostIPC", Kind::Bool),
    f(
        15,
        "imagePullSecrets",
        Kind::RepeatedMessage(LOCAL_OBJECT_REFERENCE),
    ),
    f(16, "hostname", Kind::Text),
    f(17, "subdomain", Kind::Text),
    f(19, "schedulerName", Kind::Text),
    f(24, "priorityClassName", Kind::Text),
    f(25, "priority", Kind::OptInt),
    f(29, "runtimeClassName", Kind::Text),
    f(30, "enableServiceLinks", Kind::OptBool),
    f(31, "preemptionPolicy", Kind::Text),
];

const POD_TEMPLATE: &[Field] = &[
    f(1, "metadata", Kind::Message(OBJECT_META)),
    f(2, "spec", Kind::Message(POD_SPEC)),
];

const POD: &[Field] = &[
    f(1, "metadata", Kind::Message(OBJECT_META)),
    f(2, "spec", Kind::Message(POD_SPEC)),
];

const DEPLOYMENT_STRATEGY: &[Field] = &[f(1, "type", Kind::Text)];

const DEPLOYMENT_SPEC: &[Field] = &[
    f(1, "replicas", Kind::OptInt),
    f(2, "selector", Kind::Message(LABEL_SELECTOR)),
    f(3, "template", Kind::Message(POD_TEMPLATE)),
    f(4, "strategy", Kind::Message(DEPLOYMENT_STRATEGY)),
    f(5, "minReadySeconds", Kind::Int),
    f(6, "revisionHistoryLimit", Kind::OptInt),
    f(7, "paused", Kind::Bool),
    f(9, "progressDeadlineSeconds", Kind::OptInt),
];

const DEPLOYMENT: &[Field] = &[
    f(1, "metadata", Kind::Message(OBJECT_META)),
    f(2, "spec", Kind::Message(DEPLOYMENT_SPEC)),
];

/// The messages read, by kind.
fn message_of(kind: &str) -> Option<&'static [Field]> {
    Some(match kind {
        "ConfigMap" => CONFIG_MAP,
        "Secret" => SECRET,
        "Namespace" => NAMESPACE,
        "ServiceAccount" => SERVICE_ACCOUNT,
        "Eviction" => EVICTION,
        "Role" => ROLE,
        "ClusterRole" => CLUSTER_ROLE,
        "RoleBinding" | "ClusterRoleBinding" => BINDING,
        "PodDisruptionBudget" => PDB,
        "Service" => SERVICE,
        "Pod" => POD,
        "Deployment" => DEPLOYMENT,
        _ => return None,
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.bytes.split_first()?;
            self.bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn chunk(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        if len > self.bytes.len() {
            return None;
        }
        let (chunk, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Some(chunk)
    }

    /// Skips a field of wire type `wire`.
    fn skip(&mut self, wire: u64) -> Option<()> {
        match wire {
            0 => self.varint().map(|_| ()),
            1 => self.take(8),
            2 => self.chunk().map(|_| ()),
            5 => self.take(4),
            _ => None,
        }
    }

    fn take(&mut self, n: usize) -> Option<()> {
        if n > self.bytes.len() {
            return None;
        }
        self.bytes = &self.bytes[n..];
        Some(())
    }
}

fn text(bytes: &[u8]) -> Option<Value> {
    Some(json!(std::str::from_utf8(bytes).ok()?))
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(TABLE[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn map_entry(bytes: &[u8]) -> Option<(String, &[u8])> {
    let mut reader = Reader { bytes };
    let (mut key, mut value) = (String::new(), &[][..]);
    while !reader.bytes.is_empty() {
        let tag = reader.varint()?;
        match (tag >> 3, tag & 7) {
            (1, 2) => key = std::str::from_utf8(reader.chunk()?).ok()?.to_owned(),
            (2, 2) => value = reader.chunk()?,
            (_, wire) => reader.skip(wire)?,
        }
    }
    Some((key, value))
}

/// Whether a field of wire type `wire` read by `reader` carries anything (a zero, an empty
/// string or an empty message is what Go writes for an unset field).
fn skip_checking(reader: &mut Reader<'_>, wire: u64) -> Option<bool> {
    Some(match wire {
        0 => reader.varint()? != 0,
        2 => !all_unset(reader.chunk()?),
        1 | 5 => {
            let width = if wire == 1 { 8 } else { 4 };
            let bytes = reader.bytes.get(..width)?;
            let set = bytes.iter().any(|b| *b != 0);
            reader.take(width)?;
            set
        }
        _ => return None,
    })
}

/// Whether `bytes`, read as a message, holds only unset fields (zeros, empty strings,
/// messages of unset fields): what Go writes for an unset struct such as a new object's
/// `status`. Bytes that do not read as a message are a value.
fn all_unset(bytes: &[u8]) -> bool {
    let mut reader = Reader { bytes };
    while !reader.bytes.is_empty() {
        let Some(tag) = reader.varint() else {
            return false;
        };
        match skip_checking(&mut reader, tag & 7) {
            Some(false) => {}
            _ => return false,
        }
    }
    true
}

fn malformed<T>(value: Option<T>) -> Result<T, ProtobufError> {
    value.ok_or(ProtobufError::Malformed)
}

fn int_or_string(bytes: &[u8]) -> Option<Value> {
    let mut reader = Reader { bytes };
    let (mut is_string, mut int, mut text) = (false, 0i64, String::new());
    while !reader.bytes.is_empty() {
        let tag = reader.varint()?;
        match (tag >> 3, tag & 7) {
            (1, 0) => is_string = reader.varint()? == 1,
            (2, 0) => int = reader.varint()?.cast_signed(),
            (3, 2) => text = std::str::from_utf8(reader.chunk()?).ok()?.to_owned(),
            (_, wire) => reader.skip(wire)?,
        }
    }
    Some(if is_string { json!(text) } else { json!(int) })
}

fn decode(bytes: &[u8], fields: &[Field], path: &str) -> Result<Value, ProtobufError> {
    let mut out = Map::new();
    let mut reader = Reader { bytes };
    let below = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    while !reader.bytes.is_empty() {
        let tag = malformed(reader.varint())?;
        let (number, wire) = (tag >> 3, tag & 7);
        let Some(field) = fields.iter().find(|f| f.number == number) else {
            if malformed(skip_checking(&mut reader, wire))? {
                return Err(ProtobufError::UnknownField {
                    path: if path.is_empty() {
                        "the object".into()
                    } else {
                        path.to_owned()
                    },
                    number,
                });
            }
            continue;
        };
        match (field.kind, wire) {
            (Kind::Text, 2) => {
                let value = malformed(text(malformed(reader.chunk())?))?;
                if value != "" {
                    out.insert(field.name.into(), value);
                }
            }
            (Kind::Int | Kind::OptInt, 0) => {
                // int64 on the wire: two's complement in a varint.
                let value = malformed(reader.varint())?.cast_signed();
                if value != 0 || matches!(field.kind, Kind::OptInt) {
                    out.insert(field.name.into(), json!(value));
                }
            }
            (Kind::Bool | Kind::OptBool, 0) => {
                let value = malformed(reader.varint())? != 0;
                if value || matches!(field.kind, Kind::OptBool) {
                    out.insert(field.name.into(), json!(value));
                }
            }
            (Kind::Message(inner), 2) => {
                let value = decode(malformed(reader.chunk())?, inner, &below(field.name))?;
                if value.as_object().is_some_and(|m| !m.is_empty()) {
                    out.insert(field.name.into(), value);
                }
            }
            (Kind::IntOrString, 2) => {
                let chunk = malformed(reader.chunk())?;
                if !chunk.is_empty() {
                    out.insert(field.name.into(), malformed(int_or_string(chunk))?);
                }
            }
            (Kind::TextMap | Kind::BytesMap | Kind::QuantityMap, 2) => {
                let (key, value) = malformed(map_entry(malformed(reader.chunk())?))?;
                let value = match field.kind {
                    Kind::BytesMap => json!(base64(value)),
                    Kind::QuantityMap => {
                        let quantity =
                            decode(value, &[f(1, "string", Kind::Text)], &below(field.name))?;
                        quantity
                            .get("string")
                            .cloned()
                            .unwrap_or_else(|| json!("0"))
                    }
                    _ => malformed(text(value))?,
                };
                malformed(
                    out.entry(field.name)
                        .or_insert_with(|| json!({}))
                        .as_object_mut(),
                )?
                .insert(key, value);
            }
            (Kind::RepeatedText, 2) => {
                let item = malformed(text(malformed(reader.chunk())?))?;
                malformed(
                    out.entry(field.name)
                        .or_insert_with(|| json!([]))
                        .as_array_mut(),
                )?
                .push(item);
            }
            (Kind::RepeatedMessage(inner), 2) => {
                let item = decode(malformed(reader.chunk())?, inner, &below(field.name))?;
                malformed(
                    out.entry(field.name)
                        .or_insert_with(|| json!([]))
                        .as_array_mut(),
                )?
                .push(item);
            }
            (_, wire) => malformed(reader.skip(wire))?,
        }
    }
    Ok(Value::Object(out))
}

/// Why a protobuf body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    /// Not the Kubernetes envelope, or cut short.
    #[error("the protobuf body is not a Kubernetes object (missing the k8s envelope or cut short)")]
    Malformed,
    /// A kind this server does not read as protobuf.
    #[error(
        "the sandbox reads protobuf bodies only for the kinds kubectl's create commands write (ConfigMap, Secret, Namespace, ServiceAccount, Pod, Deployment, Service, Role, ClusterRole, RoleBinding, ClusterRoleBinding, PodDisruptionBudget, Eviction), not {0}; send JSON"
    )]
    Unsupported(String),
    /// A field the sandbox's tables do not have, carrying a value.
    #[error(
        "the sandbox's protobuf reader does not know field {number} of {path}; send this object as JSON (kubectl apply -f / create -f do)"
    )]
    UnknownField {
        /// Where (`spec.template.spec`).
        path: String,
        /// The protobuf field number.
        number: u64,
    },
}

/// The JSON object a protobuf body holds.
pub fn to_json(body: &[u8]) -> Result<Value, ProtobufError> {
    let rest = body.strip_prefix(MAGIC).ok_or(ProtobufError::Malformed)?;
    let envelope = [
        f(1, "typeMeta", Kind::Message(TYPE_META)),
        f(2, "raw", Kind::Ignored),
        f(3, "contentEncoding", Kind::Ignored),
        f(4, "contentType", Kind::Ignored),
    ];
    let unknown = decode(rest, &envelope, "").map_err(|_| ProtobufError::Malformed)?;
    let raw = raw_field(rest).ok_or(ProtobufError::Malformed)?;
    let kind = unknown
        .pointer("/typeMeta/kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let fields = message_of(&kind).ok_or_else(|| ProtobufError::Unsupported(kind.clone()))?;
    let mut object = decode(raw, fields, "")?;
    object["kind"] = json!(kind);
    if let Some(api_version) = unknown.pointer("/typeMeta/apiVersion") {
        object["apiVersion"] = api_version.clone();
    }
    Ok(object)
}

fn raw_field(bytes: &[u8]) -> Option<&[u8]> {
    let mut reader = Reader { bytes };
    while !reader.bytes.is_empty() {
        let tag = reader.varint()?;
        if tag == (2 << 3) | 2 {
            return reader.chunk();
        }
        reader.skip(tag & 7)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(number: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![
            u8::try_from((number << 3) | 2).unwrap(),
            u8::try_from(payload.len()).unwrap(),
        ];
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn a_config_map_reads_from_the_envelope() {
        let meta = [field(1, b"c1"), field(3, b"ns")].concat();
        let entry = [field(1, b"a"), field(2, b"1")].concat();
        let raw = [field(1, &meta), field(2, &entry)].concat();
        let type_meta = [field(1, b"v1"), field(2, b"ConfigMap")].concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta), field(2, &raw)].concat();
        let object = to_json(&body).unwrap();
        assert_eq!(
            object,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1", "namespace": "ns"}, "data": {"a": "1"}})
        );
        assert_eq!(to_json(b"nope"), Err(ProtobufError::Malformed));
        let job = [
            MAGIC.to_vec(),
            field(1, &[field(1, b"batch/v1"), field(2, b"Job")].concat()),
            field(2, b""),
        ]
        .concat();
        assert_eq!(to_json(&job), Err(ProtobufError::Unsupported("Job".into())));
        assert_eq!(base64(b"hi!?"), "aGkhPw==");
    }

    #[test]
    fn unset_go_fields_read_as_absent_and_unknown_values_are_refused() {
        // metadata with an empty generateName (2) and an unset creationTimestamp (8, an
        // empty message); a status (3) holding only an empty phase.
        let meta = [field(1, b"n"), field(2, b""), field(8, b"")].concat();
        let raw = [field(1, &meta), field(3, &field(1, b""))].concat();
        let type_meta = [field(1, b"v1"), field(2, b"Namespace")].concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta), field(2, &raw)].concat();
        assert_eq!(
            to_json(&body).unwrap(),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}})
        );
        // A field the table lacks, with a value: refused, naming where.
        let spec = field(15, b"x");
        let raw = [field(1, &field(1, b"n")), field(2, &spec)].concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta), field(2, &raw)].concat();
        assert_eq!(
            to_json(&body),
            Err(ProtobufError::UnknownField {
                path: "spec".into(),
                number: 15
            })
        );
    }
}
