//! Amendments against the real binary: a signed note never changes, so a
//! correction is a record of its own, appended by the note's author only,
//! to a signed note only, final once stored, and pulled by everyone who
//! may read the note.

mod common;

use bench_protocol::api::{
    routes, Change, ChangeOutcome, ClientDetail, NewShare, NewSupervision, Practitioner,
    PullResponse, PushResponse, RejectCode, Share, Supervision, MAX_NOTE_BYTES,
};
use bench_protocol::{ClientRecord, NoteAmendment, NoteStatus, Record, SessionNote};
use common::*;
use uuid::Uuid;

fn client(id: Uuid) -> Record {
    Record::Client(ClientRecord {
        id,
        full_name: "Synthetic Amended Client".into(),
        date_of_birth: None,
        contact: None,
        created_at: "2026-02-01T08:00:00Z".into(),
    })
}

fn note(id: Uuid, client_id: Uuid, signed: bool) -> Record {
    Record::Note(SessionNote {
        id,
        client_id,
        session_date: "2026-02-02".into(),
        body: "synthetic signed session text".into(),
        status: if signed {
            NoteStatus::Signed
        } else {
            NoteStatus::Draft
        },
        created_at: "2026-02-02T09:00:00Z".into(),
        updated_at: "2026-02-02T10:00:00Z".into(),
        signed_at: signed.then(|| "2026-02-02T10:00:00Z".to_string()),
    })
}

fn amendment(note_id: Uuid, client_id: Uuid, body: &str) -> NoteAmendment {
    NoteAmendment {
        id: Uuid::new_v4(),
        note_id,
        client_id,
        body: body.into(),
        created_at: "2026-02-03T08:00:00Z".into(),
    }
}

fn change(base_version: Option<i64>, record: Record) -> Change {
    Change {
        change_id: Uuid::new_v4(),
        base_version,
        record,
    }
}

async fn push(api: &Api, changes: Vec<Change>) -> Vec<ChangeOutcome> {
    // Built as JSON so the request carries only what every server version
    // reads: the changes.
    let res: PushResponse = api
        .post(
            routes::SYNC_PUSH,
            &serde_json::json!({ "changes": changes }),
        )
        .await
        .unwrap();
    res.results.into_iter().map(|r| r.outcome).collect()
}

async fn pull_all(api: &Api) -> Vec<Record> {
    let mut after = 0;
    let mut records = Vec::new();
    loop {
        let page: PullResponse = api
            .get(&format!("{}?after={after}", routes::SYNC_PULL))
            .await
            .unwrap();
        records.extend(page.changes.into_iter().map(|c| c.record));
        after = page.next_cursor;
        if !page.more {
            return records;
        }
    }
}

fn amendments_in(records: &[Record]) -> Vec<&NoteAmendment> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Amendment(a) => Some(a),
            _ => None,
        })
        .collect()
}

fn rejected(outcome: &ChangeOutcome) -> (RejectCode, &str) {
    match outcome {
        ChangeOutcome::Rejected { code, reason } => (*code, reason.as_str()),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A practitioner with a client and a note (signed or not) on the server.
async fn with_note(api: &Api, signed: bool) -> (Uuid, Uuid) {
    let (client_id, note_id) = (Uuid::new_v4(), Uuid::new_v4());
    let outcomes = push(
        api,
        vec![
            change(None, client(client_id)),
            change(None, note(note_id, client_id, signed)),
        ],
    )
    .await;
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, ChangeOutcome::Applied { version: 1 })));
    (client_id, note_id)
}

async fn id_of(api: &Api) -> Uuid {
    api.get::<Practitioner>(routes::ME).await.unwrap().id
}

fn audit_events(dir: &DataDir, event: &str) -> Vec<Option<String>> {
    let db = rusqlite::Connection::open(dir.path.join("audit.db")).unwrap();
    let mut stmt = db
        .prepare("SELECT record_id FROM audit_log WHERE event = ?1 ORDER BY seq")
        .unwrap();
    let rows = stmt.query_map([event], |r| r.get(0)).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_amendment_to_a_signed_note_applies_and_pulls_beside_the_unchanged_note() {
    let dir = DataDir::init();
    let mut server = Server::start(&dir);
    let api = signed_in(&dir, &server, "amina").await;
    let (client_id, note_id) = (Uuid::new_v4(), Uuid::new_v4());
    let first = amendment(note_id, client_id, "synthetic correction: it was Tuesday");

    // Client, signed note and its amendment in one batch, as a device that
    // worked offline sends them.
    let outcomes = push(
        &api,
        vec![
            change(None, client(client_id)),
            change(None, note(note_id, client_id, true)),
            change(None, Record::Amendment(first.clone())),
        ],
    )
    .await;
    assert_eq!(outcomes, vec![ChangeOutcome::Applied { version: 1 }; 3]);
    let second = amendment(note_id, client_id, "synthetic second correction");
    assert_eq!(
        push(&api, vec![change(None, Record::Amendment(second.clone()))]).await,
        vec![ChangeOutcome::Applied { version: 1 }]
    );

    let records = pull_all(&api).await;
    assert!(records.contains(&note(note_id, client_id, true)));
    assert_eq!(amendments_in(&records), vec![&first, &second]);
    // Reading the client through the API shows the note with its corrections.
    let detail: ClientDetail = api.get(&routes::client(client_id)).await.unwrap();
    assert_eq!(detail.amendments, vec![first.clone(), second.clone()]);
    assert_eq!(
        detail
            .notes
            .into_iter()
            .map(Record::Note)
            .collect::<Vec<_>>(),
        vec![note(note_id, client_id, true)]
    );

    // Each amendment is audited as its own write, by id, without its text.
    server.stop();
    let amended = audit_events(&dir, "note_amended");
    assert_eq!(
        amended,
        vec![Some(first.id.to_string()), Some(second.id.to_string())]
    );
    assert!(!server.log().contains("synthetic correction"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_amendment_to_a_draft_or_an_unknown_note_is_refused_with_a_sentence() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let api = signed_in(&dir, &server, "amina").await;
    let (client_id, draft_id) = with_note(&api, false).await;

    let to_draft = amendment(draft_id, client_id, "synthetic correction of a draft");
    let to_nothing = amendment(Uuid::new_v4(), client_id, "synthetic correction of nothing");
    let outcomes = push(
        &api,
        vec![
            change(None, Record::Amendment(to_draft)),
            change(None, Record::Amendment(to_nothing)),
        ],
    )
    .await;
    let (code, reason) = rejected(&outcomes[0]);
    assert_eq!(code, RejectCode::Invalid);
    assert!(reason.contains("draft"), "{reason}");
    assert_eq!(rejected(&outcomes[1]).0, RejectCode::Forbidden);

    // Signing the draft is what makes it take amendments.
    let signed = note(draft_id, client_id, true);
    assert_eq!(
        push(&api, vec![change(Some(1), signed)]).await,
        vec![ChangeOutcome::Applied { version: 2 }]
    );
    let later = amendment(draft_id, client_id, "synthetic correction after signing");
    assert_eq!(
        push(&api, vec![change(None, Record::Amendment(later.clone()))]).await,
        vec![ChangeOutcome::Applied { version: 1 }]
    );
    assert_eq!(amendments_in(&pull_all(&api).await), vec![&later]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_amendment_cannot_be_edited_and_malformed_ones_are_refused() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let api = signed_in(&dir, &server, "amina").await;
    let (client_id, note_id) = with_note(&api, true).await;
    let original = amendment(note_id, client_id, "synthetic original correction");
    assert_eq!(
        push(
            &api,
            vec![change(None, Record::Amendment(original.clone()))]
        )
        .await,
        vec![ChangeOutcome::Applied { version: 1 }]
    );

    // Other text under the same id, as a new record or as an update.
    let mut rewritten = original.clone();
    rewritten.body = "synthetic rewritten correction".into();
    for base in [None, Some(1)] {
        let outcome = push(
            &api,
            vec![change(base, Record::Amendment(rewritten.clone()))],
        )
        .await;
        let (code, reason) = rejected(&outcome[0]);
        assert_eq!(code, RejectCode::SignedNoteImmutable);
        assert!(reason.contains("another amendment"), "{reason}");
    }
    // The same amendment under a new change id changes nothing.
    assert_eq!(
        push(
            &api,
            vec![change(None, Record::Amendment(original.clone()))]
        )
        .await,
        vec![ChangeOutcome::AlreadyApplied { version: 1 }]
    );
    // The signed note itself still refuses any change.
    let mut edited = note(note_id, client_id, true);
    if let Record::Note(n) = &mut edited {
        n.body = "synthetic silent rewrite".into();
    }
    let outcome = push(&api, vec![change(Some(1), edited)]).await;
    assert_eq!(rejected(&outcome[0]).0, RejectCode::SignedNoteImmutable);

    // Blank, oversized, or naming another client than its note's.
    let blank = amendment(note_id, client_id, " \n ");
    let huge = amendment(note_id, client_id, &"a".repeat(MAX_NOTE_BYTES + 1));
    let elsewhere = amendment(note_id, Uuid::new_v4(), "synthetic misfiled correction");
    let outcomes = push(
        &api,
        vec![
            change(None, Record::Amendment(blank)),
            change(None, Record::Amendment(huge)),
            change(None, Record::Amendment(elsewhere)),
        ],
    )
    .await;
    assert_eq!(rejected(&outcomes[0]).0, RejectCode::Invalid);
    assert_eq!(rejected(&outcomes[1]).0, RejectCode::TooLarge);
    assert_eq!(rejected(&outcomes[2]).0, RejectCode::Invalid);

    let records = pull_all(&api).await;
    assert_eq!(amendments_in(&records), vec![&original]);
    assert!(records.contains(&note(note_id, client_id, true)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_amendment_applies_exactly_once() {
    let dir = DataDir::init();
    let mut server = Server::start(&dir);
    let api = signed_in(&dir, &server, "amina").await;
    let (client_id, note_id) = with_note(&api, true).await;
    let batch = vec![change(
        None,
        Record::Amendment(amendment(
            note_id,
            client_id,
            "synthetic retried correction",
        )),
    )];

    assert_eq!(
        push(&api, batch.clone()).await,
        vec![ChangeOutcome::Applied { version: 1 }]
    );
    // Again, as after a lost answer, and twice at once.
    let (a, b) = tokio::join!(push(&api, batch.clone()), push(&api, batch.clone()));
    for outcomes in [a, b] {
        assert_eq!(outcomes, vec![ChangeOutcome::AlreadyApplied { version: 1 }]);
    }

    assert_eq!(amendments_in(&pull_all(&api).await).len(), 1);
    server.stop();
    assert_eq!(audit_events(&dir, "note_amended").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_author_may_amend_and_everyone_who_reads_the_note_pulls_the_amendment() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let author = signed_in_as(&dir, &server, "author", "clinic_practitioner").await;
    let colleague = signed_in_as(&dir, &server, "colleague", "clinic_practitioner").await;
    let supervisor = signed_in_as(&dir, &server, "supervisor", "supervisor").await;
    let stranger = signed_in_as(&dir, &server, "stranger", "solo_practitioner").await;
    let admin = signed_in_as(&dir, &server, "admin", "clinic_admin").await;
    let (author_id, colleague_id, supervisor_id) = (
        id_of(&author).await,
        id_of(&colleague).await,
        id_of(&supervisor).await,
    );

    let (client_id, note_id) = with_note(&author, true).await;
    let _: Share = author
        .post(
            routes::SHARES,
            &NewShare {
                client_id,
                grantee_id: colleague_id,
                consent_reference: "CF-0101".into(),
            },
        )
        .await
        .unwrap();
    let _: Supervision = admin
        .post(
            routes::SUPERVISION,
            &NewSupervision {
                supervisor_id,
                practitioner_id: author_id,
            },
        )
        .await
        .unwrap();

    // Reading is not writing: the colleague it is shared with and the
    // supervisor see the note but may not amend it; a stranger cannot
    // even tell it exists.
    for (who, api) in [
        ("colleague", &colleague),
        ("supervisor", &supervisor),
        ("stranger", &stranger),
    ] {
        let attempt = amendment(note_id, client_id, "synthetic correction by another");
        let outcome = push(api, vec![change(None, Record::Amendment(attempt))]).await;
        let (code, reason) = rejected(&outcome[0]);
        assert_eq!(code, RejectCode::Forbidden, "{who}");
        assert!(reason.contains("Only the practitioner"), "{who}: {reason}");
    }

    let correction = amendment(note_id, client_id, "synthetic author correction");
    assert_eq!(
        push(
            &author,
            vec![change(None, Record::Amendment(correction.clone()))]
        )
        .await,
        vec![ChangeOutcome::Applied { version: 1 }]
    );
    for (who, api) in [
        ("author", &author),
        ("colleague", &colleague),
        ("supervisor", &supervisor),
    ] {
        let records = pull_all(api).await;
        assert_eq!(amendments_in(&records), vec![&correction], "{who}");
        assert!(records.contains(&note(note_id, client_id, true)), "{who}");
    }
    assert!(pull_all(&stranger).await.is_empty());
}
