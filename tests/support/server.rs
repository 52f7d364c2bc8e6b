//! The real `bench-server`, on a loopback port of its own.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{built_binary, totp};

/// A practitioner account made for one test. Synthetic.
pub struct TestAccount {
    /// Sign-in name.
    pub username: String,
    /// Password, random per test.
    pub password: String,
    /// Base32 TOTP secret, from `user add --with-totp`.
    pub totp_secret: String,
    /// Codes not yet used for this account.
    pub codes: totp::CodeSource,
}

/// A `bench-server` data folder and, while started, its process.
pub struct TestServer {
    _dir: tempfile::TempDir,
    /// The server's data folder.
    pub data_dir: PathBuf,
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    /// The demo CA the server generated; clients pin it.
    pub ca_pem: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl TestServer {
    /// A new data folder set up with `init --demo` on a free loopback port.
    /// Not started yet.
    pub fn init() -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("server");
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let out = Command::new(built_binary("bench-server"))
            .args(["init", "--demo", "--data-dir"])
            .arg(&data_dir)
            .args(["--listen", &listen])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "bench-server init --demo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let client_json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(data_dir.join("client.json")).unwrap()).unwrap();
        let url = client_json["server_url"].as_str().unwrap().to_string();
        let ca_pem = PathBuf::from(client_json["ca_cert_path"].as_str().unwrap());
        assert_eq!(url, format!("https://127.0.0.1:{port}"));
        TestServer {
            _dir: dir,
            data_dir,
            url,
            ca_pem,
            port,
            child: None,
        }
    }

    /// A data folder set up and a server running on it.
    pub fn start_new() -> TestServer {
        let mut server = TestServer::init();
        server.start();
        server
    }

    /// Starts `serve` and waits until it says it is listening.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "server already running");
        let mut child = Command::new(built_binary("bench-server"))
            .args(["serve", "--data-dir"])
            .arg(&self.data_dir)
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("listening on") {
                    let _ = tx.send(());
                }
            }
        });
        if rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = child.kill();
            panic!("bench-server did not start listening within 60 s");
        }
        self.child = Some(child);
    }

    /// Stops the server process (SIGKILL: nothing is flushed on purpose,
    /// as when power fails).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The port the server listens on, also across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Adds a practitioner with 2FA already enrolled, through the CLI.
    pub fn add_practitioner(&self, username: &str, display_name: &str) -> TestAccount {
        self.add_account(username, display_name, "solo_practitioner", true)
    }

    /// Adds an account through `bench-server user add`.
    pub fn add_account(
        &self,
        username: &str,
        display_name: &str,
        role: &str,
        with_totp: bool,
    ) -> TestAccount {
        let password = random_password();
        let mut cmd = Command::new(built_binary("bench-server"));
        cmd.args(["user", "add", "--data-dir"])
            .arg(&self.data_dir)
            .args([
                "--username",
                username,
                "--display-name",
                display_name,
                "--role",
                role,
            ])
            .arg("--password-stdin");
        if with_totp {
            cmd.arg("--with-totp");
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "user add failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let totp_secret = if with_totp {
            totp::secret_from_output(&stdout)
        } else {
            String::new()
        };
        TestAccount {
            username: username.to_string(),
            password,
            totp_secret,
            codes: totp::CodeSource::default(),
        }
    }

    /// Runs `bench-server audit verify` on this data folder.
    pub fn audit_verify(&self) -> std::process::Output {
        Command::new(built_binary("bench-server"))
            .args(["audit", "verify", "--data-dir"])
            .arg(&self.data_dir)
            .output()
            .unwrap()
    }

    /// Runs `bench-server audit export` over the whole log and returns its
    /// entry lines (header and checkpoints left out), oldest first.
    pub fn audit_export(&self) -> Vec<serde_json::Value> {
        let out_file = tempfile::NamedTempFile::new().unwrap();
        let out = Command::new(built_binary("bench-server"))
            .args(["audit", "export", "--data-dir"])
            .arg(&self.data_dir)
            .args(["--from", "1", "--to", "1000000000", "--out"])
            .arg(out_file.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "audit export failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(out_file.path())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["type"] == "entry")
            .collect()
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn random_password() -> String {
    // Synthetic, per test; long enough for any password policy.
    format!(
        "test-{}-{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}
