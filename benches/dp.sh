#!/usr/bin/env bash
# Allocate latency and idle memory of the device plugin (sriovdp) on a fake host with
# 1,024 VFs; prints markdown rows for BENCHMARKS.md. The discovery benchmark is
# `cargo bench -p sriov-benches --bench deviceplugin`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p sriov-deviceplugin --bin sriovdp -p sriov-benches --bin dp-allocate
exec target/release/dp-allocate --plugin target/release/sriovdp "$@"
