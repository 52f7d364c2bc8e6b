//! The audit log records sign-ins, reads and writes, verifies when intact,
//! and names the entry whose stored bytes were changed.

mod common;

use bench_protocol::api::{routes, Change, ClientDetail, PushRequest, PushResponse};
use bench_protocol::{ClientRecord, NoteStatus, Record, SessionNote};
use common::*;
use uuid::Uuid;

/// seq, event, record id, source address, details.
type AuditRow = (i64, String, Option<String>, Option<String>, String);

fn verify(dir: &DataDir) -> (bool, String, String) {
    run(&["audit", "verify", "--data-dir", dir.arg()], None)
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_passes_on_an_intact_log_and_names_the_entry_with_a_flipped_byte() {
    let dir = DataDir::init();
    let mut server = Server::start(&dir);

    // A failed sign-in with a marker username, whose entry we will damage.
    let marker = format!("tamper-marker-{}", Uuid::new_v4().simple());
    let api = server.client();
    assert!(api.login(&marker, "not a real password").await.is_err());

    // Activity around it: a sign-in, a client, a note, a read.
    let api = signed_in(&dir, &server, "amina").await;
    let client_id = Uuid::new_v4();
    let note_id = Uuid::new_v4();
    let changes = vec![
        Change {
            change_id: Uuid::new_v4(),
            base_version: None,
            record: Record::Client(ClientRecord {
                id: client_id,
                full_name: "Synthetic Audit Client".into(),
                date_of_birth: None,
                contact: None,
                created_at: "2026-01-01T00:00:00Z".into(),
            }),
        },
        Change {
            change_id: Uuid::new_v4(),
            base_version: None,
            record: Record::Note(SessionNote {
                id: note_id,
                client_id,
                session_date: "2026-01-01".into(),
                body: "synthetic audit note text".into(),
                status: NoteStatus::Draft,
                created_at: "2026-01-01T00:00:00Z".into(),
                updated_at: "2026-01-01T00:00:00Z".into(),
                signed_at: None,
            }),
        },
    ];
    let _: PushResponse = api
        .post(
            routes::SYNC_PUSH,
            &PushRequest {
                changes,
                audit: vec![],
            },
        )
        .await
        .unwrap();
    let _: ClientDetail = api.get(&routes::client(client_id)).await.unwrap();
    server.stop();

    let (ok, out, err) = verify(&dir);
    assert!(ok, "{out}\n{err}");
    let count: u64 = out
        .trim()
        .strip_prefix("audit log OK: ")
        .and_then(|rest| rest.split(" entries").next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(count >= 6, "{out}");

    // What was logged: events and ids, never names, note text or passwords.
    let db = rusqlite::Connection::open(dir.path.join("audit.db")).unwrap();
    let events: Vec<AuditRow> = db
        .prepare("SELECT seq, event, record_id, source_ip, details FROM audit_log ORDER BY seq")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let has = |event: &str, record: Option<Uuid>| {
        events
            .iter()
            .any(|e| e.1 == event && (record.is_none() || e.2 == record.map(|r| r.to_string())))
    };
    assert!(has("login_password_failed", None));
    assert!(has("login_password_ok", None));
    assert!(has("login_code_ok", None));
    assert!(has("note_write", Some(note_id)));
    assert!(has("client_read", Some(client_id)));
    // Requests carry their source address; command-line changes (the
    // account created for this test) have none.
    assert!(events
        .iter()
        .filter(|e| !e.4.contains("command_line"))
        .all(|e| e.3.as_deref() == Some("127.0.0.1")));
    assert!(has("account_created", None));
    let raw = std::fs::read(dir.path.join("audit.db")).unwrap();
    for secret in [
        &b"Synthetic Audit Client"[..],
        b"synthetic audit note text",
        b"not a real password",
    ] {
        assert!(!raw.windows(secret.len()).any(|w| w == secret));
    }
    // The typed name is not stored, only its keyed tag: that tag is the
    // marker to damage.
    assert!(!raw.windows(marker.len()).any(|w| w == marker.as_bytes()));
    let (target_seq, tag) = events
        .iter()
        .find(|e| e.1 == "login_password_failed")
        .map(|e| {
            let details: serde_json::Value = serde_json::from_str(&e.4).unwrap();
            (e.0, details["username_tag"].as_str().unwrap().to_string())
        })
        .expect("marker logged");
    drop(db);

    // Flip one byte of the marker inside the file itself.
    let needle = tag.as_bytes();
    let offset = raw
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("marker stored in audit.db");
    assert_eq!(
        raw.windows(needle.len()).filter(|w| *w == needle).count(),
        1
    );
    let mut damaged = raw.clone();
    damaged[offset + 3] ^= 0x01;
    std::fs::write(dir.path.join("audit.db"), &damaged).unwrap();

    let (ok, out, err) = verify(&dir);
    assert!(!ok, "verify must fail: {out}");
    assert!(
        err.contains(&format!("audit log entry {target_seq} does not verify")),
        "{err}"
    );
}

#[test]
fn the_database_refuses_to_update_or_delete_audit_entries() {
    let dir = DataDir::init();
    // init writes no entries; the server's first request will. Use one
    // failed sign-in through a short-lived server.
    let server = Server::start(&dir);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let _ = server.client().login("someone", "wrong password").await;
    });
    drop(server);

    let db = rusqlite::Connection::open(dir.path.join("audit.db")).unwrap();
    assert!(db.execute("UPDATE audit_log SET event = 'x'", []).is_err());
    assert!(db.execute("DELETE FROM audit_log", []).is_err());
    let n: i64 = db
        .query_row(
            "SELECT count(*) FROM audit_log WHERE event = 'login_password_failed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
}

/// A server that saw some activity, stopped cleanly (which signs the head).
async fn busy_log() -> DataDir {
    let dir = DataDir::init();
    let mut server = Server::start(&dir);
    let api = signed_in(&dir, &server, "amina").await;
    for _ in 0..4 {
        let _: Vec<bench_protocol::api::ClientSummary> = api.get(routes::CLIENTS).await.unwrap();
    }
    server.stop();
    dir
}

fn entry_count(dir: &DataDir) -> i64 {
    let db = rusqlite::Connection::open(dir.path.join("audit.db")).unwrap();
    db.query_row("SELECT count(*) FROM audit_log", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_the_last_entries_is_caught_by_the_checkpoint_signed_at_shutdown() {
    let dir = busy_log().await;
    let n = entry_count(&dir);
    let (ok, out, err) = verify(&dir);
    assert!(ok, "{out}\n{err}");
    assert!(!out.contains(" 0 signed checkpoints"), "{out}");

    let db = rusqlite::Connection::open(dir.path.join("audit.db")).unwrap();
    db.execute_batch(&format!(
        "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq > {};",
        n - 3
    ))
    .unwrap();
    drop(db);
    let (ok, _, err) = verify(&dir);
    assert!(!ok);
    assert!(
        err.contains(&format!("audit log entry {} does not verify", n - 2))
            && err.contains("missing"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_reordered_entries_are_named_by_verify() {
    let dir = busy_log().await;
    let db = rusqlite::Connection::open(dir.path.join("audit.db")).unwrap();
    db.execute_batch(
        "DROP TRIGGER audit_log_no_update;
         UPDATE audit_log SET seq = -1 WHERE seq = 3;
         UPDATE audit_log SET seq = 3 WHERE seq = 4;
         UPDATE audit_log SET seq = 4 WHERE seq = -1;",
    )
    .unwrap();
    drop(db);
    let (ok, _, err) = verify(&dir);
    assert!(!ok);
    assert!(err.contains("audit log entry 3 does not verify"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_verifies_on_its_own_and_the_export_itself_is_audited() {
    let dir = busy_log().await;
    let n = entry_count(&dir);
    let out_file = dir.tmp.path().join("for-auditor.jsonl");
    let (ok, out, err) = run(
        &[
            "audit",
            "export",
            "--data-dir",
            dir.arg(),
            "--from",
            "2",
            "--to",
            &n.to_string(),
            "--out",
            out_file.to_str().unwrap(),
        ],
        None,
    );
    assert!(ok, "{out}\n{err}");
    let key = out
        .trim()
        .rsplit(' ')
        .next()
        .expect("export prints the checkpoint key");
    let (ok, vout, verr) = run(
        &[
            "audit",
            "verify-export",
            "--in",
            out_file.to_str().unwrap(),
            "--public-key",
            key,
        ],
        None,
    );
    assert!(ok, "{vout}\n{verr}");
    // The range holds the checkpoint signed at shutdown (and those of the
    // command-line entries inside it).
    assert!(
        vout.trim()
            .starts_with(&format!("audit export OK: {} entries, ", n - 1))
            && !vout.contains(" 0 signed checkpoints"),
        "{vout}"
    );
    let text = std::fs::read_to_string(&out_file).unwrap();
    assert!(text.lines().all(|l| l.contains("\"type\"")));
    assert!(text.contains("\"hash\"") && text.contains("\"signature\""));

    // The export is recorded, and the log still verifies after it.
    assert_eq!(entry_count(&dir), n + 1);
    let (ok, out, err) = verify(&dir);
    assert!(ok, "{out}\n{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn entries_a_device_recorded_offline_are_stored_once_with_its_device_id() {
    use bench_protocol::api::{DeviceAuditEntry, DeviceAuditResponse, DeviceAuditUpload};
    let dir = DataDir::init();
    let mut server = Server::start(&dir);
    let api = signed_in(&dir, &server, "amina").await;
    let record = Uuid::new_v4();
    let upload = DeviceAuditUpload {
        entries: (0..3)
            .map(|i| DeviceAuditEntry {
                entry_id: Uuid::new_v4(),
                occurred_at: format!("2026-02-0{}T10:00:00Z", i + 1),
                kind: "note_edited".into(),
                record_id: Some(record),
                change_id: Some(Uuid::new_v4()),
            })
            .collect(),
    };
    let first: DeviceAuditResponse = api.post(routes::AUDIT_UPLOAD, &upload).await.unwrap();
    assert_eq!((first.stored, first.already_stored), (3, 0));
    let again: DeviceAuditResponse = api.post(routes::AUDIT_UPLOAD, &upload).await.unwrap();
    assert_eq!((again.stored, again.already_stored), (0, 3));

    // A kind that is free text (which could carry a name) is refused whole.
    let mut bad = upload.clone();
    bad.entries[0].entry_id = Uuid::new_v4();
    bad.entries[0].kind = "Opened Jane's file".into();
    let (status, _) = api
        .post::<DeviceAuditResponse, _>(routes::AUDIT_UPLOAD, &bad)
        .await
        .unwrap_err();
    assert_eq!(status, 400);
    // So is a plain word that is not a kind the app records (it could
    // still be a name).
    bad.entries[0].kind = "wanjiku_synthclient".into();
    let (status, e) = api
        .post::<DeviceAuditResponse, _>(routes::AUDIT_UPLOAD, &bad)
        .await
        .unwrap_err();
    assert_eq!(status, 400);
    assert!(
        e.message.contains("not one this app records"),
        "{}",
        e.message
    );
    assert!(!e.message.contains("wanjiku"), "{}", e.message);
    server.stop();

    let db = rusqlite::Connection::open(dir.path.join("audit.db")).unwrap();
    let rows: Vec<(Option<String>, Option<String>, String)> = db
        .prepare("SELECT device_id, role, details FROM audit_log WHERE event = 'device_recorded' ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 3, "one entry per offline edit, stored once");
    assert!(rows.iter().all(|r| r.0.is_some()
        && r.1.as_deref() == Some("solo_practitioner")
        && r.2.contains("note_edited")));
    let (ok, out, err) = verify(&dir);
    assert!(ok, "{out}\n{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_accounts_device_entry_id_is_refused_on_upload_and_on_push() {
    use bench_protocol::api::{DeviceAuditEntry, DeviceAuditResponse, DeviceAuditUpload};
    let dir = DataDir::init();
    let mut server = Server::start(&dir);
    let amina = signed_in(&dir, &server, "amina").await;
    let baraka = signed_in(&dir, &server, "baraka").await;
    let entry = |entry_id| DeviceAuditEntry {
        entry_id,
        occurred_at: "2026-02-01T10:00:00Z".into(),
        kind: "note_signed".into(),
        record_id: None,
        change_id: None,
    };
    let taken = Uuid::new_v4();
    let first: DeviceAuditResponse = amina
        .post(
            routes::AUDIT_UPLOAD,
            &DeviceAuditUpload {
                entries: vec![entry(taken)],
            },
        )
        .await
        .unwrap();
    assert_eq!((first.stored, first.already_stored), (1, 0));

    // Baraka's upload reuses Amina's id next to a fresh one: refused whole.
    let (status, e) = baraka
        .post::<DeviceAuditResponse, _>(
            routes::AUDIT_UPLOAD,
            &DeviceAuditUpload {
                entries: vec![entry(Uuid::new_v4()), entry(taken)],
            },
        )
        .await
        .unwrap_err();
    assert_eq!(status, 400);
    assert!(e.message.contains("another account"), "{}", e.message);
    // And on a push: nothing applied either.
    let client_id = Uuid::new_v4();
    let push = PushRequest {
        changes: vec![Change {
            change_id: Uuid::new_v4(),
            base_version: None,
            record: Record::Client(ClientRecord {
                id: client_id,
                full_name: "Synthetic Collision Client".into(),
                date_of_birth: None,
                contact: None,
                created_at: "2026-02-01T10:00:00Z".into(),
            }),
        }],
        audit: vec![entry(taken)],
    };
    let (status, e) = baraka
        .post::<PushResponse, _>(routes::SYNC_PUSH, &push)
        .await
        .unwrap_err();
    assert_eq!(status, 400);
    assert!(e.message.contains("another account"), "{}", e.message);
    let (status, _) = baraka
        .get::<ClientDetail>(&routes::client(client_id))
        .await
        .unwrap_err();
    assert_eq!(status, 404, "the push applied nothing");
    // Amina's retry is still a retry.
    let again: DeviceAuditResponse = amina
        .post(
            routes::AUDIT_UPLOAD,
            &DeviceAuditUpload {
                entries: vec![entry(taken)],
            },
        )
        .await
        .unwrap();
    assert_eq!((again.stored, again.already_stored), (0, 1));
    server.stop();

    let db = rusqlite::Connection::open(dir.path.join("audit.db")).unwrap();
    let n: i64 = db
        .query_row(
            "SELECT count(*) FROM audit_log WHERE event = 'device_recorded'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1, "only Amina's entry is stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_batch_of_device_entries_fits_one_upload_and_one_more_is_refused() {
    use bench_protocol::api::{
        DeviceAuditEntry, DeviceAuditResponse, DeviceAuditUpload, ErrorCode, DEVICE_AUDIT_KINDS,
        MAX_DEVICE_AUDIT_ENTRIES,
    };
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let api = signed_in(&dir, &server, "amina").await;
    // The longest entries a device may send: every field filled.
    let entries = |n: usize| DeviceAuditUpload {
        entries: (0..n)
            .map(|_| DeviceAuditEntry {
                entry_id: Uuid::new_v4(),
                occurred_at: "2026-02-01T10:00:00.123456789Z".into(),
                kind: DEVICE_AUDIT_KINDS
                    .iter()
                    .max_by_key(|k| k.len())
                    .unwrap()
                    .to_string(),
                record_id: Some(Uuid::new_v4()),
                change_id: Some(Uuid::new_v4()),
            })
            .collect(),
    };
    let full: DeviceAuditResponse = api
        .post(routes::AUDIT_UPLOAD, &entries(MAX_DEVICE_AUDIT_ENTRIES))
        .await
        .unwrap();
    assert_eq!(full.stored as usize, MAX_DEVICE_AUDIT_ENTRIES);
    let (status, e) = api
        .post::<DeviceAuditResponse, _>(
            routes::AUDIT_UPLOAD,
            &entries(MAX_DEVICE_AUDIT_ENTRIES + 1),
        )
        .await
        .unwrap_err();
    assert_eq!((status, e.code), (400, ErrorCode::BadRequest));
    assert!(e.message.contains("smaller batches"), "{}", e.message);
}

#[tokio::test(flavor = "multi_thread")]
async fn entries_carried_on_a_push_are_stored_once_and_a_dead_clock_does_not_hold_back_the_push() {
    use bench_protocol::api::{ChangeOutcome, DeviceAuditEntry};
    let dir = DataDir::init();
    let mut server = Server::start(&dir);
    let api = signed_in(&dir, &server, "amina").await;
    let client_id = Uuid::new_v4();
    let change_id = Uuid::new_v4();
    let entry = |occurred_at: &str, kind: &str| DeviceAuditEntry {
        entry_id: Uuid::new_v4(),
        occurred_at: occurred_at.into(),
        kind: kind.into(),
        record_id: Some(client_id),
        change_id: Some(change_id),
    };
    let push = PushRequest {
        changes: vec![Change {
            change_id,
            base_version: None,
            record: Record::Client(ClientRecord {
                id: client_id,
                full_name: "Synthetic Piggyback Client".into(),
                date_of_birth: None,
                contact: None,
                created_at: "2026-02-01T10:00:00Z".into(),
            }),
        }],
        // The second was stamped by a laptop whose clock reset to 1970.
        audit: vec![
            entry("2026-02-01T10:00:00Z", "client_created"),
            entry("1970-01-01T00:00:07Z", "client_edited"),
        ],
    };
    let first: PushResponse = api.post(routes::SYNC_PUSH, &push).await.unwrap();
    assert!(matches!(
        first.results[0].outcome,
        ChangeOutcome::Applied { .. }
    ));
    assert_eq!((first.audit_stored, first.audit_already_stored), (2, 0));
    // The answer was lost; the device sends the same push again.
    let again: PushResponse = api.post(routes::SYNC_PUSH, &push).await.unwrap();
    assert!(matches!(
        again.results[0].outcome,
        ChangeOutcome::AlreadyApplied { .. }
    ));
    assert_eq!((again.audit_stored, again.audit_already_stored), (0, 2));

    // A kind this server does not know (free text, or an app newer than
    // the server) does not hold back the push: the change applies and the
    // entry is kept as `unrecognised`, without the text it carried.
    let mut newer = push.clone();
    newer.changes[0].change_id = Uuid::new_v4();
    newer.changes[0].base_version = Some(1);
    newer.audit = vec![entry("2026-02-01T10:05:00Z", "Edited Amina's client")];
    let third: PushResponse = api.post(routes::SYNC_PUSH, &newer).await.unwrap();
    assert!(matches!(
        third.results[0].outcome,
        ChangeOutcome::Applied { .. }
    ));
    assert_eq!((third.audit_stored, third.audit_already_stored), (1, 0));
    server.stop();

    let db = rusqlite::Connection::open(dir.path.join("audit.db")).unwrap();
    let rows: Vec<(Option<String>, Option<String>, String)> = db
        .prepare("SELECT device_id, record_id, details FROM audit_log WHERE event = 'device_recorded' ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 3, "each entry stored once");
    assert!(
        rows[2].2.contains("\"kind\":\"unrecognised\"")
            && rows[2].2.contains("\"kind_unrecognised\":true")
            && !rows[2].2.contains("Amina"),
        "{}",
        rows[2].2
    );
    let client_text = client_id.to_string();
    assert!(rows
        .iter()
        .all(|r| r.0.is_some() && r.1.as_deref() == Some(client_text.as_str())));
    assert!(rows[0].2.contains("client_created") && !rows[0].2.contains("implausible"));
    assert!(
        rows[1].2.contains("client_edited")
            && rows[1].2.contains("\"device_time_implausible\":true"),
        "{}",
        rows[1].2
    );
    assert!(rows[0].2.contains(&change_id.to_string()));
    let client_writes: i64 = db
        .query_row(
            "SELECT count(*) FROM audit_log WHERE event = 'client_write'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(client_writes, 2, "both changes were written once");
    let (ok, out, err) = verify(&dir);
    assert!(ok, "{out}\n{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn periodic_checkpoints_catch_a_cut_tail_even_after_a_crash() {
    let dir = DataDir::init();
    let server = Server::start_with_env(&dir, &[("BENCH_AUDIT_CHECKPOINT_EVERY", "3")]);
    let api = signed_in(&dir, &server, "amina").await;
    for _ in 0..6 {
        let _: Vec<bench_protocol::api::ClientSummary> = api.get(routes::CLIENTS).await.unwrap();
    }
    // Killed, not stopped: no checkpoint at shutdown, only the periodic ones.
    drop(server);

    let db = rusqlite::Connection::open(dir.path.join("audit.db")).unwrap();
    let last_signed: i64 = db
        .query_row("SELECT max(head_seq) FROM audit_checkpoints", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(
        last_signed >= 6,
        "checkpoints every 3 entries while serving"
    );
    db.execute_batch(&format!(
        "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq >= {};",
        last_signed - 1
    ))
    .unwrap();
    drop(db);
    let (ok, _, err) = verify(&dir);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "audit log entry {} does not verify",
            last_signed - 1
        )),
        "{err}"
    );
}

/// Runs `serve` and expects it to refuse to start; returns its stderr. A
/// server that starts instead is stopped and the test fails.
fn serve_refusal(dir: &DataDir) -> String {
    let mut child = bench(&["serve", "--data-dir", dir.arg(), "--listen", "127.0.0.1:0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success(), "serve exited successfully");
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            return err;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve started on a cut or missing audit log instead of refusing");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn remove_audit_db(dir: &DataDir) {
    for f in ["audit.db", "audit.db-wal", "audit.db-shm"] {
        let _ = std::fs::remove_file(dir.path.join(f));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tail_cut_together_with_its_checkpoints_is_named_by_the_head_kept_outside_the_log() {
    let dir = busy_log().await;
    let n = entry_count(&dir);
    let db = rusqlite::Connection::open(dir.path.join("audit.db")).unwrap();
    let kept = n - 3;
    db.execute_batch(&format!(
        "DROP TRIGGER audit_log_no_delete; DROP TRIGGER audit_checkpoints_no_delete;
         DELETE FROM audit_log WHERE seq > {kept};
         DELETE FROM audit_checkpoints WHERE head_seq > {kept};"
    ))
    .unwrap();
    drop(db);
    let (ok, out, err) = verify(&dir);
    assert!(!ok, "{out}");
    assert!(
        err.contains(&format!(
            "the log ends at entry {kept} but the last signed head outside the log is entry {n}: entries after {kept} were removed"
        )),
        "{err}"
    );
    let err = serve_refusal(&dir);
    assert!(err.contains("entries after"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_refuses_to_start_on_a_deleted_or_emptied_audit_log() {
    let dir = busy_log().await;
    std::fs::copy(dir.path.join("audit.db"), dir.path.join("saved.db")).unwrap();
    remove_audit_db(&dir);
    let err = serve_refusal(&dir);
    assert!(err.contains("audit.db") && err.contains("restore"), "{err}");
    assert!(!dir.path.join("audit.db").exists(), "no fresh log was made");

    // An empty log in its place is refused too.
    rusqlite::Connection::open(dir.path.join("audit.db"))
        .unwrap()
        .execute_batch("CREATE TABLE x (y);")
        .unwrap();
    let err = serve_refusal(&dir);
    assert!(err.contains("the log ends at entry 0"), "{err}");

    // Without the head file too, the accounts in bench.db still show it.
    std::fs::remove_file(dir.path.join("audit-head.json")).unwrap();
    let err = serve_refusal(&dir);
    assert!(err.contains("holds accounts but"), "{err}");

    // Restoring the log lets it start again.
    remove_audit_db(&dir);
    std::fs::copy(dir.path.join("saved.db"), dir.path.join("audit.db")).unwrap();
    let (ok, _, err) = verify(&dir);
    assert!(!ok, "the head file is still gone");
    assert!(err.contains("audit-head.json is missing"), "{err}");

    // `audit anchor` verifies the log and keeps its head outside it again,
    // once; after that it refuses.
    let anchor = || run(&["audit", "anchor", "--data-dir", dir.arg()], None);
    let (ok, out, err) = anchor();
    assert!(ok, "{out}\n{err}");
    let (ok, out, err) = verify(&dir);
    assert!(ok, "{out}\n{err}");
    let (ok, _, err) = anchor();
    assert!(!ok && err.contains("already exists"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_refuses_to_make_a_new_signing_key_when_it_is_lost() {
    let dir = busy_log().await;
    std::fs::remove_file(dir.path.join("audit-signing.key")).unwrap();
    let err = serve_refusal(&dir);
    assert!(
        err.contains("audit signing key") && err.contains("restore it"),
        "{err}"
    );
    assert!(!dir.path.join("audit-signing.key").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn device_entries_dated_over_a_day_ahead_or_before_2020_are_refused() {
    use bench_protocol::api::{DeviceAuditEntry, DeviceAuditResponse, DeviceAuditUpload};
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let api = signed_in(&dir, &server, "amina").await;
    let upload = |occurred_at: &str| DeviceAuditUpload {
        entries: vec![DeviceAuditEntry {
            entry_id: Uuid::new_v4(),
            occurred_at: occurred_at.into(),
            kind: "note_edited".into(),
            record_id: None,
            change_id: None,
        }],
    };
    let year_ahead = time::OffsetDateTime::now_utc() + time::Duration::days(2);
    let ahead = year_ahead
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    for when in [
        ahead.as_str(),
        "2019-12-31T23:59:59Z",
        "1970-01-01T00:00:00Z",
    ] {
        let (status, e) = api
            .post::<DeviceAuditResponse, _>(routes::AUDIT_UPLOAD, &upload(when))
            .await
            .unwrap_err();
        assert_eq!(status, 400, "{when}");
        assert!(e.message.contains("clock"), "{}", e.message);
    }
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::hours(3))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let ok: DeviceAuditResponse = api
        .post(routes::AUDIT_UPLOAD, &upload(&soon))
        .await
        .unwrap();
    assert_eq!(ok.stored, 1, "a clock a few hours ahead is tolerated");
}
