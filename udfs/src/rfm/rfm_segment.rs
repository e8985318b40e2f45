//! `rfm_segment(r, f, m [, scheme [, bins]])`: a named segment from R, F and M scores.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

use super::scoring::{DEFAULT_BINS, MAX_BINS, MIN_BINS};
use super::segments::{Scheme, cn_segment_from_scores, en_segment};

#[user_doc(
    doc_section(label = "Customer Value Functions"),
    description = "Named segment of R, F and M scores. Scheme `'en'` (default): the 11-segment map (Champions, Loyal Customers, Potential Loyalists, New Customers, Promising, Need Attention, About to Sleep, At Risk, Can't Lose Them, Hibernating, Lost) with the rules in the README. Scheme `'cn'`: the 8-class model (重要价值客户, 重要发展客户, 重要保持客户, 重要挽留客户, 一般价值客户, 一般发展客户, 一般保持客户, 一般挽留客户), a score being high when above the middle of the scale. A NULL score or one outside 1..bins gives NULL.",
    syntax_example = "rfm_segment(r_score, f_score, m_score [, scheme [, bins]])",
    sql_example = r#"```sql
> SELECT rfm_segment(5, 5, 4) AS a, rfm_segment(1, 1, 2) AS b, rfm_segment(5, 1, 5, 'cn') AS c;
+-----------+------+--------------+
| a         | b    | c            |
+-----------+------+--------------+
| Champions | Lost | 重要发展客户 |
+-----------+------+--------------+
```"#,
    argument(
        name = "r_score",
        description = "Recency score, 1..bins (higher = more recent)."
    ),
    argument(name = "f_score", description = "Frequency score, 1..bins."),
    argument(name = "m_score", description = "Monetary score, 1..bins."),
    argument(name = "scheme", description = "'en' (default) or 'cn'."),
    argument(
        name = "bins",
        description = "The number of score levels the scores were made with, 2 to 9. Default 5."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RfmSegmentFunc {
    signature: Signature,
}

impl Default for RfmSegmentFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl RfmSegmentFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn constant_text(args: &[ColumnarValue], index: usize) -> Result<Option<String>> {
    match args.get(index) {
        None => Ok(None),
        Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(s))))
        | Some(ColumnarValue::Scalar(ScalarValue::Utf8View(Some(s))))
        | Some(ColumnarValue::Scalar(ScalarValue::LargeUtf8(Some(s)))) => Ok(Some(s.clone())),
        Some(ColumnarValue::Scalar(v)) if v.is_null() => {
            exec_err!("rfm_segment: scheme must not be NULL")
        }
        Some(_) => exec_err!("rfm_segment: scheme must be a constant ('en' or 'cn')"),
    }
}

impl ScalarUDFImpl for RfmSegmentFunc {
    fn name(&self) -> &str {
        "rfm_segment"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(3..=5).contains(&arg_types.len()) {
            return plan_err!(
                "rfm_segment takes 3 to 5 arguments (r_score, f_score, m_score [, scheme [, bins]]), got {}",
                arg_types.len()
            );
        }
        let mut coerced = Vec::with_capacity(arg_types.len());
        for (i, t) in arg_types.iter().enumerate() {
            match i {
                0..=2 | 4 if t.is_integer() || t == &DataType::Null => {
                    coerced.push(DataType::Int64)
                }
                3 if matches!(
                    t,
                    DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null
                ) =>
                {
                    coerced.push(DataType::Utf8)
                }
                3 => return plan_err!("rfm_segment: scheme must be text ('en' or 'cn'), got {t}"),
                _ => return plan_err!("rfm_segment: scores and bins must be integers, got {t}"),
            }
        }
        Ok(coerced)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scheme = match constant_text(&args.args, 3)? {
            Some(text) => Scheme::parse(&text).ok_or_else(|| {
                datafusion::error::DataFusionError::Execution(format!(
                    "rfm_segment: scheme must be 'en' or 'cn', got '{text}'"
                ))
            })?,
            None => Scheme::En,
        };
        let bins = match args.args.get(4) {
            None => DEFAULT_BINS,
            Some(ColumnarValue::Scalar(ScalarValue::Int64(Some(b)))) => *b,
            Some(_) => return exec_err!("rfm_segment: bins must be an integer constant"),
        };
        if !(MIN_BINS..=MAX_BINS).contains(&bins) {
            return exec_err!(
                "rfm_segment: bins must be between {MIN_BINS} and {MAX_BINS}, got {bins}"
            );
        }
        let bins = bins as u8;
        let n = args.number_rows;
        let scores = args
            .args
            .iter()
            .take(3)
            .map(|a| a.to_array(n).and_then(|a| Ok(cast(&a, &DataType::Int64)?)))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let [r, f, m] = scores.as_slice() else {
            return exec_err!("rfm_segment: expected three scores");
        };
        let (r, f, m) = (
            r.as_primitive::<Int64Type>(),
            f.as_primitive::<Int64Type>(),
            m.as_primitive::<Int64Type>(),
        );
        let valid = |a: &datafusion::arrow::array::Int64Array, i: usize| {
            (a.is_valid(i) && (1..=bins as i64).contains(&a.value(i))).then(|| a.value(i) as u8)
        };
        let mut out = StringBuilder::with_capacity(n, n * 12);
        for i in 0..n {
            match (valid(r, i), valid(f, i), valid(m, i)) {
                (Some(r), Some(f), Some(m)) => out.append_value(match scheme {
                    Scheme::En => en_segment(r, f, m, bins),
                    Scheme::Cn => cn_segment_from_scores(r, f, m, bins),
                }),
                _ => out.append_null(),
            }
        }
        crate::scalar_or_array(&args.args, Arc::new(out.finish()))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
