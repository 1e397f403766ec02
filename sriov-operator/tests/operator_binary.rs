//! The built `sriov-network-operator` binary against the sandbox over TCP, through a
//! kubeconfig, as it runs against a cluster: it takes the leader lease, writes the node
//! states and the device-plugin configuration, serves /metrics, /healthz and /readyz, and
//! on SIGTERM stops cleanly and releases the lease.
// Test set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube_sandbox::Sandbox;
use serde_json::json;
use sriov_core::api::SriovNetworkNodeState;
use sriov_core::testing::{NAMESPACE, PolicyBuilder, worker};

/// The operator process, killed if the test fails while it runs.
struct Running(Option<std::process::Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The operator's stderr, read as it arrives (JSON lines).
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn follow(stderr: std::process::ChildStderr) -> Self {
        let log = Self::default();
        let lines = Arc::clone(&log.0);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                lines.lock().unwrap().push(line);
            }
        });
        log
    }

    fn text(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }

    /// Whether some line, read as JSON, satisfies `test`.
    fn any(&self, test: impl Fn(&serde_json::Value) -> bool) -> bool {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .any(|l| test(&l))
    }

    /// Whether some line is at `level` from a target starting with `target`.
    fn at(&self, level: &str, target: &str) -> bool {
        self.any(|l| {
            l["level"] == level && l["target"].as_str().is_some_and(|t| t.starts_with(target))
        })
    }
}

/// `GET path` over plain HTTP/1.0: the status code and body.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let code = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((code, body))
}

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
            "metadata": {"name": "default", "namespace": NAMESPACE}, "spec": {"logLevel": 1}}),
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

    let operator = Command::new(env!("CARGO_BIN_EXE_sriov-network-operator"))
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        // Port 0: the kernel picks, and the "starting" line says which.
        .args(["--metrics-addr", "127.0.0.1:0"])
        .args(["--health-addr", "127.0.0.1:0"])
        .args(["--leader-elect-identity", "replica-a"])
        // No debug lines at start; the config's logLevel 1 turns on the operator's.
        .args(["--log-level", "info", "--log-format", "json"])
        .env("NAMESPACE", NAMESPACE)
        .env_remove("KUBECONFIG")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut running = Running(Some(operator));
    let operator = running.0.as_mut().unwrap();
    let log = Log::follow(operator.stderr.take().unwrap());

    // The bound addresses are logged, so port 0 is usable.
    let port = |field: &str| {
        for _ in 0..250 {
            let found = log.0.lock().unwrap().iter().find_map(|l| {
                let l: serde_json::Value = serde_json::from_str(l).ok()?;
                (l["fields"]["message"] == "starting").then(|| {
                    l["fields"][field]
                        .as_str()?
                        .rsplit_once(':')?
                        .1
                        .parse()
                        .ok()
                })?
            });
            if let Some(port) = found {
                return port;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no {field} address in the starting line: {}", log.text());
    };
    let (metrics, health): (u16, u16) = (port("metrics"), port("health"));
    assert_ne!(metrics, 0);

    let _entered = runtime.enter();
    let client = kube::Client::new(sandbox.client_service(), NAMESPACE);
    let states: Api<SriovNetworkNodeState> = Api::namespaced(client.clone(), NAMESPACE);
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let leases: Api<Lease> = Api::namespaced(client, NAMESPACE);
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
        panic!(
            "the operator never wrote the node state and config: {}",
            log.text()
        );
    }
    let holder = || {
        runtime
            .block_on(leases.get_opt("a56def2a.openshift.io"))
            .unwrap()
            .and_then(|l| l.spec?.holder_identity)
    };
    assert_eq!(holder().as_deref(), Some("replica-a"), "it leads");
    // The counters move just after the writes the test waited for.
    let mut scrape = None;
    for _ in 0..100 {
        scrape = get(metrics, "/metrics");
        if scrape.as_ref().is_some_and(|(_, b)| {
            b.contains("controller=\"policy\"") && b.contains("sync_status=\"Unknown\"} 1")
        }) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, body) = scrape.expect("metrics are served");
    assert_eq!(code, 200);
    assert!(
        body.contains("sriov_operator_reconcile_total{controller=\"policy\"}"),
        "{body}"
    );
    assert!(body.contains("sriov_operator_leader 1"), "{body}");
    assert!(
        body.contains("sriov_operator_nodes{sync_status=\"Unknown\"} 1"),
        "{body}"
    );
    assert_eq!(get(health, "/healthz").map(|r| r.0), Some(200));
    assert_eq!(get(health, "/readyz").map(|r| r.0), Some(200));

    // The operator config's logLevel 1 replaced --log-level info: the operator's own debug
    // lines appear (the config controller's second reconcile, after its own writes, logs
    // one), the libraries' do not.
    let mut debug = false;
    for _ in 0..250 {
        debug = log.at("DEBUG", "sriov_operator");
        if debug {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(debug, "no debug line after logLevel 1: {}", log.text());
    assert!(
        log.any(
            |l| l["fields"]["message"] == "log level from the operator config"
                && l["fields"]["log_level"] == 1
        ),
        "{}",
        log.text()
    );
    assert!(!log.at("DEBUG", "kube"), "{}", log.text());
    assert!(!log.at("DEBUG", "hyper"), "{}", log.text());

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
        // `running` kills it on the way out.
        panic!("the operator did not stop within 5 s of SIGTERM");
    };
    running.0.take();
    assert!(exited.success(), "{exited}: {}", log.text());
    assert_eq!(holder(), None, "the lease is released on the way out");
}
