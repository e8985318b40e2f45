//! The configuration file (TOML).
//!
//! ```toml
//! [server]
//! host = "127.0.0.1"
//! port = 5433
//! max_connections = 100
//! statement_timeout = "5min"   # every session's default; SET statement_timeout overrides
//! statements_per_user = 4       # more of one user's statements wait for a turn
//!
//! [users.analyst]
//! # a PostgreSQL SCRAM-SHA-256 verifier, as `huaxiang passwd analyst` writes it
//! password = "SCRAM-SHA-256$4096:...$...:..."
//! admin = false
//! roles = ["analysts"]   # GRANT … TO analysts reaches this user
//! ```
//!
//! Unknown keys are errors, so a typo does not silently leave a setting at its default.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::access::RoleInfo;
use crate::access::verifier::Verifier;
use crate::engine::EngineOptions;
use crate::sources::SourceConfig;
use crate::sources::Sources;

pub use crate::access::{DEFAULT_PASSWORD, DEFAULT_USER};
pub const DEFAULT_PORT: u16 = 5433;
pub const DEFAULT_HOST: &str = "127.0.0.1";
pub const CONFIG_FILE_NAME: &str = "huaxiang.toml";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub users: BTreeMap<String, UserConfig>,
    /// Live databases (`[sources.<name>]`), mapped to tables by `STORED AS POSTGRES|MYSQL`.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub data_dir: Option<PathBuf>,
    /// Connections beyond this are refused (0 or absent: no limit).
    pub max_connections: Option<usize>,
    /// The only directory whose files SQL over the wire may read or write, and only as an
    /// admin (default `<data dir>/imports`).
    pub import_dir: Option<PathBuf>,
    /// PEM certificate chain for TLS (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS: PKCS#8, PKCS#1 or SEC1.
    pub tls_key: Option<PathBuf>,
    /// Refuse clients that do not use TLS.
    #[serde(default)]
    pub require_tls: bool,
    /// Memory one connection's query may hold, in MiB (default: a quarter of the machine's
    /// memory; 0: no limit).
    pub query_memory_mb: Option<u64>,
    /// Every session's `statement_timeout` until it sets its own, as PostgreSQL writes it
    /// (`"30s"`, `"5min"`, `"1500ms"`, `"0"` for none; default none).
    pub statement_timeout: Option<String>,
    /// Statements one user may run at once over the wire; more wait for a turn (within their
    /// `statement_timeout`, and a cancel stops the wait). 0 or absent: no limit.
    pub statements_per_user: Option<usize>,
}

impl ServerConfig {
    /// `statement_timeout` in milliseconds (0: none).
    pub fn statement_timeout_ms(&self) -> anyhow::Result<u64> {
        match &self.statement_timeout {
            None => Ok(0),
            Some(text) => parse_duration_ms(text).ok_or_else(|| {
                anyhow::anyhow!(
                    "server.statement_timeout = \"{text}\" is not a duration such as \"30s\", \
                     \"5min\" or \"1500ms\""
                )
            }),
        }
    }
}

/// A duration as PostgreSQL's `statement_timeout` takes it: a whole number with an optional
/// unit (`ms` — the default —, `s`, `min`, `h`, `d`).
pub fn parse_duration_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1_000,
        "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    number.checked_mul(factor)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// A SCRAM-SHA-256 verifier in PostgreSQL's format (never the password itself), or
    /// PostgreSQL's older `md5…` verifier for clients that only speak MD5 authentication.
    pub password: String,
    /// Admins may run DDL, train models, grant and read files of the import directory.
    #[serde(default)]
    pub admin: bool,
    /// The roles the user is a member of; `GRANT … TO role` reaches every member.
    #[serde(default)]
    pub roles: Vec<String>,
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let config: Config =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.message()))?;
        for (name, user) in &config.users {
            for role in std::iter::once(name).chain(&user.roles) {
                if role.is_empty() || role.eq_ignore_ascii_case("public") {
                    anyhow::bail!(
                        "user {name}: \"{role}\" cannot name a user or role (PUBLIC means everyone)"
                    );
                }
            }
            if user.password.trim().is_empty() {
                anyhow::bail!("user {name} has no password; run `huaxiang passwd {name}`");
            }
            Verifier::parse(&user.password).map_err(|e| {
                anyhow::anyhow!(
                    "user {name}: password is not a SCRAM-SHA-256 or md5 verifier ({e}); \
                     set it with `huaxiang passwd {name}`"
                )
            })?;
        }
        match (&config.server.tls_cert, &config.server.tls_key) {
            (Some(_), None) => anyhow::bail!("server.tls_cert is set but server.tls_key is not"),
            (None, Some(_)) => anyhow::bail!("server.tls_key is set but server.tls_cert is not"),
            (None, None) if config.server.require_tls => {
                anyhow::bail!("server.require_tls needs server.tls_cert and server.tls_key")
            }
            _ => {}
        }
        for (name, source) in &config.sources {
            source.validate(name).map_err(|e| anyhow::anyhow!(e))?;
        }
        config.server.statement_timeout_ms()?;
        Ok(config)
    }

    /// The config file to use: the one given, else `<data dir>/huaxiang.toml` when it exists.
    pub fn locate(explicit: Option<&Path>, data_dir: &Path) -> Option<PathBuf> {
        match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => {
                let p = data_dir.join(CONFIG_FILE_NAME);
                p.exists().then_some(p)
            }
        }
    }
}

/// The memory limit of one query in bytes: `query_memory_mb` when set (0: none), else a
/// quarter of the machine's memory (from /proc/meminfo; none when it cannot be read).
pub fn query_memory_limit(config: &Config) -> Option<usize> {
    const MIB: u64 = 1024 * 1024;
    match config.server.query_memory_mb {
        Some(0) => None,
        Some(mb) => usize::try_from(mb.saturating_mul(MIB)).ok(),
        None => {
            let meminfo = fs::read_to_string("/proc/meminfo").ok()?;
            let kib: u64 = meminfo
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            usize::try_from(kib * 1024 / 4).ok()
        }
    }
}

/// Sets a user's password verifier in a config file, keeping its comments and layout.
pub fn set_user_password(
    path: &Path,
    user: &str,
    verifier: &str,
    admin: bool,
) -> anyhow::Result<()> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => anyhow::bail!("cannot read config file {}: {e}", path.display()),
    };
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?;
    let users = doc
        .entry("users")
        .or_insert(toml_edit::Item::Table(toml_edit::Table::new()));
    let Some(users) = users.as_table_mut() else {
        anyhow::bail!("config file {}: `users` is not a table", path.display());
    };
    users.set_implicit(true);
    let entry = users
        .entry(user)
        .or_insert(toml_edit::Item::Table(toml_edit::Table::new()));
    let Some(entry) = entry.as_table_mut() else {
        anyhow::bail!(
            "config file {}: users.{user} is not a table",
            path.display()
        );
    };
    entry["password"] = toml_edit::value(verifier);
    entry["admin"] = toml_edit::value(admin);
    let new_text = doc.to_string();
    // Check that what we write can be read back before replacing the file.
    Config::parse(&new_text)?;
    write_atomically(path, new_text.as_bytes())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("config"),
        std::process::id()
    ));
    let mut file = fs::File::create(&tmp)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path)?;
    Ok(())
}

impl EngineOptions {
    /// With the sources declared in `config`.
    pub fn with_config(mut self, config: &Config) -> Self {
        self.sources = Arc::new(Sources::new(config.sources.clone()));
        self.import_dir = config.server.import_dir.clone();
        if !config.users.is_empty() {
            self.roles = config
                .users
                .iter()
                .map(|(name, user)| RoleInfo {
                    name: name.clone(),
                    admin: user.admin,
                    login: true,
                })
                .collect();
            for role in config.users.values().flat_map(|u| &u.roles) {
                if !self.roles.iter().any(|r| &r.name == role) {
                    self.roles.push(RoleInfo {
                        name: role.clone(),
                        admin: false,
                        login: false,
                    });
                }
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_timeouts_are_read_as_postgresql_writes_them() {
        for (text, ms) in [
            ("1500", 1500),
            ("1500ms", 1500),
            ("30s", 30_000),
            ("5min", 300_000),
            ("2h", 7_200_000),
            ("1d", 86_400_000),
            ("0", 0),
        ] {
            assert_eq!(parse_duration_ms(text), Some(ms), "{text}");
        }
        for bad in ["", "s", "5 minutes", "-1s", "1.5s", "99999999999999999999"] {
            assert_eq!(parse_duration_ms(bad), None, "{bad}");
        }
        let config =
            Config::parse("[server]\nstatement_timeout = \"2s\"\nstatements_per_user = 3\n")
                .expect("valid");
        assert_eq!(config.server.statement_timeout_ms().ok(), Some(2000));
        assert_eq!(config.server.statements_per_user, Some(3));
        let err = Config::parse("[server]\nstatement_timeout = \"soon\"\n")
            .expect_err("not a duration")
            .to_string();
        assert!(err.contains("statement_timeout"), "{err}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::parse("[server]\nprot = 5433\n").unwrap_err();
        assert!(err.to_string().contains("prot"), "{err}");
        let err = Config::parse("colour = 1\n").unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn public_names_no_user_or_role() {
        let verifier = crate::access::verifier::make_verifier("pw");
        let err = Config::parse(&format!(
            "[users.a]\npassword = \"{verifier}\"\nroles = [\"PUBLIC\"]\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("PUBLIC means everyone"), "{err}");
        let config = Config::parse(&format!(
            "[users.a]\npassword = \"{verifier}\"\nroles = [\"analyst\"]\n"
        ))
        .unwrap();
        assert_eq!(config.users["a"].roles, ["analyst"]);
    }

    #[test]
    fn users_need_a_scram_verifier() {
        let err = Config::parse("[users.a]\npassword = \"secret\"\n").unwrap_err();
        assert!(err.to_string().contains("SCRAM"), "{err}");
        let err = Config::parse("[users.a]\npassword = \"\"\n").unwrap_err();
        assert!(err.to_string().contains("no password"), "{err}");
    }

    #[test]
    fn set_user_password_keeps_comments_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huaxiang.toml");
        fs::write(&path, "# my settings\n[server]\nport = 6000\n").unwrap();
        let verifier = crate::access::verifier::make_verifier("pw");
        set_user_password(&path, "analyst", &verifier, false).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# my settings"));
        let config = Config::load(&path).unwrap();
        assert_eq!(config.server.port, Some(6000));
        assert_eq!(config.users["analyst"].password, verifier);
    }
}
