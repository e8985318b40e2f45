//! `kmeans_choose_k('query', k_min, k_max [, options])`: inertia and silhouette for each k — the
//! elbow and silhouette charts.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::feature_query::{feature_query, float_field, gather, integer_arg};
use super::features::complete_rows;
use super::kmeans_core::fit_best_k;
use super::options::ClusterOptions;
use crate::query_table::{QueryTable, options_arg};

const NAME: &str = "kmeans_choose_k";

#[user_doc(
    doc_section(label = "Segmentation Functions"),
    description = "Runs k-means for every k from k_min to k_max (at most rows - 1) and returns `k`, `inertia` (sum of squared distances to the centres, standardised units — the elbow chart), `silhouette` (mean silhouette coefficient, Rousseeuw 1987, over at most `silhouette_sample` rows drawn with the seed — the silhouette chart) and `best` (the k that `k => 'auto'` picks: the highest silhouette). Query shape and options as for `kmeans_segment`.",
    syntax_example = "kmeans_choose_k('query', k_min, k_max [, 'options'])",
    sql_example = r#"```sql
> SELECT k, round(inertia, 1) AS inertia, round(silhouette, 3) AS silhouette, best
  FROM kmeans_choose_k(
    'SELECT customer_id, count(*) AS orders, sum(amount) AS spend FROM orders GROUP BY customer_id', 2, 6);
+---+---------+------------+-------+
| k | inertia | silhouette | best  |
+---+---------+------------+-------+
| 2 | 28455.7 | 0.868      | true  |
| 3 | 13754.9 | 0.592      | false |
| 4 | 9815.4  | 0.569      | false |
| 5 | 6960.7  | 0.509      | false |
| 6 | 5819.4  | 0.504      | false |
+---+---------+------------+-------+
```"#,
    argument(
        name = "query",
        description = "A SELECT (or table name): row key first, then numeric features."
    ),
    argument(name = "k_min", description = "Smallest k, at least 2."),
    argument(name = "k_max", description = "Largest k, at most 50."),
    argument(
        name = "options",
        description = "Optional 'key=value, ...' options, as for kmeans_segment."
    )
)]
#[derive(Debug, Default)]
pub struct KMeansChooseKTableFunc;

impl KMeansChooseKTableFunc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

impl TableFunctionImpl for KMeansChooseKTableFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        if !(3..=4).contains(&args.exprs().len()) {
            return plan_err!(
                "{NAME} takes 3 or 4 arguments ('query', k_min, k_max [, 'options']), got {}",
                args.exprs().len()
            );
        }
        let query = feature_query(&args, NAME)?;
        let k_min = integer_arg(&args, NAME, "k_min", 1)?;
        let k_max = integer_arg(&args, NAME, "k_max", 2)?;
        if k_min < 2 || k_max < k_min || k_max > 50 {
            return plan_err!(
                "{NAME}: need 2 <= k_min <= k_max <= 50, got k_min {k_min} and k_max {k_max}"
            );
        }
        let mut options = options_arg(NAME, args.exprs(), 3, ClusterOptions::parse)?.0;
        options.k_min = k_min;
        options.k_max = k_max;
        let schema = Arc::new(Schema::new(vec![
            Arc::new(Field::new("k", DataType::Int32, false)),
            float_field("inertia"),
            float_field("silhouette"),
            Arc::new(Field::new("best", DataType::Boolean, false)),
        ]));
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
            let (best, trials) = fit_best_k(matrix.view(), &options).map_err(|e| {
                datafusion::error::DataFusionError::Execution(format!("{NAME}: {e}"))
            })?;
            let columns: Vec<ArrayRef> = vec![
                Arc::new(Int32Array::from_iter_values(
                    trials.iter().map(|t| t.k as i32),
                )),
                Arc::new(Float64Array::from_iter_values(
                    trials.iter().map(|t| t.inertia),
                )),
                Arc::new(Float64Array::from(
                    trials
                        .iter()
                        .map(|t| (!t.silhouette.is_nan()).then_some(t.silhouette))
                        .collect::<Vec<_>>(),
                )),
                Arc::new(BooleanArray::from(
                    trials.iter().map(|t| t.k == best.k).collect::<Vec<_>>(),
                )),
            ];
            Ok(vec![RecordBatch::try_new(out_schema.clone(), columns)?])
        });
        Ok(Arc::new(QueryTable::new(NAME, query.plan, schema, finish)))
    }
}
