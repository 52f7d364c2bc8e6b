//! A small client of the clinic API, for tests to check what arrived on the
//! server independently of the desktop app.

use std::collections::BTreeMap;

use bench_protocol::api::{
    routes, Change, ChangeOutcome, ClientDetail, ClientSummary, LoginRequest, LoginResponse,
    PullResponse, PushRequest, PushResponse, SessionInfo, TotpRequest, MAX_PULL_LIMIT,
};
use bench_protocol::Record;

use crate::server::{TestAccount, TestServer};

/// An HTTPS client pinned to the test server's CA, TLS 1.3 only.
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    /// A client for `server`, not signed in.
    pub fn new(server: &TestServer) -> Api {
        let pem = std::fs::read(&server.ca_pem).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .build()
            .unwrap();
        Api {
            http,
            base: server.url.clone(),
            token: None,
        }
    }

    /// Signs in with password and a fresh code from `oathtool`.
    pub async fn sign_in(&mut self, account: &mut TestAccount) -> SessionInfo {
        let login: LoginResponse = self
            .post_json(
                routes::LOGIN,
                &LoginRequest {
                    username: account.username.clone(),
                    password: account.password.clone(),
                    device_id: uuid::Uuid::new_v4(),
                    device_name: "end-to-end test".into(),
                },
            )
            .await;
        let LoginResponse::TotpRequired { challenge } = login else {
            panic!("expected a TOTP challenge for an enrolled account, got {login:?}");
        };
        let code = account.codes.fresh_code(&account.totp_secret);
        let session: SessionInfo = self
            .post_json(routes::TOTP, &TotpRequest { challenge, code })
            .await;
        self.token = Some(session.token.clone());
        session
    }

    /// Signs in with password and the given code (for tests that pick
    /// the TOTP step themselves).
    pub async fn sign_in_with_code(&mut self, account: &TestAccount, code: String) -> SessionInfo {
        let login: LoginResponse = self
            .post_json(
                routes::LOGIN,
                &LoginRequest {
                    username: account.username.clone(),
                    password: account.password.clone(),
                    device_id: uuid::Uuid::new_v4(),
                    device_name: "end-to-end test".into(),
                },
            )
            .await;
        let LoginResponse::TotpRequired { challenge } = login else {
            panic!("expected a TOTP challenge for an enrolled account, got {login:?}");
        };
        let session: SessionInfo = self
            .post_json(routes::TOTP, &TotpRequest { challenge, code })
            .await;
        self.token = Some(session.token.clone());
        session
    }

    /// The whole change feed folded to the latest version of each record:
    /// record id → (server version, record).
    pub async fn latest_records(&self) -> BTreeMap<uuid::Uuid, (i64, Record)> {
        let mut latest = BTreeMap::new();
        let mut cursor = 0i64;
        loop {
            let page: PullResponse = self
                .get_json(&format!(
                    "{}?after={cursor}&limit={MAX_PULL_LIMIT}",
                    routes::SYNC_PULL
                ))
                .await;
            for change in page.changes {
                let id = change.record.id();
                let newer = latest
                    .get(&id)
                    .is_none_or(|(v, _): &(i64, Record)| change.version > *v);
                if newer {
                    latest.insert(id, (change.version, change.record));
                }
            }
            let advanced = page.next_cursor > cursor;
            cursor = page.next_cursor.max(cursor);
            if !page.more || !advanced {
                return latest;
            }
        }
    }

    /// The session token, once signed in (for a test-only worker process
    /// that must not sign in again).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The signed-in practitioner's clients.
    pub async fn clients(&self) -> Vec<ClientSummary> {
        self.get_json(routes::CLIENTS).await
    }

    /// One client with their notes.
    pub async fn client(&self, id: uuid::Uuid) -> ClientDetail {
        self.get_json(&routes::client(id)).await
    }

    /// Pushes new records (each its own change, made against no version)
    /// as another device of the signed-in practitioner would; panics unless
    /// every one is applied.
    pub async fn push_new(&self, records: Vec<Record>) -> PushResponse {
        let changes = records
            .into_iter()
            .map(|record| Change {
                change_id: uuid::Uuid::new_v4(),
                base_version: None,
                record,
            })
            .collect();
        let pushed: PushResponse = self
            .post_json(
                routes::SYNC_PUSH,
                &PushRequest {
                    changes,
                    audit: vec![],
                },
            )
            .await;
        for result in &pushed.results {
            assert!(
                matches!(result.outcome, ChangeOutcome::Applied { .. }),
                "a new record was not applied: {:?}",
                result.outcome
            );
        }
        pushed
    }

    /// `POST` a JSON body to `path`; panics unless the answer is a success.
    pub async fn post_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> T {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "POST {path} answered {status}: {text}");
        // An answer without a body reads as JSON `null`, i.e. `()`.
        serde_json::from_str(if text.is_empty() { "null" } else { &text }).unwrap()
    }

    /// `GET` `path`; panics unless the answer is a success.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "GET {path} answered {status}: {text}");
        serde_json::from_str(&text).unwrap()
    }
}
