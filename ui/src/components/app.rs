//! The root: holds the store and picks the screen the app state calls for.

use bench_protocol::api::Role;
use bench_protocol::desktop::AppState;
use yew::prelude::*;

use super::client::ClientPage;
use super::clients::ClientsPage;
use super::code_entry::CodeEntry;
use super::error_banner::ErrorBanner;
use super::header::Header;
use super::lock_screen::LockScreen;
use super::office::OfficePage;
use super::sign_in::SignIn;
use super::support::SupportPage;
use crate::effects::Store;
use crate::hooks::{use_activity, use_shell_events};
use crate::state::{Clinical, Model};

/// The whole window.
#[function_component]
pub fn App() -> Html {
    let store: Store = use_reducer(Model::default);
    use_shell_events(store.dispatcher());
    use_activity();

    let screen = match &store.app {
        None => html! { <p class="starting">{ "Starting Doctor's Bench…" }</p> },
        Some(AppState::SignedOut { server, notice }) => html! {
            <SignIn server={server.clone()} notice={notice.clone().map(AttrValue::from)} />
        },
        Some(AppState::AwaitingCode { username }) => {
            html! { <CodeEntry username={username.clone()} otpauth_uri={None::<AttrValue>} /> }
        }
        Some(AppState::AwaitingEnrolment {
            username,
            otpauth_uri,
        }) => html! {
            <CodeEntry username={username.clone()} otpauth_uri={Some(AttrValue::from(otpauth_uri.clone()))} />
        },
        Some(AppState::Locked { username }) => html! {
            <>
                <Header />
                <LockScreen username={username.clone()} />
            </>
        },
        Some(AppState::Unlocked { practitioner }) if practitioner.role == Role::Operations => {
            html! {
                <>
                    <Header />
                    <SupportPage />
                </>
            }
        }
        // The clinic admin's window: schedule, team and billing only.
        Some(AppState::Unlocked { .. }) if store.office.is_some() => html! {
            <>
                <Header />
                <OfficePage />
            </>
        },
        Some(AppState::Unlocked { .. }) => html! {
            <>
                <Header />
                { clinical_page(store.clinical.as_ref()) }
            </>
        },
    };

    html! {
        <ContextProvider<Store> context={store.clone()}>
            <div class="app">
                <ErrorBanner />
                { screen }
            </div>
        </ContextProvider<Store>>
    }
}

fn clinical_page(clinical: Option<&Clinical>) -> Html {
    match clinical {
        Some(Clinical::Clients(_)) | None => html! { <ClientsPage /> },
        Some(Clinical::Client(_)) => html! { <ClientPage /> },
    }
}
