//! TLS: a local certificate authority for the demo, and a server
//! configuration that speaks TLS 1.3 and nothing older.
//!
//! A clinic's own deployment would use a certificate from its IT or a
//! public CA; `init --demo` makes a private CA instead, whose certificate
//! the desktop client pins (see `client.json`). The CA key stays in the
//! data directory (0600) so the server certificate can be re-issued.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::{Duration, OffsetDateTime};

use crate::error::ServerError;
use crate::files::{self, DataDir};

/// Names the server certificate is valid for.
pub const SERVER_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

fn cert_error(what: &str, e: impl std::fmt::Display) -> ServerError {
    ServerError::Certificate {
        reason: format!("{what}: {e}"),
    }
}

/// Creates the CA and a server certificate signed by it, writing the four
/// PEM files into the data directory (private keys 0600).
pub fn create_demo_pki(dir: &DataDir) -> Result<(), ServerError> {
    let now = OffsetDateTime::now_utc();

    let ca_key = KeyPair::generate().map_err(|e| cert_error("cannot make the CA key", e))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())
        .map_err(|e| cert_error("cannot describe the CA", e))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Doctor's Bench local CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.not_before = now - Duration::days(1);
    ca_params.not_after = now + Duration::days(3650);
    let ca_cert = ca_params
        .self_signed(&ca_key)
        .map_err(|e| cert_error("cannot sign the CA", e))?;

    let server_key =
        KeyPair::generate().map_err(|e| cert_error("cannot make the server key", e))?;
    let mut server_params = CertificateParams::new(
        SERVER_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
    )
    .map_err(|e| cert_error("cannot describe the server certificate", e))?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "Doctor's Bench server");
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server_params.not_before = now - Duration::days(1);
    server_params.not_after = now + Duration::days(397);
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .map_err(|e| cert_error("cannot sign the server certificate", e))?;

    files::write_private(&dir.ca_key(), ca_key.serialize_pem().as_bytes())?;
    files::write_public(&dir.ca_cert(), ca_cert.pem().as_bytes())?;
    files::write_private(&dir.server_key(), server_key.serialize_pem().as_bytes())?;
    files::write_public(&dir.server_cert(), server_cert.pem().as_bytes())?;
    Ok(())
}

/// A rustls server configuration that negotiates TLS 1.3 only, with the
/// ring provider. A client offering at most TLS 1.2 fails the handshake.
#[derive(Clone)]
pub struct Tls13Only(Arc<ServerConfig>);

impl Tls13Only {
    /// Loads the server certificate and key from the data directory.
    pub fn load(dir: &DataDir) -> Result<Tls13Only, ServerError> {
        let cert_pem = files::read(&dir.server_cert())?;
        let key_pem = files::read(&dir.server_key())?;
        let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert_pem.as_slice())
            .collect::<Result<_, _>>()
            .map_err(|e| {
                cert_error(
                    &format!("{} is not a PEM certificate", dir.server_cert().display()),
                    e,
                )
            })?;
        if certs.is_empty() {
            return Err(cert_error(
                &format!("{} holds no certificate", dir.server_cert().display()),
                "re-run `bench-server init --demo` in a fresh directory",
            ));
        }
        let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_slice())
            .ok()
            .flatten()
            .ok_or_else(|| {
                cert_error(
                    &format!("{} holds no private key", dir.server_key().display()),
                    "restore it from backup",
                )
            })?;
        Tls13Only::new(certs, key)
    }

    /// Builds the configuration from a chain and its key.
    pub fn new(
        certs: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Tls13Only, ServerError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| cert_error("TLS 1.3 is not available", e))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| cert_error("the server certificate and key do not match", e))?;
        // HTTP/1.1 only: the API is small JSON requests from one desktop app.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls13Only(Arc::new(config)))
    }

    /// The rustls configuration.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_pki_loads_as_a_tls13_only_config_with_private_keys_0600() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(tmp.path());
        create_demo_pki(&dir).unwrap();
        let config = Tls13Only::load(&dir).unwrap().config();
        assert!(config.alpn_protocols.iter().all(|p| p == b"http/1.1"));
        for key in [dir.ca_key(), dir.server_key()] {
            let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", key.display());
        }
    }
}
