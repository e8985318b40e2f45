//! Everything that makes DataFusion answer as PostgreSQL does, registered once by
//! [`register`] from the session builder (`engine::build_session`):
//!
//! - `catalog.rs` — the `pg_catalog` tables (`datafusion-pg-catalog`'s, with our functions in
//!   `pg_proc`, table oids in `pg_class`, key columns in `pg_index`/`pg_constraint`) and the
//!   `pg_get_function_*` helpers;
//! - `rows.rs` — the plumbing of a catalog table served with its rows changed, and of the
//!   catalog functions taking one oid;
//! - `owners.rs` — who owns each relation (`pg_class.relowner`, `pg_tables.tableowner`,
//!   `pg_roles.oid`, `pg_get_userbyid`);
//! - `info_schema.rs` — our `information_schema`;
//! - `functions.rs` — `version()`, `format`, `set_config`, `current_setting`, `json_build_object`,
//!   `pg_size_pretty`, and the helpers the rewrites call (`single_row_value`, …);
//! - `settings.rs` — the version strings and the setting values `SHOW` and `current_setting`
//!   report;
//! - `rewrite/` — the SQL rewrites of client queries DataFusion would plan differently.
//!
//! The wire protocol is not here: SHOW/SET/RESET responses and the rest of pgwire stay in
//! `server/`.

pub mod catalog;
pub mod functions;
pub mod info_schema;
mod owners;
pub mod rewrite;
mod rows;
pub mod settings;

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::prelude::SessionContext;
use datafusion_postgres::datafusion_pg_catalog::setup_pg_catalog;

use crate::access::RoleInfo;
use crate::catalog::Catalog;

/// Registers `pg_catalog` (with `roles` as `pg_roles`), `information_schema` and PostgreSQL's
/// functions in `ctx`, whose catalog `database` is `tables`.
pub fn register(
    ctx: &SessionContext,
    database: &str,
    tables: &Arc<Catalog>,
    roles: &[RoleInfo],
) -> Result<()> {
    // Passed by value: datafusion-pg-catalog 0.19's provider impl for `Arc<T>` calls itself
    // (a stack overflow on the first pg_roles query), so the provider is never wrapped.
    setup_pg_catalog(
        ctx,
        database,
        catalog::UserRoles {
            users: roles.to_vec(),
        },
    )
    .map_err(|e| *e)?;
    functions::register(ctx);
    catalog::register(ctx, database, tables.clone(), roles);
    info_schema::register(ctx, database)
}
