//! Two operator replicas against one sandbox, each counting its own write requests (its
//! client's requests other than reads and the lease's): only the lease holder writes; a
//! replica that shuts down releases the lease and the other takes over at once; a holder
//! whose lease is taken stops writing at once and reports it.
// Test set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{Method, Request};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Client;
use kube::api::{Api, PostParams};
use kube_sandbox::Sandbox;
use sriov_core::api::SriovNetworkNodeState;
use sriov_core::testing::{NAMESPACE, PolicyBuilder, worker};
use sriov_operator::operator::leader::{LEASE_NAME, LeaseConfig};
use sriov_operator::operator::{self, RunError, Settings};
use support::eventually;

/// A client whose write requests (except to the lease) are counted.
fn counting_client(sandbox: &Sandbox, writes: Arc<AtomicUsize>) -> Client {
    let service = tower::ServiceBuilder::new()
        .map_request(move |request: Request<kube::client::Body>| {
            let read = request.method() == Method::GET;
            if !read && !request.uri().path().contains("/leases") {
                writes.fetch_add(1, Ordering::SeqCst);
            }
            request
        })
        .service(sandbox.client_service());
    Client::new(service, NAMESPACE)
}

struct Replica {
    writes: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), RunError>>,
}

fn replica(sandbox: &Sandbox, identity: &str) -> Replica {
    let writes = Arc::new(AtomicUsize::new(0));
    let client = counting_client(sandbox, Arc::clone(&writes));
    let election = LeaseConfig {
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(200),
        ..LeaseConfig::new(NAMESPACE, identity)
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(operator::run(
        client,
        Settings::default(),
        Some(election),
        async move {
            let _ = stopped.await;
        },
    ));
    Replica {
        writes,
        stop: Some(stop),
        task,
    }
}

impl Replica {
    fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_lease_holder_writes() {
    let sandbox = support::sandbox(false, &[]);
    support::default_config(&sandbox);
    let policy = PolicyBuilder::new("intel")
        .vendor("8086")
        .resource("intelnics")
        .build();
    sandbox
        .create(&serde_json::to_value(policy).unwrap())
        .unwrap();
    let observer = Client::new(sandbox.client_service(), NAMESPACE);
    let states: Api<SriovNetworkNodeState> = Api::namespaced(observer.clone(), NAMESPACE);
    let leases: Api<Lease> = Api::namespaced(observer, NAMESPACE);
    let holder = || async {
        leases
            .get_opt(LEASE_NAME)
            .await
            .unwrap()
            .and_then(|l| l.spec?.holder_identity)
    };
    let add_node = |name: &str| {
        sandbox
            .create(&serde_json::to_value(worker(name)).unwrap())
            .unwrap();
    };
    let state_exists = |name: &'static str| {
        let states = states.clone();
        move || {
            let states = states.clone();
            async move { states.get_opt(name).await.unwrap().is_some() }
        }
    };

    add_node("worker-0");
    let mut a = replica(&sandbox, "replica-a");
    eventually(
        "replica-a writes worker-0's state",
        state_exists("worker-0"),
    )
    .await;
    assert_eq!(holder().await.as_deref(), Some("replica-a"));

    let mut b = replica(&sandbox, "replica-b");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    add_node("worker-1");
    eventually(
        "replica-a writes worker-1's state",
        state_exists("worker-1"),
    )
    .await;
    assert!(a.writes() > 0);
    assert_eq!(b.writes(), 0, "a replica without the lease writes nothing");
    assert_eq!(holder().await.as_deref(), Some("replica-a"));

    // A shuts down: it releases the lease, and B takes over well before it would expire.
    a.stop.take().unwrap().send(()).unwrap();
    (&mut a.task).await.unwrap().unwrap();
    let a_final = a.writes();
    eventually("replica-b takes the lease", || async {
        holder().await.as_deref() == Some("replica-b")
    })
    .await;
    add_node("worker-2");
    eventually(
        "replica-b writes worker-2's state",
        state_exists("worker-2"),
    )
    .await;
    assert!(b.writes() > 0);
    assert_eq!(a.writes(), a_final, "a stopped replica writes nothing");

    // Another replica takes the lease (as one would after B failed to renew): B stops.
    // (B renews meanwhile, so the replace may meet a newer version: read and try again.)
    for attempt in 0.. {
        let mut lease = leases.get(LEASE_NAME).await.unwrap();
        let spec = lease.spec.as_mut().unwrap();
        spec.holder_identity = Some("replica-c".into());
        spec.renew_time = Some(MicroTime(k8s_openapi::jiff::Timestamp::now()));
        spec.lease_duration_seconds = Some(30);
        match leases
            .replace(LEASE_NAME, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => break,
            Err(kube::Error::Api(e)) if e.code == 409 && attempt < 20 => continue,
            Err(e) => panic!("taking the lease: {e}"),
        }
    }
    let outcome = tokio::time::timeout(Duration::from_secs(5), &mut b.task)
        .await
        .expect("replica-b notices within a renewal")
        .unwrap();
    assert!(matches!(outcome, Err(RunError::LostLease)), "{outcome:?}");
    let b_final = b.writes();
    add_node("worker-3");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(b.writes(), b_final, "no write after the lease is lost");
    assert!(states.get_opt("worker-3").await.unwrap().is_none());
    assert_eq!(holder().await.as_deref(), Some("replica-c"));
}
