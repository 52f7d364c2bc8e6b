//! The facade the desktop shell calls. Every shell command maps to one
//! method here.
//!
//! The core is a state machine:
//!
//! ```text
//!   SignedOut ──sign_in (server up)──► AwaitingCode / AwaitingEnrolment ──submit_code──► Unlocked
//!   SignedOut ──sign_in (server down, vault on this device)───────────────────────────► Unlocked (offline)
//!   Unlocked ──lock / idle timeout──► Locked ──unlock(password)──► Unlocked
//!   any ──sign_out──► SignedOut
//! ```
//!
//! The keys and the open vault exist only in `Unlocked`; every record
//! method fails with [`CoreError::Locked`] elsewhere. State sits behind one
//! `std::sync::Mutex` that is never held across an `.await`: network calls
//! run with the lock released, and their results are applied only if the
//! same unlocked session is still in place (checked by a generation
//! counter).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use bench_protocol::api::{
    LoginRequest, LoginResponse, Practitioner, TotpRequest, MAX_DEVICE_AUDIT_ENTRIES,
    MAX_NOTE_BYTES,
};
use bench_protocol::desktop::{
    AppState, ClientListItem, ClientView, DraftInput, NewClient, NoteView, RecordSync, Resolution,
    Resolved, SyncStatus,
};
use bench_protocol::{validate, ClientRecord, NoteAmendment, NoteStatus, RecordKind, SessionNote};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::backoff::Backoff;
use crate::idle::{Clock, IdleTimer, SystemClock};
use crate::keys::{self, KdfParams, OsKeyring, SecretStore};
use crate::sync::{self as api_sync, ApiClient, Tls13Only};
use crate::vault::Vault;
use crate::{Config, CoreError};

/// Background sync cadence while the server answers.
pub const SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);
/// How often the shell looks again while nobody is unlocked.
const SIGNED_OUT_POLL: std::time::Duration = std::time::Duration::from_secs(5);

/// The client core. Cheap to share: wrap in an `Arc`; all methods take
/// `&self`.
pub struct Core {
    config: Config,
    store: Arc<dyn SecretStore>,
    kdf: KdfParams,
    clock: Arc<dyn Clock>,
    /// `Err` holds why the API client could not be built (say, an unreadable
    /// CA file); reported when the server is needed, so the vault still
    /// opens offline.
    api: Result<ApiClient, String>,
    device_id: Uuid,
    inner: Mutex<Inner>,
}

struct Inner {
    phase: Phase,
    contact: Contact,
    pending: u32,
    conflicts: u32,
    /// Records the server refused.
    rejected: u32,
    /// Why the app signed out by itself (the device was revoked), for the
    /// sign-in screen; cleared by the next sign-in attempt or sign-out.
    notice: Option<String>,
    /// Bumped whenever the vault is opened or closed.
    generation: u64,
    syncing: bool,
    /// When the next background sync is due; `None`: now (just unlocked).
    next_sync: Option<std::time::SystemTime>,
    backoff: Backoff,
}

enum Phase {
    SignedOut,
    AwaitingCode {
        username: String,
        password: Zeroizing<String>,
        challenge: Zeroizing<String>,
        /// `Some` when the account must enrol an authenticator first.
        otpauth_uri: Option<Zeroizing<String>>,
    },
    Locked {
        session: Session,
    },
    Unlocked {
        session: Session,
        vault: Box<Vault>,
        idle: IdleTimer,
    },
}

struct Session {
    username: String,
    practitioner: Practitioner,
    /// `None` after an offline sign-in or once the server ended the session.
    token: Option<Zeroizing<String>>,
}

/// How the last contact with the server went.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Contact {
    Unknown,
    Ok,
    Offline,
    SignInRequired,
    /// The server answered, but its clock is this many minutes from ours.
    ClockOff(i64),
}

impl Core {
    /// Opens the core with its configuration. Touches no keys.
    pub fn new(config: Config) -> Result<Self, CoreError> {
        Core::with_parts(
            config,
            Arc::new(OsKeyring),
            KdfParams::PRODUCTION,
            Arc::new(SystemClock),
        )
    }

    /// [`Core::new`] with the keyring, key-derivation cost and clock chosen
    /// by the caller. The product uses [`Core::new`]; tests use this to run
    /// without a desktop keyring, with cheap Argon2 and a clock they move.
    pub fn with_parts(
        config: Config,
        store: Arc<dyn SecretStore>,
        kdf: KdfParams,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, CoreError> {
        let device_id = crate::config::device_id(&config.data_dir)?;
        let api = Tls13Only::from_ca_file(config.ca_cert_path.as_deref())
            .and_then(|tls| ApiClient::new(&config.server_url, tls))
            .map_err(|e| e.to_string());
        if let Err(reason) = &api {
            tracing::warn!(%reason, "clinic server connection not configured");
        }
        Ok(Core {
            config,
            store,
            kdf,
            clock,
            api,
            device_id,
            inner: Mutex::new(Inner {
                phase: Phase::SignedOut,
                contact: Contact::Unknown,
                pending: 0,
                conflicts: 0,
                rejected: 0,
                notice: None,
                generation: 0,
                syncing: false,
                next_sync: None,
                backoff: Backoff::new(),
            }),
        })
    }

    /// Which screen to show.
    pub fn state(&self) -> AppState {
        let inner = self.inner();
        self.app_state(&inner)
    }

    /// First step of sign-in. Online: checks the password with the server
    /// and asks for a code. Offline with a vault on this device: unlocks it
    /// with the password and device secret.
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<AppState, CoreError> {
        let username = username.trim().to_string();
        if username.is_empty() || password.is_empty() {
            return Err(CoreError::BadCredentials(
                "Enter your username and password.".into(),
            ));
        }
        let request = LoginRequest {
            username: username.clone(),
            password: password.to_string(),
            device_id: self.device_id,
            device_name: self.config.device_name.clone(),
        };
        self.inner().notice = None;
        let answer = self.api()?.login(&request).await;
        drop(Zeroizing::new(request.password));
        // Whatever the server said, its Date says whether our clock is
        // right. TOTP codes come from the phone, so a wrong clock here
        // would not stop sign-in; it would stamp notes with wrong times
        // and, when far enough off, make the server's certificate look
        // expired. Say so now, plainly.
        // Limitation: offline there is no server clock to compare with, so
        // an offline sign-in cannot warn; and a clock so far off that the
        // certificate fails (CoreError::ClockOff from TLS) stops sign-in
        // rather than falling back to the vault, since notes written then
        // would carry wrong times. Fix: a trusted time source on the LAN.
        // A revoked device is wiped whatever its clock says.
        if !matches!(
            answer,
            Err(CoreError::Offline(_) | CoreError::DeviceRevoked(_))
        ) {
            if let Some(minutes) = self.clock_skew() {
                tracing::warn!(minutes, "this computer's clock is far from the server's");
                return Err(CoreError::ClockOff(api_sync::clock_off_message(minutes)));
            }
        }

        match answer {
            Ok(response) => {
                let mut inner = self.inner();
                let (challenge, otpauth_uri) = match response {
                    LoginResponse::TotpRequired { challenge } => (challenge, None),
                    LoginResponse::EnrolmentRequired {
                        challenge,
                        otpauth_uri,
                    } => (challenge, Some(Zeroizing::new(otpauth_uri))),
                };
                self.close_vault(&mut inner);
                inner.phase = Phase::AwaitingCode {
                    username,
                    password: Zeroizing::new(password.to_string()),
                    challenge: Zeroizing::new(challenge),
                    otpauth_uri,
                };
                inner.contact = Contact::Ok;
                tracing::info!("password accepted; waiting for a code");
                Ok(self.app_state(&inner))
            }
            Err(CoreError::Offline(_)) => self.sign_in_offline(username, password).await,
            Err(CoreError::DeviceRevoked(message)) => {
                Err(self.wipe_revoked_device(&username, message))
            }
            Err(err) => Err(err),
        }
    }

    /// The server is unreachable: the vault on this device, opened with the
    /// password and this device's keyring secret, is the sign-in.
    async fn sign_in_offline(
        &self,
        username: String,
        password: &str,
    ) -> Result<AppState, CoreError> {
        let vault_path = self.config.vault_path(&username);
        if !keys::header_path(&vault_path).exists() {
            return Err(CoreError::Offline(
                "The clinic server cannot be reached, and this account has never signed in on \
                 this device. The first sign-in on a new device needs the server: connect to \
                 the clinic network and try again."
                    .into(),
            ));
        }
        // Limitation: offline, only Argon2's cost slows password guessing;
        // there is no attempt counter. Fix: a wrong-attempt counter in the
        // key header with growing delays (tamper-evident via the keyring).
        let vault = self.open_vault_blocking(&username, password, false).await?;
        let practitioner = stored_practitioner(&vault, &username)?;

        let mut inner = self.inner();
        self.close_vault(&mut inner);
        let session = Session {
            username,
            practitioner,
            token: None,
        };
        self.install_vault(&mut inner, session, vault);
        inner.contact = Contact::Offline;
        tracing::info!("signed in offline with the vault on this device");
        Ok(self.app_state(&inner))
    }

    /// Second step of sign-in or enrolment: a TOTP code.
    pub async fn submit_code(&self, code: &str) -> Result<AppState, CoreError> {
        let (username, password, request, enrol) = {
            let inner = self.inner();
            let Phase::AwaitingCode {
                username,
                password,
                challenge,
                otpauth_uri,
            } = &inner.phase
            else {
                return Err(CoreError::Other(
                    "No sign-in is waiting for a code. Start again with your username and password."
                        .into(),
                ));
            };
            let request = TotpRequest {
                challenge: challenge.to_string(),
                code: code.trim().to_string(),
            };
            (
                username.clone(),
                password.clone(),
                request,
                otpauth_uri.is_some(),
            )
        };

        let session_info = match self.api()?.submit_code(&request, enrol).await {
            Ok(info) => info,
            Err(CoreError::DeviceRevoked(message)) => {
                return Err(self.wipe_revoked_device(&username, message))
            }
            Err(err) => return Err(err),
        };
        let token = Zeroizing::new(session_info.token.clone());
        drop(Zeroizing::new(session_info.token));

        // Limitation: the vault's keys stay wrapped under the password used
        // when this device first signed in. After a password change on the
        // server, the new password passes the server but does not open the
        // vault here (a clear BadCredentials). Fix: on a successful online
        // sign-in whose password fails locally, ask once for the old
        // password and re-wrap the data keys under the new one.
        let vault_exists = keys::header_path(&self.config.vault_path(&username)).exists();
        let vault = self
            .open_vault_blocking(&username, &password, !vault_exists)
            .await?;
        let practitioner_json =
            serde_json::to_string(&session_info.practitioner).expect("practitioner serialises");
        vault.set_meta("practitioner", &practitioner_json)?;

        let mut inner = self.inner();
        self.close_vault(&mut inner);
        let session = Session {
            username,
            practitioner: session_info.practitioner,
            token: Some(token),
        };
        self.install_vault(&mut inner, session, vault);
        inner.contact = Contact::Ok;
        tracing::info!(created = !vault_exists, "signed in; vault unlocked");
        Ok(self.app_state(&inner))
    }

    /// Unlocks after an idle lock. Works offline.
    pub fn unlock(&self, password: &str) -> Result<AppState, CoreError> {
        let username = {
            let inner = self.inner();
            match &inner.phase {
                Phase::Locked { session } => session.username.clone(),
                Phase::Unlocked { .. } => return Ok(self.app_state(&inner)),
                _ => {
                    return Err(CoreError::Other(
                        "Nobody is signed in on this window. Sign in with your username and \
                         password."
                            .into(),
                    ))
                }
            }
        };

        // Argon2 runs without the state lock held.
        let vault = open_vault(
            &self.config.vault_path(&username),
            &*self.store,
            &self.account(&username),
            password,
            None,
        )?;

        let mut inner = self.inner();
        match std::mem::replace(&mut inner.phase, Phase::SignedOut) {
            Phase::Locked { session } if session.username == username => {
                self.install_vault(&mut inner, session, vault);
                tracing::info!("vault unlocked");
            }
            other => inner.phase = other,
        }
        Ok(self.app_state(&inner))
    }

    /// Locks now: drops and zeroizes the keys.
    pub fn lock(&self) -> AppState {
        let mut inner = self.inner();
        self.lock_inner(&mut inner);
        self.app_state(&inner)
    }

    /// Ends the session on this device (keys dropped, vault kept).
    pub async fn sign_out(&self) -> AppState {
        let token = {
            let mut inner = self.inner();
            let token = match std::mem::replace(&mut inner.phase, Phase::SignedOut) {
                Phase::Locked { session } | Phase::Unlocked { session, .. } => session.token,
                _ => None,
            };
            inner.generation += 1;
            inner.contact = Contact::Unknown;
            inner.notice = None;
            token
        };
        tracing::info!("signed out");
        if let (Some(token), Ok(api)) = (token, &self.api) {
            // Best effort: the server's own timeout ends the session anyway.
            if let Err(err) = api.logout(&token).await {
                tracing::info!(error = %err, "server logout failed; the session will time out");
            }
        }
        self.state()
    }

    /// Keyboard or pointer input happened.
    pub fn record_activity(&self) {
        let mut inner = self.inner();
        let now = self.clock.now();
        // Input after a long sleep must not reset the timer before the
        // expiry is noticed: check first.
        let expired = match &mut inner.phase {
            Phase::Unlocked { idle, .. } if idle.should_lock(now) => true,
            Phase::Unlocked { idle, .. } => {
                idle.record_activity(now);
                false
            }
            _ => false,
        };
        if expired {
            self.lock_inner(&mut inner);
        }
    }

    /// Locks if the idle timeout has passed; returns the state either way.
    /// The shell calls this on a timer.
    pub fn check_idle(&self) -> AppState {
        let mut inner = self.inner();
        self.lock_if_idle(&mut inner);
        self.app_state(&inner)
    }

    /// My clients whose name contains `query` (case-insensitive).
    pub fn list_clients(&self, query: &str) -> Result<Vec<ClientListItem>, CoreError> {
        let query = query.trim().to_lowercase();
        let me = self.viewer_id();
        self.with_vault(|vault| {
            let counts = vault.note_counts()?;
            let trouble = vault.notes_in_trouble()?;
            let mut items = Vec::new();
            for c in vault.clients()? {
                if !(query.is_empty() || c.client.full_name.to_lowercase().contains(&query)) {
                    continue;
                }
                let id = c.client.id;
                let (notes_in_conflict, notes_rejected) =
                    trouble.get(&id).copied().unwrap_or((0, 0));
                items.push(ClientListItem {
                    note_count: counts.get(&id).copied().unwrap_or(0),
                    reject_reason: match c.sync {
                        RecordSync::Rejected => vault.reject_reason(RecordKind::Client, id)?,
                        _ => None,
                    },
                    conflict: match c.sync {
                        RecordSync::Conflict => vault.client_conflict(id)?,
                        _ => None,
                    },
                    notes_in_conflict,
                    notes_rejected,
                    read_only: vault.foreign_owner(id, me)?.is_some(),
                    client: c.client,
                    sync: c.sync,
                });
            }
            items.sort_by_key(|i| i.client.full_name.to_lowercase());
            Ok(items)
        })
    }

    /// Adds a client; syncs later.
    pub fn add_client(&self, client: NewClient) -> Result<ClientRecord, CoreError> {
        // The clinic admin and operations keep no records on the device
        // (their sync never pushes), so a client written here could never
        // reach the server. A supervisor may keep a caseload of their own.
        match self.viewer_role() {
            None => return Err(CoreError::Locked),
            Some(role) if admin::keeps_no_records(role) => {
                return Err(CoreError::Invalid(
                    "This account manages the clinic and keeps no clients of its own; a \
                     practitioner adds clients."
                        .into(),
                ))
            }
            Some(_) => {}
        }
        let full_name = client.full_name.trim().to_string();
        if full_name.is_empty() {
            return Err(CoreError::Invalid("Enter the client's name.".into()));
        }
        let date_of_birth = non_empty(client.date_of_birth);
        if let Some(dob) = &date_of_birth {
            check_date(dob, "date of birth")?;
        }
        let record = ClientRecord {
            id: Uuid::new_v4(),
            full_name,
            date_of_birth,
            contact: non_empty(client.contact),
            created_at: self.now_rfc3339(),
        };
        // The server's own rules, so nothing is saved here that it would
        // later refuse (a record refused on sync holds its notes back).
        // Plausible dates are judged on this device's clock.
        validate::client(&record)
            .and_then(|()| match &record.date_of_birth {
                Some(dob) => validate::date_of_birth_on(dob, &record.created_at[..10]),
                None => Ok(()),
            })
            .map_err(|invalid| CoreError::Invalid(invalid.reason))?;
        self.with_vault(|vault| vault.insert_client(&record))?;
        Ok(record)
    }

    /// A client with their notes.
    pub fn open_client(&self, client_id: Uuid) -> Result<ClientView, CoreError> {
        let me = self.viewer_id();
        self.with_vault(|vault| {
            let client = vault.client(client_id)?.ok_or_else(client_not_found)?;
            let notes = vault.notes_of(client_id)?;
            tracing::debug!(%client_id, "client opened");
            Ok(ClientView {
                client: client.client,
                notes,
                read_only: vault.foreign_owner(client_id, me)?.is_some(),
            })
        })
    }

    /// Saves a draft note (new or existing).
    pub fn save_draft(&self, draft: DraftInput) -> Result<NoteView, CoreError> {
        check_date(&draft.session_date, "session date")?;
        check_note_size(&draft.body)?;
        let now = self.now_rfc3339();
        // The server's plausibility rule, on this device's clock, so a draft
        // is not saved here only to be refused on sync.
        validate::session_date_on(&draft.session_date, &now[..10])
            .map_err(|invalid| CoreError::Invalid(invalid.reason))?;
        let me = self.viewer_id();
        self.with_vault(|vault| {
            vault
                .client(draft.client_id)?
                .ok_or_else(client_not_found)?;
            admin::refuse_foreign(vault, draft.client_id, me)?;
            let note = match draft.note_id {
                Some(id) => {
                    let mut note = vault.note(id)?.ok_or_else(note_not_found)?.note;
                    if note.status == NoteStatus::Signed {
                        return Err(signed_read_only());
                    }
                    if note.client_id != draft.client_id {
                        return Err(CoreError::Invalid(
                            "This note belongs to another client; it cannot be moved.".into(),
                        ));
                    }
                    note.session_date = draft.session_date;
                    note.body = draft.body;
                    note.updated_at = now;
                    note
                }
                None => SessionNote {
                    id: Uuid::new_v4(),
                    client_id: draft.client_id,
                    session_date: draft.session_date,
                    body: draft.body,
                    status: NoteStatus::Draft,
                    created_at: now.clone(),
                    updated_at: now,
                    signed_at: None,
                },
            };
            vault.save_note(&note)?;
            vault.note_view(note.id)?.ok_or_else(note_not_found)
        })
    }

    /// Signs a draft: read-only from now on.
    pub fn sign_note(&self, note_id: Uuid) -> Result<NoteView, CoreError> {
        let now = self.now_rfc3339();
        let me = self.viewer_id();
        self.with_vault(|vault| {
            let mut note = vault.note(note_id)?.ok_or_else(note_not_found)?.note;
            admin::refuse_foreign(vault, note.client_id, me)?;
            if note.status == NoteStatus::Signed {
                return Err(CoreError::Invalid("This note is already signed.".into()));
            }
            if note.body.trim().is_empty() {
                return Err(CoreError::Invalid("An empty note cannot be signed.".into()));
            }
            note.status = NoteStatus::Signed;
            note.signed_at = Some(now.clone());
            note.updated_at = now;
            vault.save_note(&note)?;
            tracing::info!(%note_id, "note signed");
            vault.note_view(note_id)?.ok_or_else(note_not_found)
        })
    }

    /// Appends a correction to a signed note; syncs later. The note itself
    /// stays exactly as signed, and the amendment is final once saved (a
    /// further correction is another amendment). Works offline.
    pub fn add_amendment(&self, note_id: Uuid, body: String) -> Result<NoteView, CoreError> {
        if body.trim().is_empty() {
            return Err(CoreError::Invalid(
                "Write the correction before saving the amendment.".into(),
            ));
        }
        if body.len() > MAX_NOTE_BYTES {
            return Err(CoreError::Invalid(format!(
                "This amendment is too long to save ({} MB); the limit is {} MB. Split it into \
                 two amendments.",
                body.len().div_ceil(1024 * 1024),
                MAX_NOTE_BYTES / (1024 * 1024)
            )));
        }
        let now = self.now_rfc3339();
        let me = self.viewer_id();
        self.with_vault(|vault| {
            let note = vault.note(note_id)?.ok_or_else(note_not_found)?.note;
            admin::refuse_foreign(vault, note.client_id, me)?;
            if note.status != NoteStatus::Signed {
                return Err(CoreError::Invalid(
                    "Only a signed note takes amendments; edit the draft instead.".into(),
                ));
            }
            let amendment = NoteAmendment {
                id: Uuid::new_v4(),
                note_id,
                client_id: note.client_id,
                body,
                created_at: now,
            };
            vault.add_amendment(&amendment)?;
            vault.note_view(note_id)?.ok_or_else(note_not_found)
        })
    }

    /// Settles a record in conflict (a client or a session note) the way
    /// the practitioner chose: keep this device's version, keep the other
    /// device's, or (notes) keep a combined text, or add this device's text
    /// to the other, signed version as an amendment. The choice syncs at
    /// the next sync; see [`Vault::resolve_conflict`] for what happens when
    /// a version is signed.
    // Limitation: a refused record stays refused until the practitioner
    // changes it, and a signed note or a note on a record they may no
    // longer write cannot be changed, so the header keeps counting it.
    // Fix: a "copy into a new note" action for refused signed notes.
    pub fn resolve_conflict(
        &self,
        record_id: Uuid,
        resolution: Resolution,
    ) -> Result<Resolved, CoreError> {
        if let Resolution::Merged { body } = &resolution {
            check_note_size(body)?;
            if body.trim().is_empty() {
                return Err(CoreError::Invalid(
                    "The combined version is empty. Write the text to keep, or keep one of \
                     the two versions."
                        .into(),
                ));
            }
        }
        let now = self.now_rfc3339();
        self.with_vault(|vault| vault.resolve_conflict(record_id, &resolution, &now))
    }

    /// Sends a refused record again as it stands ("Send again"), for when
    /// what made the server refuse it has changed. A record that was not
    /// refused is left alone.
    pub fn retry_rejected(&self, record_id: Uuid) -> Result<(), CoreError> {
        self.with_vault(|vault| {
            if vault.retry_rejected(record_id)? {
                Ok(())
            } else {
                Err(CoreError::NotFound(
                    "That record is not waiting after a refusal; nothing was changed.".into(),
                ))
            }
        })
    }

    /// Pushes the outbox and pulls changes now, then schedules the next
    /// background sync: [`SYNC_INTERVAL`] after a success, a growing,
    /// jittered wait ([`Backoff`]) after each failure in a row.
    pub async fn sync_now(&self) -> Result<SyncStatus, CoreError> {
        let result = self.sync_once().await;
        let now = self.clock.now();
        let mut inner = self.inner();
        let delay = match (&result, inner.contact) {
            // Locked or signed out: nothing to schedule; unlocking makes a
            // sync due at once.
            (Err(CoreError::Locked), _) => None,
            (Ok(_), Contact::Ok | Contact::ClockOff(_)) => {
                inner.backoff.success();
                Some(SYNC_INTERVAL)
            }
            _ => Some(inner.backoff.failure()),
        };
        if let Some(delay) = delay {
            inner.next_sync = Some(now + delay);
            tracing::debug!(
                delay_ms = delay.as_millis() as u64,
                failures = inner.backoff.failures(),
                "next background sync scheduled"
            );
        }
        result
    }

    /// When the next background sync is due; `None` while nothing is
    /// unlocked (there is nothing to sync then).
    pub fn next_sync_due(&self) -> Option<std::time::SystemTime> {
        let inner = self.inner();
        match inner.phase {
            Phase::Unlocked { .. } => Some(inner.next_sync.unwrap_or(self.clock.now())),
            _ => None,
        }
    }

    /// How long the shell's background loop should sleep before calling
    /// [`Core::sync_now`]: zero when a sync is due, a short poll while
    /// nothing is unlocked.
    pub fn sync_delay(&self) -> std::time::Duration {
        match self.next_sync_due() {
            Some(due) => due
                .duration_since(self.clock.now())
                .unwrap_or(std::time::Duration::ZERO),
            None => SIGNED_OUT_POLL,
        }
    }

    async fn sync_once(&self) -> Result<SyncStatus, CoreError> {
        let api = self.api()?.clone();
        if let Some(status) = self.sync_without_records(&api).await {
            return status;
        }

        // Step 1: gather, under the lock.
        let (token, changes, audit, cursor, generation) = {
            let mut inner = self.inner();
            self.lock_if_idle(&mut inner);
            if inner.syncing {
                return Ok(self.status_of(&inner));
            }
            let generation = inner.generation;
            let Phase::Unlocked { session, vault, .. } = &mut inner.phase else {
                return Err(CoreError::Locked);
            };
            let token = session.token.clone();
            let gathered = match &token {
                Some(_) => Some((
                    vault.take_changes(usize::MAX >> 1)?,
                    vault.waiting_audit(MAX_DEVICE_AUDIT_ENTRIES)?,
                    vault.pull_cursor()?,
                )),
                None => None,
            };
            inner.syncing = true;
            match gathered {
                Some((changes, audit, cursor)) => (token, changes, audit, cursor, generation),
                None => (None, Vec::new(), Vec::new(), 0, generation),
            }
        };
        let _syncing = SyncingFlag(self);

        let Some(token) = token else {
            // Signed in offline: tell "still offline" from "sign in again".
            let contact = match api.health().await {
                Ok(()) => Contact::SignInRequired,
                Err(_) => Contact::Offline,
            };
            let mut inner = self.inner();
            inner.contact = contact;
            return Ok(self.status_of(&inner));
        };

        // Step 2: push, lock released.
        // The device's audit entries ride on the push; they are deleted
        // only once the server's answer counts every one as stored, so a
        // lost answer means they go again (and are stored once).
        let pushed = changes.len();
        let audit_ids: Vec<Uuid> = audit.iter().map(|e| e.entry_id).collect();
        let outcome = api.push_with_audit(&token, changes, audit).await;
        let results = outcome.results;
        self.apply_to_vault(generation, |vault| {
            for result in &results {
                vault.apply_outcome(result.change_id, &result.outcome)?;
            }
            if outcome.audit_stored {
                vault.audit_acknowledged(&audit_ids)?;
            }
            Ok(())
        })?;
        tracing::info!(
            pushed,
            answered = results.len(),
            audit_entries = audit_ids.len(),
            audit_stored = outcome.audit_stored,
            "push finished"
        );
        if let Some(err) = outcome.error {
            return self.sync_failed(err);
        }

        // Step 3: pull page by page; each page is applied before the cursor
        // on disk moves past it, so the cursor never runs ahead of the data.
        // The next page is already asked for while this one is applied
        // (`PrefetchedPage`): on a slow link that keeps the line busy instead
        // of idle for a round trip per page. Asking early is only a read:
        // if applying fails, the early answer is dropped and the next sync
        // asks again from the cursor on disk.
        let mut cursor = cursor;
        let mut fetching = PrefetchedPage::start(&api, &token, cursor);
        loop {
            let page = match fetching.take().await {
                Ok(page) => page,
                Err(err) => return self.sync_failed(err),
            };
            let next = page.next_cursor.max(cursor);
            let advanced = next > cursor;
            if page.more && advanced {
                fetching = PrefetchedPage::start(&api, &token, next);
            }
            self.apply_to_vault(generation, |vault| {
                for change in &page.changes {
                    vault.apply_pulled(change)?;
                }
                vault.note_owners(&page.changes)?;
                // A record removed here may still hold edits the server
                // refused in the push above (a client transferred away):
                // they go with it, since the practitioner may no longer
                // keep a copy. Limitation: the text of such edits is then
                // kept nowhere; conflict copies on the server for the new
                // owner would fix that.
                vault.forget(&page.removed)?;
                vault.set_pull_cursor(next)
            })?;
            tracing::info!(
                pulled = page.changes.len(),
                cursor = next,
                "pull page applied"
            );
            cursor = next;
            if !page.more || !advanced {
                break;
            }
        }

        let skew = self.clock_skew();
        let mut inner = self.inner();
        inner.contact = match skew {
            Some(minutes) => Contact::ClockOff(minutes),
            None => Contact::Ok,
        };
        Ok(self.status_of(&inner))
    }

    /// Every record on this device with the server version it holds
    /// (`None`: not yet accepted by the server). For checks and
    /// diagnostics: it opens no clinical field.
    pub fn record_versions(&self) -> Result<Vec<(Uuid, Option<i64>)>, CoreError> {
        self.with_vault(|vault| vault.record_versions())
    }

    /// The sync state, without contacting the server.
    pub fn sync_status(&self) -> SyncStatus {
        let mut inner = self.inner();
        self.refresh_counts(&mut inner);
        self.status_of(&inner)
    }

    // ---- internals ---------------------------------------------------------

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves state that is still
        // memory-safe; carrying on beats wedging the app.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn api(&self) -> Result<&ApiClient, CoreError> {
        self.api
            .as_ref()
            .map_err(|reason| CoreError::Other(reason.clone()))
    }

    /// Minutes our clock is off the server's (as of the server's latest
    /// answer), when more than [`api_sync::MAX_CLOCK_SKEW`].
    fn clock_skew(&self) -> Option<i64> {
        let server = self.api.as_ref().ok()?.last_server_date()?;
        api_sync::clock_skew_minutes(self.clock.now(), server)
    }

    fn account(&self, username: &str) -> String {
        keys::device_secret_account(
            &self.config.server_folder(),
            &username.to_lowercase(),
            self.device_id,
        )
    }

    fn now_rfc3339(&self) -> String {
        OffsetDateTime::from(self.clock.now())
            .format(&Rfc3339)
            .expect("a wall-clock time always formats as RFC 3339")
    }

    /// Runs Argon2 and opens SQLCipher off the async runtime's threads.
    async fn open_vault_blocking(
        &self,
        username: &str,
        password: &str,
        create: bool,
    ) -> Result<Vault, CoreError> {
        let vault_path = self.config.vault_path(username);
        let account = self.account(username);
        let store = self.store.clone();
        let password = Zeroizing::new(password.to_string());
        let kdf = create.then_some(self.kdf);
        tokio::task::spawn_blocking(move || {
            open_vault(&vault_path, &*store, &account, &password, kdf)
        })
        .await
        .map_err(|_| CoreError::Other("Opening the vault was interrupted; try again.".into()))?
    }

    fn install_vault(&self, inner: &mut Inner, session: Session, vault: Vault) {
        let idle = IdleTimer::new(self.config.idle_timeout, self.clock.now());
        inner.generation += 1;
        // A fresh session syncs at once and from the start of the backoff.
        inner.next_sync = None;
        inner.backoff.success();
        inner.phase = Phase::Unlocked {
            session,
            vault: Box::new(vault),
            idle,
        };
        self.refresh_counts(inner);
    }

    /// Drops any open vault (and with it the keys) without changing who is
    /// signed in.
    fn close_vault(&self, inner: &mut Inner) {
        if matches!(inner.phase, Phase::Unlocked { .. }) {
            self.lock_inner(inner);
        }
    }

    fn lock_inner(&self, inner: &mut Inner) {
        self.refresh_counts(inner);
        if let Phase::Unlocked { session, .. } =
            std::mem::replace(&mut inner.phase, Phase::SignedOut)
        {
            inner.phase = Phase::Locked { session };
            inner.generation += 1;
            tracing::info!("vault locked; keys dropped");
        }
    }

    fn lock_if_idle(&self, inner: &mut Inner) {
        let now = self.clock.now();
        if let Phase::Unlocked { idle, .. } = &inner.phase {
            if idle.should_lock(now) {
                tracing::info!("idle timeout reached");
                self.lock_inner(inner);
            }
        }
    }

    /// Runs `f` on the unlocked vault, locking first if the idle timeout
    /// has passed.
    ///
    /// A call does not count as activity: the window re-reads records by
    /// itself (after every background sync), and only keyboard or pointer
    /// input, reported through [`Core::record_activity`], may keep an
    /// unattended laptop unlocked.
    fn with_vault<T>(
        &self,
        f: impl FnOnce(&mut Vault) -> Result<T, CoreError>,
    ) -> Result<T, CoreError> {
        let mut inner = self.inner();
        self.lock_if_idle(&mut inner);
        let Phase::Unlocked { vault, .. } = &mut inner.phase else {
            return Err(CoreError::Locked);
        };
        let result = f(vault);
        self.refresh_counts(&mut inner);
        result
    }

    /// Like [`Core::with_vault`], but only into the session a sync started
    /// in; a lock in between discards the results (the server answers the
    /// same change ids again next time).
    fn apply_to_vault(
        &self,
        generation: u64,
        f: impl FnOnce(&mut Vault) -> Result<(), CoreError>,
    ) -> Result<(), CoreError> {
        let mut inner = self.inner();
        if inner.generation != generation {
            return Err(CoreError::Locked);
        }
        let Phase::Unlocked { vault, .. } = &mut inner.phase else {
            return Err(CoreError::Locked);
        };
        let result = f(vault);
        self.refresh_counts(&mut inner);
        result
    }

    fn sync_failed(&self, err: CoreError) -> Result<SyncStatus, CoreError> {
        if let CoreError::DeviceRevoked(message) = err {
            let username = match &self.inner().phase {
                Phase::Unlocked { session, .. } | Phase::Locked { session } => {
                    Some(session.username.clone())
                }
                _ => None,
            };
            return Err(match username {
                Some(username) => self.wipe_revoked_device(&username, message),
                None => CoreError::DeviceRevoked(message),
            });
        }
        let mut inner = self.inner();
        match err {
            CoreError::Offline(_) => inner.contact = Contact::Offline,
            CoreError::SessionExpired => {
                inner.contact = Contact::SignInRequired;
                if let Phase::Unlocked { session, .. } | Phase::Locked { session } =
                    &mut inner.phase
                {
                    session.token = None;
                }
            }
            other => return Err(other),
        }
        Ok(self.status_of(&inner))
    }

    fn refresh_counts(&self, inner: &mut Inner) {
        if let Phase::Unlocked { vault, .. } = &inner.phase {
            match vault.counts() {
                Ok((pending, conflicts)) => {
                    inner.pending = pending;
                    inner.conflicts = conflicts;
                }
                Err(err) => tracing::warn!(error = %err, "could not count the outbox"),
            }
            match vault.rejected_count() {
                Ok(rejected) => inner.rejected = rejected,
                Err(err) => tracing::warn!(error = %err, "could not count refused records"),
            }
        }
    }

    fn status_of(&self, inner: &Inner) -> SyncStatus {
        let pending = inner.pending;
        if inner.conflicts > 0 {
            return SyncStatus::Conflict {
                conflicts: inner.conflicts,
                pending,
            };
        }
        match inner.contact {
            Contact::Ok if inner.rejected > 0 => SyncStatus::Rejected {
                rejected: inner.rejected,
                pending,
            },
            Contact::Ok if pending == 0 => SyncStatus::Synced,
            Contact::Ok | Contact::Unknown => SyncStatus::Waiting { pending },
            Contact::Offline => SyncStatus::Offline { pending },
            Contact::SignInRequired => SyncStatus::SignInRequired { pending },
            Contact::ClockOff(minutes) => SyncStatus::ClockOff { minutes, pending },
        }
    }

    fn app_state(&self, inner: &Inner) -> AppState {
        match &inner.phase {
            Phase::SignedOut => AppState::SignedOut {
                server: self.config.server_url.clone(),
                notice: inner.notice.clone(),
            },
            Phase::AwaitingCode {
                username,
                otpauth_uri: None,
                ..
            } => AppState::AwaitingCode {
                username: username.clone(),
            },
            Phase::AwaitingCode {
                username,
                otpauth_uri: Some(uri),
                ..
            } => AppState::AwaitingEnrolment {
                username: username.clone(),
                otpauth_uri: uri.to_string(),
            },
            Phase::Locked { session } => AppState::Locked {
                username: session.username.clone(),
            },
            Phase::Unlocked { session, .. } => AppState::Unlocked {
                practitioner: session.practitioner.clone(),
            },
        }
    }
}

/// A pull page asked for on its own task, so the request travels while
/// the previous page is written to the vault. Dropping it cancels the
/// request (a sync that fails part way leaves nothing running).
struct PrefetchedPage(Option<tokio::task::JoinHandle<Result<PageAnswer, CoreError>>>);

type PageAnswer = bench_protocol::api::PullResponse;

impl PrefetchedPage {
    /// Starts asking for the page after `cursor`.
    fn start(api: &ApiClient, token: &str, cursor: i64) -> PrefetchedPage {
        let (api, token) = (api.clone(), token.to_string());
        PrefetchedPage(Some(tokio::spawn(async move {
            api.pull_page(&token, cursor).await
        })))
    }

    /// Waits for the page.
    async fn take(&mut self) -> Result<PageAnswer, CoreError> {
        let task = self
            .0
            .take()
            .expect("a page is asked for before it is taken");
        task.await.unwrap_or_else(|_| {
            Err(CoreError::Other(
                "Sync stopped unexpectedly; it will be tried again.".into(),
            ))
        })
    }
}

impl Drop for PrefetchedPage {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

/// Clears the "sync running" flag however `sync_now` ends.
struct SyncingFlag<'a>(&'a Core);

impl Drop for SyncingFlag<'_> {
    fn drop(&mut self) {
        self.0.inner().syncing = false;
    }
}

/// Unwraps the keys (creating them when `create_with` is given) and opens
/// the vault. Blocking: Argon2 takes a moment on purpose.
fn open_vault(
    vault_path: &std::path::Path,
    store: &dyn SecretStore,
    account: &str,
    password: &str,
    create_with: Option<KdfParams>,
) -> Result<Vault, CoreError> {
    let header: PathBuf = keys::header_path(vault_path);
    let data_keys = match create_with {
        Some(kdf) => {
            if vault_path.exists() {
                // A vault file without its key header cannot be opened, and
                // a new header would not open it either: stop, keep the file.
                return Err(CoreError::Vault(
                    "This device has a vault file for this account but its key file is missing, \
                     so it cannot be opened. Nothing was changed. Contact your clinic IT."
                        .into(),
                ));
            }
            keys::create(&header, store, account, password, kdf)?
        }
        None => keys::open(&header, store, account, password)?,
    };
    Vault::open(vault_path, data_keys)
}

fn stored_practitioner(vault: &Vault, username: &str) -> Result<Practitioner, CoreError> {
    let json = vault.meta("practitioner")?.ok_or_else(|| {
        CoreError::Vault(format!(
            "The vault for {username} on this device is incomplete. Sign in once while the \
             clinic server is reachable."
        ))
    })?;
    serde_json::from_str(&json).map_err(|_| {
        CoreError::Vault("The vault's account details are damaged; sign in online once.".into())
    })
}

fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn check_date(value: &str, what: &str) -> Result<(), CoreError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value, &format).map(drop).map_err(|_| {
        CoreError::Invalid(format!(
            "The {what} must be a real date written as YYYY-MM-DD."
        ))
    })
}

/// Refuses a note body over the server's limit, saying the limit.
fn check_note_size(body: &str) -> Result<(), CoreError> {
    if body.len() > MAX_NOTE_BYTES {
        return Err(CoreError::Invalid(format!(
            "This note is too long to save ({} MB); the limit is {} MB. Split it into \
             two notes.",
            body.len().div_ceil(1024 * 1024),
            MAX_NOTE_BYTES / (1024 * 1024)
        )));
    }
    Ok(())
}

fn client_not_found() -> CoreError {
    CoreError::NotFound("That client is not on this device. Sync, then try again.".into())
}

fn note_not_found() -> CoreError {
    CoreError::NotFound("That session note is not on this device. Sync, then try again.".into())
}

fn signed_read_only() -> CoreError {
    CoreError::Invalid("Signed notes are read-only. To correct one, add an amendment to it.".into())
}

mod admin;
mod devices;
mod revoked;

#[cfg(test)]
mod tests;
