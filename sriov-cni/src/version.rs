//! CNI versions: which ones this plugin speaks and how a configuration picks one.

use crate::error::{CniError, Result, code};

/// Every version this plugin accepts, oldest first.
pub const SUPPORTED: [&str; 7] = [
    "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0",
];

/// The newest supported version.
pub const CURRENT: &str = "1.1.0";

/// The version a configuration asks for: its `cniVersion`, `0.1.0` when absent (as the
/// reference library treats it), an error (code 1) when unsupported.
pub fn negotiate(requested: Option<&str>) -> Result<&'static str> {
    let requested = requested.unwrap_or("0.1.0");
    SUPPORTED
        .iter()
        .find(|v| **v == requested)
        .copied()
        .ok_or_else(|| {
            CniError::new(code::INCOMPATIBLE_VERSION, "incompatible CNI versions").details(format!(
                "config is {requested:?}, plugin supports {SUPPORTED:?}"
            ))
        })
}

/// `(major, minor, patch)` of a supported version.
pub fn parts(version: &str) -> (u32, u32, u32) {
    let mut it = version.split('.').map(|p| p.parse().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

/// Whether `version` is at least `min`.
pub fn at_least(version: &str, min: &str) -> bool {
    parts(version) >= parts(min)
}

/// What the binary prints (on stderr, exit 0) when run without `CNI_COMMAND`, as the
/// reference plugin framework does: its name and version, and the CNI versions it speaks.
pub fn about() -> String {
    format!(
        "CNI sriov plugin v{} (sriov-rs)\nCNI protocol versions supported: {}",
        env!("CARGO_PKG_VERSION"),
        SUPPORTED.join(", ")
    )
}

/// The VERSION answer.
pub fn version_info(requested: Option<&str>) -> String {
    let version = requested
        .and_then(|r| SUPPORTED.iter().find(|v| **v == r).copied())
        .unwrap_or(CURRENT);
    serde_json::json!({"cniVersion": version, "supportedVersions": SUPPORTED}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_matched_exactly_and_errors_list_what_is_supported() {
        assert_eq!(negotiate(Some("0.3.1")).unwrap(), "0.3.1");
        assert_eq!(negotiate(None).unwrap(), "0.1.0");
        let err = negotiate(Some("2.0.0")).unwrap_err();
        assert_eq!(err.code, 1);
        assert!(
            err.details
                .starts_with("config is \"2.0.0\", plugin supports [\"0.1.0\"")
        );
        assert!(at_least("1.1.0", "0.4.0") && !at_least("0.3.1", "0.4.0"));
        assert_eq!(
            version_info(Some("1.0.0")),
            r#"{"cniVersion":"1.0.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}"#
        );
    }
}
