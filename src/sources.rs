//! Live database sources: PostgreSQL and MySQL/MariaDB tables queried in place.
//!
//! An admin declares each source once in the config file (host, database, login — the password
//! lives only there) and then maps its tables with
//! `CREATE EXTERNAL TABLE crm_people STORED AS POSTGRES LOCATION 'public.people' OPTIONS
//! ('connection' 'crm')`. The tables are `datafusion-table-providers`' SQL tables: DataFusion
//! plans the query, and each scan sends the source one `SELECT` with the projected columns, the
//! filters it can translate and the limit (`EXPLAIN` shows it as `SqlExec sql=…`). Nothing is
//! copied; `CREATE TABLE … AS SELECT` makes a durable snapshot.
//!
//! One connection pool per source, made on first use and shared by every table of that source.
//! Connecting is bounded by the source's `connect_timeout_secs`, so an unreachable source gives
//! an error in that time and never holds up anything but the statement that named it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::common::{Result, TableReference};
use datafusion::logical_expr::CreateExternalTable;
use datafusion_table_providers_mysql::MySQLTableFactory;
use datafusion_table_providers_mysql::pool::MySQLConnectionPool;
use datafusion_table_providers_postgres::PostgresTableFactory;
use datafusion_table_providers_postgres::pool::PostgresConnectionPool;
use secrecy::SecretString;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::error::{SqlError, codes};

/// The kinds of database a source can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Postgres,
    /// MySQL and MariaDB.
    Mysql,
}

impl SourceKind {
    pub const ALL: [SourceKind; 2] = [SourceKind::Postgres, SourceKind::Mysql];

    /// The kind a `STORED AS` name declares (any case), if it is a database source's.
    pub fn from_stored_as(name: &str) -> Option<SourceKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.stored_as().eq_ignore_ascii_case(name))
    }

    /// The `STORED AS` name.
    pub fn stored_as(self) -> &'static str {
        match self {
            SourceKind::Postgres => "POSTGRES",
            SourceKind::Mysql => "MYSQL",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            SourceKind::Postgres => 5432,
            SourceKind::Mysql => 3306,
        }
    }
}

/// A password that never shows in `Debug` output or logs.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// `[sources.<name>]` in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub kind: SourceKind,
    pub host: String,
    pub port: Option<u16>,
    pub database: String,
    pub user: String,
    #[serde(default)]
    pub password: Password,
    /// PostgreSQL: disable, prefer (default), require, verify-ca, verify-full.
    /// MySQL: disabled, preferred (default), required.
    pub sslmode: Option<String>,
    /// How long connecting may take before the statement fails (default 10 s).
    pub connect_timeout_secs: Option<u64>,
    /// Connections kept to the source at most (default 4).
    pub pool_size: Option<u32>,
}

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_POOL_SIZE: u32 = 4;

impl SourceConfig {
    fn port(&self) -> u16 {
        self.port.unwrap_or(self.kind.default_port())
    }

    fn timeout(&self) -> Duration {
        self.connect_timeout_secs
            .map_or(DEFAULT_CONNECT_TIMEOUT, Duration::from_secs)
    }

    /// Checks what can be checked without connecting.
    pub fn validate(&self, name: &str) -> std::result::Result<(), String> {
        if let Some(mode) = &self.sslmode {
            let allowed: &[&str] = match self.kind {
                SourceKind::Postgres => {
                    &["disable", "prefer", "require", "verify-ca", "verify-full"]
                }
                SourceKind::Mysql => &["disabled", "preferred", "required"],
            };
            if !allowed.contains(&mode.as_str()) {
                return Err(format!(
                    "source {name}: sslmode must be one of {}, got '{mode}'",
                    allowed.join(", ")
                ));
            }
        }
        if self.connect_timeout_secs == Some(0) {
            return Err(format!(
                "source {name}: connect_timeout_secs must be positive"
            ));
        }
        if self.pool_size == Some(0) {
            return Err(format!("source {name}: pool_size must be positive"));
        }
        Ok(())
    }

    /// The parameters `datafusion-table-providers` reads, as secrets.
    fn params(&self) -> HashMap<String, SecretString> {
        let mut params: Vec<(&str, String)> = vec![
            ("host", self.host.clone()),
            ("user", self.user.clone()),
            ("db", self.database.clone()),
        ];
        if !self.password.0.is_empty() {
            params.push(("pass", self.password.0.clone()));
        }
        let pool_size = self.pool_size.unwrap_or(DEFAULT_POOL_SIZE).to_string();
        match self.kind {
            SourceKind::Postgres => {
                params.push(("port", self.port().to_string()));
                params.push((
                    "sslmode",
                    self.sslmode.clone().unwrap_or_else(|| "prefer".to_string()),
                ));
                params.push(("connection_pool_size", pool_size));
                params.push(("application_name", "huaxiang".to_string()));
            }
            SourceKind::Mysql => {
                params.push(("tcp_port", self.port().to_string()));
                params.push((
                    "sslmode",
                    self.sslmode
                        .clone()
                        .unwrap_or_else(|| "preferred".to_string()),
                ));
                params.push(("pool_min", "0".to_string()));
                params.push(("pool_max", pool_size));
            }
        }
        params
            .into_iter()
            .map(|(k, v)| (k.to_string(), SecretString::from(v)))
            .collect()
    }

    /// Removes the password from a message of the driver, should one ever quote it.
    fn scrub(&self, message: &str) -> String {
        let flat = message.split_whitespace().collect::<Vec<_>>().join(" ");
        if self.password.0.is_empty() {
            flat
        } else {
            flat.replace(&self.password.0, "***")
        }
    }
}

#[derive(Clone)]
enum Pool {
    Postgres(Arc<PostgresConnectionPool>),
    Mysql(Arc<MySQLConnectionPool>),
}

/// The configured sources and their pools.
#[derive(Default)]
pub struct Sources {
    configs: BTreeMap<String, SourceConfig>,
    pools: Mutex<HashMap<String, Pool>>,
}

impl fmt::Debug for Sources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sources")
            .field("names", &self.configs.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn error(code: &'static str, message: String) -> datafusion::error::DataFusionError {
    SqlError::new(code, message).into_datafusion()
}

impl Sources {
    pub fn new(configs: BTreeMap<String, SourceConfig>) -> Self {
        Self {
            configs,
            pools: Mutex::new(HashMap::new()),
        }
    }

    fn config(&self, name: &str, kind: SourceKind) -> Result<&SourceConfig> {
        let config = self.configs.get(name).ok_or_else(|| {
            let known = if self.configs.is_empty() {
                "none is configured".to_string()
            } else {
                format!(
                    "configured: {}",
                    self.configs.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            };
            SqlError::new(
                codes::UNDEFINED_OBJECT,
                format!("source \"{name}\" does not exist ({known})"),
            )
            .with_hint(format!(
                "An admin declares it under [sources.{name}] in huaxiang.toml (see the README)."
            ))
            .into_datafusion()
        })?;
        if config.kind != kind {
            return Err(error(
                codes::INVALID_PARAMETER_VALUE,
                format!(
                    "source \"{name}\" is a {} database; use STORED AS {}",
                    config.kind.stored_as().to_lowercase(),
                    config.kind.stored_as()
                ),
            ));
        }
        Ok(config)
    }

    /// The source's pool, connecting on first use. The lock is per call, not held while
    /// connecting, so a slow source does not wait on another.
    async fn pool(&self, name: &str, config: &SourceConfig) -> Result<Pool> {
        if let Some(pool) = self.pools.lock().await.get(name) {
            return Ok(pool.clone());
        }
        let where_ = format!(
            "source \"{name}\" ({} at {}:{}, database {})",
            config.kind.stored_as().to_lowercase(),
            config.host,
            config.port(),
            config.database
        );
        let params = config.params();
        let connect = async {
            match config.kind {
                SourceKind::Postgres => PostgresConnectionPool::new(params)
                    .await
                    .map(|p| Pool::Postgres(Arc::new(p)))
                    .map_err(|e| e.to_string()),
                SourceKind::Mysql => MySQLConnectionPool::new(params)
                    .await
                    .map(|p| Pool::Mysql(Arc::new(p)))
                    .map_err(|e| e.to_string()),
            }
        };
        let pool = match tokio::time::timeout(config.timeout(), connect).await {
            Ok(Ok(pool)) => pool,
            Ok(Err(message)) => {
                let message = config.scrub(&message);
                let code = if message.contains("password")
                    || message.contains("Authentication failed")
                    || message.contains("Access denied")
                {
                    codes::INVALID_AUTHORIZATION
                } else {
                    codes::CONNECTION_FAILURE
                };
                return Err(error(
                    code,
                    format!("cannot connect to {where_}: {message}"),
                ));
            }
            Err(_) => {
                return Err(error(
                    codes::CONNECTION_FAILURE,
                    format!(
                        "cannot connect to {where_}: no answer within {} s (connect_timeout_secs)",
                        config.timeout().as_secs()
                    ),
                ));
            }
        };
        // Two first uses may both have connected: keep one pool per source, the first one in.
        Ok(self
            .pools
            .lock()
            .await
            .entry(name.to_string())
            .or_insert(pool)
            .clone())
    }

    /// A table of a source, its columns read from the source now.
    pub async fn table(
        &self,
        name: &str,
        kind: SourceKind,
        table: &str,
    ) -> Result<Arc<dyn TableProvider>> {
        let config = self.config(name, kind)?;
        let pool = self.pool(name, config).await?;
        let reference = TableReference::from(table);
        let open = async {
            match pool {
                Pool::Postgres(pool) => PostgresTableFactory::new(pool)
                    .table_provider(reference)
                    .await
                    .map_err(|e| e.to_string()),
                Pool::Mysql(pool) => MySQLTableFactory::new(pool)
                    .table_provider(reference)
                    .await
                    .map_err(|e| e.to_string()),
            }
        };
        match tokio::time::timeout(config.timeout(), open).await {
            Ok(Ok(provider)) => Ok(Arc::new(SourceTable { inner: provider })),
            Ok(Err(message)) => {
                let message = config.scrub(&message);
                let code = if message.contains("exist") || message.contains("not found") {
                    codes::UNDEFINED_TABLE
                } else {
                    codes::CONNECTION_FAILURE
                };
                Err(error(
                    code,
                    format!("source \"{name}\": cannot open table {table}: {message}"),
                ))
            }
            Err(_) => Err(error(
                codes::CONNECTION_FAILURE,
                format!(
                    "source \"{name}\": table {table} did not answer within {} s",
                    config.timeout().as_secs()
                ),
            )),
        }
    }
}

/// `STORED AS POSTGRES` / `STORED AS MYSQL`: LOCATION is the source's table (`schema.table` or
/// `table`), OPTIONS ('connection' '<source name>') names the configured source.
#[derive(Debug)]
pub struct SourceTableFactory {
    pub kind: SourceKind,
    pub sources: Arc<Sources>,
}

#[async_trait]
impl TableProviderFactory for SourceTableFactory {
    async fn create(
        &self,
        _state: &dyn Session,
        cmd: &CreateExternalTable,
    ) -> Result<Arc<dyn TableProvider>> {
        let stored_as = self.kind.stored_as();
        let mut connection = None;
        for (key, value) in &cmd.options {
            match key.strip_prefix("format.").unwrap_or(key) {
                "connection" => connection = Some(value.clone()),
                other => {
                    return Err(SqlError::new(
                        codes::INVALID_PARAMETER_VALUE,
                        format!("unknown {stored_as} table option '{other}' (options: connection)"),
                    )
                    .with_hint(
                        "Host, database, user and password belong in the source's \
                         [sources.<name>] section of huaxiang.toml, never in SQL.",
                    )
                    .into_datafusion());
                }
            }
        }
        let Some(connection) = connection else {
            return Err(SqlError::new(
                codes::INVALID_PARAMETER_VALUE,
                format!("a {stored_as} table needs OPTIONS ('connection' '<source name>')"),
            )
            .into_datafusion());
        };
        let [table] = cmd.locations.as_slice() else {
            return Err(error(
                codes::INVALID_PARAMETER_VALUE,
                format!("a {stored_as} table needs one LOCATION: the source's table name"),
            ));
        };
        if !cmd.schema.fields().is_empty() {
            return Err(error(
                codes::FEATURE_NOT_SUPPORTED,
                format!(
                    "the columns of a {stored_as} table come from the source; leave out the column list"
                ),
            ));
        }
        self.sources.table(&connection, self.kind, table).await
    }
}

/// A source's table as `datafusion-table-providers` makes it, with one repair: a scan that
/// needs no column (`SELECT count(*) … WHERE …` after the filter went to the source) is
/// answered there with a one-column `SELECT 1`, which DataFusion 55 rejects as a schema
/// mismatch; so such a scan asks for the first column and drops it here.
#[derive(Debug)]
struct SourceTable {
    inner: Arc<dyn TableProvider>,
}

#[async_trait]
impl TableProvider for SourceTable {
    fn schema(&self) -> datafusion::arrow::datatypes::SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> datafusion::datasource::TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&datafusion::logical_expr::Expr],
    ) -> Result<Vec<datafusion::logical_expr::TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[datafusion::logical_expr::Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        match projection {
            Some(columns) if columns.is_empty() => {
                let first = self
                    .inner
                    .scan(state, Some(&vec![0]), filters, limit)
                    .await?;
                let none: Vec<datafusion::physical_expr::projection::ProjectionExpr> = Vec::new();
                Ok(Arc::new(
                    datafusion::physical_plan::projection::ProjectionExec::try_new(none, first)?,
                ))
            }
            _ => self.inner.scan(state, projection, filters, limit).await,
        }
    }
}
