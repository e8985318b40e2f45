//! Churn and customer lifetime value without labels: the BG/NBD (and MBG/NBD) purchase model and
//! the Gamma-Gamma spend model, fitted by maximum likelihood from raw transactions.

pub mod bgnbd;
pub mod clv_fit_table;
pub mod clv_table;
pub mod first_day_total;
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
use crate::saved::default_store;
use crate::saved::store::ModelStore;

pub fn clv_table(store: Arc<dyn ModelStore>) -> TableFunction {
    static DOCS: LazyLock<clv_table::ClvTableFunc> = LazyLock::new(|| clv_table::ClvTableFunc {
        store: default_store(),
    });
    TableFunction {
        name: "clv",
        implementation: Arc::new(clv_table::ClvTableFunc { store }) as Arc<dyn TableFunctionImpl>,
        documentation: DOCS.documentation(),
    }
}

pub fn clv_fit_table(store: Arc<dyn ModelStore>) -> TableFunction {
    static DOCS: LazyLock<clv_fit_table::ClvFitTableFunc> =
        LazyLock::new(|| clv_fit_table::ClvFitTableFunc {
            store: default_store(),
        });
    TableFunction {
        name: "clv_fit",
        implementation: Arc::new(clv_fit_table::ClvFitTableFunc { store })
            as Arc<dyn TableFunctionImpl>,
        documentation: DOCS.documentation(),
    }
}

/// The table functions, saving models (option `save=NAME`) in `store`.
pub fn table_functions(store: Arc<dyn ModelStore>) -> Vec<TableFunction> {
    vec![clv_table(store.clone()), clv_fit_table(store)]
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
