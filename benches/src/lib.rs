//! Benchmark inputs for the SR-IOV stack, shared by the benches in `benches/`.
//!
//! Run the benchmarks with `cargo bench -p sriov-benches`; recorded figures live in
//! `BENCHMARKS.md` at the repository root.

use std::fmt::Write;

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
