//! What `Allocate` hands a container, compatible with upstream byte for byte where users
//! read it: the `PCIDEVICE_<PREFIX>_<NAME>` and `…_INFO` environment variables, device
//! specs (vfio, uio, RDMA, vhost-net + tun, vhost-vdpa; de-duplicated), device-info files
//! for Multus, and CDI specs and annotations. Also the NUMA- and PF-aware preferred
//! allocation upstream leaves unimplemented.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::config::DeviceKind;
use crate::resource_pool::{Member, ResourcePool};

/// A device node for the container.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeviceNode {
    /// Path inside the container.
    pub container_path: String,
    /// Path on the host.
    pub host_path: String,
    /// Cgroup permissions (`rw`).
    pub permissions: String,
}

/// One container's allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allocation {
    /// Environment variables.
    pub envs: BTreeMap<String, String>,
    /// Device nodes (none in CDI mode).
    pub devices: Vec<DeviceNode>,
    /// Container annotations (CDI mode).
    pub annotations: BTreeMap<String, String>,
}

/// Why an allocation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocateError {
    /// The kubelet asked for a device this pool does not have.
    #[error("device {id:?} is not in pool {pool} (it has {known} devices)")]
    UnknownDevice {
        /// The ID asked for.
        id: String,
        /// The pool.
        pool: String,
        /// How many it has.
        known: usize,
    },
    /// A device-info file could not be written.
    #[error("device-info file {path}: {reason}")]
    DeviceInfo {
        /// The file.
        path: String,
        /// The OS error.
        reason: String,
    },
}

/// `PCIDEVICE_<PREFIX>_<NAME>`: dots become `_`, upper-cased (a hyphen stays, as upstream).
pub fn env_name(prefix: &str, name: &str) -> String {
    format!("PCIDEVICE_{prefix}_{name}")
        .replace('.', "_")
        .to_uppercase()
}

fn node(path: &str) -> DeviceNode {
    DeviceNode {
        container_path: path.to_owned(),
        host_path: path.to_owned(),
        permissions: "rw".to_owned(),
    }
}

fn uses_uio(driver: &str) -> bool {
    matches!(driver, "uio" | "igb_uio" | "uio_pci_generic")
}

/// The device nodes one member needs.
pub fn device_nodes(pool: &ResourcePool, member: &Member, vhost_net: bool) -> Vec<DeviceNode> {
    let d = &member.device;
    let selector = pool.config.selectors.get(member.selector);
    let mut out = Vec::new();
    if d.is_vfio()
        && let Some(group) = &d.iommu_group
    {
        out.push(node("/dev/vfio/vfio"));
        if d.noiommu {
            out.push(DeviceNode {
                container_path: format!("/dev/vfio/{group}"),
                host_path: format!("/dev/vfio/noiommu-{group}"),
                permissions: "rw".to_owned(),
            });
        } else {
            out.push(node(&format!("/dev/vfio/{group}")));
        }
    }
    if uses_uio(&d.driver)
        && let Some(uio) = &d.uio
    {
        out.push(node(uio));
    }
    if selector.is_some_and(|s| s.is_rdma) {
        out.extend(d.rdma.char_devices.iter().map(|c| node(c)));
    }
    if selector.is_some_and(|s| s.need_vhost_net) && vhost_net {
        out.push(node("/dev/vhost-net"));
        out.push(node("/dev/net/tun"));
    }
    if let Some(vdpa) = &d.vdpa
        && vdpa.kind == "vhost"
        && let Some(path) = &vdpa.path
    {
        out.push(node(path));
    }
    out
}

/// The `_INFO` providers of one member.
pub fn info(pool: &ResourcePool, member: &Member, vhost_net: bool) -> Value {
    let d = &member.device;
    let selector = pool.config.selectors.get(member.selector);
    let mut providers = BTreeMap::new();
    providers.insert("generic", json!({"deviceID": d.id}));
    if d.is_vfio()
        && let Some(group) = &d.iommu_group
    {
        providers.insert(
            "vfio",
            json!({"dev-mount": format!("/dev/vfio/{group}"), "mount": "/dev/vfio/vfio"}),
        );
    }
    if uses_uio(&d.driver)
        && let Some(uio) = &d.uio
    {
        providers.insert("uio", json!({"mount": uio}));
    }
    if selector.is_some_and(|s| s.is_rdma) && !d.rdma.devices.is_empty() {
        let mut rdma = serde_json::Map::new();
        for dev in &d.rdma.char_devices {
            let base = dev.rsplit('/').next().unwrap_or_default();
            let key = base.trim_end_matches(|c: char| c.is_ascii_digit());
            rdma.insert(key.to_owned(), json!(dev));
        }
        rdma.insert("rdma_dev".to_owned(), json!(d.rdma.devices.join(",")));
        let sorted: BTreeMap<String, Value> = rdma.into_iter().collect();
        providers.insert("rdma", json!(sorted));
    }
    if selector.is_some_and(|s| s.need_vhost_net) && vhost_net {
        providers.insert(
            "vhost",
            json!({"net-mount": "/dev/vhost-net", "tun-mount": "/dev/net/tun"}),
        );
    }
    if let Some(vdpa) = &d.vdpa
        && let Some(path) = &vdpa.path
    {
        providers.insert("vdpa", json!({"mount": path}));
    }
    let mut extra: BTreeMap<String, String> = BTreeMap::new();
    if let Some(all) = pool.config.additional_info.get("*") {
        extra.extend(all.clone());
    }
    if let Some(own) = pool.config.additional_info.get(&d.id) {
        extra.extend(own.clone());
    }
    if !extra.is_empty() {
        providers.insert("extra", json!(extra));
    }
    json!(providers)
}

/// The CDI kind of a pool: `<prefix>/<resourceName>`, unique per pool (upstream uses
/// `<prefix>/net-pci` for every netDevice pool, so two pools of one prefix in one
/// container collide, its issue #731).
pub fn cdi_kind(pool: &ResourcePool) -> String {
    pool.resource_name()
}

/// The CDI annotation key of a pool.
pub fn cdi_annotation_key(pool: &ResourcePool) -> String {
    format!(
        "cdi.k8s.io/{}_{}",
        pool.config.prefix.replace('/', "_"),
        pool.config.name
    )
}

/// One container's allocation of `ids` from `pool`.
pub fn allocate(
    pool: &ResourcePool,
    ids: &[String],
    vhost_net: bool,
    use_cdi: bool,
) -> Result<Allocation, AllocateError> {
    let mut members = Vec::with_capacity(ids.len());
    for id in ids {
        members.push(
            pool.members
                .get(id)
                .ok_or_else(|| AllocateError::UnknownDevice {
                    id: id.clone(),
                    pool: pool.resource_name(),
                    known: pool.members.len(),
                })?,
        );
    }
    let name = env_name(&pool.config.prefix, &pool.config.name);
    let mut envs = BTreeMap::new();
    envs.insert(name.clone(), ids.join(","));
    let infos: BTreeMap<&str, Value> = members
        .iter()
        .map(|m| (m.device.id.as_str(), info(pool, m, vhost_net)))
        .collect();
    envs.insert(format!("{name}_INFO"), json!(infos).to_string());
    let mut allocation = Allocation {
        envs,
        ..Allocation::default()
    };
    if use_cdi {
        let kind = cdi_kind(pool);
        let value = ids
            .iter()
            .map(|id| format!("{kind}={id}"))
            .collect::<Vec<_>>()
            .join(",");
        allocation
            .annotations
            .insert(cdi_annotation_key(pool), value);
    } else {
        let mut seen = BTreeSet::new();
        for m in members {
            for n in device_nodes(pool, m, vhost_net) {
                if seen.insert(n.host_path.clone()) {
                    allocation.devices.push(n);
                }
            }
        }
    }
    Ok(allocation)
}

/// The device-info file of a device (netDevice pools only).
pub fn device_info_path(dir: &Path, pool: &ResourcePool, id: &str) -> PathBuf {
    dir.join(format!(
        "{}-{}-device.json",
        pool.resource_name().replace('/', "-"),
        id.replace('/', "-")
    ))
}

/// The device-info document Multus copies into the pod's network status.
pub fn device_info(member: &Member) -> Value {
    let d = &member.device;
    if let Some(vdpa) = &d.vdpa {
        let mut v = serde_json::Map::new();
        v.insert("parent-device".into(), json!(vdpa.name));
        v.insert("driver".into(), json!(vdpa.kind));
        if let Some(path) = &vdpa.path {
            v.insert("path".into(), json!(path));
        }
        v.insert("pci-address".into(), json!(d.pci));
        return json!({"type": "vdpa", "version": "1.1.0", "vdpa": v});
    }
    let mut pci = serde_json::Map::new();
    pci.insert("pci-address".into(), json!(d.pci));
    if let Some((pf, _)) = &d.pf {
        pci.insert("pf-pci-address".into(), json!(pf));
    }
    if !d.rdma.devices.is_empty() {
        pci.insert("rdma-device".into(), json!(d.rdma.devices.join(",")));
    }
    json!({"type": "pci", "version": "1.1.0", "pci": pci})
}

/// Writes the device-info files of `ids` (replacing old ones, mode 0444).
pub fn write_device_info(
    dir: &Path,
    pool: &ResourcePool,
    ids: &[String],
) -> Result<(), AllocateError> {
    if pool.config.device_type != DeviceKind::NetDevice {
        return Ok(());
    }
    use std::os::unix::fs::PermissionsExt;
    let fail = |path: &Path, e: std::io::Error| AllocateError::DeviceInfo {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    for id in ids {
        let Some(member) = pool.members.get(id) else {
            continue;
        };
        let path = device_info_path(dir, pool, id);
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, device_info(member).to_string()).map_err(|e| fail(&path, e))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444))
            .map_err(|e| fail(&path, e))?;
    }
    Ok(())
}

/// Removes every device-info file of a pool.
pub fn clear_device_info(dir: &Path, pool: &ResourcePool) {
    let prefix = format!("{}-", pool.resource_name().replace('/', "-"));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) && name.ends_with("-device.json") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// The CDI spec of a pool (JSON, `cdiVersion` 0.5.0): one device per member with its nodes.
pub fn cdi_spec(pool: &ResourcePool, vhost_net: bool) -> Value {
    let devices: Vec<Value> = pool
        .members
        .values()
        .map(|m| {
            let nodes: Vec<Value> = device_nodes(pool, m, vhost_net)
                .into_iter()
                .map(|n| json!({"path": n.container_path, "hostPath": n.host_path, "permissions": n.permissions}))
                .collect();
            json!({"name": m.device.id, "containerEdits": {"deviceNodes": nodes}})
        })
        .collect();
    json!({"cdiVersion": "0.5.0", "kind": cdi_kind(pool), "devices": devices})
}

/// The CDI spec file of a pool.
pub fn cdi_spec_path(dir: &Path, pool: &ResourcePool) -> PathBuf {
    dir.join(format!(
        "sriov-dp-{}-{}.json",
        pool.config.prefix.replace('/', "_"),
        pool.config.name
    ))
}

/// A preferred allocation of `size` devices from `available`, including `must`: on one NUMA
/// node when one can hold them all (the node of the required devices first, else the one
/// with most free devices), then spread across PFs so one PF's failure hurts least.
pub fn preferred(
    pool: &ResourcePool,
    available: &[String],
    must: &[String],
    size: usize,
) -> Vec<String> {
    let mut chosen: Vec<String> = must.iter().take(size).cloned().collect();
    let numa_of = |id: &str| pool.members.get(id).and_then(|m| m.device.numa);
    let pf_of = |id: &str| {
        pool.members
            .get(id)
            .and_then(|m| m.device.pf.as_ref().map(|(a, _)| a.clone()))
            .unwrap_or_default()
    };
    let healthy = |id: &&String| {
        pool.members
            .get(id.as_str())
            .is_some_and(|m| m.unhealthy.is_none())
    };
    let mut free: Vec<&String> = available
        .iter()
        .filter(|id| !chosen.contains(id))
        .filter(healthy)
        .collect();
    free.sort();
    let needed = size.saturating_sub(chosen.len());
    if needed == 0 {
        return chosen;
    }
    let mut by_numa: BTreeMap<Option<i64>, Vec<&String>> = BTreeMap::new();
    for id in &free {
        by_numa.entry(numa_of(id)).or_default().push(id);
    }
    let wanted_node = chosen.first().map(|id| numa_of(id));
    let mut nodes: Vec<(Option<i64>, Vec<&String>)> = by_numa.into_iter().collect();
    nodes.sort_by_key(|(n, list)| {
        (
            wanted_node.is_some_and(|w| w != *n),
            list.len() < needed,
            std::cmp::Reverse(list.len()),
            *n,
        )
    });
    // Stay on the best node when it holds enough; otherwise take nodes in that order.
    let fits = nodes.first().is_some_and(|(_, list)| list.len() >= needed);
    let pool_for_spread: Vec<&String> = nodes
        .into_iter()
        .take(if fits { 1 } else { usize::MAX })
        .flat_map(|(_, list)| list)
        .collect();
    // Round-robin across PFs.
    let mut queues: BTreeMap<String, std::collections::VecDeque<&String>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for id in pool_for_spread {
        let pf = pf_of(id);
        if !queues.contains_key(&pf) {
            order.push(pf.clone());
        }
        queues.entry(pf).or_default().push_back(id);
    }
    while chosen.len() < size {
        let mut progressed = false;
        for pf in &order {
            if chosen.len() >= size {
                break;
            }
            if let Some(id) = queues.get_mut(pf).and_then(|q| q.pop_front()) {
                chosen.push(id.clone());
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::device::{HostDevice, Inventory, Rdma, Vdpa};
    use crate::resource_pool::assign;

    fn device(id: &str, driver: &str, pf: &str, numa: i64) -> HostDevice {
        let mut d = crate::device::example(id, driver, 0);
        (d.vendor, d.device) = ("15b3".into(), "101e".into());
        d.numa = Some(numa);
        d.iommu_group = Some("169".into());
        d.pf = Some((pf.into(), Some("p".into())));
        d
    }

    fn pool(config: &str, devices: Vec<HostDevice>) -> ResourcePool {
        let config = Config::parse(config, "intel.com").unwrap();
        assign(
            &config,
            &Inventory {
                devices,
                vhost_net: true,
            },
        )
        .remove(0)
    }

    #[test]
    fn vfio_allocation_matches_upstreams_envs_and_specs() {
        let p = pool(
            r#"{"resourceList":[{"resourceName":"intel_sriov_dpdk","selectors":{"drivers":["vfio-pci"]}}]}"#,
            vec![device("0000:3b:02.6", "vfio-pci", "0000:3b:00.0", 0)],
        );
        let a = allocate(&p, &["0000:3b:02.6".into()], true, false).unwrap();
        assert_eq!(
            a.envs["PCIDEVICE_INTEL_COM_INTEL_SRIOV_DPDK"],
            "0000:3b:02.6"
        );
        assert_eq!(
            a.envs["PCIDEVICE_INTEL_COM_INTEL_SRIOV_DPDK_INFO"],
            r#"{"0000:3b:02.6":{"generic":{"deviceID":"0000:3b:02.6"},"vfio":{"dev-mount":"/dev/vfio/169","mount":"/dev/vfio/vfio"}}}"#
        );
        let paths: Vec<&str> = a.devices.iter().map(|d| d.host_path.as_str()).collect();
        assert_eq!(paths, ["/dev/vfio/vfio", "/dev/vfio/169"]);
        assert!(a.devices.iter().all(|d| d.permissions == "rw"));
        let err = allocate(&p, &["0000:99:00.0".into()], true, false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "device \"0000:99:00.0\" is not in pool intel.com/intel_sriov_dpdk (it has 1 devices)"
        );
        assert_eq!(
            env_name("intel.com", "sriov-net"),
            "PCIDEVICE_INTEL_COM_SRIOV-NET"
        );
    }

    #[test]
    fn rdma_vhost_vdpa_and_extra_providers_and_deduplicated_specs() {
        let mut a0 = device("0000:3b:02.0", "mlx5_core", "0000:3b:00.0", 0);
        a0.rdma = Rdma {
            devices: vec!["mlx5_3".into()],
            char_devices: vec![
                "/dev/infiniband/uverbs3".into(),
                "/dev/infiniband/umad3".into(),
                "/dev/infiniband/issm3".into(),
                "/dev/infiniband/rdma_cm".into(),
            ],
        };
        let mut a1 = a0.clone();
        a1.id = "0000:3b:02.1".into();
        a1.pci = a1.id.clone();
        a1.rdma.devices = vec!["mlx5_4".into()];
        a1.rdma.char_devices[0] = "/dev/infiniband/uverbs4".into();
        let p = pool(
            r#"{"resourceList":[{"resourceName":"rdma","selectors":{"isRdma":true,"needVhostNet":true},"additionalInfo":{"*":{"k":"all"},"0000:3b:02.1":{"k":"own"}}}]}"#,
            vec![a0, a1],
        );
        let a = allocate(
            &p,
            &["0000:3b:02.0".into(), "0000:3b:02.1".into()],
            true,
            false,
        )
        .unwrap();
        let info: Value = serde_json::from_str(&a.envs["PCIDEVICE_INTEL_COM_RDMA_INFO"]).unwrap();
        assert_eq!(
            info["0000:3b:02.0"]["rdma"]["uverbs"],
            "/dev/infiniband/uverbs3"
        );
        assert_eq!(info["0000:3b:02.0"]["rdma"]["rdma_dev"], "mlx5_3");
        assert_eq!(info["0000:3b:02.0"]["vhost"]["net-mount"], "/dev/vhost-net");
        assert_eq!(info["0000:3b:02.0"]["extra"]["k"], "all");
        assert_eq!(info["0000:3b:02.1"]["extra"]["k"], "own");
        let paths: Vec<&str> = a.devices.iter().map(|d| d.host_path.as_str()).collect();
        // rdma_cm, umad3, issm3, vhost-net and tun appear once although both devices use them.
        assert_eq!(
            paths
                .iter()
                .filter(|p| **p == "/dev/infiniband/rdma_cm")
                .count(),
            1
        );
        assert_eq!(paths.iter().filter(|p| **p == "/dev/vhost-net").count(), 1);
        assert!(paths.contains(&"/dev/infiniband/uverbs4"));

        let mut v = device("0000:65:00.2", "mlx5_core", "0000:65:00.0", 0);
        v.vdpa = Some(Vdpa {
            name: "vdpa:0000:65:00.2".into(),
            kind: "vhost".into(),
            path: Some("/dev/vhost-vdpa-1".into()),
        });
        let p = pool(
            r#"{"resourceList":[{"resourceName":"vdpa","selectors":{"vdpaType":"vhost"}}]}"#,
            vec![v],
        );
        let a = allocate(&p, &["0000:65:00.2".into()], false, false).unwrap();
        assert_eq!(a.devices[0].host_path, "/dev/vhost-vdpa-1");
        let member = &p.members["0000:65:00.2"];
        assert_eq!(
            device_info(member).to_string(),
            r#"{"type":"vdpa","version":"1.1.0","vdpa":{"parent-device":"vdpa:0000:65:00.2","driver":"vhost","path":"/dev/vhost-vdpa-1","pci-address":"0000:65:00.2"}}"#
        );
    }

    #[test]
    fn cdi_annotations_do_not_collide_between_pools_and_device_info_files_are_written() {
        let a = pool(
            r#"{"resourceList":[{"resourceName":"a","selectors":{"drivers":["vfio-pci"]}}]}"#,
            vec![device("0000:3b:02.6", "vfio-pci", "0000:3b:00.0", 0)],
        );
        let b = pool(
            r#"{"resourceList":[{"resourceName":"b","selectors":{"drivers":["vfio-pci"]}}]}"#,
            vec![device("0000:3b:02.7", "vfio-pci", "0000:3b:00.0", 0)],
        );
        let x = allocate(&a, &["0000:3b:02.6".into()], false, true).unwrap();
        let y = allocate(&b, &["0000:3b:02.7".into()], false, true).unwrap();
        assert!(x.devices.is_empty());
        assert_eq!(
            x.annotations["cdi.k8s.io/intel.com_a"],
            "intel.com/a=0000:3b:02.6"
        );
        assert_ne!(x.annotations.keys().next(), y.annotations.keys().next());
        let spec = cdi_spec(&a, false);
        assert_eq!(spec["kind"], "intel.com/a");
        assert_eq!(
            spec["devices"][0]["containerEdits"]["deviceNodes"][1]["hostPath"],
            "/dev/vfio/169"
        );

        let dir = tempfile::tempdir().unwrap();
        write_device_info(dir.path(), &a, &["0000:3b:02.6".into()]).unwrap();
        let path = dir.path().join("intel.com-a-0000:3b:02.6-device.json");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            r#"{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:3b:02.6","pf-pci-address":"0000:3b:00.0"}}"#
        );
        write_device_info(dir.path(), &a, &["0000:3b:02.6".into()]).unwrap();
        clear_device_info(dir.path(), &a);
        assert!(!path.exists());
    }

    #[test]
    fn preferred_allocation_stays_on_one_numa_node_and_spreads_over_pfs() {
        let p = pool(
            r#"{"resourceList":[{"resourceName":"n","selectors":{"vendors":["15b3"]}}]}"#,
            vec![
                device("0000:3b:02.0", "mlx5_core", "pfA", 0),
                device("0000:3b:02.1", "mlx5_core", "pfA", 0),
                device("0000:3b:02.2", "mlx5_core", "pfB", 0),
                device("0000:af:02.0", "mlx5_core", "pfC", 1),
                device("0000:af:02.1", "mlx5_core", "pfD", 1),
                device("0000:af:02.2", "mlx5_core", "pfD", 1),
            ],
        );
        let all: Vec<String> = p.members.keys().cloned().collect();
        // Two from node 0, one per PF.
        assert_eq!(
            preferred(&p, &all, &[], 2),
            ["0000:3b:02.0", "0000:3b:02.2"]
        );
        // A required device on node 1 pulls the rest there.
        assert_eq!(
            preferred(&p, &all, &["0000:af:02.1".into()], 2),
            ["0000:af:02.1", "0000:af:02.0"]
        );
        // More than one node holds: every device, nothing invented.
        let many = preferred(&p, &all, &[], 6);
        assert_eq!(many.len(), 6);
        assert_eq!(preferred(&p, &all, &[], 9).len(), 6);
    }
}
