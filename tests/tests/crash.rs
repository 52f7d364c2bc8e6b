//! Power cuts on the client: the `crash-worker` process writes notes and
//! syncs against the real server, and is killed with SIGKILL at random
//! moments, 200 times. After every restart, every note whose save had
//! returned ("ACK") is there at that revision or later, with its text
//! intact, and SQLite's integrity check passes. At the end the outbox
//! drains and the server holds every acknowledged note.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bench_e2e::api::Api;
use bench_e2e::built_binary;
use bench_e2e::server::TestServer;
use bench_protocol::Record;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

const SEED: u64 = 0xdead_5eed;
const KILLS: usize = 200;
/// A bound, not a goal: the test stops and fails past it.
const TIME_BOUND: Duration = Duration::from_secs(230);

struct Worker {
    child: Child,
    lines: mpsc::Receiver<String>,
}

fn start(dir: &std::path::Path, env: &[(&str, String)], args: &[&str]) -> Worker {
    let mut cmd = Command::new(built_binary("crash-worker"));
    cmd.arg(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Worker { child, lines }
}

/// Notes an `ACK <id> <rev>` line: that save returned, so it must survive.
fn record_ack(line: &str, acked: &mut BTreeMap<Uuid, u32>) {
    if let Some(rest) = line.strip_prefix("ACK ") {
        let (id, rev) = rest.split_once(' ').unwrap();
        let rev: u32 = rev.parse().unwrap();
        let entry = acked.entry(id.parse().unwrap()).or_insert(rev);
        *entry = (*entry).max(rev);
    }
}

impl Worker {
    /// The next line, or `None` once the process closed its output.
    fn line(&self, timeout: Duration) -> Option<String> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => Some(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("crash-worker went silent"),
        }
    }

    fn expect(&self, wanted: &str) {
        let line = self.line(Duration::from_secs(60));
        assert_eq!(
            line.as_deref(),
            Some(wanted),
            "crash-worker said something else"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_kills_during_save_and_sync_lose_no_acknowledged_note() {
    let started = Instant::now();
    let server = TestServer::start_new();
    let mut account = server.add_practitioner("achieng", "Dr Achieng Synthetic");
    let mut api = Api::new(&server);
    api.sign_in(&mut account).await;
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("CRASH_PASSWORD", "synthetic-vault-password".to_string()),
        ("CRASH_SERVER_URL", server.url.clone()),
        ("CRASH_CA", server.ca_pem.display().to_string()),
        ("CRASH_TOKEN", api.token().unwrap().to_string()),
    ];

    let mut setup = start(dir.path(), &env, &["setup"]);
    setup.expect("READY");
    assert!(setup.child.wait().unwrap().success());

    let mut rng = StdRng::seed_from_u64(SEED);
    // Note id → highest revision whose save was acknowledged.
    let mut acked: BTreeMap<Uuid, u32> = BTreeMap::new();
    let (mut during_sync, mut during_save) = (0usize, 0usize);
    for kill in 0..KILLS {
        assert!(
            started.elapsed() < TIME_BOUND,
            "only {kill} kills within {TIME_BOUND:?}"
        );
        let mut worker = start(dir.path(), &env, &["run", &rng.gen::<u64>().to_string()]);

        // What survived the last kill.
        worker.expect("INTEGRITY ok");
        let mut have = BTreeMap::new();
        loop {
            let line = worker
                .line(Duration::from_secs(60))
                .expect("worker died at start");
            if line == "STARTED" {
                break;
            }
            let mut parts = line.split(' ');
            assert_eq!(parts.next(), Some("HAVE"), "unexpected line {line:?}");
            let id: Uuid = parts.next().unwrap().parse().unwrap();
            let rev: u32 = parts.next().unwrap().parse().unwrap();
            have.insert(id, rev);
        }
        for (id, rev) in &acked {
            let kept = have.get(id).copied();
            assert!(
                kept.is_some_and(|k| k >= *rev),
                "after kill {kill}: note {id} acknowledged at revision {rev}, found {kept:?}"
            );
        }

        // Pull the plug in the phase the seed picks: a short random moment
        // after the worker says it started a sync, or after it acknowledged
        // a save (the next save is then under way). Waiting for the worker's
        // own words rather than a wall-clock delay keeps both phases covered
        // however loaded the machine is.
        // Saves are short and often followed straight by a sync, so they
        // get the larger share of the aim.
        let phase = if rng.gen_bool(1.0 / 3.0) {
            "SYNCING"
        } else {
            "ACK "
        };
        let mut last = loop {
            let line = worker
                .line(Duration::from_secs(60))
                .expect("crash-worker ended by itself before the kill");
            record_ack(&line, &mut acked);
            if line.starts_with(phase) {
                break line;
            }
        };
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..20)));
        worker.child.kill().unwrap();
        let status = worker.child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "crash-worker ended by itself before the kill ({status})"
        );
        while let Some(line) = worker.line(Duration::from_secs(10)) {
            record_ack(&line, &mut acked);
            last = line;
        }
        if last == "SYNCING" {
            during_sync += 1;
        } else {
            during_save += 1;
        }
    }
    eprintln!(
        "crash: {KILLS} SIGKILLs ({during_sync} during sync, {during_save} during or between \
         saves), {} notes acknowledged, {:?}",
        acked.len(),
        started.elapsed()
    );
    assert!(during_sync >= 20, "too few kills landed in a sync");
    assert!(during_save >= 20, "too few kills landed in a save");

    // The last restart: checks once more, then drains the outbox.
    let mut settle = start(dir.path(), &env, &["settle"]);
    settle.expect("SETTLED");
    assert!(settle.child.wait().unwrap().success());
    let on_server = api.latest_records().await;
    for (id, rev) in &acked {
        let Some((_, Record::Note(note))) = on_server.get(id) else {
            panic!("acknowledged note {id} never reached the server");
        };
        let server_rev: u32 = note
            .updated_at
            .rsplit('.')
            .next()
            .and_then(|s| s.trim_end_matches('Z').parse().ok())
            .unwrap();
        assert!(
            server_rev >= *rev,
            "the server has an older revision of {id}"
        );
    }
    eprintln!(
        "crash: all acknowledged notes on the server after {:?}",
        started.elapsed()
    );
}
