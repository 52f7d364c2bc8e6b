//! Field-level encryption: every clinical field in the vault is sealed with
//! AES-256-GCM (NIST SP 800-38D) under the field key, on top of SQLCipher's
//! whole-file encryption under a separate database key.
//!
//! A sealed field is stored as bytes:
//!
//! ```text
//!   format (1 byte) ‖ key version (4 bytes, big endian) ‖ nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)
//! ```
//!
//! Each seal draws a fresh random 96-bit nonce from the OS. With random
//! nonces SP 800-38D allows 2^32 seals per key; a practitioner's vault stays
//! far below that.
//!
//! Not here: where keys come from ([`crate::keys`]) or where sealed bytes are
//! stored ([`crate::vault`]).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::rngs::OsRng;
use rand::RngCore;
use uuid::Uuid;
use zeroize::{Zeroize, Zeroizing};

use crate::CoreError;

/// The only sealed-field format so far.
const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;

/// A 256-bit data key for sealing fields. Zeroized on drop; `Debug` shows
/// only the version.
pub struct FieldKey {
    bytes: Zeroizing<[u8; 32]>,
    version: u32,
}

impl FieldKey {
    /// Wraps raw key bytes, taking ownership so no copy is left behind.
    pub fn from_bytes(mut bytes: [u8; 32], version: u32) -> FieldKey {
        let key = FieldKey {
            bytes: Zeroizing::new(bytes),
            version,
        };
        bytes.zeroize();
        key
    }

    /// A fresh random key from the OS.
    pub fn generate(version: u32) -> FieldKey {
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(bytes.as_mut());
        FieldKey { bytes, version }
    }

    /// Which key this is; stored with every sealed field.
    pub fn version(&self) -> u32 {
        self.version
    }

    pub(crate) fn expose(&self) -> &[u8; 32] {
        &self.bytes
    }
}

impl std::fmt::Debug for FieldKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldKey")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Where a sealed value lives: the associated data of its seal.
///
/// Why bind the place: without it, anyone who can write to the vault file
/// (with the database key, or a bug in our own code) could copy a valid
/// sealed note body into another note's row, or a client's name into a note,
/// and it would decrypt without complaint. Binding table, column and row id
/// makes a moved ciphertext fail to open; binding the key version stops a
/// field being replayed as if it were sealed under another key generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldPlace<'a> {
    /// The table, e.g. `notes`.
    pub table: &'a str,
    /// The column, e.g. `body`.
    pub column: &'a str,
    /// The row's record id.
    pub row_id: Uuid,
}

impl<'a> FieldPlace<'a> {
    /// The place `table.column` of row `row_id`.
    pub fn new(table: &'a str, column: &'a str, row_id: Uuid) -> Self {
        FieldPlace {
            table,
            column,
            row_id,
        }
    }

    /// Length-prefixed, so no two different places encode alike
    /// (`("ab", "c")` and `("a", "bc")` differ).
    fn associated_data(&self, key_version: u32) -> Vec<u8> {
        let mut aad = Vec::with_capacity(64);
        push_prefixed(&mut aad, b"doctors-bench/sealed-field");
        aad.push(FORMAT_V1);
        push_prefixed(&mut aad, self.table.as_bytes());
        push_prefixed(&mut aad, self.column.as_bytes());
        aad.extend_from_slice(self.row_id.as_bytes());
        aad.extend_from_slice(&key_version.to_be_bytes());
        aad
    }
}

fn push_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// A sealed field value, as stored. Opaque bytes; `Debug` shows its length.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedField(Vec<u8>);

impl SealedField {
    /// Wraps bytes read from storage, checking only their shape.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<SealedField, CoreError> {
        if bytes.len() < HEADER_LEN + TAG_LEN || bytes[0] != FORMAT_V1 {
            return Err(unreadable());
        }
        Ok(SealedField(bytes))
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes to store, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The version of the key it was sealed under.
    pub fn key_version(&self) -> u32 {
        u32::from_be_bytes([self.0[1], self.0[2], self.0[3], self.0[4]])
    }
}

impl std::fmt::Debug for SealedField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedField({} bytes)", self.0.len())
    }
}

fn unreadable() -> CoreError {
    CoreError::Tampered(
        "A stored field failed its integrity check and was not shown. The vault file may be \
         damaged or altered; contact your clinic IT before editing this record."
            .into(),
    )
}

/// Seals `plaintext` for `place` under `key`.
pub fn seal(key: &FieldKey, place: FieldPlace<'_>, plaintext: &[u8]) -> SealedField {
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let aad = place.associated_data(key.version);
    let cipher = Aes256Gcm::new(key.expose().into());
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        // Encryption fails only for inputs beyond 64 GiB, far above any field.
        .expect("AES-GCM encryption of a field cannot fail below 64 GiB");

    let mut out = Vec::with_capacity(HEADER_LEN + ciphertext.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&key.version.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    SealedField(out)
}

/// Seals a UTF-8 string.
pub fn seal_str(key: &FieldKey, place: FieldPlace<'_>, text: &str) -> SealedField {
    seal(key, place, text.as_bytes())
}

/// Opens a sealed field, checking that it was sealed for `place` under this
/// key. Any change to the bytes, the place or the key fails.
pub fn open(
    key: &FieldKey,
    place: FieldPlace<'_>,
    sealed: &SealedField,
) -> Result<Zeroizing<Vec<u8>>, CoreError> {
    let bytes = sealed.as_bytes();
    if bytes.len() < HEADER_LEN + TAG_LEN || bytes[0] != FORMAT_V1 {
        return Err(unreadable());
    }
    let key_version = sealed.key_version();
    if key_version != key.version {
        return Err(unreadable());
    }
    let nonce = Nonce::from_slice(&bytes[5..HEADER_LEN]);
    let aad = place.associated_data(key_version);
    let cipher = Aes256Gcm::new(key.expose().into());
    cipher
        .decrypt(
            nonce,
            Payload {
                msg: &bytes[HEADER_LEN..],
                aad: &aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| unreadable())
}

/// Opens a sealed UTF-8 string.
pub fn open_string(
    key: &FieldKey,
    place: FieldPlace<'_>,
    sealed: &SealedField,
) -> Result<String, CoreError> {
    let bytes = open(key, place, sealed)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| unreadable())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Client described improved sleep this week.";

    fn key() -> FieldKey {
        FieldKey::from_bytes([7u8; 32], 1)
    }

    fn row() -> Uuid {
        Uuid::from_u128(0x1234)
    }

    fn body_place(row_id: Uuid) -> FieldPlace<'static> {
        FieldPlace::new("notes", "body", row_id)
    }

    fn sealed() -> SealedField {
        seal_str(&key(), body_place(row()), TEXT)
    }

    #[test]
    fn sealed_text_opens_again_at_the_same_place() {
        let opened = open_string(&key(), body_place(row()), &sealed()).unwrap();
        assert_eq!(opened, TEXT);
    }

    #[test]
    fn sealing_twice_gives_different_bytes_because_the_nonce_is_fresh() {
        assert_ne!(sealed(), sealed());
    }

    #[test]
    fn sealed_bytes_do_not_contain_the_text() {
        let s = sealed();
        assert!(!s.as_bytes().windows(6).any(|w| w == b"Client"));
    }

    #[test]
    fn cannot_open_under_other_row_id() {
        let other = body_place(Uuid::from_u128(0x5678));
        assert!(matches!(
            open(&key(), other, &sealed()),
            Err(CoreError::Tampered(_))
        ));
    }

    #[test]
    fn cannot_open_under_other_column() {
        let other = FieldPlace::new("notes", "session_date", row());
        assert!(open(&key(), other, &sealed()).is_err());
    }

    #[test]
    fn cannot_open_under_other_table() {
        let other = FieldPlace::new("clients", "body", row());
        assert!(open(&key(), other, &sealed()).is_err());
    }

    #[test]
    fn cannot_open_when_table_and_column_boundary_moves() {
        let s = seal_str(&key(), FieldPlace::new("ab", "c", row()), TEXT);
        assert!(open(&key(), FieldPlace::new("a", "bc", row()), &s).is_err());
    }

    #[test]
    fn cannot_open_under_other_key_version() {
        let same_bytes_next_version = FieldKey::from_bytes([7u8; 32], 2);
        assert!(open(&same_bytes_next_version, body_place(row()), &sealed()).is_err());
    }

    #[test]
    fn cannot_open_when_stored_key_version_is_rewritten() {
        let mut bytes = sealed().into_bytes();
        bytes[4] = 2;
        let rewritten = SealedField::from_bytes(bytes).unwrap();
        let key_v2 = FieldKey::from_bytes([7u8; 32], 2);
        assert!(open(&key_v2, body_place(row()), &rewritten).is_err());
    }

    #[test]
    fn cannot_open_with_one_flipped_ciphertext_byte() {
        let mut bytes = sealed().into_bytes();
        bytes[HEADER_LEN + 3] ^= 0x01;
        let s = SealedField::from_bytes(bytes).unwrap();
        assert!(open(&key(), body_place(row()), &s).is_err());
    }

    #[test]
    fn cannot_open_with_one_flipped_tag_byte() {
        let mut bytes = sealed().into_bytes();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x80;
        let s = SealedField::from_bytes(bytes).unwrap();
        assert!(open(&key(), body_place(row()), &s).is_err());
    }

    #[test]
    fn cannot_open_with_flipped_nonce() {
        let mut bytes = sealed().into_bytes();
        bytes[5] ^= 0x01;
        let s = SealedField::from_bytes(bytes).unwrap();
        assert!(open(&key(), body_place(row()), &s).is_err());
    }

    #[test]
    fn cannot_open_when_truncated() {
        let mut bytes = sealed().into_bytes();
        bytes.truncate(bytes.len() - 1);
        let s = SealedField::from_bytes(bytes).unwrap();
        assert!(open(&key(), body_place(row()), &s).is_err());

        let stub = sealed().as_bytes()[..HEADER_LEN + 4].to_vec();
        assert!(SealedField::from_bytes(stub).is_err());
    }

    #[test]
    fn cannot_open_with_wrong_key() {
        let wrong = FieldKey::from_bytes([8u8; 32], 1);
        assert!(open(&wrong, body_place(row()), &sealed()).is_err());
    }

    #[test]
    fn debug_output_shows_neither_key_bytes_nor_sealed_bytes() {
        let shown = format!("{:?} {:?}", key(), sealed());
        assert!(
            !shown.contains("7, 7") && !shown.contains("0707"),
            "{shown}"
        );
        assert!(shown.contains("bytes"));
    }
}
