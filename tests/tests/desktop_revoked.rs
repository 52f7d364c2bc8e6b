//! A device the clinic revokes, in the real desktop app: at its next sync
//! the window drops to the sign-in screen, which says why, and the vault
//! folder and keyring entry on the device are gone.
//!
//! Run through `scripts/test.sh`, which provides the display and keyring.

use std::path::PathBuf;

use bench_client::keys::{device_secret_account, OsKeyring, SecretStore};
use bench_e2e::api::Api;
use bench_e2e::driver::{add_client, click, find, screenshot, sign_in, wait_text, TauriDriver};
use bench_e2e::server::TestServer;
use bench_protocol::api::{routes, Device, DeviceRevocation};

fn screenshot_dir() -> PathBuf {
    std::env::var_os("BENCH_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let exe = std::env::current_exe().unwrap();
            exe.parent().unwrap().parent().unwrap().join("screenshots")
        })
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs an X display and the Secret Service: run through scripts/test.sh"]
async fn a_revoked_laptop_drops_to_the_sign_in_screen_saying_why_with_its_vault_gone() {
    let server = TestServer::start_new();
    let mut amina = server.add_account("amina", "Dr Amina Synthetic", "clinic_practitioner", true);
    let mut admin = server.add_account("office", "Office Synthetic", "clinic_admin", true);
    let client_data = tempfile::tempdir().unwrap();
    let shots = screenshot_dir();

    let driver = TauriDriver::for_server(&server, client_data.path());
    let app = driver.launch_app().await;
    sign_in(&app, &mut amina).await;
    add_client(&app, "Wanjiru Synthetic-Kamau").await;
    let vault_files: Vec<PathBuf> = walk(client_data.path())
        .into_iter()
        .filter(|p| p.ends_with("vault.db"))
        .collect();
    assert_eq!(vault_files.len(), 1, "one vault on the device");
    let folder = vault_files[0].parent().unwrap().to_path_buf();
    let config = bench_client::Config {
        server_url: server.url.clone(),
        ca_cert_path: None,
        data_dir: client_data.path().to_path_buf(),
        idle_timeout: std::time::Duration::from_secs(60),
        device_name: String::new(),
    };

    // The clinic admin revokes this installation.
    let device_id: uuid::Uuid = std::fs::read_to_string(client_data.path().join("device-id"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut admin_api = Api::new(&server);
    admin_api.sign_in(&mut admin).await;
    let keyring_account =
        device_secret_account(&config.server_folder(), &amina.username, device_id);
    assert!(OsKeyring.get(&keyring_account).unwrap().is_some());
    let _: Vec<Device> = admin_api
        .post_json(
            &routes::device_revoke(device_id),
            &DeviceRevocation {
                reason: "laptop stolen".into(),
            },
        )
        .await;

    // The next sync (asked for by hand here) hears it.
    click(&app, "#sync-now").await;
    let notice = wait_text(&app, "#notice", "the revocation notice", |t| {
        t.contains("revoked this device")
    })
    .await;
    assert!(notice.contains("removed this device's copy"), "{notice}");
    find(&app, "#username").await;
    screenshot(&shots, "device-revoked.png").await;
    assert!(!folder.exists(), "the vault folder is deleted");
    assert!(
        OsKeyring.get(&keyring_account).unwrap().is_none(),
        "the device secret is deleted from the keyring"
    );
    let page = app.source().await.unwrap();
    assert!(!page.contains("Wanjiru Synthetic-Kamau"));
    app.close().await.unwrap();
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
