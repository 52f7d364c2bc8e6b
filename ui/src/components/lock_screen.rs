//! The lock screen: nothing clinical, only the password to come back.

use bench_protocol::desktop::{commands, AppState};
use serde::Serialize;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::effects::{self, Store};
use crate::hooks::use_autofocus;
use crate::ipc;

/// Properties of [`LockScreen`].
#[derive(Properties, PartialEq)]
pub struct LockScreenProps {
    /// Who must unlock.
    pub username: AttrValue,
}

#[derive(Serialize)]
struct UnlockArgs {
    password: String,
}

/// The unlock form.
#[function_component]
pub fn LockScreen(props: &LockScreenProps) -> Html {
    let store = use_context::<Store>().expect("inside the store provider");
    let password = use_autofocus();

    let onsubmit = {
        let dispatch = store.dispatcher();
        let password = password.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let Some(field) = password.cast::<HtmlInputElement>() else {
                return;
            };
            let args = UnlockArgs {
                password: field.value(),
            };
            field.set_value("");
            effects::run(
                &dispatch,
                async move { ipc::invoke::<_, AppState>(commands::UNLOCK, &args).await },
                |state, dispatch| effects::app_state(dispatch, state),
            );
        })
    };

    html! {
        <main id="lock-screen" class="card lock-screen">
            <h1>{ "Locked" }</h1>
            <p>{ format!("Doctor's Bench locked itself to keep records private. \
                          Enter the password for {} to continue.", props.username) }</p>
            <form {onsubmit}>
                <label for="unlock-password">{ "Password" }</label>
                <input id="unlock-password" type="password" autocomplete="current-password"
                    required=true ref={password} />
                <button id="unlock" type="submit" class="primary" disabled={store.busy}>
                    { "Unlock" }
                </button>
            </form>
        </main>
    }
}
