//! The second step of sign-in: a six-digit code from the authenticator app,
//! and first of all, when the account has none yet, enrolling one.

use bench_protocol::desktop::{commands, AppState};
use serde::Serialize;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::qr_code::QrCode;
use crate::effects::{self, Store};
use crate::hooks::use_autofocus;
use crate::ipc;

/// Properties of [`CodeEntry`].
#[derive(Properties, PartialEq)]
pub struct CodeEntryProps {
    /// Who is signing in.
    pub username: AttrValue,
    /// Present while enrolling: the URI to show as QR code and text.
    pub otpauth_uri: Option<AttrValue>,
}

#[derive(Serialize)]
struct CodeArgs {
    code: String,
}

/// The code form, with the enrolment QR code when there is one.
#[function_component]
pub fn CodeEntry(props: &CodeEntryProps) -> Html {
    let store = use_context::<Store>().expect("inside the store provider");
    let code = use_autofocus();

    let onsubmit = {
        let dispatch = store.dispatcher();
        let code = code.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let Some(field) = code.cast::<HtmlInputElement>() else {
                return;
            };
            let args = CodeArgs {
                code: field.value().trim().to_owned(),
            };
            field.set_value("");
            effects::run(
                &dispatch,
                async move { ipc::invoke::<_, AppState>(commands::SUBMIT_CODE, &args).await },
                |state, dispatch| effects::app_state(dispatch, state),
            );
        })
    };

    let enrolment = props.otpauth_uri.as_ref().map(|uri| {
        html! {
            <section class="enrolment">
                <p>
                    { "Two-step sign-in protects your clients' records. Scan this code with \
                       your authenticator app, or copy the address below into it." }
                </p>
                <QrCode text={uri.clone()} />
                <p class="uri-label">{ "Authenticator address:" }</p>
                <code id="otpauth-uri" class="otpauth-uri">{ uri.clone() }</code>
            </section>
        }
    });

    let title = if props.otpauth_uri.is_some() {
        "Set up two-step sign-in"
    } else {
        "Enter your code"
    };

    html! {
        <main class="card code-entry">
            <h1>{ title }</h1>
            <p class="who">{ format!("Signing in as {}", props.username) }</p>
            { for enrolment }
            <form {onsubmit}>
                <label for="totp-code">{ "Six-digit code from your authenticator app" }</label>
                <input id="totp-code" type="text" inputmode="numeric" maxlength="6"
                    autocomplete="one-time-code" pattern="[0-9]{6}" required=true ref={code} />
                <button id="submit-code" type="submit" class="primary" disabled={store.busy}>
                    { "Continue" }
                </button>
            </form>
        </main>
    }
}
