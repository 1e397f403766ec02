//! The real kubectl against the sandbox over TCP: what a user types works unmodified.
// Test set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use kube_sandbox::Sandbox;
use serde_json::{Value, json};

#[path = "support/webhook.rs"]
mod webhook;

/// A served sandbox and a kubectl configured for it (own kubeconfig, discovery cache and
/// HOME, so nothing leaks between tests or from the user's `~/.kube`).
struct Cluster {
    sandbox: Sandbox,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    runtime: tokio::runtime::Runtime,
}

impl Cluster {
    fn new() -> Self {
        Self::with(kube_sandbox::Config::default())
    }

    fn with(config: kube_sandbox::Config) -> Self {
        // kubectl is on every machine this project is tested on; say so plainly if not.
        assert!(
            Command::new("kubectl")
                .args(["version", "--client"])
                .output()
                .is_ok_and(|o| o.status.success()),
            "these tests run the real kubectl, which must be on PATH"
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sandbox = Sandbox::new(config);
        let (address, _) = runtime
            .block_on(sandbox.serve("127.0.0.1:0".parse().unwrap()))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        kube_sandbox::kubeconfig(&kubeconfig, &format!("http://{address}")).unwrap();
        Self {
            sandbox,
            dir,
            kubeconfig,
            runtime,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("kubectl");
        command
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.dir.path().join("cache"))
            .env("HOME", self.dir.path());
        command
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    }

    /// Runs kubectl and expects success; returns stdout.
    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let output = self.run(args, stdin);
        assert!(
            output.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args, None)).unwrap()
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const CRD: &str = r#"{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
  "metadata": {"name": "widgets.example.com"},
  "spec": {"group": "example.com", "scope": "Namespaced",
    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wdg"], "categories": ["all"]},
    "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
      "schema": {"openAPIV3Schema": {"type": "object", "description": "A widget for tests.",
        "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer", "description": "How big."},
          "tags": {"type": "array", "items": {"type": "string"}}}},
          "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]}}"#;

#[test]
fn kubectl_discovers_built_ins_and_a_new_crd() {
    let cluster = Cluster::new();
    let version = cluster.json(&["version", "-o", "json"]);
    assert_eq!(version["serverVersion"]["major"], "1");
    let resources = cluster.ok(&["api-resources", "--no-headers"], None);
    for line in ["pods ", "deployments ", "poddisruptionbudgets ", "leases "] {
        assert!(
            resources.lines().any(|l| l.starts_with(line)),
            "{line}: {resources}"
        );
    }
    assert!(
        resources
            .lines()
            .any(|l| l.starts_with("pods") && l.contains(" po ")),
        "{resources}"
    );
    // Default validation (strict): kubectl finds the fieldValidation parameter in
    // /openapi/v3 and leaves checking to the server.
    cluster.ok(&["create", "-f", "-"], Some(CRD));
    // A CRD created a moment ago is usable at once (kubectl re-discovers on a miss).
    let resources = cluster.ok(
        &["api-resources", "--api-group=example.com", "--no-headers"],
        None,
    );
    assert!(
        resources.contains("widgets") && resources.contains("wdg") && resources.contains("Widget"),
        "{resources}"
    );
    cluster.ok(
        &[
            "wait",
            "--for=condition=Established",
            "crd/widgets.example.com",
            "--timeout=10s",
        ],
        None,
    );
    cluster.ok(
        &["create", "-f", "-"],
        Some(r#"{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}}"#),
    );
    let widget = cluster.json(&["get", "wdg", "w1", "-o", "json"]);
    assert_eq!(widget["spec"]["size"], 3);
    assert_eq!(widget["metadata"]["generation"], 1);
    // explain reads the CRD's schema from /openapi/v3.
    let explained = cluster.ok(&["explain", "widgets.spec.size"], None);
    assert!(explained.contains("How big."), "{explained}");
    // Status through its subresource, as controllers write it.
    cluster.ok(
        &[
            "patch",
            "widget",
            "w1",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status": {"ready": true}}"#,
        ],
        None,
    );
    assert_eq!(
        cluster.json(&["get", "widget", "w1", "-o", "json"])["status"]["ready"],
        true
    );
}

#[test]
fn kubectl_crud_errors_patches_and_labels_read_as_against_a_cluster() {
    let cluster = Cluster::new();
    let missing = cluster.run(&["get", "pod", "nope"], None);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        stderr(&missing).trim(),
        "Error from server (NotFound): pods \"nope\" not found"
    );
    let cm = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}, "data": {"a": "1"}}"#;
    assert_eq!(
        cluster.ok(&["create", "-f", "-"], Some(cm)).trim(),
        "configmap/c1 created"
    );
    let again = cluster.run(&["create", "-f", "-"], Some(cm));
    assert!(
        stderr(&again).contains("Error from server (AlreadyExists): error when creating \"STDIN\": configmaps \"c1\" already exists"),
        "{}",
        stderr(&again)
    );
    // The -o json output round-trips into the typed object.
    let listed = cluster.json(&["get", "configmaps", "-o", "json"]);
    let items: Vec<k8s_openapi::api::core::v1::ConfigMap> =
        serde_json::from_value(listed["items"].clone()).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].data.as_ref().unwrap()["a"], "1");

    cluster.ok(&["label", "configmap", "c1", "tier=web"], None);
    cluster.ok(&["annotate", "configmap", "c1", "note=hello"], None);
    let c1 = cluster.json(&["get", "cm", "c1", "-o", "json"]);
    assert_eq!(c1["metadata"]["labels"]["tier"], "web");
    assert_eq!(c1["metadata"]["annotations"]["note"], "hello");
    let by_label = cluster.ok(&["get", "cm", "-l", "tier in (web,db)", "-o", "name"], None);
    assert_eq!(by_label.trim(), "configmap/c1");
    cluster.ok(&["label", "configmap", "c1", "tier-"], None);
    assert!(
        cluster.json(&["get", "cm", "c1", "-o", "json"])["metadata"]["labels"]
            .get("tier")
            .is_none()
    );

    // A typo in a built-in kind is refused, as kubectl asks (strict), or warned about.
    let typo = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "typo"}, "datta": {"a": "1"}}"#;
    let refused = cluster.run(&["create", "-f", "-"], Some(typo));
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains(r#"strict decoding error: unknown field "datta""#),
        "{}",
        stderr(&refused)
    );
    let warned = cluster.run(&["create", "--validate=warn", "-f", "-"], Some(typo));
    assert!(warned.status.success(), "{}", stderr(&warned));
    assert!(
        stderr(&warned).contains(r#"Warning: unknown field "datta""#),
        "{}",
        stderr(&warned)
    );

    // A replace carrying a resourceVersion someone else moved past is refused.
    let mut stale = cluster.json(&["get", "cm", "c1", "-o", "json"]);
    cluster.ok(&["annotate", "configmap", "c1", "moved=on"], None);
    stale["data"]["a"] = json!("stale");
    let refused = cluster.run(&["replace", "-f", "-"], Some(&stale.to_string()));
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains(r#"Error from server (Conflict): error when replacing "STDIN": Operation cannot be fulfilled on configmaps "c1": the object has been modified; please apply your changes to the latest version and try again"#),
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        cluster.json(&["get", "cm", "c1", "-o", "json"])["data"]["a"],
        "1"
    );

    // A JSON patch whose test fails is refused and changes nothing.
    let failing = cluster.run(
        &["patch", "cm", "c1", "--type=json", "-p", r#"[{"op": "test", "path": "/data/a", "value": "2"}, {"op": "remove", "path": "/data/a"}]"#],
        None,
    );
    assert!(!failing.status.success());
    assert!(
        stderr(&failing).contains("the server rejected our request"),
        "{}",
        stderr(&failing)
    );
    assert_eq!(
        cluster.json(&["get", "cm", "c1", "-o", "json"])["data"]["a"],
        "1"
    );

    // Creating into a missing namespace names it.
    let elsewhere = cluster.run(
        &["create", "-n", "ghost", "-f", "-"],
        Some(r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c2"}}"#),
    );
    assert!(
        stderr(&elsewhere).contains("namespaces \"ghost\" not found"),
        "{}",
        stderr(&elsewhere)
    );

    // Cordon is a strategic merge patch on the node.
    cluster.ok(
        &["create", "-f", "-"],
        Some(r#"{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}"#),
    );
    cluster.ok(&["cordon", "n1"], None);
    assert_eq!(
        cluster.json(&["get", "node", "n1", "-o", "json"])["spec"]["unschedulable"],
        true
    );
    cluster.ok(&["uncordon", "n1"], None);
    assert!(
        cluster.json(&["get", "node", "n1", "-o", "json"])["spec"]
            .get("unschedulable")
            .is_none()
    );
}

#[test]
fn kubectl_watches_changes_and_waits_for_a_finalizer_on_delete() {
    let cluster = Cluster::new();
    cluster.ok(
        &["create", "-f", "-"],
        Some(r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w1"}}"#),
    );
    let mut watch = cluster
        .command(&["get", "configmaps", "-w", "-o", "name"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "configmap/w1");
    cluster.sandbox
        .create(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w2", "namespace": "default"}}))
        .unwrap();
    assert_eq!(
        lines.next().unwrap().unwrap(),
        "configmap/w2",
        "the watch saw a later change"
    );
    let _ = watch.kill();
    let _ = watch.wait();

    // A finalizer keeps the object until someone removes it; kubectl delete waits for that.
    cluster.ok(
        &[
            "patch",
            "cm",
            "w1",
            "--type=merge",
            "-p",
            r#"{"metadata": {"finalizers": ["example.com/hold"]}}"#,
        ],
        None,
    );
    let mut delete = cluster
        .command(&["delete", "configmap", "w1", "--timeout=20s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        delete.try_wait().unwrap().is_none(),
        "kubectl waits while the finalizer holds"
    );
    let held = cluster.json(&["get", "cm", "w1", "-o", "json"]);
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    cluster.ok(
        &[
            "patch",
            "cm",
            "w1",
            "--type=json",
            "-p",
            r#"[{"op": "remove", "path": "/metadata/finalizers"}]"#,
        ],
        None,
    );
    let output = delete.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "configmap \"w1\" deleted"
    );
    let gone = cluster.run(&["get", "cm", "w1"], None);
    assert_eq!(gone.status.code(), Some(1));
}

#[test]
fn kubectl_client_side_apply_creates_then_leaves_alone_then_patches() {
    let cluster = Cluster::new();
    let cm = |value: &str| {
        format!(
            r#"{{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": "ap"}}, "data": {{"a": "{value}"}}}}"#
        )
    };
    assert_eq!(
        cluster.ok(&["apply", "-f", "-"], Some(&cm("1"))).trim(),
        "configmap/ap created"
    );
    let rv =
        cluster.json(&["get", "cm", "ap", "-o", "json"])["metadata"]["resourceVersion"].clone();
    assert_eq!(
        cluster.ok(&["apply", "-f", "-"], Some(&cm("1"))).trim(),
        "configmap/ap unchanged"
    );
    assert_eq!(
        cluster.json(&["get", "cm", "ap", "-o", "json"])["metadata"]["resourceVersion"],
        rv
    );
    assert_eq!(
        cluster.ok(&["apply", "-f", "-"], Some(&cm("2"))).trim(),
        "configmap/ap configured"
    );
    let applied = cluster.json(&["get", "cm", "ap", "-o", "json"]);
    assert_eq!(applied["data"]["a"], "2");
    assert!(
        applied["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .unwrap()
            .contains("\"2\"")
    );

    // A custom resource gets a merge patch; a list removed from the manifest goes.
    cluster.ok(&["create", "-f", "-"], Some(CRD));
    let widget = |items: &str| {
        format!(
            r#"{{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {{"name": "wa"}}, "spec": {{"size": 1, "tags": [{items}]}}}}"#
        )
    };
    cluster.ok(&["apply", "-f", "-"], Some(&widget(r#""a", "b""#)));
    cluster.ok(&["apply", "-f", "-"], Some(&widget(r#""a""#)));
    assert_eq!(
        cluster.json(&["get", "widget", "wa", "-o", "json"])["spec"]["tags"],
        json!(["a"])
    );
}

#[test]
fn kubectl_server_side_apply_reports_conflicts_and_forces() {
    let cluster = Cluster::new();
    let cm = |value: &str| {
        format!(
            r#"{{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": "ss"}}, "data": {{"a": "{value}"}}}}"#
        )
    };
    assert_eq!(
        cluster
            .ok(&["apply", "--server-side", "-f", "-"], Some(&cm("1")))
            .trim(),
        "configmap/ss serverside-applied"
    );
    let live = cluster.json(&["get", "cm", "ss", "-o", "json", "--show-managed-fields"]);
    assert_eq!(live["metadata"]["managedFields"][0]["manager"], "kubectl");
    assert_eq!(live["metadata"]["managedFields"][0]["operation"], "Apply");
    let conflict = cluster.run(
        &["apply", "--server-side", "--field-manager=other", "-f", "-"],
        Some(&cm("2")),
    );
    assert!(!conflict.status.success());
    let text = stderr(&conflict);
    assert!(
        text.contains("conflict with \"kubectl\": .data.a"),
        "{text}"
    );
    cluster.ok(
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "--force-conflicts",
            "-f",
            "-",
        ],
        Some(&cm("2")),
    );
    assert_eq!(
        cluster.json(&["get", "cm", "ss", "-o", "json"])["data"]["a"],
        "2"
    );
}

#[test]
fn kubectl_typed_creates_and_drain_work_through_protobuf_bodies() {
    let cluster = Cluster::with(kube_sandbox::Config {
        controllers: true,
        ..kube_sandbox::Config::default()
    });
    // kubectl's typed clients send these as protobuf.
    cluster.ok(
        &["create", "configmap", "typed", "--from-literal=a=1"],
        None,
    );
    assert_eq!(
        cluster.json(&["get", "cm", "typed", "-o", "json"])["data"]["a"],
        "1"
    );
    cluster.ok(
        &["create", "secret", "generic", "s1", "--from-literal=k=v"],
        None,
    );
    assert_eq!(
        cluster.json(&["get", "secret", "s1", "-o", "json"])["data"]["k"],
        "dg=="
    );
    cluster.ok(&["create", "namespace", "team-a"], None);
    assert_eq!(
        cluster.json(&["get", "ns", "team-a", "-o", "json"])["status"]["phase"],
        "Active"
    );
    let secret = cluster.json(&["get", "secret", "s1", "-o", "json"]);
    assert_eq!(
        secret["type"], "Opaque",
        "defaulted, as kube-apiserver does"
    );
    assert!(
        secret["metadata"].get("generateName").is_none(),
        "Go's empty strings read as unset"
    );

    // The other create commands of kubectl (1.32 and later send these as protobuf too).
    cluster.ok(
        &[
            "create",
            "deployment",
            "web",
            "--image=nginx",
            "--replicas=0",
        ],
        None,
    );
    let deployment = cluster.json(&["get", "deployment", "web", "-o", "json"]);
    assert_eq!(
        deployment["spec"]["replicas"], 0,
        "a pointer field's zero is kept"
    );
    assert_eq!(deployment["spec"]["selector"]["matchLabels"]["app"], "web");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx"
    );
    cluster.ok(
        &["create", "service", "clusterip", "web", "--tcp=80:8080"],
        None,
    );
    let service = cluster.json(&["get", "service", "web", "-o", "json"]);
    assert_eq!(service["spec"]["ports"][0]["port"], 80);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 8080);
    assert_eq!(service["spec"]["type"], "ClusterIP");
    cluster.ok(&["create", "serviceaccount", "sa1"], None);
    cluster.ok(
        &["create", "role", "r", "--verb=get,list", "--resource=pods"],
        None,
    );
    let role = cluster.json(&["get", "role", "r", "-o", "json"]);
    assert_eq!(role["rules"][0]["verbs"], json!(["get", "list"]));
    assert_eq!(role["rules"][0]["resources"], json!(["pods"]));
    cluster.ok(
        &[
            "create",
            "rolebinding",
            "rb",
            "--role=r",
            "--serviceaccount=default:sa1",
        ],
        None,
    );
    let binding = cluster.json(&["get", "rolebinding", "rb", "-o", "json"]);
    assert_eq!(binding["roleRef"]["name"], "r");
    assert_eq!(binding["subjects"][0]["name"], "sa1");
    cluster.ok(
        &[
            "create",
            "clusterrole",
            "cr",
            "--verb=list",
            "--resource=nodes",
        ],
        None,
    );
    cluster.ok(
        &[
            "create",
            "clusterrolebinding",
            "crb",
            "--clusterrole=cr",
            "--user=alice",
        ],
        None,
    );
    assert_eq!(
        cluster.json(&["get", "clusterrolebinding", "crb", "-o", "json"])["subjects"][0]["name"],
        "alice"
    );
    cluster.ok(
        &[
            "create",
            "poddisruptionbudget",
            "budget",
            "--selector=app=other",
            "--min-available=1",
        ],
        None,
    );
    assert_eq!(
        cluster.json(&["get", "pdb", "budget", "-o", "json"])["spec"]["minAvailable"],
        1
    );
    cluster.ok(
        &[
            "run",
            "shell",
            "--image=busybox",
            "--restart=Never",
            "--",
            "sleep",
            "1",
        ],
        None,
    );
    let pod = cluster.json(&["get", "pod", "shell", "-o", "json"]);
    assert_eq!(pod["spec"]["containers"][0]["args"], json!(["sleep", "1"]));
    assert_eq!(pod["spec"]["restartPolicy"], "Never");
    cluster.ok(&["delete", "pod", "shell"], None);

    // Drain: cordon, then an eviction (a protobuf Eviction) per pod, honouring the budget.
    cluster.ok(
        &["create", "-f", "-"],
        Some(r#"{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}"#),
    );
    for name in ["web-1", "web-2"] {
        let pod = format!(
            r#"{{"apiVersion": "v1", "kind": "Pod", "metadata": {{"name": "{name}", "labels": {{"app": "web"}}}},
            "spec": {{"nodeName": "n1", "containers": [{{"name": "c", "image": "i"}}]}}}}"#
        );
        cluster.ok(&["create", "-f", "-"], Some(&pod));
        cluster.ok(&["patch", "pod", name, "--subresource=status", "--type=merge", "-p",
            r#"{"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}"#], None);
    }
    cluster.ok(&["create", "-f", "-"], Some(r#"{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "web"}, "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}}"#));
    let drained = cluster.run(
        &[
            "drain",
            "n1",
            "--force",
            "--ignore-daemonsets",
            "--timeout=60s",
        ],
        None,
    );
    assert!(
        drained.status.success(),
        "{}{}",
        String::from_utf8_lossy(&drained.stdout),
        stderr(&drained)
    );
    let out = String::from_utf8_lossy(&drained.stdout);
    assert!(
        out.contains("evicting pod default/web-1")
            || stderr(&drained).contains("evicting pod default/web-1"),
        "{out}"
    );
    assert!(out.contains("node/n1 drained"), "{out}");
    assert_eq!(
        cluster.json(&["get", "node", "n1", "-o", "json"])["spec"]["unschedulable"],
        true
    );
    let pods = cluster.json(&["get", "pods", "-o", "json"]);
    assert!(pods["items"].as_array().unwrap().is_empty(), "{pods}");
}

#[test]
fn kubectl_sees_crd_schemas_enforced_strictly_with_warnings_and_defaults() {
    let cluster = Cluster::new();
    cluster.ok(&["create", "-f", "-"], Some(CRD));
    let widget = |spec: &str| {
        format!(
            r#"{{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {{"name": "v"}}, "spec": {spec}}}"#
        )
    };
    // Default validation is strict: an unknown field is refused with its path.
    let strict = cluster.run(
        &["create", "-f", "-"],
        Some(&widget(r#"{"size": 1, "colour": "red"}"#)),
    );
    assert!(!strict.status.success());
    assert!(
        stderr(&strict).contains(r#"strict decoding error: unknown field "spec.colour""#),
        "{}",
        stderr(&strict)
    );
    // --validate=warn: created, with the field dropped and a warning printed.
    let warned = cluster.run(
        &["create", "--validate=warn", "-f", "-"],
        Some(&widget(r#"{"size": 1, "colour": "red"}"#)),
    );
    assert!(warned.status.success(), "{}", stderr(&warned));
    assert!(
        stderr(&warned).contains(r#"Warning: unknown field "spec.colour""#),
        "{}",
        stderr(&warned)
    );
    let stored = cluster.json(&["get", "widget", "v", "-o", "json"]);
    assert!(stored["spec"].get("colour").is_none(), "pruned: {stored}");
    // A value of the wrong type is refused naming the field and the type.
    let typed = cluster.run(
        &["create", "-f", "-"],
        Some(&widget(r#"{"size": "big"}"#).replace(r#""name": "v""#, r#""name": "t""#)),
    );
    assert!(!typed.status.success());
    assert!(
        stderr(&typed).contains("spec.size in body must be of type integer"),
        "{}",
        stderr(&typed)
    );
}

#[test]
fn kubectl_prints_webhook_warnings_and_denials() {
    let cluster = Cluster::new();
    let certificates = webhook::Certificates::new(&["127.0.0.1"]);
    let hook = cluster.runtime.block_on(webhook::start(&certificates));
    let configuration = |kind: &str, name: &str, path: &str| {
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": {"name": name},
            "webhooks": [{"name": format!("{name}.example.com"),
                "clientConfig": {"url": hook.url(path), "caBundle": certificates.ca_bundle()},
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}],
                "sideEffects": "None", "admissionReviewVersions": ["v1"]}]})
        .to_string()
    };
    cluster.ok(
        &["apply", "-f", "-"],
        Some(&configuration(
            "MutatingWebhookConfiguration",
            "label",
            "/mutate",
        )),
    );
    cluster.ok(
        &["apply", "-f", "-"],
        Some(&configuration(
            "ValidatingWebhookConfiguration",
            "check",
            "/validate",
        )),
    );
    // kubectl's typed create (protobuf) is mutated, and prints the webhook's warning.
    let created = cluster.run(&["create", "configmap", "fine", "--from-literal=k=v"], None);
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(
        stderr(&created).contains("Warning: labelled by the test webhook"),
        "{}",
        stderr(&created)
    );
    let stored = cluster.json(&["get", "configmap", "fine", "-o", "json"]);
    assert_eq!(stored["metadata"]["labels"]["admitted"], "yes");
    // A denial reads as the webhook wrote it (after the mutating webhook's warning: the
    // mutating webhook ran first), and kubectl exits 1.
    let denied = cluster.run(
        &["create", "configmap", "bad", "--from-literal=forbidden=x"],
        None,
    );
    assert_eq!(denied.status.code(), Some(1));
    assert_eq!(
        stderr(&denied),
        "Warning: labelled by the test webhook\nerror: failed to create configmap: admission webhook \"check.example.com\" denied the request: key \"forbidden\" is not allowed\n"
    );
}

/// The words of each line of `text` (kubectl aligns columns with spaces).
fn words(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

#[test]
fn kubectl_get_prints_the_servers_tables() {
    let cluster = Cluster::new();
    let gadgets = r#"{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
      "metadata": {"name": "gadgets.example.com"},
      "spec": {"group": "example.com", "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
        "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
          "additionalPrinterColumns": [
            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
            {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
            {"name": "Sync", "type": "string", "jsonPath": ".metadata.annotations.example\\.com/sync", "priority": 1},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
          "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}}"#;
    cluster.ok(&["create", "-f", "-"], Some(gadgets));
    cluster.ok(
        &[
            "wait",
            "--for=condition=Established",
            "crd/gadgets.example.com",
        ],
        None,
    );
    cluster.ok(
        &["create", "-f", "-"],
        Some(r#"{"apiVersion": "example.com/v1", "kind": "Gadget",
            "metadata": {"name": "g1", "annotations": {"example.com/sync": "Succeeded"}}, "spec": {"size": 3}}"#),
    );
    cluster.ok(
        &[
            "patch",
            "gadget",
            "g1",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status": {"conditions": [{"type": "Ready", "status": "True"}]}}"#,
        ],
        None,
    );
    let table = words(&cluster.ok(&["get", "gadgets"], None));
    assert_eq!(table[0], ["NAME", "SIZE", "READY", "AGE"]);
    assert_eq!(table[1][..3], ["g1", "3", "True"]);
    let wide = words(&cluster.ok(&["get", "gadgets", "-o", "wide"], None));
    assert_eq!(wide[0], ["NAME", "SIZE", "READY", "SYNC", "AGE"]);
    assert_eq!(wide[1][3], "Succeeded");

    cluster.ok(
        &["create", "-f", "-"],
        Some(
            r#"{"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "worker-0", "labels": {"node-role.kubernetes.io/worker": ""}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
              "nodeInfo": {"kubeletVersion": "v1.33.0", "kernelVersion": "6.1.0"}}}"#,
        ),
    );
    cluster.ok(&["cordon", "worker-0"], None);
    let nodes = words(&cluster.ok(&["get", "nodes"], None));
    assert_eq!(nodes[0], ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
    assert_eq!(
        nodes[1][..3],
        ["worker-0", "Ready,SchedulingDisabled", "worker"]
    );
    assert_eq!(nodes[1][4], "v1.33.0");

    cluster.ok(
        &["create", "-f", "-"],
        Some(
            r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app"},
            "spec": {"nodeName": "worker-0", "containers": [{"name": "c", "image": "busybox"}]}}"#,
        ),
    );
    let mut watch = cluster
        .command(&["get", "pods", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let mut next = || {
        lines
            .next()
            .unwrap()
            .unwrap()
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(next(), ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    assert_eq!(next()[..4], ["app", "0/1", "Pending", "0"]);
    cluster.ok(
        &["patch", "pod", "app", "--subresource=status", "--type=merge", "-p",
          r#"{"status": {"phase": "Running", "podIP": "10.0.0.7", "containerStatuses": [{"name": "c", "ready": true, "restartCount": 2, "image": "busybox", "imageID": "", "state": {"running": {}}}]}}"#],
        None,
    );
    assert_eq!(
        next()[..4],
        ["app", "1/1", "Running", "2"],
        "the watch printed the change as a row"
    );
    let _ = watch.kill();
    let _ = watch.wait();
    let wide = words(&cluster.ok(&["get", "pods", "-o", "wide"], None));
    assert_eq!(
        wide[0][..7],
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    );
    assert_eq!(wide[1][5..7], ["10.0.0.7", "worker-0"]);
    // -A adds the namespace from each row's object metadata; --show-labels reads them too.
    let all = words(&cluster.ok(&["get", "pods", "-A", "--show-labels"], None));
    assert_eq!(all[0][..2], ["NAMESPACE", "NAME"]);
    assert_eq!(all[0].last().map(String::as_str), Some("LABELS"));
    assert_eq!(all[1][..2], ["default", "app"]);

    cluster.ok(
        &["create", "-f", "-"],
        Some(r#"{"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"},
            "involvedObject": {"kind": "Node", "name": "worker-0"}, "reason": "Cordoned",
            "message": "node cordoned", "type": "Normal", "lastTimestamp": "2026-01-01T00:00:00Z"}"#),
    );
    let events = words(&cluster.ok(&["get", "events"], None));
    assert_eq!(
        events[0],
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    );
    assert_eq!(
        events[1][1..],
        ["Normal", "Cordoned", "node/worker-0", "node", "cordoned"]
    );
}
