//! Query handling over the wire: `datafusion-postgres`'s `DfSessionService` does queries,
//! parameters and result encoding; this layer in front of it owns the statements the durable
//! catalog must see with their exact text (CREATE/DROP TABLE, VIEW, EXTERNAL TABLE), splits a
//! simple query into statements, and turns every error into a PostgreSQL SQLSTATE.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::DFSchema;
use datafusion::logical_expr::{EmptyRelation, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::arrow_pg::datatypes::arrow_schema_to_pg_fields;
use datafusion_postgres::hooks::QueryHook;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::{DfSessionService, Parser};
use std::panic::AssertUnwindSafe;

use futures::{FutureExt, Sink, SinkExt, StreamExt, stream};
use pgwire::api::copy::CopyHandler;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{CopyResponse, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, ErrorHandler, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail};

use super::auth::Users;
use super::connection::Connection;
use super::copy::{Copy, CopyInProgress};
use super::wire_error::{error_info, normalize_error, pg_error};
use crate::access::files::FileAccess;
use crate::access::{AccessStatement, Principal};
use crate::engine::{CommandTag, Engine};
use crate::error::{SqlError, codes};
use crate::execution::StatementSlot;
use crate::sql_text::split_statements;
use huaxiang_udfs::stop::{StopReason, StopToken};
use pgwire::api::METADATA_USER;
use std::sync::OnceLock;

/// The statement type `DfSessionService` caches for the extended protocol; the string slot holds
/// the statement exactly as the client sent it.
pub type CachedStatement = (String, Option<(sqlparser::ast::Statement, LogicalPlan)>);

/// The query handler of one connection. Each connection has its own copy of the session —
/// `SET` settings, the time zone, prepared statements — while the catalog (tables, views,
/// functions' registrations) is the engine's, shared by all and durable.
pub struct QueryService {
    engine: Arc<Engine>,
    /// The connection: its cancel requests, whether its client is still there.
    connection: Arc<Connection>,
    /// The statement the session runs (its stop token), as the plans see it.
    slot: Arc<StatementSlot>,
    admission: Arc<Admission>,
    df: Arc<DfSessionService>,
    parser: Arc<StatementParser>,
    rules: Arc<ConnectionRules>,
    /// The connection's `COPY … FROM STDIN` while its data arrives.
    copy_in: std::sync::Mutex<Option<CopyInProgress>>,
}

/// What one connection may run: statements nested too deeply are refused, and what the
/// logged-in user may do with server files and the catalog is settled at its first statement
/// (the user is known only after the startup exchange).
pub struct ConnectionRules {
    engine: Arc<Engine>,
    users: Arc<Users>,
    session: Arc<SessionContext>,
    identity: OnceLock<Identity>,
}

/// Who the connection's user is and what they may reach.
struct Identity {
    access: FileAccess,
    principal: Principal,
}

impl ConnectionRules {
    /// The user's identity; on first use it also restricts the session to what the user may
    /// reach: server files by `read_excel`, and masked columns for users without UNMASK.
    fn identity<C: ClientInfo + ?Sized>(&self, client: &C) -> &Identity {
        self.identity.get_or_init(|| {
            let user = client
                .metadata()
                .get(METADATA_USER)
                .cloned()
                .unwrap_or_default();
            let entry = self.users.get(&user);
            let principal = Principal {
                roles: entry.map(|u| u.roles.clone()).unwrap_or_default(),
                admin: entry.is_some_and(|u| u.admin),
                user,
            };
            let access = self.engine.bind_principal(&self.session, &principal);
            Identity { access, principal }
        })
    }

    /// The connected user's name.
    fn user<C: ClientInfo + ?Sized>(&self, client: &C) -> String {
        self.identity(client).principal.user.clone()
    }

    /// 42501 unless the user is an admin.
    fn require_admin<C: ClientInfo + ?Sized>(&self, client: &C, what: &str) -> PgWireResult<()> {
        if self.identity(client).principal.admin {
            Ok(())
        } else {
            Err(pg_error(&crate::access::needs_admin(what)))
        }
    }

    /// What every query string goes through before it runs (see [`crate::access::admit`]).
    fn admit<C: ClientInfo + ?Sized>(&self, client: &C, sql: &str) -> PgWireResult<()> {
        let Identity { access, principal } = self.identity(client);
        crate::access::admit(
            sql,
            principal,
            access,
            self.engine.import_dir(),
            self.engine.catalog(),
        )
        .map_err(|e| PgWireError::UserError(Box::new(error_info(&e))))
    }
}

impl QueryService {
    /// `memory_limit`: bytes the connection's queries may hold at once (DataFusion's memory
    /// pool, spilling where its operators can); beyond it a query fails with 53200.
    pub fn new(
        engine: Arc<Engine>,
        users: Arc<Users>,
        memory_limit: Option<usize>,
        connection: Arc<Connection>,
        admission: Arc<Admission>,
    ) -> Self {
        // The connection's own statements (the engine's slot is the in-process path's).
        let slot = Arc::new(StatementSlot::default());
        let session = Arc::new(engine.connection_session(slot.clone(), memory_limit));
        let hooks: Vec<Arc<dyn QueryHook>> = vec![
            // RESET returns to the settings the connection starts with.
            Arc::new(super::session::SessionResetHook::new(
                session.state().config_options().as_ref().clone(),
                admission.statement_timeout_ms(),
            )),
            Arc::new(CursorStatementHook),
            Arc::new(super::show::ShowSettingHook),
            Arc::new(super::show::SetConfigHook),
            Arc::new(SetShowHook),
            Arc::new(TransactionStatementHook),
        ];
        let df = Arc::new(DfSessionService::new_with_hooks(session.clone(), hooks));
        let rules = Arc::new(ConnectionRules {
            engine: engine.clone(),
            users,
            session,
            identity: OnceLock::new(),
        });
        let parser = Arc::new(StatementParser {
            engine: engine.clone(),
            inner: df.query_parser(),
            rules: rules.clone(),
            cursors: Default::default(),
        });
        Self {
            engine,
            connection,
            slot,
            admission,
            df,
            parser,
            rules,
            copy_in: std::sync::Mutex::new(None),
        }
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

/// Server-wide rules for running statements: the default `statement_timeout` and how many
/// statements one user may run at once (more wait for a turn, still subject to their timeout
/// and to cancel).
#[derive(Debug)]
pub struct Admission {
    statement_timeout_ms: u64,
    per_user: usize,
    turns: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

impl Admission {
    /// `per_user`: statements one user may run at once (0: no limit).
    pub fn new(statement_timeout_ms: u64, per_user: usize) -> Self {
        Self {
            statement_timeout_ms,
            per_user,
            turns: Default::default(),
        }
    }

    pub fn statement_timeout_ms(&self) -> u64 {
        self.statement_timeout_ms
    }

    /// The user's turns, when users are limited.
    fn turns(&self, user: &str) -> Option<Arc<tokio::sync::Semaphore>> {
        if self.per_user == 0 {
            return None;
        }
        let mut turns = self.turns.lock().unwrap_or_else(|e| e.into_inner());
        Some(
            turns
                .entry(user.to_string())
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(self.per_user)))
                .clone(),
        )
    }
}

/// One running statement and what may stop it: the connection's `statement_timeout`, a
/// CancelRequest (psql's Ctrl-C) for this connection, the client going away and server
/// shutdown. Whichever comes first sets the statement's token, which ends its work wherever it
/// runs (see `crate::execution`); the statement answers the matching error. Dropped before it
/// was answered in full — an error, rows left unread, its connection gone — it sets the token
/// too, so abandoned work stops.
struct Stop {
    deadline: Option<tokio::time::Instant>,
    connection: Arc<Connection>,
    /// The connection's cancel generation when the statement started.
    since: u64,
    token: Arc<StopToken>,
    /// The user's turn, held while the statement runs (see [`Admission`]).
    _turn: Option<tokio::sync::OwnedSemaphorePermit>,
    /// Answered in full: nothing to stop when dropped.
    finished: std::sync::atomic::AtomicBool,
}

fn stop_error(reason: StopReason) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(&crate::error::stopped_error(reason))))
}

impl Stop {
    /// Starts a statement: reads the client's `statement_timeout` (as `datafusion-postgres`'s
    /// `SET` hook records it) and the connection's cancel generation, gives the session a new
    /// statement token, and waits for the user's turn.
    async fn start<C: ClientInfo + ?Sized>(
        client: &C,
        service: &QueryService,
        text: &str,
    ) -> PgWireResult<Self> {
        let deadline = Some(super::session::statement_timeout_ms(client))
            .filter(|m| *m > 0)
            .map(|m| tokio::time::Instant::now() + std::time::Duration::from_millis(m));
        let connection = service.connection.clone();
        let token = service.slot.begin();
        connection.statement_started(token.clone());
        let mut stop = Self {
            deadline,
            since: connection.cancel_generation(),
            connection,
            token,
            _turn: None,
            finished: std::sync::atomic::AtomicBool::new(false),
        };
        if stop.connection.shutting_down() {
            stop.token.stop(StopReason::Shutdown);
            return Err(stop_error(StopReason::Shutdown));
        }
        let user = client.metadata().get(METADATA_USER).cloned();
        let turns = user
            .filter(|_| takes_turn(text))
            .and_then(|u| service.admission.turns(&u));
        if let Some(turns) = turns {
            let turn = stop
                .run(turns.acquire_owned())
                .await
                .map_err(stop_error)?
                .map_err(|_| stop_error(StopReason::Shutdown))?;
            stop._turn = Some(turn);
        }
        Ok(stop)
    }

    /// Runs `future` unless the statement is stopped first; then the token is set (which ends
    /// the statement's work) and the future dropped.
    async fn run<T>(&self, future: impl std::future::Future<Output = T>) -> Result<T, StopReason> {
        tokio::pin!(future);
        let deadline = self.deadline;
        let timed_out = async move {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let stopped = tokio::select! {
            value = &mut future => return Ok(value),
            _ = timed_out => StopReason::Timeout,
            _ = self.connection.cancelled_since(self.since) => StopReason::Cancelled,
            _ = self.connection.gone() => StopReason::ClientGone,
            _ = self.connection.shutdown_started() => StopReason::Shutdown,
        };
        self.token.stop(stopped);
        // The work may have seen the token first: report the reason the token holds.
        Err(self.token.stopped().unwrap_or(stopped))
    }

    /// The statement was answered in full.
    fn finish(&self) {
        self.finished
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// `run` for a handler future, with panics turned into errors.
    async fn guard<T>(
        &self,
        future: impl std::future::Future<Output = PgWireResult<T>>,
    ) -> PgWireResult<T> {
        self.run(guarded(future))
            .await
            .unwrap_or_else(|reason| Err(stop_error(reason)))
    }
}

/// Whether a statement waits for its user's turn: everything but the session statements a
/// client sends around its queries (a BI tool's `SET application_name` must not wait behind
/// the user's running report).
fn takes_turn(text: &str) -> bool {
    const SESSION: [&str; 13] = [
        "set",
        "show",
        "reset",
        "begin",
        "start",
        "commit",
        "rollback",
        "end",
        "abort",
        "discard",
        "deallocate",
        "close",
        "unlisten",
    ];
    let first = crate::sql_text::first_keyword(text).to_ascii_lowercase();
    !SESSION.contains(&first.as_str())
}

impl Drop for Stop {
    fn drop(&mut self) {
        if !self.finished.load(std::sync::atomic::Ordering::SeqCst) {
            // Abandoned: nothing of this statement may run on.
            self.token.stop(StopReason::ClientGone);
        }
        self.connection.statement_ended(&self.token);
    }
}

/// Wraps a query response's row stream so a panic while producing rows ends the stream with an
/// error (rows are produced lazily, after the handler has returned), and so do the statement's
/// deadline and a cancel request: `datafusion-postgres` only times the planning, while the work
/// happens as the rows stream.
fn guard_rows(response: Response, stop: Stop) -> Response {
    match response {
        Response::Query(mut query) => {
            let rows = std::mem::replace(query.data_rows(), Box::pin(stream::empty()));
            let mut wrapped = QueryResponse::new(query.row_schema(), watch(rows, stop));
            wrapped.set_command_tag(query.command_tag());
            Response::Query(wrapped)
        }
        Response::CopyOut(mut copy) => {
            let rows = std::mem::replace(copy.data_stream(), Box::pin(stream::empty()));
            Response::CopyOut(CopyResponse::new(
                copy.format,
                copy.columns,
                watch(rows, stop),
            ))
        }
        other => {
            // Answered in full. (A DECLAREd cursor's rows are read by later FETCHes: its work
            // must go on.)
            stop.finish();
            other
        }
    }
}

/// `rows` with panics turned into errors, ended by the statement's stop (deadline, cancel).
fn watch<T: Send + 'static>(
    rows: std::pin::Pin<Box<dyn futures::Stream<Item = PgWireResult<T>> + Send>>,
    stop: Stop,
) -> impl futures::Stream<Item = PgWireResult<T>> + Send {
    let guarded = AssertUnwindSafe(rows)
        .catch_unwind()
        .map(|item| match item {
            Ok(row) => row,
            Err(payload) => Err(panic_error(payload)),
        });
    stream::unfold(Some((Box::pin(guarded), stop)), |state| async move {
        let (mut rows, stop) = state?;
        match stop.run(rows.next()).await {
            Ok(Some(row)) => Some((row, Some((rows, stop)))),
            Ok(None) => {
                stop.finish();
                None
            }
            // Stopped: report it and drop the rows (stopping the query).
            Err(reason) => Some((Err(stop_error(reason)), None)),
        }
    })
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

impl QueryService {
    /// Runs GRANT, REVOKE or a masking statement, for admins only.
    async fn run_access<C: ClientInfo + ?Sized>(
        &self,
        client: &C,
        parsed: Result<AccessStatement, SqlError>,
    ) -> PgWireResult<Response> {
        let statement = parsed.map_err(|e| PgWireError::UserError(Box::new(error_info(&e))))?;
        self.rules.require_admin(client, statement.command())?;
        self.engine
            .execute_access(&statement)
            .await
            .map(command_response)
            .map_err(|e| pg_error(&e))
    }

    /// The answer to a `COPY … TO STDOUT` (its rows) or `COPY … FROM STDIN` (the go-ahead for
    /// the client's data, which the connection's `CopyHandler` then receives).
    async fn copy_response(
        &self,
        copy: Result<Copy, SqlError>,
        many: bool,
        stop: &Stop,
    ) -> PgWireResult<Response> {
        match copy.map_err(super::copy::refusal)? {
            Copy::Out(copy) => {
                stop.guard(super::copy::respond(&self.rules.session, copy))
                    .await
            }
            Copy::In(_) if many => Err(super::copy::refusal(SqlError::new(
                codes::FEATURE_NOT_SUPPORTED,
                "COPY FROM STDIN must be sent as a query of its own",
            ))),
            Copy::In(copy) => {
                let started = CopyInProgress::start(&self.rules.session, copy).await?;
                let columns = started.columns();
                *self.copy_in.lock().expect("copy state lock") = Some(started);
                Ok(Response::CopyIn(CopyResponse::new(
                    0,
                    columns,
                    stream::empty(),
                )))
            }
        }
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
        self.rules.admit(client, query)?;
        let many = statements.len() > 1;
        let mut responses = Vec::new();
        for statement in statements {
            let stop = match Stop::start(client, self, statement.text).await {
                Ok(stop) => stop,
                Err(error) if !responses.is_empty() => {
                    responses.push(Response::Error(Box::new(error.into())));
                    break;
                }
                Err(error) => return Err(error),
            };
            let access = crate::access::parse(statement.text);
            let result = match (
                access,
                super::copy::parse(statement.text),
                self.engine.owned_ddl(statement.text),
            ) {
                (Some(access), _, _) => stop
                    .guard(self.run_access(client, access))
                    .await
                    .map(|r| vec![r]),
                (None, Some(copy), _) => {
                    self.copy_response(copy, many, &stop).await.map(|r| vec![r])
                }
                (None, None, Some(ddl)) => {
                    stop.guard(async {
                        self.engine
                            .execute_owned(statement.text, ddl, &self.rules.user(client))
                            .await
                            .map(|tag| vec![command_response(tag)])
                            .map_err(|e| pg_error(&e))
                    })
                    .await
                }
                (None, None, None) => {
                    let rewritten = self.engine.rewrite_for_engine(statement.text);
                    stop.guard(<DfSessionService as SimpleQueryHandler>::do_query(
                        &self.df,
                        client,
                        rewritten.as_deref().unwrap_or(statement.text),
                    ))
                    .await
                }
            };
            match result {
                Ok(mut results) => {
                    // A statement gives one response; its rows are watched by its stop.
                    let last = results.pop().map(|r| guard_rows(r, stop));
                    for response in results.into_iter().chain(last) {
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
        let stop = Stop::start(client, self, text).await?;
        if let Some(access) = crate::access::parse(text) {
            return stop.guard(self.run_access(client, access)).await;
        }
        if let Some((_, LogicalPlan::Ddl(_))) = parsed
            && let Some(ddl) = self.engine.owned_ddl(text)
        {
            return stop
                .guard(async {
                    self.engine
                        .execute_owned(text, ddl, &self.rules.user(client))
                        .await
                        .map(command_response)
                        .map_err(|e| pg_error(&e))
                })
                .await;
        }
        self.engine.refresh().await.map_err(|e| pg_error(&e))?;
        let response = stop
            .guard(<DfSessionService as ExtendedQueryHandler>::do_query(
                &self.df, client, portal, max_rows,
            ))
            .await?;
        Ok(guard_rows(response, stop))
    }
}

/// Parses statements for the extended protocol, keeping their exact text.
pub struct StatementParser {
    engine: Arc<Engine>,
    inner: Arc<Parser>,
    rules: Arc<ConnectionRules>,
    cursors: std::sync::Mutex<CursorSchemas>,
}

/// The result schemas of this connection's `DECLARE … CURSOR`s. `datafusion-postgres` plans
/// `FETCH` as a relation without columns and stores a cursor's portal without a plan, so a
/// Describe of either answers "no columns" — and psycopg 3's server-side cursors (which
/// Describe the cursor's portal, then read `FETCH` rows by that description) fail or crash.
/// Knowing the schema, `FETCH` gets a plan of the cursor's columns and the portal its fields.
#[derive(Default)]
struct CursorSchemas {
    by_name: HashMap<String, SchemaRef>,
    by_query: HashMap<String, SchemaRef>,
}

impl StatementParser {
    /// Records a DECLARE's schema, or for a FETCH gives its plan the cursor's columns.
    async fn follow_cursors(&self, parsed: &mut Option<(Statement, LogicalPlan)>) {
        let Some((statement, plan)) = parsed else {
            return;
        };
        match statement {
            Statement::Declare { stmts } => {
                for declare in stmts.iter() {
                    let (Some(name), Some(query)) = (declare.names.first(), &declare.for_query)
                    else {
                        continue;
                    };
                    let query = query.to_string();
                    // A query that does not plan fails when the DECLARE runs; nothing to keep.
                    let Ok(planned) = self.rules.session.state().create_logical_plan(&query).await
                    else {
                        continue;
                    };
                    let schema: SchemaRef = Arc::new(planned.schema().as_arrow().clone());
                    let mut cursors = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
                    cursors.by_name.insert(name.value.clone(), schema.clone());
                    cursors.by_query.insert(query, schema);
                }
            }
            Statement::Fetch { name, .. } => {
                let cursors = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(schema) = cursors.by_name.get(&name.value)
                    && let Ok(schema) = DFSchema::try_from(schema.as_ref().clone())
                {
                    *plan = LogicalPlan::EmptyRelation(EmptyRelation {
                        produce_one_row: false,
                        schema: Arc::new(schema),
                    });
                }
            }
            _ => {}
        }
    }
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
        self.rules.admit(client, sql)?;
        if let Some(access) = crate::access::parse(sql) {
            // Planned by nobody: it answers a command tag when executed.
            access.map_err(|e| PgWireError::UserError(Box::new(error_info(&e))))?;
            return Ok(Some((sql.to_string(), None)));
        }
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
        let rewritten = self.engine.rewrite_for_engine(sql);
        let engine_sql = rewritten.as_deref().unwrap_or(sql);
        let parsed = guarded(self.inner.parse_sql(client, engine_sql, types)).await?;
        let Some((_, mut rest)) = parsed else {
            return Ok(None);
        };
        self.follow_cursors(&mut rest).await;
        Ok(Some((sql.to_string(), rest)))
    }

    fn get_parameter_types(&self, statement: &Self::Statement) -> PgWireResult<Vec<Type>> {
        self.inner.get_parameter_types(statement)
    }

    fn get_result_schema(
        &self,
        statement: &Self::Statement,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        if let (query, None) = statement {
            // A portal DECLARE created: its statement is the cursor's query, unplanned.
            let cursors = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(schema) = cursors.by_query.get(query) {
                return arrow_schema_to_pg_fields(
                    schema,
                    column_format.unwrap_or(&Format::UnifiedText),
                    None,
                );
            }
        }
        self.inner.get_result_schema(statement, column_format)
    }
}

#[async_trait]
impl CopyHandler for QueryService {
    async fn on_copy_data<C>(&self, _client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match self.copy_in.lock().expect("copy state lock").as_mut() {
            Some(copy) => {
                copy.push(&copy_data.data);
                Ok(())
            }
            None => Err(protocol_error("CopyData without a COPY FROM STDIN")),
        }
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let Some(copy) = self.copy_in.lock().expect("copy state lock").take() else {
            return Err(protocol_error("CopyDone without a COPY FROM STDIN"));
        };
        // Appending the sent rows is the statement's own work: stoppable like any other.
        let stop = Stop::start(client, self, "COPY").await?;
        let rows = stop.guard(copy.finish(&self.rules.session)).await?;
        stop.finish();
        client
            .send(PgWireBackendMessage::CommandComplete(
                Tag::new("COPY").with_rows(rows).into(),
            ))
            .await?;
        Ok(())
    }

    async fn on_copy_fail<C>(&self, _client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.copy_in.lock().expect("copy state lock").take();
        PgWireError::UserError(Box::new(error_info(&SqlError::new(
            codes::QUERY_CANCELED,
            format!("COPY from stdin failed: {}", fail.message),
        ))))
    }
}

fn protocol_error(message: &str) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(&SqlError::new(
        "08P01",
        message.to_string(),
    ))))
}
