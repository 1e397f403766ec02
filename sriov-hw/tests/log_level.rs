//! The logger's level changed while the program runs ([`sriov_hw::process::LogLevel`]):
//! its own process, since a logger is installed once per process.
#![cfg(feature = "process")]
// Test set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use sriov_hw::process::{LogFormat, LogLevel, init_logging};

#[test]
fn the_level_changes_once_per_new_directive_and_a_bad_one_is_refused() {
    let level = init_logging("warn", LogFormat::Text, None);
    if std::env::var_os("RUST_LOG").is_some() {
        // RUST_LOG pins the level: the handle changes nothing.
        assert_eq!(level.current(), None);
        assert_eq!(level.set("debug"), Ok(false));
        return;
    }
    assert_eq!(level.current().as_deref(), Some("warn"));
    assert!(!tracing::enabled!(tracing::Level::INFO));
    assert_eq!(level.set("info"), Ok(true));
    assert!(tracing::enabled!(tracing::Level::INFO));
    assert!(!tracing::enabled!(tracing::Level::DEBUG));
    assert_eq!(level.set("info"), Ok(false), "already in force");
    let bad = level.set("sriov=loud").unwrap_err();
    assert!(bad.contains("sriov=loud"), "{bad}");
    assert_eq!(
        level.current().as_deref(),
        Some("info"),
        "a bad directive changes nothing"
    );
    assert!(tracing::enabled!(tracing::Level::INFO));

    // A second logger is not installed, and its handle changes nothing.
    let second = init_logging("debug", LogFormat::Json, None);
    assert_eq!(second.set("trace"), Ok(false));
    assert!(!tracing::enabled!(tracing::Level::DEBUG));
    assert_ne!(second, level);
    assert_eq!(level.clone(), level);
    assert_eq!(LogLevel::default().set("info"), Ok(false));
}
