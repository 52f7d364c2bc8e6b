//! Devices: revoking a lost laptop (clinic admin, the practitioner
//! themselves, the command line) and moving a client's record to another
//! practitioner. Every change audited; no clinical content to the admin.

mod common;

use std::process::Command;

use bench_protocol::api::{
    routes, ApiError, Change, ChangeOutcome, ClientTransfer, Device, DeviceRevocation, ErrorCode,
    LoginRequest, LoginResponse, NewShare, Practitioner, PullResponse, PushRequest, PushResponse,
    SessionInfo, Share, TotpRequest, TransferReceipt,
};
use bench_protocol::{ClientRecord, NoteStatus, Record, SessionNote};
use common::*;
use uuid::Uuid;

/// A code for the step `steps_back` steps before now (the server accepts
/// the current and the previous step, each once), so one account can sign
/// in on two devices without waiting for a new step.
fn code_steps_back(secret: &str, steps_back: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let out = Command::new("oathtool")
        .args(["--totp", "-b", secret, "-N"])
        .arg(format!("@{}", now - 30 * steps_back))
        .output()
        .expect("oathtool is installed");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

struct Account {
    username: String,
    password: String,
    secret: String,
}

fn account(dir: &DataDir, username: &str, role: &str) -> Account {
    let (password, secret) = dir.add_user_as(username, role, true);
    Account {
        username: username.into(),
        password,
        secret: secret.unwrap(),
    }
}

fn login_request(a: &Account, device_id: Uuid, password: &str) -> LoginRequest {
    LoginRequest {
        username: a.username.clone(),
        password: password.into(),
        device_id,
        device_name: format!("{}'s synthetic laptop", a.username),
    }
}

/// Signs `a` in from `device_id`, with the code of `steps_back` steps ago.
async fn sign_in_from(server: &Server, a: &Account, device_id: Uuid, steps_back: u64) -> Api {
    let mut api = server.client();
    let challenge = match api
        .post::<LoginResponse, _>(routes::LOGIN, &login_request(a, device_id, &a.password))
        .await
        .expect("password accepted")
    {
        LoginResponse::TotpRequired { challenge } => challenge,
        other => panic!("expected a code step, got {other:?}"),
    };
    let session: SessionInfo = api
        .post(
            routes::TOTP,
            &TotpRequest {
                challenge,
                code: code_steps_back(&a.secret, steps_back),
            },
        )
        .await
        .expect("code accepted");
    api.token = Some(session.token);
    api
}

fn revoked(answer: Result<impl std::fmt::Debug, (u16, ApiError)>) -> ApiError {
    let (status, e) = answer.expect_err("refused");
    assert_eq!((status, e.code), (403, ErrorCode::DeviceRevoked), "{e:?}");
    e
}

fn audit_rows(dir: &DataDir, event: &str) -> Vec<(Option<String>, Option<String>, String)> {
    let db = rusqlite::Connection::open(dir.path.join("audit.db")).unwrap();
    let mut stmt = db
        .prepare("SELECT actor, device_id, details FROM audit_log WHERE event = ?1 ORDER BY seq")
        .unwrap();
    let rows = stmt
        .query_map([event], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows
}

#[tokio::test(flavor = "multi_thread")]
async fn a_device_the_clinic_admin_revokes_is_refused_at_once_even_with_the_right_password() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let amina = account(&dir, "amina", "clinic_practitioner");
    let admin_account = account(&dir, "admin", "clinic_admin");
    let (laptop, desktop) = (Uuid::new_v4(), Uuid::new_v4());
    let on_laptop = sign_in_from(&server, &amina, laptop, 1).await;
    let on_desktop = sign_in_from(&server, &amina, desktop, 0).await;
    let admin = sign_in_from(&server, &admin_account, Uuid::new_v4(), 0).await;
    let me: Practitioner = on_laptop.get(routes::ME).await.unwrap();

    // The admin sees both of Amina's devices (and their own); Amina sees
    // only hers.
    let all: Vec<Device> = admin.get(routes::DEVICES).await.unwrap();
    assert_eq!(all.len(), 3);
    let mine: Vec<Device> = on_desktop.get(routes::DEVICES).await.unwrap();
    assert_eq!(mine.len(), 2);
    assert!(mine
        .iter()
        .all(|d| d.account_id == me.id && d.revoked_at.is_none()));
    assert!(mine.iter().any(|d| d.device_id == laptop
        && d.device_name == "amina's synthetic laptop"
        && d.username == "amina"));

    let after: Vec<Device> = admin
        .post(
            &routes::device_revoke(laptop),
            &DeviceRevocation {
                reason: "laptop stolen from the car".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].revoked_by, Some(admin_account_id(&admin).await));
    assert_eq!(
        after[0].reason.as_deref(),
        Some("laptop stolen from the car")
    );
    assert!(after[0].revoked_at.is_some());

    // The laptop's session no longer works, on any route, with a sentence.
    let e = revoked(on_laptop.get::<Practitioner>(routes::ME).await);
    assert!(e.message.contains("revoked this device"), "{}", e.message);
    revoked(on_laptop.get::<PullResponse>(routes::SYNC_PULL).await);
    revoked(
        on_laptop
            .post::<PushResponse, _>(
                routes::SYNC_PUSH,
                &PushRequest {
                    changes: vec![],
                    audit: vec![],
                },
            )
            .await,
    );
    // Nor does a new sign-in from it: not with the right password, not with
    // a wrong one.
    let api = server.client();
    revoked(
        api.post::<LoginResponse, _>(
            routes::LOGIN,
            &login_request(&amina, laptop, &amina.password),
        )
        .await,
    );
    revoked(
        api.post::<LoginResponse, _>(routes::LOGIN, &login_request(&amina, laptop, "not it"))
            .await,
    );

    // The clinic admin's revocation covers the device for every account:
    // another account cannot sign in on it either.
    revoked(
        api.post::<LoginResponse, _>(
            routes::LOGIN,
            &login_request(&admin_account, laptop, &admin_account.password),
        )
        .await,
    );

    // Amina's desktop is untouched.
    let still: Practitioner = on_desktop.get(routes::ME).await.unwrap();
    assert_eq!(still.id, me.id);
    let listed: Vec<Device> = on_desktop.get(routes::DEVICES).await.unwrap();
    let laptop_row = listed.iter().find(|d| d.device_id == laptop).unwrap();
    assert!(laptop_row.revoked_at.is_some());

    // Audited: the revocation once, each refused contact.
    let revocations = audit_rows(&dir, "device_revoked");
    assert_eq!(revocations.len(), 1);
    assert!(revocations[0].2.contains(&laptop.to_string()));
    assert!(
        !revocations[0].2.contains("stolen"),
        "free text stays out of the audit log"
    );
    let refused = audit_rows(&dir, "device_refused");
    assert_eq!(refused.len(), 6, "{refused:?}");
    assert!(refused
        .iter()
        .all(|r| r.1.as_deref() == Some(laptop.to_string().as_str())));
    let admin_id = admin_account_id(&admin).await.to_string();
    assert_eq!(
        refused
            .iter()
            .filter(|r| r.0.as_deref() == Some(me.id.to_string().as_str()))
            .count(),
        5
    );
    assert_eq!(
        refused
            .iter()
            .filter(|r| r.0.as_deref() == Some(admin_id.as_str()))
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_device_is_listed_only_after_the_second_step_with_its_label_cleaned() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let amina = account(&dir, "amina", "clinic_practitioner");
    let admin_account = account(&dir, "admin", "clinic_admin");
    let admin = sign_in_from(&server, &admin_account, Uuid::new_v4(), 1).await;

    // The password alone plants nothing in the admin's list.
    let planted = Uuid::new_v4();
    let mut req = login_request(&amina, planted, &amina.password);
    req.device_name = "IT \u{202E}exe.dorpoj".into();
    let answer: LoginResponse = server.client().post(routes::LOGIN, &req).await.unwrap();
    assert!(matches!(answer, LoginResponse::TotpRequired { .. }));
    let all: Vec<Device> = admin.get(routes::DEVICES).await.unwrap();
    assert!(
        all.iter().all(|d| d.device_id != planted),
        "no device row from the password step: {all:?}"
    );

    // After the code step it is listed, without the bidi override.
    let laptop = Uuid::new_v4();
    let mut api = server.client();
    let mut req = login_request(&amina, laptop, &amina.password);
    req.device_name = "Amina\u{2067}'s\u{200F} lap\u{200B}top\u{2069}".into();
    let challenge = match api
        .post::<LoginResponse, _>(routes::LOGIN, &req)
        .await
        .unwrap()
    {
        LoginResponse::TotpRequired { challenge } => challenge,
        other => panic!("expected a code step, got {other:?}"),
    };
    let session: SessionInfo = api
        .post(
            routes::TOTP,
            &TotpRequest {
                challenge,
                code: code_steps_back(&amina.secret, 0),
            },
        )
        .await
        .unwrap();
    api.token = Some(session.token);
    let all: Vec<Device> = admin.get(routes::DEVICES).await.unwrap();
    let row = all.iter().find(|d| d.device_id == laptop).expect("listed");
    assert_eq!(row.device_name, "Amina's laptop");

    // Revoked, the device is still refused at the password step.
    let _: Vec<Device> = admin
        .post(
            &routes::device_revoke(laptop),
            &DeviceRevocation {
                reason: "lost".into(),
            },
        )
        .await
        .unwrap();
    revoked(
        server
            .client()
            .post::<LoginResponse, _>(
                routes::LOGIN,
                &login_request(&amina, laptop, &amina.password),
            )
            .await,
    );
}

async fn admin_account_id(api: &Api) -> Uuid {
    api.get::<Practitioner>(routes::ME).await.unwrap().id
}

#[tokio::test(flavor = "multi_thread")]
async fn a_practitioner_revokes_their_own_other_device_but_not_the_one_in_hand_nor_anyone_elses() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let amina = account(&dir, "amina", "clinic_practitioner");
    let baraka = account(&dir, "baraka", "clinic_practitioner");
    let ops_account = account(&dir, "ops", "operations");
    let (old_phone, laptop, barakas) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let on_old = sign_in_from(&server, &amina, old_phone, 1).await;
    let on_laptop = sign_in_from(&server, &amina, laptop, 0).await;
    let baraka_api = sign_in_from(&server, &baraka, barakas, 0).await;
    let ops = sign_in_from(&server, &ops_account, Uuid::new_v4(), 0).await;
    let reason = DeviceRevocation {
        reason: "replaced".into(),
    };

    let (status, e) = on_laptop
        .post::<Vec<Device>, _>(&routes::device_revoke(laptop), &reason)
        .await
        .unwrap_err();
    assert_eq!((status, e.code), (400, ErrorCode::BadRequest));
    assert!(e.message.contains("device you are using"), "{}", e.message);
    let (status, _) = on_laptop
        .post::<Vec<Device>, _>(&routes::device_revoke(barakas), &reason)
        .await
        .unwrap_err();
    assert_eq!(
        status, 404,
        "another practitioner's device is not within reach"
    );
    let (status, e) = ops
        .post::<Vec<Device>, _>(&routes::device_revoke(barakas), &reason)
        .await
        .unwrap_err();
    assert_eq!((status, e.code), (403, ErrorCode::Forbidden));
    let (status, _) = ops.get::<Vec<Device>>(routes::DEVICES).await.unwrap_err();
    assert_eq!(status, 403);

    let done: Vec<Device> = on_laptop
        .post(&routes::device_revoke(old_phone), &reason)
        .await
        .unwrap();
    assert_eq!(done.len(), 1);
    revoked(on_old.get::<Practitioner>(routes::ME).await);
    on_laptop.get::<Practitioner>(routes::ME).await.unwrap();
    baraka_api.get::<Practitioner>(routes::ME).await.unwrap();
    // A practitioner's own revocation reaches only their account on that
    // device: Baraka may still sign in on Amina's old phone.
    let api = server.client();
    let answer = api
        .post::<LoginResponse, _>(
            routes::LOGIN,
            &login_request(&baraka, old_phone, &baraka.password),
        )
        .await;
    assert!(answer.is_ok(), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_lists_and_revokes_a_device_for_every_account_on_it_and_audits_both() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let amina = account(&dir, "amina", "clinic_practitioner");
    let baraka = account(&dir, "baraka", "clinic_practitioner");
    let shared_pc = Uuid::new_v4();
    let amina_api = sign_in_from(&server, &amina, shared_pc, 0).await;
    let baraka_api = sign_in_from(&server, &baraka, shared_pc, 0).await;

    let (ok, out, err) = run(&["device", "list", "--data-dir", dir.arg()], None);
    assert!(ok, "{out}\n{err}");
    assert_eq!(
        out.lines()
            .filter(|l| l.contains(&shared_pc.to_string()))
            .count(),
        2,
        "{out}"
    );
    assert!(out.contains("active"));

    let (ok, out, err) = run(
        &[
            "device",
            "revoke",
            "--data-dir",
            dir.arg(),
            "--device-id",
            "not-a-uuid",
        ],
        None,
    );
    assert!(!ok);
    assert!(err.contains("UUID"), "{out}\n{err}");

    let id = shared_pc.to_string();
    let (ok, out, err) = run(
        &[
            "device",
            "revoke",
            "--data-dir",
            dir.arg(),
            "--device-id",
            &id,
            "--reason",
            "clinic PC stolen",
        ],
        None,
    );
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("2 account(s)") && out.contains("2 session(s)"),
        "{out}"
    );
    revoked(amina_api.get::<Practitioner>(routes::ME).await);
    revoked(baraka_api.get::<Practitioner>(routes::ME).await);

    let (ok, out, _) = run(
        &[
            "device",
            "list",
            "--data-dir",
            dir.arg(),
            "--username",
            "amina",
        ],
        None,
    );
    assert!(ok);
    assert!(out.contains("revoked"), "{out}");
    assert!(!out.contains("baraka"), "{out}");

    let revocations = audit_rows(&dir, "device_revoked");
    assert_eq!(revocations.len(), 1);
    assert!(
        revocations[0].2.contains("command_line"),
        "{:?}",
        revocations[0]
    );
    assert!(revocations[0].2.contains("\"sessions_ended\":2"));
    assert_eq!(audit_rows(&dir, "devices_listed").len(), 2);
    let (ok, out, err) = run(&["audit", "verify", "--data-dir", dir.arg()], None);
    assert!(ok, "{out}\n{err}");
}

fn change(record: Record) -> Change {
    Change {
        change_id: Uuid::new_v4(),
        base_version: None,
        record,
    }
}

/// Pulls every page after `after`; returns (record ids, removed ids, cursor).
async fn pull_all(api: &Api, mut after: i64) -> (Vec<Uuid>, Vec<Uuid>, i64) {
    let (mut ids, mut removed) = (Vec::new(), Vec::new());
    loop {
        let page: PullResponse = api
            .get(&format!("{}?after={after}", routes::SYNC_PULL))
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
async fn a_transferred_client_leaves_the_old_owners_pull_and_arrives_in_the_new_owners() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let amina = account(&dir, "amina", "clinic_practitioner");
    let baraka = account(&dir, "baraka", "clinic_practitioner");
    let colleague = account(&dir, "colleague", "clinic_practitioner");
    let supervisor = account(&dir, "supervisor", "supervisor");
    let admin_account = account(&dir, "admin", "clinic_admin");
    let a = sign_in_from(&server, &amina, Uuid::new_v4(), 0).await;
    let b = sign_in_from(&server, &baraka, Uuid::new_v4(), 0).await;
    let c = sign_in_from(&server, &colleague, Uuid::new_v4(), 0).await;
    let sup = sign_in_from(&server, &supervisor, Uuid::new_v4(), 0).await;
    let admin = sign_in_from(&server, &admin_account, Uuid::new_v4(), 0).await;
    let (b_id, c_id) = (
        b.get::<Practitioner>(routes::ME).await.unwrap().id,
        c.get::<Practitioner>(routes::ME).await.unwrap().id,
    );

    let client_id = Uuid::new_v4();
    let name = "Synthetic Transfer Client";
    let body = "synthetic transferred note text";
    let note_id = Uuid::new_v4();
    let pushed: PushResponse = a
        .post(
            routes::SYNC_PUSH,
            &PushRequest {
                changes: vec![
                    change(Record::Client(ClientRecord {
                        id: client_id,
                        full_name: name.into(),
                        date_of_birth: None,
                        contact: None,
                        created_at: "2026-02-01T09:00:00Z".into(),
                    })),
                    change(Record::Note(SessionNote {
                        id: note_id,
                        client_id,
                        session_date: "2026-02-01".into(),
                        body: body.into(),
                        status: NoteStatus::Draft,
                        created_at: "2026-02-01T10:00:00Z".into(),
                        updated_at: "2026-02-01T10:00:00Z".into(),
                        signed_at: None,
                    })),
                ],
                audit: vec![],
            },
        )
        .await
        .unwrap();
    assert!(pushed
        .results
        .iter()
        .all(|r| matches!(r.outcome, ChangeOutcome::Applied { .. })));
    let _: Share = a
        .post(
            routes::SHARES,
            &NewShare {
                client_id,
                grantee_id: c_id,
                consent_reference: "CF-77".into(),
            },
        )
        .await
        .unwrap();
    let (ids, _, a_cursor) = pull_all(&a, 0).await;
    assert_eq!(ids.len(), 2);
    let a_id = a.get::<Practitioner>(routes::ME).await.unwrap().id;
    let sup_id = sup.get::<Practitioner>(routes::ME).await.unwrap().id;
    let _: bench_protocol::api::Supervision = admin
        .post(
            routes::SUPERVISION,
            &bench_protocol::api::NewSupervision {
                supervisor_id: sup_id,
                practitioner_id: a_id,
            },
        )
        .await
        .unwrap();
    let (ids, _, sup_cursor) = pull_all(&sup, 0).await;
    assert_eq!(ids.len(), 2, "Amina's supervisor reads her records");
    let (ids, _, c_cursor) = pull_all(&c, 0).await;
    assert_eq!(ids.len(), 2, "shared with the colleague");
    let (ids, _, b_cursor) = pull_all(&b, 0).await;
    assert!(ids.is_empty());

    // Someone who does not hold the record cannot move it, nor can anyone
    // move it to an account that holds no records.
    let (status, _) = b
        .post::<TransferReceipt, _>(
            &routes::client_transfer(client_id),
            &ClientTransfer {
                to_practitioner_id: b_id,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(status, 404);
    let admin_id = admin_account_id(&admin).await;
    let (status, e) = a
        .post::<TransferReceipt, _>(
            &routes::client_transfer(client_id),
            &ClientTransfer {
                to_practitioner_id: admin_id,
            },
        )
        .await
        .unwrap_err();
    assert_eq!((status, e.code), (400, ErrorCode::BadRequest));

    let receipt: TransferReceipt = a
        .post(
            &routes::client_transfer(client_id),
            &ClientTransfer {
                to_practitioner_id: b_id,
            },
        )
        .await
        .unwrap();
    assert_eq!((receipt.records_moved, receipt.shares_ended), (2, 1));

    let (ids, removed, _) = pull_all(&a, a_cursor).await;
    assert!(ids.is_empty());
    assert_eq!(
        {
            let mut r = removed.clone();
            r.sort();
            r
        },
        {
            let mut r = vec![client_id, note_id];
            r.sort();
            r
        }
    );
    let (ids, removed, _) = pull_all(&c, c_cursor).await;
    assert!(ids.is_empty());
    assert_eq!(removed.len(), 2, "the share ended with the transfer");
    let (ids, removed, _) = pull_all(&sup, sup_cursor).await;
    assert!(ids.is_empty());
    assert_eq!(
        removed.len(),
        2,
        "Amina's supervisor does not supervise Baraka"
    );
    let (ids, removed, b_cursor) = pull_all(&b, b_cursor).await;
    assert!(ids.contains(&client_id) && ids.contains(&note_id));
    assert!(removed.is_empty());
    let (status, _) = a
        .get::<bench_protocol::api::ClientDetail>(&routes::client(client_id))
        .await
        .unwrap_err();
    assert_eq!(status, 404);

    // The clinic admin moves it back, seeing ids and counts only.
    let raw = admin
        .http
        .post(admin.server.clone() + &routes::client_transfer(client_id))
        .bearer_auth(admin.token.as_deref().unwrap())
        .json(&ClientTransfer {
            to_practitioner_id: a.get::<Practitioner>(routes::ME).await.unwrap().id,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 200);
    let text = raw.text().await.unwrap();
    assert!(!text.contains(name) && !text.contains(body), "{text}");
    let (_, removed, _) = pull_all(&b, b_cursor).await;
    assert_eq!(removed.len(), 2);

    let transfers = audit_rows(&dir, "client_transferred");
    assert_eq!(transfers.len(), 2);
    assert!(transfers[0].2.contains(&b_id.to_string()));
    assert!(server.log().find(name).is_none() && server.log().find(body).is_none());
}
