//! The device secret in the real OS keyring (Secret Service).
//!
//! Ignored by default: they need a Secret Service. Run them with
//! `scripts/with-keyring.sh cargo test -p bench-client -- --ignored keyring`,
//! which starts a private, unlocked GNOME Keyring.

use bench_client::keys::{device_secret_account, OsKeyring, SecretStore, KEYRING_SERVICE};

#[test]
#[ignore = "needs a Secret Service: run under scripts/with-keyring.sh"]
fn keyring_stores_the_device_secret_and_reads_it_back() {
    let account = device_secret_account(
        "127.0.0.1_3a9443",
        &format!("test-{}", uuid::Uuid::new_v4()),
        uuid::Uuid::new_v4(),
    );
    let secret: Vec<u8> = (0..32u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();

    assert!(
        OsKeyring.get(&account).unwrap().is_none(),
        "a new account has no entry"
    );
    OsKeyring.set(&account, &secret).unwrap();
    assert_eq!(
        OsKeyring.get(&account).unwrap().unwrap().as_slice(),
        secret.as_slice()
    );

    // The same entry as seen by another Secret Service client.
    if let Ok(out) = std::process::Command::new("secret-tool")
        .args(["lookup", "service", KEYRING_SERVICE, "username", &account])
        .output()
    {
        assert!(out.status.success(), "secret-tool found no entry");
        assert_eq!(out.stdout, secret);
    }
}
