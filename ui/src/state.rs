//! All UI state in one place, and every action that changes it.
//!
//! The shell decides which screen shows (`AppState`); this reducer keeps
//! what the screens need in between calls. Clinical data (client lists,
//! notes, the editor's text) lives in [`Clinical`], which exists only while
//! the app is unlocked: any other state drops it.

use std::rc::Rc;

use bench_protocol::api::Role;
use bench_protocol::desktop::{
    AppState, ClientListItem, ClientView, NoteView, ShellError, SyncStatus,
};
use bench_protocol::NoteStatus;
use uuid::Uuid;
use yew::Reducible;

use crate::office::{Office, OfficeAction};

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
    /// The clinic admin's screens (schedule, team, billing): present only
    /// while a clinic admin is unlocked, who never has [`Model::clinical`].
    pub office: Option<Office>,
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
    /// The amendment being written to a signed note, if one is open.
    pub amending: Option<AmendmentDraft>,
}

/// An amendment being written: it is final once saved, so until then it is
/// only this text.
#[derive(Clone, PartialEq)]
pub struct AmendmentDraft {
    /// The signed note it will correct.
    pub note_id: Uuid,
    /// The text so far.
    pub body: String,
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
    /// The text combines both versions of `note_id`, which is in conflict:
    /// keeping it settles the conflict instead of saving a draft.
    pub merging: bool,
}

impl Editor {
    /// A new note dated `today`.
    pub fn new_note(today: String) -> Self {
        Editor {
            note_id: None,
            session_date: today,
            body: String::new(),
            merging: false,
        }
    }
}

/// What the editor starts with for combining a note's two versions: this
/// device's text, then the other's, each under a line naming it, for the
/// practitioner to edit into one.
pub fn merge_text(mine: &str, theirs: &str) -> String {
    format!("[This device]\n{mine}\n\n[Other device]\n{theirs}")
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
    /// On the clinic admin's screens.
    Office(OfficeAction),
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
    /// Load both versions of a note in conflict into the editor, to be
    /// combined.
    MergeNote(Uuid),
    /// A conflict was settled: the editor starts over if it was combining
    /// that note.
    Resolved {
        /// The settled record.
        record_id: Uuid,
        /// For the fresh editor.
        today: String,
    },
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
    /// Open the amendment editor under a signed note (a draft is edited
    /// instead, so it gets none).
    StartAmendment(Uuid),
    /// The amendment's text changed.
    AmendmentBody(String),
    /// Close the amendment editor without saving.
    CancelAmendment,
    /// An amendment was saved: the note, as it now reads with it, replaces
    /// its old copy and the amendment editor closes.
    Amended(NoteView),
}

impl Reducible for Model {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            Action::Shell(action) => next.shell(action),
            Action::Clients(action) => next.clients(action),
            Action::Client(action) => next.client(action),
            Action::Office(action) => {
                if let Some(office) = next.office.as_mut() {
                    office.apply(action);
                }
            }
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
            // The clinic admin sees schedule, team and billing, and no
            // client or note screen at all.
            AppState::Unlocked { practitioner }
                if !was_unlocked && practitioner.role == Role::ClinicAdmin =>
            {
                self.clinical = None;
                self.office = Some(Office::default());
            }
            // Operations supports the infrastructure and accounts: no
            // patient screen at all (a grant is used through the API).
            AppState::Unlocked { practitioner }
                if !was_unlocked && practitioner.role == Role::Operations =>
            {
                self.clinical = None;
                self.office = None;
            }
            AppState::Unlocked { .. } if !was_unlocked => {
                self.clinical = Some(Clinical::Clients(ClientsScreen::default()));
            }
            AppState::Unlocked { .. } => {}
            // Locked, signed out or mid-sign-in: nothing clinical may stay
            // in memory or on screen.
            AppState::Locked { .. } => {
                self.clinical = None;
                self.office = None;
            }
            AppState::SignedOut { .. }
            | AppState::AwaitingCode { .. }
            | AppState::AwaitingEnrolment { .. } => {
                self.clinical = None;
                self.office = None;
                self.sync = None;
            }
        }
        if screen_changed {
            self.busy = false;
        }
        // The sign-in screen's notice says why the app signed out by itself
        // (a revoked device); the same sentence in the error banner too
        // would say it twice.
        if matches!(
            &state,
            AppState::SignedOut {
                notice: Some(_),
                ..
            }
        ) {
            self.error = None;
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
                    amending: None,
                }));
            }
        }
    }
}

/// Whether the open client is another practitioner's (a supervised
/// colleague's, or shared): no note may be started, edited or amended.
pub fn open_client_is_read_only(model: &Model) -> bool {
    matches!(&model.clinical, Some(Clinical::Client(screen)) if screen.view.read_only)
}

impl ClientScreen {
    fn edit(&mut self, action: ClientAction) {
        let writes = matches!(
            action,
            ClientAction::NewNote { .. }
                | ClientAction::EditNote(_)
                | ClientAction::MergeNote(_)
                | ClientAction::StartAmendment(_)
        );
        if writes && self.view.read_only {
            return;
        }
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
                        merging: false,
                    };
                }
            }
            ClientAction::MergeNote(id) => {
                let found = self.view.notes.iter().find(|n| n.note.id == id);
                if let Some((found, theirs)) = found.and_then(|n| Some((n, n.conflict.as_ref()?))) {
                    self.editor = Editor {
                        note_id: Some(id),
                        session_date: found.note.session_date.clone(),
                        body: merge_text(&found.note.body, &theirs.body),
                        merging: true,
                    };
                }
            }
            ClientAction::Resolved { record_id, today } => {
                if self.editor.note_id == Some(record_id) {
                    self.editor = Editor::new_note(today);
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
            ClientAction::StartAmendment(id) => {
                let signed = self
                    .view
                    .notes
                    .iter()
                    .any(|n| n.note.id == id && n.note.status == NoteStatus::Signed);
                let open_here = self.amending.as_ref().is_some_and(|a| a.note_id == id);
                if signed && !open_here {
                    self.amending = Some(AmendmentDraft {
                        note_id: id,
                        body: String::new(),
                    });
                }
            }
            ClientAction::AmendmentBody(body) => {
                if let Some(amending) = self.amending.as_mut() {
                    amending.body = body;
                }
            }
            ClientAction::CancelAmendment => self.amending = None,
            ClientAction::Amended(note) => {
                if self.amending.as_ref().map(|a| a.note_id) == Some(note.note.id) {
                    self.amending = None;
                }
                if let Some(old) = self
                    .view
                    .notes
                    .iter_mut()
                    .find(|n| n.note.id == note.note.id)
                {
                    *old = note;
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
        SyncStatus::Rejected { rejected, pending } => {
            let noun = if rejected == 1 { "record" } else { "records" };
            format!("{rejected} {noun} refused by the server · {pending} waiting")
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
            read_only: false,
        };
        model.reduce(Action::Client(ClientAction::Opened {
            view,
            today: "2026-01-02".into(),
        }))
    }

    fn note_view(id: u128, status: NoteStatus) -> NoteView {
        let signed = status == NoteStatus::Signed;
        NoteView {
            note: bench_protocol::SessionNote {
                id: Uuid::from_u128(id),
                client_id: Uuid::nil(),
                session_date: "2026-01-02".into(),
                body: "synthetic session text".into(),
                status,
                created_at: "2026-01-02T09:00:00Z".into(),
                updated_at: "2026-01-02T09:00:00Z".into(),
                signed_at: signed.then(|| "2026-01-02T10:00:00Z".into()),
            },
            sync: bench_protocol::desktop::RecordSync::Synced,
            conflict: None,
            reject_reason: None,
            amendments: vec![],
        }
    }

    /// A client with a signed note (id 1) and a draft (id 2).
    fn client_with_notes() -> Rc<Model> {
        let model = open_client_model();
        let Some(Clinical::Client(screen)) = model.clinical.as_ref() else {
            panic!("client open");
        };
        let mut view = screen.view.clone();
        view.notes = vec![
            note_view(1, NoteStatus::Signed),
            note_view(2, NoteStatus::Draft),
        ];
        model.reduce(Action::Client(ClientAction::Refreshed(view)))
    }

    fn screen(model: &Model) -> &ClientScreen {
        match model.clinical.as_ref() {
            Some(Clinical::Client(screen)) => screen,
            _ => panic!("client open"),
        }
    }

    #[test]
    fn an_operations_account_gets_neither_patient_nor_office_screens() {
        let AppState::Unlocked { mut practitioner } = unlocked() else {
            unreachable!()
        };
        practitioner.role = Role::Operations;
        let model = Rc::new(Model::default()).reduce(Action::Shell(ShellAction::AppState(
            AppState::Unlocked { practitioner },
        )));
        assert!(model.clinical.is_none());
        assert!(model.office.is_none());
    }

    #[test]
    fn the_amendment_editor_opens_only_under_a_signed_note_and_survives_a_refresh() {
        let model = client_with_notes().reduce(Action::Client(ClientAction::StartAmendment(
            Uuid::from_u128(2),
        )));
        assert!(
            screen(&model).amending.is_none(),
            "a draft is edited, not amended"
        );

        let model = model
            .reduce(Action::Client(ClientAction::StartAmendment(
                Uuid::from_u128(1),
            )))
            .reduce(Action::Client(ClientAction::AmendmentBody(
                "synthetic correction".into(),
            )));
        // A second click and a background refresh keep the text.
        let view = screen(&model).view.clone();
        let model = model
            .reduce(Action::Client(ClientAction::StartAmendment(
                Uuid::from_u128(1),
            )))
            .reduce(Action::Client(ClientAction::Refreshed(view)));
        let amending = screen(&model).amending.as_ref().expect("still open");
        assert_eq!(
            (amending.note_id, amending.body.as_str()),
            (Uuid::from_u128(1), "synthetic correction")
        );

        let cancelled = model.reduce(Action::Client(ClientAction::CancelAmendment));
        assert!(screen(&cancelled).amending.is_none());
    }

    #[test]
    fn a_saved_amendment_closes_the_editor_and_shows_under_its_unchanged_note() {
        let model = client_with_notes()
            .reduce(Action::Client(ClientAction::StartAmendment(
                Uuid::from_u128(1),
            )))
            .reduce(Action::Client(ClientAction::AmendmentBody(
                "synthetic correction".into(),
            )));
        let mut saved = note_view(1, NoteStatus::Signed);
        saved
            .amendments
            .push(bench_protocol::desktop::AmendmentView {
                amendment: bench_protocol::NoteAmendment {
                    id: Uuid::from_u128(9),
                    note_id: Uuid::from_u128(1),
                    client_id: Uuid::nil(),
                    body: "synthetic correction".into(),
                    created_at: "2026-01-03T08:00:00Z".into(),
                },
                sync: bench_protocol::desktop::RecordSync::Waiting,
                reject_reason: None,
            });

        let model = model.reduce(Action::Client(ClientAction::Amended(saved.clone())));

        let screen = screen(&model);
        assert!(screen.amending.is_none());
        assert_eq!(screen.view.notes[0], saved);
        assert_eq!(screen.view.notes[1], note_view(2, NoteStatus::Draft));
        assert_eq!(screen.editor.body, "", "the note editor is not touched");
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
    fn combining_a_conflict_starts_from_both_texts_and_settling_it_clears_the_editor() {
        use bench_protocol::desktop::RecordSync;
        use bench_protocol::{NoteStatus, SessionNote};

        let mine = SessionNote {
            id: Uuid::from_u128(7),
            client_id: Uuid::nil(),
            session_date: "2026-01-02".into(),
            body: "synthetic text from this device".into(),
            status: NoteStatus::Draft,
            created_at: "2026-01-02T09:00:00Z".into(),
            updated_at: "2026-01-02T09:00:00Z".into(),
            signed_at: None,
        };
        let theirs = SessionNote {
            body: "synthetic text from the other device".into(),
            ..mine.clone()
        };
        let model = open_client_model();
        let Some(Clinical::Client(screen)) = model.clinical.as_ref() else {
            panic!("client open");
        };
        let mut view = screen.view.clone();
        view.notes.push(NoteView {
            note: mine.clone(),
            sync: RecordSync::Conflict,
            conflict: Some(theirs),
            reject_reason: None,
            amendments: vec![],
        });
        let model = model
            .reduce(Action::Client(ClientAction::Refreshed(view)))
            .reduce(Action::Client(ClientAction::MergeNote(mine.id)));
        let Some(Clinical::Client(screen)) = model.clinical.as_ref() else {
            panic!("client open");
        };
        assert!(screen.editor.merging);
        assert_eq!(screen.editor.note_id, Some(mine.id));
        assert!(screen
            .editor
            .body
            .contains("synthetic text from this device"));
        assert!(screen
            .editor
            .body
            .contains("synthetic text from the other device"));

        let settled = model.reduce(Action::Client(ClientAction::Resolved {
            record_id: mine.id,
            today: "2026-01-03".into(),
        }));
        let Some(Clinical::Client(screen)) = settled.clinical.as_ref() else {
            panic!("client open");
        };
        assert!(!screen.editor.merging);
        assert_eq!(screen.editor.note_id, None);
        assert!(screen.editor.body.is_empty());
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
        assert_eq!(
            sync_text(&SyncStatus::Rejected {
                rejected: 1,
                pending: 0
            }),
            "1 record refused by the server · 0 waiting"
        );
    }

    #[test]
    fn a_revocation_notice_replaces_the_error_that_carried_it() {
        let message = "Your clinic has revoked this device.".to_string();
        let failed = open_client_model().reduce(Action::Shell(ShellAction::Failed(ShellError {
            kind: bench_protocol::desktop::ShellErrorKind::Locked,
            message: message.clone(),
        })));
        assert!(failed.error.is_some());

        let signed_out = failed.reduce(Action::Shell(ShellAction::AppState(AppState::SignedOut {
            server: "https://clinic.example".into(),
            notice: Some(message),
        })));

        assert!(signed_out.error.is_none());
        assert!(signed_out.clinical.is_none());
    }
}
