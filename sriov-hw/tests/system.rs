//! `RootSystem` on a real directory: atomic writes with modes, removal, commands, and the
//! udev helper scripts run by a real shell.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use sriov_hw::HostRoot;
use sriov_hw::system::{HostSystem, RootSystem};

#[test]
fn files_are_written_with_their_mode_and_removed_idempotently() {
    let dir = tempfile::tempdir().expect("temp dir");
    let host = RootSystem::new(HostRoot::new(dir.path()));
    host.write_file("etc/udev/rules.d/10-x.rules", "rule\n", 0o666)
        .expect("writes");
    let path = dir.path().join("etc/udev/rules.d/10-x.rules");
    let meta = std::fs::metadata(&path).expect("exists");
    assert_eq!(meta.permissions().mode() & 0o777, 0o666);
    assert_eq!(
        host.read_file("etc/udev/rules.d/10-x.rules")
            .expect("reads")
            .as_deref(),
        Some("rule\n")
    );
    assert!(host.exists("etc/udev/rules.d"));
    // Overwriting leaves no temporary file behind.
    host.write_file("etc/udev/rules.d/10-x.rules", "new\n", 0o644)
        .expect("overwrites");
    let entries = std::fs::read_dir(dir.path().join("etc/udev/rules.d"))
        .expect("lists")
        .count();
    assert_eq!(entries, 1);
    host.remove_file("etc/udev/rules.d/10-x.rules")
        .expect("removes");
    host.remove_file("etc/udev/rules.d/10-x.rules")
        .expect("removing a missing file is fine");
    assert_eq!(
        host.read_file("etc/udev/rules.d/10-x.rules")
            .expect("reads"),
        None
    );
}

#[test]
fn commands_report_their_exit_status_and_last_error_line() {
    // On this system's own root, commands run directly (no chroot).
    let host = RootSystem::new(HostRoot::new("/"));
    assert_eq!(host.run("sh", &["-c", "echo hi"]).expect("runs"), "hi\n");
    let err = host
        .run(
            "sh",
            &["-c", "echo first >&2; echo 'second line' >&2; exit 3"],
        )
        .expect_err("fails")
        .to_string();
    assert!(err.starts_with("sh -c "), "{err}");
    assert!(err.ends_with("exit status: 3: second line"), "{err}");
    let err = host
        .run("no-such-program-here", &[])
        .expect_err("does not start")
        .to_string();
    assert!(err.contains("did not start"), "{err}");
}

#[test]
fn udev_helper_scripts_do_what_the_rules_expect() {
    let dir = tempfile::tempdir().expect("temp dir");
    let host = RootSystem::new(HostRoot::new(dir.path()));
    sriov_hw::system::write_pf_rules(
        &host,
        &"0000:81:00.0".parse().unwrap(),
        &"ens1f0".parse().unwrap(),
        &["1889".into()],
        true,
    )
    .expect("writes");
    let run = |script: &str, args: &[&str]| {
        let out = Command::new("sh")
            .arg(dir.path().join(script))
            .args(args)
            .output()
            .expect("sh runs");
        assert!(out.status.success());
        String::from_utf8(out.stdout).expect("utf-8")
    };
    assert_eq!(
        run("etc/udev/switchdev-vf-link-name.sh", &["pf0vf12"]),
        "NUMBER=12\n"
    );
    assert_eq!(run("etc/udev/switchdev-vf-link-name.sh", &["p0"]), "");
    // An interface that is no VF of that PF: NetworkManager keeps managing it.
    assert_eq!(
        run("etc/udev/disable-nm-sriov.sh", &["lo", "0000:81:00.0"]),
        ""
    );
    let mode = std::fs::metadata(dir.path().join("etc/udev/disable-nm-sriov.sh"))
        .expect("exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
}
