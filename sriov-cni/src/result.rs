//! Results: the internal (1.x) shape, parsing what an IPAM plugin prints in any version, and
//! printing in the version the configuration asked for.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{CniError, Result, code};
use crate::version::at_least;

/// One interface of a result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    /// Name (in the sandbox when `sandbox` is set).
    pub name: String,
    /// MAC address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// MTU (1.0.0 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Network namespace path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    /// PCI address of the device (1.1.0).
    #[serde(default, rename = "pciID", skip_serializing_if = "Option::is_none")]
    pub pci_id: Option<String>,
}

/// One IP configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpConfig {
    /// Address in CIDR notation.
    pub address: String,
    /// Gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// Index into `interfaces`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<usize>,
}

/// One route; fields beyond `dst` and `gw` (mtu, advmss, priority, table, scope) are kept
/// as given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// Destination in CIDR notation.
    pub dst: String,
    /// Next hop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<String>,
    /// Other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A success result, in the 1.x shape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Success {
    /// Interfaces.
    pub interfaces: Vec<Interface>,
    /// IP configurations.
    pub ips: Vec<IpConfig>,
    /// Routes.
    pub routes: Vec<Route>,
    /// DNS (kept as given; `{}` when none).
    pub dns: Value,
}

fn decode(what: &str, e: impl std::fmt::Display) -> CniError {
    CniError::new(code::DECODE, format!("{what}: {e}"))
}

impl Success {
    /// Parses a result printed by a plugin in `version` (what IPAM plugins answer).
    pub fn parse(value: &Value, version: &str) -> Result<Self> {
        let dns = value.get("dns").cloned().unwrap_or_else(|| json!({}));
        if !at_least(version, "0.3.0") {
            // 0.1.0/0.2.0: {"ip4": {"ip", "gateway", "routes"}, "ip6": {...}}
            let mut out = Self {
                dns,
                ..Self::default()
            };
            for key in ["ip4", "ip6"] {
                let Some(ip) = value.get(key) else { continue };
                let address = ip
                    .get("ip")
                    .and_then(Value::as_str)
                    .ok_or_else(|| decode("IPAM result", format!("{key}.ip missing")))?;
                out.ips.push(IpConfig {
                    address: address.to_owned(),
                    gateway: ip.get("gateway").and_then(Value::as_str).map(str::to_owned),
                    interface: None,
                });
                if let Some(routes) = ip.get("routes") {
                    let routes: Vec<Route> = serde_json::from_value(routes.clone())
                        .map_err(|e| decode("IPAM result routes", e))?;
                    out.routes.extend(routes);
                }
            }
            return Ok(out);
        }
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            interfaces: Vec<Interface>,
            #[serde(default)]
            ips: Vec<IpConfig>,
            #[serde(default)]
            routes: Vec<Route>,
        }
        let raw: Raw =
            serde_json::from_value(value.clone()).map_err(|e| decode("IPAM result", e))?;
        Ok(Self {
            interfaces: raw.interfaces,
            ips: raw.ips,
            routes: raw.routes,
            dns,
        })
    }

    /// The result as `version` prints it.
    pub fn to_value(&self, version: &str) -> Value {
        let mut out = Map::new();
        out.insert("cniVersion".into(), json!(version));
        if !at_least(version, "0.3.0") {
            for (key, v6) in [("ip4", false), ("ip6", true)] {
                let Some(ip) = self.ips.iter().find(|ip| ip.address.contains(':') == v6) else {
                    continue;
                };
                let mut entry = Map::new();
                entry.insert("ip".into(), json!(ip.address));
                if let Some(gw) = &ip.gateway {
                    entry.insert("gateway".into(), json!(gw));
                }
                let routes: Vec<Value> = self
                    .routes
                    .iter()
                    .filter(|r| r.dst.contains(':') == v6)
                    .map(|r| {
                        let mut route = json!({"dst": r.dst});
                        if let Some(gw) = &r.gw {
                            route["gw"] = json!(gw);
                        }
                        route
                    })
                    .collect();
                if !routes.is_empty() {
                    entry.insert("routes".into(), Value::Array(routes));
                }
                out.insert(key.into(), Value::Object(entry));
            }
            out.insert("dns".into(), self.dns.clone());
            return Value::Object(out);
        }
        let v1 = at_least(version, "1.0.0");
        let v11 = at_least(version, "1.1.0");
        let interfaces: Vec<Value> = self
            .interfaces
            .iter()
            .map(|i| {
                let mut entry = Map::new();
                entry.insert("name".into(), json!(i.name));
                if let Some(mac) = &i.mac {
                    entry.insert("mac".into(), json!(mac));
                }
                if v1 && let Some(mtu) = i.mtu {
                    entry.insert("mtu".into(), json!(mtu));
                }
                if let Some(sandbox) = &i.sandbox {
                    entry.insert("sandbox".into(), json!(sandbox));
                }
                if v11 && let Some(pci) = &i.pci_id {
                    entry.insert("pciID".into(), json!(pci));
                }
                Value::Object(entry)
            })
            .collect();
        if !interfaces.is_empty() {
            out.insert("interfaces".into(), Value::Array(interfaces));
        }
        let ips: Vec<Value> = self
            .ips
            .iter()
            .map(|ip| {
                let mut entry = Map::new();
                if !v1 {
                    let family = if ip.address.contains(':') { "6" } else { "4" };
                    entry.insert("version".into(), json!(family));
                }
                if let Some(i) = ip.interface {
                    entry.insert("interface".into(), json!(i));
                }
                entry.insert("address".into(), json!(ip.address));
                if let Some(gw) = &ip.gateway {
                    entry.insert("gateway".into(), json!(gw));
                }
                Value::Object(entry)
            })
            .collect();
        if !ips.is_empty() {
            out.insert("ips".into(), Value::Array(ips));
        }
        if !self.routes.is_empty() {
            out.insert(
                "routes".into(),
                serde_json::to_value(&self.routes).unwrap_or(Value::Null),
            );
        }
        out.insert("dns".into(), self.dns.clone());
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Success {
        Success {
            interfaces: vec![Interface {
                name: "net1".into(),
                mac: Some("60:00:00:00:00:e1".into()),
                mtu: Some(1500),
                sandbox: Some("/var/run/netns/cni-1234".into()),
                pci_id: Some("0000:af:06.0".into()),
            }],
            ips: vec![IpConfig {
                address: "10.56.217.2/24".into(),
                gateway: Some("10.56.217.1".into()),
                interface: Some(0),
            }],
            routes: vec![Route {
                dst: "0.0.0.0/0".into(),
                ..Route::default()
            }],
            dns: json!({}),
        }
    }

    #[test]
    fn each_version_gets_its_own_shape() {
        let r = sample();
        assert_eq!(
            r.to_value("1.0.0").to_string(),
            r#"{"cniVersion":"1.0.0","interfaces":[{"name":"net1","mac":"60:00:00:00:00:e1","mtu":1500,"sandbox":"/var/run/netns/cni-1234"}],"ips":[{"interface":0,"address":"10.56.217.2/24","gateway":"10.56.217.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}"#
        );
        assert_eq!(
            r.to_value("1.1.0")["interfaces"][0]["pciID"],
            "0000:af:06.0"
        );
        let v04 = r.to_value("0.4.0");
        assert_eq!(v04["ips"][0]["version"], "4");
        assert_eq!(v04["interfaces"][0].get("mtu"), None);
        assert_eq!(
            r.to_value("0.2.0").to_string(),
            r#"{"cniVersion":"0.2.0","ip4":{"ip":"10.56.217.2/24","gateway":"10.56.217.1","routes":[{"dst":"0.0.0.0/0"}]},"dns":{}}"#
        );
    }

    #[test]
    fn ipam_results_parse_from_old_and_new_shapes() {
        let new = json!({"cniVersion":"1.0.0","ips":[{"address":"10.1.0.5/16","gateway":"10.1.0.1"}],"routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1","mtu":1400}]});
        let parsed = Success::parse(&new, "1.0.0").unwrap();
        assert_eq!(parsed.ips[0].address, "10.1.0.5/16");
        assert_eq!(parsed.routes[0].extra["mtu"], 1400);
        let old =
            json!({"ip4":{"ip":"10.1.0.5/16","gateway":"10.1.0.1","routes":[{"dst":"0.0.0.0/0"}]}});
        let parsed = Success::parse(&old, "0.2.0").unwrap();
        assert_eq!(parsed.ips[0].gateway.as_deref(), Some("10.1.0.1"));
        assert_eq!(parsed.routes.len(), 1);
        let err = Success::parse(&json!({"ips": "nope"}), "1.0.0").unwrap_err();
        assert_eq!(err.code, 6);
    }
}
