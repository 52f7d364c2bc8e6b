//! Passwords, sign-in challenges and session tokens.
//!
//! Passwords are hashed with Argon2id and stored as PHC strings, so each
//! hash carries its own parameters and salt and old hashes still verify
//! after the defaults change. An unknown username is checked against a
//! fixed dummy hash, so it costs the same time as a wrong password and the
//! two answers cannot be told apart.
//!
//! Challenges link the password step to the code step. They live in memory
//! only (a restart means signing in again), are bound to one account and
//! device, expire after five minutes, and are removed when used or after
//! [`MAX_CODE_ATTEMPTS`] wrong codes.
//!
//! Session tokens are 32 random bytes; the database keeps only their
//! SHA-256, so a copy of the database does not hold usable tokens.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::ServerError;
use crate::totp::TotpSecret;

/// How long a sign-in challenge is good for.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(5 * 60);
/// Wrong codes allowed against one challenge before it is withdrawn.
pub const MAX_CODE_ATTEMPTS: u32 = 3;
/// Shortest password `user add` accepts.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Hashes a password with Argon2id (the crate's defaults: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, ServerError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServerError::Password {
            reason: format!("cannot hash the password: {e}"),
        })
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password("no account has this password, it only costs time").expect("hashing works")
    })
}

/// Checks `password` against `stored`, or against a dummy hash when there
/// is no account, so both cases take about as long.
pub fn verify_password(stored: Option<&str>, password: &str) -> bool {
    let hash = stored.unwrap_or_else(|| dummy_hash());
    let ok = PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false);
    ok && stored.is_some()
}

/// Warms the dummy hash so the first unknown-user attempt is not faster.
pub fn warm_up() {
    let _ = dummy_hash();
}

/// A random URL-safe token of 32 bytes.
pub fn random_token() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut());
    Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref()))
}

/// What the database stores for a session token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// What the second step must prove.
#[derive(Clone)]
pub enum Pending {
    /// A code from the enrolled authenticator.
    Totp,
    /// A code from a new authenticator set up with this secret.
    Enrol(TotpSecret),
}

/// A challenge issued by the password step.
#[derive(Clone)]
pub struct Challenge {
    /// Whose password was right.
    pub account_id: Uuid,
    /// From which device.
    pub device_id: Uuid,
    /// The label the device gave itself, recorded once the second step
    /// passes (never on the password alone).
    pub device_name: String,
    /// What comes next.
    pub pending: Pending,
    /// The account's `auth_epoch` when the password step passed; a
    /// credential change since voids the challenge.
    pub auth_epoch: i64,
    issued: Instant,
    failures: u32,
}

/// Outstanding challenges, keyed by the SHA-256 of the challenge string.
#[derive(Default)]
pub struct Challenges {
    map: Mutex<HashMap<Vec<u8>, Challenge>>,
}

/// Why a challenge could not be used.
#[derive(Debug, PartialEq, Eq)]
pub enum ChallengeError {
    /// Unknown, expired, or used up.
    Expired,
    /// It is for the other second step (code vs enrolment).
    WrongStep,
}

impl Challenges {
    /// Issues a challenge; returns the string to send to the device.
    pub fn issue(
        &self,
        account_id: Uuid,
        auth_epoch: i64,
        device_id: Uuid,
        device_name: &str,
        pending: Pending,
    ) -> Zeroizing<String> {
        let challenge = random_token();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, c| c.issued.elapsed() < CHALLENGE_TTL);
        map.insert(
            token_hash(&challenge),
            Challenge {
                account_id,
                device_id,
                device_name: device_name.to_string(),
                pending,
                auth_epoch,
                issued: Instant::now(),
                failures: 0,
            },
        );
        challenge
    }

    /// Looks up a live challenge for the given step without using it up.
    pub fn peek(&self, challenge: &str, enrolment: bool) -> Result<Challenge, ChallengeError> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let key = token_hash(challenge);
        let Some(c) = map.get(&key) else {
            return Err(ChallengeError::Expired);
        };
        if c.issued.elapsed() >= CHALLENGE_TTL {
            map.remove(&key);
            return Err(ChallengeError::Expired);
        }
        if matches!(c.pending, Pending::Enrol(_)) != enrolment {
            return Err(ChallengeError::WrongStep);
        }
        Ok(c.clone())
    }

    /// Uses a challenge up (after success).
    pub fn consume(&self, challenge: &str) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&token_hash(challenge));
    }

    /// Counts a wrong code; withdraws the challenge after too many.
    pub fn fail(&self, challenge: &str) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let key = token_hash(challenge);
        if let Some(c) = map.get_mut(&key) {
            c.failures += 1;
            if c.failures >= MAX_CODE_ATTEMPTS {
                map.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_is_argon2id_phc_with_parameters() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m="), "{hash}");
        assert!(verify_password(Some(&hash), "correct horse battery"));
        assert!(!verify_password(Some(&hash), "wrong horse battery"));
    }

    #[test]
    fn unknown_account_never_verifies_even_with_the_dummy_password() {
        assert!(!verify_password(
            None,
            "no account has this password, it only costs time"
        ));
    }

    #[test]
    fn a_challenge_is_withdrawn_after_too_many_wrong_codes() {
        let challenges = Challenges::default();
        let c = challenges.issue(Uuid::new_v4(), 0, Uuid::new_v4(), "laptop", Pending::Totp);
        for _ in 0..MAX_CODE_ATTEMPTS {
            assert!(challenges.peek(&c, false).is_ok());
            challenges.fail(&c);
        }
        assert_eq!(
            challenges.peek(&c, false).err(),
            Some(ChallengeError::Expired)
        );
    }

    #[test]
    fn a_used_challenge_cannot_be_used_again() {
        let challenges = Challenges::default();
        let c = challenges.issue(Uuid::new_v4(), 0, Uuid::new_v4(), "laptop", Pending::Totp);
        challenges.consume(&c);
        assert_eq!(
            challenges.peek(&c, false).err(),
            Some(ChallengeError::Expired)
        );
    }

    #[test]
    fn an_enrolment_challenge_is_not_accepted_for_the_code_step() {
        let challenges = Challenges::default();
        let c = challenges.issue(
            Uuid::new_v4(),
            0,
            Uuid::new_v4(),
            "laptop",
            Pending::Enrol(TotpSecret::generate()),
        );
        assert_eq!(
            challenges.peek(&c, false).err(),
            Some(ChallengeError::WrongStep)
        );
        assert!(challenges.peek(&c, true).is_ok());
    }
}
