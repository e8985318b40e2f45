//! `lifecycle_stage(first_order, last_order, orders, as_of [, options])`: new / active / silent /
//! churn_risk / churned from a customer's first and last order.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

const NAME: &str = "lifecycle_stage";
const MICROS_PER_DAY: i64 = 86_400_000_000;

#[user_doc(
    doc_section(label = "Churn and Lifetime Value Functions"),
    description = "The lifecycle stage of a customer on the day `as_of`, from whole days since the last and the first order: `churned` when the last order is at least `churned_days` (365) days ago, else `churn_risk` from `risk_days` (180), else `silent` from `silent_days` (90), else `new` when the first order is less than `new_days` (90) days ago and there are at most `new_orders` (3) orders, else `active`. With `labels=cn`: 已流失, 流失预警, 沉默, 新客, 活跃. NULL when a date is NULL or the customer has no orders (NULL or 0); an order after `as_of` or a first order after the last is an error.",
    syntax_example = "lifecycle_stage(first_order, last_order, orders, as_of [, 'silent_days=90, risk_days=180, churned_days=365, new_days=90, new_orders=3, labels=en|cn'])",
    sql_example = r#"```sql
> SELECT lifecycle_stage(DATE '2026-10-01', DATE '2026-10-20', 2, DATE '2026-11-01') AS a,
         lifecycle_stage(DATE '2025-01-01', DATE '2026-06-01', 9, DATE '2026-11-01') AS b,
         lifecycle_stage(DATE '2024-01-01', DATE '2025-06-01', 4, DATE '2026-11-01', 'labels=cn') AS c;
+-----+------------+--------+
| a   | b          | c      |
+-----+------------+--------+
| new | churn_risk | 已流失 |
+-----+------------+--------+
```"#,
    argument(
        name = "first_order",
        description = "Time of the customer's first order (timestamp or date)."
    ),
    argument(
        name = "last_order",
        description = "Time of the customer's last order up to `as_of`."
    ),
    argument(name = "orders", description = "Number of orders (an integer)."),
    argument(
        name = "as_of",
        description = "The day the stage is for (timestamp or date; a column or a constant)."
    ),
    argument(
        name = "options",
        description = "Thresholds in days and the label language, as `key=value` text: `silent_days=90, risk_days=180, churned_days=365, new_days=90, new_orders=3, labels=en` (or `cn`). The day thresholds must increase: silent < risk < churned."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LifecycleStageFunc {
    signature: Signature,
}

impl Default for LifecycleStageFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl LifecycleStageFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// Thresholds and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Stages {
    pub silent_days: i64,
    pub risk_days: i64,
    pub churned_days: i64,
    pub new_days: i64,
    pub new_orders: i64,
    pub chinese: bool,
}

impl Default for Stages {
    fn default() -> Self {
        Self {
            silent_days: 90,
            risk_days: 180,
            churned_days: 365,
            new_days: 90,
            new_orders: 3,
            chinese: false,
        }
    }
}

const OPTION_NAMES: &str =
    "silent_days, risk_days, churned_days, new_days, new_orders, labels (en|cn)";

impl Stages {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut s = Self::default();
        for (key, value) in crate::key_values(text, OPTION_NAMES)? {
            let days = || -> Result<i64, String> {
                value.parse::<i64>().ok().filter(|d| *d > 0).ok_or_else(|| {
                    format!("option {key} must be a positive integer, got '{value}'")
                })
            };
            match key.as_str() {
                "silent_days" => s.silent_days = days()?,
                "risk_days" => s.risk_days = days()?,
                "churned_days" => s.churned_days = days()?,
                "new_days" => s.new_days = days()?,
                "new_orders" => s.new_orders = days()?,
                "labels" => {
                    s.chinese = match value.to_ascii_lowercase().as_str() {
                        "en" => false,
                        "cn" | "zh" => true,
                        other => {
                            return Err(format!("option labels must be en or cn, got '{other}'"));
                        }
                    }
                }
                other => {
                    return Err(format!(
                        "unknown option '{other}' (options: {OPTION_NAMES})"
                    ));
                }
            }
        }
        if !(s.silent_days < s.risk_days && s.risk_days < s.churned_days) {
            return Err(format!(
                "thresholds must increase: silent_days ({}) < risk_days ({}) < churned_days ({})",
                s.silent_days, s.risk_days, s.churned_days
            ));
        }
        Ok(s)
    }

    /// The stage of a customer `since_first` and `since_last` whole days after their first and
    /// last order, with `orders` orders.
    pub fn stage(&self, since_first: i64, since_last: i64, orders: i64) -> &'static str {
        let (en, cn) = if since_last >= self.churned_days {
            ("churned", "已流失")
        } else if since_last >= self.risk_days {
            ("churn_risk", "流失预警")
        } else if since_last >= self.silent_days {
            ("silent", "沉默")
        } else if since_first < self.new_days && orders <= self.new_orders {
            ("new", "新客")
        } else {
            ("active", "活跃")
        };
        if self.chinese { cn } else { en }
    }
}

/// A timestamp in microseconds as `YYYY-MM-DD HH:MM:SS`.
fn show(micros: i64) -> String {
    datafusion::arrow::temporal_conversions::timestamp_us_to_datetime(micros)
        .map(|t| t.to_string())
        .unwrap_or_else(|| micros.to_string())
}

fn is_time(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 | DataType::Null
    )
}

impl ScalarUDFImpl for LifecycleStageFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(4..=5).contains(&arg_types.len()) {
            return plan_err!(
                "{NAME} takes 4 or 5 arguments (first_order, last_order, orders, as_of [, options]), got {}",
                arg_types.len()
            );
        }
        let micros = DataType::Timestamp(TimeUnit::Microsecond, None);
        let mut coerced = Vec::with_capacity(arg_types.len());
        for (i, t) in arg_types.iter().enumerate() {
            coerced.push(match i {
                0 | 1 | 3 if is_time(t) => micros.clone(),
                0 | 1 | 3 => {
                    let name = ["first_order", "last_order", "", "as_of"][i];
                    return plan_err!("{NAME}: {name} must be a timestamp or date, got {t}");
                }
                2 if t.is_integer() || t == &DataType::Null => DataType::Int64,
                2 => return plan_err!("{NAME}: orders must be an integer, got {t}"),
                _ if matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8) => {
                    DataType::Utf8
                }
                _ => return plan_err!("{NAME}: options must be text, got {t}"),
            });
        }
        Ok(coerced)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let stages = match args.args.get(4) {
            None => Stages::default(),
            Some(ColumnarValue::Scalar(v)) => match v {
                ScalarValue::Utf8(Some(text)) => Stages::parse(text).map_err(|e| {
                    datafusion::error::DataFusionError::Execution(format!("{NAME}: {e}"))
                })?,
                _ => return exec_err!("{NAME}: options must not be NULL"),
            },
            Some(_) => return exec_err!("{NAME}: options must be a constant"),
        };
        let n = args.number_rows;
        let micros = DataType::Timestamp(TimeUnit::Microsecond, None);
        let time =
            |i: usize| -> Result<ArrayRef> { Ok(cast(&args.args[i].to_array(n)?, &micros)?) };
        let (first, last, as_of) = (time(0)?, time(1)?, time(3)?);
        let (first, last, as_of) = (
            first.as_primitive::<TimestampMicrosecondType>(),
            last.as_primitive::<TimestampMicrosecondType>(),
            as_of.as_primitive::<TimestampMicrosecondType>(),
        );
        let orders = cast(&args.args[2].to_array(n)?, &DataType::Int64)?;
        let orders = orders.as_primitive::<Int64Type>();
        let day = |micros: i64| micros.div_euclid(MICROS_PER_DAY);
        let mut out = StringBuilder::with_capacity(n, n * 8);
        for i in 0..n {
            if first.is_null(i) || last.is_null(i) || as_of.is_null(i) || orders.is_null(i) {
                out.append_null();
                continue;
            }
            if orders.value(i) <= 0 {
                out.append_null();
                continue;
            }
            let (f, l, a) = (first.value(i), last.value(i), as_of.value(i));
            if f > l {
                return exec_err!(
                    "{NAME}: the first order ({}) is after the last order ({})",
                    show(f),
                    show(l)
                );
            }
            if day(l) > day(a) {
                return exec_err!(
                    "{NAME}: the last order ({}) is after as_of ({}); leave later orders out",
                    show(l),
                    show(a)
                );
            }
            out.append_value(stages.stage(day(a) - day(f), day(a) - day(l), orders.value(i)));
        }
        crate::scalar_or_array(&args.args, Arc::new(out.finish()))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_follow_the_thresholds() {
        let s = Stages::default();
        assert_eq!(s.stage(10, 5, 1), "new");
        assert_eq!(s.stage(10, 5, 4), "active");
        assert_eq!(s.stage(400, 89, 9), "active");
        assert_eq!(s.stage(400, 90, 9), "silent");
        assert_eq!(s.stage(400, 180, 9), "churn_risk");
        assert_eq!(s.stage(400, 365, 9), "churned");
        let cn = Stages::parse("labels=cn, silent_days=30").unwrap();
        assert_eq!(cn.stage(400, 30, 9), "沉默");
        assert!(Stages::parse("silent_days=200").is_err());
        assert!(Stages::parse("risk_days=0").is_err());
        assert!(Stages::parse("labels=fr").is_err());
        assert!(Stages::parse("weeks=3").is_err());
    }
}
