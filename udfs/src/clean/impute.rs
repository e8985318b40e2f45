//! `impute_mean`, `impute_median`, `impute_mode` as window functions: each row's own value, or —
//! when it is NULL — the mean, median or most frequent value of the non-NULL values of its
//! window partition, so a fill composes with SQL (`impute_mean(income) OVER (PARTITION BY
//! city)`). The fill is computed over the whole partition, whatever the ORDER BY or frame.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, UInt32Array};
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    DocSection, Documentation, PartitionEvaluator, Signature, Volatility, WindowUDFImpl,
};

/// Which fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fill {
    Mean,
    Median,
    Mode,
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ImputeWindow {
    fill: Fill,
    signature: Signature,
}

impl ImputeWindow {
    pub fn new(fill: Fill) -> Self {
        Self {
            fill,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

const SECTION: DocSection = DocSection {
    include: true,
    label: "Data Cleaning Functions",
    description: None,
};

fn doc(name: &str, description: &str, example: &str) -> Documentation {
    Documentation::builder(
        SECTION,
        description,
        format!("{name}(value) OVER ([PARTITION BY ...])"),
    )
    .with_sql_example(example)
    .with_argument(
        "value",
        if name == "impute_mode" {
            "The column to fill: any type (text, numbers, dates)."
        } else {
            "The numeric column to fill."
        },
    )
    .build()
}

static MEAN_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        "impute_mean",
        "The row's value, or when it is NULL the mean of the non-NULL values of its window partition (a double). The mean is over the whole partition, whatever the window's ORDER BY or frame. NULL when the partition has no value at all.",
        r#"```sql
> SELECT city, birth_year,
         impute_mean(birth_year) OVER (PARTITION BY city) AS filled
  FROM (VALUES ('上海', 1990), ('上海', NULL), ('上海', 1994), ('北京', NULL)) t(city, birth_year)
  ORDER BY city, birth_year;
+------+------------+--------+
| city | birth_year | filled |
+------+------------+--------+
| 上海 | 1990       | 1990.0 |
| 上海 | 1994       | 1994.0 |
| 上海 |            | 1992.0 |
| 北京 |            |        |
+------+------------+--------+
```"#,
    )
});

static MEDIAN_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        "impute_median",
        "The row's value, or when it is NULL the median of the non-NULL values of its window partition (a double; the mean of the two middle values for an even count) — robust to outliers such as one very large order. Over the whole partition, whatever the window's ORDER BY or frame; NULL when the partition has no value.",
        r#"```sql
> SELECT x, impute_median(x) OVER () AS filled
  FROM (VALUES (1.0), (2.0), (100.0), (NULL)) t(x) ORDER BY x;
+-------+--------+
| x     | filled |
+-------+--------+
| 1.0   | 1.0    |
| 2.0   | 2.0    |
| 100.0 | 100.0  |
|       | 2.0    |
+-------+--------+
```"#,
    )
});

static MODE_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        "impute_mode",
        "The row's value, or when it is NULL the most frequent non-NULL value of its window partition, in the column's own type (text, numbers, dates). Ties go to the value that sorts first. Over the whole partition, whatever the window's ORDER BY or frame; NULL when the partition has no value.",
        r#"```sql
> SELECT channel, impute_mode(channel) OVER () AS filled
  FROM (VALUES ('app'), ('web'), ('app'), (NULL)) t(channel) ORDER BY channel;
+---------+--------+
| channel | filled |
+---------+--------+
| app     | app    |
| app     | app    |
| web     | web    |
|         | app    |
+---------+--------+
```"#,
    )
});

impl WindowUDFImpl for ImputeWindow {
    fn name(&self) -> &str {
        match self.fill {
            Fill::Mean => "impute_mean",
            Fill::Median => "impute_median",
            Fill::Mode => "impute_mode",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.name();
        let [t] = arg_types else {
            return plan_err!(
                "{name} takes 1 argument(s) (value), got {}",
                arg_types.len()
            );
        };
        match self.fill {
            Fill::Mode => Ok(vec![t.clone()]),
            _ if t.is_numeric() || t == &DataType::Null => Ok(vec![DataType::Float64]),
            _ => plan_err!("{name}: argument value must be a number, got {t}"),
        }
    }

    fn partition_evaluator(
        &self,
        _args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(ImputeEvaluator { fill: self.fill }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        let t = match self.fill {
            Fill::Mode => field_args
                .input_fields()
                .first()
                .map_or(DataType::Null, |f| f.data_type().clone()),
            _ => DataType::Float64,
        };
        Ok(Arc::new(Field::new(field_args.name(), t, true)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(match self.fill {
            Fill::Mean => &MEAN_DOC,
            Fill::Median => &MEDIAN_DOC,
            Fill::Mode => &MODE_DOC,
        })
    }
}

#[derive(Debug)]
struct ImputeEvaluator {
    fill: Fill,
}

/// The mean or median of the non-NULL values.
fn center(values: &Float64Array, fill: Fill) -> Option<f64> {
    let mut present: Vec<f64> = values.iter().flatten().filter(|v| !v.is_nan()).collect();
    if present.is_empty() {
        return None;
    }
    if fill == Fill::Mean {
        return Some(present.iter().sum::<f64>() / present.len() as f64);
    }
    present.sort_by(f64::total_cmp);
    let n = present.len();
    Some(if n % 2 == 1 {
        present[n / 2]
    } else {
        (present[n / 2 - 1] + present[n / 2]) / 2.0
    })
}

/// The index of the most frequent non-NULL value (ties: the value whose text sorts first).
fn mode_index(values: &ArrayRef) -> Result<Option<usize>> {
    let text = ArrayFormatter::try_new(values.as_ref(), &FormatOptions::default())?;
    let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
    for i in (0..values.len()).filter(|&i| values.is_valid(i)) {
        counts.entry(text.value(i).to_string()).or_insert((0, i)).0 += 1;
    }
    Ok(counts
        .into_iter()
        .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.0.cmp(&a.0)))
        .map(|(_, (_, first))| first))
}

impl PartitionEvaluator for ImputeEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let column = &values[0];
        if self.fill == Fill::Mode {
            let Some(m) = mode_index(column)? else {
                return Ok(column.clone());
            };
            // Each row's own index, or the mode's where the row is NULL.
            let indices = UInt32Array::from_iter_values(
                (0..num_rows).map(|i| if column.is_valid(i) { i } else { m } as u32),
            );
            return Ok(take(column.as_ref(), &indices, None)?);
        }
        let floats = cast(column, &DataType::Float64)?;
        let floats = floats.as_primitive::<Float64Type>();
        let fill = center(floats, self.fill);
        Ok(Arc::new(Float64Array::from_iter(
            floats.iter().map(|v| v.or(fill)),
        )))
    }
}
