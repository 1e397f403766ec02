//! The spec and status a plan reads, resolved once into typed values before any decision
//! is made: a malformed PCI address, VF range, e-switch mode, interface name or VF index is
//! an error naming the PF and the field, never a value some later step skips or re-parses.

use super::*;

/// One `spec.interfaces` entry of a NodeState, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct PfSpec<'a> {
    /// The entry as written (what the daemon records once it is applied).
    pub entry: &'a Interface,
    /// The PF's address.
    pub pci: PciAddress,
    /// The PF's netdev name, when the entry names it.
    pub name: Option<IfName>,
    /// VFs wanted.
    pub num_vfs: u16,
    /// PF MTU wanted (only ever raised); `None` when unset or not positive.
    pub mtu: Option<u32>,
    /// E-switch mode wanted (absent means legacy).
    pub eswitch: ESwitchMode,
    /// Whether the entry asks for InfiniBand.
    pub infiniband: bool,
    /// Whether the PF and its VFs are created outside the operator: it is checked, never
    /// changed or reset.
    pub externally_managed: bool,
    /// The VF groups, in the entry's order.
    pub groups: Vec<GroupSpec>,
}

/// One `vfGroups` entry, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSpec {
    /// The VFs it covers.
    pub range: VfRange,
    /// The driver its VFs are bound to (`deviceType`: `netdevice` is the default driver).
    pub driver: VfDriver,
    /// VF MTU; `None` when unset or not positive.
    pub mtu: Option<u32>,
    /// Whether the VFs expose RDMA devices.
    pub rdma: bool,
    /// The vDPA type, empty when none.
    pub vdpa_type: String,
}

fn field_error(pf: &str, field: &str, reason: impl fmt::Display) -> Error {
    plan_error(pf, format!("{field}: {reason}"))
}

fn positive(value: Option<i32>) -> Option<u32> {
    value.filter(|v| *v > 0).map(i32::unsigned_abs)
}

fn eswitch(pf: &str, field: &str, value: Option<&str>) -> Result<ESwitchMode> {
    ESwitchMode::from_state(value).ok_or_else(|| {
        field_error(
            pf,
            field,
            format!(
                "{:?} is neither legacy nor switchdev",
                value.unwrap_or_default()
            ),
        )
    })
}

fn if_name(pf: &str, field: &str, value: Option<&str>) -> Result<Option<IfName>> {
    match value.filter(|n| !n.is_empty()) {
        None => Ok(None),
        Some(name) => name
            .parse()
            .map(Some)
            .map_err(|e| field_error(pf, field, e)),
    }
}

impl<'a> PfSpec<'a> {
    /// Resolves one spec entry.
    ///
    /// Errors name the PF and the field: a malformed `pciAddress`, `name`, `eSwitchMode`
    /// or `vfGroups[i].vfRange`, or a `numVfs` that is not a VF count.
    pub fn resolve(entry: &'a Interface) -> Result<Self> {
        let raw = entry.pci_address.as_str();
        let pci: PciAddress = raw.parse().map_err(|e| field_error(raw, "pciAddress", e))?;
        let num_vfs = entry.num_vfs.unwrap_or(0);
        let num_vfs = u16::try_from(num_vfs)
            .map_err(|_| field_error(raw, "numVfs", format!("{num_vfs} is not a VF count")))?;
        let eswitch = eswitch(raw, "eSwitchMode", entry.e_switch_mode.as_deref())?;
        let groups = entry
            .vf_groups
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, group)| {
                let field = format!("vfGroups[{i}].vfRange");
                let range = group
                    .vf_range
                    .as_deref()
                    .ok_or_else(|| field_error(raw, &field, "missing"))?
                    .parse::<VfRange>()
                    .map_err(|e| field_error(raw, &field, e))?;
                let driver = match group.device_type.as_deref() {
                    None | Some("netdevice") => VfDriver::Default,
                    Some(other) => VfDriver::Named(other.to_owned()),
                };
                Ok(GroupSpec {
                    range,
                    driver,
                    mtu: positive(group.mtu),
                    rdma: group.is_rdma == Some(true),
                    vdpa_type: group.vdpa_type.clone().unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            entry,
            pci,
            name: if_name(raw, "name", entry.name.as_deref())?,
            num_vfs,
            mtu: positive(entry.mtu),
            eswitch,
            infiniband: is_ib(entry.link_type.as_deref()),
            externally_managed: entry.externally_managed == Some(true),
            groups,
        })
    }

    /// The first group whose range holds VF `index`: VFs outside every group are left
    /// alone.
    pub fn group_of(&self, index: VfIndex) -> Option<&GroupSpec> {
        self.groups.iter().find(|g| g.range.contains(index.get()))
    }
}

/// One `status.interfaces` entry (a discovered PF), resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct PfStatus<'a> {
    /// The entry as discovered.
    pub entry: &'a InterfaceExt,
    /// The PF's address.
    pub pci: PciAddress,
    /// The PF's netdev name.
    pub name: Option<IfName>,
    /// VFs it has now.
    pub num_vfs: u16,
    /// Its MTU now (0 when unknown).
    pub mtu: u32,
    /// Its e-switch mode now.
    pub eswitch: ESwitchMode,
    /// Whether it is an InfiniBand port.
    pub infiniband: bool,
    /// Whether it is administratively down.
    pub down: bool,
    /// Its port GUID: the last 8 bytes of its 20-byte IPoIB hardware address.
    pub guid: Option<Guid>,
    /// Its VFs.
    pub vfs: Vec<VfStatus<'a>>,
}

/// One discovered VF, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct VfStatus<'a> {
    /// The entry as discovered.
    pub entry: &'a VirtualFunction,
    /// Its index on the PF.
    pub index: VfIndex,
    /// Its InfiniBand GUID, when it has a readable one.
    pub guid: Option<Guid>,
}

impl<'a> PfStatus<'a> {
    /// Resolves one discovered PF. Errors name the PF and the field: a malformed
    /// `pciAddress`, `name` or `eSwitchMode`, a negative VF count or a VF whose `vfID` is
    /// not an index.
    pub fn resolve(entry: &'a InterfaceExt) -> Result<Self> {
        let raw = entry.pci_address.as_str();
        let pci: PciAddress = raw
            .parse()
            .map_err(|e| field_error(raw, "status pciAddress", e))?;
        let num_vfs = entry.num_vfs.unwrap_or(0);
        let num_vfs = u16::try_from(num_vfs).map_err(|_| {
            field_error(raw, "status numVfs", format!("{num_vfs} is not a VF count"))
        })?;
        let eswitch = eswitch(raw, "status eSwitchMode", entry.e_switch_mode.as_deref())?;
        let vfs = entry
            .vfs
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, vf)| {
                let index = VfIndex::try_from(vf.vf_id).map_err(|_| {
                    field_error(
                        raw,
                        &format!("status Vfs[{i}].vfID"),
                        format!("{} is not a VF index", vf.vf_id),
                    )
                })?;
                Ok(VfStatus {
                    entry: vf,
                    index,
                    guid: vf.guid.as_deref().and_then(|g| g.parse().ok()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            entry,
            pci,
            name: if_name(raw, "status name", entry.name.as_deref())?,
            num_vfs,
            mtu: entry.mtu.map_or(0, |m| u32::try_from(m).unwrap_or(0)),
            eswitch,
            infiniband: is_ib(entry.link_type.as_deref()),
            down: entry.link_admin_state.as_deref() == Some("down"),
            guid: entry
                .mac
                .as_deref()
                .filter(|m| m.len() == 59)
                .and_then(|m| m.get(36..))
                .and_then(|g| g.parse().ok()),
            vfs,
        })
    }

    /// The VF with index `index`, when discovered.
    pub fn vf(&self, index: VfIndex) -> Option<&VfStatus<'a>> {
        self.vfs.iter().find(|v| v.index == index)
    }
}
