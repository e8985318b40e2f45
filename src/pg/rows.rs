//! The plumbing of `pg_catalog`'s changed tables and functions: a catalog table served with its
//! rows changed ([`RowRewrite`], [`Rewritten`]), and the one-oid argument of the catalog
//! functions ([`oid_signature`], [`map_oids`]).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Result, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, Signature, TypeSignature, Volatility,
};
use datafusion::physical_plan::{ExecutionPlan, collect};

/// How a wrapped catalog table changes the rows `datafusion-pg-catalog` gives it.
#[async_trait]
pub(crate) trait RowRewrite: std::fmt::Debug + Send + Sync {
    /// The table's schema after the change.
    fn schema(&self, inner: &SchemaRef) -> SchemaRef {
        inner.clone()
    }

    /// The inner table's rows, changed, in `schema`.
    async fn rewrite(
        &self,
        batches: Vec<RecordBatch>,
        schema: &SchemaRef,
        state: &dyn Session,
    ) -> Result<Vec<RecordBatch>>;
}

/// A catalog table served from the rows of `inner` (read whole at each scan: catalog tables
/// are small), changed by `rows`.
#[derive(Debug)]
pub(crate) struct Rewritten<R> {
    inner: Arc<dyn TableProvider>,
    schema: SchemaRef,
    rows: R,
}

impl<R: RowRewrite + 'static> Rewritten<R> {
    pub(crate) fn provider(inner: Arc<dyn TableProvider>, rows: R) -> Arc<dyn TableProvider> {
        let schema = rows.schema(&inner.schema());
        Arc::new(Self {
            inner,
            schema,
            rows,
        })
    }
}

#[async_trait]
impl<R: RowRewrite + 'static> TableProvider for Rewritten<R> {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = self.inner.scan(state, None, &[], None).await?;
        let batches = collect(plan, state.task_ctx()).await?;
        let batches = self.rows.rewrite(batches, &self.schema, state).await?;
        Ok(MemorySourceConfig::try_new_exec(
            &[batches],
            self.schema.clone(),
            projection.cloned(),
        )?)
    }
}

/// One argument, an oid (int4 as `pg_class.oid` is, or int8 as a literal is).
pub(crate) fn oid_signature() -> Signature {
    Signature::one_of(
        vec![
            TypeSignature::Exact(vec![DataType::Int32]),
            TypeSignature::Exact(vec![DataType::Int64]),
        ],
        Volatility::Stable,
    )
}

/// Applies `f` to each oid of a one-argument call.
pub(crate) fn map_oids<T>(
    args: &ScalarFunctionArgs,
    f: impl Fn(i64) -> Option<T>,
    finish: impl Fn(Vec<Option<T>>) -> ArrayRef,
    scalar: impl Fn(Option<T>) -> ScalarValue,
) -> Result<ColumnarValue> {
    match &args.args[0] {
        ColumnarValue::Scalar(value) => {
            let oid = match value {
                ScalarValue::Int32(v) => v.map(i64::from),
                ScalarValue::Int64(v) => *v,
                _ => None,
            };
            Ok(ColumnarValue::Scalar(scalar(oid.and_then(&f))))
        }
        ColumnarValue::Array(array) => {
            let oids = cast(array, &DataType::Int64)?;
            let oids = oids.as_primitive::<Int64Type>();
            let values = (0..oids.len())
                .map(|i| oids.is_valid(i).then(|| oids.value(i)).and_then(&f))
                .collect();
            Ok(ColumnarValue::Array(finish(values)))
        }
    }
}
