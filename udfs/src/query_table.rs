//! Table functions whose first argument is a query (or a table name), e.g.
//! `SELECT * FROM rfm_score('SELECT customer_id, order_ts, amount FROM orders', DATE '2026-11-01')`.
//!
//! DataFusion calls a table function synchronously while planning, but planning SQL is async
//! (table lookups). The lookups of our catalogs answer at once, so the inner query is planned by
//! polling DataFusion's own planner once ([`plan_query`]); a source that would have to wait is
//! reported as an error rather than blocking a thread. The result is a [`QueryTable`]: a table
//! whose rows are computed when the outer query runs — the inner plan executes, and a
//! function-specific `finish` step turns its rows into the output.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DataFusionError, Result, ScalarValue, plan_err};
use datafusion::datasource::TableType;
use datafusion::execution::context::SessionState;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::sql::parser::Statement;
use futures::FutureExt;

/// Turns the inner query's rows into the table function's rows.
pub type Finish = Arc<dyn Fn(Vec<RecordBatch>) -> Result<Vec<RecordBatch>> + Send + Sync>;

/// The session a table function is called in, as a `SessionState`.
pub fn session_state<'a>(session: &'a dyn Session, function: &str) -> Result<&'a SessionState> {
    session
        .as_any()
        .downcast_ref::<SessionState>()
        .ok_or_else(|| {
            DataFusionError::Plan(format!(
                "{function}: needs a DataFusion SessionState to plan its query"
            ))
        })
}

/// The optional options text at argument `index` of `exprs`, parsed by `parse` (its message
/// prefixed with the function's name), and the text as written (empty when not given: the
/// options' defaults).
pub fn options_arg<T: Default>(
    function: &str,
    exprs: &[Expr],
    index: usize,
    parse: impl FnOnce(&str) -> std::result::Result<T, String>,
) -> Result<(T, String)> {
    match exprs.get(index) {
        None => Ok((T::default(), String::new())),
        Some(expr) => {
            let text = string_arg(function, "options", expr)?;
            let options = parse(&text).map_err(|e| {
                datafusion::error::DataFusionError::Plan(format!("{function}: {e}"))
            })?;
            Ok((options, text))
        }
    }
}

/// The text of a string-literal argument.
pub fn string_arg(function: &str, name: &str, expr: &Expr) -> Result<String> {
    match expr {
        Expr::Literal(ScalarValue::Utf8(Some(s)), _)
        | Expr::Literal(ScalarValue::LargeUtf8(Some(s)), _)
        | Expr::Literal(ScalarValue::Utf8View(Some(s)), _) => Ok(s.clone()),
        Expr::Literal(v, _) if v.is_null() => {
            plan_err!("{function}: {name} must not be NULL")
        }
        other => plan_err!("{function}: {name} must be a text constant, got {other}"),
    }
}

/// The value of a constant argument.
pub fn constant_arg(function: &str, name: &str, expr: &Expr) -> Result<ScalarValue> {
    match expr {
        Expr::Literal(v, _) => Ok(v.clone()),
        other => plan_err!("{function}: {name} must be a constant, got {other}"),
    }
}

/// Whether `text` is a (possibly qualified) table name rather than a query.
fn is_table_name(text: &str) -> bool {
    let t = text.trim();
    !t.is_empty()
        && t.split('.').all(|part| {
            let part = part.trim();
            (part.starts_with('"') && part.ends_with('"') && part.len() >= 2)
                || (!part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || c == '_'))
        })
}

/// Plans `query_or_table` (a SELECT, or a table/view name) in `state`, without blocking.
pub fn plan_query(
    state: &SessionState,
    function: &str,
    query_or_table: &str,
) -> Result<LogicalPlan> {
    let sql = if is_table_name(query_or_table) {
        format!("SELECT * FROM {query_or_table}")
    } else {
        query_or_table.to_string()
    };
    let dialect = state.config().options().sql_parser.dialect;
    let statement = state
        .sql_to_statement(&sql, &dialect)
        .map_err(|e| DataFusionError::Plan(format!("{function}: cannot parse its query: {e}")))?;
    if !matches!(&statement, Statement::Statement(s) if matches!(s.as_ref(), datafusion::sql::sqlparser::ast::Statement::Query(_)))
    {
        return plan_err!("{function}: its first argument must be a SELECT query or a table name");
    }
    match state.statement_to_plan(statement).now_or_never() {
        Some(plan) => plan,
        None => plan_err!(
            "{function}: a table its query reads cannot be opened while planning; \
             copy it into a table first (CREATE TABLE ... AS SELECT ...)"
        ),
    }
}

/// A table computed from a query when the outer statement runs.
pub struct QueryTable {
    name: &'static str,
    input: LogicalPlan,
    schema: SchemaRef,
    finish: Finish,
}

impl QueryTable {
    pub fn new(name: &'static str, input: LogicalPlan, schema: SchemaRef, finish: Finish) -> Self {
        Self {
            name,
            input,
            schema,
            finish,
        }
    }
}

impl fmt::Debug for QueryTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryTable")
            .field("name", &self.name)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl TableProvider for QueryTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        session: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = session.create_physical_plan(&self.input).await?;
        let partition = Arc::new(FinishPartition {
            schema: self.schema.clone(),
            input,
            finish: self.finish.clone(),
        });
        Ok(Arc::new(StreamingTableExec::try_new(
            self.schema.clone(),
            vec![partition],
            projection,
            vec![],
            false,
            limit,
        )?))
    }
}

struct FinishPartition {
    schema: SchemaRef,
    input: Arc<dyn ExecutionPlan>,
    finish: Finish,
}

impl fmt::Debug for FinishPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FinishPartition").finish_non_exhaustive()
    }
}

impl PartitionStream for FinishPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let input = self.input.clone();
        let finish = self.finish.clone();
        let stream = futures::stream::once(async move {
            let batches = collect(input, ctx).await?;
            crate::stop::checkpoint()?;
            // The finish step is the function's whole computation (a clustering, a model fit),
            // run without yielding: keep the runtime's other tasks moving meanwhile.
            let out = crate::stop::long_running(|| finish(batches))?;
            Ok::<_, DataFusionError>(futures::stream::iter(out.into_iter().map(Ok)))
        })
        .map(|result| match result {
            Ok(batches) => batches.boxed(),
            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        })
        .flatten();
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}

use futures::StreamExt;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_and_queries_are_told_apart() {
        assert!(is_table_name("orders"));
        assert!(is_table_name("public.orders"));
        assert!(is_table_name("\"My Orders\""));
        assert!(is_table_name("订单"));
        assert!(!is_table_name("SELECT * FROM orders"));
        assert!(!is_table_name(""));
        assert!(!is_table_name("orders WHERE x"));
    }
}
