//! The Doctor's Bench clinic API server: the service the desktop app signs
//! in to and syncs with.
//!
//! What it does:
//! - serves a JSON API over HTTPS, TLS 1.3 only (rustls with ring), with
//!   HSTS on every response (`http`, `tls`);
//! - signs accounts in with an Argon2id password and an RFC 6238 TOTP
//!   code, enrolling the authenticator at first sign-in, so every role,
//!   supervisors and clinic admins included, has 2FA before any session
//!   (`auth`, `totp`);
//! - slows and then locks repeated failed sign-ins per account and source
//!   network and per source address, with the counters kept in
//!   `bench.db`, and raises alerts for failed-sign-in runs, bulk record
//!   reads and sign-in from a new network (`alerts`);
//! - keeps opaque bearer sessions that end after 30 idle minutes or 12
//!   hours (`store`);
//! - stores clients and session notes per practitioner and syncs them with
//!   at-most-once changes, versioned records and kept conflict copies
//!   (`store`);
//! - enforces roles where the data is read (`Store::access`): a record is
//!   its owner's, a clinic colleague's only through a share made with the
//!   client's consent, a supervisor's only for the practitioners assigned to
//!   them (to read and co-sign, never to write), an operations account's
//!   only through a time-limited grant naming a ticket and the owner's
//!   consent; clinic admins get team management and never a clinical field;
//!   a pull carries shared and supervised records, says who owns each
//!   (`ServerChange::owner_id`, so the device shows others' read-only), and
//!   names those whose share or assignment ended (`PullResponse::removed`);
//! - keeps the clinic's schedule and invoices with no clinical content: the
//!   clinic admin books and bills for every client, seeing a client's name
//!   and nothing else of the record; a practitioner their own clients only
//!   (`store::schedule`);
//! - writes every sign-in attempt, record read, write, export, account
//!   change, operations request, alert and device-recorded entry to a
//!   hash-chained, append-only audit log in its own file, with Ed25519
//!   signed checkpoints of its head (`audit`).
//!
//! What it does not do (yet): a list of the clients shared with or
//! supervised by the caller (they arrive by pull; `GET /v1/clients` lists
//! one's own), more than one clinic per server, PostgreSQL
//! (the `store` module is the seam where it would go).
//!
//! Data flow for one request:
//!
//! ```text
//!   device --TLS 1.3--> http (parse, session check, throttle) --spawn_blocking--> store (bench.db)
//!                                   \------------------------------------------------> audit (audit.db:
//!                                                                     entries, checkpoints, alerts)
//! ```
//!
//! Usage:
//!
//! ```text
//!   bench-server init --demo [--data-dir DIR] [--listen 127.0.0.1:8443]
//!   bench-server serve [--data-dir DIR] [--listen 127.0.0.1:8443]
//!   printf '%s' "$PASSWORD" | bench-server user add --username amina \
//!       --display-name "Amina W." --role solo_practitioner --password-stdin [--with-totp]
//!   bench-server user passwd --username demo --password-stdin   (ends its sessions)
//!   bench-server user unlock --username demo
//!   bench-server user sessions-revoke --username demo
//!   bench-server user reset-2fa --username demo
//!   bench-server audit verify [--data-dir DIR]
//!   bench-server audit anchor [--data-dir DIR]   (a log from before audit-head.json)
//!   bench-server audit export --from SEQ --to SEQ --out FILE [--data-dir DIR]
//!   bench-server audit verify-export --in FILE [--public-key HEX]
//!   bench-server alerts list [--data-dir DIR]
//!   bench-server device list [--username amina] [--data-dir DIR]
//!   bench-server device revoke --device-id ID [--reason "laptop stolen"]   (every account on it)
//! ```
//!
//! The data directory defaults to `$BENCH_SERVER_DATA_DIR`, else
//! `$XDG_DATA_HOME/doctors-bench/server`, else
//! `~/.local/share/doctors-bench/server`. `init --demo` writes
//! `client.json` there with the server URL and the CA certificate the
//! desktop app should pin. `serve` prints `listening on https://ADDR` once
//! it accepts connections (`--listen 127.0.0.1:0` picks a free port).
//! `BENCH_SESSION_IDLE_SECS` and `BENCH_SESSION_MAX_SECS` may shorten the
//! session limits (for tests); they cannot lengthen them. The same holds for
//! `BENCH_SIGNIN_DELAY_MS`, `BENCH_SIGNIN_LOCK_SECS`,
//! `BENCH_ALERT_BULK_RECORDS`, `BENCH_ALERT_BULK_WINDOW_SECS` (see `alerts`)
//! and `BENCH_AUDIT_CHECKPOINT_EVERY`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod alerts;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod commands;
pub mod config;
pub mod error;
pub mod files;
pub mod http;
pub mod seal;
pub mod shared;
pub mod store;
pub mod tls;
pub mod totp;

pub use error::ServerError;
