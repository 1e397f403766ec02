//! # kube-sandbox
//!
//! An in-memory Kubernetes API server for tests and offline trials. It speaks the REST
//! protocol that `kubectl` and kube-rs use, with kube-apiserver's object semantics, so
//! controllers and command-line workflows can be exercised without a cluster. It is not a
//! production server: there is no etcd, no authentication and no authorization (every
//! request is allowed; RBAC objects are only stored).
//!
//! Two ways to use it:
//! - in process: [`Sandbox::client_service`] is a `tower::Service` that `kube::Client::new`
//!   takes directly, with no socket;
//! - over TCP: [`Sandbox::serve`] listens on an address (`127.0.0.1:0` in tests) and
//!   [`kubeconfig`] writes a kubeconfig for it, for `kubectl` and out-of-process components.
//!
//! What it serves (see `docs/sandbox.md` for the differences from kube-apiserver):
//! - discovery (`/version`, `/api`, `/apis`, resource lists with subresources);
//! - the built-in kinds the SR-IOV stack uses ([`resources::builtins`]) and the resources of
//!   every stored CustomResourceDefinition, from the moment it is created;
//! - get, list (label and field selectors, `limit`/`continue`), watch (resume from a
//!   `resourceVersion`, bookmarks, `sendInitialEvents`, a bounded history answered with
//!   410 when a watch starts before it), create, update with optimistic concurrency,
//!   JSON/merge/strategic-merge patches, delete with finalizers, graceful pod deletion and
//!   propagation policies, deletecollection, `dryRun=All`;
//! - one global `resourceVersion` counter, `generation` following spec changes, the
//!   status subresource, no-op writes that store nothing;
//! - server-side apply with managed fields and conflicts, CRD schemas enforced (pruning,
//!   defaults, validation), eviction through PodDisruptionBudgets;
//! - admission webhooks called over HTTPS as kube-apiserver calls them (Service
//!   references reach the addresses [`Sandbox::route_service`] gives them);
//! - Tables for `kubectl get` (CRD printer columns, the built-in kinds' columns) and
//!   metadata-only reads; one store behind the core and `events.k8s.io` Events.
//!
//! Generic: it knows Kubernetes, not SR-IOV; the caller installs its CRDs.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use serde_json::{Value, json};

pub(crate) mod admission;
pub mod api;
pub(crate) mod builtin;
pub mod controllers;
pub mod discovery;
pub(crate) mod events;
pub mod meta;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod resources;
pub mod schema;
pub mod selector;
pub mod ssa;
pub mod status;
pub mod store;
pub(crate) mod table;

pub use api::MAX_BODY;
pub use status::ApiError;

/// One resource request as kube-apiserver's authorizer sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuditEvent {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub verb: String,
    /// The API group (`""` for the core group).
    pub group: String,
    /// The resource (plural).
    pub resource: String,
    /// The subresource (`status`, `eviction`, …).
    pub subresource: Option<String>,
    /// The namespace of a namespaced request.
    pub namespace: Option<String>,
    /// The object named, if any.
    pub name: Option<String>,
    /// The client's `User-Agent` (the sandbox authenticates no one: this tells clients
    /// apart).
    pub user_agent: Option<String>,
}

/// How the sandbox behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// How many events the watch history keeps (watches starting before them get 410).
    pub history: usize,
    /// Run the stand-ins for a cluster's controllers and kubelets after every write
    /// (garbage collection, namespace clean-up, finishing the deletion of pods, PDB status:
    /// see [`controllers`]). Off, the sandbox behaves like a bare kube-apiserver.
    pub controllers: bool,
}

impl Default for Config {
    /// A history of 10,000 events; no controller stand-ins.
    fn default() -> Self {
        Self {
            history: 10_000,
            controllers: false,
        }
    }
}

/// The namespaces every cluster starts with.
pub const INITIAL_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

/// One sandbox API server: its state and the handlers over it. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct Sandbox {
    shared: Arc<api::Shared>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new(Config::default())
    }
}

impl Sandbox {
    /// An empty cluster with the initial namespaces.
    pub fn new(config: Config) -> Self {
        let sandbox = Self {
            shared: Arc::new(api::Shared::new(config)),
        };
        for name in INITIAL_NAMESPACES {
            // Creating these cannot fail on an empty store.
            let _ = sandbox.create(&json!({
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}
            }));
        }
        sandbox
    }

    /// The router: every request path, answered.
    pub fn router(&self) -> axum::Router {
        let shared = Arc::clone(&self.shared);
        axum::Router::new().fallback(move |request: http::Request<Body>| {
            let shared = Arc::clone(&shared);
            async move { api::handle(shared, request).await }
        })
    }

    /// A `tower::Service` for `kube::Client::new(service, namespace)`: requests go straight
    /// to the handlers, with no socket.
    pub fn client_service(&self) -> axum::Router {
        self.router()
    }

    /// Serves on `listener` until `shutdown` completes; then open watches end (clients see
    /// their stream close, as when a kube-apiserver stops) and requests in flight finish.
    pub async fn serve_on(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let shared = Arc::clone(&self.shared);
        let stopping = async move {
            shutdown.await;
            shared.close_watches();
        };
        axum::serve(listener, self.router())
            .with_graceful_shutdown(stopping)
            .await
    }

    /// Binds `address` and serves in the background; returns the bound address (useful with
    /// port 0) and the task.
    pub async fn serve(
        &self,
        address: SocketAddr,
    ) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
        let listener = tokio::net::TcpListener::bind(address).await?;
        let bound = listener.local_addr()?;
        let sandbox = self.clone();
        let task = tokio::spawn(async move {
            sandbox
                .serve_on(listener, std::future::pending::<()>())
                .await
        });
        Ok((bound, task))
    }

    /// Creates `object` (as a POST would, in its own namespace, with strict field
    /// validation as `kubectl create` asks): how embedders install CRDs and seed objects
    /// without a client. Admission webhooks are not called.
    pub fn create(&self, object: &Value) -> Result<Value, ApiError> {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let resource = self
            .shared
            .lock()
            .registry
            .by_kind(api_version, kind)
            .cloned()
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "no resource serves {api_version}, Kind={kind} (is its CRD installed?)"
                ))
            })?;
        let namespace = resource.namespaced.then(|| {
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_owned()
        });
        let call = api::Call {
            target: api::Target {
                group: resource.group.clone(),
                version: resource.version.clone(),
                namespace,
                plural: resource.plural.clone(),
                name: None,
                subresource: None,
            },
            resource,
            // As `kubectl create` asks: a field the kind does not have is an error.
            params: [("fieldValidation".to_owned(), "Strict".to_owned())].into(),
            content_type: "application/json".into(),
            body: object.to_string().into_bytes(),
            user_agent: Some("kube-sandbox".into()),
            shape: crate::table::Shape::Object,
            warnings: std::sync::Mutex::default(),
        };
        let created = api::create_object(&self.shared, &call);
        self.shared.settle();
        created
    }

    /// Routes a Service port to a socket: admission webhooks whose `clientConfig.service`
    /// names `namespace/name` and `port` are called at `address` (with TLS verified for
    /// `<name>.<namespace>.svc`, as in a cluster). Without a route such a webhook fails to
    /// be called, and its `failurePolicy` decides.
    pub fn route_service(&self, namespace: &str, name: &str, port: u16, address: SocketAddr) {
        self.shared
            .routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((namespace.to_owned(), name.to_owned(), port), address);
    }

    /// How many watches were answered 410 (too old) so far: what makes clients re-list.
    pub fn expired_watches(&self) -> u64 {
        self.shared.lock().expired_watches
    }

    /// Starts recording every resource request as authorization sees it (see
    /// [`AuditEvent`]): what a test compares with a component's RBAC rules.
    pub fn start_audit(&self) {
        *self.shared.audit.lock().unwrap_or_else(|e| e.into_inner()) = Some(Vec::new());
    }

    /// The resource requests received since [`Sandbox::start_audit`], oldest first (empty
    /// when recording is off). Discovery and OpenAPI reads are not resource requests and
    /// are not recorded, as kube-apiserver's RBAC does not guard them per resource.
    pub fn audit(&self) -> Vec<AuditEvent> {
        self.audit_since(0)
    }

    /// The resource requests recorded after the first `skip` (what a poller that has seen
    /// `skip` of them asks for, without copying the whole log each time).
    pub fn audit_since(&self, skip: usize) -> Vec<AuditEvent> {
        self.shared
            .audit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|log| log.get(skip..).unwrap_or_default().to_vec())
            .unwrap_or_default()
    }

    /// How many write requests (POST, PUT, PATCH, DELETE) clients have sent, answered or
    /// refused: what a test counts to prove a controller wrote nothing.
    pub fn write_requests(&self) -> u64 {
        self.shared
            .write_requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The current resourceVersion (the counter's value).
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().rv
    }
}

/// Writes a kubeconfig for the server at `url` to `path`: one cluster, context and user
/// named `sandbox`, no credentials (the sandbox has no authentication).
pub fn kubeconfig(path: &Path, url: &str) -> std::io::Result<()> {
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: sandbox\n  cluster:\n    server: {url}\ncontexts:\n- name: sandbox\n  context:\n    cluster: sandbox\n    user: sandbox\n    namespace: default\ncurrent-context: sandbox\nusers:\n- name: sandbox\n  user: {{}}\n"
    );
    std::fs::write(path, text)
}
