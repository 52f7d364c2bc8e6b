//! All UI state in one place, and every action that changes it.
//!
//! The shell decides which screen shows (`AppState`); this reducer keeps
//! what the screens need in between calls. Clinical data (client lists,
//! notes, the editor's text) lives in [`Clinical`], which exists only while
//! the app is unlocked: any other state drops it.

use std::rc::Rc;

use bench_protocol::desktop::{
    AppState, ClientListItem, ClientView, NoteView, ShellError, SyncStatus,
};
use uuid::Uuid;
use yew::Reducible;

/// The whole UI state. No `Debug`: it holds clinical text while unlocked.
#[derive(Clone, Default, PartialEq)]
pub struct Model {
    /// `None` until the shell first answers.
    pub app: Option<AppState>,
    /// The last sync state the shell reported.
    pub sync: Option<SyncStatus>,
    /// Counts finished syncs with the server: screens that show records
    /// re-read them when it moves, since a pull may change what they show
    /// without changing the sync state.
    pub sync_round: u64,
    /// The last error, shown in `#error` until the next action succeeds.
    pub error: Option<ShellError>,
    /// A command is running: buttons that would start another are disabled.
    pub busy: bool,
    /// Present only while unlocked.
    pub clinical: Option<Clinical>,
}

/// What an unlocked window shows.
#[derive(Clone, PartialEq)]
pub enum Clinical {
    /// "My clients".
    Clients(ClientsScreen),
    /// One client and their notes.
    Client(ClientScreen),
}

/// The client list.
#[derive(Clone, Default, PartialEq)]
pub struct ClientsScreen {
    /// What is typed in `#client-search`.
    pub query: String,
    /// The clients matching `query`, as last loaded.
    pub items: Vec<ClientListItem>,
    /// The add-client form is open.
    pub adding: bool,
}

/// One client open.
#[derive(Clone, PartialEq)]
pub struct ClientScreen {
    /// The client and their notes.
    pub view: ClientView,
    /// The note being written.
    pub editor: Editor,
}

/// The note editor.
#[derive(Clone, PartialEq)]
pub struct Editor {
    /// The draft being changed, or `None` for a new note.
    pub note_id: Option<Uuid>,
    /// `YYYY-MM-DD`.
    pub session_date: String,
    /// The text.
    pub body: String,
}

impl Editor {
    /// A new note dated `today`.
    pub fn new_note(today: String) -> Self {
        Editor {
            note_id: None,
            session_date: today,
            body: String::new(),
        }
    }
}

/// Every change to the UI state, grouped by the view it belongs to.
///
/// No `Debug`: actions carry what the practitioner typed.
pub enum Action {
    /// From the shell, whatever the screen.
    Shell(ShellAction),
    /// On the client list.
    Clients(ClientsAction),
    /// On an open client.
    Client(ClientAction),
}

/// Changes that come from the shell.
pub enum ShellAction {
    /// A command started.
    Started,
    /// The shell reported where the app is.
    AppState(AppState),
    /// The shell reported the sync state.
    Sync(SyncStatus),
    /// A sync with the server finished, in this state.
    SyncFinished(SyncStatus),
    /// A command failed.
    Failed(ShellError),
    /// A command succeeded with nothing else to record.
    Done,
}

/// Changes on the client list.
pub enum ClientsAction {
    /// The search text changed.
    Query(String),
    /// Clients for `query` arrived.
    Loaded {
        /// The search they answer; stale answers are dropped.
        query: String,
        /// The clients.
        items: Vec<ClientListItem>,
    },
    /// Open or close the add-client form.
    ShowAddForm(bool),
}

/// Changes on an open client. Actions that start a new note carry today's
/// date, so the reducer never reads a clock.
pub enum ClientAction {
    /// A client (or a fresh copy of the open one) arrived.
    Opened {
        /// The client with their notes.
        view: ClientView,
        /// For the editor, when this opens a different client.
        today: String,
    },
    /// The open client re-read after a sync; ignored unless that client is
    /// still open.
    Refreshed(ClientView),
    /// Back to the list.
    Back,
    /// Start a new note in the editor.
    NewNote {
        /// Its date.
        today: String,
    },
    /// Load a draft into the editor.
    EditNote(Uuid),
    /// The editor's date changed.
    EditorDate(String),
    /// The editor's text changed.
    EditorBody(String),
    /// A draft was saved: keep editing that note.
    Saved(NoteView),
    /// A note was signed: the editor starts over.
    Signed {
        /// The new note's date.
        today: String,
    },
}

impl Reducible for Model {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            Action::Shell(action) => next.shell(action),
            Action::Clients(action) => next.clients(action),
            Action::Client(action) => next.client(action),
        }
        Rc::new(next)
    }
}

impl Model {
    fn shell(&mut self, action: ShellAction) {
        match action {
            ShellAction::Started => self.busy = true,
            ShellAction::AppState(state) => self.set_app_state(state),
            ShellAction::Sync(status) => self.sync = Some(status),
            ShellAction::SyncFinished(status) => {
                self.sync = Some(status);
                self.sync_round += 1;
            }
            ShellAction::Failed(error) => {
                self.busy = false;
                self.error = Some(error);
            }
            ShellAction::Done => {
                self.busy = false;
                self.error = None;
            }
        }
    }

    fn set_app_state(&mut self, state: AppState) {
        let was_unlocked = matches!(self.app, Some(AppState::Unlocked { .. }));
        let screen_changed = self
            .app
            .as_ref()
            .is_none_or(|old| std::mem::discriminant(old) != std::mem::discriminant(&state));
        match &state {
            AppState::Unlocked { .. } if !was_unlocked => {
                self.clinical = Some(Clinical::Clients(ClientsScreen::default()));
            }
            AppState::Unlocked { .. } => {}
            // Locked, signed out or mid-sign-in: nothing clinical may stay
            // in memory or on screen.
            AppState::Locked { .. } => self.clinical = None,
            AppState::SignedOut { .. }
            | AppState::AwaitingCode { .. }
            | AppState::AwaitingEnrolment { .. } => {
                self.clinical = None;
                self.sync = None;
            }
        }
        if screen_changed {
            self.busy = false;
        }
        self.app = Some(state);
    }

    fn clients(&mut self, action: ClientsAction) {
        let Some(Clinical::Clients(screen)) = self.clinical.as_mut() else {
            return;
        };
        match action {
            ClientsAction::Query(query) => screen.query = query,
            ClientsAction::Loaded { query, items } => {
                if query == screen.query {
                    screen.items = items;
                }
            }
            ClientsAction::ShowAddForm(show) => screen.adding = show,
        }
    }

    fn client(&mut self, action: ClientAction) {
        if self.clinical.is_none() {
            // Locked meanwhile: an answer that arrives late is dropped.
            return;
        }
        match action {
            ClientAction::Opened { view, today } => self.open(view, today),
            ClientAction::Back => self.clinical = Some(Clinical::Clients(ClientsScreen::default())),
            action => {
                let Some(Clinical::Client(screen)) = self.clinical.as_mut() else {
                    return;
                };
                screen.edit(action);
            }
        }
    }

    fn open(&mut self, view: ClientView, today: String) {
        match self.clinical.as_mut() {
            Some(Clinical::Client(screen)) if screen.view.client.id == view.client.id => {
                screen.view = view;
            }
            _ => {
                self.clinical = Some(Clinical::Client(ClientScreen {
                    view,
                    editor: Editor::new_note(today),
                }));
            }
        }
    }
}

impl ClientScreen {
    fn edit(&mut self, action: ClientAction) {
        match action {
            ClientAction::NewNote { today } | ClientAction::Signed { today } => {
                self.editor = Editor::new_note(today)
            }
            ClientAction::EditNote(id) => {
                if let Some(found) = self.view.notes.iter().find(|n| n.note.id == id) {
                    self.editor = Editor {
                        note_id: Some(id),
                        session_date: found.note.session_date.clone(),
                        body: found.note.body.clone(),
                    };
                }
            }
            ClientAction::EditorDate(date) => self.editor.session_date = date,
            ClientAction::EditorBody(body) => self.editor.body = body,
            ClientAction::Saved(saved) => self.editor.note_id = Some(saved.note.id),
            ClientAction::Refreshed(view) => {
                if view.client.id == self.view.client.id {
                    self.view = view;
                }
            }
            ClientAction::Opened { .. } | ClientAction::Back => {}
        }
    }
}

/// The text of `#sync-status`.
pub fn sync_text(status: &SyncStatus) -> String {
    match *status {
        SyncStatus::Synced => "Synced".into(),
        SyncStatus::Waiting { pending } => format!("{pending} waiting"),
        SyncStatus::Offline { pending: 0 } => "Offline".into(),
        SyncStatus::Offline { pending } => format!("Offline · {pending} waiting"),
        SyncStatus::SignInRequired { pending } => format!("Sign in to sync · {pending} waiting"),
        SyncStatus::Conflict { conflicts, pending } => {
            let noun = if conflicts == 1 {
                "conflict"
            } else {
                "conflicts"
            };
            format!("{conflicts} {noun} · {pending} waiting")
        }
        SyncStatus::ClockOff { minutes, pending } => {
            let way = if minutes >= 0 { "ahead" } else { "behind" };
            format!(
                "Clock {} min {way} of the server · set the date and time · {pending} waiting",
                minutes.abs()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bench_protocol::api::{Practitioner, Role};
    use bench_protocol::ClientRecord;

    fn unlocked() -> AppState {
        AppState::Unlocked {
            practitioner: Practitioner {
                id: Uuid::nil(),
                username: "p.synthetic".into(),
                display_name: "Dr Synthetic".into(),
                role: Role::SoloPractitioner,
            },
        }
    }

    fn open_client_model() -> Rc<Model> {
        let model =
            Rc::new(Model::default()).reduce(Action::Shell(ShellAction::AppState(unlocked())));
        let view = ClientView {
            client: ClientRecord {
                id: Uuid::nil(),
                full_name: "Synthetic Client".into(),
                date_of_birth: None,
                contact: None,
                created_at: "2026-01-01T00:00:00Z".into(),
            },
            notes: vec![],
        };
        model.reduce(Action::Client(ClientAction::Opened {
            view,
            today: "2026-01-02".into(),
        }))
    }

    #[test]
    fn every_finished_sync_moves_the_round_even_when_the_state_is_unchanged() {
        let model = open_client_model()
            .reduce(Action::Shell(ShellAction::SyncFinished(SyncStatus::Synced)));
        let again = model
            .clone()
            .reduce(Action::Shell(ShellAction::SyncFinished(SyncStatus::Synced)));

        assert_eq!(again.sync, model.sync);
        assert_eq!(again.sync_round, model.sync_round + 1);
    }

    #[test]
    fn a_refresh_after_going_back_does_not_reopen_the_client() {
        let model = open_client_model();
        let Some(Clinical::Client(screen)) = model.clinical.as_ref() else {
            panic!("client open");
        };
        let view = screen.view.clone();

        let back = model.reduce(Action::Client(ClientAction::Back));
        let refreshed = back.reduce(Action::Client(ClientAction::Refreshed(view)));

        assert!(matches!(refreshed.clinical, Some(Clinical::Clients(_))));
    }

    #[test]
    fn a_refresh_keeps_the_text_being_typed() {
        let model = open_client_model().reduce(Action::Client(ClientAction::EditorBody(
            "half-written synthetic note".into(),
        )));
        let Some(Clinical::Client(screen)) = model.clinical.as_ref() else {
            panic!("client open");
        };
        let view = screen.view.clone();

        let refreshed = model.reduce(Action::Client(ClientAction::Refreshed(view)));

        let Some(Clinical::Client(screen)) = refreshed.clinical.as_ref() else {
            panic!("client still open");
        };
        assert_eq!(screen.editor.body, "half-written synthetic note");
    }

    #[test]
    fn locking_drops_every_clinical_detail() {
        let model = open_client_model().reduce(Action::Client(ClientAction::EditorBody(
            "synthetic note text".into(),
        )));
        assert!(model.clinical.is_some());

        let locked = model.reduce(Action::Shell(ShellAction::AppState(AppState::Locked {
            username: "p.synthetic".into(),
        })));

        assert!(locked.clinical.is_none());
    }

    #[test]
    fn an_answer_arriving_after_lock_is_dropped() {
        let locked =
            open_client_model().reduce(Action::Shell(ShellAction::AppState(AppState::Locked {
                username: "p.synthetic".into(),
            })));
        let late = locked.reduce(Action::Clients(ClientsAction::Loaded {
            query: String::new(),
            items: vec![],
        }));
        assert!(late.clinical.is_none());
    }

    #[test]
    fn the_same_unlocked_state_again_keeps_the_open_client() {
        let model = open_client_model().reduce(Action::Shell(ShellAction::AppState(unlocked())));
        assert!(matches!(model.clinical, Some(Clinical::Client(_))));
    }

    #[test]
    fn stale_search_results_do_not_replace_newer_ones() {
        let model = Rc::new(Model::default())
            .reduce(Action::Shell(ShellAction::AppState(unlocked())))
            .reduce(Action::Clients(ClientsAction::Query("wa".into())))
            .reduce(Action::Clients(ClientsAction::Loaded {
                query: "w".into(),
                items: vec![],
            }));
        let Some(Clinical::Clients(screen)) = &model.clinical else {
            panic!("not on the list")
        };
        assert_eq!(screen.query, "wa");
    }

    #[test]
    fn sync_status_reads_as_the_header_shows_it() {
        assert_eq!(sync_text(&SyncStatus::Synced), "Synced");
        assert_eq!(sync_text(&SyncStatus::Waiting { pending: 3 }), "3 waiting");
        assert_eq!(sync_text(&SyncStatus::Offline { pending: 0 }), "Offline");
        assert_eq!(
            sync_text(&SyncStatus::Offline { pending: 2 }),
            "Offline · 2 waiting"
        );
        assert_eq!(
            sync_text(&SyncStatus::SignInRequired { pending: 1 }),
            "Sign in to sync · 1 waiting"
        );
        assert_eq!(
            sync_text(&SyncStatus::Conflict {
                conflicts: 1,
                pending: 0
            }),
            "1 conflict · 0 waiting"
        );
        assert_eq!(
            sync_text(&SyncStatus::Conflict {
                conflicts: 2,
                pending: 4
            }),
            "2 conflicts · 4 waiting"
        );
    }
}
