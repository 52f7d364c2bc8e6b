//! The Doctor's Bench desktop UI: a Yew app that runs inside the Tauri
//! window and draws the practitioner's screens.
//!
//! What it does: shows the screen that matches the shell's [`AppState`]
//! (sign-in, code, enrolment, lock, clients, one client's notes), sends what
//! the practitioner types to the shell, and tells the shell when the person
//! touches keyboard or pointer so the idle lock can run.
//!
//! What it deliberately does not do: keep anything. No localStorage,
//! sessionStorage, IndexedDB or cookies; clinical data lives only in the
//! reducer while unlocked and is dropped on lock. It has no business logic
//! either: every decision (is this code right, may this note change, when to
//! lock) is made by the client core behind the shell.
//!
//! Data flow:
//!
//! ```text
//!   DOM events --> components --> ipc::invoke --> shell command --> core
//!                      ^                               |
//!                      +-- state::Action <-- result ---+
//!   shell events (app-state, sync-status) --> hooks --> state::Action
//! ```
//!
//! [`AppState`]: bench_protocol::desktop::AppState

#![forbid(unsafe_code)]

mod components;
mod dates;
mod effects;
mod hooks;
mod ipc;
mod office;
mod qr;
mod state;

fn main() {
    yew::Renderer::<components::app::App>::new().render();
}
