//! Trained churn models: `train_model` (logistic regression, decision tree), `churn_prob`,
//! `evaluate_model`, `roc_curve`, `model_weights`, `models`, `drop_model`, and the
//! [`ModelStore`](store::ModelStore) they share.

pub mod functions;
pub mod metrics;
pub mod predict;
pub mod train;
pub mod weighted_logistic;

use std::sync::{Arc, LazyLock};

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::{Documentation, ScalarUDF};

use crate::TableFunction;
use crate::saved::default_store;
use crate::saved::store::ModelStore;
use functions::*;

pub fn scalar_functions(store: Arc<dyn ModelStore>) -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::new_from_impl(ChurnProbFunc::new(store.clone()))),
        Arc::new(ScalarUDF::new_from_impl(ExpectedPurchasesFunc::new(
            store.clone(),
        ))),
        Arc::new(ScalarUDF::new_from_impl(ExpectedAvgValueFunc::new(store))),
    ]
}

/// The documentation of a table function type, kept for the life of the process.
macro_rules! table_function {
    ($name:literal, $ty:ident, $store:expr) => {{
        static DOCS: LazyLock<$ty> = LazyLock::new(|| $ty {
            store: default_store(),
        });
        let documentation: Option<&'static Documentation> = DOCS.documentation();
        TableFunction {
            name: $name,
            implementation: Arc::new($ty { store: $store }) as Arc<dyn TableFunctionImpl>,
            documentation,
        }
    }};
}

pub fn table_functions(store: Arc<dyn ModelStore>) -> Vec<TableFunction> {
    vec![
        table_function!("train_model", TrainModelFunc, store.clone()),
        table_function!("evaluate_model", EvaluateModelFunc, store.clone()),
        table_function!("roc_curve", RocCurveFunc, store.clone()),
        table_function!("model_weights", ModelWeightsFunc, store.clone()),
        table_function!("models", ModelsFunc, store.clone()),
        table_function!("drop_model", DropModelFunc, store),
    ]
}
