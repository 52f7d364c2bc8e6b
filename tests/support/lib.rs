//! Shared pieces of the end-to-end tests: the real `bench-server` process on
//! loopback, TOTP codes from the independent `oathtool`, an API client pinned
//! to the test CA, and a `tauri-driver` for the desktop app.
//!
//! Every test makes its own temporary folders and its own server on an
//! ephemeral loopback port; nothing here talks to any other address.

#![forbid(unsafe_code)]

pub mod api;
pub mod driver;
pub mod faultproxy;
pub mod keyring;
pub mod logs;
pub mod server;
pub mod shapedlink;
pub mod totp;
pub mod webdriver;

use std::path::PathBuf;

/// A binary built into the same target directory as the running test.
///
/// `scripts/test.sh` builds every binary before it runs the tests; running a
/// single test by hand needs `cargo build --workspace --bins` first.
pub fn built_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its own path");
    // target/debug/deps/<test> -> target/debug/<name>; a binary of this
    // package (the sync bench) lives in target/debug/ itself.
    let mut dir = exe
        .parent()
        .expect("test binaries live in <target>/<profile>/deps");
    if dir.ends_with("deps") {
        dir = dir.parent().expect("deps lives in <target>/<profile>");
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run `cargo build --workspace --bins` (scripts/test.sh does)",
        path.display()
    );
    path
}

/// Polls `check` until it returns `Some`, or panics after `timeout` naming
/// `what` was awaited. Polling, not sleeping: CI machines are slow and busy.
pub fn wait_for<T>(
    what: &str,
    timeout: std::time::Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
