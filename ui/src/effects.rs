//! Running shell commands from the screens: mark busy, call, record the
//! answer or the error.

use std::future::Future;

use bench_protocol::desktop::{
    commands, AppState, ClientListItem, ClientView, Resolution, Resolved, ShellError,
    ShellErrorKind, SyncStatus,
};
use serde::Serialize;
use uuid::Uuid;
use yew::platform::spawn_local;
use yew::{UseReducerDispatcher, UseReducerHandle};

use crate::state::{Action, ClientAction, ClientsAction, Model, ShellAction};
use crate::{dates, ipc};

/// The UI state as the components share it.
pub type Store = UseReducerHandle<Model>;

/// Sends actions to the [`Store`].
pub type Dispatch = UseReducerDispatcher<Model>;

/// Runs `work` in the background; `on_ok` records its answer. An error goes
/// to `#error`; a "locked" error also re-reads the app state, because the
/// idle lock may have closed the screen this command came from.
pub fn run<T, W, K>(dispatch: &Dispatch, work: W, on_ok: K)
where
    T: 'static,
    W: Future<Output = Result<T, ShellError>> + 'static,
    K: FnOnce(T, &Dispatch) + 'static,
{
    let dispatch = dispatch.clone();
    dispatch.dispatch(Action::Shell(ShellAction::Started));
    spawn_local(async move {
        match work.await {
            Ok(answer) => {
                on_ok(answer, &dispatch);
                dispatch.dispatch(Action::Shell(ShellAction::Done));
            }
            Err(error) => {
                let locked = error.kind == ShellErrorKind::Locked;
                dispatch.dispatch(Action::Shell(ShellAction::Failed(error)));
                if locked {
                    refresh_app_state(&dispatch).await;
                }
            }
        }
    });
}

/// Records a new app state.
pub fn app_state(dispatch: &Dispatch, state: AppState) {
    dispatch.dispatch(Action::Shell(ShellAction::AppState(state)));
}

/// Asks the shell where the app is, without marking the window busy.
pub async fn refresh_app_state(dispatch: &Dispatch) -> Option<AppState> {
    let state = ipc::invoke0::<AppState>(commands::APP_STATE).await.ok()?;
    app_state(dispatch, state.clone());
    Some(state)
}

/// Asks the shell for the sync state, without contacting the server.
pub async fn refresh_sync(dispatch: &Dispatch) {
    if let Ok(status) = ipc::invoke0::<SyncStatus>(commands::SYNC_STATUS).await {
        dispatch.dispatch(Action::Shell(ShellAction::Sync(status)));
    }
}

#[derive(Serialize)]
struct ListClients<'a> {
    query: &'a str,
}

/// Loads the clients matching `query` into the list.
pub fn load_clients(dispatch: &Dispatch, query: String) {
    run(
        dispatch,
        {
            let query = query.clone();
            async move {
                ipc::invoke::<_, Vec<ClientListItem>>(
                    commands::LIST_CLIENTS,
                    &ListClients { query: &query },
                )
                .await
            }
        },
        move |items, dispatch| {
            dispatch.dispatch(Action::Clients(ClientsAction::Loaded { query, items }));
        },
    );
}

/// Re-reads the clients matching `query` without marking the window busy:
/// for refreshes nobody asked for (after a background sync), whose failure
/// simply waits for the next one.
pub async fn refresh_clients(dispatch: &Dispatch, query: String) {
    let answer = ipc::invoke::<_, Vec<ClientListItem>>(
        commands::LIST_CLIENTS,
        &ListClients { query: &query },
    )
    .await;
    if let Ok(items) = answer {
        dispatch.dispatch(Action::Clients(ClientsAction::Loaded { query, items }));
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OpenClient {
    client_id: Uuid,
}

/// Opens a client (or reloads the open one) with their notes.
pub fn open_client(dispatch: &Dispatch, client_id: Uuid) {
    run(
        dispatch,
        async move { fetch_client(client_id).await },
        |view, dispatch| {
            dispatch.dispatch(Action::Client(ClientAction::Opened {
                view,
                today: dates::today(),
            }));
        },
    );
}

/// The client with their notes, as the shell has them now.
pub async fn fetch_client(client_id: Uuid) -> Result<ClientView, ShellError> {
    ipc::invoke(commands::OPEN_CLIENT, &OpenClient { client_id }).await
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResolveConflict {
    record_id: Uuid,
    resolution: Resolution,
}

/// Settles a record in conflict as the practitioner chose, then re-reads
/// what shows it: the open client (when `client_id` is given) or the
/// client list, and the sync state in the header.
pub fn resolve_conflict(
    dispatch: &Dispatch,
    client_id: Uuid,
    record_id: Uuid,
    resolution: Resolution,
) {
    run(
        dispatch,
        async move {
            let resolved: Resolved = ipc::invoke(
                commands::RESOLVE_CONFLICT,
                &ResolveConflict {
                    record_id,
                    resolution,
                },
            )
            .await?;
            let view = fetch_client(client_id).await?;
            Ok((resolved, view))
        },
        move |(resolved, view), dispatch| {
            let today = dates::today();
            dispatch.dispatch(Action::Client(ClientAction::Opened {
                view,
                today: today.clone(),
            }));
            dispatch.dispatch(Action::Client(ClientAction::Resolved {
                record_id: resolved.record_id,
                today,
            }));
            let dispatch = dispatch.clone();
            spawn_local(async move { refresh_sync(&dispatch).await });
        },
    );
}

/// Settles a client record in conflict from the client list, then re-reads
/// the list for `query` and the sync state.
pub fn resolve_client_conflict(
    dispatch: &Dispatch,
    query: String,
    record_id: Uuid,
    resolution: Resolution,
) {
    run(
        dispatch,
        async move {
            ipc::invoke::<_, Resolved>(
                commands::RESOLVE_CONFLICT,
                &ResolveConflict {
                    record_id,
                    resolution,
                },
            )
            .await
        },
        move |_, dispatch| {
            let dispatch = dispatch.clone();
            spawn_local(async move {
                refresh_clients(&dispatch, query).await;
                refresh_sync(&dispatch).await;
            });
        },
    );
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RetryRejected {
    record_id: Uuid,
}

/// Sends a refused record again, then re-reads the open client (when
/// `client_id` is given) or the client list for `query`, and the sync state.
pub fn retry_rejected(
    dispatch: &Dispatch,
    record_id: Uuid,
    client_id: Option<Uuid>,
    query: String,
) {
    run(
        dispatch,
        async move {
            ipc::invoke::<_, ()>(commands::RETRY_REJECTED, &RetryRejected { record_id }).await?;
            match client_id {
                Some(id) => fetch_client(id).await.map(Some),
                None => Ok(None),
            }
        },
        move |view, dispatch| {
            if let Some(view) = view {
                dispatch.dispatch(Action::Client(ClientAction::Refreshed(view)));
            }
            let dispatch = dispatch.clone();
            spawn_local(async move {
                if client_id.is_none() {
                    refresh_clients(&dispatch, query).await;
                }
                refresh_sync(&dispatch).await;
            });
        },
    );
}
