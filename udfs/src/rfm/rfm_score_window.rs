//! `rfm_score(recency_days, frequency, monetary [, bins]) OVER (...)`: the RFM cell of each row,
//! scored against the rows of its window partition.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    Documentation, PartitionEvaluator, Signature, Volatility, WindowUDFImpl,
};
use datafusion::physical_expr::expressions::Literal;
use datafusion_macros::user_doc;

use super::scoring::{
    DEFAULT_BINS, MAX_BINS, MIN_BINS, score_higher_is_better, score_lower_is_better,
    sorted_population, thresholds,
};

#[user_doc(
    doc_section(label = "Customer Value Functions"),
    description = "RFM cell (e.g. `'545'`) of each row: recency, frequency and monetary scores from quantile thresholds of the rows in the same window partition. Equal values always get the same score (unlike `ntile`); the most recent customers get the highest R score; a NULL measure gives a NULL cell and is not part of the population.",
    syntax_example = "rfm_score(recency_days, frequency, monetary [, bins]) OVER ([PARTITION BY ...])",
    sql_example = r#"```sql
> WITH stats AS (
    SELECT o.customer_id, c.city,
           CAST(DATE '2026-11-01' - max(CAST(o.order_ts AS DATE)) AS BIGINT) AS recency_days,
           count(*) AS frequency, sum(o.amount) AS monetary
    FROM orders o JOIN customers c USING (customer_id)
    GROUP BY o.customer_id, c.city)
  SELECT customer_id, city,
         rfm_score(recency_days, frequency, monetary) OVER (PARTITION BY city) AS cell
  FROM stats ORDER BY customer_id LIMIT 4;
+-------------+------+------+
| customer_id | city | cell |
+-------------+------+------+
| 100001      | 长沙 | 532  |
| 100002      | 北京 | 334  |
| 100003      | 北京 | 311  |
| 100004      | 杭州 | 523  |
+-------------+------+------+
```"#,
    argument(
        name = "recency_days",
        description = "Days since the last purchase (fewer is better)."
    ),
    argument(name = "frequency", description = "Number of purchases."),
    argument(name = "monetary", description = "Amount spent."),
    argument(
        name = "bins",
        description = "Number of score levels, a constant from 2 to 9. Default 5."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RfmScoreWindow {
    signature: Signature,
}

impl Default for RfmScoreWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl RfmScoreWindow {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The constant `bins` argument, checked once per partition evaluator.
pub fn bins_from_literal(
    function: &str,
    expr: Option<&Arc<dyn datafusion::physical_expr::PhysicalExpr>>,
) -> Result<usize> {
    let Some(expr) = expr else {
        return Ok(DEFAULT_BINS as usize);
    };
    let Some(literal) = expr.downcast_ref::<Literal>() else {
        return plan_err!("{function}: bins must be a constant");
    };
    let bins = match literal.value() {
        ScalarValue::Int8(Some(v)) => *v as i64,
        ScalarValue::Int16(Some(v)) => *v as i64,
        ScalarValue::Int32(Some(v)) => *v as i64,
        ScalarValue::Int64(Some(v)) => *v,
        ScalarValue::UInt8(Some(v)) => *v as i64,
        ScalarValue::UInt16(Some(v)) => *v as i64,
        ScalarValue::UInt32(Some(v)) => *v as i64,
        ScalarValue::UInt64(Some(v)) => i64::try_from(*v).unwrap_or(i64::MAX),
        other => return plan_err!("{function}: bins must be an integer constant, got {other}"),
    };
    if !(MIN_BINS..=MAX_BINS).contains(&bins) {
        return exec_err!("{function}: bins must be between {MIN_BINS} and {MAX_BINS}, got {bins}");
    }
    Ok(bins as usize)
}

fn is_numeric(t: &DataType) -> bool {
    t.is_numeric() || matches!(t, DataType::Null)
}

impl WindowUDFImpl for RfmScoreWindow {
    fn name(&self) -> &str {
        "rfm_score"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(3..=4).contains(&arg_types.len()) {
            return plan_err!(
                "rfm_score takes 3 or 4 arguments (recency_days, frequency, monetary [, bins]), got {}",
                arg_types.len()
            );
        }
        for (i, t) in arg_types.iter().enumerate().take(3) {
            if !is_numeric(t) {
                let name = ["recency_days", "frequency", "monetary"][i];
                return plan_err!("rfm_score: {name} must be a number, got {t}");
            }
        }
        let mut coerced = vec![DataType::Float64; 3];
        if let Some(t) = arg_types.get(3) {
            if !t.is_integer() {
                return plan_err!("rfm_score: bins must be an integer, got {t}");
            }
            coerced.push(DataType::Int64);
        }
        Ok(coerced)
    }

    fn partition_evaluator(
        &self,
        args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        let bins = bins_from_literal("rfm_score", args.input_exprs().get(3))?;
        Ok(Box::new(RfmScoreEvaluator { bins }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            field_args.name(),
            DataType::Utf8,
            true,
        )))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[derive(Debug)]
struct RfmScoreEvaluator {
    bins: usize,
}

impl PartitionEvaluator for RfmScoreEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let columns = values
            .iter()
            .take(3)
            .map(|a| cast(a, &DataType::Float64))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let [recency, frequency, monetary] = columns.as_slice() else {
            return exec_err!("rfm_score: expected 3 measures");
        };
        let (recency, frequency, monetary) = (
            recency.as_primitive::<Float64Type>(),
            frequency.as_primitive::<Float64Type>(),
            monetary.as_primitive::<Float64Type>(),
        );
        let population = |a: &datafusion::arrow::array::Float64Array| {
            thresholds(&sorted_population(a.iter()), self.bins)
        };
        let (tr, tf, tm) = (
            population(recency),
            population(frequency),
            population(monetary),
        );
        let mut out = StringBuilder::with_capacity(num_rows, num_rows * 3);
        for i in 0..num_rows {
            let value = |a: &datafusion::arrow::array::Float64Array| {
                (a.is_valid(i) && a.value(i).is_finite()).then(|| a.value(i))
            };
            match (value(recency), value(frequency), value(monetary)) {
                (Some(r), Some(f), Some(m)) => out.append_value(format!(
                    "{}{}{}",
                    score_lower_is_better(r, &tr),
                    score_higher_is_better(f, &tf),
                    score_higher_is_better(m, &tm)
                )),
                _ => out.append_null(),
            }
        }
        Ok(Arc::new(out.finish()))
    }
}
