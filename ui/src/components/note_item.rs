//! One session note in the list: read-only when signed, with its sync state
//! and, in a conflict, the other version beside it.

use bench_protocol::desktop::NoteView;
use bench_protocol::NoteStatus;
use yew::prelude::*;

use super::clients::{sync_class, sync_word};
use crate::effects::Store;
use crate::state::{Action, ClientAction};

/// Properties of [`NoteItem`].
#[derive(Properties, PartialEq)]
pub struct NoteItemProps {
    /// The note.
    pub note: NoteView,
}

/// A note. Its text is a text node: Yew escapes it, nothing in it is HTML.
#[function_component]
pub fn NoteItem(props: &NoteItemProps) -> Html {
    let store = use_context::<Store>().expect("inside the store provider");
    let view = &props.note;
    let note = &view.note;
    let draft = note.status == NoteStatus::Draft;

    let edit = {
        let dispatch = store.dispatcher();
        let id = note.id;
        Callback::from(move |_: MouseEvent| {
            dispatch.dispatch(Action::Client(ClientAction::EditNote(id)))
        })
    };

    html! {
        <li class={classes!("note", if draft { "is-draft" } else { "is-signed" })}
            data-note-id={note.id.to_string()}>
            <div class="note-head">
                <span class="note-date">{ note.session_date.clone() }</span>
                <span class="note-status">{ if draft { "Draft" } else { "Signed" } }</span>
                <span class={classes!("note-sync", sync_class(view.sync))}>
                    { sync_word(view.sync) }
                </span>
                if draft {
                    <button type="button" class="edit-note" onclick={edit}>{ "Edit" }</button>
                }
            </div>
            <div class="note-versions">
                <pre class="note-body">{ note.body.clone() }</pre>
                if let Some(other) = &view.conflict_body {
                    <div class="conflict">
                        <p class="conflict-label">{ "The other version:" }</p>
                        <pre class="conflict-body">{ other.clone() }</pre>
                    </div>
                }
            </div>
        </li>
    }
}
