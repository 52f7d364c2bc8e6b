//! The operations account's window: no patient screens.
//!
//! Operations keeps the servers and accounts running. It may open a
//! patient record only through a time-limited grant that names a support
//! ticket and carries the practitioner's recorded consent, and that is done
//! on the server, where every use is audited; the desktop shows nothing
//! clinical to this role.

use yew::prelude::*;

/// What an operations account sees once signed in.
#[function_component]
pub fn SupportPage() -> Html {
    html! {
        <main class="support" id="support-page">
            <h1>{ "Operations" }</h1>
            <p>
                { "This account supports the clinic's servers and accounts. It does not open \
                   patient records: when a support ticket needs one, the practitioner records \
                   their consent and the clinic grants access for a limited time, and every use \
                   of that grant is audited." }
            </p>
            <p>
                { "Account support (resetting 2FA, ending sessions, unlocking an account) is \
                   done with the bench-server command on the clinic server." }
            </p>
        </main>
    }
}
