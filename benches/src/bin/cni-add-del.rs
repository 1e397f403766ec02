//! Times ADD+DEL of the `sriov` CNI plugin against Debian's `host-device` plugin on the same
//! veth (standing in for a VF), alternating runs in one process tree, without IPAM (the
//! plugin's own cost) and with `host-local` (what a pod start sees); reports medians, p90,
//! binary sizes and peak RSS. Needs root. Run through `benches/cni-add-del.sh`.
//!
//! Usage: `cni-add-del --plugin PATH [--cni-path DIR] [--rounds N]`

// A benchmark driver: setup failures end it with a message, by design.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sriov_hw::fake::{FakeSysfs, presets};
use sriov_hw::netlink::Netlink;
use sriov_hw::netns::NamedNetns;

const VF: &str = "0000:af:06.0";

struct Setup {
    _dir: tempfile::TempDir,
    fake: FakeSysfs,
    pod: NamedNetns,
    state: PathBuf,
    data: PathBuf,
    cni_path: PathBuf,
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn run(setup: &Setup, plugin: &Path, command: &str, conf: &str) -> Duration {
    let start = Instant::now();
    let mut child = Command::new(plugin)
        .env_clear()
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", "bench")
        .env("CNI_NETNS", setup.pod.path())
        .env("CNI_IFNAME", "net1")
        .env("CNI_PATH", &setup.cni_path)
        .env("SRIOV_HOST_ROOT", setup.fake.path())
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

fn confs(setup: &Setup, ipam: bool) -> [(&'static str, String); 2] {
    let ipam = if ipam {
        format!(
            r#","ipam":{{"type":"host-local","subnet":"10.77.0.0/16","dataDir":"{}"}}"#,
            setup.data.display()
        )
    } else {
        String::new()
    };
    [
        (
            "sriov",
            format!(
                r#"{{"cniVersion":"1.0.0","name":"bench","type":"sriov","deviceID":"{VF}"{ipam}}}"#
            ),
        ),
        (
            "host-device",
            format!(
                r#"{{"cniVersion":"1.0.0","name":"bench","type":"host-device","device":"vf0"{ipam}}}"#
            ),
        ),
    ]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let plugin = PathBuf::from(arg(&args, "--plugin").expect("--plugin PATH to the sriov binary"));
    let cni_path = PathBuf::from(arg(&args, "--cni-path").unwrap_or_else(|| "/usr/lib/cni".into()));
    let rounds: usize = arg(&args, "--rounds").map_or(200, |r| r.parse().expect("a number"));
    let rss_only = arg(&args, "--rss");
    assert!(
        nix::unistd::geteuid().is_root(),
        "needs root (network namespaces)"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let host = NamedNetns::create(&dir.path().join("host")).expect("host netns");
    let pod = NamedNetns::create(&dir.path().join("pod")).expect("pod netns");
    // This process (single-threaded here) moves into the test's host namespace, so the
    // plugins it starts run there without a wrapper.
    nix::sched::setns(
        host.open().expect("open"),
        nix::sched::CloneFlags::CLONE_NEWNET,
    )
    .expect("join host netns");
    let nl = Netlink::new().expect("netlink");
    nl.add_veth("vf0", "wire0").expect("veth");
    nl.set_admin_up("wire0", true).expect("up");
    let fake = FakeSysfs::new().expect("fake sysfs");
    fake.passthrough_vf(VF, presets::INTEL_E810_CQDA2, "iavf", Some("vf0"))
        .expect("fake VF");
    let setup = Setup {
        state: dir.path().join("state"),
        data: dir.path().join("ipam"),
        _dir: dir,
        fake,
        pod,
        cni_path: cni_path.clone(),
    };
    let binary = |name: &str| {
        if name == "sriov" {
            plugin.clone()
        } else {
            cni_path.join(name)
        }
    };

    if let Some(which) = rss_only {
        // Peak RSS and CPU time of one plugin, as the kernel accounts them for children:
        // CPU time is the plugin's own work, without the waits inside the kernel's netns
        // moves that dominate wall time.
        let cycles = 20;
        let (_, conf) = confs(&setup, false)
            .into_iter()
            .find(|(n, _)| *n == which)
            .expect("a known plugin");
        for _ in 0..cycles {
            run(&setup, &binary(&which), "ADD", &conf);
            run(&setup, &binary(&which), "DEL", &conf);
        }
        let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
            .expect("getrusage");
        let cpu = usage.user_time() + usage.system_time();
        let cpu_us = cpu.tv_sec() as f64 * 1e6 + cpu.tv_usec() as f64;
        println!("{} {:.0}", usage.max_rss(), cpu_us / f64::from(cycles));
        return;
    }

    println!("| Mode | Plugin | ADD+DEL median | p90 | min | ADD median | DEL median |");
    println!("|---|---|---|---|---|---|---|");
    for ipam in [false, true] {
        let confs = confs(&setup, ipam);
        let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
        let mut adds: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
        let mut dels: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
        for round in 0..rounds + 10 {
            // Alternate which plugin goes first.
            let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                let (name, conf) = &confs[i];
                let add = run(&setup, &binary(name), "ADD", conf);
                let del = run(&setup, &binary(name), "DEL", conf);
                if round >= 10 {
                    times[i].push(add + del);
                    adds[i].push(add);
                    dels[i].push(del);
                }
            }
        }
        let mut medians = Vec::new();
        for (i, (name, _)) in confs.iter().enumerate() {
            times[i].sort();
            adds[i].sort();
            dels[i].sort();
            let median = percentile(&times[i], 0.5);
            medians.push(median);
            println!(
                "| {} | {name} | {} | {} | {} | {} | {} |",
                if ipam { "host-local IPAM" } else { "no IPAM" },
                ms(median),
                ms(percentile(&times[i], 0.9)),
                ms(times[i][0]),
                ms(percentile(&adds[i], 0.5)),
                ms(percentile(&dels[i], 0.5))
            );
        }
        eprintln!(
            "{}: sriov/host-device median ratio {:.2}",
            if ipam { "host-local" } else { "no IPAM" },
            medians[0].as_secs_f64() / medians[1].as_secs_f64()
        );
    }
    let me = std::env::current_exe().expect("own path");
    println!();
    println!("| Plugin | Binary size | Peak RSS | CPU time per ADD+DEL (no IPAM) |");
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
