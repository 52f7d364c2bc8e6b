//! Keeps the window in step with the shell: the app state (idle lock,
//! session end) and the sync state change without the UI asking.

use bench_protocol::desktop::{events, AppState, SyncStatus};
use gloo::timers::callback::Interval;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::effects::{self, Dispatch};
use crate::ipc;
use crate::state::{Action, ShellAction};

/// The shell pushes changes as events; this re-reads both states every few
/// seconds as well, so a missed event costs seconds, not a stale screen.
const RESYNC_MS: u32 = 5_000;

/// Subscribes to `app-state` and `sync-status` and reads both once now.
#[hook]
pub fn use_shell_events(dispatch: Dispatch) {
    use_effect_with((), move |_| {
        {
            let dispatch = dispatch.clone();
            spawn_local(async move {
                let on_state = dispatch.clone();
                ipc::listen(events::APP_STATE, move |state: AppState| {
                    effects::app_state(&on_state, state)
                })
                .await;
                let on_sync = dispatch.clone();
                ipc::listen(events::SYNC_STATUS, move |status: SyncStatus| {
                    on_sync.dispatch(Action::Shell(ShellAction::Sync(status)));
                })
                .await;
                let on_finished = dispatch.clone();
                ipc::listen(events::SYNC_FINISHED, move |status: SyncStatus| {
                    on_finished.dispatch(Action::Shell(ShellAction::SyncFinished(status)));
                })
                .await;
                resync(&dispatch).await;
            });
        }
        let poll = Interval::new(RESYNC_MS, move || {
            let dispatch = dispatch.clone();
            spawn_local(async move { resync(&dispatch).await });
        });
        move || drop(poll)
    });
}

async fn resync(dispatch: &Dispatch) {
    let Some(state) = effects::refresh_app_state(dispatch).await else {
        return;
    };
    // Sync state means something only to a signed-in practitioner.
    if matches!(state, AppState::Locked { .. } | AppState::Unlocked { .. }) {
        effects::refresh_sync(dispatch).await;
    }
}
