//! Fakes for tests: [`FakeSysfs`] builds a temp-dir host root shaped like a real kernel's,
//! so the real sysfs code can be tested against it.

mod sysfs;

pub use sysfs::{FakeSysfs, Nic, PfBuilder, StaticLinks, presets};
