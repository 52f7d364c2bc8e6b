//! Scheduling and billing: appointments and invoices, with no clinical
//! content.
//!
//! Who reaches what is decided in one place, [`reach`]: the clinic admin
//! the whole clinic's schedule and books, a practitioner (solo, clinic or
//! supervisor) only the appointments and invoices that are with them and
//! only for clients whose record they hold, operations nothing. A client
//! appears here by id and name only: the name is read from the client's
//! sealed record for the answer and never stored again, and no other field
//! of that record (date of birth, contact) nor anything of a note ever
//! leaves through these methods.
//!
//! Times are stored as RFC 3339 UTC text and as Unix seconds (for range
//! queries); amounts as whole KES cents.

use std::collections::HashMap;

use bench_protocol::api::{
    Appointment, AppointmentStatus, BookableClient, Invoice, InvoiceStatus, NewAppointment,
    NewInvoice, Role, MAX_APPOINTMENT_MINUTES, MAX_INVOICE_CENTS, MIN_APPOINTMENT_MINUTES,
};
use bench_protocol::Record;
use rusqlite::{params, OptionalExtension};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{forbidden, incomplete, Account, Refused, Store};
use crate::clock;
use crate::error::ServerError;

/// The scheduling tables, created next to the clinical ones.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS appointments (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    practitioner TEXT NOT NULL REFERENCES accounts(id),
    starts_at TEXT NOT NULL,
    starts_unix INTEGER NOT NULL,
    duration_minutes INTEGER NOT NULL,
    status TEXT NOT NULL,
    booked_by TEXT NOT NULL REFERENCES accounts(id),
    booked_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS appointments_starts ON appointments(starts_unix);
CREATE INDEX IF NOT EXISTS appointments_practitioner ON appointments(practitioner, starts_unix);
CREATE TABLE IF NOT EXISTS invoices (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    practitioner TEXT NOT NULL REFERENCES accounts(id),
    appointment_id TEXT REFERENCES appointments(id),
    amount_cents INTEGER NOT NULL,
    status TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    issued_by TEXT NOT NULL REFERENCES accounts(id)
);
CREATE INDEX IF NOT EXISTS invoices_practitioner ON invoices(practitioner);
";

/// How far a caller reaches in the schedule and the books.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Every appointment and invoice of the clinic (the clinic admin).
    Clinic,
    /// Only those with this practitioner, for clients whose record they hold.
    Own(Uuid),
    /// Nothing (operations).
    Nothing,
}

/// The one place that decides who reaches which appointments and invoices.
// Limitation: one server serves one clinic (see `Store::team`), so the
// clinic admin reaches every account's schedule; a multi-clinic server
// would filter on accounts.clinic_id here.
pub fn reach(viewer: &Account) -> Reach {
    match viewer.role {
        Role::ClinicAdmin => Reach::Clinic,
        Role::SoloPractitioner | Role::ClinicPractitioner | Role::Supervisor => {
            Reach::Own(viewer.id)
        }
        Role::Operations => Reach::Nothing,
    }
}

impl Reach {
    fn covers(self, practitioner: Uuid) -> bool {
        match self {
            Reach::Clinic => true,
            Reach::Own(me) => me == practitioner,
            Reach::Nothing => false,
        }
    }

    /// `(?1 IS NULL OR practitioner = ?1)` binds this value as `?1`; `None`
    /// for nothing at all is handled by the callers before querying.
    fn practitioner_filter(self) -> Option<String> {
        match self {
            Reach::Own(me) => Some(me.to_string()),
            Reach::Clinic | Reach::Nothing => None,
        }
    }
}

/// Whom a client belongs to and what they are called: all of a client that
/// scheduling and billing may know.
struct Identity {
    practitioner: Uuid,
    name: String,
}

/// Names looked up once per answer.
#[derive(Default)]
struct Names {
    clients: HashMap<Uuid, Option<Identity>>,
    practitioners: HashMap<Uuid, String>,
}

/// RFC 3339 with any offset → (UTC text, Unix seconds).
fn utc(value: &str) -> Option<(String, i64)> {
    let t = OffsetDateTime::parse(value.trim(), &Rfc3339).ok()?;
    let t = t.to_offset(time::UtcOffset::UTC);
    Some((t.format(&Rfc3339).ok()?, t.unix_timestamp()))
}

/// How far back an appointment may start: two years, so a session held
/// earlier can still be booked after the fact and invoiced, but a mistyped
/// year (0001, 2001) is refused.
pub const BOOKABLE_PAST_SECS: i64 = 2 * 365 * 24 * 3600;
/// How far ahead an appointment may start: two years, past any real
/// clinic's planning, short of a mistyped year (9999).
pub const BOOKABLE_AHEAD_SECS: i64 = 2 * 365 * 24 * 3600;
/// The largest UTC offset in use anywhere (UTC+14, Kiribati; the lowest is
/// UTC-12): anything beyond ±14:00 is a typing mistake.
const MAX_OFFSET_SECS: i32 = 14 * 3600;

/// A start time checked for an appointment, judged at `now` (Unix
/// seconds): RFC 3339, a real offset, no leap second (the `time` crate would
/// silently store `23:59:60` as `23:59:59.999999999`) and within the
/// bookable window. `Err` is the sentence for the practitioner.
fn start_time(value: &str, now: i64) -> Result<(String, i64), &'static str> {
    let value = value.trim();
    let t = OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|_| "The start time must be a date and time like 2026-03-02T09:00:00Z.")?;
    if value.get(17..19) == Some("60") {
        return Err("The start time has a 60th second (a leap second); book it at a whole minute, like 09:00:00.");
    }
    if t.offset().whole_seconds().abs() > MAX_OFFSET_SECS {
        return Err(
            "The start time's offset from UTC must be at most 14 hours, like +03:00 for Nairobi.",
        );
    }
    let (text, unix) =
        utc(value).ok_or("The start time must be a date and time like 2026-03-02T09:00:00Z.")?;
    if !(now - BOOKABLE_PAST_SECS..=now + BOOKABLE_AHEAD_SECS).contains(&unix) {
        return Err(
            "An appointment must start within two years of today, before or after; check the year.",
        );
    }
    Ok((text, unix))
}

/// Why a booking was refused.
#[derive(Debug)]
pub enum BookRefused {
    /// A fixed sentence, as for every other refusal.
    Refused(Refused),
    /// The practitioner or the client already has an appointment that
    /// overlaps; the sentence names its start time (never the client).
    Clash(String),
}

impl From<Refused> for BookRefused {
    fn from(r: Refused) -> Self {
        BookRefused::Refused(r)
    }
}

impl Store {
    /// The client's holder and name, from the sealed record; `None` when
    /// there is no such client.
    fn identity(&self, client_id: Uuid) -> Result<Option<Identity>, ServerError> {
        let id = client_id.to_string();
        let row: Option<(String, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT owner, data FROM records WHERE id = ?1 AND kind = 'client'",
                [&id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.db())?;
        let Some((owner, data)) = row else {
            return Ok(None);
        };
        let Record::Client(client) = self.open_record(&id, &data)? else {
            return Ok(None);
        };
        Ok(owner.parse().ok().map(|practitioner| Identity {
            practitioner,
            name: client.full_name,
        }))
    }

    fn client_name(&self, names: &mut Names, client_id: Uuid) -> Result<String, ServerError> {
        if let Some(known) = names.clients.get(&client_id) {
            return Ok(known.as_ref().map(|i| i.name.clone()).unwrap_or_default());
        }
        let found = self.identity(client_id)?;
        let name = found.as_ref().map(|i| i.name.clone()).unwrap_or_default();
        names.clients.insert(client_id, found);
        Ok(name)
    }

    fn practitioner_name(
        &self,
        names: &mut Names,
        practitioner: Uuid,
    ) -> Result<String, ServerError> {
        if let Some(n) = names.practitioners.get(&practitioner) {
            return Ok(n.clone());
        }
        let name = self
            .account_by_id(practitioner)?
            .map(|a| a.display_name)
            .unwrap_or_default();
        names.practitioners.insert(practitioner, name.clone());
        Ok(name)
    }

    /// The clients `viewer` may book or invoice, by name: identity only.
    pub fn bookable_clients(&self, viewer: &Account) -> Result<Vec<BookableClient>, ServerError> {
        let reach = reach(viewer);
        if reach == Reach::Nothing {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, owner, data FROM records
                 WHERE kind = 'client' AND (?1 IS NULL OR owner = ?1)",
            )
            .map_err(self.db())?;
        let rows: Vec<(String, String, Vec<u8>)> = stmt
            .query_map([reach.practitioner_filter()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(self.db())?
            .collect::<Result<_, _>>()
            .map_err(self.db())?;
        let mut names = Names::default();
        let mut out = Vec::with_capacity(rows.len());
        for (id, owner, data) in rows {
            let (Ok(id), Ok(owner)) = (id.parse::<Uuid>(), owner.parse::<Uuid>()) else {
                continue;
            };
            if let Record::Client(client) = self.open_record(&id.to_string(), &data)? {
                out.push(BookableClient {
                    id,
                    display_name: client.full_name,
                    practitioner_id: owner,
                    practitioner_name: self.practitioner_name(&mut names, owner)?,
                });
            }
        }
        out.sort_by_key(|c| c.display_name.to_lowercase());
        Ok(out)
    }

    /// Appointments `viewer` reaches starting in `[from, to)` (Unix
    /// seconds; either may be open), earliest first.
    // Limitation: the answer is not paged; a clinic's whole history comes
    // back when no range is given. The desktop asks for a week at a time.
    pub fn appointments(
        &self,
        viewer: &Account,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Vec<Appointment>, ServerError> {
        let reach = reach(viewer);
        if reach == Reach::Nothing {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, client_id, practitioner, starts_at, duration_minutes, status
                 FROM appointments
                 WHERE (?1 IS NULL OR practitioner = ?1)
                   AND (?2 IS NULL OR starts_unix >= ?2) AND (?3 IS NULL OR starts_unix < ?3)
                 ORDER BY starts_unix, id",
            )
            .map_err(self.db())?;
        type Row = (String, String, String, String, u32, String);
        let rows: Vec<Row> = stmt
            .query_map(params![reach.practitioner_filter(), from, to], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .map_err(self.db())?
            .collect::<Result<_, _>>()
            .map_err(self.db())?;
        let mut names = Names::default();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(a) = self.appointment_from_row(&mut names, row)? {
                out.push(a);
            }
        }
        Ok(out)
    }

    fn appointment_from_row(
        &self,
        names: &mut Names,
        (id, client_id, practitioner, starts_at, duration_minutes, status): (
            String,
            String,
            String,
            String,
            u32,
            String,
        ),
    ) -> Result<Option<Appointment>, ServerError> {
        let (Ok(id), Ok(client_id), Ok(practitioner_id), Some(status)) = (
            id.parse(),
            client_id.parse(),
            practitioner.parse(),
            AppointmentStatus::parse(&status),
        ) else {
            return Ok(None);
        };
        Ok(Some(Appointment {
            id,
            client_id,
            client_name: self.client_name(names, client_id)?,
            practitioner_id,
            practitioner_name: self.practitioner_name(names, practitioner_id)?,
            starts_at,
            duration_minutes,
            status,
        }))
    }

    fn appointment(&self, id: Uuid) -> Result<Option<Appointment>, ServerError> {
        let row = self
            .conn
            .query_row(
                "SELECT id, client_id, practitioner, starts_at, duration_minutes, status
                 FROM appointments WHERE id = ?1",
                [id.to_string()],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .optional()
            .map_err(self.db())?;
        match row {
            Some(row) => self.appointment_from_row(&mut Names::default(), row),
            None => Ok(None),
        }
    }

    /// Books an appointment with the practitioner who holds the client's
    /// record. `None` when the client is unknown or out of the caller's
    /// reach (answer "not found", so ids reveal nothing).
    ///
    /// Refused: a start time outside [`start_time`]'s rules, a duration
    /// out of range, and a time that overlaps another appointment (not
    /// cancelled) of the same practitioner or the same client.
    pub fn book(
        &self,
        viewer: &Account,
        req: &NewAppointment,
    ) -> Result<Option<Result<Appointment, BookRefused>>, ServerError> {
        let reach = reach(viewer);
        let Some(client) = self.identity(req.client_id)? else {
            return Ok(None);
        };
        if !reach.covers(client.practitioner) {
            return Ok(None);
        }
        let (starts_at, starts_unix) = match start_time(&req.starts_at, clock::now_unix() as i64) {
            Ok(t) => t,
            Err(why) => return Ok(Some(Err(incomplete(why).into()))),
        };
        if !(MIN_APPOINTMENT_MINUTES..=MAX_APPOINTMENT_MINUTES).contains(&req.duration_minutes) {
            return Ok(Some(Err(incomplete(
                "An appointment lasts from 5 minutes to 8 hours.",
            )
            .into())));
        }
        if let Some(clash) = self.clash(
            None,
            client.practitioner,
            req.client_id,
            starts_unix,
            req.duration_minutes,
        )? {
            return Ok(Some(Err(clash)));
        }
        let id = Uuid::new_v4();
        self.conn
            .execute(
                "INSERT INTO appointments (id, client_id, practitioner, starts_at, starts_unix, duration_minutes, status, booked_by, booked_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    id.to_string(),
                    req.client_id.to_string(),
                    client.practitioner.to_string(),
                    starts_at,
                    starts_unix,
                    req.duration_minutes,
                    AppointmentStatus::Booked.as_str(),
                    viewer.id.to_string(),
                    clock::now_rfc3339()
                ],
            )
            .map_err(self.db())?;
        let practitioner_name =
            self.practitioner_name(&mut Names::default(), client.practitioner)?;
        Ok(Some(Ok(Appointment {
            id,
            client_id: req.client_id,
            client_name: client.name,
            practitioner_id: client.practitioner,
            practitioner_name,
            starts_at,
            duration_minutes: req.duration_minutes,
            status: AppointmentStatus::Booked,
        })))
    }

    /// The first appointment (not cancelled, not `except`) of `practitioner`
    /// or of `client_id` that overlaps `[starts_unix, +minutes)`, as the
    /// refusal naming its start time.
    fn clash(
        &self,
        except: Option<Uuid>,
        practitioner: Uuid,
        client_id: Uuid,
        starts_unix: i64,
        minutes: u32,
    ) -> Result<Option<BookRefused>, ServerError> {
        let ends_unix = starts_unix + i64::from(minutes) * 60;
        let found: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT starts_at, practitioner FROM appointments
                 WHERE status != ?1 AND (?2 IS NULL OR id != ?2)
                   AND (practitioner = ?3 OR client_id = ?4)
                   AND starts_unix < ?6 AND starts_unix + duration_minutes * 60 > ?5
                 ORDER BY starts_unix LIMIT 1",
                params![
                    AppointmentStatus::Cancelled.as_str(),
                    except.map(|e| e.to_string()),
                    practitioner.to_string(),
                    client_id.to_string(),
                    starts_unix,
                    ends_unix
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.db())?;
        Ok(found.map(|(at, with)| {
            let whose = if with == practitioner.to_string() {
                "the practitioner"
            } else {
                "this client"
            };
            BookRefused::Clash(format!(
                "This time overlaps {whose}'s appointment starting {at}; choose another time or cancel that one first."
            ))
        }))
    }

    /// Marks an appointment attended, cancelled, a no-show or booked again.
    /// Any status may follow any other, attended → booked included: a mark
    /// made by mistake can be corrected, and each change is audited. Booking
    /// a cancelled appointment again is refused when its time now overlaps
    /// another of the practitioner's or the client's. `None` when it is
    /// unknown or out of the caller's reach.
    pub fn set_appointment_status(
        &self,
        viewer: &Account,
        id: Uuid,
        status: AppointmentStatus,
    ) -> Result<Option<Result<Appointment, BookRefused>>, ServerError> {
        let Some(mut appointment) = self.appointment(id)? else {
            return Ok(None);
        };
        if !reach(viewer).covers(appointment.practitioner_id) {
            return Ok(None);
        }
        if appointment.status == AppointmentStatus::Cancelled
            && status != AppointmentStatus::Cancelled
        {
            let starts_unix = utc(&appointment.starts_at).map_or(0, |(_, u)| u);
            if let Some(clash) = self.clash(
                Some(id),
                appointment.practitioner_id,
                appointment.client_id,
                starts_unix,
                appointment.duration_minutes,
            )? {
                return Ok(Some(Err(clash)));
            }
        }
        self.conn
            .execute(
                "UPDATE appointments SET status = ?2 WHERE id = ?1",
                params![id.to_string(), status.as_str()],
            )
            .map_err(self.db())?;
        appointment.status = status;
        Ok(Some(Ok(appointment)))
    }

    /// Invoices `viewer` reaches, newest first.
    // Limitation: not paged, like `appointments`.
    pub fn invoices(&self, viewer: &Account) -> Result<Vec<Invoice>, ServerError> {
        let reach = reach(viewer);
        if reach == Reach::Nothing {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, client_id, practitioner, appointment_id, amount_cents, status, issued_at
                 FROM invoices WHERE (?1 IS NULL OR practitioner = ?1)
                 ORDER BY issued_at DESC, id",
            )
            .map_err(self.db())?;
        let rows: Vec<InvoiceRow> = stmt
            .query_map([reach.practitioner_filter()], invoice_row)
            .map_err(self.db())?
            .collect::<Result<_, _>>()
            .map_err(self.db())?;
        let mut names = Names::default();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(i) = self.invoice_from_row(&mut names, row)? {
                out.push(i);
            }
        }
        Ok(out)
    }

    fn invoice_from_row(
        &self,
        names: &mut Names,
        row: InvoiceRow,
    ) -> Result<Option<Invoice>, ServerError> {
        let (id, client_id, practitioner, appointment_id, amount_cents, status, issued_at) = row;
        let (Ok(id), Ok(client_id), Ok(practitioner_id), Some(status)) = (
            id.parse(),
            client_id.parse(),
            practitioner.parse(),
            InvoiceStatus::parse(&status),
        ) else {
            return Ok(None);
        };
        Ok(Some(Invoice {
            id,
            client_id,
            client_name: self.client_name(names, client_id)?,
            practitioner_id,
            appointment_id: appointment_id.and_then(|a| a.parse().ok()),
            amount_cents,
            status,
            issued_at,
        }))
    }

    /// Issues an invoice to a client for the practitioner who holds their
    /// record. One appointment is invoiced once: a second invoice for it is
    /// refused while the first is issued or paid (a void one may be
    /// reissued). `None` when the client (or the appointment named) is unknown
    /// or out of the caller's reach.
    pub fn issue_invoice(
        &self,
        viewer: &Account,
        req: &NewInvoice,
    ) -> Result<Option<Result<Invoice, Refused>>, ServerError> {
        let reach = reach(viewer);
        let Some(client) = self.identity(req.client_id)? else {
            return Ok(None);
        };
        if !reach.covers(client.practitioner) {
            return Ok(None);
        }
        if let Some(appointment_id) = req.appointment_id {
            match self.appointment(appointment_id)? {
                Some(a) if a.client_id == req.client_id && reach.covers(a.practitioner_id) => {}
                Some(a) if reach.covers(a.practitioner_id) => {
                    return Ok(Some(Err(incomplete(
                        "That appointment is another client's; choose one of this client's appointments or none.",
                    ))))
                }
                _ => return Ok(None),
            }
        }
        if let Some(appointment_id) = req.appointment_id {
            let billed: bool = self
                .conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM invoices WHERE appointment_id = ?1 AND status != ?2)",
                    params![appointment_id.to_string(), InvoiceStatus::Void.as_str()],
                    |r| r.get(0),
                )
                .map_err(self.db())?;
            if billed {
                return Ok(Some(Err(incomplete(
                    "This appointment is already invoiced; void that invoice first to issue a new one.",
                ))));
            }
        }
        if !(1..=MAX_INVOICE_CENTS).contains(&req.amount_cents) {
            return Ok(Some(Err(incomplete(
                "The amount must be more than KES 0 and at most KES 10,000,000.",
            ))));
        }
        let invoice = Invoice {
            id: Uuid::new_v4(),
            client_id: req.client_id,
            client_name: client.name,
            practitioner_id: client.practitioner,
            appointment_id: req.appointment_id,
            amount_cents: req.amount_cents,
            status: InvoiceStatus::Issued,
            issued_at: clock::now_rfc3339(),
        };
        self.conn
            .execute(
                "INSERT INTO invoices (id, client_id, practitioner, appointment_id, amount_cents, status, issued_at, issued_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    invoice.id.to_string(),
                    invoice.client_id.to_string(),
                    invoice.practitioner_id.to_string(),
                    invoice.appointment_id.map(|a| a.to_string()),
                    invoice.amount_cents,
                    invoice.status.as_str(),
                    invoice.issued_at,
                    viewer.id.to_string()
                ],
            )
            .map_err(self.db())?;
        Ok(Some(Ok(invoice)))
    }

    /// Marks an issued invoice paid or void; a paid or void one stays so
    /// (the books are corrected by a new invoice, never by rewriting one).
    /// `None` when it is unknown or out of the caller's reach.
    pub fn set_invoice_status(
        &self,
        viewer: &Account,
        id: Uuid,
        status: InvoiceStatus,
    ) -> Result<Option<Result<Invoice, Refused>>, ServerError> {
        let row = self
            .conn
            .query_row(
                "SELECT id, client_id, practitioner, appointment_id, amount_cents, status, issued_at
                 FROM invoices WHERE id = ?1",
                [id.to_string()],
                invoice_row,
            )
            .optional()
            .map_err(self.db())?;
        let Some(row) = row else { return Ok(None) };
        let Some(mut invoice) = self.invoice_from_row(&mut Names::default(), row)? else {
            return Ok(None);
        };
        if !reach(viewer).covers(invoice.practitioner_id) {
            return Ok(None);
        }
        if invoice.status != InvoiceStatus::Issued {
            return Ok(Some(Err(forbidden(
                "This invoice is already paid or void and cannot change; issue a new invoice instead.",
            ))));
        }
        if status == InvoiceStatus::Issued {
            return Ok(Some(Err(incomplete(
                "This invoice is already issued; mark it paid or void.",
            ))));
        }
        self.conn
            .execute(
                "UPDATE invoices SET status = ?2 WHERE id = ?1 AND status = 'issued'",
                params![id.to_string(), status.as_str()],
            )
            .map_err(self.db())?;
        invoice.status = status;
        Ok(Some(Ok(invoice)))
    }
}

type InvoiceRow = (String, String, String, Option<String>, i64, String, String);

fn invoice_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<InvoiceRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_time_with_an_offset_is_stored_in_utc() {
        let (text, unix) = utc("2026-03-02T12:00:00+03:00").unwrap();
        assert_eq!(text, "2026-03-02T09:00:00Z");
        assert_eq!(unix, 1_772_442_000);
        assert!(utc("2026-03-02 09:00").is_none());
        assert!(utc("tomorrow").is_none());
    }

    #[test]
    fn a_start_time_must_be_plausible_real_and_within_two_years() {
        // 2026-12-04T00:00:00Z
        let now = 1_796_342_400;
        assert_eq!(
            start_time("2027-01-04T12:00:00+03:00", now).unwrap().0,
            "2027-01-04T09:00:00Z"
        );
        assert!(start_time("2025-01-01T09:00:00Z", now).is_ok());
        assert!(start_time("2028-06-01T09:00:00+14:00", now).is_ok());
        assert!(start_time("2027-01-04T09:00:00-12:00", now).is_ok());
        for (bad, says) in [
            ("0001-01-01T00:00:00Z", "two years"),
            ("2001-01-01T00:00:00Z", "two years"),
            ("9999-12-31T23:59:59Z", "two years"),
            ("2024-12-01T09:00:00Z", "two years"),
            ("2029-01-01T09:00:00Z", "two years"),
            ("2027-01-04T09:00:00+23:59", "14 hours"),
            ("2027-01-04T09:00:00-14:01", "14 hours"),
            ("2026-12-31T23:59:60Z", "leap second"),
            ("2027-01-01T02:59:60.5+03:00", "leap second"),
            ("next Tuesday", "2026-03-02T09:00:00Z"),
        ] {
            let why = start_time(bad, now).unwrap_err();
            assert!(why.contains(says), "{bad}: {why}");
        }
    }
}
