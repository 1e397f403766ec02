//! Fakes for tests: [`FakeSysfs`] builds a temp-dir host root shaped like a real kernel's,
//! so the real sysfs code can be tested against it; [`FakeHost`] is an in-memory kernel
//! model with call recording and failure injection.

mod host;
mod sysfs;

pub use host::FakeHost;

pub use sysfs::{FakeSysfs, Nic, PfBuilder, StaticLinks, presets};
