//! Label and field selectors, as list and watch filter with them.
//!
//! Labels: `k=v`, `k==v`, `k!=v` (matches objects without `k`), `k in (a,b)`, `k notin (a,b)`
//! (matches objects without `k`), `k` (exists), `!k` (does not exist), `k>5`, `k<5`;
//! requirements separated by commas all hold. Fields: `f=v`, `f==v`, `f!=v`, with `\`
//! escaping `,`, `=` and `\`; which fields a resource supports is the caller's table.

use std::collections::BTreeMap;

use serde_json::Value;

/// One label requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
    GreaterThan(String, i64),
    LessThan(String, i64),
}

/// A parsed label selector; the empty one matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<Requirement>);

/// Splits on commas that are not inside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn valid_key(key: &str) -> bool {
    let name = key.rsplit_once('/').map_or(key, |(_, n)| n);
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && key.rsplit_once('/').is_none_or(|(prefix, _)| {
            !prefix.is_empty()
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
        })
}

fn valid_value(value: &str) -> bool {
    value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn set_values(text: &str) -> Option<Vec<String>> {
    let inner = text.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|v| v.trim().to_owned()).collect())
}

fn bad(text: &str, why: &str) -> String {
    format!("unable to parse requirement: {why} in {text:?}")
}

impl LabelSelector {
    /// Parses a `labelSelector` query value; the error is the message of the 400 answer.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        if text.trim().is_empty() {
            return Ok(Self(requirements));
        }
        for part in split_top_level(text) {
            let part = part.trim();
            let key_of = |k: &str| -> Result<String, String> {
                let k = k.trim();
                if valid_key(k) {
                    Ok(k.to_owned())
                } else {
                    Err(bad(part, &format!("invalid label key {k:?}")))
                }
            };
            let value_of = |v: &str| -> Result<String, String> {
                let v = v.trim();
                if valid_value(v) {
                    Ok(v.to_owned())
                } else {
                    Err(bad(part, &format!("invalid label value {v:?}")))
                }
            };
            let requirement = if let Some(key) = part.strip_prefix('!') {
                Requirement::NotExists(key_of(key)?)
            } else if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotEquals(key_of(k)?, value_of(v)?)
            } else if let Some((k, v)) = part.split_once("==") {
                Requirement::Equals(key_of(k)?, value_of(v)?)
            } else if let Some((k, v)) = part.split_once('=') {
                Requirement::Equals(key_of(k)?, value_of(v)?)
            } else if let Some((k, v)) = part.split_once(" notin ") {
                let values = set_values(v).ok_or_else(|| bad(part, "expected a (set)"))?;
                Requirement::NotIn(
                    key_of(k)?,
                    values
                        .iter()
                        .map(|v| value_of(v))
                        .collect::<Result<_, _>>()?,
                )
            } else if let Some((k, v)) = part.split_once(" in ") {
                let values = set_values(v).ok_or_else(|| bad(part, "expected a (set)"))?;
                Requirement::In(
                    key_of(k)?,
                    values
                        .iter()
                        .map(|v| value_of(v))
                        .collect::<Result<_, _>>()?,
                )
            } else if let Some((k, v)) = part.split_once('>') {
                let n = v
                    .trim()
                    .parse()
                    .map_err(|_| bad(part, "expected an integer"))?;
                Requirement::GreaterThan(key_of(k)?, n)
            } else if let Some((k, v)) = part.split_once('<') {
                let n = v
                    .trim()
                    .parse()
                    .map_err(|_| bad(part, "expected an integer"))?;
                Requirement::LessThan(key_of(k)?, n)
            } else {
                Requirement::Exists(key_of(part)?)
            };
            requirements.push(requirement);
        }
        Ok(Self(requirements))
    }

    /// Whether labels `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::NotExists(k) => !labels.contains_key(k),
            Requirement::GreaterThan(k, n) => labels
                .get(k)
                .and_then(|l| l.parse::<i64>().ok())
                .is_some_and(|l| l > *n),
            Requirement::LessThan(k, n) => labels
                .get(k)
                .and_then(|l| l.parse::<i64>().ok())
                .is_some_and(|l| l < *n),
        })
    }

    /// Whether `object`'s `metadata.labels` satisfy it.
    pub fn matches_object(&self, object: &Value) -> bool {
        if self.0.is_empty() {
            return true;
        }
        self.matches(&labels_of(object))
    }
}

/// An object's `metadata.labels`.
pub fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// A parsed field selector: `(field, value, equal)` requirements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<(String, String, bool)>);

/// Splits on `sep` outside `\` escapes, unescaping the parts.
fn split_escaped(text: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(last)) = (chars.next(), parts.last_mut()) {
                    if next != sep {
                        last.push('\\');
                    }
                    last.push(next);
                }
            }
            c if c == sep => parts.push(String::new()),
            c => {
                if let Some(last) = parts.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    parts
}

impl FieldSelector {
    /// Parses a `fieldSelector` query value, accepting only the fields in `supported`; the
    /// error is the message of the 400 answer.
    pub fn parse(text: &str, supported: &[&str]) -> Result<Self, String> {
        let mut requirements = Vec::new();
        if text.trim().is_empty() {
            return Ok(Self(requirements));
        }
        for part in split_escaped(text, ',') {
            let (field, value, equal) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, v, true)
            } else {
                return Err(format!(
                    "invalid selector: '{text}'; can't understand '{part}'"
                ));
            };
            let field = field.trim();
            let field = if field == "spec.host" {
                "spec.nodeName"
            } else {
                field
            };
            if !supported.contains(&field) {
                return Err(format!("field label not supported: {field}"));
            }
            requirements.push((field.to_owned(), value.replace("\\\\", "\\"), equal));
        }
        Ok(Self(requirements))
    }

    /// The same requirements on the fields `storage` names (a view's field labels read on
    /// the stored objects).
    pub fn on_storage(self, storage: impl Fn(&str) -> &str) -> Self {
        Self(
            self.0
                .into_iter()
                .map(|(field, value, equal)| (storage(&field).to_owned(), value, equal))
                .collect(),
        )
    }

    /// Whether `object` satisfies every requirement (a missing field reads as `""`).
    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(field, value, equal)| {
            let pointer = format!("/{}", field.replace('.', "/"));
            let actual = match object.pointer(&pointer) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            (actual == *value) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn every_label_operator_means_what_kubernetes_means() {
        let l = labels(&[("app", "web"), ("tier", "front"), ("n", "7")]);
        for (selector, expected) in [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("missing!=x", true),
            ("app in (web,db)", true),
            ("app notin (web)", false),
            ("missing notin (x)", true),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("n>5", true),
            ("n<5", false),
            ("app=web,tier in (front, back)", true),
            ("app=web,tier=back", false),
            ("example.com/role", false),
        ] {
            let parsed = LabelSelector::parse(selector).expect(selector);
            assert_eq!(parsed.matches(&l), expected, "{selector}");
        }
    }

    #[test]
    fn malformed_label_selectors_are_refused() {
        for bad in ["app=we b", "a b c", "n>x", "k in web", "/x=y"] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn field_selectors_match_paths_and_refuse_unsupported_fields() {
        let pod = json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1"}});
        let supported = ["metadata.name", "metadata.namespace", "spec.nodeName"];
        let s = FieldSelector::parse("spec.nodeName=n1,metadata.name!=q", &supported).unwrap();
        assert!(s.matches(&pod));
        let host = FieldSelector::parse("spec.host=n2", &supported).unwrap();
        assert!(!host.matches(&pod));
        assert_eq!(
            FieldSelector::parse("status.phase=Running", &supported).unwrap_err(),
            "field label not supported: status.phase"
        );
        assert!(FieldSelector::parse("nonsense", &supported).is_err());
        let escaped = FieldSelector::parse(r"metadata.name=a\,b", &supported).unwrap();
        assert!(escaped.matches(&json!({"metadata": {"name": "a,b"}})));
    }
}
