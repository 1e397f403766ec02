//! The operator's cold start: the built `sriov-network-operator` binary against a sandbox
//! (over TCP, through a kubeconfig) holding N nodes with 4 PFs each, their daemons'
//! node-state reports and P policies. Reports the time from the operator's start until
//! every node state's spec and the device-plugin ConfigMap are written, the requests it
//! sent, and the operator process's peak RSS; then the time one policy edit takes to reach
//! the node states it affects.
//!
//! Usage: `operator-load [--nodes N] [--policies P]` (defaults 1,000 and 200), after
//! `cargo build --release -p sriov-operator --bin sriov-network-operator -p sriov-benches
//! --bin operator-load`; the operator binary is looked up next to this one.

// A benchmark driver: setup failures end it with a message, by design.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube_sandbox::{Config, Sandbox};
use serde_json::json;
use sriov_core::api::{SriovNetworkNodePolicy, SriovNetworkNodeState};

const NAMESPACE: &str = "sriov-network-operator";

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

/// How many node states have a spec with interfaces.
async fn rendered(states: &Api<SriovNetworkNodeState>) -> usize {
    states
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|s| s.spec.interfaces.as_ref().is_some_and(|i| !i.is_empty()))
        .count()
}

/// What the sandbox's request log shows the operator has sent: the node states and nodes it
/// patched. Reading the log costs the server nothing, where polling lists of 10,000
/// objects slowed the server being measured.
#[derive(Default)]
struct Sent {
    seen: usize,
    states: HashSet<String>,
    nodes: HashSet<String>,
    /// When the first node-state patch was seen.
    first: Option<Instant>,
}

impl Sent {
    fn catch_up(&mut self, sandbox: &Sandbox) {
        let events = sandbox.audit_since(self.seen);
        self.seen += events.len();
        for event in events {
            if event.verb != "patch" || event.subresource.is_some() {
                continue;
            }
            let Some(name) = event.name else { continue };
            match event.resource.as_str() {
                "sriovnetworknodestates" => {
                    self.first.get_or_insert_with(Instant::now);
                    self.states.insert(name)
                }
                "nodes" => self.nodes.insert(name),
                _ => false,
            };
        }
    }

    /// Polls the log every 5 ms until `done` says so.
    async fn until(&mut self, sandbox: &Sandbox, done: impl Fn(&Self) -> bool) {
        loop {
            self.catch_up(sandbox);
            if done(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let nodes = arg(&args, "--nodes", 1_000);
    let policies = arg(&args, "--policies", 200);
    let operator_bin = std::env::current_exe()
        .unwrap()
        .with_file_name("sriov-network-operator");
    assert!(
        operator_bin.exists(),
        "build it first: cargo build --release -p sriov-operator --bin sriov-network-operator"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let snapshot = sriov_benches::cluster(nodes, policies);
        let sandbox = Sandbox::new(Config {
            history: nodes * 4 + 1_000,
            controllers: false,
        });
        for crd in sriov_core::crd::operator_crds() {
            sandbox.create(&serde_json::to_value(&crd).unwrap()).unwrap();
        }
        sandbox
            .create(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}))
            .unwrap();
        sandbox
            .create(&json!({"apiVersion": "sriovnetwork.openshift.io/v1", "kind": "SriovOperatorConfig",
                "metadata": {"name": "default", "namespace": NAMESPACE}, "spec": {}}))
            .unwrap();
        for node in &snapshot.nodes {
            sandbox.create(&serde_json::to_value(&**node).unwrap()).unwrap();
        }
        for policy in &snapshot.policies {
            sandbox.create(&serde_json::to_value(&**policy).unwrap()).unwrap();
        }
        // The daemons' reports: each node state created, then its status written.
        let client = kube::Client::new(sandbox.client_service(), NAMESPACE);
        let states: Api<SriovNetworkNodeState> = Api::namespaced(client.clone(), NAMESPACE);
        futures::stream::iter(snapshot.node_states.iter())
            .for_each_concurrent(8, |state| {
                let states = states.clone();
                async move {
                    let mut fresh = (**state).clone();
                    let status = fresh.status.take();
                    fresh.metadata.namespace = Some(NAMESPACE.into());
                    let name = fresh.metadata.name.clone().unwrap();
                    states.create(&PostParams::default(), &fresh).await.unwrap();
                    states
                        .patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({"status": status})))
                        .await
                        .unwrap();
                }
            })
            .await;
        let (address, _) = sandbox.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        kube_sandbox::kubeconfig(&kubeconfig, &format!("http://{address}")).unwrap();

        let before = sandbox.write_requests();
        let cpu_before = sriov_benches::cpu_time("self");
        sandbox.start_audit();
        let mut sent = Sent::default();
        let start = Instant::now();
        // A profiler may wrap the operator (`OPERATOR_LOAD_WRAPPER="heaptrack -o /tmp/op"`);
        // the RSS figure is then the wrapper's.
        let wrapper: Vec<String> = std::env::var("OPERATOR_LOAD_WRAPPER")
            .map(|w| w.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(&operator_bin);
                command
            }
            None => Command::new(&operator_bin),
        };
        let mut operator = command
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--log-level", "warn", "--metrics-addr", "0", "--health-addr", "0"])
            .env("NAMESPACE", NAMESPACE)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // Every node state patched (the log records a request as it arrives; its answer
        // follows within a millisecond), then checked.
        sent.until(&sandbox, |s| s.states.len() >= nodes).await;
        while rendered(&states).await < nodes {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let maps: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
        // Every node's entry, in device-plugin-config or its shards.
        let entries = || async {
            maps.list(&ListParams::default())
                .await
                .unwrap()
                .items
                .iter()
                .filter(|m| m.metadata.name.as_deref().is_some_and(|n| n.starts_with("device-plugin-config")))
                .map(|m| m.data.as_ref().map_or(0, |d| d.len()))
                .sum::<usize>()
        };
        while entries().await < nodes {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let shards = maps
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .filter(|m| m.metadata.name.as_deref().is_some_and(|n| n.starts_with("device-plugin-config")))
            .count();
        let specs = start.elapsed();
        let operator_pid = operator.id().to_string();
        let specs_cpu = (sriov_benches::cpu_time(&operator_pid), sriov_benches::cpu_time("self") - cpu_before);
        let first_write = sent.first.map_or(specs, |f| f - start);
        // Then every node's device-plugin label: the end of the cold start.
        let nodes_api: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
        sent.until(&sandbox, |s| s.nodes.len() >= nodes).await;
        while nodes_api
            .list_metadata(&ListParams::default().labels("sriovnetwork.openshift.io/device-plugin"))
            .await
            .unwrap()
            .items
            .len()
            < nodes
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let cold = start.elapsed();
        let cold_cpu = (sriov_benches::cpu_time(&operator_pid), sriov_benches::cpu_time("self") - cpu_before);
        // Quiet: no write for a second (the policy statuses, a second sync).
        let mut last = sandbox.write_requests();
        loop {
            tokio::time::sleep(Duration::from_millis(1_000)).await;
            let now = sandbox.write_requests();
            if now == last {
                break;
            }
            last = now;
        }
        let writes = sandbox.write_requests() - before;

        // One policy edit: the first policy asks one VF more.
        let policies_api: Api<SriovNetworkNodePolicy> = Api::namespaced(client.clone(), NAMESPACE);
        let first = snapshot.policies[0].metadata.name.clone().unwrap();
        let vfs = snapshot.policies[0].spec.num_vfs + 1;
        let before_edit = sandbox.write_requests();
        sent.catch_up(&sandbox);
        let mut edited = Sent { seen: sent.seen, ..Sent::default() };
        let edit = Instant::now();
        policies_api
            .patch(&first, &PatchParams::default(), &Patch::Merge(json!({"spec": {"numVfs": vfs}})))
            .await
            .unwrap();
        let affected = |s: &SriovNetworkNodeState| {
            s.spec.interfaces.iter().flatten().any(|i| i.num_vfs == Some(vfs))
        };
        let expected = snapshot
            .node_states
            .iter()
            .filter(|s| {
                let labels = snapshot
                    .nodes
                    .iter()
                    .find(|n| n.metadata.name == s.metadata.name)
                    .and_then(|n| n.metadata.labels.clone())
                    .unwrap_or_default();
                snapshot.policies[0]
                    .spec
                    .node_selector
                    .iter()
                    .all(|(k, v)| labels.get(k) == Some(v))
            })
            .count();
        edited.until(&sandbox, |s| s.states.len() >= expected).await;
        loop {
            let seen = states
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .iter()
                .filter(|s| affected(s))
                .count();
            if seen >= expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let edit_time = edit.elapsed();
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let edit_writes = sandbox.write_requests() - before_edit - 1;
        let rss = sriov_benches::peak_rss_kib(&operator.id().to_string());
        let _ = Command::new("kill").args(["-TERM", &operator.id().to_string()]).status();
        let _ = operator.wait();
        println!("nodes: {nodes}, policies: {policies}, 4 PFs per node");
        println!("cold start: node specs and device-plugin config written {:.0} ms, every node labelled {:.0} ms", specs.as_secs_f64() * 1e3, cold.as_secs_f64() * 1e3);
        let secs = |d: Duration| d.as_secs_f64();
        println!(
            "CPU time to the specs: operator {:.2} s, sandbox and driver {:.2} s; to every label: operator {:.2} s, sandbox and driver {:.2} s",
            secs(specs_cpu.0), secs(specs_cpu.1), secs(cold_cpu.0), secs(cold_cpu.1)
        );
        println!("first node-state write {:.0} ms after the start (watches listed, first render done)", first_write.as_secs_f64() * 1e3);
        println!("requests the operator wrote in the cold start: {writes} (device-plugin ConfigMaps: {shards})");
        println!("one policy edit ({expected} node states affected): {:.0} ms to the last, {edit_writes} write requests", edit_time.as_secs_f64() * 1e3);
        println!("operator peak RSS: {} MiB", rss / 1024);
    });
}
