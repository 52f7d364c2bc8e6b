//! Test-only: a client that the crash test kills with SIGKILL at random
//! moments. Not part of the shipped app.
//!
//! It opens the vault the way the client core does (keys from the password
//! and a device secret, here in a plain-file test keyring), reports what it
//! holds, then writes and syncs until it is killed:
//!
//! ```text
//! crash-worker <data dir> setup         create the vault and one client; prints "READY"
//! crash-worker <data dir> run <seed>    prints "INTEGRITY ok", "HAVE <note id> <rev>" per
//!                                       note, "STARTED"; then loops: save a note (new or a
//!                                       new revision), print "ACK <note id> <rev>" once
//!                                       the save returned; now and then sync, printing
//!                                       "SYNCING" before and "SYNCED" after a full push
//!                                       and pull.
//! crash-worker <data dir> settle        syncs until nothing waits; prints "SETTLED"
//! ```
//!
//! Environment: `CRASH_PASSWORD` (vault password), `CRASH_SERVER_URL`,
//! `CRASH_CA` (the server's CA PEM) and `CRASH_TOKEN` (a session token the
//! test signed in for; a new sign-in per restart would need a new TOTP
//! step). The sync steps are those of `Core::sync_now`: push the outbox,
//! apply each outcome, pull page by page, each page applied with its cursor.

#![forbid(unsafe_code)]

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use bench_client::keys::{self, KdfParams};
use bench_client::sync::{ApiClient, Tls13Only};
use bench_client::vault::Vault;
use bench_e2e::keyring::FileKeyring;
use bench_protocol::{ClientRecord, NoteStatus, SessionNote};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

const ACCOUNT: &str = "crash-test/worker";

/// The body of a note at a revision: deterministic, so the test can tell
/// an intact note from a torn one by its text alone.
fn body(id: Uuid, rev: u32) -> String {
    format!("Synthetic crash-test note {id} revision {rev}. ").repeat(1 + (rev as usize % 40))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(&args[1]);
    let password = std::env::var("CRASH_PASSWORD").expect("CRASH_PASSWORD");
    let store = FileKeyring(dir.join("keyring"));
    let vault_path = dir.join("vault.db");
    let header = keys::header_path(&vault_path);
    let mut out = std::io::stdout().lock();

    match args[2].as_str() {
        "setup" => {
            let keys = keys::create(
                &header,
                &store,
                ACCOUNT,
                &password,
                KdfParams::FAST_INSECURE_FOR_TESTS,
            )
            .unwrap();
            let mut vault = Vault::open(&vault_path, keys).unwrap();
            vault
                .insert_client(&ClientRecord {
                    id: Uuid::new_v4(),
                    full_name: "Synthetic Crash Client".into(),
                    date_of_birth: None,
                    contact: None,
                    created_at: "2026-03-01T09:00:00Z".into(),
                })
                .unwrap();
            writeln!(out, "READY").unwrap();
        }
        "run" => {
            let seed: u64 = args[3].parse().unwrap();
            let keys = keys::open(&header, &store, ACCOUNT, &password).unwrap();
            let mut vault = Vault::open(&vault_path, keys).unwrap();
            vault.integrity_check().unwrap();
            writeln!(out, "INTEGRITY ok").unwrap();
            let client_id = vault.clients().unwrap()[0].client.id;
            let mut drafts: Vec<(Uuid, u32)> = Vec::new();
            for view in vault.notes_of(client_id).unwrap() {
                let rev = revision_of(&view.note);
                assert_eq!(view.note.body, body(view.note.id, rev), "a note is torn");
                writeln!(out, "HAVE {} {rev}", view.note.id).unwrap();
                if view.note.status == NoteStatus::Draft {
                    drafts.push((view.note.id, rev));
                }
            }
            writeln!(out, "STARTED").unwrap();
            out.flush().unwrap();

            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let api = api_client();
            let token = std::env::var("CRASH_TOKEN").expect("CRASH_TOKEN");
            let mut rng = StdRng::seed_from_u64(seed);
            loop {
                let (id, rev) = if drafts.is_empty() || rng.gen_ratio(1, 2) {
                    (Uuid::new_v4(), 0)
                } else {
                    let i = rng.gen_range(0..drafts.len());
                    drafts[i].1 += 1;
                    drafts[i]
                };
                let signed = rng.gen_ratio(1, 10);
                let note = SessionNote {
                    id,
                    client_id,
                    session_date: "2026-03-02".into(),
                    body: body(id, rev),
                    status: if signed {
                        NoteStatus::Signed
                    } else {
                        NoteStatus::Draft
                    },
                    // The revision travels in a field the test can read back.
                    created_at: "2026-03-02T10:00:00Z".into(),
                    updated_at: format!("2026-03-02T10:00:00.{rev:06}Z"),
                    signed_at: signed.then(|| "2026-03-02T11:00:00Z".into()),
                };
                vault.save_note(&note).unwrap();
                writeln!(out, "ACK {id} {rev}").unwrap();
                out.flush().unwrap();
                if signed {
                    drafts.retain(|(d, _)| *d != id);
                } else if rev == 0 {
                    drafts.push((id, 0));
                }
                if rng.gen_ratio(1, 30) {
                    writeln!(out, "SYNCING").unwrap();
                    out.flush().unwrap();
                    runtime.block_on(sync(&api, &token, &mut vault));
                    writeln!(out, "SYNCED").unwrap();
                    out.flush().unwrap();
                }
            }
        }
        "settle" => {
            let keys = keys::open(&header, &store, ACCOUNT, &password).unwrap();
            let mut vault = Vault::open(&vault_path, keys).unwrap();
            vault.integrity_check().unwrap();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let api = api_client();
            let token = std::env::var("CRASH_TOKEN").expect("CRASH_TOKEN");
            for _ in 0..10 {
                runtime.block_on(sync(&api, &token, &mut vault));
                if vault.counts().unwrap() == (0, 0) {
                    writeln!(out, "SETTLED").unwrap();
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            panic!("the outbox did not empty: {:?}", vault.counts().unwrap());
        }
        other => panic!("unknown mode {other}"),
    }
}

/// The revision a note was saved at, from its `updated_at`.
fn revision_of(note: &SessionNote) -> u32 {
    note.updated_at
        .rsplit('.')
        .next()
        .and_then(|s| s.trim_end_matches('Z').parse().ok())
        .expect("revision in updated_at")
}

fn api_client() -> ApiClient {
    let url = std::env::var("CRASH_SERVER_URL").expect("CRASH_SERVER_URL");
    let ca = std::env::var("CRASH_CA").expect("CRASH_CA");
    ApiClient::new(&url, Tls13Only::from_ca_file(Some(Path::new(&ca))).unwrap()).unwrap()
}

/// `Core::sync_now`'s steps on the vault. Network failures end the round
/// the worker: on loopback they are not expected.
async fn sync(api: &ApiClient, token: &str, vault: &mut Vault) {
    let changes = vault.take_changes(usize::MAX >> 1).unwrap();
    let (results, err) = api.push(token, changes).await;
    for result in &results {
        vault
            .apply_outcome(result.change_id, &result.outcome)
            .unwrap();
    }
    if let Some(err) = err {
        panic!("push failed on loopback: {err}");
    }
    let mut cursor = vault.pull_cursor().unwrap();
    loop {
        let page = api.pull_page(token, cursor).await.unwrap();
        let next = page.next_cursor.max(cursor);
        for change in &page.changes {
            vault.apply_pulled(change).unwrap();
        }
        vault.set_pull_cursor(next).unwrap();
        if !page.more || next <= cursor {
            return;
        }
        cursor = next;
    }
}
