//! Shared helpers for the integration tests: each test starts the real
//! `bench-server` binary in its own temporary data directory on
//! 127.0.0.1:0, and talks to it over real TLS 1.3 with the generated CA
//! pinned (no system roots).

#![allow(dead_code)] // each test file uses a different subset

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench_protocol::api::{
    routes, ApiError, LoginRequest, LoginResponse, SessionInfo, TotpRequest,
};
use uuid::Uuid;

pub const BIN: &str = env!("CARGO_BIN_EXE_bench-server");
/// Generous: a loaded two-core machine can be slow to start a process.
pub const START_TIMEOUT: Duration = Duration::from_secs(90);

pub fn bench(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("BENCH_SESSION_IDLE_SECS")
        .env_remove("BENCH_SESSION_MAX_SECS")
        .env_remove("BENCH_SIGNIN_DELAY_MS")
        .env_remove("BENCH_SIGNIN_LOCK_SECS")
        .env_remove("BENCH_ALERT_BULK_RECORDS")
        .env_remove("BENCH_ALERT_BULK_WINDOW_SECS")
        .env_remove("BENCH_AUDIT_CHECKPOINT_EVERY");
    cmd
}

/// Runs the binary to completion with optional stdin; returns (ok, stdout, stderr).
pub fn run(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = bench(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bench-server");
    {
        let mut pipe = child.stdin.take().unwrap();
        if let Some(input) = stdin {
            // A command that refuses its arguments may exit before reading
            // standard input; the broken pipe that leaves is not a failure.
            let _ = pipe.write_all(input.as_bytes());
        }
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A data directory made with `init --demo`.
pub struct DataDir {
    pub tmp: tempfile::TempDir,
    pub path: PathBuf,
    pub demo_password: String,
}

impl DataDir {
    pub fn init() -> DataDir {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("data");
        let (ok, out, err) = run(
            &["init", "--demo", "--data-dir", path.to_str().unwrap()],
            None,
        );
        assert!(ok, "init failed: {out}\n{err}");
        let demo_password = out
            .lines()
            .find_map(|l| l.trim().strip_prefix("Password:"))
            .and_then(|rest| rest.split_whitespace().next())
            .expect("init prints the password")
            .to_string();
        DataDir {
            tmp,
            path,
            demo_password,
        }
    }

    pub fn arg(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// Adds a practitioner; returns (password, TOTP secret if asked for).
    pub fn add_user(&self, username: &str, with_totp: bool) -> (String, Option<String>) {
        self.add_user_as(username, "solo_practitioner", with_totp)
    }

    /// Adds an account with `role`; returns (password, TOTP secret if asked for).
    pub fn add_user_as(
        &self,
        username: &str,
        role: &str,
        with_totp: bool,
    ) -> (String, Option<String>) {
        let password = format!("pw-{}", Uuid::new_v4().simple());
        let mut args = vec![
            "user",
            "add",
            "--data-dir",
            self.arg(),
            "--username",
            username,
            "--display-name",
            "Synthetic Practitioner",
            "--role",
            role,
            "--password-stdin",
        ];
        if with_totp {
            args.push("--with-totp");
        }
        let (ok, out, err) = run(&args, Some(&format!("{password}\n")));
        assert!(ok, "user add failed: {out}\n{err}");
        let secret = out
            .lines()
            .find_map(|l| l.strip_prefix("TOTP secret (base32, shown once): "))
            .map(|s| s.trim().to_string());
        assert_eq!(secret.is_some(), with_totp, "{out}");
        (password, secret)
    }
}

/// A running server; stopped (SIGTERM, then kill) when dropped.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub base: String,
    pub stderr_path: PathBuf,
    pub ca: PathBuf,
}

impl Server {
    pub fn start(dir: &DataDir) -> Server {
        Server::start_with_env(dir, &[])
    }

    pub fn start_with_env(dir: &DataDir, env: &[(&str, &str)]) -> Server {
        let stderr_path = dir
            .tmp
            .path()
            .join(format!("server-{}.log", Uuid::new_v4().simple()));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut cmd = bench(&["serve", "--data-dir", dir.arg(), "--listen", "127.0.0.1:0"]);
        cmd.env("RUST_LOG", "debug");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on https://") {
                    let _ = tx.send(addr.to_string());
                }
            }
        });
        let addr = match rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "server did not start: {}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                );
            }
        };
        let port = addr.rsplit(':').next().unwrap().parse().unwrap();
        Server {
            child: Some(child),
            port,
            base: format!("https://{addr}"),
            stderr_path,
            ca: dir.path.join("ca.pem"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Stops with SIGTERM (a clean shutdown checkpoints the databases) and
    /// waits for exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn client(&self) -> Api {
        Api {
            http: tls13_client(&self.ca),
            server: self.base.clone(),
            token: None,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A reqwest client that trusts only `ca` and speaks only TLS 1.3.
pub fn tls13_client(ca: &Path) -> reqwest::Client {
    let pem = std::fs::read(ca).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// The current code from the real `oathtool`.
pub fn oathtool(secret_b32: &str) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "-b", secret_b32])
        .output()
        .expect("oathtool is installed (apt-get install oathtool)");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The secret inside an otpauth:// URI.
pub fn secret_from_uri(uri: &str) -> String {
    uri.split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .expect("uri has a secret")
        .to_string()
}

/// A device's view of the API.
pub struct Api {
    pub http: reqwest::Client,
    pub server: String,
    pub token: Option<String>,
}

/// Either the body or the API error with its status.
pub type Answer<T> = Result<T, (u16, ApiError)>;

impl Api {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self.http.request(method, format!("{}{path}", self.server));
        if let Some(t) = &self.token {
            r = r.bearer_auth(t);
        }
        r
    }

    pub async fn send<T: serde::de::DeserializeOwned>(
        &self,
        r: reqwest::RequestBuilder,
    ) -> Answer<T> {
        let res = r.send().await.expect("request reaches the server");
        let status = res.status().as_u16();
        assert_eq!(
            res.headers()
                .get("strict-transport-security")
                .and_then(|v| v.to_str().ok()),
            Some("max-age=31536000"),
            "every response carries HSTS"
        );
        let bytes = res.bytes().await.unwrap();
        if (200..300).contains(&status) {
            Ok(serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("bad body {e}: {}", String::from_utf8_lossy(&bytes))))
        } else {
            Err((
                status,
                serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                    panic!("bad error body {e}: {}", String::from_utf8_lossy(&bytes))
                }),
            ))
        }
    }

    pub async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Answer<T> {
        self.send(self.req(reqwest::Method::GET, path)).await
    }

    pub async fn post<T: serde::de::DeserializeOwned, B: serde::Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Answer<T> {
        self.send(self.req(reqwest::Method::POST, path).json(body))
            .await
    }

    pub async fn post_raw<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &'static str,
    ) -> Answer<T> {
        self.send(
            self.req(reqwest::Method::POST, path)
                .header("content-type", "application/json")
                .body(body),
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Answer<LoginResponse> {
        let req = LoginRequest {
            username: username.into(),
            password: password.into(),
            device_id: Uuid::new_v4(),
            device_name: "test device".into(),
        };
        self.post(routes::LOGIN, &req).await
    }

    /// Full sign-in for an enrolled account, with a code from oathtool.
    pub async fn sign_in(&mut self, username: &str, password: &str, secret: &str) -> SessionInfo {
        let challenge = match self
            .login(username, password)
            .await
            .expect("password accepted")
        {
            LoginResponse::TotpRequired { challenge } => challenge,
            other => panic!("expected a TOTP challenge, got {other:?}"),
        };
        let session: SessionInfo = self
            .post(
                routes::TOTP,
                &TotpRequest {
                    challenge,
                    code: oathtool(secret),
                },
            )
            .await
            .expect("code accepted");
        self.token = Some(session.token.clone());
        session
    }
}

/// A fresh account on `dir`, signed in on `server`.
pub async fn signed_in(dir: &DataDir, server: &Server, username: &str) -> Api {
    signed_in_as(dir, server, username, "solo_practitioner").await
}

/// A fresh account with `role`, signed in on `server`.
pub async fn signed_in_as(dir: &DataDir, server: &Server, username: &str, role: &str) -> Api {
    let (password, secret) = dir.add_user_as(username, role, true);
    let mut api = server.client();
    api.sign_in(username, &password, &secret.unwrap()).await;
    api
}
