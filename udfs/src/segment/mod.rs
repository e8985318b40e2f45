//! Segments learned from data: k-means (with choosing k and explaining centres), DBSCAN, and
//! the agreement of two segmentations.

pub mod args;
pub mod dbscan;
pub mod dbscan_segment_window;
pub mod feature_query;
pub mod features;
pub mod kmeans_centers;
pub mod kmeans_choose_k;
pub mod kmeans_core;
pub mod kmeans_segment_table;
pub mod kmeans_segment_window;
pub mod lloyd;
pub mod options;
pub mod segment_agreement;

use std::sync::{Arc, LazyLock};

use datafusion::logical_expr::{AggregateUDF, WindowUDF};

use crate::TableFunction;

pub fn kmeans_segment_window() -> Arc<WindowUDF> {
    static UDWF: LazyLock<Arc<WindowUDF>> = LazyLock::new(|| {
        Arc::new(WindowUDF::new_from_impl(
            kmeans_segment_window::KMeansSegmentWindow::new(),
        ))
    });
    UDWF.clone()
}

pub fn dbscan_segment_window() -> Arc<WindowUDF> {
    static UDWF: LazyLock<Arc<WindowUDF>> = LazyLock::new(|| {
        Arc::new(WindowUDF::new_from_impl(
            dbscan_segment_window::DbscanSegmentWindow::new(),
        ))
    });
    UDWF.clone()
}

pub fn segment_agreement() -> Arc<AggregateUDF> {
    static UDAF: LazyLock<Arc<AggregateUDF>> = LazyLock::new(|| {
        Arc::new(AggregateUDF::new_from_impl(
            segment_agreement::SegmentAgreementFunc::new(),
        ))
    });
    UDAF.clone()
}

pub fn kmeans_segment_table() -> TableFunction {
    crate::stateless_table_function!(
        "kmeans_segment",
        kmeans_segment_table::KMeansSegmentTableFunc
    )
}

pub fn kmeans_centers() -> TableFunction {
    crate::stateless_table_function!("kmeans_centers", kmeans_centers::KMeansCentersTableFunc)
}

pub fn kmeans_choose_k() -> TableFunction {
    crate::stateless_table_function!("kmeans_choose_k", kmeans_choose_k::KMeansChooseKTableFunc)
}

pub fn window_functions() -> Vec<Arc<WindowUDF>> {
    vec![kmeans_segment_window(), dbscan_segment_window()]
}

pub fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    vec![segment_agreement()]
}

pub fn table_functions() -> Vec<TableFunction> {
    vec![kmeans_segment_table(), kmeans_centers(), kmeans_choose_k()]
}
