//! Times ADD+DEL of the `sriov` CNI plugin against Debian's `host-device` plugin on the same
//! veth (standing in for a VF), alternating runs, in several shapes, and reports medians,
//! means with their 95 % intervals, binary sizes, peak RSS and CPU time. Needs root. Run
//! through `benches/cni-add-del.sh`.
//!
//! Shapes (every combination is run unless narrowed):
//! - launch `direct`: this driver joins the test's host namespace and starts the plugins
//!   itself; `nsenter`: the driver stays put and every plugin runs under
//!   `nsenter --net=<host namespace>`, as a harness that cannot join namespaces does;
//! - VF `vm`: the VF's PCI function has no PF in the (fake) host root, as in a VM;
//!   `pf`: the VF sits under a PF (`ens801f0`, a veth standing in for it) in the root;
//! - IPAM: none (the plugins' own cost) or `host-local` with its own data directory (what
//!   a pod start sees).
//!
//! Usage: `cni-add-del --plugin PATH [--cni-path DIR] [--rounds N] [--launch direct|nsenter]
//! [--vf vm|pf] [--ipam none|host-local]`

// A benchmark driver: setup failures end it with a message, by design.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sriov_hw::fake::{NetLab, presets};
use sriov_hw::netns::NamedNetns;

/// The VF without a PF (VM case) and its veth.
const VM_VF: (&str, &str) = ("0000:af:06.0", "vf0");
/// The PF of the `pf` shape, its name, and its VF 0 (address and netdev) as FakeSysfs
/// lays them out.
const PF: (&str, &str) = ("0000:81:00.0", "ens801f0");
const PF_VF: (&str, &str) = ("0000:82:00.0", "ens801f0v0");

#[derive(Clone, Copy, PartialEq, Eq)]
enum Launch {
    Direct,
    Nsenter,
}

struct Setup {
    // Field order is drop order: the pod namespace (pinned in the lab's dir) first.
    pod: NamedNetns,
    lab: NetLab,
    state: PathBuf,
    data: PathBuf,
    cni_path: PathBuf,
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn run(setup: &Setup, launch: Launch, plugin: &Path, command: &str, conf: &str) -> Duration {
    let start = Instant::now();
    let mut cmd = match launch {
        Launch::Direct => Command::new(plugin),
        Launch::Nsenter => {
            let mut c = Command::new("nsenter");
            c.arg(format!("--net={}", setup.lab.host().path().display()))
                .arg(plugin);
            c
        }
    };
    let mut child = cmd
        .env_clear()
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", "bench")
        .env("CNI_NETNS", setup.pod.path())
        .env("CNI_IFNAME", "net1")
        .env("CNI_PATH", &setup.cni_path)
        .env("SRIOV_HOST_ROOT", setup.lab.fake().path())
        .env("SRIOV_CNI_STATE_DIR", &setup.state)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("plugin starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(conf.as_bytes())
        .expect("stdin written");
    let out = child.wait_with_output().expect("plugin ends");
    let elapsed = start.elapsed();
    assert!(
        out.status.success(),
        "{} {command} failed: {}",
        plugin.display(),
        String::from_utf8_lossy(&out.stdout)
    );
    elapsed
}

fn confs(setup: &Setup, vf: (&str, &str), ipam: bool) -> Vec<(&'static str, String)> {
    let ipam = if ipam {
        format!(
            r#","ipam":{{"type":"host-local","subnet":"10.77.0.0/16","dataDir":"{}"}}"#,
            setup.data.display()
        )
    } else {
        String::new()
    };
    let (pci, netdev) = vf;
    let sriov = format!(
        r#"{{"cniVersion":"1.0.0","name":"bench","type":"sriov","deviceID":"{pci}"{ipam}}}"#
    );
    vec![
        ("sriov", sriov.clone()),
        (
            "host-device",
            format!(
                r#"{{"cniVersion":"1.0.0","name":"bench","type":"host-device","device":"{netdev}"{ipam}}}"#
            ),
        ),
        // A second build of the plugin (`--plugin-b`), for before/after comparisons.
        ("sriov-b", sriov),
    ]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Mean and the half-width of its 95 % interval, in ms.
fn mean_ci(samples: &[Duration]) -> (f64, f64) {
    let n = samples.len() as f64;
    let xs: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, 1.96 * (var / n).sqrt())
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Builds the namespaces, veths and the fake root for both VF shapes.
fn setup(cni_path: &Path, launch: Launch) -> Setup {
    let lab = NetLab::new().expect("net lab");
    let pod = lab.pod("pod").expect("pod netns");
    if launch == Launch::Direct {
        // This process (single-threaded here) moves into the test's host namespace, so the
        // plugins it starts run there without a wrapper.
        nix::sched::setns(
            lab.host().open().expect("open"),
            nix::sched::CloneFlags::CLONE_NEWNET,
        )
        .expect("join host netns");
    }
    lab.passthrough_vf(
        VM_VF.0,
        presets::INTEL_E810_CQDA2,
        "iavf",
        VM_VF.1,
        "wire0",
        None,
    )
    .expect("fake VF");
    lab.veth(PF_VF.1, "wire1", None).expect("veth");
    // The PF's own netdev (a veth has no VFs to report, as a PF whose driver shows none).
    lab.veth(PF.1, "wire2", None).expect("veth");
    let pf = lab
        .fake()
        .pf(PF.0, presets::INTEL_E810_CQDA2)
        .name(PF.1)
        .num_vfs(1)
        .build()
        .expect("fake PF");
    assert_eq!(pf.to_string(), PF.0);
    Setup {
        state: lab.dir().join("state"),
        data: lab.dir().join("ipam"),
        pod,
        lab,
        cni_path: cni_path.to_owned(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let plugin = PathBuf::from(arg(&args, "--plugin").expect("--plugin PATH to the sriov binary"));
    let cni_path = PathBuf::from(arg(&args, "--cni-path").unwrap_or_else(|| "/usr/lib/cni".into()));
    let rounds: usize = arg(&args, "--rounds").map_or(200, |r| r.parse().expect("a number"));
    let rss_only = arg(&args, "--rss");
    let only = |name: &str, value: &str| arg(&args, name).is_none_or(|v| v == value);
    assert!(
        nix::unistd::geteuid().is_root(),
        "needs root (network namespaces)"
    );
    let plugin_b = arg(&args, "--plugin-b").map(PathBuf::from);
    let binary = |name: &str| match name {
        "sriov" => plugin.clone(),
        "sriov-b" => plugin_b.clone().expect("--plugin-b"),
        _ => cni_path.join(name),
    };

    if let Some(which) = rss_only {
        // Peak RSS and CPU time of one plugin, as the kernel accounts them for children:
        // CPU time is the plugin's own work, without the waits inside the kernel's netns
        // moves that dominate wall time.
        let setup = setup(&cni_path, Launch::Direct);
        let cycles = 20;
        let (_, conf) = confs(&setup, VM_VF, false)
            .into_iter()
            .find(|(n, _)| *n == which)
            .expect("a known plugin");
        for _ in 0..cycles {
            run(&setup, Launch::Direct, &binary(&which), "ADD", &conf);
            run(&setup, Launch::Direct, &binary(&which), "DEL", &conf);
        }
        let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
            .expect("getrusage");
        let cpu = usage.user_time() + usage.system_time();
        let cpu_us = cpu.tv_sec() as f64 * 1e6 + cpu.tv_usec() as f64;
        println!("{} {:.0}", usage.max_rss(), cpu_us / f64::from(cycles));
        return;
    }

    println!(
        "| Launch | VF | IPAM | Plugin | ADD+DEL median | mean ± 95 % | p90 | ADD mean | DEL mean |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    // The driver joins the host namespace for `direct`, so that shape runs last.
    for (launch, launch_name) in [(Launch::Nsenter, "nsenter"), (Launch::Direct, "direct")] {
        if !only("--launch", launch_name) {
            continue;
        }
        let setup = setup(&cni_path, launch);
        for (vf, vf_name) in [(VM_VF, "vm"), (PF_VF, "pf")] {
            if !only("--vf", vf_name) {
                continue;
            }
            for (ipam, ipam_name) in [(false, "none"), (true, "host-local")] {
                if !only("--ipam", ipam_name) {
                    continue;
                }
                let mut confs = confs(&setup, vf, ipam);
                if plugin_b.is_none() {
                    confs.truncate(2);
                }
                let n = confs.len();
                let mut times: Vec<Vec<Duration>> = vec![Vec::new(); n];
                let mut adds: Vec<Vec<Duration>> = vec![Vec::new(); n];
                let mut dels: Vec<Vec<Duration>> = vec![Vec::new(); n];
                for round in 0..rounds + 10 {
                    // Rotate which plugin goes first.
                    let order: Vec<usize> = (0..n).map(|k| (k + round) % n).collect();
                    for i in order {
                        let (name, conf) = &confs[i];
                        let add = run(&setup, launch, &binary(name), "ADD", conf);
                        let del = run(&setup, launch, &binary(name), "DEL", conf);
                        if round >= 10 {
                            times[i].push(add + del);
                            adds[i].push(add);
                            dels[i].push(del);
                        }
                    }
                }
                let mut means = Vec::new();
                for (i, (name, _)) in confs.iter().enumerate() {
                    times[i].sort();
                    let (mean, ci) = mean_ci(&times[i]);
                    means.push(mean);
                    println!(
                        "| {launch_name} | {vf_name} | {ipam_name} | {name} | {} | {mean:.2} ± {ci:.2} ms | {} | {:.2} ms | {:.2} ms |",
                        ms(percentile(&times[i], 0.5)),
                        ms(percentile(&times[i], 0.9)),
                        mean_ci(&adds[i]).0,
                        mean_ci(&dels[i]).0,
                    );
                }
                eprintln!(
                    "{launch_name}/{vf_name}/{ipam_name}: sriov/host-device mean ratio {:.2}",
                    means[0] / means[1]
                );
            }
        }
    }
    let me = std::env::current_exe().expect("own path");
    println!();
    println!("| Plugin | Binary size | Peak RSS | CPU time per ADD+DEL (direct, vm, no IPAM) |");
    println!("|---|---|---|---|");
    for name in ["sriov", "host-device"] {
        let size = std::fs::metadata(binary(name))
            .map(|m| m.len())
            .unwrap_or(0);
        let out = Command::new(&me)
            .args([
                "--plugin",
                plugin.to_str().unwrap(),
                "--cni-path",
                cni_path.to_str().unwrap(),
                "--rss",
                name,
            ])
            .output()
            .expect("RSS run");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut fields = text.split_whitespace();
        let kib: f64 = fields.next().and_then(|f| f.parse().ok()).unwrap_or(0.0);
        let cpu_us: f64 = fields.next().and_then(|f| f.parse().ok()).unwrap_or(0.0);
        println!(
            "| {name} | {:.1} MiB | {:.1} MiB | {:.2} ms |",
            size as f64 / 1048576.0,
            kib / 1024.0,
            cpu_us / 1000.0
        );
    }
}
