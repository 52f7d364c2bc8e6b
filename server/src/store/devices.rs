//! Devices: each installation of the app that signed in, per account, and
//! its revocation (a lost or stolen laptop).
//!
//! A device is known by the id it chose itself ([`LoginRequest::device_id`])
//! and is recorded at each completed sign-in (after the second step, never
//! on the password alone). Revoking it does two
//! things at once: every session opened from it stops working (each later
//! use is answered "device revoked", so the app on it hears why and deletes
//! its vault), and every later sign-in from it is refused, even with the
//! right password and code.
//!
//! A revocation by the clinic admin or at the command line covers the
//! installation for every account that used it; a practitioner revoking
//! one of their own devices covers only their own account on it.
//!
//! [`LoginRequest::device_id`]: bench_protocol::api::LoginRequest::device_id

// Limitation: the device id is chosen by the device and proves nothing: a
// thief who also has the practitioner's password and authenticator could
// delete the app's data folder and sign in as a new device. Revocation
// protects the vault on the lost device (it is wiped at its next contact),
// not the account; for that, change the password and reset 2FA too
// (`bench-server user passwd`, `user reset-2fa`). Fix: a device key pair
// made at first sign-in, its public half registered with the server, and
// each sign-in signed with it.

use bench_protocol::api::Device;
use rusqlite::{params, OptionalExtension};
use uuid::Uuid;

use super::Store;
use crate::clock;
use crate::error::ServerError;

/// Longest device label stored, in characters.
pub const MAX_DEVICE_NAME: usize = 100;

/// Who is revoking a device, which decides how far the revocation reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revoker {
    /// The clinic admin (this account): the device, for every account.
    ClinicAdmin(Uuid),
    /// A practitioner (this account), for their own account on one of
    /// their other devices.
    Owner(Uuid),
    /// The server's command line: the device, for every account.
    CommandLine,
}

impl Revoker {
    fn account(self) -> Option<Uuid> {
        match self {
            Revoker::ClinicAdmin(id) | Revoker::Owner(id) => Some(id),
            Revoker::CommandLine => None,
        }
    }
}

/// What a revocation did.
#[derive(Debug)]
pub struct Revoked {
    /// The device's rows after the revocation (one per account reached).
    pub devices: Vec<Device>,
    /// Sessions that stopped working.
    pub sessions_ended: usize,
}

/// Whether `c` is an invisible format character: bidirectional controls
/// and marks (which can make a label read backwards in the admin's list),
/// zero-width characters, soft hyphen, byte-order mark and the like.
pub fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// A device label as stored: trimmed, control characters replaced,
/// invisible format characters dropped, at most [`MAX_DEVICE_NAME`]
/// characters, never empty.
fn clean_name(raw: &str) -> String {
    let name: String = raw
        .chars()
        .filter(|c| !is_invisible_format(*c))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .chars()
        .take(MAX_DEVICE_NAME)
        .collect();
    if name.trim().is_empty() {
        "unnamed device".to_string()
    } else {
        name
    }
}

impl Store {
    /// Records a sign-in from `device_id` for `account` (first or latest).
    pub fn note_device(
        &self,
        account: Uuid,
        device_id: Uuid,
        device_name: &str,
        now: u64,
    ) -> Result<(), ServerError> {
        self.conn
            .execute(
                "INSERT INTO devices (account_id, device_id, device_name, first_seen, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT (account_id, device_id)
                 DO UPDATE SET device_name = excluded.device_name, last_seen = excluded.last_seen",
                params![
                    account.to_string(),
                    device_id.to_string(),
                    clean_name(device_name),
                    now as i64
                ],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// Whether `device_id` is revoked for `account` (or, with no account
    /// known, for every account): a revocation of the whole device counts
    /// for anyone, one made by a practitioner only for them.
    pub fn device_revoked(
        &self,
        device_id: Uuid,
        account: Option<Uuid>,
    ) -> Result<bool, ServerError> {
        let account = account.map(|a| a.to_string()).unwrap_or_default();
        let found: Option<i64> = self
            .conn
            .query_row(
                "SELECT 1 FROM devices WHERE device_id = ?1 AND revoked_at IS NOT NULL
                   AND (whole_device = 1 OR account_id = ?2) LIMIT 1",
                params![device_id.to_string(), account],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.db())?;
        Ok(found.is_some())
    }

    /// Devices, newest contact first: every account's (`None`) or one
    /// account's. The latest contact counts session use as well as sign-in.
    pub fn devices(&self, account: Option<Uuid>) -> Result<Vec<Device>, ServerError> {
        let filter = account.map(|a| a.to_string());
        self.device_rows("(?1 IS NULL OR d.account_id = ?1)", filter)
    }

    fn device_rows(&self, clause: &str, value: Option<String>) -> Result<Vec<Device>, ServerError> {
        let sql = format!(
            "SELECT d.device_id, d.account_id, a.username, d.device_name, d.first_seen,
                    max(d.last_seen, coalesce((SELECT max(s.last_seen) FROM sessions s
                        WHERE s.account_id = d.account_id AND s.device_id = d.device_id), 0)),
                    d.revoked_at, d.revoked_by, d.reason
             FROM devices d JOIN accounts a ON a.id = d.account_id
             WHERE {clause} ORDER BY 6 DESC, a.username"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(self.db())?;
        let rows = stmt
            .query_map([value], |r| {
                let id = |i: usize| -> rusqlite::Result<Uuid> {
                    let s: String = r.get(i)?;
                    Ok(s.parse().unwrap_or_default())
                };
                let revoked_by: Option<String> = r.get(7)?;
                let revoked_at: Option<i64> = r.get(6)?;
                Ok(Device {
                    device_id: id(0)?,
                    account_id: id(1)?,
                    username: r.get(2)?,
                    device_name: r.get(3)?,
                    first_seen: clock::unix_to_rfc3339(r.get::<_, i64>(4)?.max(0) as u64),
                    last_seen: clock::unix_to_rfc3339(r.get::<_, i64>(5)?.max(0) as u64),
                    revoked_at: revoked_at.map(|t| clock::unix_to_rfc3339(t.max(0) as u64)),
                    revoked_by: revoked_by.and_then(|s| s.parse().ok()),
                    reason: r.get(8)?,
                })
            })
            .map_err(self.db())?;
        rows.collect::<Result<_, _>>().map_err(self.db())
    }

    /// Revokes `device_id`: for every account that used it (clinic admin,
    /// command line) or for the revoking practitioner's own account only.
    /// `None` when there is no such device within the revoker's reach. An
    /// already revoked device keeps its first revocation's time, revoker
    /// and reason.
    pub fn revoke_device(
        &self,
        device_id: Uuid,
        by: Revoker,
        reason: &str,
        now: u64,
    ) -> Result<Option<Revoked>, ServerError> {
        let db = self.db();
        let device = device_id.to_string();
        let (whole, only) = match by {
            Revoker::Owner(account) => (false, Some(account.to_string())),
            Revoker::ClinicAdmin(_) | Revoker::CommandLine => (true, None),
        };
        let tx = self.conn.unchecked_transaction().map_err(&db)?;
        let known: i64 = tx
            .query_row(
                "SELECT count(*) FROM devices WHERE device_id = ?1 AND (?2 IS NULL OR account_id = ?2)",
                params![device, only],
                |r| r.get(0),
            )
            .map_err(&db)?;
        if known == 0 {
            return Ok(None);
        }
        let reason = reason.trim();
        tx.execute(
            "UPDATE devices SET revoked_at = ?3, revoked_by = ?4, reason = ?5, whole_device = ?6
             WHERE device_id = ?1 AND (?2 IS NULL OR account_id = ?2) AND revoked_at IS NULL",
            params![
                device,
                only,
                now as i64,
                by.account().map(|a| a.to_string()),
                (!reason.is_empty()).then_some(reason),
                whole,
            ],
        )
        .map_err(&db)?;
        // The sessions are not deleted: each later use must be answered
        // "device revoked" (not "session ended"), so the app on the device
        // learns why and wipes its vault. `touch_session` refuses them.
        let sessions_ended = tx
            .query_row(
                "SELECT count(*) FROM sessions WHERE device_id = ?1 AND (?2 IS NULL OR account_id = ?2)
                   AND expires_at > ?3",
                params![device, only, now as i64],
                |r| r.get::<_, i64>(0),
            )
            .map_err(&db)? as usize;
        tx.commit().map_err(&db)?;
        let devices = self.device_rows("d.device_id = ?1", Some(device_id.to_string()))?;
        let devices = devices
            .into_iter()
            .filter(|d| only.is_none() || Some(d.account_id.to_string()) == only)
            .collect();
        Ok(Some(Revoked {
            devices,
            sessions_ended,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::clean_name;

    #[test]
    fn a_device_label_is_trimmed_cleaned_and_bounded() {
        assert_eq!(clean_name("  Amina's laptop \n"), "Amina's laptop");
        assert_eq!(clean_name("a\u{7}b"), "a b");
        assert_eq!(clean_name("   "), "unnamed device");
        assert_eq!(clean_name(&"x".repeat(500)).chars().count(), 100);
    }

    #[test]
    fn a_device_label_loses_bidi_controls_and_invisible_format_characters() {
        assert_eq!(clean_name("pot\u{202E}pot.exe"), "potpot.exe");
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}', '\u{200B}', '\u{FEFF}',
        ] {
            assert_eq!(
                clean_name(&format!("lap{c}top")),
                "laptop",
                "{:04X}",
                c as u32
            );
        }
        assert_eq!(clean_name("\u{202E}\u{2066}"), "unnamed device");
        assert_eq!(clean_name("Wanjiku's laptop"), "Wanjiku's laptop");
    }
}
