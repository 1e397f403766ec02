//! The plugin's state on disk, in upstream's places and formats so an upgrade (or a
//! downgrade) finds what the other version wrote:
//!
//! - cache `<dir>/<containerID>-<ifname>`: the effective configuration plus the VF's
//!   original state (`OrigVfState`), as one flat JSON object (mode 0600). Unlike upstream it
//!   is written *before* the VF is touched (so a crash mid-ADD still leaves what DEL needs)
//!   and also records the DPDK mode and the pod's netns (keys upstream ignores);
//! - allocation `<dir>/pci/<pci>`: the netns path of the pod holding the VF;
//! - lock `<dir>/pci/vf_lock/<pci>.lock`: an exclusive `flock` serializing ADD and DEL of
//!   one VF, held until the process exits.
//!
//! `<dir>` is `/var/lib/cni/sriov`, or `SRIOV_CNI_STATE_DIR`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sriov_core::ids::VfIndex;

use crate::conf::{NetConf, VlanProto};
use crate::error::{CniError, Result, code};

/// Upstream's state directory.
pub const DEFAULT_DIR: &str = "/var/lib/cni/sriov";

/// How long ADD and DEL wait for another invocation holding the same VF.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(60);

fn state_err(op: &str, path: &Path, e: impl std::fmt::Display) -> CniError {
    CniError::new(code::STATE, format!("{op} {}: {e}", path.display()))
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

/// The VF's state before this plugin touched it (upstream's `OrigVfState`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrigVfState {
    /// Netdev name in the host namespace.
    #[serde(rename = "HostIFName")]
    pub host_ifname: String,
    /// Spoof checking.
    #[serde(rename = "SpoofChk")]
    pub spoofchk: bool,
    /// Trust.
    #[serde(rename = "Trust")]
    pub trust: bool,
    /// Administrative MAC on the PF.
    #[serde(rename = "AdminMAC")]
    pub admin_mac: String,
    /// The netdev's own MAC.
    #[serde(rename = "EffectiveMAC")]
    pub effective_mac: String,
    /// VLAN ID.
    #[serde(rename = "Vlan")]
    pub vlan: u32,
    /// VLAN priority.
    #[serde(rename = "VlanQoS")]
    pub vlan_qos: u32,
    /// VLAN protocol ethertype.
    #[serde(rename = "VlanProto")]
    pub vlan_proto: u16,
    /// Minimum transmit rate.
    #[serde(rename = "MinTxRate")]
    pub min_tx_rate: u32,
    /// Maximum transmit rate.
    #[serde(rename = "MaxTxRate")]
    pub max_tx_rate: u32,
    /// Link state: 0 auto, 1 enable, 2 disable.
    #[serde(rename = "LinkState")]
    pub link_state: u32,
    /// Netdev MTU.
    #[serde(rename = "MTU")]
    pub mtu: u32,
}

/// Link-state text ↔ upstream's number.
pub fn link_state_number(state: &str) -> u32 {
    match state {
        "enable" => 1,
        "disable" => 2,
        _ => 0,
    }
}

/// Upstream's number → link-state text.
pub fn link_state_text(number: u32) -> &'static str {
    match number {
        1 => "enable",
        2 => "disable",
        _ => "auto",
    }
}

/// What ADD records for DEL.
#[derive(Debug, Clone, PartialEq)]
pub struct Cache {
    /// VF PCI address.
    pub device_id: String,
    /// PF netdev name, when the PF is visible.
    pub master: Option<String>,
    /// VF index on the PF, when the PF is visible.
    pub vf_id: Option<VfIndex>,
    /// The MAC this plugin set ("" when none).
    pub mac: String,
    /// MTU reported in the result.
    pub mtu: u32,
    /// VLAN, when configured.
    pub vlan: Option<u32>,
    /// VLAN priority, when VLAN is configured.
    pub vlan_qos: Option<u32>,
    /// VLAN protocol, when VLAN is configured.
    pub vlan_proto: Option<VlanProto>,
    /// Spoof checking, when configured.
    pub spoofchk: Option<bool>,
    /// Trust, when configured.
    pub trust: Option<bool>,
    /// Link state, when configured.
    pub link_state: Option<String>,
    /// Minimum rate, when configured.
    pub min_tx_rate: Option<u32>,
    /// Maximum rate, when configured.
    pub max_tx_rate: Option<u32>,
    /// The original state.
    pub orig: OrigVfState,
    /// The VF was bound to a user-space driver (no netdev moved).
    pub dpdk: bool,
    /// The pod's netns path at ADD.
    pub netns: String,
    /// The configuration's other keys (upstream's flat layout).
    pub config: Map<String, Value>,
}

fn on_off(v: Option<bool>) -> Option<&'static str> {
    v.map(|on| if on { "on" } else { "off" })
}

impl Cache {
    /// The flat JSON object upstream writes, plus our keys.
    pub fn to_json(&self) -> Value {
        let mut out = self.config.clone();
        // Upstream reduces ipam to its type and never caches prevResult-derived state.
        if let Some(Value::Object(ipam)) = out.get("ipam").cloned() {
            let reduced = ipam
                .get("type")
                .map(|t| json!({ "type": t }))
                .unwrap_or_else(|| json!({}));
            out.insert("ipam".into(), reduced);
        }
        // Keys matched case-insensitively on input are written in their canonical case.
        for key in [
            "deviceID",
            "vlan",
            "vlanQoS",
            "vlanProto",
            "mac",
            "spoofchk",
            "trust",
            "link_state",
            "min_tx_rate",
            "max_tx_rate",
        ] {
            let stale: Vec<String> = out
                .keys()
                .filter(|k| k.eq_ignore_ascii_case(key))
                .cloned()
                .collect();
            for k in stale {
                out.remove(&k);
            }
        }
        out.insert("deviceID".into(), json!(self.device_id));
        out.insert(
            "Master".into(),
            json!(self.master.clone().unwrap_or_default()),
        );
        out.insert("VFID".into(), json!(self.vf_id.map_or(0, u32::from)));
        out.insert("MAC".into(), json!(self.mac));
        out.insert("MTU".into(), json!(self.mtu));
        out.insert("vlan".into(), json!(self.vlan));
        out.insert(
            "vlanQoS".into(),
            json!(self.vlan.map(|_| self.vlan_qos.unwrap_or(0))),
        );
        out.insert(
            "vlanProto".into(),
            json!(
                self.vlan
                    .map(|_| self.vlan_proto.unwrap_or(VlanProto::Dot1q).as_str())
            ),
        );
        out.insert("min_tx_rate".into(), json!(self.min_tx_rate));
        out.insert("max_tx_rate".into(), json!(self.max_tx_rate));
        if let Some(v) = on_off(self.spoofchk) {
            out.insert("spoofchk".into(), json!(v));
        }
        if let Some(v) = on_off(self.trust) {
            out.insert("trust".into(), json!(v));
        }
        if let Some(v) = &self.link_state {
            out.insert("link_state".into(), json!(v));
        }
        out.entry("runtimeConfig").or_insert_with(|| json!({}));
        out.insert(
            "OrigVfState".into(),
            serde_json::to_value(&self.orig).unwrap_or(Value::Null),
        );
        out.insert("DPDKMode".into(), json!(self.dpdk));
        out.insert("netns".into(), json!(self.netns));
        Value::Object(out)
    }

    /// Reads a cache written by this plugin or by upstream's.
    pub fn from_json(value: &Value) -> Result<Self> {
        let bad = |e: String| CniError::new(code::STATE, format!("cache: {e}"));
        let map = value
            .as_object()
            .ok_or_else(|| bad("not a JSON object".into()))?;
        let text = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_owned);
        let number = |k: &str| {
            map.get(k)
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
        };
        let flag = |k: &str| match text(k).as_deref() {
            Some("on") => Some(true),
            Some("") | None => None,
            Some(_) => Some(false),
        };
        let device_id = text("deviceID").ok_or_else(|| bad("no deviceID".into()))?;
        let orig: OrigVfState = map
            .get("OrigVfState")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| bad(e.to_string()))?
            .unwrap_or_default();
        let master = text("Master").filter(|m| !m.is_empty());
        Ok(Self {
            device_id,
            vf_id: master
                .as_ref()
                .and(number("VFID"))
                .and_then(|n| VfIndex::try_from(n).ok()),
            master,
            mac: text("MAC").unwrap_or_default(),
            mtu: number("MTU").unwrap_or(0),
            vlan: number("vlan"),
            vlan_qos: number("vlanQoS"),
            vlan_proto: match text("vlanProto").map(|p| p.to_ascii_lowercase()).as_deref() {
                Some("802.1ad") => Some(VlanProto::Dot1ad),
                Some(_) => Some(VlanProto::Dot1q),
                None => None,
            },
            spoofchk: flag("spoofchk"),
            trust: flag("trust"),
            link_state: text("link_state").filter(|s| !s.is_empty()),
            min_tx_rate: number("min_tx_rate"),
            max_tx_rate: number("max_tx_rate"),
            orig,
            dpdk: map
                .get("DPDKMode")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            netns: text("netns").unwrap_or_default(),
            config: map.clone(),
        })
    }

    /// A cache for `conf` before anything was changed.
    pub fn new(conf: &NetConf, device_id: &str) -> Self {
        Self {
            device_id: device_id.to_owned(),
            master: None,
            vf_id: None,
            mac: String::new(),
            mtu: 0,
            vlan: conf.vlan,
            vlan_qos: conf.vlan_qos,
            vlan_proto: conf.vlan_proto,
            spoofchk: conf.spoofchk,
            trust: conf.trust,
            link_state: conf.link_state.clone(),
            min_tx_rate: conf.min_tx_rate,
            max_tx_rate: conf.max_tx_rate,
            orig: OrigVfState::default(),
            dpdk: false,
            netns: String::new(),
            config: conf.raw.clone(),
        }
    }
}

/// A held per-VF lock; released when dropped (or when the process exits).
#[derive(Debug)]
pub struct VfLock {
    _lock: Flock<File>,
}

impl StateDir {
    /// `SRIOV_CNI_STATE_DIR` when set (and non-empty), else upstream's directory.
    pub fn from_env(value: Option<&str>) -> Self {
        Self::new(value.filter(|v| !v.is_empty()).unwrap_or(DEFAULT_DIR))
    }

    /// State under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The cache file of an attachment.
    pub fn cache_path(&self, container_id: &str, ifname: &str) -> PathBuf {
        self.root.join(format!("{container_id}-{ifname}"))
    }

    /// The allocation file of a VF.
    pub fn allocation_path(&self, pci: &str) -> PathBuf {
        self.root.join("pci").join(pci)
    }

    /// The lock file of a VF.
    pub fn lock_path(&self, pci: &str) -> PathBuf {
        self.root.join("pci/vf_lock").join(format!("{pci}.lock"))
    }

    fn ensure_dir(path: &Path) -> Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(|e| state_err("create directory", path, e))
    }

    /// Writes `content` atomically with mode 0600.
    fn write(path: &Path, content: &[u8]) -> Result<()> {
        let dir = path.parent().unwrap_or(Path::new("/"));
        Self::ensure_dir(dir)?;
        let tmp = dir.join(format!(
            ".{}.tmp",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("state")
        ));
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| state_err("create", &tmp, e))?;
        // No fsync: the rename makes the file whole or absent if this process dies, and
        // after a power loss the VFs are recreated anyway (an unreadable cache is treated
        // as none). Two fsyncs per ADD would cost more than the rest of the plugin.
        file.write_all(content)
            .map_err(|e| state_err("write", &tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| state_err("rename into", path, e))
    }

    fn remove(path: &Path) -> Result<()> {
        match fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(state_err("remove", path, e)),
            _ => Ok(()),
        }
    }

    /// Takes the VF's lock, waiting up to `timeout` for another invocation.
    pub fn lock(&self, pci: &str, timeout: Duration) -> Result<VfLock> {
        let path = self.lock_path(pci);
        Self::ensure_dir(path.parent().unwrap_or(&self.root))?;
        let start = Instant::now();
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| state_err("open", &path, e))?;
        loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => return Ok(VfLock { _lock: lock }),
                Err((f, nix::errno::Errno::EWOULDBLOCK)) if start.elapsed() < timeout => {
                    file = f;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                    return Err(CniError::new(
                        code::TRY_AGAIN_LATER,
                        format!(
                            "time out while waiting to acquire exclusive lock on [{}]",
                            path.display()
                        ),
                    ));
                }
                Err((_, e)) => return Err(state_err("lock", &path, e)),
            }
        }
    }

    /// Writes an attachment's cache.
    pub fn save_cache(&self, container_id: &str, ifname: &str, cache: &Cache) -> Result<()> {
        let text = serde_json::to_vec(&cache.to_json())
            .map_err(|e| state_err("encode", &self.cache_path(container_id, ifname), e))?;
        Self::write(&self.cache_path(container_id, ifname), &text)
    }

    /// Reads an attachment's cache; `Ok(None)` when missing, an error when unreadable.
    pub fn load_cache(&self, container_id: &str, ifname: &str) -> Result<Option<Cache>> {
        let path = self.cache_path(container_id, ifname);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(state_err("read", &path, e)),
        };
        let value: Value =
            serde_json::from_slice(&text).map_err(|e| state_err("parse", &path, e))?;
        Cache::from_json(&value).map(Some)
    }

    /// Removes an attachment's cache (missing is fine).
    pub fn remove_cache(&self, container_id: &str, ifname: &str) -> Result<()> {
        Self::remove(&self.cache_path(container_id, ifname))
    }

    /// Every attachment that has a cache: `(file name, cache)`; unreadable files are
    /// reported with their error.
    pub fn caches(&self) -> Result<Vec<(String, Result<Cache>)>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(state_err("list", &self.root, e)),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let parsed = fs::read(entry.path())
                .map_err(|e| state_err("read", &entry.path(), e))
                .and_then(|t| {
                    serde_json::from_slice::<Value>(&t)
                        .map_err(|e| state_err("parse", &entry.path(), e))
                })
                .and_then(|v| Cache::from_json(&v));
            out.push((name, parsed));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Records that the VF belongs to the pod at `netns`.
    pub fn save_allocation(&self, pci: &str, netns: &str) -> Result<()> {
        Self::write(&self.allocation_path(pci), netns.as_bytes())
    }

    /// The netns path of the pod holding the VF, if any.
    pub fn allocation(&self, pci: &str) -> Result<Option<String>> {
        let path = self.allocation_path(pci);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text.trim().to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(state_err("read", &path, e)),
        }
    }

    /// Forgets the VF's allocation.
    pub fn remove_allocation(&self, pci: &str) -> Result<()> {
        Self::remove(&self.allocation_path(pci))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_cache_reads_and_ours_keeps_its_keys() {
        let upstream = r#"{"cniVersion":"1.0.0","name":"sriov-network","type":"sriov","ipam":{"type":"host-local"},"deviceID":"0000:af:06.0","Master":"enp175s0f1","VFID":0,"MAC":"","MTU":1500,"vlan":100,"vlanQoS":0,"vlanProto":"802.1q","min_tx_rate":null,"max_tx_rate":null,"runtimeConfig":{},"OrigVfState":{"HostIFName":"enp175s6","SpoofChk":true,"Trust":false,"AdminMAC":"00:00:00:00:00:00","EffectiveMAC":"6e:16:06:0e:b7:e9","Vlan":0,"VlanQoS":0,"VlanProto":33024,"MinTxRate":0,"MaxTxRate":0,"LinkState":0,"MTU":1500}}"#;
        let cache = Cache::from_json(&serde_json::from_str(upstream).unwrap()).unwrap();
        assert_eq!(cache.master.as_deref(), Some("enp175s0f1"));
        assert_eq!(
            (cache.vlan, cache.vlan_proto),
            (Some(100), Some(VlanProto::Dot1q))
        );
        assert_eq!(cache.orig.host_ifname, "enp175s6");
        assert_eq!(cache.orig.vlan_proto, 0x8100);
        assert!(!cache.dpdk);
        let ours = cache.to_json();
        for key in [
            "deviceID",
            "Master",
            "VFID",
            "MAC",
            "MTU",
            "vlan",
            "vlanQoS",
            "vlanProto",
            "min_tx_rate",
            "max_tx_rate",
            "runtimeConfig",
            "OrigVfState",
            "DPDKMode",
            "netns",
        ] {
            assert!(ours.get(key).is_some(), "{key}");
        }
        assert_eq!(Cache::from_json(&ours).unwrap().orig, cache.orig);
    }

    #[test]
    fn files_live_where_upstream_puts_them_and_the_lock_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        assert_eq!(state.cache_path("c1", "net1"), dir.path().join("c1-net1"));
        state
            .save_allocation("0000:af:06.0", "/run/netns/p1")
            .unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("pci/0000:af:06.0")).unwrap(),
            "/run/netns/p1"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join("pci/0000:af:06.0"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let held = state.lock("0000:af:06.0", LOCK_TIMEOUT).unwrap();
        assert!(dir.path().join("pci/vf_lock/0000:af:06.0.lock").exists());
        let err = state
            .lock("0000:af:06.0", Duration::from_millis(30))
            .unwrap_err();
        assert_eq!(err.code, 11);
        assert!(
            err.msg
                .starts_with("time out while waiting to acquire exclusive lock on [")
        );
        drop(held);
        state
            .lock("0000:af:06.0", Duration::from_millis(30))
            .unwrap();
        assert_eq!(state.load_cache("x", "net1").unwrap(), None);
    }
}
