//! Where the server keeps its data and how long sessions last.
//!
//! Settings come from three places, most specific first: command-line
//! flags, `server.json` in the data directory, then built-in defaults.
//! Two environment variables exist so tests can watch sessions expire
//! quickly; they may only shorten the defaults, never lengthen them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ServerError;
use crate::files::{self, DataDir};

/// The address served when nothing else is said.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

/// Session idle limit: 30 minutes without a request (HIPAA
/// §164.312(a)(2)(iii) automatic logoff).
pub const DEFAULT_IDLE_SECS: u64 = 30 * 60;
/// Absolute session limit: 12 hours, a working day, whatever the activity.
pub const DEFAULT_MAX_SECS: u64 = 12 * 60 * 60;

/// The data directory to use when none is given: `$BENCH_SERVER_DATA_DIR`,
/// else `$XDG_DATA_HOME/doctors-bench/server`, else
/// `~/.local/share/doctors-bench/server`.
pub fn default_data_dir() -> Result<PathBuf, ServerError> {
    let nonempty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = nonempty("BENCH_SERVER_DATA_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(xdg) = nonempty("XDG_DATA_HOME") {
        return Ok(PathBuf::from(xdg).join("doctors-bench/server"));
    }
    nonempty("HOME")
        .map(|home| PathBuf::from(home).join(".local/share/doctors-bench/server"))
        .ok_or(ServerError::NoDefaultDataDir)
}

/// How long sessions live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLimits {
    /// Ends a session after this long without a request.
    pub idle: Duration,
    /// Ends a session this long after sign-in.
    pub max: Duration,
}

impl SessionLimits {
    /// The defaults, shortened by `BENCH_SESSION_IDLE_SECS` and
    /// `BENCH_SESSION_MAX_SECS` when set.
    pub fn from_env() -> Result<SessionLimits, ServerError> {
        Ok(SessionLimits {
            idle: Duration::from_secs(shorter_from_env(
                "BENCH_SESSION_IDLE_SECS",
                DEFAULT_IDLE_SECS,
            )?),
            max: Duration::from_secs(shorter_from_env(
                "BENCH_SESSION_MAX_SECS",
                DEFAULT_MAX_SECS,
            )?),
        })
    }
}

fn shorter_from_env(name: &str, default: u64) -> Result<u64, ServerError> {
    let Ok(raw) = std::env::var(name) else {
        return Ok(default);
    };
    let bad = |reason: String| ServerError::BadConfig {
        source_name: name.to_string(),
        reason,
    };
    let secs: u64 = raw
        .trim()
        .parse()
        .map_err(|_| bad(format!("{raw:?} is not a whole number of seconds")))?;
    if secs == 0 || secs > default {
        return Err(bad(format!(
            "{secs} is outside 1..={default}; this setting may only shorten the default of {default} seconds"
        )));
    }
    Ok(secs)
}

/// `server.json`: settings kept in the data directory.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address and port to listen on.
    pub listen: SocketAddr,
}

impl Settings {
    /// Reads `server.json`; defaults when the file is absent.
    pub fn load(dir: &DataDir) -> Result<Settings, ServerError> {
        let path = dir.settings();
        if !path.exists() {
            return Ok(Settings {
                listen: DEFAULT_LISTEN.parse().expect("valid default"),
            });
        }
        let bytes = files::read(&path)?;
        serde_json::from_slice(&bytes).map_err(|e| ServerError::BadConfig {
            source_name: path.display().to_string(),
            reason: format!(
                "{e}; it should look like {{\"listen\": \"{DEFAULT_LISTEN}\"}} (fix or delete the file)"
            ),
        })
    }

    /// Writes `server.json`.
    pub fn save(&self, dir: &DataDir) -> Result<(), ServerError> {
        let json = serde_json::to_vec_pretty(self).expect("settings serialise");
        files::write_public(&dir.settings(), &json)
    }
}

/// `client.json`: what a desktop client on this machine needs to find and
/// trust the server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClientDiscovery {
    /// `https://host:port`.
    pub server_url: String,
    /// Absolute path of the CA certificate to pin.
    pub ca_cert_path: PathBuf,
}

/// Writes `client.json` for the given address.
pub fn write_client_discovery(dir: &DataDir, addr: SocketAddr) -> Result<(), ServerError> {
    let discovery = ClientDiscovery {
        server_url: format!("https://{addr}"),
        ca_cert_path: dir.ca_cert(),
    };
    let json = serde_json::to_vec_pretty(&discovery).expect("discovery serialises");
    files::write_public(&dir.client_json(), &json)
}

/// Parses a `--listen` value with a sentence on failure.
pub fn parse_listen(raw: &str) -> Result<SocketAddr, ServerError> {
    raw.parse().map_err(|_| ServerError::BadConfig {
        source_name: "--listen".into(),
        reason: format!("{raw:?} is not an address and port such as {DEFAULT_LISTEN}"),
    })
}

/// Whether `path` looks like a data directory already set up.
pub fn is_initialised(path: &Path) -> bool {
    DataDir::new(path).bench_db().exists()
}
