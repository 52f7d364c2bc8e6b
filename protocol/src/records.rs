//! The clinical records a practitioner keeps, as both sides store them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A client: the person in therapy.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    /// Chosen by the device that created the client.
    pub id: Uuid,
    /// The client's name as the practitioner writes it.
    pub full_name: String,
    /// `YYYY-MM-DD`, when known.
    pub date_of_birth: Option<String>,
    /// Phone or e-mail, free text.
    pub contact: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// Whether a session note may still change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteStatus {
    /// Work in progress; the practitioner may edit it.
    Draft,
    /// Signed by the practitioner: read-only from then on, everywhere.
    Signed,
}

/// A session note: what happened in one session with one client.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionNote {
    /// Chosen by the device that created the note.
    pub id: Uuid,
    /// The client the note is about.
    pub client_id: Uuid,
    /// `YYYY-MM-DD`: the day of the session.
    pub session_date: String,
    /// The clinical text. Plain text, never rendered as HTML.
    pub body: String,
    /// Draft or signed.
    pub status: NoteStatus,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC: last change by the practitioner.
    pub updated_at: String,
    /// RFC 3339, UTC: when it was signed.
    pub signed_at: Option<String>,
}

/// A correction to a signed note, appended to it: the note itself never
/// changes after signing, so whatever needs saying later is said here.
///
/// An amendment is final the moment it is made (it is a signed correction
/// in its own right): it is never edited or deleted, and a note's
/// amendments read oldest first.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteAmendment {
    /// Chosen by the device that wrote the amendment.
    pub id: Uuid,
    /// The signed note it corrects.
    pub note_id: Uuid,
    /// The client that note is about (so access follows the client's).
    pub client_id: Uuid,
    /// The correction. Plain text, never rendered as HTML.
    pub body: String,
    /// RFC 3339, UTC: when it was written (and so signed).
    pub created_at: String,
}

/// Which kind of record a change or id refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A [`ClientRecord`].
    Client,
    /// A [`SessionNote`].
    Note,
    /// A [`NoteAmendment`].
    Amendment,
}

/// Any record that syncs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum Record {
    /// A client.
    Client(ClientRecord),
    /// A session note.
    Note(SessionNote),
    /// A correction appended to a signed note.
    Amendment(NoteAmendment),
}

impl Record {
    /// The record's id.
    pub fn id(&self) -> Uuid {
        match self {
            Record::Client(c) => c.id,
            Record::Note(n) => n.id,
            Record::Amendment(a) => a.id,
        }
    }

    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::Client(_) => RecordKind::Client,
            Record::Note(_) => RecordKind::Note,
            Record::Amendment(_) => RecordKind::Amendment,
        }
    }
}

// Records hold patient data, so `Debug` shows only what identifies the record,
// never names or clinical text: a stray `{:?}` in a log stays safe.
impl std::fmt::Debug for ClientRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRecord")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SessionNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionNote")
            .field("id", &self.id)
            .field("client_id", &self.client_id)
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for NoteAmendment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteAmendment")
            .field("id", &self.id)
            .field("note_id", &self.note_id)
            .field("client_id", &self.client_id)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Record::Client(c) => c.fmt(f),
            Record::Note(n) => n.fmt(f),
            Record::Amendment(a) => a.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_names_or_note_text() {
        let client = ClientRecord {
            id: Uuid::nil(),
            full_name: "Wanjiku Synthetic".into(),
            date_of_birth: None,
            contact: Some("+254700000000".into()),
            created_at: "2026-01-01T00:00:00Z".into(),
        };
        let note = SessionNote {
            id: Uuid::nil(),
            client_id: Uuid::nil(),
            session_date: "2026-01-01".into(),
            body: "discussed sleep".into(),
            status: NoteStatus::Draft,
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
            signed_at: None,
        };
        let amendment = NoteAmendment {
            id: Uuid::nil(),
            note_id: Uuid::nil(),
            client_id: Uuid::nil(),
            body: "correction: slept better".into(),
            created_at: "2026-01-02T00:00:00Z".into(),
        };
        let shown = format!(
            "{:?} {:?} {:?}",
            Record::Client(client),
            Record::Note(note),
            Record::Amendment(amendment)
        );
        assert!(!shown.contains("Wanjiku"));
        assert!(!shown.contains("+2547"));
        assert!(!shown.contains("sleep"));
        assert!(!shown.contains("correction"));
    }

    #[test]
    fn record_serialises_with_kind_tag() {
        let client = ClientRecord {
            id: Uuid::nil(),
            full_name: "A".into(),
            date_of_birth: None,
            contact: None,
            created_at: "2026-01-01T00:00:00Z".into(),
        };
        let json = serde_json::to_value(Record::Client(client)).unwrap();
        assert_eq!(json["kind"], "client");
        assert_eq!(json["data"]["full_name"], "A");
    }
}
