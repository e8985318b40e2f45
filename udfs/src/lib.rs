//! Customer-analytics SQL functions for any DataFusion `SessionContext`.
//!
//! Each family is a module with its own registry (`scalar_functions`, `window_functions`,
//! `table_functions`, ...): `rfm` (RFM scores and segments), `segment` (k-means, DBSCAN,
//! agreement), `clv` (BG/NBD and Gamma-Gamma: churn, lifetime value, lifecycle stages),
//! `models` (trained churn classifiers), `sentiment` (sentiment and topics of reviews), `clean`
//! (phone, e-mail and text normalisation), `identity` (identity resolution). [`register_all`] registers every function;
//! [`reference_markdown`] prints the function reference the README carries.

pub mod args;
pub mod clean;
pub mod clv;
pub mod duplicates;
pub mod identity;
pub mod mask;
pub mod models;
pub mod profile;
pub mod query_table;
pub mod reference;
pub mod rfm;
pub mod saved;
pub mod segment;
pub mod sentiment;
pub mod stop;

use std::sync::Arc;

use datafusion::catalog::{MemorySchemaProvider, SchemaProvider, TableFunctionImpl};
use datafusion::common::Result;
use datafusion::logical_expr::{AggregateUDF, Documentation, ScalarUDF, WindowUDF};
use datafusion::prelude::SessionContext;

pub use reference::reference_markdown;
pub use saved::store::ModelStore;

/// The [`TableFunction`] of a table function without state (a unit struct `$func`), made once
/// for the life of the process so its documentation lives as long.
macro_rules! stateless_table_function {
    ($name:expr, $func:path) => {{
        static FUNC: std::sync::LazyLock<std::sync::Arc<$func>> =
            std::sync::LazyLock::new(|| std::sync::Arc::new($func));
        crate::TableFunction {
            name: $name,
            implementation: FUNC.clone()
                as std::sync::Arc<dyn datafusion::catalog::TableFunctionImpl>,
            documentation: FUNC.documentation(),
        }
    }};
}
pub(crate) use stateless_table_function;

/// A table function with its SQL name and documentation (DataFusion's table functions carry no
/// documentation of their own).
#[derive(Clone)]
pub struct TableFunction {
    pub name: &'static str,
    pub implementation: Arc<dyn TableFunctionImpl>,
    pub documentation: Option<&'static Documentation>,
}

impl std::fmt::Debug for TableFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableFunction")
            .field("name", &self.name)
            .finish()
    }
}

/// The `key=value` pairs of an options argument (separated by commas, semicolons or spaces),
/// keys lower-cased and values trimmed; `names` lists the valid keys for the error.
pub fn key_values<'a>(
    text: &'a str,
    names: &str,
) -> std::result::Result<Vec<(String, &'a str)>, String> {
    text.split([',', ' ', ';'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("option '{pair}' is not key=value (options: {names})"))?;
            Ok((key.trim().to_ascii_lowercase(), value.trim()))
        })
        .collect()
}

/// The result of a scalar function over `args`: a scalar when every argument was one (so
/// constant folding keeps working), the array otherwise.
pub fn scalar_or_array(
    args: &[datafusion::logical_expr::ColumnarValue],
    array: datafusion::arrow::array::ArrayRef,
) -> Result<datafusion::logical_expr::ColumnarValue> {
    use datafusion::logical_expr::ColumnarValue;
    if args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
        return Ok(ColumnarValue::Scalar(
            datafusion::common::ScalarValue::try_from_array(&array, 0)?,
        ));
    }
    Ok(ColumnarValue::Array(array))
}

/// Every scalar function of this crate.
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    scalar_functions_with(saved::default_store())
}

fn scalar_functions_with(store: Arc<dyn ModelStore>) -> Vec<Arc<ScalarUDF>> {
    let mut all = rfm::scalar_functions();
    all.extend(clv::scalar_functions());
    all.extend(models::scalar_functions(store));
    all.extend(sentiment::scalar_functions());
    all.extend(clean::scalar_functions());
    all.extend(mask::scalar_functions());
    all
}

/// Every window function of this crate.
pub fn window_functions() -> Vec<Arc<WindowUDF>> {
    let mut all = rfm::window_functions();
    all.extend(segment::window_functions());
    all.extend(clean::window_functions());
    all
}

/// Every aggregate function of this crate.
pub fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    segment::aggregate_functions()
}

/// Every table function of this crate.
pub fn table_functions() -> Vec<TableFunction> {
    table_functions_with(saved::default_store())
}

fn table_functions_with(store: Arc<dyn ModelStore>) -> Vec<TableFunction> {
    let mut all = rfm::table_functions();
    all.extend(segment::table_functions());
    all.extend(clv::table_functions(store.clone()));
    all.extend(models::table_functions(store));
    all.extend(identity::table_functions());
    all.push(profile::table_function());
    all.push(duplicates::table_function());
    all.push(clean::knn::table_function());
    all
}

/// The names of every function of this crate. Their errors start with `name: `, so a server
/// can tell a user's bad argument from an engine failure.
pub fn function_names() -> Vec<String> {
    let mut names: Vec<String> = scalar_functions()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    names.extend(window_functions().iter().map(|f| f.name().to_string()));
    names.extend(aggregate_functions().iter().map(|f| f.name().to_string()));
    names.extend(table_functions().iter().map(|f| f.name.to_string()));
    names.sort();
    names.dedup();
    names
}

/// Registers every function of this crate with `ctx`, trained models kept in memory for the
/// life of the process, and the system schema (see [`system_schema`]) in `ctx`'s default
/// catalog — everything a standalone `SessionContext` needs.
pub fn register_all(ctx: &SessionContext) -> Result<()> {
    let store = saved::default_store();
    register_all_with_models(ctx, store.clone())?;
    let catalog_name = ctx
        .state()
        .config()
        .options()
        .catalog
        .default_catalog
        .clone();
    if let Some(catalog) = ctx.catalog(&catalog_name) {
        catalog.register_schema(SYSTEM_SCHEMA, system_schema(store)?)?;
    }
    Ok(())
}

/// Registers every function of this crate with `ctx`, keeping trained models in `store` (e.g.
/// a [`saved::store::DirStore`] for models that survive restarts). Tables are the caller's:
/// see [`system_schema`].
pub fn register_all_with_models(ctx: &SessionContext, store: Arc<dyn ModelStore>) -> Result<()> {
    for udf in scalar_functions_with(store.clone()) {
        ctx.register_udf(udf.as_ref().clone());
    }
    for udwf in window_functions() {
        ctx.register_udwf(udwf.as_ref().clone());
    }
    for udaf in aggregate_functions() {
        ctx.register_udaf(udaf.as_ref().clone());
    }
    for table in table_functions_with(store) {
        ctx.register_udtf(table.name, table.implementation.clone());
    }
    Ok(())
}

/// Schema [`SYSTEM_SCHEMA`] with the system table `models` (the same rows as `models()`, from
/// `store`), so catalog browsers and BI tools find the models as a table. The caller puts it
/// in its catalog.
pub fn system_schema(store: Arc<dyn ModelStore>) -> Result<Arc<dyn SchemaProvider>> {
    let schema = Arc::new(MemorySchemaProvider::new());
    schema.register_table(
        "models".to_string(),
        models::functions::models_table(store)?,
    )?;
    Ok(schema)
}

/// The schema of huaxiang's system tables.
pub const SYSTEM_SCHEMA: &str = "huaxiang";

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// `register_udf` silently replaces a function of the same name, so a clash with a
    /// DataFusion built-in (or between our own) must be caught here.
    #[test]
    fn test_no_duplicate_name() {
        let ctx = SessionContext::new();
        let state = ctx.state();
        let mut ours = BTreeSet::new();
        for udf in scalar_functions() {
            assert!(
                ours.insert(("scalar", udf.name().to_string())),
                "duplicate {}",
                udf.name()
            );
            assert!(
                !state.scalar_functions().contains_key(udf.name()),
                "{} shadows a built-in",
                udf.name()
            );
            assert!(
                !state.aggregate_functions().contains_key(udf.name()),
                "{} shadows a built-in aggregate",
                udf.name()
            );
        }
        for udwf in window_functions() {
            assert!(
                ours.insert(("window", udwf.name().to_string())),
                "duplicate {}",
                udwf.name()
            );
            assert!(
                !state.window_functions().contains_key(udwf.name()),
                "{} shadows a built-in",
                udwf.name()
            );
            assert!(
                !state.aggregate_functions().contains_key(udwf.name()),
                "{} shadows a built-in aggregate",
                udwf.name()
            );
        }
        for udaf in aggregate_functions() {
            assert!(
                ours.insert(("aggregate", udaf.name().to_string())),
                "duplicate {}",
                udaf.name()
            );
            assert!(
                !state.aggregate_functions().contains_key(udaf.name()),
                "{} shadows a built-in",
                udaf.name()
            );
        }
        for table in table_functions() {
            assert!(
                ours.insert(("table", table.name.to_string())),
                "duplicate {}",
                table.name
            );
            assert!(
                !state.table_functions().contains_key(table.name),
                "{} shadows a built-in",
                table.name
            );
        }
    }

    #[test]
    fn every_function_is_documented() {
        for udf in scalar_functions() {
            assert!(
                udf.documentation().is_some(),
                "{} has no documentation",
                udf.name()
            );
        }
        for udwf in window_functions() {
            assert!(
                udwf.documentation().is_some(),
                "{} has no documentation",
                udwf.name()
            );
        }
        for udaf in aggregate_functions() {
            assert!(
                udaf.documentation().is_some(),
                "{} has no documentation",
                udaf.name()
            );
        }
        for table in table_functions() {
            assert!(
                table.documentation.is_some(),
                "{} has no documentation",
                table.name
            );
        }
    }
}
