//! The desktop app end to end, for corrections: a signed note offers
//! "Add amendment", the amendment shows under the note as text and reaches
//! the server beside the unchanged note.
//!
//! Run through `scripts/test.sh` (or `scripts/with-keyring.sh
//! scripts/with-display.sh`), which provides the display and keyring.

use bench_e2e::api::Api;
use bench_e2e::driver::{add_client, click, find, sign_in, type_into, wait_text, TauriDriver};
use bench_e2e::server::TestServer;
use bench_protocol::{NoteStatus, Record};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs an X display and the Secret Service: run through scripts/test.sh"]
async fn a_signed_note_takes_an_amendment_shown_as_text_and_synced_beside_the_unchanged_note() {
    let server = TestServer::start_new();
    let mut account = server.add_practitioner("baraka", "Baraka Synthetic");
    let client_data = tempfile::tempdir().unwrap();
    let driver = TauriDriver::for_server(&server, client_data.path());
    let app = driver.launch_app().await;

    sign_in(&app, &mut account).await;

    add_client(&app, "Nyokabi Synthetic").await;
    click(&app, ".client-row").await;

    // A draft has nothing to amend; a signed note does.
    let note_text = "Synthetic session: talked about the new job.";
    click(&app, "#new-note").await;
    type_into(&app, "#note-body", note_text).await;
    click(&app, "#save-draft").await;
    wait_text(&app, ".note .note-status", "Draft", |t| t == "Draft").await;
    let page = app.source().await.unwrap();
    assert!(
        !page.contains("add-amendment"),
        "a draft offers no amendment"
    );
    click(&app, "#sign-note").await;
    wait_text(&app, ".note .note-status", "Signed", |t| t == "Signed").await;

    // Markup in the correction must come out as the characters typed.
    let correction = "Correction: the job starts in <b>May</b> & not June.";
    click(&app, ".add-amendment").await;
    type_into(&app, ".amendment-body", correction).await;
    click(&app, ".save-amendment").await;
    wait_text(
        &app,
        "li.amendment .amendment-body-text",
        "the amendment as typed",
        |t| t == correction,
    )
    .await;
    let date = find(&app, "li.amendment .amendment-date")
        .await
        .text()
        .await
        .unwrap();
    assert!(date.starts_with("Amended 20"), "{date}");
    assert_eq!(
        find(&app, ".note .note-body").await.text().await.unwrap(),
        note_text,
        "the signed note's text is unchanged"
    );

    click(&app, "#sync-now").await;
    wait_text(&app, "#sync-status", "Synced", |t| t == "Synced").await;
    app.close().await.unwrap();
    drop(driver);

    // On the server: the signed note as signed, and the amendment beside it.
    let mut api = Api::new(&server);
    api.sign_in(&mut account).await;
    let records = api.latest_records().await;
    let note = records
        .values()
        .find_map(|(_, r)| match r {
            Record::Note(n) => Some(n.clone()),
            _ => None,
        })
        .expect("the note reached the server");
    assert_eq!(
        (note.body.as_str(), note.status),
        (note_text, NoteStatus::Signed)
    );
    let amendments: Vec<_> = records
        .values()
        .filter_map(|(_, r)| match r {
            Record::Amendment(a) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(amendments.len(), 1);
    assert_eq!(amendments[0].body, correction);
    assert_eq!(amendments[0].note_id, note.id);
}
