//! The built `sriov-network-operator` binary against the sandbox over TCP, through a
//! kubeconfig, as it runs against a cluster: it writes the node states and the
//! device-plugin configuration, and stops cleanly on SIGTERM.
// Test set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube_sandbox::Sandbox;
use serde_json::json;
use sriov_core::api::SriovNetworkNodeState;
use sriov_core::testing::{NAMESPACE, PolicyBuilder, worker};

#[test]
fn the_operator_binary_syncs_a_cluster_through_a_kubeconfig_and_stops_on_sigterm() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sandbox = Sandbox::default();
    for crd in sriov_core::crd::operator_crds() {
        sandbox
            .create(&serde_json::to_value(&crd).unwrap())
            .unwrap();
    }
    sandbox
        .create(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}))
        .unwrap();
    sandbox
        .create(
            &json!({"apiVersion": "sriovnetwork.openshift.io/v1", "kind": "SriovOperatorConfig",
            "metadata": {"name": "default", "namespace": NAMESPACE}, "spec": {}}),
        )
        .unwrap();
    sandbox
        .create(&serde_json::to_value(worker("worker-0")).unwrap())
        .unwrap();
    let policy = PolicyBuilder::new("intel")
        .vendor("8086")
        .resource("intelnics")
        .build();
    sandbox
        .create(&serde_json::to_value(policy).unwrap())
        .unwrap();
    let (address, _) = runtime
        .block_on(sandbox.serve("127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    kube_sandbox::kubeconfig(&kubeconfig, &format!("http://{address}")).unwrap();

    let mut operator = Command::new(env!("CARGO_BIN_EXE_sriov-network-operator"))
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .env("NAMESPACE", NAMESPACE)
        .env_remove("KUBECONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let _entered = runtime.enter();
    let client = kube::Client::new(sandbox.client_service(), NAMESPACE);
    let states: Api<SriovNetworkNodeState> = Api::namespaced(client.clone(), NAMESPACE);
    let maps: Api<ConfigMap> = Api::namespaced(client, NAMESPACE);
    let synced = runtime.block_on(async {
        for _ in 0..250 {
            let state = states.get_opt("worker-0").await.unwrap();
            let config = maps.get_opt("device-plugin-config").await.unwrap();
            if state.is_some()
                && config
                    .and_then(|c| c.data)
                    .is_some_and(|d| d.get("worker-0").is_some_and(|j| j.contains("intelnics")))
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        false
    });
    if !synced {
        let _ = operator.kill();
        let output = operator.wait_with_output().unwrap();
        panic!(
            "the operator never wrote the node state and config: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let status = Command::new("kill")
        .args(["-TERM", &operator.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut exited = None;
    for _ in 0..100 {
        if let Some(code) = operator.try_wait().unwrap() {
            exited = Some(code);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let Some(exited) = exited else {
        // Leave nothing running behind a failed test.
        let _ = operator.kill();
        let _ = operator.wait();
        panic!("the operator did not stop within 5 s of SIGTERM");
    };
    let output = operator.wait_with_output().unwrap();
    assert!(
        exited.success(),
        "{exited}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
