//! Unit tests of the facade without a server: offline sign-in, locking,
//! validation, and what reaches the logs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bench_protocol::api::Role;
use bench_protocol::desktop::ShellErrorKind;

use super::*;
use crate::keys::memory::MemoryStore;

const PASSWORD: &str = "synthetic-password-7781";
const CLIENT_NAME: &str = "Akinyi Synthetic-Odhiambo";
const NOTE_TEXT: &str = "Spoke about grief after the harvest; agreed weekly sessions.";

struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    core: Core,
    clock: Arc<ManualClock>,
    store: Arc<MemoryStore>,
}

/// A server address where nothing listens: every request is "offline".
fn unreachable_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("https://127.0.0.1:{port}")
}

fn fixture() -> Fixture {
    fixture_with(unreachable_url(), Arc::new(MemoryStore::default()))
}

/// A device with its own data folder, for a server and a keyring that may be
/// shared with other fixtures.
fn fixture_with(server_url: String, store: Arc<MemoryStore>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        server_url,
        ca_cert_path: None,
        data_dir: dir.path().to_path_buf(),
        idle_timeout: Duration::from_secs(30 * 60),
        device_name: "test laptop".into(),
    };
    let clock = Arc::new(ManualClock(Mutex::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
    )));
    let core = Core::with_parts(
        config,
        store.clone(),
        KdfParams::FAST_INSECURE_FOR_TESTS,
        clock.clone(),
    )
    .unwrap();
    Fixture {
        _dir: dir,
        core,
        clock,
        store,
    }
}

/// What an earlier online sign-in on this device leaves behind.
fn seed_vault_from_earlier_sign_in(f: &Fixture, username: &str) {
    seed_vault_with_role(f, username, Role::SoloPractitioner)
}

fn seed_vault_with_role(f: &Fixture, username: &str, role: Role) {
    let vault = open_vault(
        &f.core.config.vault_path(username),
        &*f.store,
        &f.core.account(username),
        PASSWORD,
        Some(KdfParams::FAST_INSECURE_FOR_TESTS),
    )
    .unwrap();
    let practitioner = Practitioner {
        id: Uuid::from_u128(1),
        username: username.into(),
        display_name: "Dr Test".into(),
        role,
    };
    vault
        .set_meta(
            "practitioner",
            &serde_json::to_string(&practitioner).unwrap(),
        )
        .unwrap();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn signed_in_offline() -> Fixture {
    let f = fixture();
    seed_vault_from_earlier_sign_in(&f, "amina");
    let state = runtime()
        .block_on(f.core.sign_in("amina", PASSWORD))
        .unwrap();
    assert!(matches!(state, AppState::Unlocked { .. }));
    f
}

fn new_client(name: &str) -> NewClient {
    NewClient {
        full_name: name.into(),
        date_of_birth: None,
        contact: None,
    }
}

fn draft(client_id: Uuid, body: &str) -> DraftInput {
    DraftInput {
        note_id: None,
        client_id,
        session_date: "2026-02-03".into(),
        body: body.into(),
    }
}

#[test]
fn a_client_the_server_would_refuse_is_refused_at_once_and_nothing_is_saved() {
    let f = signed_in_offline();
    let too_long = "7".repeat(bench_protocol::validate::MAX_CONTACT_CHARS + 1);
    let err = f
        .core
        .add_client(NewClient {
            contact: Some(too_long),
            ..new_client("Achieng Synthetic")
        })
        .unwrap_err();
    let CoreError::Invalid(message) = err else {
        panic!("expected a clear refusal, got {err:?}");
    };
    assert!(message.contains("200"), "{message}");
    assert!(f.core.list_clients("").unwrap().is_empty());
    assert_eq!(f.core.sync_status(), SyncStatus::Offline { pending: 0 });
}

#[test]
fn accounts_that_keep_no_records_cannot_add_clients() {
    for role in [Role::ClinicAdmin, Role::Operations] {
        let f = fixture();
        seed_vault_with_role(&f, "office", role);
        runtime()
            .block_on(f.core.sign_in("office", PASSWORD))
            .unwrap();
        let err = f
            .core
            .add_client(new_client("Otieno Synthetic"))
            .unwrap_err();
        assert!(
            matches!(&err, CoreError::Invalid(m) if m.contains("keeps no clients")),
            "{role:?}: {err:?}"
        );
        assert!(f.core.list_clients("").unwrap().is_empty());
    }
}

#[test]
fn core_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Core>();
}

#[test]
fn a_new_core_starts_signed_out_and_refuses_record_access() {
    let f = fixture();
    assert!(matches!(f.core.state(), AppState::SignedOut { .. }));
    assert!(matches!(f.core.list_clients(""), Err(CoreError::Locked)));
    assert!(matches!(
        f.core.add_client(new_client("x")),
        Err(CoreError::Locked)
    ));
}

#[test]
fn first_sign_in_on_a_new_device_needs_the_server() {
    let f = fixture();
    let err = runtime()
        .block_on(f.core.sign_in("amina", PASSWORD))
        .unwrap_err();
    assert_eq!(err.to_shell_error().kind, ShellErrorKind::Offline);
    assert!(err
        .to_string()
        .contains("first sign-in on a new device needs the server"));
    assert!(
        f.store.secrets.lock().unwrap().is_empty(),
        "no device secret made offline"
    );
}

#[test]
fn offline_sign_in_with_an_existing_vault_unlocks_and_reports_offline() {
    let f = signed_in_offline();
    assert!(matches!(
        f.core.sync_status(),
        SyncStatus::Offline { pending: 0 }
    ));
}

#[test]
fn offline_sign_in_with_the_wrong_password_is_refused() {
    let f = fixture();
    seed_vault_from_earlier_sign_in(&f, "amina");
    let err = runtime()
        .block_on(f.core.sign_in("amina", "not-it"))
        .unwrap_err();
    assert!(matches!(err, CoreError::BadCredentials(_)));
    assert!(matches!(f.core.state(), AppState::SignedOut { .. }));
}

#[test]
fn offline_sign_in_without_the_device_secret_is_a_keyring_error_not_a_new_vault() {
    let f = fixture();
    seed_vault_from_earlier_sign_in(&f, "amina");
    f.store.secrets.lock().unwrap().clear();
    let err = runtime()
        .block_on(f.core.sign_in("amina", PASSWORD))
        .unwrap_err();
    assert_eq!(err.to_shell_error().kind, ShellErrorKind::Keyring);
    assert!(f.store.secrets.lock().unwrap().is_empty());
}

#[test]
fn records_written_offline_wait_in_the_outbox_and_read_back() {
    let f = signed_in_offline();
    let client = f.core.add_client(new_client(CLIENT_NAME)).unwrap();
    let note = f.core.save_draft(draft(client.id, NOTE_TEXT)).unwrap();
    assert_eq!(note.note.body, NOTE_TEXT);

    let view = f.core.open_client(client.id).unwrap();
    assert_eq!(view.client.full_name, CLIENT_NAME);
    assert_eq!(view.notes.len(), 1);
    assert_eq!(f.core.list_clients("akinyi").unwrap().len(), 1);
    assert_eq!(f.core.list_clients("nobody").unwrap().len(), 0);
    assert_eq!(f.core.sync_status(), SyncStatus::Offline { pending: 2 });
    assert_eq!(
        runtime().block_on(f.core.sync_now()).unwrap(),
        SyncStatus::Offline { pending: 2 }
    );
}

#[test]
fn empty_client_name_is_invalid() {
    let f = signed_in_offline();
    let err = f.core.add_client(new_client("   ")).unwrap_err();
    assert_eq!(err.to_shell_error().kind, ShellErrorKind::Invalid);
}

#[test]
fn a_note_over_the_size_limit_is_invalid_with_a_clear_message() {
    let f = signed_in_offline();
    let client = f.core.add_client(new_client(CLIENT_NAME)).unwrap();
    let huge = "a".repeat(MAX_NOTE_BYTES + 1);
    let err = f.core.save_draft(draft(client.id, &huge)).unwrap_err();
    assert_eq!(err.to_shell_error().kind, ShellErrorKind::Invalid);
    assert!(err.to_string().contains("too long"));
}

#[test]
fn a_bad_session_date_is_invalid() {
    let f = signed_in_offline();
    let client = f.core.add_client(new_client(CLIENT_NAME)).unwrap();
    let mut d = draft(client.id, NOTE_TEXT);
    d.session_date = "2026-02-30".into();
    assert!(matches!(f.core.save_draft(d), Err(CoreError::Invalid(_))));
}

#[test]
fn implausible_birth_and_session_dates_are_refused_before_anything_is_saved() {
    let f = signed_in_offline();
    for dob in ["2999-01-01", "0000-01-01"] {
        let err = f
            .core
            .add_client(NewClient {
                date_of_birth: Some(dob.into()),
                ..new_client(CLIENT_NAME)
            })
            .unwrap_err();
        let CoreError::Invalid(message) = err else {
            panic!("expected a clear refusal, got {err:?}");
        };
        assert!(message.contains("date of birth"), "{message}");
    }
    assert!(f.core.list_clients("").unwrap().is_empty());
    let client = f.core.add_client(new_client(CLIENT_NAME)).unwrap();
    let mut d = draft(client.id, NOTE_TEXT);
    d.session_date = "9999-12-31".into();
    let err = f.core.save_draft(d).unwrap_err();
    let CoreError::Invalid(message) = err else {
        panic!("expected a clear refusal, got {err:?}");
    };
    assert!(message.contains("session date"), "{message}");
    assert!(f.core.open_client(client.id).unwrap().notes.is_empty());
}

#[test]
fn saving_a_signed_note_is_refused_as_read_only() {
    let f = signed_in_offline();
    let client = f.core.add_client(new_client(CLIENT_NAME)).unwrap();
    let note = f.core.save_draft(draft(client.id, NOTE_TEXT)).unwrap();
    let signed = f.core.sign_note(note.note.id).unwrap();
    assert_eq!(signed.note.status, NoteStatus::Signed);
    assert!(signed.note.signed_at.is_some());

    let mut edit = draft(client.id, "changed");
    edit.note_id = Some(note.note.id);
    let err = f.core.save_draft(edit).unwrap_err();
    assert!(matches!(err, CoreError::Invalid(_)));
    assert!(err.to_string().contains("Signed notes are read-only"));
    let kept = f.core.open_client(client.id).unwrap().notes.remove(0);
    assert_eq!(kept.note.body, NOTE_TEXT);
}

#[test]
fn a_signed_note_takes_amendments_offline_oldest_first_and_keeps_its_own_text() {
    let f = signed_in_offline();
    let client = f.core.add_client(new_client(CLIENT_NAME)).unwrap();
    let note = f.core.save_draft(draft(client.id, NOTE_TEXT)).unwrap();
    let signed = f.core.sign_note(note.note.id).unwrap();

    let first = f
        .core
        .add_amendment(note.note.id, "Correction: the harvest was in March.".into())
        .unwrap();
    f.clock.advance(Duration::from_secs(60));
    f.core
        .add_amendment(note.note.id, "Correction: sessions are fortnightly.".into())
        .unwrap();

    assert_eq!(
        first.note, signed.note,
        "the signed note itself is untouched"
    );
    let view = f.core.open_client(client.id).unwrap().notes.remove(0);
    assert_eq!(view.note, signed.note);
    let texts: Vec<&str> = view
        .amendments
        .iter()
        .map(|a| a.amendment.body.as_str())
        .collect();
    assert_eq!(
        texts,
        [
            "Correction: the harvest was in March.",
            "Correction: sessions are fortnightly."
        ]
    );
    assert!(view
        .amendments
        .iter()
        .all(|a| a.sync == RecordSync::Waiting && a.amendment.client_id == client.id));
    // Client, note and both amendments wait for the server.
    assert_eq!(f.core.sync_status(), SyncStatus::Offline { pending: 4 });
}

#[test]
fn an_amendment_to_a_draft_or_without_text_is_refused() {
    let f = signed_in_offline();
    let client = f.core.add_client(new_client(CLIENT_NAME)).unwrap();
    let note = f.core.save_draft(draft(client.id, NOTE_TEXT)).unwrap();

    let err = f
        .core
        .add_amendment(note.note.id, "Correction of a draft.".into())
        .unwrap_err();
    assert!(matches!(err, CoreError::Invalid(_)));
    assert!(err.to_string().contains("edit the draft"), "{err}");

    f.core.sign_note(note.note.id).unwrap();
    let err = f
        .core
        .add_amendment(note.note.id, "  \n ".into())
        .unwrap_err();
    assert!(matches!(err, CoreError::Invalid(_)));
    let err = f
        .core
        .add_amendment(note.note.id, "x".repeat(MAX_NOTE_BYTES + 1))
        .unwrap_err();
    assert!(matches!(err, CoreError::Invalid(_)));
    let err = f
        .core
        .add_amendment(Uuid::new_v4(), "Correction of nothing.".into())
        .unwrap_err();
    assert!(matches!(err, CoreError::NotFound(_)));

    let view = f.core.open_client(client.id).unwrap().notes.remove(0);
    assert!(view.amendments.is_empty());
}

#[test]
fn a_note_for_an_unknown_client_is_not_found() {
    let f = signed_in_offline();
    let err = f
        .core
        .save_draft(draft(Uuid::new_v4(), NOTE_TEXT))
        .unwrap_err();
    assert_eq!(err.to_shell_error().kind, ShellErrorKind::NotFound);
}

#[test]
fn thirty_idle_minutes_lock_the_vault_and_the_password_unlocks_it_offline() {
    let f = signed_in_offline();
    let client = f.core.add_client(new_client(CLIENT_NAME)).unwrap();

    f.clock.advance(Duration::from_secs(29 * 60 + 59));
    assert!(matches!(f.core.check_idle(), AppState::Unlocked { .. }));
    f.clock.advance(Duration::from_secs(1));
    assert!(matches!(f.core.check_idle(), AppState::Locked { .. }));
    assert!(matches!(
        f.core.open_client(client.id),
        Err(CoreError::Locked)
    ));

    assert!(matches!(
        f.core.unlock("wrong"),
        Err(CoreError::BadCredentials(_))
    ));
    assert!(matches!(
        f.core.unlock(PASSWORD).unwrap(),
        AppState::Unlocked { .. }
    ));
    assert_eq!(
        f.core.open_client(client.id).unwrap().client.full_name,
        CLIENT_NAME
    );
}

#[test]
fn input_after_a_long_sleep_locks_instead_of_resetting_the_timer() {
    let f = signed_in_offline();
    f.clock.advance(Duration::from_secs(3 * 3600));
    f.core.record_activity();
    assert!(matches!(f.core.state(), AppState::Locked { .. }));
}

#[test]
fn activity_keeps_the_vault_unlocked() {
    let f = signed_in_offline();
    for _ in 0..4 {
        f.clock.advance(Duration::from_secs(20 * 60));
        f.core.record_activity();
    }
    assert!(matches!(f.core.check_idle(), AppState::Unlocked { .. }));
}

#[test]
fn a_second_data_folder_for_the_same_practitioner_leaves_the_first_vault_openable() {
    let server = unreachable_url();
    let keyring = Arc::new(MemoryStore::default());
    let first = fixture_with(server.clone(), keyring.clone());
    seed_vault_from_earlier_sign_in(&first, "amina");

    let second = fixture_with(server, keyring);
    seed_vault_from_earlier_sign_in(&second, "amina");

    let state = runtime()
        .block_on(first.core.sign_in("amina", PASSWORD))
        .unwrap();
    assert!(matches!(state, AppState::Unlocked { .. }));
}

#[test]
fn reading_records_without_input_does_not_keep_the_vault_unlocked() {
    let f = signed_in_offline();
    for _ in 0..4 {
        f.clock.advance(Duration::from_secs(10 * 60));
        // What the window does by itself after each background sync.
        let _ = f.core.list_clients("");
    }
    assert!(matches!(f.core.check_idle(), AppState::Locked { .. }));
}

#[test]
fn lock_then_sign_out_leaves_the_vault_on_disk() {
    let f = signed_in_offline();
    f.core.add_client(new_client(CLIENT_NAME)).unwrap();
    assert!(matches!(f.core.lock(), AppState::Locked { .. }));
    assert!(matches!(
        runtime().block_on(f.core.sign_out()),
        AppState::SignedOut { .. }
    ));
    assert!(f.core.config.vault_path("amina").exists());
    runtime()
        .block_on(f.core.sign_in("amina", PASSWORD))
        .unwrap();
    assert_eq!(f.core.list_clients("").unwrap().len(), 1);
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn logs_of_a_save_and_sync_cycle_carry_no_name_note_text_or_password() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();

    tracing::subscriber::with_default(subscriber, || {
        let f = fixture();
        seed_vault_from_earlier_sign_in(&f, "amina");
        let rt = runtime();
        rt.block_on(f.core.sign_in("amina", PASSWORD)).unwrap();
        let client = f.core.add_client(new_client(CLIENT_NAME)).unwrap();
        let note = f.core.save_draft(draft(client.id, NOTE_TEXT)).unwrap();
        f.core.sign_note(note.note.id).unwrap();
        f.core
            .add_amendment(note.note.id, "Correction: the grief began earlier.".into())
            .unwrap();
        let _ = f.core.save_draft(DraftInput {
            note_id: Some(note.note.id),
            ..draft(client.id, "x")
        });
        rt.block_on(f.core.sync_now()).unwrap();
        f.core.lock();
        let _ = f.core.unlock("wrong-password-guess");
        f.core.unlock(PASSWORD).unwrap();
    });

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("note saved"), "the cycle was logged: {logs}");
    for secret in ["Akinyi", "grief", PASSWORD, "wrong-password-guess"] {
        assert!(!logs.contains(secret), "{secret:?} leaked into the logs");
    }
}

#[test]
fn background_sync_backs_off_with_jitter_while_the_server_is_unreachable() {
    let f = signed_in_offline();
    assert_eq!(
        f.core.next_sync_due(),
        Some(f.clock.now()),
        "due at once after sign-in"
    );
    assert_eq!(f.core.sync_delay(), Duration::ZERO);

    let rt = runtime();
    let mut delays = Vec::new();
    for _ in 0..10 {
        let status = rt.block_on(f.core.sync_now()).unwrap();
        assert_eq!(status, SyncStatus::Offline { pending: 0 });
        delays.push(f.core.sync_delay());
    }
    for (n, delay) in delays.iter().enumerate() {
        let ceiling = Duration::from_secs(2u64 << n).min(Backoff::CAP);
        assert!(*delay >= Backoff::FLOOR, "{delays:?}");
        assert!(*delay <= ceiling, "attempt {n}: {delay:?} > {ceiling:?}");
    }
    assert!(
        delays[6..].iter().any(|d| *d > Duration::from_secs(30)),
        "a long outage is tried less often than every 30 s: {delays:?}"
    );

    // The wait counts down with the clock.
    let before = f.core.sync_delay();
    f.clock.advance(Duration::from_millis(400));
    assert_eq!(
        f.core.sync_delay(),
        before.saturating_sub(Duration::from_millis(400))
    );

    // Signed out: nothing is due; the shell just looks again shortly.
    rt.block_on(f.core.sign_out());
    assert_eq!(f.core.next_sync_due(), None);
    assert_eq!(f.core.sync_delay(), SIGNED_OUT_POLL);

    // Signing in again starts over: due at once, backoff from the start.
    rt.block_on(f.core.sign_in("amina", PASSWORD)).unwrap();
    assert_eq!(f.core.sync_delay(), Duration::ZERO);
    rt.block_on(f.core.sync_now()).unwrap();
    assert!(f.core.sync_delay() <= Duration::from_secs(2));
}
