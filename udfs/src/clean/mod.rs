//! Cleaning functions for customer records from several systems: `normalize_phone`,
//! `phone_valid`, `phone_region`, `normalize_email`, `normalize_text`; imputation as window
//! functions: `impute_mean`, `impute_median`, `impute_mode`; k-nearest-neighbour imputation as
//! a table function: `knn_impute`.

pub mod functions;
pub mod impute;
pub mod knn;
pub mod normalize;

use std::sync::Arc;

use datafusion::logical_expr::{ScalarUDF, WindowUDF};

use functions::{NormalizeEmailFunc, NormalizeTextFunc, PhoneAnswer, PhoneFunc};

pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::new_from_impl(PhoneFunc::new(PhoneAnswer::E164))),
        Arc::new(ScalarUDF::new_from_impl(PhoneFunc::new(PhoneAnswer::Valid))),
        Arc::new(ScalarUDF::new_from_impl(PhoneFunc::new(
            PhoneAnswer::Region,
        ))),
        Arc::new(ScalarUDF::new_from_impl(NormalizeEmailFunc::default())),
        Arc::new(ScalarUDF::new_from_impl(NormalizeTextFunc::default())),
    ]
}

pub fn window_functions() -> Vec<Arc<WindowUDF>> {
    [impute::Fill::Mean, impute::Fill::Median, impute::Fill::Mode]
        .into_iter()
        .map(|fill| Arc::new(WindowUDF::new_from_impl(impute::ImputeWindow::new(fill))))
        .collect()
}
