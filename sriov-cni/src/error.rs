//! CNI errors: a code from the specification (or 100+ for this plugin's own), a message and
//! details, printed as JSON on stdout with a non-zero exit.

use serde::Serialize;

/// Error codes (CNI specification 1.1.0, "Error"; 100 and up are this plugin's).
pub mod code {
    /// Incompatible CNI version.
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    /// Unsupported field in the network configuration (the message names key and value).
    pub const UNSUPPORTED_FIELD: u32 = 2;
    /// Container unknown or does not exist.
    pub const UNKNOWN_CONTAINER: u32 = 3;
    /// Invalid necessary environment variables (the message names them).
    pub const INVALID_ENVIRONMENT: u32 = 4;
    /// I/O failure.
    pub const IO: u32 = 5;
    /// Failed to decode content.
    pub const DECODE: u32 = 6;
    /// Invalid network configuration.
    pub const INVALID_CONFIG: u32 = 7;
    /// Try again later (a lock held too long, a VF still in use).
    pub const TRY_AGAIN_LATER: u32 = 11;
    /// The VF named by `deviceID` could not be resolved on this host.
    pub const VF_NOT_FOUND: u32 = 100;
    /// The VF is allocated to a live pod.
    pub const VF_BUSY: u32 = 101;
    /// Configuring the VF on its PF failed.
    pub const VF_CONFIG: u32 = 102;
    /// Moving or configuring the VF netdev in the pod failed.
    pub const POD_INTERFACE: u32 = 103;
    /// The IPAM plugin failed (its own code is kept when it reported one).
    pub const IPAM: u32 = 104;
    /// The plugin's state files could not be read or written.
    pub const STATE: u32 = 105;
    /// CHECK found the attachment different from what ADD made.
    pub const CHECK_FAILED: u32 = 106;
}

/// A CNI error result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{msg}{}", if details.is_empty() { String::new() } else { format!(": {details}") })]
pub struct CniError {
    /// Error code.
    pub code: u32,
    /// Short message.
    pub msg: String,
    /// Longer explanation (may be empty).
    pub details: String,
}

impl CniError {
    /// An error with a code and a message.
    pub fn new(code: u32, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }

    /// The same error with details.
    pub fn details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }

    /// An invalid-configuration error (code 7).
    pub fn config(msg: impl Into<String>) -> Self {
        Self::new(code::INVALID_CONFIG, msg)
    }

    /// The error JSON the specification asks for, in `version`.
    pub fn to_json(&self, version: &str) -> String {
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(rename = "cniVersion")]
            cni_version: &'a str,
            code: u32,
            msg: &'a str,
            #[serde(skip_serializing_if = "str::is_empty")]
            details: &'a str,
        }
        serde_json::to_string(&Out {
            cni_version: version,
            code: self.code,
            msg: &self.msg,
            details: &self.details,
        })
        .unwrap_or_else(|_| format!("{{\"code\":{},\"msg\":\"error\"}}", self.code))
    }
}

/// Result alias for this crate.
pub type Result<T, E = CniError> = std::result::Result<T, E>;
