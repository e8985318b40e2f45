//! The one door: [`Engine::open`] builds the DataFusion session every front end uses (the
//! Postgres-wire server and `huaxiang sql`), and [`Engine`] runs the statements the durable
//! catalog owns (CREATE/DROP TABLE, VIEW, EXTERNAL TABLE). Every session is built in
//! `session.rs`.

mod session;

pub use session::scratch_context;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::common::config::Dialect;
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{DdlStatement, DmlStatement, LogicalPlan, WriteOp};
use datafusion::prelude::{DataFrame, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{ObjectType, Statement};
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;

use crate::access::RoleInfo;
use crate::catalog::{Catalog, RelationKind};
pub use crate::command::CommandTag;
use crate::error::{SqlError, codes};
use crate::sources::Sources;

/// Where the engine keeps its data.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub data_dir: PathBuf,
    /// Create the data dir if it does not exist (`serve`, `demo`); `sql` wants an existing one.
    pub create_data_dir: bool,
    /// The live databases of the config file.
    pub sources: Arc<Sources>,
    /// Where relative file names of `read_excel` are looked up and, over the wire, the only
    /// place SQL may reach server files (default `<data dir>/imports`).
    pub import_dir: Option<PathBuf>,
    /// The users and their roles (`pg_roles`; the grantees GRANT accepts).
    pub roles: Vec<RoleInfo>,
    /// Set when `huaxiang sql` runs without a data dir because this one does not exist:
    /// `data_dir` is then a scratch directory, and statements that would create durable
    /// relations are refused with a message naming this one.
    pub missing_data_dir: Option<PathBuf>,
}

impl EngineOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            create_data_dir: true,
            sources: Arc::new(Sources::default()),
            import_dir: None,
            roles: vec![RoleInfo {
                name: crate::access::DEFAULT_USER.to_string(),
                admin: true,
                login: true,
            }],
            missing_data_dir: None,
        }
    }
}

/// The result of one statement.
#[derive(Debug)]
pub enum Outcome {
    /// A query: rows to stream.
    Rows(DataFrame),
    /// A command: its PostgreSQL command tag.
    Command(CommandTag),
}

/// A statement the durable catalog executes itself, parsed from its exact text.
#[derive(Debug)]
pub struct OwnedDdl {
    statement: DfStatement,
    cascade: bool,
}

/// Statements printed back as one query string.
fn join_statements(statements: &[impl std::fmt::Display]) -> String {
    statements
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The kinds of the functions a session knows, for the SQL rewrites.
struct SessionFunctions<'a>(&'a datafusion::execution::SessionState);

impl crate::pg::rewrite::FunctionKinds for SessionFunctions<'_> {
    fn is_scalar(&self, name: &str) -> bool {
        self.0.scalar_functions().contains_key(name) && !self.0.table_functions().contains_key(name)
    }

    fn is_aggregate(&self, name: &str) -> bool {
        self.0.aggregate_functions().contains_key(name)
    }
}

/// The engine over one data dir.
pub struct Engine {
    ctx: SessionContext,
    catalog: Arc<Catalog>,
    roles: Vec<RoleInfo>,
    import_dir: PathBuf,
    compat: PostgresCompatibilityParser,
    /// See [`EngineOptions::missing_data_dir`].
    missing_data_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("data_dir", &self.catalog.data_dir())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens the data dir and builds the session: catalog, `pg_catalog`, and every function of
    /// the `udfs` crate. Nothing registers tables or functions anywhere else.
    pub async fn open(options: &EngineOptions) -> Result<Arc<Self>> {
        let catalog = Catalog::open(&options.data_dir, options.create_data_dir)
            .map_err(SqlError::into_datafusion)?;
        let import_dir = match &options.import_dir {
            Some(dir) if dir.is_absolute() => dir.clone(),
            Some(dir) => std::path::absolute(dir).map_err(|e| {
                datafusion::error::DataFusionError::Execution(format!(
                    "import directory {}: {e}",
                    dir.display()
                ))
            })?,
            None => catalog.data_dir().join("imports"),
        };
        let ctx = session::build_session(&catalog, &options.sources, &import_dir, &options.roles)?;
        catalog.load(&ctx.state()).await?;
        Ok(Arc::new(Self {
            ctx,
            catalog,
            roles: options.roles.clone(),
            import_dir,
            compat: PostgresCompatibilityParser::new(),
            missing_data_dir: options.missing_data_dir.clone(),
        }))
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    pub fn data_dir(&self) -> &Path {
        self.catalog.data_dir()
    }

    /// The import directory (absolute).
    pub fn import_dir(&self) -> &Path {
        &self.import_dir
    }

    /// `sql` with PostgreSQL constructs DataFusion cannot plan rewritten (see
    /// [`crate::pg::rewrite::rewrite_postgres_forms`] and
    /// [`crate::pg::rewrite::rewrite_array_subqueries`]), or `None` when there are none, so the text
    /// goes on exactly as written. The forms are rewritten in the text as the client sent it; the
    /// array subqueries in statements as `datafusion-postgres` reads them (whole client catalog
    /// queries it knows are replaced by simpler ones first), so its own replacements still apply.
    pub fn rewrite_for_engine(&self, sql: &str) -> Option<String> {
        let forms = self.rewrite_postgres_forms(sql);
        let text = forms.as_deref().unwrap_or(sql);
        if !crate::pg::rewrite::may_have_array_subquery(text) {
            return forms;
        }
        let Ok(mut statements) = self.compat.parse(text) else {
            return forms;
        };
        if crate::pg::rewrite::rewrite_array_subqueries(&mut statements) {
            Some(join_statements(&statements))
        } else {
            forms
        }
    }

    fn rewrite_postgres_forms(&self, sql: &str) -> Option<String> {
        use datafusion::sql::sqlparser::{dialect::PostgreSqlDialect, parser::Parser};
        // Cheap tests first: only queries can hold the forms, and a huge statement (a long
        // INSERT … VALUES) is not worth parsing twice.
        if sql.len() > 256 * 1024 || !sql.to_ascii_lowercase().contains("select") {
            return None;
        }
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?;
        let changed = {
            let state = self.ctx.state_ref();
            let state = state.read();
            crate::pg::rewrite::rewrite_postgres_forms(&mut statements, &SessionFunctions(&state))
        };
        // A client catalog query that `datafusion-postgres` replaces as a whole (psql's `\d`
        // publication list) is left for it to replace: rewritten, it would no longer match.
        // Except Grafana's search-path lookup, which it replaces by an empty list (as its
        // comment says, until `current_setting` exists — ours does): rewritten, it runs.
        // Checked only for a statement the forms changed, off the path of every other one.
        if !changed || self.replaced_by_dependency(sql) {
            return None;
        }
        Some(join_statements(&statements))
    }

    /// Whether `datafusion-postgres` replaces (part of) `sql` by a text of its own.
    fn replaced_by_dependency(&self, sql: &str) -> bool {
        use datafusion::sql::sqlparser::{dialect::PostgreSqlDialect, parser::Parser};
        let grafana_search_path = sql
            .split_whitespace()
            .collect::<String>()
            .contains("string_to_array(current_setting('search_path'),',')");
        if grafana_search_path {
            return false;
        }
        let (Ok(replaced), Ok(original)) = (
            self.compat.parse(sql),
            Parser::parse_sql(&PostgreSqlDialect {}, sql),
        ) else {
            return true;
        };
        replaced.iter().map(|s| s.to_string()).ne(original
            .into_iter()
            .map(|s| self.compat.rewrite(s).to_string()))
    }

    /// Runs GRANT, REVOKE or a masking statement (the caller has checked the user is an admin).
    pub async fn execute_access(
        &self,
        statement: &crate::access::AccessStatement,
    ) -> Result<CommandTag> {
        self.refresh().await?;
        crate::access::execute(statement, &self.catalog, &self.roles).await
    }

    /// Picks up DDL another process made on the same data dir since the last statement.
    pub async fn refresh(&self) -> Result<()> {
        self.catalog.refresh_if_changed(&self.ctx.state()).await
    }

    /// Parses `text` and returns it when it is DDL the catalog owns.
    pub fn owned_ddl(&self, text: &str) -> Option<OwnedDdl> {
        let state = self.ctx.state();
        let statement = state.sql_to_statement(text, &Dialect::PostgreSQL).ok()?;
        let cascade = match &statement {
            DfStatement::CreateExternalTable(_) => false,
            DfStatement::Statement(s) => match s.as_ref() {
                Statement::CreateTable(_) | Statement::CreateView(_) => false,
                Statement::Drop {
                    object_type: ObjectType::Table | ObjectType::View,
                    cascade,
                    ..
                } => *cascade,
                _ => return None,
            },
            _ => return None,
        };
        Some(OwnedDdl { statement, cascade })
    }

    /// Plans an owned DDL statement without running it (for the extended protocol's Parse).
    pub async fn plan_owned(&self, ddl: &OwnedDdl) -> Result<LogicalPlan> {
        let state = self.ctx.state();
        state.statement_to_plan(ddl.statement.clone()).await
    }

    /// The sqlparser statement for an owned DDL, as the extended-protocol statement cache wants.
    pub fn owned_statement(&self, ddl: &OwnedDdl) -> Statement {
        match &ddl.statement {
            DfStatement::Statement(s) => s.as_ref().clone(),
            DfStatement::CreateExternalTable(cmd) => {
                use datafusion::sql::sqlparser::ast::helpers::stmt_create_table::CreateTableBuilder;
                use datafusion::sql::sqlparser::ast::{Ident, ObjectName};
                let name = ObjectName::from(vec![Ident::new(cmd.name.to_string())]);
                CreateTableBuilder::new(name).external(true).build().into()
            }
            // owned_ddl only returns the two kinds above.
            _ => Statement::Commit {
                chain: false,
                end: false,
                modifier: None,
            },
        }
    }

    /// The data dir's administrator (see [`crate::access::administrator`]).
    pub fn administrator(&self) -> String {
        crate::access::administrator(&self.roles)
    }

    /// Runs an owned DDL statement for user `user` (who owns what it creates); `text` is the
    /// statement exactly as written.
    pub async fn execute_owned(&self, text: &str, ddl: OwnedDdl, user: &str) -> Result<CommandTag> {
        if let Some(missing) = &self.missing_data_dir {
            let creates = match &ddl.statement {
                DfStatement::CreateExternalTable(_) => Some("CREATE EXTERNAL TABLE"),
                DfStatement::Statement(s) => match s.as_ref() {
                    Statement::CreateTable(_) => Some("CREATE TABLE"),
                    Statement::CreateView(_) => Some("CREATE VIEW"),
                    _ => None,
                },
                _ => None,
            };
            if let Some(what) = creates {
                return Err(SqlError::new(
                    codes::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    format!(
                        "{what} needs a data directory, and {} does not exist",
                        missing.display()
                    ),
                )
                .with_hint(format!(
                    "Create it (`mkdir -p {dir}`, or `huaxiang demo --data-dir {dir}` for the \
                     demo data) and run again; queries, files and functions work without one.",
                    dir = missing.display()
                ))
                .into_datafusion());
            }
        }
        self.refresh().await?;
        let state = self.ctx.state();
        let cascade = ddl.cascade;
        let plan = state.statement_to_plan(ddl.statement).await?;
        let LogicalPlan::Ddl(ddl) = plan else {
            return Err(DataFusionError::Internal(
                "owned DDL did not plan to a DDL statement".to_string(),
            ));
        };
        match ddl {
            DdlStatement::CreateMemoryTable(cmd) => {
                let is_ctas = !matches!(cmd.input.as_ref(), LogicalPlan::EmptyRelation(_));
                let rows = self.catalog.create_table(&cmd, user, &state).await?;
                Ok(match (is_ctas, rows) {
                    (true, Some(n)) => CommandTag::with_rows("SELECT", n),
                    _ => CommandTag::new("CREATE TABLE"),
                })
            }
            DdlStatement::CreateView(cmd) => {
                self.catalog.create_view(&cmd, text, user, &state).await?;
                Ok(CommandTag::new("CREATE VIEW"))
            }
            DdlStatement::CreateExternalTable(cmd) => {
                self.catalog
                    .create_external_table(&cmd, text, user, &state)
                    .await?;
                Ok(CommandTag::new("CREATE EXTERNAL TABLE"))
            }
            DdlStatement::DropTable(cmd) => {
                self.catalog
                    .drop_relation(
                        &cmd.name,
                        RelationKind::Table,
                        cmd.if_exists,
                        cascade,
                        &state,
                    )
                    .await?;
                Ok(CommandTag::new("DROP TABLE"))
            }
            DdlStatement::DropView(cmd) => {
                self.catalog
                    .drop_relation(
                        &cmd.name,
                        RelationKind::View,
                        cmd.if_exists,
                        cascade,
                        &state,
                    )
                    .await?;
                Ok(CommandTag::new("DROP VIEW"))
            }
            other => Err(SqlError::new(
                codes::FEATURE_NOT_SUPPORTED,
                format!("{} is not supported", other.name()),
            )
            .into_datafusion()),
        }
    }

    /// Runs one statement (the in-process path of `huaxiang sql`); `text` is one statement.
    pub async fn execute(&self, text: &str) -> Result<Outcome> {
        if let Some(ddl) = self.owned_ddl(text) {
            return self
                .execute_owned(text, ddl, &self.administrator())
                .await
                .map(Outcome::Command);
        }
        self.refresh().await?;
        let state = self.ctx.state();
        let rewritten = self.rewrite_for_engine(text);
        let text = rewritten.as_deref().unwrap_or(text);
        let statement = match state.sql_to_statement(text, &Dialect::PostgreSQL)? {
            DfStatement::Statement(s) => DfStatement::Statement(Box::new(self.compat.rewrite(*s))),
            other => other,
        };
        let plan = state.statement_to_plan(statement).await?;
        let is_insert = matches!(
            &plan,
            LogicalPlan::Dml(DmlStatement {
                op: WriteOp::Insert(_),
                ..
            })
        );
        let is_ddl = matches!(&plan, LogicalPlan::Ddl(_));
        let ddl_name = match &plan {
            LogicalPlan::Ddl(d) => d.name().to_string(),
            _ => String::new(),
        };
        let df = self.ctx.execute_logical_plan(plan).await?;
        if is_insert {
            let rows = count_from(df).await?;
            return Ok(Outcome::Command(CommandTag::with_rows("INSERT", rows)));
        }
        if is_ddl {
            df.collect().await?;
            return Ok(Outcome::Command(CommandTag::new(&ddl_name.to_uppercase())));
        }
        Ok(Outcome::Rows(df))
    }
}

/// The `count` DataFusion's DML plans return.
async fn count_from(df: DataFrame) -> Result<usize> {
    use datafusion::arrow::array::{Array, UInt64Array};
    let batches = df.collect().await?;
    let count = batches
        .first()
        .and_then(|b| b.column_by_name("count"))
        .and_then(|c| c.as_any().downcast_ref::<UInt64Array>().cloned())
        .filter(|a| !a.is_empty())
        .map_or(0, |a| a.value(0) as usize);
    Ok(count)
}
