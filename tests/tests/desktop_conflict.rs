//! The desktop app end to end, for a draft edited on two devices: the real
//! window shows both versions side by side, one click keeps one, and the
//! choice reaches the server and the other device.
//!
//! The other device is the client core itself (the same code the app
//! runs), with an in-memory keyring. Run through `scripts/test.sh` (or
//! `scripts/with-keyring.sh scripts/with-display.sh`), which provides the
//! display and keyring for the app.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bench_client::idle::SystemClock;
use bench_client::keys::KdfParams;
use bench_client::{Config, Core};
use bench_e2e::api::Api;
use bench_e2e::driver::{
    add_client, click, find, screenshot, sign_in, type_into, wait_text, TauriDriver,
};
use bench_e2e::keyring::MemoryKeyring;
use bench_e2e::server::{TestAccount, TestServer};
use bench_protocol::desktop::{DraftInput, RecordSync, SyncStatus};
use bench_protocol::Record;

fn screenshot_dir() -> PathBuf {
    std::env::var_os("BENCH_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let exe = std::env::current_exe().unwrap();
            exe.parent().unwrap().parent().unwrap().join("screenshots")
        })
}

/// The practitioner's second device, signed in.
async fn second_device(
    server: &TestServer,
    account: &mut TestAccount,
    dir: &std::path::Path,
) -> Core {
    let config = Config {
        server_url: server.url.clone(),
        ca_cert_path: Some(server.ca_pem.clone()),
        data_dir: dir.to_path_buf(),
        idle_timeout: Duration::from_secs(30 * 60),
        device_name: "second laptop".into(),
    };
    let core = Core::with_parts(
        config,
        Arc::new(MemoryKeyring::default()),
        KdfParams::FAST_INSECURE_FOR_TESTS,
        Arc::new(SystemClock),
    )
    .unwrap();
    core.sign_in(&account.username, &account.password)
        .await
        .unwrap();
    let code = account.codes.fresh_code(&account.totp_secret);
    core.submit_code(&code).await.unwrap();
    core
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs an X display and the Secret Service: run through scripts/test.sh"]
async fn a_draft_edited_on_two_devices_shows_both_versions_side_by_side_and_one_click_settles_it() {
    let server = TestServer::start_new();
    let mut account = server.add_practitioner("wambui", "Wambui Synthetic");
    let client_data = tempfile::tempdir().unwrap();
    let other_data = tempfile::tempdir().unwrap();
    let driver = TauriDriver::for_server(&server, client_data.path());
    let app = driver.launch_app().await;

    sign_in(&app, &mut account).await;

    // A client and a draft, synced.
    add_client(&app, "Muthoni Synthetic").await;
    click(&app, ".client-row").await;
    click(&app, "#new-note").await;
    type_into(&app, "#note-body", "Synthetic first draft.").await;
    click(&app, "#save-draft").await;
    wait_text(&app, ".note .note-status", "Draft", |t| t == "Draft").await;
    click(&app, "#sync-now").await;
    wait_text(&app, "#sync-status", "Synced", |t| t == "Synced").await;

    // The second device changes the draft and syncs first.
    let other = second_device(&server, &mut account, other_data.path()).await;
    assert_eq!(other.sync_now().await.unwrap(), SyncStatus::Synced);
    let client = other.list_clients("").unwrap().remove(0).client;
    let note = other.open_client(client.id).unwrap().notes.remove(0).note;
    let theirs_text = "Synthetic edit from the second laptop: sleep improving.";
    other
        .save_draft(DraftInput {
            note_id: Some(note.id),
            client_id: client.id,
            session_date: note.session_date.clone(),
            body: theirs_text.into(),
        })
        .unwrap();
    assert_eq!(other.sync_now().await.unwrap(), SyncStatus::Synced);

    // The window's own edit then meets it: both versions, side by side.
    let mine_text = "Synthetic edit in the window: homework <agreed> & booked.";
    click(&app, ".edit-note").await;
    type_into(&app, "#note-body", mine_text).await;
    click(&app, "#save-draft").await;
    click(&app, "#sync-now").await;
    wait_text(&app, "#sync-status", "1 conflict", |t| {
        t.starts_with("1 conflict")
    })
    .await;

    // From the header, the client list says where the conflict is.
    click(&app, "#show-trouble").await;
    wait_text(&app, ".client-row .client-conflicts", "the marker", |t| {
        t == "1 note in conflict"
    })
    .await;
    click(&app, ".client-row").await;
    wait_text(&app, ".conflict-mine .note-body", "my version", |t| {
        t == mine_text
    })
    .await;
    wait_text(
        &app,
        ".conflict-theirs .conflict-body",
        "their version",
        |t| t == theirs_text,
    )
    .await;
    let label = find(&app, ".conflict-theirs .conflict-side")
        .await
        .text()
        .await
        .unwrap();
    assert!(label.starts_with("Other device · draft"), "{label}");
    find(&app, ".merge").await;
    screenshot(&screenshot_dir(), "conflict-side-by-side.png").await;

    // One click keeps the window's version; it syncs to the server and to
    // the second device.
    click(&app, ".keep-mine").await;
    wait_text(&app, ".note .note-sync", "waiting", |t| t == "waiting").await;
    click(&app, "#sync-now").await;
    wait_text(&app, "#sync-status", "Synced", |t| t == "Synced").await;
    let page = app.source().await.unwrap();
    assert!(!page.contains("conflict-theirs"), "the conflict is gone");

    assert_eq!(other.sync_now().await.unwrap(), SyncStatus::Synced);
    let on_other = other.open_client(client.id).unwrap().notes.remove(0);
    assert_eq!(on_other.note.body, mine_text);
    assert_eq!(on_other.sync, RecordSync::Synced);
    let mut api = Api::new(&server);
    api.sign_in(&mut account).await;
    let Some((_, Record::Note(on_server))) = api.latest_records().await.remove(&note.id) else {
        panic!("the note is on the server");
    };
    assert_eq!(on_server.body, mine_text);

    app.close().await.unwrap();
}
