//! The device plugin's discovery and pool build for a dense host: 8 PFs x 128 VFs (1,024
//! VFs) from a FakeSysfs tree, the pools split by PF and driver. Target: under 50 ms (the
//! plugin repeats it every rescan).

use sriov_deviceplugin::config::Config;
use sriov_deviceplugin::{device, pool};
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
        let pools = pool::assign(&config, &inventory);
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
    let pools = pool::assign(&config, &inventory);
    bencher.bench(|| {
        let inventory = device::discover(&root).expect("discovers");
        pool::evolve(&pools, pool::assign(&config, &inventory), &inventory)
    });
}
