#!/usr/bin/env bash
# Times ADD+DEL of the sriov CNI plugin against Debian's host-device plugin on the same
# veth, alternating, without IPAM and with host-local; prints markdown tables for
# BENCHMARKS.md. Needs root and containernetworking-plugins (/usr/lib/cni).
# Usage: benches/cni-add-del.sh [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p sriov-cni --bin sriov -p sriov-benches --bin cni-add-del
exec target/release/cni-add-del --plugin target/release/sriov --cni-path /usr/lib/cni "$@"
