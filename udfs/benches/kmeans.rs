//! k-means speed: 1,000,000 rows × 8 features into k = 8, on the data `scripts/bench-kmeans`
//! writes (the same file scikit-learn is timed on).
//!
//! `cargo bench -p huaxiang-udfs --bench kmeans -- PATH.csv`

use std::time::Instant;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Float64Type;
use huaxiang_udfs::segment::kmeans_core::fit;
use huaxiang_udfs::segment::options::ClusterOptions;
use ndarray::Array2;

fn main() {
    let Some(path) = std::env::args().skip(1).find(|a| a.ends_with(".csv")) else {
        eprintln!(
            "usage: cargo bench -p huaxiang-udfs --bench kmeans -- DATA.csv (see scripts/bench-kmeans)"
        );
        std::process::exit(2);
    };
    let file = std::fs::File::open(&path).expect("open the data file");
    let format = datafusion::arrow::csv::reader::Format::default().with_header(true);
    let (schema, _) = format
        .infer_schema(std::fs::File::open(&path).expect("open"), Some(100))
        .expect("infer schema");
    let reader = datafusion::arrow::csv::ReaderBuilder::new(std::sync::Arc::new(schema))
        .with_header(true)
        .with_batch_size(65536)
        .build(file)
        .expect("csv reader");
    let mut values = Vec::new();
    let mut rows = 0;
    let mut cols = 0;
    for batch in reader {
        let batch = batch.expect("read batch");
        cols = batch.num_columns();
        let columns: Vec<_> = (0..cols)
            .map(|c| {
                datafusion::arrow::compute::cast(
                    batch.column(c),
                    &datafusion::arrow::datatypes::DataType::Float64,
                )
                .expect("cast")
            })
            .collect();
        for i in 0..batch.num_rows() {
            for c in &columns {
                let c = c.as_primitive::<Float64Type>();
                values.push(if c.is_valid(i) { c.value(i) } else { f64::NAN });
            }
        }
        rows += batch.num_rows();
    }
    let data = Array2::from_shape_vec((rows, cols), values).expect("matrix");
    let options = ClusterOptions::default();
    let start = Instant::now();
    let fitted = fit(data.view(), 8, &options).expect("k-means");
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "huaxiang kmeans: rows={rows} features={cols} k=8 n_init={} time={seconds:.2}s inertia={:.1}",
        options.n_init, fitted.inertia
    );
}
