//! Scripted bursts against the real server: failed sign-ins slow down and
//! lock, and each alert (failed sign-ins, bulk access, new network) is
//! raised exactly when its threshold is crossed and shown by
//! `bench-server alerts list`. Delays, locks and thresholds are shortened
//! through the environment (which may only shorten them), so nothing here
//! waits on the wall clock for long.

mod common;

use std::time::Duration;

use bench_protocol::api::{
    routes, Change, ChangeOutcome, ClientDetail, ErrorCode, NewSupervision, Practitioner,
    PullResponse, PushRequest, PushResponse, Supervision,
};
use bench_protocol::{ClientRecord, NoteStatus, Record, SessionNote};
use common::*;
use uuid::Uuid;

/// The alert kinds `alerts list` prints, in order.
fn alert_kinds(dir: &DataDir) -> Vec<String> {
    let (ok, out, err) = run(&["alerts", "list", "--data-dir", dir.arg()], None);
    assert!(ok, "{out}\n{err}");
    out.lines()
        .filter(|l| *l != "no alerts")
        .map(|l| l.split_whitespace().nth(2).unwrap().to_string())
        .collect()
}

/// One failed password attempt that the throttle let through; retries
/// while the (shortened) delay runs.
async fn fail_once(api: &Api, username: &str) {
    for _ in 0..200 {
        match api.login(username, "definitely the wrong password").await {
            Err((401, e)) => {
                assert_eq!(e.code, ErrorCode::BadCredentials);
                return;
            }
            Err((429, e)) => {
                assert_eq!(e.code, ErrorCode::RateLimited);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    panic!("the short delay never ended");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tenth_failed_sign_in_locks_the_account_and_raises_one_alert() {
    let dir = DataDir::init();
    let (password, _) = dir.add_user("amina", true);
    let server = Server::start_with_env(
        &dir,
        &[
            ("BENCH_SIGNIN_DELAY_MS", "1"),
            ("BENCH_SIGNIN_LOCK_SECS", "600"),
        ],
    );
    let api = server.client();

    for _ in 0..9 {
        fail_once(&api, "amina").await;
    }
    assert!(alert_kinds(&dir).is_empty(), "no alert below the threshold");

    fail_once(&api, "amina").await;
    assert_eq!(alert_kinds(&dir), vec!["failed_sign_ins_account"]);

    // Locked: even the right password is not checked, and the answer says
    // how long to wait without saying whether the password was right.
    let (status, e) = api.login("amina", &password).await.unwrap_err();
    assert_eq!((status, e.code), (429, ErrorCode::RateLimited));
    assert!(e.message.contains("10 minutes"), "{}", e.message);

    // Another account from the same address is not locked (the address
    // allows 30 failures), and no second alert appears.
    let (other_password, _) = dir.add_user("baraka", true);
    assert!(api.login("baraka", &other_password).await.is_ok());
    assert_eq!(alert_kinds(&dir), vec!["failed_sign_ins_account"]);

    let (ok, out, err) = run(&["audit", "verify", "--data-dir", dir.arg()], None);
    assert!(ok, "{out}\n{err}");
    let db = rusqlite::Connection::open(dir.path.join("audit.db")).unwrap();
    let count = |event: &str| -> i64 {
        db.query_row(
            "SELECT count(*) FROM audit_log WHERE event = ?1",
            [event],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(count("login_password_failed"), 10);
    assert_eq!(count("alert_raised"), 1);
    assert!(count("login_throttled") >= 1);
    // Each `alerts list` run is itself audited.
    assert_eq!(count("alerts_listed"), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn thirty_failures_from_one_address_lock_it_for_every_username() {
    let dir = DataDir::init();
    let server = Server::start_with_env(&dir, &[("BENCH_SIGNIN_DELAY_MS", "1")]);
    let api = server.client();
    for i in 0..29 {
        fail_once(&api, &format!("guess-{i}")).await;
    }
    assert!(alert_kinds(&dir).is_empty());
    fail_once(&api, "guess-29").await;
    assert_eq!(alert_kinds(&dir), vec!["failed_sign_ins_source"]);
    let (status, _) = api.login("someone-new", "whatever").await.unwrap_err();
    assert_eq!(status, 429);
}

fn new_client(id: Uuid) -> Change {
    Change {
        change_id: Uuid::new_v4(),
        base_version: None,
        record: Record::Client(ClientRecord {
            id,
            full_name: "Synthetic Bulk Client".into(),
            date_of_birth: None,
            contact: None,
            created_at: "2026-01-01T00:00:00Z".into(),
        }),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reading_more_distinct_records_than_the_threshold_raises_one_bulk_access_alert() {
    let dir = DataDir::init();
    let server = Server::start_with_env(&dir, &[("BENCH_ALERT_BULK_RECORDS", "3")]);
    let api = signed_in(&dir, &server, "amina").await;
    let ids: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
    let _: PushResponse = api
        .post(
            routes::SYNC_PUSH,
            &PushRequest {
                changes: ids.iter().map(|id| new_client(*id)).collect(),
                audit: vec![],
            },
        )
        .await
        .unwrap();

    for id in &ids[..3] {
        let _: ClientDetail = api.get(&routes::client(*id)).await.unwrap();
        // Reading the same record again is not another distinct record.
        let _: ClientDetail = api.get(&routes::client(ids[0])).await.unwrap();
    }
    assert!(alert_kinds(&dir).is_empty(), "3 distinct is the threshold");

    let _: ClientDetail = api.get(&routes::client(ids[3])).await.unwrap();
    assert_eq!(alert_kinds(&dir), vec!["bulk_access"]);
    let _: ClientDetail = api.get(&routes::client(ids[4])).await.unwrap();
    assert_eq!(
        alert_kinds(&dir),
        vec!["bulk_access"],
        "one alert per burst"
    );
}

/// Pulls every page after `cursor`; returns the cursor reached.
async fn pull_to_end(api: &Api, mut cursor: i64) -> i64 {
    loop {
        let page: PullResponse = api
            .get(&format!("{}?after={cursor}&limit=500", routes::SYNC_PULL))
            .await
            .unwrap();
        let advanced = page.next_cursor > cursor;
        cursor = page.next_cursor.max(cursor);
        if !page.more || !advanced {
            return cursor;
        }
    }
}

/// Pushes new clients, each with a draft note, as `api`'s account.
async fn push_clients_with_notes(api: &Api, ids: &[Uuid]) {
    let mut changes = Vec::new();
    for id in ids {
        changes.push(new_client(*id));
        changes.push(Change {
            change_id: Uuid::new_v4(),
            base_version: None,
            record: Record::Note(SessionNote {
                id: Uuid::new_v4(),
                client_id: *id,
                session_date: "2026-01-01".into(),
                body: "synthetic bulk note".into(),
                status: NoteStatus::Draft,
                created_at: "2026-01-01T00:00:00Z".into(),
                updated_at: "2026-01-01T00:00:00Z".into(),
                signed_at: None,
            }),
        });
    }
    let res: PushResponse = api
        .post(
            routes::SYNC_PUSH,
            &PushRequest {
                changes,
                audit: vec![],
            },
        )
        .await
        .unwrap();
    assert!(res
        .results
        .iter()
        .all(|r| matches!(r.outcome, ChangeOutcome::Applied { .. })));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_supervisor_pulling_a_thirty_first_team_client_raises_one_bulk_access_alert() {
    // The real thresholds: more than 30 distinct clients in 10 minutes.
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let practitioner = signed_in_as(&dir, &server, "tumaini", "clinic_practitioner").await;
    let supervisor = signed_in_as(&dir, &server, "sup", "supervisor").await;
    let admin = signed_in_as(&dir, &server, "admin", "clinic_admin").await;
    let practitioner_id = practitioner
        .get::<Practitioner>(routes::ME)
        .await
        .unwrap()
        .id;
    let supervisor_id = supervisor.get::<Practitioner>(routes::ME).await.unwrap().id;
    let _: Supervision = admin
        .post(
            routes::SUPERVISION,
            &NewSupervision {
                supervisor_id,
                practitioner_id,
            },
        )
        .await
        .unwrap();

    // 30 team clients, each with a note (a note counts as its client).
    let team: Vec<Uuid> = (0..32).map(|_| Uuid::new_v4()).collect();
    push_clients_with_notes(&practitioner, &team[..30]).await;
    let sup_cursor = pull_to_end(&supervisor, 0).await;
    // Pulling the same records again is no new distinct client.
    pull_to_end(&supervisor, 0).await;
    assert!(alert_kinds(&dir).is_empty(), "30 distinct is the threshold");

    // The 31st client reaches the supervisor's device: one alert, theirs.
    push_clients_with_notes(&practitioner, &team[30..31]).await;
    let sup_cursor = pull_to_end(&supervisor, sup_cursor).await;
    assert_eq!(alert_kinds(&dir), vec!["bulk_access"]);
    let (ok, out, _) = run(&["alerts", "list", "--data-dir", dir.arg()], None);
    assert!(ok);
    assert!(out.contains(&format!("account={supervisor_id}")), "{out}");
    assert!(out.contains("\"distinct_records\":31"), "{out}");

    // A 32nd within the window is the same burst.
    push_clients_with_notes(&practitioner, &team[31..]).await;
    pull_to_end(&supervisor, sup_cursor).await;
    assert_eq!(
        alert_kinds(&dir),
        vec!["bulk_access"],
        "one alert per burst"
    );

    // The practitioner syncing their own 32 clients is not bulk access.
    pull_to_end(&practitioner, 0).await;
    assert_eq!(alert_kinds(&dir), vec!["bulk_access"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_from_a_network_never_seen_for_the_account_raises_an_alert() {
    let dir = DataDir::init();
    let (password, secret) = dir.add_user("amina", true);
    let (home_password, home_secret) = dir.add_user("baraka", true);
    let (first_password, first_secret) = dir.add_user("chausiku", true);
    {
        // amina has only ever signed in from another network; baraka from
        // this one (127.0.0.0/24); chausiku never.
        let db = rusqlite::Connection::open(dir.path.join("bench.db")).unwrap();
        for (user, network) in [("amina", "10.20.30.0/24"), ("baraka", "127.0.0.0/24")] {
            db.execute(
                "INSERT INTO known_networks (account_id, network, first_seen)
                 SELECT id, ?2, '2026-01-01T00:00:00Z' FROM accounts WHERE username = ?1",
                [user, network],
            )
            .unwrap();
        }
    }
    let server = Server::start(&dir);

    server
        .client()
        .sign_in("baraka", &home_password, &home_secret.unwrap())
        .await;
    server
        .client()
        .sign_in("chausiku", &first_password, &first_secret.unwrap())
        .await;
    assert!(
        alert_kinds(&dir).is_empty(),
        "a known or first network is quiet"
    );

    server
        .client()
        .sign_in("amina", &password, &secret.unwrap())
        .await;
    let (ok, out, _) = run(&["alerts", "list", "--data-dir", dir.arg()], None);
    assert!(ok);
    assert_eq!(alert_kinds(&dir), vec!["new_network"]);
    assert!(out.contains("127.0.0.0/24"), "{out}");
    assert!(out.contains("source=127.0.0.1"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_survives_a_restart_and_user_unlock_lifts_it() {
    let dir = DataDir::init();
    let (password, _) = dir.add_user("amina", true);
    let env = [
        ("BENCH_SIGNIN_DELAY_MS", "1"),
        ("BENCH_SIGNIN_LOCK_SECS", "600"),
    ];
    let mut server = Server::start_with_env(&dir, &env);
    let api = server.client();
    for _ in 0..10 {
        fail_once(&api, "amina").await;
    }
    server.stop();

    let server = Server::start_with_env(&dir, &env);
    let api = server.client();
    let (status, e) = api.login("amina", &password).await.unwrap_err();
    assert_eq!(
        (status, e.code),
        (429, ErrorCode::RateLimited),
        "still locked after a restart"
    );

    let (ok, out, err) = run(
        &[
            "user",
            "unlock",
            "--data-dir",
            dir.arg(),
            "--username",
            "amina",
        ],
        None,
    );
    assert!(ok, "{out}\n{err}");
    assert!(
        api.login("amina", &password).await.is_ok(),
        "unlocked while running"
    );
    let db = rusqlite::Connection::open(dir.path.join("audit.db")).unwrap();
    let unlocks: i64 = db
        .query_row(
            "SELECT count(*) FROM audit_log WHERE event = 'account_unlocked'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unlocks, 1);
}
