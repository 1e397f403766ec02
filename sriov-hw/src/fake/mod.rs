//! Fakes for tests: [`FakeSysfs`] builds a temp-dir host root shaped like a real kernel's,
//! so the real sysfs code can be tested against it; [`FakeHost`] is an in-memory kernel
//! model with call recording and failure injection; [`NetLab`] adds real network
//! namespaces and veths (root) around a `FakeSysfs` tree.

mod host;
mod lab;
mod sysfs;

pub use host::{Call, FakeHost};
pub use lab::NetLab;

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
    loud_skip(&format!("{test}: needs root to create network namespaces"));
    false
}

/// For tests that run programs from a distribution package (Debian's
/// `containernetworking-plugins`, `util-linux`'s `nsenter`): `true` when every one of
/// `programs` exists (an absolute path, or a name looked up on `PATH`); otherwise prints a
/// loud skip naming the missing programs and `package`, and returns `false`, or panics when
/// `SRIOV_REQUIRE_PRIVILEGED=1` (CI installs the package, so a missing one is a broken CI
/// script, not a reason to skip).
pub fn installed(test: &str, package: &str, programs: &[&str]) -> bool {
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|program| !program_exists(program))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let missing = missing.join(", ");
    assert!(
        std::env::var_os(REQUIRE_PRIVILEGED_ENV).is_none_or(|v| v != "1"),
        "{test} needs {missing} from the {package} package ({REQUIRE_PRIVILEGED_ENV}=1 is set)"
    );
    loud_skip(&format!(
        "{test}: needs {missing} (install the {package} package)"
    ));
    false
}

/// Writes a skip notice straight to the process's standard error: the test harness
/// captures `eprintln!` of passing tests, and a skip must be seen.
fn loud_skip(what: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "\n*** SKIPPED {what} ***\n");
}

/// Whether `program` is an existing file: as given when it contains a `/`, otherwise in
/// one of `PATH`'s directories.
fn program_exists(program: &str) -> bool {
    if program.contains('/') {
        return std::path::Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}
