//! The desktop app end to end: the real window (WebKitGTK under Xvfb) driven
//! over WebDriver, the real Secret Service, the real server over TLS 1.3,
//! TOTP codes from `oathtool`.
//!
//! Run through `scripts/test.sh`, which provides the display and keyring.

use std::path::PathBuf;
use std::time::Duration;

use bench_e2e::api::Api;
use bench_e2e::driver::{
    add_client, click, find, screenshot, sign_in, type_into, wait_text, TauriDriver,
};
use bench_e2e::server::TestServer;
use bench_protocol::NoteStatus;

/// Idle timeout for this test: short enough to wait for, long enough that
/// the steps before never pause that long.
const IDLE_TIMEOUT_SECS: u64 = 60;

fn screenshot_dir() -> PathBuf {
    std::env::var_os("BENCH_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let exe = std::env::current_exe().unwrap();
            exe.parent().unwrap().parent().unwrap().join("screenshots")
        })
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs an X display and the Secret Service: run through scripts/test.sh"]
async fn practitioner_signs_in_writes_notes_offline_syncs_and_unlocks_after_idle_lock() {
    let mut server = TestServer::start_new();
    let mut account = server.add_practitioner("amina", "Amina Otieno");
    let client_data = tempfile::tempdir().unwrap();
    let shots = screenshot_dir();

    let driver = TauriDriver::for_server_with(
        &server,
        client_data.path(),
        &[(
            "DOCTORS_BENCH_IDLE_TIMEOUT_SECS",
            &IDLE_TIMEOUT_SECS.to_string(),
        )],
    );
    let app = driver.launch_app().await;

    // Sign in: password, then a code from oathtool.
    let shown_server = find(&app, "#server-address").await.text().await.unwrap();
    assert!(
        shown_server.contains(&server.url),
        "sign-in shows the configured server"
    );
    type_into(&app, "#username", &account.username).await;
    type_into(&app, "#password", &account.password).await;
    screenshot(&shots, "sign-in.png").await;
    click(&app, "#sign-in").await;
    let code = account.codes.fresh_code(&account.totp_secret);
    type_into(&app, "#totp-code", &code).await;
    click(&app, "#submit-code").await;
    find(&app, "#sync-status").await;

    // Add a client and open them.
    add_client(&app, "Wanjiru Kamau").await;
    click(&app, ".client-row").await;
    wait_text(&app, "#client-name", "the client's name", |t| {
        t.contains("Wanjiru Kamau")
    })
    .await;

    // Write and sign a note; it syncs.
    let first_note = "Synthetic session one: discussed sleep routine.";
    click(&app, "#new-note").await;
    type_into(&app, "#note-body", first_note).await;
    click(&app, "#sign-note").await;
    wait_text(&app, ".note .note-status", "Signed", |t| t == "Signed").await;
    click(&app, "#sync-now").await;
    wait_text(&app, "#sync-status", "Synced", |t| t == "Synced").await;

    // The note arrived on the server, signed, with its text intact.
    let mut api = Api::new(&server);
    api.sign_in(&mut account).await;
    let clients = api.clients().await;
    assert_eq!(clients.len(), 1);
    assert_eq!(clients[0].client.full_name, "Wanjiru Kamau");
    let detail = api.client(clients[0].client.id).await;
    assert_eq!(detail.notes.len(), 1);
    assert_eq!(detail.notes[0].body, first_note);
    assert_eq!(detail.notes[0].status, NoteStatus::Signed);

    // Offline: the server is gone, the app keeps working and says so.
    server.stop();
    let second_note = "Synthetic session two: written while offline.";
    click(&app, "#new-note").await;
    type_into(&app, "#note-body", second_note).await;
    click(&app, "#save-draft").await;
    click(&app, "#sync-now").await;
    wait_text(&app, "#sync-status", "1 waiting", |t| {
        t.contains("1 waiting")
    })
    .await;
    screenshot(&shots, "client-notes.png").await;

    // Back online: the waiting note syncs.
    server.start();
    click(&app, "#sync-now").await;
    wait_text(&app, "#sync-status", "Synced", |t| t == "Synced").await;
    let detail = api.client(clients[0].client.id).await;
    assert_eq!(detail.notes.len(), 2);
    assert!(detail
        .notes
        .iter()
        .any(|n| n.body == second_note && n.status == NoteStatus::Draft));

    // No input for the idle timeout: the lock screen, with nothing clinical.
    tokio::time::sleep(Duration::from_secs(IDLE_TIMEOUT_SECS)).await;
    find(&app, "#lock-screen").await;
    let page = app.source().await.unwrap();
    assert!(
        !page.contains(first_note),
        "note text is gone from the window while locked"
    );
    assert!(
        !page.contains("Wanjiru"),
        "client names are gone from the window while locked"
    );
    screenshot(&shots, "lock-screen.png").await;

    // A wrong password keeps it locked; the right one unlocks, offline too.
    server.stop();
    type_into(&app, "#unlock-password", "not-the-password").await;
    click(&app, "#unlock").await;
    find(&app, "#error").await;
    find(&app, "#lock-screen").await;
    type_into(&app, "#unlock-password", &account.password).await;
    click(&app, "#unlock").await;
    wait_text(&app, ".client-row", "the client after unlock", |t| {
        t.contains("Wanjiru Kamau")
    })
    .await;
    app.close().await.unwrap();
    drop(driver);

    // A second device of the same practitioner: after sign-in, the client
    // and both notes arrive by sync and show without any search or reload.
    server.start();
    let second_device = tempfile::tempdir().unwrap();
    let driver = TauriDriver::for_server(&server, second_device.path());
    let app = driver.launch_app().await;
    sign_in(&app, &mut account).await;
    click(&app, "#sync-now").await;
    wait_text(&app, ".client-row", "the synced client", |t| {
        t.contains("Wanjiru Kamau")
    })
    .await;
    click(&app, ".client-row").await;
    wait_text(&app, ".note-body", "the synced notes", |t| {
        t == first_note || t == second_note
    })
    .await;
    let page = app.source().await.unwrap();
    assert!(
        page.contains(first_note) && page.contains(second_note),
        "both notes arrived"
    );

    app.close().await.unwrap();
}
