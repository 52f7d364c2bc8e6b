//! The audit log: an append-only, hash-chained record of who did what to
//! which record, kept in its own SQLite file (`audit.db`) apart from the
//! operational database.
//!
//! What is logged: every sign-in step (password and code, success and
//! failure), every read of a client record, every note write. Each entry
//! holds ids, times, the source address and a small details object, and
//! never a name, a note's text, a password, a code or a token.
//!
//! Why a hash chain: SQLite triggers refuse UPDATE and DELETE, which stops
//! the application and casual edits; the chain catches edits made below
//! SQL (a byte changed in the file, a trigger dropped). Each entry's hash is
//! SHA-256 over its sequence number, the previous entry's hash and its own
//! canonical serialisation, so changing any stored byte of an entry breaks
//! that entry, and removing one breaks the next. `bench-server audit verify`
//! recomputes the chain and names the first entry that fails.
//!
//! Limitation: an attacker who can rewrite the whole file can rebuild a
//! consistent chain; anchoring the latest hash outside the server (printed
//! into a daily report, or sent to a second machine) would catch that.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ServerError;

/// The hash before the first entry.
const GENESIS: [u8; 32] = [0u8; 32];

/// What kind of thing happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Password step accepted.
    LoginPasswordOk,
    /// Password step refused (wrong password or unknown user).
    LoginPasswordFailed,
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
    /// A pushed change conflicted and was kept aside.
    ChangeConflict,
    /// A pushed change was refused.
    ChangeRejected,
}

impl Event {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::LoginPasswordOk => "login_password_ok",
            Event::LoginPasswordFailed => "login_password_failed",
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
            Event::ChangeConflict => "change_conflict",
            Event::ChangeRejected => "change_rejected",
        }
    }
}

/// One entry to append. `details` must hold ids and codes only.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Who acted, when known.
    pub actor: Option<Uuid>,
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
    /// An entry with no record, device or details yet.
    pub fn new(event: Event, actor: Option<Uuid>, source_ip: Option<IpAddr>) -> Entry {
        Entry {
            actor,
            event,
            record_id: None,
            source_ip,
            device_id: None,
            details: serde_json::Value::Object(Default::default()),
        }
    }
}

/// The fields that are hashed, in this order. Changing this struct changes
/// every hash: old logs would no longer verify.
#[derive(Serialize)]
struct Canonical<'a> {
    time: &'a str,
    actor: Option<&'a str>,
    event: &'a str,
    record_id: Option<&'a str>,
    source_ip: Option<&'a str>,
    device_id: Option<&'a str>,
    details: &'a str,
}

fn entry_hash(seq: i64, prev_hash: &[u8], content: &Canonical<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"doctors-bench audit v1\0");
    h.update(seq.to_be_bytes());
    h.update(prev_hash);
    h.update(serde_json::to_vec(content).expect("canonical entry serialises"));
    h.finalize().into()
}

/// The audit log database.
pub struct AuditLog {
    conn: Connection,
    path: PathBuf,
}

impl AuditLog {
    /// Opens (creating if needed) the audit log at `path`.
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
             BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
        )
        .map_err(db)?;
        Ok(AuditLog {
            conn,
            path: path.to_owned(),
        })
    }

    /// Appends one entry and returns its sequence number.
    pub fn append(&mut self, entry: &Entry) -> Result<i64, ServerError> {
        let path = self.path.clone();
        let db = |e| ServerError::database(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        let last: Option<(i64, Vec<u8>)> = tx
            .query_row(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db)?;
        let (seq, prev_hash) = match last {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, GENESIS.to_vec()),
        };

        let time = crate::clock::now_rfc3339();
        let actor = entry.actor.map(|u| u.to_string());
        let record_id = entry.record_id.map(|u| u.to_string());
        let source_ip = entry.source_ip.map(|ip| ip.to_string());
        let device_id = entry.device_id.map(|u| u.to_string());
        let details = entry.details.to_string();
        let content = Canonical {
            time: &time,
            actor: actor.as_deref(),
            event: entry.event.as_str(),
            record_id: record_id.as_deref(),
            source_ip: source_ip.as_deref(),
            device_id: device_id.as_deref(),
            details: &details,
        };
        let hash = entry_hash(seq, &prev_hash, &content);
        tx.execute(
            "INSERT INTO audit_log (seq, time, actor, event, record_id, source_ip, device_id, details, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![seq, time, actor, content.event, record_id, source_ip, device_id, details, prev_hash, hash.to_vec()],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(seq)
    }

    /// Recomputes the chain from the first entry. Returns the number of
    /// entries, or the first entry that does not verify.
    pub fn verify(&self) -> Result<u64, ServerError> {
        let db = |e| ServerError::database(&self.path, e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, time, actor, event, record_id, source_ip, device_id, details, prev_hash, hash
                 FROM audit_log ORDER BY seq",
            )
            .map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        let mut expected_prev = GENESIS.to_vec();
        let mut expected_seq = 1i64;
        let mut count = 0u64;
        while let Some(row) = rows.next().map_err(db)? {
            let seq: i64 = row.get(0).map_err(db)?;
            let broken = |reason: &str| ServerError::AuditBroken {
                seq,
                reason: reason.into(),
            };
            if seq != expected_seq {
                return Err(ServerError::AuditBroken {
                    seq: expected_seq,
                    reason: format!("entry is missing (next entry found is {seq})"),
                });
            }
            // Read text as raw bytes: a flipped byte may no longer be UTF-8,
            // and that must be reported as tampering, not as a crash.
            let text = |i: usize| -> Result<Option<String>, ServerError> {
                match row.get_ref(i).map_err(db)? {
                    rusqlite::types::ValueRef::Null => Ok(None),
                    rusqlite::types::ValueRef::Text(b) => String::from_utf8(b.to_vec())
                        .map(Some)
                        .map_err(|_| broken("a stored field is not valid text")),
                    _ => Err(broken("a stored field has the wrong type")),
                }
            };
            let time = text(1)?.ok_or_else(|| broken("time is missing"))?;
            let actor = text(2)?;
            let event = text(3)?.ok_or_else(|| broken("event is missing"))?;
            let record_id = text(4)?;
            let source_ip = text(5)?;
            let device_id = text(6)?;
            let details = text(7)?.ok_or_else(|| broken("details are missing"))?;
            let prev_hash: Vec<u8> = row.get(8).map_err(|_| broken("prev_hash is unreadable"))?;
            let hash: Vec<u8> = row.get(9).map_err(|_| broken("hash is unreadable"))?;

            if prev_hash != expected_prev {
                return Err(broken("it does not follow the entry before it"));
            }
            let content = Canonical {
                time: &time,
                actor: actor.as_deref(),
                event: &event,
                record_id: record_id.as_deref(),
                source_ip: source_ip.as_deref(),
                device_id: device_id.as_deref(),
                details: &details,
            };
            if entry_hash(seq, &prev_hash, &content).as_slice() != hash.as_slice() {
                return Err(broken("its content does not match its hash"));
            }
            expected_prev = hash;
            expected_seq += 1;
            count += 1;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with(n: usize) -> (tempfile::TempDir, AuditLog) {
        let tmp = tempfile::tempdir().unwrap();
        let mut log = AuditLog::open(&tmp.path().join("audit.db")).unwrap();
        for i in 0..n {
            let mut e = Entry::new(Event::ClientRead, Some(Uuid::new_v4()), None);
            e.details = serde_json::json!({ "i": i });
            log.append(&e).unwrap();
        }
        (tmp, log)
    }

    #[test]
    fn a_fresh_log_verifies_with_its_entry_count() {
        let (_tmp, log) = log_with(5);
        assert_eq!(log.verify().unwrap(), 5);
    }

    #[test]
    fn update_and_delete_are_refused_by_the_database() {
        let (_tmp, log) = log_with(2);
        assert!(log
            .conn
            .execute("UPDATE audit_log SET details = '{}' WHERE seq = 1", [])
            .is_err());
        assert!(log
            .conn
            .execute("DELETE FROM audit_log WHERE seq = 2", [])
            .is_err());
        assert_eq!(log.verify().unwrap(), 2);
    }

    #[test]
    fn an_entry_changed_with_triggers_dropped_is_named_by_verify() {
        let (_tmp, log) = log_with(4);
        log.conn
            .execute_batch(
                "DROP TRIGGER audit_log_no_update;
                 UPDATE audit_log SET details = '{\"i\":9}' WHERE seq = 3;",
            )
            .unwrap();
        match log.verify() {
            Err(ServerError::AuditBroken { seq, .. }) => assert_eq!(seq, 3),
            other => panic!("expected entry 3 to fail, got {other:?}"),
        }
    }

    #[test]
    fn a_removed_entry_is_named_by_verify() {
        let (_tmp, log) = log_with(4);
        log.conn
            .execute_batch("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 2;")
            .unwrap();
        match log.verify() {
            Err(ServerError::AuditBroken { seq, .. }) => assert_eq!(seq, 2),
            other => panic!("expected entry 2 to be missing, got {other:?}"),
        }
    }
}
