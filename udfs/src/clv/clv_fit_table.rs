//! `clv_fit('query', as_of [, options])`: the fitted parameters of the purchase and spend models
//! behind `clv`, one row per parameter.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::fitted::read_fit_save;
use super::input::plan_input;
use super::options::ClvOptions;
use crate::query_table::{QueryTable, constant_arg, options_arg, session_state, string_arg};

const NAME: &str = "clv_fit";

#[user_doc(
    doc_section(label = "Churn and Lifetime Value Functions"),
    description = "The parameters `clv` fits, one row per parameter: `model, parameter, value` — the purchase model (`bgnbd` or `mbgnbd`: r and alpha of the Gamma distribution of purchase rates, a and b of the Beta distribution of drop-out probabilities) and the spend model (`gamma_gamma`: p, q, gamma), plus the number of customers and repeat buyers each was fitted on. The spend rows are missing when no repeat buyer has a positive value. Same input and options as `clv`.",
    syntax_example = "clv_fit('query or table', as_of [, options])",
    sql_example = r#"```sql
> SELECT model, parameter, round(value, 4) AS value
  FROM clv_fit('SELECT customer_id, order_ts, amount FROM orders', DATE '2026-10-31')
  WHERE model = 'gamma_gamma';
+-------------+-----------+----------+
| model       | parameter | value    |
+-------------+-----------+----------+
| gamma_gamma | p         | 1.0844   |
| gamma_gamma | q         | 2.7975   |
| gamma_gamma | gamma     | 786.7087 |
| gamma_gamma | customers | 96536.0  |
+-------------+-----------+----------+
```"#,
    argument(
        name = "query",
        description = "Transactions (customer id, order time, amount) or one row per customer (id, frequency, recency, t, avg_value), as for `clv`."
    ),
    argument(name = "as_of", description = "The last day observed, as for `clv`."),
    argument(
        name = "options",
        description = "`unit`, `model` and `penalizer`, as for `clv`."
    )
)]
#[derive(Debug)]
pub struct ClvFitTableFunc {
    pub store: Arc<dyn crate::saved::store::ModelStore>,
}

impl ClvFitTableFunc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

impl TableFunctionImpl for ClvFitTableFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if !(2..=3).contains(&exprs.len()) {
            return plan_err!(
                "{NAME} takes 2 or 3 arguments ('query', as_of [, options]), got {}",
                exprs.len()
            );
        }
        let state = session_state(args.session(), NAME)?;
        let query = string_arg(NAME, "query", &exprs[0])?;
        let as_of = constant_arg(NAME, "as_of", &exprs[1])?;
        let (options, options_text) = options_arg(NAME, exprs, 2, ClvOptions::parse)?;
        let input = Arc::new(plan_input(state, NAME, &query, &as_of, options.unit)?);
        let schema = Arc::new(Schema::new(vec![
            Field::new("model", DataType::Utf8, false),
            Field::new("parameter", DataType::Utf8, false),
            Field::new("value", DataType::Float64, false),
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
            let repeat_buyers = customers
                .histories
                .iter()
                .zip(&customers.values)
                .filter(|(h, v)| h.x > 0.0 && v.is_some_and(|m| m > 0.0))
                .count();
            let purchase = fitted.variant.name();
            let p = fitted.purchases;
            let mut rows = vec![
                (purchase, "r", p.r),
                (purchase, "alpha", p.alpha),
                (purchase, "a", p.a),
                (purchase, "b", p.b),
                (purchase, "customers", customers.histories.len() as f64),
            ];
            if let Some(s) = fitted.spend {
                rows.extend([
                    ("gamma_gamma", "p", s.p),
                    ("gamma_gamma", "q", s.q),
                    ("gamma_gamma", "gamma", s.gamma),
                    ("gamma_gamma", "customers", repeat_buyers as f64),
                ]);
            }
            let columns: Vec<ArrayRef> = vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
                Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
            ];
            Ok(vec![RecordBatch::try_new(out_schema.clone(), columns)?])
        });
        Ok(Arc::new(QueryTable::new(NAME, plan, schema, finish)))
    }
}
