//! Masking: [`MaskingRule`], a per-connection analyzer rule that puts the masking functions
//! above every scan of a masked table for users without UNMASK.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::{ScanArgs, ScanResult, Session, TableProvider};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, Result, TableReference};
use datafusion::common::{Constraints, Statistics};
use datafusion::config::ConfigOptions;
use datafusion::datasource::{TableType, provider_as_source, source_as_provider};
use datafusion::logical_expr::TableProviderFilterPushDown;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{Expr, LogicalPlan, Projection, ScalarUDF, cast, lit};
use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_plan::ExecutionPlan;

use super::Principal;
use super::reads::public_relation_of;
use crate::catalog::Catalog;
use crate::catalog::access::Mask;

/// Puts the masking functions above every scan of a masked table, for one connection's user.
#[derive(Debug)]
pub struct MaskingRule {
    catalog: Arc<Catalog>,
    principal: Principal,
    functions: Vec<Arc<ScalarUDF>>,
}

impl MaskingRule {
    pub fn new(catalog: Arc<Catalog>, principal: Principal) -> Self {
        Self {
            catalog,
            principal,
            functions: huaxiang_udfs::mask::scalar_functions(),
        }
    }

    fn call(&self, name: &str, args: Vec<Expr>) -> Result<Expr> {
        let udf = self
            .functions
            .iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| {
                datafusion::error::DataFusionError::Internal(format!("no function {name}"))
            })?;
        Ok(Expr::ScalarFunction(ScalarFunction::new_udf(
            udf.clone(),
            args,
        )))
    }

    /// `column` through `mask`, with the column's own type.
    fn masked(&self, mask: &Mask, column: Expr, data_type: &DataType) -> Result<Expr> {
        let text = match data_type {
            DataType::Utf8 => column,
            _ => cast(column, DataType::Utf8),
        };
        let masked = match mask {
            Mask::MaskPhone => self.call("mask_phone", vec![text])?,
            Mask::MaskEmail => self.call("mask_email", vec![text])?,
            Mask::MaskPartial {
                keep_start,
                padding,
                keep_end,
            } => self.call(
                "mask_partial",
                vec![
                    text,
                    lit(*keep_start as f64),
                    lit(padding.as_str()),
                    lit(*keep_end as f64),
                ],
            )?,
        };
        Ok(match data_type {
            DataType::Utf8 => masked,
            other => cast(masked, other.clone()),
        })
    }

    fn mask_scan(&self, node: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::TableScan(scan) = &node else {
            return Ok(Transformed::no(node));
        };
        let Some(relation) = scan_relation(&scan.table_name) else {
            return Ok(Transformed::no(node));
        };
        let Some(access) = self.catalog.relation_access(&relation) else {
            return Ok(Transformed::no(node));
        };
        let schema = scan.projected_schema.clone();
        if self.principal.sees_unmasked(&access)
            || !schema
                .fields()
                .iter()
                .any(|f| access.masks.contains_key(f.name()))
        {
            return Ok(Transformed::no(node));
        }
        // A plan is analyzed again when it is executed after being optimized (the extended
        // protocol does so), when the mask projection may have been merged away: the scan's
        // source says whether it was masked already.
        let provider = match source_as_provider(&scan.source) {
            Ok(provider) if (provider.as_ref() as &dyn std::any::Any).is::<MaskedTable>() => {
                return Ok(Transformed::no(node));
            }
            Ok(provider) => provider,
            // Not a provider-backed scan; nothing we can mark, so leave it (only our
            // catalog's tables are masked, and they are providers).
            Err(_) => return Ok(Transformed::no(node)),
        };
        let mut marked = scan.clone();
        marked.source = provider_as_source(Arc::new(MaskedTable { inner: provider }));
        let exprs = schema
            .iter()
            .map(|(qualifier, field)| {
                let column = Expr::Column(Column::new(qualifier.cloned(), field.name()));
                match access.masks.get(field.name()) {
                    None => Ok(column),
                    Some(mask) => Ok(self
                        .masked(mask, column, field.data_type())?
                        .alias_qualified(qualifier.cloned(), field.name())),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let projection = Projection::try_new(exprs, Arc::new(LogicalPlan::TableScan(marked)))?;
        Ok(Transformed::yes(LogicalPlan::Projection(projection)))
    }
}

/// A table whose scan has its masks above it: the table itself, marked so the masks are not
/// applied twice.
#[derive(Debug)]
struct MaskedTable {
    inner: Arc<dyn TableProvider>,
}

#[async_trait]
impl TableProvider for MaskedTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn constraints(&self) -> Option<&Constraints> {
        self.inner.constraints()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.scan(state, projection, filters, limit).await
    }

    async fn scan_with_args<'a>(
        &self,
        state: &dyn Session,
        args: ScanArgs<'a>,
    ) -> Result<ScanResult> {
        self.inner.scan_with_args(state, args).await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<Statistics> {
        self.inner.statistics()
    }
}

/// The `public` relation a scan reads, resolving an unqualified name as the session does.
fn scan_relation(table: &TableReference) -> Option<String> {
    let parts: Vec<String> = match table {
        TableReference::Bare { table } => vec![table.to_string()],
        TableReference::Partial { schema, table } => vec![schema.to_string(), table.to_string()],
        TableReference::Full {
            catalog,
            schema,
            table,
        } => vec![catalog.to_string(), schema.to_string(), table.to_string()],
    };
    public_relation_of(&parts)
}

impl AnalyzerRule for MaskingRule {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        let masked = plan.transform_up_with_subqueries(|node| self.mask_scan(node))?;
        if !masked.transformed {
            return Ok(masked.data);
        }
        // Nodes above a masked scan keep the schema they were built with; a mask may change a
        // column's nullability, so schemas are recomputed from the scans up.
        masked
            .data
            .transform_up_with_subqueries(|node| Ok(Transformed::yes(node.recompute_schema()?)))
            .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "huaxiang_masking"
    }
}
