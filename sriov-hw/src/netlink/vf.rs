//! The PF-side VF attributes (`IFLA_VFINFO_LIST`, `IFLA_VF_*`): reading every VF's state
//! from its PF and applying settings to one VF.

use super::*;

/// One VF as its PF reports it (`IFLA_VFINFO_LIST`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VfState {
    /// VF index.
    pub index: VfIndex,
    /// Administrative MAC (all zero when unset).
    pub mac: String,
    /// VLAN ID.
    pub vlan: u32,
    /// VLAN priority.
    pub qos: u32,
    /// VLAN protocol is 802.1ad (reported only by kernels sending the VLAN list).
    pub vlan_qinq: bool,
    /// Spoof checking.
    pub spoofchk: Option<bool>,
    /// Trust mode.
    pub trust: Option<bool>,
    /// Minimum and maximum transmit rate in Mb/s.
    pub rate: Option<(u32, u32)>,
    /// Link state: `auto`, `enable` or `disable`.
    pub link_state: Option<String>,
    /// InfiniBand node GUID, when the driver reports it.
    pub ib_node_guid: Option<u64>,
    /// InfiniBand port GUID, when the driver reports it.
    pub ib_port_guid: Option<u64>,
}

/// PF-side settings for one VF; `None` leaves a setting alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VfSettings {
    /// Administrative MAC, `aa:bb:cc:dd:ee:ff`.
    pub mac: Option<String>,
    /// VLAN ID and priority.
    pub vlan: Option<(u32, u32)>,
    /// VLAN protocol for [`Self::vlan`]: 802.1ad (QinQ) when true, 802.1Q otherwise.
    pub vlan_qinq: bool,
    /// Spoof checking.
    pub spoofchk: Option<bool>,
    /// Trust mode.
    pub trust: Option<bool>,
    /// Minimum and maximum transmit rate in Mb/s.
    pub rate: Option<(u32, u32)>,
    /// Link state: `auto`, `enable` or `disable`.
    pub link_state: Option<String>,
    /// InfiniBand GUID, set as both the node and the port GUID.
    pub ib_guid: Option<u64>,
}

impl Netlink {
    /// The VFs a PF reports.
    pub fn vf_states(&self, pf: &str) -> Result<Vec<VfState>> {
        let message = self.get(pf, true)?;
        let mut out = Vec::new();
        for attribute in &message.attributes {
            let LinkAttribute::VfInfoList(list) = attribute else {
                continue;
            };
            for LinkVfInfo(infos) in list {
                out.push(vf_state(infos));
            }
        }
        Ok(out)
    }

    /// Applies PF-side settings to VF `vf` of `pf`.
    pub fn set_vf(&self, pf: &str, vf: VfIndex, settings: &VfSettings) -> Result<()> {
        let infos = vf_infos(u32::from(vf), settings).map_err(|content| Error::Parse {
            path: format!("{pf} VF {vf}").into(),
            content,
            expected: "a MAC address aa:bb:cc:dd:ee:ff and a link state auto/enable/disable",
        })?;
        self.set(pf, "set VF", |m| {
            m.attributes
                .push(LinkAttribute::VfInfoList(vec![LinkVfInfo(infos)]))
        })
    }
}

/// The `IFLA_VF_*` attributes for `settings`; the error is the offending value.
pub fn vf_infos(vf: u32, settings: &VfSettings) -> std::result::Result<Vec<VfInfo>, String> {
    let mut infos = Vec::new();
    if let Some(mac) = &settings.mac {
        let bytes = parse_mac(mac).ok_or_else(|| mac.clone())?;
        infos.push(VfInfo::Mac(VfInfoMac::new(vf, &bytes)));
    }
    if let Some((vlan, qos)) = settings.vlan {
        if settings.vlan_qinq {
            // The protocol only travels in the VLAN list (IFLA_VF_VLAN_LIST).
            infos.push(VfInfo::VlanList(vec![VfVlan::Info(VfVlanInfo::new(
                vf,
                vlan,
                qos,
                VlanProtocol::Ieee8021Ad,
            ))]));
        } else {
            infos.push(VfInfo::Vlan(VfInfoVlan::new(vf, vlan, qos)));
        }
    }
    if let Some(on) = settings.spoofchk {
        infos.push(VfInfo::SpoofCheck(VfInfoSpoofCheck::new(vf, on)));
    }
    if let Some(on) = settings.trust {
        infos.push(VfInfo::Trust(VfInfoTrust::new(vf, on)));
    }
    if let Some((min, max)) = settings.rate {
        infos.push(VfInfo::Rate(VfInfoRate::new(vf, min, max)));
    }
    if let Some(state) = &settings.link_state {
        let state = match state.as_str() {
            "auto" => VfLinkState::Auto,
            "enable" => VfLinkState::Enable,
            "disable" => VfLinkState::Disable,
            other => return Err(other.to_owned()),
        };
        infos.push(VfInfo::LinkState(VfInfoLinkState::new(vf, state)));
    }
    if let Some(guid) = settings.ib_guid {
        infos.push(VfInfo::IbNodeGuid(VfInfoGuid::new(vf, guid)));
        infos.push(VfInfo::IbPortGuid(VfInfoGuid::new(vf, guid)));
    }
    Ok(infos)
}

/// Reads one `IFLA_VF_INFO` nest.
pub fn vf_state(infos: &[VfInfo]) -> VfState {
    let mut state = VfState::default();
    for info in infos {
        match info {
            VfInfo::Mac(m) => {
                // The kernel's VF IDs are `sriov_numvfs` indexes, which fit in 16 bits.
                if let Ok(index) = VfIndex::try_from(m.vf_id) {
                    state.index = index;
                }
                state.mac = mac_text(&m.mac[..6]);
            }
            VfInfo::Vlan(v) => (state.vlan, state.qos) = (v.vlan_id, v.qos),
            VfInfo::VlanList(list) => {
                for entry in list {
                    if let VfVlan::Info(v) = entry {
                        (state.vlan, state.qos) = (v.vlan_id, v.qos);
                        state.vlan_qinq = v.protocol == VlanProtocol::Ieee8021Ad;
                    }
                }
            }
            VfInfo::SpoofCheck(s) => state.spoofchk = Some(s.enabled),
            VfInfo::Trust(t) => state.trust = Some(t.enabled),
            VfInfo::Rate(r) => state.rate = Some((r.min_tx_rate, r.max_tx_rate)),
            VfInfo::IbNodeGuid(g) => state.ib_node_guid = Some(g.guid),
            VfInfo::IbPortGuid(g) => state.ib_port_guid = Some(g.guid),
            VfInfo::LinkState(l) => {
                state.link_state = Some(
                    match l.state {
                        VfLinkState::Auto => "auto",
                        VfLinkState::Enable => "enable",
                        VfLinkState::Disable => "disable",
                        _ => "unknown",
                    }
                    .to_owned(),
                );
            }
            _ => {}
        }
    }
    state
}
