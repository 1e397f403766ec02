//! `SriovNetwork`, `SriovIBNetwork` and `OVSNetwork` → Multus `NetworkAttachmentDefinition`,
//! as upstream's network controllers render them.
//!
//! The CNI configuration has upstream's keys, order and omission rules and is stored
//! indented by four spaces. Unlike upstream, `ipam`, `capabilities` and `metaPlugins` are
//! parsed as JSON: invalid JSON is an error naming the field (upstream inserts the text
//! verbatim and fails later, or not at all), and whitespace inside IPAM string values is kept
//! (upstream strips every whitespace character from the IPAM text, even inside strings).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::api::{
    NetworkAttachmentDefinition, NetworkAttachmentDefinitionSpec, OVSNetwork, OWNER_REF_ANNOTATION,
    RESOURCE_NAME_ANNOTATION, SriovIBNetwork, SriovNetwork,
};
use crate::error::{Error, Result};

/// CNI spec version written into every configuration.
pub const CNI_VERSION: &str = "1.0.0";

/// Renders the NetworkAttachmentDefinition of a `SriovNetwork`.
pub fn sriov_network(
    network: &SriovNetwork,
    resource_prefix: &str,
) -> Result<NetworkAttachmentDefinition> {
    let spec = &network.spec;
    let fields = Fields::new(network);
    let mut plugin = Map::new();
    plugin.insert("type".into(), json!("sriov"));
    plugin.insert("vlan".into(), json!(spec.vlan.unwrap_or(0)));
    if let Some(spoof) = spec.spoof_chk {
        plugin.insert("spoofchk".into(), name_of(spoof));
    }
    if let Some(trust) = spec.trust {
        plugin.insert("trust".into(), name_of(trust));
    }
    plugin.insert("vlanQoS".into(), json!(spec.vlan_qos.unwrap_or(0)));
    if let Some(proto) = spec.vlan_proto {
        plugin.insert("vlanProto".into(), name_of(proto));
    }
    if let Some(rate) = spec.min_tx_rate {
        plugin.insert("min_tx_rate".into(), json!(rate));
    }
    if let Some(rate) = spec.max_tx_rate {
        plugin.insert("max_tx_rate".into(), json!(rate));
    }
    fields.capabilities(spec.capabilities.as_deref(), &mut plugin)?;
    if let Some(state) = spec.link_state {
        plugin.insert("link_state".into(), name_of(state));
    }
    if let Some(level) = spec.log_level.map(name_of).filter(|l| l != "") {
        plugin.insert("logLevel".into(), level);
    }
    if let Some(file) = spec.log_file.as_deref().filter(|f| !f.is_empty()) {
        plugin.insert("logFile".into(), json!(file));
    }
    fields.ipam(spec.ipam.as_deref(), &mut plugin)?;
    fields.finish(
        plugin,
        spec.meta_plugins.as_deref(),
        spec.network_namespace.as_deref(),
        &spec.resource_name,
        resource_prefix,
    )
}

/// Renders the NetworkAttachmentDefinition of a `SriovIBNetwork`.
pub fn sriov_ib_network(
    network: &SriovIBNetwork,
    resource_prefix: &str,
) -> Result<NetworkAttachmentDefinition> {
    let spec = &network.spec;
    let fields = Fields::new(network);
    let mut plugin = Map::new();
    plugin.insert("type".into(), json!("ib-sriov"));
    fields.capabilities(spec.capabilities.as_deref(), &mut plugin)?;
    if let Some(state) = spec.link_state {
        plugin.insert("link_state".into(), name_of(state));
    }
    fields.ipam(spec.ipam.as_deref(), &mut plugin)?;
    fields.finish(
        plugin,
        spec.meta_plugins.as_deref(),
        spec.network_namespace.as_deref(),
        &spec.resource_name,
        resource_prefix,
    )
}

/// Renders the NetworkAttachmentDefinition of an `OVSNetwork`.
pub fn ovs_network(
    network: &OVSNetwork,
    resource_prefix: &str,
) -> Result<NetworkAttachmentDefinition> {
    let spec = &network.spec;
    let fields = Fields::new(network);
    let mut plugin = Map::new();
    plugin.insert("type".into(), json!("ovs"));
    fields.capabilities(spec.capabilities.as_deref(), &mut plugin)?;
    if let Some(bridge) = spec.bridge.as_deref().filter(|b| !b.is_empty()) {
        plugin.insert("bridge".into(), json!(bridge));
    }
    if let Some(vlan) = spec.vlan.filter(|v| *v != 0) {
        plugin.insert("vlan".into(), json!(vlan));
    }
    if let Some(mtu) = spec.mtu.filter(|m| *m != 0) {
        plugin.insert("mtu".into(), json!(mtu));
    }
    if let Some(trunk) = spec.trunk.as_ref().filter(|t| !t.is_empty()) {
        let entries: Vec<Value> = trunk
            .iter()
            .map(|t| {
                let mut entry = Map::new();
                for (key, value) in [("minID", t.min_id), ("maxID", t.max_id), ("id", t.id)] {
                    if let Some(value) = value {
                        entry.insert(key.into(), json!(value));
                    }
                }
                Value::Object(entry)
            })
            .collect();
        plugin.insert("trunk".into(), Value::Array(entries));
    }
    if let Some(kind) = spec.interface_type.as_deref().filter(|k| !k.is_empty()) {
        plugin.insert("interface_type".into(), json!(kind));
    }
    fields.ipam(spec.ipam.as_deref(), &mut plugin)?;
    fields.finish(
        plugin,
        spec.meta_plugins.as_deref(),
        spec.network_namespace.as_deref(),
        &spec.resource_name,
        resource_prefix,
    )
}

/// The JSON string of a serde enum value (`"on"`, `"802.1ad"`, ...).
fn name_of<T: Serialize>(value: T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// What every network kind shares: identity, error reporting, the common keys.
struct Fields<'a> {
    kind: String,
    meta: &'a ObjectMeta,
    owner: Option<OwnerReference>,
}

impl<'a> Fields<'a> {
    fn new<K: Resource<DynamicType = ()>>(network: &'a K) -> Self {
        let meta = network.meta();
        let owner = meta.uid.as_ref().map(|uid| OwnerReference {
            api_version: K::api_version(&()).into_owned(),
            kind: K::kind(&()).into_owned(),
            name: meta.name.clone().unwrap_or_default(),
            uid: uid.clone(),
            ..Default::default()
        });
        Self {
            kind: K::kind(&()).into_owned(),
            meta,
            owner,
        }
    }

    fn name(&self) -> &str {
        self.meta.name.as_deref().unwrap_or_default()
    }

    fn namespace(&self) -> &str {
        self.meta.namespace.as_deref().unwrap_or_default()
    }

    fn error(&self, field: &str, reason: String) -> Error {
        Error::Network {
            kind: self.kind.clone(),
            network: crate::api::meta_name(self.meta),
            field: field.to_owned(),
            reason,
        }
    }

    fn parse_object(&self, field: &str, text: &str) -> Result<Map<String, Value>> {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(other) => Err(self.error(field, format!("must be a JSON object, not {other}"))),
            Err(e) => Err(self.error(field, format!("invalid JSON: {e}"))),
        }
    }

    fn capabilities(&self, text: Option<&str>, plugin: &mut Map<String, Value>) -> Result<()> {
        if let Some(text) = text.filter(|t| !t.trim().is_empty()) {
            let caps = self.parse_object("spec.capabilities", text)?;
            plugin.insert("capabilities".into(), Value::Object(caps));
        }
        Ok(())
    }

    fn ipam(&self, text: Option<&str>, plugin: &mut Map<String, Value>) -> Result<()> {
        let ipam = match text.filter(|t| !t.trim().is_empty()) {
            Some(text) => self.parse_object("spec.ipam", text)?,
            None => Map::new(),
        };
        plugin.insert("ipam".into(), Value::Object(ipam));
        Ok(())
    }

    fn meta_plugins(&self, text: &str) -> Result<Vec<Value>> {
        let field = "spec.metaPlugins";
        let list: Vec<Value> = serde_json::from_str(&format!("[{text}]")).map_err(|e| {
            self.error(
                field,
                format!("invalid JSON (expected objects separated by commas): {e}"),
            )
        })?;
        if let Some(bad) = list.iter().find(|v| !v.is_object()) {
            return Err(self.error(
                field,
                format!("each plugin must be a JSON object, not {bad}"),
            ));
        }
        Ok(list)
    }

    fn finish(
        &self,
        plugin: Map<String, Value>,
        meta_plugins: Option<&str>,
        network_namespace: Option<&str>,
        resource_name: &str,
        resource_prefix: &str,
    ) -> Result<NetworkAttachmentDefinition> {
        let mut config = Map::new();
        config.insert("cniVersion".into(), json!(CNI_VERSION));
        config.insert("name".into(), json!(self.name()));
        match meta_plugins.filter(|m| !m.trim().is_empty()) {
            Some(text) => {
                let mut chain = vec![Value::Object(plugin)];
                chain.extend(self.meta_plugins(text)?);
                config.insert("plugins".into(), Value::Array(chain));
            }
            None => config.extend(plugin),
        }
        let target_namespace = network_namespace
            .filter(|n| !n.is_empty())
            .unwrap_or(self.namespace());
        let annotations = BTreeMap::from([
            (
                RESOURCE_NAME_ANNOTATION.to_owned(),
                format!("{resource_prefix}/{resource_name}"),
            ),
            (
                OWNER_REF_ANNOTATION.to_owned(),
                format!(
                    "{}.{}/{}/{}",
                    self.kind,
                    crate::api::GROUP,
                    self.namespace(),
                    self.name()
                ),
            ),
        ]);
        let owner_references = (target_namespace == self.namespace())
            .then(|| self.owner.clone())
            .flatten()
            .map(|o| vec![o]);
        let mut nad = NetworkAttachmentDefinition::new(
            self.name(),
            NetworkAttachmentDefinitionSpec {
                config: indent4(&Value::Object(config)),
            },
        );
        nad.metadata.namespace = Some(target_namespace.to_owned());
        nad.metadata.annotations = Some(annotations);
        nad.metadata.owner_references = owner_references;
        Ok(nad)
    }
}

/// JSON indented by four spaces, `"key": value`, as upstream stores CNI configurations.
pub fn indent4(value: &Value) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    // Writing a Value into a Vec cannot fail.
    let _ = value.serialize(&mut serializer);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{
        CniLogLevel, OVSNetworkSpec, SriovIBNetworkSpec, SriovNetworkSpec, TrunkConfig, VlanProto,
    };

    fn meta<T: Resource<DynamicType = ()>>(mut object: T) -> T {
        object.meta_mut().namespace = Some("ns".into());
        object
    }

    fn sriov(spec: SriovNetworkSpec) -> SriovNetwork {
        let mut net = meta(SriovNetwork::new("test", spec));
        net.spec
            .network_namespace
            .get_or_insert_with(|| "testnamespace".into());
        net
    }

    fn config(nad: &NetworkAttachmentDefinition) -> Value {
        serde_json::from_str(&nad.spec.config).unwrap()
    }

    #[test]
    fn simple_sriov_network_matches_upstreams_golden() {
        let nad = sriov_network(
            &sriov(SriovNetworkSpec {
                resource_name: "testresource".into(),
                ..Default::default()
            }),
            "",
        )
        .unwrap();
        assert_eq!(nad.metadata.name.as_deref(), Some("test"));
        assert_eq!(nad.metadata.namespace.as_deref(), Some("testnamespace"));
        let annotations = nad.metadata.annotations.as_ref().unwrap();
        assert_eq!(annotations[RESOURCE_NAME_ANNOTATION], "/testresource");
        assert_eq!(
            annotations[OWNER_REF_ANNOTATION],
            "SriovNetwork.sriovnetwork.openshift.io/ns/test"
        );
        assert_eq!(
            nad.spec.config,
            "{\n    \"cniVersion\": \"1.0.0\",\n    \"name\": \"test\",\n    \"type\": \"sriov\",\n    \"vlan\": 0,\n    \"vlanQoS\": 0,\n    \"ipam\": {}\n}"
        );
    }

    #[test]
    fn chained_sriov_network_wraps_the_plugins() {
        let nad = sriov_network(
            &sriov(SriovNetworkSpec {
                resource_name: "testresource".into(),
                meta_plugins: Some(r#"{"type": "vrf", "vrfname": "blue"}"#.into()),
                ..Default::default()
            }),
            "",
        )
        .unwrap();
        assert_eq!(
            config(&nad),
            json!({"cniVersion": "1.0.0", "name": "test", "plugins": [
                {"type": "sriov", "vlan": 0, "vlanQoS": 0, "ipam": {}},
                {"type": "vrf", "vrfname": "blue"}
            ]})
        );
    }

    #[test]
    fn every_sriov_key_in_upstreams_order_with_ipam_strings_kept_intact() {
        let nad = sriov_network(
            &sriov(SriovNetworkSpec {
                resource_name: "r".into(),
                vlan: Some(100),
                vlan_qos: Some(5),
                vlan_proto: Some(VlanProto::Dot1ad),
                spoof_chk: Some(crate::api::OnOff::Off),
                trust: Some(crate::api::OnOff::On),
                link_state: Some(crate::api::LinkState::Enable),
                min_tx_rate: Some(0),
                max_tx_rate: Some(1000),
                capabilities: Some(r#"{"mac": true}"#.into()),
                log_level: Some(CniLogLevel::Info),
                log_file: Some("/tmp/sriov.log".into()),
                ipam: Some(
                    r#"{"type": "static", "routes": [{"dst": "0.0.0.0/0"}], "label": "a b"}"#
                        .into(),
                ),
                ..Default::default()
            }),
            "openshift.io",
        )
        .unwrap();
        let keys: Vec<String> = config(&nad).as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "cniVersion",
                "name",
                "type",
                "vlan",
                "spoofchk",
                "trust",
                "vlanQoS",
                "vlanProto",
                "min_tx_rate",
                "max_tx_rate",
                "capabilities",
                "link_state",
                "logLevel",
                "logFile",
                "ipam"
            ]
        );
        assert_eq!(config(&nad)["ipam"]["label"], "a b");
        assert_eq!(
            nad.metadata.annotations.unwrap()[RESOURCE_NAME_ANNOTATION],
            "openshift.io/r"
        );
    }

    #[test]
    fn invalid_json_is_an_error_naming_the_field() {
        let err = sriov_network(
            &sriov(SriovNetworkSpec {
                resource_name: "r".into(),
                ipam: Some("{\"type\": ".into()),
                ..Default::default()
            }),
            "p",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("SriovNetwork ns/test: spec.ipam: invalid JSON"),
            "{err}"
        );
        let err = sriov_network(
            &sriov(SriovNetworkSpec {
                resource_name: "r".into(),
                meta_plugins: Some("{\"type\": \"a\"}, 3".into()),
                ..Default::default()
            }),
            "p",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "SriovNetwork ns/test: spec.metaPlugins: each plugin must be a JSON object, not 3"
        );
    }

    #[test]
    fn ib_network_has_only_its_keys() {
        let mut net = meta(SriovIBNetwork::new(
            "test",
            SriovIBNetworkSpec {
                resource_name: "testresource".into(),
                capabilities: Some(r#"{"infinibandGUID": true}"#.into()),
                ..Default::default()
            },
        ));
        net.spec.network_namespace = Some("testnamespace".into());
        let nad = sriov_ib_network(&net, "").unwrap();
        assert_eq!(
            config(&nad),
            json!({"cniVersion": "1.0.0", "name": "test", "type": "ib-sriov", "capabilities": {"infinibandGUID": true}, "ipam": {}})
        );
        assert_eq!(
            nad.metadata.annotations.unwrap()[OWNER_REF_ANNOTATION],
            "SriovIBNetwork.sriovnetwork.openshift.io/ns/test"
        );
    }

    #[test]
    fn ovs_network_matches_upstreams_complex_golden() {
        let net = meta(OVSNetwork::new(
            "test",
            OVSNetworkSpec {
                resource_name: "testresource".into(),
                network_namespace: Some("testnamespace".into()),
                capabilities: Some(r#"{"foo": "bar"}"#.into()),
                bridge: Some("test".into()),
                vlan: Some(100),
                mtu: Some(1500),
                trunk: Some(vec![
                    TrunkConfig {
                        id: Some(120),
                        ..Default::default()
                    },
                    TrunkConfig {
                        min_id: Some(500),
                        max_id: Some(550),
                        ..Default::default()
                    },
                ]),
                interface_type: Some("netdev".into()),
                ipam: Some(r#"{"type": "foo"}"#.into()),
                ..Default::default()
            },
        ));
        let nad = ovs_network(&net, "").unwrap();
        let value = config(&nad);
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "cniVersion",
                "name",
                "type",
                "capabilities",
                "bridge",
                "vlan",
                "mtu",
                "trunk",
                "interface_type",
                "ipam"
            ]
        );
        assert_eq!(
            value["trunk"],
            json!([{"id": 120}, {"minID": 500, "maxID": 550}])
        );
        let simple = ovs_network(
            &meta(OVSNetwork::new(
                "s",
                OVSNetworkSpec {
                    resource_name: "r".into(),
                    vlan: Some(0),
                    ..Default::default()
                },
            )),
            "",
        )
        .unwrap();
        assert_eq!(
            config(&simple),
            json!({"cniVersion": "1.0.0", "name": "s", "type": "ovs", "ipam": {}})
        );
    }

    #[test]
    fn an_owner_reference_is_added_only_in_the_same_namespace_and_with_a_uid() {
        let mut net = meta(SriovNetwork::new(
            "n",
            SriovNetworkSpec {
                resource_name: "r".into(),
                ..Default::default()
            },
        ));
        net.metadata.uid = Some("1234".into());
        let same = sriov_network(&net, "p").unwrap();
        let owner = &same.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (
                owner.kind.as_str(),
                owner.name.as_str(),
                owner.uid.as_str(),
                owner.controller
            ),
            ("SriovNetwork", "n", "1234", None)
        );
        net.spec.network_namespace = Some("other".into());
        assert_eq!(
            sriov_network(&net, "p").unwrap().metadata.owner_references,
            None
        );
    }
}
