//! Moving a client's record to another practitioner (a client transferred
//! within the clinic).
//!
//! Everything filed under the client moves with it: the client record and
//! every record whose `client_id` names it (session notes, and any other
//! kind filed under a client). Each moved record takes a new place in the
//! change feed, so the new owner's next pull brings it; the old owner, the
//! colleagues they had shared it with and their supervisors each get an
//! access event, so their next pull lists the records in `removed` and
//! their devices delete them. Nothing is decrypted: only the owner column
//! and the feed position change.

use bench_protocol::api::{Role, TransferReceipt};
use rusqlite::params;
use uuid::Uuid;

use super::{incomplete, Account, Refused, Store};
use crate::clock;
use crate::error::ServerError;

impl Store {
    /// Transfers client `client_id` to practitioner `to`, on behalf of
    /// `caller` (the owner or the clinic admin). `None` when there is no
    /// such client the caller may transfer (told as "no such record").
    pub fn transfer_client(
        &self,
        caller: &Account,
        client_id: Uuid,
        to: Uuid,
    ) -> Result<Option<Result<TransferReceipt, Refused>>, ServerError> {
        let Some(from) = self.client_owner(client_id)? else {
            return Ok(None);
        };
        let may = caller.role == Role::ClinicAdmin
            || (caller.id == from
                && matches!(
                    caller.role,
                    Role::SoloPractitioner | Role::ClinicPractitioner | Role::Supervisor
                ));
        if !may {
            return Ok(None);
        }
        let receiver = self.account_by_id(to)?;
        let holds_records = receiver.as_ref().is_some_and(|r| {
            matches!(
                r.role,
                Role::SoloPractitioner | Role::ClinicPractitioner | Role::Supervisor
            )
        });
        if !holds_records {
            return Ok(Some(Err(incomplete(
                "A client can be transferred only to a practitioner's account (solo, clinic or supervisor).",
            ))));
        }
        if to == from {
            return Ok(Some(Err(incomplete(
                "This practitioner already holds the client's record.",
            ))));
        }

        let db = self.db();
        let tx = self.conn.unchecked_transaction().map_err(&db)?;
        let (c, from_s, to_s) = (client_id.to_string(), from.to_string(), to.to_string());
        let ids: Vec<String> = {
            let mut stmt = tx
                .prepare(
                    "SELECT id FROM records WHERE (id = ?1 OR client_id = ?1) AND owner = ?2
                     ORDER BY seq",
                )
                .map_err(&db)?;
            let rows = stmt
                .query_map(params![c, from_s], |r| r.get::<_, String>(0))
                .map_err(&db)?;
            rows.collect::<Result<_, _>>().map_err(&db)?
        };
        for id in &ids {
            tx.execute("INSERT INTO change_feed (record_id) VALUES (?1)", [id])
                .map_err(&db)?;
            let seq = tx.last_insert_rowid();
            tx.execute(
                "UPDATE records SET owner = ?2, seq = ?3 WHERE id = ?1",
                params![id, to_s, seq],
            )
            .map_err(&db)?;
        }

        // Whoever saw the record through the old owner stops seeing it:
        // the old owner, the colleagues they shared it with (the share
        // ends: the client consented to the old owner's sharing, not the
        // new one's) and the old owner's supervisors.
        let grantees: Vec<String> = {
            let mut stmt = tx
                .prepare(
                    "SELECT grantee FROM shares WHERE client_id = ?1 AND owner = ?2 AND revoked_at IS NULL",
                )
                .map_err(&db)?;
            let rows = stmt
                .query_map(params![c, from_s], |r| r.get::<_, String>(0))
                .map_err(&db)?;
            rows.collect::<Result<_, _>>().map_err(&db)?
        };
        let shares_ended = tx
            .execute(
                "UPDATE shares SET revoked_at = ?3 WHERE client_id = ?1 AND owner = ?2 AND revoked_at IS NULL",
                params![c, from_s, clock::now_rfc3339()],
            )
            .map_err(&db)?;
        let supervisors: Vec<String> = {
            let mut stmt = tx
                .prepare(
                    "SELECT DISTINCT supervisor FROM supervision WHERE practitioner = ?1 AND revoked_at IS NULL",
                )
                .map_err(&db)?;
            let rows = stmt
                .query_map([&from_s], |r| r.get::<_, String>(0))
                .map_err(&db)?;
            rows.collect::<Result<_, _>>().map_err(&db)?
        };
        let mut viewers = vec![from];
        viewers.extend(
            grantees
                .iter()
                .chain(&supervisors)
                .filter_map(|v| v.parse::<Uuid>().ok()),
        );
        viewers.sort();
        viewers.dedup();
        for viewer in viewers {
            if viewer != to {
                self.access_event(viewer, "client", client_id, false)?;
            }
        }
        tx.commit().map_err(&db)?;

        Ok(Some(Ok(TransferReceipt {
            client_id,
            from_practitioner_id: from,
            to_practitioner_id: to,
            records_moved: ids.len() as u32,
            shares_ended: shares_ended as u32,
        })))
    }
}
