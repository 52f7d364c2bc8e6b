//! Sealing secrets the server must keep but never show: AES-256-GCM
//! (NIST SP 800-38D) under a key kept in its own file in the data
//! directory, readable by the server's user only.
//!
//! Each sealed value is bound to where it lives (table, column, row id and
//! key version) through the associated data, so a sealed TOTP secret copied
//! into another account's row does not open.
//!
//! Stored layout: `version (1 byte) || nonce (12 bytes) || ciphertext+tag`.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::error::ServerError;
use crate::files;

/// The key version written by this build. Bumped when keys rotate.
const KEY_VERSION: u8 = 1;

/// The data-directory key that seals secrets at rest.
pub struct SealingKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

/// Where a sealed value lives; becomes the associated data.
#[derive(Clone, Copy, Debug)]
pub struct SealedAt<'a> {
    /// Table name.
    pub table: &'static str,
    /// Column name.
    pub column: &'static str,
    /// Row id.
    pub row: &'a str,
}

impl SealedAt<'_> {
    fn associated_data(&self, version: u8) -> Vec<u8> {
        format!("{}\0{}\0{}\0v{version}", self.table, self.column, self.row).into_bytes()
    }
}

impl SealingKey {
    /// Creates a new random key file (0600). Fails if one exists.
    pub fn create(path: &Path) -> Result<SealingKey, ServerError> {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        files::write_private(path, key.as_ref())?;
        Ok(SealingKey::from_bytes(&key))
    }

    /// Loads the key file.
    pub fn load(path: &Path) -> Result<SealingKey, ServerError> {
        let key = files::read_key32(path)?;
        Ok(SealingKey::from_bytes(&key))
    }

    fn from_bytes(key: &[u8; 32]) -> SealingKey {
        SealingKey {
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    /// Seals `plaintext` for the given place. A fresh random nonce each time:
    /// at 96 bits and a few thousand secrets, collisions are not a concern.
    pub fn seal(&self, plaintext: &[u8], at: SealedAt<'_>) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = at.associated_data(KEY_VERSION);
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .expect("AES-GCM encryption cannot fail for in-memory inputs");
        let mut out = Vec::with_capacity(1 + 12 + ciphertext.len());
        out.push(KEY_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Opens a value sealed for the same place, or `None` if it was sealed
    /// elsewhere, with another key, or altered.
    pub fn open(&self, sealed: &[u8], at: SealedAt<'_>) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < 1 + 12 + 16 || sealed[0] != KEY_VERSION {
            return None;
        }
        let (nonce, ciphertext) = sealed[1..].split_at(12);
        let aad = at.associated_data(sealed[0]);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .ok()
            .map(Zeroizing::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SealingKey {
        SealingKey::from_bytes(&[7u8; 32])
    }

    fn at(row: &str) -> SealedAt<'_> {
        SealedAt {
            table: "accounts",
            column: "totp_secret",
            row,
        }
    }

    #[test]
    fn sealed_value_opens_in_its_own_place() {
        let sealed = key().seal(b"secret", at("a"));
        assert_eq!(key().open(&sealed, at("a")).unwrap().as_slice(), b"secret");
    }

    #[test]
    fn sealed_value_moved_to_another_row_does_not_open() {
        let sealed = key().seal(b"secret", at("a"));
        assert!(key().open(&sealed, at("b")).is_none());
    }

    #[test]
    fn altered_ciphertext_does_not_open() {
        let mut sealed = key().seal(b"secret", at("a"));
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(key().open(&sealed, at("a")).is_none());
    }

    #[test]
    fn another_key_does_not_open() {
        let sealed = key().seal(b"secret", at("a"));
        assert!(SealingKey::from_bytes(&[8u8; 32])
            .open(&sealed, at("a"))
            .is_none());
    }
}
