//! One Tauri command per entry in `bench_protocol::desktop::commands`.
//!
//! Each is thin: take the arguments, call the core, turn a `CoreError` into
//! the `ShellError` the UI shows. Decisions live in the core. Commands that
//! touch the vault or run the key derivation are `async` so they run off the
//! main thread and the window stays responsive.

use std::sync::Arc;

use bench_client::{Core, CoreError};
use bench_protocol::api::{
    Appointment, AppointmentStatus, BookableClient, Cosignature, Device, Invoice, InvoiceStatus,
    NewAppointment, NewInvoice,
};
use bench_protocol::desktop::TeamView;
use bench_protocol::desktop::{
    AppState, ClientListItem, ClientView, DraftInput, NewClient, NoteView, Resolution, Resolved,
    ShellError, SyncStatus,
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

/// Appends an amendment to a signed note.
#[tauri::command(async)]
pub fn add_amendment(core: State<'_, SharedCore>, note_id: Uuid, body: String) -> Answer<NoteView> {
    core.add_amendment(note_id, body)
        .map_err(refused("add_amendment"))
}

/// Settles a record in conflict as the practitioner chose.
#[tauri::command(async)]
pub fn resolve_conflict(
    core: State<'_, SharedCore>,
    record_id: Uuid,
    resolution: Resolution,
) -> Answer<Resolved> {
    core.resolve_conflict(record_id, resolution)
        .map_err(refused("resolve_conflict"))
}

/// The clinic's accounts and supervision assignments.
#[tauri::command]
pub async fn team(core: State<'_, SharedCore>) -> Answer<TeamView> {
    core.team().await.map_err(refused("team"))
}

/// Assigns a supervisor to a practitioner.
#[tauri::command]
pub async fn assign_supervisor(
    core: State<'_, SharedCore>,
    supervisor_id: Uuid,
    practitioner_id: Uuid,
) -> Answer<TeamView> {
    core.assign_supervisor(supervisor_id, practitioner_id)
        .await
        .map_err(refused("assign_supervisor"))
}

/// Ends a supervision assignment.
#[tauri::command]
pub async fn end_supervision(
    core: State<'_, SharedCore>,
    supervision_id: Uuid,
) -> Answer<TeamView> {
    core.end_supervision(supervision_id)
        .await
        .map_err(refused("end_supervision"))
}

/// Co-signs a supervised practitioner's signed note.
#[tauri::command]
pub async fn cosign_note(core: State<'_, SharedCore>, note_id: Uuid) -> Answer<Cosignature> {
    core.cosign_note(note_id)
        .await
        .map_err(refused("cosign_note"))
}

/// Devices that signed in.
#[tauri::command]
pub async fn team_devices(core: State<'_, SharedCore>) -> Answer<Vec<Device>> {
    core.team_devices().await.map_err(refused("team_devices"))
}

/// Revokes a device; answers with the device list as it now stands.
#[tauri::command]
pub async fn revoke_device(
    core: State<'_, SharedCore>,
    device_id: Uuid,
    reason: String,
) -> Answer<Vec<Device>> {
    core.revoke_device(device_id, &reason)
        .await
        .map_err(refused("revoke_device"))
}

/// Appointments in a time range.
#[tauri::command]
pub async fn schedule(
    core: State<'_, SharedCore>,
    from: Option<String>,
    to: Option<String>,
) -> Answer<Vec<Appointment>> {
    core.schedule(from, to).await.map_err(refused("schedule"))
}

/// Whom the caller may book or invoice.
#[tauri::command]
pub async fn bookable_clients(core: State<'_, SharedCore>) -> Answer<Vec<BookableClient>> {
    core.bookable_clients()
        .await
        .map_err(refused("bookable_clients"))
}

/// Books an appointment.
#[tauri::command]
pub async fn book_appointment(
    core: State<'_, SharedCore>,
    appointment: NewAppointment,
) -> Answer<Appointment> {
    core.book_appointment(appointment)
        .await
        .map_err(refused("book_appointment"))
}

/// Changes an appointment's status.
#[tauri::command]
pub async fn set_appointment_status(
    core: State<'_, SharedCore>,
    appointment_id: Uuid,
    status: AppointmentStatus,
) -> Answer<Appointment> {
    core.set_appointment_status(appointment_id, status)
        .await
        .map_err(refused("set_appointment_status"))
}

/// The invoices the caller reaches.
#[tauri::command]
pub async fn invoices(core: State<'_, SharedCore>) -> Answer<Vec<Invoice>> {
    core.invoices().await.map_err(refused("invoices"))
}

/// Issues an invoice.
#[tauri::command]
pub async fn issue_invoice(core: State<'_, SharedCore>, invoice: NewInvoice) -> Answer<Invoice> {
    core.issue_invoice(invoice)
        .await
        .map_err(refused("issue_invoice"))
}

/// Marks an invoice paid or void.
#[tauri::command]
pub async fn set_invoice_status(
    core: State<'_, SharedCore>,
    invoice_id: Uuid,
    status: InvoiceStatus,
) -> Answer<Invoice> {
    core.set_invoice_status(invoice_id, status)
        .await
        .map_err(refused("set_invoice_status"))
}

/// Sends a refused record again as it stands.
#[tauri::command(async)]
pub fn retry_rejected(core: State<'_, SharedCore>, record_id: Uuid) -> Answer<()> {
    core.retry_rejected(record_id)
        .map_err(refused("retry_rejected"))
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
