//! Wire types shared by the Doctor's Bench desktop client, its UI and the
//! clinic API server.
//!
//! Everything that crosses a process boundary is defined here once: the HTTP
//! API between client core and server (`api`), the records both sides
//! store (`records`), and the rules a record's fields must follow
//! (`validate`), which the server enforces and the client can check first. The crate has no I/O and no crypto, and compiles to
//! wasm32 so the UI can use the same types.
//!
//! Data flows one way through each seam:
//!
//! ```text
//!   ui (Yew, wasm32) --> shell (Tauri commands) --> client core --> server
//!          \________________ bench-protocol ______________/
//! ```
//!
//! Timestamps travel as RFC 3339 strings in UTC and record ids as UUIDs
//! chosen by the device that created the record, so a record made offline
//! never needs renumbering.
//!
//! Not here: anything secret. Passwords and TOTP codes appear only in the
//! request types that carry them, and those types redact themselves in
//! `Debug`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod api;
pub mod desktop;
pub mod records;
pub mod validate;

pub use records::{ClientRecord, NoteAmendment, NoteStatus, Record, RecordKind, SessionNote};
