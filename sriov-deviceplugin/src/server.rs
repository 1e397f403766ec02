//! The gRPC side: one `DevicePlugin` service per pool (plus the plugin-watcher
//! `Registration` service on the same socket), served on a Unix socket, and the legacy
//! `Register` call on the kubelet's socket.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use futures::Stream;
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tokio::sync::watch;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::{Request, Response, Status};

use crate::allocate;
use crate::api::pluginregistration as reg;
use crate::api::v1beta1 as dp;
use crate::resource_pool::ResourcePool;

/// What a pool's service reads: the pool as last scanned, and where to write files.
#[derive(Debug)]
pub struct ResourcePoolState {
    /// The pool (shared, so a call never copies it).
    pub pool: RwLock<Arc<ResourcePool>>,
    /// `/dev/vhost-net` and `/dev/net/tun` exist.
    pub vhost_net: RwLock<bool>,
    /// Device list updates for `ListAndWatch`.
    pub devices: watch::Sender<Vec<dp::Device>>,
    /// Device-info directory.
    pub device_info_dir: PathBuf,
    /// Answer `Allocate` with CDI annotations instead of device specs.
    pub use_cdi: bool,
    /// The socket's full path (what `GetInfo` reports).
    pub endpoint: PathBuf,
}

/// The kubelet's view of a pool's devices.
pub fn device_list(pool: &ResourcePool) -> Vec<dp::Device> {
    pool.members
        .values()
        .map(|m| dp::Device {
            id: m.device.id.clone(),
            health: if m.unhealthy.is_some() {
                "Unhealthy"
            } else {
                "Healthy"
            }
            .to_owned(),
            topology: m
                .device
                .numa
                .filter(|_| !pool.config.exclude_topology)
                .map(|n| dp::TopologyInfo {
                    nodes: vec![dp::NumaNode { id: n }],
                }),
        })
        .collect()
}

impl ResourcePoolState {
    /// Replaces the pool after a rescan; `ListAndWatch` streams see the new list only when
    /// it differs. Returns whether the device list or the vhost-net availability changed.
    pub fn update(&self, pool: ResourcePool, vhost_net: bool) -> bool {
        let list = device_list(&pool);
        *self.pool.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(pool);
        let vhost_changed = std::mem::replace(
            &mut *self.vhost_net.write().unwrap_or_else(|e| e.into_inner()),
            vhost_net,
        ) != vhost_net;
        vhost_changed
            | self.devices.send_if_modified(|current| {
                if *current == list {
                    false
                } else {
                    *current = list;
                    true
                }
            })
    }

    /// The pool as last scanned.
    pub fn pool(&self) -> Arc<ResourcePool> {
        self.pool.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The `DevicePlugin` service of one pool.
#[derive(Debug, Clone)]
pub struct PluginService {
    state: Arc<ResourcePoolState>,
}

impl PluginService {
    /// Serves `state`.
    pub fn new(state: Arc<ResourcePoolState>) -> Self {
        Self { state }
    }
}

type DeviceStream = Pin<Box<dyn Stream<Item = Result<dp::ListAndWatchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl dp::device_plugin_server::DevicePlugin for PluginService {
    async fn get_device_plugin_options(
        &self,
        _: Request<dp::Empty>,
    ) -> Result<Response<dp::DevicePluginOptions>, Status> {
        Ok(Response::new(dp::DevicePluginOptions {
            pre_start_required: false,
            get_preferred_allocation_available: true,
        }))
    }

    type ListAndWatchStream = DeviceStream;

    async fn list_and_watch(
        &self,
        _: Request<dp::Empty>,
    ) -> Result<Response<Self::ListAndWatchStream>, Status> {
        let mut rx = self.state.devices.subscribe();
        let stream = async_stream(move |tx| async move {
            let first = rx.borrow_and_update().clone();
            if tx
                .send(Ok(dp::ListAndWatchResponse { devices: first }))
                .await
                .is_err()
            {
                return;
            }
            while rx.changed().await.is_ok() {
                let devices = rx.borrow_and_update().clone();
                if tx
                    .send(Ok(dp::ListAndWatchResponse { devices }))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_preferred_allocation(
        &self,
        request: Request<dp::PreferredAllocationRequest>,
    ) -> Result<Response<dp::PreferredAllocationResponse>, Status> {
        let pool = self.state.pool();
        let container_responses = request
            .into_inner()
            .container_requests
            .into_iter()
            .map(|r| dp::ContainerPreferredAllocationResponse {
                device_i_ds: allocate::preferred(
                    &pool,
                    &r.available_device_i_ds,
                    &r.must_include_device_i_ds,
                    usize::try_from(r.allocation_size).unwrap_or(0),
                ),
            })
            .collect();
        Ok(Response::new(dp::PreferredAllocationResponse {
            container_responses,
        }))
    }

    async fn allocate(
        &self,
        request: Request<dp::AllocateRequest>,
    ) -> Result<Response<dp::AllocateResponse>, Status> {
        let pool = self.state.pool();
        let vhost_net = *self
            .state
            .vhost_net
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let mut container_responses = Vec::new();
        for request in request.into_inner().container_requests {
            let ids = request.devices_ids;
            let a = allocate::allocate(&pool, &ids, vhost_net, self.state.use_cdi)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            allocate::write_device_info(&self.state.device_info_dir, &pool, &ids)
                .map_err(|e| Status::internal(e.to_string()))?;
            tracing::info!(pool = %pool.resource_name(), devices = %ids.join(","), "allocated");
            container_responses.push(dp::ContainerAllocateResponse {
                envs: a.envs.into_iter().collect(),
                mounts: Vec::new(),
                devices: a
                    .devices
                    .into_iter()
                    .map(|d| dp::DeviceSpec {
                        container_path: d.container_path,
                        host_path: d.host_path,
                        permissions: d.permissions,
                    })
                    .collect(),
                annotations: a.annotations.into_iter().collect(),
                cdi_devices: Vec::new(),
            });
        }
        Ok(Response::new(dp::AllocateResponse {
            container_responses,
        }))
    }

    async fn pre_start_container(
        &self,
        _: Request<dp::PreStartContainerRequest>,
    ) -> Result<Response<dp::PreStartContainerResponse>, Status> {
        Ok(Response::new(dp::PreStartContainerResponse {}))
    }
}

/// A stream fed by a task through a bounded channel.
fn async_stream<T, F, Fut>(body: F) -> impl Stream<Item = T> + Send
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<T>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(body(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// The plugin-watcher `Registration` service of one pool.
#[derive(Debug, Clone)]
pub struct WatcherRegistration {
    resource: String,
    endpoint: PathBuf,
    /// Set when the kubelet reports the outcome (`Ok` or its error).
    pub status: watch::Sender<Option<Result<(), String>>>,
}

impl WatcherRegistration {
    /// For the pool `resource` served at `endpoint`.
    pub fn new(resource: String, endpoint: PathBuf) -> Self {
        Self {
            resource,
            endpoint,
            status: watch::channel(None).0,
        }
    }
}

#[tonic::async_trait]
impl reg::registration_server::Registration for WatcherRegistration {
    async fn get_info(
        &self,
        _: Request<reg::InfoRequest>,
    ) -> Result<Response<reg::PluginInfo>, Status> {
        Ok(Response::new(reg::PluginInfo {
            r#type: "DevicePlugin".to_owned(),
            name: self.resource.clone(),
            endpoint: self.endpoint.display().to_string(),
            supported_versions: vec!["v1alpha1".to_owned(), "v1beta1".to_owned()],
        }))
    }

    async fn notify_registration_status(
        &self,
        request: Request<reg::RegistrationStatus>,
    ) -> Result<Response<reg::RegistrationStatusResponse>, Status> {
        let status = request.into_inner();
        if status.plugin_registered {
            tracing::info!(resource = %self.resource, "registered with the kubelet");
            self.status.send_replace(Some(Ok(())));
        } else {
            tracing::error!(resource = %self.resource, error = %status.error, "the kubelet refused the registration");
            self.status.send_replace(Some(Err(status.error)));
        }
        Ok(Response::new(reg::RegistrationStatusResponse {}))
    }
}

/// A gRPC channel over a Unix socket.
pub async fn unix_channel(path: &Path) -> Result<Channel, tonic::transport::Error> {
    let path = path.to_owned();
    Endpoint::try_from("http://[::]:0")?
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move { UnixStream::connect(path).await.map(TokioIo::new) }
        }))
        .await
}

/// Registers a pool with the kubelet's legacy `Registration` service at `kubelet_socket`.
pub async fn register(kubelet_socket: &Path, endpoint: &str, resource: &str) -> Result<(), String> {
    let channel = unix_channel(kubelet_socket)
        .await
        .map_err(|e| format!("connect to {}: {e}", kubelet_socket.display()))?;
    dp::registration_client::RegistrationClient::new(channel)
        .register(dp::RegisterRequest {
            version: "v1beta1".to_owned(),
            endpoint: endpoint.to_owned(),
            resource_name: resource.to_owned(),
            options: Some(dp::DevicePluginOptions {
                pre_start_required: false,
                get_preferred_allocation_available: true,
            }),
        })
        .await
        .map(|_| ())
        .map_err(|e| format!("register {resource}: {}", e.message()))
}
