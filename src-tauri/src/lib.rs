//! The Doctor's Bench desktop shell: the Tauri process that hosts the UI and
//! owns the client core.
//!
//! What it does: opens one window (a second launch focuses it instead),
//! exposes the core's methods to the UI as Tauri commands, and runs the
//! timers the UI cannot be trusted with: the idle check every second and a
//! background sync every 30 seconds while unlocked. Changes reach the UI as
//! the events `app-state` and `sync-status`.
//!
//! What it does not do: decide anything. Sign-in, keys, locking and sync
//! live in `bench_client::Core`; the commands only translate. The webview may
//! call our commands and listen to events, nothing else (see
//! capabilities/default.json), and it loads only the UI bundled into the
//! binary.
//!
//! Data flow:
//!
//! ```text
//!   UI --invoke--> commands --> Core --> vault / server
//!   UI <--events-- watchers --> Core::check_idle, Core::sync_now
//! ```
//!
//! Logs go to stderr (`RUST_LOG` sets the level, `info` by default) and name
//! commands and error kinds, never arguments.

#![forbid(unsafe_code)]

mod commands;
mod watchers;

use std::sync::Arc;

use bench_client::{Config, Core};
use tauri::Manager;

/// Starts the app; returns when the window closes.
pub fn run() {
    init_tracing();

    let core = match Config::load().and_then(Core::new) {
        Ok(core) => Arc::new(core),
        Err(error) => {
            // The message says what to configure; it carries no secrets.
            eprintln!("Doctor's Bench cannot start: {error}");
            std::process::exit(1);
        }
    };

    let result = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            focus_main_window(app);
        }))
        .manage(core.clone())
        .invoke_handler(tauri::generate_handler![
            commands::app_state,
            commands::sign_in,
            commands::submit_code,
            commands::unlock,
            commands::lock,
            commands::sign_out,
            commands::activity,
            commands::list_clients,
            commands::add_client,
            commands::open_client,
            commands::save_draft,
            commands::sign_note,
            commands::sync_now,
            commands::sync_status,
        ])
        .setup(move |app| {
            watchers::start(app.handle().clone(), core);
            Ok(())
        })
        .run(tauri::generate_context!());

    if let Err(error) = result {
        eprintln!("Doctor's Bench stopped: {error}. Restart it; if this repeats, reinstall it.");
        std::process::exit(1);
    }
}

/// A second launch brings the running window forward instead of opening a
/// second session on the same vault.
fn focus_main_window(app: &tauri::AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
