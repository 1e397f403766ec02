//! Checking a JSON value against a CRD's structural OpenAPI v3 schema, the way the API server
//! checks a custom resource before storing it.
//!
//! The point is to report what the API server would refuse *before* anything else looks
//! at the object: `numVfs: -1` is "spec.numVfs: -1 is less than the minimum 0", not a
//! confusing policy-level message further down. Every violation is collected (not only
//! the first), each with the path of the field.
//!
//! Semantics follow structural schemas:
//! - `null` in a field that is not `nullable` counts as absent (the API server prunes it);
//! - fields the schema does not list are not errors here (the API server prunes them;
//!   [`crate::manifest`] reports them as unknown fields), unless `additionalProperties`
//!   gives a schema for them, which they must then match;
//! - checked keywords: `type` (with `x-kubernetes-int-or-string`), `properties`,
//!   `additionalProperties`, `items`, `required`, `enum`, `minimum`/`maximum` (and their
//!   `exclusive` flags), `minLength`/`maxLength` (in characters), `pattern`,
//!   `minItems`/`maxItems`, `minProperties`/`maxProperties`,
//!   `x-kubernetes-preserve-unknown-fields`. Not checked: `format`, the `allOf`/`anyOf`/
//!   `oneOf`/`not` combinators and CEL rules, none of which our CRDs use.

use std::fmt;

use serde_json::{Map, Value};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSegment {
    /// A field of an object.
    Key(String),
    /// An element of a list.
    Index(usize),
}

/// A field path such as `spec.nicSelector.pfNames[0]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldPath(pub Vec<PathSegment>);

impl fmt::Display for FieldPath {
    /// `spec.pfNames[0]`; `.` for the whole object.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str(".");
        }
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                PathSegment::Key(key) if i == 0 => f.write_str(key)?,
                PathSegment::Key(key) => write!(f, ".{key}")?,
                PathSegment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A value the schema does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where the offending value is.
    pub path: FieldPath,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Checks `value` against `schema` (an `openAPIV3Schema` as JSON) and returns every
/// violation, in document order; empty when the value is allowed.
pub fn check(schema: &Value, value: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut path = Vec::new();
    walk(schema, value, &mut path, &mut out);
    out
}

fn walk(schema: &Value, value: &Value, path: &mut Vec<PathSegment>, out: &mut Vec<Violation>) {
    let mut fail = |message: String, path: &[PathSegment]| {
        out.push(Violation {
            path: FieldPath(path.to_vec()),
            message,
        });
    };
    let int_or_string = flag(schema, "x-kubernetes-int-or-string");
    if int_or_string {
        if !(value.is_string() || is_integer(value)) {
            fail(
                format!("expected an integer or a string, got {}", describe(value)),
                path,
            );
            return;
        }
    } else if let Some(expected) = schema.get("type").and_then(Value::as_str)
        && !has_type(value, expected)
    {
        fail(
            format!("expected {}, got {}", article(expected), describe(value)),
            path,
        );
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let names: Vec<String> = allowed.iter().map(short).collect();
        fail(
            format!("{} is not one of {}", short(value), names.join(", ")),
            path,
        );
    }
    match value {
        Value::Number(n) => {
            if let Some(message) = number_bounds(schema, n) {
                fail(message, path);
            }
        }
        Value::String(s) => {
            let length = s.chars().count();
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
                && (length as u64) < min
            {
                fail(format!("{s:?} is shorter than {min} character(s)"), path);
            }
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
                && length as u64 > max
            {
                fail(
                    format!("is {length} characters long, more than the maximum {max}"),
                    path,
                );
            }
            if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
                // An uncompilable pattern is a defect of the schema, not of the value; our
                // CRDs' patterns are compiled by a test.
                if regex_lite::Regex::new(pattern).is_ok_and(|re| !re.is_match(s)) {
                    fail(format!("{s:?} does not match {pattern}"), path);
                }
            }
        }
        Value::Array(items) => {
            let count = items.len() as u64;
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
                && count < min
            {
                fail(format!("has {count} item(s), fewer than {min}"), path);
            }
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
                && count > max
            {
                fail(format!("has {count} item(s), more than {max}"), path);
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    if item.is_null() && !flag(item_schema, "nullable") {
                        continue;
                    }
                    path.push(PathSegment::Index(i));
                    walk(item_schema, item, path, out);
                    path.pop();
                }
            }
        }
        Value::Object(fields) => object(schema, fields, path, out),
        Value::Null | Value::Bool(_) => {}
    }
}

fn object(
    schema: &Value,
    fields: &Map<String, Value>,
    path: &mut Vec<PathSegment>,
    out: &mut Vec<Violation>,
) {
    let present = |name: &str| fields.get(name).is_some_and(|v| !v.is_null());
    let count = fields.values().filter(|v| !v.is_null()).count() as u64;
    let mut fail = |message: String, path: &[PathSegment]| {
        out.push(Violation {
            path: FieldPath(path.to_vec()),
            message,
        });
    };
    if let Some(min) = schema.get("minProperties").and_then(Value::as_u64)
        && count < min
    {
        fail(format!("has {count} field(s), fewer than {min}"), path);
    }
    if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
        && count > max
    {
        fail(format!("has {count} field(s), more than {max}"), path);
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !present(name) {
                path.push(PathSegment::Key(name.to_owned()));
                fail("required field is missing".to_owned(), path);
                path.pop();
            }
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|s| s.is_object());
    for (name, field) in fields {
        let field_schema = properties.and_then(|p| p.get(name)).or(additional);
        let Some(field_schema) = field_schema else {
            continue;
        };
        if field.is_null() && !flag(field_schema, "nullable") {
            continue;
        }
        path.push(PathSegment::Key(name.clone()));
        walk(field_schema, field, path, out);
        path.pop();
    }
}

fn number_bounds(schema: &Value, n: &serde_json::Number) -> Option<String> {
    let value = n.as_f64()?;
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
        let exclusive = flag(schema, "exclusiveMinimum");
        if value < min || (exclusive && value == min) {
            let bound = if exclusive { "more than" } else { "at least" };
            return Some(format!(
                "{n} is less than the minimum: must be {bound} {}",
                num(min)
            ));
        }
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
        let exclusive = flag(schema, "exclusiveMaximum");
        if value > max || (exclusive && value == max) {
            let bound = if exclusive { "less than" } else { "at most" };
            return Some(format!(
                "{n} is more than the maximum: must be {bound} {}",
                num(max)
            ));
        }
    }
    None
}

/// A bound as people write it: `0`, not `0.0`.
fn num(bound: f64) -> String {
    if bound.fract() == 0.0 && bound.abs() < 1e15 {
        format!("{}", bound as i64)
    } else {
        bound.to_string()
    }
}

fn flag(schema: &Value, name: &str) -> bool {
    schema.get(name).and_then(Value::as_bool).unwrap_or(false)
}

fn is_integer(value: &Value) -> bool {
    match value {
        Value::Number(n) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

fn has_type(value: &Value, expected: &str) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => is_integer(value),
        "number" => value.is_number(),
        // An unknown type name is a defect of the schema; do not blame the value.
        _ => true,
    }
}

fn article(type_name: &str) -> String {
    match type_name {
        "object" | "array" | "integer" => format!("an {type_name}"),
        "boolean" | "string" | "number" => format!("a {type_name}"),
        other => other.to_owned(),
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// A value in a message: strings quoted, the rest as JSON.
fn short(value: &Value) -> String {
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(schema: Value, value: Value) -> Vec<String> {
        check(&schema, &value)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn bounds_enums_lengths_and_patterns_are_checked_with_the_path() {
        let schema = json!({"type": "object", "required": ["name"], "properties": {
            "spec": {"type": "object", "properties": {
                "numVfs": {"type": "integer", "minimum": 0.0},
                "mtu": {"type": "integer", "minimum": 1.0, "maximum": 9192.0},
                "deviceType": {"type": "string", "enum": ["netdevice", "vfio-pci"]},
                "name": {"type": "string", "maxLength": 3, "pattern": "^[a-z]+$"},
                "pfNames": {"type": "array", "maxItems": 1, "items": {"type": "string"}},
            }},
            "name": {"type": "string"},
        }});
        let value = json!({"spec": {"numVfs": -1, "mtu": 9193, "deviceType": "vfio",
            "name": "Abcd", "pfNames": ["a", 2], "unknown": -5}});
        assert_eq!(
            messages(schema, value),
            [
                "name: required field is missing",
                "spec.numVfs: -1 is less than the minimum: must be at least 0",
                "spec.mtu: 9193 is more than the maximum: must be at most 9192",
                "spec.deviceType: \"vfio\" is not one of \"netdevice\", \"vfio-pci\"",
                "spec.name: is 4 characters long, more than the maximum 3",
                "spec.name: \"Abcd\" does not match ^[a-z]+$",
                "spec.pfNames: has 2 item(s), more than 1",
                "spec.pfNames[1]: expected a string, got number 2",
            ]
        );
    }

    #[test]
    fn nulls_count_as_absent_unless_nullable() {
        let schema = json!({"type": "object", "required": ["a"], "properties": {
            "a": {"type": "string"}, "b": {"type": "integer"}, "c": {"type": "integer", "nullable": true},
        }});
        assert_eq!(
            messages(schema.clone(), json!({"a": null, "b": null})),
            ["a: required field is missing"]
        );
        assert_eq!(
            messages(schema, json!({"a": "x", "c": null})),
            ["c: expected an integer, got null"]
        );
    }

    #[test]
    fn int_or_string_and_additional_properties() {
        let schema = json!({"type": "object", "properties": {
            "maxUnavailable": {"x-kubernetes-int-or-string": true},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        }});
        assert!(messages(schema.clone(), json!({"maxUnavailable": 2})).is_empty());
        assert!(messages(schema.clone(), json!({"maxUnavailable": "50%"})).is_empty());
        assert_eq!(
            messages(
                schema,
                json!({"maxUnavailable": true, "labels": {"a": "b", "c": 1}})
            ),
            [
                "maxUnavailable: expected an integer or a string, got boolean true",
                "labels.c: expected a string, got number 1",
            ]
        );
    }

    #[test]
    fn integers_written_as_whole_floats_are_integers() {
        let schema = json!({"type": "integer"});
        assert!(messages(schema.clone(), json!(4.0)).is_empty());
        assert_eq!(
            messages(schema, json!(4.5)),
            [".: expected an integer, got number 4.5"]
        );
    }
}
