//! The prerequisite checklist over fake hosts.
// Test and benchmark set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used)]

use sriov_core::nic::SupportedNics;
use sriov_hw::SysfsHost;
use sriov_hw::doctor::{self, Check, Outcome};
use sriov_hw::fake::{FakeSysfs, presets};

fn checks(fake: &FakeSysfs) -> Vec<Check> {
    let facts = sriov_hw::observe::KernelFacts::read(&fake.root()).expect("kernel facts");
    doctor::run(
        &fake.root(),
        &facts,
        &SysfsHost::new(fake.root()),
        &SupportedNics::default(),
    )
    .expect("doctor runs")
}

fn verdict(checks: &[Check], name: &str) -> Outcome {
    checks
        .iter()
        .find(|c| c.name.starts_with(name))
        .unwrap_or_else(|| panic!("no check {name}: {checks:?}"))
        .verdict
}

#[test]
fn a_well_prepared_host_passes() {
    let fake = FakeSysfs::new().unwrap();
    fake.pf("0000:3b:00.0", presets::INTEL_E810_CQDA2)
        .num_vfs(2)
        .build()
        .unwrap();
    let checks = checks(&fake);
    assert!(doctor::passes(&checks), "{checks:#?}");
    assert_eq!(verdict(&checks, "PF 0000:3b:00.0"), Outcome::Pass);
    assert!(
        checks.iter().all(|c| c.verdict == Outcome::Pass),
        "{checks:#?}"
    );
}

#[test]
fn no_iommu_and_firmware_disabled_sriov_fail_with_remedies() {
    let fake = FakeSysfs::new().unwrap();
    fake.cmdline("BOOT_IMAGE=/vmlinuz root=/dev/sda2").unwrap();
    fake.modules(&[]).unwrap();
    fake.pf("0000:3b:00.0", presets::MLX_CX6_DX)
        .without_iommu()
        .total_vfs(0)
        .build()
        .unwrap();
    let checks = checks(&fake);
    assert!(!doctor::passes(&checks));
    assert_eq!(verdict(&checks, "IOMMU active"), Outcome::Fail);
    assert_eq!(verdict(&checks, "iommu=pt"), Outcome::Warn);
    assert_eq!(verdict(&checks, "vfio-pci available"), Outcome::Warn);
    let pf = checks
        .iter()
        .find(|c| c.name.starts_with("PF 0000:3b:00.0"))
        .unwrap();
    assert_eq!(pf.verdict, Outcome::Fail);
    assert!(pf.detail.contains("SR-IOV is disabled in firmware"));
    assert!(pf.remedy.contains("SRIOV_EN=1"));
}

#[test]
fn vfs_without_a_driver_and_unsupported_nics_are_flagged() {
    let fake = FakeSysfs::new().unwrap();
    fake.pf("0000:3b:00.0", presets::INTEL_X710)
        .num_vfs(2)
        .build()
        .unwrap();
    std::fs::remove_file(fake.root().pci_device("0000:3c:00.1").join("driver")).unwrap();
    let x540 = sriov_hw::fake::Nic {
        pf_device: "1528",
        ..presets::INTEL_X710
    };
    fake.pf("0000:5e:00.0", x540).build().unwrap();
    let checks = checks(&fake);
    let vfs = checks
        .iter()
        .find(|c| c.name == "VFs of 0000:3b:00.0")
        .unwrap();
    assert_eq!(
        (vfs.verdict, vfs.detail.as_str()),
        (Outcome::Fail, "1 VF(s) have no driver: 0000:3c:00.1")
    );
    assert_eq!(verdict(&checks, "PF 0000:5e:00.0"), Outcome::Warn);
}

#[test]
fn a_host_without_sriov_nics_fails() {
    let fake = FakeSysfs::new().unwrap();
    assert_eq!(
        verdict(&checks(&fake), "SR-IOV capable NICs"),
        Outcome::Fail
    );
}

#[test]
fn a_root_without_a_kernel_command_line_is_an_error_naming_it() {
    let fake = FakeSysfs::e810(0).expect("a host root");
    std::fs::remove_file(fake.root().join("proc/cmdline")).expect("removes it");
    let facts = sriov_hw::observe::KernelFacts::read(&fake.root()).expect("kernel facts");
    assert_eq!(facts.cmdline, None);
    let err = doctor::run(
        &fake.root(),
        &facts,
        &SysfsHost::new(fake.root()),
        &SupportedNics::default(),
    )
    .expect_err("no command line");
    assert_eq!(
        err.to_string(),
        format!(
            "read {}: No such file or directory (os error 2)",
            fake.root().join("proc/cmdline").display()
        )
    );
}
