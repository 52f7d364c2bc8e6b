//! What the core does when the clinic revokes this device (a lost or
//! stolen laptop): delete this device's copy of the practitioner's records
//! and sign out, saying why.
//!
//! The deletion is crypto-shredding. Overwriting the files first would
//! prove nothing on an SSD (wear levelling writes elsewhere, and SQLCipher
//! pages live on in the WAL and in freed blocks), so the code does not
//! pretend to. What makes the data unreadable is that the two things that,
//! with the password, open the vault are gone: the wrapped data keys
//! (`vault.db.keys.json`) and the device secret in the OS keyring. Any
//! ciphertext left in freed disk blocks is AES-256 under keys that no
//! longer exist anywhere.
//!
//! Changes not yet accepted by the server are lost with the vault, by
//! design: the device is presumed in someone else's hands, and nothing on
//! it can be trusted to reach the server any more.

use std::path::Path;

use super::{Contact, Core, Phase};
use crate::keys::{self, SecretStore};
use crate::CoreError;

impl Core {
    /// The server said this device is revoked: closes and deletes
    /// `username`'s vault on this device and its device secret, drops the
    /// keys, and goes to the signed-out state with a notice saying why.
    /// Returns the error to report, with the server's sentence (and, if
    /// something could not be deleted, what to do about it).
    pub(super) fn wipe_revoked_device(&self, username: &str, message: String) -> CoreError {
        // Dropping the open vault closes SQLCipher and zeroizes the keys;
        // the new generation voids any sync still in flight.
        {
            let mut inner = self.inner();
            inner.phase = Phase::SignedOut;
            inner.generation += 1;
            inner.contact = Contact::Unknown;
            inner.pending = 0;
            inner.conflicts = 0;
            inner.rejected = 0;
        }
        let vault_path = self.config.vault_path(username);
        let outcome = delete_vault(&vault_path, &*self.store, &self.account(username));
        let notice = match outcome {
            Ok(()) => {
                tracing::warn!("device revoked by the clinic; this device's vault was deleted");
                message
            }
            Err(problem) => {
                tracing::error!(error = %problem, "device revoked; the vault could not be deleted completely");
                format!("{message} {problem}")
            }
        };
        self.inner().notice = Some(notice.clone());
        CoreError::DeviceRevoked(notice)
    }
}

/// Deletes the key header first and the device secret second (after
/// either, nothing opens the vault), then the practitioner's whole vault
/// folder: `vault.db`, its `-wal` and `-shm`, and anything else kept
/// beside it. Every step is tried even when one fails.
fn delete_vault(
    vault_path: &Path,
    store: &dyn SecretStore,
    account: &str,
) -> Result<(), CoreError> {
    let mut problems = Vec::new();
    let header = keys::header_path(vault_path);
    match std::fs::remove_file(&header) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => problems.push(format!("the key file ({})", e.kind())),
    }
    if let Err(e) = store.delete(account) {
        problems.push(format!("the device key in the system keyring ({e})"));
    }
    if let Some(folder) = vault_path.parent() {
        match std::fs::remove_dir_all(folder) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => problems.push(format!("the folder {} ({})", folder.display(), e.kind())),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CoreError::Vault(format!(
            "Some of this device's copy could not be deleted: {}. Delete it by hand or ask your \
             clinic IT.",
            problems.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::delete_vault;
    use crate::keys::memory::MemoryStore;
    use crate::keys::SecretStore;

    #[test]
    fn a_revoked_vault_loses_its_key_file_its_device_secret_and_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("server").join("amina");
        std::fs::create_dir_all(&folder).unwrap();
        let vault = folder.join("vault.db");
        for name in [
            "vault.db",
            "vault.db-wal",
            "vault.db-shm",
            "vault.db.keys.json",
        ] {
            std::fs::write(folder.join(name), b"synthetic").unwrap();
        }
        let other = dir.path().join("server").join("baraka");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("vault.db"), b"synthetic").unwrap();
        let store = MemoryStore::default();
        store.set("amina-secret", &[7; 32]).unwrap();
        store.set("baraka-secret", &[8; 32]).unwrap();

        delete_vault(&vault, &store, "amina-secret").unwrap();

        assert!(!folder.exists());
        assert!(store.get("amina-secret").unwrap().is_none());
        assert!(
            other.join("vault.db").exists(),
            "another practitioner's vault stays"
        );
        assert!(store.get("baraka-secret").unwrap().is_some());
    }

    #[test]
    fn an_unreachable_keyring_is_reported_and_the_files_still_go() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("amina");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("vault.db.keys.json"), b"synthetic").unwrap();
        let store = MemoryStore {
            unavailable: true,
            ..Default::default()
        };
        let err = delete_vault(&folder.join("vault.db"), &store, "a").unwrap_err();
        assert!(err.to_string().contains("system keyring"), "{err}");
        assert!(!folder.exists());
    }
}
