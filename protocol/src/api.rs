//! The clinic API: routes, request and response bodies, and errors.
//!
//! Every route is served over HTTPS (TLS 1.3 only) under `/v1`. Requests
//! after sign-in carry `Authorization: Bearer <session token>`.
//!
//! Sign-in is two steps. `POST /v1/auth/login` checks the password and
//! answers with a short-lived challenge; the second step is either
//! `POST /v1/auth/totp` (a code from the practitioner's authenticator) or,
//! for an account without 2FA yet, `POST /v1/auth/enrol` with a code that
//! proves the authenticator was set up from the `otpauth://` URI. Only the
//! second step returns a session.
//!
//! Sync is push then pull. A push carries changes, each with an id chosen
//! by the device ([`Change::change_id`]) so that a retried push is applied
//! once. A change names the version it was made against; a change against
//! an older version is answered with [`ChangeOutcome::Conflict`] and the
//! server keeps both versions. A pull returns changes after a cursor, in
//! order, in bounded pages. A pull also carries records shared with the
//! caller or owned by the practitioners they supervise, and lists in
//! [`PullResponse::removed`] those that stopped being visible.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::records::{ClientRecord, NoteAmendment, Record, SessionNote};

/// Route paths, so client and server cannot disagree on spelling.
pub mod routes {
    /// `POST` [`super::LoginRequest`] → [`super::LoginResponse`].
    pub const LOGIN: &str = "/v1/auth/login";
    /// `POST` [`super::TotpRequest`] → [`super::SessionInfo`].
    pub const TOTP: &str = "/v1/auth/totp";
    /// `POST` [`super::TotpRequest`] → [`super::SessionInfo`]: confirms 2FA enrolment.
    pub const ENROL: &str = "/v1/auth/enrol";
    /// `POST`, no body: ends the session.
    pub const LOGOUT: &str = "/v1/auth/logout";
    /// `GET` → [`super::Practitioner`].
    pub const ME: &str = "/v1/me";
    /// `GET` → `Vec<`[`super::ClientSummary`]`>`: the caller's clients.
    pub const CLIENTS: &str = "/v1/clients";
    /// `GET /v1/clients/{id}` → [`super::ClientDetail`]; audited as a record read.
    pub const CLIENT: &str = "/v1/clients/{id}";
    /// `POST` [`super::PushRequest`] → [`super::PushResponse`].
    pub const SYNC_PUSH: &str = "/v1/sync/push";
    /// `GET ?after=<cursor>&limit=<n>` → [`super::PullResponse`].
    pub const SYNC_PULL: &str = "/v1/sync/pull";
    /// `GET` → `"ok"`, no session needed: lets a client tell "offline" from
    /// "signed out".
    pub const HEALTH: &str = "/v1/health";

    /// `POST` [`super::DeviceAuditUpload`] → [`super::DeviceAuditResponse`]:
    /// audit entries a device recorded (offline edits, reads of its cache),
    /// uploaded intact at sync and stored with the device's id.
    pub const AUDIT_UPLOAD: &str = "/v1/audit/device";

    /// `POST` [`super::NewShare`] → [`super::Share`]: the owner shares one
    /// client's record (with their notes) with a clinic colleague, with the
    /// client's recorded consent. `GET` → `Vec<`[`super::Share`]`>`: shares
    /// the caller made or received.
    pub const SHARES: &str = "/v1/shares";
    /// `POST /v1/shares/{id}/revoke`, no body: ends a share at once.
    pub const SHARE_REVOKE: &str = "/v1/shares/{id}/revoke";
    /// `GET` → `Vec<`[`super::TeamMember`]`>`: the clinic's accounts (clinic
    /// admin only; no clinical content).
    pub const TEAM: &str = "/v1/team";
    /// `POST` [`super::NewSupervision`] → [`super::Supervision`]; `GET` →
    /// `Vec<`[`super::Supervision`]`>` (clinic admin only).
    pub const SUPERVISION: &str = "/v1/team/supervision";
    /// `POST /v1/team/supervision/{id}/revoke`, no body (clinic admin only).
    pub const SUPERVISION_REVOKE: &str = "/v1/team/supervision/{id}/revoke";
    /// `POST` [`super::NewSupportGrant`] → [`super::SupportGrant`]: the owner
    /// lets one operations account open one client's record for a support
    /// ticket, for a limited time.
    pub const SUPPORT_GRANTS: &str = "/v1/support-grants";

    /// `GET` → `Vec<`[`super::Device`]`>`: devices that have signed in,
    /// with their state. The clinic admin sees every account's; a
    /// practitioner or supervisor only their own. No clinical content.
    pub const DEVICES: &str = "/v1/team/devices";
    /// `POST /v1/team/devices/{id}/revoke` [`super::DeviceRevocation`] →
    /// `Vec<`[`super::Device`]`>` (the device's rows as revoked, one per
    /// account the revocation reached): a lost or stolen device. Its sessions end at once;
    /// every later request or sign-in from it is refused with
    /// [`super::ErrorCode::DeviceRevoked`], and the app on it then deletes
    /// its vault. The clinic admin may revoke any device; a practitioner
    /// their own other devices (not the one they are using).
    pub const DEVICE_REVOKE: &str = "/v1/team/devices/{id}/revoke";
    /// `POST /v1/clients/{id}/transfer` [`super::ClientTransfer`] →
    /// [`super::TransferReceipt`]: the client's record and every record
    /// filed under it move to another practitioner. Allowed to the owner
    /// and to the clinic admin (who receives ids only). The old owner's
    /// next pull lists the records in [`super::PullResponse::removed`]; the
    /// new owner's brings them.
    pub const CLIENT_TRANSFER: &str = "/v1/clients/{id}/transfer";

    /// The path of one device's revoke action.
    pub fn device_revoke(id: uuid::Uuid) -> String {
        format!("/v1/team/devices/{id}/revoke")
    }

    /// The path of one client's transfer action.
    pub fn client_transfer(id: uuid::Uuid) -> String {
        format!("/v1/clients/{id}/transfer")
    }

    /// `POST /v1/notes/{id}/cosign`, no body → [`super::Cosignature`]: a
    /// supervisor co-signs a signed note of a practitioner they supervise.
    pub const NOTE_COSIGN: &str = "/v1/notes/{id}/cosign";

    /// `GET ?from=<RFC 3339>&to=<RFC 3339>` → `Vec<`[`super::Appointment`]`>`
    /// (both bounds optional; `from` inclusive, `to` exclusive); `POST`
    /// [`super::NewAppointment`] → [`super::Appointment`]. The clinic admin
    /// sees and books the whole clinic's; a practitioner only their own.
    pub const SCHEDULE: &str = "/v1/schedule";
    /// `GET` → `Vec<`[`super::BookableClient`]`>`: whom the caller may book
    /// or invoice (id and name only, never a clinical field).
    pub const SCHEDULE_CLIENTS: &str = "/v1/schedule/clients";
    /// `POST /v1/schedule/{id}/status` [`super::AppointmentStatusChange`] →
    /// [`super::Appointment`].
    pub const APPOINTMENT_STATUS: &str = "/v1/schedule/{id}/status";
    /// `GET` → `Vec<`[`super::Invoice`]`>`; `POST` [`super::NewInvoice`] →
    /// [`super::Invoice`]. Same reach as [`SCHEDULE`].
    pub const INVOICES: &str = "/v1/billing/invoices";
    /// `POST /v1/billing/invoices/{id}/status` [`super::InvoiceStatusChange`]
    /// → [`super::Invoice`].
    pub const INVOICE_STATUS: &str = "/v1/billing/invoices/{id}/status";

    /// The path of one appointment's status action.
    pub fn appointment_status(id: uuid::Uuid) -> String {
        format!("/v1/schedule/{id}/status")
    }

    /// The path of one invoice's status action.
    pub fn invoice_status(id: uuid::Uuid) -> String {
        format!("/v1/billing/invoices/{id}/status")
    }

    /// The path of one note's co-sign action.
    pub fn note_cosign(id: uuid::Uuid) -> String {
        format!("/v1/notes/{id}/cosign")
    }

    /// The path of one share's revoke action.
    pub fn share_revoke(id: uuid::Uuid) -> String {
        format!("/v1/shares/{id}/revoke")
    }

    /// The path of one supervision assignment's revoke action.
    pub fn supervision_revoke(id: uuid::Uuid) -> String {
        format!("/v1/team/supervision/{id}/revoke")
    }

    /// The path of one client's record.
    pub fn client(id: uuid::Uuid) -> String {
        format!("/v1/clients/{id}")
    }
}

/// The role an account holds. Stored for every account; what each role may
/// do is decided by the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Works alone; sees only their own clients.
    SoloPractitioner,
    /// Works in a clinic; own clients plus records shared with consent.
    ClinicPractitioner,
    /// Reads the assigned team's records for supervision.
    Supervisor,
    /// Scheduling, billing, team management; no clinical content.
    ClinicAdmin,
    /// Infrastructure and account support; no patient records.
    Operations,
}

impl Role {
    /// Every role, in a fixed order.
    pub const ALL: [Role; 5] = [
        Role::SoloPractitioner,
        Role::ClinicPractitioner,
        Role::Supervisor,
        Role::ClinicAdmin,
        Role::Operations,
    ];

    /// The name used on the wire, in the database and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::SoloPractitioner => "solo_practitioner",
            Role::ClinicPractitioner => "clinic_practitioner",
            Role::Supervisor => "supervisor",
            Role::ClinicAdmin => "clinic_admin",
            Role::Operations => "operations",
        }
    }

    /// Parses [`Role::as_str`] output.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// `POST /v1/auth/login`.
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    /// The practitioner's username.
    pub username: String,
    /// The password, sent only inside TLS and never logged.
    pub password: String,
    /// A stable id for this installation, chosen by the device.
    pub device_id: Uuid,
    /// A label for the device, e.g. "Amina's laptop".
    pub device_name: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

/// The answer to a correct password: what the second factor must be.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "next", rename_all = "snake_case")]
pub enum LoginResponse {
    /// Send a TOTP code to [`routes::TOTP`] with this challenge.
    TotpRequired {
        /// Opaque, single-use, valid for a few minutes.
        challenge: String,
    },
    /// The account has no 2FA yet. Show `otpauth_uri` (as a QR code and as
    /// text), then send a code it produced to [`routes::ENROL`].
    EnrolmentRequired {
        /// Opaque, single-use, valid for a few minutes.
        challenge: String,
        /// RFC 6238 provisioning URI (Key Uri Format).
        otpauth_uri: String,
    },
}

/// The second sign-in step: a code for a challenge.
#[derive(Clone, Serialize, Deserialize)]
pub struct TotpRequest {
    /// From [`LoginResponse`].
    pub challenge: String,
    /// Six digits, as typed (leading zeros matter).
    pub code: String,
}

impl std::fmt::Debug for TotpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpRequest { .. }")
    }
}

/// The signed-in account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Practitioner {
    /// Server-assigned account id.
    pub id: Uuid,
    /// The sign-in name.
    pub username: String,
    /// How the app greets them.
    pub display_name: String,
    /// What they may do.
    pub role: Role,
}

/// A session: the answer to a successful second step.
#[derive(Clone, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Bearer token. Secret: never logged.
    pub token: String,
    /// Who signed in.
    pub practitioner: Practitioner,
    /// The session ends after this many seconds without a request.
    pub idle_timeout_secs: u64,
    /// RFC 3339, UTC: the session ends then whatever happens.
    pub expires_at: String,
}

impl std::fmt::Debug for SessionInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionInfo")
            .field("practitioner", &self.practitioner)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// One line of the client list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSummary {
    /// The client record.
    pub client: ClientRecord,
    /// Server version of the client record.
    pub version: i64,
    /// How many session notes the client has.
    pub note_count: u32,
}

/// A client with all their session notes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientDetail {
    /// The client record.
    pub client: ClientRecord,
    /// Their notes, oldest session first.
    pub notes: Vec<SessionNote>,
    /// Corrections to their signed notes (each names its note), oldest
    /// first. A note is read with its amendments.
    #[serde(default)]
    pub amendments: Vec<NoteAmendment>,
}

/// One change made on a device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Chosen by the device when the change was made; the server applies a
    /// change id at most once.
    pub change_id: Uuid,
    /// The server version this change was made against; `None` for a new
    /// record.
    pub base_version: Option<i64>,
    /// The record as the device now has it.
    pub record: Record,
}

/// `POST /v1/sync/push`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PushRequest {
    /// Applied in order; each has its own outcome.
    pub changes: Vec<Change>,
    /// Audit entries the device recorded (one per edit, offline or not),
    /// oldest first, at most [`MAX_DEVICE_AUDIT_ENTRIES`]. Carried on the
    /// push so a sync needs no extra round trip; stored exactly as
    /// [`routes::AUDIT_UPLOAD`] stores them, and counted in
    /// [`PushResponse::audit_stored`] and [`PushResponse::audit_already_stored`].
    /// Empty from devices that predate it.
    #[serde(default)]
    pub audit: Vec<DeviceAuditEntry>,
}

/// What happened to one pushed change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ChangeOutcome {
    /// Stored; the record is now at `version`.
    Applied {
        /// The record's new server version.
        version: i64,
    },
    /// This change id was applied before; nothing was done again.
    AlreadyApplied {
        /// The version the change produced back then.
        version: i64,
    },
    /// The record changed on the server since `base_version`. The server
    /// kept the pushed version aside as a conflict copy and did not apply
    /// it; `server` is the version it holds.
    Conflict {
        /// The server's current version number.
        server_version: i64,
        /// The server's current record.
        server: Record,
    },
    /// Refused for good; `reason` says why in words a practitioner can act on.
    Rejected {
        /// Machine-readable reason.
        code: RejectCode,
        /// A sentence for the practitioner.
        reason: String,
    },
}

/// Why a change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// The caller may not change this record.
    Forbidden,
    /// The record is larger than the server accepts.
    TooLarge,
    /// The record is malformed (bad date, missing client, ...).
    Invalid,
    /// A signed note cannot change.
    SignedNoteImmutable,
}

/// The outcome of each change, in the order pushed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PushResponse {
    /// One per pushed change.
    pub results: Vec<ChangeResult>,
    /// How many of [`PushRequest::audit`] were stored now.
    #[serde(default)]
    pub audit_stored: u32,
    /// How many of [`PushRequest::audit`] the server already had (a push
    /// retried after a lost answer). The device may drop an entry once it
    /// is counted here or in `audit_stored`; a server that predates the
    /// field answers 0 for both, so the device keeps its entries.
    #[serde(default)]
    pub audit_already_stored: u32,
}

/// The outcome of one pushed change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeResult {
    /// The pushed change's id.
    pub change_id: Uuid,
    /// What happened.
    pub outcome: ChangeOutcome,
}

/// One record as it stands on the server after a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerChange {
    /// Position in the caller's change feed; pass the last one seen as
    /// `after` to continue.
    pub cursor: i64,
    /// The record's server version.
    pub version: i64,
    /// The record.
    pub record: Record,
    /// The practitioner who owns the record (for a note or an amendment:
    /// who owns its client). A device shows a record it does not own
    /// (shared with its practitioner, or a supervised colleague's) read
    /// only. `None` from servers that predate it.
    #[serde(default)]
    pub owner_id: Option<Uuid>,
}

/// `GET /v1/sync/pull` answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PullResponse {
    /// Changes after the requested cursor, oldest first.
    pub changes: Vec<ServerChange>,
    /// Cursor to ask from next time (equal to the request's when empty).
    pub next_cursor: i64,
    /// True when another page is waiting.
    pub more: bool,
    /// Records the caller could see through a share or a supervision
    /// assignment that has since ended (client ids and their notes' ids):
    /// delete them from the device. Empty from servers that predate it.
    #[serde(default)]
    pub removed: Vec<Uuid>,
}

/// `POST /v1/shares`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewShare {
    /// The client whose record (and notes) to share.
    pub client_id: Uuid,
    /// The colleague (a clinic practitioner) to share with.
    pub grantee_id: Uuid,
    /// Where the client's consent is recorded (e.g. a consent form number);
    /// required, and a code such as `CF-2026-014`
    /// ([`crate::validate::reference`]), never the client's name.
    pub consent_reference: String,
}

/// A share of one client's record with one colleague.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    /// Share id.
    pub id: Uuid,
    /// The client shared.
    pub client_id: Uuid,
    /// The practitioner who owns the record.
    pub owner_id: Uuid,
    /// The colleague who may read it.
    pub grantee_id: Uuid,
    /// Where the consent is recorded.
    pub consent_reference: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC, once revoked.
    pub revoked_at: Option<String>,
}

/// One account as the clinic admin sees it: no clinical content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamMember {
    /// Account id.
    pub id: Uuid,
    /// Sign-in name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Whether 2FA is set up.
    pub has_totp: bool,
}

/// A device (one installation of the app) as the server knows it: from the
/// sign-ins made on it. No clinical content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// The id the installation chose ([`LoginRequest::device_id`]).
    pub device_id: Uuid,
    /// The account that signed in on it.
    pub account_id: Uuid,
    /// That account's sign-in name.
    pub username: String,
    /// The label the device sent ([`LoginRequest::device_name`]).
    pub device_name: String,
    /// RFC 3339 UTC: its first sign-in.
    pub first_seen: String,
    /// RFC 3339 UTC: its latest sign-in or request.
    pub last_seen: String,
    /// RFC 3339 UTC, once revoked.
    pub revoked_at: Option<String>,
    /// Who revoked it: an account id, or `None` with `revoked_at` set when
    /// it was done at the server's command line.
    pub revoked_by: Option<Uuid>,
    /// Why, as the revoker wrote it (e.g. "laptop stolen"), if revoked.
    pub reason: Option<String>,
}

/// `POST /v1/team/devices/{id}/revoke`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRevocation {
    /// Why, in a few words (at most [`MAX_REVOKE_REASON`] characters);
    /// shown to the clinic admin, stored in the audit log. Must not name a
    /// client.
    #[serde(default)]
    pub reason: String,
}

/// Longest [`DeviceRevocation::reason`] accepted, in characters.
pub const MAX_REVOKE_REASON: usize = 200;

/// `POST /v1/clients/{id}/transfer`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientTransfer {
    /// The practitioner (solo, clinic or supervisor account) who will hold
    /// the record from now on.
    pub to_practitioner_id: Uuid,
}

/// What a transfer moved: ids and a count, never a clinical field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferReceipt {
    /// The client.
    pub client_id: Uuid,
    /// Who held the record before.
    pub from_practitioner_id: Uuid,
    /// Who holds it now.
    pub to_practitioner_id: Uuid,
    /// How many records moved: the client's own and every record filed
    /// under the client (notes and the like).
    pub records_moved: u32,
    /// Shares the old owner had made of this record, ended by the transfer.
    pub shares_ended: u32,
}

/// `POST /v1/team/supervision`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSupervision {
    /// A supervisor account.
    pub supervisor_id: Uuid,
    /// The practitioner whose records they will read for supervision.
    pub practitioner_id: Uuid,
}

/// A supervisor's assignment to one practitioner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supervision {
    /// Assignment id.
    pub id: Uuid,
    /// The supervisor.
    pub supervisor_id: Uuid,
    /// The supervised practitioner.
    pub practitioner_id: Uuid,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC, once revoked.
    pub revoked_at: Option<String>,
}

/// `POST /v1/support-grants`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSupportGrant {
    /// The client whose record support may open.
    pub client_id: Uuid,
    /// The operations account.
    pub operator_id: Uuid,
    /// The support ticket; required, and a code such as `TICKET-77`
    /// ([`crate::validate::reference`]), never a name.
    pub ticket: String,
    /// Where the practitioner's consent is recorded; required, and a code
    /// such as `CF-2026-014`.
    pub consent_reference: String,
    /// How long the grant lasts, in seconds (at most [`MAX_SUPPORT_GRANT_SECS`]).
    pub duration_secs: u64,
}

/// A time-limited grant for operations to open one record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportGrant {
    /// Grant id.
    pub id: Uuid,
    /// The client.
    pub client_id: Uuid,
    /// The operations account.
    pub operator_id: Uuid,
    /// The ticket.
    pub ticket: String,
    /// RFC 3339 UTC: the grant ends then.
    pub expires_at: String,
}

/// A supervisor's co-signature of a signed session note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cosignature {
    /// The note.
    pub note_id: Uuid,
    /// The supervisor who co-signed.
    pub supervisor_id: Uuid,
    /// RFC 3339 UTC.
    pub cosigned_at: String,
}

/// Where an appointment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    /// Booked and still to come (or not yet marked).
    Booked,
    /// The client came.
    Attended,
    /// Called off beforehand.
    Cancelled,
    /// The client did not come.
    NoShow,
}

impl AppointmentStatus {
    /// Every status, in a fixed order.
    pub const ALL: [AppointmentStatus; 4] = [
        AppointmentStatus::Booked,
        AppointmentStatus::Attended,
        AppointmentStatus::Cancelled,
        AppointmentStatus::NoShow,
    ];

    /// The name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            AppointmentStatus::Booked => "booked",
            AppointmentStatus::Attended => "attended",
            AppointmentStatus::Cancelled => "cancelled",
            AppointmentStatus::NoShow => "no_show",
        }
    }

    /// Parses [`AppointmentStatus::as_str`] output.
    pub fn parse(s: &str) -> Option<AppointmentStatus> {
        AppointmentStatus::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// One appointment: who, with whom, when. Scheduling data only: the
/// client appears by id and name, never with a clinical field.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appointment {
    /// Appointment id (server-assigned).
    pub id: Uuid,
    /// The client.
    pub client_id: Uuid,
    /// The client's name, so the person booking knows whom to expect.
    pub client_name: String,
    /// The practitioner who holds the client's record.
    pub practitioner_id: Uuid,
    /// That practitioner's display name.
    pub practitioner_name: String,
    /// RFC 3339, UTC.
    pub starts_at: String,
    /// Length in minutes.
    pub duration_minutes: u32,
    /// Where it stands.
    pub status: AppointmentStatus,
}

impl std::fmt::Debug for Appointment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Appointment")
            .field("id", &self.id)
            .field("client_id", &self.client_id)
            .field("practitioner_id", &self.practitioner_id)
            .field("starts_at", &self.starts_at)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// `POST /v1/schedule`. The appointment is with the practitioner who holds
/// the client's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAppointment {
    /// The client.
    pub client_id: Uuid,
    /// RFC 3339 (any offset; stored in UTC).
    pub starts_at: String,
    /// From [`MIN_APPOINTMENT_MINUTES`] to [`MAX_APPOINTMENT_MINUTES`].
    pub duration_minutes: u32,
}

/// `POST /v1/schedule/{id}/status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentStatusChange {
    /// The new status.
    pub status: AppointmentStatus,
}

/// Shortest appointment accepted, in minutes.
pub const MIN_APPOINTMENT_MINUTES: u32 = 5;
/// Longest appointment accepted, in minutes (a working day).
pub const MAX_APPOINTMENT_MINUTES: u32 = 8 * 60;

/// A client the caller may book or invoice: identity only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookableClient {
    /// The client.
    pub id: Uuid,
    /// Their name.
    pub display_name: String,
    /// The practitioner who holds their record.
    pub practitioner_id: Uuid,
    /// That practitioner's display name.
    pub practitioner_name: String,
}

impl std::fmt::Debug for BookableClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BookableClient")
            .field("id", &self.id)
            .field("practitioner_id", &self.practitioner_id)
            .finish_non_exhaustive()
    }
}

/// Where an invoice stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Sent to the client, not yet paid.
    Issued,
    /// Paid in full.
    Paid,
    /// Withdrawn; kept for the books.
    Void,
}

impl InvoiceStatus {
    /// Every status, in a fixed order.
    pub const ALL: [InvoiceStatus; 3] = [
        InvoiceStatus::Issued,
        InvoiceStatus::Paid,
        InvoiceStatus::Void,
    ];

    /// The name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Issued => "issued",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Void => "void",
        }
    }

    /// Parses [`InvoiceStatus::as_str`] output.
    pub fn parse(s: &str) -> Option<InvoiceStatus> {
        InvoiceStatus::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// An invoice: an amount owed by a client, for a practitioner's work. No
/// clinical content (no diagnosis or service description).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    /// Invoice id (server-assigned).
    pub id: Uuid,
    /// The client billed.
    pub client_id: Uuid,
    /// Their name, to address the invoice.
    pub client_name: String,
    /// The practitioner who holds the client's record.
    pub practitioner_id: Uuid,
    /// The appointment billed, if one.
    pub appointment_id: Option<Uuid>,
    /// Kenyan shillings, in cents (KES 1,500.00 is 150000).
    pub amount_cents: i64,
    /// Where it stands.
    pub status: InvoiceStatus,
    /// RFC 3339, UTC.
    pub issued_at: String,
}

impl std::fmt::Debug for Invoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invoice")
            .field("id", &self.id)
            .field("client_id", &self.client_id)
            .field("amount_cents", &self.amount_cents)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// `POST /v1/billing/invoices`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewInvoice {
    /// The client billed.
    pub client_id: Uuid,
    /// The appointment billed, if one (it must be the same client's).
    pub appointment_id: Option<Uuid>,
    /// KES cents, from 1 to [`MAX_INVOICE_CENTS`].
    pub amount_cents: i64,
}

/// `POST /v1/billing/invoices/{id}/status`: `issued` → `paid` or `void`;
/// a paid or void invoice does not change again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceStatusChange {
    /// The new status.
    pub status: InvoiceStatus,
}

/// Largest invoice accepted: KES 10,000,000.00, in cents.
pub const MAX_INVOICE_CENTS: i64 = 1_000_000_000;

/// Longest support grant: four hours, one working session on a ticket.
pub const MAX_SUPPORT_GRANT_SECS: u64 = 4 * 60 * 60;

/// One audit entry recorded on a device, for [`routes::AUDIT_UPLOAD`].
/// Holds ids and a kind only, never a name or a note's text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAuditEntry {
    /// Chosen by the device; the server stores an entry id at most once, so
    /// an upload can be retried.
    pub entry_id: Uuid,
    /// When it happened on the device, RFC 3339 UTC.
    pub occurred_at: String,
    /// What happened: one of [`DEVICE_AUDIT_KINDS`], e.g. `note_edited`.
    pub kind: String,
    /// The record concerned, if one.
    pub record_id: Option<Uuid>,
    /// The change id the edit was pushed with, if one, so an auditor can
    /// tie the entry to the server's own record of the write.
    pub change_id: Option<Uuid>,
}

/// `POST /v1/audit/device`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeviceAuditUpload {
    /// Oldest first; at most [`MAX_DEVICE_AUDIT_ENTRIES`] per upload.
    pub entries: Vec<DeviceAuditEntry>,
}

/// The answer to a device audit upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAuditResponse {
    /// Entries stored now.
    pub stored: u32,
    /// Entries the server already had (a retried upload); safe to drop.
    pub already_stored: u32,
}

/// Longest [`DeviceAuditEntry::kind`] accepted.
pub const MAX_DEVICE_AUDIT_KIND: usize = 40;

/// Every [`DeviceAuditEntry::kind`] the server accepts: the edits the
/// client's device audit records (`client/src/device_audit.rs`, whose test
/// keeps the two lists equal). Anything else is refused, so free text (a
/// client's name) can never reach the audit log through a kind.
// Limitation: a new kind must reach the server before the app that sends
// it, or that app's uploads are refused until the server is updated.
pub const DEVICE_AUDIT_KINDS: &[&str] = &[
    "client_created",
    "client_edited",
    "note_created",
    "note_edited",
    "note_signed",
    "note_amended",
    "conflict_kept_theirs",
];

/// Most entries in one [`DeviceAuditUpload`].
pub const MAX_DEVICE_AUDIT_ENTRIES: usize = 1000;

/// Largest note body the server accepts, in bytes of UTF-8.
pub const MAX_NOTE_BYTES: usize = 8 * 1024 * 1024;

/// Largest push request body the server reads, in bytes of JSON. A note
/// of [`MAX_NOTE_BYTES`] fits with room for JSON escaping of ordinary text
/// (line breaks and quotes double); a device sends no single change larger
/// than this, since the server would refuse the request before reading it.
pub const MAX_PUSH_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Largest page a pull returns, in records. Large on purpose: on a slow,
/// far link (3G: ~300 ms round trip) every page costs a round trip, so a
/// first sync of 20,000 notes in pages of 500 spent half a minute waiting
/// between pages. The server still ends a page at `PULL_PAGE_MAX_BYTES`
/// (16 MiB of records), so memory stays bounded however large this is.
pub const MAX_PULL_LIMIT: u32 = 5000;

/// Every error the API returns has this body, with a matching HTTP status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Machine-readable.
    pub code: ErrorCode,
    /// A sentence a person can act on. Never contains patient data or
    /// secrets.
    pub message: String,
}

/// Machine-readable error kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Wrong username or password (deliberately not saying which).
    BadCredentials,
    /// Wrong, expired or already used TOTP code.
    BadCode,
    /// The sign-in challenge is unknown or expired: start again.
    ChallengeExpired,
    /// No session, or it expired (idle or absolute).
    SessionExpired,
    /// Signed in, but not allowed.
    Forbidden,
    /// No such record (or not one the caller may know of).
    NotFound,
    /// The request body could not be understood.
    BadRequest,
    /// The request body is too large.
    TooLarge,
    /// Too many failed attempts; try again later.
    RateLimited,
    /// Something broke on the server; nothing was changed.
    Internal,
    /// This device was revoked by the clinic (lost or stolen): nothing more
    /// from it is accepted, not even a sign-in with the right password. The
    /// app deletes its local vault when it hears this.
    DeviceRevoked,
}

#[cfg(test)]
mod schedule_debug_tests {
    use super::*;

    #[test]
    fn appointments_invoices_and_bookable_clients_debug_without_the_clients_name() {
        let name = "Synthetic Client-Name";
        let appointment = Appointment {
            id: Uuid::nil(),
            client_id: Uuid::nil(),
            client_name: name.into(),
            practitioner_id: Uuid::nil(),
            practitioner_name: "Dr Synthetic".into(),
            starts_at: "2026-03-02T09:00:00Z".into(),
            duration_minutes: 50,
            status: AppointmentStatus::Booked,
        };
        let invoice = Invoice {
            id: Uuid::nil(),
            client_id: Uuid::nil(),
            client_name: name.into(),
            practitioner_id: Uuid::nil(),
            appointment_id: None,
            amount_cents: 150_000,
            status: InvoiceStatus::Issued,
            issued_at: "2026-03-02T10:00:00Z".into(),
        };
        let bookable = BookableClient {
            id: Uuid::nil(),
            display_name: name.into(),
            practitioner_id: Uuid::nil(),
            practitioner_name: "Dr Synthetic".into(),
        };
        for debug in [
            format!("{appointment:?}"),
            format!("{invoice:?}"),
            format!("{bookable:?}"),
        ] {
            assert!(!debug.contains(name), "{debug}");
        }
        // The wire names of the statuses are the stored ones.
        for s in AppointmentStatus::ALL {
            let wire = serde_json::to_value(s).unwrap();
            assert_eq!(wire, s.as_str());
            assert_eq!(AppointmentStatus::parse(s.as_str()), Some(s));
        }
        for s in InvoiceStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
