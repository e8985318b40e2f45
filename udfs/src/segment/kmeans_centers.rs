//! `kmeans_centers('query', k [, options])`: one row per segment with its size and its centre in
//! the original units of each feature — the table a BI tool charts side by side.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::args::fit_choice;
use super::feature_query::{feature_query, float_field, gather, k_arg};
use super::features::complete_rows;
use super::options::ClusterOptions;
use crate::query_table::{QueryTable, options_arg};

const NAME: &str = "kmeans_centers";

#[user_doc(
    doc_section(label = "Segmentation Functions"),
    description = "One row per k-means segment: `segment` (1 = largest), `size`, `share` of the clustered rows, `mean_distance` to the centre (standardised units), then the centre in the original units of each feature, in columns named after the features. Same query shape, algorithm, defaults and options as `kmeans_segment('query', k)`, so the segment numbers agree.",
    syntax_example = "kmeans_centers('query', k [, 'options'])",
    sql_example = r#"```sql
> SELECT segment, size, round(share, 3) AS share, round(orders, 1) AS orders, round(spend, 0) AS spend
  FROM kmeans_centers(
    'SELECT customer_id, count(*) AS orders, sum(amount) AS spend FROM orders GROUP BY customer_id', 3);
+---------+-------+-------+--------+----------+
| segment | size  | share | orders | spend    |
+---------+-------+-------+--------+----------+
| 1       | 51375 | 0.523 | 7.9    | 2650.0   |
| 2       | 38842 | 0.396 | 22.5   | 7992.0   |
| 3       | 7969  | 0.081 | 73.5   | 113457.0 |
+---------+-------+-------+--------+----------+
```"#,
    argument(
        name = "query",
        description = "A SELECT (or table name): row key first, then numeric features."
    ),
    argument(name = "k", description = "Number of segments, or 'auto'."),
    argument(
        name = "options",
        description = "Optional 'key=value, ...' options, as for kmeans_segment."
    )
)]
#[derive(Debug, Default)]
pub struct KMeansCentersTableFunc;

impl KMeansCentersTableFunc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

impl TableFunctionImpl for KMeansCentersTableFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        if !(2..=3).contains(&args.exprs().len()) {
            return plan_err!(
                "{NAME} takes 2 or 3 arguments ('query', k [, 'options']), got {}",
                args.exprs().len()
            );
        }
        let query = feature_query(&args, NAME)?;
        let k = k_arg(&args, NAME, 1)?;
        let options = options_arg(NAME, args.exprs(), 2, ClusterOptions::parse)?.0;
        let mut fields = vec![
            Arc::new(Field::new("segment", DataType::Int32, false)),
            Arc::new(Field::new("size", DataType::Int64, false)),
            float_field("share"),
            float_field("mean_distance"),
        ];
        for f in &query.features {
            if ["segment", "size", "share", "mean_distance"].contains(&f.name().as_str()) {
                return plan_err!(
                    "{NAME}: rename feature {} (the name is taken by an output column)",
                    f.name()
                );
            }
            fields.push(float_field(f.name()));
        }
        let schema = Arc::new(Schema::new(fields));
        let out_schema = schema.clone();
        let n_features = query.features.len();
        let finish = Arc::new(move |batches: Vec<RecordBatch>| {
            if batches.is_empty() {
                return Ok(vec![]);
            }
            let (_, features, n) = gather(&batches, n_features)?;
            let (matrix, index) = complete_rows(&features, n)?;
            if index.is_empty() {
                return Ok(vec![]);
            }
            let fitted = fit_choice(NAME, matrix.view(), k, &options, "")?;
            let centers = fitted.centers_original();
            let total = index.len() as f64;
            let mut distance_sums = vec![0.0; fitted.k];
            for (label, d) in fitted.labels.iter().zip(&fitted.distances) {
                distance_sums[*label] += d;
            }
            let mut columns: Vec<ArrayRef> = vec![
                Arc::new(Int32Array::from_iter_values(
                    (1..=fitted.k as i32).collect::<Vec<_>>(),
                )),
                Arc::new(Int64Array::from_iter_values(
                    fitted.sizes.iter().map(|s| *s as i64),
                )),
                Arc::new(Float64Array::from_iter_values(
                    fitted.sizes.iter().map(|s| *s as f64 / total),
                )),
                Arc::new(Float64Array::from_iter_values(
                    distance_sums
                        .iter()
                        .zip(&fitted.sizes)
                        .map(|(s, n)| if *n > 0 { s / *n as f64 } else { 0.0 }),
                )),
            ];
            for j in 0..n_features {
                columns.push(Arc::new(Float64Array::from_iter_values(
                    centers.column(j).iter().copied(),
                )));
            }
            Ok(vec![RecordBatch::try_new(out_schema.clone(), columns)?])
        });
        Ok(Arc::new(QueryTable::new(NAME, query.plan, schema, finish)))
    }
}
