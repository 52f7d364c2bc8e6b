//! The desktop app under WebDriver: `tauri-driver` (which starts WebKit's
//! `WebKitWebDriver`) launching the real `doctors-bench` binary.
//!
//! Needs an X display and a D-Bus session with the Secret Service:
//! `scripts/test.sh` provides both (Xvfb, gnome-keyring).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::built_binary;
use crate::server::{free_port, TestAccount, TestServer};
use crate::webdriver::{Element, Session};

/// How long a step in the UI may take on a busy two-core CI machine.
pub const UI_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `tauri-driver` whose app sees the given environment.
pub struct TauriDriver {
    child: Child,
    port: u16,
}

impl TauriDriver {
    /// Starts `tauri-driver`; the app it launches inherits `env`.
    pub fn start(env: &[(&str, &Path)], extra_env: &[(&str, &str)]) -> TauriDriver {
        let port = free_port();
        let native_port = free_port();
        let mut cmd = Command::new("tauri-driver");
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
        // Its own process group, so that dropping the driver also ends the
        // WebKitWebDriver and the app it started: a window left running
        // holds the app's single-instance name on the session bus, and the
        // next test's app would quietly hand over to it and never open.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        for (k, v) in env {
            cmd.env(k, v);
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .expect("tauri-driver is installed (scripts/bootstrap.sh)");
        crate::wait_for("tauri-driver to listen", Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        TauriDriver { child, port }
    }

    /// Starts `tauri-driver` for an app that talks to `server` and keeps
    /// its data (vaults, device id) in `data_dir`: one device.
    pub fn for_server(server: &TestServer, data_dir: &Path) -> TauriDriver {
        TauriDriver::for_server_with(server, data_dir, &[])
    }

    /// [`TauriDriver::for_server`] with more environment for the app.
    pub fn for_server_with(
        server: &TestServer,
        data_dir: &Path,
        extra_env: &[(&str, &str)],
    ) -> TauriDriver {
        let mut env = vec![("DOCTORS_BENCH_SERVER_URL", server.url.as_str())];
        env.extend_from_slice(extra_env);
        TauriDriver::start(
            &[
                ("DOCTORS_BENCH_CA_CERT", server.ca_pem.as_path()),
                ("DOCTORS_BENCH_DATA_DIR", data_dir),
            ],
            &env,
        )
    }

    /// Launches the app and returns a WebDriver session on its window.
    pub async fn launch_app(&self) -> Session {
        let capabilities = serde_json::json!({
            "browserName": "wry",
            "tauri:options": { "application": built_binary("doctors-bench") },
        });
        let url = format!("http://127.0.0.1:{}", self.port);
        let start = Session::new(&url, capabilities);
        match tokio::time::timeout(UI_TIMEOUT, start).await {
            Ok(Ok(session)) => session,
            Ok(Err(e)) => panic!("tauri-driver could not start the app: {e}"),
            Err(_) => panic!(
                "the app's window did not open within {UI_TIMEOUT:?}; is another doctors-bench \
                 still running on this session bus (it is single-instance)?"
            ),
        }
    }
}

impl Drop for TauriDriver {
    fn drop(&mut self) {
        // The whole group: tauri-driver, WebKitWebDriver and the app.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Signs in through the window as a person would: name and password, then
/// a fresh code from `oathtool`; returns once the signed-in header shows.
pub async fn sign_in(c: &Session, account: &mut TestAccount) {
    type_into(c, "#username", &account.username).await;
    type_into(c, "#password", &account.password).await;
    click(c, "#sign-in").await;
    let code = account.codes.fresh_code(&account.totp_secret);
    type_into(c, "#totp-code", &code).await;
    click(c, "#submit-code").await;
    find(c, "#sync-status").await;
}

/// Adds a client from the client list and waits for their row.
pub async fn add_client(c: &Session, full_name: &str) {
    click(c, "#add-client").await;
    type_into(c, "#new-client-name", full_name).await;
    click(c, "#save-client").await;
    wait_text(c, ".client-row", "the new client", |t| {
        t.contains(full_name)
    })
    .await;
}

/// Waits for an element to appear.
pub async fn find<'a>(c: &'a Session, css: &str) -> Element<'a> {
    let deadline = std::time::Instant::now() + UI_TIMEOUT;
    loop {
        match c.find(css).await {
            Ok(element) => return element,
            Err(e) if std::time::Instant::now() >= deadline => {
                panic!("element {css} did not appear: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Waits until the element's text satisfies `pred`; returns that text.
pub async fn wait_text(c: &Session, css: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + UI_TIMEOUT;
    let mut last = String::new();
    loop {
        if let Ok(el) = c.find(css).await {
            if let Ok(text) = el.text().await {
                if pred(&text) {
                    return text;
                }
                last = text;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{css} never showed {what}; last text: {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Clears an input and types into it.
pub async fn type_into(c: &Session, css: &str, text: &str) {
    let el = find(c, css).await;
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

/// Clicks an element once it is there.
pub async fn click(c: &Session, css: &str) {
    find(c, css)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("could not click {css}: {e}"));
}

/// Saves a screenshot of the screen (the app's window under Xvfb) as PNG
/// under `dir`.
///
/// Taken with ImageMagick's `import` from the X display rather than over
/// WebDriver: WebKitWebDriver's screenshot command was seen to hang on a
/// busy machine, and the X capture shows exactly what a person would see.
pub async fn screenshot(dir: &Path, name: &str) {
    // Yew renders asynchronously and WebKit paints after that.
    tokio::time::sleep(Duration::from_millis(750)).await;
    std::fs::create_dir_all(dir).unwrap();
    let status = Command::new("import")
        .args(["-window", "root"])
        .arg(dir.join(name))
        .status()
        .expect("ImageMagick's import is installed (scripts/bootstrap.sh)");
    assert!(status.success(), "screenshot {name} failed");
}
