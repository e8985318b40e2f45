//! `kmeans_segment('query', k [, options])`: every row of a query with its segment and its
//! distance to the segment's centre.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int32Array, RecordBatch};
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

const NAME: &str = "kmeans_segment";

#[user_doc(
    doc_section(label = "Segmentation Functions"),
    description = "Every row of a query with its k-means `segment` (1..k, 1 the largest) and `distance` to the segment's centre (Euclidean, in standardised units). The query's first column is the row key (any type, passed through); the other columns are the numeric features. Same algorithm, defaults and options as the window form of `kmeans_segment`; rows with a NULL feature get NULL segment and distance.",
    syntax_example = "kmeans_segment('query', k [, 'options'])",
    sql_example = r#"```sql
> SELECT customer_id, orders, spend, segment, round(distance, 3) AS distance
  FROM kmeans_segment(
    'SELECT customer_id, count(*) AS orders, sum(amount) AS spend FROM orders GROUP BY customer_id', 3)
  ORDER BY customer_id LIMIT 3;
+-------------+--------+---------+---------+----------+
| customer_id | orders | spend   | segment | distance |
+-------------+--------+---------+---------+----------+
| 100001      | 12     | 2642.76 | 1       | 0.226    |
| 100002      | 13     | 8592.65 | 1       | 0.34     |
| 100003      | 4      | 370.92  | 1       | 0.223    |
+-------------+--------+---------+---------+----------+
```"#,
    argument(
        name = "query",
        description = "A SELECT (or table name) whose first column is the row key and whose other columns are numeric features."
    ),
    argument(
        name = "k",
        description = "Number of segments, or 'auto' (best silhouette in k_min..k_max)."
    ),
    argument(
        name = "options",
        description = "Optional 'key=value, ...' options, as for the window form."
    )
)]
#[derive(Debug, Default)]
pub struct KMeansSegmentTableFunc;

impl KMeansSegmentTableFunc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

impl TableFunctionImpl for KMeansSegmentTableFunc {
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
        let mut fields = vec![Arc::new(query.key.clone())];
        fields.extend(
            query
                .features
                .iter()
                .map(|f| Arc::new(f.clone().with_nullable(true))),
        );
        fields.push(Arc::new(Field::new("segment", DataType::Int32, true)));
        fields.push(float_field("distance"));
        let schema = Arc::new(Schema::new(fields));
        let out_schema = schema.clone();
        let n_features = query.features.len();
        let finish = Arc::new(move |batches: Vec<RecordBatch>| {
            if batches.is_empty() {
                return Ok(vec![]);
            }
            let (key, features, n) = gather(&batches, n_features)?;
            let (matrix, index) = complete_rows(&features, n)?;
            let mut segments: Vec<Option<i32>> = vec![None; n];
            let mut distances: Vec<Option<f64>> = vec![None; n];
            if !index.is_empty() {
                let fitted = fit_choice(NAME, matrix.view(), k, &options, "")?;
                for (j, row) in index.iter().enumerate() {
                    segments[*row] = Some(fitted.labels[j] as i32 + 1);
                    distances[*row] = Some(fitted.distances[j]);
                }
            }
            let mut columns: Vec<ArrayRef> = vec![key];
            columns.extend(features);
            columns.push(Arc::new(Int32Array::from(segments)));
            columns.push(Arc::new(Float64Array::from(distances)));
            Ok(vec![RecordBatch::try_new(out_schema.clone(), columns)?])
        });
        Ok(Arc::new(QueryTable::new(NAME, query.plan, schema, finish)))
    }
}
