//! CRD schemas enforced as kube-apiserver enforces them: unknown fields pruned (reported, so
//! `fieldValidation` can refuse or warn), `default`s applied, and the object validated with
//! the `jsonschema` crate (types, enums, bounds, patterns, lengths, required fields), each
//! failure a cause naming its field.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::status::Cause;

/// A compiled CRD schema, shared by every request for its resource.
#[derive(Clone)]
pub struct Compiled(pub Arc<jsonschema::Validator>);

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Compiled(..)")
    }
}

impl PartialEq for Compiled {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Compiled {}

/// The OpenAPI v3 schema as JSON Schema (draft 4): `nullable` becomes a `null` type, and
/// `x-kubernetes-int-or-string` an integer-or-string choice.
fn to_json_schema(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let mut out: Map<String, Value> = Map::new();
    for (key, value) in map {
        let converted = match key.as_str() {
            "properties" | "patternProperties" | "definitions" => Value::Object(
                value
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), to_json_schema(v)))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            "items" | "additionalProperties" | "not" if value.is_object() => to_json_schema(value),
            "allOf" | "anyOf" | "oneOf" => Value::Array(
                value
                    .as_array()
                    .map(|a| a.iter().map(to_json_schema).collect())
                    .unwrap_or_default(),
            ),
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    if out.get("x-kubernetes-int-or-string") == Some(&json!(true)) {
        out.remove("type");
        if !out.contains_key("anyOf") {
            out.insert(
                "anyOf".into(),
                json!([{"type": "integer"}, {"type": "string"}]),
            );
        }
    }
    if out.get("nullable") == Some(&json!(true))
        && let Some(Value::String(kind)) = out.get("type").cloned()
    {
        out.insert("type".into(), json!([kind, "null"]));
    }
    Value::Object(out)
}

/// Compiles a CRD version's schema; the error is the reason it cannot be used.
pub fn compile(schema: &Value) -> Result<Compiled, String> {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(&to_json_schema(schema))
        .map(|v| Compiled(Arc::new(v)))
        .map_err(|e| e.to_string())
}

fn dotted(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Removes what the schema does not declare, returning the paths removed (`spec.foo`).
/// `apiVersion`, `kind` and `metadata` of the object itself are always kept.
pub fn prune(object: &mut Value, schema: &Value) -> Vec<String> {
    let mut removed = Vec::new();
    prune_at(object, schema, "", true, &mut removed);
    removed.sort();
    removed
}

fn prune_at(value: &mut Value, schema: &Value, path: &str, root: bool, removed: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let preserve = schema.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                if root && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                let child_path = dotted(path, &key);
                let child_schema = properties
                    .and_then(|p| p.get(&key))
                    .or_else(|| additional.filter(|a| a.is_object()));
                match child_schema {
                    Some(child_schema) => {
                        if let Some(child) = map.get_mut(&key) {
                            prune_at(child, child_schema, &child_path, false, removed);
                        }
                    }
                    None if preserve || additional == Some(&json!(true)) => {}
                    None => {
                        map.remove(&key);
                        removed.push(child_path);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    prune_at(item, item_schema, &format!("{path}[{i}]"), false, removed);
                }
            }
        }
        _ => {}
    }
}

/// Fills in the `default` of every declared field that is absent.
pub fn apply_defaults(value: &mut Value, schema: &Value) {
    match value {
        Value::Object(map) => {
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (key, child_schema) in properties {
                    if !map.contains_key(key)
                        && let Some(default) = child_schema.get("default")
                    {
                        map.insert(key.clone(), default.clone());
                    }
                    if let Some(child) = map.get_mut(key) {
                        apply_defaults(child, child_schema);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    apply_defaults(item, item_schema);
                }
            }
        }
        _ => {}
    }
}

fn field_of(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.split('/').filter(|p| !p.is_empty()) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if part.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&part);
        }
    }
    out
}

/// The causes of `object`'s violations, as kube-apiserver words them.
pub fn validate(compiled: &Compiled, object: &Value) -> Vec<Cause> {
    use jsonschema::error::ValidationErrorKind as K;
    let mut causes = Vec::new();
    for error in compiled.0.iter_errors(object) {
        let mut field = field_of(error.instance_path().as_str());
        let value = error.instance().clone().into_owned();
        let (reason, message) = match error.kind() {
            K::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                field = dotted(&field, name);
                ("FieldValueRequired", "Required value".to_owned())
            }
            K::Enum { options } => {
                let supported: Vec<String> = options
                    .as_array()
                    .map(|o| o.iter().map(Value::to_string).collect())
                    .unwrap_or_default();
                (
                    "FieldValueNotSupported",
                    format!(
                        "Unsupported value: {value}: supported values: {}",
                        supported.join(", ")
                    ),
                )
            }
            K::Type { .. } => (
                "FieldValueTypeInvalid",
                format!(
                    "Invalid value: {value}: {field} in body must be of type {}: {value}",
                    expected_type(&error.to_string())
                ),
            ),
            K::MaxLength { limit } => (
                "FieldValueTooLong",
                format!("Too long: may not be more than {limit} bytes"),
            ),
            K::Minimum { limit }
            | K::Maximum { limit }
            | K::ExclusiveMinimum { limit }
            | K::ExclusiveMaximum { limit } => {
                let bound = match error.kind() {
                    K::Minimum { .. } => "greater than or equal to",
                    K::Maximum { .. } => "less than or equal to",
                    K::ExclusiveMinimum { .. } => "greater than",
                    _ => "less than",
                };
                (
                    "FieldValueInvalid",
                    format!(
                        "Invalid value: {}: {field} in body should be {bound} {}",
                        number(&value),
                        number(limit)
                    ),
                )
            }
            K::MinLength { limit } => (
                "FieldValueInvalid",
                format!(
                    "Invalid value: {value}: {field} in body should be at least {limit} chars long"
                ),
            ),
            K::MinItems { limit } => (
                "FieldValueInvalid",
                format!(
                    "Invalid value: {value}: {field} in body should have at least {limit} items"
                ),
            ),
            K::MaxItems { limit } => (
                "FieldValueTooMany",
                format!("Too many: must have at most {limit} items"),
            ),
            K::Pattern { pattern } => (
                "FieldValueInvalid",
                format!("Invalid value: {value}: {field} in body should match '{pattern}'"),
            ),
            _ => (
                "FieldValueInvalid",
                format!("Invalid value: {value}: {field} in body {error}"),
            ),
        };
        causes.push(Cause {
            reason: reason.to_owned(),
            message,
            field,
        });
    }
    causes
}

/// A number as Kubernetes prints it: whole numbers without a fraction (`0`, not `0.0`).
fn number(value: &Value) -> String {
    match value.as_f64() {
        Some(f) if value.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        _ => value.to_string(),
    }
}

/// The type an error message says was expected (`... is not of type "integer"`).
fn expected_type(message: &str) -> String {
    message
        .rsplit("of type")
        .next()
        .map(|t| t.trim().trim_matches('"').replace('"', ""))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "spec": {"type": "object", "required": ["size"], "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
                "name": {"type": "string", "nullable": true, "maxLength": 3},
                "port": {"x-kubernetes-int-or-string": true},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
            }}
        }})
    }

    #[test]
    fn unknown_fields_are_pruned_and_reported_defaults_filled() {
        let mut object = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"},
            "spec": {"size": 2, "typo": 1, "free": {"anything": [1]}}, "extra": true});
        let removed = prune(&mut object, &schema());
        assert_eq!(removed, ["extra", "spec.typo"]);
        apply_defaults(&mut object, &schema());
        assert_eq!(object["spec"]["mode"], "a");
        assert_eq!(object["spec"]["free"]["anything"], json!([1]));
        assert_eq!(object["metadata"]["name"], "a");
    }

    #[test]
    fn violations_name_their_fields_in_kubernetes_words() {
        let compiled = compile(&schema()).unwrap();
        let check = |spec: Value| {
            validate(&compiled, &json!({"spec": spec}))
                .into_iter()
                .map(|c| format!("{}: {}", c.field, c.message))
                .collect::<Vec<_>>()
        };
        assert!(check(json!({"size": 3, "name": null, "port": "http"})).is_empty());
        assert!(check(json!({"size": 3, "port": 8080})).is_empty());
        assert_eq!(
            check(json!({"size": "x"})),
            ["spec.size: Invalid value: \"x\": spec.size in body must be of type integer: \"x\""]
        );
        assert_eq!(check(json!({})), ["spec.size: Required value"]);
        assert_eq!(
            check(json!({"size": 1, "mode": "c"})),
            ["spec.mode: Unsupported value: \"c\": supported values: \"a\", \"b\""]
        );
        assert_eq!(
            check(json!({"size": 1, "name": "long"})),
            ["spec.name: Too long: may not be more than 3 bytes"]
        );
        assert_eq!(
            check(json!({"size": 11})),
            ["spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10"]
        );
        let floats = compile(
            &json!({"type": "object", "properties": {"n": {"type": "integer", "minimum": 0.0}}}),
        )
        .unwrap();
        let causes = validate(&floats, &json!({"n": -1}));
        assert_eq!(
            causes[0].message,
            "Invalid value: -1: n in body should be greater than or equal to 0"
        );
    }
}
