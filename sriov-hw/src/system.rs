//! Host configuration outside sysfs: files under the host root (udev rules, modprobe
//! options, the GUID pool) and commands run in the host's file system (`udevadm`,
//! `grubby`, `rpm-ostree`, `update-grub`).
//!
//! [`HostSystem`] is the seam: [`RootSystem`] acts on a real host root (running commands
//! through `chroot` when the root is not `/`, as the daemon does with the host at `/host`),
//! and [`crate::fake::FakeHost`] records what would have been done.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use sriov_core::api::RdmaMode;
use sriov_core::ib::GuidPool;
use sriov_core::ids::{IfName, PciAddress};
use sriov_core::render::udev::{self, SwitchPort};

use crate::error::{Error, Result};
use crate::root::HostRoot;

/// Files and commands of the host. Paths are relative to the host root.
pub trait HostSystem: Sync {
    /// A file's content; `None` when it does not exist.
    fn read_file(&self, path: &str) -> Result<Option<String>>;
    /// Writes a file atomically (temporary file, then rename) with `mode`, creating its
    /// directory.
    fn write_file(&self, path: &str, content: &str, mode: u32) -> Result<()>;
    /// Removes a file; a missing file is not an error.
    fn remove_file(&self, path: &str) -> Result<()>;
    /// Whether a path exists.
    fn exists(&self, path: &str) -> bool;
    /// Runs `program` with `args` in the host's file system; its standard output.
    fn run(&self, program: &str, args: &[&str]) -> Result<String>;
}

/// [`HostSystem`] over a real host root.
#[derive(Debug, Clone)]
pub struct RootSystem {
    root: HostRoot,
    chroot: bool,
}

impl RootSystem {
    /// Acts on `root`; commands run through `chroot` unless `root` is this system's `/`.
    pub fn new(root: HostRoot) -> Self {
        let chroot = !root.is_system_root();
        Self { root, chroot }
    }
}

impl HostSystem for RootSystem {
    fn read_file(&self, path: &str) -> Result<Option<String>> {
        let full = self.root.join(path);
        match std::fs::read_to_string(&full) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", full, e)),
        }
    }

    fn write_file(&self, path: &str, content: &str, mode: u32) -> Result<()> {
        let full = self.root.join(path);
        let dir = full.parent().unwrap_or(self.root.path());
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
        let mut tmp =
            tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io("create", dir, e))?;
        tmp.write_all(content.as_bytes())
            .map_err(|e| Error::io("write", tmp.path().to_owned(), e))?;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io("chmod", tmp.path().to_owned(), e))?;
        tmp.persist(&full)
            .map_err(|e| Error::io("rename into", &full, e.error))?;
        Ok(())
    }

    fn remove_file(&self, path: &str) -> Result<()> {
        let full = self.root.join(path);
        match std::fs::remove_file(&full) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("remove", full, e)),
            _ => Ok(()),
        }
    }

    fn exists(&self, path: &str) -> bool {
        self.root.join(path).exists()
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<String> {
        let mut command = if self.chroot {
            let mut c = Command::new("chroot");
            c.arg(self.root.path()).arg(program);
            c
        } else {
            Command::new(program)
        };
        command.args(args);
        let line = std::iter::once(program)
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        let output = command.output().map_err(|e| Error::Command {
            command: line.clone(),
            outcome: format!("did not start: {e}"),
        })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(Error::Command {
                command: line,
                outcome: format!(
                    "{}: {}",
                    output.status,
                    stderr.lines().last().unwrap_or("no error output")
                ),
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// Where the static InfiniBand GUID pool lives, relative to the host root.
pub const GUID_POOL: &str = "etc/sriov-operator/infiniband/guids";
/// The modprobe options file for the RDMA namespace mode, relative to the host root.
pub const RDMA_MODPROBE: &str = "etc/modprobe.d/sriov_network_operator_modules_config.conf";

/// The host's GUID pool; `None` when the file does not exist. A broken file is an error
/// naming it (upstream: the apply fails rather than assigning GUIDs the fabric does not
/// expect).
pub fn guid_pool(system: &dyn HostSystem) -> Result<Option<GuidPool>> {
    let Some(text) = system.read_file(GUID_POOL)? else {
        return Ok(None);
    };
    GuidPool::parse(&text).map(Some).map_err(|e| Error::Parse {
        path: GUID_POOL.into(),
        content: e.to_string(),
        expected: "a GUID pool (see sriov_core::ib)",
    })
}

/// Replaces a PF's udev rules (and refreshes the helper scripts): the NetworkManager rule,
/// plus the PF-name rule when `switchdev`.
pub fn write_pf_rules(
    system: &dyn HostSystem,
    pci: &PciAddress,
    pf_name: &IfName,
    vf_devices: &[String],
    switchdev: bool,
) -> Result<()> {
    remove_pf_rules(system, pci)?;
    let (pci, pf_name) = (pci.to_string(), pf_name.as_str());
    let pci = pci.as_str();
    for helper in udev::helpers() {
        system.write_file(&helper.path, &helper.content, helper.mode)?;
    }
    let devices: Vec<&str> = vf_devices.iter().map(String::as_str).collect();
    for file in udev::pf_rules(pci, pf_name, &devices, switchdev.then_some(None)) {
        system.write_file(&file.path, &file.content, file.mode)?;
    }
    Ok(())
}

/// Writes the representor-naming rule of a switchdev PF whose switch port is `port`.
pub fn write_representor_rule(
    system: &dyn HostSystem,
    pci: &PciAddress,
    pf_name: &IfName,
    port: &SwitchPort,
) -> Result<()> {
    let (pci, pf_name) = (pci.to_string(), pf_name.as_str());
    let pci = pci.as_str();
    // The rule set for a switchdev PF whose port is known; only the representor rule is new.
    let files = udev::pf_rules(pci, pf_name, &[], Some(Some(port)));
    let [_, _, representors] = udev::rule_paths(pci);
    for file in files.into_iter().filter(|f| f.path == representors) {
        system.write_file(&file.path, &file.content, file.mode)?;
    }
    Ok(())
}

/// Removes every udev rule the daemon may have written for `pci`.
pub fn remove_pf_rules(system: &dyn HostSystem, pci: &PciAddress) -> Result<()> {
    for path in udev::rule_paths(&pci.to_string()) {
        system.remove_file(&path)?;
    }
    Ok(())
}

/// Reloads the udev rules and replays `add` events for network devices, so renames apply.
pub fn reload_udev(system: &dyn HostSystem) -> Result<()> {
    system.run("udevadm", &["control", "--reload-rules"])?;
    system.run(
        "udevadm",
        &[
            "trigger",
            "--action",
            "add",
            "--attr-match",
            "subsystem=net",
        ],
    )?;
    Ok(())
}

/// Records the RDMA namespace mode (`shared` or `exclusive`) as an `ib_core` option, so it
/// also holds when the module is loaded from the initramfs-less path.
pub fn set_rdma_mode(system: &dyn HostSystem, mode: RdmaMode) -> Result<()> {
    let value = match mode {
        RdmaMode::Shared => "1",
        RdmaMode::Exclusive => "0",
    };
    system.write_file(
        RDMA_MODPROBE,
        &format!("options ib_core netns_mode={value}\n"),
        0o644,
    )
}

/// Edits the boot loader's kernel command line: `rpm-ostree kargs` on ostree hosts,
/// `grubby` where installed, otherwise `GRUB_CMDLINE_LINUX` in `/etc/default/grub` followed
/// by `update-grub` (or `grub-mkconfig`). Upstream silently does nothing on hosts without
/// grubby, which leaves the node rebooting forever; here that is an error saying what to add.
pub fn edit_kernel_args(system: &dyn HostSystem, add: &[String], remove: &[String]) -> Result<()> {
    if add.is_empty() && remove.is_empty() {
        return Ok(());
    }
    if system.exists("run/ostree-booted") {
        let mut args = vec!["kargs".to_owned()];
        args.extend(add.iter().map(|a| format!("--append={a}")));
        args.extend(remove.iter().map(|r| format!("--delete={r}")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        system.run("rpm-ostree", &args)?;
        return Ok(());
    }
    if let Some(grubby) = ["usr/sbin/grubby", "sbin/grubby", "usr/bin/grubby"]
        .into_iter()
        .find(|p| system.exists(p))
    {
        let program = format!("/{grubby}");
        let mut args = vec!["--update-kernel=ALL".to_owned()];
        if !add.is_empty() {
            args.push(format!("--args={}", add.join(" ")));
        }
        if !remove.is_empty() {
            args.push(format!("--remove-args={}", remove.join(" ")));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        system.run(&program, &args)?;
        return Ok(());
    }
    const GRUB_DEFAULT: &str = "etc/default/grub";
    let Some(text) = system.read_file(GRUB_DEFAULT)? else {
        return Err(Error::Unsupported {
            op: "edit kernel arguments (no rpm-ostree, grubby or /etc/default/grub)",
            target: describe(add, remove),
        });
    };
    let edited = edit_grub_default(&text, add, remove);
    if edited != text {
        system.write_file(GRUB_DEFAULT, &edited, 0o644)?;
    }
    if system.exists("usr/sbin/update-grub") {
        system.run("/usr/sbin/update-grub", &[])?;
    } else if system.exists("usr/sbin/grub-mkconfig") {
        system.run("/usr/sbin/grub-mkconfig", &["-o", "/boot/grub/grub.cfg"])?;
    } else if system.exists("usr/sbin/grub2-mkconfig") {
        system.run("/usr/sbin/grub2-mkconfig", &["-o", "/boot/grub2/grub.cfg"])?;
    } else {
        return Err(Error::Unsupported {
            op: "regenerate the GRUB configuration (no update-grub or grub-mkconfig)",
            target: describe(add, remove),
        });
    }
    Ok(())
}

fn describe(add: &[String], remove: &[String]) -> String {
    let mut parts = Vec::new();
    if !add.is_empty() {
        parts.push(format!("add {}", add.join(" ")));
    }
    if !remove.is_empty() {
        parts.push(format!("remove {}", remove.join(" ")));
    }
    format!("{} to the kernel command line yourself", parts.join(", "))
}

/// `GRUB_CMDLINE_LINUX` of a GRUB defaults file with `add` appended (when absent) and
/// `remove` dropped; every other line unchanged. A file without the line gets one.
pub fn edit_grub_default(text: &str, add: &[String], remove: &[String]) -> String {
    let mut found = false;
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let Some(value) = body.strip_prefix("GRUB_CMDLINE_LINUX=") else {
            out.push_str(line);
            continue;
        };
        found = true;
        let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'');
        let inner = match quote {
            Some(q) => value.trim_start_matches(q).trim_end_matches(q),
            None => value,
        };
        let mut words: Vec<&str> = inner
            .split_whitespace()
            .filter(|w| !remove.iter().any(|r| r == w))
            .collect();
        for a in add {
            if !words.contains(&a.as_str()) {
                words.push(a);
            }
        }
        let q = quote.unwrap_or('"');
        out.push_str(&format!("GRUB_CMDLINE_LINUX={q}{}{q}", words.join(" ")));
        if line.ends_with('\n') {
            out.push('\n');
        }
    }
    if !found {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        let words: Vec<&str> = add.iter().map(String::as_str).collect();
        out.push_str(&format!("GRUB_CMDLINE_LINUX=\"{}\"\n", words.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn grub_defaults_keep_everything_but_the_edited_arguments() {
        let text =
            "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=\"quiet ib_core.netns_mode=1\"\nGRUB_TIMEOUT=5\n";
        let edited = edit_grub_default(
            text,
            &strings(&["intel_iommu=on", "quiet"]),
            &strings(&["ib_core.netns_mode=1"]),
        );
        assert_eq!(
            edited,
            "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=\"quiet intel_iommu=on\"\nGRUB_TIMEOUT=5\n"
        );
        // Idempotent.
        assert_eq!(
            edit_grub_default(&edited, &strings(&["intel_iommu=on"]), &[]),
            edited
        );
        // A file without the line gets one.
        assert_eq!(
            edit_grub_default("GRUB_DEFAULT=0", &strings(&["iommu=pt"]), &[]),
            "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=\"iommu=pt\"\n"
        );
    }
}
