//! sriov-core stays pure: no async runtime, HTTP stack, Kubernetes client or host-access
//! crate may enter its normal dependency tree.

use std::process::Command;

#[test]
fn sriov_core_has_no_runtime_client_or_host_dependencies() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "sriov-core",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .args(["--format", "{p}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8(output.stdout).expect("utf-8");
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        crates.contains(&"serde"),
        "cargo tree printed no dependencies:\n{tree}"
    );
    let forbidden = [
        "tokio",
        "hyper",
        "kube-client",
        "kube-runtime",
        "nix",
        "rtnetlink",
        "tonic",
    ];
    let found: Vec<&&str> = forbidden.iter().filter(|f| crates.contains(f)).collect();
    assert!(found.is_empty(), "sriov-core depends on {found:?}:\n{tree}");
}
