//! Discovery of a dense host from a FakeSysfs tree: 8 PFs x 128 VFs (1,032 PCI functions,
//! 1,032 netdevs). Target: under 50 ms.
// Test and benchmark set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used)]

use sriov_core::nic::SupportedNics;
use sriov_hw::SysfsHost;
use sriov_hw::discover::{HostView, Options};
use sriov_hw::fake::{FakeSysfs, presets};

fn main() {
    divan::main();
}

#[divan::bench(args = [1, 8], sample_count = 20)]
fn discover_pfs_with_128_vfs(bencher: divan::Bencher<'_, '_>, pfs: usize) {
    let fake = FakeSysfs::new().expect("temp dir");
    for i in 0..pfs {
        let nic = if i % 2 == 0 {
            presets::INTEL_E810_CQDA2
        } else {
            presets::MLX_CX6_DX
        };
        fake.pf(&format!("0000:{:02x}:00.0", 0x10 + 4 * i), nic)
            .total_vfs(128)
            .num_vfs(128)
            .build()
            .expect("fake PF");
    }
    let host = SysfsHost::new(fake.root());
    let nics = SupportedNics::default();
    bencher.bench(|| {
        let view = HostView {
            pci: &host,
            links: &host,
            netlink: fake.links(),
            store: &sriov_hw::store::RecordFiles::new(fake.root()),
        };
        let found = sriov_hw::discover::discover(
            view,
            Options {
                nics: &nics,
                dev_mode: false,
            },
        )
        .expect("discovers");
        assert_eq!(found.len(), pfs);
        found
    });
}
