//! The input of the customer-base functions: a query of raw transactions (customer id, order
//! time, amount), turned into one purchase history per customer, or a query that already has one
//! row per customer (id, frequency, recency, t, avg_value).

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::{cast, concat_batches};
use datafusion::arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type, TimeUnit};
use datafusion::common::{Column, Result, ScalarValue, exec_err, plan_err};
use datafusion::execution::context::SessionState;
use datafusion::functions::core::expr_fn::coalesce;
use datafusion::functions_aggregate::expr_fn::{count, max, min, sum};
use datafusion::logical_expr::{
    Expr, LogicalPlan, LogicalPlanBuilder, cast as cast_expr, col, lit,
};

use super::bgnbd::History;
use super::first_day_total::first_day_total;
use super::options::Unit;
use crate::query_table::plan_query;
use crate::rfm::rfm_score_table::as_of_micros;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// What the input query holds.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// Transactions, summarised up to and including this day (days since 1970-01-01).
    Transactions { as_of_day: i64 },
    /// One row per customer, already summarised.
    Summary,
}

/// A planned input: the plan whose rows `read` turns into customers.
pub struct Input {
    pub plan: LogicalPlan,
    pub id_type: DataType,
    shape: Shape,
    unit: Unit,
}

/// Customers read from the input.
pub struct Customers {
    pub ids: ArrayRef,
    pub histories: Vec<History>,
    /// Mean value of the repeat purchases; None without repeat purchases or value.
    pub values: Vec<Option<f64>>,
}

/// Plans the input of `function` from its query text and its `as_of` argument.
pub fn plan_input(
    state: &SessionState,
    function: &str,
    query: &str,
    as_of: &ScalarValue,
    unit: Unit,
) -> Result<Input> {
    let input = plan_query(state, function, query)?;
    let schema = input.schema().clone();
    let columns = schema.fields().len();
    let column = |i: usize| Expr::Column(Column::from(schema.qualified_field(i)));
    if columns < 3 {
        return plan_err!(
            "{function}: the query must return (customer id, order time, amount) or \
             (customer id, frequency, recency, t, avg_value); it returns {columns} column(s)"
        );
    }
    let id_type = schema.field(0).data_type().clone();
    let second = schema.field(1);
    if matches!(
        second.data_type(),
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64
    ) {
        let amount_field = schema.field(2);
        if !(amount_field.data_type().is_numeric() || amount_field.data_type() == &DataType::Null) {
            return plan_err!(
                "{function}: the third column ({}) must be a number, got {}",
                amount_field.name(),
                amount_field.data_type()
            );
        }
        let as_of_day = as_of_micros(function, as_of)?.div_euclid(MICROS_PER_DAY);
        let day = cast_expr(
            cast_expr(column(1), DataType::Timestamp(TimeUnit::Microsecond, None)),
            DataType::Date32,
        );
        let amount = coalesce(vec![cast_expr(column(2), DataType::Float64), lit(0.0f64)]);
        let as_of_lit = lit(ScalarValue::Date32(Some(as_of_day as i32)));
        let plan = LogicalPlanBuilder::from(input)
            .filter(
                column(0)
                    .is_not_null()
                    .and(day.clone().is_not_null())
                    .and(day.clone().lt_eq(as_of_lit)),
            )?
            .aggregate(
                vec![column(0).alias("customer_id"), day.alias("day")],
                vec![sum(amount).alias("total")],
            )?
            .aggregate(
                vec![col("customer_id")],
                vec![
                    min(col("day")).alias("first_day"),
                    max(col("day")).alias("last_day"),
                    count(lit(1)).alias("days"),
                    sum(col("total")).alias("all_total"),
                    first_day_total()
                        .call(vec![col("day"), col("total")])
                        .alias("first_total"),
                ],
            )?
            .build()?;
        return Ok(Input {
            plan,
            id_type,
            shape: Shape::Transactions { as_of_day },
            unit,
        });
    }
    if columns < 5 {
        return plan_err!(
            "{function}: a per-customer query must return customer id, frequency, recency, t and \
             avg_value; it returns {columns} column(s) (for transactions the second column must \
             be a timestamp or date, got {})",
            second.data_type()
        );
    }
    for (i, name) in [(1, "frequency"), (2, "recency"), (3, "t"), (4, "avg_value")] {
        let field = schema.field(i);
        if !(field.data_type().is_numeric() || field.data_type() == &DataType::Null) {
            return plan_err!(
                "{function}: column {} ({name}) must be a number, got {}",
                i + 1,
                field.data_type()
            );
        }
    }
    let number = |i: usize| cast_expr(column(i), DataType::Float64);
    let plan = LogicalPlanBuilder::from(input)
        .filter(
            column(0)
                .is_not_null()
                .and(column(1).is_not_null())
                .and(column(2).is_not_null())
                .and(column(3).is_not_null()),
        )?
        .project(vec![
            column(0).alias("customer_id"),
            number(1).alias("frequency"),
            number(2).alias("recency"),
            number(3).alias("t"),
            number(4).alias("avg_value"),
        ])?
        .build()?;
    Ok(Input {
        plan,
        id_type,
        shape: Shape::Summary,
        unit,
    })
}

impl Input {
    /// Reads the customers from the rows of `plan`.
    pub fn read(&self, function: &str, batches: Vec<RecordBatch>) -> Result<Customers> {
        if batches.is_empty() {
            return Ok(Customers {
                ids: datafusion::arrow::array::new_empty_array(&self.id_type),
                histories: vec![],
                values: vec![],
            });
        }
        let batch = concat_batches(&batches[0].schema(), &batches)?;
        let n = batch.num_rows();
        let ids = cast(batch.column(0), &self.id_type)?;
        let float = |i: usize| cast(batch.column(i), &DataType::Float64);
        let mut histories = Vec::with_capacity(n);
        let mut values = Vec::with_capacity(n);
        match self.shape {
            Shape::Transactions { as_of_day } => {
                let unit = self.unit.days();
                let first = batch.column(1).as_primitive::<Date32Type>();
                let last = batch.column(2).as_primitive::<Date32Type>();
                let days = cast(batch.column(3), &DataType::Int64)?;
                let days = days.as_primitive::<Int64Type>();
                let all = float(4)?;
                let all = all.as_primitive::<Float64Type>();
                let first_total = float(5)?;
                let first_total = first_total.as_primitive::<Float64Type>();
                for i in 0..n {
                    let (f, l) = (first.value(i) as i64, last.value(i) as i64);
                    let x = (days.value(i) - 1) as f64;
                    histories.push(History {
                        x,
                        tx: (l - f) as f64 / unit,
                        t: (as_of_day - f) as f64 / unit,
                    });
                    values.push((x > 0.0).then(|| (all.value(i) - first_total.value(i)) / x));
                }
            }
            Shape::Summary => {
                let columns: Vec<ArrayRef> =
                    (1..5).map(float).collect::<std::result::Result<_, _>>()?;
                let c: Vec<_> = columns
                    .iter()
                    .map(|a| a.as_primitive::<Float64Type>())
                    .collect();
                for i in 0..n {
                    let h = History {
                        x: c[0].value(i),
                        tx: c[1].value(i),
                        t: c[2].value(i),
                    };
                    if let Err(e) = h.check() {
                        return exec_err!("{function}: customer {}: {e}", row_id(&ids, i));
                    }
                    histories.push(h);
                    values.push(
                        (c[3].is_valid(i) && h.x > 0.0 && c[3].value(i).is_finite())
                            .then(|| c[3].value(i)),
                    );
                }
            }
        }
        Ok(Customers {
            ids,
            histories,
            values,
        })
    }
}

/// A customer id for an error message.
fn row_id(ids: &ArrayRef, i: usize) -> String {
    ScalarValue::try_from_array(ids.as_ref(), i)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| format!("in row {}", i + 1))
}
