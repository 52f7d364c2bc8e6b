//! What the desktop shell returns to its UI: screens' data, never secrets.
//!
//! The UI calls the shell's commands (named in [`commands`]) and gets these
//! types back as JSON. Errors come back as [`ShellError`].

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::Practitioner;
use crate::records::{ClientRecord, NoteAmendment, SessionNote};

/// Names of the shell commands the UI may invoke, with their arguments.
///
/// Argument names are camelCase on the JS side, as Tauri maps them.
pub mod commands {
    /// `() -> AppState`
    pub const APP_STATE: &str = "app_state";
    /// `{ username, password } -> AppState`
    pub const SIGN_IN: &str = "sign_in";
    /// `{ code } -> AppState`: a TOTP code, for sign-in or for enrolment.
    pub const SUBMIT_CODE: &str = "submit_code";
    /// `{ password } -> AppState`
    pub const UNLOCK: &str = "unlock";
    /// `() -> AppState`
    pub const LOCK: &str = "lock";
    /// `() -> AppState`
    pub const SIGN_OUT: &str = "sign_out";
    /// `() -> ()`: the person touched keyboard or pointer.
    pub const ACTIVITY: &str = "activity";
    /// `{ query } -> Vec<ClientListItem>`
    pub const LIST_CLIENTS: &str = "list_clients";
    /// `{ client: NewClient } -> ClientRecord`
    pub const ADD_CLIENT: &str = "add_client";
    /// `{ clientId } -> ClientView`
    pub const OPEN_CLIENT: &str = "open_client";
    /// `{ draft: DraftInput } -> NoteView`
    pub const SAVE_DRAFT: &str = "save_draft";
    /// `{ noteId } -> NoteView`
    pub const SIGN_NOTE: &str = "sign_note";
    /// `{ noteId, body } -> NoteView`: appends a correction to a signed
    /// note; the note itself does not change.
    pub const ADD_AMENDMENT: &str = "add_amendment";
    /// `{ recordId, resolution: Resolution } -> Resolved`: settles a
    /// record in conflict the way the practitioner chose.
    pub const RESOLVE_CONFLICT: &str = "resolve_conflict";
    /// `{ recordId } -> ()`: sends a refused record again as it stands.
    pub const RETRY_REJECTED: &str = "retry_rejected";
    /// `() -> TeamView`: the clinic's accounts and supervision assignments
    /// (clinic admin; needs the server).
    pub const TEAM: &str = "team";
    /// `{ supervisorId, practitionerId } -> TeamView`: assigns a
    /// supervisor (clinic admin; needs the server).
    pub const ASSIGN_SUPERVISOR: &str = "assign_supervisor";
    /// `{ supervisionId } -> TeamView`: ends a supervision assignment.
    pub const END_SUPERVISION: &str = "end_supervision";
    /// `{ noteId } -> Cosignature`: a supervisor co-signs a supervised
    /// practitioner's signed note (needs the server).
    pub const COSIGN_NOTE: &str = "cosign_note";
    /// `() -> Vec<Device>`: devices that signed in (every account's for the
    /// clinic admin; needs the server).
    pub const TEAM_DEVICES: &str = "team_devices";
    /// `{ deviceId, reason } -> Vec<Device>`: revokes a device, answering
    /// with the device list as it now stands.
    pub const REVOKE_DEVICE: &str = "revoke_device";
    /// `{ from, to } -> Vec<Appointment>` (RFC 3339 bounds, either may be
    /// null; needs the server).
    pub const SCHEDULE: &str = "schedule";
    /// `() -> Vec<BookableClient>`: whom the caller may book or invoice.
    pub const BOOKABLE_CLIENTS: &str = "bookable_clients";
    /// `{ appointment: NewAppointment } -> Appointment`
    pub const BOOK_APPOINTMENT: &str = "book_appointment";
    /// `{ appointmentId, status: AppointmentStatus } -> Appointment`
    pub const SET_APPOINTMENT_STATUS: &str = "set_appointment_status";
    /// `() -> Vec<Invoice>`
    pub const INVOICES: &str = "invoices";
    /// `{ invoice: NewInvoice } -> Invoice`
    pub const ISSUE_INVOICE: &str = "issue_invoice";
    /// `{ invoiceId, status: InvoiceStatus } -> Invoice`
    pub const SET_INVOICE_STATUS: &str = "set_invoice_status";
    /// `() -> SyncStatus`
    pub const SYNC_NOW: &str = "sync_now";
    /// `() -> SyncStatus`
    pub const SYNC_STATUS: &str = "sync_status";
}

/// Names of the events the shell sends the UI, with their payloads.
pub mod events {
    /// `AppState`: the app state changed (idle lock, sign-out, ...).
    pub const APP_STATE: &str = "app-state";
    /// `SyncStatus`: the outbox or the connection changed.
    pub const SYNC_STATUS: &str = "sync-status";
    /// `SyncStatus`: a sync with the server finished; records may have
    /// arrived, changed or left, so lists on screen should be re-read.
    pub const SYNC_FINISHED: &str = "sync-finished";
}

/// Where the app is: which screen to show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AppState {
    /// Nobody is signed in on this window.
    SignedOut {
        /// The configured server, shown on the sign-in screen.
        server: String,
        /// Why the app signed out on its own, shown above the sign-in form:
        /// e.g. that the clinic revoked this device and its vault was
        /// deleted. `None` after an ordinary sign-out.
        #[serde(default)]
        notice: Option<String>,
    },
    /// Password accepted; a TOTP code is needed.
    AwaitingCode {
        /// Who is signing in.
        username: String,
    },
    /// Password accepted; the account must set up 2FA first.
    AwaitingEnrolment {
        /// Who is signing in.
        username: String,
        /// To show as a QR code and as text.
        otpauth_uri: String,
    },
    /// Signed in, but locked (idle or by hand): keys are not in memory.
    Locked {
        /// Who must unlock.
        username: String,
    },
    /// Signed in and unlocked.
    Unlocked {
        /// Who is signed in.
        practitioner: Practitioner,
    },
}

/// The sync state shown in the window at all times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncStatus {
    /// The outbox is empty and the last contact with the server succeeded.
    Synced,
    /// Changes are waiting in the outbox and the server is reachable.
    Waiting {
        /// How many changes wait.
        pending: u32,
    },
    /// The server could not be reached; changes wait.
    Offline {
        /// How many changes wait.
        pending: u32,
    },
    /// The server session ended; sign in again to sync. Changes wait.
    SignInRequired {
        /// How many changes wait.
        pending: u32,
    },
    /// At least one record has two versions to reconcile.
    Conflict {
        /// How many records are in conflict.
        conflicts: u32,
        /// How many changes wait.
        pending: u32,
    },
    /// The server refused at least one record's change (no longer
    /// permitted, too large, invalid); each such record shows why. The
    /// rest synced. Shown instead of "synced" or "waiting" while the
    /// server is reachable.
    Rejected {
        /// How many records the server refused.
        rejected: u32,
        /// How many changes wait.
        pending: u32,
    },
    /// This computer's clock is far from the server's (more than five
    /// minutes), so notes would carry wrong times. Changes still sync.
    ClockOff {
        /// How far off, in whole minutes; positive when this computer is
        /// ahead of the server, negative when behind.
        minutes: i64,
        /// How many changes wait.
        pending: u32,
    },
}

/// Per-record sync state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordSync {
    /// The server has this version.
    Synced,
    /// A change to this record waits in the outbox.
    Waiting,
    /// The server and this device hold different versions.
    Conflict,
    /// The server refused the last change.
    Rejected,
}

/// A line in "my clients".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientListItem {
    /// The client.
    pub client: ClientRecord,
    /// How many notes they have on this device.
    pub note_count: u32,
    /// Sync state of the client record.
    pub sync: RecordSync,
    /// When the server refused the client record: its reason, in words
    /// the practitioner can act on.
    #[serde(default)]
    pub reject_reason: Option<String>,
    /// When the client record is in conflict: the other version (the
    /// server's), to show beside this device's.
    #[serde(default)]
    pub conflict: Option<ClientRecord>,
    /// How many of their notes are in conflict, so the practitioner can
    /// find them from the list.
    #[serde(default)]
    pub notes_in_conflict: u32,
    /// How many of their notes the server refused.
    #[serde(default)]
    pub notes_rejected: u32,
    /// Another practitioner's client (shared with this one, or a supervised
    /// colleague's): shown, never changed here.
    #[serde(default)]
    pub read_only: bool,
}

/// A new client, as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewClient {
    /// Required.
    pub full_name: String,
    /// `YYYY-MM-DD`, optional.
    pub date_of_birth: Option<String>,
    /// Optional.
    pub contact: Option<String>,
}

/// A draft to save: a new note when `note_id` is `None`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftInput {
    /// The note to update, or `None` to start one.
    pub note_id: Option<Uuid>,
    /// The client it is about.
    pub client_id: Uuid,
    /// `YYYY-MM-DD`.
    pub session_date: String,
    /// The text.
    pub body: String,
}

/// A note with its sync state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteView {
    /// The note.
    pub note: SessionNote,
    /// Its sync state.
    pub sync: RecordSync,
    /// When in conflict: the other version (the server's, from another
    /// device), whole, to show side by side: its text, date, whether it
    /// is signed and when it was last changed.
    #[serde(default)]
    pub conflict: Option<SessionNote>,
    /// When the server refused the note: its reason, in words the
    /// practitioner can act on. Saving the draft again queues it again.
    #[serde(default)]
    pub reject_reason: Option<String>,
    /// Corrections appended to the signed note, oldest first; always empty
    /// for a draft.
    #[serde(default)]
    pub amendments: Vec<AmendmentView>,
}

/// An amendment with its sync state. Read-only: amendments never change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmendmentView {
    /// The amendment.
    pub amendment: NoteAmendment,
    /// Its sync state.
    pub sync: RecordSync,
    /// When the server refused it: its reason. A refused amendment stays
    /// on this device as written; a further amendment says it again.
    #[serde(default)]
    pub reject_reason: Option<String>,
}

/// How the practitioner settles a record in conflict.
///
/// A signed note never changes, so when either version is signed that one
/// stays the note and the other text, if the practitioner keeps it, becomes
/// a new draft note for the same client and session date ([`Resolved::new_draft`]).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "keep", rename_all = "snake_case")]
pub enum Resolution {
    /// Keep this device's version; it goes to the server against the
    /// other version.
    Mine,
    /// Keep the other version (the server's); nothing is pushed.
    Theirs,
    /// Keep a text the practitioner combined from both (notes only).
    Merged {
        /// The combined text.
        body: String,
    },
    /// The other version is signed: keep it, and append this device's text
    /// to it as an amendment ([`Resolved::amendment`]). Notes only.
    Amend,
}

// The combined text is clinical: `Debug` names the choice only.
impl std::fmt::Debug for Resolution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Resolution::Mine => f.write_str("Mine"),
            Resolution::Theirs => f.write_str("Theirs"),
            Resolution::Amend => f.write_str("Amend"),
            Resolution::Merged { body } => f
                .debug_struct("Merged")
                .field("body_len", &body.len())
                .finish(),
        }
    }
}

/// What settling a conflict did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    /// The record that was in conflict; it is no longer.
    pub record_id: Uuid,
    /// When a signed version had to stay as it is, the other text the
    /// practitioner kept is this new draft note.
    pub new_draft: Option<Uuid>,
    /// With [`Resolution::Amend`]: the amendment that carries this
    /// device's text.
    #[serde(default)]
    pub amendment: Option<Uuid>,
}

/// A client with their notes, newest session first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientView {
    /// The client.
    pub client: ClientRecord,
    /// Their notes.
    pub notes: Vec<NoteView>,
    /// Another practitioner's client: no new note, edit, sign or amendment.
    #[serde(default)]
    pub read_only: bool,
}

/// The clinic admin's team screen: accounts (no clinical content) and who
/// supervises whom.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamView {
    /// Every account, with its role and whether 2FA is set up.
    pub members: Vec<crate::api::TeamMember>,
    /// Supervision assignments, live and ended.
    pub supervisions: Vec<crate::api::Supervision>,
}

/// An error from a shell command, safe to show: it never contains patient
/// data or secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShellError {
    /// Machine-readable.
    pub kind: ShellErrorKind,
    /// A sentence the practitioner can act on.
    pub message: String,
}

/// Kinds of [`ShellError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShellErrorKind {
    /// Wrong username, password or code.
    BadCredentials,
    /// The app is locked or signed out; the action needs the keys.
    Locked,
    /// The server is needed and cannot be reached.
    Offline,
    /// The OS keyring is unavailable or lacks this device's secret.
    Keyring,
    /// The input is not acceptable (empty name, bad date, note too large,
    /// signed note).
    Invalid,
    /// No such record.
    NotFound,
    /// Anything else; the message says what to do.
    Other,
}
