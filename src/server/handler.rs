//! Query handling over the wire: `datafusion-postgres`'s `DfSessionService` does queries,
//! parameters and result encoding; this layer in front of it owns the statements the durable
//! catalog must see with their exact text (CREATE/DROP TABLE, VIEW, EXTERNAL TABLE), splits a
//! simple query into statements, and turns every error into a PostgreSQL SQLSTATE.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser;
use datafusion_postgres::hooks::QueryHook;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::{DfSessionService, Parser};
use std::panic::AssertUnwindSafe;

use futures::{FutureExt, Sink, StreamExt, stream};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, ErrorHandler, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;

use crate::engine::{CommandTag, Engine};
use crate::error::{SqlError, codes, describe};
use crate::sql_text::split_statements;

/// The statement type `DfSessionService` caches for the extended protocol; the string slot holds
/// the statement exactly as the client sent it.
pub type CachedStatement = (String, Option<(sqlparser::ast::Statement, LogicalPlan)>);

/// The query handler of one connection. Each connection has its own copy of the session —
/// `SET` settings, the time zone, prepared statements — while the catalog (tables, views,
/// functions' registrations) is the engine's, shared by all and durable.
pub struct QueryService {
    engine: Arc<Engine>,
    df: Arc<DfSessionService>,
    parser: Arc<StatementParser>,
}

impl QueryService {
    pub fn new(engine: Arc<Engine>) -> Self {
        let hooks: Vec<Arc<dyn QueryHook>> = vec![
            Arc::new(CursorStatementHook),
            Arc::new(super::show::ShowSettingHook),
            Arc::new(SetShowHook),
            Arc::new(TransactionStatementHook),
        ];
        // `state()` clones the settings and function registries; the catalog list inside is
        // an `Arc`, so tables and views created by any connection are seen by all.
        let session = SessionContext::new_with_state(engine.context().state());
        let df = Arc::new(DfSessionService::new_with_hooks(Arc::new(session), hooks));
        let parser = Arc::new(StatementParser {
            engine: engine.clone(),
            inner: df.query_parser(),
        });
        Self { engine, df, parser }
    }
}

/// Converts a DataFusion error into the error the client gets.
pub fn pg_error(error: &datafusion::error::DataFusionError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(&describe(error))))
}

fn error_info(error: &SqlError) -> ErrorInfo {
    let mut info = ErrorInfo::new(
        "ERROR".to_string(),
        error.sqlstate.to_string(),
        error.message.clone(),
    );
    info.detail = error.detail.clone();
    info.hint = error.hint.clone();
    info
}

/// Rewrites errors from `datafusion-postgres` (all `XX000` as shipped) to PostgreSQL SQLSTATEs.
pub fn normalize_error(error: &mut PgWireError) {
    let replacement = match error {
        PgWireError::ApiError(inner) => {
            if let Some(df) = inner.downcast_ref::<datafusion::error::DataFusionError>() {
                Some(error_info(&describe(df)))
            } else if let Some(parse) = inner.downcast_ref::<sqlparser::parser::ParserError>() {
                Some(error_info(&SqlError::new(
                    codes::SYNTAX_ERROR,
                    format!("syntax error: {parse}"),
                )))
            } else {
                Some(error_info(&SqlError::new(
                    codes::INTERNAL_ERROR,
                    inner.to_string(),
                )))
            }
        }
        _ => None,
    };
    if let Some(info) = replacement {
        *error = PgWireError::UserError(Box::new(info));
    }
}

/// Logs every error sent to a client and gives it its SQLSTATE.
pub struct SqlStateErrorHandler;

impl ErrorHandler for SqlStateErrorHandler {
    fn on_error<C>(&self, client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        normalize_error(error);
        log::debug!("error for {}: {error}", client.socket_addr());
    }
}

fn command_response(tag: CommandTag) -> Response {
    let mut pg_tag = Tag::new(&tag.command);
    if tag.command == "INSERT" {
        pg_tag = pg_tag.with_oid(0);
    }
    if let Some(rows) = tag.rows {
        pg_tag = pg_tag.with_rows(rows);
    }
    Response::Execution(pg_tag)
}

/// A panic inside DataFusion or a dependency (seen: the Parquet decoder on a corrupt file) must
/// end that query with an error, not the connection: this turns a caught panic into XX000.
fn panic_error(payload: Box<dyn std::any::Any + Send>) -> PgWireError {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    log::error!("a query panicked: {message}");
    PgWireError::UserError(Box::new(error_info(&SqlError::new(
        codes::INTERNAL_ERROR,
        format!("internal error while running the query: {message}"),
    ))))
}

/// Runs a handler future, turning a panic into an error for this query.
async fn guarded<T>(future: impl std::future::Future<Output = PgWireResult<T>>) -> PgWireResult<T> {
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => Err(panic_error(payload)),
    }
}

/// The client's `statement_timeout`, as `datafusion-postgres`'s `SET` hook records it.
fn statement_deadline<C: ClientInfo + ?Sized>(client: &C) -> Option<tokio::time::Instant> {
    let millis = client
        .metadata()
        .get("statement_timeout_ms")?
        .parse::<u64>()
        .ok()?;
    (millis > 0).then(|| tokio::time::Instant::now() + std::time::Duration::from_millis(millis))
}

fn timeout_error() -> PgWireError {
    PgWireError::UserError(Box::new(error_info(&SqlError::new(
        codes::QUERY_CANCELED,
        "canceling statement due to statement timeout",
    ))))
}

/// Runs `future` until `deadline`; past it the future is dropped (which stops DataFusion's
/// work) and the statement fails with 57014, as in PostgreSQL.
async fn until_deadline<T>(
    deadline: Option<tokio::time::Instant>,
    future: impl std::future::Future<Output = PgWireResult<T>>,
) -> PgWireResult<T> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, future)
            .await
            .unwrap_or_else(|_| Err(timeout_error())),
        None => future.await,
    }
}

/// Wraps a query response's row stream so a panic while producing rows ends the stream with an
/// error (rows are produced lazily, after the handler has returned), and so does passing the
/// statement's deadline: `datafusion-postgres` only times the planning, while the work happens
/// as the rows stream.
fn guard_rows(response: Response, deadline: Option<tokio::time::Instant>) -> Response {
    match response {
        Response::Query(mut query) => {
            let rows = std::mem::replace(query.data_rows(), Box::pin(stream::empty()));
            let guarded = AssertUnwindSafe(rows)
                .catch_unwind()
                .map(|item| match item {
                    Ok(row) => row,
                    Err(payload) => Err(panic_error(payload)),
                });
            let timed = stream::unfold(Some(Box::pin(guarded)), move |state| async move {
                let mut rows = state?;
                match until_deadline(deadline, async { Ok(rows.next().await) }).await {
                    Ok(Some(row)) => Some((row, Some(rows))),
                    Ok(None) => None,
                    // Past the deadline: report it and drop the rows (stopping the query).
                    Err(error) => Some((Err(error), None)),
                }
            });
            let mut wrapped = QueryResponse::new(query.row_schema(), timed);
            wrapped.set_command_tag(query.command_tag());
            Response::Query(wrapped)
        }
        other => other,
    }
}

/// Reads a query response's rows into memory, so that the next statement of the same simple
/// query (which may change the data) runs after this one's rows are complete, as in PostgreSQL.
async fn materialize(response: Response) -> Response {
    match response {
        Response::Query(mut query) => {
            let rows: Vec<_> = query.data_rows().collect().await;
            let mut done = QueryResponse::new(query.row_schema(), stream::iter(rows));
            done.set_command_tag(query.command_tag());
            Response::Query(done)
        }
        other => other,
    }
}

#[async_trait]
impl SimpleQueryHandler for QueryService {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statements = split_statements(query).map_err(|message| {
            PgWireError::UserError(Box::new(error_info(&SqlError::new(
                codes::SYNTAX_ERROR,
                format!("syntax error: {message}"),
            ))))
        })?;
        if statements.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        self.engine.refresh().await.map_err(|e| pg_error(&e))?;
        let many = statements.len() > 1;
        let mut responses = Vec::new();
        for statement in statements {
            let deadline = statement_deadline(client);
            let result = match self.engine.owned_ddl(statement.text) {
                Some(ddl) => {
                    until_deadline(
                        deadline,
                        guarded(async {
                            self.engine
                                .execute_owned(statement.text, ddl)
                                .await
                                .map(|tag| vec![command_response(tag)])
                                .map_err(|e| pg_error(&e))
                        }),
                    )
                    .await
                }
                None => {
                    until_deadline(
                        deadline,
                        guarded(<DfSessionService as SimpleQueryHandler>::do_query(
                            &self.df,
                            client,
                            statement.text,
                        )),
                    )
                    .await
                }
            };
            match result {
                Ok(results) => {
                    for response in results {
                        let response = guard_rows(response, deadline);
                        responses.push(if many {
                            materialize(response).await
                        } else {
                            response
                        });
                    }
                }
                Err(mut error) if !responses.is_empty() => {
                    // Earlier statements of this query succeeded: report them, then the error,
                    // and skip the rest, as PostgreSQL does.
                    normalize_error(&mut error);
                    let info: ErrorInfo = error.into();
                    responses.push(Response::Error(Box::new(info)));
                    break;
                }
                Err(error) => return Err(error),
            }
        }
        Ok(responses)
    }
}

#[async_trait]
impl ExtendedQueryHandler for QueryService {
    type Statement = CachedStatement;
    type QueryParser = StatementParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (text, parsed) = &portal.statement.statement;
        let deadline = statement_deadline(client);
        if let Some((_, LogicalPlan::Ddl(_))) = parsed
            && let Some(ddl) = self.engine.owned_ddl(text)
        {
            return until_deadline(
                deadline,
                guarded(async {
                    self.engine
                        .execute_owned(text, ddl)
                        .await
                        .map(command_response)
                        .map_err(|e| pg_error(&e))
                }),
            )
            .await;
        }
        self.engine.refresh().await.map_err(|e| pg_error(&e))?;
        until_deadline(
            deadline,
            guarded(<DfSessionService as ExtendedQueryHandler>::do_query(
                &self.df, client, portal, max_rows,
            )),
        )
        .await
        .map(|response| guard_rows(response, deadline))
    }
}

/// Parses statements for the extended protocol, keeping their exact text.
pub struct StatementParser {
    engine: Arc<Engine>,
    inner: Arc<Parser>,
}

#[async_trait]
impl QueryParser for StatementParser {
    type Statement = CachedStatement;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        if let Some(ddl) = self.engine.owned_ddl(sql) {
            let statement = self.engine.owned_statement(&ddl);
            let plan = self
                .engine
                .plan_owned(&ddl)
                .await
                .map_err(|e| pg_error(&e))?;
            return Ok(Some((sql.to_string(), Some((statement, plan)))));
        }
        self.engine.refresh().await.map_err(|e| pg_error(&e))?;
        let parsed = guarded(self.inner.parse_sql(client, sql, types)).await?;
        Ok(parsed.map(|(_, rest)| (sql.to_string(), rest)))
    }

    fn get_parameter_types(&self, statement: &Self::Statement) -> PgWireResult<Vec<Type>> {
        self.inner.get_parameter_types(statement)
    }

    fn get_result_schema(
        &self,
        statement: &Self::Statement,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        self.inner.get_result_schema(statement, column_format)
    }
}
