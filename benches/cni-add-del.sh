#!/usr/bin/env bash
# Times ADD+DEL of the sriov CNI plugin against Debian's host-device plugin on the same
# veths, alternating, in every shape (launched directly or under nsenter; a VF with or
# without a PF in the host root; no IPAM or host-local); prints markdown tables for
# BENCHMARKS.md. Needs root, nsenter and containernetworking-plugins (/usr/lib/cni).
# Usage: benches/cni-add-del.sh [--rounds N] [--launch direct|nsenter] [--vf vm|pf]
#        [--ipam none|host-local] [--plugin-b OTHER_BUILD]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p sriov-cni --bin sriov -p sriov-benches --bin cni-add-del
exec target/release/cni-add-del --plugin target/release/sriov --cni-path /usr/lib/cni "$@"
