//! The session builder: every DataFusion session huaxiang runs statements in is made here —
//! the engine's (`build_session`), a connection's (`Engine::connection_session`, then
//! `Engine::bind_principal` once its user is known), and the demo's bulk-load sessions.
//! Nothing outside this module registers functions or analyzer rules or builds a session
//! state (`tests/it/layout.rs` checks it).

use std::path::Path;
use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::Dialect;
use datafusion::execution::context::SessionState;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::{SessionConfig, SessionContext};
use deltalake::delta_datafusion::planner::DeltaPlanner;

use super::Engine;
use crate::access::files::FileAccess;
use crate::access::{MaskingRule, Principal, RoleInfo};
use crate::catalog::{Catalog, DATABASE, PUBLIC_SCHEMA};
use crate::execution::StatementSlot;
use crate::sources::{SourceKind, SourceTableFactory, Sources};

/// Builds the session: database `huaxiang` with the durable `public` schema, `pg_catalog` and
/// `information_schema`, PostgreSQL dialect, and our functions.
pub(super) fn build_session(
    catalog: &Arc<Catalog>,
    sources: &Arc<Sources>,
    import_dir: &Path,
    roles: &[RoleInfo],
) -> Result<SessionContext> {
    let mut config = SessionConfig::new()
        .with_default_catalog_and_schema(DATABASE, PUBLIC_SCHEMA)
        .with_create_default_catalog_and_schema(false)
        // Ours replaces DataFusion's (see crate::pg::info_schema), registered below.
        .with_information_schema(false)
        // The statement `Engine::execute` runs (the in-process path); connections have their own.
        .with_extension(Arc::new(crate::execution::StatementSlot::default()));
    config.options_mut().sql_parser.dialect = Dialect::PostgreSQL;
    // Delta's planner is DataFusion's default planner plus the physical nodes Delta's writer
    // uses, so CREATE TABLE AS and INSERT can hand their plans to `deltalake` in this session.
    let mut builder = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_query_planner(DeltaPlanner::new())
        // Last of the rules: every plan runs on the query runtime and stops when told.
        .with_physical_optimizer_rule(Arc::new(crate::execution::StopRule))
        .with_table_factory(
            "EXCEL".to_string(),
            Arc::new(crate::excel::ExcelTableFactory {
                import_dir: import_dir.to_path_buf(),
            }),
        );
    for kind in SourceKind::ALL {
        builder = builder.with_table_factory(
            kind.stored_as().to_string(),
            Arc::new(SourceTableFactory {
                kind,
                sources: sources.clone(),
            }),
        );
    }
    let state = builder.build();
    let ctx = SessionContext::new_with_state(state);
    ctx.register_catalog(DATABASE, catalog.catalog_provider());
    crate::pg::register(&ctx, DATABASE, catalog, roles)?;
    // Trained models live beside the tables, one JSON file each, replaced atomically.
    let models = huaxiang_udfs::saved::store::DirStore::open(&catalog.data_dir().join("models"))
        .map_err(datafusion::error::DataFusionError::Execution)?;
    huaxiang_udfs::register_all_with_models(&ctx, models.clone())?;
    // The system schema `huaxiang` (the `models` table) beside `public`, in the same database.
    if let Some(database) = ctx.catalog(DATABASE) {
        database.register_schema(
            huaxiang_udfs::SYSTEM_SCHEMA,
            huaxiang_udfs::system_schema(models)?,
        )?;
    }
    register_read_excel(&ctx, import_dir, FileAccess::Unrestricted);
    Ok(ctx)
}

/// `read_excel` in `ctx`, reading the files `access` allows (relative names in `import_dir`);
/// a connection's replaces the engine's once its user is known. DDL and COPY are checked by the
/// server.
fn register_read_excel(ctx: &SessionContext, import_dir: &Path, access: FileAccess) {
    ctx.register_udtf(
        "read_excel",
        Arc::new(crate::excel::ReadExcelFunc {
            import_dir: import_dir.to_path_buf(),
            access,
        }),
    );
}

impl Engine {
    /// A connection's session: the engine's functions, settings and (shared, durable) catalog,
    /// with its own `slot` for the statement it runs and, with `memory_limit`, its own memory
    /// pool (bytes its queries may hold at once, spilling where DataFusion's operators can;
    /// beyond it a query fails with 53200). Bind its user with [`Engine::bind_principal`].
    pub fn connection_session(
        &self,
        slot: Arc<StatementSlot>,
        memory_limit: Option<usize>,
    ) -> SessionContext {
        // `state()` clones the settings and function registries; the catalog list inside is
        // an `Arc`, so tables and views created by any connection are seen by all.
        let mut state = self.ctx.state();
        state.config_mut().set_extension(slot);
        if let Some(limit) = memory_limit {
            // The connection's own pool over the engine's disk manager, caches and object
            // stores: one query at a time per connection, so this is the query's limit.
            let runtime = RuntimeEnvBuilder::from_runtime_env(state.runtime_env())
                .with_memory_limit(limit, 1.0)
                .build_arc();
            match runtime {
                Ok(runtime) => {
                    state = SessionStateBuilder::new_from_existing(state)
                        .with_runtime_env(runtime)
                        .build();
                }
                Err(e) => log::warn!("no memory limit for this connection: {e}"),
            }
        }
        SessionContext::new_with_state(state)
    }

    /// Restricts a connection's `session` to what `principal` may reach, once its user is
    /// known: masked columns for users without UNMASK (the [`MaskingRule`]), server files by
    /// `read_excel` (admins: the import directory; others: none), and `session_user` /
    /// `current_user` answering the user. Returns the file access it settled.
    pub fn bind_principal(&self, session: &SessionContext, principal: &Principal) -> FileAccess {
        let access = if principal.admin {
            FileAccess::ImportDirOnly
        } else {
            session.add_analyzer_rule(Arc::new(MaskingRule::new(
                self.catalog.clone(),
                principal.clone(),
            )));
            FileAccess::Denied
        };
        register_read_excel(session, &self.import_dir, access.clone());
        for udf in crate::pg::functions::session_user_udfs(&principal.user) {
            session.register_udf(udf);
        }
        access
    }

    /// A session for loading large tables (the demo's): the engine's, with `memory_bytes` its
    /// sorts spill under, and without round-robin repartitioning, which would spread a sorted
    /// result over the Delta writer's parallel streams: each table is written in its key's
    /// order.
    pub fn bulk_session(&self, memory_bytes: usize) -> Result<SessionState> {
        let state = self.ctx.state();
        let runtime = RuntimeEnvBuilder::from_runtime_env(state.runtime_env())
            .with_memory_pool(Arc::new(FairSpillPool::new(memory_bytes)))
            .build_arc()?;
        let mut config = state.config().clone();
        config
            .options_mut()
            .optimizer
            .enable_round_robin_repartition = false;
        Ok(SessionStateBuilder::new_from_existing(state)
            .with_config(config)
            .with_runtime_env(runtime)
            .build())
    }
}

/// A session of its own, apart from every data dir, with DataFusion's functions and
/// `functions`: for planning queries over files (the demo's staging files), not for users.
pub fn scratch_context(functions: Vec<ScalarUDF>) -> SessionContext {
    let ctx = SessionContext::new();
    for function in functions {
        ctx.register_udf(function);
    }
    ctx
}
