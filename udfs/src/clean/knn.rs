//! `knn_impute('table or query', 'feature, feature, …' [, k])`: every row of the input, with
//! each NULL of a feature column filled by the mean of that column over the k nearest rows
//! that have it.
//!
//! The method is scikit-learn's `KNNImputer` (uniform weights, `nan_euclidean` distance) on
//! standardised features, the way it is used in practice (`StandardScaler` first, so a feature
//! in yuan does not outweigh one in days): each feature is scaled by its mean and population
//! standard deviation over its non-NULL values; the distance between two rows over the features
//! both have is `sqrt(n_features / n_shared * Σ (a - b)²)`. Neighbours are the rows that have
//! the missing feature, nearest first, ties by input order; a row that shares no feature with
//! any of them gets the feature's mean. The filled value is in the column's own units. A
//! brute-force search: time grows with (rows with a NULL) × (rows), fine up to about a hundred
//! thousand rows.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Float64Array, RecordBatch};
use datafusion::arrow::compute::{cast, concat_batches};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use crate::TableFunction;
use crate::query_table::{QueryTable, constant_arg, plan_query, session_state, string_arg};

const NAME: &str = "knn_impute";
const DEFAULT_K: usize = 5;

#[user_doc(
    doc_section(label = "Data Cleaning Functions"),
    description = "Every row of a table or query, with each NULL in the named numeric feature columns filled by the mean of that feature over the k nearest rows that have it (scikit-learn's `KNNImputer` on standardised features). Features are standardised by their mean and population standard deviation; the distance between two rows over the features both have is `sqrt(n_features / n_shared × Σ(a − b)²)` (`nan_euclidean`). Ties go to the earlier row; a row sharing no feature with any candidate gets the feature's mean. The feature columns come back as double precision, in their own units; other columns pass through unchanged. Brute force: time grows with rows-with-NULLs × rows.",
    syntax_example = "knn_impute('table or query', 'feature, feature, ...' [, k])",
    sql_example = r#"```sql
> SELECT id, age, spend
  FROM knn_impute('SELECT * FROM (VALUES (1, 20, 100.0), (2, 22, 110.0), (3, 60, 500.0),
                   (4, 62, 520.0), (5, 21, NULL), (6, NULL, 505.0)) t(id, age, spend)',
                  'age, spend', 2)
  ORDER BY id;
+----+------+-------+
| id | age  | spend |
+----+------+-------+
| 1  | 20.0 | 100.0 |
| 2  | 22.0 | 110.0 |
| 3  | 60.0 | 500.0 |
| 4  | 62.0 | 520.0 |
| 5  | 21.0 | 105.0 |
| 6  | 61.0 | 505.0 |
+----+------+-------+
```"#,
    argument(name = "query", description = "A table or view name, or a SELECT."),
    argument(
        name = "features",
        description = "The numeric columns that are both compared and filled, separated by commas."
    ),
    argument(
        name = "k",
        description = "How many neighbours to average (default 5)."
    )
)]
#[derive(Debug, Default)]
pub struct KnnImputeFunc;

impl KnnImputeFunc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

pub fn table_function() -> TableFunction {
    crate::stateless_table_function!(NAME, KnnImputeFunc)
}

fn k_arg(value: &ScalarValue) -> Result<usize> {
    let k = match value {
        ScalarValue::Int8(Some(v)) => i64::from(*v),
        ScalarValue::Int16(Some(v)) => i64::from(*v),
        ScalarValue::Int32(Some(v)) => i64::from(*v),
        ScalarValue::Int64(Some(v)) => *v,
        ScalarValue::UInt8(Some(v)) => i64::from(*v),
        ScalarValue::UInt16(Some(v)) => i64::from(*v),
        ScalarValue::UInt32(Some(v)) => i64::from(*v),
        ScalarValue::UInt64(Some(v)) => i64::try_from(*v).unwrap_or(i64::MAX),
        v if v.is_null() => return plan_err!("{NAME}: k must not be NULL"),
        other => return plan_err!("{NAME}: k must be an integer, got {other}"),
    };
    if k < 1 {
        return plan_err!("{NAME}: k must be at least 1, got {k}");
    }
    Ok(usize::try_from(k).unwrap_or(usize::MAX))
}

impl TableFunctionImpl for KnnImputeFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if !(2..=3).contains(&exprs.len()) {
            return plan_err!(
                "{NAME} takes 2 or 3 arguments ('table or query', 'feature, feature, ...' [, k]), got {}",
                exprs.len()
            );
        }
        let state = session_state(args.session(), NAME)?;
        let query = string_arg(NAME, "query", &exprs[0])?;
        let feature_text = string_arg(NAME, "features", &exprs[1])?;
        let k = match exprs.get(2) {
            Some(e) => k_arg(&constant_arg(NAME, "k", e)?)?,
            None => DEFAULT_K,
        };
        let input = plan_query(state, NAME, &query)?;
        let fields: Vec<Field> = input
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let mut features: Vec<usize> = Vec::new();
        for name in feature_text
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            let Some(i) = fields.iter().position(|f| f.name() == name) else {
                let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
                return plan_err!(
                    "{NAME}: the query has no column '{name}' (its columns: {})",
                    names.join(", ")
                );
            };
            if !fields[i].data_type().is_numeric() {
                return plan_err!(
                    "{NAME}: feature {name} must be a number, got {}",
                    fields[i].data_type()
                );
            }
            if features.contains(&i) {
                return plan_err!("{NAME}: feature {name} is named twice");
            }
            features.push(i);
        }
        if features.is_empty() {
            return plan_err!("{NAME}: features names no column");
        }
        let input_schema = Arc::new(Schema::new(fields.clone()));
        let out_fields: Vec<Field> = fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                if features.contains(&i) {
                    Field::new(f.name(), DataType::Float64, true)
                } else {
                    f.clone()
                }
            })
            .collect();
        let schema = Arc::new(Schema::new(out_fields));
        let out = schema.clone();
        let finish = Arc::new(move |batches: Vec<RecordBatch>| {
            let all = concat_batches(&input_schema, &batches)?;
            if all.num_rows() == 0 {
                return Ok(vec![]);
            }
            let mut values: Vec<Vec<Option<f64>>> = Vec::with_capacity(features.len());
            for &c in &features {
                let column = cast(all.column(c), &DataType::Float64)?;
                let column = column
                    .as_any()
                    .downcast_ref::<Float64Array>()
                    .expect("cast to Float64 gives a Float64Array");
                let column: Vec<Option<f64>> =
                    column.iter().map(|v| v.filter(|x| x.is_finite())).collect();
                if column.iter().all(Option::is_none) {
                    return plan_err!(
                        "{NAME}: feature {} has no value in any row; leave it out of the features",
                        input_schema.field(c).name()
                    );
                }
                values.push(column);
            }
            let filled = impute(&values, k);
            crate::stop::checkpoint()?;
            let mut columns: Vec<ArrayRef> = all.columns().to_vec();
            for (j, &c) in features.iter().enumerate() {
                columns[c] = Arc::new(Float64Array::from(filled[j].clone()));
            }
            Ok(vec![RecordBatch::try_new(out.clone(), columns)?])
        });
        Ok(Arc::new(QueryTable::new(NAME, input, schema, finish)))
    }
}

/// Mean and population standard deviation of the present values (1 when it is 0, as
/// scikit-learn's `StandardScaler` does).
fn scale(column: &[Option<f64>]) -> (f64, f64) {
    let present: Vec<f64> = column.iter().flatten().copied().collect();
    let n = present.len() as f64;
    let mean = present.iter().sum::<f64>() / n;
    let var = present.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let sd = var.sqrt();
    (mean, if sd > 0.0 { sd } else { 1.0 })
}

/// Fills every `None` of `columns` (features × rows; each column has a value somewhere).
fn impute(columns: &[Vec<Option<f64>>], k: usize) -> Vec<Vec<Option<f64>>> {
    let n_features = columns.len();
    let rows = columns[0].len();
    let scales: Vec<(f64, f64)> = columns.iter().map(|c| scale(c)).collect();
    // Row-major standardised values, NaN for missing.
    let z: Vec<f64> = (0..rows)
        .flat_map(|r| {
            columns
                .iter()
                .zip(&scales)
                .map(move |(c, (mean, sd))| c[r].map_or(f64::NAN, |v| (v - mean) / sd))
        })
        .collect();
    let row = |r: usize| &z[r * n_features..(r + 1) * n_features];
    let distance = |a: &[f64], b: &[f64]| -> Option<f64> {
        let (mut sum, mut shared) = (0.0, 0usize);
        for (x, y) in a.iter().zip(b) {
            if !x.is_nan() && !y.is_nan() {
                sum += (x - y) * (x - y);
                shared += 1;
            }
        }
        (shared > 0).then(|| (n_features as f64 / shared as f64 * sum).sqrt())
    };
    let donors: Vec<Vec<usize>> = columns
        .iter()
        .map(|c| (0..rows).filter(|&r| c[r].is_some()).collect())
        .collect();
    let receivers: Vec<usize> = (0..rows)
        .filter(|&r| columns.iter().any(|c| c[r].is_none()))
        .collect();
    // The receivers are independent: split them over the cores (std threads; the work is one
    // flat loop, no need for a pool).
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, receivers.len().max(1));
    let chunk = receivers.len().div_ceil(threads).max(1);
    // The workers are threads of their own: they watch the statement's token directly.
    let statement = crate::stop::current();
    let fills: Vec<(usize, usize, f64)> = std::thread::scope(|scope| {
        let workers: Vec<_> = receivers
            .chunks(chunk)
            .map(|mine| {
                let (row, distance, donors, scales) = (&row, &distance, &donors, &scales);
                let statement = statement.clone();
                scope.spawn(move || {
                    let mut fills = Vec::new();
                    let mut to: Vec<Option<f64>> = vec![None; rows];
                    let mut candidates: Vec<(f64, usize)> = Vec::new();
                    for &r in mine {
                        if statement.as_ref().is_some_and(|s| s.stopped().is_some()) {
                            // Stopped: the caller's checkpoint reports it.
                            break;
                        }
                        // One pass over all rows per receiver, shared by its missing features.
                        for (d, slot) in to.iter_mut().enumerate() {
                            *slot = distance(row(r), row(d));
                        }
                        for (j, column) in columns.iter().enumerate() {
                            if column[r].is_some() {
                                continue;
                            }
                            candidates.clear();
                            candidates.extend(
                                donors[j]
                                    .iter()
                                    .filter_map(|&d| to[d].map(|dist| (dist, d))),
                            );
                            fills.push((
                                r,
                                j,
                                nearest_mean(&mut candidates, column, k, scales[j].0),
                            ));
                        }
                    }
                    fills
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a knn_impute worker does not panic"))
            .collect()
    });
    let mut out = columns.to_vec();
    for (r, j, value) in fills {
        out[j][r] = Some(value);
    }
    out
}

/// The mean of `column` over the k nearest candidates (distance, row), ties to the earlier row;
/// `mean` when there is none.
fn nearest_mean(
    candidates: &mut [(f64, usize)],
    column: &[Option<f64>],
    k: usize,
    mean: f64,
) -> f64 {
    if candidates.is_empty() {
        return mean;
    }
    let take = k.min(candidates.len());
    let by_distance = |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    if take < candidates.len() {
        candidates.select_nth_unstable_by(take - 1, by_distance);
    }
    candidates[..take]
        .iter()
        .map(|&(_, d)| column[d].expect("donors have the value"))
        .sum::<f64>()
        / take as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_from_the_nearest_rows_in_standardised_units() {
        // Feature 0 in years, feature 1 in yuan: without scaling the yuan would decide alone.
        let age = vec![Some(20.0), Some(21.0), Some(60.0), Some(61.0), Some(20.5)];
        let income = vec![Some(9000.0), Some(9100.0), Some(9050.0), Some(9080.0), None];
        let filled = impute(&[age, income], 2);
        assert_eq!(filled[1][4], Some((9000.0 + 9100.0) / 2.0));
        assert_eq!(
            filled[0],
            vec![Some(20.0), Some(21.0), Some(60.0), Some(61.0), Some(20.5)]
        );
    }

    #[test]
    fn a_row_sharing_no_feature_gets_the_mean() {
        let a = vec![Some(1.0), Some(3.0), None];
        let b = vec![None, None, Some(5.0)];
        let filled = impute(&[a, b], 3);
        assert_eq!(filled[0][2], Some(2.0));
        assert_eq!(filled[1][0], Some(5.0));
    }

    #[test]
    fn k_larger_than_the_donors_averages_them_all() {
        let a = vec![Some(1.0), Some(2.0), Some(3.0)];
        let b = vec![Some(10.0), Some(20.0), None];
        assert_eq!(impute(&[a, b], 50)[1][2], Some(15.0));
    }
}
