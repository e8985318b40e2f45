//! `dbscan_segment(f1, ..., fn, eps, min_points [, options]) OVER (...)`: density-based clusters
//! (DBSCAN, Ester et al. 1996; see `dbscan.rs`); -1 marks noise.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int32Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    Documentation, PartitionEvaluator, Signature, Volatility, WindowUDFImpl,
};
use datafusion_macros::user_doc;
use linfa_clustering::Dbscan;

use super::args::{
    check_numeric_features, coerce_numeric_or_text, literal, number_of, split_options,
};
use super::features::complete_rows;
use super::kmeans_core::Standardizer;
use super::options::ClusterOptions;

const NAME: &str = "dbscan_segment";

#[user_doc(
    doc_section(label = "Segmentation Functions"),
    description = "DBSCAN cluster of each row over its window partition: 1, 2, ... (1 the largest cluster) or -1 for noise. A row is a core point when at least `min_points` rows (itself included) lie within distance `eps`; clusters grow from core points. Features are z-score standardised by default, so `eps` is in standard deviations (option `standardize=none` to use raw units). Rows with a NULL feature get NULL and are not clustered. Each row's eps-neighbourhood is searched in a k-d tree, so the work grows with the number of neighbours: an eps that puts most rows within reach of each other is quadratic — keep eps small, or run it per partition or on a sample. A cancel stops it between searches.",
    syntax_example = "dbscan_segment(feature1, ..., featureN, eps, min_points [, 'options']) OVER ([PARTITION BY ...])",
    sql_example = r#"```sql
> SELECT segment, count(*) AS customers, round(avg(orders), 1) AS orders,
         round(avg(spend), 0) AS spend, round(avg(recency_days)) AS recency_days
  FROM (SELECT *, dbscan_segment(ln(orders), ln(spend), recency_days, 0.2, 50) OVER () AS segment
        FROM (SELECT o.customer_id, count(*) AS orders, sum(amount) AS spend,
                     CAST(DATE '2026-11-01' - max(CAST(order_ts AS DATE)) AS BIGINT) AS recency_days
              FROM orders o JOIN customers c USING (customer_id)
              WHERE c.city = '杭州' GROUP BY o.customer_id))
  GROUP BY segment ORDER BY segment;
+---------+-----------+--------+--------+--------------+
| segment | customers | orders | spend  | recency_days |
+---------+-----------+--------+--------+--------------+
| -1      | 2421      | 7.8    | 3312   | 311.0        |
| 1       | 4012      | 18.2   | 6135   | 51.0         |
| 2       | 562       | 74.0   | 114900 | 10.0         |
+---------+-----------+--------+--------+--------------+
```"#,
    argument(name = "feature1, ..., featureN", description = "Numeric features."),
    argument(
        name = "eps",
        description = "Neighbourhood radius (> 0), in standard deviations by default."
    ),
    argument(
        name = "min_points",
        description = "Rows needed within eps for a core point (>= 1)."
    ),
    argument(
        name = "options",
        description = "Optional 'standardize=zscore|minmax|none'."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DbscanSegmentWindow {
    signature: Signature,
}

impl Default for DbscanSegmentWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl DbscanSegmentWindow {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl WindowUDFImpl for DbscanSegmentWindow {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_numeric_or_text(
            NAME,
            arg_types,
            3,
            "feature1, ..., featureN, eps, min_points [, options]",
        )
    }

    fn partition_evaluator(
        &self,
        args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        let (exprs, options) = split_options(NAME, args.input_exprs())?;
        if exprs.len() < 3 {
            return plan_err!("{NAME}: give at least one feature, then eps and min_points");
        }
        let features = exprs.len() - 2;
        check_numeric_features(NAME, args.input_fields(), features)?;
        let eps = number_of(&literal(NAME, "eps", &exprs[features])?)
            .filter(|e| e.is_finite() && *e > 0.0)
            .ok_or_else(|| {
                datafusion::error::DataFusionError::Plan(format!(
                    "{NAME}: eps must be a positive number"
                ))
            })?;
        let min_points = number_of(&literal(NAME, "min_points", &exprs[features + 1])?)
            .filter(|m| m.fract() == 0.0 && *m >= 1.0 && *m <= 1e9)
            .ok_or_else(|| {
                datafusion::error::DataFusionError::Plan(format!(
                    "{NAME}: min_points must be a whole number >= 1"
                ))
            })? as usize;
        Ok(Box::new(DbscanEvaluator {
            features,
            eps,
            min_points,
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
struct DbscanEvaluator {
    features: usize,
    eps: f64,
    min_points: usize,
    options: ClusterOptions,
}

impl PartitionEvaluator for DbscanEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let Some(feature_columns) = values.get(..self.features) else {
            return exec_err!("{NAME}: expected {} feature columns", self.features);
        };
        let (matrix, index) = complete_rows(feature_columns, num_rows)?;
        let mut out: Vec<Option<i32>> = vec![None; num_rows];
        if index.is_empty() {
            return Ok(Arc::new(Int32Array::from(out)));
        }
        let x = Standardizer::fit(matrix.view(), self.options.standardize).transform(matrix.view());
        // linfa checks the parameters; the search is ours (see `dbscan.rs`: it can be stopped).
        Dbscan::params::<f64>(self.min_points)
            .tolerance(self.eps)
            .check()
            .map_err(|e| datafusion::error::DataFusionError::Execution(format!("{NAME}: {e}")))?;
        let memberships = crate::stop::long_running(|| {
            super::dbscan::dbscan(x.view(), self.eps, self.min_points)
        })
        .map_err(|e| datafusion::error::DataFusionError::Execution(format!("{NAME}: {e}")))?;
        // Number clusters by size (largest first; ties by first row in canonical order), noise -1.
        let mut sizes: std::collections::HashMap<usize, (usize, usize)> =
            std::collections::HashMap::new();
        for (row, m) in memberships.iter().enumerate() {
            if let Some(c) = m {
                sizes.entry(*c).or_insert((0, row)).0 += 1;
            }
        }
        let mut ranked: Vec<(usize, (usize, usize))> = sizes.into_iter().collect();
        ranked.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.1.1.cmp(&b.1.1)));
        let number: std::collections::HashMap<usize, i32> = ranked
            .iter()
            .enumerate()
            .map(|(rank, (cluster, _))| (*cluster, rank as i32 + 1))
            .collect();
        for (j, m) in memberships.iter().enumerate() {
            out[index[j]] = Some(match m {
                Some(c) => number.get(c).copied().unwrap_or(-1),
                None => -1,
            });
        }
        Ok(Arc::new(Int32Array::from(out)))
    }
}

use linfa::ParamGuard;
