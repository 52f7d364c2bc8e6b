//! Who owns each pulled record, so a device can show records it does not
//! own (shared with its practitioner, or a supervised colleague's) read
//! only. The server refuses their writes anyway; this lets the device say
//! so before anything is typed.

use bench_protocol::api::PullResponse;
use rusqlite::OptionalExtension;

use super::Store;
use crate::error::ServerError;

impl Store {
    /// Sets [`bench_protocol::api::ServerChange::owner_id`] on every change
    /// of a pull page: for a note or an amendment, the owner of its
    /// client's record, which is also the note's.
    pub fn fill_owners(&self, page: &mut PullResponse) -> Result<(), ServerError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT owner FROM records WHERE id = ?1")
            .map_err(self.db())?;
        for change in &mut page.changes {
            let owner: Option<String> = stmt
                .query_row([change.record.id().to_string()], |r| r.get(0))
                .optional()
                .map_err(self.db())?;
            change.owner_id = owner.and_then(|o| o.parse().ok());
        }
        Ok(())
    }
}
