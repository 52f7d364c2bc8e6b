//! Where the server is, where the vault lives, and the idle policy.
//!
//! [`Config::load`] looks, in order, at:
//!
//! 1. `DOCTORS_BENCH_SERVER_URL` and `DOCTORS_BENCH_CA_CERT`;
//! 2. `$XDG_CONFIG_HOME/doctors-bench/client.json`
//!    (`{"server_url": .., "ca_cert_path": .., "idle_timeout_secs": ..}`);
//! 3. the `client.json` the demo server writes into its data folder
//!    (`$XDG_DATA_HOME/doctors-bench/server/client.json`).
//!
//! Vaults live under `$DOCTORS_BENCH_DATA_DIR`, else
//! `$XDG_DATA_HOME/doctors-bench/client`. The idle timeout is 30 minutes;
//! `DOCTORS_BENCH_IDLE_TIMEOUT_SECS` or the config file may shorten it,
//! never lengthen it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use uuid::Uuid;

use crate::CoreError;

/// The longest idle timeout policy may set.
pub const MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Client configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// `https://host:port` of the clinic API.
    pub server_url: String,
    /// PEM of the CA to pin; `None` uses no roots at all (every connection
    /// fails) rather than the system store.
    pub ca_cert_path: Option<PathBuf>,
    /// Folder holding one vault per practitioner.
    pub data_dir: PathBuf,
    /// Lock after this long without input; never above [`MAX_IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
    /// Shown to the server with each sign-in.
    pub device_name: String,
}

/// The shape of `client.json`, ours or the demo server's.
#[derive(Deserialize)]
struct ConfigFile {
    server_url: String,
    ca_cert_path: Option<PathBuf>,
    idle_timeout_secs: Option<u64>,
}

impl Config {
    /// Loads the configuration from the environment and config files.
    pub fn load() -> Result<Config, CoreError> {
        Config::load_with(&|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// [`Config::load`] with the environment supplied by the caller.
    pub fn load_with(env: &dyn Fn(&str) -> Option<String>) -> Result<Config, CoreError> {
        let home = env("HOME").map(PathBuf::from);
        let xdg = |var: &str, fallback: &str| {
            env(var)
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(fallback)))
        };
        let config_home = xdg("XDG_CONFIG_HOME", ".config");
        let data_home = xdg("XDG_DATA_HOME", ".local/share");

        let mut file_timeout = None;
        let (server_url, ca_cert_path) = match env("DOCTORS_BENCH_SERVER_URL") {
            Some(url) => (url, env("DOCTORS_BENCH_CA_CERT").map(PathBuf::from)),
            None => {
                let candidates = [
                    config_home.map(|d| d.join("doctors-bench/client.json")),
                    data_home
                        .as_ref()
                        .map(|d| d.join("doctors-bench/server/client.json")),
                ];
                let file = candidates
                    .into_iter()
                    .flatten()
                    .find(|p| p.is_file())
                    .ok_or_else(|| {
                        CoreError::Other(
                            "No clinic server is configured. Set DOCTORS_BENCH_SERVER_URL and \
                             DOCTORS_BENCH_CA_CERT, or write ~/.config/doctors-bench/client.json."
                                .into(),
                        )
                    })?;
                let parsed = read_config_file(&file)?;
                file_timeout = parsed.idle_timeout_secs;
                let ca = env("DOCTORS_BENCH_CA_CERT")
                    .map(PathBuf::from)
                    .or(parsed.ca_cert_path);
                (parsed.server_url, ca)
            }
        };

        let data_dir = env("DOCTORS_BENCH_DATA_DIR")
            .map(PathBuf::from)
            .or_else(|| data_home.map(|d| d.join("doctors-bench/client")))
            .ok_or_else(|| {
                CoreError::Other(
                    "Cannot tell where to keep the vault: set HOME or DOCTORS_BENCH_DATA_DIR."
                        .into(),
                )
            })?;

        let env_timeout = env("DOCTORS_BENCH_IDLE_TIMEOUT_SECS")
            .map(|v| {
                v.trim().parse::<u64>().map_err(|_| {
                    CoreError::Other(
                        "DOCTORS_BENCH_IDLE_TIMEOUT_SECS must be a whole number of seconds.".into(),
                    )
                })
            })
            .transpose()?;
        let idle_timeout = idle_timeout_from(env_timeout.or(file_timeout));

        let device_name = env("DOCTORS_BENCH_DEVICE_NAME")
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|h| h.trim().to_string())
            })
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "Doctor's Bench desktop".to_string());

        Ok(Config {
            server_url,
            ca_cert_path,
            data_dir,
            idle_timeout,
            device_name,
        })
    }

    /// The server's host and port, made safe as one folder name.
    pub fn server_folder(&self) -> String {
        let without_scheme = self
            .server_url
            .split("://")
            .nth(1)
            .unwrap_or(&self.server_url);
        let host = without_scheme.split('/').next().unwrap_or_default();
        path_component(host)
    }

    /// The vault file of `username` for this server.
    pub fn vault_path(&self, username: &str) -> PathBuf {
        self.data_dir
            .join(self.server_folder())
            .join(path_component(&username.to_lowercase()))
            .join("vault.db")
    }
}

/// A configured timeout may only shorten the 30-minute policy; zero (or
/// nothing) means the policy itself.
pub fn idle_timeout_from(secs: Option<u64>) -> Duration {
    match secs {
        Some(s) if s > 0 => Duration::from_secs(s).min(MAX_IDLE_TIMEOUT),
        _ => MAX_IDLE_TIMEOUT,
    }
}

fn read_config_file(path: &Path) -> Result<ConfigFile, CoreError> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        CoreError::Other(format!(
            "The configuration file {} could not be read ({}).",
            path.display(),
            err.kind()
        ))
    })?;
    serde_json::from_str(&text).map_err(|err| {
        CoreError::Other(format!(
            "The configuration file {} is not valid ({err}). It needs \"server_url\" and \
             \"ca_cert_path\".",
            path.display()
        ))
    })
}

/// Encodes `raw` as one path component, injectively: letters, digits, `-`
/// and `.` stay; every other byte (and a leading dot, so `..` cannot climb
/// out) becomes `_xx` in hex.
pub fn path_component(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for (i, b) in raw.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric() || b == b'-' || (b == b'.' && i > 0);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b:02x}"));
        }
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// Creates `dir` and any missing parents readable by this user only
/// (`0700` on Unix), and tightens `dir` itself if it already existed.
///
/// The vault's contents are encrypted, but its path names the server and
/// the practitioner, and nobody else on a shared computer needs to list it.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// This installation's id: random, made once, kept in the data folder.
pub fn device_id(data_dir: &Path) -> Result<Uuid, CoreError> {
    let path = data_dir.join("device-id");
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Ok(id) = Uuid::parse_str(text.trim()) {
            return Ok(id);
        }
    }
    let id = Uuid::new_v4();
    create_private_dir(data_dir)
        .and_then(|()| std::fs::write(&path, id.to_string()))
        .map_err(|err| {
            CoreError::Other(format!(
                "The data folder {} is not writable ({}). Check its permissions.",
                data_dir.display(),
                err.kind()
            ))
        })?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Config, CoreError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load_with(&|name| map.get(name).cloned())
    }

    #[cfg(unix)]
    #[test]
    fn data_folders_are_private_to_the_user_even_when_they_existed() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;

        let vault_dir = root.path().join("client/clinic.example/amina");
        create_private_dir(&vault_dir).unwrap();
        assert_eq!(mode(&vault_dir), 0o700);
        assert_eq!(mode(&root.path().join("client")), 0o700);

        // A folder left world-readable by an older version is tightened.
        std::fs::set_permissions(&vault_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&vault_dir).unwrap();
        assert_eq!(mode(&vault_dir), 0o700);
    }

    #[test]
    fn environment_names_the_server_and_ca() {
        let c = load(&[
            ("HOME", "/home/amina"),
            ("DOCTORS_BENCH_SERVER_URL", "https://127.0.0.1:8443"),
            ("DOCTORS_BENCH_CA_CERT", "/tmp/ca.pem"),
        ])
        .unwrap();
        assert_eq!(c.server_url, "https://127.0.0.1:8443");
        assert_eq!(c.ca_cert_path.as_deref(), Some(Path::new("/tmp/ca.pem")));
        assert_eq!(
            c.data_dir,
            Path::new("/home/amina/.local/share/doctors-bench/client")
        );
        assert_eq!(c.idle_timeout, MAX_IDLE_TIMEOUT);
    }

    #[test]
    fn idle_timeout_from_the_environment_may_shorten_but_not_lengthen_the_policy() {
        let base = [("HOME", "/h"), ("DOCTORS_BENCH_SERVER_URL", "https://x")];
        let short = load(&[base[0], base[1], ("DOCTORS_BENCH_IDLE_TIMEOUT_SECS", "120")]).unwrap();
        assert_eq!(short.idle_timeout, Duration::from_secs(120));
        let long = load(&[
            base[0],
            base[1],
            ("DOCTORS_BENCH_IDLE_TIMEOUT_SECS", "86400"),
        ])
        .unwrap();
        assert_eq!(long.idle_timeout, MAX_IDLE_TIMEOUT);
        let zero = load(&[base[0], base[1], ("DOCTORS_BENCH_IDLE_TIMEOUT_SECS", "0")]).unwrap();
        assert_eq!(zero.idle_timeout, MAX_IDLE_TIMEOUT);
    }

    #[test]
    fn the_demo_servers_client_json_is_used_when_nothing_else_is_set() {
        let dir = tempfile::tempdir().unwrap();
        let server_dir = dir.path().join("doctors-bench/server");
        std::fs::create_dir_all(&server_dir).unwrap();
        std::fs::write(
            server_dir.join("client.json"),
            r#"{"server_url":"https://127.0.0.1:9443","ca_cert_path":"/abs/ca.pem","idle_timeout_secs":7200}"#,
        )
        .unwrap();
        let data_home = dir.path().to_str().unwrap();
        let c = load(&[("HOME", "/nowhere"), ("XDG_DATA_HOME", data_home)]).unwrap();
        assert_eq!(c.server_url, "https://127.0.0.1:9443");
        assert_eq!(c.ca_cert_path.as_deref(), Some(Path::new("/abs/ca.pem")));
        assert_eq!(c.idle_timeout, MAX_IDLE_TIMEOUT);
        assert_eq!(c.data_dir, dir.path().join("doctors-bench/client"));
    }

    #[test]
    fn no_server_configured_is_a_clear_error() {
        let err = load(&[("HOME", "/nowhere")]).unwrap_err();
        assert!(err.to_string().contains("DOCTORS_BENCH_SERVER_URL"));
    }

    #[test]
    fn vault_path_is_per_server_and_per_practitioner_and_cannot_climb_out() {
        let c = load(&[
            ("HOME", "/h"),
            ("DOCTORS_BENCH_SERVER_URL", "https://127.0.0.1:8443/"),
        ])
        .unwrap();
        let p = c.vault_path("Amina");
        assert!(
            p.ends_with("127.0.0.1_3a8443/amina/vault.db"),
            "{}",
            p.display()
        );
        assert!(c
            .vault_path("..")
            .starts_with(c.data_dir.join("127.0.0.1_3a8443")));
        assert!(!c.vault_path("../x").to_string_lossy().contains("/../"));
        assert_ne!(path_component("a/b"), path_component("a_2fb"));
    }

    #[test]
    fn device_id_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = device_id(dir.path()).unwrap();
        assert_eq!(first, device_id(dir.path()).unwrap());
    }
}
