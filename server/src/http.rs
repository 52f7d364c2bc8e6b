//! The HTTPS API: routes, request checks, and the mapping from what the
//! store says to what the device hears.
//!
//! Handlers are thin: parse, call the store on a blocking thread, write the
//! audit entries, answer. Every response, errors and 404s included, carries
//! `Strict-Transport-Security` and `Cache-Control: no-store`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State,
};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bench_protocol::api::{
    routes, ApiError, Cosignature, DeviceAuditEntry, DeviceAuditResponse, DeviceAuditUpload,
    ErrorCode, LoginRequest, LoginResponse, NewShare, NewSupervision, NewSupportGrant, PushRequest,
    PushResponse, Role, SessionInfo, Share, Supervision, SupportGrant, TeamMember, TotpRequest,
    DEVICE_AUDIT_KINDS, MAX_DEVICE_AUDIT_ENTRIES, MAX_PULL_LIMIT,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::alerts::{self, BulkAccess, Decision, Throttle};
use crate::audit::{Alert, AuditLog, Entry, Event};
use crate::auth::{self, ChallengeError, Challenges, Pending};
use crate::clock;
use crate::config::SessionLimits;
use crate::error::ServerError;
use crate::shared::Shared;
use crate::store::{Account, SessionCheck, Store};
use crate::totp;

mod devices;
mod schedule;

/// Body limit for sync pushes: a note may be `MAX_NOTE_BYTES` of text,
/// which JSON escaping can grow; the store then refuses oversized notes one
/// by one, so the rest of the batch still applies.
pub const PUSH_BODY_LIMIT: usize = bench_protocol::api::MAX_PUSH_BODY_BYTES;
/// Body limit for every other route.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// Body limit for a device audit upload: room for
/// [`MAX_DEVICE_AUDIT_ENTRIES`] entries of ids, a kind and a time (about
/// 250 bytes each as JSON), which the default limit would refuse.
pub const AUDIT_UPLOAD_BODY_LIMIT: usize = 512 * 1024;
/// How far ahead of the server's clock a device-recorded time may be.
pub const DEVICE_AUDIT_MAX_AHEAD_SECS: i64 = 24 * 60 * 60;
/// The earliest time a device-recorded entry may carry (2020-01-01 UTC).
pub const DEVICE_AUDIT_EARLIEST_UNIX: i64 = 1_577_836_800;
/// Pull page size when the device does not say.
pub const DEFAULT_PULL_LIMIT: u32 = 200;

/// Everything a request handler may use.
pub struct AppState {
    /// Operational database.
    pub store: Shared<Store>,
    /// Audit log.
    pub audit: Shared<AuditLog>,
    /// Outstanding sign-in challenges.
    pub challenges: Challenges,
    /// Session lifetimes.
    pub limits: SessionLimits,
    /// Failed sign-in counters.
    pub throttle: Throttle,
    /// Distinct record reads per account, for the bulk-access alert.
    pub bulk: BulkAccess,
}

type AppRef = Arc<AppState>;

/// The routes and the list of (method, path) they serve, built by the same
/// calls so the list cannot drift from the router (the role matrix test
/// compares against the list).
struct Routes {
    router: Router<AppRef>,
    list: Vec<(&'static str, &'static str)>,
}

impl Routes {
    fn add(
        mut self,
        method: &'static str,
        path: &'static str,
        handler: axum::routing::MethodRouter<AppRef>,
    ) -> Routes {
        self.list.push((method, path));
        self.router = self.router.route(path, handler);
        self
    }
}

fn routes_table() -> Routes {
    Routes {
        router: Router::new(),
        list: Vec::new(),
    }
    .add("GET", routes::HEALTH, get(health))
    .add("POST", routes::LOGIN, post(login))
    .add("POST", routes::TOTP, post(totp_step))
    .add("POST", routes::ENROL, post(enrol_step))
    .add("POST", routes::LOGOUT, post(logout))
    .add("GET", routes::ME, get(me))
    .add("GET", routes::CLIENTS, get(list_clients))
    .add("GET", routes::CLIENT, get(client_detail))
    .add(
        "POST",
        routes::SYNC_PUSH,
        post(push).layer(DefaultBodyLimit::max(PUSH_BODY_LIMIT)),
    )
    .add(
        "GET",
        routes::SYNC_PULL,
        get(pull).layer(pull_compression()),
    )
    .add(
        "POST",
        routes::AUDIT_UPLOAD,
        post(device_audit).layer(DefaultBodyLimit::max(AUDIT_UPLOAD_BODY_LIMIT)),
    )
    .add(
        "GET|POST",
        routes::SHARES,
        get(list_shares).post(create_share),
    )
    .add("POST", routes::SHARE_REVOKE, post(revoke_share))
    .add("GET", routes::TEAM, get(team))
    .add(
        "GET|POST",
        routes::SUPERVISION,
        get(list_supervision).post(create_supervision),
    )
    .add("POST", routes::SUPERVISION_REVOKE, post(revoke_supervision))
    .add("POST", routes::SUPPORT_GRANTS, post(create_support_grant))
    .add("POST", routes::NOTE_COSIGN, post(cosign_note))
    .add("GET", routes::DEVICES, get(devices::list))
    .add("POST", routes::DEVICE_REVOKE, post(devices::revoke))
    .add("POST", routes::CLIENT_TRANSFER, post(devices::transfer))
    .add(
        "GET|POST",
        routes::SCHEDULE,
        get(schedule::list).post(schedule::book),
    )
    .add("GET", routes::SCHEDULE_CLIENTS, get(schedule::clients))
    .add(
        "POST",
        routes::APPOINTMENT_STATUS,
        post(schedule::set_status),
    )
    .add(
        "GET|POST",
        routes::INVOICES,
        get(schedule::invoices).post(schedule::issue),
    )
    .add(
        "POST",
        routes::INVOICE_STATUS,
        post(schedule::set_invoice_status),
    )
}

/// Gzip for pull answers, when the device asks for it (`Accept-Encoding`).
///
/// Session notes are words, which gzip shrinks about threefold: on a
/// 1 Mbit/s 3G link that is the difference between a first sync of 20,000
/// notes taking one minute or three. Only the pull route is compressed:
/// answers that carry a session token or a sign-in challenge are not, so
/// no secret shares a compressed answer with text someone else chose
/// (the BREACH attack on compression under TLS).
// Limitation: a pull page can hold notes from a colleague's shared client
// next to the practitioner's own; a colleague who could also watch this
// device's traffic sizes could in principle probe one with the other.
// Pages are large and mixed, which makes that impractical, not impossible.
fn pull_compression() -> tower_http::compression::CompressionLayer {
    tower_http::compression::CompressionLayer::new()
        .gzip(true)
        .quality(tower_http::CompressionLevel::Default)
}

/// Every (method, path) the API serves; `GET|POST` for a path that serves
/// both.
pub fn route_list() -> Vec<(&'static str, &'static str)> {
    routes_table().list
}

/// The API's routes with their layers.
pub fn router(state: AppRef) -> Router {
    routes_table()
        .router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn security_headers(mut res: Response) -> Response {
    let headers = res.headers_mut();
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// An error answer: status plus an [`ApiError`] body.
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    body: ApiError,
}

impl Failure {
    fn new(status: StatusCode, code: ErrorCode, message: &str) -> Failure {
        Failure {
            status,
            body: ApiError {
                code,
                message: message.to_string(),
            },
        }
    }
    fn session_expired() -> Failure {
        Failure::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::SessionExpired,
            "Your session has ended. Sign in again.",
        )
    }
    fn bad_credentials() -> Failure {
        Failure::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::BadCredentials,
            "The username or password is not right.",
        )
    }
    fn bad_code() -> Failure {
        Failure::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::BadCode,
            "That code was not accepted. Wait for the next code in your authenticator app and try again.",
        )
    }
    fn challenge_expired() -> Failure {
        Failure::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::ChallengeExpired,
            "This sign-in has expired. Enter your username and password again.",
        )
    }
    fn rate_limited(secs: u64, locked: bool) -> Failure {
        let message = if locked {
            let minutes = secs.div_ceil(60);
            let unit = if minutes == 1 { "minute" } else { "minutes" };
            format!("Too many failed sign-ins: sign-in is paused for about {minutes} {unit}. If this was not you, tell your clinic IT.")
        } else {
            let unit = if secs == 1 { "second" } else { "seconds" };
            format!("Too many failed sign-ins. Wait {secs} {unit} and try again.")
        };
        Failure::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            &message,
        )
    }
    /// The caller's role may not use `route`, said for that route.
    fn forbidden(route: &str) -> Failure {
        let message = match route {
            routes::CLIENTS
            | routes::CLIENT
            | routes::SYNC_PUSH
            | routes::SYNC_PULL
            | routes::NOTE_COSIGN => "Your role does not give access to client records.",
            routes::SHARES | routes::SHARE_REVOKE | routes::SUPPORT_GRANTS => {
                "Only a practitioner can share their clients' records or grant support access to them."
            }
            routes::TEAM | routes::SUPERVISION | routes::SUPERVISION_REVOKE => {
                "Only the clinic admin can manage the team and supervision."
            }
            routes::DEVICES | routes::DEVICE_REVOKE => "Your role does not allow managing devices.",
            routes::CLIENT_TRANSFER => "Your role does not allow transferring clients.",
            routes::SCHEDULE
            | routes::SCHEDULE_CLIENTS
            | routes::APPOINTMENT_STATUS
            | routes::INVOICES
            | routes::INVOICE_STATUS => "Your role does not give access to scheduling or billing.",
            _ => "Your role does not allow this.",
        };
        Failure::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }
    fn device_revoked() -> Failure {
        Failure::new(
            StatusCode::FORBIDDEN,
            ErrorCode::DeviceRevoked,
            "Your clinic has revoked this device, so it can no longer sign in or sync. Doctor's Bench has removed this device's copy of the records. If this device was not lost, ask your clinic admin.",
        )
    }
    fn not_found() -> Failure {
        Failure::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "There is no such record.",
        )
    }
}

impl From<ServerError> for Failure {
    fn from(e: ServerError) -> Failure {
        // ServerError messages carry paths and SQLite text, never secrets or
        // patient data, so they are safe to log; the device hears less.
        tracing::error!(error = %e, "request failed inside the server");
        Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "Something went wrong on the server; nothing was changed. Try again, and tell your clinic IT if it keeps happening.",
        )
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

async fn not_found() -> Failure {
    Failure::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "There is no such route on this server.",
    )
}

/// A known route called with a method it does not serve: an [`ApiError`]
/// like every other refusal, not an empty body.
async fn method_not_allowed() -> Failure {
    Failure::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::BadRequest,
        "This route does not accept that method (for example GET where POST is needed).",
    )
}

/// JSON body whose rejection is an [`ApiError`], never a plain-text page.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Failure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_failure(rejection)),
        }
    }
}

fn json_failure(rejection: JsonRejection) -> Failure {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            "The request is larger than the server accepts.",
        );
    }
    // The parser's own message may quote the body (patient data), so it is
    // neither echoed nor logged.
    Failure::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::BadRequest,
        "The request body is not the JSON this route expects; nothing was changed.",
    )
}

/// A request from a signed-in practitioner with a live session.
pub struct Authed {
    account: Account,
    device_id: Uuid,
    token_hash: Vec<u8>,
}

impl FromRequestParts<AppRef> for Authed {
    type Rejection = Failure;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppRef,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(Failure::session_expired)?;
        let token_hash = auth::token_hash(token.trim());
        let idle = state.limits.idle.as_secs();
        let lookup = token_hash.clone();
        let check = state
            .store
            .call(move |s| s.touch_session(&lookup, clock::now_unix(), idle))
            .await?;
        match check {
            SessionCheck::Active { account, device_id } => {
                let who = Authed {
                    account,
                    device_id,
                    token_hash,
                };
                if who.account.role == Role::Operations {
                    // Every action by an operations account is audited, the
                    // refused ones included.
                    let peer = parts
                        .extensions
                        .get::<ConnectInfo<SocketAddr>>()
                        .map(|c| c.0.ip());
                    let mut entry = who.entry(Event::OperationsRequest, peer);
                    entry.details = serde_json::json!({
                        "method": parts.method.as_str(),
                        "route": parts.uri.path(),
                    });
                    audit(state, entry).await?;
                }
                Ok(who)
            }
            SessionCheck::DeviceRevoked { account, device_id } => {
                let peer = parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|c| c.0.ip());
                let mut entry = Entry::new(Event::DeviceRefused, Some(account.id), peer);
                entry.role = Some(account.role);
                entry.device_id = Some(device_id);
                entry.details = serde_json::json!({
                    "method": parts.method.as_str(),
                    "route": parts.uri.path(),
                });
                audit(state, entry).await?;
                tracing::info!(account_id = %account.id, %device_id, "request from a revoked device refused");
                Err(Failure::device_revoked())
            }
            SessionCheck::Expired => {
                tracing::info!("a session expired");
                Err(Failure::session_expired())
            }
            SessionCheck::Unknown => Err(Failure::session_expired()),
        }
    }
}

impl Authed {
    /// An audit entry for this caller: actor, role and device filled in.
    fn entry(&self, event: Event, source_ip: Option<IpAddr>) -> Entry {
        let mut e = Entry::new(event, Some(self.account.id), source_ip);
        e.role = Some(self.account.role);
        e.device_id = Some(self.device_id);
        e
    }

    /// Refuses (and audits) a clinic admin or operations account on a route
    /// that carries clinical content: they never receive one byte of it.
    async fn require_clinical(
        &self,
        state: &AppState,
        peer: SocketAddr,
        route: &'static str,
    ) -> Result<(), Failure> {
        self.refuse(state, peer, route, &[Role::ClinicAdmin, Role::Operations])
            .await
    }

    /// Refuses (and audits) the caller when their role is one of `roles`.
    async fn refuse(
        &self,
        state: &AppState,
        peer: SocketAddr,
        route: &'static str,
        roles: &[Role],
    ) -> Result<(), Failure> {
        if roles.contains(&self.account.role) {
            let mut entry = self.entry(Event::AccessDenied, ip(peer));
            entry.details = serde_json::json!({ "route": route });
            audit(state, entry).await?;
            return Err(Failure::forbidden(route));
        }
        Ok(())
    }
}

/// Stores an alert (and its audit entry) and logs that it happened.
async fn raise(
    state: &AppState,
    kind: &str,
    account_id: Option<Uuid>,
    source_ip: Option<IpAddr>,
    details: serde_json::Value,
) -> Result<(), Failure> {
    let alert = Alert {
        id: 0,
        time: String::new(),
        kind: kind.to_string(),
        account_id,
        source_ip: source_ip.map(|i| i.to_string()),
        details,
        audit_seq: 0,
    };
    let alert = state.audit.call(move |log| log.raise_alert(alert)).await?;
    tracing::warn!(alert_id = alert.id, kind = %alert.kind, account_id = ?alert.account_id, "security alert raised");
    Ok(())
}

/// Counts a failed sign-in step and raises the alerts it crosses.
async fn count_failure(
    state: &AppState,
    username: &str,
    account: Option<Uuid>,
    peer: IpAddr,
) -> Result<(), Failure> {
    let crossed = state.throttle.fail(username, peer, clock::now_unix_ms());
    for c in crossed {
        let account = if c.kind == "failed_sign_ins_account" {
            account
        } else {
            None
        };
        raise(
            state,
            c.kind,
            account,
            Some(peer),
            serde_json::json!({ "consecutive_failures": c.failures }),
        )
        .await?;
    }
    Ok(())
}

async fn audit(state: &AppState, entry: Entry) -> Result<(), Failure> {
    let event = entry.event;
    match state.audit.call(move |log| log.append(&entry)).await {
        Ok(_) => Ok(()),
        Err(e) => {
            // An action that cannot be audited is not done.
            tracing::error!(event = event.as_str(), error = %e, "audit log write failed");
            Err(e.into())
        }
    }
}

fn ip(addr: SocketAddr) -> Option<IpAddr> {
    Some(addr.ip())
}

async fn health() -> Json<&'static str> {
    Json("ok")
}

/// Password step, after the throttle (see `alerts`) allows it.
async fn login(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, Failure> {
    let username = req.username.trim().to_string();
    // A revoked device hears so before anything else, whatever password
    // it sent and however throttled it is: the answer is what makes the
    // app on it delete its vault.
    let lookup = username.clone();
    let device_id = req.device_id;
    let revoked = state
        .store
        .call(move |s| {
            let known = s.account_by_username(&lookup)?.map(|a| (a.id, a.role));
            let revoked = s.device_revoked(device_id, known.map(|k| k.0))?;
            Ok::<_, ServerError>(revoked.then_some(known))
        })
        .await?;
    if let Some(known) = revoked {
        let mut entry = Entry::new(Event::DeviceRefused, known.map(|k| k.0), ip(peer));
        entry.role = known.map(|k| k.1);
        entry.device_id = Some(device_id);
        entry.details = serde_json::json!({ "route": routes::LOGIN });
        if known.is_none() {
            entry.details["username_tag"] = state.throttle.name_key().tag(&username).into();
        }
        audit(&state, entry).await?;
        tracing::info!(%device_id, "sign-in from a revoked device refused");
        return Err(Failure::device_revoked());
    }
    if let Decision::Wait { secs, locked } =
        state
            .throttle
            .check(&username, peer.ip(), clock::now_unix_ms())
    {
        let lookup = username.clone();
        let known = state
            .store
            .call(move |s| s.account_by_username(&lookup))
            .await?
            .map(|a| a.id);
        let mut entry = Entry::new(Event::LoginThrottled, known, ip(peer));
        entry.device_id = Some(req.device_id);
        entry.details = serde_json::json!({ "wait_secs": secs, "locked": locked });
        if known.is_none() {
            entry.details["username_tag"] = state.throttle.name_key().tag(&username).into();
        }
        audit(&state, entry).await?;
        return Err(Failure::rate_limited(secs, locked));
    }
    let lookup = username.clone();
    let account = state
        .store
        .call(move |s| s.account_by_username(&lookup))
        .await?;
    let stored = account.as_ref().map(|a| a.password_hash.clone());
    let known = account.as_ref().map(|a| (a.id, a.role));
    let password = zeroize::Zeroizing::new(req.password);
    let ok =
        tokio::task::spawn_blocking(move || auth::verify_password(stored.as_deref(), &password))
            .await
            .unwrap_or(false);

    let mut entry = Entry::new(Event::LoginPasswordFailed, known.map(|k| k.0), ip(peer));
    entry.role = known.map(|k| k.1);
    entry.device_id = Some(req.device_id);
    // A known username is recorded as the account (the actor); an unknown
    // one only as a keyed tag, since what was typed may be a password
    // entered in the wrong field. The tag still links repeated attempts.
    if known.is_none() {
        entry.details =
            serde_json::json!({ "username_tag": state.throttle.name_key().tag(&username) });
    }
    let account = match (ok, account) {
        (true, Some(account)) => account,
        _ => {
            tracing::info!(device_id = %req.device_id, "password step refused");
            audit(&state, entry).await?;
            count_failure(&state, &username, known.map(|k| k.0), peer.ip()).await?;
            return Err(Failure::bad_credentials());
        }
    };

    entry.event = Event::LoginPasswordOk;
    entry.actor = Some(account.id);
    entry.details["second_factor"] = if account.has_totp {
        "totp"
    } else {
        "enrolment"
    }
    .into();
    audit(&state, entry).await?;
    tracing::info!(account_id = %account.id, device_id = %req.device_id, "password step accepted");
    // The device is recorded only after the second step: the password
    // alone must not plant a row in the admin's device list.

    if account.has_totp {
        let challenge = state.challenges.issue(
            account.id,
            account.auth_epoch,
            req.device_id,
            &req.device_name,
            Pending::Totp,
        );
        Ok(Json(LoginResponse::TotpRequired {
            challenge: challenge.to_string(),
        }))
    } else {
        let secret = totp::TotpSecret::generate();
        let otpauth_uri = secret.otpauth_uri(&account.username).to_string();
        let challenge = state.challenges.issue(
            account.id,
            account.auth_epoch,
            req.device_id,
            &req.device_name,
            Pending::Enrol(secret),
        );
        Ok(Json(LoginResponse::EnrolmentRequired {
            challenge: challenge.to_string(),
            otpauth_uri,
        }))
    }
}

/// Code step for an enrolled account.
async fn totp_step(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<TotpRequest>,
) -> Result<Json<SessionInfo>, Failure> {
    second_step(state, peer, req, false).await
}

/// Code step confirming a new authenticator.
async fn enrol_step(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<TotpRequest>,
) -> Result<Json<SessionInfo>, Failure> {
    second_step(state, peer, req, true).await
}

async fn second_step(
    state: AppRef,
    peer: SocketAddr,
    req: TotpRequest,
    enrolment: bool,
) -> Result<Json<SessionInfo>, Failure> {
    let (ok_event, failed_event) = if enrolment {
        (Event::EnrolOk, Event::EnrolFailed)
    } else {
        (Event::LoginCodeOk, Event::LoginCodeFailed)
    };
    let challenge = match state.challenges.peek(&req.challenge, enrolment) {
        Ok(c) => c,
        Err(why) => {
            let mut entry = Entry::new(failed_event, None, ip(peer));
            entry.details = serde_json::json!({ "reason": match why {
                ChallengeError::Expired => "challenge_expired",
                ChallengeError::WrongStep => "wrong_step",
            }});
            audit(&state, entry).await?;
            return Err(Failure::challenge_expired());
        }
    };
    let account_id = challenge.account_id;
    let mut entry = Entry::new(failed_event, Some(account_id), ip(peer));
    entry.device_id = Some(challenge.device_id);
    let account = state
        .store
        .call(move |s| s.account_by_id(account_id))
        .await?
        .ok_or_else(Failure::challenge_expired)?;
    entry.role = Some(account.role);
    if account.auth_epoch != challenge.auth_epoch {
        // The password or 2FA changed, or the sessions were revoked, after
        // the password step: that step no longer counts.
        state.challenges.consume(&req.challenge);
        entry.details = serde_json::json!({ "reason": "credentials_changed" });
        audit(&state, entry).await?;
        return Err(Failure::challenge_expired());
    }
    // Revoked between the password step and this one.
    let device_id = challenge.device_id;
    if state
        .store
        .call(move |s| s.device_revoked(device_id, Some(account_id)))
        .await?
    {
        state.challenges.consume(&req.challenge);
        entry.event = Event::DeviceRefused;
        entry.details =
            serde_json::json!({ "route": if enrolment { routes::ENROL } else { routes::TOTP } });
        audit(&state, entry).await?;
        return Err(Failure::device_revoked());
    }

    let secret = match &challenge.pending {
        Pending::Enrol(secret) => Some(secret.clone()),
        Pending::Totp => state.store.call(move |s| s.totp_secret(account_id)).await?,
    };
    let step = secret
        .as_ref()
        .and_then(|s| totp::matching_step(s, &req.code, clock::now_unix()));
    let accepted = match (step, secret) {
        (Some(step), Some(secret)) if enrolment => {
            state
                .store
                .call(move |s| s.enrol_totp(account_id, &secret, step))
                .await?
        }
        (Some(step), Some(_)) => {
            state
                .store
                .call(move |s| s.claim_totp_step(account_id, step))
                .await?
        }
        _ => false,
    };
    if !accepted {
        state.challenges.fail(&req.challenge);
        entry.details = serde_json::json!({ "reason": if step.is_some() { "code_already_used" } else { "wrong_code" } });
        audit(&state, entry).await?;
        count_failure(&state, &account.username, Some(account_id), peer.ip()).await?;
        tracing::info!(account_id = %account_id, "code step refused");
        return Err(Failure::bad_code());
    }
    state.challenges.consume(&req.challenge);

    let token = auth::random_token();
    let hash = auth::token_hash(&token);
    let now = clock::now_unix();
    let expires_at = now + state.limits.max.as_secs();
    let device_id = challenge.device_id;
    let device_name = challenge.device_name.clone();
    let network = alerts::network_of(peer.ip());
    let alert_network = network.clone();
    let new_network = state
        .store
        .call(move |s| {
            s.note_device(account_id, device_id, &device_name, now)?;
            s.create_session(&hash, account_id, device_id, now, expires_at)?;
            s.note_network(account_id, &network)
        })
        .await?;
    state.throttle.succeed(&account.username);
    entry.event = ok_event;
    audit(&state, entry).await?;
    if new_network {
        raise(
            &state,
            "new_network",
            Some(account_id),
            Some(peer.ip()),
            serde_json::json!({ "network": alert_network, "device_id": device_id }),
        )
        .await?;
    }
    tracing::info!(account_id = %account_id, device_id = %device_id, "session started");
    Ok(Json(SessionInfo {
        token: token.to_string(),
        practitioner: account.practitioner(),
        idle_timeout_secs: state.limits.idle.as_secs(),
        expires_at: clock::unix_to_rfc3339(expires_at),
    }))
}

async fn logout(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
) -> Result<StatusCode, Failure> {
    let hash = who.token_hash.clone();
    state.store.call(move |s| s.delete_session(&hash)).await?;
    let entry = who.entry(Event::Logout, ip(peer));
    audit(&state, entry).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(who: Authed) -> Json<bench_protocol::api::Practitioner> {
    Json(who.account.practitioner())
}

async fn list_clients(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
) -> Result<Json<Vec<bench_protocol::api::ClientSummary>>, Failure> {
    who.require_clinical(&state, peer, routes::CLIENTS).await?;
    let owner = who.account.id;
    let clients = state.store.call(move |s| s.list_clients(owner)).await?;
    let ids: Vec<Uuid> = clients.iter().map(|c| c.client.id).collect();
    let mut entry = who.entry(Event::ClientsListed, ip(peer));
    entry.details = serde_json::json!({ "record_ids": ids });
    audit(&state, entry).await?;
    Ok(Json(clients))
}

async fn client_detail(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
    Path(id): Path<String>,
) -> Result<Json<bench_protocol::api::ClientDetail>, Failure> {
    // Operations pass this gate only to meet the support-grant check below.
    who.refuse(&state, peer, routes::CLIENT, &[Role::ClinicAdmin])
        .await?;
    let id: Uuid = id.parse().map_err(|_| Failure::not_found())?;
    let owner = who.account.id;
    let viewer = who.account.clone();
    let found = state
        .store
        .call(move |s| match s.access(&viewer, id, clock::now_unix())? {
            Some((owner, access)) => {
                Ok::<_, ServerError>(s.client_detail(owner, id)?.map(|d| (d, access)))
            }
            None => Ok(None),
        })
        .await?;
    let access = found.as_ref().map(|f| f.1);
    let detail = found.map(|f| f.0);
    let mut entry = who.entry(Event::ClientRead, ip(peer));
    entry.record_id = Some(id);
    entry.details = serde_json::json!({
        "found": detail.is_some(),
        "access": access.map(|a| a.as_str()),
        "via": access.and_then(|a| a.via()),
    });
    if let Some(d) = &detail {
        entry.details["note_ids"] =
            serde_json::json!(d.notes.iter().map(|n| n.id).collect::<Vec<_>>());
    }
    audit(&state, entry).await?;
    tracing::info!(account_id = %owner, record_id = %id, found = detail.is_some(), "client record read");
    if detail.is_some() {
        count_reads(&state, owner, peer, &[id]).await?;
    }
    detail.map(Json).ok_or_else(Failure::not_found)
}

/// Counts reads of client records by `account` for the bulk-access alert
/// and raises it when they cross its threshold.
async fn count_reads(
    state: &AppState,
    account: Uuid,
    peer: SocketAddr,
    clients: &[Uuid],
) -> Result<(), Failure> {
    let now = clock::now_unix_ms();
    for client in clients {
        if let Some(distinct) = state.bulk.read(account, *client, now) {
            let policy = state.throttle.policy();
            raise(
                state,
                "bulk_access",
                Some(account),
                Some(peer.ip()),
                serde_json::json!({
                    "distinct_records": distinct,
                    "threshold": policy.bulk_records,
                    "window_secs": policy.bulk_window_secs,
                }),
            )
            .await?;
        }
    }
    Ok(())
}

async fn push(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
    ApiJson(req): ApiJson<PushRequest>,
) -> Result<Json<PushResponse>, Failure> {
    who.require_clinical(&state, peer, routes::SYNC_PUSH)
        .await?;
    // The device's own entries go first: they describe edits made before
    // this push, and a push whose entries cannot be stored applies nothing.
    let device = device_entries(&who, peer, req.audit, DeviceClock::Flag)?;
    let (audit_stored, audit_already_stored) = store_device_entries(&state, &who, device).await?;
    let owner = who.account.id;
    let count = req.changes.len();
    let outcome = state
        .store
        .call(move |s| s.apply_push(owner, req.changes))
        .await?;
    for (event, record_id, details) in outcome.audit {
        let mut entry = who.entry(event, ip(peer));
        entry.record_id = Some(record_id);
        entry.details = details;
        audit(&state, entry).await?;
    }
    tracing::info!(account_id = %owner, changes = count, "push handled");
    Ok(Json(PushResponse {
        results: outcome.results,
        audit_stored,
        audit_already_stored,
    }))
}

#[derive(Deserialize)]
struct PullQuery {
    after: Option<String>,
    limit: Option<String>,
}

async fn pull(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
    query: Result<Query<PullQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<bench_protocol::api::PullResponse>, Failure> {
    let bad =
        |message: String| Failure::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, &message);
    let Ok(Query(q)) = query else {
        return Err(bad(format!(
            "`after` must be a whole number of 0 or more and `limit` one from 1 to {MAX_PULL_LIMIT}."
        )));
    };
    let after =
        match q.after.as_deref().map(|a| a.trim().parse::<i64>()) {
            None => 0,
            Some(Ok(a)) if a >= 0 => a,
            Some(_) => return Err(bad(
                "`after` must be a whole number of 0 or more (the `next_cursor` of the last pull)."
                    .into(),
            )),
        };
    let limit = match q.limit.as_deref().map(|l| l.trim().parse::<u32>()) {
        None => DEFAULT_PULL_LIMIT,
        Some(Ok(l)) if (1..=MAX_PULL_LIMIT).contains(&l) => l,
        Some(_) => {
            return Err(bad(format!(
                "`limit` must be a whole number from 1 to {MAX_PULL_LIMIT}."
            )))
        }
    };
    who.require_clinical(&state, peer, routes::SYNC_PULL)
        .await?;
    let viewer = who.account.clone();
    let page = state
        .store
        .call(move |s| {
            let mut page = s.pull(&viewer, after, limit)?;
            s.fill_owners(&mut page)?;
            Ok::<_, ServerError>(page)
        })
        .await?;
    let ids: Vec<Uuid> = page.changes.iter().map(|c| c.record.id()).collect();
    let me = who.account.id;
    let lookup = ids.clone();
    let others = state
        .store
        .call(move |s| s.clients_of_others(me, &lookup))
        .await?;
    let mut entry = who.entry(Event::RecordsPulled, ip(peer));
    entry.details =
        serde_json::json!({ "after": after, "record_ids": ids, "removed": page.removed });
    audit(&state, entry).await?;
    // A pull of a colleague's or a supervisee's records is a read of them;
    // a pull of one's own is not (see `alerts`).
    count_reads(&state, me, peer, &others).await?;
    Ok(Json(page))
}

/// Stores audit entries a device recorded offline, each as its own entry
/// with the device's id, the time it happened on the device and the
/// uploading account.
async fn device_audit(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
    ApiJson(req): ApiJson<DeviceAuditUpload>,
) -> Result<Json<DeviceAuditResponse>, Failure> {
    let entries = device_entries(&who, peer, req.entries, DeviceClock::Refuse)?;
    let (stored, already_stored) = store_device_entries(&state, &who, entries).await?;
    Ok(Json(DeviceAuditResponse {
        stored,
        already_stored,
    }))
}

/// What to do with a device entry dated more than a day ahead of the
/// server or before 2020.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DeviceClock {
    /// Refuse the whole upload and say to check the clock
    /// ([`routes::AUDIT_UPLOAD`], whose caller sends nothing else).
    Refuse,
    /// Store the entry with `"device_time_implausible": true` (a push),
    /// and an unknown kind as `unrecognised`.
    /// Refusing there would either hold back the practitioner's notes or
    /// leave the entries on the device for good: their times were fixed
    /// when they were recorded, so a corrected clock does not help. A
    /// laptop whose clock battery died and reset it to 1970 is the usual
    /// case; the server's own time of receipt is in the entry anyway.
    Flag,
}

/// Checks entries a device uploaded and turns each into an audit entry
/// for `who` from `peer`. Refuses the lot, storing nothing, when there are
/// more than [`MAX_DEVICE_AUDIT_ENTRIES`] or any kind is not a plain word.
fn device_entries(
    who: &Authed,
    peer: SocketAddr,
    uploaded: Vec<DeviceAuditEntry>,
    clock_policy: DeviceClock,
) -> Result<Vec<(Uuid, Entry)>, Failure> {
    let bad = |message: &str| Failure::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message);
    if uploaded.len() > MAX_DEVICE_AUDIT_ENTRIES {
        return Err(bad(
            "Too many audit entries in one upload; send them in smaller batches.",
        ));
    }
    let mut entries = Vec::with_capacity(uploaded.len());
    for e in uploaded {
        // Only kinds the app records are stored as given: never free text
        // that could carry a name. On a push, an unknown kind (an app newer
        // than this server) is kept as `unrecognised`, without its text:
        // refusing it would hold back every note behind it.
        let known = DEVICE_AUDIT_KINDS.contains(&e.kind.as_str());
        if !known && clock_policy == DeviceClock::Refuse {
            return Err(bad("An audit entry's kind is not one this app records (such as note_edited); update the app or the server. Nothing was stored."));
        }
        let when = time::OffsetDateTime::parse(
            &e.occurred_at,
            &time::format_description::well_known::Rfc3339,
        );
        if when.is_err() {
            return Err(bad(
                "An audit entry's time must be RFC 3339; nothing was stored.",
            ));
        }
        // A device's clock may be off by minutes or hours, never by more
        // than a day ahead, and nothing was recorded before this software
        // existed; such times are a broken clock or a forged entry.
        let when = when.map(|t| t.unix_timestamp()).unwrap_or_default();
        let implausible = when > clock::now_unix() as i64 + DEVICE_AUDIT_MAX_AHEAD_SECS
            || when < DEVICE_AUDIT_EARLIEST_UNIX;
        if implausible && clock_policy == DeviceClock::Refuse {
            return Err(bad("An audit entry's time is more than a day in the future or before 2020; check this computer's clock. Nothing was stored."));
        }
        let mut entry = who.entry(Event::DeviceRecorded, ip(peer));
        entry.record_id = e.record_id;
        entry.details = serde_json::json!({
            "device_entry_id": e.entry_id,
            "kind": if known { e.kind.as_str() } else { "unrecognised" },
            "occurred_at": e.occurred_at,
            "change_id": e.change_id,
        });
        if implausible {
            entry.details["device_time_implausible"] = serde_json::json!(true);
        }
        if !known {
            entry.details["kind_unrecognised"] = serde_json::json!(true);
        }
        entries.push((e.entry_id, entry));
    }
    Ok(entries)
}

/// Appends checked device entries in one transaction, each entry id at
/// most once and for one account only; returns (stored now, stored
/// before), or refuses the lot when an id is another account's.
async fn store_device_entries(
    state: &AppState,
    who: &Authed,
    entries: Vec<(Uuid, Entry)>,
) -> Result<(u32, u32), Failure> {
    if entries.is_empty() {
        return Ok((0, 0));
    }
    let (stored, already_stored) = state
        .audit
        .call(move |log| log.append_device_entries(&entries))
        .await?
        .map_err(|_| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                "An audit entry id in this upload belongs to another account; nothing was stored.",
            )
        })?;
    tracing::info!(account_id = %who.account.id, device_id = %who.device_id, stored, already_stored, "device audit entries received");
    Ok((stored, already_stored))
}

fn refused(r: crate::store::Refused) -> Failure {
    if r.forbidden {
        Failure::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, r.message)
    } else {
        Failure::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, r.message)
    }
}

/// Shares one of the caller's clients with a colleague, with consent.
async fn create_share(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
    ApiJson(req): ApiJson<NewShare>,
) -> Result<Json<Share>, Failure> {
    who.require_clinical(&state, peer, routes::SHARES).await?;
    let owner = who.account.clone();
    let share = state
        .store
        .call(move |s| s.create_share(&owner, &req))
        .await?
        .map_err(refused)?;
    let mut entry = who.entry(Event::ShareCreated, ip(peer));
    entry.record_id = Some(share.client_id);
    entry.details = serde_json::json!({ "share_id": share.id, "grantee_id": share.grantee_id });
    audit(&state, entry).await?;
    Ok(Json(share))
}

/// Shares the caller made or received.
async fn list_shares(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
) -> Result<Json<Vec<Share>>, Failure> {
    who.require_clinical(&state, peer, routes::SHARES).await?;
    let me = who.account.id;
    Ok(Json(state.store.call(move |s| s.shares_of(me)).await?))
}

/// Ends a share the caller made; the colleague's next request is refused.
async fn revoke_share(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, Failure> {
    who.require_clinical(&state, peer, routes::SHARE_REVOKE)
        .await?;
    let id: Uuid = id.parse().map_err(|_| Failure::not_found())?;
    let me = who.account.id;
    if !state.store.call(move |s| s.revoke_share(me, id)).await? {
        return Err(Failure::not_found());
    }
    let mut entry = who.entry(Event::ShareRevoked, ip(peer));
    entry.details = serde_json::json!({ "share_id": id });
    audit(&state, entry).await?;
    Ok(StatusCode::NO_CONTENT)
}

const NOT_ADMIN: &[Role] = &[
    Role::SoloPractitioner,
    Role::ClinicPractitioner,
    Role::Supervisor,
    Role::Operations,
];

/// The clinic's accounts, for the clinic admin: no clinical content.
async fn team(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
) -> Result<Json<Vec<TeamMember>>, Failure> {
    who.refuse(&state, peer, routes::TEAM, NOT_ADMIN).await?;
    let members = state.store.call(|s| s.team()).await?;
    audit(&state, who.entry(Event::TeamListed, ip(peer))).await?;
    Ok(Json(members))
}

/// Supervision assignments, for the clinic admin.
async fn list_supervision(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
) -> Result<Json<Vec<Supervision>>, Failure> {
    who.refuse(&state, peer, routes::SUPERVISION, NOT_ADMIN)
        .await?;
    Ok(Json(state.store.call(|s| s.supervisions()).await?))
}

/// Assigns a supervisor to a practitioner (clinic admin).
async fn create_supervision(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
    ApiJson(req): ApiJson<NewSupervision>,
) -> Result<Json<Supervision>, Failure> {
    who.refuse(&state, peer, routes::SUPERVISION, NOT_ADMIN)
        .await?;
    let sup = state
        .store
        .call(move |s| s.create_supervision(&req))
        .await?
        .map_err(refused)?;
    let mut entry = who.entry(Event::SupervisionAssigned, ip(peer));
    entry.details = serde_json::json!({
        "supervision_id": sup.id,
        "supervisor_id": sup.supervisor_id,
        "practitioner_id": sup.practitioner_id,
    });
    audit(&state, entry).await?;
    Ok(Json(sup))
}

/// Ends a supervision assignment (clinic admin); effective at the
/// supervisor's next request.
async fn revoke_supervision(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, Failure> {
    who.refuse(&state, peer, routes::SUPERVISION_REVOKE, NOT_ADMIN)
        .await?;
    let id: Uuid = id.parse().map_err(|_| Failure::not_found())?;
    if !state.store.call(move |s| s.revoke_supervision(id)).await? {
        return Err(Failure::not_found());
    }
    let mut entry = who.entry(Event::SupervisionRevoked, ip(peer));
    entry.details = serde_json::json!({ "supervision_id": id });
    audit(&state, entry).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lets one operations account open one of the caller's client records for
/// a support ticket, with the caller's recorded consent, for a limited time.
async fn create_support_grant(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
    ApiJson(req): ApiJson<NewSupportGrant>,
) -> Result<Json<SupportGrant>, Failure> {
    who.require_clinical(&state, peer, routes::SUPPORT_GRANTS)
        .await?;
    let owner = who.account.clone();
    let grant = state
        .store
        .call(move |s| s.create_support_grant(&owner, &req, clock::now_unix()))
        .await?
        .map_err(refused)?;
    let mut entry = who.entry(Event::SupportGrantCreated, ip(peer));
    entry.record_id = Some(grant.client_id);
    entry.details = serde_json::json!({
        "grant_id": grant.id,
        "operator_id": grant.operator_id,
        "ticket": grant.ticket,
        "expires_at": grant.expires_at,
    });
    audit(&state, entry).await?;
    Ok(Json(grant))
}

/// A supervisor co-signs a signed note of a practitioner they supervise.
async fn cosign_note(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
    Path(id): Path<String>,
) -> Result<Json<Cosignature>, Failure> {
    who.require_clinical(&state, peer, routes::NOTE_COSIGN)
        .await?;
    let id: Uuid = id.parse().map_err(|_| Failure::not_found())?;
    let supervisor = who.account.clone();
    let cosig = state
        .store
        .call(move |s| s.cosign(&supervisor, id, clock::now_unix()))
        .await?
        .ok_or_else(Failure::not_found)?
        .map_err(refused)?;
    let mut entry = who.entry(Event::NoteCosigned, ip(peer));
    entry.record_id = Some(id);
    audit(&state, entry).await?;
    Ok(Json(cosig))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_of_one_second_or_one_minute_reads_in_the_singular() {
        let msg = |secs, locked| Failure::rate_limited(secs, locked).body.message;
        assert!(
            msg(1, false).contains("Wait 1 second and"),
            "{}",
            msg(1, false)
        );
        assert!(msg(5, false).contains("Wait 5 seconds and"));
        assert!(
            msg(60, true).contains("about 1 minute."),
            "{}",
            msg(60, true)
        );
        assert!(msg(600, true).contains("about 10 minutes."));
    }
}
