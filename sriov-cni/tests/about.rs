//! Run by a person rather than a container runtime: no `CNI_COMMAND`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn without_cni_command_the_binary_says_what_it_is_and_exits_0() {
    for args in [&[][..], &["--help"], &["--version"]] {
        // stdin stays open (as a terminal would): the answer must not wait for it.
        let mut child = Command::new(env!("CARGO_BIN_EXE_sriov"))
            .args(args)
            .env_remove("CNI_COMMAND")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sriov starts");
        let start = Instant::now();
        while child.try_wait().expect("waits").is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{args:?}: still running (reading stdin?)"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let output = child.wait_with_output().expect("output");
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        assert_eq!(output.stdout, b"", "{args:?}: stdout is for results");
        let stderr = String::from_utf8(output.stderr).expect("utf-8");
        assert_eq!(
            stderr,
            format!(
                "CNI sriov plugin v{} (sriov-rs)\nCNI protocol versions supported: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0\n",
                env!("CARGO_PKG_VERSION")
            ),
            "{args:?}"
        );
    }
}

#[test]
fn an_unknown_cni_command_is_still_an_environment_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_sriov"))
        .env("CNI_COMMAND", "FOO")
        .stdin(Stdio::null())
        .output()
        .expect("sriov runs");
    assert_eq!(output.status.code(), Some(1));
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON error");
    assert_eq!(answer["code"], 4);
    assert_eq!(answer["msg"], "unknown CNI_COMMAND: FOO");
}
