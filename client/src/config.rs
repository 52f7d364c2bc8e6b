//! Where the server is, where the vault lives, and the idle policy.
//!
//! SKELETON.

use std::path::PathBuf;
use std::time::Duration;

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
