//! The shell's timers: the idle check and the background sync. The UI only
//! reports activity; the lock decision is made here and in the core, so a
//! frozen or hostile page cannot keep the app unlocked.

use std::sync::Arc;
use std::time::Duration;

use bench_client::Core;
use bench_protocol::desktop::{events, AppState, SyncStatus};
use tauri::{AppHandle, Emitter};

/// How often the idle timeout is checked.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Starts both timers on Tauri's async runtime.
pub fn start(app: AppHandle, core: Arc<Core>) {
    tauri::async_runtime::spawn(watch_idle(app.clone(), core.clone()));
    tauri::async_runtime::spawn(sync_in_background(app, core));
}

/// Every second: lock when idle, and tell the UI when the app state or the
/// sync state changed.
async fn watch_idle(app: AppHandle, core: Arc<Core>) {
    let mut tick = tokio::time::interval(IDLE_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_state: Option<AppState> = None;
    let mut last_sync: Option<SyncStatus> = None;
    loop {
        tick.tick().await;
        let state = core.check_idle();
        let unlocked = matches!(state, AppState::Unlocked { .. });
        if last_state.as_ref() != Some(&state) {
            emit(&app, events::APP_STATE, &state);
            last_state = Some(state);
        }
        // Counting the outbox needs the vault open.
        if unlocked {
            let status = core.sync_status();
            if last_sync.as_ref() != Some(&status) {
                emit(&app, events::SYNC_STATUS, &status);
                last_sync = Some(status);
            }
        }
    }
}

/// While unlocked: push the outbox and pull, as often as the core says
/// (every 30 seconds while the server answers, backing off with jitter while
/// it does not). A failure is not an error for the practitioner: it shows as
/// the sync state.
async fn sync_in_background(app: AppHandle, core: Arc<Core>) {
    loop {
        tokio::time::sleep(core.sync_delay()).await;
        if !matches!(core.state(), AppState::Unlocked { .. }) {
            continue;
        }
        let status = match core.sync_now().await {
            Ok(status) => status,
            Err(error) => {
                tracing::info!(kind = ?error.to_shell_error().kind, "background sync did not complete");
                core.sync_status()
            }
        };
        // Sent after every round, changed status or not: a pull may have
        // brought records while the status stayed "Synced".
        emit(&app, events::SYNC_FINISHED, &status);
    }
}

fn emit<T: serde::Serialize + Clone>(app: &AppHandle, event: &str, payload: &T) {
    if let Err(error) = app.emit(event, payload.clone()) {
        tracing::warn!(event, %error, "could not notify the window");
    }
}
