//! Fakes for tests: [`FakeSysfs`] builds a temp-dir host root shaped like a real kernel's,
//! so the real sysfs code can be tested against it; [`FakeHost`] is an in-memory kernel
//! model with call recording and failure injection.

mod host;
mod sysfs;

pub use host::FakeHost;

pub use sysfs::{FakeSysfs, Nic, PfBuilder, StaticLinks, presets};

use sriov_core::ids::PciAddress;

/// Where both fakes put VF `index` of `pf`: PF function `f` puts its VFs on bus
/// `pf.bus + 1 + f`, eight functions per device slot.
fn vf_address(pf: &PciAddress, index: u16) -> Option<PciAddress> {
    let bus = pf.bus().checked_add(1)?.checked_add(pf.function())?;
    let slot = u8::try_from(index / 8).ok()?;
    PciAddress::new(pf.domain(), bus, slot, (index % 8) as u8)
}

/// Environment variable that turns a missing privilege into a test failure (CI sets it).
pub const REQUIRE_PRIVILEGED_ENV: &str = "SRIOV_REQUIRE_PRIVILEGED";

/// For tests that need root (network namespaces, veth pairs): `true` when running as root;
/// otherwise prints a loud skip and returns `false`, or panics when
/// `SRIOV_REQUIRE_PRIVILEGED=1`.
pub fn privileged(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var_os(REQUIRE_PRIVILEGED_ENV).is_none_or(|v| v != "1"),
        "{test} needs root ({REQUIRE_PRIVILEGED_ENV}=1 is set)"
    );
    eprintln!("\n*** SKIPPED {test}: needs root to create network namespaces ***\n");
    false
}
