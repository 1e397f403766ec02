//! `deploy/` as a user installs it: `kubectl apply --server-side -k deploy/` against a
//! fresh API server (the sandbox over TCP, no CRDs yet) creates every object, then
//! `deploy/default-config/` the default SriovOperatorConfig; applying both again works.
// Test set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use kube_sandbox::Sandbox;

fn kubectl(kubeconfig: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env("HOME", home)
        .env_remove("KUBECONFIG")
        .output()
        .expect("kubectl (on every machine this project is tested on) runs")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Over CRDs installed by another manager (as `sriovctl sandbox` installs them), the apply
/// takes them over without a conflict: the committed CRDs spell `minimum: 0.0` where the
/// stored ones hold `0`, the same number to the API server.
#[test]
fn kubectl_applies_deploy_over_crds_another_manager_installed() {
    let runtime = runtime();
    let sandbox = Sandbox::default();
    for crd in sriov_core::crd::operator_crds() {
        sandbox
            .create(&serde_json::to_value(&crd).unwrap())
            .unwrap();
    }
    let (address, _) = runtime
        .block_on(sandbox.serve("127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    kube_sandbox::kubeconfig(&kubeconfig, &format!("http://{address}")).unwrap();
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    let applied = kubectl(
        &kubeconfig,
        dir.path(),
        &["apply", "--server-side", "-k", deploy.to_str().unwrap()],
    );
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
}

#[test]
fn kubectl_applies_deploy_to_a_fresh_cluster() {
    let runtime = runtime();
    let sandbox = Sandbox::default();
    let (address, _) = runtime
        .block_on(sandbox.serve("127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    kube_sandbox::kubeconfig(&kubeconfig, &format!("http://{address}")).unwrap();
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    let deploy = deploy.to_str().unwrap();

    let first = kubectl(
        &kubeconfig,
        dir.path(),
        &["apply", "--server-side", "-k", deploy],
    );
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&first.stderr)
    );
    for object in [
        "namespace/sriov-network-operator",
        "customresourcedefinition.apiextensions.k8s.io/sriovnetworknodepolicies.sriovnetwork.openshift.io",
        "clusterrole.rbac.authorization.k8s.io/sriov-network-operator",
        "deployment.apps/sriov-network-operator",
    ] {
        assert!(
            stdout.contains(&format!("{object} serverside-applied")),
            "{object}: {stdout}"
        );
    }
    let config = format!("{deploy}/default-config");
    let second = kubectl(
        &kubeconfig,
        dir.path(),
        &["apply", "--server-side", "-k", &config],
    );
    assert!(
        String::from_utf8_lossy(&second.stdout)
            .contains("sriovoperatorconfig.sriovnetwork.openshift.io/default serverside-applied"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let got = kubectl(
        &kubeconfig,
        dir.path(),
        &[
            "-n",
            "sriov-network-operator",
            "get",
            "sriovoperatorconfig",
            "default",
            "-o",
            "jsonpath={.spec.logLevel}",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&got.stdout), "2");

    for path in [deploy, config.as_str()] {
        let again = kubectl(
            &kubeconfig,
            dir.path(),
            &["apply", "--server-side", "-k", path],
        );
        assert!(
            again.status.success(),
            "{}",
            String::from_utf8_lossy(&again.stderr)
        );
    }
}
