//! `sriov`: the SR-IOV CNI plugin binary.

fn main() {
    std::process::exit(sriov_cni::main());
}
