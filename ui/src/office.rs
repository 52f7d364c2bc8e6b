//! The clinic admin's screens' state: schedule, team and billing.
//!
//! None of it is clinical: appointments and invoices name a client by name
//! only, and the team list holds accounts. It exists only while a clinic
//! admin is unlocked (see `state::Model::office`) and is dropped on lock
//! like everything else. Pure helpers for dates and shillings live here
//! too, so the reducer tests can reach them without a browser.

use bench_protocol::api::{Appointment, BookableClient, Device, Invoice};
use bench_protocol::desktop::TeamView;
use uuid::Uuid;

/// Which of the admin's screens shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OfficeTab {
    /// The week's appointments.
    #[default]
    Schedule,
    /// Accounts and supervision.
    Team,
    /// Invoices.
    Billing,
}

/// Everything the admin's screens show.
#[derive(Clone, Default, PartialEq)]
pub struct Office {
    /// The screen showing.
    pub tab: OfficeTab,
    /// The Monday (`YYYY-MM-DD`, local) of the week on screen; `None` until
    /// the schedule first asks for this week.
    pub week_start: Option<String>,
    /// That week's appointments, earliest first.
    pub appointments: Vec<Appointment>,
    /// Whom appointments and invoices can be for.
    pub clients: Vec<BookableClient>,
    /// The new-appointment form is open.
    pub booking: bool,
    /// The team, once loaded.
    pub team: Option<TeamView>,
    /// Devices that signed in, once loaded.
    pub devices: Vec<Device>,
    /// The device whose revoke form is open, and the reason typed so far.
    pub revoking: Option<(Uuid, String)>,
    /// Invoices, newest first.
    pub invoices: Vec<Invoice>,
    /// The new-invoice form is open.
    pub invoicing: bool,
}

/// Changes on the admin's screens.
pub enum OfficeAction {
    /// Switch screens.
    Show(OfficeTab),
    /// Show the week starting this Monday (`YYYY-MM-DD`).
    Week(String),
    /// A week's appointments arrived; dropped unless that week still shows.
    ScheduleLoaded {
        /// The Monday they were asked for.
        week_start: String,
        /// The appointments.
        items: Vec<Appointment>,
    },
    /// The bookable clients arrived.
    ClientsLoaded(Vec<BookableClient>),
    /// Open or close the new-appointment form.
    ShowBooking(bool),
    /// An appointment was booked; it shows at once, in time order.
    Booked(Appointment),
    /// An appointment's status changed.
    AppointmentChanged(Appointment),
    /// The team arrived.
    TeamLoaded(TeamView),
    /// The device list arrived (also after a revocation).
    DevicesLoaded(Vec<Device>),
    /// Open the revoke form under a device.
    StartRevoke(Uuid),
    /// The revocation reason changed.
    RevokeReason(String),
    /// Close the revoke form.
    CancelRevoke,
    /// The invoices arrived.
    InvoicesLoaded(Vec<Invoice>),
    /// Open or close the new-invoice form.
    ShowInvoicing(bool),
    /// An invoice was issued.
    InvoiceIssued(Invoice),
    /// An invoice was marked paid or void.
    InvoiceChanged(Invoice),
}

impl Office {
    /// Applies one action.
    pub fn apply(&mut self, action: OfficeAction) {
        match action {
            OfficeAction::Show(tab) => self.tab = tab,
            OfficeAction::Week(monday) => {
                if self.week_start.as_deref() != Some(monday.as_str()) {
                    self.appointments.clear();
                    self.week_start = Some(monday);
                }
            }
            OfficeAction::ScheduleLoaded { week_start, items } => {
                if self.week_start.as_deref() == Some(week_start.as_str()) {
                    self.appointments = items;
                }
            }
            OfficeAction::ClientsLoaded(clients) => self.clients = clients,
            OfficeAction::ShowBooking(open) => self.booking = open,
            OfficeAction::Booked(appointment) => {
                self.booking = false;
                self.appointments.retain(|a| a.id != appointment.id);
                self.appointments.push(appointment);
                // RFC 3339 UTC texts of one form sort as times do.
                self.appointments
                    .sort_by(|a, b| a.starts_at.cmp(&b.starts_at));
            }
            OfficeAction::AppointmentChanged(changed) => {
                if let Some(old) = self.appointments.iter_mut().find(|a| a.id == changed.id) {
                    *old = changed;
                }
            }
            OfficeAction::TeamLoaded(team) => self.team = Some(team),
            OfficeAction::DevicesLoaded(devices) => {
                // A revoked device's form has done its work.
                if let Some((id, _)) = &self.revoking {
                    if devices
                        .iter()
                        .any(|d| d.device_id == *id && d.revoked_at.is_some())
                    {
                        self.revoking = None;
                    }
                }
                self.devices = devices;
            }
            OfficeAction::StartRevoke(id) => {
                if self.revoking.as_ref().map(|r| r.0) != Some(id) {
                    self.revoking = Some((id, String::new()));
                }
            }
            OfficeAction::RevokeReason(reason) => {
                if let Some(revoking) = self.revoking.as_mut() {
                    revoking.1 = reason;
                }
            }
            OfficeAction::CancelRevoke => self.revoking = None,
            OfficeAction::InvoicesLoaded(invoices) => self.invoices = invoices,
            OfficeAction::ShowInvoicing(open) => self.invoicing = open,
            OfficeAction::InvoiceIssued(invoice) => {
                self.invoicing = false;
                self.invoices.retain(|i| i.id != invoice.id);
                self.invoices.insert(0, invoice);
            }
            OfficeAction::InvoiceChanged(changed) => {
                if let Some(old) = self.invoices.iter_mut().find(|i| i.id == changed.id) {
                    *old = changed;
                }
            }
        }
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn parse_ymd(date: &str) -> Option<(i64, i64, i64)> {
    let mut parts = date.split('-');
    let y = parts.next()?.parse().ok()?;
    let m = parts.next()?.parse().ok()?;
    let d = parts.next()?.parse().ok()?;
    (parts.next().is_none() && (1..=12).contains(&m) && (1..=31).contains(&d)).then_some((y, m, d))
}

/// `date` plus `days` (may be negative), both `YYYY-MM-DD`.
pub fn add_days(date: &str, days: i64) -> Option<String> {
    let (y, m, d) = parse_ymd(date)?;
    let (y, m, d) = civil_from_days(days_from_civil(y, m, d) + days);
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

/// The Monday on or before `date`.
pub fn monday_of(date: &str) -> Option<String> {
    let (y, m, d) = parse_ymd(date)?;
    let days = days_from_civil(y, m, d);
    // 1970-01-01 was a Thursday: Monday is 3 days before it.
    let since_monday = (days + 3).rem_euclid(7);
    add_days(date, -since_monday)
}

/// Shillings as typed ("1500", "1,500.50", "KES 1500") → cents; `None`
/// for anything else, zero, or more than two decimals.
pub fn parse_kes(typed: &str) -> Option<i64> {
    let t = typed.trim();
    let t = t
        .strip_prefix("KES")
        .or_else(|| t.strip_prefix("Ksh"))
        .unwrap_or(t)
        .trim()
        .replace(',', "");
    let (whole, cents) = match t.split_once('.') {
        Some((w, c)) if (1..=2).contains(&c.len()) => (w, format!("{c:0<2}")),
        Some(_) => return None,
        None => (t.as_str(), "00".to_owned()),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !cents.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount = whole.parse::<i64>().ok()?.checked_mul(100)? + cents.parse::<i64>().ok()?;
    (amount > 0).then_some(amount)
}

/// Cents → "KES 1,500.00".
pub fn format_kes(cents: i64) -> String {
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("KES {grouped}.{:02}", cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bench_protocol::api::AppointmentStatus;
    use uuid::Uuid;

    fn appointment(id: u128, starts_at: &str) -> Appointment {
        Appointment {
            id: Uuid::from_u128(id),
            client_id: Uuid::nil(),
            client_name: "Synthetic Client".into(),
            practitioner_id: Uuid::nil(),
            practitioner_name: "Dr Synthetic".into(),
            starts_at: starts_at.into(),
            duration_minutes: 50,
            status: AppointmentStatus::Booked,
        }
    }

    fn unlocked(role: bench_protocol::api::Role) -> bench_protocol::desktop::AppState {
        bench_protocol::desktop::AppState::Unlocked {
            practitioner: bench_protocol::api::Practitioner {
                id: Uuid::nil(),
                username: "synthetic".into(),
                display_name: "Synthetic".into(),
                role,
            },
        }
    }

    #[test]
    fn a_clinic_admin_gets_the_office_and_no_clinical_screen_and_loses_it_on_lock() {
        use crate::state::{Action, Model, ShellAction};
        use bench_protocol::api::Role;
        use std::rc::Rc;
        use yew::Reducible;

        let admin = Rc::new(Model::default()).reduce(Action::Shell(ShellAction::AppState(
            unlocked(Role::ClinicAdmin),
        )));
        assert!(admin.clinical.is_none());
        assert_eq!(
            admin.office.as_ref().map(|o| o.tab),
            Some(OfficeTab::Schedule)
        );
        let admin = admin.reduce(Action::Office(OfficeAction::Show(OfficeTab::Billing)));
        assert_eq!(
            admin.office.as_ref().map(|o| o.tab),
            Some(OfficeTab::Billing)
        );

        let locked = admin.reduce(Action::Shell(ShellAction::AppState(
            bench_protocol::desktop::AppState::Locked {
                username: "synthetic".into(),
            },
        )));
        assert!(locked.office.is_none() && locked.clinical.is_none());

        for role in [
            Role::SoloPractitioner,
            Role::ClinicPractitioner,
            Role::Supervisor,
        ] {
            let model = Rc::new(Model::default())
                .reduce(Action::Shell(ShellAction::AppState(unlocked(role))));
            assert!(model.clinical.is_some(), "{role:?} sees their clients");
            assert!(model.office.is_none(), "{role:?} has no office");
            // An office action without an office changes nothing.
            let model = model.reduce(Action::Office(OfficeAction::ShowBooking(true)));
            assert!(model.office.is_none());
        }
    }

    #[test]
    fn a_read_only_client_opens_no_editor_amendment_or_merge() {
        use crate::state::{
            open_client_is_read_only, Action, ClientAction, Clinical, Model, ShellAction,
        };
        use bench_protocol::api::Role;
        use bench_protocol::desktop::ClientView;
        use std::rc::Rc;
        use yew::Reducible;

        let view = ClientView {
            client: bench_protocol::ClientRecord {
                id: Uuid::nil(),
                full_name: "Synthetic Team Client".into(),
                date_of_birth: None,
                contact: None,
                created_at: "2026-01-01T00:00:00Z".into(),
            },
            notes: vec![],
            read_only: true,
        };
        let model = Rc::new(Model::default())
            .reduce(Action::Shell(ShellAction::AppState(unlocked(
                Role::Supervisor,
            ))))
            .reduce(Action::Client(ClientAction::Opened {
                view,
                today: "2026-03-02".into(),
            }));
        assert!(open_client_is_read_only(&model));
        let model = model
            .reduce(Action::Client(ClientAction::EditorBody("typed".into())))
            .reduce(Action::Client(ClientAction::StartAmendment(Uuid::nil())))
            .reduce(Action::Client(ClientAction::NewNote {
                today: "2026-03-03".into(),
            }));
        let Some(Clinical::Client(screen)) = model.clinical.as_ref() else {
            panic!("client open");
        };
        assert!(screen.amending.is_none());
        assert_eq!(
            screen.editor.session_date, "2026-03-02",
            "no new note started"
        );
    }

    fn device(id: u128, revoked: bool) -> Device {
        Device {
            device_id: Uuid::from_u128(id),
            account_id: Uuid::nil(),
            username: "synthetic".into(),
            device_name: "synthetic laptop".into(),
            first_seen: "2026-03-01T09:00:00Z".into(),
            last_seen: "2026-03-02T09:00:00Z".into(),
            revoked_at: revoked.then(|| "2026-03-03T09:00:00Z".into()),
            revoked_by: None,
            reason: revoked.then(|| "laptop stolen".into()),
        }
    }

    #[test]
    fn the_revoke_form_keeps_its_reason_and_closes_once_that_device_is_revoked() {
        let mut office = Office::default();
        office.apply(OfficeAction::DevicesLoaded(vec![
            device(1, false),
            device(2, false),
        ]));
        office.apply(OfficeAction::StartRevoke(Uuid::from_u128(1)));
        office.apply(OfficeAction::RevokeReason("laptop stolen".into()));
        // A second click on the same device keeps what was typed.
        office.apply(OfficeAction::StartRevoke(Uuid::from_u128(1)));
        assert_eq!(
            office.revoking,
            Some((Uuid::from_u128(1), "laptop stolen".into()))
        );
        // Another device's revocation leaves the form open.
        office.apply(OfficeAction::DevicesLoaded(vec![
            device(1, false),
            device(2, true),
        ]));
        assert!(office.revoking.is_some());
        office.apply(OfficeAction::DevicesLoaded(vec![
            device(1, true),
            device(2, true),
        ]));
        assert!(office.revoking.is_none());
    }

    #[test]
    fn weeks_start_on_monday_and_cross_months_and_years() {
        assert_eq!(monday_of("2026-03-04").as_deref(), Some("2026-03-02"));
        assert_eq!(monday_of("2026-03-02").as_deref(), Some("2026-03-02"));
        assert_eq!(monday_of("2026-03-08").as_deref(), Some("2026-03-02"));
        assert_eq!(monday_of("2027-01-01").as_deref(), Some("2026-12-28"));
        assert_eq!(add_days("2026-02-23", 7).as_deref(), Some("2026-03-02"));
        assert_eq!(add_days("2028-02-28", 1).as_deref(), Some("2028-02-29"));
        assert_eq!(add_days("2026-03-02", -7).as_deref(), Some("2026-02-23"));
        assert!(monday_of("next week").is_none());
    }

    #[test]
    fn shillings_parse_as_typed_and_read_back_grouped() {
        assert_eq!(parse_kes("1500"), Some(150_000));
        assert_eq!(parse_kes("KES 1,500.5"), Some(150_050));
        assert_eq!(parse_kes(" 2500.75 "), Some(250_075));
        for bad in ["", "0", "-5", "12.345", "1.2.3", "abc", "KES"] {
            assert_eq!(parse_kes(bad), None, "{bad}");
        }
        assert_eq!(format_kes(150_000), "KES 1,500.00");
        assert_eq!(format_kes(100_000_000_050), "KES 1,000,000,000.50");
        assert_eq!(format_kes(5), "KES 0.05");
    }

    #[test]
    fn a_late_answer_for_another_week_is_dropped_and_a_booking_lands_in_time_order() {
        let mut office = Office::default();
        office.apply(OfficeAction::Week("2026-03-02".into()));
        office.apply(OfficeAction::ScheduleLoaded {
            week_start: "2026-02-23".into(),
            items: vec![appointment(9, "2026-02-24T09:00:00Z")],
        });
        assert!(office.appointments.is_empty(), "an answer for the old week");
        office.apply(OfficeAction::ScheduleLoaded {
            week_start: "2026-03-02".into(),
            items: vec![appointment(1, "2026-03-03T09:00:00Z")],
        });
        office.apply(OfficeAction::ShowBooking(true));
        office.apply(OfficeAction::Booked(appointment(2, "2026-03-02T07:00:00Z")));
        assert!(!office.booking, "the form closes");
        let ids: Vec<u128> = office.appointments.iter().map(|a| a.id.as_u128()).collect();
        assert_eq!(ids, [2, 1]);

        let mut changed = appointment(1, "2026-03-03T09:00:00Z");
        changed.status = AppointmentStatus::NoShow;
        office.apply(OfficeAction::AppointmentChanged(changed));
        assert_eq!(office.appointments[1].status, AppointmentStatus::NoShow);
    }
}
