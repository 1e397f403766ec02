//! The network configuration on stdin (`NetConf`), compatible with the upstream plugin:
//! the same keys (matched case-insensitively, as Go's JSON decoding does), the same
//! validation rules and messages, and the same MAC precedence (`mac` < `CNI_ARGS MAC=` <
//! `runtimeConfig.mac`). One deliberate difference: `spoofchk` and `trust` accept only `on`
//! and `off` (upstream turns any other text into `off`).

use serde_json::{Map, Value};
use sriov_core::ids::PciAddress;

use crate::error::{CniError, Result, code};
use crate::version;

/// VLAN protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VlanProto {
    /// 802.1Q (0x8100).
    Dot1q,
    /// 802.1ad, QinQ (0x88a8).
    Dot1ad,
}

impl VlanProto {
    /// The ethertype, as upstream caches it.
    pub fn ethertype(self) -> u16 {
        match self {
            Self::Dot1q => 0x8100,
            Self::Dot1ad => 0x88a8,
        }
    }

    /// As the configuration spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dot1q => "802.1q",
            Self::Dot1ad => "802.1ad",
        }
    }
}

/// The parsed configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct NetConf {
    /// The negotiated CNI version.
    pub cni_version: &'static str,
    /// Network name.
    pub name: String,
    /// Plugin type (`sriov`).
    pub plugin_type: String,
    /// VF PCI address (empty when absent; ADD requires it).
    pub device_id: String,
    /// VLAN ID; `None` leaves the VF's VLAN alone.
    pub vlan: Option<u32>,
    /// VLAN priority.
    pub vlan_qos: Option<u32>,
    /// VLAN protocol.
    pub vlan_proto: Option<VlanProto>,
    /// MAC from the configuration's `mac` key (before CNI_ARGS and runtimeConfig).
    pub mac: Option<String>,
    /// MAC from `runtimeConfig.mac`.
    pub runtime_mac: Option<String>,
    /// Spoof checking.
    pub spoofchk: Option<bool>,
    /// Trust mode.
    pub trust: Option<bool>,
    /// VF link state: `auto`, `enable` or `disable`.
    pub link_state: Option<String>,
    /// Minimum transmit rate, Mb/s.
    pub min_tx_rate: Option<u32>,
    /// Maximum transmit rate, Mb/s.
    pub max_tx_rate: Option<u32>,
    /// Log level (`panic`, `error`, `warning`, `info`, `debug`).
    pub log_level: String,
    /// Log file; stderr when `None`.
    pub log_file: Option<String>,
    /// `ipam.type`.
    pub ipam_type: Option<String>,
    /// `prevResult`.
    pub prev_result: Option<Value>,
    /// The whole object, for delegation and the cache.
    pub raw: Map<String, Value>,
}

/// A key's value: exact match first, then case-insensitive (Go's rule).
fn field<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key)
        .or_else(|| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

fn string(map: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match field(map, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(CniError::config(format!(
            "{key}: expected a string, got {other}"
        ))),
    }
}

fn number(map: &Map<String, Value>, key: &str) -> Result<Option<i64>> {
    match field(map, key) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| CniError::config(format!("{key}: expected an integer, got {n}"))),
        Some(other) => Err(CniError::config(format!(
            "{key}: expected an integer, got {other}"
        ))),
    }
}

fn on_off(map: &Map<String, Value>, key: &str) -> Result<Option<bool>> {
    match string(map, key)?.as_deref() {
        None | Some("") => Ok(None),
        Some("on") => Ok(Some(true)),
        Some("off") => Ok(Some(false)),
        Some(other) => Err(CniError::config(format!(
            "{key}: {other:?} is not \"on\" or \"off\""
        ))),
    }
}

/// Lower-cases and checks a MAC address.
pub fn normalize_mac(text: &str) -> Result<String> {
    let lower = text.to_ascii_lowercase();
    let parts: Vec<&str> = lower.split(':').collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        Ok(lower)
    } else {
        Err(CniError::config(format!(
            "failed to parse MAC address {text:?}"
        )))
    }
}

impl NetConf {
    /// Decodes stdin: JSON (code 6 otherwise), a supported `cniVersion` (code 1), a valid
    /// `name` (code 7) and every known key with its type (code 7 naming the key).
    pub fn parse(stdin: &[u8]) -> Result<Self> {
        let value: Value = serde_json::from_slice(stdin).map_err(|e| {
            CniError::new(code::DECODE, "error parsing configuration").details(e.to_string())
        })?;
        let Value::Object(raw) = value else {
            return Err(CniError::new(
                code::DECODE,
                "error parsing configuration: not a JSON object",
            ));
        };
        let cni_version = version::negotiate(string(&raw, "cniVersion")?.as_deref())?;
        let name = string(&raw, "name")?.unwrap_or_default();
        if !crate::env::valid_id(&name) {
            return Err(CniError::config(format!(
                "invalid network name {name:?}: it must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"
            )));
        }
        let unsigned = |key: &str| -> Result<Option<u32>> {
            match number(&raw, key)? {
                None => Ok(None),
                Some(n) => u32::try_from(n)
                    .map(Some)
                    .map_err(|_| CniError::config(format!("{key}: {n} is negative or too large"))),
            }
        };
        let signed_vlan = number(&raw, "vlan")?;
        let vlan = match signed_vlan {
            Some(v) if !(0..=4094).contains(&v) => {
                return Err(CniError::config(format!(
                    "vlan id {v} invalid: value must be in the range 0-4094"
                )));
            }
            other => other.and_then(|v| u32::try_from(v).ok()),
        };
        let vlan_qos = match number(&raw, "vlanQoS")? {
            Some(q) if !(0..=7).contains(&q) => {
                return Err(CniError::config(format!(
                    "vlan QoS PCP {q} invalid: value must be in the range 0-7"
                )));
            }
            other => other.and_then(|q| u32::try_from(q).ok()),
        };
        let vlan_proto = match string(&raw, "vlanProto")? {
            None => None,
            Some(p) => Some(match p.to_ascii_lowercase().as_str() {
                "802.1q" => VlanProto::Dot1q,
                "802.1ad" => VlanProto::Dot1ad,
                _ => {
                    return Err(CniError::config(format!(
                        "vlan Proto {p} invalid: value must be '802.1Q' or '802.1ad'"
                    )));
                }
            }),
        };
        let link_state = match string(&raw, "link_state")? {
            None => None,
            Some(s) if s.is_empty() => None,
            Some(s) if matches!(s.as_str(), "auto" | "enable" | "disable") => Some(s),
            Some(s) => {
                return Err(CniError::config(format!(
                    "LoadConf(): invalid link_state value: {s}"
                )));
            }
        };
        let mac = string(&raw, "mac")?
            .filter(|m| !m.is_empty())
            .map(|m| normalize_mac(&m))
            .transpose()?;
        let runtime_mac = match field(&raw, "runtimeConfig") {
            None => None,
            Some(Value::Object(rc)) => string(rc, "mac")?
                .filter(|m| !m.is_empty())
                .map(|m| normalize_mac(&m))
                .transpose()?,
            Some(other) => {
                return Err(CniError::config(format!(
                    "runtimeConfig: expected an object, got {other}"
                )));
            }
        };
        let ipam_type = match field(&raw, "ipam") {
            None => None,
            Some(Value::Object(ipam)) => string(ipam, "type")?.filter(|t| !t.is_empty()),
            Some(other) => {
                return Err(CniError::config(format!(
                    "ipam: expected an object, got {other}"
                )));
            }
        };
        let log_level = string(&raw, "logLevel")?
            .map(|l| l.to_ascii_lowercase())
            .filter(|l| matches!(l.as_str(), "panic" | "error" | "warning" | "info" | "debug"))
            .unwrap_or_else(|| "info".to_owned());
        Ok(Self {
            cni_version,
            name,
            plugin_type: string(&raw, "type")?.unwrap_or_default(),
            device_id: string(&raw, "deviceID")?.unwrap_or_default(),
            vlan,
            vlan_qos,
            vlan_proto,
            mac,
            runtime_mac,
            spoofchk: on_off(&raw, "spoofchk")?,
            trust: on_off(&raw, "trust")?,
            link_state,
            min_tx_rate: unsigned("min_tx_rate")?,
            max_tx_rate: unsigned("max_tx_rate")?,
            log_level,
            log_file: string(&raw, "logFile")?.filter(|f| !f.is_empty()),
            ipam_type,
            prev_result: field(&raw, "prevResult").cloned(),
            raw,
        })
    }

    /// The checks ADD makes beyond decoding (upstream's LoadConf order and messages).
    pub fn validate_for_add(&self) -> Result<PciAddress> {
        if self.device_id.is_empty() {
            return Err(
                CniError::config("LoadConf(): VF pci addr is required").details(
                    "deviceID is missing: the NetworkAttachmentDefinition needs the \
                 k8s.v1.cni.cncf.io/resourceName annotation and the pod must request that \
                 resource, so that Multus passes the allocated VF",
                ),
            );
        }
        let address: PciAddress = self.device_id.parse().map_err(|e| {
            CniError::config(format!(
                "deviceID {:?} is not a PCI address: {e}",
                self.device_id
            ))
        })?;
        if self.vlan.is_none() {
            if self.vlan_qos.is_some() {
                return Err(CniError::config(
                    "vlan id must be configured to set vlan QoS to a non-nil value",
                ));
            }
            if self.vlan_proto.is_some() {
                return Err(CniError::config(
                    "vlan id must be configured to set vlan proto to a non-nil value",
                ));
            }
        }
        if self.vlan == Some(0) {
            if self.vlan_qos.unwrap_or(0) != 0 {
                return Err(CniError::config(
                    "non-zero vlan id must be configured to set vlan QoS to a non-zero value",
                ));
            }
            if self.vlan_proto == Some(VlanProto::Dot1ad) {
                return Err(CniError::config(
                    "non-zero vlan id must be configured to set vlan proto 802.1ad",
                ));
            }
        }
        Ok(address)
    }

    /// The MAC to give the VF: `mac` < `CNI_ARGS MAC=` < `runtimeConfig.mac`, lower-cased.
    /// `CNI_ARGS` keys other than `MAC` are refused unless `IgnoreUnknown` is `1`/`true`.
    pub fn effective_mac(&self, args: &[(String, String)]) -> Result<Option<String>> {
        let ignore_unknown = args
            .iter()
            .any(|(k, v)| k == "IgnoreUnknown" && (v == "1" || v.eq_ignore_ascii_case("true")));
        let unknown: Vec<&str> = args
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| *k != "MAC" && *k != "IgnoreUnknown")
            .collect();
        if !unknown.is_empty() && !ignore_unknown {
            let pairs: Vec<String> = args
                .iter()
                .filter(|(k, _)| unknown.contains(&k.as_str()))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            return Err(CniError::new(
                code::UNSUPPORTED_FIELD,
                format!("SRIOV-CNI failed to parse args: ARGS: unknown args {unknown:?}"),
            )
            .details(format!(
                "CNI_ARGS {}: only MAC is understood; add IgnoreUnknown=1 to pass others",
                pairs.join(";")
            )));
        }
        let from_args = args
            .iter()
            .find(|(k, _)| k == "MAC")
            .map(|(_, v)| normalize_mac(v))
            .transpose()?;
        Ok(self
            .runtime_mac
            .clone()
            .or(from_args)
            .or_else(|| self.mac.clone()))
    }

    /// Whether any PF-side VF setting is configured (`mac`: the MAC to set as the VF's
    /// administrative MAC, if any).
    pub fn wants_pf_settings(&self, mac: Option<&str>) -> bool {
        self.vlan.is_some()
            || mac.is_some()
            || self.spoofchk.is_some()
            || self.trust.is_some()
            || self.link_state.is_some()
            || self.min_tx_rate.is_some()
            || self.max_tx_rate.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<NetConf> {
        NetConf::parse(json.as_bytes())
    }

    #[test]
    fn keys_match_case_insensitively_and_defaults_hold() {
        let conf = parse(
            r#"{"cniVersion":"1.0.0","name":"sriov-net","type":"sriov","DeviceId":"0000:af:06.0",
                "VLAN":100,"vlanqos":3,"vlanProto":"802.1AD","MAC":"02:AA:BB:CC:DD:EE",
                "spoofchk":"off","trust":"on","link_state":"enable","min_tx_rate":100,
                "max_tx_rate":1000,"logLevel":"DEBUG","ipam":{"type":"host-local"}}"#,
        )
        .unwrap();
        assert_eq!(conf.device_id, "0000:af:06.0");
        assert_eq!((conf.vlan, conf.vlan_qos), (Some(100), Some(3)));
        assert_eq!(conf.vlan_proto, Some(VlanProto::Dot1ad));
        assert_eq!(conf.mac.as_deref(), Some("02:aa:bb:cc:dd:ee"));
        assert_eq!((conf.spoofchk, conf.trust), (Some(false), Some(true)));
        assert_eq!(conf.log_level, "debug");
        assert_eq!(conf.ipam_type.as_deref(), Some("host-local"));
        assert!(conf.validate_for_add().is_ok());
    }

    #[test]
    fn mac_precedence_is_config_then_cni_args_then_runtime_config() {
        let conf = parse(r#"{"cniVersion":"1.0.0","name":"n","mac":"02:00:00:00:00:01"}"#).unwrap();
        assert_eq!(
            conf.effective_mac(&[]).unwrap().as_deref(),
            Some("02:00:00:00:00:01")
        );
        let args = vec![
            ("IgnoreUnknown".to_owned(), "true".to_owned()),
            ("K8S_POD_NAME".to_owned(), "p".to_owned()),
            ("MAC".to_owned(), "02:00:00:00:00:02".to_owned()),
        ];
        assert_eq!(
            conf.effective_mac(&args).unwrap().as_deref(),
            Some("02:00:00:00:00:02")
        );
        let conf = parse(
            r#"{"cniVersion":"1.0.0","name":"n","mac":"02:00:00:00:00:01","runtimeConfig":{"mac":"02:00:00:00:00:03"}}"#,
        )
        .unwrap();
        assert_eq!(
            conf.effective_mac(&args).unwrap().as_deref(),
            Some("02:00:00:00:00:03")
        );
        let err = conf
            .effective_mac(&[("K8S_POD_NAME".to_owned(), "p".to_owned())])
            .unwrap_err();
        assert_eq!(
            err.msg,
            "SRIOV-CNI failed to parse args: ARGS: unknown args [\"K8S_POD_NAME\"]"
        );
        assert_eq!(err.code, 2);
        assert!(err.details.contains("K8S_POD_NAME=p"), "{}", err.details);
    }

    #[test]
    fn bad_configurations_get_upstreams_messages() {
        let base = r#""cniVersion":"1.0.0","name":"n","deviceID":"0000:af:06.0""#;
        let cases = [
            (
                r#""vlan":5000"#,
                "vlan id 5000 invalid: value must be in the range 0-4094",
            ),
            (
                r#""vlan":-1"#,
                "vlan id -1 invalid: value must be in the range 0-4094",
            ),
            (
                r#""vlan":1,"vlanQoS":8"#,
                "vlan QoS PCP 8 invalid: value must be in the range 0-7",
            ),
            (
                r#""vlanQoS":1"#,
                "vlan id must be configured to set vlan QoS to a non-nil value",
            ),
            (
                r#""vlanProto":"802.1q""#,
                "vlan id must be configured to set vlan proto to a non-nil value",
            ),
            (
                r#""vlan":0,"vlanQoS":2"#,
                "non-zero vlan id must be configured to set vlan QoS to a non-zero value",
            ),
            (
                r#""vlan":0,"vlanProto":"802.1ad""#,
                "non-zero vlan id must be configured to set vlan proto 802.1ad",
            ),
            (
                r#""vlan":1,"vlanProto":"qinq""#,
                "vlan Proto qinq invalid: value must be '802.1Q' or '802.1ad'",
            ),
            (
                r#""link_state":"up""#,
                "LoadConf(): invalid link_state value: up",
            ),
            (
                r#""spoofchk":"yes""#,
                "spoofchk: \"yes\" is not \"on\" or \"off\"",
            ),
            (r#""vlan":"100""#, "vlan: expected an integer, got \"100\""),
            (
                r#""max_tx_rate":-5"#,
                "max_tx_rate: -5 is negative or too large",
            ),
            (r#""mac":"nope""#, "failed to parse MAC address \"nope\""),
            (
                r#""ipam":"host-local""#,
                "ipam: expected an object, got \"host-local\"",
            ),
        ];
        for (extra, expected) in cases {
            let err = parse(&format!("{{{base},{extra}}}"))
                .and_then(|c| c.validate_for_add().map(|_| c))
                .unwrap_err();
            assert_eq!((err.code, err.msg.as_str()), (7, expected), "{extra}");
        }
        let err = parse(r#"{"cniVersion":"1.0.0","name":"n"}"#)
            .unwrap()
            .validate_for_add()
            .unwrap_err();
        assert_eq!(err.msg, "LoadConf(): VF pci addr is required");
        assert!(err.details.contains("resourceName"));
        assert_eq!(parse("not json").unwrap_err().code, 6);
        assert_eq!(
            parse(r#"{"cniVersion":"9.9.9","name":"n"}"#)
                .unwrap_err()
                .code,
            1
        );
        assert_eq!(
            parse(r#"{"cniVersion":"1.0.0","name":"-x"}"#)
                .unwrap_err()
                .code,
            7
        );
    }
}
