//! The CNI side of the lab for running the `sriov` binary for real: `sriov_hw::fake::NetLab`
//! (a "host" network namespace where the plugin runs, through `nsenter`; pod namespaces;
//! veth pairs standing in for VF netdevs; a FakeSysfs tree mapping VF PCI addresses to
//! them) plus the plugin's state dir and ways to run it.
#![allow(dead_code, unreachable_pub)]
// Test and benchmark set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use sriov_hw::fake::{FakeSysfs, NetLab, presets};
use sriov_hw::netlink::Netlink;
use sriov_hw::netns::NamedNetns;

pub use sriov_hw::fake::privileged;

/// Whether a lab test can run: root, `nsenter` (util-linux), and the named Debian
/// `containernetworking-plugins` (`host-local`, `static`, `tuning`) in [`CNI_PATH`]. Prints a
/// loud skip otherwise (a failure under `SRIOV_REQUIRE_PRIVILEGED=1`), naming the test
/// (the test harness names each test's thread after it).
pub fn lab_ready(plugins: &[&str]) -> bool {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a lab test");
    let plugins: Vec<String> = plugins.iter().map(|p| format!("{CNI_PATH}/{p}")).collect();
    let plugins: Vec<&str> = plugins.iter().map(String::as_str).collect();
    privileged(test)
        && sriov_hw::fake::installed(test, "util-linux", &["nsenter"])
        && sriov_hw::fake::installed(test, "containernetworking-plugins", &plugins)
}

/// Where Debian's containernetworking-plugins live.
pub const CNI_PATH: &str = "/usr/lib/cni";

/// The VFs of the lab: PCI address and veth name.
pub const VFS: [(&str, &str); 2] = [("0000:af:06.0", "vf0"), ("0000:af:06.1", "vf1")];

pub struct Lab {
    pub lab: NetLab,
    pub state: PathBuf,
}

/// A link's observable state: name, MAC, MTU, up.
pub type LinkView = (String, Option<String>, Option<u32>, bool);

impl Lab {
    pub fn new() -> Self {
        let lab = NetLab::new().expect("net lab");
        for (i, (pci, name)) in VFS.iter().enumerate() {
            lab.passthrough_vf(
                pci,
                presets::INTEL_E810_CQDA2,
                "iavf",
                name,
                &format!("wire{i}"),
                Some(&format!("02:00:00:00:0a:0{i}")),
            )
            .expect("fake VF");
        }
        let state = lab.dir().join("state");
        Self { lab, state }
    }

    pub fn fake(&self) -> &FakeSysfs {
        self.lab.fake()
    }

    pub fn host(&self) -> &NamedNetns {
        self.lab.host()
    }

    pub fn dir(&self) -> &Path {
        self.lab.dir()
    }

    pub fn pod(&self, name: &str) -> NamedNetns {
        self.lab.pod(name).expect("pod netns")
    }

    pub fn host_nl(&self) -> Netlink {
        self.lab.host_netlink().expect("netlink")
    }

    pub fn links(ns: &Path) -> Vec<LinkView> {
        let mut links: Vec<LinkView> = NetLab::links(ns)
            .expect("links")
            .into_iter()
            .map(|l| (l.name, l.address, l.mtu, l.up))
            .collect();
        links.sort();
        links
    }

    pub fn host_links(&self) -> Vec<LinkView> {
        Self::links(self.host().path())
    }

    /// Runs the plugin in the host namespace.
    pub fn run(&self, command: &str, cid: &str, netns: &str, ifname: &str, conf: &str) -> Output {
        self.run_with(command, cid, netns, ifname, conf, &[])
    }

    pub fn run_with(
        &self,
        command: &str,
        cid: &str,
        netns: &str,
        ifname: &str,
        conf: &str,
        extra: &[(&str, &str)],
    ) -> Output {
        let host_root = self.fake().path().display().to_string();
        let state = self.state.display().to_string();
        let mut env = vec![
            ("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            ("SRIOV_HOST_ROOT", host_root.as_str()),
            ("SRIOV_CNI_STATE_DIR", state.as_str()),
        ];
        env.extend_from_slice(extra);
        self.exec(
            Path::new(env!("CARGO_BIN_EXE_sriov")),
            command,
            cid,
            netns,
            ifname,
            conf,
            &env,
        )
    }

    /// Runs the plugin in this process, in the host namespace, with the CNI environment the
    /// binary would get and `failpoint` set (fault injection has no switch in the binary).
    pub fn run_in_process(
        &self,
        command: &str,
        cid: &str,
        netns: &str,
        ifname: &str,
        conf: &str,
        failpoint: Option<&str>,
    ) -> sriov_cni::Result<String> {
        let vars = [
            ("CNI_COMMAND", command),
            ("CNI_CONTAINERID", cid),
            ("CNI_NETNS", netns),
            ("CNI_IFNAME", ifname),
            ("CNI_PATH", CNI_PATH),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let env = sriov_cni::env::Env::from_vars(vars)?;
        let sysfs = sriov_hw::SysfsHost::new(self.fake().root());
        let state = sriov_cni::state::StateDir::new(self.state.clone());
        sriov_hw::netns::run_in(&self.host().open().expect("host netns"), || {
            let side = sriov_cni::pod::KernelNs::current()?;
            let host = sriov_cni::plugin::Host {
                pci: &sysfs,
                vfs: side.netlink(),
                state: &state,
                lock_timeout: std::time::Duration::from_secs(5),
                side: &side,
                pods: &sriov_cni::pod::KernelPods,
                failpoint,
            };
            let mut log = sriov_cni::log::Logger::new(sriov_cni::log::Level::Error, None);
            sriov_cni::plugin::run(&env, conf.as_bytes(), host, &mut log)
        })
        .expect("joins the host namespace")
    }

    /// Runs a Debian plugin (e.g. `tuning`) in the host namespace.
    pub fn run_plugin(
        &self,
        plugin: &str,
        command: &str,
        cid: &str,
        netns: &str,
        ifname: &str,
        conf: &str,
    ) -> Output {
        self.exec(
            &Path::new(CNI_PATH).join(plugin),
            command,
            cid,
            netns,
            ifname,
            conf,
            &[],
        )
    }

    /// Runs a CNI plugin binary in the host namespace (through `nsenter`) with the CNI
    /// environment, `env` and `conf` on stdin.
    #[allow(clippy::too_many_arguments)]
    fn exec(
        &self,
        binary: &Path,
        command: &str,
        cid: &str,
        netns: &str,
        ifname: &str,
        conf: &str,
        env: &[(&str, &str)],
    ) -> Output {
        let mut child = Command::new("nsenter")
            .arg(format!("--net={}", self.host().path().display()))
            .arg(binary)
            .env_clear()
            .env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", cid)
            .env("CNI_NETNS", netns)
            .env("CNI_IFNAME", ifname)
            .env("CNI_PATH", CNI_PATH)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nsenter runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(conf.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("plugin finishes")
    }

    pub fn data_dir(&self) -> String {
        self.dir().join("ipam").display().to_string()
    }

    /// A configuration for VF `pci` with `extra` keys (`"key": value, ...`).
    pub fn conf(&self, pci: &str, extra: &str) -> String {
        let sep = if extra.is_empty() { "" } else { "," };
        format!(
            r#"{{"cniVersion":"1.0.0","name":"sriov-net","type":"sriov","deviceID":"{pci}"{sep}{extra}}}"#
        )
    }

    pub fn host_local(&self) -> String {
        format!(
            r#""ipam":{{"type":"host-local","subnet":"10.56.217.0/24","gateway":"10.56.217.1","routes":[{{"dst":"0.0.0.0/0"}}],"dataDir":"{}"}}"#,
            self.data_dir()
        )
    }

    pub fn state_files(&self) -> Vec<String> {
        let mut out = Vec::new();
        for dir in [self.state.clone(), self.state.join("pci")] {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for e in entries.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_file()) {
                        out.push(e.file_name().to_string_lossy().into_owned());
                    }
                }
            }
        }
        out.sort();
        out
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The JSON a successful run printed.
pub fn success(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "plugin failed: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
    let text = stdout(o);
    if text.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&text).expect("stdout is JSON")
}

/// The error JSON a failed run printed.
pub fn failure(o: &Output) -> Value {
    assert!(!o.status.success(), "expected failure, got {}", stdout(o));
    serde_json::from_str(&stdout(o)).expect("error JSON on stdout")
}
