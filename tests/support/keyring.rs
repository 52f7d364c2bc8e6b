//! Device-secret stores for tests that run the client core without a
//! desktop keyring. Insecure on purpose and test-only: the shipped app
//! uses `bench_client::keys::OsKeyring`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use bench_client::keys::SecretStore;
use bench_client::CoreError;
use zeroize::Zeroizing;

/// Secrets kept in memory for the life of the process.
#[derive(Default)]
pub struct MemoryKeyring(Mutex<HashMap<String, Vec<u8>>>);

impl SecretStore for MemoryKeyring {
    fn get(&self, account: &str) -> Result<Option<Zeroizing<Vec<u8>>>, CoreError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .get(account)
            .cloned()
            .map(Zeroizing::new))
    }
    fn set(&self, account: &str, secret: &[u8]) -> Result<(), CoreError> {
        self.0
            .lock()
            .unwrap()
            .insert(account.into(), secret.to_vec());
        Ok(())
    }
    fn delete(&self, account: &str) -> Result<(), CoreError> {
        self.0.lock().unwrap().remove(account);
        Ok(())
    }
}

/// Secrets in plain files in one folder, so they survive a killed process
/// (the crash tests restart the client). Never for real data.
pub struct FileKeyring(pub PathBuf);

impl FileKeyring {
    fn path(&self, account: &str) -> PathBuf {
        let name: String = account
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        self.0.join(name)
    }
}

impl SecretStore for FileKeyring {
    fn get(&self, account: &str) -> Result<Option<Zeroizing<Vec<u8>>>, CoreError> {
        match std::fs::read(self.path(account)) {
            Ok(bytes) => Ok(Some(Zeroizing::new(bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CoreError::Keyring(format!("test keyring: {}", e.kind()))),
        }
    }
    fn set(&self, account: &str, secret: &[u8]) -> Result<(), CoreError> {
        std::fs::create_dir_all(&self.0)
            .and_then(|()| {
                // Written whole then renamed, so a kill never leaves half a secret.
                let tmp = self.path(account).with_extension("tmp");
                std::fs::write(&tmp, secret)?;
                std::fs::File::open(&tmp)?.sync_all()?;
                std::fs::rename(&tmp, self.path(account))
            })
            .map_err(|e| CoreError::Keyring(format!("test keyring: {}", e.kind())))
    }
    fn delete(&self, account: &str) -> Result<(), CoreError> {
        match std::fs::remove_file(self.path(account)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(CoreError::Keyring(format!("test keyring: {}", e.kind()))),
        }
    }
}
