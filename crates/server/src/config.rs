//! Configuration: command-line flags, then `ACCORD_*` environment variables, then an
//! optional TOML file (`--config` / `ACCORD_CONFIG`), then defaults. `docs/configuration.md`
//! lists every key.

use serde::Deserialize;
use std::path::Path;

/// The default database: a SQLite file next to where the server runs.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://accord.db";
/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default server key file (made on first start): next to the default database.
pub const DEFAULT_SECRET_KEY_FILE: &str = "accord-secret.key";

/// Settings read from the config file; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
    pub log_format: Option<String>,
    pub secret_key_file: Option<std::path::PathBuf>,
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("config file {} is invalid: {e}", path.display()))
    }
}

/// The resolved configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    pub database_url: String,
    /// The address people reach Accord at, for links in invitations and e-mails.
    pub public_url: String,
    /// The file holding the key that encrypts secrets at rest (kept out of the database).
    pub secret_key_file: std::path::PathBuf,
}

impl Config {
    /// Whether cookies must be marked `Secure`.
    pub fn https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}
