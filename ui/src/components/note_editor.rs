//! The note editor: date and text of a new note or a draft; save or sign.

use bench_protocol::api::MAX_NOTE_BYTES;
use bench_protocol::desktop::{commands, DraftInput, NoteView, Resolution};
use serde::Serialize;
use uuid::Uuid;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::effects::{self, Store};
use crate::state::{Action, ClientAction, Clinical};
use crate::{dates, ipc};

/// Properties of [`NoteEditor`].
#[derive(Properties, PartialEq)]
pub struct NoteEditorProps {
    /// The client the note is about.
    pub client_id: Uuid,
}

#[derive(Serialize)]
struct SaveDraftArgs {
    draft: DraftInput,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignNoteArgs {
    note_id: Uuid,
}

/// What the buttons do after saving.
#[derive(Clone, Copy, PartialEq)]
enum Then {
    KeepEditing,
    Sign,
}

/// The editor.
#[function_component]
pub fn NoteEditor(props: &NoteEditorProps) -> Html {
    let store = use_context::<Store>().expect("inside the store provider");
    let dispatch = store.dispatcher();
    let Some(Clinical::Client(screen)) = store.clinical.as_ref() else {
        return html! {};
    };
    let editor = &screen.editor;

    let draft = DraftInput {
        note_id: editor.note_id,
        client_id: props.client_id,
        session_date: editor.session_date.clone(),
        body: editor.body.clone(),
    };
    let save = |then: Then| {
        let dispatch = dispatch.clone();
        let draft = draft.clone();
        move || {
            let client_id = draft.client_id;
            let args = SaveDraftArgs {
                draft: draft.clone(),
            };
            effects::run(
                &dispatch,
                async move {
                    let saved: NoteView = ipc::invoke(commands::SAVE_DRAFT, &args).await?;
                    if then == Then::Sign {
                        let args = SignNoteArgs {
                            note_id: saved.note.id,
                        };
                        ipc::invoke::<_, NoteView>(commands::SIGN_NOTE, &args).await?;
                    }
                    let view = effects::fetch_client(client_id).await?;
                    Ok((saved, view))
                },
                move |(saved, view), dispatch| {
                    let today = dates::today();
                    dispatch.dispatch(Action::Client(ClientAction::Opened {
                        view,
                        today: today.clone(),
                    }));
                    let next = match then {
                        Then::KeepEditing => ClientAction::Saved(saved),
                        Then::Sign => ClientAction::Signed { today },
                    };
                    dispatch.dispatch(Action::Client(next));
                },
            );
        }
    };

    let merging = editor.merging;
    let onsubmit = {
        let save = save(Then::KeepEditing);
        let dispatch = dispatch.clone();
        let (client_id, note_id, body) = (props.client_id, editor.note_id, editor.body.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            match note_id {
                Some(id) if merging => effects::resolve_conflict(
                    &dispatch,
                    client_id,
                    id,
                    Resolution::Merged { body: body.clone() },
                ),
                _ => save(),
            }
        })
    };
    let cancel_merge = {
        let dispatch = dispatch.clone();
        Callback::from(move |_: MouseEvent| {
            dispatch.dispatch(Action::Client(ClientAction::NewNote {
                today: dates::today(),
            }))
        })
    };
    let too_large = editor.body.len() > MAX_NOTE_BYTES;
    let sign = {
        let save = save(Then::Sign);
        Callback::from(move |_: MouseEvent| save())
    };
    let on_date = {
        let dispatch = dispatch.clone();
        Callback::from(move |event: Event| {
            let value = event.target_unchecked_into::<HtmlInputElement>().value();
            dispatch.dispatch(Action::Client(ClientAction::EditorDate(value)));
        })
    };
    let on_body = {
        let dispatch = dispatch.clone();
        Callback::from(move |event: InputEvent| {
            let value = event.target_unchecked_into::<HtmlTextAreaElement>().value();
            dispatch.dispatch(Action::Client(ClientAction::EditorBody(value)));
        })
    };

    let heading = if merging {
        "Combine the two versions"
    } else if editor.note_id.is_some() {
        "Edit draft"
    } else {
        "New session note"
    };

    html! {
        <form class="card note-editor" {onsubmit}>
            <h2>{ heading }</h2>
            <label for="note-date">{ "Session date" }</label>
            <input id="note-date" type="date" required=true value={editor.session_date.clone()}
                onchange={on_date} />
            <label for="note-body">{ "Note" }</label>
            <textarea id="note-body" rows="10" value={editor.body.clone()} oninput={on_body} />
            if too_large {
                <p class="note-too-large" role="alert">
                    { format!(
                        "This note is {} MB, over the limit of {} MB of text per note. Shorten \
                         it or split it into two notes before saving.",
                        editor.body.len().div_ceil(1024 * 1024),
                        MAX_NOTE_BYTES / (1024 * 1024)
                    ) }
                </p>
            }
            <div class="form-actions">
                if merging {
                    <button id="save-merge" type="submit" class="primary"
                        disabled={store.busy || too_large}>
                        { "Keep this combined version" }
                    </button>
                    <button id="cancel-merge" type="button" onclick={cancel_merge}>
                        { "Cancel" }
                    </button>
                } else {
                    <button id="save-draft" type="submit" disabled={store.busy || too_large}>
                        { "Save draft" }
                    </button>
                    <button id="sign-note" type="button" class="primary"
                        disabled={store.busy || too_large} onclick={sign}>
                        { "Sign note" }
                    </button>
                }
            </div>
            <p class="hint note-limit">
                { format!(
                    "A note holds up to {} MB of text. A signed note can no longer be changed.",
                    MAX_NOTE_BYTES / (1024 * 1024)
                ) }
            </p>
        </form>
    }
}
