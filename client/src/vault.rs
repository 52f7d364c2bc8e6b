//! The vault: one SQLCipher file per practitioner per device, at
//! `<data dir>/<server host>/<username>/vault.db`.
//!
//! Two layers protect what is in it. SQLCipher encrypts every page of the
//! file (and its WAL) under the database key. Inside, every clinical field
//! (the client's name, date of birth and contact, a note's body, the other
//! side of a conflict) is also sealed with the field key ([`crate::seal`]),
//! bound to its table, column and row id. Dates, statuses and sync
//! bookkeeping stay unsealed so the vault can sort and count them.
//!
//! Every local change is written to its record and to the outbox in one
//! SQLite transaction, so a crash leaves either both or neither. The outbox
//! holds one row per record with a change waiting; it references the record
//! instead of copying it, so the latest text is what gets pushed. Each
//! edit also writes an entry to the device's audit trail in that same
//! transaction ([`crate::device_audit`]): ids and a kind, never text.
//!
//! The vault does not talk to the network; [`crate::Core`] moves changes
//! between it and [`crate::sync`].

use std::path::Path;

use bench_protocol::api::{Change, ChangeOutcome, DeviceAuditEntry, ServerChange};
use bench_protocol::desktop::{AmendmentView, NoteView, RecordSync, Resolution, Resolved};
use bench_protocol::{ClientRecord, NoteAmendment, NoteStatus, Record, RecordKind, SessionNote};
use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::device_audit::{self, EditKind};
use crate::keys::DataKeys;
use crate::seal::{self, FieldKey, FieldPlace, SealedField};
use crate::CoreError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS clients (
    id             TEXT PRIMARY KEY,
    full_name      BLOB NOT NULL,   -- sealed
    date_of_birth  BLOB,            -- sealed
    contact        BLOB,            -- sealed
    created_at     TEXT NOT NULL,
    server_version INTEGER,
    sync_state     TEXT NOT NULL,
    reject_reason  TEXT
);
CREATE TABLE IF NOT EXISTS notes (
    id             TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    session_date   TEXT NOT NULL,
    body           BLOB NOT NULL,   -- sealed
    status         TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    signed_at      TEXT,
    server_version INTEGER,
    sync_state     TEXT NOT NULL,
    reject_reason  TEXT
);
CREATE INDEX IF NOT EXISTS notes_by_client ON notes (client_id);
-- Corrections appended to signed notes. Never updated once written, except
-- for sync bookkeeping (server_version, sync_state, reject_reason).
CREATE TABLE IF NOT EXISTS amendments (
    id             TEXT PRIMARY KEY,
    note_id        TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    body           BLOB NOT NULL,   -- sealed
    created_at     TEXT NOT NULL,
    server_version INTEGER,
    sync_state     TEXT NOT NULL,
    reject_reason  TEXT
);
CREATE INDEX IF NOT EXISTS amendments_by_note ON amendments (note_id);
-- One row per record with a change waiting. `attempted` is set once the
-- change has been sent; `edited_after_attempt` when the record changed
-- again before the answer came, so a fresh change follows. `sent_record`
-- (sealed JSON) is what the change carried the first time it was sent; a
-- retry sends exactly that again (see `take_changes`).
CREATE TABLE IF NOT EXISTS outbox (
    record_id            TEXT PRIMARY KEY,
    kind                 TEXT NOT NULL,
    change_id            TEXT NOT NULL UNIQUE,
    base_version         INTEGER,
    attempted            INTEGER NOT NULL DEFAULT 0,
    edited_after_attempt INTEGER NOT NULL DEFAULT 0,
    sent_record          BLOB
);
-- The server's version of a record in conflict; the local one stays in its table.
CREATE TABLE IF NOT EXISTS conflicts (
    record_id      TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    server_version INTEGER NOT NULL,
    server_record  BLOB NOT NULL    -- sealed JSON
);
";

/// An open, unlocked vault. Dropping it closes the file and zeroizes the
/// field key.
pub struct Vault {
    conn: Connection,
    field_key: FieldKey,
}

/// A client as stored, with its sync state.
#[derive(Clone, Debug)]
pub struct StoredClient {
    /// The record.
    pub client: ClientRecord,
    /// Its sync state.
    pub sync: RecordSync,
}

/// A note as stored, with its sync state.
#[derive(Clone, Debug)]
pub struct StoredNote {
    /// The record.
    pub note: SessionNote,
    /// Its sync state.
    pub sync: RecordSync,
}

impl Vault {
    /// Opens (or creates) the vault at `path` with its data keys. The
    /// database key is used for `PRAGMA key` and then dropped.
    pub fn open(path: &Path, keys: DataKeys) -> Result<Vault, CoreError> {
        if let Some(dir) = path.parent() {
            crate::config::create_private_dir(dir).map_err(|err| {
                CoreError::Vault(format!(
                    "The vault folder could not be created ({}). Check the disk and its \
                     permissions.",
                    err.kind()
                ))
            })?;
        }
        let conn = Connection::open(path).map_err(|e| CoreError::vault("be opened", e))?;

        // The key must be the first statement: SQLCipher reads the first page
        // only when the database is first touched.
        let key_hex = Zeroizing::new(hex::encode(*keys.database_key));
        let pragma = Zeroizing::new(format!("PRAGMA key = \"x'{}'\";", key_hex.as_str()));
        conn.execute_batch(&pragma)
            .map_err(|e| CoreError::vault("be opened", e))?;
        drop(pragma);
        drop(key_hex);

        let readable = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        });
        if let Err(err) = readable {
            tracing::warn!(error = %err, "vault did not open with its key");
            return Err(CoreError::Vault(
                "The vault on this device could not be opened with its key: the file is damaged \
                 or belongs to another key. Nothing was changed. Contact your clinic IT."
                    .into(),
            ));
        }

        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(|e| CoreError::vault("switch to write-ahead logging", e))?;
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
        conn.execute_batch(SCHEMA)
            .map_err(|e| CoreError::vault("set up its tables", e))?;
        // Vaults made before `sent_record` existed get the column; their
        // rows without it fall back to sending the current text.
        let has_sent_record: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM pragma_table_info('outbox') WHERE name = 'sent_record')",
                [],
                |r| r.get(0),
            )
            .map_err(|e| CoreError::vault("set up its tables", e))?;
        if !has_sent_record {
            conn.execute_batch("ALTER TABLE outbox ADD COLUMN sent_record BLOB")
                .map_err(|e| CoreError::vault("set up its tables", e))?;
        }
        // The device's audit trail, and the change id reserved for an edit
        // made while its record's change is on its way (`queue_change_id`).
        conn.execute_batch(device_audit::SCHEMA)
            .map_err(|e| CoreError::vault("set up its tables", e))?;
        conn.execute_batch(owners::SCHEMA)
            .map_err(|e| CoreError::vault("set up its tables", e))?;
        let has_next_change_id: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM pragma_table_info('outbox') WHERE name = 'next_change_id')",
                [],
                |r| r.get(0),
            )
            .map_err(|e| CoreError::vault("set up its tables", e))?;
        if !has_next_change_id {
            conn.execute_batch("ALTER TABLE outbox ADD COLUMN next_change_id TEXT")
                .map_err(|e| CoreError::vault("set up its tables", e))?;
        }

        Ok(Vault {
            conn,
            field_key: keys.field_key,
        })
    }

    /// SQLite's own check of the file (`PRAGMA integrity_check`): `Ok(())`
    /// when it reports "ok", otherwise its first complaint. The complaint
    /// names pages and tables, never values.
    pub fn integrity_check(&self) -> Result<(), CoreError> {
        let verdict: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if verdict == "ok" {
            Ok(())
        } else {
            Err(CoreError::Vault(format!(
                "The vault on this device failed its integrity check ({verdict}). Contact your \
                 clinic IT before making changes."
            )))
        }
    }

    // ---- meta --------------------------------------------------------------

    /// A value from the vault's own settings.
    pub fn meta(&self, key: &str) -> Result<Option<String>, CoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Sets a value in the vault's own settings.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), CoreError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Where the last pull stopped.
    pub fn pull_cursor(&self) -> Result<i64, CoreError> {
        Ok(self
            .meta("pull_cursor")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    // ---- clients -----------------------------------------------------------

    /// Adds a new client and queues it for the server, in one transaction
    /// with its audit entry.
    pub fn insert_client(&mut self, client: &ClientRecord) -> Result<(), CoreError> {
        let tx = self.conn.transaction()?;
        let exists: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM clients WHERE id = ?1)",
            [client.id.to_string()],
            |r| r.get(0),
        )?;
        let edit = if exists {
            EditKind::ClientEdited
        } else {
            EditKind::ClientCreated
        };
        write_client(&tx, &self.field_key, client, None, "waiting")?;
        queue_edit(&tx, RecordKind::Client, client.id, edit)?;
        tx.commit()?;
        tracing::info!(client_id = %client.id, "client added");
        Ok(())
    }

    /// Every client on this device, in no particular order.
    pub fn clients(&self) -> Result<Vec<StoredClient>, CoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, full_name, date_of_birth, contact, created_at, sync_state FROM clients",
        )?;
        let rows = stmt.query_map([], client_row)?;
        rows.map(|row| self.open_client_row(row?)).collect()
    }

    /// One client.
    pub fn client(&self, id: Uuid) -> Result<Option<StoredClient>, CoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT id, full_name, date_of_birth, contact, created_at, sync_state
                 FROM clients WHERE id = ?1",
                [id.to_string()],
                client_row,
            )
            .optional()?;
        row.map(|r| self.open_client_row(r)).transpose()
    }

    fn open_client_row(&self, row: ClientRow) -> Result<StoredClient, CoreError> {
        let id = parse_id(&row.id)?;
        let open = |column: &str, bytes: Vec<u8>| {
            seal::open_string(
                &self.field_key,
                FieldPlace::new("clients", column, id),
                &SealedField::from_bytes(bytes)?,
            )
        };
        Ok(StoredClient {
            client: ClientRecord {
                id,
                full_name: open("full_name", row.full_name)?,
                date_of_birth: row
                    .date_of_birth
                    .map(|b| open("date_of_birth", b))
                    .transpose()?,
                contact: row.contact.map(|b| open("contact", b)).transpose()?,
                created_at: row.created_at,
            },
            sync: parse_sync(&row.sync_state),
        })
    }

    /// How many notes each client has, by client id.
    pub fn note_counts(&self) -> Result<std::collections::HashMap<Uuid, u32>, CoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT client_id, count(*) FROM notes GROUP BY client_id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))?;
        let mut counts = std::collections::HashMap::new();
        for row in rows {
            let (id, n) = row?;
            counts.insert(parse_id(&id)?, n);
        }
        Ok(counts)
    }

    // ---- notes -------------------------------------------------------------

    /// Writes a note (new or changed) and queues it, in one transaction
    /// with its audit entry: created, edited, or signed when a draft
    /// becomes signed.
    pub fn save_note(&mut self, note: &SessionNote) -> Result<(), CoreError> {
        let tx = self.conn.transaction()?;
        let before: Option<(Option<i64>, String)> = tx
            .query_row(
                "SELECT server_version, status FROM notes WHERE id = ?1",
                [note.id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let edit = match (&before, note.status) {
            (None, _) => EditKind::NoteCreated,
            (Some((_, was)), NoteStatus::Signed) if was != "signed" => EditKind::NoteSigned,
            _ => EditKind::NoteEdited,
        };
        let server_version = before.and_then(|b| b.0);
        write_note(&tx, &self.field_key, note, server_version, "waiting")?;
        queue_edit(&tx, RecordKind::Note, note.id, edit)?;
        tx.commit()?;
        tracing::info!(note_id = %note.id, client_id = %note.client_id, status = ?note.status, "note saved");
        Ok(())
    }

    /// One note.
    pub fn note(&self, id: Uuid) -> Result<Option<StoredNote>, CoreError> {
        let row = self
            .conn
            .query_row(
                &format!("{NOTE_SELECT} WHERE id = ?1"),
                [id.to_string()],
                note_row,
            )
            .optional()?;
        row.map(|r| self.open_note_row(r)).transpose()
    }

    /// A client's notes, newest session first, with any conflicting version.
    pub fn notes_of(&self, client_id: Uuid) -> Result<Vec<NoteView>, CoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "{NOTE_SELECT} WHERE client_id = ?1 ORDER BY session_date DESC, created_at DESC"
        ))?;
        let rows = stmt.query_map([client_id.to_string()], note_row)?;
        let mut views = Vec::new();
        for row in rows {
            let stored = self.open_note_row(row?)?;
            views.push(self.view_of(stored)?);
        }
        Ok(views)
    }

    /// The note as the UI shows it.
    pub fn note_view(&self, id: Uuid) -> Result<Option<NoteView>, CoreError> {
        let Some(stored) = self.note(id)? else {
            return Ok(None);
        };
        self.view_of(stored).map(Some)
    }

    /// A stored note with what the UI shows beside it: the other version
    /// when in conflict, the server's reason when refused.
    fn view_of(&self, stored: StoredNote) -> Result<NoteView, CoreError> {
        let id = stored.note.id;
        let conflict = match stored.sync {
            RecordSync::Conflict => match self.conflict_record(id)? {
                Some(Record::Note(server)) => Some(server),
                _ => None,
            },
            _ => None,
        };
        let reject_reason = match stored.sync {
            RecordSync::Rejected => self.reject_reason(RecordKind::Note, id)?,
            _ => None,
        };
        Ok(NoteView {
            note: stored.note,
            sync: stored.sync,
            conflict,
            reject_reason,
            amendments: self.amendments_of(id)?,
        })
    }

    // ---- amendments --------------------------------------------------------

    /// Appends an amendment to a note and queues it, in one transaction
    /// with its audit entry. The caller has checked that the note is
    /// signed; the note's own row is not touched.
    pub fn add_amendment(&mut self, amendment: &NoteAmendment) -> Result<(), CoreError> {
        let tx = self.conn.transaction()?;
        write_amendment(&tx, &self.field_key, amendment, None, "waiting")?;
        queue_edit(
            &tx,
            RecordKind::Amendment,
            amendment.id,
            EditKind::NoteAmended,
        )?;
        tx.commit()?;
        tracing::info!(amendment_id = %amendment.id, note_id = %amendment.note_id, "amendment added");
        Ok(())
    }

    /// One amendment.
    pub fn amendment(&self, id: Uuid) -> Result<Option<AmendmentView>, CoreError> {
        let row = self
            .conn
            .query_row(
                &format!("{AMENDMENT_SELECT} WHERE id = ?1"),
                [id.to_string()],
                amendment_row,
            )
            .optional()?;
        row.map(|r| self.open_amendment_row(r)).transpose()
    }

    /// A note's amendments, oldest first.
    pub fn amendments_of(&self, note_id: Uuid) -> Result<Vec<AmendmentView>, CoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "{AMENDMENT_SELECT} WHERE note_id = ?1 ORDER BY created_at, rowid"
        ))?;
        let rows = stmt.query_map([note_id.to_string()], amendment_row)?;
        rows.map(|row| self.open_amendment_row(row?)).collect()
    }

    fn open_amendment_row(&self, row: AmendmentRow) -> Result<AmendmentView, CoreError> {
        let id = parse_id(&row.id)?;
        let body = seal::open_string(
            &self.field_key,
            FieldPlace::new("amendments", "body", id),
            &SealedField::from_bytes(row.body)?,
        )?;
        Ok(AmendmentView {
            amendment: NoteAmendment {
                id,
                note_id: parse_id(&row.note_id)?,
                client_id: parse_id(&row.client_id)?,
                body,
                created_at: row.created_at,
            },
            sync: parse_sync(&row.sync_state),
            reject_reason: row.reject_reason,
        })
    }

    /// Why the server refused a record's last change, if it did.
    pub fn reject_reason(&self, kind: RecordKind, id: Uuid) -> Result<Option<String>, CoreError> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT reject_reason FROM {} WHERE id = ?1",
                    table_of(kind_str(kind))
                ),
                [id.to_string()],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// The server's version of a client record in conflict.
    pub fn client_conflict(&self, id: Uuid) -> Result<Option<ClientRecord>, CoreError> {
        Ok(match self.conflict_record(id)? {
            Some(Record::Client(server)) => Some(server),
            _ => None,
        })
    }

    /// Per client: how many of their notes are in conflict and how many the
    /// server refused (a refused amendment counts with the notes: it is part
    /// of one). Clients with neither are left out.
    pub fn notes_in_trouble(
        &self,
    ) -> Result<std::collections::HashMap<Uuid, (u32, u32)>, CoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT client_id,
                    sum(sync_state = 'conflict'), sum(sync_state = 'rejected')
             FROM (SELECT client_id, sync_state FROM notes
                   UNION ALL SELECT client_id, sync_state FROM amendments)
             WHERE sync_state IN ('conflict', 'rejected') GROUP BY client_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, u32>(2)?,
            ))
        })?;
        let mut trouble = std::collections::HashMap::new();
        for row in rows {
            let (id, conflicts, rejected) = row?;
            trouble.insert(parse_id(&id)?, (conflicts, rejected));
        }
        Ok(trouble)
    }

    /// Records the server refused (they wait for the practitioner, not in
    /// the outbox).
    pub fn rejected_count(&self) -> Result<u32, CoreError> {
        Ok(self.conn.query_row(
            "SELECT (SELECT count(*) FROM clients WHERE sync_state = 'rejected')
                  + (SELECT count(*) FROM notes WHERE sync_state = 'rejected')
                  + (SELECT count(*) FROM amendments WHERE sync_state = 'rejected')",
            [],
            |r| r.get(0),
        )?)
    }

    /// Queues a refused record again as it stands, for when what made the
    /// server refuse it has changed (the note it amends is signed now, the
    /// permission is back). Returns whether `id` was a refused record. No
    /// audit entry: the edit that made the record has one already.
    pub fn retry_rejected(&mut self, id: Uuid) -> Result<bool, CoreError> {
        let tx = self.conn.transaction()?;
        let mut found = None;
        for kind in [RecordKind::Client, RecordKind::Note, RecordKind::Amendment] {
            let rejected: bool = tx.query_row(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM {} WHERE id = ?1 AND sync_state = 'rejected')",
                    table_of(kind_str(kind))
                ),
                [id.to_string()],
                |r| r.get(0),
            )?;
            if rejected {
                found = Some(kind);
                break;
            }
        }
        let Some(kind) = found else {
            return Ok(false);
        };
        queue_change_id(&tx, kind, id)?;
        tx.commit()?;
        tracing::info!(record_id = %id, "refused change queued again");
        Ok(true)
    }

    /// Settles a record in conflict as the practitioner chose, in one
    /// transaction: the conflict copy goes, and whatever is kept is either
    /// queued (against the server's version, which this device has now
    /// seen) or written as the server has it. Nothing is dropped that the
    /// practitioner did not choose to drop.
    ///
    /// A signed note never changes. When the server's version is signed it
    /// stays the note, and this device's text (or the combined one), if
    /// kept, becomes a new draft for the same client and session date.
    /// When only this device's version is signed, it goes to the server as
    /// it is, and the other text, if kept, becomes the new draft.
    ///
    /// `now` stamps a note whose text changes and any new draft.
    pub fn resolve_conflict(
        &mut self,
        id: Uuid,
        resolution: &Resolution,
        now: &str,
    ) -> Result<Resolved, CoreError> {
        let server_version: Option<i64> = self
            .conn
            .query_row(
                "SELECT server_version FROM conflicts WHERE record_id = ?1",
                [id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        let (Some(server_version), Some(theirs)) = (server_version, self.conflict_record(id)?)
        else {
            return Err(CoreError::NotFound(
                "This record is no longer in conflict: it may have been settled already. \
                 Nothing was changed."
                    .into(),
            ));
        };

        let new_draft = match theirs {
            Record::Client(theirs) => {
                let tx = self.conn.transaction()?;
                match resolution {
                    Resolution::Mine => keep_mine(&tx, RecordKind::Client, id, server_version)?,
                    Resolution::Theirs => take_theirs(
                        &tx,
                        &self.field_key,
                        &Record::Client(theirs),
                        server_version,
                    )?,
                    Resolution::Merged { .. } | Resolution::Amend => {
                        return Err(CoreError::Invalid(
                            "Only a session note's text can be combined or added as an \
                             amendment. Keep one version of the client's details."
                                .into(),
                        ))
                    }
                }
                tx.commit()?;
                None
            }
            Record::Note(theirs) if *resolution == Resolution::Amend => {
                let mine = self.note(id)?.ok_or_else(|| {
                    CoreError::NotFound("That session note is not on this device.".into())
                })?;
                if theirs.status != NoteStatus::Signed {
                    return Err(CoreError::Invalid(
                        "Only a signed note takes amendments. Keep one version, or combine \
                         them."
                            .into(),
                    ));
                }
                // The amendment is written first, in its own transaction:
                // were the app stopped between the two steps, the text is
                // in the amendment and the conflict still shows.
                let amendment = NoteAmendment {
                    id: Uuid::new_v4(),
                    note_id: id,
                    client_id: theirs.client_id,
                    body: mine.note.body.clone(),
                    created_at: now.to_string(),
                };
                self.add_amendment(&amendment)?;
                self.resolve_note(mine.note, theirs, server_version, &Resolution::Theirs, now)?;
                tracing::info!(record_id = %id, amendment_id = %amendment.id, "conflict resolved with an amendment");
                return Ok(Resolved {
                    record_id: id,
                    new_draft: None,
                    amendment: Some(amendment.id),
                });
            }
            Record::Note(theirs) => {
                let mine = self.note(id)?.ok_or_else(|| {
                    CoreError::NotFound("That session note is not on this device.".into())
                })?;
                self.resolve_note(mine.note, theirs, server_version, resolution, now)?
            }
            _ => {
                return Err(CoreError::Invalid(
                    "This kind of record cannot be in conflict; nothing was changed.".into(),
                ))
            }
        };
        tracing::info!(record_id = %id, resolution = ?ResolutionKind::of(resolution), new_draft = new_draft.is_some(), "conflict resolved");
        Ok(Resolved {
            record_id: id,
            new_draft,
            amendment: None,
        })
    }

    fn resolve_note(
        &mut self,
        mut mine: SessionNote,
        theirs: SessionNote,
        server_version: i64,
        resolution: &Resolution,
        now: &str,
    ) -> Result<Option<Uuid>, CoreError> {
        let id = mine.id;
        let tx = self.conn.transaction()?;
        // The text kept besides the note, when one side is signed.
        let extra: Option<(String, String)> = match (mine.status, theirs.status, resolution) {
            (_, NoteStatus::Signed, _) => {
                let kept = match resolution {
                    Resolution::Mine => Some((mine.body.clone(), mine.session_date.clone())),
                    Resolution::Merged { body } => Some((body.clone(), mine.session_date.clone())),
                    // An amendment was written before this step.
                    Resolution::Theirs | Resolution::Amend => None,
                };
                take_theirs(&tx, &self.field_key, &Record::Note(theirs), server_version)?;
                kept
            }
            (NoteStatus::Signed, NoteStatus::Draft, _) => {
                keep_mine(&tx, RecordKind::Note, id, server_version)?;
                match resolution {
                    // Amend is refused before this step when theirs is a draft.
                    Resolution::Mine | Resolution::Amend => None,
                    Resolution::Theirs => Some((theirs.body, theirs.session_date)),
                    Resolution::Merged { body } => Some((body.clone(), mine.session_date.clone())),
                }
            }
            (NoteStatus::Draft, NoteStatus::Draft, Resolution::Theirs | Resolution::Amend) => {
                take_theirs(&tx, &self.field_key, &Record::Note(theirs), server_version)?;
                None
            }
            (
                NoteStatus::Draft,
                NoteStatus::Draft,
                Resolution::Mine | Resolution::Merged { .. },
            ) => {
                if let Resolution::Merged { body } = resolution {
                    mine.body = body.clone();
                }
                mine.updated_at = now.to_string();
                write_note(&tx, &self.field_key, &mine, Some(server_version), "waiting")?;
                keep_mine(&tx, RecordKind::Note, id, server_version)?;
                None
            }
        };

        let new_draft = match extra {
            Some((body, session_date)) => {
                let draft = SessionNote {
                    id: Uuid::new_v4(),
                    client_id: mine.client_id,
                    session_date,
                    body,
                    status: NoteStatus::Draft,
                    created_at: now.to_string(),
                    updated_at: now.to_string(),
                    signed_at: None,
                };
                write_note(&tx, &self.field_key, &draft, None, "waiting")?;
                queue_edit(&tx, RecordKind::Note, draft.id, EditKind::NoteCreated)?;
                Some(draft.id)
            }
            None => None,
        };
        tx.commit()?;
        Ok(new_draft)
    }

    fn open_note_row(&self, row: NoteRow) -> Result<StoredNote, CoreError> {
        let id = parse_id(&row.id)?;
        let body = seal::open_string(
            &self.field_key,
            FieldPlace::new("notes", "body", id),
            &SealedField::from_bytes(row.body)?,
        )?;
        Ok(StoredNote {
            note: SessionNote {
                id,
                client_id: parse_id(&row.client_id)?,
                session_date: row.session_date,
                body,
                status: if row.status == "signed" {
                    NoteStatus::Signed
                } else {
                    NoteStatus::Draft
                },
                created_at: row.created_at,
                updated_at: row.updated_at,
                signed_at: row.signed_at,
            },
            sync: parse_sync(&row.sync_state),
        })
    }

    fn conflict_record(&self, id: Uuid) -> Result<Option<Record>, CoreError> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT server_record FROM conflicts WHERE record_id = ?1",
                [id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let json = seal::open(
            &self.field_key,
            FieldPlace::new("conflicts", "server_record", id),
            &SealedField::from_bytes(sealed)?,
        )?;
        serde_json::from_slice(&json).map(Some).map_err(|_| {
            CoreError::Tampered(
                "A stored conflict copy could not be read; contact your clinic IT.".into(),
            )
        })
    }

    // ---- sync bookkeeping --------------------------------------------------

    /// Changes waiting in the outbox and records in conflict.
    pub fn counts(&self) -> Result<(u32, u32), CoreError> {
        let pending = self
            .conn
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?;
        let conflicts = self
            .conn
            .query_row("SELECT count(*) FROM conflicts", [], |r| r.get(0))?;
        Ok((pending, conflicts))
    }

    /// Up to `limit` waiting changes, clients before notes (a note needs its
    /// client on the server) and notes before amendments (an amendment needs
    /// its note signed on the server), marked as sent.
    ///
    /// An amendment waits while its note's change in flight carries an
    /// older copy of the note (edited, typically signed, after it was
    /// sent): pushed now, it would reach a draft and be refused. It goes
    /// in the sync after that copy's answer, with the signed note.
    ///
    /// A change id always carries the same record: the first send seals a
    /// copy into the outbox and every retry sends that copy. Otherwise a
    /// retry after a lost answer could carry newer text under an id the
    /// server already applied with the older text, and the answer
    /// ("already applied") would not say which text the server holds; a
    /// note signed meanwhile would then be pushed twice as signed and
    /// refused the second time. Edits made after the first send go in the
    /// fresh change that follows the answer ([`Vault::apply_outcome`]).
    pub fn take_changes(&mut self, limit: usize) -> Result<Vec<Change>, CoreError> {
        type Row = (String, String, String, Option<i64>, bool, Option<Vec<u8>>);
        let rows: Vec<Row> = {
            let mut stmt = self.conn.prepare(
                "SELECT record_id, kind, change_id, base_version, attempted, sent_record FROM outbox o
                 WHERE NOT (o.kind = 'amendment' AND EXISTS (
                     SELECT 1 FROM amendments a JOIN outbox n ON n.record_id = a.note_id
                     WHERE a.id = o.record_id AND n.edited_after_attempt = 1))
                 ORDER BY CASE kind WHEN 'client' THEN 0 WHEN 'note' THEN 1 ELSE 2 END, rowid
                 LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit as i64], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?;
            rows.collect::<Result<_, _>>()?
        };

        let mut changes = Vec::with_capacity(rows.len());
        let mut first_sends = Vec::new();
        for (record_id, kind, change_id, base_version, attempted, sent) in rows {
            let id = parse_id(&record_id)?;
            let pinned = match (attempted, sent) {
                (true, Some(sealed)) => Some(self.open_sent_record(id, sealed)?),
                _ => None,
            };
            let record = match pinned {
                Some(record) => Some(record),
                None if kind == "client" => self.client(id)?.map(|c| Record::Client(c.client)),
                None if kind == "amendment" => {
                    self.amendment(id)?.map(|a| Record::Amendment(a.amendment))
                }
                None => self.note(id)?.map(|n| Record::Note(n.note)),
            };
            let Some(record) = record else {
                // Cannot happen while writes go through queue_edit; drop the
                // orphan rather than block the queue behind it.
                tracing::warn!(record_id = %id, "outbox entry without its record dropped");
                self.conn
                    .execute("DELETE FROM outbox WHERE record_id = ?1", [&record_id])?;
                continue;
            };
            if !attempted {
                first_sends.push(changes.len());
            }
            changes.push(Change {
                change_id: parse_id(&change_id)?,
                base_version,
                record,
            });
        }

        let tx = self.conn.transaction()?;
        for &i in &first_sends {
            let change = &changes[i];
            let json = Zeroizing::new(
                serde_json::to_vec(&change.record).expect("records always serialise"),
            );
            let sealed = seal::seal(
                &self.field_key,
                FieldPlace::new("outbox", "sent_record", change.record.id()),
                &json,
            );
            tx.execute(
                "UPDATE outbox SET attempted = 1, sent_record = ?2 WHERE change_id = ?1",
                params![change.change_id.to_string(), sealed.into_bytes()],
            )?;
        }
        tx.commit()?;
        Ok(changes)
    }

    fn open_sent_record(&self, id: Uuid, sealed: Vec<u8>) -> Result<Record, CoreError> {
        let json = seal::open(
            &self.field_key,
            FieldPlace::new("outbox", "sent_record", id),
            &SealedField::from_bytes(sealed)?,
        )?;
        serde_json::from_slice(&json).map_err(|_| {
            CoreError::Tampered(
                "A change waiting to sync could not be read; contact your clinic IT.".into(),
            )
        })
    }

    /// Records the server's answer to one pushed change.
    pub fn apply_outcome(
        &mut self,
        change_id: Uuid,
        outcome: &ChangeOutcome,
    ) -> Result<(), CoreError> {
        let tx = self.conn.transaction()?;
        let row: Option<(String, String, bool)> = tx
            .query_row(
                "SELECT record_id, kind, edited_after_attempt FROM outbox WHERE change_id = ?1",
                [change_id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((record_id, kind, edited)) = row else {
            // Already handled (an answer that arrived twice).
            return Ok(());
        };
        let table = table_of(&kind);

        match outcome {
            ChangeOutcome::Applied { version } | ChangeOutcome::AlreadyApplied { version } => {
                tx.execute(
                    &format!("UPDATE {table} SET server_version = ?1 WHERE id = ?2"),
                    params![version, record_id],
                )?;
                if edited {
                    // The record changed while this change was in flight: the
                    // newer text goes as a fresh change against this version.
                    // It goes under the id its edits were audited with.
                    tx.execute(
                        "UPDATE outbox SET change_id = coalesce(next_change_id, ?1),
                                base_version = ?2, attempted = 0, edited_after_attempt = 0,
                                sent_record = NULL, next_change_id = NULL
                         WHERE record_id = ?3",
                        params![Uuid::new_v4().to_string(), version, record_id],
                    )?;
                } else {
                    tx.execute("DELETE FROM outbox WHERE record_id = ?1", [&record_id])?;
                    set_state(&tx, table, &record_id, "synced", None)?;
                }
                // `replayed`: the server had applied this change id before
                // (its first answer was lost on the way back).
                let replayed = matches!(outcome, ChangeOutcome::AlreadyApplied { .. });
                tracing::info!(record_id = %record_id, version, replayed, "change synced");
            }
            ChangeOutcome::Conflict {
                server_version,
                server,
            } => {
                store_conflict(&tx, &self.field_key, server, *server_version)?;
                tx.execute("DELETE FROM outbox WHERE record_id = ?1", [&record_id])?;
                set_state(&tx, table, &record_id, "conflict", None)?;
                tracing::info!(record_id = %record_id, server_version, "change in conflict; both versions kept");
            }
            ChangeOutcome::Rejected { code, reason } => {
                tx.execute("DELETE FROM outbox WHERE record_id = ?1", [&record_id])?;
                set_state(&tx, table, &record_id, "rejected", Some(reason))?;
                tracing::warn!(record_id = %record_id, code = ?code, "change rejected by the server; local copy kept");
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Takes in one record from the server's change feed and moves the
    /// cursor past it.
    pub fn apply_pulled(&mut self, change: &ServerChange) -> Result<(), CoreError> {
        let tx = self.conn.transaction()?;
        let id = change.record.id();
        let table = table_of(kind_str(change.record.kind()));
        let local: Option<(Option<i64>, String)> = tx
            .query_row(
                &format!("SELECT server_version, sync_state FROM {table} WHERE id = ?1"),
                [id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let waiting: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE record_id = ?1)",
            [id.to_string()],
            |r| r.get(0),
        )?;

        match local {
            // An amendment never changes, so the copy here (this device's
            // own, perhaps still on its way) is the server's too.
            Some(_) if change.record.kind() == RecordKind::Amendment => {}
            Some((Some(v), _)) if v >= change.version => {
                // Our own change coming back, or older news.
            }
            Some((_, state)) if waiting || state == "conflict" || state == "rejected" => {
                // The local copy has text the server does not: keep both.
                store_conflict(&tx, &self.field_key, &change.record, change.version)?;
                tx.execute("DELETE FROM outbox WHERE record_id = ?1", [id.to_string()])?;
                set_state(&tx, table, &id.to_string(), "conflict", None)?;
                tracing::info!(record_id = %id, version = change.version, "pulled change conflicts; both versions kept");
            }
            _ => {
                match &change.record {
                    Record::Client(c) => {
                        write_client(&tx, &self.field_key, c, Some(change.version), "synced")?
                    }
                    Record::Note(n) => {
                        write_note(&tx, &self.field_key, n, Some(change.version), "synced")?
                    }
                    Record::Amendment(a) => {
                        write_amendment(&tx, &self.field_key, a, Some(change.version), "synced")?
                    }
                }
                tracing::debug!(record_id = %id, version = change.version, "pulled change applied");
            }
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('pull_cursor', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [change.cursor.to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes records the practitioner may no longer see (a share or a
    /// supervision that ended): each id may be a client, whose notes and
    /// amendments go with it, a note, whose amendments go with it, or an
    /// amendment. Their outbox entries and conflict copies go too: there
    /// is nobody left on this device to send them for.
    pub fn forget(&mut self, ids: &[Uuid]) -> Result<(), CoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        for id in ids {
            let id = id.to_string();
            let mut gone: Vec<String> = {
                let mut stmt = tx.prepare(
                    "SELECT id FROM notes WHERE client_id = ?1
                     UNION ALL SELECT id FROM amendments WHERE client_id = ?1 OR note_id = ?1",
                )?;
                let rows = stmt.query_map([&id], |r| r.get::<_, String>(0))?;
                rows.collect::<Result<_, _>>()?
            };
            gone.push(id.clone());
            for record in &gone {
                tx.execute("DELETE FROM outbox WHERE record_id = ?1", [record])?;
                tx.execute("DELETE FROM conflicts WHERE record_id = ?1", [record])?;
                tx.execute("DELETE FROM notes WHERE id = ?1", [record])?;
                tx.execute("DELETE FROM amendments WHERE id = ?1", [record])?;
            }
            tx.execute("DELETE FROM clients WHERE id = ?1", [&id])?;
        }
        tx.commit()?;
        tracing::info!(
            records = ids.len(),
            "records no longer visible removed from this device"
        );
        Ok(())
    }

    /// Every record's id with the server version this device holds
    /// (`None`: never accepted by the server yet), clients, notes and
    /// amendments alike.
    /// No clinical field is opened.
    pub fn record_versions(&self) -> Result<Vec<(Uuid, Option<i64>)>, CoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, server_version FROM clients UNION ALL SELECT id, server_version FROM notes
             UNION ALL SELECT id, server_version FROM amendments",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, version) = row?;
            out.push((parse_id(&id)?, version));
        }
        Ok(out)
    }

    /// Up to `limit` entries of this device's audit trail that the server
    /// has not yet acknowledged, oldest first.
    pub fn waiting_audit(&self, limit: usize) -> Result<Vec<DeviceAuditEntry>, CoreError> {
        device_audit::waiting(&self.conn, limit)
    }

    /// Drops audit entries the server counted as stored (now or before).
    pub fn audit_acknowledged(&mut self, entry_ids: &[Uuid]) -> Result<(), CoreError> {
        device_audit::acknowledged(&mut self.conn, entry_ids)
    }

    /// How many audit entries wait for the server.
    pub fn audit_waiting_count(&self) -> Result<u32, CoreError> {
        device_audit::count(&self.conn)
    }

    /// Moves the pull cursor (after an empty page that still advanced it).
    pub fn set_pull_cursor(&self, cursor: i64) -> Result<(), CoreError> {
        self.set_meta("pull_cursor", &cursor.to_string())
    }
}

const AMENDMENT_SELECT: &str =
    "SELECT id, note_id, client_id, body, created_at, sync_state, reject_reason FROM amendments";

struct AmendmentRow {
    id: String,
    note_id: String,
    client_id: String,
    body: Vec<u8>,
    created_at: String,
    sync_state: String,
    reject_reason: Option<String>,
}

fn amendment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AmendmentRow> {
    Ok(AmendmentRow {
        id: r.get(0)?,
        note_id: r.get(1)?,
        client_id: r.get(2)?,
        body: r.get(3)?,
        created_at: r.get(4)?,
        sync_state: r.get(5)?,
        reject_reason: r.get(6)?,
    })
}

/// Writes an amendment as given. A second write of the same id keeps the
/// first text: an amendment never changes, only its sync bookkeeping does.
fn write_amendment(
    conn: &Connection,
    key: &FieldKey,
    a: &NoteAmendment,
    server_version: Option<i64>,
    state: &str,
) -> Result<(), CoreError> {
    let body = seal::seal_str(key, FieldPlace::new("amendments", "body", a.id), &a.body);
    conn.execute(
        "INSERT INTO amendments (id, note_id, client_id, body, created_at, server_version,
                                 sync_state, reject_reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)
         ON CONFLICT (id) DO UPDATE SET server_version = excluded.server_version,
             sync_state = excluded.sync_state, reject_reason = NULL",
        params![
            a.id.to_string(),
            a.note_id.to_string(),
            a.client_id.to_string(),
            body.into_bytes(),
            a.created_at,
            server_version,
            state,
        ],
    )?;
    Ok(())
}

const NOTE_SELECT: &str =
    "SELECT id, client_id, session_date, body, status, created_at, updated_at, \
                           signed_at, sync_state FROM notes";

struct ClientRow {
    id: String,
    full_name: Vec<u8>,
    date_of_birth: Option<Vec<u8>>,
    contact: Option<Vec<u8>>,
    created_at: String,
    sync_state: String,
}

fn client_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ClientRow> {
    Ok(ClientRow {
        id: r.get(0)?,
        full_name: r.get(1)?,
        date_of_birth: r.get(2)?,
        contact: r.get(3)?,
        created_at: r.get(4)?,
        sync_state: r.get(5)?,
    })
}

struct NoteRow {
    id: String,
    client_id: String,
    session_date: String,
    body: Vec<u8>,
    status: String,
    created_at: String,
    updated_at: String,
    signed_at: Option<String>,
    sync_state: String,
}

fn note_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NoteRow> {
    Ok(NoteRow {
        id: r.get(0)?,
        client_id: r.get(1)?,
        session_date: r.get(2)?,
        body: r.get(3)?,
        status: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
        signed_at: r.get(7)?,
        sync_state: r.get(8)?,
    })
}

fn write_client(
    conn: &Connection,
    key: &FieldKey,
    c: &ClientRecord,
    server_version: Option<i64>,
    state: &str,
) -> Result<(), CoreError> {
    let seal = |column: &str, text: &str| {
        seal::seal_str(key, FieldPlace::new("clients", column, c.id), text).into_bytes()
    };
    conn.execute(
        "INSERT INTO clients (id, full_name, date_of_birth, contact, created_at, server_version, sync_state, reject_reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)
         ON CONFLICT (id) DO UPDATE SET full_name = excluded.full_name,
             date_of_birth = excluded.date_of_birth, contact = excluded.contact,
             created_at = excluded.created_at, server_version = excluded.server_version,
             sync_state = excluded.sync_state, reject_reason = NULL",
        params![
            c.id.to_string(),
            seal("full_name", &c.full_name),
            c.date_of_birth.as_deref().map(|d| seal("date_of_birth", d)),
            c.contact.as_deref().map(|d| seal("contact", d)),
            c.created_at,
            server_version,
            state,
        ],
    )?;
    Ok(())
}

fn write_note(
    conn: &Connection,
    key: &FieldKey,
    n: &SessionNote,
    server_version: Option<i64>,
    state: &str,
) -> Result<(), CoreError> {
    let body = seal::seal_str(key, FieldPlace::new("notes", "body", n.id), &n.body);
    let status = match n.status {
        NoteStatus::Draft => "draft",
        NoteStatus::Signed => "signed",
    };
    conn.execute(
        "INSERT INTO notes (id, client_id, session_date, body, status, created_at, updated_at,
                            signed_at, server_version, sync_state, reject_reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL)
         ON CONFLICT (id) DO UPDATE SET client_id = excluded.client_id,
             session_date = excluded.session_date, body = excluded.body, status = excluded.status,
             created_at = excluded.created_at, updated_at = excluded.updated_at,
             signed_at = excluded.signed_at, server_version = excluded.server_version,
             sync_state = excluded.sync_state, reject_reason = NULL",
        params![
            n.id.to_string(),
            n.client_id.to_string(),
            n.session_date,
            body.into_bytes(),
            status,
            n.created_at,
            n.updated_at,
            n.signed_at,
            server_version,
            state,
        ],
    )?;
    Ok(())
}

/// Queues a record's change (see [`queue_change_id`]) and records the edit
/// in the device's audit trail with the change id it will be pushed
/// under, in the caller's transaction. Every edit a practitioner makes on
/// this device goes through here, so each keeps its own entry even when
/// the outbox folds several into one change.
fn queue_edit(
    conn: &Connection,
    kind: RecordKind,
    id: Uuid,
    edit: EditKind,
) -> Result<Uuid, CoreError> {
    let change_id = queue_change_id(conn, kind, id)?;
    device_audit::record(conn, edit, id, Some(change_id))?;
    Ok(change_id)
}

/// Puts a record's change in the outbox (or folds it into the one waiting)
/// and returns the change id this edit will be pushed
/// under: the waiting change it folds into, or, when that change is
/// already on its way, the id reserved for the fresh change that follows
/// the answer (`next_change_id`). An edit that ends in a conflict or is
/// dropped with its record may keep an id the server never sees.
///
/// A record in conflict that is saved again (or kept with
/// [`Vault::resolve_conflict`]) goes to the server as a change against the
/// server's version, and the stored server copy is dropped.
///
/// An edit the practitioner made goes through [`queue_edit`], which also
/// writes its audit entry.
fn queue_change_id(conn: &Connection, kind: RecordKind, id: Uuid) -> Result<Uuid, CoreError> {
    let id_text = id.to_string();
    let existing: Option<(bool, String, Option<String>)> = conn
        .query_row(
            "SELECT attempted, change_id, next_change_id FROM outbox WHERE record_id = ?1",
            [&id_text],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let change_id = match existing {
        Some((false, change_id, _)) => parse_id(&change_id)?,
        Some((true, _, next)) => {
            let next = match next {
                Some(next) => parse_id(&next)?,
                None => Uuid::new_v4(),
            };
            conn.execute(
                "UPDATE outbox SET edited_after_attempt = 1, next_change_id = ?2
                 WHERE record_id = ?1",
                params![id_text, next.to_string()],
            )?;
            next
        }
        None => {
            let table = table_of(kind_str(kind));
            let conflict_version: Option<i64> = conn
                .query_row(
                    "SELECT server_version FROM conflicts WHERE record_id = ?1",
                    [&id_text],
                    |r| r.get(0),
                )
                .optional()?;
            let base = match conflict_version {
                Some(v) => Some(v),
                None => conn
                    .query_row(
                        &format!("SELECT server_version FROM {table} WHERE id = ?1"),
                        [&id_text],
                        |r| r.get(0),
                    )
                    .optional()?
                    .flatten(),
            };
            conn.execute("DELETE FROM conflicts WHERE record_id = ?1", [&id_text])?;
            let change_id = Uuid::new_v4();
            conn.execute(
                "INSERT INTO outbox (record_id, kind, change_id, base_version) VALUES (?1, ?2, ?3, ?4)",
                params![id_text, kind_str(kind), change_id.to_string(), base],
            )?;
            change_id
        }
    };
    set_state(conn, table_of(kind_str(kind)), &id_text, "waiting", None)?;
    Ok(change_id)
}

fn store_conflict(
    conn: &Connection,
    key: &FieldKey,
    server: &Record,
    version: i64,
) -> Result<(), CoreError> {
    let id = server.id();
    let json = Zeroizing::new(serde_json::to_vec(server).expect("records always serialise"));
    let sealed = seal::seal(
        key,
        FieldPlace::new("conflicts", "server_record", id),
        &json,
    );
    conn.execute(
        "INSERT INTO conflicts (record_id, kind, server_version, server_record) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (record_id) DO UPDATE SET server_version = excluded.server_version,
             server_record = excluded.server_record",
        params![id.to_string(), kind_str(server.kind()), version, sealed.into_bytes()],
    )?;
    Ok(())
}

/// "Keep mine": this device's version of a record in conflict goes to the
/// server as a change against the server's version, recorded in the
/// device's audit trail as an edit. The local row takes that version as
/// the one it has seen, so the server's copy arriving again by pull is not
/// a new conflict.
fn keep_mine(
    conn: &Connection,
    kind: RecordKind,
    id: Uuid,
    server_version: i64,
) -> Result<(), CoreError> {
    let edit = match kind {
        RecordKind::Client => EditKind::ClientEdited,
        _ => EditKind::NoteEdited,
    };
    conn.execute(
        &format!(
            "UPDATE {} SET server_version = ?1 WHERE id = ?2",
            table_of(kind_str(kind))
        ),
        params![server_version, id.to_string()],
    )?;
    // Finds the conflict row, bases the change on its version, removes it.
    queue_edit(conn, kind, id, edit).map(drop)
}

/// "Keep theirs": the server's version replaces the local record as synced;
/// the conflict copy and any waiting change go. Nothing is pushed, but the
/// device's audit trail records that this device's text was set aside.
fn take_theirs(
    conn: &Connection,
    key: &FieldKey,
    server: &Record,
    server_version: i64,
) -> Result<(), CoreError> {
    let id = server.id().to_string();
    match server {
        Record::Client(c) => write_client(conn, key, c, Some(server_version), "synced")?,
        Record::Note(n) => write_note(conn, key, n, Some(server_version), "synced")?,
        _ => {
            return Err(CoreError::Invalid(
                "This kind of record cannot be in conflict; nothing was changed.".into(),
            ))
        }
    }
    conn.execute("DELETE FROM conflicts WHERE record_id = ?1", [&id])?;
    conn.execute("DELETE FROM outbox WHERE record_id = ?1", [&id])?;
    device_audit::record(conn, EditKind::ConflictKeptTheirs, server.id(), None)
}

/// Which way a conflict went, for the log (never the combined text).
#[derive(Debug)]
enum ResolutionKind {
    Mine,
    Theirs,
    Merged,
    Amend,
}

impl ResolutionKind {
    fn of(resolution: &Resolution) -> ResolutionKind {
        match resolution {
            Resolution::Mine => ResolutionKind::Mine,
            Resolution::Theirs => ResolutionKind::Theirs,
            Resolution::Merged { .. } => ResolutionKind::Merged,
            Resolution::Amend => ResolutionKind::Amend,
        }
    }
}

fn set_state(
    conn: &Connection,
    table: &str,
    id: &str,
    state: &str,
    reason: Option<&str>,
) -> Result<(), CoreError> {
    conn.execute(
        &format!("UPDATE {table} SET sync_state = ?1, reject_reason = ?2 WHERE id = ?3"),
        params![state, reason, id],
    )?;
    Ok(())
}

fn kind_str(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Client => "client",
        RecordKind::Note => "note",
        RecordKind::Amendment => "amendment",
    }
}

/// Table names come only from this fixed list, never from input.
fn table_of(kind: &str) -> &'static str {
    match kind {
        "client" => "clients",
        "amendment" => "amendments",
        _ => "notes",
    }
}

fn parse_sync(state: &str) -> RecordSync {
    match state {
        "synced" => RecordSync::Synced,
        "conflict" => RecordSync::Conflict,
        "rejected" => RecordSync::Rejected,
        _ => RecordSync::Waiting,
    }
}

fn parse_id(text: &str) -> Result<Uuid, CoreError> {
    Uuid::parse_str(text).map_err(|_| {
        CoreError::Tampered("A record id in the vault is damaged; contact your clinic IT.".into())
    })
}

mod owners;

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "Wanjiru Synthetic-Kamau";
    const BODY: &str = "Reported panic episodes on the matatu; practised grounding.";

    fn keys(db: u8, field: u8) -> DataKeys {
        DataKeys {
            database_key: Zeroizing::new([db; 32]),
            field_key: FieldKey::from_bytes([field; 32], 1),
        }
    }

    fn client() -> ClientRecord {
        ClientRecord {
            id: Uuid::new_v4(),
            full_name: NAME.into(),
            date_of_birth: Some("1990-04-01".into()),
            contact: Some("+254700000001".into()),
            created_at: "2026-01-05T09:00:00Z".into(),
        }
    }

    fn note(client_id: Uuid) -> SessionNote {
        SessionNote {
            id: Uuid::new_v4(),
            client_id,
            session_date: "2026-01-05".into(),
            body: BODY.into(),
            status: NoteStatus::Draft,
            created_at: "2026-01-05T10:00:00Z".into(),
            updated_at: "2026-01-05T10:00:00Z".into(),
            signed_at: None,
        }
    }

    fn filled_vault(dir: &Path) -> (Vault, ClientRecord, SessionNote) {
        let mut vault = Vault::open(&dir.join("vault.db"), keys(1, 2)).unwrap();
        let c = client();
        let n = note(c.id);
        vault.insert_client(&c).unwrap();
        vault.save_note(&n).unwrap();
        (vault, c, n)
    }

    fn every_file_bytes(dir: &Path) -> Vec<u8> {
        let mut all = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            all.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
        all
    }

    fn contains(haystack: &[u8], needle: &str) -> bool {
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    }

    fn signed(mut n: SessionNote) -> SessionNote {
        n.status = NoteStatus::Signed;
        n.signed_at = Some("2026-01-05T11:00:00Z".into());
        n
    }

    fn amendment_of(n: &SessionNote, body: &str, at: &str) -> NoteAmendment {
        NoteAmendment {
            id: Uuid::new_v4(),
            note_id: n.id,
            client_id: n.client_id,
            body: body.into(),
            created_at: at.into(),
        }
    }

    const CORRECTION: &str = "Correction: the matatu episode was in February.";

    #[test]
    fn an_amendment_is_sealed_queued_after_its_note_and_listed_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let (mut vault, _, n) = filled_vault(dir.path());
        let n = signed(n);
        vault.save_note(&n).unwrap();
        let later = amendment_of(&n, "Second correction.", "2026-01-07T09:00:00Z");
        let first = amendment_of(&n, CORRECTION, "2026-01-06T09:00:00Z");
        vault.add_amendment(&later).unwrap();
        vault.add_amendment(&first).unwrap();

        let view = vault.note_view(n.id).unwrap().unwrap();
        assert_eq!(view.note, n, "the note is untouched");
        let listed: Vec<&NoteAmendment> = view.amendments.iter().map(|a| &a.amendment).collect();
        assert_eq!(listed, [&first, &later]);

        let kinds: Vec<RecordKind> = vault
            .take_changes(100)
            .unwrap()
            .iter()
            .map(|c| c.record.kind())
            .collect();
        assert_eq!(
            kinds,
            [
                RecordKind::Client,
                RecordKind::Note,
                RecordKind::Amendment,
                RecordKind::Amendment
            ]
        );

        drop(vault);
        let raw = Connection::open(dir.path().join("vault.db")).unwrap();
        raw.execute_batch(&format!("PRAGMA key = \"x'{}'\";", hex::encode([1u8; 32])))
            .unwrap();
        let body: Vec<u8> = raw
            .query_row(
                "SELECT body FROM amendments WHERE id = ?1",
                [first.id.to_string()],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!contains(&body, "matatu"));
    }

    #[test]
    fn an_amendment_waits_while_its_note_is_on_its_way_as_a_draft() {
        let dir = tempfile::tempdir().unwrap();
        let (mut vault, _, n) = filled_vault(dir.path());
        let in_flight = vault.take_changes(100).unwrap();
        // Signed and amended before the draft's answer came back.
        let n = signed(n);
        vault.save_note(&n).unwrap();
        let a = amendment_of(&n, CORRECTION, "2026-01-06T09:00:00Z");
        vault.add_amendment(&a).unwrap();

        let retry = vault.take_changes(100).unwrap();
        assert!(retry
            .iter()
            .all(|c| c.record.kind() != RecordKind::Amendment));
        for ch in &in_flight {
            vault
                .apply_outcome(ch.change_id, &ChangeOutcome::Applied { version: 1 })
                .unwrap();
        }
        let next = vault.take_changes(100).unwrap();
        let kinds: Vec<RecordKind> = next.iter().map(|c| c.record.kind()).collect();
        assert_eq!(kinds, [RecordKind::Note, RecordKind::Amendment]);
        assert!(matches!(&next[0].record, Record::Note(s) if s.status == NoteStatus::Signed));
    }

    #[test]
    fn a_refused_amendment_keeps_its_text_and_the_servers_reason_and_counts_as_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (mut vault, _, n) = filled_vault(dir.path());
        let n = signed(n);
        vault.save_note(&n).unwrap();
        let a = amendment_of(&n, CORRECTION, "2026-01-06T09:00:00Z");
        vault.add_amendment(&a).unwrap();
        let reason = "Only the practitioner who wrote a note can amend it.";
        for ch in vault.take_changes(100).unwrap() {
            let outcome = if ch.record.kind() == RecordKind::Amendment {
                ChangeOutcome::Rejected {
                    code: bench_protocol::api::RejectCode::Forbidden,
                    reason: reason.into(),
                }
            } else {
                ChangeOutcome::Applied { version: 1 }
            };
            vault.apply_outcome(ch.change_id, &outcome).unwrap();
        }

        let view = vault.note_view(n.id).unwrap().unwrap();
        assert_eq!(view.note, n);
        let refused = &view.amendments[0];
        assert_eq!(refused.amendment, a, "the text stays as written");
        assert_eq!(refused.sync, RecordSync::Rejected);
        assert_eq!(refused.reject_reason.as_deref(), Some(reason));
        assert_eq!(vault.rejected_count().unwrap(), 1);
        assert_eq!(vault.notes_in_trouble().unwrap()[&n.client_id], (0, 1));
        assert!(
            vault.take_changes(100).unwrap().is_empty(),
            "not sent again"
        );
    }

    #[test]
    fn a_pulled_amendment_is_kept_once_and_leaves_with_its_client() {
        let dir = tempfile::tempdir().unwrap();
        let (mut vault, c, n) = filled_vault(dir.path());
        let a = amendment_of(&n, CORRECTION, "2026-01-06T09:00:00Z");
        let pulled = ServerChange {
            cursor: 9,
            version: 1,
            record: Record::Amendment(a.clone()),
            owner_id: None,
        };
        vault.apply_pulled(&pulled).unwrap();
        let mut again = pulled.clone();
        if let Record::Amendment(x) = &mut again.record {
            x.body = "A rewritten correction.".into();
        }
        again.cursor = 10;
        vault.apply_pulled(&again).unwrap();

        let stored = vault.amendment(a.id).unwrap().unwrap();
        assert_eq!(stored.amendment, a, "an amendment never changes");
        assert_eq!(stored.sync, RecordSync::Synced);
        assert!(vault.record_versions().unwrap().contains(&(a.id, Some(1))));

        vault.forget(&[c.id]).unwrap();
        assert!(vault.amendment(a.id).unwrap().is_none());
    }

    #[test]
    fn records_read_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let (vault, c, n) = filled_vault(dir.path());
        assert_eq!(vault.client(c.id).unwrap().unwrap().client, c);
        assert_eq!(vault.note(n.id).unwrap().unwrap().note, n);
        assert_eq!(vault.counts().unwrap(), (2, 0));
    }

    #[test]
    fn a_client_no_longer_visible_leaves_with_its_notes_outbox_and_conflicts() {
        let dir = tempfile::tempdir().unwrap();
        let (mut vault, c, n) = filled_vault(dir.path());

        vault.forget(&[c.id]).unwrap();

        assert!(vault.client(c.id).unwrap().is_none());
        assert!(vault.note(n.id).unwrap().is_none());
        assert_eq!(vault.counts().unwrap(), (0, 0));
    }

    #[test]
    fn vault_files_hold_neither_note_text_nor_client_name_in_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let (vault, _, _) = filled_vault(dir.path());
        // Both while open (data may sit in the WAL) and after closing.
        let open_bytes = every_file_bytes(dir.path());
        drop(vault);
        let closed_bytes = every_file_bytes(dir.path());
        for bytes in [open_bytes, closed_bytes] {
            assert!(!bytes.is_empty());
            assert!(!contains(&bytes, "Wanjiru"));
            assert!(!contains(&bytes, "matatu"));
            assert!(!contains(&bytes, "SQLite format 3"));
        }
    }

    #[test]
    fn opening_with_the_wrong_database_key_fails_clearly() {
        let dir = tempfile::tempdir().unwrap();
        drop(filled_vault(dir.path()));
        let err = Vault::open(&dir.path().join("vault.db"), keys(9, 2))
            .err()
            .unwrap();
        assert!(matches!(err, CoreError::Vault(_)));
        assert!(err.to_string().contains("could not be opened with its key"));
    }

    #[test]
    fn note_body_column_holds_ciphertext_even_to_a_holder_of_the_database_key() {
        let dir = tempfile::tempdir().unwrap();
        let (vault, c, n) = filled_vault(dir.path());
        drop(vault);

        let raw = Connection::open(dir.path().join("vault.db")).unwrap();
        raw.execute_batch(&format!("PRAGMA key = \"x'{}'\";", hex::encode([1u8; 32])))
            .unwrap();
        let body: Vec<u8> = raw
            .query_row(
                "SELECT body FROM notes WHERE id = ?1",
                [n.id.to_string()],
                |r| r.get(0),
            )
            .unwrap();
        assert_ne!(body, BODY.as_bytes());
        assert!(!contains(&body, "matatu"));
        let name: Vec<u8> = raw
            .query_row(
                "SELECT full_name FROM clients WHERE id = ?1",
                [c.id.to_string()],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!contains(&name, "Wanjiru"));
    }

    #[test]
    fn a_sealed_body_copied_into_another_note_does_not_open() {
        let dir = tempfile::tempdir().unwrap();
        let (mut vault, c, n) = filled_vault(dir.path());
        let other = note(c.id);
        vault.save_note(&other).unwrap();
        vault
            .conn
            .execute(
                "UPDATE notes SET body = (SELECT body FROM notes WHERE id = ?1) WHERE id = ?2",
                [n.id.to_string(), other.id.to_string()],
            )
            .unwrap();
        assert!(matches!(vault.note(other.id), Err(CoreError::Tampered(_))));
    }

    #[test]
    fn applied_outcome_marks_the_record_synced_and_empties_the_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let (mut vault, c, _) = filled_vault(dir.path());
        let changes = vault.take_changes(100).unwrap();
        assert_eq!(changes.len(), 2);
        assert_eq!(
            changes[0].record.kind(),
            RecordKind::Client,
            "clients go first"
        );
        for ch in &changes {
            vault
                .apply_outcome(ch.change_id, &ChangeOutcome::Applied { version: 1 })
                .unwrap();
        }
        assert_eq!(vault.counts().unwrap(), (0, 0));
        assert_eq!(
            vault.client(c.id).unwrap().unwrap().sync,
            RecordSync::Synced
        );
    }

    #[test]
    fn an_edit_while_a_change_is_in_flight_queues_a_fresh_change_against_the_new_version() {
        let dir = tempfile::tempdir().unwrap();
        let (mut vault, _, mut n) = filled_vault(dir.path());
        let sent = vault.take_changes(100).unwrap();
        n.body = "Edited while sending.".into();
        vault.save_note(&n).unwrap();
        for ch in &sent {
            vault
                .apply_outcome(ch.change_id, &ChangeOutcome::Applied { version: 3 })
                .unwrap();
        }
        let next = vault.take_changes(100).unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].base_version, Some(3));
        assert_ne!(next[0].change_id, sent[1].change_id);
    }

    #[test]
    fn a_retry_after_a_lost_answer_resends_the_first_text_and_a_signature_made_meanwhile_follows() {
        let dir = tempfile::tempdir().unwrap();
        let (mut vault, _, mut n) = filled_vault(dir.path());
        let first = vault.take_changes(100).unwrap();
        // The answer is lost; meanwhile the note is signed.
        n.body = "Final text.".into();
        n.status = NoteStatus::Signed;
        n.signed_at = Some("2026-01-05T11:00:00Z".into());
        vault.save_note(&n).unwrap();

        let retry = vault.take_changes(100).unwrap();
        assert_eq!(retry.len(), 2);
        assert_eq!(retry[1].change_id, first[1].change_id);
        let Record::Note(sent) = &retry[1].record else {
            panic!("a note change")
        };
        assert_eq!(sent.body, BODY, "the same change id carries the same text");
        assert_eq!(sent.status, NoteStatus::Draft);

        for ch in &retry {
            vault
                .apply_outcome(ch.change_id, &ChangeOutcome::AlreadyApplied { version: 1 })
                .unwrap();
        }
        let follow_up = vault.take_changes(100).unwrap();
        assert_eq!(follow_up.len(), 1, "only the signed note follows");
        assert_eq!(follow_up[0].base_version, Some(1));
        let Record::Note(sent) = &follow_up[0].record else {
            panic!("a note change")
        };
        assert_eq!(sent.status, NoteStatus::Signed);
        assert_eq!(sent.body, "Final text.");
        vault
            .apply_outcome(
                follow_up[0].change_id,
                &ChangeOutcome::Applied { version: 2 },
            )
            .unwrap();
        assert_eq!(vault.counts().unwrap(), (0, 0));
        assert_eq!(vault.note(n.id).unwrap().unwrap().sync, RecordSync::Synced);
    }

    #[test]
    fn the_copy_of_a_sent_change_is_sealed_in_the_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let (mut vault, _, _) = filled_vault(dir.path());
        vault.take_changes(100).unwrap();
        let sealed: Vec<Vec<u8>> = {
            let mut stmt = vault
                .conn
                .prepare("SELECT sent_record FROM outbox")
                .unwrap();
            let rows = stmt.query_map([], |r| r.get(0)).unwrap();
            rows.collect::<Result<_, _>>().unwrap()
        };
        assert_eq!(sealed.len(), 2);
        for bytes in sealed {
            assert!(!contains(&bytes, "panic episodes"));
            assert!(!contains(&bytes, "Wanjiru"));
        }
    }

    #[test]
    fn conflict_keeps_both_versions() {
        let dir = tempfile::tempdir().unwrap();
        let (mut vault, c, n) = filled_vault(dir.path());
        let mut server = n.clone();
        server.body = "The server's version of the note.".into();
        for ch in vault.take_changes(100).unwrap() {
            let outcome = if ch.record.kind() == RecordKind::Note {
                ChangeOutcome::Conflict {
                    server_version: 4,
                    server: Record::Note(server.clone()),
                }
            } else {
                ChangeOutcome::Applied { version: 1 }
            };
            vault.apply_outcome(ch.change_id, &outcome).unwrap();
        }
        let view = vault.note_view(n.id).unwrap().unwrap();
        assert_eq!(view.note.body, BODY);
        assert_eq!(view.sync, RecordSync::Conflict);
        assert_eq!(
            view.conflict.as_ref().map(|n| n.body.as_str()),
            Some("The server's version of the note.")
        );
        assert_eq!(vault.counts().unwrap(), (0, 1));
        assert_eq!(vault.notes_of(c.id).unwrap().len(), 1);

        // Saving again resolves it: a change against the server's version.
        vault.save_note(&view.note).unwrap();
        let next = vault.take_changes(100).unwrap();
        assert_eq!(next[0].base_version, Some(4));
        assert_eq!(vault.counts().unwrap(), (1, 0));
    }

    /// A vault whose one note is in conflict with `server` (version 4).
    fn note_in_conflict(dir: &Path, server: impl FnOnce(&mut SessionNote)) -> (Vault, SessionNote) {
        let (mut vault, _, n) = filled_vault(dir);
        let mut theirs = n.clone();
        theirs.body = "The other device's text.".into();
        theirs.updated_at = "2026-01-05T12:00:00Z".into();
        server(&mut theirs);
        for ch in vault.take_changes(100).unwrap() {
            let outcome = match ch.record.kind() {
                RecordKind::Note => ChangeOutcome::Conflict {
                    server_version: 4,
                    server: Record::Note(theirs.clone()),
                },
                _ => ChangeOutcome::Applied { version: 1 },
            };
            vault.apply_outcome(ch.change_id, &outcome).unwrap();
        }
        (vault, n)
    }

    const NOW: &str = "2026-01-06T08:00:00Z";

    #[test]
    fn keeping_theirs_takes_the_servers_copy_and_pushes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (mut vault, n) = note_in_conflict(dir.path(), |_| {});
        let done = vault
            .resolve_conflict(n.id, &Resolution::Theirs, NOW)
            .unwrap();
        assert_eq!(done.new_draft, None);
        let view = vault.note_view(n.id).unwrap().unwrap();
        assert_eq!(view.note.body, "The other device's text.");
        assert_eq!(view.sync, RecordSync::Synced);
        assert!(view.conflict.is_none());
        assert_eq!(vault.counts().unwrap(), (0, 0));
        assert!(vault.take_changes(100).unwrap().is_empty());
        assert!(matches!(
            vault.resolve_conflict(n.id, &Resolution::Mine, NOW),
            Err(CoreError::NotFound(_))
        ));
    }

    #[test]
    fn keeping_a_combined_text_pushes_it_against_the_servers_version() {
        let dir = tempfile::tempdir().unwrap();
        let (mut vault, n) = note_in_conflict(dir.path(), |_| {});
        let merged = Resolution::Merged {
            body: "Both texts, combined.".into(),
        };
        vault.resolve_conflict(n.id, &merged, NOW).unwrap();
        let next = vault.take_changes(100).unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].base_version, Some(4));
        let Record::Note(sent) = &next[0].record else {
            panic!("a note change")
        };
        assert_eq!(sent.body, "Both texts, combined.");
        assert_eq!(sent.updated_at, NOW);
        assert_eq!(vault.counts().unwrap(), (1, 0));
    }

    #[test]
    fn keeping_mine_against_a_signed_version_keeps_my_text_as_a_new_draft() {
        let dir = tempfile::tempdir().unwrap();
        let (mut vault, n) = note_in_conflict(dir.path(), |theirs| {
            theirs.status = NoteStatus::Signed;
            theirs.signed_at = Some("2026-01-05T12:00:00Z".into());
        });
        let done = vault
            .resolve_conflict(n.id, &Resolution::Mine, NOW)
            .unwrap();

        let signed = vault.note_view(n.id).unwrap().unwrap();
        assert_eq!(signed.note.status, NoteStatus::Signed);
        assert_eq!(signed.note.body, "The other device's text.");
        assert_eq!(signed.sync, RecordSync::Synced);
        let draft = vault.note(done.new_draft.unwrap()).unwrap().unwrap();
        assert_eq!(draft.note.body, BODY, "my text is kept, not dropped");
        assert_eq!(draft.note.status, NoteStatus::Draft);
        assert_eq!(draft.note.session_date, n.session_date);
        let next = vault.take_changes(100).unwrap();
        assert_eq!(next.len(), 1, "only the new draft goes");
        assert_eq!(next[0].record.id(), draft.note.id);
        assert_eq!(next[0].base_version, None);
    }

    #[test]
    fn a_client_in_conflict_keeps_either_version() {
        let dir = tempfile::tempdir().unwrap();
        for keep in [Resolution::Mine, Resolution::Theirs] {
            let mut vault =
                Vault::open(&dir.path().join(format!("{keep:?}.db")), keys(1, 2)).unwrap();
            let mine = client();
            vault.insert_client(&mine).unwrap();
            let mut theirs = mine.clone();
            theirs.contact = Some("+254700000099".into());
            for ch in vault.take_changes(100).unwrap() {
                let outcome = ChangeOutcome::Conflict {
                    server_version: 2,
                    server: Record::Client(theirs.clone()),
                };
                vault.apply_outcome(ch.change_id, &outcome).unwrap();
            }
            assert_eq!(
                vault.client_conflict(mine.id).unwrap(),
                Some(theirs.clone())
            );
            assert!(matches!(
                vault.resolve_conflict(mine.id, &Resolution::Merged { body: "x".into() }, NOW),
                Err(CoreError::Invalid(_))
            ));

            vault.resolve_conflict(mine.id, &keep, NOW).unwrap();

            let stored = vault.client(mine.id).unwrap().unwrap();
            assert_eq!(vault.client_conflict(mine.id).unwrap(), None);
            let next = vault.take_changes(100).unwrap();
            if keep == Resolution::Mine {
                assert_eq!(stored.client, mine);
                assert_eq!(next.len(), 1);
                assert_eq!(next[0].base_version, Some(2));
            } else {
                assert_eq!(stored.client, theirs);
                assert_eq!(stored.sync, RecordSync::Synced);
                assert!(next.is_empty());
            }
        }
    }

    #[test]
    fn rejected_change_leaves_the_queue_but_keeps_the_text() {
        let dir = tempfile::tempdir().unwrap();
        let (mut vault, _, n) = filled_vault(dir.path());
        for ch in vault.take_changes(100).unwrap() {
            let outcome = ChangeOutcome::Rejected {
                code: bench_protocol::api::RejectCode::Invalid,
                reason: "Bad date.".into(),
            };
            vault.apply_outcome(ch.change_id, &outcome).unwrap();
        }
        let stored = vault.note(n.id).unwrap().unwrap();
        assert_eq!(stored.note.body, BODY);
        assert_eq!(stored.sync, RecordSync::Rejected);
        assert_eq!(vault.counts().unwrap(), (0, 0));
        assert_eq!(vault.rejected_count().unwrap(), 2);
        let view = vault.note_view(n.id).unwrap().unwrap();
        assert_eq!(view.reject_reason.as_deref(), Some("Bad date."));

        // Saving it again queues it again and clears the reason.
        vault.save_note(&stored.note).unwrap();
        let view = vault.note_view(n.id).unwrap().unwrap();
        assert_eq!(view.sync, RecordSync::Waiting);
        assert_eq!(view.reject_reason, None);
        assert_eq!(vault.counts().unwrap(), (1, 0));
    }

    #[test]
    fn pulled_record_updates_a_synced_copy_but_conflicts_with_a_waiting_one() {
        let dir = tempfile::tempdir().unwrap();
        let (mut vault, c, n) = filled_vault(dir.path());

        // The note waits in the outbox: a newer server copy is a conflict.
        let mut server = n.clone();
        server.body = "Changed on another device.".into();
        vault
            .apply_pulled(&ServerChange {
                cursor: 7,
                version: 2,
                record: Record::Note(server),
                owner_id: None,
            })
            .unwrap();
        let view = vault.note_view(n.id).unwrap().unwrap();
        assert_eq!(view.note.body, BODY);
        assert_eq!(view.sync, RecordSync::Conflict);

        // A client nobody touched here is simply updated.
        let mut other = client();
        other.full_name = "Otieno Synthetic".into();
        vault
            .apply_pulled(&ServerChange {
                cursor: 8,
                version: 1,
                record: Record::Client(other.clone()),
                owner_id: None,
            })
            .unwrap();
        assert_eq!(vault.client(other.id).unwrap().unwrap().client, other);
        assert_eq!(vault.pull_cursor().unwrap(), 8);
        assert!(vault.client(c.id).unwrap().is_some());
    }
}
