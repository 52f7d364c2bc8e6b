//! Whose each client record is, as the server said at pull time.
//!
//! A client this device's practitioner does not own (shared with them, or
//! a supervised colleague's) is shown read-only, and the core refuses to
//! write to it or its notes: the server would refuse anyway, and a
//! practitioner should hear so before typing, not after a sync. A client
//! with no owner recorded (made on this device, or pulled from a server
//! that predates owners) is the practitioner's own.

use bench_protocol::api::ServerChange;
use bench_protocol::Record;
use rusqlite::OptionalExtension;
use uuid::Uuid;

use super::Vault;
use crate::CoreError;

/// One row per pulled client record; ids only.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS client_owners (
    client_id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL
);
";

impl Vault {
    /// Remembers the owner of every client record in a pulled page.
    pub fn note_owners(&mut self, changes: &[ServerChange]) -> Result<(), CoreError> {
        for change in changes {
            let (Record::Client(client), Some(owner)) = (&change.record, change.owner_id) else {
                continue;
            };
            self.conn
                .execute(
                    "INSERT INTO client_owners (client_id, owner_id) VALUES (?1, ?2)
                     ON CONFLICT (client_id) DO UPDATE SET owner_id = excluded.owner_id",
                    [client.id.to_string(), owner.to_string()],
                )
                .map_err(|e| CoreError::vault("remember a record's owner", e))?;
        }
        Ok(())
    }

    /// The owner of a client record when it is someone other than `me`;
    /// `None` for the practitioner's own (or unknown) clients, and when
    /// nobody is signed in.
    pub fn foreign_owner(
        &self,
        client_id: Uuid,
        me: Option<Uuid>,
    ) -> Result<Option<Uuid>, CoreError> {
        let Some(me) = me else { return Ok(None) };
        let owner: Option<String> = self
            .conn
            .query_row(
                "SELECT owner_id FROM client_owners WHERE client_id = ?1",
                [client_id.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| CoreError::vault("read a record's owner", e))?;
        Ok(owner
            .and_then(|o| o.parse::<Uuid>().ok())
            .filter(|o| *o != me))
    }
}
