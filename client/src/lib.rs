//! Doctor's Bench client core: everything the desktop app does that does not
//! need a window.
//!
//! - [`vault`]: one SQLCipher file per practitioner per device, with every
//!   clinical field also sealed with AES-256-GCM under a separate key.
//! - [`keys`]: the key hierarchy: data keys wrapped by a key-encryption key
//!   derived from the password (Argon2id) and a device secret held in the OS
//!   keyring.
//! - [`device_audit`]: one audit entry per edit made on this device, kept
//!   in the vault until the server has stored it.
//! - [`idle`]: the idle-lock state machine, on the wall clock.
//! - [`sync`]: the TLS 1.3-only API client, the outbox and pull cursor.
//! - [`backoff`]: when to retry the server after a failed sync.
//! - [`Core`]: the facade the Tauri shell calls.
//!
//! Data flows: the shell calls [`Core`]; writes go into the vault and its
//! outbox in one transaction; [`Core::sync_now`] pushes the outbox through
//! [`sync::ApiClient`] and pulls the server's change feed back into the
//! vault.
//!
//! Not here: any window, timer or thread of its own. The shell decides when
//! to call [`Core::check_idle`] and [`Core::sync_now`] ([`Core::sync_delay`]
//! says how long to wait before the next background sync). No record is ever
//! deleted on this device.
//!
//! The core never logs names, note text, passwords, codes or keys.

#![forbid(unsafe_code)]

pub mod backoff;
pub mod config;
pub mod core;
pub mod device_audit;
pub mod error;
pub mod idle;
pub mod keys;
pub mod seal;
pub mod sync;
pub mod vault;

pub use crate::config::Config;
pub use crate::core::Core;
pub use crate::error::CoreError;
