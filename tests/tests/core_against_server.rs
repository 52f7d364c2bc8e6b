//! The client core end to end against the real `bench-server`, on loopback.
//!
//! The server, accounts, TOTP codes (from `oathtool`, an implementation
//! independent of the server's) and the in-memory device keyring are the
//! shared `bench_e2e` pieces. The server binary must be built first
//! (`scripts/test.sh` builds every binary before testing).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bench_client::idle::SystemClock;
use bench_client::keys::KdfParams;
use bench_client::{Config, Core, CoreError};
use bench_e2e::keyring::MemoryKeyring;
use bench_e2e::logs::{self, Captured};
use bench_e2e::server::{TestAccount, TestServer};
use bench_e2e::totp;
use bench_protocol::desktop::{AppState, DraftInput, NewClient, RecordSync, SyncStatus};

const CLIENT_NAME: &str = "Chebet Synthetic-Langat";
const NOTE_TEXT: &str = "Discussed exam stress; breathing exercise went well.";
const EDIT_A: &str = "Edited on the first laptop: homework set.";
const EDIT_B: &str = "Edited on the second laptop offline: follow-up booked.";

fn device(server: &TestServer, data_dir: &Path) -> Core {
    let config = Config {
        server_url: server.url.clone(),
        ca_cert_path: Some(server.ca_pem.clone()),
        data_dir: data_dir.to_path_buf(),
        idle_timeout: Duration::from_secs(30 * 60),
        device_name: "test laptop".into(),
    };
    Core::with_parts(
        config,
        Arc::new(MemoryKeyring::default()),
        KdfParams::FAST_INSECURE_FOR_TESTS,
        Arc::new(SystemClock),
    )
    .unwrap()
}

async fn sign_in(core: &Core, account: &mut TestAccount) {
    let state = core
        .sign_in(&account.username, &account.password)
        .await
        .unwrap();
    assert_eq!(
        state,
        AppState::AwaitingCode {
            username: account.username.clone()
        }
    );
    let code = account.codes.fresh_code(&account.totp_secret);
    let state = core.submit_code(&code).await.unwrap();
    assert!(matches!(state, AppState::Unlocked { .. }), "{state:?}");
}

fn capture_logs() -> Captured {
    logs::capture(tracing::Level::TRACE)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_sync_through_the_server_keep_both_sides_of_a_conflict_and_work_offline() {
    let logs = capture_logs();
    let mut server = TestServer::start_new();
    let mut account = server.add_practitioner("wanjiku", "Dr Synthetic");
    let password = account.password.clone();
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    // Device A: first sign-in creates the vault; writes sync up.
    let a = device(&server, dirs.0.path());
    sign_in(&a, &mut account).await;
    assert_eq!(a.sync_status(), SyncStatus::Synced);
    let client = a
        .add_client(NewClient {
            full_name: CLIENT_NAME.into(),
            date_of_birth: None,
            contact: None,
        })
        .unwrap();
    let note = a
        .save_draft(DraftInput {
            note_id: None,
            client_id: client.id,
            session_date: "2026-03-02".into(),
            body: NOTE_TEXT.into(),
        })
        .unwrap();
    assert_eq!(a.sync_status(), SyncStatus::Waiting { pending: 2 });
    assert_eq!(a.sync_now().await.unwrap(), SyncStatus::Synced);
    assert_eq!(
        a.open_client(client.id).unwrap().notes[0].sync,
        RecordSync::Synced
    );

    // Device B: its own vault, filled by pulling.
    let b = device(&server, dirs.1.path());
    sign_in(&b, &mut account).await;
    assert_eq!(b.sync_now().await.unwrap(), SyncStatus::Synced);
    let on_b = b.open_client(client.id).unwrap();
    assert_eq!(on_b.client.full_name, CLIENT_NAME);
    assert_eq!(on_b.notes[0].note.body, NOTE_TEXT);

    // Both edit the same draft; A syncs first, so B's push is a conflict.
    let edit = |body: &str| DraftInput {
        note_id: Some(note.note.id),
        client_id: client.id,
        session_date: "2026-03-02".into(),
        body: body.into(),
    };
    a.save_draft(edit(EDIT_A)).unwrap();
    b.save_draft(edit(EDIT_B)).unwrap();
    assert_eq!(a.sync_now().await.unwrap(), SyncStatus::Synced);
    assert!(matches!(
        b.sync_now().await.unwrap(),
        SyncStatus::Conflict { conflicts: 1, .. }
    ));
    let on_b = b.open_client(client.id).unwrap().notes.remove(0);
    assert_eq!(on_b.sync, RecordSync::Conflict);
    assert_eq!(on_b.note.body, EDIT_B, "the local text stays");
    assert_eq!(
        on_b.conflict_body.as_deref(),
        Some(EDIT_A),
        "the server's text is kept too"
    );

    // Saving again on B settles it in B's favour, against the server's version.
    b.save_draft(edit(EDIT_B)).unwrap();
    assert_eq!(b.sync_now().await.unwrap(), SyncStatus::Synced);
    assert_eq!(a.sync_now().await.unwrap(), SyncStatus::Synced);
    assert_eq!(a.open_client(client.id).unwrap().notes[0].note.body, EDIT_B);

    // The server goes away: work continues, then sign-in works offline.
    server.stop();
    let new_note = a
        .save_draft(DraftInput {
            note_id: None,
            client_id: client.id,
            session_date: "2026-03-09".into(),
            body: NOTE_TEXT.into(),
        })
        .unwrap();
    assert_eq!(
        a.sync_now().await.unwrap(),
        SyncStatus::Offline { pending: 1 }
    );
    a.sign_out().await;
    let state = a.sign_in("wanjiku", &password).await.unwrap();
    assert!(matches!(state, AppState::Unlocked { .. }), "{state:?}");
    assert_eq!(a.sync_status(), SyncStatus::Offline { pending: 1 });
    assert_eq!(a.open_client(client.id).unwrap().notes.len(), 2);
    assert!(a
        .open_client(client.id)
        .unwrap()
        .notes
        .iter()
        .any(|n| n.note.id == new_note.note.id));

    let logs = logs.text();
    assert!(logs.contains("change synced"), "the cycle was logged");
    for secret in [
        "Chebet",
        "exam stress",
        "homework",
        "follow-up",
        password.as_str(),
        account.totp_secret.as_str(),
    ] {
        assert!(!logs.contains(secret), "{secret:?} leaked into the logs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_without_2fa_enrols_from_the_otpauth_uri_and_a_wrong_code_is_refused() {
    capture_logs();
    let server = TestServer::start_new();
    let password = server
        .add_account("otieno", "Dr Synthetic", "solo_practitioner", false)
        .password;
    let dir = tempfile::tempdir().unwrap();
    let core = device(&server, dir.path());

    assert!(matches!(
        core.sign_in("otieno", "not-the-password").await,
        Err(CoreError::BadCredentials(_))
    ));

    let AppState::AwaitingEnrolment { otpauth_uri, .. } =
        core.sign_in("otieno", &password).await.unwrap()
    else {
        panic!("an account without 2FA must enrol");
    };
    assert!(otpauth_uri.starts_with("otpauth://totp/"));
    assert!(matches!(
        core.submit_code("000000").await,
        Err(CoreError::BadCredentials(_))
    ));

    let mut codes = totp::CodeSource::default();
    let code = codes.fresh_code(&totp::secret_from_output(&otpauth_uri));
    let state = core.submit_code(&code).await.unwrap();
    assert!(matches!(state, AppState::Unlocked { .. }), "{state:?}");
}

/// The real wall clock moved by a settable number of seconds: this
/// computer's clock set wrong.
#[derive(Default)]
struct WrongClock(Mutex<i64>);

impl WrongClock {
    fn set_off_by(&self, secs: i64) {
        *self.0.lock().unwrap() = secs;
    }
}

impl bench_client::idle::Clock for WrongClock {
    fn now(&self) -> SystemTime {
        let off = *self.0.lock().unwrap();
        if off >= 0 {
            SystemTime::now() + Duration::from_secs(off as u64)
        } else {
            SystemTime::now() - Duration::from_secs(off.unsigned_abs())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_far_off_the_servers_is_named_plainly_at_sign_in_and_in_the_sync_status() {
    capture_logs();
    let server = TestServer::start_new();
    let mut account = server.add_practitioner("kamau", "Dr Synthetic");
    let password = account.password.clone();
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(WrongClock::default());
    let config = Config {
        server_url: server.url.clone(),
        ca_cert_path: Some(server.ca_pem.clone()),
        data_dir: dir.path().to_path_buf(),
        idle_timeout: Duration::from_secs(30 * 60),
        device_name: "test laptop".into(),
    };
    let core = Core::with_parts(
        config,
        Arc::new(MemoryKeyring::default()),
        KdfParams::FAST_INSECURE_FOR_TESTS,
        clock.clone(),
    )
    .unwrap();

    // Half a minute more than whole minutes: the server's Date has whole
    // seconds, so the count must not depend on where in a second we are.
    clock.set_off_by(20 * 60 + 30);
    let err = core.sign_in("kamau", &password).await.unwrap_err();
    assert!(matches!(err, CoreError::ClockOff(_)), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("This computer's clock is 20 minutes ahead of the clinic server's."),
        "{err}"
    );
    clock.set_off_by(-(45 * 60 + 30));
    let err = core.sign_in("kamau", &password).await.unwrap_err();
    assert!(err.to_string().contains("45 minutes behind"), "{err}");
    assert!(matches!(core.state(), AppState::SignedOut { .. }));

    // Within five minutes: sign-in works.
    clock.set_off_by(4 * 60);
    sign_in(&core, &mut account).await;
    assert_eq!(core.sync_now().await.unwrap(), SyncStatus::Synced);

    // The clock is changed while signed in (forward, less than the idle
    // timeout): the status says so, and changes still sync.
    clock.set_off_by(10 * 60 + 30);
    let status = core.sync_now().await.unwrap();
    assert_eq!(
        status,
        SyncStatus::ClockOff {
            minutes: 10,
            pending: 0
        }
    );
    // Set right again, the clock jumps back: the idle lock treats that as
    // a reason to lock; after unlocking, the status clears.
    clock.set_off_by(0);
    assert!(matches!(core.sync_now().await, Err(CoreError::Locked)));
    core.unlock(&password).unwrap();
    assert_eq!(core.sync_now().await.unwrap(), SyncStatus::Synced);
    // After a success the next background sync is the regular interval away.
    let delay = core.sync_delay();
    assert!(
        delay > bench_client::core::SYNC_INTERVAL - Duration::from_secs(5)
            && delay <= bench_client::core::SYNC_INTERVAL,
        "{delay:?}"
    );
    assert_eq!(core.sync_now().await.unwrap(), SyncStatus::Synced);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_client_arrives_on_the_colleagues_device_and_leaves_it_when_the_share_ends() {
    use bench_e2e::api::Api;
    use bench_protocol::api::{routes, Change, NewShare, PushRequest, PushResponse, Share};
    use bench_protocol::{ClientRecord, NoteStatus, Record, SessionNote};

    let server = TestServer::start_new();
    let mut owner = server.add_account("owner", "Dr Owner Synthetic", "clinic_practitioner", true);
    let mut colleague = server.add_account(
        "colleague",
        "Dr Colleague Synthetic",
        "clinic_practitioner",
        true,
    );

    // The owner's client and note reach the server from their own device.
    let mut owner_api = Api::new(&server);
    owner_api.sign_in(&mut owner).await;
    let client = ClientRecord {
        id: uuid::Uuid::new_v4(),
        full_name: CLIENT_NAME.into(),
        date_of_birth: None,
        contact: None,
        created_at: "2026-03-01T09:00:00Z".into(),
    };
    let note = SessionNote {
        id: uuid::Uuid::new_v4(),
        client_id: client.id,
        session_date: "2026-03-01".into(),
        body: NOTE_TEXT.into(),
        status: NoteStatus::Draft,
        created_at: "2026-03-01T10:00:00Z".into(),
        updated_at: "2026-03-01T10:00:00Z".into(),
        signed_at: None,
    };
    let changes = [Record::Client(client.clone()), Record::Note(note.clone())]
        .into_iter()
        .map(|record| Change {
            change_id: uuid::Uuid::new_v4(),
            base_version: None,
            record,
        })
        .collect();
    let pushed: PushResponse = owner_api
        .post_json(routes::SYNC_PUSH, &PushRequest { changes })
        .await;
    assert_eq!(pushed.results.len(), 2);

    // The colleague's device: nothing of the owner's yet.
    let dir = tempfile::tempdir().unwrap();
    let b = device(&server, dir.path());
    sign_in(&b, &mut colleague).await;
    let AppState::Unlocked { practitioner } = b.state() else {
        panic!("colleague signed in");
    };
    b.sync_now().await.unwrap();
    assert!(b.list_clients("").unwrap().is_empty());

    // Shared with consent: the client and the note arrive at the next sync.
    let share: Share = owner_api
        .post_json(
            routes::SHARES,
            &NewShare {
                client_id: client.id,
                grantee_id: practitioner.id,
                consent_reference: "consent form 17".into(),
            },
        )
        .await;
    b.sync_now().await.unwrap();
    let view = b.open_client(client.id).unwrap();
    assert_eq!(view.client.full_name, CLIENT_NAME);
    assert_eq!(view.notes.len(), 1);
    assert_eq!(view.notes[0].note.body, NOTE_TEXT);

    // The share ends: at the next sync the record leaves the device.
    let () = owner_api
        .post_json(&routes::share_revoke(share.id), &serde_json::json!({}))
        .await;
    b.sync_now().await.unwrap();
    assert!(b.list_clients("").unwrap().is_empty());
    assert!(matches!(
        b.open_client(client.id),
        Err(CoreError::NotFound(_))
    ));
}
