//! `sriovctl`: offline tools for the SR-IOV network operator (see `sriov_operator::ctl`).

fn main() -> std::process::ExitCode {
    sriov_operator::ctl::main()
}
