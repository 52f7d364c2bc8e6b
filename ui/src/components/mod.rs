//! The screens and their parts. Each reads the shared [`Store`] from
//! context and changes it only through actions.
//!
//! [`Store`]: crate::effects::Store

pub mod amendments;
pub mod app;
pub mod client;
pub mod clients;
pub mod code_entry;
pub mod cosign;
pub mod error_banner;
pub mod header;
pub mod lock_screen;
pub mod note_editor;
pub mod note_item;
pub mod office;
pub mod qr_code;
pub mod sign_in;
pub mod support;
