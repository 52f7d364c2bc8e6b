//! Each role sees its own screens in the real desktop app: a clinic admin
//! enrols 2FA (codes from `oathtool`), sees Schedule, Team and Billing and
//! not one clinical value; a supervisor sees a supervised practitioner's
//! client read-only.
//!
//! Run through `scripts/test.sh`, which provides the display and keyring.

use std::path::PathBuf;

use bench_e2e::api::Api;
use bench_e2e::driver::{click, find, screenshot, sign_in, type_into, wait_text, TauriDriver};
use bench_e2e::server::TestServer;
use bench_e2e::totp;
use bench_protocol::api::{routes, Appointment, AppointmentStatus};
use bench_protocol::{ClientRecord, NoteStatus, Record, SessionNote};

const CLIENT_NAME: &str = "Akinyi Synthetic-Odhiambo";
const CONTACT: &str = "+254 700 555 010";
const DATE_OF_BIRTH: &str = "1988-07-14";
const NOTE_TEXT: &str = "Synthetic session: grief after a move; agreed weekly sessions.";

fn screenshot_dir() -> PathBuf {
    std::env::var_os("BENCH_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let exe = std::env::current_exe().unwrap();
            exe.parent().unwrap().parent().unwrap().join("screenshots")
        })
}

fn assert_no_clinical_value(page: &str, who: &str) {
    for value in [NOTE_TEXT, CONTACT, DATE_OF_BIRTH] {
        assert!(
            !page.contains(value),
            "the {who}'s window holds a clinical value"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs an X display and the Secret Service: run through scripts/test.sh"]
async fn a_clinic_admin_books_and_bills_without_seeing_notes_and_a_supervisor_reads_the_team_read_only(
) {
    let server = TestServer::start_new();
    let mut owner = server.add_account("owner", "Dr Owner Synthetic", "clinic_practitioner", true);
    let mut supervisor = server.add_account("sup", "Dr Supervisor Synthetic", "supervisor", true);
    let mut admin = server.add_account("frontdesk", "Front Desk Synthetic", "clinic_admin", false);
    let shots = screenshot_dir();

    // A practitioner's client with a contact, a date of birth and a signed
    // note, on the server before anyone else signs in.
    let mut owner_api = Api::new(&server);
    let owner_session = owner_api.sign_in(&mut owner).await;
    let client = ClientRecord {
        id: uuid::Uuid::new_v4(),
        full_name: CLIENT_NAME.into(),
        date_of_birth: Some(DATE_OF_BIRTH.into()),
        contact: Some(CONTACT.into()),
        created_at: "2026-03-01T09:00:00Z".into(),
    };
    let note = SessionNote {
        id: uuid::Uuid::new_v4(),
        client_id: client.id,
        session_date: "2026-03-01".into(),
        body: NOTE_TEXT.into(),
        status: NoteStatus::Signed,
        created_at: "2026-03-01T10:00:00Z".into(),
        updated_at: "2026-03-01T10:00:00Z".into(),
        signed_at: Some("2026-03-01T10:30:00Z".into()),
    };
    let pushed = owner_api
        .push_new(vec![Record::Client(client.clone()), Record::Note(note)])
        .await;
    assert_eq!(pushed.results.len(), 2);

    let mut sup_api = Api::new(&server);
    let sup_session = sup_api.sign_in(&mut supervisor).await;

    // The clinic admin's first sign-in: 2FA is set up before any screen.
    let admin_data = tempfile::tempdir().unwrap();
    let driver = TauriDriver::for_server(&server, admin_data.path());
    let app = driver.launch_app().await;
    type_into(&app, "#username", &admin.username).await;
    type_into(&app, "#password", &admin.password).await;
    click(&app, "#sign-in").await;
    let uri = find(&app, "#otpauth-uri").await.text().await.unwrap();
    let secret = totp::secret_from_output(&uri);
    let code = admin.codes.fresh_code(&secret);
    type_into(&app, "#totp-code", &code).await;
    click(&app, "#submit-code").await;

    // Schedule, Team and Billing; no client list, no note screen.
    find(&app, "#nav-schedule").await;
    find(&app, "#nav-team").await;
    find(&app, "#nav-billing").await;
    let page = app.source().await.unwrap();
    for practitioner_only in ["client-search", "add-client", "new-note"] {
        assert!(
            !page.contains(practitioner_only),
            "the admin has no {practitioner_only}"
        );
    }

    click(&app, "#nav-team").await;
    wait_text(&app, ".team-table", "the team", |t| {
        t.contains("Dr Owner Synthetic") && t.contains("Front Desk Synthetic")
    })
    .await;
    // The devices that signed in, the practitioner's among them.
    wait_text(&app, ".device-list", "the devices", |t| {
        t.contains("owner") && t.contains("frontdesk")
    })
    .await;
    // The admin assigns the supervisor to the practitioner.
    click(
        &app,
        &format!(
            "#supervision-supervisor option[value='{}']",
            sup_session.practitioner.id
        ),
    )
    .await;
    click(
        &app,
        &format!(
            "#supervision-practitioner option[value='{}']",
            owner_session.practitioner.id
        ),
    )
    .await;
    click(&app, "#assign-supervisor").await;
    wait_text(&app, ".supervision-list", "the assignment", |t| {
        t.contains("Dr Supervisor Synthetic supervises Dr Owner Synthetic")
    })
    .await;
    screenshot(&shots, "admin-team.png").await;

    // Book an appointment for the practitioner's client, by name.
    click(&app, "#nav-schedule").await;
    click(&app, "#new-appointment").await;
    click(
        &app,
        &format!("#appointment-client option[value='{}']", client.id),
    )
    .await;
    click(&app, "#save-appointment").await;
    wait_text(&app, ".appointment-row", "the booked appointment", |t| {
        t.contains(CLIENT_NAME) && t.contains("Dr Owner Synthetic") && t.contains("50 min")
    })
    .await;
    click(&app, ".appointment-row option[value='attended']").await;
    let mut attended = false;
    for _ in 0..40 {
        let seen: Vec<Appointment> = owner_api.get_json(routes::SCHEDULE).await;
        if seen.len() == 1 && seen[0].status == AppointmentStatus::Attended {
            attended = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(
        attended,
        "the practitioner sees the appointment marked attended"
    );
    screenshot(&shots, "admin-schedule.png").await;
    assert_no_clinical_value(&app.source().await.unwrap(), "clinic admin");

    // Bill it, then mark it paid.
    click(&app, "#nav-billing").await;
    click(&app, "#new-invoice").await;
    click(
        &app,
        &format!("#invoice-client option[value='{}']", client.id),
    )
    .await;
    type_into(&app, "#invoice-amount", "2,500").await;
    click(&app, "#save-invoice").await;
    wait_text(&app, ".invoice-row", "the invoice", |t| {
        t.contains(CLIENT_NAME) && t.contains("KES 2,500.00") && t.contains("Issued")
    })
    .await;
    click(&app, ".invoice-row .mark-paid").await;
    wait_text(&app, ".invoice-row .invoice-status", "Paid", |t| {
        t == "Paid"
    })
    .await;
    assert_no_clinical_value(&app.source().await.unwrap(), "clinic admin");
    app.close().await.unwrap();
    drop(driver);

    // The supervisor, assigned to the practitioner, reads the client and
    // the note, and can change neither.
    let sup_data = tempfile::tempdir().unwrap();
    let driver = TauriDriver::for_server(&server, sup_data.path());
    let app = driver.launch_app().await;
    sign_in(&app, &mut supervisor).await;
    click(&app, "#sync-now").await;
    wait_text(&app, ".client-row", "the team's client, read-only", |t| {
        t.contains(CLIENT_NAME) && t.contains("Read-only")
    })
    .await;
    assert!(!app.source().await.unwrap().contains("id=\"add-client\""));
    click(&app, ".client-row").await;
    wait_text(&app, ".note-body", "the team's note", |t| t == NOTE_TEXT).await;
    find(&app, ".read-only-badge").await;
    screenshot(&shots, "supervisor-read-only.png").await;
    let page = app.source().await.unwrap();
    for write in ["id=\"new-note\"", "id=\"note-body\"", "class=\"edit-note\""] {
        assert!(!page.contains(write), "the supervisor has no {write}");
    }

    // Co-signing is the supervisor's one act on it; the note is unchanged.
    click(&app, ".cosign-note").await;
    wait_text(&app, ".cosigned", "the co-signature", |t| {
        t.starts_with("Co-signed by you")
    })
    .await;
    let detail = owner_api.client(client.id).await;
    assert_eq!(detail.notes[0].body, NOTE_TEXT);
    let cosigned = server
        .audit_export()
        .iter()
        .filter(|e| e["event"] == "note_cosigned")
        .count();
    assert_eq!(cosigned, 1, "the co-signature is audited");
    app.close().await.unwrap();
}
