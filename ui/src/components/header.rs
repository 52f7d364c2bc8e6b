//! The bar shown whenever someone is signed in: who, sync state, and the
//! sync, lock and sign-out buttons.

use bench_protocol::desktop::{commands, AppState, SyncStatus};
use yew::prelude::*;

use crate::effects::{self, Store};
use crate::ipc;
use crate::state::{sync_text, Action, ClientAction, ShellAction};

/// The header.
#[function_component]
pub fn Header() -> Html {
    let store = use_context::<Store>().expect("inside the store provider");
    let dispatch = store.dispatcher();

    let (who, unlocked) = match &store.app {
        Some(AppState::Unlocked { practitioner }) => (practitioner.display_name.clone(), true),
        Some(AppState::Locked { username }) => (username.clone(), false),
        _ => (String::new(), false),
    };
    let status = store.sync.as_ref().map(sync_text).unwrap_or_default();
    let status_class = match store.sync {
        Some(SyncStatus::Synced) => "sync synced",
        Some(SyncStatus::Conflict { .. })
        | Some(SyncStatus::Rejected { .. })
        | Some(SyncStatus::SignInRequired { .. })
        | Some(SyncStatus::ClockOff { .. }) => "sync attention",
        _ => "sync pending",
    };

    let sync_now = {
        let dispatch = dispatch.clone();
        Callback::from(move |_: MouseEvent| {
            effects::run(
                &dispatch,
                ipc::invoke0::<SyncStatus>(commands::SYNC_NOW),
                |status, dispatch| {
                    dispatch.dispatch(Action::Shell(ShellAction::SyncFinished(status)))
                },
            );
        })
    };
    // Conflicts and refusals are marked on each client's row: this takes
    // the practitioner there.
    let trouble = matches!(
        store.sync,
        Some(SyncStatus::Conflict { .. } | SyncStatus::Rejected { .. })
    );
    let show_trouble = {
        let dispatch = dispatch.clone();
        Callback::from(move |_: MouseEvent| dispatch.dispatch(Action::Client(ClientAction::Back)))
    };
    let lock_now = state_command(&dispatch, commands::LOCK);
    let sign_out = state_command(&dispatch, commands::SIGN_OUT);

    html! {
        <header class="app-header">
            <span class="brand">{ "Doctor's Bench" }</span>
            <span class="practitioner" id="practitioner-name">{ who }</span>
            <span id="sync-status" class={status_class} role="status">{ status }</span>
            if unlocked && trouble {
                <button id="show-trouble" type="button" class="show-trouble" onclick={show_trouble}>
                    { "Show which" }
                </button>
            }
            <span class="header-actions">
                if unlocked {
                    <button id="sync-now" type="button" disabled={store.busy} onclick={sync_now}>
                        { "Sync now" }
                    </button>
                    <button id="lock-now" type="button" onclick={lock_now}>{ "Lock" }</button>
                }
                <button id="sign-out" type="button" onclick={sign_out}>{ "Sign out" }</button>
            </span>
        </header>
    }
}

/// A button callback for a command that takes nothing and answers with the
/// new app state.
fn state_command(dispatch: &effects::Dispatch, command: &'static str) -> Callback<MouseEvent> {
    let dispatch = dispatch.clone();
    Callback::from(move |_: MouseEvent| {
        effects::run(
            &dispatch,
            ipc::invoke0::<AppState>(command),
            |state, dispatch| effects::app_state(dispatch, state),
        );
    })
}
