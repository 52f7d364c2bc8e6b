//! The sign-in screen: username and password for the configured server.

use bench_protocol::desktop::{commands, AppState};
use serde::Serialize;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::effects::{self, Store};
use crate::hooks::use_autofocus;
use crate::ipc;

/// Properties of [`SignIn`].
#[derive(Properties, PartialEq)]
pub struct SignInProps {
    /// The configured server, shown read-only.
    pub server: AttrValue,
    /// Why the app signed out by itself (e.g. the clinic revoked this
    /// device), shown above the form.
    #[prop_or_default]
    pub notice: Option<AttrValue>,
}

#[derive(Serialize)]
struct SignInArgs {
    username: String,
    password: String,
}

/// The sign-in form.
#[function_component]
pub fn SignIn(props: &SignInProps) -> Html {
    let store = use_context::<Store>().expect("inside the store provider");
    let username = use_autofocus();
    let password = use_node_ref();

    let onsubmit = {
        let dispatch = store.dispatcher();
        let username = username.clone();
        let password = password.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let (Some(user_field), Some(password_field)) = (
                username.cast::<HtmlInputElement>(),
                password.cast::<HtmlInputElement>(),
            ) else {
                return;
            };
            let args = SignInArgs {
                username: user_field.value(),
                password: password_field.value(),
            };
            // The password leaves the page now; it does not stay in the field.
            password_field.set_value("");
            effects::run(
                &dispatch,
                async move { ipc::invoke::<_, AppState>(commands::SIGN_IN, &args).await },
                |state, dispatch| effects::app_state(dispatch, state),
            );
        })
    };

    html! {
        <main class="card sign-in">
            <h1>{ "Sign in" }</h1>
            if let Some(notice) = &props.notice {
                <p id="notice" class="notice" role="alert">{ notice.clone() }</p>
            }
            <p class="server">
                { "Clinic server: " }
                <span id="server-address">{ props.server.clone() }</span>
            </p>
            <form {onsubmit}>
                <label for="username">{ "Username" }</label>
                <input id="username" type="text" autocomplete="username" required=true
                    ref={username} />
                <label for="password">{ "Password" }</label>
                <input id="password" type="password" autocomplete="current-password" required=true
                    ref={password} />
                <button id="sign-in" type="submit" class="primary" disabled={store.busy}>
                    { "Sign in" }
                </button>
            </form>
        </main>
    }
}
