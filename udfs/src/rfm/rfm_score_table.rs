//! `rfm_score('query', as_of [, bins [, scheme]])`: from raw transactions straight to one row
//! per customer with recency, frequency, monetary, their scores, the RFM cell and a segment.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int32Builder, Int64Array, RecordBatch, StringBuilder,
};
use datafusion::arrow::compute::{cast, concat_batches};
use datafusion::arrow::datatypes::{
    DataType, Field, Float64Type, Schema, TimeUnit, TimestampMicrosecondType,
};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Column, Result, ScalarValue, exec_err, plan_err};
use datafusion::functions_aggregate::expr_fn::{count, max, sum};
use datafusion::logical_expr::{
    Documentation, Expr, LogicalPlanBuilder, cast as cast_expr, col, lit,
};
use datafusion_macros::user_doc;

use super::scoring::{
    DEFAULT_BINS, MAX_BINS, MIN_BINS, score_higher_is_better, score_lower_is_better,
    sorted_population, thresholds,
};
use super::segments::{Scheme, cn_segment, en_segment};
use crate::query_table::{QueryTable, constant_arg, plan_query, session_state, string_arg};

const NAME: &str = "rfm_score";
const MICROS_PER_DAY: i64 = 86_400_000_000;

#[user_doc(
    doc_section(label = "Customer Value Functions"),
    description = "One row per customer from raw transactions: `customer_id, recency_days, frequency, monetary, r_score, f_score, m_score, rfm_cell, segment`. The query's first three columns are read by position as customer id, order time (timestamp or date) and amount. Orders at or after `as_of` are ignored; rows with a NULL id or time are skipped; a NULL amount counts as an order but not as spend. Scores follow the rule of the window form of `rfm_score` over all customers; `segment` uses the `en` 11-segment map by default, or with `'cn'` the 8-class model where R, F and M are high when the customer's value is better than the population mean.",
    syntax_example = "rfm_score('query or table', as_of [, bins [, scheme]])",
    sql_example = r#"```sql
> SELECT segment, count(*) AS customers, round(avg(monetary), 2) AS avg_spend
  FROM rfm_score('SELECT customer_id, order_ts, amount FROM orders', DATE '2026-11-01')
  GROUP BY segment ORDER BY customers DESC LIMIT 3;
+-----------------+-----------+-----------+
| segment         | customers | avg_spend |
+-----------------+-----------+-----------+
| Loyal Customers | 19931     | 12166.40  |
| Champions       | 15282     | 57781.97  |
| Lost            | 14413     | 1190.50   |
+-----------------+-----------+-----------+
> SELECT customer_id, recency_days, frequency, monetary, rfm_cell, segment
  FROM rfm_score('SELECT customer_id, order_ts, amount FROM orders', DATE '2026-11-01', 5, 'cn')
  ORDER BY customer_id LIMIT 2;
+-------------+--------------+-----------+----------+----------+--------------+
| customer_id | recency_days | frequency | monetary | rfm_cell | segment      |
+-------------+--------------+-----------+----------+----------+--------------+
| 100001      | 2            | 12        | 2642.76  | 522      | 一般发展客户 |
| 100002      | 27           | 13        | 8592.65  | 334      | 一般发展客户 |
+-------------+--------------+-----------+----------+----------+--------------+
```"#,
    argument(
        name = "query",
        description = "A SELECT returning customer id, order time and amount (in that order), or the name of a table with exactly those first three columns. `monetary` is the sum of amounts in their own type (NUMERIC stays exact)."
    ),
    argument(
        name = "as_of",
        description = "The date or timestamp recency is measured from (a DATE means its midnight, UTC)."
    ),
    argument(
        name = "bins",
        description = "Number of score levels, 2 to 9. Default 5."
    ),
    argument(
        name = "scheme",
        description = "'en' (default): the 11 named segments; 'cn': 重要价值客户 … 一般挽留客户."
    )
)]
#[derive(Debug, Default)]
pub struct RfmScoreTableFunc;

impl RfmScoreTableFunc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// A date or timestamp constant as microseconds since the epoch (UTC).
pub fn as_of_micros(function: &str, value: &ScalarValue) -> Result<i64> {
    if value.is_null() {
        return plan_err!("{function}: as_of must not be NULL");
    }
    let target = DataType::Timestamp(TimeUnit::Microsecond, None);
    let value = match value {
        ScalarValue::Utf8(_) | ScalarValue::Utf8View(_) | ScalarValue::LargeUtf8(_) => {
            value.cast_to(&target).map_err(|_| {
                datafusion::error::DataFusionError::Plan(format!(
                    "{function}: as_of {value} is not a date or timestamp"
                ))
            })?
        }
        ScalarValue::Date32(_)
        | ScalarValue::Date64(_)
        | ScalarValue::TimestampSecond(..)
        | ScalarValue::TimestampMillisecond(..)
        | ScalarValue::TimestampMicrosecond(..)
        | ScalarValue::TimestampNanosecond(..) => value.cast_to(&target)?,
        other => {
            return plan_err!(
                "{function}: as_of must be a date or timestamp, got {}",
                other.data_type()
            );
        }
    };
    match value {
        ScalarValue::TimestampMicrosecond(Some(v), _) => Ok(v),
        other => plan_err!("{function}: as_of {other} is not a date or timestamp"),
    }
}

fn integer_constant(function: &str, name: &str, value: &ScalarValue) -> Result<i64> {
    match value.cast_to(&DataType::Int64) {
        Ok(ScalarValue::Int64(Some(v))) if value.data_type().is_integer() => Ok(v),
        _ => plan_err!("{function}: {name} must be an integer constant, got {value}"),
    }
}

impl TableFunctionImpl for RfmScoreTableFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if !(2..=4).contains(&exprs.len()) {
            return plan_err!(
                "{NAME} takes 2 to 4 arguments ('query', as_of [, bins [, scheme]]), got {}",
                exprs.len()
            );
        }
        let state = session_state(args.session(), NAME)?;
        let query = string_arg(NAME, "query", &exprs[0])?;
        let as_of = as_of_micros(NAME, &constant_arg(NAME, "as_of", &exprs[1])?)?;
        let bins = match exprs.get(2) {
            Some(e) => integer_constant(NAME, "bins", &constant_arg(NAME, "bins", e)?)?,
            None => DEFAULT_BINS,
        };
        if !(MIN_BINS..=MAX_BINS).contains(&bins) {
            return plan_err!("{NAME}: bins must be between {MIN_BINS} and {MAX_BINS}, got {bins}");
        }
        let scheme = match exprs.get(3) {
            Some(e) => {
                let text = string_arg(NAME, "scheme", e)?;
                Scheme::parse(&text).ok_or_else(|| {
                    datafusion::error::DataFusionError::Plan(format!(
                        "{NAME}: scheme must be 'en' or 'cn', got '{text}'"
                    ))
                })?
            }
            None => Scheme::En,
        };

        let input = plan_query(state, NAME, &query)?;
        let input_schema = input.schema().clone();
        if input_schema.fields().len() < 3 {
            return plan_err!(
                "{NAME}: the query must return customer id, order time and amount; it returns {} column(s)",
                input_schema.fields().len()
            );
        }
        let column = |i: usize| Expr::Column(Column::from(input_schema.qualified_field(i)));
        let (id_field, ts_field, amount_field) = (
            input_schema.field(0),
            input_schema.field(1),
            input_schema.field(2),
        );
        if !matches!(
            ts_field.data_type(),
            DataType::Timestamp(..) | DataType::Date32 | DataType::Date64
        ) {
            return plan_err!(
                "{NAME}: the second column ({}) must be a timestamp or date, got {}",
                ts_field.name(),
                ts_field.data_type()
            );
        }
        if !(amount_field.data_type().is_numeric() || amount_field.data_type() == &DataType::Null) {
            return plan_err!(
                "{NAME}: the third column ({}) must be a number, got {}",
                amount_field.name(),
                amount_field.data_type()
            );
        }
        let ts = cast_expr(column(1), DataType::Timestamp(TimeUnit::Microsecond, None));
        let amount = if amount_field.data_type() == &DataType::Null {
            cast_expr(column(2), DataType::Float64)
        } else {
            column(2)
        };
        let as_of_lit = lit(ScalarValue::TimestampMicrosecond(Some(as_of), None));
        let plan = LogicalPlanBuilder::from(input)
            .filter(
                column(0)
                    .is_not_null()
                    .and(ts.clone().is_not_null())
                    .and(ts.clone().lt(as_of_lit)),
            )?
            .aggregate(
                vec![column(0).alias("customer_id")],
                vec![
                    max(ts).alias("last_ts"),
                    count(lit(1)).alias("frequency"),
                    // Summed in its own type, so NUMERIC amounts stay exact.
                    sum(amount).alias("monetary"),
                ],
            )?
            .project(vec![
                col("customer_id"),
                col("last_ts"),
                col("frequency"),
                col("monetary"),
            ])?
            .build()?;

        let monetary_type = plan.schema().field(3).data_type().clone();
        let schema = Arc::new(Schema::new(vec![
            Field::new("customer_id", id_field.data_type().clone(), false),
            Field::new("recency_days", DataType::Int64, false),
            Field::new("frequency", DataType::Int64, false),
            Field::new("monetary", monetary_type, true),
            Field::new("r_score", DataType::Int32, false),
            Field::new("f_score", DataType::Int32, false),
            Field::new("m_score", DataType::Int32, true),
            Field::new("rfm_cell", DataType::Utf8, true),
            Field::new("segment", DataType::Utf8, true),
        ]));
        let out_schema = schema.clone();
        let bins = bins as usize;
        let finish = Arc::new(move |batches: Vec<RecordBatch>| {
            score(&out_schema, batches, as_of, bins, scheme)
        });
        Ok(Arc::new(QueryTable::new(NAME, plan, schema, finish)))
    }
}

fn score(
    schema: &Arc<Schema>,
    batches: Vec<RecordBatch>,
    as_of: i64,
    bins: usize,
    scheme: Scheme,
) -> Result<Vec<RecordBatch>> {
    if batches.is_empty() {
        return Ok(vec![]);
    }
    let batch = concat_batches(&batches[0].schema(), &batches)?;
    let n = batch.num_rows();
    let ids = cast(batch.column(0), schema.field(0).data_type())?;
    let last = cast(
        batch.column(1),
        &DataType::Timestamp(TimeUnit::Microsecond, None),
    )?;
    let last = last.as_primitive::<TimestampMicrosecondType>();
    let frequency = cast(batch.column(2), &DataType::Int64)?;
    let frequency = frequency.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
    let monetary_out = cast(batch.column(3), schema.field(3).data_type())?;
    let monetary = cast(batch.column(3), &DataType::Float64)?;
    let monetary = monetary.as_primitive::<Float64Type>();

    let recency: Vec<i64> = (0..n)
        .map(|i| (as_of - last.value(i)).div_euclid(MICROS_PER_DAY))
        .collect();
    let recency_f: Vec<Option<f64>> = recency.iter().map(|d| Some(*d as f64)).collect();
    let frequency_f: Vec<Option<f64>> = (0..n).map(|i| Some(frequency.value(i) as f64)).collect();
    let monetary_f: Vec<Option<f64>> = (0..n)
        .map(|i| (monetary.is_valid(i) && monetary.value(i).is_finite()).then(|| monetary.value(i)))
        .collect();
    let tr = thresholds(&sorted_population(recency_f.iter().copied()), bins);
    let tf = thresholds(&sorted_population(frequency_f.iter().copied()), bins);
    let tm = thresholds(&sorted_population(monetary_f.iter().copied()), bins);
    let mean = |v: &[Option<f64>]| {
        let (s, c) = v
            .iter()
            .flatten()
            .fold((0.0, 0usize), |(s, c), x| (s + x, c + 1));
        if c == 0 { f64::NAN } else { s / c as f64 }
    };
    let (mean_r, mean_f, mean_m) = (mean(&recency_f), mean(&frequency_f), mean(&monetary_f));

    let mut r_scores = Int32Builder::with_capacity(n);
    let mut f_scores = Int32Builder::with_capacity(n);
    let mut m_scores = Int32Builder::with_capacity(n);
    let mut cells = StringBuilder::with_capacity(n, n * 3);
    let mut segments = StringBuilder::with_capacity(n, n * 12);
    for i in 0..n {
        let r = score_lower_is_better(recency[i] as f64, &tr);
        let f = score_higher_is_better(frequency.value(i) as f64, &tf);
        r_scores.append_value(r as i32);
        f_scores.append_value(f as i32);
        match monetary_f[i] {
            Some(m_value) => {
                let m = score_higher_is_better(m_value, &tm);
                m_scores.append_value(m as i32);
                cells.append_value(format!("{r}{f}{m}"));
                segments.append_value(match scheme {
                    Scheme::En => en_segment(r, f, m, bins as u8),
                    Scheme::Cn => cn_segment(
                        (recency[i] as f64) < mean_r,
                        (frequency.value(i) as f64) > mean_f,
                        m_value > mean_m,
                    ),
                });
            }
            None => {
                m_scores.append_null();
                cells.append_null();
                segments.append_null();
            }
        }
    }
    if monetary.len() != n {
        return exec_err!("{NAME}: internal length mismatch");
    }
    let columns: Vec<ArrayRef> = vec![
        ids,
        Arc::new(Int64Array::from(recency)),
        Arc::new(frequency.clone()),
        monetary_out,
        Arc::new(r_scores.finish()),
        Arc::new(f_scores.finish()),
        Arc::new(m_scores.finish()),
        Arc::new(cells.finish()),
        Arc::new(segments.finish()),
    ];
    Ok(vec![RecordBatch::try_new(schema.clone(), columns)?])
}
