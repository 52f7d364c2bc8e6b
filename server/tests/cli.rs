//! The command line: clear, actionable errors and a repeatable `init`.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

#[test]
fn a_second_init_says_the_server_exists_and_where_its_files_are() {
    let dir = DataDir::init();
    let (ok, out, _) = run(&["init", "--demo", "--data-dir", dir.arg()], None);
    assert!(ok);
    assert!(out.contains("already holds"), "{out}");
    assert!(
        out.contains(dir.path.join("ca.pem").to_str().unwrap()),
        "{out}"
    );
    assert!(
        out.contains(dir.path.join("client.json").to_str().unwrap()),
        "{out}"
    );
    assert!(!out.contains(&dir.demo_password));
}

#[test]
fn key_files_are_private_to_the_server_user() {
    let dir = DataDir::init();
    for name in [
        "secrets.key",
        "audit-signing.key",
        "ca-key.pem",
        "server-key.pem",
    ] {
        let mode = std::fs::metadata(dir.path.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{name}");
    }
}

#[test]
fn serve_on_a_missing_data_dir_says_to_run_init() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nothing-here");
    let (ok, _, err) = run(&["serve", "--data-dir", missing.to_str().unwrap()], None);
    assert!(!ok);
    assert!(
        err.contains("does not exist") && err.contains("init --demo"),
        "{err}"
    );
}

#[test]
fn serve_on_a_port_in_use_names_the_port_and_what_to_do() {
    let dir = DataDir::init();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (ok, _, err) = run(&["serve", "--data-dir", dir.arg(), "--listen", &addr], None);
    assert!(!ok);
    assert!(
        err.contains("already in use") && err.contains(&addr),
        "{err}"
    );
}

#[test]
fn a_damaged_database_file_is_reported_as_not_a_database() {
    let dir = DataDir::init();
    std::fs::write(dir.path.join("bench.db"), vec![0x42u8; 8192]).unwrap();
    let _ = std::fs::remove_file(dir.path.join("bench.db-wal"));
    let _ = std::fs::remove_file(dir.path.join("bench.db-shm"));
    let (ok, _, err) = run(
        &["serve", "--data-dir", dir.arg(), "--listen", "127.0.0.1:0"],
        None,
    );
    assert!(!ok);
    assert!(err.contains("is not a Doctor's Bench database"), "{err}");
}

#[test]
fn a_bad_settings_file_is_reported_with_its_expected_shape() {
    let dir = DataDir::init();
    std::fs::write(dir.path.join("server.json"), "{ listen: nowhere").unwrap();
    let (ok, _, err) = run(&["serve", "--data-dir", dir.arg()], None);
    assert!(!ok);
    assert!(
        err.contains("bad configuration") && err.contains("server.json"),
        "{err}"
    );
}

#[test]
fn user_add_refuses_a_short_password_and_an_unknown_role() {
    let dir = DataDir::init();
    let base = [
        "user",
        "add",
        "--data-dir",
        dir.arg(),
        "--username",
        "x",
        "--display-name",
        "X",
        "--password-stdin",
    ];
    let (ok, _, err) = run(
        &[&base[..], &["--role", "solo_practitioner"]].concat(),
        Some("short\n"),
    );
    assert!(!ok && err.contains("shorter than"), "{err}");
    let (ok, _, err) = run(
        &[&base[..], &["--role", "wizard"]].concat(),
        Some("long enough password\n"),
    );
    assert!(!ok && err.contains("unknown role"), "{err}");
    let (ok, _, _) = run(
        &[&base[..], &["--role", "supervisor"]].concat(),
        Some("long enough password\n"),
    );
    assert!(ok);
    let (ok, _, err) = run(
        &[&base[..], &["--role", "supervisor"]].concat(),
        Some("long enough password\n"),
    );
    assert!(!ok && err.contains("already exists"), "{err}");

    // user passwd's hint names user passwd.
    let (ok, _, err) = run(
        &[
            "user",
            "passwd",
            "--data-dir",
            dir.arg(),
            "--username",
            "x",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert!(!ok && err.contains("shorter than"), "{err}");
    assert!(
        err.contains("bench-server user passwd") && !err.contains("user add"),
        "{err}"
    );
}

#[test]
fn user_add_refuses_hidden_characters_and_an_empty_display_name_and_creates_nothing() {
    let dir = DataDir::init();
    let add = |username: &str, display_name: &str| {
        run(
            &[
                "user",
                "add",
                "--data-dir",
                dir.arg(),
                "--username",
                username,
                "--display-name",
                display_name,
                "--role",
                "clinic_practitioner",
                "--password-stdin",
            ],
            Some("long enough password\n"),
        )
    };
    for (username, display_name, option, says) in [
        (
            "bad\u{202e}user",
            "Evil Name",
            "--username",
            "control characters",
        ),
        (
            "gooduser",
            "Evil\u{202e}Name\u{7}",
            "--display-name",
            "control characters",
        ),
        ("gooduser", "", "--display-name", "is empty"),
        ("gooduser", "   ", "--display-name", "is empty"),
        (
            "gooduser",
            "Amina\u{200f} Otieno",
            "--display-name",
            "invisible characters",
        ),
        (
            "bad\u{200e}user",
            "Amina Otieno",
            "--username",
            "invisible characters",
        ),
        ("bad user", "Amina Otieno", "--username", "space"),
    ] {
        let (ok, out, err) = add(username, display_name);
        assert!(!ok, "{username:?} / {display_name:?} accepted: {out}");
        assert!(err.contains(option) && err.contains(says), "{err}");
    }
    let db = rusqlite::Connection::open(dir.path.join("bench.db")).unwrap();
    let n: i64 = db
        .query_row(
            "SELECT count(*) FROM accounts WHERE username IN ('gooduser', 'bad user') OR username LIKE 'bad%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 0, "nothing created");
    let (ok, _, err) = add("gooduser", "Amina Otieno");
    assert!(ok, "{err}");
}

#[test]
fn audit_verify_on_a_fresh_directory_reports_the_set_up_entries_each_signed() {
    let dir = DataDir::init();
    let (ok, out, err) = run(&["audit", "verify", "--data-dir", dir.arg()], None);
    assert!(ok, "{err}");
    // init records the set-up, the demo practitioner, clinic admin and
    // supervisor, and the supervision, and signs each.
    assert_eq!(out.trim(), "audit log OK: 5 entries, 5 signed checkpoints");
}
