//! RFM: recency, frequency and monetary scores, cells and named segments.

pub mod rfm_score_table;
pub mod rfm_score_window;
pub mod rfm_segment;
pub mod scoring;
pub mod segments;

use std::sync::{Arc, LazyLock};

use datafusion::logical_expr::{ScalarUDF, WindowUDF};

use crate::TableFunction;

pub fn rfm_segment() -> Arc<ScalarUDF> {
    static UDF: LazyLock<Arc<ScalarUDF>> =
        LazyLock::new(|| Arc::new(ScalarUDF::new_from_impl(rfm_segment::RfmSegmentFunc::new())));
    UDF.clone()
}

pub fn rfm_score_window() -> Arc<WindowUDF> {
    static UDWF: LazyLock<Arc<WindowUDF>> = LazyLock::new(|| {
        Arc::new(WindowUDF::new_from_impl(
            rfm_score_window::RfmScoreWindow::new(),
        ))
    });
    UDWF.clone()
}

pub fn rfm_score_table() -> TableFunction {
    crate::stateless_table_function!("rfm_score", rfm_score_table::RfmScoreTableFunc)
}

pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    vec![rfm_segment()]
}

pub fn window_functions() -> Vec<Arc<WindowUDF>> {
    vec![rfm_score_window()]
}

pub fn table_functions() -> Vec<TableFunction> {
    vec![rfm_score_table()]
}
