//! A managed table: a Delta Lake table in the data dir, always read at its latest version.
//!
//! `deltalake`'s own provider (`DeltaScan`) is a snapshot: it keeps showing the version it was
//! built from. A SQL table must show every committed INSERT, including ones made by another
//! process on the same data dir (`huaxiang sql` from cron while the server runs), so this
//! wrapper loads the newest snapshot for each scan and each insert and delegates to `DeltaScan`.
//! Commits are Delta's: an INSERT becomes visible all at once or not at all.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::TableType;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use deltalake::DeltaTable;
use deltalake::delta_datafusion::{DeltaScanNext, TableProviderBuilder};
use deltalake::logstore::LogStoreRef;
use url::Url;

/// A Delta table registered under a SQL name.
#[derive(Debug)]
pub struct ManagedTable {
    url: Url,
    log_store: LogStoreRef,
    schema: SchemaRef,
    /// The newest provider built so far, used where DataFusion asks synchronous questions
    /// (filter pushdown) that do not depend on the data version.
    latest: RwLock<Arc<DeltaScanNext>>,
}

impl ManagedTable {
    /// Opens the Delta table at `url`; fails if there is no Delta table there.
    pub async fn open(url: Url) -> Result<Self> {
        let mut table = DeltaTable::try_from_url(url.clone())
            .await
            .map_err(delta_err)?;
        table.load().await.map_err(delta_err)?;
        let log_store = table.log_store();
        let provider = build_provider(&log_store).await?;
        Ok(Self {
            url,
            log_store,
            schema: provider.schema(),
            latest: RwLock::new(Arc::new(provider)),
        })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// A provider over the newest committed version.
    async fn current(&self) -> Result<Arc<DeltaScanNext>> {
        let provider = Arc::new(build_provider(&self.log_store).await?);
        if let Ok(mut latest) = self.latest.write() {
            *latest = provider.clone();
        }
        Ok(provider)
    }
}

async fn build_provider(log_store: &LogStoreRef) -> Result<DeltaScanNext> {
    TableProviderBuilder::default()
        .with_log_store(log_store.clone())
        .build()
        .await
}

fn delta_err(err: deltalake::DeltaTableError) -> DataFusionError {
    DataFusionError::External(Box::new(err))
}

#[async_trait]
impl TableProvider for ManagedTable {
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
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.current()
            .await?
            .scan(state, projection, filters, limit)
            .await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        match self.latest.read() {
            Ok(latest) => latest.supports_filters_pushdown(filters),
            Err(_) => Ok(vec![
                TableProviderFilterPushDown::Unsupported;
                filters.len()
            ]),
        }
    }

    async fn insert_into(
        &self,
        state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.current()
            .await?
            .insert_into(state, input, insert_op)
            .await
    }
}
