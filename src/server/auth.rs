//! Password authentication by SCRAM-SHA-256 (RFC 5802 / RFC 7677), as PostgreSQL does it.
//!
//! Users are stored as PostgreSQL-format verifiers
//! (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`), so a leaked config file does not
//! let anyone log in. pgwire's SCRAM handler needs the *salted password* instead (from which a
//! client proof can be forged), which is why the server side of the exchange is written here:
//! it is the RFC's verification with StoredKey/ServerKey, using the `hmac`/`sha2` crates; the
//! verifiers are made by `postgres-protocol`, the same code tokio-postgres uses.
//!
//! A user configured with PostgreSQL's older `md5…` verifier logs in with MD5 password
//! authentication instead (for old clients; as in PostgreSQL, the stored verifier decides).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::{Sink, SinkExt};
use hmac::{Hmac, KeyInit, Mac};
use pgwire::api::auth::{
    DefaultServerParameterProvider, ServerParameterProvider, StartupHandler, finish_authentication,
    protocol_negotiation, save_startup_parameters_to_metadata,
};
use pgwire::api::{ClientInfo, METADATA_DATABASE, METADATA_USER, PgWireConnectionState};

use super::connection::Connection;
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::access::verifier::{SCRAM_SHA_256, ScramVerifier, Verifier, make_verifier};
use crate::access::{DEFAULT_PASSWORD, DEFAULT_USER};
use crate::catalog::DATABASE;
use crate::config::Config;
use crate::error::codes;

/// A login the server accepts.
#[derive(Debug, Clone)]
pub struct UserEntry {
    pub verifier: Verifier,
    pub admin: bool,
    /// The roles the user is a member of.
    pub roles: Vec<String>,
}

/// The users a server accepts.
#[derive(Debug, Clone)]
pub struct Users {
    users: BTreeMap<String, UserEntry>,
    /// True when no users are configured and the built-in `huaxiang`/`huaxiang` user is used.
    pub is_default: bool,
    /// A verifier for names that do not exist, so unknown users go through the same exchange and
    /// cannot be told apart from a wrong password.
    decoy: ScramVerifier,
}

impl Users {
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let decoy = ScramVerifier::parse(&make_verifier(&random_nonce()))?;
        if config.users.is_empty() {
            let verifier = Verifier::Scram(ScramVerifier::parse(&make_verifier(DEFAULT_PASSWORD))?);
            let mut users = BTreeMap::new();
            users.insert(
                DEFAULT_USER.to_string(),
                UserEntry {
                    verifier,
                    admin: true,
                    roles: Vec::new(),
                },
            );
            return Ok(Self {
                users,
                is_default: true,
                decoy,
            });
        }
        let mut users = BTreeMap::new();
        for (name, user) in &config.users {
            users.insert(
                name.clone(),
                UserEntry {
                    verifier: Verifier::parse(&user.password)
                        .map_err(|e| format!("user {name}: {e}"))?,
                    admin: user.admin,
                    roles: user.roles.clone(),
                },
            );
        }
        Ok(Self {
            users,
            is_default: false,
            decoy,
        })
    }

    pub fn get(&self, name: &str) -> Option<&UserEntry> {
        self.users.get(name)
    }

    pub fn names(&self) -> Vec<String> {
        self.users.keys().cloned().collect()
    }
}

fn random_nonce() -> String {
    BASE64.encode(rand::random::<[u8; 18]>())
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return Vec::new(),
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// Constant-time comparison of two byte strings.
fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Where a connection is in the SCRAM exchange.
#[derive(Debug)]
enum ScramState {
    /// Waiting for the client's SASLInitialResponse.
    Initial,
    /// server-first sent; waiting for client-final.
    ServerFirstSent(Box<Exchange>),
    /// MD5 salt sent to a user with an md5 verifier; waiting for the hashed password.
    Md5Sent {
        user: String,
        salt: [u8; 4],
        verifier: String,
    },
    Done,
}

/// What the server remembers between server-first and client-final.
#[derive(Debug)]
struct Exchange {
    user: String,
    known_user: bool,
    verifier: ScramVerifier,
    client_first_bare: String,
    server_first: String,
    nonce: String,
    gs2_header: String,
}

/// The startup handler of one connection (pgwire keeps login state in the handler, so every
/// connection gets its own).
pub struct ScramStartupHandler {
    users: Arc<Users>,
    parameters: DefaultServerParameterProvider,
    state: Mutex<ScramState>,
    /// Set when the connection is over the server's limit: the login is refused with 53300.
    too_many_connections: bool,
    /// The connection: it registers its cancel key at login, for CancelRequest.
    connection: Arc<Connection>,
    /// Refuse a login over plaintext.
    require_tls: bool,
    /// The server's default `statement_timeout` (ms, 0: none), the session's until it sets one.
    statement_timeout_ms: u64,
}

impl ScramStartupHandler {
    pub fn new(
        users: Arc<Users>,
        too_many_connections: bool,
        connection: Arc<Connection>,
        require_tls: bool,
        statement_timeout_ms: u64,
    ) -> Self {
        let mut parameters = DefaultServerParameterProvider::default();
        parameters.server_version = crate::pg::settings::server_version();
        Self {
            users,
            parameters,
            state: Mutex::new(ScramState::Initial),
            too_many_connections,
            connection,
            require_tls,
            statement_timeout_ms,
        }
    }
}

fn fatal(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".to_string(),
        code.to_string(),
        message.into(),
    )))
}

fn auth_failed(user: &str) -> PgWireError {
    fatal(
        codes::INVALID_PASSWORD,
        format!("password authentication failed for user \"{user}\""),
    )
}

fn protocol_violation(message: &str) -> PgWireError {
    fatal("08P01", format!("malformed SCRAM message: {message}"))
}

/// Parses `key=value` attributes of a SCRAM message.
fn attributes(message: &str) -> HashMap<char, &str> {
    message
        .split(',')
        .filter_map(|part| {
            let mut chars = part.chars();
            let key = chars.next()?;
            let rest = part.get(key.len_utf8()..)?;
            rest.strip_prefix('=').map(|v| (key, v))
        })
        .collect()
}

#[async_trait]
impl StartupHandler for ScramStartupHandler {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(startup) => {
                if self.too_many_connections {
                    return Err(fatal("53300", "sorry, too many clients already"));
                }
                if self.require_tls && !client.is_secure() {
                    return Err(fatal(
                        codes::INVALID_AUTHORIZATION,
                        "this server accepts only TLS connections (connect with sslmode=require)",
                    ));
                }
                protocol_negotiation(client, &startup).await?;
                save_startup_parameters_to_metadata(client, &startup);
                let Some(user) = client.metadata().get(METADATA_USER).cloned() else {
                    return Err(fatal(
                        codes::INVALID_AUTHORIZATION,
                        "no PostgreSQL user name specified in startup packet",
                    ));
                };
                let database = client
                    .metadata()
                    .get(METADATA_DATABASE)
                    .cloned()
                    .unwrap_or_else(|| user.clone());
                if database != DATABASE {
                    return Err(fatal(
                        "3D000",
                        format!(
                            "database \"{database}\" does not exist (connect to database \"{DATABASE}\")"
                        ),
                    ));
                }
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                if let Some(Verifier::Md5(verifier)) = self.users.get(&user).map(|u| &u.verifier) {
                    let salt = rand::random::<[u8; 4]>();
                    *self.state.lock().await = ScramState::Md5Sent {
                        user: user.clone(),
                        salt,
                        verifier: verifier.clone(),
                    };
                    client
                        .send(PgWireBackendMessage::Authentication(
                            Authentication::MD5Password(salt.to_vec()),
                        ))
                        .await?;
                } else {
                    client
                        .send(PgWireBackendMessage::Authentication(Authentication::SASL(
                            vec![SCRAM_SHA_256.to_string()],
                        )))
                        .await?;
                }
            }
            PgWireFrontendMessage::PasswordMessageFamily(msg) => {
                let mut state = self.state.lock().await;
                match std::mem::replace(&mut *state, ScramState::Done) {
                    ScramState::Initial => {
                        let initial = msg.into_sasl_initial_response()?;
                        if initial.auth_method != SCRAM_SHA_256 {
                            return Err(fatal(
                                "28000",
                                format!(
                                    "SASL mechanism {} is not supported (use SCRAM-SHA-256)",
                                    initial.auth_method
                                ),
                            ));
                        }
                        let data = initial
                            .data
                            .ok_or_else(|| protocol_violation("empty client-first message"))?;
                        let client_first = std::str::from_utf8(&data)
                            .map_err(|_| protocol_violation("client-first is not UTF-8"))?;
                        *state = self.server_first(client, client_first).await?;
                    }
                    ScramState::ServerFirstSent(exchange) => {
                        let Exchange {
                            user,
                            known_user,
                            verifier,
                            client_first_bare,
                            server_first,
                            nonce,
                            gs2_header,
                        } = *exchange;
                        let response = msg.into_sasl_response()?;
                        let client_final = std::str::from_utf8(&response.data)
                            .map_err(|_| protocol_violation("client-final is not UTF-8"))?;
                        let (without_proof, proof_b64) = client_final
                            .rsplit_once(",p=")
                            .ok_or_else(|| protocol_violation("client-final has no proof"))?;
                        let attrs = attributes(without_proof);
                        if attrs.get(&'r') != Some(&nonce.as_str()) {
                            return Err(protocol_violation("nonce mismatch"));
                        }
                        let expected_binding = BASE64.encode(gs2_header.as_bytes());
                        if attrs.get(&'c') != Some(&expected_binding.as_str()) {
                            return Err(protocol_violation("channel binding mismatch"));
                        }
                        let proof = BASE64
                            .decode(proof_b64)
                            .map_err(|_| protocol_violation("proof is not base64"))?;
                        let auth_message =
                            format!("{client_first_bare},{server_first},{without_proof}");
                        // RFC 5802 §3: ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage);
                        // the proof is right when H(ClientKey) = StoredKey.
                        let client_signature =
                            hmac(&verifier.stored_key, &[auth_message.as_bytes()]);
                        if proof.len() != client_signature.len() {
                            return Err(auth_failed(&user));
                        }
                        let client_key: Vec<u8> = proof
                            .iter()
                            .zip(&client_signature)
                            .map(|(p, s)| p ^ s)
                            .collect();
                        let stored_key = Sha256::digest(&client_key);
                        if !known_user || !same_bytes(&stored_key, &verifier.stored_key) {
                            return Err(auth_failed(&user));
                        }
                        let server_signature =
                            hmac(&verifier.server_key, &[auth_message.as_bytes()]);
                        let server_final = format!("v={}", BASE64.encode(server_signature));
                        client
                            .send(PgWireBackendMessage::Authentication(
                                Authentication::SASLFinal(server_final.into_bytes().into()),
                            ))
                            .await?;
                        self.complete_login(client, &user).await?;
                    }
                    ScramState::Md5Sent {
                        user,
                        salt,
                        verifier,
                    } => {
                        let sent = msg.into_password()?.password;
                        // The client sends md5(hex(md5(password + user)) + salt), hex, prefixed.
                        let mut inner = verifier.trim_start_matches("md5").as_bytes().to_vec();
                        inner.extend_from_slice(&salt);
                        let expected = format!("md5{}", hex_lower(&md5::Md5::digest(&inner)));
                        if !same_bytes(sent.as_bytes(), expected.as_bytes()) {
                            return Err(auth_failed(&user));
                        }
                        self.complete_login(client, &user).await?;
                    }
                    ScramState::Done => {
                        return Err(protocol_violation("unexpected authentication message"));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl ScramStartupHandler {
    /// After a correct password: the connection's cancel key, then AuthenticationOk, the
    /// server parameters and ReadyForQuery.
    async fn complete_login<C>(&self, client: &mut C, user: &str) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (pid, secret) = (
            rand::random::<i32>().abs(),
            pgwire::messages::startup::SecretKey::I32(rand::random::<i32>()),
        );
        // Registered as long as the connection lives.
        self.connection
            .register_cancel_key(pid, &secret, client.is_secure());
        client.set_pid_and_secret_key(pid, secret);
        if self.statement_timeout_ms > 0 {
            super::session::set_statement_timeout_ms(client, self.statement_timeout_ms);
        }
        let is_superuser = self.users.get(user).is_some_and(|u| u.admin);
        let mut params = self
            .parameters
            .server_parameters(client)
            .unwrap_or_default();
        params.insert(
            "is_superuser".to_string(),
            if is_superuser { "on" } else { "off" }.to_string(),
        );
        finish_authentication(client, &FixedParameters(params)).await?;

        Ok(())
    }

    async fn server_first<C>(&self, client: &mut C, client_first: &str) -> PgWireResult<ScramState>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // client-first = gs2-header client-first-bare; gs2-header = cbind-flag "," [authzid] ","
        let mut parts = client_first.splitn(3, ',');
        let cbind = parts.next().unwrap_or_default();
        let authzid = parts.next().unwrap_or_default();
        let bare = parts
            .next()
            .ok_or_else(|| protocol_violation("client-first has no bare part"))?;
        if cbind.starts_with("p=") {
            return Err(fatal(
                "28000",
                "channel binding (SCRAM-SHA-256-PLUS) is not offered by this server",
            ));
        }
        if cbind != "n" && cbind != "y" {
            return Err(protocol_violation("bad channel-binding flag"));
        }
        let gs2_header = format!("{cbind},{authzid},");
        let client_nonce = attributes(bare)
            .get(&'r')
            .map(|s| s.to_string())
            .ok_or_else(|| protocol_violation("client-first has no nonce"))?;
        // PostgreSQL ignores the SCRAM user name and uses the startup packet's.
        let user = client
            .metadata()
            .get(METADATA_USER)
            .cloned()
            .unwrap_or_default();
        let (known_user, verifier) = match self.users.get(&user).map(|u| &u.verifier) {
            Some(Verifier::Scram(verifier)) => (true, verifier.clone()),
            // Unknown users (and md5 users, who are never offered SCRAM) go through the same
            // exchange with the decoy and fail at the end.
            _ => (false, self.users.decoy.clone()),
        };
        let nonce = format!("{client_nonce}{}", random_nonce());
        let server_first = format!(
            "r={nonce},s={},i={}",
            BASE64.encode(&verifier.salt),
            verifier.iterations
        );
        client
            .send(PgWireBackendMessage::Authentication(
                Authentication::SASLContinue(server_first.clone().into_bytes().into()),
            ))
            .await?;
        Ok(ScramState::ServerFirstSent(Box::new(Exchange {
            user,
            known_user,
            verifier,
            client_first_bare: bare.to_string(),
            server_first,
            nonce,
            gs2_header,
        })))
    }
}

/// Parameters computed once per login.
struct FixedParameters(HashMap<String, String>);

impl ServerParameterProvider for FixedParameters {
    fn server_parameters<C>(&self, _client: &C) -> Option<HashMap<String, String>>
    where
        C: ClientInfo,
    {
        Some(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_round_trip_and_reject_garbage() {
        let v = make_verifier("secret");
        let parsed = ScramVerifier::parse(&v).unwrap();
        assert_eq!(parsed.iterations, 4096);
        assert_eq!(parsed.stored_key.len(), 32);
        for bad in [
            "",
            "secret",
            "SCRAM-SHA-256$x:abc$a:b",
            "SCRAM-SHA-256$4096:c2FsdA==$YQ==:Yg==",
        ] {
            assert!(ScramVerifier::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn proof_from_postgres_protocol_client_verifies() {
        use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};
        let verifier = ScramVerifier::parse(&make_verifier("pässword")).unwrap();
        let mut client = ScramSha256::new("pässword".as_bytes(), ChannelBinding::unsupported());
        let client_first = String::from_utf8(client.message().to_vec()).unwrap();
        let bare = client_first.strip_prefix("n,,").unwrap();
        let client_nonce = attributes(bare)[&'r'].to_string();
        let nonce = format!("{client_nonce}servernonce");
        let server_first = format!(
            "r={nonce},s={},i={}",
            BASE64.encode(&verifier.salt),
            verifier.iterations
        );
        client.update(server_first.as_bytes()).unwrap();
        let client_final = String::from_utf8(client.message().to_vec()).unwrap();
        let (without_proof, proof_b64) = client_final.rsplit_once(",p=").unwrap();
        let auth_message = format!("{bare},{server_first},{without_proof}");
        let proof = BASE64.decode(proof_b64).unwrap();
        let signature = hmac(&verifier.stored_key, &[auth_message.as_bytes()]);
        let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
        assert!(same_bytes(
            &Sha256::digest(&client_key),
            &verifier.stored_key
        ));
        let server_signature = hmac(&verifier.server_key, &[auth_message.as_bytes()]);
        client
            .finish(format!("v={}", BASE64.encode(server_signature)).as_bytes())
            .expect("client accepts the server signature");
    }
}
