//! The client core's one error type.
//!
//! Every message is a sentence the practitioner (or their clinic IT) can act
//! on. None carries a name, note text, password, code, token or key: errors
//! travel to the UI and may end up in logs.

use bench_protocol::desktop::{ShellError, ShellErrorKind};

/// Everything that can go wrong in the client core. Messages never carry
/// patient data or secrets.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Wrong username, password or code.
    #[error("{0}")]
    BadCredentials(String),
    /// Keys are not in memory.
    #[error("Doctor's Bench is locked. Unlock it with your password.")]
    Locked,
    /// The server is needed and could not be reached.
    #[error("{0}")]
    Offline(String),
    /// The server's session ended; sign in again.
    #[error("Your session with the clinic server has ended. Sign in again to sync.")]
    SessionExpired,
    /// The OS keyring is unavailable or lacks this device's secret.
    #[error("{0}")]
    Keyring(String),
    /// The input is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// No such record on this device.
    #[error("{0}")]
    NotFound(String),
    /// Stored data failed its integrity check or could not be decrypted.
    #[error("{0}")]
    Tampered(String),
    /// The local vault (SQLCipher file or its key header) failed.
    #[error("{0}")]
    Vault(String),
    /// The server answered, but with an error it explains.
    #[error("{0}")]
    Server(String),
    /// This computer's date or time is wrong enough to break things: the
    /// message says by how much when known, and to set the clock.
    #[error("{0}")]
    ClockOff(String),
    /// The clinic revoked this device (lost or stolen); the server's
    /// sentence says so. The core has deleted this device's vault for the
    /// practitioner by the time this reaches the window.
    #[error("{0}")]
    DeviceRevoked(String),
    /// Anything else, with a sentence saying what to do.
    #[error("{0}")]
    Other(String),
}

impl CoreError {
    /// The error as the UI receives it.
    pub fn to_shell_error(&self) -> ShellError {
        let kind = match self {
            CoreError::BadCredentials(_) => ShellErrorKind::BadCredentials,
            CoreError::Locked => ShellErrorKind::Locked,
            CoreError::Offline(_) => ShellErrorKind::Offline,
            CoreError::SessionExpired => ShellErrorKind::BadCredentials,
            CoreError::DeviceRevoked(_) => ShellErrorKind::Locked,
            CoreError::Keyring(_) => ShellErrorKind::Keyring,
            CoreError::Invalid(_) => ShellErrorKind::Invalid,
            CoreError::NotFound(_) => ShellErrorKind::NotFound,
            CoreError::Tampered(_)
            | CoreError::Vault(_)
            | CoreError::Server(_)
            | CoreError::ClockOff(_)
            | CoreError::Other(_) => ShellErrorKind::Other,
        };
        ShellError {
            kind,
            message: self.to_string(),
        }
    }

    /// A vault (SQLite) failure. The SQLite message names tables or
    /// constraints, never values, so it is safe to keep for diagnosis.
    pub(crate) fn vault(what: &str, err: rusqlite::Error) -> CoreError {
        CoreError::Vault(format!(
            "The local vault could not {what} ({err}). Your data is unchanged; \
             restart Doctor's Bench, and if this keeps happening contact your clinic IT."
        ))
    }
}

impl From<rusqlite::Error> for CoreError {
    fn from(err: rusqlite::Error) -> Self {
        CoreError::vault("complete the operation", err)
    }
}
