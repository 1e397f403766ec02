//! `sriovctl sandbox` as a user runs it: start it with the example manifests, use it with
//! kubectl through the kubeconfig it writes, stop it with SIGTERM.
// Test set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// kubectl with `args`, configured for the sandbox (its own discovery cache and HOME).
fn kubectl_command(kubeconfig: &Path, cache: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("kubectl");
    command
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("KUBECACHEDIR", cache)
        .env("HOME", cache);
    command
}

fn kubectl(kubeconfig: &Path, cache: &Path, args: &[&str]) -> String {
    let output = kubectl_command(kubeconfig, cache, args)
        .output()
        .expect("kubectl runs (it is on PATH on every machine here)");
    assert!(
        output.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A running `sriovctl sandbox` with `extra` arguments, once it said it is ready.
struct Running {
    child: std::process::Child,
    kubeconfig: PathBuf,
    cache: PathBuf,
    _dir: tempfile::TempDir,
}

impl Running {
    fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let mut child = Command::new(env!("CARGO_BIN_EXE_sriovctl"))
            .args(["sandbox", "--kubeconfig"])
            .arg(&kubeconfig)
            .args(extra)
            .current_dir(repo())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut ready = String::new();
        stdout.read_line(&mut ready).unwrap();
        assert!(
            ready.starts_with("sandbox ready: http://127.0.0.1:")
                && ready
                    .trim_end()
                    .ends_with(&format!("kubeconfig={}", kubeconfig.display())),
            "{ready}"
        );
        Self {
            child,
            kubeconfig,
            cache: dir.path().join("cache"),
            _dir: dir,
        }
    }

    fn kubectl(&self, args: &[&str]) -> String {
        kubectl(&self.kubeconfig, &self.cache, args)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn kubectl_applies_the_examples_client_side_then_server_side() {
    let sandbox = Running::start(&[]);
    let examples = repo().join("examples/manifests");
    let examples = examples.to_str().unwrap();
    let first = sandbox.kubectl(&["apply", "-f", examples]);
    let lines: Vec<&str> = first.lines().collect();
    assert!(lines.len() >= 12, "{first}");
    assert!(lines.iter().all(|l| l.ends_with(" created")), "{first}");
    // Again: nothing to do, except where the manifest carries a status the main endpoint
    // ignores (kubectl then patches every time, as against a cluster).
    let second = sandbox.kubectl(&["apply", "-f", examples]);
    for line in second.lines() {
        let with_status = [
            "sriovnetwork.sriovnetwork.openshift.io/sriov-net-vlan ",
            "sriovnetworknodestate.sriovnetwork.openshift.io/",
            "sriovoperatorconfig.sriovnetwork.openshift.io/default ",
        ]
        .iter()
        .any(|prefix| line.starts_with(prefix));
        let expected = if with_status {
            " configured"
        } else {
            " unchanged"
        };
        assert!(line.ends_with(expected), "{line}\n{second}");
    }
    // The same manifests applied server-side share the fields they set with the same
    // values: no conflict with the client-side owner.
    let third = sandbox.kubectl(&["apply", "--server-side", "-f", examples]);
    assert!(
        third.lines().all(|l| l.ends_with(" serverside-applied")),
        "{third}"
    );
    let policy = sandbox.kubectl(&[
        "get",
        "sriovnetworknodepolicy",
        "-n",
        "sriov-network-operator",
        "policy-intel-nic",
        "-o",
        "jsonpath={.metadata.managedFields[*].manager}",
    ]);
    assert!(policy.contains("kubectl"), "{policy}");
}

#[test]
fn the_sandbox_serves_the_crds_and_manifests_to_kubectl_until_sigterm() {
    let mut sandbox = Running::start(&["-f", "examples/manifests/"]);
    let (kubeconfig, cache) = (sandbox.kubeconfig.clone(), sandbox.cache.clone());
    let policies = kubectl(
        &kubeconfig,
        &cache,
        &["get", "sriovnetworknodepolicies", "-A", "-o", "name"],
    );
    assert_eq!(policies.lines().count(), 4, "{policies}");
    let explained = kubectl(
        &kubeconfig,
        &cache,
        &["explain", "sriovnetworknodepolicy.spec.nicSelector"],
    );
    assert!(explained.contains("pfNames"), "{explained}");
    let nads = kubectl(
        &kubeconfig,
        &cache,
        &["get", "net-attach-def", "-A", "-o", "name"],
    );
    assert!(
        !nads.trim().is_empty(),
        "the example NAD is served under its short name"
    );

    let status = Command::new("kill")
        .args(["-TERM", &sandbox.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = sandbox.child.wait().unwrap();
    assert!(exit.success(), "a SIGTERM is a clean stop: {exit}");
}

#[test]
fn sigterm_stops_the_sandbox_while_a_kubectl_watch_is_open() {
    let mut sandbox = Running::start(&[]);
    let mut watch = kubectl_command(
        &sandbox.kubeconfig,
        &sandbox.cache,
        &["get", "configmaps", "-w"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    // The watch is open once kubectl has printed the (empty) list's outcome or waits; give
    // it a moment to connect.
    std::thread::sleep(std::time::Duration::from_millis(700));
    let status = Command::new("kill")
        .args(["-TERM", &sandbox.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut exited = None;
    for _ in 0..100 {
        if let Some(code) = sandbox.child.try_wait().unwrap() {
            exited = Some(code);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = watch.kill();
    let _ = watch.wait();
    let exited = exited.expect("the sandbox stopped within 5 s of SIGTERM with a watch open");
    assert!(exited.success(), "{exited}");
}

#[test]
fn a_kubeconfig_the_sandbox_placed_itself_is_removed_when_it_stops() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sriovctl"))
        .args(["sandbox", "--listen", "localhost:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    let path = PathBuf::from(ready.trim_end().rsplit_once("kubeconfig=").unwrap().1);
    assert!(path.exists(), "{ready}");
    assert!(
        ready.starts_with("sandbox ready: http://127.0.0.1:")
            || ready.starts_with("sandbox ready: http://[::1]:"),
        "{ready}"
    );
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
    assert!(!path.exists(), "{} is left behind", path.display());
}

#[test]
fn the_sandbox_refuses_a_remote_address_without_the_insecure_flag() {
    let output = Command::new(env!("CARGO_BIN_EXE_sriovctl"))
        .args(["sandbox", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("refusing to listen on 0.0.0.0:0: the sandbox has no authentication"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_manifest_the_sandbox_refuses_stops_it_naming_the_file_and_object() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_A_Name\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sriovctl"))
        .args(["sandbox", "-f"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!("error: {}: ConfigMap Not_A_Name: ConfigMap \"Not_A_Name\" is invalid: metadata.name: Invalid value", bad.display())),
        "{stderr}"
    );
    // A file that is not YAML is named with the line and column.
    std::fs::write(
        &bad,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sriovctl"))
        .args(["sandbox", "-f"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "error: {}:4:9: document 1: unclosed bracket '['\n",
            bad.display()
        )
    );
}

#[test]
fn webhook_services_are_called_where_route_service_points() {
    // Nothing listens on this port: the failure names the address the route gave.
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let route = format!("hooks/webhook={down}");
    let sandbox = Running::start(&["--route-service", &route]);
    let configuration = |service: &str| {
        format!(
            r#"{{"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
              "metadata": {{"name": "check"}},
              "webhooks": [{{"name": "check.example.com",
                "clientConfig": {{"service": {{"namespace": "hooks", "name": "{service}", "path": "/validate"}}}},
                "rules": [{{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}}],
                "sideEffects": "None", "admissionReviewVersions": ["v1"]}}]}}"#
        )
    };
    let run = |args: &[&str], stdin: &str| {
        let mut child = kubectl_command(&sandbox.kubeconfig, &sandbox.cache, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let applied = run(&["apply", "-f", "-"], &configuration("webhook"));
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let refused = run(&["create", "configmap", "c1"], "");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!(
            r#"failed calling webhook "check.example.com": failed to call webhook: Post "https://webhook.hooks.svc:443/validate?timeout=10s": dial tcp {down}: connect:"#
        )),
        "{stderr}"
    );
    // A Service without a route says so.
    let applied = run(&["apply", "-f", "-"], &configuration("elsewhere"));
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let refused = run(&["create", "configmap", "c2"], "");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(r#"service "hooks/elsewhere" port 443 has no route in the sandbox"#),
        "{stderr}"
    );
}
