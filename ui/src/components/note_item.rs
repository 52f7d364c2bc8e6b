//! One session note in the list: read-only when signed, with its sync state,
//! the server's reason when it refused the note, and, in a conflict, both
//! versions side by side with the ways to settle it.

use bench_protocol::desktop::{NoteView, Resolution};
use bench_protocol::{NoteStatus, SessionNote};
use yew::prelude::*;

use super::amendments::Amendments;
use super::clients::{sync_class, sync_word};
use super::cosign::CosignButton;
use crate::effects::{self, Store};
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
    let supervisor = matches!(
        &store.app,
        Some(bench_protocol::desktop::AppState::Unlocked { practitioner })
            if practitioner.role == bench_protocol::api::Role::Supervisor
    );

    let edit = {
        let dispatch = store.dispatcher();
        let id = note.id;
        Callback::from(move |_: MouseEvent| {
            dispatch.dispatch(Action::Client(ClientAction::EditNote(id)))
        })
    };

    let retry = {
        let dispatch = store.dispatcher();
        let (id, client_id) = (note.id, note.client_id);
        Callback::from(move |_: MouseEvent| {
            effects::retry_rejected(&dispatch, id, Some(client_id), String::new())
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
                if draft && view.conflict.is_none() && !crate::state::open_client_is_read_only(&store) {
                    <button type="button" class="edit-note" onclick={edit}>{ "Edit" }</button>
                }
            </div>
            if let Some(reason) = &view.reject_reason {
                <p class="reject-reason" role="alert">
                    { format!("The clinic server refused this note: {reason}") }
                    if draft {
                        { " Edit it and save again, or send it again as it is." }
                    }
                    <button type="button" class="retry-change" disabled={store.busy}
                        onclick={retry}>
                        { "Send again" }
                    </button>
                </p>
            }
            if let Some(theirs) = &view.conflict {
                <ConflictPair mine={note.clone()} theirs={theirs.clone()} />
            } else {
                <pre class="note-body">{ note.body.clone() }</pre>
            }
            // A supervisor reading a supervised practitioner's signed note.
            if !draft && crate::state::open_client_is_read_only(&store) && supervisor {
                <CosignButton note_id={note.id} />
            }
            <Amendments note={view.clone()} />
        </li>
    }
}

/// Properties of [`ConflictPair`].
#[derive(Properties, PartialEq)]
struct ConflictPairProps {
    mine: SessionNote,
    theirs: SessionNote,
}

/// Both versions of a note next to each other, each labelled with where it
/// comes from and when it last changed, and the three ways out.
///
/// A signed version stays the note (signed notes never change), so the
/// button on the other side keeps that text as a new draft instead; the
/// label says so.
#[function_component]
fn ConflictPair(props: &ConflictPairProps) -> Html {
    let store = use_context::<Store>().expect("inside the store provider");
    let dispatch = store.dispatcher();
    let (mine, theirs) = (&props.mine, &props.theirs);
    let id = mine.id;
    let client_id = mine.client_id;

    let resolve = |resolution: Resolution| {
        let dispatch = dispatch.clone();
        Callback::from(move |_: MouseEvent| {
            effects::resolve_conflict(&dispatch, client_id, id, resolution.clone())
        })
    };
    let merge = {
        let dispatch = dispatch.clone();
        Callback::from(move |_: MouseEvent| {
            dispatch.dispatch(Action::Client(ClientAction::MergeNote(id)));
            // The editor sits above the notes: bring it to the practitioner.
            let editor = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.get_element_by_id("note-body"));
            if let Some(editor) = editor {
                editor.scroll_into_view();
            }
        })
    };

    let signed = |n: &SessionNote| n.status == NoteStatus::Signed;
    // Which side stays the note whatever is chosen: the server's when it
    // is signed, else this device's when it is.
    let mine_stays = if signed(theirs) {
        Some(false)
    } else if signed(mine) {
        Some(true)
    } else {
        None
    };
    let keep_label = |is_mine: bool| match mine_stays {
        Some(stays) if stays != is_mine => "Keep this text as a new draft",
        _ => "Keep this one",
    };
    let side = |n: &SessionNote, who: &str| {
        let status = if signed(n) { "signed" } else { "draft" };
        format!(
            "{who} · {status} · session {} · changed {}",
            n.session_date,
            // RFC 3339 in UTC, shown to the minute.
            n.updated_at
                .get(..16)
                .unwrap_or(&n.updated_at)
                .replace('T', " ")
                + " UTC"
        )
    };
    let explain = if signed(theirs) {
        "The other version is signed, so it stays the note. Your text is kept only if you \
         choose it: as a new draft, or as an amendment to the signed note."
    } else if signed(mine) {
        "Your version is signed, so it stays the note. The other text is kept only if you \
         choose it, as a new draft."
    } else {
        "This note was changed on two devices. Choose which version to keep, or combine them."
    };

    html! {
        <div class="conflict">
            <p class="conflict-label">{ explain }</p>
            <div class="note-versions conflict-pair">
                <section class="conflict-mine">
                    <p class="conflict-side">{ side(mine, "This device") }</p>
                    <pre class="note-body">{ mine.body.clone() }</pre>
                    <button type="button" class="keep-mine" disabled={store.busy}
                        onclick={resolve(Resolution::Mine)}>
                        { keep_label(true) }
                    </button>
                    if signed(theirs) {
                        <button type="button" class="amend-mine" disabled={store.busy}
                            onclick={resolve(Resolution::Amend)}>
                            { "Add this text to the signed note as an amendment" }
                        </button>
                    }
                </section>
                <section class="conflict-theirs">
                    <p class="conflict-side">{ side(theirs, "Other device") }</p>
                    <pre class="conflict-body">{ theirs.body.clone() }</pre>
                    <button type="button" class="keep-theirs" disabled={store.busy}
                        onclick={resolve(Resolution::Theirs)}>
                        { keep_label(false) }
                    </button>
                </section>
            </div>
            <button type="button" class="merge" disabled={store.busy} onclick={merge}>
                { "Edit a combined version" }
            </button>
        </div>
    }
}
