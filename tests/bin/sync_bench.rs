//! `sync-bench`: how long a practitioner waits for sync on a 3G link.
//!
//! ```text
//! cargo build -p bench-server --locked
//! cargo run -p bench-e2e --locked --bin sync-bench
//! ```
//!
//! It starts the real `bench-server` on loopback, seeds one practitioner's
//! caseload of 500 clients and 20,000 session notes (synthetic words,
//! 300 to 2,000 characters each) through the API unshaped, then a fresh
//! device (the real client core and its SQLCipher vault; device secrets in
//! memory, so no desktop keyring is needed) signs in and syncs through a
//! [`ShapedLink`] shaped like 3G (1 Mbit/s, 300 ms round trip, 1 % loss):
//!
//! 1. the **initial sync**: every record, from an empty vault;
//! 2. after one background sync interval, one new note and an
//!    **incremental sync**.
//!
//! Against the initial sync it sets **what the link allows**: the same
//! number of bytes the sync drew down the link, sent as one plain bulk
//! transfer through the same shaped link (after a request that costs one
//! round trip), and the textbook figure (bytes × 8 / 1 Mbit/s + one round
//! trip). Targets: the initial sync within 1.3× the bulk transfer; the
//! incremental sync in at most two HTTP round trips.
//!
//! A measurement, not a test: it prints figures and fails only when sync
//! itself fails or the device does not end up holding every record.
//! Test-only: not part of the shipped app.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench_client::core::SYNC_INTERVAL;
use bench_client::idle::SystemClock;
use bench_client::keys::KdfParams;
use bench_client::{Config, Core};
use bench_e2e::api::Api;
use bench_e2e::keyring::MemoryKeyring;
use bench_e2e::server::{TestAccount, TestServer};
use bench_e2e::shapedlink::{LinkProfile, LinkTally, ShapedLink};
use bench_protocol::api::{routes, Change, PullResponse, PushResponse, MAX_PULL_LIMIT};
use bench_protocol::desktop::{AppState, DraftInput, SyncStatus};
use bench_protocol::{ClientRecord, NoteStatus, Record, SessionNote};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

const CLIENTS: usize = 500;
const NOTES: usize = 20_000;
/// Changes per seeding push (well under the server's push body limit).
const SEED_BATCH: usize = 500;
/// Seeds the synthetic text and the link's losses: runs are repeatable.
const SEED: u64 = 20_261_204;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let profile = LinkProfile::THREE_G;
    println!(
        "sync-bench ({} build): {CLIENTS} clients, {NOTES} notes; link {} kbit/s, {} ms round \
         trip, {:.0} % loss",
        if cfg!(debug_assertions) {
            "dev"
        } else {
            "release"
        },
        profile.bits_per_sec / 1000,
        profile.rtt().as_millis(),
        profile.loss * 100.0
    );

    let server = TestServer::start_new();
    let mut account = server.add_practitioner("bench", "Dr Synthetic Bench");
    let mut seeder = Api::new(&server);
    seeder.sign_in(&mut account).await;
    let started = Instant::now();
    let client_ids = seed_caseload(&seeder).await;
    println!(
        "seeded {CLIENTS} clients and {NOTES} notes unshaped in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let upstream = SocketAddr::from(([127, 0, 0, 1], server.port()));
    let link = ShapedLink::start(upstream, profile, SEED).await;
    let dir = tempfile::tempdir().unwrap();
    let device = fresh_device(&server, &link, dir.path());

    let before = link.tally();
    let clock = Instant::now();
    sign_in(&device, &mut account).await;
    report_step(
        "sign-in (password + TOTP)",
        clock.elapsed(),
        link.tally() - before,
    );

    let before = link.tally();
    let clock = Instant::now();
    let status = device.sync_now().await.expect("the initial sync runs");
    let initial_time = clock.elapsed();
    let initial = link.tally() - before;
    assert_eq!(status, SyncStatus::Synced, "the initial sync completes");
    let held = device.record_versions().unwrap().len();
    assert_eq!(held, CLIENTS + NOTES, "the device holds every record");
    report_step("initial sync", initial_time, initial);

    // A background sync comes one interval after the last; the connection
    // it finds (kept alive, or closed by either side meanwhile) is part of
    // what is measured.
    println!(
        "waiting one background sync interval ({} s)...",
        SYNC_INTERVAL.as_secs()
    );
    tokio::time::sleep(SYNC_INTERVAL).await;
    device
        .save_draft(DraftInput {
            note_id: None,
            client_id: client_ids[0],
            session_date: "2026-03-02".into(),
            body: note_text(&mut StdRng::seed_from_u64(SEED + 1), 900),
        })
        .unwrap();
    let before = link.tally();
    let clock = Instant::now();
    let status = device.sync_now().await.expect("the incremental sync runs");
    let incremental_time = clock.elapsed();
    let incremental = link.tally() - before;
    assert_eq!(status, SyncStatus::Synced, "the incremental sync completes");
    report_step(
        "incremental sync (one new note)",
        incremental_time,
        incremental,
    );
    println!(
        "  target: at most 2 HTTP round trips: {}; new TLS connection needed: {}",
        if incremental.http_requests <= 2 {
            "met"
        } else {
            "MISSED"
        },
        if incremental.tls_handshakes > 0 {
            "yes"
        } else {
            "no"
        }
    );

    // Measured last, so that the wait above is one sync interval, as in
    // the app, and not also the minutes these take.
    println!("what the link allows for the initial sync's data:");
    let (compressed, plain) = pull_sizes(&server, &seeder).await;
    println!(
        "  pull answers: {} plain JSON, {} gzip ({:.1}x smaller)",
        mb(plain),
        mb(compressed),
        plain as f64 / compressed as f64
    );
    let (bulk_time, bulk_lost) = bulk_transfer(profile, initial.bytes_down).await;
    let theory =
        profile.rtt().as_secs_f64() + initial.bytes_down as f64 * 8.0 / profile.bits_per_sec as f64;
    println!(
        "  link allows: {:.1} s measured ({} as one bulk transfer + 1 round trip through the \
         same link, {bulk_lost} segments lost), {:.1} s in theory (bytes x 8 / rate + round \
         trip, no loss, no headers)",
        bulk_time.as_secs_f64(),
        mb(initial.bytes_down),
        theory
    );
    println!(
        "  ratio: {:.2}x the measured bulk transfer (target <= 1.3x), {:.2}x the theory",
        initial_time.as_secs_f64() / bulk_time.as_secs_f64(),
        initial_time.as_secs_f64() / theory
    );
}

/// One practitioner's synthetic caseload, pushed through the API in
/// batches. Returns the client ids.
async fn seed_caseload(api: &Api) -> Vec<Uuid> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let clients: Vec<ClientRecord> = (0..CLIENTS)
        .map(|i| ClientRecord {
            id: Uuid::from_u128(rng.gen()),
            full_name: format!("{} {}", word(&mut rng, 2), word(&mut rng, 3)),
            date_of_birth: Some(format!(
                "19{:02}-{:02}-{:02}",
                50 + i % 50,
                1 + i % 12,
                1 + i % 28
            )),
            contact: Some(format!("+2547{:08}", rng.gen_range(0..100_000_000))),
            created_at: "2024-01-08T07:30:00Z".into(),
        })
        .collect();
    let mut changes: Vec<Change> = clients
        .iter()
        .map(|c| change(Record::Client(c.clone())))
        .collect();
    for i in 0..NOTES {
        let client = &clients[i % CLIENTS];
        let day = i / CLIENTS; // about weekly sessions, 40 per client
        let date = format!("2025-{:02}-{:02}", 1 + day % 12, 1 + day % 28);
        let stamp = format!("{date}T10:00:00Z");
        let signed = i % 10 != 0;
        let len = rng.gen_range(300..=2000);
        let note = SessionNote {
            id: Uuid::from_u128(rng.gen()),
            client_id: client.id,
            session_date: date,
            body: note_text(&mut rng, len),
            status: if signed {
                NoteStatus::Signed
            } else {
                NoteStatus::Draft
            },
            created_at: stamp.clone(),
            updated_at: stamp.clone(),
            signed_at: signed.then_some(stamp),
        };
        changes.push(change(Record::Note(note)));
    }
    for batch in changes.chunks(SEED_BATCH) {
        // The body as JSON, so it stays valid whatever optional fields the
        // push request grows.
        let answer: PushResponse = api
            .post_json(routes::SYNC_PUSH, &serde_json::json!({ "changes": batch }))
            .await;
        assert_eq!(answer.results.len(), batch.len());
    }
    clients.into_iter().map(|c| c.id).collect()
}

fn change(record: Record) -> Change {
    Change {
        change_id: Uuid::new_v4(),
        base_version: None,
        record,
    }
}

/// Synthetic prose of about `len` characters: sentences of made-up words,
/// common ones far more often than rare ones, as in real notes (so it
/// compresses about as well as real text does).
fn note_text(rng: &mut StdRng, len: usize) -> String {
    let mut text = String::with_capacity(len + 40);
    while text.len() < len {
        let words = rng.gen_range(6..18);
        for w in 0..words {
            // Log-uniform rank over a 4,000-word vocabulary: roughly Zipf.
            let rank = (4000f64.powf(rng.gen::<f64>()) as u64).min(3999);
            let mut word = vocabulary_word(rank);
            if w == 0 {
                word[..1].make_ascii_uppercase();
            }
            text.push_str(&word);
            text.push(if w + 1 == words { '.' } else { ' ' });
        }
        text.push(' ');
    }
    text.truncate(len);
    text
}

/// The word of a given rank: the same every time, short for common ranks.
fn vocabulary_word(rank: u64) -> String {
    let mut rng = StdRng::seed_from_u64(rank.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let syllables = 1 + (rank as f64).log10().max(0.0) as usize + rng.gen_range(0..2);
    word(&mut rng, syllables)
}

fn word(rng: &mut StdRng, syllables: usize) -> String {
    const ONSETS: [&str; 16] = [
        "k", "m", "n", "w", "t", "r", "s", "l", "b", "ch", "ng", "g", "j", "h", "d", "y",
    ];
    const VOWELS: [&str; 5] = ["a", "e", "i", "o", "u"];
    (0..syllables.max(1))
        .map(|_| {
            format!(
                "{}{}",
                ONSETS[rng.gen_range(0..ONSETS.len())],
                VOWELS[rng.gen_range(0..VOWELS.len())]
            )
        })
        .collect()
}

/// A device that has never synced, talking to the server through `link`.
fn fresh_device(server: &TestServer, link: &ShapedLink, dir: &std::path::Path) -> Core {
    let config = Config {
        server_url: link.url(),
        ca_cert_path: Some(server.ca_pem.clone()),
        data_dir: dir.to_path_buf(),
        idle_timeout: Duration::from_secs(30 * 60),
        device_name: "bench laptop".into(),
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
    assert!(matches!(state, AppState::AwaitingCode { .. }), "{state:?}");
    let code = account.codes.fresh_code(&account.totp_secret);
    let state = core.submit_code(&code).await.unwrap();
    assert!(matches!(state, AppState::Unlocked { .. }), "{state:?}");
}

fn report_step(what: &str, took: Duration, tally: LinkTally) {
    println!(
        "{what}: {:.2} s; {} down, {} up; {} HTTP round trips; {} connections opened ({} TLS \
         handshakes); {} segments lost",
        took.as_secs_f64(),
        mb(tally.bytes_down),
        mb(tally.bytes_up),
        tally.http_requests,
        tally.connections,
        tally.tls_handshakes,
        tally.lost_segments
    );
}

fn mb(bytes: u64) -> String {
    if bytes >= 100_000 {
        format!("{:.2} MB", bytes as f64 / 1e6)
    } else {
        format!("{bytes} B")
    }
}

/// The pull answers' body sizes as gzip and as plain JSON, fetched again
/// unshaped page by page with the same page size the device uses.
async fn pull_sizes(server: &TestServer, api: &Api) -> (u64, u64) {
    let raw = raw_client(server);
    let token = api.token().expect("the seeder is signed in").to_string();
    let (mut compressed, mut plain) = (0u64, 0u64);
    let mut cursor = 0i64;
    loop {
        let path = format!(
            "{}?after={cursor}&limit={MAX_PULL_LIMIT}",
            routes::SYNC_PULL
        );
        let gz = raw
            .get(format!("{}{path}", server.url))
            .bearer_auth(&token)
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(
            gz.headers().get("content-encoding").map(|v| v.as_bytes()),
            Some(&b"gzip"[..]),
            "the server compresses pull answers"
        );
        compressed += gz.bytes().await.unwrap().len() as u64;
        let page: PullResponse = api.get_json(&path).await;
        plain += serde_json::to_vec(&page).unwrap().len() as u64;
        let next = page.next_cursor.max(cursor);
        if !page.more || next == cursor {
            return (compressed, plain);
        }
        cursor = next;
    }
}

/// An HTTPS client pinned to the test CA that leaves answers compressed.
fn raw_client(server: &TestServer) -> reqwest::Client {
    let pem = std::fs::read(&server.ca_pem).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .no_gzip()
        .build()
        .unwrap()
}

/// Sends `bytes` as one plain transfer through a fresh link shaped like
/// `profile` (same seed, so like losses): the client asks with 8 bytes,
/// a local source answers with `bytes` bytes. Timed from the ask to the
/// last byte, so it is the bulk transfer plus one round trip. Returns the
/// time and the segments lost.
async fn bulk_transfer(profile: LinkProfile, bytes: u64) -> (Duration, u64) {
    let source = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let source_addr = source.local_addr().unwrap();
    let serve = tokio::spawn(async move {
        let (mut conn, _) = source.accept().await.unwrap();
        let mut ask = [0u8; 8];
        conn.read_exact(&mut ask).await.unwrap();
        let mut left = u64::from_be_bytes(ask);
        let chunk = vec![0u8; 64 * 1024];
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            conn.write_all(&chunk[..n]).await.unwrap();
            left -= n as u64;
        }
        conn.shutdown().await.unwrap();
    });
    let link = ShapedLink::start(source_addr, profile, SEED).await;
    let mut conn = tokio::net::TcpStream::connect(link.addr()).await.unwrap();
    conn.set_nodelay(true).unwrap();
    // Past the modelled TCP handshake before the clock starts.
    tokio::time::sleep(profile.rtt() * 2).await;
    let clock = Instant::now();
    conn.write_all(&bytes.to_be_bytes()).await.unwrap();
    let mut got = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    while got < bytes {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "the bulk transfer ended early");
        got += n as u64;
    }
    let took = clock.elapsed();
    serve.await.unwrap();
    (took, link.tally().lost_segments)
}
