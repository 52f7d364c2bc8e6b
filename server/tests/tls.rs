//! TLS 1.3 only, HSTS everywhere: checked with the real curl and openssl.

mod common;

use std::process::Command;

use common::*;

fn curl(server: &Server, tls_args: &[&str], path: &str) -> (bool, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-i",
            "--max-time",
            "60",
            "--cacert",
            server.ca.to_str().unwrap(),
        ])
        .args(tls_args)
        .arg(server.url(path))
        .output()
        .expect("curl is installed");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_client_limited_to_tls_1_2_is_refused() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let (ok, _) = curl(&server, &["--tls-max", "1.2"], "/v1/health");
    assert!(!ok, "a TLS 1.2 handshake must fail");

    let out = Command::new("openssl")
        .args([
            "s_client",
            "-tls1_2",
            "-connect",
            &format!("127.0.0.1:{}", server.port),
        ])
        .args(["-CAfile", server.ca.to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl is installed");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() || text.contains("alert protocol version"),
        "{text}"
    );
    // No cipher was agreed: the handshake never completed.
    assert!(text.contains("Cipher is (NONE)"), "{text}");
}

#[test]
fn a_tls_1_3_client_gets_health_with_hsts() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let (ok, text) = curl(&server, &["--tlsv1.3"], "/v1/health");
    assert!(ok, "{text}");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.to_lowercase()
            .contains("strict-transport-security: max-age=31536000"),
        "{text}"
    );
    assert!(text.ends_with("\"ok\""), "{text}");
}

#[test]
fn errors_and_unknown_routes_also_carry_hsts() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    for path in ["/no/such/route", "/v1/me", "/v1/clients"] {
        let (ok, text) = curl(&server, &["--tlsv1.3"], path);
        assert!(ok, "{text}");
        assert!(!text.starts_with("HTTP/1.1 2"), "{path}: {text}");
        assert!(
            text.to_lowercase()
                .contains("strict-transport-security: max-age=31536000"),
            "{path}: {text}"
        );
    }
}

#[test]
fn the_certificate_is_valid_for_localhost_too() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "60",
            "--tlsv1.3",
            "--cacert",
            server.ca.to_str().unwrap(),
        ])
        .args(["--resolve", &format!("localhost:{}:127.0.0.1", server.port)])
        .arg(format!("https://localhost:{}/v1/health", server.port))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn client_json_points_at_the_running_server_and_its_ca() {
    let dir = DataDir::init();
    let server = Server::start(&dir);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path.join("client.json")).unwrap()).unwrap();
    assert_eq!(json["server_url"], server.base);
    assert_eq!(json["ca_cert_path"], server.ca.to_str().unwrap());
    assert!(std::path::Path::new(json["ca_cert_path"].as_str().unwrap()).is_absolute());
}
