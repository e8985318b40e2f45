//! PostgreSQL's password verifiers: users are stored as
//! `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` or `md5…`, so a leaked config
//! file does not let anyone log in. The exchange that checks a password against them is
//! pgwire code: `server::auth`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

pub(crate) const SCRAM_SHA_256: &str = "SCRAM-SHA-256";

/// A PostgreSQL SCRAM-SHA-256 verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramVerifier {
    pub(crate) iterations: u32,
    pub(crate) salt: Vec<u8>,
    pub(crate) stored_key: Vec<u8>,
    pub(crate) server_key: Vec<u8>,
}

impl ScramVerifier {
    /// Parses `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let rest = text
            .strip_prefix("SCRAM-SHA-256$")
            .ok_or("expected it to start with SCRAM-SHA-256$")?;
        let (iter_salt, keys) = rest.split_once('$').ok_or("missing '$' before the keys")?;
        let (iterations, salt) = iter_salt
            .split_once(':')
            .ok_or("missing ':' between iterations and salt")?;
        let (stored_key, server_key) =
            keys.split_once(':').ok_or("missing ':' between the keys")?;
        let iterations: u32 = iterations
            .parse()
            .map_err(|_| format!("iteration count {iterations:?} is not a number"))?;
        if iterations == 0 {
            return Err("iteration count must be positive".to_string());
        }
        let decode = |what: &str, s: &str| {
            BASE64
                .decode(s)
                .map_err(|e| format!("{what} is not base64: {e}"))
        };
        let verifier = Self {
            iterations,
            salt: decode("salt", salt)?,
            stored_key: decode("StoredKey", stored_key)?,
            server_key: decode("ServerKey", server_key)?,
        };
        if verifier.stored_key.len() != 32 || verifier.server_key.len() != 32 {
            return Err("keys must be 32 bytes (SHA-256)".to_string());
        }
        Ok(verifier)
    }
}

/// A new verifier for `password` with a random salt.
pub fn make_verifier(password: &str) -> String {
    postgres_protocol::password::scram_sha_256(password.as_bytes())
}

/// PostgreSQL's md5 verifier of `user`'s `password`: `md5` and the hex MD5 of password+user.
pub fn make_md5_verifier(password: &str, user: &str) -> String {
    postgres_protocol::password::md5(password.as_bytes(), user)
}

/// How a user's password is checked: PostgreSQL's two verifier formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verifier {
    Scram(ScramVerifier),
    /// `md5` + 32 lower-case hex digits.
    Md5(String),
}

impl Verifier {
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(hex) = text.strip_prefix("md5") {
            if hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Ok(Verifier::Md5(text.to_ascii_lowercase()));
            }
            return Err("an md5 verifier is `md5` and 32 hex digits".to_string());
        }
        ScramVerifier::parse(text).map(Verifier::Scram)
    }
}
