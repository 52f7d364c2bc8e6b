//! The operational database: accounts, sessions, clients, session notes,
//! applied changes and conflict copies.
//!
//! This module is the storage seam. The HTTP layer calls only the methods
//! of [`Store`], which speak in protocol types and ids, never in SQL; a
//! PostgreSQL store would implement the same methods. The SQLite store runs
//! in WAL mode with `synchronous=FULL`, so a change acknowledged to a
//! device survives power loss.
//!
//! Records are stored as their protocol JSON, sealed with AES-256-GCM under
//! the data directory's key and bound to their row (field-level encryption
//! on top of whatever the disk does). Ownership, version, sign state and the
//! change sequence are kept in clear columns so the server can enforce the
//! rules without opening anything.
//!
//! Sync rules, each enforced in one transaction per change:
//! - a change id is applied at most once (`applied_changes`); a retry gets
//!   `AlreadyApplied` with the version it produced;
//! - versions start at 1 and go up by 1;
//! - a change against anything but the current version is kept in
//!   `conflicts` and answered with the server's copy, never applied;
//! - a signed note never changes; a note body over `MAX_NOTE_BYTES` and a
//!   note for someone else's client are refused;
//! - corrections to a signed note are amendments: new records of their own,
//!   accepted only from the note's owner and only for a note the server
//!   holds as signed, final once stored (a different text under the same
//!   id is refused). They carry the note's client id and owner, so every
//!   device that may read the note pulls them too.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bench_protocol::api::{
    Change, ChangeOutcome, ChangeResult, ClientDetail, ClientSummary, Cosignature, NewShare,
    NewSupervision, NewSupportGrant, Practitioner, PullResponse, RejectCode, Role, ServerChange,
    Share, Supervision, SupportGrant, TeamMember, MAX_NOTE_BYTES, MAX_SUPPORT_GRANT_SECS,
};
use bench_protocol::{validate, NoteAmendment, NoteStatus, Record, RecordKind};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use uuid::Uuid;

mod owners;
mod schedule;

pub use schedule::{reach as schedule_reach, BookRefused, Reach};

use crate::audit::Event;
use crate::clock;
use crate::error::ServerError;
use crate::seal::{SealedAt, SealingKey};
use crate::totp::TotpSecret;

mod devices;
mod transfer;

pub use devices::{is_invisible_format, Revoked, Revoker, MAX_DEVICE_NAME};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS clinics (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    clinic_id TEXT REFERENCES clinics(id),
    password_hash TEXT NOT NULL,
    totp_secret BLOB,
    totp_last_step INTEGER,
    created_at TEXT NOT NULL,
    auth_epoch INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash BLOB PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    device_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS change_feed (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    owner TEXT NOT NULL REFERENCES accounts(id),
    client_id TEXT,
    version INTEGER NOT NULL,
    signed INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS records_owner_seq ON records(owner, seq);
CREATE INDEX IF NOT EXISTS records_client ON records(client_id);
CREATE TABLE IF NOT EXISTS applied_changes (
    change_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    applied_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS shares (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    owner TEXT NOT NULL REFERENCES accounts(id),
    grantee TEXT NOT NULL REFERENCES accounts(id),
    consent_reference TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS shares_grantee ON shares(grantee, client_id);
CREATE TABLE IF NOT EXISTS supervision (
    id TEXT PRIMARY KEY,
    supervisor TEXT NOT NULL REFERENCES accounts(id),
    practitioner TEXT NOT NULL REFERENCES accounts(id),
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS support_grants (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    owner TEXT NOT NULL REFERENCES accounts(id),
    operator TEXT NOT NULL REFERENCES accounts(id),
    ticket TEXT NOT NULL,
    consent_reference TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS access_events (
    seq INTEGER PRIMARY KEY,
    viewer TEXT NOT NULL,
    scope TEXT NOT NULL,
    target TEXT NOT NULL,
    granted INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS access_events_viewer ON access_events(viewer, seq);
CREATE TABLE IF NOT EXISTS cosignatures (
    note_id TEXT NOT NULL,
    supervisor TEXT NOT NULL REFERENCES accounts(id),
    cosigned_at TEXT NOT NULL,
    PRIMARY KEY (note_id, supervisor)
);
CREATE TABLE IF NOT EXISTS known_networks (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    network TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    PRIMARY KEY (account_id, network)
);
CREATE TABLE IF NOT EXISTS devices (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    device_id TEXT NOT NULL,
    device_name TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    revoked_at INTEGER,
    revoked_by TEXT,
    reason TEXT,
    whole_device INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, device_id)
);
CREATE INDEX IF NOT EXISTS devices_device ON devices(device_id);
CREATE TABLE IF NOT EXISTS conflicts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    change_id TEXT NOT NULL UNIQUE,
    record_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    base_version INTEGER,
    server_version INTEGER NOT NULL,
    pushed BLOB NOT NULL,
    received_at TEXT NOT NULL
);
";

/// An account as the server knows it.
#[derive(Clone)]
pub struct Account {
    /// Account id.
    pub id: Uuid,
    /// Sign-in name.
    pub username: String,
    /// Greeting name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Whether 2FA is set up.
    pub has_totp: bool,
    /// Raised by every credential change (password, 2FA reset, sessions
    /// revoked); a sign-in challenge issued under an older value is void.
    pub auth_epoch: i64,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Account {
    /// The account as the API shows it.
    pub fn practitioner(&self) -> Practitioner {
        Practitioner {
            id: self.id,
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            role: self.role,
        }
    }
}

/// A new account to create.
pub struct NewAccount<'a> {
    /// Sign-in name.
    pub username: &'a str,
    /// Greeting name.
    pub display_name: &'a str,
    /// Role.
    pub role: Role,
    /// Clinic, if any.
    pub clinic_id: Option<Uuid>,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// An already-enrolled TOTP secret (set up by an administrator).
    pub totp: Option<&'a TotpSecret>,
}

/// The state of a presented session token.
#[derive(Debug)]
pub enum SessionCheck {
    /// Valid; its idle clock was reset.
    Active {
        /// Who.
        account: Account,
        /// From which device.
        device_id: Uuid,
    },
    /// It was opened from a device since revoked: refused, and so is every
    /// later use, so the device hears why.
    DeviceRevoked {
        /// Who.
        account: Account,
        /// The revoked device.
        device_id: Uuid,
    },
    /// It existed but timed out (idle or absolute); now deleted.
    Expired,
    /// Never existed or signed out.
    Unknown,
}

/// What a push did, for the response and for the audit log.
pub struct PushOutcome {
    /// One per change, in order.
    pub results: Vec<ChangeResult>,
    /// Audit facts: event, record id, details.
    pub audit: Vec<(Event, Uuid, serde_json::Value)>,
}

/// Why a caller may read a client's record other than their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// They own it.
    Owner,
    /// Shared with them, with consent, by the owner (the share's id).
    Shared(Uuid),
    /// They supervise the owner (the assignment's id).
    Supervised(Uuid),
    /// An operations account with a live support grant (the grant's id).
    SupportGrant(Uuid),
}

impl Access {
    /// The name stored in audit details.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Owner => "owner",
            Access::Shared(_) => "share",
            Access::Supervised(_) => "supervision",
            Access::SupportGrant(_) => "support_grant",
        }
    }

    /// The share, assignment or grant that allowed it.
    pub fn via(self) -> Option<Uuid> {
        match self {
            Access::Owner => None,
            Access::Shared(id) | Access::Supervised(id) | Access::SupportGrant(id) => Some(id),
        }
    }
}

/// A request about sharing, supervision or support grants that the store
/// refused, with a sentence for the caller.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    /// True when the caller may not do this at all; false when the request
    /// is incomplete (a missing ticket or consent).
    pub forbidden: bool,
    /// What to do about it.
    pub message: &'static str,
}

fn forbidden(message: &'static str) -> Refused {
    Refused {
        forbidden: true,
        message,
    }
}

/// The refusal of a consent reference that is not a code
/// ([`validate::reference`]).
const BAD_CONSENT_REFERENCE: &str = "The consent reference must be a reference such as \
     CF-2026-014, not a name: letters, digits and - _ / # . : only, no spaces, at least one \
     digit, at most 40 characters.";

fn incomplete(message: &'static str) -> Refused {
    Refused {
        forbidden: false,
        message,
    }
}

/// A request that is wrong rather than forbidden (answered 400): the same
/// assignment twice, or an account of the wrong kind.
fn bad_request(message: &'static str) -> Refused {
    incomplete(message)
}

/// The SQLite operational store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    key: Arc<SealingKey>,
}

struct ExistingRecord {
    kind: String,
    owner: String,
    version: i64,
    signed: bool,
    data: Vec<u8>,
}

/// The most record bytes one pull page carries (besides a single record
/// or share group larger than this, which goes alone): with notes up to
/// `MAX_NOTE_BYTES` (8 MiB), a page of `limit` records could otherwise run
/// to gigabytes, held in memory on both sides.
// Limitation: a share or supervision that begins brings all of that
// client's (or practitioner's) records as one group, which is never split,
// so such a page can exceed this bound.
pub const PULL_PAGE_MAX_BYTES: usize = 16 * 1024 * 1024;

impl Store {
    /// Opens (creating the schema if needed) the database at `path`.
    pub fn open(path: &Path, key: Arc<SealingKey>) -> Result<Store, ServerError> {
        let db = |e| ServerError::database(path, e);
        let conn = Connection::open(path).map_err(db)?;
        // The first real read is what reveals a file that is not SQLite.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(db)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
        )
        .map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        conn.execute_batch(schedule::SCHEMA).map_err(db)?;
        let has_epoch: i64 = conn
            .query_row(
                "SELECT count(*) FROM pragma_table_info('accounts') WHERE name = 'auth_epoch'",
                [],
                |r| r.get(0),
            )
            .map_err(db)?;
        if has_epoch == 0 {
            conn.execute_batch(
                "ALTER TABLE accounts ADD COLUMN auth_epoch INTEGER NOT NULL DEFAULT 0;",
            )
            .map_err(db)?;
        }
        Ok(Store {
            conn,
            path: path.to_owned(),
            key,
        })
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> ServerError + '_ {
        move |e| ServerError::database(&self.path, e)
    }

    /// Creates a clinic and returns its id.
    pub fn create_clinic(&self, name: &str) -> Result<Uuid, ServerError> {
        let id = Uuid::new_v4();
        self.conn
            .execute(
                "INSERT INTO clinics (id, name, created_at) VALUES (?1, ?2, ?3)",
                params![id.to_string(), name, clock::now_rfc3339()],
            )
            .map_err(self.db())?;
        Ok(id)
    }

    /// Creates an account and returns its id.
    pub fn create_account(&self, new: NewAccount<'_>) -> Result<Uuid, ServerError> {
        let id = Uuid::new_v4();
        let sealed = new
            .totp
            .map(|s| self.key.seal(s.as_bytes(), totp_place(&id.to_string())));
        let result = self.conn.execute(
            "INSERT INTO accounts (id, username, display_name, role, clinic_id, password_hash, totp_secret, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                id.to_string(),
                new.username,
                new.display_name,
                new.role.as_str(),
                new.clinic_id.map(|c| c.to_string()),
                new.password_hash,
                sealed,
                clock::now_rfc3339()
            ],
        );
        match result {
            Ok(_) => Ok(id),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(ServerError::UserExists {
                    username: new.username.to_string(),
                })
            }
            Err(e) => Err(self.db()(e)),
        }
    }

    /// Sets a new password hash, ending every session and pending sign-in
    /// of the account: whoever knew the old password must not stay in.
    /// Returns the account and the sessions ended, `None` when no such user
    /// exists.
    pub fn set_password(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<Option<(Uuid, usize)>, ServerError> {
        self.change_credentials(username, Some(password_hash), false)
    }

    /// Ends every session and pending sign-in of an account.
    pub fn revoke_sessions(&self, username: &str) -> Result<Option<(Uuid, usize)>, ServerError> {
        self.change_credentials(username, None, false)
    }

    /// Removes an account's 2FA secret so it must enrol again at its next
    /// sign-in, ending its sessions and pending sign-ins.
    pub fn reset_totp(&self, username: &str) -> Result<Option<(Uuid, usize)>, ServerError> {
        self.change_credentials(username, None, true)
    }

    fn change_credentials(
        &self,
        username: &str,
        password_hash: Option<&str>,
        reset_totp: bool,
    ) -> Result<Option<(Uuid, usize)>, ServerError> {
        let db = self.db();
        let tx = self.conn.unchecked_transaction().map_err(&db)?;
        let id: Option<String> = tx
            .query_row(
                "SELECT id FROM accounts WHERE username = ?1",
                [username],
                |r| r.get(0),
            )
            .optional()
            .map_err(&db)?;
        let Some(id) = id else {
            return Ok(None);
        };
        if let Some(hash) = password_hash {
            tx.execute(
                "UPDATE accounts SET password_hash = ?2 WHERE id = ?1",
                params![id, hash],
            )
            .map_err(&db)?;
        }
        if reset_totp {
            tx.execute(
                "UPDATE accounts SET totp_secret = NULL, totp_last_step = NULL WHERE id = ?1",
                [&id],
            )
            .map_err(&db)?;
        }
        tx.execute(
            "UPDATE accounts SET auth_epoch = auth_epoch + 1 WHERE id = ?1",
            [&id],
        )
        .map_err(&db)?;
        let ended = tx
            .execute("DELETE FROM sessions WHERE account_id = ?1", [&id])
            .map_err(&db)?;
        tx.commit().map_err(&db)?;
        Ok(id.parse().ok().map(|id| (id, ended)))
    }

    fn account_where(&self, clause: &str, value: &str) -> Result<Option<Account>, ServerError> {
        let sql = format!(
            "SELECT id, username, display_name, role, password_hash, totp_secret IS NOT NULL, auth_epoch
             FROM accounts WHERE {clause} = ?1"
        );
        let row = self
            .conn
            .query_row(&sql, [value], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, bool>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })
            .optional()
            .map_err(self.db())?;
        Ok(row.and_then(
            |(id, username, display_name, role, password_hash, has_totp, auth_epoch)| {
                Some(Account {
                    id: id.parse().ok()?,
                    username,
                    display_name,
                    role: Role::parse(&role)?,
                    password_hash,
                    has_totp,
                    auth_epoch,
                })
            },
        ))
    }

    /// How many accounts exist.
    pub fn account_count(&self) -> Result<i64, ServerError> {
        self.conn
            .query_row("SELECT count(*) FROM accounts", [], |r| r.get(0))
            .map_err(|e| ServerError::database(&self.path, e))
    }

    /// Finds an account by sign-in name.
    pub fn account_by_username(&self, username: &str) -> Result<Option<Account>, ServerError> {
        self.account_where("username", username)
    }

    /// Finds an account by id.
    pub fn account_by_id(&self, id: Uuid) -> Result<Option<Account>, ServerError> {
        self.account_where("id", &id.to_string())
    }

    /// The account's TOTP secret, unsealed; `None` if not enrolled or if the
    /// sealed value does not open (wrong key or altered row).
    pub fn totp_secret(&self, account: Uuid) -> Result<Option<TotpSecret>, ServerError> {
        let id = account.to_string();
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT totp_secret FROM accounts WHERE id = ?1",
                [&id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.db())?
            .flatten();
        Ok(sealed
            .and_then(|s| self.key.open(&s, totp_place(&id)))
            .map(|bytes| TotpSecret::from_bytes(bytes.to_vec())))
    }

    /// Records that `step` was used, if it is later than any step used
    /// before. Returns false for a replay. Atomic: two requests racing with
    /// the same code cannot both win.
    pub fn claim_totp_step(&self, account: Uuid, step: u64) -> Result<bool, ServerError> {
        let n = self
            .conn
            .execute(
                "UPDATE accounts SET totp_last_step = ?2
                 WHERE id = ?1 AND (totp_last_step IS NULL OR totp_last_step < ?2)",
                params![account.to_string(), step as i64],
            )
            .map_err(self.db())?;
        Ok(n == 1)
    }

    /// Stores a confirmed TOTP secret for an account that has none yet,
    /// marking `step` as used. Returns false if the account already enrolled.
    pub fn enrol_totp(
        &self,
        account: Uuid,
        secret: &TotpSecret,
        step: u64,
    ) -> Result<bool, ServerError> {
        let id = account.to_string();
        let sealed = self.key.seal(secret.as_bytes(), totp_place(&id));
        let n = self
            .conn
            .execute(
                "UPDATE accounts SET totp_secret = ?2, totp_last_step = ?3
                 WHERE id = ?1 AND totp_secret IS NULL",
                params![id, sealed, step as i64],
            )
            .map_err(self.db())?;
        Ok(n == 1)
    }

    /// Starts a session for a token (stored as its hash only).
    pub fn create_session(
        &self,
        token_hash: &[u8],
        account: Uuid,
        device_id: Uuid,
        now: u64,
        expires_at: u64,
    ) -> Result<(), ServerError> {
        self.conn
            .execute(
                "INSERT INTO sessions (token_hash, account_id, device_id, created_at, last_seen, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
                params![token_hash, account.to_string(), device_id.to_string(), now as i64, expires_at as i64],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// Checks a session token hash and, if valid, resets its idle clock.
    pub fn touch_session(
        &self,
        token_hash: &[u8],
        now: u64,
        idle_secs: u64,
    ) -> Result<SessionCheck, ServerError> {
        let row: Option<(String, String, i64, i64)> = self
            .conn
            .query_row(
                "SELECT account_id, device_id, last_seen, expires_at FROM sessions WHERE token_hash = ?1",
                [token_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(self.db())?;
        let Some((account_id, device_id, last_seen, expires_at)) = row else {
            return Ok(SessionCheck::Unknown);
        };
        let now_i = now as i64;
        // Revocation is checked before expiry, so a stale token from a
        // revoked device still hears "revoked" (and its app wipes the vault).
        if let (Ok(device), Ok(account)) = (device_id.parse(), account_id.parse()) {
            if self.device_revoked(device, Some(account))? {
                let account = self.account_by_id(account)?;
                if now_i >= expires_at {
                    self.delete_session(token_hash)?;
                }
                if let Some(account) = account {
                    return Ok(SessionCheck::DeviceRevoked {
                        account,
                        device_id: device,
                    });
                }
            }
        }
        if now_i - last_seen > idle_secs as i64 || now_i >= expires_at {
            self.delete_session(token_hash)?;
            return Ok(SessionCheck::Expired);
        }
        let account = account_id
            .parse()
            .ok()
            .map(|id| self.account_by_id(id))
            .transpose()?
            .flatten();
        let (Some(account), Ok(device_id)) = (account, device_id.parse()) else {
            self.delete_session(token_hash)?;
            return Ok(SessionCheck::Unknown);
        };
        self.conn
            .execute(
                "UPDATE sessions SET last_seen = ?2 WHERE token_hash = ?1",
                params![token_hash, now_i],
            )
            .map_err(self.db())?;
        Ok(SessionCheck::Active { account, device_id })
    }

    /// Who owns the client record `client_id`, if it exists.
    pub fn client_owner(&self, client_id: Uuid) -> Result<Option<Uuid>, ServerError> {
        let owner: Option<String> = self
            .conn
            .query_row(
                "SELECT owner FROM records WHERE id = ?1 AND kind = 'client'",
                [client_id.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.db())?;
        Ok(owner.and_then(|o| o.parse().ok()))
    }

    /// Whether `viewer` may read client `client_id`'s record now, and why.
    /// This is the one place read access is decided; `None` means the
    /// caller must be told the record does not exist.
    pub fn access(
        &self,
        viewer: &Account,
        client_id: Uuid,
        now: u64,
    ) -> Result<Option<(Uuid, Access)>, ServerError> {
        let Some(owner) = self.client_owner(client_id)? else {
            return Ok(None);
        };
        let (v, c, o) = (
            viewer.id.to_string(),
            client_id.to_string(),
            owner.to_string(),
        );
        let one = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> Result<Option<Uuid>, ServerError> {
            let id: Option<String> = self
                .conn
                .query_row(sql, p, |r| r.get(0))
                .optional()
                .map_err(self.db())?;
            Ok(id.and_then(|i| i.parse().ok()))
        };
        let access = match viewer.role {
            Role::SoloPractitioner | Role::ClinicPractitioner | Role::Supervisor
                if owner == viewer.id =>
            {
                Some(Access::Owner)
            }
            Role::ClinicPractitioner => one(
                "SELECT id FROM shares WHERE grantee = ?1 AND client_id = ?2 AND owner = ?3 AND revoked_at IS NULL",
                &[&v, &c, &o],
            )?
            .map(Access::Shared),
            Role::Supervisor => one(
                "SELECT id FROM supervision WHERE supervisor = ?1 AND practitioner = ?2 AND revoked_at IS NULL",
                &[&v, &o],
            )?
            .map(Access::Supervised),
            Role::Operations => one(
                "SELECT id FROM support_grants WHERE operator = ?1 AND client_id = ?2 AND owner = ?3 AND expires_at > ?4",
                &[&v, &c, &o, &(now as i64)],
            )?
            .map(Access::SupportGrant),
            Role::SoloPractitioner | Role::ClinicAdmin => None,
        };
        Ok(access.map(|a| (owner, a)))
    }

    /// Shares a client's record with a clinic colleague.
    pub fn create_share(
        &self,
        owner: &Account,
        req: &NewShare,
    ) -> Result<Result<Share, Refused>, ServerError> {
        if req.consent_reference.trim().is_empty() {
            return Ok(Err(incomplete(
                "Record where the client's consent is kept (consent_reference) before sharing.",
            )));
        }
        // Stored and audited in plain text: a code, never a name.
        if validate::reference("consent_reference", "", req.consent_reference.trim()).is_err() {
            return Ok(Err(incomplete(BAD_CONSENT_REFERENCE)));
        }
        if self.client_owner(req.client_id)? != Some(owner.id) {
            return Ok(Err(forbidden(
                "You can share only your own clients' records.",
            )));
        }
        let grantee = self.account_by_id(req.grantee_id)?;
        if grantee.as_ref().map(|g| g.role) != Some(Role::ClinicPractitioner)
            || req.grantee_id == owner.id
        {
            return Ok(Err(forbidden(
                "A record can be shared only with a clinic practitioner colleague.",
            )));
        }
        let live: Option<String> = self
            .conn
            .query_row(
                "SELECT id FROM shares WHERE client_id = ?1 AND owner = ?2 AND grantee = ?3 AND revoked_at IS NULL",
                params![req.client_id.to_string(), owner.id.to_string(), req.grantee_id.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.db())?;
        if live.is_some() {
            return Ok(Err(bad_request(
                "This record is already shared with that colleague; revoke the existing share before making a new one.",
            )));
        }
        let share = Share {
            id: Uuid::new_v4(),
            client_id: req.client_id,
            owner_id: owner.id,
            grantee_id: req.grantee_id,
            consent_reference: req.consent_reference.trim().to_string(),
            created_at: clock::now_rfc3339(),
            revoked_at: None,
        };
        self.conn
            .execute(
                "INSERT INTO shares (id, client_id, owner, grantee, consent_reference, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![share.id.to_string(), share.client_id.to_string(), share.owner_id.to_string(), share.grantee_id.to_string(), share.consent_reference, share.created_at],
            )
            .map_err(self.db())?;
        self.access_event(share.grantee_id, "client", share.client_id, true)?;
        Ok(Ok(share))
    }

    /// Revokes a share the caller made; false when there is no such live
    /// share of theirs.
    pub fn revoke_share(&self, owner: Uuid, id: Uuid) -> Result<bool, ServerError> {
        let share: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT grantee, client_id FROM shares WHERE id = ?1 AND owner = ?2 AND revoked_at IS NULL",
                params![id.to_string(), owner.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.db())?;
        let Some((grantee, client_id)) = share else {
            return Ok(false);
        };
        let n = self
            .conn
            .execute(
                // Every live share of this client with this grantee ends, so
                // a duplicate left by an older server cannot keep access open.
                "UPDATE shares SET revoked_at = ?4 WHERE owner = ?1 AND grantee = ?2 AND client_id = ?3 AND revoked_at IS NULL",
                params![owner.to_string(), &grantee, &client_id, clock::now_rfc3339()],
            )
            .map_err(self.db())?;
        if let (Ok(grantee), Ok(client_id)) = (grantee.parse(), client_id.parse()) {
            self.access_event(grantee, "client", client_id, false)?;
        }
        Ok(n >= 1)
    }

    /// Shares the account made or received.
    pub fn shares_of(&self, account: Uuid) -> Result<Vec<Share>, ServerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, client_id, owner, grantee, consent_reference, created_at, revoked_at FROM shares WHERE owner = ?1 OR grantee = ?1 ORDER BY created_at")
            .map_err(self.db())?;
        let rows = stmt
            .query_map([account.to_string()], |r| {
                let id = |i: usize| -> rusqlite::Result<Uuid> {
                    let s: String = r.get(i)?;
                    Ok(s.parse().unwrap_or_default())
                };
                Ok(Share {
                    id: id(0)?,
                    client_id: id(1)?,
                    owner_id: id(2)?,
                    grantee_id: id(3)?,
                    consent_reference: r.get(4)?,
                    created_at: r.get(5)?,
                    revoked_at: r.get(6)?,
                })
            })
            .map_err(self.db())?;
        rows.collect::<Result<_, _>>().map_err(self.db())
    }

    /// Every account, for the clinic admin: ids, names and roles only.
    // Limitation: one server serves one clinic, so the team is every
    // account; a multi-clinic server would filter on accounts.clinic_id.
    pub fn team(&self) -> Result<Vec<TeamMember>, ServerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, username, display_name, role, totp_secret IS NOT NULL FROM accounts ORDER BY username")
            .map_err(self.db())?;
        let rows = stmt
            .query_map([], |r| {
                let id: String = r.get(0)?;
                let role: String = r.get(3)?;
                Ok(TeamMember {
                    id: id.parse().unwrap_or_default(),
                    username: r.get(1)?,
                    display_name: r.get(2)?,
                    role: Role::parse(&role).unwrap_or(Role::SoloPractitioner),
                    has_totp: r.get(4)?,
                })
            })
            .map_err(self.db())?;
        rows.collect::<Result<_, _>>().map_err(self.db())
    }

    /// Assigns a supervisor to a practitioner.
    pub fn create_supervision(
        &self,
        req: &NewSupervision,
    ) -> Result<Result<Supervision, Refused>, ServerError> {
        let role = |id| -> Result<Option<Role>, ServerError> {
            Ok(self.account_by_id(id)?.map(|a| a.role))
        };
        if role(req.supervisor_id)? != Some(Role::Supervisor) {
            return Ok(Err(bad_request(
                "The chosen supervisor's account is not a supervisor.",
            )));
        }
        if !matches!(
            role(req.practitioner_id)?,
            Some(Role::SoloPractitioner | Role::ClinicPractitioner)
        ) {
            return Ok(Err(bad_request(
                "The chosen practitioner's account is not a practitioner (solo or clinic).",
            )));
        }
        let live: Option<String> = self
            .conn
            .query_row(
                "SELECT id FROM supervision WHERE supervisor = ?1 AND practitioner = ?2 AND revoked_at IS NULL",
                params![req.supervisor_id.to_string(), req.practitioner_id.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.db())?;
        if live.is_some() {
            return Ok(Err(bad_request(
                "This supervisor is already assigned to this practitioner; end that assignment before making a new one.",
            )));
        }
        let sup = Supervision {
            id: Uuid::new_v4(),
            supervisor_id: req.supervisor_id,
            practitioner_id: req.practitioner_id,
            created_at: clock::now_rfc3339(),
            revoked_at: None,
        };
        self.conn
            .execute(
                "INSERT INTO supervision (id, supervisor, practitioner, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![sup.id.to_string(), sup.supervisor_id.to_string(), sup.practitioner_id.to_string(), sup.created_at],
            )
            .map_err(self.db())?;
        self.access_event(sup.supervisor_id, "practitioner", sup.practitioner_id, true)?;
        Ok(Ok(sup))
    }

    /// Ends a supervision assignment (and any duplicate of the same pair);
    /// false when there is no live one.
    pub fn revoke_supervision(&self, id: Uuid) -> Result<bool, ServerError> {
        let live: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT supervisor, practitioner FROM supervision WHERE id = ?1 AND revoked_at IS NULL",
                [id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.db())?;
        let Some((supervisor, practitioner)) = live else {
            return Ok(false);
        };
        let n = self
            .conn
            .execute(
                // Every live assignment of this pair ends, so a duplicate
                // left by an older server cannot keep access open.
                "UPDATE supervision SET revoked_at = ?3 WHERE supervisor = ?1 AND practitioner = ?2 AND revoked_at IS NULL",
                params![&supervisor, &practitioner, clock::now_rfc3339()],
            )
            .map_err(self.db())?;
        if let (Ok(supervisor), Ok(practitioner)) = (supervisor.parse(), practitioner.parse()) {
            self.access_event(supervisor, "practitioner", practitioner, false)?;
        }
        Ok(n >= 1)
    }

    /// Every supervision assignment, newest last.
    pub fn supervisions(&self) -> Result<Vec<Supervision>, ServerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, supervisor, practitioner, created_at, revoked_at FROM supervision ORDER BY created_at")
            .map_err(self.db())?;
        let rows = stmt
            .query_map([], |r| {
                let id = |i: usize| -> rusqlite::Result<Uuid> {
                    let s: String = r.get(i)?;
                    Ok(s.parse().unwrap_or_default())
                };
                Ok(Supervision {
                    id: id(0)?,
                    supervisor_id: id(1)?,
                    practitioner_id: id(2)?,
                    created_at: r.get(3)?,
                    revoked_at: r.get(4)?,
                })
            })
            .map_err(self.db())?;
        rows.collect::<Result<_, _>>().map_err(self.db())
    }

    /// Records a supervisor's co-signature of a signed note by a
    /// practitioner they supervise. The note itself is not changed: a
    /// supervisor never writes clinical content for others' clients.
    /// `None` when the caller may not see the note (answer "not found").
    pub fn cosign(
        &self,
        supervisor: &Account,
        note_id: Uuid,
        now: u64,
    ) -> Result<Option<Result<Cosignature, Refused>>, ServerError> {
        let note: Option<(Option<String>, bool)> = self
            .conn
            .query_row(
                "SELECT client_id, signed FROM records WHERE id = ?1 AND kind = 'note'",
                [note_id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.db())?;
        let Some((Some(client_id), signed)) = note else {
            return Ok(None);
        };
        let Ok(client_id) = client_id.parse() else {
            return Ok(None);
        };
        match self.access(supervisor, client_id, now)? {
            Some((_, Access::Supervised(_))) => {}
            Some(_) => {
                return Ok(Some(Err(forbidden(
                    "Only a supervisor assigned to this practitioner can co-sign their notes.",
                ))))
            }
            None => return Ok(None),
        }
        if !signed {
            return Ok(Some(Err(incomplete(
                "This note is still a draft; it can be co-signed once the practitioner signs it.",
            ))));
        }
        let cosig = Cosignature {
            note_id,
            supervisor_id: supervisor.id,
            cosigned_at: clock::now_rfc3339(),
        };
        self.conn
            .execute(
                "INSERT OR IGNORE INTO cosignatures (note_id, supervisor, cosigned_at) VALUES (?1, ?2, ?3)",
                params![note_id.to_string(), supervisor.id.to_string(), cosig.cosigned_at],
            )
            .map_err(self.db())?;
        Ok(Some(Ok(cosig)))
    }

    /// Lets an operations account open one of the owner's client records
    /// for a ticket, until it expires.
    pub fn create_support_grant(
        &self,
        owner: &Account,
        req: &NewSupportGrant,
        now: u64,
    ) -> Result<Result<SupportGrant, Refused>, ServerError> {
        if req.ticket.trim().is_empty() || req.consent_reference.trim().is_empty() {
            return Ok(Err(incomplete(
                "A support grant needs both the support ticket and where your consent is recorded.",
            )));
        }
        // Stored and audited in plain text: codes, never a name.
        if validate::reference("ticket", "", req.ticket.trim()).is_err() {
            return Ok(Err(incomplete(
                "The support ticket must be a reference such as TICKET-77 or #4411, not a name: \
                 letters, digits and - _ / # . : only, no spaces, at least one digit, at most 40 \
                 characters.",
            )));
        }
        if validate::reference("consent_reference", "", req.consent_reference.trim()).is_err() {
            return Ok(Err(incomplete(BAD_CONSENT_REFERENCE)));
        }
        if req.duration_secs == 0 || req.duration_secs > MAX_SUPPORT_GRANT_SECS {
            return Ok(Err(incomplete(
                "A support grant lasts between one second and four hours.",
            )));
        }
        if self.client_owner(req.client_id)? != Some(owner.id) {
            return Ok(Err(forbidden(
                "You can grant access only to your own clients' records.",
            )));
        }
        if self.account_by_id(req.operator_id)?.map(|a| a.role) != Some(Role::Operations) {
            return Ok(Err(bad_request(
                "The chosen support account is not an operations account.",
            )));
        }
        let expires_at = now + req.duration_secs;
        let grant = SupportGrant {
            id: Uuid::new_v4(),
            client_id: req.client_id,
            operator_id: req.operator_id,
            ticket: req.ticket.trim().to_string(),
            expires_at: clock::unix_to_rfc3339(expires_at),
        };
        self.conn
            .execute(
                "INSERT INTO support_grants (id, client_id, owner, operator, ticket, consent_reference, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![grant.id.to_string(), grant.client_id.to_string(), owner.id.to_string(), grant.operator_id.to_string(), grant.ticket, req.consent_reference.trim(), now as i64, expires_at as i64],
            )
            .map_err(self.db())?;
        Ok(Ok(grant))
    }

    /// Remembers that `account` signed in from `network`. Returns true when
    /// the network is new for an account that had signed in before (the
    /// new-network alert); an account's first network is only remembered.
    pub fn note_network(&self, account: Uuid, network: &str) -> Result<bool, ServerError> {
        let known: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM known_networks WHERE account_id = ?1",
                [account.to_string()],
                |r| r.get(0),
            )
            .map_err(self.db())?;
        let added = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO known_networks (account_id, network, first_seen) VALUES (?1, ?2, ?3)",
                params![account.to_string(), network, clock::now_rfc3339()],
            )
            .map_err(self.db())?;
        Ok(added == 1 && known > 0)
    }

    /// Ends a session.
    pub fn delete_session(&self, token_hash: &[u8]) -> Result<(), ServerError> {
        self.conn
            .execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])
            .map_err(self.db())?;
        Ok(())
    }

    fn open_record(&self, id: &str, sealed: &[u8]) -> Result<Record, ServerError> {
        let json =
            self.key
                .open(sealed, record_place(id))
                .ok_or_else(|| ServerError::Database {
                    path: self.path.clone(),
                    source: rusqlite::Error::InvalidColumnType(
                        0,
                        format!("records.data of {id} does not open"),
                        rusqlite::types::Type::Blob,
                    ),
                })?;
        serde_json::from_slice(&json).map_err(|e| ServerError::Database {
            path: self.path.clone(),
            source: rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Blob,
                Box::new(e),
            ),
        })
    }

    /// The owner's clients, by name.
    pub fn list_clients(&self, owner: Uuid) -> Result<Vec<ClientSummary>, ServerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.id, r.version, r.data,
                        (SELECT count(*) FROM records n WHERE n.kind = 'note' AND n.client_id = r.id)
                 FROM records r WHERE r.owner = ?1 AND r.kind = 'client'",
            )
            .map_err(self.db())?;
        let rows = stmt
            .query_map([owner.to_string()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, u32>(3)?,
                ))
            })
            .map_err(self.db())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.db())?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, version, data, note_count) in rows {
            if let Record::Client(client) = self.open_record(&id, &data)? {
                out.push(ClientSummary {
                    client,
                    version,
                    note_count,
                });
            }
        }
        out.sort_by(|a, b| {
            a.client
                .full_name
                .to_lowercase()
                .cmp(&b.client.full_name.to_lowercase())
        });
        Ok(out)
    }

    /// One of the owner's clients with their notes and the notes'
    /// amendments; `None` if no such client belongs to the owner (whether or
    /// not it exists).
    // Limitation: every note of the client is returned in one answer,
    // unbounded in bytes (a pull page is bounded by `PULL_PAGE_MAX_BYTES`);
    // a client with many large notes makes a large answer. Paging it needs a
    // protocol change (a cursor on `ClientDetail`).
    pub fn client_detail(
        &self,
        owner: Uuid,
        id: Uuid,
    ) -> Result<Option<ClientDetail>, ServerError> {
        let id_s = id.to_string();
        let data: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT data FROM records WHERE id = ?1 AND owner = ?2 AND kind = 'client'",
                params![id_s, owner.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.db())?;
        let Some(data) = data else { return Ok(None) };
        let Record::Client(client) = self.open_record(&id_s, &data)? else {
            return Ok(None);
        };

        let mut stmt = self
            .conn
            .prepare("SELECT id, data FROM records WHERE kind IN ('note', 'amendment') AND client_id = ?1 AND owner = ?2")
            .map_err(self.db())?;
        let rows = stmt
            .query_map(params![id_s, owner.to_string()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(self.db())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.db())?;
        let mut notes = Vec::with_capacity(rows.len());
        let mut amendments = Vec::new();
        for (record_id, data) in rows {
            match self.open_record(&record_id, &data)? {
                Record::Note(n) => notes.push(n),
                Record::Amendment(a) => amendments.push(a),
                Record::Client(_) => {}
            }
        }
        notes.sort_by(|a, b| {
            (&a.session_date, &a.created_at).cmp(&(&b.session_date, &b.created_at))
        });
        amendments.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(Some(ClientDetail {
            client,
            notes,
            amendments,
        }))
    }

    /// What `viewer` may see besides their own records, as SQL over
    /// `records r` with `?1` = viewer id, `?2` = viewer role. Must agree with
    /// [`Store::access`].
    const VISIBLE: &'static str = "(r.owner = ?1
        OR (?2 = 'clinic_practitioner' AND EXISTS (SELECT 1 FROM shares s
              WHERE s.grantee = ?1 AND s.revoked_at IS NULL AND s.owner = r.owner
                AND (s.client_id = r.id OR s.client_id = r.client_id)))
        OR (?2 = 'supervisor' AND EXISTS (SELECT 1 FROM supervision p
              WHERE p.supervisor = ?1 AND p.revoked_at IS NULL AND p.practitioner = r.owner)))";

    /// [`Store::VISIBLE`], but a record seen through a share or assignment
    /// only when written after it began: older ones arrive with the
    /// beginning itself (see [`Store::pull`]), so none arrives twice.
    const VISIBLE_SINCE: &'static str = "(r.owner = ?1
        OR (?2 = 'clinic_practitioner' AND EXISTS (SELECT 1 FROM shares s
              WHERE s.grantee = ?1 AND s.revoked_at IS NULL AND s.owner = r.owner
                AND (s.client_id = r.id OR s.client_id = r.client_id)
                AND r.seq > (SELECT max(e.seq) FROM access_events e WHERE e.viewer = ?1
                             AND e.scope = 'client' AND e.target = s.client_id AND e.granted = 1)))
        OR (?2 = 'supervisor' AND EXISTS (SELECT 1 FROM supervision p
              WHERE p.supervisor = ?1 AND p.revoked_at IS NULL AND p.practitioner = r.owner
                AND r.seq > (SELECT max(e.seq) FROM access_events e WHERE e.viewer = ?1
                             AND e.scope = 'practitioner' AND e.target = r.owner AND e.granted = 1))))";

    /// Records a share or assignment starting or ending, at a new position
    /// of the change feed, so the viewer's next pull hears of it.
    fn access_event(
        &self,
        viewer: Uuid,
        scope: &str,
        target: Uuid,
        granted: bool,
    ) -> Result<(), ServerError> {
        self.conn
            .execute(
                "INSERT INTO change_feed (record_id) VALUES (?1)",
                [format!("access:{scope}:{target}")],
            )
            .map_err(self.db())?;
        let seq = self.conn.last_insert_rowid();
        self.conn
            .execute(
                "INSERT INTO access_events (seq, viewer, scope, target, granted) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![seq, viewer.to_string(), scope, target.to_string(), granted],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// The records `viewer` may see that changed after `after`, and those
    /// that stopped being visible, oldest first, in pages of about `limit`
    /// (a share's records arrive together, so a page may run over).
    pub fn pull(
        &self,
        viewer: &Account,
        after: i64,
        limit: u32,
    ) -> Result<PullResponse, ServerError> {
        type Row = (String, i64, i64, Vec<u8>);
        let v = viewer.id.to_string();
        let role = viewer.role.as_str();
        let fetch = limit as i64 + 1;
        let row = |r: &rusqlite::Row<'_>| -> rusqlite::Result<Row> {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        };

        // Records changed after the cursor, each its own group.
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT r.id, r.seq, r.version, r.data FROM records r
                 WHERE r.seq > ?3 AND {} ORDER BY r.seq LIMIT ?4",
                Self::VISIBLE_SINCE
            ))
            .map_err(self.db())?;
        let rows: Vec<Row> = stmt
            .query_map(params![v, role, after, fetch], row)
            .map_err(self.db())?
            .collect::<Result<_, _>>()
            .map_err(self.db())?;
        let records_full = rows.len() as i64 == fetch;
        // (cursor, records, removed ids)
        let mut groups: Vec<(i64, Vec<Row>, Vec<Uuid>)> = rows
            .into_iter()
            .map(|r| (r.1, vec![r], Vec::new()))
            .collect();

        // Shares and assignments that began or ended after the cursor: a
        // beginning brings the records already there, an end removes them.
        let mut stmt = self
            .conn
            .prepare("SELECT seq, scope, target, granted FROM access_events WHERE viewer = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")
            .map_err(self.db())?;
        let events: Vec<(i64, String, String, bool)> = stmt
            .query_map(params![v, after, fetch], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(self.db())?
            .collect::<Result<_, _>>()
            .map_err(self.db())?;
        let events_full = events.len() as i64 == fetch;
        for (seq, scope, target, granted) in events {
            let in_scope = if scope == "client" {
                "(r.id = ?3 OR r.client_id = ?3)"
            } else {
                "r.owner = ?3"
            };
            // The latest beginning brings the records written before it
            // that are still visible; later ones come through the query
            // above at their own place. An end lists what is no longer
            // visible.
            let which = if granted {
                "r.seq < ?4 AND ?4 = (SELECT max(e.seq) FROM access_events e
                    WHERE e.viewer = ?1 AND e.scope = ?5 AND e.target = ?3 AND e.granted = 1) AND "
            } else {
                "?4 = ?4 AND ?5 = ?5 AND NOT "
            };
            let mut stmt = self
                .conn
                .prepare(&format!(
                    "SELECT r.id, r.seq, r.version, r.data FROM records r
                     WHERE {in_scope} AND {which}{}",
                    Self::VISIBLE
                ))
                .map_err(self.db())?;
            let rows: Vec<Row> = stmt
                .query_map(params![v, role, target, seq, scope], row)
                .map_err(self.db())?
                .collect::<Result<_, _>>()
                .map_err(self.db())?;
            if granted {
                groups.push((seq, rows, Vec::new()));
            } else {
                let ids = rows.iter().filter_map(|r| r.0.parse().ok()).collect();
                groups.push((seq, Vec::new(), ids));
            }
        }
        groups.sort_by_key(|g| g.0);

        let total = groups.len();
        let mut taken = 0usize;
        let mut items = 0usize;
        let mut bytes = 0usize;
        let mut next_cursor = after;
        let mut changes: Vec<ServerChange> = Vec::new();
        let mut removed = Vec::new();
        for (cursor, rows, gone) in groups {
            if items >= limit as usize {
                break;
            }
            // The stored (sealed) size stands in for the record's size in
            // the answer: it is the record's JSON plus a few bytes of nonce
            // and tag. A group is never split, and the first always goes in,
            // so every page makes progress.
            let group_bytes: usize = rows.iter().map(|r| r.3.len()).sum();
            if taken > 0 && bytes + group_bytes > PULL_PAGE_MAX_BYTES {
                break;
            }
            bytes += group_bytes;
            items += rows.len() + gone.len();
            taken += 1;
            next_cursor = cursor;
            for (id, _, version, data) in rows {
                let record = self.open_record(&id, &data)?;
                // The newest mention of a record in a page wins.
                changes.retain(|c| c.record.id() != record.id());
                changes.push(ServerChange {
                    cursor,
                    version,
                    record,
                    // Filled by `Store::fill_owners`.
                    owner_id: None,
                });
            }
            removed.extend(gone);
        }
        let more = taken < total || ((records_full || events_full) && taken == total);
        Ok(PullResponse {
            changes,
            next_cursor,
            more,
            removed,
        })
    }

    /// The distinct clients whose records among `record_ids` belong to
    /// someone other than `viewer` (seen through a share or a
    /// supervision): a client record counts as itself, a note or other
    /// record as the client it is about. For the bulk-access alert, which
    /// counts reads of other practitioners' clients.
    pub fn clients_of_others(
        &self,
        viewer: Uuid,
        record_ids: &[Uuid],
    ) -> Result<Vec<Uuid>, ServerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT coalesce(client_id, id) FROM records WHERE id = ?1 AND owner != ?2")
            .map_err(self.db())?;
        let viewer = viewer.to_string();
        let mut clients = Vec::new();
        for id in record_ids {
            let client: Option<String> = stmt
                .query_row(params![id.to_string(), viewer], |r| r.get(0))
                .optional()
                .map_err(self.db())?;
            if let Some(client) = client.and_then(|c| c.parse::<Uuid>().ok()) {
                if !clients.contains(&client) {
                    clients.push(client);
                }
            }
        }
        Ok(clients)
    }

    /// Applies a batch of changes for `owner`, each in its own transaction,
    /// so one refused change does not stop the others.
    pub fn apply_push(
        &mut self,
        owner: Uuid,
        changes: Vec<Change>,
    ) -> Result<PushOutcome, ServerError> {
        let mut out = PushOutcome {
            results: Vec::with_capacity(changes.len()),
            audit: Vec::new(),
        };
        for change in changes {
            let change_id = change.change_id;
            let record_id = change.record.id();
            let kind = change.record.kind();
            let outcome = self.apply_change(owner, change)?;
            let event = match (&outcome, kind) {
                (ChangeOutcome::Applied { .. }, RecordKind::Note) => Some(Event::NoteWrite),
                (ChangeOutcome::Applied { .. }, RecordKind::Client) => Some(Event::ClientWrite),
                (ChangeOutcome::Applied { .. }, RecordKind::Amendment) => Some(Event::NoteAmended),
                (ChangeOutcome::Conflict { .. }, _) => Some(Event::ChangeConflict),
                (ChangeOutcome::Rejected { .. }, _) => Some(Event::ChangeRejected),
                (ChangeOutcome::AlreadyApplied { .. }, _) => None,
            };
            if let Some(event) = event {
                let mut details = serde_json::json!({ "change_id": change_id, "kind": kind });
                match &outcome {
                    ChangeOutcome::Applied { version } => details["version"] = (*version).into(),
                    ChangeOutcome::Conflict { server_version, .. } => {
                        details["server_version"] = (*server_version).into()
                    }
                    ChangeOutcome::Rejected { code, .. } => {
                        details["code"] = serde_json::json!(code)
                    }
                    ChangeOutcome::AlreadyApplied { .. } => {}
                }
                out.audit.push((event, record_id, details));
            }
            out.results.push(ChangeResult { change_id, outcome });
        }
        Ok(out)
    }

    fn apply_change(&mut self, owner: Uuid, change: Change) -> Result<ChangeOutcome, ServerError> {
        let path = self.path.clone();
        let db = |e| ServerError::database(&path, e);
        let owner_s = owner.to_string();
        let change_id = change.change_id.to_string();
        let record = change.record;
        let record_id = record.id().to_string();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;

        let applied: Option<(String, i64)> = tx
            .query_row(
                "SELECT account_id, version FROM applied_changes WHERE change_id = ?1",
                [&change_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db)?;
        if let Some((account, version)) = applied {
            return Ok(if account == owner_s {
                ChangeOutcome::AlreadyApplied { version }
            } else {
                rejected(
                    RejectCode::Forbidden,
                    "This change id belongs to another account.",
                )
            });
        }

        // A new write must also carry plausible dates (judged on the
        // server's clock); records stored before that rule still load.
        if let Err(why) = bench_protocol::validate::new_record(&record, &clock::now_rfc3339()[..10])
        {
            return Ok(rejected(RejectCode::Invalid, &why.reason));
        }
        if let Record::Note(note) = &record {
            if note.body.len() > MAX_NOTE_BYTES {
                return Ok(rejected(
                    RejectCode::TooLarge,
                    &format!("This note is larger than the server accepts ({} MiB); split it into shorter notes.", MAX_NOTE_BYTES / (1024 * 1024)),
                ));
            }
            let client_owner: Option<String> = tx
                .query_row(
                    "SELECT owner FROM records WHERE id = ?1 AND kind = 'client'",
                    [note.client_id.to_string()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            if client_owner.as_deref() != Some(owner_s.as_str()) {
                // Unknown and not-yours read the same, so ids reveal nothing;
                // a client the caller may read through a share or supervision
                // is named as such, since they already see it.
                let message = if readable_client(&tx, &owner_s, note.client_id).map_err(db)? {
                    READ_ONLY_CLIENT
                } else {
                    "This note is for a client that is not one of yours on the server; sync the client first."
                };
                return Ok(rejected(RejectCode::Forbidden, message));
            }
        }
        if let Record::Amendment(amendment) = &record {
            if let Some(refusal) = amendment_refusal(&tx, &owner_s, amendment).map_err(db)? {
                return Ok(refusal);
            }
        }

        let existing: Option<ExistingRecord> = tx
            .query_row(
                "SELECT kind, owner, version, signed, data FROM records WHERE id = ?1",
                [&record_id],
                |r| {
                    Ok(ExistingRecord {
                        kind: r.get(0)?,
                        owner: r.get(1)?,
                        version: r.get(2)?,
                        signed: r.get(3)?,
                        data: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(db)?;

        let new_version = match existing {
            None => {
                if change.base_version.is_some() {
                    return Ok(rejected(
                        RejectCode::Invalid,
                        "The server has no copy of this record to update; it may need to be created again.",
                    ));
                }
                1
            }
            Some(ex) => {
                if ex.owner != owner_s {
                    let client_id = match &record {
                        Record::Client(c) => c.id,
                        Record::Note(n) => n.client_id,
                        Record::Amendment(a) => a.client_id,
                    };
                    let readable = readable_client(&tx, &owner_s, client_id).map_err(db)?;
                    return Ok(rejected(
                        RejectCode::Forbidden,
                        if readable {
                            READ_ONLY_CLIENT
                        } else {
                            "You may not change this record."
                        },
                    ));
                }
                if ex.kind != kind_str(record.kind()) {
                    return Ok(rejected(
                        RejectCode::Invalid,
                        "This id belongs to a different kind of record.",
                    ));
                }
                if record.kind() == RecordKind::Amendment {
                    // The same amendment again under a new change id changes
                    // nothing; any other text would rewrite a correction.
                    let same = self
                        .key
                        .open(&ex.data, record_place(&record_id))
                        .and_then(|json| serde_json::from_slice::<Record>(&json).ok())
                        .is_some_and(|stored| stored == record);
                    return Ok(if same {
                        ChangeOutcome::AlreadyApplied {
                            version: ex.version,
                        }
                    } else {
                        rejected(
                            RejectCode::SignedNoteImmutable,
                            "This amendment was saved and cannot change; add another amendment to correct it.",
                        )
                    });
                }
                if ex.signed {
                    return Ok(rejected(
                        RejectCode::SignedNoteImmutable,
                        "This note was signed and cannot change; add an amendment to correct it.",
                    ));
                }
                if change.base_version != Some(ex.version) {
                    let server = {
                        let json = self
                            .key
                            .open(&ex.data, record_place(&record_id))
                            .ok_or_else(|| ServerError::Database {
                                path: path.clone(),
                                source: rusqlite::Error::InvalidColumnType(
                                    0,
                                    "records.data".into(),
                                    rusqlite::types::Type::Blob,
                                ),
                            })?;
                        serde_json::from_slice::<Record>(&json).map_err(|e| {
                            ServerError::Database {
                                path: path.clone(),
                                source: rusqlite::Error::FromSqlConversionFailure(
                                    0,
                                    rusqlite::types::Type::Blob,
                                    Box::new(e),
                                ),
                            }
                        })?
                    };
                    let pushed = serde_json::to_vec(&record).expect("records serialise");
                    let sealed = self.key.seal(&pushed, conflict_place(&change_id));
                    // A retried push of the same conflicting change keeps one copy.
                    tx.execute(
                        "INSERT OR IGNORE INTO conflicts (change_id, record_id, account_id, base_version, server_version, pushed, received_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![change_id, record_id, owner_s, change.base_version, ex.version, sealed, clock::now_rfc3339()],
                    )
                    .map_err(db)?;
                    tx.commit().map_err(db)?;
                    return Ok(ChangeOutcome::Conflict {
                        server_version: ex.version,
                        server,
                    });
                }
                ex.version + 1
            }
        };

        tx.execute(
            "INSERT INTO change_feed (record_id) VALUES (?1)",
            [&record_id],
        )
        .map_err(db)?;
        let seq = tx.last_insert_rowid();
        let (client_id, signed) = match &record {
            Record::Client(_) => (None, false),
            Record::Note(n) => (
                Some(n.client_id.to_string()),
                n.status == NoteStatus::Signed,
            ),
            // Final from the start, like the signed note it corrects.
            Record::Amendment(a) => (Some(a.client_id.to_string()), true),
        };
        let json = serde_json::to_vec(&record).expect("records serialise");
        let sealed = self.key.seal(&json, record_place(&record_id));
        tx.execute(
            "INSERT INTO records (id, kind, owner, client_id, version, signed, seq, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT(id) DO UPDATE SET client_id = excluded.client_id, version = excluded.version,
                 signed = excluded.signed, seq = excluded.seq, data = excluded.data",
            params![record_id, kind_str(record.kind()), owner_s, client_id, new_version, signed, seq, sealed],
        )
        .map_err(db)?;
        tx.execute(
            "INSERT INTO applied_changes (change_id, account_id, record_id, version, applied_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                change_id,
                owner_s,
                record_id,
                new_version,
                clock::now_rfc3339()
            ],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(ChangeOutcome::Applied {
            version: new_version,
        })
    }

    /// Copies everything from the write-ahead log into the main file.
    pub fn checkpoint(&self) -> Result<(), ServerError> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(self.db())
    }
}

fn rejected(code: RejectCode, reason: &str) -> ChangeOutcome {
    ChangeOutcome::Rejected {
        code,
        reason: reason.to_string(),
    }
}

fn kind_str(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Client => "client",
        RecordKind::Note => "note",
        RecordKind::Amendment => "amendment",
    }
}

/// The refusal of a write to a client's record the caller may read (a
/// share or supervision) but not change.
const READ_ONLY_CLIENT: &str =
    "This client's record belongs to another practitioner; you can read it but not change it.";

/// Whether `viewer` may read `client_id`'s record through a share or a
/// supervision (see [`Store::VISIBLE`]).
fn readable_client(tx: &Connection, viewer: &str, client_id: Uuid) -> rusqlite::Result<bool> {
    let role: Option<String> = tx
        .query_row("SELECT role FROM accounts WHERE id = ?1", [viewer], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(role) = role else {
        return Ok(false);
    };
    let sql = format!(
        "SELECT 1 FROM records r WHERE r.id = ?3 AND r.kind = 'client' AND {}",
        Store::VISIBLE
    );
    Ok(tx
        .query_row(&sql, params![viewer, role, client_id.to_string()], |_| {
            Ok(())
        })
        .optional()?
        .is_some())
}

/// Why a new amendment may not be stored, if it may not: it is too large,
/// its note is not the pusher's (unknown and not-yours read the same, so
/// ids reveal nothing; a colleague who may read the note through a share
/// or supervision still may not write to it), the note is not signed on
/// the server, or the amendment names another client than its note.
fn amendment_refusal(
    tx: &Connection,
    owner: &str,
    amendment: &NoteAmendment,
) -> rusqlite::Result<Option<ChangeOutcome>> {
    if amendment.body.len() > MAX_NOTE_BYTES {
        return Ok(Some(rejected(
            RejectCode::TooLarge,
            &format!(
                "This amendment is larger than the server accepts ({} MiB); split it into shorter amendments.",
                MAX_NOTE_BYTES / (1024 * 1024)
            ),
        )));
    }
    let note: Option<(String, Option<String>, bool)> = tx
        .query_row(
            "SELECT owner, client_id, signed FROM records WHERE id = ?1 AND kind = 'note'",
            [amendment.note_id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((_, client_id, signed)) = note.filter(|n| n.0 == owner) else {
        return Ok(Some(rejected(
            RejectCode::Forbidden,
            "Only the practitioner who wrote a note can amend it, and this note is not one of yours on the server.",
        )));
    };
    if !signed {
        return Ok(Some(rejected(
            RejectCode::Invalid,
            "This note is still a draft on the server; only a signed note takes amendments. Edit the draft instead, or sign it first.",
        )));
    }
    if client_id.as_deref() != Some(amendment.client_id.to_string().as_str()) {
        return Ok(Some(rejected(
            RejectCode::Invalid,
            "This amendment names a different client than the note it corrects; the app that sent it needs fixing.",
        )));
    }
    Ok(None)
}

fn totp_place(account_id: &str) -> SealedAt<'_> {
    SealedAt {
        table: "accounts",
        column: "totp_secret",
        row: account_id,
    }
}

fn record_place(record_id: &str) -> SealedAt<'_> {
    SealedAt {
        table: "records",
        column: "data",
        row: record_id,
    }
}

fn conflict_place(change_id: &str) -> SealedAt<'_> {
    SealedAt {
        table: "conflicts",
        column: "pushed",
        row: change_id,
    }
}
