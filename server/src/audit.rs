//! The audit log: an append-only, hash-chained record of who did what to
//! which record, kept in its own SQLite file (`audit.db`) apart from the
//! operational database, with signed checkpoints of the chain's head and
//! the security alerts raised by the server.
//!
//! What is logged: every sign-in step (password and code, success and
//! failure), every read of a client record, every note write, every export,
//! every account change made from the command line, every request by an
//! operations account, every alert, and the entries a device recorded while
//! offline. Each entry holds the time (UTC), the actor and their role, the
//! source address, the device, the record concerned and a small details
//! object of ids and codes, and never a name, a note's text, a password, a
//! code or a token.
//!
//! Why a hash chain: SQLite triggers refuse UPDATE and DELETE, which stops
//! the application and casual edits; the chain catches edits made below
//! SQL (a byte changed in the file, a trigger dropped). Each entry's hash is
//! SHA-256 over its sequence number, the previous entry's hash and the exact
//! stored bytes of each of its fields (length-prefixed), so changing any
//! stored byte of an entry breaks that entry, removing one breaks the next,
//! and swapping two breaks the first of them.
//!
//! Why signed checkpoints: a chain alone cannot show that its last entries
//! were cut off. Every [`DEFAULT_CHECKPOINT_EVERY`] entries, and when the
//! server stops cleanly, the head (sequence number and hash) is signed with
//! Ed25519 (RFC 8032) and stored in `audit_checkpoints`. `verify` checks
//! every signature and that each signed head is still in the log with the
//! same hash, so a deleted tail up to the last checkpoint is named as
//! missing entries, and a chain rebuilt after an edit no longer matches the
//! head that was signed.
//!
//! Why a head outside the log: checkpoints kept only inside `audit.db` are
//! cut off together with the tail they vouch for (or with the whole file).
//! So every checkpoint is also written, atomically, to `audit-head.json`
//! beside it (0600); `verify` and `serve` require the log to still hold that
//! entry with that hash and that checkpoint, and name the entries missing.
//!
//! Limitation: the checkpoint signing key and `audit-head.json` sit in the
//! data directory (0600), so someone with write access to the whole
//! directory can rewrite the log, re-sign it and replace the head file too;
//! the real fix is shipping each checkpoint off the machine as it is made
//! (a remote append-only store, or the operator's copy) and the key into an
//! HSM or a second machine. Entries written after the last checkpoint and
//! then deleted are not detected until that is done.

use std::io::BufRead;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use bench_protocol::api::Role;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rand::RngCore;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::ServerError;

/// The hash before the first entry.
const GENESIS: [u8; 32] = [0u8; 32];

/// Entries between two signed checkpoints. Small enough that a cut-off tail
/// loses at most this many entries unnoticed before the next clean stop;
/// large enough that signing (tens of microseconds) is noise.
pub const DEFAULT_CHECKPOINT_EVERY: i64 = 100;

/// The first line of an export file.
pub const EXPORT_FORMAT: &str = "doctors-bench audit export v2";

const ENTRY_DOMAIN: &[u8] = b"doctors-bench audit v2\0";
const CHECKPOINT_DOMAIN: &[u8] = b"doctors-bench audit checkpoint v1\0";

/// What kind of thing happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Password step accepted.
    LoginPasswordOk,
    /// Password step refused (wrong password or unknown user).
    LoginPasswordFailed,
    /// Password step not tried: too many recent failures.
    LoginThrottled,
    /// Code step accepted; a session began.
    LoginCodeOk,
    /// Code step refused.
    LoginCodeFailed,
    /// 2FA enrolment confirmed; a session began.
    EnrolOk,
    /// Enrolment code refused.
    EnrolFailed,
    /// The practitioner signed out.
    Logout,
    /// One client's record was read.
    ClientRead,
    /// The client list was read.
    ClientsListed,
    /// Records were pulled.
    RecordsPulled,
    /// A client record was written by a push.
    ClientWrite,
    /// A session note was written by a push.
    NoteWrite,
    /// An amendment was appended to a signed note by a push.
    NoteAmended,
    /// A pushed change conflicted and was kept aside.
    ChangeConflict,
    /// A pushed change was refused.
    ChangeRejected,
    /// A request was refused because the caller's role may not make it.
    AccessDenied,
    /// Records or the audit log were exported or downloaded.
    Export,
    /// A Smart Notes draft was generated.
    DraftGenerated,
    /// A Smart Notes draft was approved by the practitioner.
    DraftApproved,
    /// A Smart Notes draft was rejected by the practitioner.
    DraftRejected,
    /// An account was created.
    AccountCreated,
    /// An account's password was set.
    PasswordChanged,
    /// Every session and pending sign-in of an account was ended.
    SessionsRevoked,
    /// An account's 2FA was removed; it enrols again at next sign-in.
    TwoFactorReset,
    /// An account's sign-in lock was cleared.
    AccountUnlocked,
    /// A setting of the server changed.
    ConfigChanged,
    /// A request made by an operations account.
    OperationsRequest,
    /// A security alert was raised (see [`Alert`]).
    AlertRaised,
    /// Alerts were listed.
    AlertsListed,
    /// An entry a device recorded (offline) and uploaded at sync.
    DeviceRecorded,
    /// A client's record was shared with a colleague, with consent.
    ShareCreated,
    /// A share was revoked.
    ShareRevoked,
    /// A supervisor was assigned to a practitioner.
    SupervisionAssigned,
    /// A supervision assignment ended.
    SupervisionRevoked,
    /// A practitioner let operations open one record for a ticket.
    SupportGrantCreated,
    /// The clinic admin read the team list.
    TeamListed,
    /// A supervisor co-signed a note.
    NoteCosigned,
    /// A device was revoked (lost or stolen): by the clinic admin, by its
    /// practitioner, or at the command line.
    DeviceRevoked,
    /// A request or sign-in from a revoked device was refused.
    DeviceRefused,
    /// The device list was read.
    DevicesListed,
    /// A client's record moved to another practitioner.
    ClientTransferred,
    /// The schedule was read (appointment ids only are recorded).
    ScheduleRead,
    /// The list of clients one may book or invoice was read.
    BookableClientsListed,
    /// An appointment was booked.
    AppointmentBooked,
    /// An appointment's status changed.
    AppointmentStatusChanged,
    /// Invoices were read.
    InvoicesRead,
    /// An invoice was issued.
    InvoiceIssued,
    /// An invoice was marked paid or void.
    InvoiceStatusChanged,
}

impl Event {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::LoginPasswordOk => "login_password_ok",
            Event::LoginPasswordFailed => "login_password_failed",
            Event::LoginThrottled => "login_throttled",
            Event::LoginCodeOk => "login_code_ok",
            Event::LoginCodeFailed => "login_code_failed",
            Event::EnrolOk => "enrol_ok",
            Event::EnrolFailed => "enrol_failed",
            Event::Logout => "logout",
            Event::ClientRead => "client_read",
            Event::ClientsListed => "clients_listed",
            Event::RecordsPulled => "records_pulled",
            Event::ClientWrite => "client_write",
            Event::NoteWrite => "note_write",
            Event::NoteAmended => "note_amended",
            Event::ChangeConflict => "change_conflict",
            Event::ChangeRejected => "change_rejected",
            Event::AccessDenied => "access_denied",
            Event::Export => "export",
            Event::DraftGenerated => "draft_generated",
            Event::DraftApproved => "draft_approved",
            Event::DraftRejected => "draft_rejected",
            Event::AccountCreated => "account_created",
            Event::PasswordChanged => "password_changed",
            Event::SessionsRevoked => "sessions_revoked",
            Event::TwoFactorReset => "two_factor_reset",
            Event::AccountUnlocked => "account_unlocked",
            Event::ConfigChanged => "config_changed",
            Event::OperationsRequest => "operations_request",
            Event::AlertRaised => "alert_raised",
            Event::AlertsListed => "alerts_listed",
            Event::DeviceRecorded => "device_recorded",
            Event::ShareCreated => "share_created",
            Event::ShareRevoked => "share_revoked",
            Event::SupervisionAssigned => "supervision_assigned",
            Event::SupervisionRevoked => "supervision_revoked",
            Event::SupportGrantCreated => "support_grant_created",
            Event::TeamListed => "team_listed",
            Event::NoteCosigned => "note_cosigned",
            Event::DeviceRevoked => "device_revoked",
            Event::DeviceRefused => "device_refused",
            Event::DevicesListed => "devices_listed",
            Event::ClientTransferred => "client_transferred",
            Event::ScheduleRead => "schedule_read",
            Event::BookableClientsListed => "bookable_clients_listed",
            Event::AppointmentBooked => "appointment_booked",
            Event::AppointmentStatusChanged => "appointment_status_changed",
            Event::InvoicesRead => "invoices_read",
            Event::InvoiceIssued => "invoice_issued",
            Event::InvoiceStatusChanged => "invoice_status_changed",
        }
    }
}

/// One entry to append. `details` must hold ids and codes only.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Who acted, when known.
    pub actor: Option<Uuid>,
    /// The actor's role at the time, when known.
    pub role: Option<Role>,
    /// What happened.
    pub event: Event,
    /// The record concerned, if one.
    pub record_id: Option<Uuid>,
    /// Where the request came from.
    pub source_ip: Option<IpAddr>,
    /// The device id the client sent, if any.
    pub device_id: Option<Uuid>,
    /// Extra facts: ids, counts, reason codes.
    pub details: serde_json::Value,
}

impl Entry {
    /// An entry with no role, record, device or details yet.
    pub fn new(event: Event, actor: Option<Uuid>, source_ip: Option<IpAddr>) -> Entry {
        Entry {
            actor,
            role: None,
            event,
            record_id: None,
            source_ip,
            device_id: None,
            details: serde_json::Value::Object(Default::default()),
        }
    }

    /// An entry for something done at the server's own command line.
    pub fn command_line(event: Event, details: serde_json::Value) -> Entry {
        let mut e = Entry::new(event, None, None);
        e.details = details;
        e.details["via"] = "command_line".into();
        e
    }
}

/// The stored columns of one entry, in hashing order, as raw bytes.
/// Changing the order or the domain string changes every hash.
struct Stored<'a> {
    fields: [Option<&'a [u8]>; 8],
}

const ENTRY_COLUMNS: &str =
    "seq, time, actor, role, event, record_id, source_ip, device_id, details, prev_hash, hash";

fn entry_hash(seq: i64, prev_hash: &[u8], stored: &Stored<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(ENTRY_DOMAIN);
    h.update(seq.to_be_bytes());
    h.update(prev_hash);
    for field in stored.fields {
        match field {
            None => h.update([0u8]),
            Some(bytes) => {
                h.update([1u8]);
                h.update((bytes.len() as u64).to_be_bytes());
                h.update(bytes);
            }
        }
    }
    h.finalize().into()
}

fn checkpoint_message(id: i64, head_seq: i64, head_hash: &[u8], time: &str) -> Vec<u8> {
    let mut m = CHECKPOINT_DOMAIN.to_vec();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&head_seq.to_be_bytes());
    m.extend_from_slice(head_hash);
    m.extend_from_slice(time.as_bytes());
    m
}

/// The Ed25519 key that signs checkpoints.
pub struct CheckpointKey {
    key: SigningKey,
}

/// The file, beside `audit.db`, holding the last signed head.
pub const HEAD_FILE: &str = "audit-head.json";

/// The last signed checkpoint, as kept outside the log in [`HEAD_FILE`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SignedHead {
    /// The checkpoint's number in `audit_checkpoints`.
    pub checkpoint_id: i64,
    /// When it was signed (RFC 3339 UTC).
    pub time: String,
    /// The entry it vouches for.
    pub head_seq: i64,
    /// That entry's hash, hex.
    pub head_hash: String,
    /// The signing key, hex.
    pub public_key: String,
    /// The Ed25519 signature, hex.
    pub signature: String,
}

impl SignedHead {
    /// Reads the head file, `None` when there is none.
    pub fn read(path: &Path) -> Result<Option<SignedHead>, ServerError> {
        if !path.exists() {
            return Ok(None);
        }
        let bytes = crate::files::read(path)?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| ServerError::AuditTruncated {
                reason: format!(
                    "{} is not a signed audit head; restore it from backup",
                    path.display()
                ),
            })
    }

    /// Replaces the head file atomically (temp file, fsync, rename), so a
    /// crash leaves either the old head or the new one, never half of one.
    fn write(&self, path: &Path) -> Result<(), ServerError> {
        // A name of its own per writer: a command-line entry and the
        // running server may sign at the same moment.
        let tmp = path.with_extension(format!(
            "json.{}-{}.tmp",
            std::process::id(),
            rand::rngs::OsRng.next_u32()
        ));
        let body = serde_json::to_vec_pretty(self).expect("a head serialises");
        crate::files::write_private(&tmp, &body)?;
        let wrap = |source| ServerError::Write {
            path: path.to_owned(),
            source,
        };
        std::fs::rename(&tmp, path).map_err(wrap)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(wrap)?;
        }
        Ok(())
    }
}

impl CheckpointKey {
    /// Loads the key at `path`; refuses when it is absent, since a new key
    /// would leave the checkpoints signed by the lost one unverifiable and
    /// would let whoever deleted it sign a rewritten log.
    pub fn load(path: &Path) -> Result<CheckpointKey, ServerError> {
        if !path.exists() {
            return Err(ServerError::MissingSigningKey {
                path: path.to_owned(),
            });
        }
        CheckpointKey::load_or_create(path)
    }

    /// Loads the key at `path`, creating it (0600) when absent (only `init`
    /// and tests; everything else uses [`CheckpointKey::load`]).
    // Limitation: production wants this key in an HSM, not a file beside
    // the log it protects (see the module doc).
    pub fn load_or_create(path: &Path) -> Result<CheckpointKey, ServerError> {
        if path.exists() {
            let seed = crate::files::read_key32(path)?;
            return Ok(CheckpointKey {
                key: SigningKey::from_bytes(&seed),
            });
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(seed.as_mut());
        crate::files::write_private(path, seed.as_ref())?;
        Ok(CheckpointKey {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The public half, for `verify` and auditors.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }
}

/// A security alert (see the `alerts` module for when each is raised).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Alert {
    /// Its number, in order raised.
    pub id: i64,
    /// RFC 3339 UTC.
    pub time: String,
    /// `failed_sign_ins_account`, `failed_sign_ins_source`, `bulk_access`
    /// or `new_network`.
    pub kind: String,
    /// The account concerned, when one.
    pub account_id: Option<Uuid>,
    /// The source address concerned, when one.
    pub source_ip: Option<String>,
    /// Counts and thresholds; never names.
    pub details: serde_json::Value,
    /// The audit entry that records it.
    pub audit_seq: i64,
}

/// What `verify` found in an intact log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Entries checked.
    pub entries: u64,
    /// Signed checkpoints checked.
    pub checkpoints: u64,
}

/// A device audit entry id already stored for another account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignEntryId(pub Uuid);

/// The audit log database.
pub struct AuditLog {
    conn: Connection,
    path: PathBuf,
    head_file: PathBuf,
    signer: Option<(CheckpointKey, i64)>,
}

impl AuditLog {
    /// Opens (creating if needed) the audit log at `path`. It writes no
    /// checkpoints until [`AuditLog::sign_with`] is called.
    pub fn open(path: &Path) -> Result<AuditLog, ServerError> {
        let db = |e| ServerError::database(path, e);
        let conn = Connection::open(path).map_err(db)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS audit_log (
                 seq INTEGER PRIMARY KEY,
                 time TEXT NOT NULL,
                 actor TEXT,
                 role TEXT,
                 event TEXT NOT NULL,
                 record_id TEXT,
                 source_ip TEXT,
                 device_id TEXT,
                 details TEXT NOT NULL,
                 prev_hash BLOB NOT NULL,
                 hash BLOB NOT NULL
             );
             CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
             BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
             CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
             BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
             CREATE TABLE IF NOT EXISTS audit_checkpoints (
                 id INTEGER PRIMARY KEY,
                 time TEXT NOT NULL,
                 head_seq INTEGER NOT NULL,
                 head_hash BLOB NOT NULL,
                 public_key BLOB NOT NULL,
                 signature BLOB NOT NULL
             );
             CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
             BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
             CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
             BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
             CREATE TABLE IF NOT EXISTS alerts (
                 id INTEGER PRIMARY KEY,
                 time TEXT NOT NULL,
                 kind TEXT NOT NULL,
                 account_id TEXT,
                 source_ip TEXT,
                 details TEXT NOT NULL,
                 audit_seq INTEGER NOT NULL
             );
             CREATE TRIGGER IF NOT EXISTS alerts_no_update BEFORE UPDATE ON alerts
             BEGIN SELECT RAISE(ABORT, 'alerts are append-only'); END;
             CREATE TRIGGER IF NOT EXISTS alerts_no_delete BEFORE DELETE ON alerts
             BEGIN SELECT RAISE(ABORT, 'alerts are append-only'); END;
             CREATE TABLE IF NOT EXISTS device_entries (
                 entry_id TEXT PRIMARY KEY,
                 audit_seq INTEGER NOT NULL
             );",
        )
        .map_err(db)?;
        let has_role: bool = conn
            .query_row(
                "SELECT count(*) FROM pragma_table_info('audit_log') WHERE name = 'role'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(db)?
            > 0;
        if !has_role {
            return Err(ServerError::BadConfig {
                source_name: path.display().to_string(),
                reason: "this audit log was written by an older server (format v1, without roles); keep it as an archive, move it aside, and start a new one".into(),
            });
        }
        Ok(AuditLog {
            conn,
            path: path.to_owned(),
            head_file: path.with_file_name(HEAD_FILE),
            signer: None,
        })
    }

    /// From now on, signs a checkpoint of the head after every `every`
    /// entries.
    pub fn sign_with(&mut self, key: CheckpointKey, every: i64) {
        self.signer = Some((key, every.max(1)));
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> ServerError + '_ {
        move |e| ServerError::database(&self.path, e)
    }

    /// Appends one entry and returns its sequence number.
    pub fn append(&mut self, entry: &Entry) -> Result<i64, ServerError> {
        let path = self.path.clone();
        let db = |e| ServerError::database(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        let (seq, head) = append_in(&tx, entry, self.signer.as_ref()).map_err(db)?;
        tx.commit().map_err(db)?;
        self.publish(head)?;
        Ok(seq)
    }

    /// Appends entries a device recorded, skipping any whose `entry_id` the
    /// same account stored before (an upload retried after a lost answer).
    /// Returns (stored now, stored before), or, storing nothing, the first
    /// entry id that another account already stored: it cannot be this
    /// account's retry, and skipping it would drop the entry unseen.
    pub fn append_device_entries(
        &mut self,
        entries: &[(Uuid, Entry)],
    ) -> Result<Result<(u32, u32), ForeignEntryId>, ServerError> {
        let path = self.path.clone();
        let db = |e| ServerError::database(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        let (mut stored, mut before) = (0, 0);
        let mut last_head = None;
        for (entry_id, entry) in entries {
            let seen: Option<Option<String>> = tx
                .query_row(
                    "SELECT a.actor FROM device_entries d LEFT JOIN audit_log a ON a.seq = d.audit_seq
                     WHERE d.entry_id = ?1",
                    [entry_id.to_string()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            if let Some(actor) = seen {
                if actor != entry.actor.map(|a| a.to_string()) {
                    // Dropping the transaction stores nothing of this upload.
                    return Ok(Err(ForeignEntryId(*entry_id)));
                }
                before += 1;
                continue;
            }
            let (seq, head) = append_in(&tx, entry, self.signer.as_ref()).map_err(db)?;
            last_head = head.or(last_head);
            tx.execute(
                "INSERT INTO device_entries (entry_id, audit_seq) VALUES (?1, ?2)",
                params![entry_id.to_string(), seq],
            )
            .map_err(db)?;
            stored += 1;
        }
        tx.commit().map_err(db)?;
        self.publish(last_head)?;
        Ok(Ok((stored, before)))
    }

    /// Records an alert and its audit entry in one transaction. `alert.id`,
    /// `time` and `audit_seq` are filled in here.
    pub fn raise_alert(&mut self, mut alert: Alert) -> Result<Alert, ServerError> {
        let path = self.path.clone();
        let db = |e| ServerError::database(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        let mut entry = Entry::new(
            Event::AlertRaised,
            alert.account_id,
            alert.source_ip.as_deref().and_then(|s| s.parse().ok()),
        );
        entry.details = serde_json::json!({ "kind": alert.kind, "facts": alert.details });
        let (seq, head) = append_in(&tx, &entry, self.signer.as_ref()).map_err(db)?;
        alert.audit_seq = seq;
        alert.time = crate::clock::now_rfc3339();
        tx.execute(
            "INSERT INTO alerts (time, kind, account_id, source_ip, details, audit_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                alert.time,
                alert.kind,
                alert.account_id.map(|u| u.to_string()),
                alert.source_ip,
                alert.details.to_string(),
                alert.audit_seq
            ],
        )
        .map_err(db)?;
        alert.id = tx.last_insert_rowid();
        tx.commit().map_err(db)?;
        self.publish(head)?;
        Ok(alert)
    }

    /// Every alert, oldest first.
    pub fn alerts(&self) -> Result<Vec<Alert>, ServerError> {
        let db = self.db();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, time, kind, account_id, source_ip, details, audit_seq
                 FROM alerts ORDER BY id",
            )
            .map_err(&db)?;
        let rows = stmt
            .query_map([], |r| {
                let account: Option<String> = r.get(3)?;
                let details: String = r.get(5)?;
                Ok(Alert {
                    id: r.get(0)?,
                    time: r.get(1)?,
                    kind: r.get(2)?,
                    account_id: account.and_then(|a| a.parse().ok()),
                    source_ip: r.get(4)?,
                    details: serde_json::from_str(&details).unwrap_or_default(),
                    audit_seq: r.get(6)?,
                })
            })
            .map_err(&db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    /// Signs a checkpoint of the current head now (at clean shutdown), unless
    /// the head is already the last one signed.
    pub fn sign_head(&mut self) -> Result<(), ServerError> {
        let path = self.path.clone();
        let db = |e| ServerError::database(&path, e);
        let Some(signer) = self.signer.as_ref() else {
            return Ok(());
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        let head: Option<(i64, Vec<u8>)> = tx
            .query_row(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db)?;
        let last_signed: Option<i64> = tx
            .query_row(
                "SELECT head_seq FROM audit_checkpoints ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        let mut signed = None;
        if let Some((seq, hash)) = head {
            if last_signed != Some(seq) {
                signed = Some(write_checkpoint(&tx, &signer.0, seq, &hash).map_err(db)?);
            }
        }
        tx.commit().map_err(db)?;
        self.publish(signed)
    }

    /// Writes a committed checkpoint to the head file outside the log.
    fn publish(&self, head: Option<SignedHead>) -> Result<(), ServerError> {
        match head {
            Some(head) => head.write(&self.head_file),
            None => Ok(()),
        }
    }

    /// Records the last signed checkpoint in the log as the head outside it,
    /// for a log from before [`HEAD_FILE`] existed. Refuses when a head file
    /// is already there (restore that one instead) or the log has no
    /// checkpoint; the caller verifies the log first. Returns the head.
    pub fn adopt_head(&self) -> Result<SignedHead, ServerError> {
        if self.head_file.exists() {
            return Err(ServerError::AuditTruncated {
                reason: format!(
                    "{} already exists; it is only made from the log for a log that never had one",
                    self.head_file.display()
                ),
            });
        }
        let row = self
            .read_checkpoints()?
            .pop()
            .ok_or_else(|| ServerError::AuditTruncated {
                reason: "the log has no signed checkpoint to record".into(),
            })?;
        let head = SignedHead {
            checkpoint_id: row.id,
            time: row.time,
            head_seq: row.head_seq,
            head_hash: hex::encode(row.head_hash),
            public_key: hex::encode(row.public_key),
            signature: hex::encode(row.signature),
        };
        head.write(&self.head_file)?;
        Ok(head)
    }

    /// The number of the last entry (0 for an empty log).
    pub fn last_seq(&self) -> Result<i64, ServerError> {
        self.conn
            .query_row("SELECT coalesce(max(seq), 0) FROM audit_log", [], |r| {
                r.get(0)
            })
            .map_err(self.db())
    }

    /// Checks the log against the signed head kept outside it
    /// ([`HEAD_FILE`]): the log must still hold that entry with that hash,
    /// and that checkpoint. Cheap (no chain walk), so `serve` runs it at
    /// every start; `verify` runs it after the chain.
    pub fn check_head(&self, key: Option<&VerifyingKey>) -> Result<(), ServerError> {
        let db = self.db();
        let cut = |reason: String| ServerError::AuditTruncated { reason };
        let Some(head) = SignedHead::read(&self.head_file)? else {
            let signed: i64 = self
                .conn
                .query_row("SELECT count(*) FROM audit_checkpoints", [], |r| r.get(0))
                .map_err(&db)?;
            if signed > 0 {
                return Err(cut(format!(
                    "{} is missing although the log holds {signed} signed checkpoints, so the log can no longer show whether its tail was removed; restore the file from backup or from the operator's copy",
                    self.head_file.display()
                )));
            }
            return Ok(());
        };
        let bytes = |hex_text: &str, what: &str| {
            hex::decode(hex_text).map_err(|_| {
                cut(format!(
                    "{} has a {what} that is not hex; restore it from backup",
                    self.head_file.display()
                ))
            })
        };
        let head_hash = bytes(&head.head_hash, "head hash")?;
        check_signature(
            head.checkpoint_id,
            head.head_seq,
            &head_hash,
            &head.time,
            &bytes(&head.public_key, "public key")?,
            &bytes(&head.signature, "signature")?,
            key,
        )
        .map_err(|why| {
            cut(format!(
                "the signed head in {} does not verify: {why}",
                self.head_file.display()
            ))
        })?;

        let last = self.last_seq()?;
        if last < head.head_seq {
            return Err(cut(format!(
                "the log ends at entry {last} but the last signed head outside the log is entry {}: entries after {last} were removed (or audit.db was replaced); restore audit.db from backup",
                head.head_seq
            )));
        }
        let hash: Vec<u8> = self
            .conn
            .query_row(
                "SELECT hash FROM audit_log WHERE seq = ?1",
                [head.head_seq],
                |r| r.get(0),
            )
            .map_err(&db)?;
        if hash != head_hash {
            return Err(cut(format!(
                "entry {} no longer has the hash signed in the head outside the log: the log was replaced or rewritten; restore audit.db from backup",
                head.head_seq
            )));
        }
        let checkpoint: Option<(i64, Vec<u8>, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT head_seq, head_hash, signature FROM audit_checkpoints WHERE id = ?1",
                [head.checkpoint_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(&db)?;
        let last_checkpoint: i64 = self
            .conn
            .query_row(
                "SELECT coalesce(max(id), 0) FROM audit_checkpoints",
                [],
                |r| r.get(0),
            )
            .map_err(&db)?;
        match checkpoint {
            None => Err(cut(format!(
                "the log's checkpoints end at {last_checkpoint} but the last signed head outside the log is checkpoint {}: checkpoints after {last_checkpoint} were removed; restore audit.db from backup",
                head.checkpoint_id
            ))),
            Some((seq, hash, sig)) if seq != head.head_seq || hash != head_hash || hex::encode(&sig) != head.signature => Err(cut(format!(
                "checkpoint {} in the log differs from the signed head outside the log: the checkpoints were rewritten; restore audit.db from backup",
                head.checkpoint_id
            ))),
            Some(_) => Ok(()),
        }
    }

    /// Recomputes the chain and checks every signed checkpoint against it
    /// and against `key` (the server's checkpoint key). Returns the counts,
    /// or the first entry (or checkpoint) that does not verify.
    pub fn verify(&self, key: Option<&VerifyingKey>) -> Result<Verified, ServerError> {
        let v = self.verify_chain(key)?;
        self.check_head(key)?;
        Ok(v)
    }

    /// [`AuditLog::verify`] without the head kept outside the log.
    pub fn verify_chain(&self, key: Option<&VerifyingKey>) -> Result<Verified, ServerError> {
        let db = self.db();
        let checkpoints = self.read_checkpoints()?;

        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {ENTRY_COLUMNS} FROM audit_log ORDER BY seq"
            ))
            .map_err(&db)?;
        let mut rows = stmt.query([]).map_err(&db)?;
        let mut heads = std::collections::HashMap::new();
        let wanted: std::collections::HashSet<i64> =
            checkpoints.iter().map(|c| c.head_seq).collect();
        let mut expected_prev = GENESIS.to_vec();
        let mut expected_seq = 1i64;
        while let Some(row) = rows.next().map_err(&db)? {
            let seq: i64 = row.get(0).map_err(&db)?;
            if seq != expected_seq {
                return Err(ServerError::AuditBroken {
                    seq: expected_seq,
                    reason: format!("entry is missing (next entry found is {seq})"),
                });
            }
            let hash = check_row(row, seq, &expected_prev)?;
            if wanted.contains(&seq) {
                heads.insert(seq, hash.clone());
            }
            expected_prev = hash;
            expected_seq += 1;
        }
        let last_seq = expected_seq - 1;

        let mut previous_head = 0i64;
        for (i, c) in checkpoints.iter().enumerate() {
            c.check(i as i64 + 1, key)?;
            if c.head_seq > last_seq {
                return Err(ServerError::AuditBroken {
                    seq: last_seq + 1,
                    reason: format!(
                        "entries {}..={} are missing: signed checkpoint {} vouches for a log up to entry {}, but the log ends at {last_seq}",
                        last_seq + 1, c.head_seq, c.id, c.head_seq
                    ),
                });
            }
            if heads.get(&c.head_seq).map(Vec::as_slice) != Some(c.head_hash.as_slice()) {
                return Err(ServerError::AuditBroken {
                    seq: previous_head + 1,
                    reason: format!(
                        "the chain was rebuilt: entry {} no longer has the hash signed in checkpoint {}, so an entry in {}..={} was changed, added or removed",
                        c.head_seq, c.id, previous_head + 1, c.head_seq
                    ),
                });
            }
            previous_head = c.head_seq;
        }
        Ok(Verified {
            entries: last_seq as u64,
            checkpoints: checkpoints.len() as u64,
        })
    }

    fn read_checkpoints(&self) -> Result<Vec<CheckpointRow>, ServerError> {
        let db = self.db();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, time, head_seq, head_hash, public_key, signature
                 FROM audit_checkpoints ORDER BY id",
            )
            .map_err(&db)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(CheckpointRow {
                    id: r.get(0)?,
                    time: r.get(1)?,
                    head_seq: r.get(2)?,
                    head_hash: r.get(3)?,
                    public_key: r.get(4)?,
                    signature: r.get(5)?,
                })
            })
            .map_err(&db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    /// Writes entries `from..=to` and the checkpoints inside that range to
    /// `out` as JSON lines an auditor can re-verify with
    /// [`verify_export`]. Returns the number of entries written.
    pub fn export(
        &self,
        from: i64,
        to: i64,
        out: &Path,
        key: Option<&VerifyingKey>,
    ) -> Result<u64, ServerError> {
        let db = self.db();
        let mut lines = Vec::new();
        let header = ExportLine::Header {
            format: EXPORT_FORMAT.into(),
            from,
            to,
            public_key: key.map(|k| hex::encode(k.as_bytes())),
        };
        lines.push(serde_json::to_string(&header).expect("export line serialises"));

        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq"
            ))
            .map_err(&db)?;
        let mut rows = stmt.query(params![from, to]).map_err(&db)?;
        let mut count = 0u64;
        while let Some(row) = rows.next().map_err(&db)? {
            let text = |i: usize| -> Result<Option<String>, ServerError> {
                Ok(raw(row, i)?.map(|b| String::from_utf8_lossy(b).into_owned()))
            };
            let line = ExportLine::Entry(ExportedEntry {
                seq: row.get(0).map_err(&db)?,
                time: text(1)?.unwrap_or_default(),
                actor: text(2)?,
                role: text(3)?,
                event: text(4)?.unwrap_or_default(),
                record_id: text(5)?,
                source_ip: text(6)?,
                device_id: text(7)?,
                details: text(8)?.unwrap_or_default(),
                prev_hash: hex::encode(row.get::<_, Vec<u8>>(9).map_err(&db)?),
                hash: hex::encode(row.get::<_, Vec<u8>>(10).map_err(&db)?),
            });
            lines.push(serde_json::to_string(&line).expect("export line serialises"));
            count += 1;
        }
        for c in self.read_checkpoints()? {
            if c.head_seq >= from && c.head_seq <= to {
                let line = ExportLine::Checkpoint {
                    id: c.id,
                    time: c.time,
                    head_seq: c.head_seq,
                    head_hash: hex::encode(c.head_hash),
                    public_key: hex::encode(c.public_key),
                    signature: hex::encode(c.signature),
                };
                lines.push(serde_json::to_string(&line).expect("export line serialises"));
            }
        }
        let mut body = lines.join("\n");
        body.push('\n');
        crate::files::write_private(out, body.as_bytes())?;
        Ok(count)
    }

    /// Writes everything from the write-ahead log into the main file, so the
    /// file alone holds the whole log (at shutdown, before a backup).
    pub fn checkpoint(&self) -> Result<(), ServerError> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| ServerError::database(&self.path, e))
    }
}

/// Reads a column as its exact stored bytes (`None` for NULL). A flipped
/// byte may leave text that is not UTF-8, which must be reported as
/// tampering, not as a crash, so text is never decoded here.
fn raw<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> Result<Option<&'r [u8]>, ServerError> {
    let seq: i64 = row.get(0).unwrap_or(0);
    match row.get_ref(i) {
        Ok(rusqlite::types::ValueRef::Null) => Ok(None),
        Ok(rusqlite::types::ValueRef::Text(b)) | Ok(rusqlite::types::ValueRef::Blob(b)) => {
            Ok(Some(b))
        }
        _ => Err(ServerError::AuditBroken {
            seq,
            reason: "a stored field has the wrong type".into(),
        }),
    }
}

/// Checks one row against the entry before it; returns its hash.
fn check_row(
    row: &rusqlite::Row<'_>,
    seq: i64,
    expected_prev: &[u8],
) -> Result<Vec<u8>, ServerError> {
    let broken = |reason: &str| ServerError::AuditBroken {
        seq,
        reason: reason.into(),
    };
    let mut fields = [None; 8];
    for (i, f) in fields.iter_mut().enumerate() {
        *f = raw(row, i + 1)?;
    }
    let prev_hash = raw(row, 9)?.ok_or_else(|| broken("prev_hash is missing"))?;
    let hash = raw(row, 10)?.ok_or_else(|| broken("hash is missing"))?;
    if prev_hash != expected_prev {
        return Err(broken("it does not follow the entry before it"));
    }
    if entry_hash(seq, prev_hash, &Stored { fields }).as_slice() != hash {
        return Err(broken("its content does not match its hash"));
    }
    Ok(hash.to_vec())
}

fn opt_bytes(s: &Option<String>) -> Option<&[u8]> {
    s.as_deref().map(str::as_bytes)
}

fn append_in(
    tx: &Transaction<'_>,
    entry: &Entry,
    signer: Option<&(CheckpointKey, i64)>,
) -> Result<(i64, Option<SignedHead>), rusqlite::Error> {
    let last: Option<(i64, Vec<u8>)> = tx
        .query_row(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (seq, prev_hash) = match last {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS.to_vec()),
    };

    let time = crate::clock::now_rfc3339();
    let actor = entry.actor.map(|u| u.to_string());
    let role = entry.role.map(|r| r.as_str());
    let record_id = entry.record_id.map(|u| u.to_string());
    let source_ip = entry.source_ip.map(|ip| ip.to_string());
    let device_id = entry.device_id.map(|u| u.to_string());
    let details = entry.details.to_string();
    let bytes = opt_bytes;
    let stored = Stored {
        fields: [
            Some(time.as_bytes()),
            bytes(&actor),
            role.map(str::as_bytes),
            Some(entry.event.as_str().as_bytes()),
            bytes(&record_id),
            bytes(&source_ip),
            bytes(&device_id),
            Some(details.as_bytes()),
        ],
    };
    let hash = entry_hash(seq, &prev_hash, &stored);
    tx.execute(
        &format!("INSERT INTO audit_log ({ENTRY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
        params![seq, time, actor, role, entry.event.as_str(), record_id, source_ip, device_id, details, prev_hash, hash.to_vec()],
    )?;
    let mut head = None;
    if let Some((key, every)) = signer {
        if seq % every == 0 {
            head = Some(write_checkpoint(tx, key, seq, &hash)?);
        }
    }
    Ok((seq, head))
}

fn write_checkpoint(
    tx: &Transaction<'_>,
    key: &CheckpointKey,
    head_seq: i64,
    head_hash: &[u8],
) -> Result<SignedHead, rusqlite::Error> {
    let id: i64 = tx.query_row(
        "SELECT coalesce(max(id), 0) + 1 FROM audit_checkpoints",
        [],
        |r| r.get(0),
    )?;
    let time = crate::clock::now_rfc3339();
    let signature = key
        .key
        .sign(&checkpoint_message(id, head_seq, head_hash, &time));
    tx.execute(
        "INSERT INTO audit_checkpoints (id, time, head_seq, head_hash, public_key, signature)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            id,
            time,
            head_seq,
            head_hash,
            key.verifying_key().as_bytes().to_vec(),
            signature.to_bytes().to_vec()
        ],
    )?;
    Ok(SignedHead {
        checkpoint_id: id,
        time,
        head_seq,
        head_hash: hex::encode(head_hash),
        public_key: hex::encode(key.verifying_key().as_bytes()),
        signature: hex::encode(signature.to_bytes()),
    })
}

struct CheckpointRow {
    id: i64,
    time: String,
    head_seq: i64,
    head_hash: Vec<u8>,
    public_key: Vec<u8>,
    signature: Vec<u8>,
}

impl CheckpointRow {
    /// Checks numbering, key and signature.
    fn check(&self, expected_id: i64, key: Option<&VerifyingKey>) -> Result<(), ServerError> {
        let broken = |reason: String| ServerError::AuditCheckpointBroken {
            checkpoint: self.id,
            reason,
        };
        if self.id != expected_id {
            return Err(ServerError::AuditCheckpointBroken {
                checkpoint: expected_id,
                reason: format!("it is missing (next checkpoint found is {})", self.id),
            });
        }
        check_signature(
            self.id,
            self.head_seq,
            &self.head_hash,
            &self.time,
            &self.public_key,
            &self.signature,
            key,
        )
        .map_err(broken)
    }
}

fn check_signature(
    id: i64,
    head_seq: i64,
    head_hash: &[u8],
    time: &str,
    public_key: &[u8],
    signature: &[u8],
    expected_key: Option<&VerifyingKey>,
) -> Result<(), String> {
    let public: [u8; 32] = public_key
        .try_into()
        .map_err(|_| "its public key is not 32 bytes".to_string())?;
    let public = VerifyingKey::from_bytes(&public)
        .map_err(|_| "its public key is not an Ed25519 key".to_string())?;
    if let Some(expected) = expected_key {
        if expected != &public {
            return Err("it was signed by a key other than this server's checkpoint key".into());
        }
    }
    let signature =
        Signature::from_slice(signature).map_err(|_| "its signature is malformed".to_string())?;
    public
        .verify(
            &checkpoint_message(id, head_seq, head_hash, time),
            &signature,
        )
        .map_err(|_| "its signature does not match what it vouches for".to_string())
}

/// One line of an export file.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ExportLine {
    Header {
        format: String,
        from: i64,
        to: i64,
        public_key: Option<String>,
    },
    Entry(ExportedEntry),
    Checkpoint {
        id: i64,
        time: String,
        head_seq: i64,
        head_hash: String,
        public_key: String,
        signature: String,
    },
}

#[derive(Serialize, Deserialize)]
struct ExportedEntry {
    seq: i64,
    time: String,
    actor: Option<String>,
    role: Option<String>,
    event: String,
    record_id: Option<String>,
    source_ip: Option<String>,
    device_id: Option<String>,
    details: String,
    prev_hash: String,
    hash: String,
}

/// Re-verifies an export file on its own (what an auditor runs): the entries
/// chain from the first one's `prev_hash`, each hash matches its fields, and
/// each checkpoint's signature and head hash hold. `key`, when given, is the
/// checkpoint key the auditor trusts. Returns the counts.
pub fn verify_export(path: &Path, key: Option<&VerifyingKey>) -> Result<Verified, ServerError> {
    let file = std::fs::File::open(path).map_err(|source| ServerError::Read {
        path: path.to_owned(),
        source,
    })?;
    let bad = |line: usize, reason: &str| ServerError::BadConfig {
        source_name: format!("{} line {line}", path.display()),
        reason: reason.into(),
    };
    let mut hashes = std::collections::HashMap::new();
    let mut expected: Option<(i64, Vec<u8>)> = None;
    let mut checkpoints = 0u64;
    let mut entries = 0u64;
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| ServerError::Read {
            path: path.to_owned(),
            source,
        })?;
        let parsed: ExportLine =
            serde_json::from_str(&line).map_err(|_| bad(n + 1, "not a line of an audit export"))?;
        match parsed {
            ExportLine::Header { format, .. } if format == EXPORT_FORMAT => {}
            ExportLine::Header { .. } => return Err(bad(n + 1, "unknown export format")),
            ExportLine::Entry(e) => {
                let broken = |reason: &str| ServerError::AuditBroken {
                    seq: e.seq,
                    reason: reason.into(),
                };
                let prev = hex::decode(&e.prev_hash).map_err(|_| broken("prev_hash is not hex"))?;
                let hash = hex::decode(&e.hash).map_err(|_| broken("hash is not hex"))?;
                if let Some((seq, h)) = &expected {
                    if e.seq != *seq {
                        return Err(ServerError::AuditBroken {
                            seq: *seq,
                            reason: format!("entry is missing (next entry found is {})", e.seq),
                        });
                    }
                    if &prev != h {
                        return Err(broken("it does not follow the entry before it"));
                    }
                }
                let b = opt_bytes;
                let stored = Stored {
                    fields: [
                        Some(e.time.as_bytes()),
                        b(&e.actor),
                        b(&e.role),
                        Some(e.event.as_bytes()),
                        b(&e.record_id),
                        b(&e.source_ip),
                        b(&e.device_id),
                        Some(e.details.as_bytes()),
                    ],
                };
                if entry_hash(e.seq, &prev, &stored).as_slice() != hash.as_slice() {
                    return Err(broken("its content does not match its hash"));
                }
                hashes.insert(e.seq, hash.clone());
                expected = Some((e.seq + 1, hash));
                entries += 1;
            }
            ExportLine::Checkpoint {
                id,
                time,
                head_seq,
                head_hash,
                public_key,
                signature,
            } => {
                let broken = |reason: String| ServerError::AuditCheckpointBroken {
                    checkpoint: id,
                    reason,
                };
                let head_hash =
                    hex::decode(head_hash).map_err(|_| broken("head hash is not hex".into()))?;
                let public_key =
                    hex::decode(public_key).map_err(|_| broken("public key is not hex".into()))?;
                let signature =
                    hex::decode(signature).map_err(|_| broken("signature is not hex".into()))?;
                check_signature(
                    id,
                    head_seq,
                    &head_hash,
                    &time,
                    &public_key,
                    &signature,
                    key,
                )
                .map_err(broken)?;
                if hashes.get(&head_seq) != Some(&head_hash) {
                    return Err(ServerError::AuditBroken {
                        seq: head_seq,
                        reason: format!(
                            "it does not have the hash signed in checkpoint {id}, or is missing"
                        ),
                    });
                }
                checkpoints += 1;
            }
        }
    }
    Ok(Verified {
        entries,
        checkpoints,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> (tempfile::TempDir, CheckpointKey) {
        let tmp = tempfile::tempdir().unwrap();
        let key = CheckpointKey::load_or_create(&tmp.path().join("k")).unwrap();
        (tmp, key)
    }

    /// A log of `n` entries, checkpointed every `every`.
    fn log_with(n: usize, every: i64) -> (tempfile::TempDir, AuditLog, VerifyingKey) {
        let tmp = tempfile::tempdir().unwrap();
        let mut log = AuditLog::open(&tmp.path().join("audit.db")).unwrap();
        let key = CheckpointKey::load_or_create(&tmp.path().join("audit-signing.key")).unwrap();
        let public = key.verifying_key();
        log.sign_with(key, every);
        for i in 0..n {
            let mut e = Entry::new(Event::ClientRead, Some(Uuid::new_v4()), None);
            e.role = Some(Role::SoloPractitioner);
            e.details = serde_json::json!({ "i": i });
            log.append(&e).unwrap();
        }
        (tmp, log, public)
    }

    fn first_bad(log: &AuditLog, key: &VerifyingKey) -> i64 {
        match log.verify(Some(key)) {
            Err(ServerError::AuditBroken { seq, .. }) => seq,
            other => panic!("expected a broken entry, got {other:?}"),
        }
    }

    #[test]
    fn a_fresh_log_verifies_with_its_entry_and_checkpoint_counts() {
        let (_tmp, log, public) = log_with(10, 4);
        assert_eq!(
            log.verify(Some(&public)).unwrap(),
            Verified {
                entries: 10,
                checkpoints: 2
            }
        );
    }

    #[test]
    fn update_and_delete_are_refused_by_the_database() {
        let (_tmp, mut log, public) = log_with(4, 2);
        log.raise_alert(Alert {
            id: 0,
            time: String::new(),
            kind: "bulk_access".into(),
            account_id: None,
            source_ip: None,
            details: serde_json::json!({}),
            audit_seq: 0,
        })
        .unwrap();
        for sql in [
            "UPDATE audit_log SET details = '{}' WHERE seq = 1",
            "DELETE FROM audit_log WHERE seq = 2",
            "UPDATE audit_checkpoints SET head_seq = 1",
            "DELETE FROM audit_checkpoints",
            "UPDATE alerts SET kind = 'x'",
            "DELETE FROM alerts",
        ] {
            assert!(log.conn.execute(sql, []).is_err(), "{sql}");
        }
        assert_eq!(log.verify(Some(&public)).unwrap().entries, 5);
    }

    #[test]
    fn an_entry_changed_with_triggers_dropped_is_named_by_verify() {
        let (_tmp, log, public) = log_with(4, 100);
        log.conn
            .execute_batch(
                "DROP TRIGGER audit_log_no_update;
                 UPDATE audit_log SET details = '{\"i\":9}' WHERE seq = 3;",
            )
            .unwrap();
        assert_eq!(first_bad(&log, &public), 3);
    }

    #[test]
    fn a_flipped_byte_in_the_role_column_is_named_by_verify() {
        let (_tmp, log, public) = log_with(4, 100);
        log.conn
            .execute_batch(
                "DROP TRIGGER audit_log_no_update;
                 UPDATE audit_log SET role = 'solo_practitionep' WHERE seq = 2;",
            )
            .unwrap();
        assert_eq!(first_bad(&log, &public), 2);
    }

    #[test]
    fn a_removed_entry_is_named_by_verify() {
        let (_tmp, log, public) = log_with(4, 100);
        log.conn
            .execute_batch("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 2;")
            .unwrap();
        assert_eq!(first_bad(&log, &public), 2);
    }

    #[test]
    fn a_deleted_tail_is_named_by_verify_through_the_signed_checkpoint() {
        let (_tmp, mut log, public) = log_with(7, 100);
        log.sign_head().unwrap();
        log.conn
            .execute_batch("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq > 4;")
            .unwrap();
        match log.verify(Some(&public)) {
            Err(ServerError::AuditBroken { seq, reason }) => {
                assert_eq!(seq, 5);
                assert!(reason.contains("5..=7 are missing"), "{reason}");
            }
            other => panic!("expected entry 5 to be missing, got {other:?}"),
        }
    }

    #[test]
    fn two_swapped_entries_are_named_by_verify() {
        let (_tmp, log, public) = log_with(5, 100);
        log.conn
            .execute_batch(
                "DROP TRIGGER audit_log_no_update;
                 UPDATE audit_log SET seq = -1 WHERE seq = 2;
                 UPDATE audit_log SET seq = 2 WHERE seq = 3;
                 UPDATE audit_log SET seq = 3 WHERE seq = -1;",
            )
            .unwrap();
        assert_eq!(first_bad(&log, &public), 2);
    }

    #[test]
    fn a_chain_rebuilt_after_an_edit_fails_against_the_signed_checkpoint() {
        let (_tmp, mut log, public) = log_with(6, 3);
        // Rewrite entry 5 and re-hash from there, as someone holding the
        // file (but not the key) could.
        log.conn
            .execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq >= 5;")
            .unwrap();
        let mut e = Entry::new(Event::ClientRead, None, None);
        e.details = serde_json::json!({ "forged": true });
        log.signer = None;
        log.append(&e).unwrap();
        log.append(&e).unwrap();
        // The chain itself is consistent again; only the checkpoint of
        // entry 6 shows the rewrite.
        assert_eq!(first_bad(&log, &public), 4);
    }

    #[test]
    fn a_checkpoint_signed_by_another_key_is_refused() {
        let (_tmp, mut log, _) = log_with(3, 100);
        let (_t, other) = key();
        log.sign_head().unwrap();
        match log.verify(Some(&other.verifying_key())) {
            Err(ServerError::AuditCheckpointBroken { checkpoint, .. }) => assert_eq!(checkpoint, 1),
            other => panic!("expected checkpoint 1 to fail, got {other:?}"),
        }
    }

    #[test]
    fn a_checkpoint_with_a_changed_head_fails_its_signature() {
        let (_tmp, log, public) = log_with(4, 2);
        log.conn
            .execute_batch(
                "DROP TRIGGER audit_checkpoints_no_update;
                 UPDATE audit_checkpoints SET head_seq = 3 WHERE id = 2;",
            )
            .unwrap();
        match log.verify(Some(&public)) {
            Err(ServerError::AuditCheckpointBroken { checkpoint, .. }) => assert_eq!(checkpoint, 2),
            other => panic!("expected checkpoint 2 to fail, got {other:?}"),
        }
    }

    #[test]
    fn an_export_re_verifies_on_its_own_and_an_edited_line_is_named() {
        let (tmp, mut log, public) = log_with(9, 4);
        log.sign_head().unwrap();
        let out = tmp.path().join("export.jsonl");
        assert_eq!(log.export(3, 9, &out, Some(&public)).unwrap(), 7);
        assert_eq!(
            verify_export(&out, Some(&public)).unwrap(),
            Verified {
                entries: 7,
                checkpoints: 3
            }
        );

        let text = std::fs::read_to_string(&out).unwrap();
        let edited = text.replacen("{\\\"i\\\":5}", "{\\\"i\\\":50}", 1);
        assert_ne!(edited, text, "the entry to edit is in the export");
        std::fs::write(&out, edited).unwrap();
        match verify_export(&out, Some(&public)) {
            Err(ServerError::AuditBroken { seq, .. }) => assert_eq!(seq, 6),
            other => panic!("expected entry 6 to fail, got {other:?}"),
        }
    }

    #[test]
    fn a_retried_device_upload_is_stored_once() {
        let (_tmp, mut log, public) = log_with(0, 100);
        let id = Uuid::new_v4();
        let e = Entry::new(Event::DeviceRecorded, Some(Uuid::new_v4()), None);
        assert_eq!(
            log.append_device_entries(&[(id, e.clone())]).unwrap(),
            Ok((1, 0))
        );
        assert_eq!(log.append_device_entries(&[(id, e)]).unwrap(), Ok((0, 1)));
        assert_eq!(log.verify(Some(&public)).unwrap().entries, 1);
    }

    #[test]
    fn another_accounts_device_entry_id_refuses_the_whole_upload() {
        let (_tmp, mut log, public) = log_with(0, 100);
        let id = Uuid::new_v4();
        let mine = Entry::new(Event::DeviceRecorded, Some(Uuid::new_v4()), None);
        let theirs = Entry::new(Event::DeviceRecorded, Some(Uuid::new_v4()), None);
        assert_eq!(
            log.append_device_entries(&[(id, mine)]).unwrap(),
            Ok((1, 0))
        );
        assert_eq!(
            log.append_device_entries(&[(Uuid::new_v4(), theirs.clone()), (id, theirs)])
                .unwrap(),
            Err(ForeignEntryId(id))
        );
        assert_eq!(
            log.verify(Some(&public)).unwrap().entries,
            1,
            "nothing stored"
        );
    }
}
