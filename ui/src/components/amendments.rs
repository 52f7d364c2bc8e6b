//! A signed note's amendments, oldest first and read-only, and the small
//! editor that appends one. A signed note never changes: corrections are
//! added under it, each final once saved.

use bench_protocol::desktop::{commands, AmendmentView, NoteView};
use bench_protocol::NoteStatus;
use serde::Serialize;
use uuid::Uuid;
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

use super::clients::{sync_class, sync_word};
use crate::effects::{self, Store};
use crate::ipc;
use crate::state::{Action, ClientAction, Clinical};

/// Properties of [`Amendments`].
#[derive(Properties, PartialEq)]
pub struct AmendmentsProps {
    /// The note, with its amendments.
    pub note: NoteView,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AddAmendmentArgs {
    note_id: Uuid,
    body: String,
}

/// The amendments under a note and, for a signed note that is not in
/// conflict, the way to add one. Texts are text nodes: nothing in them is
/// HTML.
#[function_component]
pub fn Amendments(props: &AmendmentsProps) -> Html {
    let store = use_context::<Store>().expect("inside the store provider");
    let dispatch = store.dispatcher();
    let view = &props.note;
    let note_id = view.note.id;
    let amendable = view.note.status == NoteStatus::Signed
        && view.conflict.is_none()
        && !crate::state::open_client_is_read_only(&store);
    let amending = match store.clinical.as_ref() {
        Some(Clinical::Client(screen)) => screen.amending.as_ref().filter(|a| a.note_id == note_id),
        _ => None,
    };

    let start = {
        let dispatch = dispatch.clone();
        Callback::from(move |_: MouseEvent| {
            dispatch.dispatch(Action::Client(ClientAction::StartAmendment(note_id)))
        })
    };
    let cancel = {
        let dispatch = dispatch.clone();
        Callback::from(move |_: MouseEvent| {
            dispatch.dispatch(Action::Client(ClientAction::CancelAmendment))
        })
    };
    let on_body = {
        let dispatch = dispatch.clone();
        Callback::from(move |event: InputEvent| {
            let value = event.target_unchecked_into::<HtmlTextAreaElement>().value();
            dispatch.dispatch(Action::Client(ClientAction::AmendmentBody(value)));
        })
    };
    let save = {
        let dispatch = dispatch.clone();
        let body = amending.map(|a| a.body.clone()).unwrap_or_default();
        Callback::from(move |_: MouseEvent| {
            let args = AddAmendmentArgs {
                note_id,
                body: body.clone(),
            };
            effects::run(
                &dispatch,
                async move { ipc::invoke::<_, NoteView>(commands::ADD_AMENDMENT, &args).await },
                |saved, dispatch| dispatch.dispatch(Action::Client(ClientAction::Amended(saved))),
            );
        })
    };

    html! {
        <div class="amendments-block">
            if !view.amendments.is_empty() {
                <ol class="amendments">
                    { for view.amendments.iter().map(amendment_item) }
                </ol>
            }
            if amendable {
                if let Some(amending) = amending {
                    <div class="amendment-editor">
                        <label for={format!("amendment-{note_id}")}>{ "Amendment" }</label>
                        <textarea id={format!("amendment-{note_id}")} class="amendment-body"
                            rows="4" value={amending.body.clone()} oninput={on_body} />
                        <div class="form-actions">
                            <button type="button" class="save-amendment primary"
                                disabled={store.busy} onclick={save}>
                                { "Save amendment" }
                            </button>
                            <button type="button" class="cancel-amendment" onclick={cancel}>
                                { "Cancel" }
                            </button>
                        </div>
                        <p class="hint">
                            { "The note stays as signed. An amendment cannot be changed once saved; \
                               a later correction is another amendment." }
                        </p>
                    </div>
                } else {
                    <button type="button" class="add-amendment" onclick={start}>
                        { "Add amendment" }
                    </button>
                }
            }
        </div>
    }
}

fn amendment_item(a: &AmendmentView) -> Html {
    let amendment = &a.amendment;
    html! {
        <li class="amendment" key={amendment.id.to_string()}
            data-amendment-id={amendment.id.to_string()}>
            <div class="amendment-head">
                <span class="amendment-date">{ format!("Amended {}", when(&amendment.created_at)) }</span>
                <span class={classes!("amendment-sync", sync_class(a.sync))}>
                    { sync_word(a.sync) }
                </span>
            </div>
            <pre class="amendment-body-text">{ amendment.body.clone() }</pre>
            if let Some(reason) = &a.reject_reason {
                <p class="reject-reason" role="alert">
                    { format!("The clinic server refused this amendment: {reason} It stays on \
                               this device as written.") }
                </p>
            }
        </li>
    }
}

/// `2026-03-01T09:30:00Z` as `2026-03-01 09:30 UTC`; anything else as it is.
fn when(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(date), Some(time)) if rfc3339.ends_with('Z') => format!("{date} {time} UTC"),
        _ => rfc3339.to_string(),
    }
}
