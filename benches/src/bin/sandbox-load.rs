//! The sandbox API server under the load the control-plane benchmarks put on it: create
//! 10,000 SriovNetworkNodeState-sized objects through kube-rs (in process), while 20
//! watchers stream every change; then list them all. Reports wall times and peak RSS.
//!
//! Usage: `sandbox-load [--objects N] [--watchers N] [--writers N] [--pfs N] [--vfs N]`
//! (defaults 10,000 objects, 20 watchers, 1 writer, 2 PFs x 8 VFs per object, about 3 KiB
//! of JSON). With several writers the creates are shared among that many concurrent
//! clients, as the operator's controllers and the nodes' daemons write concurrently.

// A benchmark driver: setup failures end it with a message, by design.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Instant;

use futures::StreamExt;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube_sandbox::{Config, Sandbox};

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

/// A sandbox with the operator's CRDs and namespace, its history sized for `objects`.
fn prepared(objects: usize) -> Sandbox {
    let sandbox = Sandbox::new(Config {
        history: objects + 100,
        controllers: false,
    });
    for crd in sriov_core::crd::operator_crds() {
        sandbox
            .create(&serde_json::to_value(&crd).unwrap())
            .unwrap();
    }
    sandbox
        .create(&serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "sriov-network-operator"}}))
        .unwrap();
    sandbox
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let objects = arg(&args, "--objects", 10_000);
    let watchers = arg(&args, "--watchers", 20);
    let writers = arg(&args, "--writers", 1).max(1);
    let (pfs, vfs) = (arg(&args, "--pfs", 2), arg(&args, "--vfs", 8));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let rss_start = sriov_benches::peak_rss_kib("self");
        let sandbox = prepared(objects);
        let client = kube::Client::new(sandbox.client_service(), "sriov-network-operator");
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
            "sriovnetwork.openshift.io",
            "v1",
            "SriovNetworkNodeState",
        ));
        let api: Api<DynamicObject> = Api::default_namespaced_with(client, &resource);
        let template: serde_json::Value =
            serde_saphyr::from_str(&sriov_benches::node_state_yaml(pfs, vfs)).unwrap();
        let size = template.to_string().len();
        let from = sandbox.resource_version().to_string();
        let mut tasks = Vec::new();
        for _ in 0..watchers {
            let api = api.clone();
            let from = from.clone();
            tasks.push(tokio::spawn(async move {
                let mut seen = 0;
                let mut last = from;
                while seen < objects {
                    let mut stream = api
                        .watch(&WatchParams::default().timeout(290), &last)
                        .await
                        .unwrap()
                        .boxed();
                    while let Some(event) = stream.next().await {
                        match event.unwrap() {
                            WatchEvent::Added(o) => {
                                seen += 1;
                                last = o.metadata.resource_version.unwrap();
                            }
                            WatchEvent::Error(e) => panic!("watch error: {e:?}"),
                            _ => {}
                        }
                        if seen == objects {
                            break;
                        }
                    }
                }
                Instant::now()
            }));
        }
        let start = Instant::now();
        let mut writing = Vec::new();
        for w in 0..writers {
            let api = api.clone();
            let template = template.clone();
            writing.push(tokio::spawn(async move {
                for i in (w..objects).step_by(writers) {
                    let mut object = template.clone();
                    object["metadata"]["name"] = format!("worker-{i}").into();
                    let object: DynamicObject = serde_json::from_value(object).unwrap();
                    api.create(&PostParams::default(), &object).await.unwrap();
                }
            }));
        }
        for task in writing {
            task.await.unwrap();
        }
        let written = start.elapsed();
        let mut last_seen = start;
        for task in tasks {
            last_seen = last_seen.max(task.await.unwrap());
        }
        let delivered = last_seen - start;
        let list_start = Instant::now();
        let list = api.list(&ListParams::default()).await.unwrap();
        let listed = list_start.elapsed();
        assert_eq!(list.items.len(), objects);
        let paged_start = Instant::now();
        let mut paged = 0;
        let mut params = ListParams::default().limit(500);
        loop {
            let page = api.list(&params).await.unwrap();
            paged += page.items.len();
            match page.metadata.continue_ {
                Some(token) if !token.is_empty() => params = params.continue_token(&token),
                _ => break,
            }
        }
        let paged_time = paged_start.elapsed();
        assert_eq!(paged, objects);
        // The server's own share: the same creates through the embedder API (no HTTP, no
        // client-side encoding), on a fresh sandbox.
        let direct = prepared(objects);
        let direct_start = Instant::now();
        for i in 0..objects {
            let mut object = template.clone();
            object["metadata"]["name"] = format!("worker-{i}").into();
            direct.create(&object).unwrap();
        }
        let direct_time = direct_start.elapsed();
        // The server's share of a full list: the router answering, body collected, no
        // decoding; the best of three.
        let mut raw = std::time::Duration::MAX;
        let mut bytes = Default::default();
        for _ in 0..3 {
            let raw_start = Instant::now();
            let request = http::Request::get("/apis/sriovnetwork.openshift.io/v1/namespaces/sriov-network-operator/sriovnetworknodestates")
                .body(axum::body::Body::empty())
                .unwrap();
            let response = tower::ServiceExt::oneshot(sandbox.router(), request).await.unwrap();
            bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            raw = raw.min(raw_start.elapsed());
        }
        println!(
            "objects: {objects}, written as {size} bytes of JSON each, stored as {} (the status is dropped on create: SriovNetworkNodeState has a status subresource); watchers: {watchers}, writers: {writers}",
            bytes.len() / objects.max(1)
        );
        println!("list all, server side (answer of {} MiB, not decoded): {:.0} ms", bytes.len() / (1024 * 1024), raw.as_secs_f64() * 1e3);
        println!("create all through the embedder API (server work only): {:.0} ms ({:.1} µs each)", direct_time.as_secs_f64() * 1e3, direct_time.as_secs_f64() * 1e6 / objects as f64);
        println!("create all: {:.0} ms ({:.1} µs per create through kube-rs)", written.as_secs_f64() * 1e3, written.as_secs_f64() * 1e6 / objects as f64);
        println!("all writes seen by every watcher: {:.0} ms after the first create", delivered.as_secs_f64() * 1e3);
        println!("list all (one request, decoded by kube-rs): {:.0} ms", listed.as_secs_f64() * 1e3);
        println!("list all in pages of 500: {:.0} ms", paged_time.as_secs_f64() * 1e3);
        println!("peak RSS: {} MiB (at start {} MiB)", sriov_benches::peak_rss_kib("self") / 1024, rss_start / 1024);
    });
}
