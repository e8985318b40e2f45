//! Session statements `datafusion-postgres` has no answer for: `RESET name` / `RESET ALL`
//! (connection pools send them when a connection is handed back — asyncpg's pool sends
//! `RESET ALL`, pgbouncer's `server_reset_query` is `DISCARD ALL`-like) and `LISTEN` /
//! `UNLISTEN` / `NOTIFY`. huaxiang has no notification channels: `UNLISTEN` (of anything) has
//! nothing to stop and succeeds, as in PostgreSQL for a session that listens to nothing;
//! `LISTEN` and `NOTIFY` are refused with 0A000 rather than accepted and never delivered.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::{DFSchema, ParamValues};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::{EmptyRelation, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Reset, Statement};
use datafusion_postgres::hooks::{HookClient, QueryHook};
use pgwire::api::ClientInfo;
use pgwire::api::results::{Response, Tag};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};

use crate::error::codes;

/// Session settings `datafusion-postgres` keeps in the connection's metadata (its `SET` hook).
const METADATA_SETTINGS: [&str; 6] = [
    "datestyle",
    "bytea_output",
    "intervalstyle",
    "application_name",
    "extra_float_digits",
    "search_path",
];

/// Answers RESET, LISTEN, UNLISTEN and NOTIFY for one connection.
#[derive(Debug)]
pub struct SessionResetHook {
    /// The engine's settings a connection starts with; RESET returns to them.
    defaults: ConfigOptions,
    /// The server's default `statement_timeout` (ms, 0: none), which RESET returns to.
    statement_timeout_ms: u64,
}

impl SessionResetHook {
    pub fn new(defaults: ConfigOptions, statement_timeout_ms: u64) -> Self {
        Self {
            defaults,
            statement_timeout_ms,
        }
    }

    fn answer(
        &self,
        statement: &Statement,
        session: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        match statement {
            Statement::Reset(reset) => Some(self.reset(&reset.reset, session, client)),
            Statement::UNLISTEN { .. } => Some(Ok(Response::Execution(Tag::new("UNLISTEN")))),
            Statement::LISTEN { .. } | Statement::NOTIFY { .. } => {
                Some(Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                    "ERROR".into(),
                    codes::FEATURE_NOT_SUPPORTED.into(),
                    "LISTEN and NOTIFY are not supported: huaxiang has no notification channels"
                        .into(),
                )))))
            }
            _ => None,
        }
    }

    fn reset(
        &self,
        what: &Reset,
        session: &SessionContext,
        client: &mut dyn HookClient,
    ) -> PgWireResult<Response> {
        let metadata = client.metadata_mut();
        match what {
            Reset::ALL => {
                forget_settings(metadata, None);
                if self.statement_timeout_ms > 0 {
                    set_statement_timeout_ms(client, self.statement_timeout_ms);
                }
                let state = session.state_ref();
                *state.write().config_mut().options_mut() = self.defaults.clone();
            }
            Reset::ConfigurationParameter(name) => {
                let name = name.to_string().to_ascii_lowercase();
                if name == "statement_timeout" || METADATA_SETTINGS.contains(&name.as_str()) {
                    forget_settings(metadata, Some(&name));
                    if name == "statement_timeout" && self.statement_timeout_ms > 0 {
                        set_statement_timeout_ms(client, self.statement_timeout_ms);
                    }
                } else if let Some(entry) =
                    self.defaults.entries().into_iter().find(|e| e.key == name)
                {
                    let value = entry.value.unwrap_or_default();
                    let state = session.state_ref();
                    let mut state = state.write();
                    state
                        .config_mut()
                        .options_mut()
                        .set(&name, &value)
                        .map_err(|e| crate::server::wire_error::pg_error(&e))?;
                } else {
                    return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                        "ERROR".into(),
                        codes::UNDEFINED_OBJECT.into(),
                        format!("unrecognized configuration parameter \"{name}\""),
                    ))));
                }
            }
        }
        Ok(Response::Execution(Tag::new("RESET")))
    }
}

/// Where `datafusion-postgres` keeps `SET statement_timeout` (its private `client` module).
const STATEMENT_TIMEOUT_KEY: &str = "statement_timeout_ms";

/// The connection's `statement_timeout` in milliseconds (0: none).
pub fn statement_timeout_ms<C: ClientInfo + ?Sized>(client: &C) -> u64 {
    client
        .metadata()
        .get(STATEMENT_TIMEOUT_KEY)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Sets the connection's `statement_timeout` (the server's default, at login).
pub fn set_statement_timeout_ms<C: ClientInfo + ?Sized>(client: &mut C, ms: u64) {
    client
        .metadata_mut()
        .insert(STATEMENT_TIMEOUT_KEY.to_string(), ms.to_string());
}

/// Forgets one (or, with `None`, every) setting `datafusion-postgres` keeps per connection:
/// the statement timeout and the `SET` values it echoes back.
fn forget_settings(metadata: &mut std::collections::HashMap<String, String>, name: Option<&str>) {
    let forget = |key: &str| match name {
        None => true,
        Some("statement_timeout") => key == STATEMENT_TIMEOUT_KEY,
        Some(name) => key == name,
    };
    metadata.retain(|key, _| {
        let is_setting = key == STATEMENT_TIMEOUT_KEY || METADATA_SETTINGS.contains(&key.as_str());
        !(is_setting && forget(key))
    });
}

fn handled(statement: &Statement) -> bool {
    matches!(
        statement,
        Statement::Reset(_)
            | Statement::UNLISTEN { .. }
            | Statement::LISTEN { .. }
            | Statement::NOTIFY { .. }
    )
}

#[async_trait]
impl QueryHook for SessionResetHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.answer(statement, session_context, client)
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        handled(statement).then(|| {
            Ok(LogicalPlan::EmptyRelation(EmptyRelation {
                produce_one_row: false,
                schema: Arc::new(DFSchema::empty()),
            }))
        })
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.answer(statement, session_context, client)
    }
}
