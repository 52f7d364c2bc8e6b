//! Roles, enforced by the server: every API route × every role × a record
//! that is the caller's own, another practitioner's, shared with the caller,
//! or their supervised team's, each with an expected allow or deny; the
//! matrix must name every route the router serves. Also: no clinical value
//! reaches a clinic admin or operations account, operations grants, revoking
//! shares and supervision, and mandatory 2FA.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use bench_protocol::api::{
    routes, ApiError, Appointment, AppointmentStatus, AppointmentStatusChange, BookableClient,
    Change, ChangeOutcome, ErrorCode, Invoice, InvoiceStatus, InvoiceStatusChange, LoginResponse,
    NewAppointment, NewInvoice, NewShare, NewSupervision, NewSupportGrant, PullResponse,
    PushRequest, PushResponse, Role, Share, Supervision, SupportGrant, TotpRequest,
};
use bench_protocol::{ClientRecord, NoteAmendment, NoteStatus, Record, SessionNote};
use common::*;
use uuid::Uuid;

/// Relations of the target record to the caller, in matrix column order.
const RELATIONS: [&str; 4] = ["own", "other", "shared", "team"];

/// Route (method, path) → per role in `Role::ALL` order (solo, clinic,
/// supervisor, admin, operations), one letter per relation (own, other,
/// shared, team): A = allowed, D = denied. Public and record-independent
/// routes have the same letter in every column.
#[rustfmt::skip]
const MATRIX: &[(&str, &str, [&str; 5])] = &[
    ("GET",      routes::HEALTH,             ["AAAA", "AAAA", "AAAA", "AAAA", "AAAA"]),
    ("POST",     routes::LOGIN,              ["AAAA", "AAAA", "AAAA", "AAAA", "AAAA"]),
    ("POST",     routes::TOTP,               ["AAAA", "AAAA", "AAAA", "AAAA", "AAAA"]),
    ("POST",     routes::ENROL,              ["AAAA", "AAAA", "AAAA", "AAAA", "AAAA"]),
    ("GET",      routes::ME,                 ["AAAA", "AAAA", "AAAA", "AAAA", "AAAA"]),
    // The list shows the record only when it is the caller's.
    ("GET",      routes::CLIENTS,            ["ADDD", "ADDD", "ADDD", "DDDD", "DDDD"]),
    ("GET",      routes::CLIENT,             ["ADDD", "ADAD", "ADDA", "DDDD", "DDDD"]),
    ("POST",     routes::SYNC_PUSH,          ["ADDD", "ADDD", "ADDD", "DDDD", "DDDD"]),
    // A pull carries shared and supervised records too (the device caches them).
    ("GET",      routes::SYNC_PULL,          ["ADDD", "ADAD", "ADDA", "DDDD", "DDDD"]),
    ("POST",     routes::AUDIT_UPLOAD,       ["AAAA", "AAAA", "AAAA", "AAAA", "AAAA"]),
    ("GET|POST", routes::SHARES,             ["ADDD", "ADDD", "ADDD", "DDDD", "DDDD"]),
    ("POST",     routes::SHARE_REVOKE,       ["ADDD", "ADDD", "ADDD", "DDDD", "DDDD"]),
    ("GET",      routes::TEAM,               ["DDDD", "DDDD", "DDDD", "AAAA", "DDDD"]),
    ("GET|POST", routes::SUPERVISION,        ["DDDD", "DDDD", "DDDD", "AAAA", "DDDD"]),
    ("POST",     routes::SUPERVISION_REVOKE, ["DDDD", "DDDD", "DDDD", "AAAA", "DDDD"]),
    ("POST",     routes::SUPPORT_GRANTS,     ["ADDD", "ADDD", "ADDD", "DDDD", "DDDD"]),
    // Co-signing is supervision, not authorship: not even one's own notes.
    ("POST",     routes::NOTE_COSIGN,        ["DDDD", "DDDD", "DDDA", "DDDD", "DDDD"]),
    // Scheduling and billing: a practitioner their own clients' only, the
    // clinic admin every client of the clinic (the admin owns none, so its
    // "own" column names a client that does not exist), operations nothing.
    ("GET|POST", routes::SCHEDULE,           ["ADDD", "ADDD", "ADDD", "DAAA", "DDDD"]),
    ("GET",      routes::SCHEDULE_CLIENTS,   ["ADDD", "ADDD", "ADDD", "DAAA", "DDDD"]),
    ("POST",     routes::APPOINTMENT_STATUS, ["ADDD", "ADDD", "ADDD", "DAAA", "DDDD"]),
    ("GET|POST", routes::INVOICES,           ["ADDD", "ADDD", "ADDD", "DAAA", "DDDD"]),
    ("POST",     routes::INVOICE_STATUS,     ["ADDD", "ADDD", "ADDD", "DAAA", "DDDD"]),
    // Devices: a practitioner lists their own; the clinic admin lists and
    // revokes anyone's (the probe revokes a bystander's device, which a
    // practitioner may not: their own other devices are in devices.rs).
    ("GET",      routes::DEVICES,            ["AAAA", "AAAA", "AAAA", "AAAA", "DDDD"]),
    ("POST",     routes::DEVICE_REVOKE,      ["DDDD", "DDDD", "DDDD", "AAAA", "DDDD"]),
    // The owner moves their own client; the clinic admin moves anyone's
    // (owning none itself). Each allowed probe is moved back at once.
    ("POST",     routes::CLIENT_TRANSFER,    ["ADDD", "ADDD", "ADDD", "DAAA", "DDDD"]),
    // Last: it ends the caller's session.
    ("POST",     routes::LOGOUT,             ["AAAA", "AAAA", "AAAA", "AAAA", "AAAA"]),
];

#[test]
fn the_matrix_names_every_route_the_router_serves() {
    let served: BTreeSet<(&str, &str)> = bench_server::http::route_list().into_iter().collect();
    let matrix: BTreeSet<(&str, &str)> = MATRIX.iter().map(|(m, p, _)| (*m, *p)).collect();
    assert_eq!(
        served, matrix,
        "every route needs a row in the role matrix (and every row a route)"
    );
}

/// A raw answer: status and body bytes.
type Raw = (u16, Vec<u8>);

async fn raw(api: &Api, method: &str, path: &str, body: Option<serde_json::Value>) -> Raw {
    let method: reqwest::Method = method.parse().unwrap();
    let mut r = api.http.request(method, format!("{}{path}", api.server));
    if let Some(t) = &api.token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let res = r.send().await.unwrap();
    (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
}

fn json<T: serde::de::DeserializeOwned>(r: &Raw) -> T {
    serde_json::from_slice(&r.1).unwrap()
}

fn client(id: Uuid, name: &str) -> Record {
    Record::Client(ClientRecord {
        id,
        full_name: name.into(),
        date_of_birth: None,
        contact: Some(format!("{name} contact")),
        created_at: "2026-01-01T00:00:00Z".into(),
    })
}

fn change(base_version: Option<i64>, record: Record) -> Change {
    Change {
        change_id: Uuid::new_v4(),
        base_version,
        record,
    }
}

struct Person {
    api: Api,
    id: Uuid,
    /// Their client, if they own one: (id, name).
    own: Option<(Uuid, String)>,
    /// That client's signed note.
    note: Option<Uuid>,
    /// An appointment and an invoice for that client, made by the clinic
    /// admin.
    appointment: Option<Uuid>,
    invoice: Option<Uuid>,
}

/// Every value seeded, to scan responses for: `0` the clinical ones (note
/// text, contact details), `1` the clients' names, which scheduling and
/// billing show the clinic admin as identity.
#[derive(Default)]
struct Seeded(Vec<String>, Vec<String>);

async fn person(dir: &DataDir, server: &Server, username: &str, role: Role) -> Person {
    let (password, secret) = dir.add_user_as(username, role.as_str(), true);
    let mut api = server.client();
    let session = api.sign_in(username, &password, &secret.unwrap()).await;
    Person {
        api,
        id: session.practitioner.id,
        own: None,
        note: None,
        appointment: None,
        invoice: None,
    }
}

/// Gives `p` a client with one note, both carrying unique clinical values.
async fn seed_client(p: &mut Person, seeded: &mut Seeded) {
    let id = Uuid::new_v4();
    let name = format!("Synthetic Client {}", Uuid::new_v4().simple());
    let body = format!("synthetic clinical note {}", Uuid::new_v4().simple());
    let note_id = Uuid::new_v4();
    let note = Record::Note(SessionNote {
        id: note_id,
        client_id: id,
        session_date: "2026-01-02".into(),
        body: body.clone(),
        status: NoteStatus::Signed,
        created_at: "2026-01-02T09:00:00Z".into(),
        updated_at: "2026-01-02T09:00:00Z".into(),
        signed_at: Some("2026-01-02T10:00:00Z".into()),
    });
    let res: PushResponse = p
        .api
        .post(
            routes::SYNC_PUSH,
            &PushRequest {
                changes: vec![change(None, client(id, &name)), change(None, note)],
                audit: vec![],
            },
        )
        .await
        .unwrap();
    assert!(res
        .results
        .iter()
        .all(|r| matches!(r.outcome, ChangeOutcome::Applied { .. })));
    seeded.1.push(name.clone());
    seeded.0.push(format!("{name} contact"));
    seeded.0.push(body);
    p.own = Some((id, name));
    p.note = Some(note_id);
}

struct World {
    solo: Person,
    clinic: Person,
    supervisor: Person,
    admin: Person,
    ops: Person,
    /// The owner of the record shared with `clinic`.
    colleague: Person,
    /// The practitioner `supervisor` supervises.
    supervisee: Person,
    /// A practitioner with no relation to anyone.
    stranger: Person,
    shared_share: Share,
    team_assignment: Supervision,
    seeded: Seeded,
    /// A practitioner who receives transferred clients (and hands them back).
    receiver: Person,
    /// A device of a practitioner nobody else probes, for revocation.
    spare_device: Uuid,
}

impl World {
    async fn build(dir: &DataDir, server: &Server) -> World {
        let mut seeded = Seeded::default();
        let mut solo = person(dir, server, "solo", Role::SoloPractitioner).await;
        let mut clinic = person(dir, server, "clinic", Role::ClinicPractitioner).await;
        let mut supervisor = person(dir, server, "supervisor", Role::Supervisor).await;
        let admin = person(dir, server, "admin", Role::ClinicAdmin).await;
        let ops = person(dir, server, "ops", Role::Operations).await;
        let mut colleague = person(dir, server, "colleague", Role::ClinicPractitioner).await;
        let mut supervisee = person(dir, server, "supervisee", Role::ClinicPractitioner).await;
        let mut stranger = person(dir, server, "stranger", Role::SoloPractitioner).await;
        for p in [
            &mut solo,
            &mut clinic,
            &mut supervisor,
            &mut colleague,
            &mut supervisee,
            &mut stranger,
        ] {
            seed_client(p, &mut seeded).await;
        }
        let shared_share: Share = colleague
            .api
            .post(
                routes::SHARES,
                &NewShare {
                    client_id: colleague.own.as_ref().unwrap().0,
                    grantee_id: clinic.id,
                    consent_reference: "CF-0001".into(),
                },
            )
            .await
            .unwrap();
        for p in [
            &mut solo,
            &mut clinic,
            &mut supervisor,
            &mut colleague,
            &mut supervisee,
            &mut stranger,
        ] {
            let client_id = p.own.as_ref().unwrap().0;
            let a: Appointment = admin
                .api
                .post(
                    routes::SCHEDULE,
                    &NewAppointment {
                        client_id,
                        starts_at: format!("{}T09:00:00Z", day_from_today(15)),
                        duration_minutes: 50,
                    },
                )
                .await
                .unwrap();
            let i: Invoice = admin
                .api
                .post(
                    routes::INVOICES,
                    &NewInvoice {
                        client_id,
                        appointment_id: Some(a.id),
                        amount_cents: 150_000,
                    },
                )
                .await
                .unwrap();
            p.appointment = Some(a.id);
            p.invoice = Some(i.id);
        }
        let team_assignment: Supervision = admin
            .api
            .post(
                routes::SUPERVISION,
                &NewSupervision {
                    supervisor_id: supervisor.id,
                    practitioner_id: supervisee.id,
                },
            )
            .await
            .unwrap();
        let receiver = person(dir, server, "receiver", Role::ClinicPractitioner).await;
        let spare = person(dir, server, "spare", Role::ClinicPractitioner).await;
        let devices: Vec<bench_protocol::api::Device> =
            admin.api.get(routes::DEVICES).await.unwrap();
        let spare_device = devices
            .iter()
            .find(|d| d.account_id == spare.id)
            .expect("the spare's sign-in recorded its device")
            .device_id;
        World {
            solo,
            clinic,
            supervisor,
            admin,
            ops,
            colleague,
            supervisee,
            stranger,
            shared_share,
            team_assignment,
            seeded,
            receiver,
            spare_device,
        }
    }

    fn target(&self, caller: &Person, relation: &str) -> Uuid {
        match relation {
            "own" => caller
                .own
                .as_ref()
                .map(|o| o.0)
                .unwrap_or_else(Uuid::new_v4),
            "other" => self.stranger.own.as_ref().unwrap().0,
            "shared" => self.colleague.own.as_ref().unwrap().0,
            "team" => self.supervisee.own.as_ref().unwrap().0,
            _ => unreachable!(),
        }
    }
}

/// Per-role state a probe leaves for a later one.
#[derive(Default)]
struct Left {
    own_share: Option<Uuid>,
    assignment: Option<Uuid>,
}

/// Runs one probe; returns whether it was allowed, and every body seen.
async fn probe(
    w: &World,
    caller: &Person,
    left: &mut Left,
    route: (&'static str, &'static str),
    relation: &str,
    bodies: &mut Vec<(&'static str, Vec<u8>)>,
) -> bool {
    let api = &caller.api;
    let target = w.target(caller, relation);
    let mut keep = |r: Raw| -> Raw {
        bodies.push((route.1, r.1.clone()));
        r
    };
    // The client's owner among the seeded practitioners, if any.
    let owner = [
        &w.solo,
        &w.clinic,
        &w.supervisor,
        &w.stranger,
        &w.colleague,
        &w.supervisee,
    ]
    .into_iter()
    .find(|p| p.own.as_ref().map(|o| o.0) == Some(target));
    match route {
        ("GET", routes::HEALTH) => keep(raw(api, "GET", routes::HEALTH, None).await).0 == 200,
        ("POST", routes::LOGIN) => {
            let body = serde_json::json!({
                "username": format!("nobody-{}", Uuid::new_v4().simple()),
                "password": "not a password",
                "device_id": Uuid::new_v4(),
                "device_name": "matrix",
            });
            let r = keep(raw(api, "POST", routes::LOGIN, Some(body)).await);
            r.0 == 401
                && json::<bench_protocol::api::ApiError>(&r).code == ErrorCode::BadCredentials
        }
        ("POST", path @ (routes::TOTP | routes::ENROL)) => {
            let body = serde_json::json!({ "challenge": "no-such-challenge", "code": "000000" });
            let r = keep(raw(api, "POST", path, Some(body)).await);
            r.0 == 401
                && json::<bench_protocol::api::ApiError>(&r).code == ErrorCode::ChallengeExpired
        }
        ("GET", routes::ME) => keep(raw(api, "GET", routes::ME, None).await).0 == 200,
        ("GET", routes::CLIENTS) => {
            let r = keep(raw(api, "GET", routes::CLIENTS, None).await);
            r.0 == 200
                && json::<Vec<bench_protocol::api::ClientSummary>>(&r)
                    .iter()
                    .any(|c| c.client.id == target)
        }
        ("GET", routes::CLIENT) => {
            let r = keep(raw(api, "GET", &routes::client(target), None).await);
            assert!([200, 403, 404].contains(&r.0), "unexpected status {}", r.0);
            r.0 == 200
        }
        ("POST", routes::SYNC_PUSH) => {
            let name = caller
                .own
                .as_ref()
                .filter(|o| o.0 == target)
                .map(|o| o.1.clone())
                .unwrap_or_else(|| "Synthetic Overwrite Attempt".into());
            let body = serde_json::to_value(PushRequest {
                changes: vec![change(Some(1), client(target, &name))],
                audit: vec![],
            })
            .unwrap();
            let r = keep(raw(api, "POST", routes::SYNC_PUSH, Some(body)).await);
            let wrote = r.0 == 200
                && matches!(
                    json::<PushResponse>(&r).results[0].outcome,
                    ChangeOutcome::Applied { .. }
                );
            // An amendment to the client's signed note is allowed exactly
            // where writing the record is: reading it is not enough.
            let amendment = Record::Amendment(NoteAmendment {
                id: Uuid::new_v4(),
                note_id: owner.and_then(|p| p.note).unwrap_or_else(Uuid::new_v4),
                client_id: target,
                body: "Synthetic matrix correction".into(),
                created_at: "2026-01-03T10:00:00Z".into(),
            });
            let body = serde_json::to_value(PushRequest {
                changes: vec![change(None, amendment)],
                audit: vec![],
            })
            .unwrap();
            let r = keep(raw(api, "POST", routes::SYNC_PUSH, Some(body)).await);
            let amended = r.0 == 200
                && matches!(
                    json::<PushResponse>(&r).results[0].outcome,
                    ChangeOutcome::Applied { .. }
                );
            assert_eq!(amended, wrote, "amending a {relation} note");
            wrote
        }
        ("GET", routes::SYNC_PULL) => {
            let r = keep(raw(api, "GET", routes::SYNC_PULL, None).await);
            r.0 == 200
                && json::<PullResponse>(&r)
                    .changes
                    .iter()
                    .any(|c| c.record.id() == target)
        }
        ("POST", routes::AUDIT_UPLOAD) => {
            let body = serde_json::json!({ "entries": [{
                "entry_id": Uuid::new_v4(),
                "occurred_at": "2026-01-03T10:00:00Z",
                "kind": "note_edited",
                "record_id": null,
                "change_id": null,
            }]});
            keep(raw(api, "POST", routes::AUDIT_UPLOAD, Some(body)).await).0 == 200
        }
        ("GET|POST", routes::SHARES) => {
            let grantee = if caller.id == w.clinic.id {
                w.colleague.id
            } else {
                w.clinic.id
            };
            let body = serde_json::to_value(NewShare {
                client_id: target,
                grantee_id: grantee,
                consent_reference: "CF-0002".into(),
            })
            .unwrap();
            let created = keep(raw(api, "POST", routes::SHARES, Some(body)).await);
            let listed = keep(raw(api, "GET", routes::SHARES, None).await);
            let practitioner = !matches!(
                caller.id,
                id if id == w.admin.id || id == w.ops.id
            );
            assert_eq!(listed.0 == 200, practitioner, "GET shares: {}", listed.0);
            if created.0 == 200 {
                left.own_share = Some(json::<Share>(&created).id);
            }
            created.0 == 200
        }
        ("POST", routes::SHARE_REVOKE) => {
            let id = match relation {
                "own" => left.own_share.unwrap_or_else(Uuid::new_v4),
                _ => w.shared_share.id,
            };
            keep(raw(api, "POST", &routes::share_revoke(id), None).await).0 == 204
        }
        ("GET", routes::TEAM) => keep(raw(api, "GET", routes::TEAM, None).await).0 == 200,
        ("GET|POST", routes::SUPERVISION) => {
            let body = serde_json::to_value(NewSupervision {
                supervisor_id: w.supervisor.id,
                practitioner_id: w.solo.id,
            })
            .unwrap();
            let created = keep(raw(api, "POST", routes::SUPERVISION, Some(body)).await);
            let listed = keep(raw(api, "GET", routes::SUPERVISION, None).await);
            assert_eq!(created.0 == 200, listed.0 == 200);
            if created.0 == 200 {
                left.assignment = Some(json::<Supervision>(&created).id);
            }
            created.0 == 200
        }
        ("POST", routes::SUPERVISION_REVOKE) => {
            // An admin ends the assignment it just made; anyone else tries
            // to end the real team assignment.
            let id = left.assignment.unwrap_or(w.team_assignment.id);
            keep(raw(api, "POST", &routes::supervision_revoke(id), None).await).0 == 204
        }
        ("POST", routes::SUPPORT_GRANTS) => {
            let body = serde_json::to_value(NewSupportGrant {
                client_id: target,
                operator_id: w.ops.id,
                ticket: "SUP-1".into(),
                consent_reference: "CALL-LOG-7".into(),
                duration_secs: 60,
            })
            .unwrap();
            keep(raw(api, "POST", routes::SUPPORT_GRANTS, Some(body)).await).0 == 200
        }
        ("POST", routes::NOTE_COSIGN) => {
            let note = owner.and_then(|p| p.note).unwrap_or_else(Uuid::new_v4);
            keep(raw(api, "POST", &routes::note_cosign(note), None).await).0 == 200
        }
        ("GET|POST", routes::SCHEDULE) => {
            let body = serde_json::to_value(NewAppointment {
                client_id: target,
                starts_at: format!("{}T12:00:00+03:00", day_from_today(14)),
                duration_minutes: 50,
            })
            .unwrap();
            let booked = keep(raw(api, "POST", routes::SCHEDULE, Some(body)).await);
            let listed = keep(raw(api, "GET", routes::SCHEDULE, None).await);
            let not_ops = caller.id != w.ops.id;
            assert_eq!(listed.0 == 200, not_ops, "GET schedule: {}", listed.0);
            if booked.0 == 200 {
                let a: Appointment = json(&booked);
                assert_eq!(
                    a.starts_at,
                    format!("{}T09:00:00Z", day_from_today(14)),
                    "stored in UTC"
                );
                assert!(json::<Vec<Appointment>>(&listed)
                    .iter()
                    .any(|l| l.id == a.id));
            }
            booked.0 == 200
        }
        ("GET", routes::SCHEDULE_CLIENTS) => {
            let r = keep(raw(api, "GET", routes::SCHEDULE_CLIENTS, None).await);
            r.0 == 200
                && json::<Vec<BookableClient>>(&r)
                    .iter()
                    .any(|c| c.id == target)
        }
        ("POST", routes::APPOINTMENT_STATUS) => {
            let id = owner
                .and_then(|p| p.appointment)
                .unwrap_or_else(Uuid::new_v4);
            let body = serde_json::to_value(AppointmentStatusChange {
                status: AppointmentStatus::NoShow,
            })
            .unwrap();
            let r = keep(raw(api, "POST", &routes::appointment_status(id), Some(body)).await);
            r.0 == 200 && json::<Appointment>(&r).status == AppointmentStatus::NoShow
        }
        ("GET|POST", routes::INVOICES) => {
            let body = serde_json::to_value(NewInvoice {
                client_id: target,
                appointment_id: None,
                amount_cents: 250_000,
            })
            .unwrap();
            let issued = keep(raw(api, "POST", routes::INVOICES, Some(body)).await);
            let listed = keep(raw(api, "GET", routes::INVOICES, None).await);
            let not_ops = caller.id != w.ops.id;
            assert_eq!(listed.0 == 200, not_ops, "GET invoices: {}", listed.0);
            issued.0 == 200
        }
        ("POST", routes::INVOICE_STATUS) => {
            // Each seeded invoice is reached by its own practitioner and the
            // clinic admin only, and each of them probes a different one, so
            // none is found already paid.
            let id = owner.and_then(|p| p.invoice).unwrap_or_else(Uuid::new_v4);
            let body = serde_json::to_value(InvoiceStatusChange {
                status: InvoiceStatus::Paid,
            })
            .unwrap();
            let r = keep(raw(api, "POST", &routes::invoice_status(id), Some(body)).await);
            r.0 == 200 && json::<Invoice>(&r).status == InvoiceStatus::Paid
        }
        ("GET", routes::DEVICES) => {
            let r = keep(raw(api, "GET", routes::DEVICES, None).await);
            if r.0 == 200 && caller.id != w.admin.id {
                assert!(
                    json::<Vec<bench_protocol::api::Device>>(&r)
                        .iter()
                        .all(|d| d.account_id == caller.id),
                    "a practitioner sees only their own devices"
                );
            }
            r.0 == 200
        }
        ("POST", routes::DEVICE_REVOKE) => {
            let body = serde_json::json!({ "reason": "matrix probe" });
            let path = routes::device_revoke(w.spare_device);
            keep(raw(api, "POST", &path, Some(body)).await).0 == 200
        }
        ("POST", routes::CLIENT_TRANSFER) => {
            let body = serde_json::json!({ "to_practitioner_id": w.receiver.id });
            let path = routes::client_transfer(target);
            let r = keep(raw(api, "POST", &path, Some(body)).await);
            if r.0 == 200 {
                // Handed back at once, so later probes find every record
                // with its owner.
                let owner = owner.expect("a transferred client has a seeded owner");
                let back = serde_json::json!({ "to_practitioner_id": owner.id });
                assert_eq!(raw(&w.receiver.api, "POST", &path, Some(back)).await.0, 200);
            }
            r.0 == 200
        }
        ("POST", routes::LOGOUT) => keep(raw(api, "POST", routes::LOGOUT, None).await).0 == 204,
        other => panic!("no probe for {other:?}: add one with its matrix row"),
    }
}

fn record_independent(path: &str) -> bool {
    ![
        routes::CLIENTS,
        routes::CLIENT,
        routes::SYNC_PUSH,
        routes::SYNC_PULL,
        routes::SHARES,
        routes::SHARE_REVOKE,
        routes::SUPPORT_GRANTS,
        routes::NOTE_COSIGN,
        routes::SCHEDULE,
        routes::SCHEDULE_CLIENTS,
        routes::APPOINTMENT_STATUS,
        routes::INVOICES,
        routes::INVOICE_STATUS,
        routes::CLIENT_TRANSFER,
    ]
    .contains(&path)
}

/// A calendar day `days` from today (UTC), `YYYY-MM-DD`: bookings must fall
/// within two years of the server's today, so tests never use fixed dates.
fn day_from_today(days: i64) -> String {
    (time::OffsetDateTime::now_utc().date() + time::Duration::days(days)).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_role_and_record_relation_is_allowed_or_denied_as_the_matrix_says() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let w = World::build(&dir, &server).await;

    let callers = [&w.solo, &w.clinic, &w.supervisor, &w.admin, &w.ops];
    let mut wrong = Vec::new();
    let mut checked = 0;
    let mut bodies_by_role: BTreeMap<usize, Vec<(&str, Vec<u8>)>> = BTreeMap::new();
    for (r, caller) in callers.iter().enumerate() {
        let mut left = Left::default();
        let bodies = bodies_by_role.entry(r).or_default();
        for (method, path, expect) in MATRIX {
            let letters: Vec<char> = expect[r].chars().collect();
            if record_independent(path) {
                assert!(
                    letters.iter().all(|l| *l == letters[0]),
                    "{method} {path} does not depend on the record; its row must be uniform"
                );
            }
            // Relation-independent routes are probed once and the answer
            // holds for all four columns.
            let mut once = None;
            for (c, relation) in RELATIONS.iter().enumerate() {
                let allowed = match once {
                    Some(a) => a,
                    None => {
                        let a =
                            probe(&w, caller, &mut left, (method, path), relation, bodies).await;
                        if record_independent(path) {
                            once = Some(a);
                        }
                        a
                    }
                };
                checked += 1;
                if allowed != (letters[c] == 'A') {
                    wrong.push(format!(
                        "{method} {path} as {} on {relation} record: expected {}, got {}",
                        Role::ALL[r].as_str(),
                        letters[c],
                        if allowed { "allowed" } else { "denied" }
                    ));
                }
            }
        }
    }
    assert_eq!(checked, MATRIX.len() * 5 * 4);
    assert!(
        wrong.is_empty(),
        "role matrix violations:\n{}",
        wrong.join("\n")
    );

    // Not one byte of a clinical field reached the clinic admin or
    // operations, on any route; a client's name reached the clinic admin
    // only on the scheduling and billing routes, and operations never.
    let holds = |body: &[u8], value: &str| body.windows(value.len()).any(|w| w == value.as_bytes());
    let identity_routes = [
        routes::SCHEDULE,
        routes::SCHEDULE_CLIENTS,
        routes::APPOINTMENT_STATUS,
        routes::INVOICES,
        routes::INVOICE_STATUS,
    ];
    for r in [3usize, 4] {
        for (path, body) in &bodies_by_role[&r] {
            for value in &w.seeded.0 {
                assert!(
                    !holds(body, value),
                    "{} received a clinical value on {path}",
                    Role::ALL[r].as_str()
                );
            }
            let names_allowed = r == 3 && identity_routes.contains(path);
            for value in &w.seeded.1 {
                assert!(
                    names_allowed || !holds(body, value),
                    "{} received a client's name on {path}",
                    Role::ALL[r].as_str()
                );
            }
        }
    }
    // The admin did see names where scheduling needs them, so the scan
    // above looked at real answers.
    assert!(bodies_by_role[&3]
        .iter()
        .any(|(p, b)| *p == routes::SCHEDULE && w.seeded.1.iter().any(|n| holds(b, n))));
    // Nor did any reach the server's log.
    let log = server.log();
    for value in w.seeded.0.iter().chain(&w.seeded.1) {
        assert!(
            !log.contains(value.as_str()),
            "the server log holds a clinical value"
        );
    }
    // The probes really did see clinical content where allowed (so the
    // scan above would have caught it).
    let solo_seen = bodies_by_role[&0]
        .iter()
        .any(|(_, b)| String::from_utf8_lossy(b).contains(&w.solo.own.as_ref().unwrap().1));
    assert!(solo_seen);
    let _ = (&w.supervisee, &w.colleague);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operations_grant_needs_a_ticket_and_consent_expires_on_time_and_every_use_is_audited() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let mut seeded = Seeded::default();
    let mut owner = person(&dir, &server, "owner", Role::ClinicPractitioner).await;
    let ops = person(&dir, &server, "ops", Role::Operations).await;
    seed_client(&mut owner, &mut seeded).await;
    let client_id = owner.own.as_ref().unwrap().0;

    // Without a grant: as if the record did not exist.
    assert_eq!(
        raw(&ops.api, "GET", &routes::client(client_id), None)
            .await
            .0,
        404
    );

    let grant = |ticket: &str, consent: &str, secs: u64| NewSupportGrant {
        client_id,
        operator_id: ops.id,
        ticket: ticket.into(),
        consent_reference: consent.into(),
        duration_secs: secs,
    };
    for refused in [grant("", "CF-2026-014", 60), grant("SUP-9", "  ", 60)] {
        let (status, e) = owner
            .api
            .post::<SupportGrant, _>(routes::SUPPORT_GRANTS, &refused)
            .await
            .unwrap_err();
        assert_eq!((status, e.code), (400, ErrorCode::BadRequest));
    }
    // Both land in plain tables and the audit log: codes, never a name.
    for (refused, says) in [
        (grant("Wanjiku Synthclient", "CF-2026-014", 60), "TICKET-77"),
        (
            grant("SUP-9", "consent of Wanjiku Synthclient", 60),
            "CF-2026-014",
        ),
        (grant("SUP-9", "Wanjiku", 60), "CF-2026-014"),
    ] {
        let (status, e) = owner
            .api
            .post::<SupportGrant, _>(routes::SUPPORT_GRANTS, &refused)
            .await
            .unwrap_err();
        assert_eq!((status, e.code), (400, ErrorCode::BadRequest));
        assert!(
            e.message.contains(says) && e.message.contains("not a name"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("Wanjiku"), "{}", e.message);
    }
    assert_eq!(
        raw(&ops.api, "GET", &routes::client(client_id), None)
            .await
            .0,
        404
    );

    let issued = std::time::Instant::now();
    let g: SupportGrant = owner
        .api
        .post(routes::SUPPORT_GRANTS, &grant("SUP-9", "CF-2026-014", 10))
        .await
        .unwrap();
    let r = raw(&ops.api, "GET", &routes::client(client_id), None).await;
    assert_eq!(r.0, 200, "the grant opens the record");
    assert!(issued.elapsed() < std::time::Duration::from_secs(9));
    // Past the ten seconds, with a margin for whole-second clock steps.
    tokio::time::sleep(std::time::Duration::from_secs(12).saturating_sub(issued.elapsed())).await;
    assert_eq!(
        raw(&ops.api, "GET", &routes::client(client_id), None)
            .await
            .0,
        404,
        "the grant expired"
    );

    let db = rusqlite::Connection::open(dir.path.join("audit.db")).unwrap();
    let reads: Vec<(String, String, String)> = db
        .prepare(
            "SELECT role, details, source_ip FROM audit_log WHERE event = 'client_read' AND actor = ?1 ORDER BY seq",
        )
        .unwrap()
        .query_map([ops.id.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        reads.len(),
        4,
        "every attempt by operations is a read entry"
    );
    assert!(reads
        .iter()
        .all(|r| r.0 == "operations" && r.2 == "127.0.0.1"));
    let used: Vec<&(String, String, String)> = reads
        .iter()
        .filter(|r| r.1.contains("support_grant"))
        .collect();
    assert_eq!(used.len(), 1);
    assert!(used[0].1.contains(&g.id.to_string()));
    let ops_requests: i64 = db
        .query_row(
            "SELECT count(*) FROM audit_log WHERE event = 'operations_request' AND actor = ?1",
            [ops.id.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(ops_requests, 4);
    let created: String = db
        .query_row(
            "SELECT details FROM audit_log WHERE event = 'support_grant_created'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(created.contains("SUP-9"));
}

#[tokio::test(flavor = "multi_thread")]
async fn revoking_a_share_or_a_supervision_takes_effect_at_the_next_request() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let w = World::build(&dir, &server).await;
    let shared = w.colleague.own.as_ref().unwrap().0;
    let team = w.supervisee.own.as_ref().unwrap().0;
    assert_eq!(
        raw(&w.clinic.api, "GET", &routes::client(shared), None)
            .await
            .0,
        200
    );
    assert_eq!(
        raw(&w.supervisor.api, "GET", &routes::client(team), None)
            .await
            .0,
        200
    );

    // The supervisor may read the team's records but not write them.
    let body = serde_json::to_value(PushRequest {
        changes: vec![change(Some(1), client(team, "Synthetic Overwrite"))],
        audit: vec![],
    })
    .unwrap();
    let r = raw(&w.supervisor.api, "POST", routes::SYNC_PUSH, Some(body)).await;
    assert!(matches!(
        json::<PushResponse>(&r).results[0].outcome,
        ChangeOutcome::Rejected { .. }
    ));

    // Co-signing records the supervisor's signature; the note is unchanged.
    let team_note = w.supervisee.note.unwrap();
    let r = raw(
        &w.supervisor.api,
        "POST",
        &routes::note_cosign(team_note),
        None,
    )
    .await;
    assert_eq!(r.0, 200);
    let cosig: bench_protocol::api::Cosignature = json(&r);
    assert_eq!(cosig.supervisor_id, w.supervisor.id);

    let r = raw(
        &w.colleague.api,
        "POST",
        &routes::share_revoke(w.shared_share.id),
        None,
    )
    .await;
    assert_eq!(r.0, 204);
    assert_eq!(
        raw(&w.clinic.api, "GET", &routes::client(shared), None)
            .await
            .0,
        404
    );

    let r = raw(
        &w.admin.api,
        "POST",
        &routes::supervision_revoke(w.team_assignment.id),
        None,
    )
    .await;
    assert_eq!(r.0, 204);
    assert_eq!(
        raw(&w.supervisor.api, "GET", &routes::client(team), None)
            .await
            .0,
        404
    );
    let r = raw(
        &w.supervisor.api,
        "POST",
        &routes::note_cosign(team_note),
        None,
    )
    .await;
    assert_eq!(r.0, 404, "no co-signing after the assignment ends");

    let db = rusqlite::Connection::open(dir.path.join("audit.db")).unwrap();
    // Through the API, that is: `init --demo` assigns its demo supervisor
    // from the command line (an entry with no actor).
    for event in [
        "share_created",
        "share_revoked",
        "supervision_assigned",
        "supervision_revoked",
        "note_cosigned",
    ] {
        let n: i64 = db
            .query_row(
                "SELECT count(*) FROM audit_log WHERE event = ?1 AND actor IS NOT NULL",
                [event],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "{event}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_supervision_or_share_twice_is_refused_and_revoking_ends_all_access() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let w = World::build(&dir, &server).await;
    let team = w.supervisee.own.as_ref().unwrap().0;
    let shared = w.colleague.own.as_ref().unwrap().0;
    let (_, _, sup_cursor) = pull_all(&w.supervisor.api, 0).await;
    let (_, _, clinic_cursor) = pull_all(&w.clinic.api, 0).await;

    let (status, e) = w
        .admin
        .api
        .post::<Supervision, _>(
            routes::SUPERVISION,
            &NewSupervision {
                supervisor_id: w.supervisor.id,
                practitioner_id: w.supervisee.id,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(status, 400);
    assert!(e.message.contains("already assigned"), "{}", e.message);
    let (status, e) = w
        .colleague
        .api
        .post::<Share, _>(
            routes::SHARES,
            &NewShare {
                client_id: shared,
                grantee_id: w.clinic.id,
                consent_reference: "CF-0009".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(status, 400);
    assert!(e.message.contains("already shared"), "{}", e.message);
    let live: Vec<Supervision> = w.admin.api.get(routes::SUPERVISION).await.unwrap();
    let pair = |s: &&Supervision| {
        s.supervisor_id == w.supervisor.id
            && s.practitioner_id == w.supervisee.id
            && s.revoked_at.is_none()
    };
    assert_eq!(live.iter().filter(pair).count(), 1);

    // A duplicate pair left in the store by an older server: revoking one
    // row still ends the supervisor's access.
    let db = rusqlite::Connection::open(dir.path.join("bench.db")).unwrap();
    db.execute(
        "INSERT INTO supervision (id, supervisor, practitioner, created_at) VALUES (?1, ?2, ?3, '2026-01-01T00:00:00Z')",
        [Uuid::new_v4().to_string(), w.supervisor.id.to_string(), w.supervisee.id.to_string()],
    )
    .unwrap();
    drop(db);

    let r = raw(
        &w.admin.api,
        "POST",
        &routes::supervision_revoke(w.team_assignment.id),
        None,
    )
    .await;
    assert_eq!(r.0, 204);
    assert_eq!(
        raw(&w.supervisor.api, "GET", &routes::client(team), None)
            .await
            .0,
        404
    );
    let (ids, removed, _) = pull_all(&w.supervisor.api, sup_cursor).await;
    assert!(ids.is_empty());
    assert!(removed.contains(&team), "{removed:?}");

    let r = raw(
        &w.colleague.api,
        "POST",
        &routes::share_revoke(w.shared_share.id),
        None,
    )
    .await;
    assert_eq!(r.0, 204);
    assert_eq!(
        raw(&w.clinic.api, "GET", &routes::client(shared), None)
            .await
            .0,
        404
    );
    let (ids, removed, _) = pull_all(&w.clinic.api, clinic_cursor).await;
    assert!(ids.is_empty());
    assert!(removed.contains(&shared), "{removed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_say_what_the_route_is_and_wrong_accounts_are_bad_requests() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let w = World::build(&dir, &server).await;
    let team = w.supervisee.own.as_ref().unwrap().0;
    let shared = w.colleague.own.as_ref().unwrap().0;

    // A 403 names the route's purpose, not client records everywhere.
    let (status, e) = w
        .clinic
        .api
        .get::<serde_json::Value>(routes::TEAM)
        .await
        .unwrap_err();
    assert_eq!((status, e.code), (403, ErrorCode::Forbidden));
    assert!(e.message.contains("clinic admin"), "{}", e.message);
    let (status, e) = w
        .admin
        .api
        .get::<serde_json::Value>(routes::SYNC_PULL)
        .await
        .unwrap_err();
    assert_eq!(status, 403);
    assert!(e.message.contains("client records"), "{}", e.message);
    let (status, e) = w
        .ops
        .api
        .get::<serde_json::Value>(routes::SCHEDULE)
        .await
        .unwrap_err();
    assert_eq!(status, 403);
    assert!(e.message.contains("scheduling"), "{}", e.message);

    // The wrong kind of account in a request is a bad request, in words.
    let (status, e) = w
        .admin
        .api
        .post::<Supervision, _>(
            routes::SUPERVISION,
            &NewSupervision {
                supervisor_id: w.clinic.id,
                practitioner_id: w.solo.id,
            },
        )
        .await
        .unwrap_err();
    assert_eq!((status, e.code), (400, ErrorCode::BadRequest));
    assert!(e.message.contains("is not a supervisor"), "{}", e.message);
    let (status, e) = w
        .admin
        .api
        .post::<Supervision, _>(
            routes::SUPERVISION,
            &NewSupervision {
                supervisor_id: w.supervisor.id,
                practitioner_id: w.admin.id,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(status, 400);
    assert!(e.message.contains("is not a practitioner"), "{}", e.message);
    let (status, e) = w
        .solo
        .api
        .post::<SupportGrant, _>(
            routes::SUPPORT_GRANTS,
            &NewSupportGrant {
                client_id: w.solo.own.as_ref().unwrap().0,
                operator_id: w.clinic.id,
                ticket: "SUP-3".into(),
                consent_reference: "CALL-LOG-9".into(),
                duration_secs: 60,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(status, 400);
    assert!(
        e.message.contains("not an operations account"),
        "{}",
        e.message
    );

    // A supervisor or share grantee writing to a record they can read is
    // told it is read-only; a stranger's client still reads as unknown.
    let note = |client_id| {
        change(
            None,
            Record::Note(SessionNote {
                id: Uuid::new_v4(),
                client_id,
                session_date: "2026-01-05".into(),
                body: "Synthetic note by a reader".into(),
                status: NoteStatus::Draft,
                created_at: "2026-01-05T09:00:00Z".into(),
                updated_at: "2026-01-05T09:00:00Z".into(),
                signed_at: None,
            }),
        )
    };
    let stranger = w.stranger.own.as_ref().unwrap().0;
    for (api, client_id, read_only) in [
        (&w.supervisor.api, team, true),
        (&w.clinic.api, shared, true),
        (&w.clinic.api, stranger, false),
    ] {
        let res: PushResponse = api
            .post(
                routes::SYNC_PUSH,
                &PushRequest {
                    changes: vec![
                        note(client_id),
                        change(Some(1), client(client_id, "Synthetic Rename")),
                    ],
                    audit: vec![],
                },
            )
            .await
            .unwrap();
        for r in &res.results {
            let ChangeOutcome::Rejected {
                reason: message, ..
            } = &r.outcome
            else {
                panic!("a reader's write was not refused: {:?}", r.outcome);
            };
            assert_eq!(
                message.contains("you can read it but not change it"),
                read_only,
                "{message}"
            );
        }
    }

    // A known route with the wrong method answers with an ApiError too.
    let r = raw(&w.solo.api, "PUT", routes::SYNC_PUSH, None).await;
    assert_eq!(r.0, 405);
    let e: ApiError = json(&r);
    assert!(e.message.contains("method"), "{}", e.message);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_supervisor_or_clinic_admin_gets_no_session_until_they_enrol_2fa() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    for (name, role) in [("sup-new", "supervisor"), ("admin-new", "clinic_admin")] {
        let (password, secret) = dir.add_user_as(name, role, false);
        assert!(secret.is_none());
        let api = server.client();
        let challenge = match api.login(name, &password).await.unwrap() {
            LoginResponse::EnrolmentRequired { challenge, .. } => challenge,
            other => panic!("{role} must enrol first, got {other:?}"),
        };
        // The code step cannot stand in for enrolment.
        let (status, e) = api
            .post::<bench_protocol::api::SessionInfo, _>(
                routes::TOTP,
                &TotpRequest {
                    challenge,
                    code: "123456".into(),
                },
            )
            .await
            .unwrap_err();
        assert_eq!((status, e.code), (401, ErrorCode::ChallengeExpired));
    }
}

/// Pulls every page after `after`; returns (record ids, removed ids, cursor).
async fn pull_all(api: &Api, mut after: i64) -> (Vec<Uuid>, Vec<Uuid>, i64) {
    let (mut ids, mut removed) = (Vec::new(), Vec::new());
    loop {
        let page: PullResponse = api
            .get(&format!("{}?after={after}&limit=1", routes::SYNC_PULL))
            .await
            .unwrap();
        ids.extend(page.changes.iter().map(|c| c.record.id()));
        removed.extend(page.removed);
        after = page.next_cursor;
        if !page.more {
            return (ids, removed, after);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pull_brings_shared_and_team_records_and_marks_them_removed_once_revoked() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let w = World::build(&dir, &server).await;
    let shared_client = w.colleague.own.as_ref().unwrap().0;
    let team_client = w.supervisee.own.as_ref().unwrap().0;
    let stranger_client = w.stranger.own.as_ref().unwrap().0;

    // The share began after the colleague's records were written, yet a
    // pull from the start brings the client and their note.
    let (ids, removed, clinic_cursor) = pull_all(&w.clinic.api, 0).await;
    assert!(ids.contains(&shared_client));
    assert_eq!(ids.len(), 4, "own client and note, shared client and note");
    assert!(removed.is_empty());
    let (ids, _, sup_cursor) = pull_all(&w.supervisor.api, 0).await;
    assert!(ids.contains(&team_client));
    assert!(!ids.contains(&shared_client));

    // A share made after the device's cursor still arrives in the next pull.
    let share: Share = w
        .stranger
        .api
        .post(
            routes::SHARES,
            &NewShare {
                client_id: stranger_client,
                grantee_id: w.clinic.id,
                consent_reference: "CF-0003".into(),
            },
        )
        .await
        .unwrap();
    let (ids, _, clinic_cursor) = pull_all(&w.clinic.api, clinic_cursor).await;
    assert_eq!(ids.len(), 2, "the stranger's client and note");
    assert!(ids.contains(&stranger_client));

    // Revoked: the next pull names the records to delete.
    let r = raw(
        &w.stranger.api,
        "POST",
        &routes::share_revoke(share.id),
        None,
    )
    .await;
    assert_eq!(r.0, 204);
    let (ids, removed, _) = pull_all(&w.clinic.api, clinic_cursor).await;
    assert!(ids.is_empty());
    assert_eq!(removed.len(), 2);
    assert!(removed.contains(&stranger_client));

    let r = raw(
        &w.admin.api,
        "POST",
        &routes::supervision_revoke(w.team_assignment.id),
        None,
    )
    .await;
    assert_eq!(r.0, 204);
    let (ids, removed, _) = pull_all(&w.supervisor.api, sup_cursor).await;
    assert!(ids.is_empty());
    assert!(removed.contains(&team_client) && removed.len() == 2);

    // A solo practitioner's pull is unchanged: own records, nothing removed.
    let (ids, removed, _) = pull_all(&w.solo.api, 0).await;
    assert_eq!(ids.len(), 2);
    assert!(removed.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduling_and_billing_refuse_bad_input_keep_paid_invoices_and_audit_ids_not_names() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let mut seeded = Seeded::default();
    let mut owner = person(&dir, &server, "owner", Role::ClinicPractitioner).await;
    let mut other = person(&dir, &server, "other", Role::ClinicPractitioner).await;
    let admin = person(&dir, &server, "admin", Role::ClinicAdmin).await;
    seed_client(&mut owner, &mut seeded).await;
    seed_client(&mut other, &mut seeded).await;
    let client_id = owner.own.as_ref().unwrap().0;
    let others_client = other.own.as_ref().unwrap().0;

    let book = |starts_at: &str, minutes: u32| NewAppointment {
        client_id,
        starts_at: starts_at.into(),
        duration_minutes: minutes,
    };
    let monday = day_from_today(21);
    let week_after = day_from_today(28);
    for bad in [
        book("next Tuesday", 50),
        book(&format!("{monday}T09:00:00Z"), 0),
    ] {
        let (status, e) = admin
            .api
            .post::<Appointment, _>(routes::SCHEDULE, &bad)
            .await
            .unwrap_err();
        assert_eq!(
            (status, e.code),
            (400, ErrorCode::BadRequest),
            "{}",
            e.message
        );
    }
    let a: Appointment = admin
        .api
        .post(routes::SCHEDULE, &book(&format!("{monday}T09:00:00Z"), 50))
        .await
        .unwrap();
    assert_eq!(
        a.practitioner_id, owner.id,
        "booked with the record's holder"
    );
    assert_eq!(&a.client_name, &owner.own.as_ref().unwrap().1);

    // A week's range holds it; the week after does not.
    let week: Vec<Appointment> = admin
        .api
        .get(&format!(
            "{}?from={monday}T00:00:00Z&to={week_after}T00:00:00Z",
            routes::SCHEDULE
        ))
        .await
        .unwrap();
    assert_eq!(week.len(), 1);
    let later: Vec<Appointment> = admin
        .api
        .get(&format!("{}?from={week_after}T00:00:00Z", routes::SCHEDULE))
        .await
        .unwrap();
    assert!(later.is_empty());
    // The other practitioner sees nothing of it, and cannot mark it.
    let theirs: Vec<Appointment> = other.api.get(routes::SCHEDULE).await.unwrap();
    assert!(theirs.is_empty());
    let (status, _) = other
        .api
        .post::<Appointment, _>(
            &routes::appointment_status(a.id),
            &AppointmentStatusChange {
                status: AppointmentStatus::Cancelled,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(status, 404);

    // An invoice may name only the same client's appointment.
    let (status, e) = admin
        .api
        .post::<Invoice, _>(
            routes::INVOICES,
            &NewInvoice {
                client_id: others_client,
                appointment_id: Some(a.id),
                amount_cents: 100,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        (status, e.code),
        (400, ErrorCode::BadRequest),
        "{}",
        e.message
    );
    let (status, _) = admin
        .api
        .post::<Invoice, _>(
            routes::INVOICES,
            &NewInvoice {
                client_id,
                appointment_id: None,
                amount_cents: 0,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(status, 400);
    let i: Invoice = admin
        .api
        .post(
            routes::INVOICES,
            &NewInvoice {
                client_id,
                appointment_id: Some(a.id),
                amount_cents: 350_000,
            },
        )
        .await
        .unwrap();
    let paid = |status| InvoiceStatusChange { status };
    let i2: Invoice = owner
        .api
        .post(&routes::invoice_status(i.id), &paid(InvoiceStatus::Paid))
        .await
        .unwrap();
    assert_eq!(i2.status, InvoiceStatus::Paid);
    let (status, e) = admin
        .api
        .post::<Invoice, _>(&routes::invoice_status(i.id), &paid(InvoiceStatus::Void))
        .await
        .unwrap_err();
    assert_eq!(
        (status, e.code),
        (403, ErrorCode::Forbidden),
        "{}",
        e.message
    );

    let db = rusqlite::Connection::open(dir.path.join("audit.db")).unwrap();
    for event in [
        "appointment_booked",
        "schedule_read",
        "invoice_issued",
        "invoice_status_changed",
    ] {
        let details: Vec<String> = db
            .prepare("SELECT details FROM audit_log WHERE event = ?1")
            .unwrap()
            .query_map([event], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!details.is_empty(), "{event} is audited");
        for d in details {
            for name in &seeded.1 {
                assert!(!d.contains(name.as_str()), "{event} names a client");
            }
        }
    }
}

/// `days` from today at `hh:mm` UTC, as RFC 3339.
fn days_ahead_at(days: i64, hh_mm: &str) -> String {
    let day = time::OffsetDateTime::now_utc().date() + time::Duration::days(days);
    format!("{day}T{hh_mm}:00Z")
}

#[tokio::test(flavor = "multi_thread")]
async fn absurd_times_overlaps_and_double_invoices_are_refused_with_a_sentence() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let mut seeded = Seeded::default();
    let mut owner = person(&dir, &server, "owner", Role::ClinicPractitioner).await;
    let admin = person(&dir, &server, "admin", Role::ClinicAdmin).await;
    seed_client(&mut owner, &mut seeded).await;
    seed_client(&mut owner, &mut seeded).await;
    let (client_id, name) = owner.own.clone().unwrap();
    let clients: Vec<BookableClient> = admin.api.get(routes::SCHEDULE_CLIENTS).await.unwrap();
    let second = clients.iter().find(|c| c.id != client_id).unwrap().id;
    let book = |client_id: Uuid, starts_at: String, minutes: u32| NewAppointment {
        client_id,
        starts_at,
        duration_minutes: minutes,
    };
    let refused = |status: u16, e: ApiError| {
        assert_eq!(
            (status, e.code),
            (400, ErrorCode::BadRequest),
            "{}",
            e.message
        );
        assert!(!e.message.contains(name.as_str()), "{}", e.message);
        e.message
    };

    for (bad, says) in [
        ("0001-01-01T00:00:00Z", "two years"),
        ("2001-01-01T00:00:00Z", "two years"),
        ("9999-12-31T23:59:59Z", "two years"),
        ("9999-12-31T23:00:00Z", "two years"),
        ("2027-01-04T09:00:00+23:59", "14 hours"),
        ("2027-01-04T09:00:00-14:30", "14 hours"),
        ("2026-12-31T23:59:60Z", "leap second"),
    ] {
        let (status, e) = admin
            .api
            .post::<Appointment, _>(routes::SCHEDULE, &book(client_id, bad.into(), 480))
            .await
            .unwrap_err();
        let message = refused(status, e);
        assert!(message.contains(says), "{bad}: {message}");
    }
    let nine = days_ahead_at(7, "09:00");
    let first: Appointment = admin
        .api
        .post(routes::SCHEDULE, &book(client_id, nine.clone(), 50))
        .await
        .unwrap();
    // Kiribati's real +14:00 is a valid offset.
    let kiribati = days_ahead_at(30, "23:00").replace('Z', "+14:00");
    admin
        .api
        .post::<Appointment, _>(routes::SCHEDULE, &book(client_id, kiribati, 50))
        .await
        .unwrap();

    // The same client, and the same practitioner with another client,
    // overlapping: refused, naming the clash's time and not the client.
    for (who, at) in [(client_id, "09:30"), (second, "08:30")] {
        let (status, e) = admin
            .api
            .post::<Appointment, _>(routes::SCHEDULE, &book(who, days_ahead_at(7, at), 50))
            .await
            .unwrap_err();
        let message = refused(status, e);
        assert!(message.contains(&first.starts_at), "{message}");
    }
    // Back to back is no clash.
    let after: Appointment = admin
        .api
        .post(
            routes::SCHEDULE,
            &book(second, days_ahead_at(7, "09:50"), 50),
        )
        .await
        .unwrap();
    // Cancelled frees the time; booking the cancelled one again then clashes.
    let cancel = |id: Uuid, status: AppointmentStatus| {
        let api = &admin.api;
        async move {
            api.post::<Appointment, _>(
                &routes::appointment_status(id),
                &AppointmentStatusChange { status },
            )
            .await
        }
    };
    cancel(first.id, AppointmentStatus::Cancelled)
        .await
        .unwrap();
    let replaced: Appointment = admin
        .api
        .post(
            routes::SCHEDULE,
            &book(second, days_ahead_at(7, "09:10"), 30),
        )
        .await
        .unwrap();
    let (status, e) = cancel(first.id, AppointmentStatus::Booked)
        .await
        .unwrap_err();
    assert!(refused(status, e).contains(&replaced.starts_at));
    // A mistaken mark can be corrected: attended → booked.
    cancel(after.id, AppointmentStatus::Attended).await.unwrap();
    let back = cancel(after.id, AppointmentStatus::Booked).await.unwrap();
    assert_eq!(back.status, AppointmentStatus::Booked);

    // One appointment, one live invoice; a void one may be reissued.
    let invoice = |appointment_id| NewInvoice {
        client_id: second,
        appointment_id: Some(appointment_id),
        amount_cents: 150_000,
    };
    let i: Invoice = admin
        .api
        .post(routes::INVOICES, &invoice(after.id))
        .await
        .unwrap();
    let (status, e) = admin
        .api
        .post::<Invoice, _>(routes::INVOICES, &invoice(after.id))
        .await
        .unwrap_err();
    assert!(refused(status, e).contains("already invoiced"));
    let _: Invoice = admin
        .api
        .post(
            &routes::invoice_status(i.id),
            &InvoiceStatusChange {
                status: InvoiceStatus::Void,
            },
        )
        .await
        .unwrap();
    let again: Invoice = admin
        .api
        .post(routes::INVOICES, &invoice(after.id))
        .await
        .unwrap();
    assert_eq!(again.appointment_id, Some(after.id));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_share_consent_reference_must_be_a_code_not_a_name() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let mut seeded = Seeded::default();
    let mut owner = person(&dir, &server, "owner", Role::ClinicPractitioner).await;
    let colleague = person(&dir, &server, "colleague", Role::ClinicPractitioner).await;
    seed_client(&mut owner, &mut seeded).await;
    let (client_id, name) = owner.own.clone().unwrap();
    let share = |consent: &str| NewShare {
        client_id,
        grantee_id: colleague.id,
        consent_reference: consent.into(),
    };
    for bad in [name.clone(), "consent form 14".into(), "Wanjiku".into()] {
        let (status, e) = owner
            .api
            .post::<Share, _>(routes::SHARES, &share(&bad))
            .await
            .unwrap_err();
        assert_eq!((status, e.code), (400, ErrorCode::BadRequest));
        assert!(e.message.contains("CF-2026-014"), "{}", e.message);
        assert!(!e.message.contains(&bad), "{}", e.message);
    }
    let made: Share = owner
        .api
        .post(routes::SHARES, &share("CF-2026-014"))
        .await
        .unwrap();
    assert_eq!(made.consent_reference, "CF-2026-014");
}
