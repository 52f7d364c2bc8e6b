//! With no Secret Service reachable, the keyring says so; it never falls
//! back to a store that forgets.
//!
//! A separate test binary because it points this process's D-Bus session
//! address at nothing.

use bench_client::keys::{OsKeyring, SecretStore};
use bench_client::CoreError;

#[test]
#[ignore = "changes the process's D-Bus address: run under scripts/with-keyring.sh"]
fn keyring_without_a_secret_service_reports_unavailable_instead_of_a_mock() {
    let nowhere = std::env::temp_dir().join(format!("no-bus-{}", uuid::Uuid::new_v4()));
    std::env::set_var(
        "DBUS_SESSION_BUS_ADDRESS",
        format!("unix:path={}", nowhere.display()),
    );

    let account = "127.0.0.1_3a9443/nobody/device-secret";
    let set = OsKeyring.set(account, &[1u8; 32]);
    assert!(
        matches!(set, Err(CoreError::Keyring(_))),
        "set must fail: {set:?}"
    );
    let get = OsKeyring.get(account);
    let err = get.expect_err("get must fail, not report a missing entry");
    assert!(matches!(err, CoreError::Keyring(_)));
    assert!(
        err.to_string().contains("keyring is not available"),
        "{err}"
    );
}
