//! Customer-analytics SQL functions for any DataFusion `SessionContext`.
//!
//! Families (each a module with its own registry) are added by later work: RFM and segments,
//! churn and CLV, text sentiment, data integration and privacy.

use datafusion::common::Result;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;
use std::sync::Arc;

/// Every scalar function of this crate.
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    Vec::new()
}

/// Registers every function of this crate with `ctx`.
pub fn register_all(ctx: &SessionContext) -> Result<()> {
    for udf in scalar_functions() {
        ctx.register_udf(udf.as_ref().clone());
    }
    Ok(())
}
