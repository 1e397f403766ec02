//! YAML parsed into JSON values together with where each node was in the text, so that a
//! problem found later (an unknown field, a type error, a schema violation) can name its
//! line and column.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::Spanned;

use crate::schema::PathSegment;

/// A 1-based line and column in an input text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
}

impl fmt::Display for Location {
    /// `line:column`, as editors and compilers print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

impl Location {
    /// A saphyr location, `None` for its "unknown" (line 0).
    pub(crate) fn from_saphyr(location: serde_saphyr::Location) -> Option<Self> {
        let line = u32::try_from(location.line()).ok().filter(|l| *l > 0)?;
        let column = u32::try_from(location.column()).unwrap_or(u32::MAX);
        Some(Self { line, column })
    }
}

/// Where a parsed value and each of its parts were; empty for input without positions
/// (JSON, which takes a faster parser).
#[derive(Debug, Clone, Default)]
pub(crate) struct Spans {
    at: Option<Location>,
    children: Children,
}

#[derive(Debug, Clone, Default)]
enum Children {
    #[default]
    Leaf,
    /// Field name, where the key was, and the value's spans.
    Map(Vec<(String, Option<Location>, Spans)>),
    Seq(Vec<Spans>),
}

impl Spans {
    /// Where this value starts.
    pub(crate) fn at(&self) -> Option<Location> {
        self.at
    }

    /// Where the node at `path` is (for a field, its key; for a list element, the
    /// element), or its deepest ancestor that exists: a missing required field points at
    /// the object that lacks it.
    pub(crate) fn find(&self, path: &[PathSegment]) -> Option<Location> {
        let mut node = self;
        let mut best = self.at;
        for segment in path {
            let (at, next) = match (segment, &node.children) {
                (PathSegment::Key(key), Children::Map(fields)) => {
                    match fields.iter().find(|(name, _, _)| name == key) {
                        Some((_, at, spans)) => (*at, spans),
                        None => break,
                    }
                }
                (PathSegment::Index(i), Children::Seq(items)) => match items.get(*i) {
                    Some(spans) => (spans.at, spans),
                    None => break,
                },
                _ => break,
            };
            best = at.or(best);
            node = next;
        }
        best
    }

    /// Takes out the spans of the elements of field `key` (a `List`'s `items`).
    pub(crate) fn take_list(&mut self, key: &str) -> Vec<Spans> {
        let Children::Map(fields) = &mut self.children else {
            return Vec::new();
        };
        let Some((_, _, spans)) = fields.iter_mut().find(|(name, _, _)| name == key) else {
            return Vec::new();
        };
        match std::mem::take(&mut spans.children) {
            Children::Seq(items) => items,
            _ => Vec::new(),
        }
    }
}

/// Parses a YAML stream into one JSON value per document, each with its spans.
pub(crate) fn parse_yaml(text: &str) -> Result<Vec<(Value, Spans)>, serde_saphyr::Error> {
    let documents: Vec<Spanned<Tree>> = serde_saphyr::from_multiple(text)?;
    Ok(documents.into_iter().map(split).collect())
}

/// A YAML node with the positions of its children, as read.
enum Tree {
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(String),
    Seq(Vec<Spanned<Tree>>),
    Map(Vec<(Spanned<String>, Spanned<Tree>)>),
}

fn split(node: Spanned<Tree>) -> (Value, Spans) {
    let at = Location::from_saphyr(node.referenced);
    let leaf = |value: Value| {
        (
            value,
            Spans {
                at,
                children: Children::Leaf,
            },
        )
    };
    match node.value {
        Tree::Null => leaf(Value::Null),
        Tree::Bool(b) => leaf(Value::Bool(b)),
        Tree::I64(n) => leaf(Value::Number(n.into())),
        Tree::U64(n) => leaf(Value::Number(n.into())),
        // As serde_json's own Value does: a float JSON cannot hold (NaN, infinity) is null.
        Tree::F64(f) => leaf(Number::from_f64(f).map_or(Value::Null, Value::Number)),
        Tree::Str(s) => leaf(Value::String(s)),
        Tree::Seq(items) => {
            let (values, spans): (Vec<Value>, Vec<Spans>) = items.into_iter().map(split).unzip();
            (
                Value::Array(values),
                Spans {
                    at,
                    children: Children::Seq(spans),
                },
            )
        }
        Tree::Map(entries) => {
            let mut map = Map::with_capacity(entries.len());
            let mut fields = Vec::with_capacity(entries.len());
            for (key, value) in entries {
                let (value, spans) = split(value);
                fields.push((
                    key.value.clone(),
                    Location::from_saphyr(key.referenced),
                    spans,
                ));
                map.insert(key.value, value);
            }
            (
                Value::Object(map),
                Spans {
                    at,
                    children: Children::Map(fields),
                },
            )
        }
    }
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Tree, D::Error> {
        Tree::deserialize(deserializer)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Tree, E> {
        Ok(Tree::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Tree, E> {
        Ok(Tree::I64(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Tree, E> {
        Ok(Tree::U64(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Tree, E> {
        i64::try_from(v)
            .map(Tree::I64)
            .or_else(|_| u64::try_from(v).map(Tree::U64))
            .or(Ok(Tree::F64(v as f64)))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Tree, E> {
        u64::try_from(v).map(Tree::U64).or(Ok(Tree::F64(v as f64)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Tree, E> {
        Ok(Tree::F64(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Tree, E> {
        Ok(Tree::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Tree, E> {
        Ok(Tree::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Tree::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Tree::Map(entries))
    }
}
