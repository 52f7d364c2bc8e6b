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

/// The calendar day `days` from today (UTC) as `YYYY-MM-DD`, for tests that
/// book appointments: the server takes only times within two years of its
/// today, so fixed dates would start failing one day.
pub fn day_from_today(days: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs() as i64;
    civil_date(now.div_euclid(86_400) + days)
}

/// Days since 1970-01-01 as a proleptic Gregorian `YYYY-MM-DD`.
fn civil_date(days_since_epoch: i64) -> String {
    let z = days_since_epoch + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod civil_date_tests {
    #[test]
    fn days_since_1970_read_as_calendar_dates_across_leap_days_and_centuries() {
        for (days, date) in [
            (0, "1970-01-01"),
            (11_016, "2000-02-29"),
            (19_782, "2024-02-29"),
            (20_818, "2026-12-31"),
            (47_541, "2100-03-01"),
        ] {
            assert_eq!(super::civil_date(days), date);
        }
    }
}
