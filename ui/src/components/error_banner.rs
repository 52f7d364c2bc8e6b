//! `#error`: the last thing that went wrong, in words a person can act on.

use yew::prelude::*;

use crate::effects::Store;

/// Shows the store's error, if any. One banner for every screen, so there
/// is only ever one `#error` in the page.
#[function_component]
pub fn ErrorBanner() -> Html {
    let store = use_context::<Store>().expect("inside the store provider");
    match &store.error {
        Some(error) => html! {
            <p id="error" class="error" role="alert">{ error.message.clone() }</p>
        },
        None => html! {},
    }
}
