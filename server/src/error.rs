//! The one error type of the server's own operations (start-up, commands,
//! storage). Each message says what happened and what to do next; none
//! carries a password, a code, a token, a key or patient data.
//!
//! Errors a request can cause are answered as `bench_protocol::api::ApiError`
//! bodies by the `http` module, which maps these where needed.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that can stop a command or the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The data directory is missing.
    #[error(
        "the data directory {} does not exist; create it with `bench-server init --demo --data-dir {}`",
        path.display(), path.display()
    )]
    NoDataDir {
        /// Where we looked.
        path: PathBuf,
    },
    /// No data directory could be chosen.
    #[error("cannot choose a data directory: set BENCH_SERVER_DATA_DIR or pass --data-dir")]
    NoDefaultDataDir,
    /// A file could not be read.
    #[error("cannot read {}: {source}; check it exists and this user may read it", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file or directory could not be written.
    #[error("cannot write {}: {source}; check the disk and the directory's permissions", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The sealing key file is damaged.
    #[error("the key file {} is not a 32-byte key; restore it from backup (without it, stored 2FA secrets cannot be opened)", path.display())]
    BadKeyFile {
        /// The file.
        path: PathBuf,
    },
    /// A configuration file or setting is wrong.
    #[error("bad configuration in {source_name}: {reason}")]
    BadConfig {
        /// The file or environment variable.
        source_name: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Another program holds the port.
    #[error("the address {addr} is already in use; stop the program using it or pass --listen 127.0.0.1:<another port>")]
    PortInUse {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A file that should be an SQLite database is not one.
    #[error("{} is not a Doctor's Bench database (unreadable or not SQLite); restore it from backup or point --data-dir at the right directory", path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The database failed.
    #[error("database error in {}: {source}", path.display())]
    Database {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// `init` found an existing data directory.
    #[error("{} already holds a Doctor's Bench server", path.display())]
    AlreadyInitialised {
        /// The data directory.
        path: PathBuf,
    },
    /// Certificates could not be made or loaded.
    #[error("certificate problem: {reason}")]
    Certificate {
        /// What went wrong, and what to do.
        reason: String,
    },
    /// A username is taken.
    #[error("an account named {username:?} already exists; choose another username")]
    UserExists {
        /// The username asked for.
        username: String,
    },
    /// A role name is unknown.
    #[error("unknown role {role:?}; use one of solo_practitioner, clinic_practitioner, supervisor, clinic_admin, operations")]
    BadRole {
        /// What was given.
        role: String,
    },
    /// The password given on standard input is unusable.
    #[error("password problem: {reason}")]
    Password {
        /// What is wrong.
        reason: String,
    },
    /// The audit log failed verification.
    #[error("audit log entry {seq} does not verify: {reason}; the log has been altered or damaged from that entry on")]
    AuditBroken {
        /// The first entry that failed.
        seq: i64,
        /// Why.
        reason: String,
    },
    /// A signed checkpoint of the audit log failed verification.
    #[error("audit checkpoint {checkpoint} does not verify: {reason}; the log or its checkpoints have been altered")]
    AuditCheckpointBroken {
        /// The first checkpoint that failed.
        checkpoint: i64,
        /// Why.
        reason: String,
    },
    /// The audit log is shorter than its head recorded outside it
    /// (`audit-head.json`), or that record is missing or does not match.
    #[error("the audit log was cut or replaced: {reason}")]
    AuditTruncated {
        /// What is missing, and what to do.
        reason: String,
    },
    /// The checkpoint signing key is gone while the log it signs exists.
    #[error("the audit signing key {} is missing; restore it from backup. `serve` will not make a new one, since checkpoints signed by a lost key could then no longer be checked (a new data directory gets one from `bench-server init`)", path.display())]
    MissingSigningKey {
        /// Where it should be.
        path: PathBuf,
    },
    /// Serving failed after start.
    #[error("the server stopped: {source}")]
    Serve {
        /// Why.
        source: std::io::Error,
    },
}

impl ServerError {
    /// Wraps a database error for the file it came from, recognising the
    /// "not a database" case so the message can say what to do.
    pub fn database(path: &std::path::Path, source: rusqlite::Error) -> ServerError {
        if let rusqlite::Error::SqliteFailure(e, _) = &source {
            if matches!(
                e.code,
                rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
            ) {
                return ServerError::NotADatabase {
                    path: path.to_owned(),
                };
            }
        }
        ServerError::Database {
            path: path.to_owned(),
            source,
        }
    }
}
