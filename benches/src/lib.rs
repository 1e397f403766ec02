//! Benchmark inputs for the SR-IOV stack, shared by the benches in `benches/`.
//!
//! Run the benchmarks with `cargo bench -p sriov-benches`; recorded figures live in
//! `BENCHMARKS.md` at the repository root.

use std::fmt::Write;

/// The peak resident set size (`VmHWM`) of process `pid` (`"self"` for this one), in KiB;
/// 0 when it cannot be read.
pub fn peak_rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The CPU time (user and system, all threads) process `pid` has used so far, from
/// `/proc/<pid>/stat` (`"self"` for this process); zero when it cannot be read.
pub fn cpu_time(pid: &str) -> std::time::Duration {
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // The fields after the command (which may hold spaces) in parentheses.
            let rest = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of the line, 12 and 13 after ')'.
            let user: u64 = fields.get(11)?.parse().ok()?;
            let system: u64 = fields.get(12)?.parse().ok()?;
            Some(user + system)
        })
        .unwrap_or(0);
    // USER_HZ is 100 on every Linux this runs on.
    std::time::Duration::from_millis(ticks * 10)
}

/// A `SriovNetworkNodeState` manifest as the config daemon would report it: `pfs` Intel
/// E810 ports with `vfs` VFs each, every VF with driver, MAC, MTU and netdev name.
pub fn node_state_yaml(pfs: usize, vfs: usize) -> String {
    let mut out = String::from(
        "apiVersion: sriovnetwork.openshift.io/v1\nkind: SriovNetworkNodeState\n\
         metadata:\n  name: worker-0\n  namespace: sriov-network-operator\n\
         spec: {}\nstatus:\n  syncStatus: Succeeded\n  interfaces:\n",
    );
    for pf in 0..pfs {
        let _ = write!(
            out,
            "  - name: ens{pf}f0\n    pciAddress: \"0000:{pf:02x}:00.0\"\n    vendor: \"8086\"\n    \
             deviceID: \"1592\"\n    driver: ice\n    mtu: 9000\n    numVfs: {vfs}\n    \
             totalvfs: 256\n    linkSpeed: 100000 Mb/s\n    linkType: ETH\n    Vfs:\n"
        );
        for vf in 0..vfs {
            let _ = write!(
                out,
                "    - pciAddress: \"0000:{pf:02x}:{:02x}.{}\"\n      vfID: {vf}\n      \
                 driver: iavf\n      vendor: \"8086\"\n      deviceID: \"1889\"\n      mtu: 9000\n      \
                 mac: \"02:00:00:00:{pf:02x}:{:02x}\"\n      name: ens{pf}f0v{vf}\n",
                1 + vf / 8,
                vf % 8,
                vf % 256
            );
        }
    }
    out
}

use sriov_core::render::cluster::Snapshot;
use sriov_core::testing::{InterfaceBuilder, PolicyBuilder, node_state, worker};

/// A cluster of `nodes` workers with 4 PFs each (E810 and ConnectX-6 Dx ports, 64 VFs
/// asked per PF) spread over 20 racks, and `policies` policies: each targets one rack and
/// one PF name with an 8-VF range, so every node is selected by `policies / 20` policies
/// that partition its ports, with resource names shared across racks.
pub fn cluster(nodes: usize, policies: usize) -> Snapshot {
    let mut snapshot = Snapshot::default();
    for n in 0..nodes {
        let name = format!("worker-{n:05}");
        let mut node = worker(&name);
        if let Some(labels) = &mut node.metadata.labels {
            labels.insert("rack".into(), format!("r{}", n % 20));
        }
        snapshot.nodes.push(std::sync::Arc::new(node.into()));
        let pfs = (0..4)
            .map(|p| {
                let pci = format!("0000:{:02x}:00.{}", 0x10 + p / 2, p % 2);
                let builder = InterfaceBuilder::new(&pci, &format!("ens{p}f0"))
                    .alt_name(&format!("enp{p}s0"));
                if p < 2 {
                    builder.intel_e810()
                } else {
                    builder.mellanox_cx6dx()
                }
                .build()
            })
            .collect();
        snapshot
            .node_states
            .push(std::sync::Arc::new(node_state(&name, pfs)));
    }
    for i in 0..policies {
        let first = (i / 20 % 8) * 8;
        let policy = PolicyBuilder::new(&format!("policy-{i:03}"))
            .priority((i % 100) as i32)
            .resource(&format!("res{}", i % 50))
            .node_label("rack", &format!("r{}", i % 20))
            .pf(&format!("ens{}f0#{first}-{}", i % 4, first + 7))
            .num_vfs(64)
            .build();
        snapshot.policies.push(std::sync::Arc::new(policy));
    }
    snapshot
}
