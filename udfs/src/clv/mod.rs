//! Churn and customer lifetime value without labels: the BG/NBD (and MBG/NBD) purchase model and
//! the Gamma-Gamma spend model, fitted by maximum likelihood from raw transactions.

pub mod bgnbd;
pub mod clv_fit_table;
pub mod clv_table;
pub mod fitted;
pub mod gamma_gamma;
pub mod input;
pub mod lifecycle_stage;
pub mod optimize;
pub mod options;
pub mod special;

use std::sync::{Arc, LazyLock};

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::ScalarUDF;

use crate::TableFunction;

pub fn clv_table() -> TableFunction {
    static FUNC: LazyLock<Arc<clv_table::ClvTableFunc>> =
        LazyLock::new(|| Arc::new(clv_table::ClvTableFunc));
    TableFunction {
        name: "clv",
        implementation: FUNC.clone() as Arc<dyn TableFunctionImpl>,
        documentation: FUNC.documentation(),
    }
}

pub fn clv_fit_table() -> TableFunction {
    static FUNC: LazyLock<Arc<clv_fit_table::ClvFitTableFunc>> =
        LazyLock::new(|| Arc::new(clv_fit_table::ClvFitTableFunc));
    TableFunction {
        name: "clv_fit",
        implementation: FUNC.clone() as Arc<dyn TableFunctionImpl>,
        documentation: FUNC.documentation(),
    }
}

pub fn table_functions() -> Vec<TableFunction> {
    vec![clv_table(), clv_fit_table()]
}

pub fn lifecycle_stage() -> Arc<ScalarUDF> {
    static UDF: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| {
        Arc::new(ScalarUDF::new_from_impl(
            lifecycle_stage::LifecycleStageFunc::new(),
        ))
    });
    UDF.clone()
}

pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    vec![lifecycle_stage()]
}
