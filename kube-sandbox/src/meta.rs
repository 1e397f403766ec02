//! Object metadata the server owns: uids, timestamps, names, `generateName`, and reading
//! request query strings the way kube-apiserver does (empty pairs ignored, `%` and `+`
//! decoded).

use std::collections::BTreeMap;

use serde_json::Value;

/// A random (version 4) UUID.
pub fn uid() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No entropy source: unique within this process is what matters here.
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = n.to_le_bytes();
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Now, as Kubernetes writes `metadata` times: RFC 3339, whole seconds, UTC.
pub fn now() -> String {
    timestamp(jiff::Timestamp::now())
}

/// `at`, as Kubernetes writes `metadata` times.
pub fn timestamp(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

const GENERATE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A name from `generateName`: the base cut to 58 characters, then 5 random ones.
pub fn generated_name(base: &str) -> String {
    let mut bytes = [0u8; 5];
    let _ = getrandom::fill(&mut bytes);
    let suffix: String = bytes
        .iter()
        .map(|b| char::from(GENERATE_ALPHABET[usize::from(*b) % GENERATE_ALPHABET.len()]))
        .collect();
    let base: String = base.chars().take(58).collect();
    format!("{base}{suffix}")
}

/// Why `name` is not a DNS-1123 subdomain (lower-case alphanumerics, `-` and `.`, starting
/// and ending alphanumeric, at most 253 characters); `None` when it is.
pub fn subdomain_error(name: &str) -> Option<String> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.len() > 253 {
        return Some(format!(
            "Invalid value: {name:?}: must be no more than 253 characters"
        ));
    }
    if name.split('.').all(label_ok) {
        return None;
    }
    Some(format!(
        "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    ))
}

/// Why `name` is not a DNS-1123 label (what namespace names must be); `None` when it is.
pub fn label_error(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    (!ok).then(|| {
        format!(
            "Invalid value: {name:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        )
    })
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes a query component (`+` is a space).
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A request's query parameters; empty pairs (kube-rs sends `?&watch=true`) are skipped,
/// and a repeated parameter keeps its first value.
pub fn query(text: Option<&str>) -> BTreeMap<String, String> {
    let mut params = BTreeMap::new();
    for pair in text
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        params.entry(decode(k)).or_insert_with(|| decode(v));
    }
    params
}

/// A boolean query parameter (`true`/`1`).
pub fn flag(params: &BTreeMap<String, String>, name: &str) -> bool {
    params.get(name).is_some_and(|v| v == "true" || v == "1")
}

/// `metadata.<field>` as text.
pub fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object.get("metadata")?.get(field)?.as_str()
}

/// The string field `key` of `value`; `""` when absent or not a string.
pub fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// An object's `metadata.finalizers`.
pub fn finalizers(object: &Value) -> Vec<String> {
    strings_at(object, "/metadata/finalizers")
}

/// The strings of the array at JSON pointer `pointer` (empty when absent).
pub fn strings_at(value: &Value, pointer: &str) -> Vec<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_version_4_and_distinct() {
        let (a, b) = (uid(), uid());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }

    #[test]
    fn queries_skip_empty_pairs_and_decode() {
        let q = query(Some("&watch=true&labelSelector=app%3Dweb%2Ctier+in+(a)&&x"));
        assert_eq!(q["watch"], "true");
        assert_eq!(q["labelSelector"], "app=web,tier in (a)");
        assert_eq!(q["x"], "");
        assert!(query(Some("")).is_empty());
        assert_eq!(decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn names_follow_the_dns_rules() {
        assert!(subdomain_error("a.b-c").is_none());
        assert!(subdomain_error("Foo").is_some());
        assert!(subdomain_error("-a").is_some());
        assert!(label_error("kube-system").is_none());
        assert!(label_error("a.b").is_some());
        let name = generated_name("web-");
        assert!(name.starts_with("web-") && name.len() == 9);
        assert_eq!(
            timestamp(jiff::Timestamp::UNIX_EPOCH),
            "1970-01-01T00:00:00Z"
        );
    }
}
