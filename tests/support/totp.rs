//! TOTP codes from `oathtool`, an implementation independent of ours.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The RFC 6238 time step.
pub const STEP_SECS: u64 = 30;

/// The current 30-second step number.
pub fn current_step() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / STEP_SECS
}

/// The current code for a base32 secret, from `oathtool --totp -b`.
pub fn oathtool_code(secret_base32: &str) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "-b", secret_base32])
        .output()
        .expect("oathtool is installed (scripts/bootstrap.sh installs it)");
    assert!(
        out.status.success(),
        "oathtool failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let code = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(code.len(), 6, "oathtool printed a 6-digit code");
    code
}

/// The code for time step `step`, from `oathtool --totp -b --now`. The
/// server accepts the current and the previous step, so a test can sign in
/// twice at once with the codes of both, without waiting.
pub fn oathtool_code_at_step(secret_base32: &str, step: u64) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "-b", "--now"])
        .arg(format!("@{}", step * STEP_SECS))
        .arg(secret_base32)
        .output()
        .expect("oathtool is installed (scripts/bootstrap.sh installs it)");
    assert!(
        out.status.success(),
        "oathtool failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

impl CodeSource {
    /// Marks `step` as used, so [`CodeSource::fresh_code`] waits for a later one.
    pub fn mark_used(&mut self, step: u64) {
        self.last_step = Some(self.last_step.map_or(step, |s| s.max(step)));
    }
}

/// Tracks the last step used for one account, because the server accepts
/// each step only once per account: a second sign-in waits for a new step.
#[derive(Default)]
pub struct CodeSource {
    last_step: Option<u64>,
}

impl CodeSource {
    /// A code from a step not used before by this source, waiting (up to one
    /// step) when the current step was already used.
    pub fn fresh_code(&mut self, secret_base32: &str) -> String {
        while Some(current_step()) <= self.last_step {
            std::thread::sleep(Duration::from_millis(250));
        }
        let step = current_step();
        let code = oathtool_code(secret_base32);
        // oathtool may have crossed into the next step meanwhile; both are
        // accepted by the server, and neither may be used again.
        self.last_step = Some(current_step().max(step));
        code
    }
}

/// Pulls the base32 secret out of `bench-server user add --with-totp` output
/// (an `otpauth://` URI or the bare secret).
pub fn secret_from_output(stdout: &str) -> String {
    if let Some(start) = stdout.find("secret=") {
        let rest = &stdout[start + "secret=".len()..];
        let end = rest
            .find(|c: char| c == '&' || c.is_whitespace())
            .unwrap_or(rest.len());
        return rest[..end].to_string();
    }
    stdout
        .split_whitespace()
        .rev()
        .find(|t| {
            t.len() >= 16
                && t.chars()
                    .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
        })
        .unwrap_or_else(|| panic!("no TOTP secret in `user add --with-totp` output"))
        .to_string()
}
