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
//! Not here: what to push or what to do with what is pulled; that is
//! [`crate::vault`]'s and [`crate::Core`]'s business.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bench_protocol::api::{
    routes, ApiError, Change, ChangeResult, ErrorCode, LoginRequest, LoginResponse, PullResponse,
    PushRequest, PushResponse, ServerChange, SessionInfo, TotpRequest, MAX_PULL_LIMIT,
};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::CoreError;

/// Changes per push request.
pub const PUSH_BATCH: usize = 100;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

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
            .user_agent(concat!("doctors-bench/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| CoreError::Other(format!("The HTTP client could not start ({err}).")))?;
        Ok(ApiClient {
            http,
            base: server_url.trim_end_matches('/').to_string(),
        })
    }

    /// Whether the server answers at all. Needs no session.
    pub async fn health(&self) -> Result<(), CoreError> {
        let response = self
            .http
            .get(self.url(routes::HEALTH))
            .send()
            .await
            .map_err(transport_error)?;
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
            .http
            .post(self.url(routes::LOGOUT))
            .bearer_auth(token)
            .send()
            .await
            .map_err(transport_error)?;
        check(response).await.map(drop)
    }

    /// Pushes `changes` in batches of at most [`PUSH_BATCH`], returning each
    /// change's outcome. Stops at the first failed batch; the outcomes of
    /// earlier batches are returned with the error so they are not lost.
    pub async fn push(
        &self,
        token: &str,
        changes: Vec<Change>,
    ) -> (Vec<ChangeResult>, Option<CoreError>) {
        let mut results = Vec::with_capacity(changes.len());
        for batch in changes.chunks(PUSH_BATCH) {
            let request = PushRequest {
                changes: batch.to_vec(),
            };
            match self
                .post::<_, PushResponse>(routes::SYNC_PUSH, Some(token), &request)
                .await
            {
                Ok(response) => results.extend(response.results),
                Err(err) => return (results, Some(err)),
            }
        }
        (results, None)
    }

    /// One page of the change feed after `cursor`.
    pub async fn pull_page(&self, token: &str, cursor: i64) -> Result<PullResponse, CoreError> {
        let response = self
            .http
            .get(self.url(routes::SYNC_PULL))
            .query(&[
                ("after", cursor.to_string()),
                ("limit", MAX_PULL_LIMIT.to_string()),
            ])
            .bearer_auth(token)
            .send()
            .await
            .map_err(transport_error)?;
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

    fn url(&self, route: &str) -> String {
        format!("{}{route}", self.base)
    }

    async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        route: &str,
        token: Option<&str>,
        body: &B,
    ) -> Result<R, CoreError> {
        let mut request = self.http.post(self.url(route)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(transport_error)?;
        decode(check(response).await?).await
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
        (_, Some(ErrorCode::BadCredentials | ErrorCode::BadCode | ErrorCode::ChallengeExpired)) => {
            CoreError::BadCredentials(message)
        }
        (StatusCode::UNAUTHORIZED, _) => CoreError::SessionExpired,
        _ => CoreError::Server(message),
    })
}

/// A request that never got an HTTP answer. A refused or timed-out
/// connection means offline; a TLS failure is reported as such, because
/// "offline" would hide a certificate problem someone must fix.
fn transport_error(err: reqwest::Error) -> CoreError {
    if let Some(tls) = find_source::<rustls::Error>(&err) {
        tracing::warn!(error = %tls, "TLS handshake with the clinic server failed");
        return CoreError::Other(format!(
            "The clinic server's certificate was not accepted ({tls}). Ask your clinic IT to \
             check the server certificate and the CA file configured on this device."
        ));
    }
    tracing::info!(error = %err, "clinic server unreachable");
    CoreError::Offline(
        "The clinic server cannot be reached. Your work is saved on this device and will sync \
         when the connection is back."
            .into(),
    )
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
