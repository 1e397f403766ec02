//! The plugin's life: read the configuration, discover, build pools, serve one socket per
//! non-empty pool and register it (plugin-watcher mode when the `plugins_registry`
//! directory exists, else `Register` on `kubelet.sock`), then rescan on a timer: a changed
//! configuration adds and removes pools, changed devices and health are re-advertised
//! through `ListAndWatch`, and a socket that disappeared (the kubelet restarted and wiped
//! its directory) is recreated and registered again. On shutdown every socket,
//! device-info file and CDI spec is removed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sriov_hw::HostRoot;
use tokio::net::UnixListener;
use tokio::sync::{oneshot, watch};
use tokio_stream::wrappers::UnixListenerStream;

use crate::allocate;
use crate::api::pluginregistration::registration_server::RegistrationServer;
use crate::api::v1beta1::device_plugin_server::DevicePluginServer;
use crate::config::{Config, ConfigError};
use crate::device::{self, Inventory};
use crate::resource_pool::{self, ResourcePool};
use crate::server::{self, PluginService, ResourcePoolState, WatcherRegistration};

/// Where everything is, and how the plugin behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// The configuration file.
    pub config_file: PathBuf,
    /// Prefix for resources that set none.
    pub resource_prefix: String,
    /// Answer `Allocate` with CDI annotations and write CDI specs.
    pub use_cdi: bool,
    /// Host root (`sys/`, `dev/`, `proc/`).
    pub host_root: HostRoot,
    /// The kubelet's device-plugin directory (holding `kubelet.sock`).
    pub device_plugin_dir: PathBuf,
    /// The kubelet's plugin-watcher directory; watcher mode when it exists.
    pub plugins_registry_dir: PathBuf,
    /// Where device-info files go.
    pub device_info_dir: PathBuf,
    /// Where CDI specs go.
    pub cdi_dir: PathBuf,
    /// Time between rescans.
    pub rescan_interval: Duration,
}

/// Upstream's defaults, written once: [`Options::defaults`] and the binary's flags use them.
pub mod defaults {
    /// `--config-file`.
    pub const CONFIG_FILE: &str = "/etc/pcidp/config.json";
    /// `--resource-prefix`.
    pub const RESOURCE_PREFIX: &str = "intel.com";
    /// `--host-root`.
    pub const HOST_ROOT: &str = "/";
    /// `--device-plugin-dir`.
    pub const DEVICE_PLUGIN_DIR: &str = "/var/lib/kubelet/device-plugins";
    /// `--plugins-registry-dir`.
    pub const PLUGINS_REGISTRY_DIR: &str = "/var/lib/kubelet/plugins_registry";
    /// `--device-info-dir`.
    pub const DEVICE_INFO_DIR: &str = "/var/run/k8s.cni.cncf.io/devinfo/dp";
    /// `--cdi-dir`.
    pub const CDI_DIR: &str = "/var/run/cdi";
    /// `--rescan-interval`, in seconds.
    pub const RESCAN_INTERVAL_SECS: u64 = 5;
}

impl Options {
    /// Upstream's defaults ([`defaults`]).
    pub fn defaults() -> Self {
        Self {
            config_file: defaults::CONFIG_FILE.into(),
            resource_prefix: defaults::RESOURCE_PREFIX.into(),
            use_cdi: false,
            host_root: HostRoot::new(defaults::HOST_ROOT),
            device_plugin_dir: defaults::DEVICE_PLUGIN_DIR.into(),
            plugins_registry_dir: defaults::PLUGINS_REGISTRY_DIR.into(),
            device_info_dir: defaults::DEVICE_INFO_DIR.into(),
            cdi_dir: defaults::CDI_DIR.into(),
            rescan_interval: Duration::from_secs(defaults::RESCAN_INTERVAL_SECS),
        }
    }
}

/// Why the plugin stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration file could not be read.
    #[error("reading the configuration file {}: {error}", path.display())]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Why (part of the message).
        error: std::io::Error,
    },
    /// The configuration is invalid.
    #[error("{}: {error}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong with it (part of the message).
        error: ConfigError,
    },
    /// Discovery failed.
    #[error("discovering devices: {0}")]
    Discover(sriov_hw::Error),
}

impl From<sriov_hw::Error> for RunError {
    fn from(e: sriov_hw::Error) -> Self {
        Self::Discover(e)
    }
}

struct Running {
    state: Arc<ResourcePoolState>,
    socket: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    registered: bool,
}

/// What the manager reports to observers (tests, logs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Served pools: resource name → socket path.
    pub sockets: BTreeMap<String, PathBuf>,
    /// Completed rescans.
    pub scans: u64,
}

fn read_config(options: &Options) -> Result<(String, Config), RunError> {
    let text =
        std::fs::read_to_string(&options.config_file).map_err(|error| RunError::ReadConfig {
            path: options.config_file.clone(),
            error,
        })?;
    let config =
        Config::parse(&text, &options.resource_prefix).map_err(|error| RunError::Config {
            path: options.config_file.clone(),
            error,
        })?;
    Ok((text, config))
}

async fn scan(root: &HostRoot) -> Result<Inventory, RunError> {
    let root = root.clone();
    tokio::task::spawn_blocking(move || device::discover(&root))
        .await
        .unwrap_or_else(|e| {
            Err(sriov_hw::Error::Io {
                op: "discover",
                path: "sys/bus/pci/devices".into(),
                error: std::io::Error::other(e.to_string()),
            })
        })
        .map_err(RunError::from)
}

fn remove_cdi_specs(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with("sriov-dp-") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

fn write_cdi_spec(options: &Options, pool: &ResourcePool, vhost_net: bool) {
    if !options.use_cdi {
        return;
    }
    let path = allocate::cdi_spec_path(&options.cdi_dir, pool);
    let text = allocate::cdi_spec(pool, vhost_net).to_string();
    let written =
        std::fs::create_dir_all(&options.cdi_dir).and_then(|()| std::fs::write(&path, text));
    if let Err(e) = written {
        tracing::error!(path = %path.display(), error = %e, "cannot write the CDI spec");
    }
}

async fn start(options: &Options, pool: ResourcePool, vhost_net: bool) -> std::io::Result<Running> {
    let watcher = options.plugins_registry_dir.is_dir();
    let socket_name = format!("{}_{}.sock", pool.config.prefix, pool.config.name);
    let dir = if watcher {
        &options.plugins_registry_dir
    } else {
        &options.device_plugin_dir
    };
    std::fs::create_dir_all(dir)?;
    let socket = dir.join(&socket_name);
    let _ = std::fs::remove_file(&socket);
    allocate::clear_device_info(&options.device_info_dir, &pool);
    write_cdi_spec(options, &pool, vhost_net);
    let listener = UnixListener::bind(&socket)?;
    let resource = pool.resource_name();
    let state = Arc::new(ResourcePoolState {
        devices: watch::channel(server::device_list(&pool)).0,
        pool: RwLock::new(Arc::new(pool)),
        vhost_net: RwLock::new(vhost_net),
        device_info_dir: options.device_info_dir.clone(),
        use_cdi: options.use_cdi,
        endpoint: socket.clone(),
    });
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let incoming = UnixListenerStream::new(listener);
    let plugin = DevicePluginServer::new(PluginService::new(state.clone()));
    let shutdown = async {
        let _ = stop_rx.await;
    };
    let task = if watcher {
        let registration = WatcherRegistration::new(resource.clone(), socket.clone());
        let router = tonic::transport::Server::builder()
            .add_service(plugin)
            .add_service(RegistrationServer::new(registration));
        tokio::spawn(async move {
            if let Err(e) = router
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await
            {
                tracing::error!(error = %e, "gRPC server stopped");
            }
        })
    } else {
        let router = tonic::transport::Server::builder().add_service(plugin);
        tokio::spawn(async move {
            if let Err(e) = router
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await
            {
                tracing::error!(error = %e, "gRPC server stopped");
            }
        })
    };
    tracing::info!(resource = %resource, socket = %socket.display(), mode = if watcher { "plugin-watcher" } else { "kubelet.sock" }, "serving");
    let mut running = Running {
        state,
        socket,
        stop: Some(stop_tx),
        task,
        // In watcher mode the kubelet finds the socket itself.
        registered: watcher,
    };
    if !watcher {
        running.registered = register(options, &resource, &running.socket).await;
    }
    Ok(running)
}

/// `Register` on the kubelet's socket for the pool served at `socket`; whether it worked.
async fn register(options: &Options, resource: &str, socket: &Path) -> bool {
    let kubelet = options.device_plugin_dir.join("kubelet.sock");
    let endpoint = socket
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match server::register(&kubelet, &endpoint, resource).await {
        Ok(()) => {
            tracing::info!(resource = %resource, "registered with the kubelet");
            true
        }
        Err(e) => {
            tracing::error!(resource = %resource, error = %e, "registration failed; retrying at the next scan");
            false
        }
    }
}

async fn stop(options: &Options, mut running: Running) {
    if let Some(stop) = running.stop.take() {
        let _ = stop.send(());
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), &mut running.task).await;
    running.task.abort();
    let _ = std::fs::remove_file(&running.socket);
    let pool = running.state.pool();
    allocate::clear_device_info(&options.device_info_dir, &pool);
    if options.use_cdi {
        let _ = std::fs::remove_file(allocate::cdi_spec_path(&options.cdi_dir, &pool));
    }
}

/// Runs until `shutdown` resolves. Fails at start on an unreadable or invalid
/// configuration (later edits that break it are logged and the last good one is kept).
/// `observer` receives a snapshot after every scan.
pub async fn run(
    options: Options,
    shutdown: impl std::future::Future<Output = ()>,
    observer: Option<watch::Sender<ScanReport>>,
) -> Result<(), RunError> {
    let (mut config_text, mut config) = read_config(&options)?;
    // A mistyped host root must not look like a host without devices.
    options.host_root.check()?;
    remove_cdi_specs(&options.cdi_dir);
    let mut running: BTreeMap<String, Running> = BTreeMap::new();
    let mut pools: Vec<ResourcePool> = Vec::new();
    let mut scans = 0u64;
    // Pools already reported as finding no devices (reported again after they find some).
    let mut reported_empty: std::collections::BTreeSet<String> = Default::default();
    tokio::pin!(shutdown);
    loop {
        // 1. Configuration changes.
        if scans > 0 {
            match std::fs::read_to_string(&options.config_file) {
                Ok(text) if text != config_text => {
                    match Config::parse(&text, &options.resource_prefix) {
                        Ok(new) => {
                            tracing::info!(file = %options.config_file.display(), "configuration changed");
                            config = new;
                            config_text = text;
                        }
                        Err(e) => {
                            tracing::error!(file = %options.config_file.display(), error = %e, "configuration change ignored; keeping the last good one")
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(file = %options.config_file.display(), error = %e, "cannot read the configuration; keeping the last good one")
                }
            }
        }
        // 2. Devices.
        match scan(&options.host_root).await {
            Ok(mut inventory) => {
                if config
                    .resources
                    .iter()
                    .flat_map(|r| &r.selectors)
                    .any(|s| !s.ddp_profiles.is_empty())
                {
                    match sriov_hw::devlink::Devlink::new() {
                        Ok(devlink) => device::fill_ddp_profiles(&mut inventory, |pci| {
                            device::devlink_ddp_profile(&devlink, pci)
                        }),
                        Err(e) => {
                            tracing::warn!(error = %e, "ddpProfiles selectors need devlink, which this kernel lacks; they match nothing")
                        }
                    }
                }
                let fresh = resource_pool::assign(&config, &inventory);
                pools = resource_pool::evolve(&pools, fresh, &inventory);
                tracing::debug!(
                    scan = scans + 1,
                    devices = inventory.devices.len(),
                    vhost_net = inventory.vhost_net,
                    "scanned"
                );
                // Pools gone from the configuration.
                let wanted: Vec<String> = pools.iter().map(ResourcePool::resource_name).collect();
                let gone: Vec<String> = running
                    .keys()
                    .filter(|k| !wanted.contains(k))
                    .cloned()
                    .collect();
                for name in gone {
                    if let Some(r) = running.remove(&name) {
                        tracing::info!(resource = %name, "pool removed from the configuration");
                        stop(&options, r).await;
                    }
                }
                for pool in &pools {
                    let name = pool.resource_name();
                    tracing::debug!(
                        resource = %name,
                        devices = ?pool.members.keys().collect::<Vec<_>>(),
                        "pool"
                    );
                    if !pool.is_empty() {
                        reported_empty.remove(&name);
                    } else if reported_empty.insert(name.clone()) {
                        // A string value: quoted in text logs, a plain string in JSON.
                        let selected_on = pool.config.describe_selectors();
                        tracing::info!(
                            resource = %name,
                            scanned = inventory.devices.len(),
                            selected_on = selected_on.as_str(),
                            "no devices match this pool; it is not advertised until some do"
                        );
                    }
                    // A socket wiped by a kubelet restart: serve and register again.
                    if let Some(r) = running.get(&name)
                        && !r.socket.exists()
                    {
                        tracing::info!(resource = %name, "socket gone (kubelet restart?); recreating");
                        if let Some(r) = running.remove(&name) {
                            stop(&options, r).await;
                        }
                    }
                    match running.get_mut(&name) {
                        Some(r) => {
                            let config_changed = r.state.pool().config != pool.config;
                            let list_changed = r.state.update(pool.clone(), inventory.vhost_net);
                            if config_changed || list_changed {
                                write_cdi_spec(&options, pool, inventory.vhost_net);
                            }
                            if !r.registered {
                                r.registered = register(&options, &name, &r.socket).await;
                            }
                        }
                        None if !pool.is_empty() => {
                            match start(&options, pool.clone(), inventory.vhost_net).await {
                                Ok(r) => {
                                    running.insert(name, r);
                                }
                                Err(e) => {
                                    tracing::error!(resource = %name, error = %e, "cannot serve the pool")
                                }
                            }
                        }
                        None => {}
                    }
                }
            }
            Err(e) if scans == 0 => return Err(e),
            Err(e) => tracing::error!(error = %e, "rescan failed; keeping the last view"),
        }
        scans += 1;
        if let Some(observer) = &observer {
            observer.send_replace(ScanReport {
                sockets: running
                    .iter()
                    .map(|(k, r)| (k.clone(), r.socket.clone()))
                    .collect(),
                scans,
            });
        }
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(options.rescan_interval) => {}
        }
    }
    for (_, r) in std::mem::take(&mut running) {
        stop(&options, r).await;
    }
    remove_cdi_specs(&options.cdi_dir);
    tracing::info!("stopped; sockets, device-info files and CDI specs removed");
    Ok(())
}
