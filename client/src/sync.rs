//! The clinic API client: TLS 1.3 only, trusting only the clinic's CA.
//!
//! [`Tls13Only::from_ca_file`] builds the one TLS configuration the client
//! uses: protocol versions `[TLS 1.3]`, and a root store holding only the CA
//! named in the configuration. The system's roots are never loaded, so a
//! certificate from any public CA (or a corporate interception proxy) is
//! refused.
//!
//! Errors are sorted into what the practitioner can do about them: the
//! server could not be reached ([`CoreError::Offline`]), the session ended
//! ([`CoreError::SessionExpired`]), the password or code was wrong
//! ([`CoreError::BadCredentials`]), or the server said something else
//! ([`CoreError::Server`]).
//!
//! Every answer's HTTP `Date` is kept ([`ApiClient::last_server_date`]) so
//! the core can tell the practitioner when this computer's clock is far
//! off ([`clock_skew_minutes`]); a certificate refused as expired or not
//! yet valid says to check the clock ([`CoreError::ClockOff`]).
//!
//! Not here: what to push or what to do with what is pulled; that is
//! [`crate::vault`]'s and [`crate::Core`]'s business.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bench_protocol::api::{
    routes, ApiError, Change, ChangeOutcome, ChangeResult, DeviceAuditEntry, ErrorCode,
    LoginRequest, LoginResponse, PullResponse, PushRequest, PushResponse, RejectCode, ServerChange,
    SessionInfo, TotpRequest, MAX_NOTE_BYTES, MAX_PULL_LIMIT, MAX_PUSH_BODY_BYTES,
};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::CoreError;

/// Changes per push request.
pub const PUSH_BATCH: usize = 100;
/// Most bytes of changes (as JSON) per push request. A larger change goes
/// in a request of its own. Well under the server's body limit, so a few
/// large notes waiting together do not make one request the server
/// refuses whole.
pub const PUSH_BATCH_BYTES: usize = 8 * 1024 * 1024;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Nothing from the server for this long (no answer yet, or the answer
/// stopped part way): the connection is taken for dead.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The whole of one pull page. A page holds up to 5,000 records or 16 MiB:
/// on 3G (1 Mbit/s, lossy) 5,000 typical notes are about 2.5 MB of gzip and
/// half a minute; a 16 MiB page of long notes on a slower line takes many
/// minutes. Under [`REQUEST_TIMEOUT`] such a page would be cut off and
/// asked for again at every sync, and the device would never catch up; a
/// page still arriving is left to finish, and [`STALL_TIMEOUT`] ends one
/// that stopped.
const PULL_PAGE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// A rustls client configuration that speaks only TLS 1.3 and trusts only
/// the configured CA.
pub struct Tls13Only(rustls::ClientConfig);

impl Tls13Only {
    /// Trusts exactly the certificates in the PEM file at `ca_path`; `None`
    /// trusts nothing, so every connection fails rather than falling back to
    /// the system store.
    pub fn from_ca_file(ca_path: Option<&Path>) -> Result<Tls13Only, CoreError> {
        let mut roots = rustls::RootCertStore::empty();
        if let Some(path) = ca_path {
            let pem = std::fs::read(path).map_err(|err| {
                CoreError::Other(format!(
                    "The clinic's CA certificate {} could not be read ({}). Check \
                     DOCTORS_BENCH_CA_CERT or client.json.",
                    path.display(),
                    err.kind()
                ))
            })?;
            let bad_pem = || {
                CoreError::Other(format!(
                    "The clinic's CA certificate {} is not a PEM certificate. Ask your clinic \
                     IT for the right file.",
                    path.display()
                ))
            };
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                roots
                    .add(cert.map_err(|_| bad_pem())?)
                    .map_err(|_| bad_pem())?;
            }
            if roots.is_empty() {
                return Err(bad_pem());
            }
        }

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|err| CoreError::Other(format!("TLS could not be set up ({err}).")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Tls13Only(config))
    }
}

/// A client for one clinic server.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    /// The `Date` header of the latest answer, whatever its status.
    server_date: Arc<Mutex<Option<SystemTime>>>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// A client for `server_url` over `tls`.
    pub fn new(server_url: &str, tls: Tls13Only) -> Result<ApiClient, CoreError> {
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls.0)
            .https_only(true)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .read_timeout(STALL_TIMEOUT)
            .user_agent(concat!("doctors-bench/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| CoreError::Other(format!("The HTTP client could not start ({err}).")))?;
        Ok(ApiClient {
            http,
            base: server_url.trim_end_matches('/').to_string(),
            server_date: Arc::new(Mutex::new(None)),
        })
    }

    /// The server's clock as its latest answer stated it (the HTTP `Date`
    /// header, whole seconds); `None` before any answer.
    pub fn last_server_date(&self) -> Option<SystemTime> {
        *self
            .server_date
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends `request` and notes the answer's `Date`.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, CoreError> {
        let response = request.send().await.map_err(transport_error)?;
        let date = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date);
        if date.is_some() {
            *self
                .server_date
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = date;
        }
        Ok(response)
    }

    /// Whether the server answers at all. Needs no session.
    pub async fn health(&self) -> Result<(), CoreError> {
        let response = self.send(self.http.get(self.url(routes::HEALTH))).await?;
        check(response).await.map(drop)
    }

    /// First sign-in step.
    pub async fn login(&self, request: &LoginRequest) -> Result<LoginResponse, CoreError> {
        self.post(routes::LOGIN, None, request).await
    }

    /// Second sign-in step: a TOTP code, for sign-in (`enrol == false`) or to
    /// confirm enrolment.
    pub async fn submit_code(
        &self,
        request: &TotpRequest,
        enrol: bool,
    ) -> Result<SessionInfo, CoreError> {
        let route = if enrol { routes::ENROL } else { routes::TOTP };
        self.post(route, None, request).await
    }

    /// Ends the session on the server.
    pub async fn logout(&self, token: &str) -> Result<(), CoreError> {
        let response = self
            .send(self.http.post(self.url(routes::LOGOUT)).bearer_auth(token))
            .await?;
        check(response).await.map(drop)
    }

    /// Pushes `changes` in batches of at most [`PUSH_BATCH`] changes and
    /// [`PUSH_BATCH_BYTES`] (see [`batches`]), returning each change's
    /// outcome. Stops at the first failed batch; the outcomes of earlier
    /// batches are returned with the error so they are not lost.
    ///
    /// A change too large for the server to read at all (its JSON over
    /// [`MAX_PUSH_BODY_BYTES`], or an HTTP 413 for a request holding only
    /// that change) is answered here as rejected `TooLarge`, so it is
    /// reported on its record and the changes behind it still go.
    pub async fn push(
        &self,
        token: &str,
        changes: Vec<Change>,
    ) -> (Vec<ChangeResult>, Option<CoreError>) {
        let pushed = self.push_with_audit(token, changes, Vec::new()).await;
        (pushed.results, pushed.error)
    }

    /// [`ApiClient::push`], carrying `audit` (at most
    /// [`bench_protocol::api::MAX_DEVICE_AUDIT_ENTRIES`] entries of the device's audit trail) on
    /// the first request that the server reads, so a sync needs no round
    /// trip of its own for them. With no changes but entries waiting, one
    /// request goes with the entries alone.
    pub async fn push_with_audit(
        &self,
        token: &str,
        changes: Vec<Change>,
        audit: Vec<DeviceAuditEntry>,
    ) -> Pushed {
        let mut pushed = Pushed {
            results: Vec::with_capacity(changes.len()),
            audit_stored: audit.is_empty(),
            error: None,
        };
        let mut audit = audit;
        // A change the server could not even read is not sent: the server
        // would cut the upload short, which reads as a lost connection and
        // would hold up every change behind it.
        let (changes, unreadable): (Vec<Change>, Vec<Change>) = changes
            .into_iter()
            .partition(|c| json_len(c) + PUSH_ENVELOPE_BYTES <= MAX_PUSH_BODY_BYTES);
        for change in &unreadable {
            tracing::warn!(change_id = %change.change_id, "change too large for the server to read; not sent");
            pushed.results.push(too_large(change.change_id));
        }
        let mut requests = batches(&changes);
        if requests.is_empty() && !audit.is_empty() {
            requests.push(&[]);
        }
        for batch in requests {
            let request = PushRequest {
                changes: batch.to_vec(),
                audit: std::mem::take(&mut audit),
            };
            match self
                .post::<_, PushResponse>(routes::SYNC_PUSH, Some(token), &request)
                .await
            {
                Ok(response) => {
                    if !request.audit.is_empty() {
                        // Every entry counted, now or before: the device may
                        // let them go. Anything less (a server that ignores
                        // the field) and they stay for the next push.
                        let counted =
                            response.audit_stored as usize + response.audit_already_stored as usize;
                        pushed.audit_stored = counted == request.audit.len();
                    }
                    pushed.results.extend(response.results)
                }
                Err(CoreError::Server(message))
                    if batch.len() == 1 && message == TOO_LARGE_TO_READ =>
                {
                    tracing::warn!(change_id = %batch[0].change_id, "change too large for the server to read");
                    pushed.results.push(too_large(batch[0].change_id));
                    // Not read, so not stored: they ride on the next request.
                    audit = request.audit;
                }
                Err(err) => {
                    pushed.error = Some(err);
                    return pushed;
                }
            }
        }
        pushed
    }

    /// One page of the change feed after `cursor`.
    pub async fn pull_page(&self, token: &str, cursor: i64) -> Result<PullResponse, CoreError> {
        let request = self
            .http
            .get(self.url(routes::SYNC_PULL))
            .query(&[
                ("after", cursor.to_string()),
                ("limit", MAX_PULL_LIMIT.to_string()),
            ])
            .timeout(PULL_PAGE_TIMEOUT)
            .bearer_auth(token);
        let response = self.send(request).await?;
        decode(check(response).await?).await
    }

    /// Every change after `cursor`, following pages until the server says
    /// there are no more. Returns the changes and the cursor to keep.
    pub async fn pull_all(
        &self,
        token: &str,
        mut cursor: i64,
    ) -> Result<(Vec<ServerChange>, i64), CoreError> {
        let mut all = Vec::new();
        loop {
            let page = self.pull_page(token, cursor).await?;
            all.extend(page.changes);
            // A server that claims more but does not advance would loop us
            // forever; stop instead.
            let advanced = page.next_cursor > cursor;
            cursor = page.next_cursor.max(cursor);
            if !page.more || !advanced {
                return Ok((all, cursor));
            }
        }
    }

    /// `GET route` with the session, `query` as URL parameters; for the
    /// online-only screens (team, schedule, billing).
    pub async fn get_authed<R: DeserializeOwned>(
        &self,
        route: &str,
        token: &str,
        query: &[(&str, String)],
    ) -> Result<R, CoreError> {
        let request = self
            .http
            .get(self.url(route))
            .query(query)
            .bearer_auth(token);
        let response = self.send(request).await?;
        decode(check(response).await?).await
    }

    /// `POST route` with the session and a JSON body.
    pub async fn post_authed<B: Serialize, R: DeserializeOwned>(
        &self,
        route: &str,
        token: &str,
        body: &B,
    ) -> Result<R, CoreError> {
        self.post(route, Some(token), body).await
    }

    /// `POST route` with the session and no body, for an action the server
    /// answers with no content (204).
    pub async fn post_authed_empty(&self, route: &str, token: &str) -> Result<(), CoreError> {
        let request = self.http.post(self.url(route)).bearer_auth(token);
        let response = self.send(request).await?;
        check(response).await.map(drop)
    }

    fn url(&self, route: &str) -> String {
        format!("{}{route}", self.base)
    }

    async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        route: &str,
        token: Option<&str>,
        body: &B,
    ) -> Result<R, CoreError> {
        let body = serde_json::to_vec(body).map_err(|_| {
            CoreError::Other("A request to the clinic server could not be written.".into())
        })?;
        let mut request = self
            .http
            .post(self.url(route))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(upload_timeout(body.len()))
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = self.send(request).await?;
        decode(check(response).await?).await
    }
}

/// The slowest upload a request is given time for: 128 kbit/s, what a weak
/// 3G signal still carries.
const SLOWEST_UPLOAD_BYTES_PER_SEC: usize = 16 * 1024;

/// How long a request with a body of `bytes` may take: [`REQUEST_TIMEOUT`]
/// plus the upload at [`SLOWEST_UPLOAD_BYTES_PER_SEC`]. A push carrying a
/// 5 MB note would not fit in [`REQUEST_TIMEOUT`] on 3G and would be cut
/// off and sent again at every sync, never arriving.
fn upload_timeout(bytes: usize) -> Duration {
    REQUEST_TIMEOUT + Duration::from_secs((bytes / SLOWEST_UPLOAD_BYTES_PER_SEC) as u64)
}

/// What [`ApiClient::push_with_audit`] did.
#[derive(Debug)]
pub struct Pushed {
    /// Each answered change's outcome, in the order pushed.
    pub results: Vec<ChangeResult>,
    /// True when the server counted every audit entry carried as stored
    /// (now or before), so the device may delete them; true also when
    /// there were none.
    pub audit_stored: bool,
    /// What stopped the push part way, if anything; the results before it
    /// still count.
    pub error: Option<CoreError>,
}

/// Splits `changes` into push requests of at most [`PUSH_BATCH`] changes
/// and [`PUSH_BATCH_BYTES`] of JSON, in order; a change larger than that
/// alone makes a request of its own.
pub fn batches(changes: &[Change]) -> Vec<&[Change]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, change) in changes.iter().enumerate() {
        let size = json_len(change);
        let full = i - start >= PUSH_BATCH || bytes + size > PUSH_BATCH_BYTES;
        if i > start && full {
            out.push(&changes[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < changes.len() {
        out.push(&changes[start..]);
    }
    out
}

/// Room for what a push request holds besides its changes (the device's
/// audit entries ride along).
const PUSH_ENVELOPE_BYTES: usize = 1024 * 1024;

/// The size of `change` as JSON, as it goes in a push request.
fn json_len(change: &Change) -> usize {
    serde_json::to_vec(change).map(|v| v.len()).unwrap_or(0)
}

/// What [`check`] makes of an HTTP 413 (a request over the server's body
/// limit), whatever the server's own words, so [`ApiClient::push`] can tell
/// it from other failures.
const TOO_LARGE_TO_READ: &str = "The clinic server refused the request as larger than it accepts.";

/// The outcome for a change the server could not even read for its size.
fn too_large(change_id: uuid::Uuid) -> ChangeResult {
    ChangeResult {
        change_id,
        outcome: ChangeOutcome::Rejected {
            code: RejectCode::TooLarge,
            reason: format!(
                "This note is too large for the clinic server to accept as it is (a note \
                 holds up to {} MB of text; unusual characters count for more). Shorten it \
                 or split it into two notes, then save it again.",
                MAX_NOTE_BYTES / (1024 * 1024)
            ),
        },
    }
}

/// Reads the whole answer, then parses it. Two steps on purpose: reqwest
/// reports a connection cut part way through the body as a "decode"
/// error, which must read as a lost connection (retry later), not as a
/// server speaking another version of the protocol.
async fn decode<R: DeserializeOwned>(response: reqwest::Response) -> Result<R, CoreError> {
    let body = response.bytes().await.map_err(transport_error)?;
    serde_json::from_slice(&body).map_err(|_| {
        CoreError::Server(
            "The clinic server sent an answer this app does not understand. Check that the \
             app and the server are up to date."
                .into(),
        )
    })
}

/// Turns an error status into the matching [`CoreError`].
async fn check(response: reqwest::Response) -> Result<reqwest::Response, CoreError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let api_error: Option<ApiError> = response.json().await.ok();
    let message = api_error
        .as_ref()
        .map(|e| e.message.clone())
        .unwrap_or_else(|| format!("The clinic server answered with an error ({status})."));
    let code = api_error.map(|e| e.code);
    tracing::debug!(status = status.as_u16(), code = ?code, "server answered with an error");

    Err(match (status, code) {
        (_, Some(ErrorCode::SessionExpired)) => CoreError::SessionExpired,
        (_, Some(ErrorCode::DeviceRevoked)) => CoreError::DeviceRevoked(message),
        (_, Some(ErrorCode::BadCredentials | ErrorCode::BadCode | ErrorCode::ChallengeExpired)) => {
            CoreError::BadCredentials(message)
        }
        (StatusCode::UNAUTHORIZED, _) => CoreError::SessionExpired,
        (StatusCode::PAYLOAD_TOO_LARGE, _) => CoreError::Server(TOO_LARGE_TO_READ.into()),
        _ => CoreError::Server(message),
    })
}

/// A request that never got an HTTP answer. A refused or timed-out
/// connection means offline; a TLS failure is reported as such, because
/// "offline" would hide a certificate problem someone must fix.
fn transport_error(err: reqwest::Error) -> CoreError {
    if let Some(tls) = find_source::<rustls::Error>(&err) {
        tracing::warn!(error = %tls, "TLS handshake with the clinic server failed");
        return tls_error(tls);
    }
    tracing::info!(error = %err, "clinic server unreachable");
    CoreError::Offline(
        "The clinic server cannot be reached. Your work is saved on this device and will sync \
         when the connection is back."
            .into(),
    )
}

/// A refused certificate. "Expired" or "not yet valid" is judged by this
/// computer's clock, and a wrong clock is the usual cause, so that case
/// says to check the clock first (the server's time cannot be learnt
/// without TLS, so how far off is unknown here).
fn tls_error(tls: &rustls::Error) -> CoreError {
    use rustls::CertificateError as C;
    if let rustls::Error::InvalidCertificate(
        C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. },
    ) = tls
    {
        return CoreError::ClockOff(
            "The clinic server's certificate is not valid at this computer's date and time. \
             Check this computer's date and time first: if they are wrong, set them (or turn on \
             automatic time), then sign in again. If they are right, ask your clinic IT to \
             renew the server certificate."
                .into(),
        );
    }
    CoreError::Other(format!(
        "The clinic server's certificate was not accepted ({tls}). Ask your clinic IT to \
             check the server certificate and the CA file configured on this device."
    ))
}

/// How far off a local clock may be before the practitioner is told.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// Whole minutes `local` is ahead of `server` (negative: behind), when the
/// difference is more than [`MAX_CLOCK_SKEW`]; `None` when it is within.
pub fn clock_skew_minutes(local: SystemTime, server: SystemTime) -> Option<i64> {
    let (ahead, by) = match local.duration_since(server) {
        Ok(d) => (true, d),
        Err(e) => (false, e.duration()),
    };
    if by <= MAX_CLOCK_SKEW {
        return None;
    }
    let minutes = (by.as_secs() / 60) as i64;
    Some(if ahead { minutes } else { -minutes })
}

/// The sentence for a clock `minutes` off the server's.
pub fn clock_off_message(minutes: i64) -> String {
    let (n, way) = if minutes >= 0 {
        (minutes, "ahead of")
    } else {
        (-minutes, "behind")
    };
    let unit = if n == 1 { "minute" } else { "minutes" };
    format!(
        "This computer's clock is {n} {unit} {way} the clinic server's. Set the date and time \
         (or turn on automatic time), then sign in again. Until then, notes would be stamped \
         with the wrong time."
    )
}

/// Parses an HTTP `Date` (IMF-fixdate, RFC 9110: `Sun, 06 Nov 1994
/// 08:49:37 GMT`), the only form servers may send.
pub fn parse_http_date(value: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(value.trim(), &format)
        .ok()
        .map(|t| t.assume_utc().into())
}

fn find_source<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        // rustls errors often arrive wrapped in an io::Error.
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if let Some(found) = inner.downcast_ref::<T>() {
                    return Some(found);
                }
            }
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note_change(body_bytes: usize) -> Change {
        use bench_protocol::{NoteStatus, Record, SessionNote};
        Change {
            change_id: uuid::Uuid::new_v4(),
            base_version: None,
            record: Record::Note(SessionNote {
                id: uuid::Uuid::new_v4(),
                client_id: uuid::Uuid::new_v4(),
                session_date: "2026-01-05".into(),
                body: "a".repeat(body_bytes),
                status: NoteStatus::Draft,
                created_at: "2026-01-05T10:00:00Z".into(),
                updated_at: "2026-01-05T10:00:00Z".into(),
                signed_at: None,
            }),
        }
    }

    #[test]
    fn a_large_upload_gets_time_for_a_slow_line() {
        assert_eq!(upload_timeout(100), REQUEST_TIMEOUT);
        // A full push request of 8 MiB: over nine minutes at 128 kbit/s.
        assert_eq!(
            upload_timeout(PUSH_BATCH_BYTES),
            REQUEST_TIMEOUT + Duration::from_secs(512)
        );
    }

    #[test]
    fn push_batches_hold_a_large_note_alone_and_keep_the_order() {
        const MB: usize = 1024 * 1024;
        let changes: Vec<Change> = [10, 5 * MB, 10, 6 * MB, 7 * MB, 10]
            .into_iter()
            .map(note_change)
            .collect();
        let sizes: Vec<usize> = batches(&changes).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [3, 1, 2], "no request over {PUSH_BATCH_BYTES} bytes");
        let flat: Vec<_> = batches(&changes).concat();
        assert_eq!(flat, changes);

        let many: Vec<Change> = (0..250).map(|_| note_change(10)).collect();
        let sizes: Vec<usize> = batches(&many).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [PUSH_BATCH, PUSH_BATCH, 50]);
    }

    #[test]
    fn no_ca_configured_means_an_empty_root_store_not_the_system_one() {
        assert!(Tls13Only::from_ca_file(None).is_ok());
    }

    #[test]
    fn a_ca_file_that_is_not_pem_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let err = Tls13Only::from_ca_file(Some(&path)).err().unwrap();
        assert!(err.to_string().contains("not a PEM certificate"));
    }

    #[test]
    fn an_http_date_parses_to_the_second() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
            784_111_777
        );
        assert!(parse_http_date("yesterday").is_none());
        assert!(parse_http_date("Sun, 06 Nov 1994 08:49:37 +0300").is_none());
    }

    #[test]
    fn a_clock_within_five_minutes_is_fine_and_beyond_says_how_far_and_which_way() {
        let server = std::time::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let min = |m: u64| Duration::from_secs(m * 60);
        assert_eq!(clock_skew_minutes(server, server), None);
        assert_eq!(clock_skew_minutes(server + min(5), server), None);
        assert_eq!(clock_skew_minutes(server - min(5), server), None);
        assert_eq!(clock_skew_minutes(server + min(17), server), Some(17));
        assert_eq!(clock_skew_minutes(server - min(90), server), Some(-90));
        assert_eq!(
            clock_off_message(-90),
            "This computer's clock is 90 minutes behind the clinic server's. Set the date and \
             time (or turn on automatic time), then sign in again. Until then, notes would be \
             stamped with the wrong time."
        );
        assert!(clock_off_message(1).contains("1 minute ahead of"));
    }

    #[test]
    fn an_expired_or_not_yet_valid_certificate_says_to_check_the_clock() {
        use rustls::CertificateError as C;
        for cert in [C::Expired, C::NotValidYet] {
            let err = tls_error(&rustls::Error::InvalidCertificate(cert));
            assert!(matches!(err, CoreError::ClockOff(_)));
            assert!(err
                .to_string()
                .contains("Check this computer's date and time"));
        }
        let other = tls_error(&rustls::Error::InvalidCertificate(C::UnknownIssuer));
        assert!(matches!(other, CoreError::Other(_)));
        assert!(!other.to_string().contains("date and time"));
    }

    #[tokio::test]
    async fn a_closed_port_is_reported_as_offline() {
        // Bind then drop a listener to find a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = ApiClient::new(
            &format!("https://127.0.0.1:{port}"),
            Tls13Only::from_ca_file(None).unwrap(),
        )
        .unwrap();
        assert!(matches!(client.health().await, Err(CoreError::Offline(_))));
    }
}
