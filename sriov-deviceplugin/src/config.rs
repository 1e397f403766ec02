//! The device plugin's configuration file, in upstream's format (what the operator renders
//! into the `device-plugin-config` ConfigMap):
//!
//! ```json
//! {"resourceList": [{"resourceName": "intel_sriov_netdevice", "resourcePrefix": "intel.com",
//!   "deviceType": "netDevice", "excludeTopology": false,
//!   "selectors": [{"vendors": ["8086"], "devices": ["154c"], "pfNames": ["ens1f0#0-3"]}],
//!   "additionalInfo": {"*": {"k": "v"}}}]}
//! ```
//!
//! `selectors` is one object (the old form) or a list. Unlike upstream, every problem is an
//! error naming the resource and the key, and an unknown selector key is one (a misspelt
//! key would otherwise select every device): a broken file never starts a half-working
//! plugin or exits 0 silently.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Kind of device a pool offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// Network functions (class 0x02): VFs, or PFs without VFs.
    NetDevice,
    /// Accelerators (class 0x12), e.g. FPGA/QAT VFs.
    Accelerator,
    /// Auxiliary network devices (Mellanox scalable functions).
    AuxNetDevice,
}

impl DeviceKind {
    /// As the configuration spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NetDevice => "netDevice",
            Self::Accelerator => "accelerator",
            Self::AuxNetDevice => "auxNetDevice",
        }
    }
}

/// One `pfNames` / `rootDevices` entry: a PF (name or PCI address) and optionally which of
/// its functions (`#0-3,7`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PfEntry {
    /// PF name or PCI address (compared case-insensitively).
    pub pf: String,
    /// Inclusive index ranges; `None` for all functions.
    pub ranges: Option<Vec<(u16, u16)>>,
}

impl PfEntry {
    /// Parses `name[#ranges]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = text.split('#');
        let pf = parts.next().unwrap_or_default();
        let ranges = parts.next();
        if parts.next().is_some() {
            return Err(format!("{text:?} has more than one '#'"));
        }
        if pf.is_empty() {
            return Err(format!("{text:?} has no PF before '#'"));
        }
        let ranges = match ranges {
            None => None,
            Some(r) => {
                let mut out = Vec::new();
                for item in r.split(',') {
                    let bounds: Vec<&str> = item.split('-').collect();
                    let parse = |b: &str| {
                        b.trim().parse::<u16>().map_err(|_| {
                            format!("{text:?}: {item:?} is not an index or a range a-b")
                        })
                    };
                    let (first, last) = match bounds.as_slice() {
                        [one] => (parse(one)?, parse(one)?),
                        [a, b] => (parse(a)?, parse(b)?),
                        _ => {
                            return Err(format!(
                                "{text:?}: {item:?} is not an index or a range a-b"
                            ));
                        }
                    };
                    if first > last {
                        return Err(format!("{text:?}: range {item:?} ends before it starts"));
                    }
                    out.push((first, last));
                }
                Some(out)
            }
        };
        Ok(Self {
            pf: pf.to_owned(),
            ranges,
        })
    }

    /// Whether function `index` of this PF is selected.
    pub fn contains(&self, index: u16) -> bool {
        self.ranges
            .as_ref()
            .is_none_or(|r| r.iter().any(|(a, b)| (*a..=*b).contains(&index)))
    }
}

/// One selector: every present key narrows (AND across keys, OR within a key).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// PCI vendor IDs (`8086`).
    pub vendors: Vec<String>,
    /// PCI device IDs (`154c`).
    pub devices: Vec<String>,
    /// Bound drivers.
    pub drivers: Vec<String>,
    /// Exact PCI addresses.
    pub pci_addresses: Vec<String>,
    /// ACPI indexes.
    pub acpi_indexes: Vec<String>,
    /// PF names with optional VF ranges.
    pub pf_names: Vec<PfEntry>,
    /// PF PCI addresses with optional VF ranges.
    pub root_devices: Vec<PfEntry>,
    /// Link types (`ether`, `infiniband`).
    pub link_types: Vec<String>,
    /// Intel DDP profile names.
    pub ddp_profiles: Vec<String>,
    /// InfiniBand partition keys.
    pub pkeys: Vec<String>,
    /// Only RDMA-capable functions.
    pub is_rdma: bool,
    /// Also hand out `/dev/vhost-net` and `/dev/net/tun`.
    pub need_vhost_net: bool,
    /// Only VFs with this vDPA type (`vhost`, `virtio`).
    pub vdpa_type: Option<String>,
    /// Auxiliary device types (`sf`).
    pub aux_types: Vec<String>,
}

impl std::fmt::Display for PfEntry {
    /// As written in the configuration: `ens1f0` or `ens1f0#0-3,7`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.pf)?;
        if let Some(ranges) = &self.ranges {
            let ranges: Vec<String> = ranges
                .iter()
                .map(|(a, b)| {
                    if a == b {
                        a.to_string()
                    } else {
                        format!("{a}-{b}")
                    }
                })
                .collect();
            write!(f, "#{}", ranges.join(","))?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Selector {
    /// The keys that narrow, in the configuration's spelling: `vendors=8086
    /// pfNames=ens1f0#0-3 isRdma`; `any device` when none does.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries = |list: &[PfEntry]| list.iter().map(ToString::to_string).collect();
        let keys: [(&str, Vec<String>); 11] = [
            ("vendors", self.vendors.clone()),
            ("devices", self.devices.clone()),
            ("drivers", self.drivers.clone()),
            ("pciAddresses", self.pci_addresses.clone()),
            ("acpiIndexes", self.acpi_indexes.clone()),
            ("pfNames", entries(&self.pf_names)),
            ("rootDevices", entries(&self.root_devices)),
            ("linkTypes", self.link_types.clone()),
            ("ddpProfiles", self.ddp_profiles.clone()),
            ("pKeys", self.pkeys.clone()),
            ("auxTypes", self.aux_types.clone()),
        ];
        let mut parts: Vec<String> = keys
            .into_iter()
            .filter(|(_, values)| !values.is_empty())
            .map(|(key, values)| format!("{key}={}", values.join(",")))
            .collect();
        if let Some(vdpa) = &self.vdpa_type {
            parts.push(format!("vdpaType={vdpa}"));
        }
        if self.is_rdma {
            parts.push("isRdma".to_owned());
        }
        if parts.is_empty() {
            return f.write_str("any device");
        }
        f.write_str(&parts.join(" "))
    }
}

/// One resource pool's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceConfig {
    /// Vendor domain (`intel.com`, `openshift.io`).
    pub prefix: String,
    /// Resource name (`intel_sriov_netdevice`).
    pub name: String,
    /// Device kind.
    pub device_type: DeviceKind,
    /// Advertise no NUMA topology.
    pub exclude_topology: bool,
    /// Selectors, tried in order.
    pub selectors: Vec<Selector>,
    /// Extra `_INFO` entries: `*` for every device, then per device ID.
    pub additional_info: BTreeMap<String, BTreeMap<String, String>>,
}

impl ResourceConfig {
    /// `<prefix>/<name>`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.prefix, self.name)
    }

    /// What the pool selects on, for logs: its device type and each selector, `; `
    /// between selectors (any one of them selects).
    pub fn describe_selectors(&self) -> String {
        let selectors: Vec<String> = self.selectors.iter().map(ToString::to_string).collect();
        format!(
            "deviceType={} selectors: {}",
            self.device_type.as_str(),
            if selectors.is_empty() {
                "none".to_owned()
            } else {
                selectors.join("; ")
            }
        )
    }
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Pools, in file order (which decides first-match-wins).
    pub resources: Vec<ResourceConfig>,
}

/// A configuration problem: which resource (by index and name, when known) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not JSON of the expected shape.
    #[error("config: {0}")]
    Syntax(String),
    /// No resources at all.
    #[error("config: resourceList is empty: nothing to advertise")]
    Empty,
    /// A resource's problem.
    #[error("config: resourceList[{index}] ({name}): {key}: {reason}")]
    Resource {
        /// Index in `resourceList`.
        index: usize,
        /// Its `resourceName` (or `?`).
        name: String,
        /// The offending key path.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

const NET_KEYS: &[&str] = &[
    "vendors",
    "devices",
    "drivers",
    "pciAddresses",
    "acpiIndexes",
    "pfNames",
    "rootDevices",
    "linkTypes",
    "ddpProfiles",
    "pKeys",
    "isRdma",
    "needVhostNet",
    "vdpaType",
];
const ACCEL_KEYS: &[&str] = &[
    "vendors",
    "devices",
    "drivers",
    "pciAddresses",
    "acpiIndexes",
];
const AUX_KEYS: &[&str] = &[
    "vendors",
    "devices",
    "drivers",
    "auxTypes",
    "pfNames",
    "rootDevices",
    "linkTypes",
    "isRdma",
    "needVhostNet",
];

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Config {
    /// Parses and validates the file's text. `default_prefix` is `--resource-prefix`.
    pub fn parse(text: &str, default_prefix: &str) -> Result<Self, ConfigError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        let list = value
            .get("resourceList")
            .ok_or_else(|| ConfigError::Syntax("no resourceList".into()))?
            .as_array()
            .ok_or_else(|| ConfigError::Syntax("resourceList is not a list".into()))?;
        if list.is_empty() {
            return Err(ConfigError::Empty);
        }
        let mut resources = Vec::with_capacity(list.len());
        for (index, raw) in list.iter().enumerate() {
            let resource = Self::resource(index, raw, default_prefix)?;
            if resources
                .iter()
                .any(|r: &ResourceConfig| r.full_name() == resource.full_name())
            {
                return Err(ConfigError::Resource {
                    index,
                    name: resource.name.clone(),
                    key: "resourceName".into(),
                    reason: format!("{} is already defined", resource.full_name()),
                });
            }
            resources.push(resource);
        }
        Ok(Self { resources })
    }

    fn resource(
        index: usize,
        raw: &Value,
        default_prefix: &str,
    ) -> Result<ResourceConfig, ConfigError> {
        let name_hint = raw
            .get("resourceName")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        let err = |key: &str, reason: String| ConfigError::Resource {
            index,
            name: name_hint.clone(),
            key: key.to_owned(),
            reason,
        };
        let map = raw
            .as_object()
            .ok_or_else(|| err("", "not an object".into()))?;
        for key in map.keys() {
            if ![
                "resourceName",
                "resourcePrefix",
                "deviceType",
                "excludeTopology",
                "selectors",
                "additionalInfo",
            ]
            .contains(&key.as_str())
            {
                return Err(err(key, "unknown key".into()));
            }
        }
        let text = |key: &str| -> Result<Option<String>, ConfigError> {
            match map.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(err(key, format!("expected a string, got {other}"))),
            }
        };
        let name = text("resourceName")?.unwrap_or_default();
        if !valid_name(&name) {
            return Err(err(
                "resourceName",
                format!("{name:?} must match ^[a-zA-Z0-9_-]+$"),
            ));
        }
        let prefix = text("resourcePrefix")?
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| default_prefix.to_owned());
        let device_type = match text("deviceType")?.as_deref() {
            None | Some("") | Some("netDevice") => DeviceKind::NetDevice,
            Some("accelerator") => DeviceKind::Accelerator,
            Some("auxNetDevice") => DeviceKind::AuxNetDevice,
            Some(other) => {
                return Err(err(
                    "deviceType",
                    format!("{other:?} is not netDevice, accelerator or auxNetDevice"),
                ));
            }
        };
        let exclude_topology = match map.get("excludeTopology") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(err(
                    "excludeTopology",
                    format!("expected true or false, got {other}"),
                ));
            }
        };
        let raw_selectors: Vec<&Map<String, Value>> = match map.get("selectors") {
            None | Some(Value::Null) => vec![],
            Some(Value::Object(one)) => vec![one],
            Some(Value::Array(list)) => {
                if list.is_empty() {
                    return Err(err("selectors", "the list is empty".into()));
                }
                list.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        v.as_object()
                            .ok_or_else(|| err(&format!("selectors[{i}]"), "not an object".into()))
                    })
                    .collect::<Result<_, _>>()?
            }
            Some(other) => {
                return Err(err(
                    "selectors",
                    format!("expected an object or a list, got {other}"),
                ));
            }
        };
        if raw_selectors.is_empty() {
            return Err(err(
                "selectors",
                "missing: a pool needs at least one selector".into(),
            ));
        }
        let allowed = match device_type {
            DeviceKind::NetDevice => NET_KEYS,
            DeviceKind::Accelerator => ACCEL_KEYS,
            DeviceKind::AuxNetDevice => AUX_KEYS,
        };
        let mut selectors = Vec::new();
        for (i, raw) in raw_selectors.into_iter().enumerate() {
            let at = |key: &str| format!("selectors[{i}].{key}");
            let mut s = Selector::default();
            for (key, value) in raw {
                // `isRdma` is matched case-insensitively, as upstream does.
                let canonical = if key.eq_ignore_ascii_case("isRdma") {
                    "isRdma"
                } else {
                    key.as_str()
                };
                if !allowed.contains(&canonical) {
                    return Err(err(
                        &at(key),
                        format!(
                            "not a {} selector key (known: {})",
                            device_type.as_str(),
                            allowed.join(", ")
                        ),
                    ));
                }
                let strings = || -> Result<Vec<String>, ConfigError> {
                    value
                        .as_array()
                        .ok_or_else(|| {
                            err(&at(key), format!("expected a list of strings, got {value}"))
                        })?
                        .iter()
                        .map(|v| {
                            v.as_str()
                                .map(str::to_owned)
                                .ok_or_else(|| err(&at(key), format!("{v} is not a string")))
                        })
                        .collect()
                };
                let flag = || -> Result<bool, ConfigError> {
                    value.as_bool().ok_or_else(|| {
                        err(&at(key), format!("expected true or false, got {value}"))
                    })
                };
                let entries = |list: Vec<String>| -> Result<Vec<PfEntry>, ConfigError> {
                    list.iter()
                        .map(|e| PfEntry::parse(e).map_err(|r| err(&at(key), r)))
                        .collect()
                };
                match canonical {
                    "vendors" => {
                        s.vendors = strings()?
                            .into_iter()
                            .map(|v| v.to_ascii_lowercase())
                            .collect()
                    }
                    "devices" => {
                        s.devices = strings()?
                            .into_iter()
                            .map(|v| v.to_ascii_lowercase())
                            .collect()
                    }
                    "drivers" => s.drivers = strings()?,
                    "pciAddresses" => s.pci_addresses = strings()?,
                    "acpiIndexes" => s.acpi_indexes = strings()?,
                    "pfNames" => s.pf_names = entries(strings()?)?,
                    "rootDevices" => s.root_devices = entries(strings()?)?,
                    "linkTypes" => s.link_types = strings()?,
                    "ddpProfiles" => s.ddp_profiles = strings()?,
                    "pKeys" => s.pkeys = strings()?,
                    "isRdma" => s.is_rdma = flag()?,
                    "needVhostNet" => s.need_vhost_net = flag()?,
                    "vdpaType" => {
                        let t = value.as_str().ok_or_else(|| {
                            err(&at(key), format!("expected a string, got {value}"))
                        })?;
                        if !t.is_empty() {
                            if t != "vhost" && t != "virtio" {
                                return Err(err(&at(key), format!("{t:?} is not vhost or virtio")));
                            }
                            s.vdpa_type = Some(t.to_owned());
                        }
                    }
                    "auxTypes" => s.aux_types = strings()?,
                    _ => {}
                }
            }
            if device_type == DeviceKind::NetDevice && s.is_rdma && s.vdpa_type.is_some() {
                return Err(err(
                    &at("vdpaType"),
                    "isRdma and vdpaType cannot be used together".into(),
                ));
            }
            if device_type == DeviceKind::AuxNetDevice {
                if s.aux_types.is_empty() {
                    return Err(err(
                        &at("auxTypes"),
                        "required for auxNetDevice pools".into(),
                    ));
                }
                if let Some(t) = s.aux_types.iter().find(|t| *t != "sf") {
                    return Err(err(
                        &at("auxTypes"),
                        format!("{t:?} is not supported (only \"sf\")"),
                    ));
                }
            }
            selectors.push(s);
        }
        let additional_info = match map.get("additionalInfo") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
                err(
                    "additionalInfo",
                    format!("expected {{\"*\"|<device ID>: {{key: value}}}}: {e}"),
                )
            })?,
        };
        Ok(ResourceConfig {
            prefix,
            name,
            device_type,
            exclude_topology,
            selectors,
            additional_info,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_files_parse_with_both_selector_forms() {
        let config = Config::parse(
            r#"{"resourceList":[
              {"resourceName":"intel_sriov_netdevice","selectors":{"vendors":["8086"],"devices":["154C"],"drivers":["iavf"],"pfNames":["ens1f0#0-3,7"]}},
              {"resourceName":"mlx_rdma","resourcePrefix":"nvidia.com","excludeTopology":true,"selectors":[{"IsRdma":true,"rootDevices":["0000:3b:00.0"]},{"linkTypes":["infiniband"]}],"additionalInfo":{"*":{"a":"1"}}},
              {"resourceName":"qat","deviceType":"accelerator","selectors":[{"devices":["37c9"]}]}
            ]}"#,
            "intel.com",
        )
        .unwrap();
        assert_eq!(config.resources.len(), 3);
        let net = &config.resources[0];
        assert_eq!(net.full_name(), "intel.com/intel_sriov_netdevice");
        assert_eq!(net.selectors[0].devices, ["154c"]);
        let entry = &net.selectors[0].pf_names[0];
        assert!(entry.contains(2) && entry.contains(7) && !entry.contains(5));
        let rdma = &config.resources[1];
        assert_eq!(rdma.full_name(), "nvidia.com/mlx_rdma");
        assert!(rdma.selectors[0].is_rdma && rdma.exclude_topology);
        assert_eq!(rdma.additional_info["*"]["a"], "1");
        assert_eq!(config.resources[2].device_type, DeviceKind::Accelerator);
    }

    #[test]
    fn every_problem_names_the_resource_and_key() {
        let cases = [
            ("{", "config: "),
            (r#"{"resourceList":[]}"#, "resourceList is empty"),
            (
                r#"{"resourceList":[{"resourceName":"a b","selectors":{}}]}"#,
                "resourceList[0] (a b): resourceName: \"a b\" must match",
            ),
            (
                r#"{"resourceList":[{"resourceName":"a","selectors":{}},{"resourceName":"a","selectors":{}}]}"#,
                "resourceList[1] (a): resourceName: intel.com/a is already defined",
            ),
            (
                r#"{"resourceList":[{"resourceName":"a","deviceType":"gpu","selectors":{}}]}"#,
                "deviceType: \"gpu\" is not netDevice",
            ),
            (
                r#"{"resourceList":[{"resourceName":"a","selectors":[]}]}"#,
                "selectors: the list is empty",
            ),
            (
                r#"{"resourceList":[{"resourceName":"a"}]}"#,
                "selectors: missing",
            ),
            (
                r#"{"resourceList":[{"resourceName":"a","selectors":{"vendor":["8086"]}}]}"#,
                "selectors[0].vendor: not a netDevice selector key",
            ),
            (
                r#"{"resourceList":[{"resourceName":"a","selectors":{"vendors":"8086"}}]}"#,
                "selectors[0].vendors: expected a list of strings",
            ),
            (
                r#"{"resourceList":[{"resourceName":"a","selectors":{"pfNames":["p0#a-3"]}}]}"#,
                "selectors[0].pfNames: \"p0#a-3\": \"a-3\" is not an index",
            ),
            (
                r#"{"resourceList":[{"resourceName":"a","selectors":{"pfNames":["p0#1#2"]}}]}"#,
                "more than one '#'",
            ),
            (
                r#"{"resourceList":[{"resourceName":"a","selectors":{"isRdma":true,"vdpaType":"vhost"}}]}"#,
                "isRdma and vdpaType cannot be used together",
            ),
            (
                r#"{"resourceList":[{"resourceName":"a","selectors":{"vdpaType":"fast"}}]}"#,
                "\"fast\" is not vhost or virtio",
            ),
            (
                r#"{"resourceList":[{"resourceName":"a","deviceType":"auxNetDevice","selectors":{"vendors":["15b3"]}}]}"#,
                "auxTypes: required",
            ),
            (
                r#"{"resourceList":[{"resourceName":"a","deviceType":"accelerator","selectors":{"pfNames":["x"]}}]}"#,
                "not a accelerator selector key",
            ),
            (
                r#"{"resourceList":[{"resourceName":"a","selectors":{},"additionalInfo":{"*":"x"}}]}"#,
                "additionalInfo: expected",
            ),
        ];
        for (text, expected) in cases {
            let err = Config::parse(text, "intel.com").unwrap_err().to_string();
            assert!(err.contains(expected), "{text}\n  got: {err}");
        }
    }
}
