//! `profile('table or query')`: the "how dirty is this" screen — one row per column with its
//! type, nulls, distinct values, range, mean, most frequent values and, for text, the share of
//! values that look like phone numbers, e-mail addresses or dates; plus a `(row)` line counting
//! rows that duplicate an earlier row exactly.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, RecordBatch,
    StringBuilder,
};
use datafusion::arrow::compute::{SortOptions, cast, sort_to_indices};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;
use hyperloglogplus::{HyperLogLog, HyperLogLogPlus};

use crate::TableFunction;
use crate::clean::normalize::{normalize_email, normalize_text, parse_phone};
use crate::query_table::{QueryTable, plan_query, session_state, string_arg};

const NAME: &str = "profile";
/// Distinct values kept exactly per column; beyond this the count is a HyperLogLog estimate.
const EXACT_DISTINCT: usize = 1_000_000;
const TOP: usize = 5;

#[user_doc(
    doc_section(label = "Data Cleaning Functions"),
    description = "One row per column of a table or query — `column_name, data_type` (PostgreSQL's name), `rows, nulls, null_share, distinct_values, distinct_exact, normalized_distinct, min, max, mean, top_values, phone_share, email_share, date_share` — and a last row `(row)` whose `distinct_values` counts distinct whole rows (`rows - distinct_values` rows duplicate an earlier one exactly). Distinct counts are exact up to 1,000,000 distinct values per column, then a HyperLogLog estimate (`distinct_exact` false; `top_values` then count only the first million distinct values seen). `normalized_distinct` (text columns): distinct values after `normalize_text` and lower-casing, with valid phone numbers and e-mails in their normalised form — how many of the distinct values are the same thing written differently. `mean` for numbers; `top_values` as `value (count)`, most frequent first; the three shares are of the non-NULL text values (phone: a valid number for region CN or with a country code; e-mail: `normalize_email` accepts it; date: YYYY-MM-DD, YYYY/MM/DD or YYYY年M月D日, optionally with a time). An empty input gives one row per column with 0 rows.",
    syntax_example = "profile('table or query')",
    sql_example = r#"```sql
> SELECT column_name, data_type, nulls, distinct_values, normalized_distinct, phone_share, email_share
  FROM profile('crm_contacts') WHERE column_name IN ('mobile', 'email');
+-------------+-----------+-------+-----------------+---------------------+-------------+-------------+
| column_name | data_type | nulls | distinct_values | normalized_distinct | phone_share | email_share |
+-------------+-----------+-------+-----------------+---------------------+-------------+-------------+
| mobile      | text      | 1366  | 92556           | 89917               | 1.0         | 0.0         |
| email       | text      | 29733 | 63681           | 61988               | 0.0         | 1.0         |
+-------------+-----------+-------+-----------------+---------------------+-------------+-------------+
```"#,
    argument(name = "query", description = "A table or view name, or a SELECT.")
)]
#[derive(Debug, Default)]
pub struct ProfileFunc;

impl ProfileFunc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

pub fn table_function() -> TableFunction {
    crate::stateless_table_function!(NAME, ProfileFunc)
}

fn output_schema() -> SchemaRef {
    let f = |name: &str, t: DataType| Field::new(name, t, true);
    Arc::new(Schema::new(vec![
        Field::new("column_name", DataType::Utf8, false),
        f("data_type", DataType::Utf8),
        Field::new("rows", DataType::Int64, false),
        f("nulls", DataType::Int64),
        f("null_share", DataType::Float64),
        f("distinct_values", DataType::Int64),
        f("distinct_exact", DataType::Boolean),
        f("normalized_distinct", DataType::Int64),
        f("min", DataType::Utf8),
        f("max", DataType::Utf8),
        f("mean", DataType::Float64),
        f(
            "top_values",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        ),
        f("phone_share", DataType::Float64),
        f("email_share", DataType::Float64),
        f("date_share", DataType::Float64),
    ]))
}

impl TableFunctionImpl for ProfileFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if exprs.len() != 1 {
            return plan_err!(
                "{NAME} takes 1 argument ('table or query'), got {}",
                exprs.len()
            );
        }
        let state = session_state(args.session(), NAME)?;
        let query = string_arg(NAME, "query", &exprs[0])?;
        let input = plan_query(state, NAME, &query)?;
        let fields: Vec<Field> = input
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let schema = output_schema();
        let out = schema.clone();
        let finish = Arc::new(move |batches: Vec<RecordBatch>| {
            let mut rows = Rows::default();
            let rows_total: usize = batches.iter().map(RecordBatch::num_rows).sum();
            for (c, field) in fields.iter().enumerate() {
                let columns: Vec<ArrayRef> = batches.iter().map(|b| b.column(c).clone()).collect();
                rows.push(&profile_column(field, &columns, rows_total)?);
            }
            rows.push(&profile_rows(&batches, rows_total)?);
            Ok(vec![rows.finish(&out)?])
        });
        Ok(Arc::new(QueryTable::new(NAME, input, schema, finish)))
    }
}

/// What `profile` says of one column.
#[derive(Debug, Default)]
struct ColumnProfile {
    name: String,
    data_type: Option<String>,
    rows: usize,
    nulls: Option<usize>,
    distinct: Option<usize>,
    exact: Option<bool>,
    normalized_distinct: Option<usize>,
    min: Option<String>,
    max: Option<String>,
    mean: Option<f64>,
    top: Option<Vec<String>>,
    shares: Option<[f64; 3]>,
}

type Sketch = HyperLogLogPlus<str, std::hash::BuildHasherDefault<std::hash::DefaultHasher>>;

/// Value counts of one column: exact up to [`EXACT_DISTINCT`] values; past that, a
/// HyperLogLog++ sketch (precision 16, about 0.4% standard error) estimates the distinct count.
struct Counts {
    limit: usize,
    exact: HashMap<String, u64>,
    /// Started when the exact counts overflow, with every value counted so far.
    sketch: Option<Sketch>,
}

impl Counts {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            exact: HashMap::new(),
            sketch: None,
        }
    }

    fn add(&mut self, value: &str) {
        if let Some(sketch) = &mut self.sketch {
            sketch.insert(value);
        }
        if let Some(n) = self.exact.get_mut(value) {
            *n += 1;
        } else if self.exact.len() < self.limit {
            self.exact.insert(value.to_string(), 1);
        } else if self.sketch.is_none() {
            let mut sketch = Sketch::new(16, Default::default()).expect("precision 16 is valid");
            for seen in self.exact.keys() {
                sketch.insert(seen.as_str());
            }
            sketch.insert(value);
            self.sketch = Some(sketch);
        }
    }

    fn overflowed(&self) -> bool {
        self.sketch.is_some()
    }

    fn distinct(&mut self) -> usize {
        match &mut self.sketch {
            Some(sketch) => sketch.count().round() as usize,
            None => self.exact.len(),
        }
    }
}

/// The PostgreSQL name of a column type, as psql and BI tools show it.
fn pg_type_name(t: &DataType) -> String {
    match t {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => "text".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => "smallint".into(),
        DataType::Int32 | DataType::UInt16 => "integer".into(),
        DataType::Int64 | DataType::UInt32 => "bigint".into(),
        DataType::UInt64 => "numeric(20,0)".into(),
        DataType::Float16 | DataType::Float32 => "real".into(),
        DataType::Float64 => "double precision".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("numeric({p},{s})"),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(_, Some(_)) => "timestamptz".into(),
        DataType::Timestamp(_, None) => "timestamp".into(),
        DataType::Time32(_) | DataType::Time64(_) => "time".into(),
        DataType::Interval(_) | DataType::Duration(_) => "interval".into(),
        DataType::Binary | DataType::BinaryView | DataType::LargeBinary => "bytea".into(),
        DataType::List(f) | DataType::LargeList(f) => format!("{}[]", pg_type_name(f.data_type())),
        other => other.to_string(),
    }
}

/// A text column — not an untyped NULL one, which `args::is_text` accepts as an argument.
pub(crate) fn is_text_column(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
}

fn profile_column(field: &Field, columns: &[ArrayRef], rows: usize) -> Result<ColumnProfile> {
    let t = field.data_type();
    let options = FormatOptions::default();
    let mut counts = Counts::new(EXACT_DISTINCT);
    let mut nulls = 0;
    let (mut sum, mut numbers) = (0.0, 0usize);
    let (mut min, mut max) = (None, None);
    for array in columns {
        nulls += array.null_count();
        let text = ArrayFormatter::try_new(array.as_ref(), &options)?;
        for i in (0..array.len()).filter(|&i| array.is_valid(i)) {
            counts.add(&text.value(i).to_string());
        }
        if t.is_numeric() {
            let floats = cast(array, &DataType::Float64)?;
            let floats = floats
                .as_any()
                .downcast_ref::<datafusion::arrow::array::Float64Array>()
                .expect("cast to Float64 gives Float64Array");
            for v in floats.iter().flatten().filter(|v| v.is_finite()) {
                sum += v;
                numbers += 1;
            }
        }
        // In the column's own order: numbers as numbers, times as times.
        keep(&mut min, extreme(array, false), Ordering::Less);
        keep(&mut max, extreme(array, true), Ordering::Greater);
    }
    let distinct = counts.distinct();
    let mut top: Vec<(&String, &u64)> = counts.exact.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let text = is_text_column(t);
    let (normalized_distinct, shares) = if text {
        let (n, s) = text_measures(&counts.exact);
        (Some(n), Some(s))
    } else {
        (None, None)
    };
    Ok(ColumnProfile {
        name: field.name().clone(),
        data_type: Some(pg_type_name(t)),
        rows,
        nulls: Some(nulls),
        distinct: Some(distinct),
        exact: Some(!counts.overflowed()),
        normalized_distinct,
        min: min.map(|v| v.1),
        max: max.map(|v| v.1),
        mean: (numbers > 0).then(|| sum / numbers as f64),
        top: Some(
            top.iter()
                .take(TOP)
                .map(|(v, n)| format!("{v} ({n})"))
                .collect(),
        ),
        shares,
    })
}

/// The smallest (or largest) non-NULL value of `array` in its type's order; `None` for an
/// all-NULL array or a type without an order (lists, structs).
fn extreme(array: &ArrayRef, descending: bool) -> Option<(ScalarValue, String)> {
    let options = SortOptions {
        descending,
        nulls_first: false,
    };
    let index = sort_to_indices(array, Some(options), Some(1)).ok()?;
    let i = *index.values().first()? as usize;
    if array.is_null(i) {
        return None;
    }
    let text = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())
        .ok()?
        .value(i)
        .to_string();
    Some((ScalarValue::try_from_array(array, i).ok()?, text))
}

/// Keeps the smaller (`want` Less) or larger (`want` Greater) of `best` and `candidate`.
fn keep(
    best: &mut Option<(ScalarValue, String)>,
    candidate: Option<(ScalarValue, String)>,
    want: Ordering,
) {
    if let Some(c) = candidate
        && best
            .as_ref()
            .is_none_or(|b| c.0.partial_cmp(&b.0) == Some(want))
    {
        *best = Some(c);
    }
}

/// What a text value was recognised as.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Identifier {
    Phone,
    Email,
}

/// A text value in the form in which equal things are equal: a valid phone number (region CN
/// or its own country code) in E.164, an e-mail address normalised, anything else
/// `normalize_text` and lower case.
pub fn normalized_key(value: &str) -> (String, Option<Identifier>) {
    if let Some(p) = parse_phone(value, phonenumber::country::Id::CN) {
        return (p.e164(), Some(Identifier::Phone));
    }
    if let Some(e) = normalize_email(value, false) {
        return (e, Some(Identifier::Email));
    }
    (
        normalize_text(value)
            .map(|t| t.to_lowercase())
            .unwrap_or_default(),
        None,
    )
}

/// Distinct values after normalisation, and the shares of phone-, e-mail- and date-like values,
/// over the distinct values weighted by their counts.
fn text_measures(values: &HashMap<String, u64>) -> (usize, [f64; 3]) {
    let mut normalized = std::collections::HashSet::new();
    let (mut phones, mut emails, mut dates, mut total) = (0u64, 0u64, 0u64, 0u64);
    for (value, &n) in values {
        total += n;
        let (key, kind) = normalized_key(value);
        phones += n * u64::from(kind == Some(Identifier::Phone));
        emails += n * u64::from(kind == Some(Identifier::Email));
        dates += n * u64::from(looks_like_date(value));
        normalized.insert(key);
    }
    let share = |k: u64| {
        if total == 0 {
            0.0
        } else {
            k as f64 / total as f64
        }
    };
    (
        normalized.len(),
        [share(phones), share(emails), share(dates)],
    )
}

fn looks_like_date(value: &str) -> bool {
    use chrono::NaiveDate;
    let v = value.trim();
    let date_part = v.split([' ', 'T']).next().unwrap_or(v);
    ["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y.%m.%d"]
        .iter()
        .any(|f| NaiveDate::parse_from_str(date_part, f).is_ok())
}

/// The `(row)` line: distinct whole rows.
fn profile_rows(batches: &[RecordBatch], rows: usize) -> Result<ColumnProfile> {
    let options = FormatOptions::default();
    let mut counts = Counts::new(EXACT_DISTINCT);
    for batch in batches {
        let formatters: Vec<ArrayFormatter> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<_, _>>()?;
        let mut row = String::new();
        for i in 0..batch.num_rows() {
            row.clear();
            for (c, f) in formatters.iter().enumerate() {
                // A NULL and the text "NULL" must differ: mark each field.
                if batch.column(c).is_valid(i) {
                    row.push('\u{1}');
                    row.push_str(&f.value(i).to_string());
                } else {
                    row.push('\u{0}');
                }
            }
            counts.add(&row);
        }
    }
    Ok(ColumnProfile {
        name: "(row)".to_string(),
        rows,
        distinct: Some(counts.distinct()),
        exact: Some(!counts.overflowed()),
        ..ColumnProfile::default()
    })
}

#[derive(Default)]
struct Rows {
    name: StringBuilder,
    data_type: StringBuilder,
    rows: Int64Builder,
    nulls: Int64Builder,
    null_share: Float64Builder,
    distinct: Int64Builder,
    exact: BooleanBuilder,
    normalized: Int64Builder,
    min: StringBuilder,
    max: StringBuilder,
    mean: Float64Builder,
    top: ListBuilder<StringBuilder>,
    phone: Float64Builder,
    email: Float64Builder,
    date: Float64Builder,
}

impl Rows {
    fn push(&mut self, p: &ColumnProfile) {
        self.name.append_value(&p.name);
        self.data_type.append_option(p.data_type.as_deref());
        self.rows.append_value(p.rows as i64);
        self.nulls.append_option(p.nulls.map(|n| n as i64));
        self.null_share.append_option(
            p.nulls
                .filter(|_| p.rows > 0)
                .map(|n| n as f64 / p.rows as f64),
        );
        self.distinct.append_option(p.distinct.map(|n| n as i64));
        self.exact.append_option(p.exact);
        self.normalized
            .append_option(p.normalized_distinct.map(|n| n as i64));
        self.min.append_option(p.min.as_deref());
        self.max.append_option(p.max.as_deref());
        self.mean.append_option(p.mean);
        match &p.top {
            Some(top) => {
                for v in top {
                    self.top.values().append_value(v);
                }
                self.top.append(true);
            }
            None => self.top.append(false),
        }
        let share = |i: usize| p.shares.map(|s| s[i]);
        self.phone.append_option(share(0));
        self.email.append_option(share(1));
        self.date.append_option(share(2));
    }

    fn finish(mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.name.finish()),
            Arc::new(self.data_type.finish()),
            Arc::new(self.rows.finish()),
            Arc::new(self.nulls.finish()),
            Arc::new(self.null_share.finish()),
            Arc::new(self.distinct.finish()),
            Arc::new(self.exact.finish()),
            Arc::new(self.normalized.finish()),
            Arc::new(self.min.finish()),
            Arc::new(self.max.finish()),
            Arc::new(self.mean.finish()),
            Arc::new(self.top.finish()),
            Arc::new(self.phone.finish()),
            Arc::new(self.email.finish()),
            Arc::new(self.date.finish()),
        ];
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_counts_turn_into_an_estimate_past_the_limit() {
        let mut counts = Counts::new(1_000);
        for i in 0..20_000 {
            counts.add(&format!("v{}", i % 10_000));
        }
        assert!(counts.overflowed());
        let estimate = counts.distinct() as f64;
        assert!((estimate - 10_000.0).abs() < 300.0, "{estimate}");
        let mut small = Counts::new(1_000);
        for v in ["a", "b", "a"] {
            small.add(v);
        }
        assert!(!small.overflowed());
        assert_eq!(small.distinct(), 2);
    }

    #[test]
    fn dates_are_recognised_in_the_usual_chinese_and_iso_forms() {
        for v in [
            "2024-01-05",
            "2024/1/5",
            "2024年1月5日",
            "2024-01-05 08:00:00",
            "2024-01-05T08:00",
        ] {
            assert!(looks_like_date(v), "{v}");
        }
        for v in ["", "soon", "13812345678", "2024-13-01", "05/01/2024"] {
            assert!(!looks_like_date(v), "{v}");
        }
    }
}
