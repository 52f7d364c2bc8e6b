//! The Doctor's Bench clinic API server: the service the desktop app signs
//! in to and syncs with.
//!
//! What it does:
//! - serves a JSON API over HTTPS, TLS 1.3 only (rustls with ring), with
//!   HSTS on every response (`http`, `tls`);
//! - signs practitioners in with an Argon2id password and an RFC 6238 TOTP
//!   code, enrolling the authenticator at first sign-in (`auth`, `totp`);
//! - keeps opaque bearer sessions that end after 30 idle minutes or 12
//!   hours (`store`);
//! - stores clients and session notes per practitioner and syncs them with
//!   at-most-once changes, versioned records and kept conflict copies
//!   (`store`);
//! - writes every sign-in attempt, record read and note write to a
//!   hash-chained, append-only audit log in its own file (`audit`).
//!
//! What it does not do (yet): sharing records between practitioners,
//! supervisor and clinic-admin flows (the roles are stored but only the
//! practitioner flows work), rate limiting of sign-in attempts, PostgreSQL
//! (the `store` module is the seam where it would go).
//!
//! Data flow for one request:
//!
//! ```text
//!   device --TLS 1.3--> http (parse, session check) --spawn_blocking--> store (bench.db)
//!                                   \------------------------------------> audit (audit.db)
//! ```
//!
//! Usage:
//!
//! ```text
//!   bench-server init --demo [--data-dir DIR] [--listen 127.0.0.1:8443]
//!   bench-server serve [--data-dir DIR] [--listen 127.0.0.1:8443]
//!   printf '%s' "$PASSWORD" | bench-server user add --username amina \
//!       --display-name "Amina W." --role solo_practitioner --password-stdin [--with-totp]
//!   bench-server user passwd --username demo --password-stdin
//!   bench-server audit verify [--data-dir DIR]
//! ```
//!
//! The data directory defaults to `$BENCH_SERVER_DATA_DIR`, else
//! `$XDG_DATA_HOME/doctors-bench/server`, else
//! `~/.local/share/doctors-bench/server`. `init --demo` writes
//! `client.json` there with the server URL and the CA certificate the
//! desktop app should pin. `serve` prints `listening on https://ADDR` once
//! it accepts connections (`--listen 127.0.0.1:0` picks a free port).
//! `BENCH_SESSION_IDLE_SECS` and `BENCH_SESSION_MAX_SECS` may shorten the
//! session limits (for tests); they cannot lengthen them.

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
