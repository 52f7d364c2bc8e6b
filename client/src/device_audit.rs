//! The device's own audit trail: one entry per edit made on this device,
//! offline or not, written into the vault in the same transaction as the
//! edit and uploaded intact with the next push
//! ([`bench_protocol::api::PushRequest::audit`]).
//!
//! Why a trail of its own: the outbox folds several edits of one record
//! into one change (only the latest text is pushed), so the server's
//! record of writes shows one write where the practitioner saved five
//! times. Each save keeps its own entry here, with the change id it will
//! be pushed under, so the server's trail can show every one of them and
//! tie it to the write that carried it.
//!
//! An entry holds a kind, ids and a time, never a name or a note's text,
//! so the table is not sealed field by field (SQLCipher still encrypts the
//! whole file). Entries leave the device only once the server's answer
//! counts them as stored; a retried upload is stored once, because the
//! server keeps each entry id at most once.
//!
//! To audit a new kind of edit: add a line to [`edit_kinds!`]'s list
//! below, then call [`record`] with it inside the transaction that makes
//! the edit, with the change id [`crate::vault`]'s `queue_change` returned.

use bench_protocol::api::DeviceAuditEntry;
use rusqlite::{params, Connection};
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::CoreError;

/// The table, created with the vault's own tables. Rows are uploaded in
/// insertion (`rowid`) order.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS device_audit (
    entry_id    TEXT PRIMARY KEY,
    occurred_at TEXT NOT NULL,   -- RFC 3339 UTC, this computer's clock
    kind        TEXT NOT NULL,   -- an EditKind word, never free text
    record_id   TEXT,
    change_id   TEXT
);
";

/// Declares [`EditKind`] from `Variant => "word"` lines, so a new kind is
/// one line. The words are what the server stores: lower-case words
/// joined by `_`, at most [`bench_protocol::api::MAX_DEVICE_AUDIT_KIND`]
/// characters (a test checks every one).
macro_rules! edit_kinds {
    ($($(#[$doc:meta])* $variant:ident => $word:literal,)*) => {
        /// A kind of edit the device audits.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum EditKind {
            $($(#[$doc])* $variant,)*
        }

        impl EditKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [EditKind] = &[$(EditKind::$variant,)*];

            /// The word stored on the device and on the server.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EditKind::$variant => $word,)*
                }
            }
        }
    };
}

edit_kinds! {
    /// A client was added on this device.
    ClientCreated => "client_created",
    /// A client's details were changed on this device.
    ClientEdited => "client_edited",
    /// A session note was started.
    NoteCreated => "note_created",
    /// A draft was saved again.
    NoteEdited => "note_edited",
    /// A draft was signed.
    NoteSigned => "note_signed",
    /// An amendment was appended to a signed note.
    NoteAmended => "note_amended",
    /// A conflict was settled by keeping the server's version; this
    /// device's text was set aside (keeping this device's version is
    /// audited as an edit of the record).
    ConflictKeptTheirs => "conflict_kept_theirs",
}

/// Records one edit. Call it inside the edit's own transaction, so the
/// edit and its entry are written together or not at all. `change_id` is
/// the change the edit will be pushed under; `None` for an edit that
/// pushes nothing (keeping the server's side of a conflict).
pub(crate) fn record(
    conn: &Connection,
    kind: EditKind,
    record_id: Uuid,
    change_id: Option<Uuid>,
) -> Result<(), CoreError> {
    // Limitation: the time is this computer's clock, which may be wrong
    // (the server keeps its own time of receipt beside it, and flags a
    // time over a day ahead or before 2020). Fix: a trusted time source.
    let occurred_at = time::OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .expect("the current UTC time always formats as RFC 3339");
    conn.execute(
        "INSERT INTO device_audit (entry_id, occurred_at, kind, record_id, change_id)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            Uuid::new_v4().to_string(),
            occurred_at,
            kind.as_str(),
            record_id.to_string(),
            change_id.map(|c| c.to_string()),
        ],
    )?;
    Ok(())
}

/// Up to `limit` entries not yet acknowledged by the server, oldest first.
pub(crate) fn waiting(conn: &Connection, limit: usize) -> Result<Vec<DeviceAuditEntry>, CoreError> {
    type Row = (String, String, String, Option<String>, Option<String>);
    let mut stmt = conn.prepare(
        "SELECT entry_id, occurred_at, kind, record_id, change_id FROM device_audit
         ORDER BY rowid LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit.min(i64::MAX as usize) as i64], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })?;
    let mut entries = Vec::new();
    for row in rows {
        let (entry_id, occurred_at, kind, record_id, change_id): Row = row?;
        entries.push(DeviceAuditEntry {
            entry_id: parse(&entry_id)?,
            occurred_at,
            kind,
            record_id: record_id.as_deref().map(parse).transpose()?,
            change_id: change_id.as_deref().map(parse).transpose()?,
        });
    }
    Ok(entries)
}

/// Deletes entries the server has counted as stored (now or before).
pub(crate) fn acknowledged(conn: &mut Connection, entry_ids: &[Uuid]) -> Result<(), CoreError> {
    let tx = conn.transaction()?;
    for id in entry_ids {
        tx.execute(
            "DELETE FROM device_audit WHERE entry_id = ?1",
            [id.to_string()],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// How many entries wait for the server.
pub(crate) fn count(conn: &Connection) -> Result<u32, CoreError> {
    Ok(conn.query_row("SELECT count(*) FROM device_audit", [], |r| r.get(0))?)
}

fn parse(text: &str) -> Result<Uuid, CoreError> {
    Uuid::parse_str(text).map_err(|_| {
        CoreError::Tampered(
            "An id in this device's audit trail is damaged; contact your clinic IT.".into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::DataKeys;
    use crate::seal::FieldKey;
    use crate::vault::Vault;
    use bench_protocol::api::{ChangeOutcome, MAX_DEVICE_AUDIT_KIND};
    use bench_protocol::{ClientRecord, NoteStatus, SessionNote};
    use zeroize::Zeroizing;

    const NAME: &str = "Achieng Synthetic-Odhiambo";
    const BODY: &str = "Spoke about the harvest and sleeping badly.";

    fn open(dir: &std::path::Path) -> Vault {
        Vault::open(
            &dir.join("vault.db"),
            DataKeys {
                database_key: Zeroizing::new([3; 32]),
                field_key: FieldKey::from_bytes([4; 32], 1),
            },
        )
        .unwrap()
    }

    fn client() -> ClientRecord {
        ClientRecord {
            id: Uuid::new_v4(),
            full_name: NAME.into(),
            date_of_birth: Some("1985-07-12".into()),
            contact: Some("+254700000009".into()),
            created_at: "2026-03-02T08:00:00Z".into(),
        }
    }

    fn draft(client_id: Uuid) -> SessionNote {
        SessionNote {
            id: Uuid::new_v4(),
            client_id,
            session_date: "2026-03-02".into(),
            body: BODY.into(),
            status: NoteStatus::Draft,
            created_at: "2026-03-02T09:00:00Z".into(),
            updated_at: "2026-03-02T09:00:00Z".into(),
            signed_at: None,
        }
    }

    fn kinds(entries: &[DeviceAuditEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.kind.as_str()).collect()
    }

    #[test]
    fn five_saves_of_one_note_are_one_change_but_five_entries_under_its_change_id() {
        let dir = tempfile::tempdir().unwrap();
        let mut vault = open(dir.path());
        let c = client();
        vault.insert_client(&c).unwrap();
        let mut n = draft(c.id);
        vault.save_note(&n).unwrap();
        for i in 0..3 {
            n.body = format!("{BODY} Revision {i}.");
            vault.save_note(&n).unwrap();
        }
        n.status = NoteStatus::Signed;
        n.signed_at = Some("2026-03-02T10:00:00Z".into());
        vault.save_note(&n).unwrap();

        let changes = vault.take_changes(100).unwrap();
        assert_eq!(changes.len(), 2, "the outbox folds the note's saves");
        let entries = vault.waiting_audit(1000).unwrap();
        assert_eq!(
            kinds(&entries),
            [
                "client_created",
                "note_created",
                "note_edited",
                "note_edited",
                "note_edited",
                "note_signed"
            ]
        );
        assert_eq!(entries[0].record_id, Some(c.id));
        assert_eq!(entries[0].change_id, Some(changes[0].change_id));
        for e in &entries[1..] {
            assert_eq!(e.record_id, Some(n.id));
            assert_eq!(e.change_id, Some(changes[1].change_id));
        }
        let mut ids: Vec<Uuid> = entries.iter().map(|e| e.entry_id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 6, "each entry has its own id");
        for e in &entries {
            time::OffsetDateTime::parse(&e.occurred_at, &Rfc3339).unwrap();
            assert!(e.occurred_at.ends_with('Z'), "UTC: {}", e.occurred_at);
        }
    }

    #[test]
    fn an_edit_made_while_its_change_is_on_the_way_names_the_change_that_carries_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut vault = open(dir.path());
        let c = client();
        vault.insert_client(&c).unwrap();
        let mut n = draft(c.id);
        vault.save_note(&n).unwrap();
        let first = vault.take_changes(100).unwrap();

        // Two saves while the push is out: both fold into the next change.
        for i in 0..2 {
            n.body = format!("{BODY} While sending {i}.");
            vault.save_note(&n).unwrap();
        }
        for ch in &first {
            vault
                .apply_outcome(ch.change_id, &ChangeOutcome::Applied { version: 1 })
                .unwrap();
        }
        let next = vault.take_changes(100).unwrap();
        assert_eq!(next.len(), 1);

        let entries = vault.waiting_audit(1000).unwrap();
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[1].change_id, Some(first[1].change_id));
        assert_eq!(entries[2].change_id, Some(next[0].change_id));
        assert_eq!(entries[3].change_id, Some(next[0].change_id));
        assert_ne!(next[0].change_id, first[1].change_id);
    }

    #[test]
    fn settling_a_conflict_is_audited_either_way_and_keeping_theirs_names_no_change() {
        use bench_protocol::desktop::Resolution;
        use bench_protocol::Record;

        let dir = tempfile::tempdir().unwrap();
        let mut vault = open(dir.path());
        let c = client();
        vault.insert_client(&c).unwrap();
        let (first, second) = (draft(c.id), draft(c.id));
        vault.save_note(&first).unwrap();
        vault.save_note(&second).unwrap();
        for ch in vault.take_changes(100).unwrap() {
            let outcome = match &ch.record {
                Record::Note(n) => {
                    let mut server = n.clone();
                    server.body = "Another device's synthetic text.".into();
                    ChangeOutcome::Conflict {
                        server_version: 2,
                        server: Record::Note(server),
                    }
                }
                _ => ChangeOutcome::Applied { version: 1 },
            };
            vault.apply_outcome(ch.change_id, &outcome).unwrap();
        }
        let now = "2026-03-02T11:00:00Z";
        vault
            .resolve_conflict(first.id, &Resolution::Theirs, now)
            .unwrap();
        vault
            .resolve_conflict(second.id, &Resolution::Mine, now)
            .unwrap();

        let entries = vault.waiting_audit(1000).unwrap();
        let settled = &entries[entries.len() - 2..];
        assert_eq!(kinds(settled), ["conflict_kept_theirs", "note_edited"]);
        assert_eq!(settled[0].record_id, Some(first.id));
        assert_eq!(settled[0].change_id, None, "keeping theirs pushes nothing");
        let pushed = vault.take_changes(100).unwrap();
        assert_eq!(pushed.len(), 1);
        assert_eq!(settled[1].record_id, Some(second.id));
        assert_eq!(settled[1].change_id, Some(pushed[0].change_id));
    }

    #[test]
    fn acknowledged_entries_leave_and_later_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let mut vault = open(dir.path());
        let c = client();
        vault.insert_client(&c).unwrap();
        let sent = vault.waiting_audit(1000).unwrap();
        vault.save_note(&draft(c.id)).unwrap();
        vault
            .audit_acknowledged(&sent.iter().map(|e| e.entry_id).collect::<Vec<_>>())
            .unwrap();
        assert_eq!(kinds(&vault.waiting_audit(1000).unwrap()), ["note_created"]);
        assert_eq!(vault.audit_waiting_count().unwrap(), 1);
        assert_eq!(vault.waiting_audit(0).unwrap().len(), 0, "the limit holds");
    }

    #[test]
    fn the_audit_table_holds_ids_kinds_and_times_but_no_clinical_text() {
        let dir = tempfile::tempdir().unwrap();
        let mut vault = open(dir.path());
        let c = client();
        vault.insert_client(&c).unwrap();
        vault.save_note(&draft(c.id)).unwrap();
        drop(vault);

        let raw = Connection::open(dir.path().join("vault.db")).unwrap();
        raw.execute_batch(&format!("PRAGMA key = \"x'{}'\";", hex::encode([3u8; 32])))
            .unwrap();
        let columns: Vec<String> = raw
            .prepare("SELECT name FROM pragma_table_info('device_audit')")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            columns,
            ["entry_id", "occurred_at", "kind", "record_id", "change_id"]
        );
        let rows: Vec<String> = raw
            .prepare("SELECT entry_id || occurred_at || kind || record_id || change_id FROM device_audit")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 2);
        for row in rows {
            for text in [NAME, "Achieng", BODY, "harvest", "1985-07-12", "+2547"] {
                assert!(!row.contains(text), "{text} in the audit table");
            }
        }
    }

    #[test]
    fn every_kind_is_a_plain_word_the_server_accepts() {
        for kind in EditKind::ALL {
            let word = kind.as_str();
            assert!(
                !word.is_empty() && word.len() <= MAX_DEVICE_AUDIT_KIND,
                "{word}"
            );
            assert!(
                word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{word}"
            );
        }
        let mut words: Vec<_> = EditKind::ALL.iter().map(|k| k.as_str()).collect();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), EditKind::ALL.len(), "no word used twice");
        // The server accepts exactly these kinds and refuses any other.
        let mut accepted = bench_protocol::api::DEVICE_AUDIT_KINDS.to_vec();
        accepted.sort_unstable();
        assert_eq!(words, accepted);
    }
}
