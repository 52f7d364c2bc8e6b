//! A supervisor's co-signature under a supervised practitioner's signed
//! note. The note does not change; the server keeps the co-signature.

use bench_protocol::api::Cosignature;
use bench_protocol::desktop::commands;
use serde::Serialize;
use uuid::Uuid;
use yew::prelude::*;

use crate::effects::{self, Store};
use crate::ipc;

/// Properties of [`CosignButton`].
#[derive(Properties, PartialEq)]
pub struct CosignProps {
    /// The signed note.
    pub note_id: Uuid,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CosignArgs {
    note_id: Uuid,
}

/// "Co-sign", then when it was co-signed.
// Limitation: the window learns of a co-signature only from its own click;
// one made earlier (or on another device) is not shown, though the server
// keeps each once. Showing them needs co-signatures in the pull.
#[function_component]
pub fn CosignButton(props: &CosignProps) -> Html {
    let store = use_context::<Store>().expect("inside the store provider");
    let cosigned = use_state(|| None::<String>);
    let onclick = {
        let dispatch = store.dispatcher();
        let cosigned = cosigned.clone();
        let note_id = props.note_id;
        Callback::from(move |_: MouseEvent| {
            let cosigned = cosigned.clone();
            effects::run(
                &dispatch,
                async move {
                    ipc::invoke::<_, Cosignature>(commands::COSIGN_NOTE, &CosignArgs { note_id })
                        .await
                },
                move |done, _| cosigned.set(Some(done.cosigned_at)),
            );
        })
    };
    match &*cosigned {
        Some(at) => html! {
            <span class="cosigned">{ format!("Co-signed by you at {}", at.get(..16).unwrap_or(at).replace('T', " ")) }{ " UTC" }</span>
        },
        None => html! {
            <button type="button" class="cosign-note" disabled={store.busy} {onclick}>
                { "Co-sign" }
            </button>
        },
    }
}
