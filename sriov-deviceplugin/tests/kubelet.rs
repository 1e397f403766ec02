//! The plugin against a kubelet stand-in written here: a `Registration` server on
//! `kubelet.sock` (legacy mode) or a plugin-watcher client (watcher mode), and
//! `DevicePlugin` clients over the plugin's Unix sockets, all in a temp dir, with a
//! FakeSysfs host.
// Test and benchmark set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used)]
// Test helpers panic on setup failures by design: that is the test failing.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use sriov_deviceplugin::api::pluginregistration as reg;
use sriov_deviceplugin::api::v1beta1 as dp;
use sriov_deviceplugin::manager::{self, Options, ScanReport};
use sriov_deviceplugin::server::unix_channel;
use sriov_hw::fake::{FakeSysfs, presets};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::StreamExt;

const CONFIG: &str = r#"{"resourceList":[
  {"resourceName":"net","selectors":{"drivers":["iavf"]}},
  {"resourceName":"dpdk","selectors":{"drivers":["vfio-pci"]}}
]}"#;

struct Kubelet {
    registrations: mpsc::UnboundedReceiver<dp::RegisterRequest>,
    _stop: oneshot::Sender<()>,
}

#[derive(Clone)]
struct Registrar(mpsc::UnboundedSender<dp::RegisterRequest>);

#[tonic::async_trait]
impl dp::registration_server::Registration for Registrar {
    async fn register(
        &self,
        request: tonic::Request<dp::RegisterRequest>,
    ) -> Result<tonic::Response<dp::Empty>, tonic::Status> {
        let _ = self.0.send(request.into_inner());
        Ok(tonic::Response::new(dp::Empty {}))
    }
}

async fn kubelet(dir: &Path) -> Kubelet {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("kubelet.sock");
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(dp::registration_server::RegistrationServer::new(Registrar(
                tx,
            )))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::UnixListenerStream::new(listener),
                async {
                    let _ = stopped.await;
                },
            )
            .await
            .unwrap();
    });
    Kubelet {
        registrations: rx,
        _stop: stop,
    }
}

struct Plugin {
    dir: tempfile::TempDir,
    fake: FakeSysfs,
    options: Options,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), manager::RunError>>>,
    snapshots: watch::Receiver<ScanReport>,
}

impl Plugin {
    fn host() -> (tempfile::TempDir, FakeSysfs) {
        let dir = tempfile::tempdir().unwrap();
        let fake = FakeSysfs::e810(2).unwrap();
        fake.pf("0000:81:00.1", presets::INTEL_E810_CQDA2)
            .name("ens801f1")
            .num_vfs(2)
            .numa_node(Some(1))
            .vf_driver("vfio-pci")
            .build()
            .unwrap();
        (dir, fake)
    }

    fn options(dir: &Path, fake: &FakeSysfs, config: &str) -> Options {
        let config_file = dir.join("config.json");
        std::fs::write(&config_file, config).unwrap();
        Options {
            config_file,
            resource_prefix: "intel.com".into(),
            use_cdi: false,
            host_root: fake.root(),
            device_plugin_dir: dir.join("device-plugins"),
            plugins_registry_dir: dir.join("plugins_registry"),
            device_info_dir: dir.join("devinfo"),
            cdi_dir: dir.join("cdi"),
            rescan_interval: Duration::from_millis(100),
        }
    }

    fn start(dir: tempfile::TempDir, fake: FakeSysfs, options: Options) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let (tx, snapshots) = watch::channel(ScanReport::default());
        let task = tokio::spawn(manager::run(
            options.clone(),
            async {
                let _ = stopped.await;
            },
            Some(tx),
        ));
        Self {
            dir,
            fake,
            options,
            stop: Some(stop),
            task: Some(task),
            snapshots,
        }
    }

    async fn scans(&mut self, n: u64) {
        let target = self.snapshots.borrow().scans + n;
        tokio::time::timeout(
            Duration::from_secs(10),
            self.snapshots.wait_for(|s| s.scans >= target),
        )
        .await
        .expect("the plugin keeps scanning")
        .unwrap();
    }

    async fn socket(&mut self, resource: &str) -> PathBuf {
        let resource = resource.to_owned();
        tokio::time::timeout(
            Duration::from_secs(10),
            self.snapshots
                .wait_for(|s| s.sockets.contains_key(&resource)),
        )
        .await
        .expect("the pool is served")
        .unwrap()
        .sockets[&resource]
            .clone()
    }

    /// Stops the plugin; the temp dir is handed back so its contents can be checked.
    async fn shutdown(mut self) -> tempfile::TempDir {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
        self.dir
    }
}

async fn client(
    socket: &Path,
) -> dp::device_plugin_client::DevicePluginClient<tonic::transport::Channel> {
    dp::device_plugin_client::DevicePluginClient::new(unix_channel(socket).await.unwrap())
}

fn health(list: &dp::ListAndWatchResponse) -> Vec<(String, String)> {
    let mut out: Vec<_> = list
        .devices
        .iter()
        .map(|d| (d.id.clone(), d.health.clone()))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn legacy_registration_list_and_allocate() {
    let (dir, fake) = Plugin::host();
    let mut kubelet = kubelet(&dir.path().join("device-plugins")).await;
    let options = Plugin::options(dir.path(), &fake, CONFIG);
    let mut plugin = Plugin::start(dir, fake, options);
    let mut names = Vec::new();
    for _ in 0..2 {
        let r = tokio::time::timeout(Duration::from_secs(10), kubelet.registrations.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.version, "v1beta1");
        names.push((r.resource_name, r.endpoint));
    }
    names.sort();
    assert_eq!(
        names,
        [
            (
                "intel.com/dpdk".to_owned(),
                "intel.com_dpdk.sock".to_owned()
            ),
            ("intel.com/net".to_owned(), "intel.com_net.sock".to_owned())
        ]
    );
    let socket = plugin.socket("intel.com/net").await;
    assert_eq!(
        socket,
        plugin.options.device_plugin_dir.join("intel.com_net.sock")
    );
    let mut net = client(&socket).await;
    let options = net
        .get_device_plugin_options(dp::Empty {})
        .await
        .unwrap()
        .into_inner();
    assert!(options.get_preferred_allocation_available && !options.pre_start_required);
    let mut stream = net.list_and_watch(dp::Empty {}).await.unwrap().into_inner();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(
        health(&first),
        [
            ("0000:82:00.0".to_owned(), "Healthy".to_owned()),
            ("0000:82:00.1".to_owned(), "Healthy".to_owned())
        ]
    );
    assert_eq!(first.devices[0].topology.as_ref().unwrap().nodes[0].id, 0);

    let response = net
        .allocate(dp::AllocateRequest {
            container_requests: vec![dp::ContainerAllocateRequest {
                devices_ids: vec!["0000:82:00.1".into()],
            }],
        })
        .await
        .unwrap()
        .into_inner();
    let c = &response.container_responses[0];
    assert_eq!(c.envs["PCIDEVICE_INTEL_COM_NET"], "0000:82:00.1");
    assert_eq!(
        c.envs["PCIDEVICE_INTEL_COM_NET_INFO"],
        r#"{"0000:82:00.1":{"generic":{"deviceID":"0000:82:00.1"}}}"#
    );
    assert!(
        c.devices.is_empty(),
        "kernel netdev VFs need no device nodes"
    );
    let info = plugin
        .options
        .device_info_dir
        .join("intel.com-net-0000:82:00.1-device.json");
    assert!(
        std::fs::read_to_string(&info)
            .unwrap()
            .contains("\"pci-address\":\"0000:82:00.1\"")
    );

    let mut dpdk = client(&plugin.socket("intel.com/dpdk").await).await;
    let response = dpdk
        .allocate(dp::AllocateRequest {
            container_requests: vec![dp::ContainerAllocateRequest {
                devices_ids: vec!["0000:83:00.0".into(), "0000:83:00.1".into()],
            }],
        })
        .await
        .unwrap()
        .into_inner();
    let specs: Vec<&str> = response.container_responses[0]
        .devices
        .iter()
        .map(|d| d.host_path.as_str())
        .collect();
    assert_eq!(
        specs.iter().filter(|p| **p == "/dev/vfio/vfio").count(),
        1,
        "{specs:?}"
    );
    assert_eq!(specs.len(), 3, "{specs:?}");
    let err = dpdk
        .allocate(dp::AllocateRequest {
            container_requests: vec![dp::ContainerAllocateRequest {
                devices_ids: vec!["0000:99:00.0".into()],
            }],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().contains("\"0000:99:00.0\""),
        "{}",
        err.message()
    );
    // Preferred allocation: one NUMA node.
    let preferred = dpdk
        .get_preferred_allocation(dp::PreferredAllocationRequest {
            container_requests: vec![dp::ContainerPreferredAllocationRequest {
                available_device_i_ds: vec!["0000:83:00.0".into(), "0000:83:00.1".into()],
                must_include_device_i_ds: vec![],
                allocation_size: 1,
            }],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(preferred.container_responses[0].device_i_ds.len(), 1);

    let options = plugin.options.clone();
    let _dir = plugin.shutdown().await;
    assert!(options.device_plugin_dir.join("kubelet.sock").exists());
    assert!(
        !options
            .device_plugin_dir
            .join("intel.com_net.sock")
            .exists()
    );
    assert!(
        !options
            .device_plugin_dir
            .join("intel.com_dpdk.sock")
            .exists()
    );
    assert!(options.device_info_dir.exists());
    assert!(!info.exists(), "device-info files removed on shutdown");
}

#[tokio::test]
async fn plugin_watcher_mode_answers_get_info_and_serves_on_the_same_socket() {
    let (dir, fake) = Plugin::host();
    std::fs::create_dir_all(dir.path().join("plugins_registry")).unwrap();
    let options = Plugin::options(dir.path(), &fake, CONFIG);
    let mut plugin = Plugin::start(dir, fake, options);
    let socket = plugin.socket("intel.com/dpdk").await;
    assert_eq!(
        socket,
        plugin
            .options
            .plugins_registry_dir
            .join("intel.com_dpdk.sock")
    );
    let mut registration =
        reg::registration_client::RegistrationClient::new(unix_channel(&socket).await.unwrap());
    let info = registration
        .get_info(reg::InfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.r#type, "DevicePlugin");
    assert_eq!(info.name, "intel.com/dpdk");
    assert_eq!(info.endpoint, socket.display().to_string());
    assert_eq!(info.supported_versions, ["v1alpha1", "v1beta1"]);
    registration
        .notify_registration_status(reg::RegistrationStatus {
            plugin_registered: true,
            error: String::new(),
        })
        .await
        .unwrap();
    let mut dpdk = client(&socket).await;
    let first = dpdk
        .list_and_watch(dp::Empty {})
        .await
        .unwrap()
        .into_inner()
        .next()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.devices.len(), 2);
    assert_eq!(first.devices[0].topology.as_ref().unwrap().nodes[0].id, 1);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_kubelet_restart_wiping_the_sockets_brings_re_registration() {
    let (dir, fake) = Plugin::host();
    let kubelet_dir = dir.path().join("device-plugins");
    let mut kubelet = kubelet(&kubelet_dir).await;
    let options = Plugin::options(dir.path(), &fake, CONFIG);
    let mut plugin = Plugin::start(dir, fake, options);
    for _ in 0..2 {
        tokio::time::timeout(Duration::from_secs(10), kubelet.registrations.recv())
            .await
            .unwrap()
            .unwrap();
    }
    plugin.socket("intel.com/net").await;
    // The kubelet restarts: its directory is wiped and its socket comes back.
    drop(kubelet);
    std::fs::remove_dir_all(&kubelet_dir).unwrap();
    let mut kubelet = self::kubelet(&kubelet_dir).await;
    let mut again = Vec::new();
    for _ in 0..2 {
        let r = tokio::time::timeout(Duration::from_secs(10), kubelet.registrations.recv())
            .await
            .expect("re-registered without a restart")
            .unwrap();
        again.push(r.resource_name);
    }
    again.sort();
    assert_eq!(again, ["intel.com/dpdk", "intel.com/net"]);
    assert!(kubelet_dir.join("intel.com_net.sock").exists());
    let socket = plugin.socket("intel.com/net").await;
    let first = client(&socket)
        .await
        .list_and_watch(dp::Empty {})
        .await
        .unwrap()
        .into_inner()
        .next()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.devices.len(), 2);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_vf_that_vanishes_turns_unhealthy_and_healthy_again_when_it_returns() {
    let (dir, fake) = Plugin::host();
    std::fs::create_dir_all(dir.path().join("plugins_registry")).unwrap();
    let options = Plugin::options(dir.path(), &fake, CONFIG);
    let mut plugin = Plugin::start(dir, fake, options);
    let socket = plugin.socket("intel.com/net").await;
    let mut stream = client(&socket)
        .await
        .list_and_watch(dp::Empty {})
        .await
        .unwrap()
        .into_inner();
    let first = stream.next().await.unwrap().unwrap();
    assert!(health(&first).iter().all(|(_, h)| h == "Healthy"));
    let link = plugin.fake.path().join("sys/bus/pci/devices/0000:82:00.1");
    let hidden = plugin.fake.path().join("hidden-vf");
    std::fs::rename(&link, &hidden).unwrap();
    let next = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a new list within the rescan interval")
        .unwrap()
        .unwrap();
    assert_eq!(
        health(&next),
        [
            ("0000:82:00.0".to_owned(), "Healthy".to_owned()),
            ("0000:82:00.1".to_owned(), "Unhealthy".to_owned())
        ]
    );
    std::fs::rename(&hidden, &link).unwrap();
    let back = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        health(&back).iter().all(|(_, h)| h == "Healthy"),
        "{back:?}"
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_config_edit_adds_and_removes_pools_without_a_restart() {
    let (dir, fake) = Plugin::host();
    std::fs::create_dir_all(dir.path().join("plugins_registry")).unwrap();
    let options = Plugin::options(
        dir.path(),
        &fake,
        r#"{"resourceList":[{"resourceName":"net","selectors":{"drivers":["iavf"]}}]}"#,
    );
    let mut plugin = Plugin::start(dir, fake, options);
    plugin.socket("intel.com/net").await;
    assert!(
        !plugin
            .snapshots
            .borrow()
            .sockets
            .contains_key("intel.com/dpdk")
    );
    std::fs::write(&plugin.options.config_file, CONFIG).unwrap();
    let socket = plugin.socket("intel.com/dpdk").await;
    assert!(socket.exists());
    // A broken edit is ignored: the last good configuration stays.
    std::fs::write(&plugin.options.config_file, "{").unwrap();
    plugin.scans(2).await;
    assert!(
        plugin
            .snapshots
            .borrow()
            .sockets
            .contains_key("intel.com/dpdk")
    );
    // Removing a pool stops its socket.
    std::fs::write(
        &plugin.options.config_file,
        r#"{"resourceList":[{"resourceName":"dpdk","selectors":{"drivers":["vfio-pci"]}}]}"#,
    )
    .unwrap();
    plugin.scans(2).await;
    let sockets = plugin.snapshots.borrow().sockets.clone();
    assert_eq!(sockets.keys().collect::<Vec<_>>(), ["intel.com/dpdk"]);
    assert!(
        !plugin
            .options
            .plugins_registry_dir
            .join("intel.com_net.sock")
            .exists()
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn cdi_mode_writes_specs_and_annotates() {
    let (dir, fake) = Plugin::host();
    std::fs::create_dir_all(dir.path().join("plugins_registry")).unwrap();
    let mut options = Plugin::options(dir.path(), &fake, CONFIG);
    options.use_cdi = true;
    let mut plugin = Plugin::start(dir, fake, options);
    let socket = plugin.socket("intel.com/dpdk").await;
    let spec_path = plugin.options.cdi_dir.join("sriov-dp-intel.com-dpdk.json");
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&spec_path).unwrap()).unwrap();
    assert_eq!(spec["kind"], "intel.com/dpdk");
    assert_eq!(spec["devices"].as_array().unwrap().len(), 2);
    let response = client(&socket)
        .await
        .allocate(dp::AllocateRequest {
            container_requests: vec![dp::ContainerAllocateRequest {
                devices_ids: vec!["0000:83:00.0".into()],
            }],
        })
        .await
        .unwrap()
        .into_inner();
    let c = &response.container_responses[0];
    assert!(c.devices.is_empty());
    assert_eq!(
        c.annotations["cdi.k8s.io/intel.com_dpdk"],
        "intel.com/dpdk=0000:83:00.0"
    );
    let cdi_dir = plugin.options.cdi_dir.clone();
    let _dir = plugin.shutdown().await;
    assert!(cdi_dir.exists());
    assert!(!spec_path.exists());
    assert_eq!(std::fs::read_dir(cdi_dir).unwrap().count(), 0);
}

#[test]
fn a_broken_configuration_is_an_error_exit_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let run = |text: &str| {
        std::fs::write(&config, text).unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_sriovdp"))
            .arg(format!("--config-file={}", config.display()))
            .arg(format!("--host-root={}", dir.path().display()))
            .arg(format!(
                "--device-plugin-dir={}",
                dir.path().join("dp").display()
            ))
            .output()
            .unwrap()
    };
    for (text, expected) in [
        (r#"{"resourceList":[]}"#, "resourceList is empty"),
        (
            r#"{"resourceList":[{"resourceName":"x","selectors":{"driver":["iavf"]}}]}"#,
            "resourceList[0] (x): selectors[0].driver: not a netDevice selector key",
        ),
        ("not json", "config: expected"),
    ] {
        let out = run(text);
        assert_eq!(out.status.code(), Some(1), "{text}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Once, and without colour codes: stderr is a pipe here, not a terminal.
        assert_eq!(stderr.matches(expected).count(), 1, "{text}: {stderr}");
        assert!(
            stderr.contains(&format!("{}: config: ", config.display())),
            "names the file: {stderr}"
        );
        assert!(
            !stderr.contains('\x1b'),
            "ANSI escape in a pipe: {stderr:?}"
        );
    }
    std::fs::remove_file(&config).unwrap();
    let out = run_missing(&config, dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!(
        "reading the configuration file {}",
        config.display()
    )));
}

#[test]
fn a_host_root_without_sys_bus_pci_is_an_error_and_v3_logs_each_scan() {
    let (dir, fake) = Plugin::host();
    let options = Plugin::options(dir.path(), &fake, CONFIG);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sriovdp"))
        .arg(format!("--config-file={}", options.config_file.display()))
        .arg("--host-root=/nonexistent-root")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent-root is not a host root"),
        "{stderr}"
    );
    // -v=3 and up: each scan and each pool's members at debug level.
    let mut args = Binary::args(&options);
    args.push("-v=10".into());
    let binary = Binary::start(&args);
    let scanned = binary.line_with("scanned");
    let pool = binary.line_with("resource=intel.com/net");
    binary.terminate();
    assert!(
        scanned.contains("DEBUG") && scanned.contains("devices="),
        "{scanned}"
    );
    assert!(
        pool.contains("DEBUG") && pool.contains("devices=["),
        "{pool}"
    );
}

fn run_missing(config: &Path, root: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sriovdp"))
        .arg(format!("--config-file={}", config.display()))
        .arg(format!("--host-root={}", root.display()))
        .output()
        .unwrap()
}

#[tokio::test]
async fn rdma_and_vhost_pools_hand_out_their_character_devices() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeSysfs::new().unwrap();
    fake.pf("0000:3b:00.0", presets::MLX_CX6_DX)
        .name("ens1f0")
        .num_vfs(2)
        .build()
        .unwrap();
    for (i, n) in [(0, 3), (1, 4)] {
        let vf = fake
            .path()
            .join(format!("sys/bus/pci/devices/0000:3c:00.{i}"));
        std::fs::create_dir_all(vf.join(format!("infiniband/mlx5_{n}"))).unwrap();
        std::fs::create_dir_all(vf.join(format!("infiniband_verbs/uverbs{n}"))).unwrap();
    }
    std::fs::create_dir_all(fake.path().join("dev/net")).unwrap();
    std::fs::write(fake.path().join("dev/vhost-net"), "").unwrap();
    std::fs::write(fake.path().join("dev/net/tun"), "").unwrap();
    std::fs::create_dir_all(dir.path().join("plugins_registry")).unwrap();
    let options = Plugin::options(
        dir.path(),
        &fake,
        r#"{"resourceList":[{"resourceName":"rdma","resourcePrefix":"nvidia.com","selectors":{"isRdma":true,"needVhostNet":true}}]}"#,
    );
    let mut plugin = Plugin::start(dir, fake, options);
    let socket = plugin.socket("nvidia.com/rdma").await;
    let response = client(&socket)
        .await
        .allocate(dp::AllocateRequest {
            container_requests: vec![dp::ContainerAllocateRequest {
                devices_ids: vec!["0000:3c:00.0".into(), "0000:3c:00.1".into()],
            }],
        })
        .await
        .unwrap()
        .into_inner();
    let c = &response.container_responses[0];
    let mut paths: Vec<&str> = c.devices.iter().map(|d| d.host_path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "/dev/infiniband/rdma_cm",
            "/dev/infiniband/uverbs3",
            "/dev/infiniband/uverbs4",
            "/dev/net/tun",
            "/dev/vhost-net"
        ]
    );
    let info: serde_json::Value =
        serde_json::from_str(&c.envs["PCIDEVICE_NVIDIA_COM_RDMA_INFO"]).unwrap();
    assert_eq!(info["0000:3c:00.1"]["rdma"]["rdma_dev"], "mlx5_4");
    assert_eq!(info["0000:3c:00.1"]["vhost"]["tun-mount"], "/dev/net/tun");
    let devinfo = std::fs::read_to_string(
        plugin
            .options
            .device_info_dir
            .join("nvidia.com-rdma-0000:3c:00.0-device.json"),
    )
    .unwrap();
    assert!(devinfo.contains("\"rdma-device\":\"mlx5_3\""), "{devinfo}");
    plugin.shutdown().await;
}

#[test]
fn sigterm_stops_the_binary_and_removes_its_sockets() {
    let (dir, fake) = Plugin::host();
    std::fs::create_dir_all(dir.path().join("plugins_registry")).unwrap();
    let options = Plugin::options(dir.path(), &fake, CONFIG);
    let mut args = Binary::args(&options);
    args.push("--use-cdi".into());
    let binary = Binary::start(&args);
    let socket = options.plugins_registry_dir.join("intel.com_net.sock");
    let spec = options.cdi_dir.join("sriov-dp-intel.com-net.json");
    let start = std::time::Instant::now();
    while !(socket.exists() && spec.exists()) {
        assert!(start.elapsed() < Duration::from_secs(20), "never served");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, _) = binary.terminate();
    assert_eq!(status.code(), Some(0));
    assert!(!socket.exists());
    assert!(
        !options
            .plugins_registry_dir
            .join("intel.com_dpdk.sock")
            .exists()
    );
    assert!(!spec.exists());
}

/// The `sriovdp` binary running with `args`, its stderr read line by line.
struct Binary {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Binary {
    fn start(args: &[String]) -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sriovdp"))
            .args(args)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The flags that point the binary at `options`' directories and config.
    fn args(options: &Options) -> Vec<String> {
        vec![
            format!("--config-file={}", options.config_file.display()),
            format!("--host-root={}", options.host_root.path().display()),
            format!(
                "--plugins-registry-dir={}",
                options.plugins_registry_dir.display()
            ),
            format!(
                "--device-plugin-dir={}",
                options.device_plugin_dir.display()
            ),
            format!("--device-info-dir={}", options.device_info_dir.display()),
            format!("--cdi-dir={}", options.cdi_dir.display()),
        ]
    }

    /// The first log line containing `needle` (waiting up to 20 s).
    fn line_with(&self, needle: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no log line with {needle:?}"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// Sends SIGTERM and waits (20 s at most): the exit status and the log lines not read
    /// yet.
    fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap()),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > Duration::from_secs(20) {
                let _ = self.child.kill();
                panic!("sriovdp did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (status, self.lines.try_iter().collect())
    }
}

#[test]
fn a_pool_that_matches_no_device_says_so_and_what_it_selected_on() {
    let (dir, fake) = Plugin::host();
    let options = Plugin::options(
        dir.path(),
        &fake,
        r#"{"resourceList":[{"resourceName":"mlx","selectors":{"vendors":["15b3"],"pfNames":["ens9f0#0-3"],"isRdma":true}}]}"#,
    );
    let binary = Binary::start(&Binary::args(&options));
    let line = binary.line_with("no devices match");
    // SIGTERM during the first scan, before the main loop first waits on it, still stops
    // the plugin cleanly.
    let (status, _) = binary.terminate();
    assert_eq!(status.code(), Some(0));
    assert!(line.contains("INFO"), "{line}");
    assert!(line.contains("resource=intel.com/mlx"), "{line}");
    assert!(
        line.contains(r#"selected_on="deviceType=netDevice selectors: vendors=15b3 pfNames=ens9f0#0-3 isRdma""#),
        "{line}"
    );
    assert!(!line.contains('\x1b'), "{line:?}");
    // In JSON the selectors are one plain string.
    let mut args = Binary::args(&options);
    args.push("--log-format=json".into());
    let binary = Binary::start(&args);
    let line = binary.line_with("no devices match");
    binary.terminate();
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        event["fields"]["selected_on"],
        "deviceType=netDevice selectors: vendors=15b3 pfNames=ens9f0#0-3 isRdma"
    );
}

/// An HPACK "literal header field without indexing, new name", neither part Huffman-coded.
fn hpack_literal(out: &mut Vec<u8>, name: &str, value: &str) {
    fn string(out: &mut Vec<u8>, s: &str) {
        // 7-bit prefix integer (RFC 7541 §5.1), H bit clear.
        let mut n = s.len();
        if n < 127 {
            out.push(n as u8);
        } else {
            out.push(127);
            n -= 127;
            while n >= 128 {
                out.push((n % 128 + 128) as u8);
                n /= 128;
            }
            out.push(n as u8);
        }
        out.extend_from_slice(s.as_bytes());
    }
    out.push(0x00);
    string(out, name);
    string(out, value);
}

fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut frame = len.to_be_bytes()[1..].to_vec();
    frame.extend_from_slice(&[kind, flags]);
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Sends one gRPC request by hand over `socket` with `authority` as `:authority`, and
/// returns how the server answered stream 1: `Ok(())` for response headers, `Err(code)`
/// for a stream reset.
fn raw_grpc_request(socket: &Path, authority: &str) -> Result<(), u32> {
    use std::io::{Read, Write};
    let mut conn = std::os::unix::net::UnixStream::connect(socket).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut block = Vec::new();
    for (name, value) in [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/v1beta1.DevicePlugin/GetDevicePluginOptions"),
        (":authority", authority),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ] {
        hpack_literal(&mut block, name, value);
    }
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    out.extend(h2_frame(0x4, 0, 0, &[])); // SETTINGS
    out.extend(h2_frame(0x1, 0x4, 1, &block)); // HEADERS, END_HEADERS
    // An empty gRPC message (no compression, length 0), END_STREAM.
    out.extend(h2_frame(0x0, 0x1, 1, &[0, 0, 0, 0, 0]));
    conn.write_all(&out).unwrap();
    loop {
        let mut header = [0u8; 9];
        conn.read_exact(&mut header).expect("the server answers");
        let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let (kind, flags) = (header[3], header[4]);
        let stream = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        conn.read_exact(&mut payload).unwrap();
        match (kind, stream) {
            // The server's SETTINGS: acknowledge them.
            (0x4, 0) if flags & 0x1 == 0 => conn.write_all(&h2_frame(0x4, 0x1, 0, &[])).unwrap(),
            (0x1, 1) => return Ok(()),
            (0x3, 1) => return Err(u32::from_be_bytes(payload[..4].try_into().unwrap())),
            (0x7, 0) => panic!("GOAWAY: {payload:?}"),
            _ => {}
        }
    }
}

#[test]
fn a_socket_path_as_authority_is_reset_and_the_log_says_why() {
    let (dir, fake) = Plugin::host();
    std::fs::create_dir_all(dir.path().join("plugins_registry")).unwrap();
    let options = Plugin::options(dir.path(), &fake, CONFIG);
    let binary = Binary::start(&Binary::args(&options));
    let socket = options.plugins_registry_dir.join("intel.com_net.sock");
    let start = std::time::Instant::now();
    while !socket.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "never served");
        std::thread::sleep(Duration::from_millis(20));
    }
    // What kubelet 1.26+ sends is answered; the socket path (older kubelets, grpcurl) is
    // reset with PROTOCOL_ERROR (1) by the HTTP/2 layer.
    assert_eq!(raw_grpc_request(&socket, "localhost"), Ok(()));
    let path = socket.display().to_string();
    assert_eq!(raw_grpc_request(&socket, &path), Err(1));
    assert_eq!(raw_grpc_request(&socket, &path), Err(1));
    let warning = binary.line_with(":authority");
    let (_, rest) = binary.terminate();
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains(&path), "names the authority: {warning}");
    assert!(warning.contains("Kubernetes 1.26"), "{warning}");
    // One line per distinct authority, however many requests.
    let again: Vec<&String> = rest.iter().filter(|l| l.contains(":authority")).collect();
    assert!(again.is_empty(), "{again:?}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sriovdp"))
        .arg(format!(
            "--config-file={}",
            dir.path().join("missing.json").display()
        ))
        .arg("--log-format=json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert_eq!(lines[0]["level"], "ERROR");
    assert_eq!(lines[0]["fields"]["message"], "sriovdp stopped");
    assert!(
        lines[0]["fields"]["error"]
            .as_str()
            .unwrap()
            .starts_with("reading the configuration file"),
        "{stderr}"
    );
}
