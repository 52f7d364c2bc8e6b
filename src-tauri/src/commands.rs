//! One Tauri command per entry in `bench_protocol::desktop::commands`.
//!
//! Each is thin: take the arguments, call the core, turn a `CoreError` into
//! the `ShellError` the UI shows. Decisions live in the core. Commands that
//! touch the vault or run the key derivation are `async` so they run off the
//! main thread and the window stays responsive.

use std::sync::Arc;

use bench_client::{Core, CoreError};
use bench_protocol::desktop::{
    AppState, ClientListItem, ClientView, DraftInput, NewClient, NoteView, ShellError, SyncStatus,
};
use bench_protocol::ClientRecord;
use tauri::State;
use uuid::Uuid;

/// The core as Tauri manages it.
pub type SharedCore = Arc<Core>;

type Answer<T> = Result<T, ShellError>;

/// Maps a core error for the UI, logging which command failed and how, but
/// never the arguments: they carry passwords, codes and clinical text.
fn refused(command: &'static str) -> impl Fn(CoreError) -> ShellError {
    move |error| {
        let shown = error.to_shell_error();
        tracing::info!(command, kind = ?shown.kind, "command refused");
        shown
    }
}

/// Which screen to show.
#[tauri::command]
pub fn app_state(core: State<'_, SharedCore>) -> AppState {
    core.state()
}

/// First step of sign-in.
#[tauri::command]
pub async fn sign_in(
    core: State<'_, SharedCore>,
    username: String,
    password: String,
) -> Answer<AppState> {
    core.sign_in(&username, &password)
        .await
        .map_err(refused("sign_in"))
}

/// Second step of sign-in, or enrolment: a TOTP code.
#[tauri::command]
pub async fn submit_code(core: State<'_, SharedCore>, code: String) -> Answer<AppState> {
    core.submit_code(&code)
        .await
        .map_err(refused("submit_code"))
}

/// Unlocks after an idle lock.
#[tauri::command(async)]
pub fn unlock(core: State<'_, SharedCore>, password: String) -> Answer<AppState> {
    core.unlock(&password).map_err(refused("unlock"))
}

/// Locks now.
#[tauri::command]
pub fn lock(core: State<'_, SharedCore>) -> AppState {
    core.lock()
}

/// Ends the session on this device.
#[tauri::command]
pub async fn sign_out(core: State<'_, SharedCore>) -> Answer<AppState> {
    Ok(core.sign_out().await)
}

/// The person touched keyboard or pointer.
#[tauri::command]
pub fn activity(core: State<'_, SharedCore>) {
    core.record_activity();
}

/// My clients whose name contains `query`.
#[tauri::command(async)]
pub fn list_clients(core: State<'_, SharedCore>, query: String) -> Answer<Vec<ClientListItem>> {
    core.list_clients(&query).map_err(refused("list_clients"))
}

/// Adds a client.
#[tauri::command(async)]
pub fn add_client(core: State<'_, SharedCore>, client: NewClient) -> Answer<ClientRecord> {
    core.add_client(client).map_err(refused("add_client"))
}

/// A client with their notes.
#[tauri::command(async)]
pub fn open_client(core: State<'_, SharedCore>, client_id: Uuid) -> Answer<ClientView> {
    core.open_client(client_id).map_err(refused("open_client"))
}

/// Saves a draft note.
#[tauri::command(async)]
pub fn save_draft(core: State<'_, SharedCore>, draft: DraftInput) -> Answer<NoteView> {
    core.save_draft(draft).map_err(refused("save_draft"))
}

/// Signs a draft.
#[tauri::command(async)]
pub fn sign_note(core: State<'_, SharedCore>, note_id: Uuid) -> Answer<NoteView> {
    core.sign_note(note_id).map_err(refused("sign_note"))
}

/// Syncs now.
#[tauri::command]
pub async fn sync_now(core: State<'_, SharedCore>) -> Answer<SyncStatus> {
    core.sync_now().await.map_err(refused("sync_now"))
}

/// The sync state, without contacting the server.
#[tauri::command]
pub fn sync_status(core: State<'_, SharedCore>) -> SyncStatus {
    core.sync_status()
}
