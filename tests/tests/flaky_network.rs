//! Sync on a bad connection: two devices of one practitioner write and sync
//! through a fault-injecting proxy that cuts connections at random byte
//! offsets both ways, drops answers to requests the server acted on, and
//! delays. At the end, with the faults off, both devices and the server
//! must hold exactly the same records: no note lost, none duplicated, the
//! same text and versions everywhere, no conflict made up by a retry; and
//! the server's audit log must hold exactly one entry per edit made on each
//! device, none lost or stored twice by a retried push.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench_client::idle::SystemClock;
use bench_client::keys::KdfParams;
use bench_client::{Config, Core};
use bench_e2e::api::Api;
use bench_e2e::faultproxy::{FaultMix, FaultProxy};
use bench_e2e::keyring::MemoryKeyring;
use bench_e2e::logs::{self, Captured};
use bench_e2e::server::{TestAccount, TestServer};
use bench_e2e::totp;
use bench_protocol::desktop::{AppState, DraftInput, NewClient, RecordSync, SyncStatus};
use bench_protocol::{NoteStatus, Record};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

/// Fixed so a failure can be replayed; `FLAKY_SEED=<n>` tries another.
/// (Thread timing still varies between runs, so a replay is close, not exact.)
const SEED: u64 = 0x5eed_f1a4;

fn seed() -> u64 {
    std::env::var("FLAKY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED)
}
/// Broken connections the run must survive.
const MIN_CUTS: u64 = 1_000;
/// Stop even if the cuts are not reached: a bound, not a goal.
const MAX_ROUNDS: usize = 3_000;
const TIME_BOUND: Duration = Duration::from_secs(240);

fn device(proxy: &FaultProxy, server: &TestServer, dir: &std::path::Path) -> Core {
    let config = Config {
        server_url: proxy.url(),
        ca_cert_path: Some(server.ca_pem.clone()),
        data_dir: dir.to_path_buf(),
        idle_timeout: Duration::from_secs(30 * 60),
        device_name: "flaky laptop".into(),
    };
    Core::with_parts(
        config,
        Arc::new(MemoryKeyring::default()),
        KdfParams::FAST_INSECURE_FOR_TESTS,
        Arc::new(SystemClock),
    )
    .unwrap()
}

async fn sign_in(core: &Core, account: &TestAccount, code: String) {
    core.sign_in(&account.username, &account.password)
        .await
        .unwrap();
    let state = core.submit_code(&code).await.unwrap();
    assert!(matches!(state, AppState::Unlocked { .. }), "{state:?}");
}

fn capture_logs() -> Captured {
    logs::capture(tracing::Level::INFO)
}

/// One device's view of every note: id → (body, status, server version).
type NoteSet = BTreeMap<Uuid, (String, NoteStatus, Option<i64>)>;

fn notes_on(core: &Core) -> (NoteSet, usize) {
    let versions: BTreeMap<Uuid, Option<i64>> =
        core.record_versions().unwrap().into_iter().collect();
    let mut notes = NoteSet::new();
    let clients = core.list_clients("").unwrap();
    for item in &clients {
        assert_eq!(item.sync, RecordSync::Synced, "client left unsynced");
        for view in core.open_client(item.client.id).unwrap().notes {
            assert_eq!(view.sync, RecordSync::Synced, "note left {:?}", view.sync);
            assert!(view.conflict.is_none(), "a conflict was made up");
            let previous = notes.insert(
                view.note.id,
                (view.note.body, view.note.status, versions[&view.note.id]),
            );
            assert!(previous.is_none(), "note listed twice");
        }
    }
    (notes, clients.len())
}

/// Synthetic text of varying length, so cuts land inside request bodies.
fn body(rng: &mut StdRng, n: usize) -> String {
    let words = [
        "breathing",
        "sleep",
        "homework",
        "exam",
        "family",
        "walk",
        "journal",
    ];
    let len = rng.gen_range(1..400);
    let mut text = format!("Synthetic note {n}:");
    for _ in 0..len {
        text.push(' ');
        text.push_str(words[rng.gen_range(0..words.len())]);
    }
    text
}

/// Does one random piece of work on a device, as a practitioner would:
/// new notes, edits to its own drafts, signing, now and then a new client.
/// Returns how many edits it made (0 or 1).
fn work(
    core: &Core,
    own_clients: &mut Vec<Uuid>,
    own_drafts: &mut Vec<(Uuid, Uuid)>,
    rng: &mut StdRng,
    n: &mut usize,
) -> usize {
    *n += 1;
    if own_clients.is_empty() || rng.gen_ratio(1, 25) {
        let client = core
            .add_client(NewClient {
                full_name: format!("Synthetic Client {n}"),
                date_of_birth: None,
                contact: None,
            })
            .unwrap();
        own_clients.push(client.id);
        return 1;
    }
    match rng.gen_range(0..10) {
        0..=4 => {
            let client_id = own_clients[rng.gen_range(0..own_clients.len())];
            let note = core
                .save_draft(DraftInput {
                    note_id: None,
                    client_id,
                    session_date: "2026-03-02".into(),
                    body: body(rng, *n),
                })
                .unwrap();
            own_drafts.push((note.note.id, client_id));
            1
        }
        5..=8 if !own_drafts.is_empty() => {
            let (note_id, client_id) = own_drafts[rng.gen_range(0..own_drafts.len())];
            core.save_draft(DraftInput {
                note_id: Some(note_id),
                client_id,
                session_date: "2026-03-03".into(),
                body: body(rng, *n),
            })
            .unwrap();
            1
        }
        _ if !own_drafts.is_empty() => {
            let (note_id, _) = own_drafts.swap_remove(rng.gen_range(0..own_drafts.len()));
            core.sign_note(note_id).unwrap();
            1
        }
        _ => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_cut_connections_lose_no_note_and_duplicate_none() {
    let logs = capture_logs();
    let started = Instant::now();
    let mut server = TestServer::start_new();
    let mut account = server.add_practitioner("njeri", "Dr Njeri Synthetic");
    let upstream = format!("127.0.0.1:{}", server.port()).parse().unwrap();
    let proxy = FaultProxy::start(upstream, seed(), FaultMix::default()).await;
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = device(&proxy, &server, dirs.0.path());
    let b = device(&proxy, &server, dirs.1.path());

    // Sign-in is not what is under test: faults off. The server takes the
    // previous and the current step, once each: one code each, no waiting.
    proxy.set_faults(false);
    let step = totp::current_step();
    sign_in(
        &a,
        &account,
        totp::oathtool_code_at_step(&account.totp_secret, step - 1),
    )
    .await;
    sign_in(
        &b,
        &account,
        totp::oathtool_code_at_step(&account.totp_secret, step),
    )
    .await;
    account.codes.mark_used(step);
    proxy.set_faults(true);

    let mut rng = StdRng::seed_from_u64(seed());
    let (mut clients_a, mut clients_b) = (Vec::new(), Vec::new());
    let (mut drafts_a, mut drafts_b) = (Vec::new(), Vec::new());
    let mut n = 0usize;
    // Edits made on each device: each must reach the audit log once.
    let (mut edits_a, mut edits_b) = (0usize, 0usize);
    let mut rounds = 0usize;
    let mut sync_errors = 0usize;
    while proxy.counts.cuts() < MIN_CUTS && rounds < MAX_ROUNDS && started.elapsed() < TIME_BOUND {
        rounds += 1;
        for _ in 0..rng.gen_range(0..2) {
            edits_a += work(&a, &mut clients_a, &mut drafts_a, &mut rng, &mut n);
        }
        for _ in 0..rng.gen_range(0..2) {
            edits_b += work(&b, &mut clients_b, &mut drafts_b, &mut rng, &mut n);
        }
        // Both devices sync at once, as two laptops on one clinic Wi-Fi,
        // and A goes on writing while its sync is in flight.
        let pause = Duration::from_micros(rng.gen_range(0..20_000));
        let mut edit_rng = StdRng::seed_from_u64(rng.gen());
        let (ra, rb, edited) = tokio::join!(a.sync_now(), b.sync_now(), async {
            tokio::time::sleep(pause).await;
            work(&a, &mut clients_a, &mut drafts_a, &mut edit_rng, &mut n)
        });
        edits_a += edited;
        for result in [ra, rb] {
            match result {
                Ok(SyncStatus::Conflict { .. }) => panic!("a retry made up a conflict"),
                Ok(SyncStatus::SignInRequired { .. }) => panic!("the session was lost"),
                Ok(_) => {}
                // Every failure here is the network's: it must read as
                // "offline, will retry", never as an error to act on.
                Err(err) => {
                    eprintln!("sync error: {err}");
                    sync_errors += 1
                }
            }
        }
    }
    let cuts = proxy.counts.cuts();
    eprintln!(
        "flaky network: {rounds} rounds, {n} edits, {} connections, {cuts} broken \
         ({} request cut, {} answer cut, {} answer dropped, {} delayed), {sync_errors} \
         sync errors, {:?}",
        proxy
            .counts
            .connections
            .load(std::sync::atomic::Ordering::Relaxed),
        proxy
            .counts
            .cut_upstream
            .load(std::sync::atomic::Ordering::Relaxed),
        proxy
            .counts
            .cut_downstream
            .load(std::sync::atomic::Ordering::Relaxed),
        proxy
            .counts
            .dropped_answers
            .load(std::sync::atomic::Ordering::Relaxed),
        proxy
            .counts
            .delayed
            .load(std::sync::atomic::Ordering::Relaxed),
        started.elapsed(),
    );
    assert!(cuts >= MIN_CUTS, "only {cuts} cuts within the bounds");
    assert_eq!(
        sync_errors, 0,
        "a broken connection was reported as an error"
    );
    assert!(
        proxy
            .counts
            .dropped_answers
            .load(std::sync::atomic::Ordering::Relaxed)
            > 100,
        "answers were dropped after the server acted"
    );

    // The network heals: each device syncs until it has nothing waiting,
    // then once more to pull what the other sent last.
    proxy.set_faults(false);
    // Connections opened with a fault die within the proxy's lifetime.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..2 {
        for core in [&a, &b] {
            let mut status = core.sync_now().await.unwrap();
            for _ in 0..5 {
                if status == SyncStatus::Synced {
                    break;
                }
                // A pooled connection the proxy closed: the retry is on a new one.
                status = core.sync_now().await.unwrap();
            }
            assert_eq!(status, SyncStatus::Synced);
        }
    }

    {
        let logs = logs.text();
        let rejected: Vec<&str> = logs.lines().filter(|l| l.contains("rejected")).collect();
        assert!(
            rejected.is_empty(),
            "the server rejected changes: {rejected:#?}"
        );
    }
    let (on_a, clients_on_a) = notes_on(&a);
    let (on_b, clients_on_b) = notes_on(&b);
    assert_eq!(clients_on_a, clients_a.len() + clients_b.len());
    assert_eq!(clients_on_b, clients_on_a);

    // The server, through its own API and its own session.
    let mut api = Api::new(&server);
    let code = account.codes.fresh_code(&account.totp_secret);
    api.sign_in_with_code(&account, code).await;
    let mut on_server = NoteSet::new();
    let mut clients_on_server = 0;
    for (id, (version, record)) in api.latest_records().await {
        match record {
            Record::Note(note) => {
                on_server.insert(id, (note.body, note.status, Some(version)));
            }
            Record::Client(_) => clients_on_server += 1,
            Record::Amendment(_) => panic!("this run writes no amendments, yet one is stored"),
        }
    }
    assert_eq!(clients_on_server, clients_on_a);
    assert_eq!(
        on_server.len(),
        on_a.len(),
        "note count differs from device A"
    );
    assert!(on_server == on_a, "device A differs from the server");
    assert!(on_server == on_b, "device B differs from the server");
    let logs = logs.text();
    let replayed = logs.matches("replayed=true").count();
    assert!(
        replayed > 50,
        "only {replayed} pushes were answered 'already applied': the dropped answers did not \
         hit requests the server had acted on"
    );
    for secret in [
        "Synthetic note",
        "Synthetic Client",
        "breathing",
        account.password.as_str(),
    ] {
        assert!(!logs.contains(secret), "{secret:?} leaked into the logs");
    }
    eprintln!(
        "flaky network: {replayed} pushes answered 'already applied' after a lost answer; \
         {} notes and {clients_on_server} clients identical on both devices \
         and the server after {:?}",
        on_server.len(),
        started.elapsed()
    );

    // The audit log: one entry per edit on each device, each entry id once.
    server.stop();
    let recorded: Vec<serde_json::Value> = server
        .audit_export()
        .into_iter()
        .filter(|e| e["event"] == "device_recorded")
        .collect();
    let per_device = |dir: &std::path::Path| {
        let id = bench_client::config::device_id(dir).unwrap().to_string();
        recorded
            .iter()
            .filter(|e| e["device_id"] == id.as_str())
            .count()
    };
    assert_eq!(
        per_device(dirs.0.path()),
        edits_a,
        "device A's audit entries"
    );
    assert_eq!(
        per_device(dirs.1.path()),
        edits_b,
        "device B's audit entries"
    );
    let mut entry_ids: Vec<String> = recorded
        .iter()
        .map(|e| {
            let details: serde_json::Value =
                serde_json::from_str(e["details"].as_str().unwrap()).unwrap();
            details["device_entry_id"].as_str().unwrap().to_string()
        })
        .collect();
    entry_ids.sort_unstable();
    entry_ids.dedup();
    assert_eq!(entry_ids.len(), recorded.len(), "an entry stored twice");
    eprintln!(
        "flaky network: {} device audit entries ({edits_a} + {edits_b} edits), each stored once",
        recorded.len()
    );
}
