//! The table of supported NIC models: PCI vendor, PF device and VF device IDs.
//!
//! The webhook refuses policies for NICs outside the table (unless in dev mode), discovery
//! reports only these models, and the device-plugin configuration looks up a PF's VF device
//! ID here. The built-in table is upstream's `supported-nic-ids` list plus the NICs of our
//! mission document; a cluster replaces it with a ConfigMap of the same shape, each value
//! `"<vendor> <pf device> <vf device>"` (for example `"8086 1592 1889"`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;

use crate::error::{Error, Result};

/// One supported NIC model.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NicModel {
    /// Human-readable name (the ConfigMap key).
    pub name: String,
    /// PCI vendor ID, 4 lower-case hex digits.
    pub vendor: String,
    /// PCI device ID of the physical function.
    pub pf_device: String,
    /// PCI device ID of its virtual functions.
    pub vf_device: String,
}

/// The set of supported NIC models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportedNics {
    models: Vec<NicModel>,
}

/// Name of the ConfigMap holding the table in the operator namespace.
pub const CONFIG_MAP_NAME: &str = "supported-nic-ids";

/// The built-in table: `(name, vendor, PF device, VF device)`.
const BUILT_IN: &[(&str, &str, &str, &str)] = &[
    ("Intel_i40e_XXV710", "8086", "158a", "154c"),
    ("Intel_i40e_25G_SFP28", "8086", "158b", "154c"),
    ("Intel_i40e_10G_X710_SFP", "8086", "1572", "154c"),
    ("Intel_ixgbe_10G_X550", "8086", "1563", "1565"),
    ("Intel_ixgbe_82576", "8086", "10c9", "10ca"),
    ("Intel_i40e_X710_X557_AT_10G", "8086", "1589", "154c"),
    ("Intel_i40e_10G_X710_BACKPLANE", "8086", "1581", "154c"),
    ("Intel_i40e_10G_X710_BASE_T", "8086", "15ff", "154c"),
    ("Intel_i40e_XXV710_N3000", "8086", "0d58", "154c"),
    ("Intel_i40e_40G_XL710_QSFP", "8086", "1583", "154c"),
    (
        "Intel_ice_Columbiaville_E810-CQDA2_2CQDA2",
        "8086",
        "1592",
        "1889",
    ),
    (
        "Intel_ice_Columbiaville_E810-XXVDA4",
        "8086",
        "1593",
        "1889",
    ),
    (
        "Intel_ice_Columbiaville_E810-XXVDA2",
        "8086",
        "159b",
        "1889",
    ),
    (
        "Intel_ice_Columbiaville_E810-XXV_BACKPLANE",
        "8086",
        "1599",
        "1889",
    ),
    ("Intel_ice_Columbiaville_E810", "8086", "1591", "1889"),
    ("Intel_ice_Columbiapark_E823C", "8086", "188a", "1889"),
    ("Intel_ice_Columbiapark_E823L_SFP", "8086", "124d", "1889"),
    (
        "Intel_ice_Columbiapark_E823L_BACKPLANE",
        "8086",
        "124c",
        "1889",
    ),
    (
        "Intel_ice_Columbiapark_E825C_BACKPLANE",
        "8086",
        "579c",
        "1889",
    ),
    ("Intel_ice_Columbiapark_E825C_QSFP", "8086", "579d", "1889"),
    ("Intel_ice_Columbiapark_E825C_SFP", "8086", "579e", "1889"),
    ("Intel_ice_Connorsville_E830_QSFP", "8086", "12d2", "1889"),
    ("Intel_ice_Connorsville_E830_SFP", "8086", "12d3", "1889"),
    ("Intel_ice_Connorsville_E835CC_QSFP", "8086", "1249", "1889"),
    ("Intel_ice_Connorsville_E835CC_SFP", "8086", "124a", "1889"),
    ("Nvidia_mlx5_ConnectX-4", "15b3", "1013", "1014"),
    ("Nvidia_mlx5_ConnectX-4LX", "15b3", "1015", "1016"),
    ("Nvidia_mlx5_ConnectX-5", "15b3", "1017", "1018"),
    ("Nvidia_mlx5_ConnectX-5_Ex", "15b3", "1019", "101a"),
    ("Nvidia_mlx5_ConnectX-6", "15b3", "101b", "101c"),
    ("Nvidia_mlx5_ConnectX-6_Dx", "15b3", "101d", "101e"),
    ("Nvidia_mlx5_ConnectX-6_Lx", "15b3", "101f", "101e"),
    ("Nvidia_mlx5_ConnectX-7", "15b3", "1021", "101e"),
    ("Nvidia_mlx5_ConnectX-8", "15b3", "1023", "101e"),
    (
        "Nvidia_mlx5_MT42822_BlueField-2_integrated_ConnectX-6_Dx",
        "15b3",
        "a2d6",
        "101e",
    ),
    (
        "Nvidia_mlx5_MT43244_BlueField-3_integrated_ConnectX-7_Dx",
        "15b3",
        "a2dc",
        "101e",
    ),
    ("Broadcom_bnxt_BCM57414_2x25G", "14e4", "16d7", "16dc"),
    ("Broadcom_bnxt_BCM57508_2x100G", "14e4", "1750", "1806"),
    ("Qlogic_qede_QL45000_50G", "1077", "1654", "1664"),
    ("Red_Hat_Virtio_network_device", "1af4", "1000", "1000"),
    ("Red_Hat_Virtio_1_0_network_device", "1af4", "1041", "1041"),
    ("Marvell_OCTEON_TX2_CN96XX", "177d", "b200", "b203"),
    ("Marvell_OCTEON_TX2_CN98XX", "177d", "b100", "b103"),
    ("Marvell_OCTEON_Fusion_CNF95XX", "177d", "b600", "b603"),
    ("Marvell_OCTEON10_CN10XXX", "177d", "b900", "b903"),
    ("Marvell_OCTEON_Fusion_CNF105XX", "177d", "ba00", "ba03"),
    ("Amazon_Elastic_Network_Adapter", "1d0f", "ec20", "ec20"),
];

impl Default for SupportedNics {
    /// The built-in table.
    fn default() -> Self {
        let models = BUILT_IN
            .iter()
            .map(|(name, vendor, pf, vf)| NicModel {
                name: (*name).to_owned(),
                vendor: (*vendor).to_owned(),
                pf_device: (*pf).to_owned(),
                vf_device: (*vf).to_owned(),
            })
            .collect();
        Self { models }
    }
}

fn hex_id(text: &str) -> Option<String> {
    (text.len() == 4 && text.bytes().all(|b| b.is_ascii_hexdigit())).then(|| text.to_lowercase())
}

impl SupportedNics {
    /// Builds a table from `name → "<vendor> <pf device> <vf device>"` entries.
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut models = Vec::new();
        for (name, value) in entries {
            let ids: Vec<Option<String>> = value.split_whitespace().map(hex_id).collect();
            let [Some(vendor), Some(pf_device), Some(vf_device)] =
                <[_; 3]>::try_from(ids).unwrap_or([None, None, None])
            else {
                return Err(Error::SupportedNic {
                    entry: name.to_owned(),
                    value: value.to_owned(),
                });
            };
            models.push(NicModel {
                name: name.to_owned(),
                vendor,
                pf_device,
                vf_device,
            });
        }
        Ok(Self { models })
    }

    /// Builds the table from a `supported-nic-ids` ConfigMap (its `data`).
    pub fn from_config_map(config_map: &ConfigMap) -> Result<Self> {
        let empty = BTreeMap::new();
        let data = config_map.data.as_ref().unwrap_or(&empty);
        Self::from_entries(data.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Every model, in table order.
    pub fn models(&self) -> &[NicModel] {
        &self.models
    }

    /// Whether some model has this vendor ID.
    pub fn has_vendor(&self, vendor: &str) -> bool {
        self.models.iter().any(|m| m.vendor == vendor)
    }

    /// Whether some model has this PF device ID (any vendor).
    pub fn has_pf_device(&self, device: &str) -> bool {
        self.models.iter().any(|m| m.pf_device == device)
    }

    /// Whether `(vendor, device)` is a supported PF.
    pub fn is_supported_pf(&self, vendor: &str, device: &str) -> bool {
        self.models
            .iter()
            .any(|m| m.vendor == vendor && m.pf_device == device)
    }

    /// Whether `(vendor, device)` is a supported VF (virtual platforms expose VFs only).
    pub fn is_supported_vf(&self, vendor: &str, device: &str) -> bool {
        self.models
            .iter()
            .any(|m| m.vendor == vendor && m.vf_device == device)
    }

    /// Every VF device ID in the table, each once, in numeric order (what the
    /// NetworkManager udev rule matches).
    pub fn vf_devices(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.models.iter().map(|m| m.vf_device.as_str()).collect();
        ids.sort_by_key(|id| (u32::from_str_radix(id, 16).unwrap_or(u32::MAX), *id));
        ids.dedup();
        ids
    }

    /// The VF device ID of the first model with this PF device ID.
    pub fn vf_device_of(&self, pf_device: &str) -> Option<&str> {
        self.models
            .iter()
            .find(|m| m.pf_device == pf_device)
            .map(|m| m.vf_device.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_table_has_every_nic_of_the_mission_document() {
        let nics = SupportedNics::default();
        for (vendor, pf) in [
            ("8086", "1572"),
            ("8086", "1583"),
            ("8086", "1592"),
            ("8086", "1593"),
            ("15b3", "1015"),
            ("15b3", "1017"),
            ("15b3", "101d"),
            ("14e4", "16d7"),
            ("14e4", "1750"),
        ] {
            assert!(nics.is_supported_pf(vendor, pf), "{vendor}:{pf}");
        }
        assert_eq!(nics.vf_device_of("1592"), Some("1889"));
        assert_eq!(nics.vf_device_of("101d"), Some("101e"));
        assert!(nics.is_supported_vf("15b3", "101e"));
        assert!(!nics.is_supported_pf("8086", "1528"));
    }

    #[test]
    fn a_config_map_replaces_the_table_and_bad_entries_are_named() {
        let nics = SupportedNics::from_entries([("Lab_NIC", "8086 1528 1515")]).unwrap();
        assert!(nics.is_supported_pf("8086", "1528"));
        assert!(!nics.is_supported_pf("8086", "1592"));
        let err = SupportedNics::from_entries([("Broken", "8086 1528")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "supported-nic-ids entry Broken: \"8086 1528\" is not \"<vendor> <pf device> <vf device>\" in 4-digit hex"
        );
        assert!(SupportedNics::from_entries([("X", "8086 15288 1515")]).is_err());
    }
}
