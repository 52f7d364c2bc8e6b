//! One client: their details, the note editor and their notes.

use yew::platform::spawn_local;
use yew::prelude::*;

use super::note_editor::NoteEditor;
use super::note_item::NoteItem;
use crate::dates;
use crate::effects::{self, Store};
use crate::state::{Action, ClientAction, Clinical};

/// The open client.
#[function_component]
pub fn ClientPage() -> Html {
    let store = use_context::<Store>().expect("inside the store provider");
    let dispatch = store.dispatcher();

    // A sync changes the notes' sync states (and may bring notes from other
    // devices): re-read the open client whenever the shell reports a new
    // sync state or a finished sync. Quietly: no busy state, and a failure just waits for the
    // next report.
    let open_id = match store.clinical.as_ref() {
        Some(Clinical::Client(screen)) => Some(screen.view.client.id),
        _ => None,
    };
    {
        let dispatch = dispatch.clone();
        let deps = (store.sync.clone(), store.sync_round, open_id);
        use_effect_with(deps, move |(_, _, open_id)| {
            if let Some(id) = *open_id {
                spawn_local(async move {
                    if let Ok(view) = effects::fetch_client(id).await {
                        dispatch.dispatch(Action::Client(ClientAction::Refreshed(view)));
                    }
                });
            }
        });
    }

    let Some(Clinical::Client(screen)) = store.clinical.as_ref() else {
        return html! {};
    };
    let client = &screen.view.client;

    let back = {
        let dispatch = dispatch.clone();
        Callback::from(move |_: MouseEvent| dispatch.dispatch(Action::Client(ClientAction::Back)))
    };
    let new_note = {
        let dispatch = dispatch.clone();
        Callback::from(move |_: MouseEvent| {
            dispatch.dispatch(Action::Client(ClientAction::NewNote {
                today: dates::today(),
            }))
        })
    };

    let read_only = screen.view.read_only;
    let details = [
        client.date_of_birth.as_ref().map(|d| format!("Born {d}")),
        client.contact.clone(),
    ];

    html! {
        <main class="page client">
            <div class="toolbar">
                <button id="back" type="button" onclick={back}>{ "← All clients" }</button>
                if !read_only {
                    <button id="new-note" type="button" onclick={new_note}>{ "New note" }</button>
                }
            </div>
            <h1 id="client-name">{ client.full_name.clone() }</h1>
            if read_only {
                <p class="read-only-note">
                    <span class="read-only-badge">{ "Read-only" }</span>
                    { " Another practitioner's client: you can read these notes, not change them." }
                </p>
            }
            <p class="client-details">
                { for details.into_iter().flatten().map(|d| html! { <span>{ d }</span> }) }
            </p>
            if !read_only {
                <NoteEditor client_id={client.id} />
            }
            <h2>{ "Session notes" }</h2>
            if screen.view.notes.is_empty() {
                <p class="empty">{ "No notes yet." }</p>
            }
            <ol class="notes">
                { for screen.view.notes.iter().map(|note| html! {
                    <NoteItem key={note.note.id.to_string()} note={note.clone()} />
                }) }
            </ol>
        </main>
    }
}
