//! Time-based one-time passwords, RFC 6238 (TOTP) over RFC 4226 (HOTP).
//!
//! HMAC-SHA1, 30-second steps, six digits: what every authenticator app
//! produces from an `otpauth://totp/` URI without extra parameters. The
//! digit count is a parameter inside this module only so the RFC's own
//! eight-digit test vectors can check the arithmetic.
//!
//! Replay protection is not here: the caller stores the last accepted step
//! per account and refuses any step at or below it (see `store`).

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Seconds per step, RFC 6238 section 4 default.
pub const STEP_SECS: u64 = 30;
/// Digits in the codes we issue and accept.
pub const DIGITS: u32 = 6;
/// Shown in the authenticator app next to the account name.
pub const ISSUER: &str = "Doctor's Bench";

/// A shared TOTP secret (20 random bytes, the HMAC-SHA1 block-size advice of
/// RFC 4226 section 4). Wiped from memory on drop; never printed by `Debug`.
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// A fresh secret from the operating system's random source.
    pub fn generate() -> TotpSecret {
        let mut bytes = Zeroizing::new(vec![0u8; 20]);
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        TotpSecret(bytes)
    }

    /// Wraps raw secret bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> TotpSecret {
        TotpSecret(Zeroizing::new(bytes))
    }

    /// Raw bytes, for sealing before storage.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4648 base32 without padding, as authenticator apps expect it.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(data_encoding::BASE32_NOPAD.encode(&self.0))
    }

    /// The Key Uri Format provisioning URI for `account`.
    pub fn otpauth_uri(&self, account: &str) -> Zeroizing<String> {
        let issuer = percent_encode(ISSUER);
        Zeroizing::new(format!(
            "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            percent_encode(account),
            self.to_base32().as_str(),
        ))
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The step number for a Unix time.
pub fn step_at(unix_secs: u64) -> u64 {
    unix_secs / STEP_SECS
}

/// The code for one step, zero-padded to `digits` (RFC 4226 section 5.3).
fn code_for_step(secret: &[u8], step: u64, digits: u32) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    let value = binary % 10u32.pow(digits);
    format!("{value:0width$}", width = digits as usize)
}

/// The six-digit code for a step.
pub fn code(secret: &TotpSecret, step: u64) -> String {
    code_for_step(secret.as_bytes(), step, DIGITS)
}

/// Which step, if any, `typed` is the code for: the current step or the one
/// before it (one step of clock drift or typing time), never later ones.
///
/// Codes are compared as strings so a leading zero matters, and in constant
/// time so the comparison does not reveal how many digits were right.
pub fn matching_step(secret: &TotpSecret, typed: &str, now_unix: u64) -> Option<u64> {
    let typed = typed.trim();
    let current = step_at(now_unix);
    let mut found = None;
    for step in [current, current.saturating_sub(1)] {
        let expected = code(secret, step);
        let equal: bool = expected.as_bytes().ct_eq(typed.as_bytes()).into();
        if equal && found.is_none() {
            found = Some(step);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// RFC 6238 Appendix B: the SHA-1 seed is ASCII "12345678901234567890".
    const RFC_SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_appendix_b_sha1_vectors_match() {
        let vectors = [
            (59u64, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ];
        for (time, expected) in vectors {
            assert_eq!(
                code_for_step(RFC_SEED, step_at(time), 8),
                expected,
                "T={time}"
            );
        }
    }

    fn oathtool(args: &[&str]) -> Option<String> {
        let out = Command::new("oathtool").args(args).output().ok()?;
        assert!(out.status.success(), "oathtool failed: {:?}", out);
        Some(String::from_utf8(out.stdout).unwrap().trim().to_string())
    }

    #[test]
    fn codes_match_the_real_oathtool_at_fixed_times() {
        let secret = TotpSecret::generate();
        let b32 = secret.to_base32();
        for (now, unix) in [
            ("2026-01-01 00:00:00 UTC", 1767225600u64),
            ("2030-06-15 12:34:56 UTC", 1907757296u64),
        ] {
            let Some(theirs) = oathtool(&["--totp", "-b", "--now", now, &b32]) else {
                panic!("oathtool is not installed: apt-get install oathtool");
            };
            assert_eq!(code(&secret, step_at(unix)), theirs, "at {now}");
        }
    }

    #[test]
    fn current_code_from_oathtool_is_accepted() {
        let secret = TotpSecret::generate();
        let theirs = oathtool(&["--totp", "-b", &secret.to_base32()]).expect("oathtool installed");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        // oathtool ran a moment ago; that may have been the previous step.
        assert!(matching_step(&secret, &theirs, now).is_some());
    }

    #[test]
    fn a_code_with_a_leading_zero_is_accepted_and_without_it_refused() {
        let secret = TotpSecret::from_bytes(RFC_SEED.to_vec());
        let step = (0..10_000u64)
            .find(|s| code(&secret, *s).starts_with('0'))
            .expect("about one step in ten starts with 0");
        let with_zero = code(&secret, step);
        let now = step * STEP_SECS + 1;
        assert_eq!(matching_step(&secret, &with_zero, now), Some(step));
        assert_eq!(matching_step(&secret, &with_zero[1..], now), None);
    }

    #[test]
    fn previous_step_is_accepted_but_older_and_future_steps_are_not() {
        let secret = TotpSecret::generate();
        let now = 1_800_000_000u64;
        let current = step_at(now);
        assert_eq!(
            matching_step(&secret, &code(&secret, current - 1), now),
            Some(current - 1)
        );
        let two_back = code(&secret, current - 2);
        let next = code(&secret, current + 1);
        // A different step can collide by chance (1 in a million); only
        // assert when it does not.
        if two_back != code(&secret, current) && two_back != code(&secret, current - 1) {
            assert_eq!(matching_step(&secret, &two_back, now), None);
        }
        if next != code(&secret, current) && next != code(&secret, current - 1) {
            assert_eq!(matching_step(&secret, &next, now), None);
        }
    }

    #[test]
    fn otpauth_uri_carries_issuer_and_secret_but_debug_does_not() {
        let secret = TotpSecret::generate();
        let uri = secret.otpauth_uri("demo");
        assert!(uri.starts_with("otpauth://totp/Doctor%27s%20Bench:demo?secret="));
        assert!(uri.contains(secret.to_base32().as_str()));
        assert!(!format!("{secret:?}").contains(secret.to_base32().as_str()));
    }
}
