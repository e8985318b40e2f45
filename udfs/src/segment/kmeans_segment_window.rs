//! `kmeans_segment(f1, ..., fn, k [, options]) OVER (...)`: the k-means segment of each row.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int32Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    Documentation, PartitionEvaluator, Signature, Volatility, WindowUDFImpl,
};
use datafusion_macros::user_doc;

use super::args::{
    KChoice, check_numeric_features, coerce_numeric_or_text, fit_choice, k_choice, literal,
    split_options,
};
use super::features::complete_rows;
use super::options::ClusterOptions;

const NAME: &str = "kmeans_segment";

#[user_doc(
    doc_section(label = "Segmentation Functions"),
    description = "K-means segment (1..k) of each row over the rows of its window partition. Features are z-score standardised by default; k-means++ initialisation, 10 restarts, at most 300 iterations, tolerance 1e-4 (relative, as scikit-learn), seed 42 — the same data and options give the same segments, whatever order the rows arrive in. Segment 1 is the largest; equal sizes are ordered by their centre. Rows with a NULL feature get a NULL segment and do not affect the centres. With k = 'auto' the k in 2..10 with the best silhouette is used. Options: `'standardize=zscore|minmax|none, n_init=10, max_iter=300, tol=1e-4, seed=42, k_min=2, k_max=10, silhouette_sample=2000'`.",
    syntax_example = "kmeans_segment(feature1, ..., featureN, k [, 'options']) OVER ([PARTITION BY ...])",
    sql_example = r#"```sql
> WITH stats AS (
    SELECT customer_id, count(*) AS orders, sum(amount) AS spend,
           CAST(DATE '2026-11-01' - max(CAST(order_ts AS DATE)) AS BIGINT) AS recency_days
    FROM orders GROUP BY customer_id)
  SELECT segment, count(*) AS customers, round(avg(orders), 1) AS orders,
         round(avg(spend), 0) AS spend, round(avg(recency_days), 0) AS recency_days
  FROM (SELECT *, kmeans_segment(orders, spend, recency_days, 4) OVER () AS segment FROM stats)
  GROUP BY segment ORDER BY segment;
+---------+-----------+--------+--------+--------------+
| segment | customers | orders | spend  | recency_days |
+---------+-----------+--------+--------+--------------+
| 1       | 36972     | 22.6   | 7955   | 95.0         |
| 2       | 36816     | 9.4    | 3315   | 37.0         |
| 3       | 16429     | 5.8    | 1848   | 550.0        |
| 4       | 7969      | 73.5   | 113457 | 10.0         |
+---------+-----------+--------+--------+--------------+
```"#,
    argument(
        name = "feature1, ..., featureN",
        description = "Numeric features (one or more)."
    ),
    argument(name = "k", description = "Number of segments, a constant, or 'auto'."),
    argument(
        name = "options",
        description = "Optional text of key=value options (see above)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KMeansSegmentWindow {
    signature: Signature,
}

impl Default for KMeansSegmentWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl KMeansSegmentWindow {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl WindowUDFImpl for KMeansSegmentWindow {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_numeric_or_text(NAME, arg_types, 2, "feature1, ..., featureN, k [, options]")
    }

    fn partition_evaluator(
        &self,
        args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        let (exprs, options) = split_options(NAME, args.input_exprs())?;
        let Some((k_expr, features)) = exprs.split_last() else {
            return exec_err!("{NAME}: missing k");
        };
        if features.is_empty() {
            return exec_err!("{NAME}: give at least one feature before k");
        }
        check_numeric_features(NAME, args.input_fields(), features.len())?;
        let k = k_choice(NAME, &literal(NAME, "k", k_expr)?)?;
        Ok(Box::new(KMeansEvaluator {
            features: features.len(),
            k,
            options,
        }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            field_args.name(),
            DataType::Int32,
            true,
        )))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[derive(Debug)]
struct KMeansEvaluator {
    features: usize,
    k: KChoice,
    options: ClusterOptions,
}

impl PartitionEvaluator for KMeansEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let Some(feature_columns) = values.get(..self.features) else {
            return exec_err!("{NAME}: expected {} feature columns", self.features);
        };
        let (matrix, index) = complete_rows(feature_columns, num_rows)?;
        let mut out: Vec<Option<i32>> = vec![None; num_rows];
        if index.is_empty() {
            return Ok(Arc::new(Int32Array::from(out)));
        }
        let fitted = crate::stop::long_running(|| {
            fit_choice(
                NAME,
                matrix.view(),
                self.k,
                &self.options,
                " in the partition",
            )
        })?;
        for (row, label) in index.iter().zip(&fitted.labels) {
            out[*row] = Some(*label as i32 + 1);
        }
        Ok(Arc::new(Int32Array::from(out)))
    }
}
