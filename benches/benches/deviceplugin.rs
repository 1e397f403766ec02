//! The device plugin's discovery and pool build for a dense host: 8 PFs x 128 VFs (1,024
//! VFs) from a FakeSysfs tree, the pools split by PF and driver. Target: under 50 ms (the
//! plugin repeats it every rescan).
// Test and benchmark set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used)]

use sriov_deviceplugin::config::Config;
use sriov_deviceplugin::{device, resource_pool};
use sriov_hw::fake::{FakeSysfs, presets};

fn main() {
    divan::main();
}

fn host() -> FakeSysfs {
    let fake = FakeSysfs::new().expect("temp dir");
    for i in 0..8 {
        let nic = if i % 2 == 0 {
            presets::INTEL_E810_CQDA2
        } else {
            presets::MLX_CX6_DX
        };
        let pf = fake
            .pf(&format!("0000:{:02x}:00.0", 0x10 + 4 * i), nic)
            .total_vfs(128)
            .num_vfs(128);
        let pf = if i % 4 == 3 {
            pf.vf_driver("vfio-pci")
        } else {
            pf
        };
        pf.build().expect("fake PF");
    }
    fake
}

const CONFIG: &str = r#"{"resourceList":[
  {"resourceName":"intel_dpdk","selectors":{"vendors":["8086"],"drivers":["vfio-pci"]}},
  {"resourceName":"intel_net","selectors":[{"vendors":["8086"],"drivers":["iavf"],"pfNames":["ens16f0#0-63"]},{"vendors":["8086"],"drivers":["iavf"]}]},
  {"resourceName":"mlx_net","resourcePrefix":"nvidia.com","selectors":{"vendors":["15b3"]}}
]}"#;

#[divan::bench(sample_count = 20)]
fn discover_and_build_pools_1024_vfs(bencher: divan::Bencher<'_, '_>) {
    let fake = host();
    let root = fake.root();
    let config = Config::parse(CONFIG, "intel.com").expect("config");
    bencher.bench(|| {
        let inventory = device::discover(&root).expect("discovers");
        let pools = resource_pool::assign(&config, &inventory);
        assert_eq!(pools.iter().map(|p| p.members.len()).sum::<usize>(), 1024);
        pools
    });
}

#[divan::bench(sample_count = 20)]
fn rescan_without_changes_1024_vfs(bencher: divan::Bencher<'_, '_>) {
    let fake = host();
    let root = fake.root();
    let config = Config::parse(CONFIG, "intel.com").expect("config");
    let inventory = device::discover(&root).expect("discovers");
    let pools = resource_pool::assign(&config, &inventory);
    bencher.bench(|| {
        let inventory = device::discover(&root).expect("discovers");
        resource_pool::evolve(
            &pools,
            resource_pool::assign(&config, &inventory),
            &inventory,
        )
    });
}

/// The plugin's own work in one `Allocate` of 2 vfio VFs from a pool of 512: envs, device
/// specs and the device-info files (on tmpfs, as `/var/run` is), without the gRPC transport.
#[divan::bench(sample_count = 200)]
fn allocate_two_vfio_vfs(bencher: divan::Bencher<'_, '_>) {
    use sriov_deviceplugin::allocate;
    let fake = host();
    let config = Config::parse(CONFIG, "intel.com").expect("config");
    let inventory = device::discover(&fake.root()).expect("discovers");
    let pools = resource_pool::assign(&config, &inventory);
    let dpdk = &pools[2];
    assert_eq!(dpdk.members.len(), 512);
    let ids: Vec<String> = dpdk
        .members
        .values()
        .filter(|m| m.device.is_vfio())
        .take(2)
        .map(|m| m.device.id.clone())
        .collect();
    assert_eq!(ids.len(), 2);
    let dir = tempfile::Builder::new()
        .tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("temp dir");
    bencher.bench(|| {
        let a = allocate::allocate(dpdk, &ids, false, false).expect("allocates");
        allocate::write_device_info(dir.path(), dpdk, &ids).expect("writes");
        a
    });
}
