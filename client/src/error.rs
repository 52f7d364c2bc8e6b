//! The client core's one error type.

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
            CoreError::Other(_) => ShellErrorKind::Other,
        };
        ShellError { kind, message: self.to_string() }
    }
}
