//! `segment_agreement(a, b)`: the adjusted Rand index between two labelings of the same rows
//! (Hubert & Arabie 1985, "Comparing partitions"), so a team can check that a retrain gives the
//! same segments: 1 for identical partitions (whatever the label names), about 0 for chance.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, ListArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};
use datafusion_macros::user_doc;

const NAME: &str = "segment_agreement";

#[user_doc(
    doc_section(label = "Segmentation Functions"),
    description = "Adjusted Rand index between two labelings of the same rows: 1.0 when they split the rows the same way (the label names do not matter), about 0 for unrelated labelings, negative when worse than chance. Rows where either label is NULL are skipped; no rows give NULL. Labels may be numbers or text. Equals scikit-learn's `adjusted_rand_score`.",
    syntax_example = "segment_agreement(labels_a, labels_b)",
    sql_example = r#"```sql
> SELECT segment_agreement(a, b) AS one_moved, segment_agreement(a, c) AS renamed
  FROM (VALUES (1, 1, 'x'), (1, 1, 'x'), (2, 2, 'y'), (2, 1, 'y')) AS t(a, b, c);
+-----------+---------+
| one_moved | renamed |
+-----------+---------+
| 0.0       | 1.0     |
+-----------+---------+
```"#,
    argument(name = "labels_a", description = "Segment labels from one run."),
    argument(
        name = "labels_b",
        description = "Segment labels from another run, same rows."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SegmentAgreementFunc {
    signature: Signature,
}

impl Default for SegmentAgreementFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl SegmentAgreementFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn is_label_type(t: &DataType) -> bool {
    t.is_integer()
        || matches!(
            t,
            DataType::Utf8
                | DataType::Utf8View
                | DataType::LargeUtf8
                | DataType::Boolean
                | DataType::Null
        )
}

impl AggregateUDFImpl for SegmentAgreementFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 2 {
            return plan_err!(
                "{NAME} takes 2 arguments (labels_a, labels_b), got {}",
                arg_types.len()
            );
        }
        for t in arg_types {
            if !is_label_type(t) {
                return plan_err!("{NAME}: labels must be integers or text, got {t}");
            }
        }
        Ok(vec![DataType::Utf8, DataType::Utf8])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, _acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(AgreementAccumulator::default()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |name: &str, item: DataType| {
            Arc::new(Field::new(
                format!("{}[{name}]", args.name),
                DataType::List(Arc::new(Field::new_list_field(item, true))),
                true,
            ))
        };
        Ok(vec![
            list("a", DataType::Utf8),
            list("b", DataType::Utf8),
            list("count", DataType::Int64),
        ])
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The contingency table of the two labelings.
#[derive(Debug, Default)]
struct AgreementAccumulator {
    pairs: HashMap<(String, String), u64>,
}

/// Adjusted Rand index from a contingency table, computed as scikit-learn's
/// `adjusted_rand_score` does: from the pair confusion matrix in exact integer arithmetic, so
/// the textbook cases (1, 0, -0.5) come out exactly.
pub fn adjusted_rand_index(pairs: &HashMap<(String, String), u64>) -> Option<f64> {
    let n: i128 = pairs.values().map(|c| *c as i128).sum();
    if n == 0 {
        return None;
    }
    let mut rows: HashMap<&str, i128> = HashMap::new();
    let mut cols: HashMap<&str, i128> = HashMap::new();
    for ((a, b), c) in pairs {
        *rows.entry(a).or_default() += *c as i128;
        *cols.entry(b).or_default() += *c as i128;
    }
    let sum_squares: i128 = pairs.values().map(|c| (*c as i128) * (*c as i128)).sum();
    let row_squares: i128 = rows.values().map(|c| c * c).sum();
    let col_squares: i128 = cols.values().map(|c| c * c).sum();
    let tp = sum_squares - n;
    let fp = col_squares - sum_squares;
    let fn_ = row_squares - sum_squares;
    let tn = n * n - fp - fn_ - sum_squares;
    if fn_ == 0 && fp == 0 {
        // Identical splits, including the limit cases (everything in one cluster, every row
        // alone), which scikit-learn also scores 1.0.
        return Some(1.0);
    }
    let numerator = 2 * (tp * tn - fn_ * fp);
    let denominator = (tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn);
    Some(numerator as f64 / denominator as f64)
}

impl Accumulator for AgreementAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let [a, b] = values else {
            return exec_err!("{NAME}: expected 2 columns");
        };
        let a = cast(a, &DataType::Utf8)?;
        let b = cast(b, &DataType::Utf8)?;
        let (a, b) = (a.as_string::<i32>(), b.as_string::<i32>());
        for i in 0..a.len() {
            if a.is_valid(i) && b.is_valid(i) {
                *self
                    .pairs
                    .entry((a.value(i).to_string(), b.value(i).to_string()))
                    .or_default() += 1;
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(adjusted_rand_index(&self.pairs)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .pairs
                .keys()
                .map(|(a, b)| a.capacity() + b.capacity() + 48)
                .sum::<usize>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let a: StringArray = self.pairs.keys().map(|(a, _)| Some(a.as_str())).collect();
        let b: StringArray = self.pairs.keys().map(|(_, b)| Some(b.as_str())).collect();
        let counts: Int64Array = self.pairs.values().map(|c| Some(*c as i64)).collect();
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list_nullable(
                &string_scalars(&a),
                &DataType::Utf8,
            )),
            ScalarValue::List(ScalarValue::new_list_nullable(
                &string_scalars(&b),
                &DataType::Utf8,
            )),
            ScalarValue::List(ScalarValue::new_list_nullable(
                &counts.iter().map(ScalarValue::Int64).collect::<Vec<_>>(),
                &DataType::Int64,
            )),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [a, b, counts] = states else {
            return exec_err!("{NAME}: expected 3 state columns");
        };
        let (a, b, counts): (&ListArray, &ListArray, &ListArray) =
            (a.as_list(), b.as_list(), counts.as_list());
        for row in 0..a.len() {
            if !a.is_valid(row) {
                continue;
            }
            let (la, lb, lc) = (a.value(row), b.value(row), counts.value(row));
            let (la, lb) = (la.as_string::<i32>(), lb.as_string::<i32>());
            let lc = lc.as_primitive::<Int64Type>();
            for i in 0..la.len() {
                *self
                    .pairs
                    .entry((la.value(i).to_string(), lb.value(i).to_string()))
                    .or_default() += lc.value(i).max(0) as u64;
            }
        }
        Ok(())
    }
}

fn string_scalars(a: &StringArray) -> Vec<ScalarValue> {
    a.iter()
        .map(|s| ScalarValue::Utf8(s.map(str::to_string)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(a: &[&str], b: &[&str]) -> HashMap<(String, String), u64> {
        let mut pairs = HashMap::new();
        for (x, y) in a.iter().zip(b) {
            *pairs.entry((x.to_string(), y.to_string())).or_default() += 1;
        }
        pairs
    }

    #[test]
    fn matches_scikit_learn_examples() {
        // sklearn.metrics.adjusted_rand_score documentation examples.
        let ari = |a: &[&str], b: &[&str]| adjusted_rand_index(&table(a, b)).unwrap();
        assert!((ari(&["0", "0", "1", "1"], &["0", "0", "1", "1"]) - 1.0).abs() < 1e-12);
        assert!((ari(&["0", "0", "1", "1"], &["1", "1", "0", "0"]) - 1.0).abs() < 1e-12);
        assert!(
            (ari(&["0", "0", "1", "2"], &["0", "0", "1", "1"]) - 0.5714285714285715).abs() < 1e-12
        );
        assert!(
            (ari(&["0", "0", "1", "1"], &["0", "0", "1", "2"]) - 0.5714285714285715).abs() < 1e-12
        );
        assert!(ari(&["0", "0", "0", "0"], &["0", "1", "2", "3"]).abs() < 1e-12);
        assert!((ari(&["0", "0", "1", "1"], &["0", "1", "0", "1"]) + 0.5).abs() < 1e-12);
        assert!(adjusted_rand_index(&HashMap::new()).is_none());
    }
}
