//! The SQL rewrites: PostgreSQL forms that client tools send and DataFusion plans differently
//! (or not at all), rewritten into forms it plans the PostgreSQL way. `Engine::rewrite_for_engine`
//! applies them, only when there is something to rewrite:
//!
//! - `forms.rs` — on the text as the client sent it (scalar functions in FROM, `user`, scalar
//!   subqueries through `single_row_value`, `::regtype::text`, `_pg_expandarray`, …);
//! - `array_subqueries.rs` — `ARRAY(SELECT …)` and `generate_subscripts`, on statements as
//!   `datafusion-postgres` reads them.
//!
//! A rule's helper function (the UDF its rewrite calls) is in `super::functions`, named by the
//! constant the rule uses.

mod array_subqueries;
mod forms;

use datafusion::sql::sqlparser::ast::{Expr, Query};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

pub use array_subqueries::{may_have_array_subquery, rewrite_array_subqueries};
pub use forms::rewrite_postgres_forms;

/// `text` parsed as one PostgreSQL expression (the rewrites build their replacements as text).
pub(super) fn parse_expr(text: &str) -> Option<Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .ok()
}

/// `text` parsed as one PostgreSQL query.
pub(super) fn parse_query(text: &str) -> Option<Box<Query>> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_query())
        .ok()
}

/// What the rewrites need to know about a function name (lower case, unqualified).
pub trait FunctionKinds {
    /// A scalar function that is not also a table function.
    fn is_scalar(&self, name: &str) -> bool;
    /// An aggregate function.
    fn is_aggregate(&self, name: &str) -> bool;
}
