//! The key hierarchy of one practitioner's vault on one device.
//!
//! ```text
//!   password ──┐
//!              ├─ Argon2id(salt, params, secret = device secret) ─► key-encryption key
//!   device  ───┘                                                     │ AES-256-GCM
//!   secret (OS keyring)                                              ├─► database key (SQLCipher)
//!                                                                    └─► field key (sealed fields)
//! ```
//!
//! Two random 256-bit data keys do the work: the database key encrypts the
//! whole SQLCipher file, the field key seals clinical fields inside it. They
//! are separate so that a leak of one (say, the database key from a memory
//! dump of SQLCipher's page cache) does not expose the other layer.
//!
//! Both data keys are stored only wrapped, in a small JSON header beside the
//! vault (`vault.db.keys.json`), under a key-encryption key derived from the
//! password *and* a random 32-byte device secret kept in the OS keyring. The
//! device secret enters Argon2id as its secret input (RFC 9106 §3.1), so a
//! copied vault file plus a guessed password opens nothing without this
//! device's keyring, and the keyring alone opens nothing without the
//! password. Offline, that pair is the two factors.
//!
//! Not here: the sealing itself ([`crate::seal`]) or the SQLCipher file
//! ([`crate::vault`]).

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::seal::FieldKey;
use crate::CoreError;

/// The keyring service every device secret is stored under.
pub const KEYRING_SERVICE: &str = "doctors-bench";

const HEADER_FORMAT: u32 = 1;
const DEVICE_SECRET_LEN: usize = 32;
const WRAP_DATABASE_KEY: &str = "database-key";
const WRAP_FIELD_KEY: &str = "field-key";

/// Where device secrets live. The product uses [`OsKeyring`]; tests may
/// supply their own store.
pub trait SecretStore: Send + Sync {
    /// The secret stored for `account`; `Ok(None)` when there is no entry.
    /// An unreachable store is an error, never `None`.
    fn get(&self, account: &str) -> Result<Option<Zeroizing<Vec<u8>>>, CoreError>;
    /// Stores `secret` for `account`, replacing any previous one.
    fn set(&self, account: &str, secret: &[u8]) -> Result<(), CoreError>;
    /// Deletes the secret stored for `account`; no entry is not an error.
    /// Used when the clinic revokes the device: without the secret, the
    /// wrapped keys (and so the vault) cannot be opened again.
    fn delete(&self, account: &str) -> Result<(), CoreError>;
}

/// The operating system's keyring: the Secret Service (GNOME Keyring,
/// KWallet) on Linux.
///
/// The credential is built from the Secret Service backend explicitly rather
/// than through `keyring`'s default builder, so a build without that backend
/// cannot quietly fall back to an in-memory store.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsKeyring;

impl OsKeyring {
    fn entry(account: &str) -> Result<keyring::Entry, CoreError> {
        let credential =
            keyring::secret_service::SsCredential::new_with_target(None, KEYRING_SERVICE, account)
                .map_err(keyring_error)?;
        Ok(keyring::Entry::new_with_credential(Box::new(credential)))
    }
}

impl SecretStore for OsKeyring {
    fn get(&self, account: &str) -> Result<Option<Zeroizing<Vec<u8>>>, CoreError> {
        match Self::entry(account)?.get_secret() {
            Ok(secret) => Ok(Some(Zeroizing::new(secret))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(keyring_error(err)),
        }
    }

    fn set(&self, account: &str, secret: &[u8]) -> Result<(), CoreError> {
        Self::entry(account)?
            .set_secret(secret)
            .map_err(keyring_error)
    }

    fn delete(&self, account: &str) -> Result<(), CoreError> {
        match Self::entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(err) => Err(keyring_error(err)),
        }
    }
}

fn keyring_error(err: keyring::Error) -> CoreError {
    // The keyring's own message names the D-Bus failure, never a secret.
    CoreError::Keyring(format!(
        "The system keyring is not available ({err}). Doctor's Bench keeps this device's key \
         there; log in to your desktop session so the keyring is unlocked, then try again."
    ))
}

/// Argon2id cost parameters, stored in the key header so a vault keeps
/// opening if the defaults change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// 64 MiB, 3 passes, 1 lane: about half a second on a modest laptop,
    /// paid once per unlock, while every password guess against a stolen
    /// header costs an attacker the same 64 MiB. One lane because the
    /// desktop has few cores to spare and RFC 9106's second recommended
    /// option (64 MiB, t=3) assumes none.
    pub const PRODUCTION: KdfParams = KdfParams {
        m_cost_kib: 64 * 1024,
        t_cost: 3,
        p_cost: 1,
    };

    /// Cheap parameters that keep unit and integration tests fast. Never
    /// chosen by the product: [`crate::Core::new`] always uses
    /// [`KdfParams::PRODUCTION`]; only tests pass this to
    /// [`crate::Core::with_parts`].
    pub const FAST_INSECURE_FOR_TESTS: KdfParams = KdfParams {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };

    fn check(self) -> Result<Params, CoreError> {
        // A header asking for absurd costs is damaged or hostile; refuse
        // rather than try to allocate it.
        if self.m_cost_kib > 1024 * 1024 || self.t_cost > 16 || self.p_cost > 8 {
            return Err(damaged_header());
        }
        Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(32))
            .map_err(|_| damaged_header())
    }
}

/// The two data keys of an unlocked vault. Zeroized on drop.
pub struct DataKeys {
    /// The SQLCipher raw key.
    pub database_key: Zeroizing<[u8; 32]>,
    /// The field-sealing key.
    pub field_key: FieldKey,
}

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKeys")
            .field("field_key", &self.field_key)
            .finish_non_exhaustive()
    }
}

/// `vault.db.keys.json`: everything needed to re-derive the keys except the
/// password and the device secret.
#[derive(Serialize, Deserialize)]
struct KeyHeader {
    format: u32,
    key_version: u32,
    kdf: KdfParams,
    /// Hex.
    salt: String,
    /// Hex of nonce ‖ ciphertext ‖ tag.
    wrapped_database_key: String,
    /// Hex of nonce ‖ ciphertext ‖ tag.
    wrapped_field_key: String,
}

/// The keyring account of a vault's device secret.
///
/// It names this installation (`device_id`, kept in the data folder) as well
/// as the server and practitioner: a second data folder for the same
/// practitioner under the same OS account (a reinstall beside the old one, a
/// test) gets its own secret instead of overwriting the one an existing
/// vault depends on.
pub fn device_secret_account(server_host: &str, username: &str, device_id: Uuid) -> String {
    format!("{server_host}/{username}/{device_id}/device-secret")
}

/// The key header's path for a vault file.
pub fn header_path(vault_path: &Path) -> std::path::PathBuf {
    let mut name = vault_path.file_name().unwrap_or_default().to_os_string();
    name.push(".keys.json");
    vault_path.with_file_name(name)
}

/// Makes new data keys for a new vault: a fresh device secret goes into the
/// keyring, the wrapped keys into a new header at `header`.
///
/// Refuses if a header already exists: replacing it would orphan the vault.
pub fn create(
    header: &Path,
    store: &dyn SecretStore,
    account: &str,
    password: &str,
    kdf: KdfParams,
) -> Result<DataKeys, CoreError> {
    if header.exists() {
        return Err(CoreError::Vault(
            "A vault already exists for this account on this device; it must be unlocked, \
             not created again."
                .into(),
        ));
    }

    // The keyring is written first: if writing the header then fails, the
    // next attempt simply makes a new secret, and no vault depends on it.
    let mut device_secret = Zeroizing::new([0u8; DEVICE_SECRET_LEN]);
    OsRng.fill_bytes(device_secret.as_mut());
    store.set(account, device_secret.as_ref())?;

    let mut salt = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    let key_version = 1;
    let kek = derive_kek(password, &salt, kdf, device_secret.as_ref())?;

    let mut database_key = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(database_key.as_mut());
    let field_key = FieldKey::generate(key_version);

    let header_json = KeyHeader {
        format: HEADER_FORMAT,
        key_version,
        kdf,
        salt: hex::encode(salt),
        wrapped_database_key: hex::encode(wrap(
            &kek,
            WRAP_DATABASE_KEY,
            key_version,
            &database_key,
        )),
        wrapped_field_key: hex::encode(wrap(&kek, WRAP_FIELD_KEY, key_version, field_key.expose())),
    };
    write_header(header, &header_json)?;
    tracing::info!("created vault keys and device secret");
    Ok(DataKeys {
        database_key,
        field_key,
    })
}

/// Unwraps the data keys of an existing vault with the password and the
/// device secret from `store`.
///
/// A missing device secret is an error that says so: a new one would not
/// open the existing vault, so none is ever made here.
pub fn open(
    header: &Path,
    store: &dyn SecretStore,
    account: &str,
    password: &str,
) -> Result<DataKeys, CoreError> {
    let header_json = read_header(header)?;
    let device_secret = store.get(account)?.ok_or_else(|| {
        CoreError::Keyring(
            "The device key is missing from the system keyring, so this device's vault cannot \
             be opened. If the keyring was reset, the vault on this device is unreadable: \
             your synced records are safe on the clinic server; ask your clinic IT to move \
             the old vault aside so you can sign in afresh."
                .into(),
        )
    })?;

    let salt = hex::decode(&header_json.salt).map_err(|_| damaged_header())?;
    let kek = derive_kek(password, &salt, header_json.kdf, &device_secret)?;
    let v = header_json.key_version;

    let database_key = unwrap_key(
        &kek,
        WRAP_DATABASE_KEY,
        v,
        &header_json.wrapped_database_key,
    )?;
    let field_key = unwrap_key(&kek, WRAP_FIELD_KEY, v, &header_json.wrapped_field_key)?;
    Ok(DataKeys {
        database_key,
        field_key: FieldKey::from_bytes(*field_key, v),
    })
}

fn derive_kek(
    password: &str,
    salt: &[u8],
    kdf: KdfParams,
    device_secret: &[u8],
) -> Result<Zeroizing<[u8; 32]>, CoreError> {
    let params = kdf.check()?;
    let argon = Argon2::new_with_secret(device_secret, Algorithm::Argon2id, Version::V0x13, params)
        .map_err(|_| damaged_header())?;
    let mut kek = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(password.as_bytes(), salt, kek.as_mut())
        .map_err(|_| damaged_header())?;
    Ok(kek)
}

/// The associated data of a wrapped key names which key it is, so the two
/// wrapped keys cannot be swapped in the header, and its version.
fn wrap_aad(which: &str, key_version: u32) -> Vec<u8> {
    let mut aad = b"doctors-bench/wrapped-key/".to_vec();
    aad.extend_from_slice(which.as_bytes());
    aad.push(0);
    aad.extend_from_slice(&key_version.to_be_bytes());
    aad
}

fn wrap(kek: &[u8; 32], which: &str, key_version: u32, key: &[u8; 32]) -> Vec<u8> {
    let mut nonce = [0u8; 12];
    OsRng.fill_bytes(&mut nonce);
    let aad = wrap_aad(which, key_version);
    let ciphertext = Aes256Gcm::new(kek.into())
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: key,
                aad: &aad,
            },
        )
        .expect("AES-GCM encryption of 32 bytes cannot fail");
    [nonce.as_slice(), &ciphertext].concat()
}

fn unwrap_key(
    kek: &[u8; 32],
    which: &str,
    key_version: u32,
    wrapped_hex: &str,
) -> Result<Zeroizing<[u8; 32]>, CoreError> {
    let wrapped = hex::decode(wrapped_hex).map_err(|_| damaged_header())?;
    if wrapped.len() != 12 + 32 + 16 {
        return Err(damaged_header());
    }
    let aad = wrap_aad(which, key_version);
    let plain = Zeroizing::new(
        Aes256Gcm::new(kek.into())
            .decrypt(
                Nonce::from_slice(&wrapped[..12]),
                Payload {
                    msg: &wrapped[12..],
                    aad: &aad,
                },
            )
            .map_err(|_| wrong_password())?,
    );
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&plain);
    Ok(key)
}

fn wrong_password() -> CoreError {
    CoreError::BadCredentials(
        "That password does not open the vault on this device. Use the password you signed in \
         with on this device."
            .into(),
    )
}

fn damaged_header() -> CoreError {
    CoreError::Vault(
        "The vault's key file is damaged, so the vault cannot be opened. Contact your clinic IT; \
         your synced records are safe on the clinic server."
            .into(),
    )
}

fn read_header(path: &Path) -> Result<KeyHeader, CoreError> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        CoreError::Vault(format!(
            "The vault's key file could not be read ({}). Check the disk and try again.",
            err.kind()
        ))
    })?;
    let header: KeyHeader = serde_json::from_str(&text).map_err(|_| damaged_header())?;
    if header.format != HEADER_FORMAT {
        return Err(CoreError::Vault(
            "This vault was made by a newer Doctor's Bench. Update the app to open it.".into(),
        ));
    }
    Ok(header)
}

/// Written to a temporary file, synced, then renamed, so a crash leaves
/// either no header or a whole one.
fn write_header(path: &Path, header: &KeyHeader) -> Result<(), CoreError> {
    let fail = |err: std::io::Error| {
        CoreError::Vault(format!(
            "The vault's key file could not be written ({}). Check that the disk has space \
             and try again.",
            err.kind()
        ))
    };
    if let Some(dir) = path.parent() {
        crate::config::create_private_dir(dir).map_err(fail)?;
    }
    let json = serde_json::to_vec_pretty(header).expect("the key header always serialises");
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(fail)?;
    file.write_all(&json).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)?;
    Ok(())
}

/// An in-memory [`SecretStore`] for unit tests.
#[cfg(test)]
pub(crate) mod memory {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use zeroize::Zeroizing;

    use super::SecretStore;
    use crate::CoreError;

    #[derive(Default)]
    pub(crate) struct MemoryStore {
        pub(crate) secrets: Mutex<HashMap<String, Vec<u8>>>,
        pub(crate) unavailable: bool,
    }

    impl SecretStore for MemoryStore {
        fn get(&self, account: &str) -> Result<Option<Zeroizing<Vec<u8>>>, CoreError> {
            if self.unavailable {
                return Err(CoreError::Keyring("test store unavailable".into()));
            }
            Ok(self
                .secrets
                .lock()
                .unwrap()
                .get(account)
                .cloned()
                .map(Zeroizing::new))
        }

        fn set(&self, account: &str, secret: &[u8]) -> Result<(), CoreError> {
            if self.unavailable {
                return Err(CoreError::Keyring("test store unavailable".into()));
            }
            self.secrets
                .lock()
                .unwrap()
                .insert(account.into(), secret.to_vec());
            Ok(())
        }

        fn delete(&self, account: &str) -> Result<(), CoreError> {
            if self.unavailable {
                return Err(CoreError::Keyring("test store unavailable".into()));
            }
            self.secrets.lock().unwrap().remove(account);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::memory::MemoryStore;
    use super::*;

    const ACCOUNT: &str = "127.0.0.1_8443/amina/device-secret";
    const FAST: KdfParams = KdfParams::FAST_INSECURE_FOR_TESTS;

    fn setup() -> (tempfile::TempDir, std::path::PathBuf, MemoryStore) {
        let dir = tempfile::tempdir().unwrap();
        let header = dir.path().join("vault.db.keys.json");
        (dir, header, MemoryStore::default())
    }

    #[test]
    fn keys_made_at_creation_unwrap_again_with_the_same_password() {
        let (_dir, header, store) = setup();
        let made = create(&header, &store, ACCOUNT, "correct horse", FAST).unwrap();
        let opened = open(&header, &store, ACCOUNT, "correct horse").unwrap();
        assert_eq!(*made.database_key, *opened.database_key);
        assert_eq!(made.field_key.expose(), opened.field_key.expose());
    }

    #[test]
    fn database_key_and_field_key_are_different_keys() {
        let (_dir, header, store) = setup();
        let keys = create(&header, &store, ACCOUNT, "pw", FAST).unwrap();
        assert_ne!(*keys.database_key, *keys.field_key.expose());
    }

    #[test]
    fn wrong_password_fails_cleanly_as_bad_credentials() {
        let (_dir, header, store) = setup();
        create(&header, &store, ACCOUNT, "right", FAST).unwrap();
        assert!(matches!(
            open(&header, &store, ACCOUNT, "wrong"),
            Err(CoreError::BadCredentials(_))
        ));
    }

    #[test]
    fn missing_device_secret_is_a_clear_keyring_error_and_no_new_secret_is_made() {
        let (_dir, header, store) = setup();
        create(&header, &store, ACCOUNT, "pw", FAST).unwrap();
        store.secrets.lock().unwrap().clear();

        let err = open(&header, &store, ACCOUNT, "pw").unwrap_err();
        assert!(matches!(err, CoreError::Keyring(_)));
        assert!(err.to_string().contains("device key is missing"));
        assert!(store.secrets.lock().unwrap().is_empty());
    }

    #[test]
    fn another_devices_secret_with_the_right_password_opens_nothing() {
        let (_dir, header, store) = setup();
        create(&header, &store, ACCOUNT, "pw", FAST).unwrap();
        store
            .secrets
            .lock()
            .unwrap()
            .insert(ACCOUNT.into(), vec![9u8; 32]);
        assert!(open(&header, &store, ACCOUNT, "pw").is_err());
    }

    #[test]
    fn unavailable_keyring_is_an_error_not_a_fallback() {
        let (_dir, header, store) = setup();
        create(&header, &store, ACCOUNT, "pw", FAST).unwrap();
        let gone = MemoryStore {
            unavailable: true,
            ..Default::default()
        };
        assert!(matches!(
            open(&header, &gone, ACCOUNT, "pw"),
            Err(CoreError::Keyring(_))
        ));
        assert!(matches!(
            create(
                &header.with_file_name("other.json"),
                &gone,
                ACCOUNT,
                "pw",
                FAST
            ),
            Err(CoreError::Keyring(_))
        ));
    }

    #[test]
    fn creating_over_an_existing_header_is_refused() {
        let (_dir, header, store) = setup();
        create(&header, &store, ACCOUNT, "pw", FAST).unwrap();
        assert!(create(&header, &store, ACCOUNT, "pw", FAST).is_err());
    }

    #[test]
    fn swapped_wrapped_keys_do_not_unwrap() {
        let (_dir, header, store) = setup();
        create(&header, &store, ACCOUNT, "pw", FAST).unwrap();
        let mut json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&header).unwrap()).unwrap();
        let db = json["wrapped_database_key"].clone();
        json["wrapped_database_key"] = json["wrapped_field_key"].clone();
        json["wrapped_field_key"] = db;
        std::fs::write(&header, serde_json::to_vec(&json).unwrap()).unwrap();
        assert!(open(&header, &store, ACCOUNT, "pw").is_err());
    }

    #[test]
    fn header_file_holds_no_key_in_the_clear() {
        let (_dir, header, store) = setup();
        let keys = create(&header, &store, ACCOUNT, "pw", FAST).unwrap();
        let text = std::fs::read_to_string(&header).unwrap();
        assert!(!text.contains(&hex::encode(*keys.database_key)));
        assert!(!text.contains(&hex::encode(keys.field_key.expose())));
        assert!(!text.contains("pw\""));
    }

    #[test]
    fn production_parameters_are_64_mib_three_passes_one_lane() {
        assert_eq!(
            KdfParams::PRODUCTION,
            KdfParams {
                m_cost_kib: 65536,
                t_cost: 3,
                p_cost: 1
            }
        );
        assert!(KdfParams::PRODUCTION.check().is_ok());
    }
}
