//! One client: their details, the note editor and their notes.

use yew::prelude::*;

use super::note_editor::NoteEditor;
use super::note_item::NoteItem;
use crate::dates;
use crate::effects::Store;
use crate::state::{Action, ClientAction, Clinical};

/// The open client.
#[function_component]
pub fn ClientPage() -> Html {
    let store = use_context::<Store>().expect("inside the store provider");
    let dispatch = store.dispatcher();
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

    let details = [
        client.date_of_birth.as_ref().map(|d| format!("Born {d}")),
        client.contact.clone(),
    ];

    html! {
        <main class="page client">
            <div class="toolbar">
                <button id="back" type="button" onclick={back}>{ "← All clients" }</button>
                <button id="new-note" type="button" onclick={new_note}>{ "New note" }</button>
            </div>
            <h1 id="client-name">{ client.full_name.clone() }</h1>
            <p class="client-details">
                { for details.into_iter().flatten().map(|d| html! { <span>{ d }</span> }) }
            </p>
            <NoteEditor client_id={client.id} />
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
