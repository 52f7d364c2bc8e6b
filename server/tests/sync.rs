//! Push and pull against the real binary: at-most-once changes, versions,
//! conflicts kept, signed notes immutable, size limits, ownership.

mod common;

use bench_protocol::api::{
    routes, Change, ChangeOutcome, ClientDetail, ClientSummary, ErrorCode, PullResponse,
    PushRequest, PushResponse, RejectCode, MAX_NOTE_BYTES,
};
use bench_protocol::{ClientRecord, NoteStatus, Record, SessionNote};
use common::*;
use uuid::Uuid;

fn client(id: Uuid, name: &str) -> Record {
    Record::Client(ClientRecord {
        id,
        full_name: name.into(),
        date_of_birth: Some("1990-05-01".into()),
        contact: None,
        created_at: "2026-01-01T08:00:00Z".into(),
    })
}

fn note(id: Uuid, client_id: Uuid, body: String, signed: bool) -> Record {
    Record::Note(SessionNote {
        id,
        client_id,
        session_date: "2026-01-02".into(),
        body,
        status: if signed {
            NoteStatus::Signed
        } else {
            NoteStatus::Draft
        },
        created_at: "2026-01-02T09:00:00Z".into(),
        updated_at: "2026-01-02T10:00:00Z".into(),
        signed_at: signed.then(|| "2026-01-02T10:00:00Z".to_string()),
    })
}

fn change(base_version: Option<i64>, record: Record) -> Change {
    Change {
        change_id: Uuid::new_v4(),
        base_version,
        record,
    }
}

async fn push(api: &Api, changes: Vec<Change>) -> Vec<ChangeOutcome> {
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
    res.results.into_iter().map(|r| r.outcome).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn pushed_records_come_back_in_a_pull_and_a_retried_push_is_not_duplicated() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let api = signed_in(&dir, &server, "amina").await;
    let client_id = Uuid::new_v4();
    let note_id = Uuid::new_v4();
    let batch = vec![
        change(None, client(client_id, "Synthetic Client One")),
        change(
            None,
            note(note_id, client_id, "synthetic session text".into(), false),
        ),
    ];
    assert_eq!(
        push(&api, batch.clone()).await,
        vec![
            ChangeOutcome::Applied { version: 1 },
            ChangeOutcome::Applied { version: 1 }
        ]
    );
    // The same batch again, as after a lost response, and twice at once.
    let (a, b) = tokio::join!(push(&api, batch.clone()), push(&api, batch.clone()));
    for outcomes in [a, b] {
        assert_eq!(
            outcomes,
            vec![
                ChangeOutcome::AlreadyApplied { version: 1 },
                ChangeOutcome::AlreadyApplied { version: 1 }
            ]
        );
    }

    let page: PullResponse = api
        .get(&format!("{}?after=0", routes::SYNC_PULL))
        .await
        .unwrap();
    assert_eq!(page.changes.len(), 2);
    assert!(!page.more);
    assert_eq!(page.changes[0].record, batch[0].record);
    assert_eq!(page.changes[1].record, batch[1].record);
    assert!(page.changes[0].cursor < page.changes[1].cursor);

    // An edit at the current version applies as version 2 and is all a pull
    // from the last cursor returns.
    let edited = note(
        note_id,
        client_id,
        "synthetic session text, edited".into(),
        false,
    );
    assert_eq!(
        push(&api, vec![change(Some(1), edited.clone())]).await,
        vec![ChangeOutcome::Applied { version: 2 }]
    );
    let next: PullResponse = api
        .get(&format!("{}?after={}", routes::SYNC_PULL, page.next_cursor))
        .await
        .unwrap();
    assert_eq!(next.changes.len(), 1);
    assert_eq!(
        (next.changes[0].version, &next.changes[0].record),
        (2, &edited)
    );

    // Paging: limit 1 says there is more.
    let first: PullResponse = api
        .get(&format!("{}?after=0&limit=1", routes::SYNC_PULL))
        .await
        .unwrap();
    assert_eq!(first.changes.len(), 1);
    assert!(first.more);

    let list: Vec<ClientSummary> = api.get(routes::CLIENTS).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].note_count, list[0].version), (1, 1));
    let detail: ClientDetail = api.get(&routes::client(client_id)).await.unwrap();
    assert_eq!(detail.notes.len(), 1);
    assert_eq!(Record::Note(detail.notes[0].clone()), edited);

    // Patient data stays out of the log.
    let log = server.log();
    assert!(!log.contains("Synthetic Client One") && !log.contains("synthetic session text"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_edit_is_answered_with_a_conflict_and_both_versions_are_kept() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let api = signed_in(&dir, &server, "baraka").await;
    let client_id = Uuid::new_v4();
    let note_id = Uuid::new_v4();
    push(
        &api,
        vec![change(None, client(client_id, "Synthetic Client Two"))],
    )
    .await;
    push(
        &api,
        vec![change(None, note(note_id, client_id, "v1".into(), false))],
    )
    .await;
    let laptop = note(note_id, client_id, "edited on the laptop".into(), false);
    assert_eq!(
        push(&api, vec![change(Some(1), laptop.clone())]).await,
        vec![ChangeOutcome::Applied { version: 2 }]
    );

    // The tablet still thinks version 1 is current.
    let tablet = change(
        Some(1),
        note(note_id, client_id, "edited on the tablet".into(), false),
    );
    let outcome = push(&api, vec![tablet.clone()]).await;
    assert_eq!(
        outcome,
        vec![ChangeOutcome::Conflict {
            server_version: 2,
            server: laptop.clone()
        }]
    );
    // A retried conflicting change is answered the same and stored once.
    assert_eq!(push(&api, vec![tablet.clone()]).await, outcome);
    // A create for an id that exists is a conflict too.
    let recreate = push(
        &api,
        vec![change(
            None,
            note(note_id, client_id, "again".into(), false),
        )],
    )
    .await;
    assert!(
        matches!(
            recreate[0],
            ChangeOutcome::Conflict {
                server_version: 2,
                ..
            }
        ),
        "{recreate:?}"
    );

    // The server's copy is unchanged, and the tablet's copy is kept aside.
    let detail: ClientDetail = api.get(&routes::client(client_id)).await.unwrap();
    assert_eq!(Record::Note(detail.notes[0].clone()), laptop);
    let db = rusqlite::Connection::open(dir.path.join("bench.db")).unwrap();
    let kept: Vec<(String, Option<i64>, i64)> = db
        .prepare("SELECT change_id, base_version, server_version FROM conflicts WHERE record_id = ?1 ORDER BY id")
        .unwrap()
        .query_map([note_id.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert_eq!(kept[0], (tablet.change_id.to_string(), Some(1), 2));
    // Kept sealed: the text is not readable in the file.
    let raw = std::fs::read(dir.path.join("bench.db")).unwrap();
    let wal = std::fs::read(dir.path.join("bench.db-wal")).unwrap_or_default();
    let needle = b"edited on the tablet";
    assert!(
        !raw.windows(needle.len()).any(|w| w == needle)
            && !wal.windows(needle.len()).any(|w| w == needle)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_note_cannot_change_and_an_oversized_note_is_refused_alone() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let api = signed_in(&dir, &server, "chebet").await;
    let client_id = Uuid::new_v4();
    let signed_id = Uuid::new_v4();
    push(
        &api,
        vec![change(None, client(client_id, "Synthetic Client Three"))],
    )
    .await;
    push(
        &api,
        vec![change(
            None,
            note(signed_id, client_id, "final".into(), true),
        )],
    )
    .await;

    let too_big = note(
        Uuid::new_v4(),
        client_id,
        "a".repeat(MAX_NOTE_BYTES + 1),
        false,
    );
    let fine = note(Uuid::new_v4(), client_id, "a short draft".into(), false);
    let outcomes = push(
        &api,
        vec![
            change(
                Some(1),
                note(signed_id, client_id, "altered after signing".into(), true),
            ),
            change(None, too_big),
            change(None, fine),
        ],
    )
    .await;
    assert!(
        matches!(
            outcomes[0],
            ChangeOutcome::Rejected {
                code: RejectCode::SignedNoteImmutable,
                ..
            }
        ),
        "{outcomes:?}"
    );
    assert!(
        matches!(
            outcomes[1],
            ChangeOutcome::Rejected {
                code: RejectCode::TooLarge,
                ..
            }
        ),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[2], ChangeOutcome::Applied { version: 1 });

    let detail: ClientDetail = api.get(&routes::client(client_id)).await.unwrap();
    assert_eq!(detail.notes.len(), 2);
    assert!(detail
        .notes
        .iter()
        .any(|n| n.id == signed_id && n.body == "final"));
}

#[tokio::test(flavor = "multi_thread")]
async fn another_practitioner_can_neither_read_my_client_nor_write_notes_for_them() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let mine = signed_in(&dir, &server, "dedan").await;
    let theirs = signed_in(&dir, &server, "esther").await;
    let client_id = Uuid::new_v4();
    push(
        &mine,
        vec![change(None, client(client_id, "Synthetic Client Four"))],
    )
    .await;

    let read: Answer<ClientDetail> = theirs.get(&routes::client(client_id)).await;
    let unknown: Answer<ClientDetail> = theirs.get(&routes::client(Uuid::new_v4())).await;
    let (status, err) = read.unwrap_err();
    assert_eq!((status, err.code), (404, ErrorCode::NotFound));
    assert_eq!(
        unknown.unwrap_err().1,
        err,
        "not-yours and not-there look the same"
    );

    let list: Vec<ClientSummary> = theirs.get(routes::CLIENTS).await.unwrap();
    assert!(list.is_empty());
    let pulled: PullResponse = theirs.get(routes::SYNC_PULL).await.unwrap();
    assert!(pulled.changes.is_empty());

    let outcome = push(
        &theirs,
        vec![change(
            None,
            note(Uuid::new_v4(), client_id, "intrusion".into(), false),
        )],
    )
    .await;
    assert!(
        matches!(
            outcome[0],
            ChangeOutcome::Rejected {
                code: RejectCode::Forbidden,
                ..
            }
        ),
        "{outcome:?}"
    );
    let edit = push(&theirs, vec![change(Some(1), client(client_id, "Renamed"))]).await;
    assert!(
        matches!(
            edit[0],
            ChangeOutcome::Rejected {
                code: RejectCode::Forbidden,
                ..
            }
        ),
        "{edit:?}"
    );

    let detail: ClientDetail = mine.get(&routes::client(client_id)).await.unwrap();
    assert!(detail.notes.is_empty());
    assert_eq!(detail.client.full_name, "Synthetic Client Four");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_is_a_400_with_an_api_error_and_changes_nothing() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let api = signed_in(&dir, &server, "faith").await;
    let bad: Answer<PushResponse> = api
        .post_raw(routes::SYNC_PUSH, "{\"changes\": [ {\"oops\"")
        .await;
    let (status, err) = bad.unwrap_err();
    assert_eq!((status, err.code), (400, ErrorCode::BadRequest));
    let wrong_shape: Answer<PushResponse> =
        api.post_raw(routes::SYNC_PUSH, "{\"changes\": 7}").await;
    assert_eq!(wrong_shape.unwrap_err().0, 400);
    let pulled: PullResponse = api.get(routes::SYNC_PULL).await.unwrap();
    assert!(pulled.changes.is_empty());

    let no_session = server.client();
    let refused: Answer<PushResponse> = no_session
        .post(
            routes::SYNC_PUSH,
            &PushRequest {
                changes: vec![],
                audit: vec![],
            },
        )
        .await;
    assert_eq!(refused.unwrap_err().1.code, ErrorCode::SessionExpired);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_record_fields_are_rejected_one_by_one_and_the_rest_of_the_batch_applies() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let api = signed_in(&dir, &server, "amina").await;
    let good_client = Uuid::new_v4();
    let with_client = |f: &dyn Fn(&mut ClientRecord)| {
        let Record::Client(mut c) = client(Uuid::new_v4(), "Synthetic Client") else {
            unreachable!()
        };
        f(&mut c);
        change(None, Record::Client(c))
    };
    let with_note = |f: &dyn Fn(&mut SessionNote)| {
        let Record::Note(mut n) = note(Uuid::new_v4(), good_client, "synthetic".into(), false)
        else {
            unreachable!()
        };
        f(&mut n);
        change(None, Record::Note(n))
    };
    let batch = vec![
        change(None, client(good_client, "Synthetic Client")),
        with_note(&|n| n.session_date = "2026-13-45".into()),
        with_client(&|c| c.created_at = "yesterday".into()),
        with_client(&|c| c.date_of_birth = Some("not a date".into())),
        with_client(&|c| c.full_name = "x".repeat(20 * 1024 * 1024)),
        with_client(&|c| c.full_name = String::new()),
        with_client(&|c| c.full_name = "Synthetic\0Client".into()),
        with_client(&|c| c.full_name = "Synthetic \u{202E}tneilC".into()),
        with_client(&|c| c.full_name = "Synthetic \u{2067}Client".into()),
        with_note(&|n| n.signed_at = Some("2026-01-02T10:00:00Z".into())),
        with_note(&|n| n.status = NoteStatus::Signed),
        with_note(&|_| {}),
    ];
    let outcomes = push(&api, batch).await;
    assert_eq!(outcomes.len(), 12);
    assert_eq!(outcomes[0], ChangeOutcome::Applied { version: 1 });
    assert_eq!(outcomes[11], ChangeOutcome::Applied { version: 1 });
    for (i, o) in outcomes[1..11].iter().enumerate() {
        match o {
            ChangeOutcome::Rejected {
                code: RejectCode::Invalid,
                reason,
            } => {
                assert!(
                    !reason.is_empty() && !reason.contains("Synthetic"),
                    "{reason}"
                );
            }
            other => panic!(
                "change {} should be rejected as invalid, got {other:?}",
                i + 1
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn implausible_dates_are_rejected_as_invalid_on_that_record_only() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let api = signed_in(&dir, &server, "amina").await;
    let good_client = Uuid::new_v4();
    let with_dob = |dob: &str| {
        let Record::Client(mut c) = client(Uuid::new_v4(), "Synthetic Client") else {
            unreachable!()
        };
        c.date_of_birth = Some(dob.into());
        change(None, Record::Client(c))
    };
    let on = |date: &str| {
        let Record::Note(mut n) = note(Uuid::new_v4(), good_client, "synthetic".into(), false)
        else {
            unreachable!()
        };
        n.session_date = date.into();
        change(None, Record::Note(n))
    };
    let batch = vec![
        change(None, client(good_client, "Synthetic Client")),
        with_dob("2999-01-01"),
        with_dob("0000-01-01"),
        on("9999-12-31"),
        on("1899-12-31"),
        with_dob("1900-01-01"),
        on("2026-01-02"),
    ];
    let outcomes = push(&api, batch).await;
    assert_eq!(outcomes[0], ChangeOutcome::Applied { version: 1 });
    for (i, field_words) in [
        (1, "date of birth"),
        (2, "date of birth"),
        (3, "session date"),
        (4, "session date"),
    ] {
        match &outcomes[i] {
            ChangeOutcome::Rejected {
                code: RejectCode::Invalid,
                reason,
            } => assert!(
                reason.contains(field_words) && reason.contains("1900-01-01"),
                "{reason}"
            ),
            other => panic!("change {i} should be rejected as invalid, got {other:?}"),
        }
    }
    assert_eq!(outcomes[5], ChangeOutcome::Applied { version: 1 });
    assert_eq!(outcomes[6], ChangeOutcome::Applied { version: 1 });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pull_page_of_large_notes_stays_within_its_byte_bound_and_every_note_arrives() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let api = signed_in(&dir, &server, "amina").await;
    let client_id = Uuid::new_v4();
    push(
        &api,
        vec![change(None, client(client_id, "Synthetic Client"))],
    )
    .await;
    let big = 7 * 1024 * 1024;
    let mut ids = Vec::new();
    for i in 0..5u8 {
        let id = Uuid::new_v4();
        ids.push(id);
        let body = char::from(b'a' + i).to_string().repeat(big);
        let out = push(&api, vec![change(None, note(id, client_id, body, false))]).await;
        assert_eq!(out, vec![ChangeOutcome::Applied { version: 1 }]);
    }
    let mut after = 0;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let res = api
            .http
            .get(server.url(&format!("{}?after={after}&limit=500", routes::SYNC_PULL)))
            .bearer_auth(api.token.clone().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let bytes = res.bytes().await.unwrap();
        assert!(
            bytes.len() <= 16 * 1024 * 1024 + 64 * 1024,
            "a pull page of {} bytes",
            bytes.len()
        );
        let page: PullResponse = serde_json::from_slice(&bytes).unwrap();
        assert!(!page.changes.is_empty(), "every page makes progress");
        seen.extend(page.changes.iter().map(|c| c.record.id()));
        after = page.next_cursor;
        pages += 1;
        if !page.more {
            break;
        }
        assert!(pages < 10);
    }
    assert!(pages >= 3, "35 MiB of notes take at least three pages");
    for id in ids {
        assert!(seen.contains(&id));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pull_limit_outside_its_range_is_refused_with_the_range_named() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let api = signed_in(&dir, &server, "amina").await;
    let max = bench_protocol::api::MAX_PULL_LIMIT;
    let one_too_many = (max + 1).to_string();
    for limit in ["100000000000", "0", &one_too_many, "-3", "ten"] {
        let (status, e) = api
            .get::<PullResponse>(&format!("{}?after=0&limit={limit}", routes::SYNC_PULL))
            .await
            .unwrap_err();
        assert_eq!((status, e.code), (400, ErrorCode::BadRequest), "{limit}");
        let range = format!("from 1 to {max}");
        assert!(e.message.contains(&range), "{}", e.message);
    }
    let (status, e) = api
        .get::<PullResponse>(&format!("{}?after=-1", routes::SYNC_PULL))
        .await
        .unwrap_err();
    assert_eq!(status, 400);
    assert!(e.message.contains("0 or more"), "{}", e.message);
    let _: PullResponse = api
        .get(&format!("{}?after=0&limit=500", routes::SYNC_PULL))
        .await
        .unwrap();
}

/// Pull answers come gzip-compressed when the device accepts gzip (a first
/// sync on a slow link is mostly note text), plain when it does not; the
/// answer that carries the session token is never compressed (BREACH: no
/// secret in a compressed answer).
#[tokio::test(flavor = "multi_thread")]
async fn pull_answers_are_gzipped_when_accepted_and_the_session_token_never_is() {
    use bench_protocol::api::{LoginResponse, SessionInfo, TotpRequest};
    use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING};

    let dir = DataDir::init();
    let server = Server::start(&dir);
    let (password, secret) = dir.add_user("amina", true);
    let raw = client_keeping_gzip(&server.ca);
    let mut api = server.client();
    let Ok(LoginResponse::TotpRequired { challenge }) = api.login("amina", &password).await else {
        panic!("expected a TOTP challenge");
    };
    let answer = raw
        .post(server.url(routes::TOTP))
        .header(ACCEPT_ENCODING, "gzip")
        .json(&TotpRequest {
            challenge,
            code: oathtool(&secret.unwrap()),
        })
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    assert_eq!(answer.headers().get(CONTENT_ENCODING), None);
    let session: SessionInfo = answer.json().await.unwrap();
    api.token = Some(session.token.clone());

    let client_id = Uuid::new_v4();
    let mut records = vec![client(client_id, "Synthetic Gzip-Client")];
    for i in 0..20 {
        let body = format!("Session {i}: discussed sleep, work stress and the breathing plan. ")
            .repeat(20);
        records.push(note(Uuid::new_v4(), client_id, body, true));
    }
    let changes: Vec<Change> = records.into_iter().map(|r| change(None, r)).collect();
    let _: PushResponse = api
        .post(
            routes::SYNC_PUSH,
            &serde_json::json!({ "changes": changes }),
        )
        .await
        .unwrap();

    let pull = || {
        raw.get(server.url(&format!("{}?after=0&limit=100", routes::SYNC_PULL)))
            .bearer_auth(&session.token)
    };
    let gzipped = pull().header(ACCEPT_ENCODING, "gzip").send().await.unwrap();
    assert_eq!(gzipped.headers()[CONTENT_ENCODING], "gzip");
    let gzipped = gzipped.bytes().await.unwrap().len();
    let plain = pull().send().await.unwrap();
    assert_eq!(plain.headers().get(CONTENT_ENCODING), None);
    let plain = plain.bytes().await.unwrap();
    let page: PullResponse = serde_json::from_slice(&plain).unwrap();
    assert_eq!(page.changes.len(), 21);
    assert!(gzipped * 4 < plain.len(), "{gzipped} vs {}", plain.len());
}

/// Like `tls13_client`, but answers stay as the server sent them.
fn client_keeping_gzip(ca: &std::path::Path) -> reqwest::Client {
    let pem = std::fs::read(ca).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .no_gzip()
        .build()
        .unwrap()
}
