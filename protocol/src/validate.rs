//! The rules a record's fields must follow, in one place so the server (which
//! enforces them on every push) and the client (which can check before it
//! queues a change) agree.
//!
//! Pure functions, no I/O, no dependencies beyond `std`, so they compile for
//! wasm32 too. The reasons they return are sentences a practitioner can act
//! on and never repeat the value that failed (it may be a client's name).
//!
//! What is checked: dates are strict `YYYY-MM-DD` and real calendar dates;
//! timestamps are RFC 3339 (`2026-03-01T09:30:00Z`, fractions and offsets
//! allowed); a client's name is present, at most [`MAX_NAME_CHARS`]
//! characters, and holds no control characters (NUL, line breaks) and no
//! bidirectional override or isolate characters (U+202A..U+202E,
//! U+2066..U+2069), which can make a name display as something else; the
//! contact follows the same character rules and [`MAX_CONTACT_CHARS`]; a
//! note's `signed_at` is set exactly when it is signed; an amendment says
//! something (its body is not blank) and carries its time.
//!
//! Not checked here: a note's or an amendment's body size (the server's
//! `MAX_NOTE_BYTES` answers that with its own reject code), who may write a
//! record, whether an amended note is signed, versions.

use crate::records::{ClientRecord, NoteAmendment, NoteStatus, Record, SessionNote};

/// The longest client name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The longest contact field accepted, in characters.
pub const MAX_CONTACT_CHARS: usize = 200;

/// Why a record was refused: the field and a sentence for the practitioner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// The field's name as on the wire, e.g. `session_date`.
    pub field: &'static str,
    /// What is wrong, without the value itself.
    pub reason: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Invalid {}

fn invalid(field: &'static str, reason: impl Into<String>) -> Invalid {
    Invalid {
        field,
        reason: reason.into(),
    }
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// Whether `s` is a strict `YYYY-MM-DD` that names a real calendar day
/// (so `2026-02-29` and `2026-13-45` are not).
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Some(y), Some(m), Some(d)) = (digits(&s[0..4]), digits(&s[5..7]), digits(&s[8..10]))
    else {
        return false;
    };
    (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m)
}

/// Whether `s` is an RFC 3339 date-time: a real date, `T`, `HH:MM:SS`, an
/// optional fraction, and `Z` or an offset `+HH:MM` / `-HH:MM`.
pub fn is_timestamp(s: &str) -> bool {
    if s.len() < 20 || !s.is_ascii() || !is_date(&s[..10]) {
        return false;
    }
    let b = s.as_bytes();
    if !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return false;
    }
    let (Some(h), Some(mi), Some(sec)) =
        (digits(&s[11..13]), digits(&s[14..16]), digits(&s[17..19]))
    else {
        return false;
    };
    // 60 allows a leap second, as RFC 3339 does.
    if h > 23 || mi > 59 || sec > 60 {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', _, _, b':', _, _] => matches!(
            (digits(&rest[1..3]), digits(&rest[4..6])),
            (Some(oh), Some(om)) if oh <= 23 && om <= 59
        ),
        _ => false,
    }
}

/// Characters that make text display other than it reads: bidirectional
/// embeddings and overrides (U+202A..U+202E) and isolates (U+2066..U+2069).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Checks a short text field: no control or bidi characters, at most `max`
/// characters, and (when `required`) not blank. `label` names it for people.
pub fn check_text(
    field: &'static str,
    label: &str,
    value: &str,
    max: usize,
    required: bool,
) -> Result<(), Invalid> {
    if required && value.trim().is_empty() {
        return Err(invalid(field, format!("The {label} is empty; enter it.")));
    }
    if value.chars().count() > max {
        return Err(invalid(
            field,
            format!("The {label} is longer than {max} characters; shorten it."),
        ));
    }
    if value.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(invalid(
            field,
            format!("The {label} holds invisible control characters (such as a line break or a text-direction mark); retype it."),
        ));
    }
    Ok(())
}

fn check_date(field: &'static str, label: &str, value: &str) -> Result<(), Invalid> {
    if is_date(value) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("The {label} is not a real date written as YYYY-MM-DD."),
        ))
    }
}

fn check_timestamp(field: &'static str, value: &str) -> Result<(), Invalid> {
    if is_timestamp(value) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("The record's {field} time is not an RFC 3339 timestamp (like 2026-03-01T09:30:00Z); the app that sent it needs fixing."),
        ))
    }
}

/// Checks a client record's fields.
pub fn client(c: &ClientRecord) -> Result<(), Invalid> {
    check_text(
        "full_name",
        "client's name",
        &c.full_name,
        MAX_NAME_CHARS,
        true,
    )?;
    if let Some(dob) = &c.date_of_birth {
        check_date("date_of_birth", "date of birth", dob)?;
    }
    if let Some(contact) = &c.contact {
        check_text("contact", "contact", contact, MAX_CONTACT_CHARS, false)?;
    }
    check_timestamp("created_at", &c.created_at)
}

/// Checks a session note's fields (not its body's size).
pub fn note(n: &SessionNote) -> Result<(), Invalid> {
    check_date("session_date", "session date", &n.session_date)?;
    check_timestamp("created_at", &n.created_at)?;
    check_timestamp("updated_at", &n.updated_at)?;
    match (n.status, &n.signed_at) {
        (NoteStatus::Signed, None) => Err(invalid(
            "signed_at",
            "A signed note must say when it was signed.",
        )),
        (NoteStatus::Draft, Some(_)) => Err(invalid(
            "signed_at",
            "A draft note cannot carry a signing time; sign it or clear the time.",
        )),
        (NoteStatus::Signed, Some(t)) => check_timestamp("signed_at", t),
        (NoteStatus::Draft, None) => Ok(()),
    }
}

/// Checks an amendment's fields (not its body's size, nor the note it
/// amends).
pub fn amendment(a: &NoteAmendment) -> Result<(), Invalid> {
    if a.body.trim().is_empty() {
        return Err(invalid(
            "body",
            "The amendment is empty; write the correction before saving it.",
        ));
    }
    check_timestamp("created_at", &a.created_at)
}

/// Checks any record.
pub fn record(r: &Record) -> Result<(), Invalid> {
    match r {
        Record::Client(c) => client(c),
        Record::Note(n) => note(n),
        Record::Amendment(a) => amendment(a),
    }
}

/// The earliest date of birth or session date accepted on a new write.
pub const EARLIEST_DATE: &str = "1900-01-01";

/// `today` (`YYYY-MM-DD`) moved `years` later, as text that compares like a
/// date (a 29 February becomes 29 February of that year, which still orders
/// correctly against real dates).
fn years_after(today: &str, years: u32) -> String {
    let year = digits(today.get(..4).unwrap_or("")).unwrap_or(9999);
    format!(
        "{:04}{}",
        (year + years).min(9999),
        today.get(4..).unwrap_or("-12-31")
    )
}

/// Whether a real `YYYY-MM-DD` date lies in `[from, to]` (text comparison
/// is date comparison for this fixed-width form).
fn within(value: &str, from: &str, to: &str) -> bool {
    (from..=to).contains(&value)
}

/// Checks that a record's dates are plausible on `today` (`YYYY-MM-DD`, the
/// writer's clock: this module has none): a date of birth from
/// [`EARLIEST_DATE`] to today, a session date from [`EARLIEST_DATE`] to one
/// year after today (a session may be noted ahead of a booked date, never
/// decades ahead). Applied to new writes only (the client core before it
/// saves, the server on a push), never when records already stored are
/// read, so nothing kept before this rule stops loading. Dates that are not
/// real dates are left to [`record`].
pub fn plausible(r: &Record, today: &str) -> Result<(), Invalid> {
    match r {
        Record::Client(c) => match &c.date_of_birth {
            Some(dob) => date_of_birth_on(dob, today),
            None => Ok(()),
        },
        Record::Note(n) => session_date_on(&n.session_date, today),
        Record::Amendment(_) => Ok(()),
    }
}

/// A date of birth's plausibility on `today`; see [`plausible`].
pub fn date_of_birth_on(dob: &str, today: &str) -> Result<(), Invalid> {
    if is_date(dob) && !within(dob, EARLIEST_DATE, today) {
        return Err(invalid(
            "date_of_birth",
            "The date of birth must lie between 1900-01-01 and today; check the year.",
        ));
    }
    Ok(())
}

/// A session date's plausibility on `today`; see [`plausible`].
pub fn session_date_on(date: &str, today: &str) -> Result<(), Invalid> {
    if is_date(date) && !within(date, EARLIEST_DATE, &years_after(today, 1)) {
        return Err(invalid(
            "session_date",
            "The session date must lie between 1900-01-01 and one year from today; check the year.",
        ));
    }
    Ok(())
}

/// [`record`] and then [`plausible`] on `today`: what a new write must pass.
pub fn new_record(r: &Record, today: &str) -> Result<(), Invalid> {
    record(r)?;
    plausible(r, today)
}

/// The longest reference (consent reference, support ticket) accepted.
pub const MAX_REFERENCE_CHARS: usize = 40;

/// Checks a reference such as a consent reference or a support ticket:
/// 1 to [`MAX_REFERENCE_CHARS`] characters of ASCII letters, digits and
/// `-_/#.:`, no spaces, and at least one digit, so it is a code
/// (`CF-2026-014`, `#4411`, `TICKET-77`) and cannot carry a client's name
/// into plaintext tables and the audit log. `label` names it for people.
pub fn reference(field: &'static str, label: &str, value: &str) -> Result<(), Invalid> {
    let ok = !value.is_empty()
        && value.chars().count() <= MAX_REFERENCE_CHARS
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_/#.:".contains(c))
        && value.chars().any(|c| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!(
                "The {label} must be a reference such as CF-2026-014 or #4411, not a name: \
                 letters, digits and - _ / # . : only, no spaces, at least one digit, at most \
                 {MAX_REFERENCE_CHARS} characters."
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_calendar_dates_pass_and_impossible_or_loose_ones_fail() {
        for ok in ["2026-01-31", "2024-02-29", "2000-02-29", "1999-12-31"] {
            assert!(is_date(ok), "{ok}");
        }
        for bad in [
            "2026-13-45",
            "2026-02-29",
            "1900-02-29",
            "2026-04-31",
            "2026-00-10",
            "2026-01-00",
            "2026-1-5",
            "26-01-05",
            "2026/01/05",
            "yesterday",
            "",
            "2026-01-05 ",
            "+202-01-05",
        ] {
            assert!(!is_date(bad), "{bad:?}");
        }
    }

    #[test]
    fn rfc3339_timestamps_pass_and_other_time_text_fails() {
        for ok in [
            "2026-03-01T09:30:00Z",
            "2026-03-01T09:30:00.123456Z",
            "2026-03-01t09:30:00z",
            "2026-03-01T09:30:00+03:00",
            "2026-03-01T09:30:00.5-05:30",
            "2016-12-31T23:59:60Z",
        ] {
            assert!(is_timestamp(ok), "{ok}");
        }
        for bad in [
            "yesterday",
            "2026-03-01",
            "2026-03-01 09:30:00Z",
            "2026-03-01T09:30:00",
            "2026-03-01T24:00:00Z",
            "2026-03-01T09:60:00Z",
            "2026-02-30T09:30:00Z",
            "2026-03-01T09:30:00.Z",
            "2026-03-01T09:30:00+0300",
            "2026-03-01T09:30:00+24:00",
            "2026-03-01T09:30:00ZZ",
            "2026-03-01T09:30:00Zé",
        ] {
            assert!(!is_timestamp(bad), "{bad:?}");
        }
    }

    fn client_named(name: &str) -> ClientRecord {
        ClientRecord {
            id: uuid::Uuid::nil(),
            full_name: name.into(),
            date_of_birth: Some("1990-05-17".into()),
            contact: Some("+254700000000".into()),
            created_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_client_name_must_be_present_short_and_free_of_hidden_characters() {
        assert!(client(&client_named("Wanjiku Synthetic")).is_ok());
        assert!(client(&client_named(&"é".repeat(MAX_NAME_CHARS))).is_ok());
        for bad in [
            String::new(),
            "   ".into(),
            "a".repeat(MAX_NAME_CHARS + 1),
            "Wanjiku\0Synthetic".into(),
            "Wanjiku\nSynthetic".into(),
            "Wanjiku \u{202E}citehtnyS".into(),
            "Wanjiku \u{2066}Synthetic\u{2069}".into(),
        ] {
            let e = client(&client_named(&bad)).unwrap_err();
            assert_eq!(e.field, "full_name");
            assert!(!bad.trim().is_empty() || e.reason.contains("empty"));
        }
    }

    #[test]
    fn a_reason_never_repeats_the_value_that_failed() {
        let e = client(&client_named("Wanjiku\u{202E}Synthetic")).unwrap_err();
        assert!(!e.reason.contains("Wanjiku"), "{e}");
        let mut c = client_named("Wanjiku");
        c.date_of_birth = Some("Wanjiku-born".into());
        assert!(!client(&c).unwrap_err().reason.contains("Wanjiku"));
    }

    #[test]
    fn client_dates_and_contact_are_checked() {
        let mut c = client_named("A");
        c.date_of_birth = Some("17/05/1990".into());
        assert_eq!(client(&c).unwrap_err().field, "date_of_birth");
        let mut c = client_named("A");
        c.created_at = "yesterday".into();
        assert_eq!(client(&c).unwrap_err().field, "created_at");
        let mut c = client_named("A");
        c.contact = Some("x".repeat(MAX_CONTACT_CHARS + 1));
        assert_eq!(client(&c).unwrap_err().field, "contact");
    }

    fn note_with(status: NoteStatus, signed_at: Option<&str>) -> SessionNote {
        SessionNote {
            id: uuid::Uuid::nil(),
            client_id: uuid::Uuid::nil(),
            session_date: "2026-03-01".into(),
            body: "synthetic".into(),
            status,
            created_at: "2026-03-01T09:30:00Z".into(),
            updated_at: "2026-03-01T09:30:00Z".into(),
            signed_at: signed_at.map(Into::into),
        }
    }

    #[test]
    fn signed_at_is_set_exactly_when_a_note_is_signed() {
        assert!(note(&note_with(NoteStatus::Draft, None)).is_ok());
        assert!(note(&note_with(NoteStatus::Signed, Some("2026-03-01T10:00:00Z"))).is_ok());
        for bad in [
            note_with(NoteStatus::Draft, Some("2026-03-01T10:00:00Z")),
            note_with(NoteStatus::Signed, None),
            note_with(NoteStatus::Signed, Some("later")),
        ] {
            assert_eq!(note(&bad).unwrap_err().field, "signed_at");
        }
        let mut n = note_with(NoteStatus::Draft, None);
        n.session_date = "2026-13-45".into();
        assert_eq!(record(&Record::Note(n)).unwrap_err().field, "session_date");
    }

    #[test]
    fn implausible_dates_of_birth_and_session_dates_are_refused_on_a_new_write() {
        let today = "2026-12-04";
        let with_dob = |dob: &str| {
            let mut c = client_named("A");
            c.date_of_birth = Some(dob.into());
            Record::Client(c)
        };
        for ok in ["1900-01-01", "1990-05-17", "2026-12-04"] {
            assert!(new_record(&with_dob(ok), today).is_ok(), "{ok}");
        }
        for bad in ["2999-01-01", "0000-01-01", "1899-12-31", "2026-12-05"] {
            let e = new_record(&with_dob(bad), today).unwrap_err();
            assert_eq!(e.field, "date_of_birth", "{bad}");
            assert!(e.reason.contains("between 1900-01-01 and today"), "{e}");
            // The structural rules alone still pass it: stored records load.
            assert!(record(&with_dob(bad)).is_ok(), "{bad}");
        }
        let mut no_dob = client_named("A");
        no_dob.date_of_birth = None;
        assert!(new_record(&Record::Client(no_dob), today).is_ok());

        let on = |date: &str| {
            let mut n = note_with(NoteStatus::Draft, None);
            n.session_date = date.into();
            Record::Note(n)
        };
        for ok in ["1900-01-01", "2026-03-01", "2027-12-04"] {
            assert!(new_record(&on(ok), today).is_ok(), "{ok}");
        }
        for bad in ["9999-12-31", "2027-12-05", "1899-12-31", "0000-01-01"] {
            let e = new_record(&on(bad), today).unwrap_err();
            assert_eq!(e.field, "session_date", "{bad}");
        }
        // A leap day today still bounds a year ahead sensibly.
        assert!(new_record(&on("2029-02-28"), "2028-02-29").is_ok());
        assert!(new_record(&on("2029-03-01"), "2028-02-29").is_err());
        // Not a real date: the structural rule answers, as before.
        assert!(new_record(&on("2026-13-45"), today)
            .unwrap_err()
            .reason
            .contains("YYYY-MM-DD"));
    }

    #[test]
    fn a_reference_is_a_short_code_never_a_name() {
        for ok in [
            "CF-2026-014",
            "#4411",
            "TICKET-77",
            "a/b.c:1_x",
            &"7".repeat(40),
        ] {
            assert!(reference("ticket", "ticket", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Wanjiku",
            "Wanjiku Synthetic 2026",
            "consent form 14",
            "CF 2026",
            "CF-2026\n",
            "CF-2026-é1",
            &"7".repeat(41),
        ] {
            let e = reference("consent_reference", "consent reference", bad).unwrap_err();
            assert_eq!(e.field, "consent_reference");
            assert!(e.reason.contains("CF-2026-014"), "{e}");
            assert!(bad.is_empty() || !e.reason.contains(bad), "{e}");
        }
        // Limitation: a word with a digit passes the format; the rule bounds
        // what a reference can hold, it cannot recognise every name.
        assert!(reference("ticket", "ticket", "Wanjiku-1").is_ok());
    }

    #[test]
    fn an_amendment_must_say_something_and_carry_its_time() {
        let good = NoteAmendment {
            id: uuid::Uuid::nil(),
            note_id: uuid::Uuid::nil(),
            client_id: uuid::Uuid::nil(),
            body: "Correction: the session was on Tuesday.\nSynthetic.".into(),
            created_at: "2026-03-02T08:00:00Z".into(),
        };
        assert!(record(&Record::Amendment(good.clone())).is_ok());
        for blank in ["", "  \n\t "] {
            let mut a = good.clone();
            a.body = blank.into();
            assert_eq!(amendment(&a).unwrap_err().field, "body");
        }
        let mut a = good;
        a.created_at = "tomorrow".into();
        assert_eq!(amendment(&a).unwrap_err().field, "created_at");
    }
}
