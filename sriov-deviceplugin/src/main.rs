//! `sriovdp`: the SR-IOV device plugin binary.

fn main() {
    std::process::exit(sriov_deviceplugin::main());
}
