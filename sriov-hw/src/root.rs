//! The host root: where the host's `/` is, as seen by this process.
//!
//! On a node the config daemon runs in a pod with the host's `/` mounted at `/host`; tests
//! use a temp dir built by [`crate::fake::FakeSysfs`]. Every host path is resolved under a
//! `HostRoot` passed in explicitly, never through a process-wide global.

use std::path::{Path, PathBuf};

/// Environment variable binaries read the host root from (`--host-root` overrides it).
pub const HOST_ROOT_ENV: &str = "SRIOV_HOST_ROOT";

/// A directory standing for the host's `/`, holding `sys/`, `proc/`, `dev/` and `etc/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoot(PathBuf);

impl Default for HostRoot {
    /// The real root, `/`.
    fn default() -> Self {
        Self(PathBuf::from("/"))
    }
}

impl HostRoot {
    /// A host root at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self(path.into())
    }

    /// Checks that the root looks like a host's `/`: it has `sys/bus/pci`. Every host,
    /// with or without SR-IOV NICs, has it; a mistyped path does not, and must not pass
    /// for a host without NICs.
    pub fn check(&self) -> crate::Result<()> {
        let pci = self.join("sys/bus/pci");
        match std::fs::metadata(&pci) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(crate::Error::NotAHostRoot {
                path: self.0.clone(),
                reason: format!("{} is not a directory", pci.display()),
            }),
            Err(e) => Err(crate::Error::NotAHostRoot {
                path: self.0.clone(),
                reason: format!("{}: {e}", pci.display()),
            }),
        }
    }

    /// The root directory itself.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Whether the root is this process's own `/` (so the kernel it talks to through
    /// netlink, and the commands it can run without `chroot`, are the host's).
    pub fn is_system_root(&self) -> bool {
        std::fs::canonicalize(&self.0).is_ok_and(|p| p == Path::new("/"))
    }

    /// `rel` (a host-absolute path like `/sys/bus/pci` or a relative one) under the root.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        let rel = rel.as_ref();
        self.0.join(rel.strip_prefix("/").unwrap_or(rel))
    }

    /// `sys/` under the root.
    pub fn sys(&self) -> PathBuf {
        self.0.join("sys")
    }

    /// `proc/` under the root.
    pub fn proc(&self) -> PathBuf {
        self.0.join("proc")
    }

    /// `etc/` under the root.
    pub fn etc(&self) -> PathBuf {
        self.0.join("etc")
    }

    /// `dev/` under the root.
    pub fn dev(&self) -> PathBuf {
        self.0.join("dev")
    }

    /// `sys/bus/pci/devices/<addr>`.
    pub fn pci_device(&self, address: &str) -> PathBuf {
        self.0.join("sys/bus/pci/devices").join(address)
    }

    /// `sys/class/net/<ifname>`.
    pub fn class_net(&self, ifname: &str) -> PathBuf {
        self.0.join("sys/class/net").join(ifname)
    }

    /// `etc/sriov-operator/pci/<addr>`: the daemon's record that it configured this PF.
    pub fn pf_store_file(&self, address: &str) -> PathBuf {
        self.0.join("etc/sriov-operator/pci").join(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_paths_resolve_under_the_root() {
        let root = HostRoot::new("/host");
        assert_eq!(
            root.join("/proc/cmdline"),
            PathBuf::from("/host/proc/cmdline")
        );
        assert_eq!(root.join("etc/x"), PathBuf::from("/host/etc/x"));
        assert_eq!(
            root.pci_device("0000:3b:00.0"),
            PathBuf::from("/host/sys/bus/pci/devices/0000:3b:00.0")
        );
        assert_eq!(
            HostRoot::default().class_net("eth0"),
            PathBuf::from("/sys/class/net/eth0")
        );
        assert_eq!(
            root.pf_store_file("0000:3b:00.0"),
            PathBuf::from("/host/etc/sriov-operator/pci/0000:3b:00.0")
        );
    }

    #[test]
    fn a_directory_without_sys_bus_pci_is_not_a_host_root() {
        let fake = crate::fake::FakeSysfs::new().unwrap();
        fake.root().check().unwrap();
        let err = HostRoot::new("/nonexistent-host-root").check().unwrap_err();
        assert_eq!(
            err.to_string(),
            "/nonexistent-host-root is not a host root: /nonexistent-host-root/sys/bus/pci: No such file or directory (os error 2)"
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(HostRoot::new(empty.path()).check().is_err());
    }
}
