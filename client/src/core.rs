//! The facade the desktop shell calls. Every shell command maps to one
//! method here.
//!
//! SKELETON: signatures are the contract with the shell; bodies to be
//! written.

use bench_protocol::desktop::{
    AppState, ClientListItem, ClientView, DraftInput, NewClient, NoteView, SyncStatus,
};
use bench_protocol::ClientRecord;
use uuid::Uuid;

use crate::{Config, CoreError};

/// The client core. Cheap to share: wrap in an `Arc`; all methods take
/// `&self`.
pub struct Core {
    _config: Config,
}

impl Core {
    /// Opens the core with its configuration. Touches no keys.
    pub fn new(config: Config) -> Result<Self, CoreError> {
        Ok(Core { _config: config })
    }

    /// Which screen to show.
    pub fn state(&self) -> AppState {
        todo!()
    }

    /// First step of sign-in. Online: checks the password with the server
    /// and asks for a code. Offline with a vault on this device: unlocks it
    /// with the password and device secret.
    pub async fn sign_in(&self, _username: &str, _password: &str) -> Result<AppState, CoreError> {
        todo!()
    }

    /// Second step of sign-in or enrolment: a TOTP code.
    pub async fn submit_code(&self, _code: &str) -> Result<AppState, CoreError> {
        todo!()
    }

    /// Unlocks after an idle lock. Works offline.
    pub fn unlock(&self, _password: &str) -> Result<AppState, CoreError> {
        todo!()
    }

    /// Locks now: drops and zeroizes the keys.
    pub fn lock(&self) -> AppState {
        todo!()
    }

    /// Ends the session on this device (keys dropped, vault kept).
    pub async fn sign_out(&self) -> AppState {
        todo!()
    }

    /// Keyboard or pointer input happened.
    pub fn record_activity(&self) {
        todo!()
    }

    /// Locks if the idle timeout has passed; returns the state either way.
    /// The shell calls this on a timer.
    pub fn check_idle(&self) -> AppState {
        todo!()
    }

    /// My clients whose name contains `query` (case-insensitive).
    pub fn list_clients(&self, _query: &str) -> Result<Vec<ClientListItem>, CoreError> {
        todo!()
    }

    /// Adds a client; syncs later.
    pub fn add_client(&self, _client: NewClient) -> Result<ClientRecord, CoreError> {
        todo!()
    }

    /// A client with their notes.
    pub fn open_client(&self, _client_id: Uuid) -> Result<ClientView, CoreError> {
        todo!()
    }

    /// Saves a draft note (new or existing).
    pub fn save_draft(&self, _draft: DraftInput) -> Result<NoteView, CoreError> {
        todo!()
    }

    /// Signs a draft: read-only from now on.
    pub fn sign_note(&self, _note_id: Uuid) -> Result<NoteView, CoreError> {
        todo!()
    }

    /// Pushes the outbox and pulls changes now.
    pub async fn sync_now(&self) -> Result<SyncStatus, CoreError> {
        todo!()
    }

    /// The sync state, without contacting the server.
    pub fn sync_status(&self) -> SyncStatus {
        todo!()
    }
}
