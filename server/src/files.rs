//! The data directory's layout and private-file writing.
//!
//! One directory holds everything the server keeps:
//!
//! ```text
//!   bench.db        operational database (accounts, sessions, records)
//!   audit.db        the append-only audit log, a separate file on purpose
//!   secrets.key     AES-256-GCM key sealing TOTP secrets and records (0600)
//!   audit-signing.key  Ed25519 key signing audit checkpoints (0600), apart
//!                   from secrets.key so either can be rotated or moved alone
//!   audit-head.json  the last signed checkpoint of audit.db, kept outside
//!                   it so a cut tail or a replaced file shows (0600)
//!   signin-names.key  HMAC key tagging typed usernames, so failed sign-ins
//!                   correlate without storing what was typed (0600)
//!   ca.pem          local certificate authority (give to desktop clients)
//!   ca-key.pem      its private key (0600)
//!   server.pem      the server certificate, signed by the CA
//!   server-key.pem  its private key (0600)
//!   server.json     settings: {"listen": "127.0.0.1:8443"}
//!   client.json     what a desktop client needs: server URL and CA path
//! ```

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::ServerError;

/// Paths inside one data directory.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// A data directory at `root` (made absolute so the paths written into
    /// `client.json` work from anywhere).
    pub fn new(root: &Path) -> DataDir {
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_owned());
        DataDir { root }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// Operational database.
    pub fn bench_db(&self) -> PathBuf {
        self.root.join("bench.db")
    }
    /// Audit log database.
    pub fn audit_db(&self) -> PathBuf {
        self.root.join("audit.db")
    }
    /// The last signed audit head, kept outside `audit.db` (see `audit`).
    pub fn audit_head(&self) -> PathBuf {
        self.root.join(crate::audit::HEAD_FILE)
    }
    /// HMAC key tagging typed usernames in the throttle and audit log.
    pub fn signin_names_key(&self) -> PathBuf {
        self.root.join("signin-names.key")
    }
    /// Sealing key.
    pub fn sealing_key(&self) -> PathBuf {
        self.root.join("secrets.key")
    }
    /// CA certificate.
    pub fn ca_cert(&self) -> PathBuf {
        self.root.join("ca.pem")
    }
    /// CA private key.
    pub fn ca_key(&self) -> PathBuf {
        self.root.join("ca-key.pem")
    }
    /// Ed25519 seed that signs audit-log checkpoints.
    pub fn audit_signing_key(&self) -> PathBuf {
        self.root.join("audit-signing.key")
    }
    /// Server certificate.
    pub fn server_cert(&self) -> PathBuf {
        self.root.join("server.pem")
    }
    /// Server private key.
    pub fn server_key(&self) -> PathBuf {
        self.root.join("server-key.pem")
    }
    /// Server settings.
    pub fn settings(&self) -> PathBuf {
        self.root.join("server.json")
    }
    /// Client discovery file.
    pub fn client_json(&self) -> PathBuf {
        self.root.join("client.json")
    }

    /// Fails with a message naming `init` when the directory is missing.
    pub fn require_exists(&self) -> Result<(), ServerError> {
        if self.root.is_dir() && self.bench_db().exists() {
            Ok(())
        } else {
            Err(ServerError::NoDataDir {
                path: self.root.clone(),
            })
        }
    }
}

/// Writes a file only this user can read (mode 0600), replacing any old one.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ServerError> {
    let wrap = |source| ServerError::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(wrap)?;
    // `mode` only applies on creation; an older file keeps its bits otherwise.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(wrap)?;
    file.write_all(bytes).map_err(wrap)?;
    file.sync_all().map_err(wrap)
}

/// Writes a file others may read (certificates, settings).
pub fn write_public(path: &Path, bytes: &[u8]) -> Result<(), ServerError> {
    std::fs::write(path, bytes).map_err(|source| ServerError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Reads a file that must hold exactly one 256-bit key; anything else is a
/// `BadKeyFile`. The bytes are wiped from memory when dropped.
pub fn read_key32(path: &Path) -> Result<zeroize::Zeroizing<[u8; 32]>, ServerError> {
    let bytes = zeroize::Zeroizing::new(read(path)?);
    let key: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| ServerError::BadKeyFile {
            path: path.to_owned(),
        })?;
    Ok(zeroize::Zeroizing::new(key))
}

/// Reads a whole file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>, ServerError> {
    std::fs::read(path).map_err(|source| ServerError::Read {
        path: path.to_owned(),
        source,
    })
}
