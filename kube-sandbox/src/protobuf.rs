//! Reading the protobuf bodies kubectl's typed clients send (`kubectl create configmap`,
//! `create secret`, `create namespace`, and the Eviction `kubectl drain` posts), for the
//! kinds that need it: the Kubernetes envelope (`k8s\0` + `runtime.Unknown`) and a field
//! table per message. Answers are always JSON (those clients accept it).
//!
//! Other kinds are refused with 415, naming JSON as the way to send them.

use serde_json::{Map, Value, json};

/// The envelope's magic prefix.
const MAGIC: &[u8] = b"k8s\0";

/// One field of a message: its number and how it reads.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
    Bool,
    Message(&'static [Field]),
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

/// The messages read, by kind.
fn message_of(kind: &str) -> Option<&'static [Field]> {
    Some(match kind {
        "ConfigMap" => CONFIG_MAP,
        "Secret" => SECRET,
        "Namespace" => NAMESPACE,
        "ServiceAccount" => SERVICE_ACCOUNT,
        "Eviction" => EVICTION,
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

fn decode(bytes: &[u8], fields: &[Field]) -> Option<Value> {
    let mut out = Map::new();
    let mut reader = Reader { bytes };
    while !reader.bytes.is_empty() {
        let tag = reader.varint()?;
        let (number, wire) = (tag >> 3, tag & 7);
        let Some(field) = fields.iter().find(|f| f.number == number) else {
            reader.skip(wire)?;
            continue;
        };
        match (field.kind, wire) {
            (Kind::Text, 2) => {
                out.insert(field.name.into(), text(reader.chunk()?)?);
            }
            (Kind::Int, 0) => {
                // int64 on the wire: two's complement in a varint.
                out.insert(field.name.into(), json!(reader.varint()?.cast_signed()));
            }
            (Kind::Bool, 0) => {
                out.insert(field.name.into(), json!(reader.varint()? != 0));
            }
            (Kind::Message(inner), 2) => {
                out.insert(field.name.into(), decode(reader.chunk()?, inner)?);
            }
            (Kind::TextMap | Kind::BytesMap, 2) => {
                let (key, value) = map_entry(reader.chunk()?)?;
                let value = match field.kind {
                    Kind::BytesMap => json!(base64(value)),
                    _ => text(value)?,
                };
                out.entry(field.name)
                    .or_insert_with(|| json!({}))
                    .as_object_mut()?
                    .insert(key, value);
            }
            (Kind::RepeatedText, 2) => {
                let item = text(reader.chunk()?)?;
                out.entry(field.name)
                    .or_insert_with(|| json!([]))
                    .as_array_mut()?
                    .push(item);
            }
            (Kind::RepeatedMessage(inner), 2) => {
                let item = decode(reader.chunk()?, inner)?;
                out.entry(field.name)
                    .or_insert_with(|| json!([]))
                    .as_array_mut()?
                    .push(item);
            }
            (_, wire) => reader.skip(wire)?,
        }
    }
    Some(Value::Object(out))
}

/// Why a protobuf body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    /// Not the Kubernetes envelope, or cut short.
    #[error("the protobuf body is not a Kubernetes object (missing the k8s envelope or cut short)")]
    Malformed,
    /// A kind this server does not read as protobuf.
    #[error(
        "the sandbox reads protobuf bodies only for ConfigMap, Secret, Namespace, ServiceAccount and Eviction, not {0}; send JSON"
    )]
    Unsupported(String),
}

/// The JSON object a protobuf body holds.
pub fn to_json(body: &[u8]) -> Result<Value, ProtobufError> {
    let rest = body.strip_prefix(MAGIC).ok_or(ProtobufError::Malformed)?;
    let unknown = decode(rest, &[f(1, "typeMeta", Kind::Message(TYPE_META))])
        .ok_or(ProtobufError::Malformed)?;
    let raw = raw_field(rest).ok_or(ProtobufError::Malformed)?;
    let kind = unknown
        .pointer("/typeMeta/kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let fields = message_of(&kind).ok_or_else(|| ProtobufError::Unsupported(kind.clone()))?;
    let mut object = decode(raw, fields).ok_or(ProtobufError::Malformed)?;
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
        let pod = [
            MAGIC.to_vec(),
            field(1, &[field(1, b"v1"), field(2, b"Pod")].concat()),
            field(2, b""),
        ]
        .concat();
        assert_eq!(to_json(&pod), Err(ProtobufError::Unsupported("Pod".into())));
        assert_eq!(base64(b"hi!?"), "aGkhPw==");
    }
}
