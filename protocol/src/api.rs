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

use crate::records::{ClientRecord, Record, SessionNote};

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

    /// `POST /v1/notes/{id}/cosign`, no body → [`super::Cosignature`]: a
    /// supervisor co-signs a signed note of a practitioner they supervise.
    pub const NOTE_COSIGN: &str = "/v1/notes/{id}/cosign";

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
    /// required and non-empty. Must not contain the client's name.
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
    /// The support ticket; required and non-empty.
    pub ticket: String,
    /// Where the practitioner's consent is recorded; required and non-empty.
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
    /// What happened, in lower-case words joined by `_` (at most
    /// [`MAX_DEVICE_AUDIT_KIND`] characters), e.g. `note_edited`,
    /// `client_edited`, `record_viewed_offline`.
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

/// Most entries in one [`DeviceAuditUpload`].
pub const MAX_DEVICE_AUDIT_ENTRIES: usize = 1000;

/// Largest note body the server accepts, in bytes of UTF-8.
pub const MAX_NOTE_BYTES: usize = 8 * 1024 * 1024;

/// Largest page a pull returns.
pub const MAX_PULL_LIMIT: u32 = 500;

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
}
