//! Sign-in, 2FA and sessions against the real binary over TLS 1.3.

mod common;

use std::time::{Duration, Instant};

use bench_protocol::api::{
    routes, ErrorCode, LoginResponse, Practitioner, SessionInfo, TotpRequest,
};
use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn password_and_oathtool_code_sign_in_and_reach_me() {
    let dir = DataDir::init();
    let (password, secret) = dir.add_user("amina", true);
    let server = Server::start(&dir);
    let mut api = server.client();
    let session = api
        .sign_in("amina", &password, &secret.clone().unwrap())
        .await;
    assert_eq!(session.practitioner.username, "amina");
    assert_eq!(session.idle_timeout_secs, 1800);

    let me: Practitioner = api.get(routes::ME).await.unwrap();
    assert_eq!(me.id, session.practitioner.id);

    // Nothing secret reaches the server's log.
    let log = server.log();
    assert!(log.contains("session started"), "{log}");
    for secret_text in [
        password.as_str(),
        secret.as_deref().unwrap(),
        session.token.as_str(),
    ] {
        assert!(!log.contains(secret_text), "log leaks a secret");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_account_enrols_an_authenticator_at_first_sign_in() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let mut api = server.client();
    let (challenge, uri) = match api.login("demo", &dir.demo_password).await.unwrap() {
        LoginResponse::EnrolmentRequired {
            challenge,
            otpauth_uri,
        } => (challenge, otpauth_uri),
        other => panic!("expected enrolment, got {other:?}"),
    };
    assert!(
        uri.starts_with("otpauth://totp/Doctor%27s%20Bench:demo?"),
        "{uri}"
    );
    let secret = secret_from_uri(&uri);

    // The TOTP route does not take an enrolment challenge.
    let wrong_route: Answer<SessionInfo> = api
        .post(
            routes::TOTP,
            &TotpRequest {
                challenge: challenge.clone(),
                code: oathtool(&secret),
            },
        )
        .await;
    assert!(wrong_route.is_err());

    let session: SessionInfo = api
        .post(
            routes::ENROL,
            &TotpRequest {
                challenge,
                code: oathtool(&secret),
            },
        )
        .await
        .unwrap();
    api.token = Some(session.token.clone());
    let me: Practitioner = api.get(routes::ME).await.unwrap();
    assert_eq!(me.username, "demo");

    // From now on the account is asked for a code, not enrolment.
    let next = api.login("demo", &dir.demo_password).await.unwrap();
    assert!(
        matches!(next, LoginResponse::TotpRequired { .. }),
        "{next:?}"
    );
    assert!(!server.log().contains(&secret));
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let dir = DataDir::init();
    let (password, _) = dir.add_user("baraka", true);
    let server = Server::start(&dir);
    let api = server.client();

    let wrong = api
        .login("baraka", &format!("{password}x"))
        .await
        .unwrap_err();
    let unknown = api.login("nobody-here", &password).await.unwrap_err();
    assert_eq!(wrong.0, 401);
    assert_eq!(wrong.1.code, ErrorCode::BadCredentials);
    assert_eq!(wrong, unknown);
    assert!(!server.log().contains(&password));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_code_used_once_is_refused_the_second_time() {
    let dir = DataDir::init();
    let (password, secret) = dir.add_user("chebet", true);
    let secret = secret.unwrap();
    let server = Server::start(&dir);
    let mut api = server.client();

    let first = match api.login("chebet", &password).await.unwrap() {
        LoginResponse::TotpRequired { challenge } => challenge,
        other => panic!("{other:?}"),
    };
    let code = oathtool(&secret);
    let _: SessionInfo = api
        .post(
            routes::TOTP,
            &TotpRequest {
                challenge: first,
                code: code.clone(),
            },
        )
        .await
        .unwrap();

    let second = match api.login("chebet", &password).await.unwrap() {
        LoginResponse::TotpRequired { challenge } => challenge,
        other => panic!("{other:?}"),
    };
    let replay: Answer<SessionInfo> = api
        .post(
            routes::TOTP,
            &TotpRequest {
                challenge: second,
                code,
            },
        )
        .await;
    let (status, err) = replay.unwrap_err();
    assert_eq!((status, err.code), (401, ErrorCode::BadCode));
    api.token = None;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_code_is_refused_and_a_used_challenge_cannot_start_a_second_session() {
    let dir = DataDir::init();
    let (password, secret) = dir.add_user("dedan", true);
    let secret = secret.unwrap();
    let server = Server::start(&dir);
    let api = server.client();
    let challenge = match api.login("dedan", &password).await.unwrap() {
        LoginResponse::TotpRequired { challenge } => challenge,
        other => panic!("{other:?}"),
    };
    let good = oathtool(&secret);
    let wrong = format!("{:06}", (good.parse::<u32>().unwrap() + 1) % 1_000_000);
    let refused: Answer<SessionInfo> = api
        .post(
            routes::TOTP,
            &TotpRequest {
                challenge: challenge.clone(),
                code: wrong,
            },
        )
        .await;
    assert_eq!(refused.unwrap_err().1.code, ErrorCode::BadCode);

    let _: SessionInfo = api
        .post(
            routes::TOTP,
            &TotpRequest {
                challenge: challenge.clone(),
                code: good.clone(),
            },
        )
        .await
        .unwrap();
    let again: Answer<SessionInfo> = api
        .post(
            routes::TOTP,
            &TotpRequest {
                challenge,
                code: good,
            },
        )
        .await;
    assert_eq!(again.unwrap_err().1.code, ErrorCode::ChallengeExpired);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_session_expires_and_logout_ends_a_session() {
    let dir = DataDir::init();
    let server = Server::start_with_env(&dir, &[("BENCH_SESSION_IDLE_SECS", "2")]);
    let mut idle = signed_in(&dir, &server, "esther").await;
    let mut active = signed_in(&dir, &server, "faith").await;

    // Idle for well over two seconds: the session is gone.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let expired: Answer<Practitioner> = idle.get(routes::ME).await;
    assert_eq!(expired.unwrap_err().1.code, ErrorCode::SessionExpired);
    idle.token = None;

    // A fresh sign-in works, and logout ends it at once.
    active.token = None;
    let mut fresh = signed_in(&dir, &server, "gitau").await;
    let _: Practitioner = fresh.get(routes::ME).await.unwrap();
    let res = fresh
        .http
        .post(server.url(routes::LOGOUT))
        .bearer_auth(fresh.token.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    let after: Answer<Practitioner> = fresh.get(routes::ME).await;
    assert_eq!(after.unwrap_err().1.code, ErrorCode::SessionExpired);
    fresh.token = None;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_session_still_ends_at_its_absolute_limit() {
    let dir = DataDir::init();
    let server = Server::start_with_env(&dir, &[("BENCH_SESSION_MAX_SECS", "4")]);
    let api = signed_in(&dir, &server, "halima").await;
    let started = Instant::now();
    loop {
        let answer: Answer<Practitioner> = api.get(routes::ME).await;
        match answer {
            Ok(_) => assert!(
                started.elapsed() < Duration::from_secs(60),
                "session never ended"
            ),
            Err((_, e)) => {
                assert_eq!(e.code, ErrorCode::SessionExpired);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[test]
fn session_limits_cannot_be_lengthened_by_the_environment() {
    let dir = DataDir::init();
    let out = bench(&["serve", "--data-dir", dir.arg(), "--listen", "127.0.0.1:0"])
        .env("BENCH_SESSION_IDLE_SECS", "99999")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("may only shorten"), "{err}");
}

fn audit_details(dir: &DataDir, event: &str) -> Vec<String> {
    let db = rusqlite::Connection::open(dir.path.join("audit.db")).unwrap();
    let mut stmt = db
        .prepare("SELECT details FROM audit_log WHERE event = ?1 ORDER BY seq")
        .unwrap();
    let rows = stmt
        .query_map([event], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_change_ends_every_session_and_pending_sign_in_of_the_account() {
    let dir = DataDir::init();
    let (password, secret) = dir.add_user("amina", true);
    let secret = secret.unwrap();
    let server = Server::start(&dir);
    let mut api = server.client();
    api.sign_in("amina", &password, &secret).await;
    let pending = match server.client().login("amina", &password).await.unwrap() {
        LoginResponse::TotpRequired { challenge } => challenge,
        other => panic!("expected a TOTP challenge, got {other:?}"),
    };

    let (ok, out, err) = run(
        &[
            "user",
            "passwd",
            "--data-dir",
            dir.arg(),
            "--username",
            "amina",
            "--password-stdin",
        ],
        Some("a brand new long passphrase"),
    );
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("1 session(s) ended"), "{out}");

    let old: Answer<Practitioner> = api.get(routes::ME).await;
    let (status, e) = old.unwrap_err();
    assert_eq!((status, e.code), (401, ErrorCode::SessionExpired));
    let late: Answer<SessionInfo> = server
        .client()
        .post(
            routes::TOTP,
            &TotpRequest {
                challenge: pending,
                code: oathtool(&secret),
            },
        )
        .await;
    assert_eq!(late.unwrap_err().1.code, ErrorCode::ChallengeExpired);
    api.token = None;
    let details = audit_details(&dir, "password_changed");
    assert!(
        details.last().unwrap().contains("\"sessions_ended\":1"),
        "{details:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_revoke_ends_the_sessions_and_reset_2fa_makes_the_account_enrol_again() {
    let dir = DataDir::init();
    let (password, secret) = dir.add_user("amina", true);
    let server = Server::start(&dir);
    let mut api = server.client();
    api.sign_in("amina", &password, &secret.unwrap()).await;

    let (ok, out, err) = run(
        &[
            "user",
            "sessions-revoke",
            "--data-dir",
            dir.arg(),
            "--username",
            "amina",
        ],
        None,
    );
    assert!(ok, "{out}\n{err}");
    let old: Answer<Practitioner> = api.get(routes::ME).await;
    assert_eq!(old.unwrap_err().1.code, ErrorCode::SessionExpired);
    api.token = None;
    assert_eq!(audit_details(&dir, "sessions_revoked").len(), 1);

    let (ok, out, err) = run(
        &[
            "user",
            "reset-2fa",
            "--data-dir",
            dir.arg(),
            "--username",
            "amina",
        ],
        None,
    );
    assert!(ok, "{out}\n{err}");
    match server.client().login("amina", &password).await.unwrap() {
        LoginResponse::EnrolmentRequired { .. } => {}
        other => panic!("expected enrolment after a 2FA reset, got {other:?}"),
    }
    assert_eq!(audit_details(&dir, "two_factor_reset").len(), 1);

    let (ok, _, err) = run(
        &[
            "user",
            "reset-2fa",
            "--data-dir",
            dir.arg(),
            "--username",
            "nobody",
        ],
        None,
    );
    assert!(!ok && err.contains("no account named"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_sign_in_on_an_unknown_name_stores_a_keyed_tag_never_the_text_typed() {
    let dir = DataDir::init();
    let (password, _) = dir.add_user("amina", true);
    let server = Server::start(&dir);
    let api = server.client();
    // A password typed into the username field, twice.
    let typed = "Correct-Horse-Battery-42";
    for _ in 0..2 {
        let (status, _) = api.login(typed, "whatever it is").await.unwrap_err();
        assert_eq!(status, 401);
    }
    let (status, _) = api.login("amina", "not her password").await.unwrap_err();
    assert_eq!(status, 401);
    assert!(api.login("amina", &password).await.is_ok());

    let db = rusqlite::Connection::open(dir.path.join("audit.db")).unwrap();
    let rows: Vec<(Option<String>, String)> = db
        .prepare("SELECT actor, details FROM audit_log WHERE event = 'login_password_failed' ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 3);
    let all = rows.iter().map(|r| r.1.as_str()).collect::<String>();
    assert!(
        !all.contains(typed) && !all.to_lowercase().contains("correct-horse"),
        "{all}"
    );
    assert!(!all.contains("amina"), "{all}");
    let tag =
        |d: &str| serde_json::from_str::<serde_json::Value>(d).unwrap()["username_tag"].clone();
    assert!(tag(&rows[0].1).is_string());
    assert_eq!(
        tag(&rows[0].1),
        tag(&rows[1].1),
        "repeated attempts correlate"
    );
    assert!(
        rows[2].0.is_some(),
        "a known name is recorded as its account"
    );
    assert!(tag(&rows[2].1).is_null());
    let bench = std::fs::read(dir.path.join("bench.db")).unwrap();
    assert!(
        !bench.windows(typed.len()).any(|w| w == typed.as_bytes()),
        "the throttle does not keep the typed text either"
    );
}
