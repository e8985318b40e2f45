//! `clv('query', as_of, horizon [, options])`: from raw transactions to every customer's
//! probability of being alive, expected purchases, expected spend and lifetime value over a
//! horizon, by the BG/NBD and Gamma-Gamma models fitted on the same customers.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;
use rayon::prelude::*;

use super::bgnbd::{expected_purchases, p_alive};
use super::fitted::read_fit_save;
use super::gamma_gamma::expected_value;
use super::input::plan_input;
use super::options::ClvOptions;
use crate::query_table::{QueryTable, constant_arg, options_arg, session_state, string_arg};

const NAME: &str = "clv";

#[user_doc(
    doc_section(label = "Churn and Lifetime Value Functions"),
    description = "Every customer's probability of being alive, expected purchases, expected spend per purchase and lifetime value over the next `horizon` time units, from raw transactions and nothing else: `customer_id, frequency, recency, t, avg_value, p_alive, churn_prob, expected_purchases, expected_avg_value, clv`. Purchases are counted per calendar day (UTC): `frequency` is the number of days with a purchase after the first, `recency` the time from the first to the last purchase day, `t` from the first purchase day to `as_of`, `avg_value` the mean amount of the repeat purchase days (NULL without repeats). The BG/NBD model (Fader, Hardie & Lee 2005; option `model=mbgnbd` for the MBG/NBD variant) is fitted by maximum likelihood on all customers, the Gamma-Gamma spend model on the repeat buyers with a positive `avg_value`; `clv` = `expected_purchases` × `expected_avg_value`, undiscounted. Under BG/NBD every customer without a repeat purchase has `p_alive` = 1; MBG/NBD lets them drop out too. A spend model with q ≤ 1 (no finite mean) is refused; without any repeat buyer with a positive value (amounts all NULL) `expected_avg_value` and `clv` are NULL.",
    syntax_example = "clv('query or table', as_of, horizon [, 'unit=days|weeks, model=bgnbd|mbgnbd, penalizer=0'])",
    sql_example = r#"```sql
> SELECT customer_id, frequency, round(p_alive, 3) AS p_alive,
         round(expected_purchases, 2) AS purchases_90d, round(clv, 2) AS clv_90d
  FROM clv('SELECT customer_id, order_ts, amount FROM orders', DATE '2026-10-31', 90)
  ORDER BY clv DESC LIMIT 3;
+-------------+-----------+---------+---------------+----------+
| customer_id | frequency | p_alive | purchases_90d | clv_90d  |
+-------------+-----------+---------+---------------+----------+
| 124882      | 9         | 0.972   | 12.07         | 38668.7  |
| 161189      | 8         | 0.966   | 11.89         | 31344.5  |
| 155628      | 11        | 0.977   | 13.16         | 25983.38 |
+-------------+-----------+---------+---------------+----------+
```"#,
    argument(
        name = "query",
        description = "A SELECT returning customer id, order time (timestamp or date) and amount in that order, or a table with those first three columns. It may instead return one row per customer: id, frequency, recency, t and avg_value in the chosen unit (then `as_of` is not used and may be NULL). Rows with a NULL id or time are skipped; a NULL amount counts as a purchase of value 0."
    ),
    argument(
        name = "as_of",
        description = "The last day observed (a DATE or timestamp, UTC): purchases on that day count, later ones are ignored, as `lifetimes`' `observation_period_end`."
    ),
    argument(
        name = "horizon",
        description = "How far ahead expected purchases and CLV look, in the time unit (default days)."
    ),
    argument(
        name = "options",
        description = "`unit=days` (default) or `weeks` (7 days) for recency, t and horizon; `model=bgnbd` (default) or `mbgnbd`; `penalizer=0`: an L2 penalty on the parameters, as `lifetimes`' `penalizer_coef`."
    )
)]
#[derive(Debug)]
pub struct ClvTableFunc {
    pub store: Arc<dyn crate::saved::store::ModelStore>,
}

impl ClvTableFunc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

impl TableFunctionImpl for ClvTableFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if !(3..=4).contains(&exprs.len()) {
            return plan_err!(
                "{NAME} takes 3 or 4 arguments ('query', as_of, horizon [, options]), got {}",
                exprs.len()
            );
        }
        let state = session_state(args.session(), NAME)?;
        let query = string_arg(NAME, "query", &exprs[0])?;
        let as_of = constant_arg(NAME, "as_of", &exprs[1])?;
        let horizon = constant_arg(NAME, "horizon", &exprs[2])?;
        let horizon = match horizon.cast_to(&DataType::Float64) {
            Ok(ScalarValue::Float64(Some(h)))
                if horizon.data_type().is_numeric() && h.is_finite() && h >= 0.0 =>
            {
                h
            }
            _ => return plan_err!("{NAME}: horizon must be a non-negative number, got {horizon}"),
        };
        let (options, options_text) = options_arg(NAME, exprs, 3, ClvOptions::parse)?;
        let input = Arc::new(plan_input(state, NAME, &query, &as_of, options.unit)?);
        let schema = Arc::new(Schema::new(vec![
            Field::new("customer_id", input.id_type.clone(), false),
            Field::new("frequency", DataType::Int64, false),
            Field::new("recency", DataType::Float64, false),
            Field::new("t", DataType::Float64, false),
            Field::new("avg_value", DataType::Float64, true),
            Field::new("p_alive", DataType::Float64, false),
            Field::new("churn_prob", DataType::Float64, false),
            Field::new("expected_purchases", DataType::Float64, false),
            Field::new("expected_avg_value", DataType::Float64, true),
            Field::new("clv", DataType::Float64, true),
        ]));
        let out_schema = schema.clone();
        let store = self.store.clone();
        let plan = input.plan.clone();
        let finish = Arc::new(move |batches: Vec<RecordBatch>| {
            let Some((customers, fitted)) = read_fit_save(
                NAME,
                &input,
                batches,
                &options,
                &options_text,
                store.as_ref(),
            )?
            else {
                return Ok(vec![]);
            };
            crate::stop::checkpoint()?;
            // Every customer scored on its own (the 2F1 series of the expected purchases is
            // the costly part): in parallel.
            let scores: Vec<(f64, f64, Option<f64>)> = customers
                .histories
                .par_iter()
                .zip(&customers.values)
                .map(|(h, v)| {
                    let p = p_alive(fitted.variant, fitted.purchases, *h);
                    let e = expected_purchases(fitted.variant, fitted.purchases, *h, horizon)?;
                    let value = fitted.spend.map(|s| expected_value(s, h.x, *v));
                    Ok((p, e, value))
                })
                .collect::<std::result::Result<_, String>>()
                .or_else(|e| exec_err!("{NAME}: {e}"))?;
            let alive: Vec<f64> = scores.iter().map(|s| s.0).collect();
            let purchases: Vec<f64> = scores.iter().map(|s| s.1).collect();
            let values: Vec<Option<f64>> = scores.iter().map(|s| s.2).collect();
            let clv: Vec<Option<f64>> = scores.iter().map(|(_, e, v)| v.map(|v| e * v)).collect();
            let columns: Vec<ArrayRef> = vec![
                customers.ids,
                Arc::new(Int64Array::from_iter_values(
                    customers.histories.iter().map(|h| h.x as i64),
                )),
                Arc::new(Float64Array::from_iter_values(
                    customers.histories.iter().map(|h| h.tx),
                )),
                Arc::new(Float64Array::from_iter_values(
                    customers.histories.iter().map(|h| h.t),
                )),
                Arc::new(Float64Array::from(customers.values)),
                Arc::new(Float64Array::from_iter_values(alive.iter().copied())),
                Arc::new(Float64Array::from_iter_values(
                    alive.iter().map(|p| 1.0 - p),
                )),
                Arc::new(Float64Array::from(purchases)),
                Arc::new(Float64Array::from(values)),
                Arc::new(Float64Array::from(clv)),
            ];
            Ok(vec![RecordBatch::try_new(out_schema.clone(), columns)?])
        });
        Ok(Arc::new(QueryTable::new(NAME, plan, schema, finish)))
    }
}
