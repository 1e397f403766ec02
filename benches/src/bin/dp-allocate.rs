//! The device plugin under load, out of process: starts `sriovdp` on a FakeSysfs host with
//! 1,024 VFs and a kubelet stand-in directory (plugin-watcher mode), then measures
//! `Allocate` round trips over its Unix socket (p50/p99 of 2,000 calls) and the plugin's
//! resident memory once idle. Run through `benches/dp.sh`.
//!
//! Usage: `dp-allocate --plugin PATH [--calls N]`

// A benchmark driver: setup failures end it with a message, by design.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sriov_deviceplugin::api::v1beta1 as dp;
use sriov_deviceplugin::server::unix_channel;
use sriov_hw::fake::{FakeSysfs, presets};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let plugin = PathBuf::from(arg(&args, "--plugin").expect("--plugin PATH to sriovdp"));
    let calls: usize = arg(&args, "--calls").map_or(2000, |c| c.parse().expect("a number"));
    // On tmpfs, as /var/run and /var/lib/kubelet's sockets are in production.
    let dir = tempfile::Builder::new()
        .prefix("dp-bench")
        .tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("temp dir");
    let fake = FakeSysfs::new().expect("fake sysfs");
    for i in 0..8 {
        let pf = fake
            .pf(
                &format!("0000:{:02x}:00.0", 0x10 + 4 * i),
                presets::INTEL_E810_CQDA2,
            )
            .total_vfs(128)
            .num_vfs(128);
        let pf = if i % 2 == 1 {
            pf.vf_driver("vfio-pci")
        } else {
            pf
        };
        pf.build().expect("fake PF");
    }
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        r#"{"resourceList":[{"resourceName":"net","selectors":{"drivers":["iavf"]}},{"resourceName":"dpdk","selectors":{"drivers":["vfio-pci"]}}]}"#,
    )
    .unwrap();
    let registry = dir.path().join("plugins_registry");
    std::fs::create_dir_all(&registry).unwrap();
    let mut child = std::process::Command::new(&plugin)
        .arg(format!("--config-file={}", config.display()))
        .arg(format!("--host-root={}", fake.path().display()))
        .arg(format!("--plugins-registry-dir={}", registry.display()))
        .arg(format!(
            "--device-plugin-dir={}",
            dir.path().join("dp").display()
        ))
        .arg(format!(
            "--device-info-dir={}",
            dir.path().join("devinfo").display()
        ))
        .arg(format!("--cdi-dir={}", dir.path().join("cdi").display()))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("sriovdp starts");
    let socket = registry.join("intel.com_dpdk.sock");
    let start = Instant::now();
    while !socket.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "sriovdp never served"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ((p50, p99, max), (e50, e99, emax)) = runtime.block_on(async {
        let mut client =
            dp::device_plugin_client::DevicePluginClient::new(unix_channel(&socket).await.unwrap());
        let first = client
            .list_and_watch(dp::Empty {})
            .await
            .unwrap()
            .into_inner()
            .message()
            .await
            .unwrap()
            .unwrap();
        let ids: Vec<String> = first.devices.iter().map(|d| d.id.clone()).collect();
        assert_eq!(ids.len(), 512);
        let mut times = Vec::with_capacity(calls);
        for i in 0..calls + 100 {
            let request = dp::AllocateRequest {
                container_requests: vec![dp::ContainerAllocateRequest {
                    devices_ids: vec![ids[i % ids.len()].clone(), ids[(i + 1) % ids.len()].clone()],
                }],
            };
            let t = Instant::now();
            client.allocate(request).await.unwrap();
            if i >= 100 {
                times.push(t.elapsed());
            }
        }
        // The transport's own floor: an empty call on the same connection.
        let mut empty = Vec::with_capacity(calls);
        for i in 0..calls + 100 {
            let t = Instant::now();
            client
                .get_device_plugin_options(dp::Empty {})
                .await
                .unwrap();
            if i >= 100 {
                empty.push(t.elapsed());
            }
        }
        (percentiles(times), percentiles(empty))
    });
    // Idle: let a few rescans pass, then read its resident set.
    std::thread::sleep(Duration::from_secs(12));
    let rss = rss_kib(child.id());
    let _ = nix_kill(child.id());
    let _ = child.wait();
    println!(
        "| Allocate (2 VFs, vfio pool of 512) | p50 {:.3} ms | p99 {:.3} ms | max {:.3} ms |",
        ms(p50),
        ms(p99),
        ms(max)
    );
    println!(
        "| GetDevicePluginOptions (empty call: the transport's floor) | p50 {:.3} ms | p99 {:.3} ms | max {:.3} ms |",
        ms(e50),
        ms(e99),
        ms(emax)
    );
    println!(
        "| Idle RSS with 1,024 VFs in 2 pools, after 12 s of 5 s rescans | {:.1} MiB | | |",
        rss as f64 / 1024.0
    );
}

fn percentiles(mut times: Vec<Duration>) -> (Duration, Duration, Duration) {
    times.sort();
    let at = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    (at(0.5), at(0.99), times[times.len() - 1])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn nix_kill(pid: u32) -> Result<(), nix::errno::Errno> {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(0)),
        nix::sys::signal::Signal::SIGTERM,
    )
}
