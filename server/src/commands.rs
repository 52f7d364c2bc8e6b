//! The command-line commands, one function each. `main` parses arguments
//! and calls exactly one of these.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bench_protocol::api::Role;
use rand::distributions::{Alphanumeric, DistString};
use zeroize::Zeroizing;

use crate::alerts::{BulkAccess, NameKey, Policy, Throttle};
use crate::audit::{self, AuditLog, CheckpointKey, Entry, Event};
use crate::auth::{self, Challenges};
use crate::config::{self, SessionLimits, Settings};
use crate::error::ServerError;
use crate::files::DataDir;
use crate::http::{self, AppState};
use crate::seal::SealingKey;
use crate::shared::Shared;
use crate::store::{NewAccount, Store};
use crate::tls::{self, Tls13Only};
use crate::totp::TotpSecret;

/// Username of the account `init --demo` creates.
pub const DEMO_USERNAME: &str = "demo";
/// Username of the clinic admin `init --demo` creates.
pub const DEMO_ADMIN_USERNAME: &str = "demo-admin";
/// Username of the supervisor `init --demo` creates (supervising the demo
/// practitioner).
pub const DEMO_SUPERVISOR_USERNAME: &str = "demo-supervisor";

fn open_store(dir: &DataDir) -> Result<Store, ServerError> {
    let key = Arc::new(SealingKey::load(&dir.sealing_key())?);
    Store::open(&dir.bench_db(), key)
}

/// Serves the API until interrupted (Ctrl-C or SIGTERM).
pub async fn serve(dir: &DataDir, listen: Option<SocketAddr>) -> Result<(), ServerError> {
    dir.require_exists()?;
    let limits = SessionLimits::from_env()?;
    let policy = Policy::from_env()?;
    let every = checkpoint_every_from_env()?;
    let addr = match listen {
        Some(addr) => addr,
        None => Settings::load(dir)?.listen,
    };
    let store = open_store(dir)?;
    let key = CheckpointKey::load(&dir.audit_signing_key())?;
    let mut audit = open_checked_audit(dir, &store, &key.verifying_key())?;
    audit.sign_with(key, every);
    let throttle = Throttle::open(
        &dir.bench_db(),
        NameKey::load_or_create(&dir.signin_names_key())?,
        policy,
    )?;
    let tls = Tls13Only::load(dir)?;
    auth::warm_up();

    let listener = std::net::TcpListener::bind(addr).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            ServerError::PortInUse { addr }
        } else {
            ServerError::Bind { addr, source }
        }
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| ServerError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, source })?;
    config::write_client_discovery(dir, bound)?;

    let state = Arc::new(AppState {
        store: Shared::new(store),
        audit: Shared::new(audit),
        challenges: Challenges::default(),
        limits,
        throttle,
        bulk: BulkAccess::new(&policy),
    });
    let app = http::router(state.clone());
    let handle = axum_server::Handle::new();
    tokio::spawn(shutdown_on_signal(handle.clone()));
    let server = axum_server::from_tcp_rustls(
        listener,
        axum_server::tls_rustls::RustlsConfig::from_config(tls.config()),
    )
    .map_err(|source| ServerError::Bind { addr, source })?
    .handle(handle);

    tracing::info!(%bound, idle_secs = limits.idle.as_secs(), max_secs = limits.max.as_secs(), "serving");
    println!("listening on https://{bound}");
    let _ = std::io::stdout().flush();

    server
        .serve(app.into_make_service_with_connect_info::<SocketAddr>())
        .await
        .map_err(|source| ServerError::Serve { source })?;

    // Leave each database whole in its main file, so copying `audit.db`
    // alone (for verification or backup) copies the whole log.
    state.store.with(|s| s.checkpoint())?;
    state.audit.with(|a| a.sign_head())?;
    state.audit.with(|a| a.checkpoint())?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_on_signal(handle: axum_server::Handle<SocketAddr>) {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = ctrl_c.await;
            handle.graceful_shutdown(Some(Duration::from_secs(5)));
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    handle.graceful_shutdown(Some(Duration::from_secs(5)));
}

/// Creates a data directory with a demo clinic, a demo practitioner and a
/// local CA, and says how to sign in.
pub fn init_demo(dir: &DataDir, listen: Option<SocketAddr>) -> Result<(), ServerError> {
    if config::is_initialised(dir.root()) {
        println!(
            "{} already holds a Doctor's Bench server.",
            dir.root().display()
        );
        println!("  CA certificate: {}", dir.ca_cert().display());
        println!("  Client file:    {}", dir.client_json().display());
        println!(
            "The demo password cannot be shown again; set a new one with\n  bench-server user passwd --data-dir {} --username {DEMO_USERNAME} --password-stdin",
            dir.root().display()
        );
        return Ok(());
    }
    create_private_dir(dir.root())?;
    let settings = Settings {
        listen: listen.unwrap_or_else(|| config::DEFAULT_LISTEN.parse().expect("valid")),
    };

    let key = Arc::new(SealingKey::create(&dir.sealing_key())?);
    tls::create_demo_pki(dir)?;
    AuditLog::open(&dir.audit_db())?;
    CheckpointKey::load_or_create(&dir.audit_signing_key())?;
    let store = Store::open(&dir.bench_db(), key)?;
    let clinic = store.create_clinic("Demo Clinic")?;
    let password = Zeroizing::new(Alphanumeric.sample_string(&mut rand::rngs::OsRng, 20));
    let demo_id = store.create_account(NewAccount {
        username: DEMO_USERNAME,
        display_name: "Demo Practitioner",
        role: Role::SoloPractitioner,
        clinic_id: Some(clinic),
        password_hash: auth::hash_password(&password)?,
        totp: None,
    })?;
    // A clinic admin and a supervisor (of the demo practitioner), so every
    // screen of the desktop app can be seen; each enrols 2FA at first
    // sign-in like the practitioner.
    let mut others = Vec::new();
    for (username, display_name, role) in [
        (DEMO_ADMIN_USERNAME, "Demo Clinic Admin", Role::ClinicAdmin),
        (
            DEMO_SUPERVISOR_USERNAME,
            "Demo Supervisor",
            Role::Supervisor,
        ),
    ] {
        let password = Zeroizing::new(Alphanumeric.sample_string(&mut rand::rngs::OsRng, 20));
        let id = store.create_account(NewAccount {
            username,
            display_name,
            role,
            clinic_id: Some(clinic),
            password_hash: auth::hash_password(&password)?,
            totp: None,
        })?;
        others.push((username, role, id, password));
    }
    let supervision = store
        .create_supervision(&bench_protocol::api::NewSupervision {
            supervisor_id: others[1].2,
            practitioner_id: demo_id,
        })?
        .map_err(|refused| ServerError::BadConfig {
            source_name: "init --demo".into(),
            reason: refused.message.into(),
        })?;
    settings.save(dir)?;
    config::write_client_discovery(dir, settings.listen)?;
    record(
        dir,
        Entry::command_line(
            Event::ConfigChanged,
            serde_json::json!({ "what": "server_initialised", "listen": settings.listen.to_string() }),
        ),
    )?;
    record(
        dir,
        Entry::command_line(
            Event::AccountCreated,
            serde_json::json!({ "account_id": demo_id, "role": Role::SoloPractitioner.as_str(), "totp_enrolled": false }),
        ),
    )?;
    for (_, role, id, _) in &others {
        record(
            dir,
            Entry::command_line(
                Event::AccountCreated,
                serde_json::json!({ "account_id": id, "role": role.as_str(), "totp_enrolled": false }),
            ),
        )?;
    }
    record(
        dir,
        Entry::command_line(
            Event::SupervisionAssigned,
            serde_json::json!({
                "supervision_id": supervision.id,
                "supervisor_id": supervision.supervisor_id,
                "practitioner_id": supervision.practitioner_id,
            }),
        ),
    )?;

    println!(
        "Created a Doctor's Bench demo server in {}",
        dir.root().display()
    );
    println!();
    println!("  Server:    https://{}", settings.listen);
    println!("  Username:  {DEMO_USERNAME}");
    println!("  Password:  {}   (shown only now)", password.as_str());
    println!();
    println!("  Also in the demo clinic, to see the other roles' screens:");
    for (username, role, _, password) in &others {
        println!(
            "    {:<20} username {username:<16} password {}",
            role.as_str(),
            password.as_str()
        );
    }
    println!(
        "  (the supervisor supervises {DEMO_USERNAME}; each account sets up 2FA at first sign-in)"
    );
    println!();
    println!(
        "  CA certificate for the desktop app: {}",
        dir.ca_cert().display()
    );
    println!(
        "  The desktop app finds both through:  {}",
        dir.client_json().display()
    );
    println!();
    println!(
        "Start it with:  bench-server serve --data-dir {}",
        dir.root().display()
    );
    println!("At first sign-in the app asks you to set up an authenticator app (2FA).");
    Ok(())
}

fn create_private_dir(path: &Path) -> Result<(), ServerError> {
    use std::os::unix::fs::PermissionsExt;
    let wrap = |source| ServerError::Write {
        path: path.to_owned(),
        source,
    };
    std::fs::create_dir_all(path).map_err(wrap)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(wrap)
}

/// Reads a password from standard input (one line; the newline is not part
/// of it). Never from the command line, where `ps` and shell history see it.
/// `command` (e.g. `user add`) is named in the hint of a refusal.
fn password_from_stdin(command: &str) -> Result<Zeroizing<String>, ServerError> {
    let mut raw = Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut raw)
        .map_err(|e| ServerError::Password {
            reason: format!("cannot read standard input: {e}"),
        })?;
    let password = Zeroizing::new(raw.trim_end_matches(['\n', '\r']).to_string());
    if password.chars().count() < auth::MIN_PASSWORD_CHARS {
        return Err(ServerError::Password {
            reason: format!(
                "the password on standard input is shorter than {} characters; pipe a longer one, e.g. `printf '%s' \"$PASSWORD\" | bench-server {command} ...`",
                auth::MIN_PASSWORD_CHARS
            ),
        });
    }
    Ok(password)
}

/// What `user add` needs.
pub struct UserAdd<'a> {
    /// Sign-in name.
    pub username: &'a str,
    /// Greeting name.
    pub display_name: &'a str,
    /// Role name as on the command line.
    pub role: &'a str,
    /// Enrol 2FA now and print the secret once.
    pub with_totp: bool,
}

/// Longest username `user add` accepts, in characters.
const MAX_USERNAME_CHARS: usize = 64;
/// Longest display name `user add` accepts, in characters.
const MAX_DISPLAY_NAME_CHARS: usize = 100;

/// Checks a username or display name with the shared text rules (not
/// blank, bounded, no control or bidi characters), and also refuses the
/// invisible format characters those rules let through (direction marks
/// U+200E/U+200F/U+061C, zero-width characters), which would make the name
/// read differently in the admin's team list.
fn account_text(option: &str, label: &str, value: &str, max: usize) -> Result<(), ServerError> {
    let refused = |reason: String| ServerError::BadConfig {
        source_name: option.into(),
        reason,
    };
    bench_protocol::validate::check_text("account", label, value, max, true)
        .map_err(|e| refused(e.reason))?;
    if value.chars().any(crate::store::is_invisible_format) {
        return Err(refused(format!(
            "The {label} holds invisible characters (such as a text-direction mark or a zero-width space); retype it."
        )));
    }
    Ok(())
}

/// Adds an account, reading its password from standard input.
pub fn user_add(dir: &DataDir, user: UserAdd<'_>) -> Result<(), ServerError> {
    dir.require_exists()?;
    let role = Role::parse(user.role).ok_or_else(|| ServerError::BadRole {
        role: user.role.to_string(),
    })?;
    let username = user.username.trim();
    let display_name = user.display_name.trim();
    account_text("--username", "username", username, MAX_USERNAME_CHARS)?;
    if username.chars().any(char::is_whitespace) {
        return Err(ServerError::BadConfig {
            source_name: "--username".into(),
            reason: "The username contains a space; choose one without spaces.".into(),
        });
    }
    account_text(
        "--display-name",
        "display name",
        display_name,
        MAX_DISPLAY_NAME_CHARS,
    )?;
    let password = password_from_stdin("user add")?;
    let store = open_store(dir)?;
    let secret = user.with_totp.then(TotpSecret::generate);
    let id = store.create_account(NewAccount {
        username,
        display_name,
        role,
        clinic_id: None,
        password_hash: auth::hash_password(&password)?,
        totp: secret.as_ref(),
    })?;
    record(
        dir,
        Entry::command_line(
            Event::AccountCreated,
            serde_json::json!({ "account_id": id, "role": role.as_str(), "totp_enrolled": user.with_totp }),
        ),
    )?;
    println!("created account {id} ({username}, {})", role.as_str());
    if let Some(secret) = secret {
        println!(
            "TOTP secret (base32, shown once): {}",
            secret.to_base32().as_str()
        );
        println!(
            "otpauth URI (shown once): {}",
            secret.otpauth_uri(username).as_str()
        );
    }
    Ok(())
}

/// Sets a new password for an account, reading it from standard input,
/// and ends every session and pending sign-in it had.
pub fn user_passwd(dir: &DataDir, username: &str) -> Result<(), ServerError> {
    dir.require_exists()?;
    let password = password_from_stdin("user passwd")?;
    let store = open_store(dir)?;
    let hash = auth::hash_password(&password)?;
    let (id, ended) = store
        .set_password(username, &hash)?
        .ok_or_else(|| no_such_account(username))?;
    record(
        dir,
        Entry::command_line(
            Event::PasswordChanged,
            serde_json::json!({ "account_id": id, "sessions_ended": ended }),
        ),
    )?;
    println!("password changed for {username}; {ended} session(s) ended");
    Ok(())
}

fn no_such_account(username: &str) -> ServerError {
    ServerError::BadConfig {
        source_name: "--username".into(),
        reason: format!("there is no account named {username:?}"),
    }
}

/// Ends every session and pending sign-in of an account (a lost laptop, a
/// departing colleague).
pub fn user_sessions_revoke(dir: &DataDir, username: &str) -> Result<(), ServerError> {
    dir.require_exists()?;
    let store = open_store(dir)?;
    let (id, ended) = store
        .revoke_sessions(username)?
        .ok_or_else(|| no_such_account(username))?;
    record(
        dir,
        Entry::command_line(
            Event::SessionsRevoked,
            serde_json::json!({ "account_id": id, "sessions_ended": ended }),
        ),
    )?;
    println!("{ended} session(s) of {username} ended; it must sign in again");
    Ok(())
}

/// Clears an account's failed-sign-in counters, lifting its lock on every
/// network (after operations checked the alert). Takes effect on a running
/// server at its next check: the counters live in `bench.db`.
pub fn user_unlock(dir: &DataDir, username: &str) -> Result<(), ServerError> {
    dir.require_exists()?;
    let store = open_store(dir)?;
    let account = store
        .account_by_username(username)?
        .ok_or_else(|| no_such_account(username))?;
    let throttle = Throttle::open(
        &dir.bench_db(),
        NameKey::load_or_create(&dir.signin_names_key())?,
        Policy::DEFAULT,
    )?;
    let cleared = throttle
        .unlock(username)
        .map_err(|e| ServerError::database(&dir.bench_db(), e))?;
    record(
        dir,
        Entry::command_line(
            Event::AccountUnlocked,
            serde_json::json!({ "account_id": account.id, "counters_cleared": cleared }),
        ),
    )?;
    println!("sign-in lock cleared for {username}");
    Ok(())
}

/// Removes an account's 2FA so it enrols a new authenticator at its next
/// sign-in (a lost phone), ending its sessions.
pub fn user_reset_2fa(dir: &DataDir, username: &str) -> Result<(), ServerError> {
    dir.require_exists()?;
    let store = open_store(dir)?;
    let (id, ended) = store
        .reset_totp(username)?
        .ok_or_else(|| no_such_account(username))?;
    record(
        dir,
        Entry::command_line(
            Event::TwoFactorReset,
            serde_json::json!({ "account_id": id, "sessions_ended": ended }),
        ),
    )?;
    println!("2FA removed for {username}; {ended} session(s) ended; it sets up an authenticator again at its next sign-in");
    Ok(())
}

/// Lists the devices that signed in, newest contact first, with whether
/// each is revoked (the listing is audited).
pub fn device_list(dir: &DataDir, username: Option<&str>) -> Result<(), ServerError> {
    dir.require_exists()?;
    let store = open_store(dir)?;
    let account = match username {
        Some(name) => Some(
            store
                .account_by_username(name)?
                .ok_or_else(|| no_such_account(name))?
                .id,
        ),
        None => None,
    };
    let devices = store.devices(account)?;
    record(
        dir,
        Entry::command_line(
            Event::DevicesListed,
            serde_json::json!({ "devices": devices.len(), "account_id": account }),
        ),
    )?;
    if devices.is_empty() {
        println!("no devices");
    }
    for d in devices {
        let state = match &d.revoked_at {
            Some(at) => format!("revoked {at}"),
            None => "active".to_string(),
        };
        println!(
            "{} {} {:?} first={} last={} {}",
            d.device_id, d.username, d.device_name, d.first_seen, d.last_seen, state
        );
    }
    Ok(())
}

/// Revokes a device for every account that used it (a lost or stolen
/// laptop): its sessions stop working at once, it cannot sign in again,
/// and the app on it deletes its vault at its next contact.
pub fn device_revoke(dir: &DataDir, device_id: &str, reason: &str) -> Result<(), ServerError> {
    dir.require_exists()?;
    let bad = |why: &str| ServerError::BadConfig {
        source_name: "--device-id".into(),
        reason: why.to_string(),
    };
    let id: uuid::Uuid = device_id
        .trim()
        .parse()
        .map_err(|_| bad("a device id is a UUID, as `bench-server device list` prints it"))?;
    if reason.chars().count() > bench_protocol::api::MAX_REVOKE_REASON
        || reason.chars().any(char::is_control)
    {
        return Err(ServerError::BadConfig {
            source_name: "--reason".into(),
            reason: "the reason must be one line of at most 200 characters".into(),
        });
    }
    let store = open_store(dir)?;
    let revoked = store
        .revoke_device(
            id,
            crate::store::Revoker::CommandLine,
            reason,
            crate::clock::now_unix(),
        )?
        .ok_or_else(|| bad("no account has signed in from that device"))?;
    record(
        dir,
        Entry::command_line(
            Event::DeviceRevoked,
            serde_json::json!({
                "revoked_device_id": id,
                "accounts": revoked.devices.iter().map(|d| d.account_id).collect::<Vec<_>>(),
                "whole_device": true,
                "sessions_ended": revoked.sessions_ended,
                "reason_given": !reason.trim().is_empty(),
            }),
        ),
    )?;
    println!(
        "device {id} revoked for {} account(s); {} session(s) ended; the app on it deletes its vault at its next contact",
        revoked.devices.len(),
        revoked.sessions_ended
    );
    Ok(())
}

/// `BENCH_AUDIT_CHECKPOINT_EVERY` may lower the checkpoint interval (tests).
fn checkpoint_every_from_env() -> Result<i64, ServerError> {
    let default = audit::DEFAULT_CHECKPOINT_EVERY;
    let Ok(raw) = std::env::var("BENCH_AUDIT_CHECKPOINT_EVERY") else {
        return Ok(default);
    };
    match raw.trim().parse::<i64>() {
        Ok(n) if (1..=default).contains(&n) => Ok(n),
        _ => Err(ServerError::BadConfig {
            source_name: "BENCH_AUDIT_CHECKPOINT_EVERY".into(),
            reason: format!(
                "{raw:?} is not a whole number in 1..={default}; it may only lower the default"
            ),
        }),
    }
}

/// Opens the audit log for `serve`, refusing to start on a log that was cut
/// or replaced rather than silently starting a fresh one: the head signed
/// outside the log must still be in it, and a server with accounts must
/// have audit entries (every account is created with one).
fn open_checked_audit(
    dir: &DataDir,
    store: &Store,
    key: &ed25519_dalek::VerifyingKey,
) -> Result<AuditLog, ServerError> {
    let head = audit::SignedHead::read(&dir.audit_head())?;
    if !dir.audit_db().exists() {
        if let Some(head) = head {
            return Err(ServerError::AuditTruncated {
                reason: format!(
                    "{} is missing but the last signed head outside the log is entry {}; restore audit.db from backup before serving",
                    dir.audit_db().display(),
                    head.head_seq
                ),
            });
        }
    }
    let log = AuditLog::open(&dir.audit_db())?;
    log.check_head(Some(key))?;
    if store.account_count()? > 0 && log.last_seq()? == 0 {
        return Err(ServerError::AuditTruncated {
            reason: format!(
                "{} holds accounts but {} holds no entries, so the log was deleted or replaced; restore audit.db (and {}) from backup before serving",
                dir.bench_db().display(),
                dir.audit_db().display(),
                dir.audit_head().display()
            ),
        });
    }
    Ok(log)
}

/// Opens the audit log of an existing data directory, signing checkpoints
/// with its key.
fn open_audit(dir: &DataDir) -> Result<(AuditLog, ed25519_dalek::VerifyingKey), ServerError> {
    dir.require_exists()?;
    if !dir.audit_db().exists() {
        return Err(ServerError::NotADatabase {
            path: dir.audit_db(),
        });
    }
    let mut log = AuditLog::open(&dir.audit_db())?;
    let key = CheckpointKey::load(&dir.audit_signing_key())?;
    let public = key.verifying_key();
    log.sign_with(key, audit::DEFAULT_CHECKPOINT_EVERY);
    Ok((log, public))
}

/// Appends one entry for something done at the command line.
fn record(dir: &DataDir, entry: Entry) -> Result<(), ServerError> {
    let (mut log, _) = open_audit(dir)?;
    log.append(&entry)?;
    // A command-line entry is the head until the server next runs; sign it
    // now so cutting it off would show.
    log.sign_head()
}

/// Recomputes the audit log's hash chain and checks its signed checkpoints.
pub fn audit_verify(dir: &DataDir) -> Result<(), ServerError> {
    let (log, public) = open_audit(dir)?;
    let v = log.verify(Some(&public))?;
    println!(
        "audit log OK: {} entries, {} signed checkpoints",
        v.entries, v.checkpoints
    );
    Ok(())
}

/// For a data directory from before `audit-head.json`: verifies the whole
/// log (chain and checkpoints), then records its last signed checkpoint as
/// the head kept outside it. Refuses when a head file exists.
pub fn audit_anchor(dir: &DataDir) -> Result<(), ServerError> {
    let (mut log, public) = open_audit(dir)?;
    if dir.audit_head().exists() {
        return Err(ServerError::AuditTruncated {
            reason: format!(
                "{} already exists; run `bench-server audit verify`, and restore the file from backup if it fails",
                dir.audit_head().display()
            ),
        });
    }
    let v = log.verify_chain(Some(&public))?;
    // Signing the current head writes the head file; when the head was
    // already signed, the last checkpoint is recorded as it stands.
    log.sign_head()?;
    let head = match audit::SignedHead::read(&dir.audit_head())? {
        Some(head) => head,
        None => log.adopt_head()?,
    };
    log.append(&Entry::command_line(
        Event::ConfigChanged,
        serde_json::json!({ "what": "audit_head_anchored", "head_seq": head.head_seq }),
    ))?;
    log.sign_head()?;
    println!(
        "audit log OK: {} entries; its head (entry {}) is now also kept in {}",
        v.entries,
        head.head_seq,
        dir.audit_head().display()
    );
    Ok(())
}

/// Writes audit entries `from..=to` to `out` for an auditor, and records
/// that export in the log.
pub fn audit_export(dir: &DataDir, from: i64, to: i64, out: &Path) -> Result<(), ServerError> {
    if from < 1 || to < from {
        return Err(ServerError::BadConfig {
            source_name: "--from/--to".into(),
            reason: format!("{from}..{to} is not a range of entry numbers; both start at 1 and --to must not be below --from"),
        });
    }
    let (mut log, public) = open_audit(dir)?;
    let count = log.export(from, to, out, Some(&public))?;
    log.append(&Entry::command_line(
        Event::Export,
        serde_json::json!({ "what": "audit_log", "from": from, "to": to, "entries": count }),
    ))?;
    log.sign_head()?;
    println!(
        "wrote {count} audit entries ({from}..={to}) to {}; checkpoint key {}",
        out.display(),
        hex::encode(public.as_bytes())
    );
    Ok(())
}

/// Re-verifies an export file on its own, as an auditor would.
pub fn audit_verify_export(file: &Path, public_key_hex: Option<&str>) -> Result<(), ServerError> {
    let key = public_key_hex
        .map(|h| {
            let bad = || ServerError::BadConfig {
                source_name: "--public-key".into(),
                reason: "give the 64 hex digits `audit export` printed as the checkpoint key"
                    .into(),
            };
            let bytes: [u8; 32] = hex::decode(h.trim())
                .map_err(|_| bad())?
                .try_into()
                .map_err(|_| bad())?;
            ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| bad())
        })
        .transpose()?;
    let v = audit::verify_export(file, key.as_ref())?;
    println!(
        "audit export OK: {} entries, {} signed checkpoints",
        v.entries, v.checkpoints
    );
    Ok(())
}

/// Prints every security alert, oldest first, and records that they were
/// listed.
pub fn alerts_list(dir: &DataDir) -> Result<(), ServerError> {
    let (mut log, _) = open_audit(dir)?;
    let alerts = log.alerts()?;
    log.append(&Entry::command_line(
        Event::AlertsListed,
        serde_json::json!({ "count": alerts.len() }),
    ))?;
    log.sign_head()?;
    if alerts.is_empty() {
        println!("no alerts");
    }
    for a in alerts {
        println!(
            "{} {} {} account={} source={} audit_entry={} {}",
            a.id,
            a.time,
            a.kind,
            a.account_id
                .map(|u| u.to_string())
                .unwrap_or_else(|| "-".into()),
            a.source_ip.as_deref().unwrap_or("-"),
            a.audit_seq,
            a.details
        );
    }
    Ok(())
}
