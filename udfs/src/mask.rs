//! Masking of personal data for views analysts see: `mask_phone`, `mask_email`,
//! `mask_partial`. The masks hide enough to stop a reader from contacting or identifying the
//! customer while keeping what an analysis needs (the operator prefix of a phone, the e-mail
//! provider), and they never reveal the length of what they hide in an e-mail's local part.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use datafusion_macros::user_doc;
use phonenumber::country;

use crate::args::coerce;
use crate::clean::normalize::parse_phone;

/// What replaces the hidden part of an e-mail's local part, whatever its length.
const EMAIL_PAD: &str = "******";

/// `138****5678`: the national number with its middle digits hidden (first 3 and last 4 shown
/// from 11 digits up, else first 2 and last 2), `+<country code> ` in front for numbers outside
/// China; text that is not a valid number keeps only its last 4 digits.
pub fn mask_phone(text: &str) -> String {
    if let Some(number) = parse_phone(text, country::Id::CN) {
        let national = number.national();
        let digits: Vec<char> = national.chars().collect();
        let (start, end) = if digits.len() >= 11 { (3, 4) } else { (2, 2) };
        let mut out = String::new();
        if let Some(code) = number.foreign_code() {
            out.push_str(&format!("+{code} "));
        }
        for (i, c) in digits.iter().enumerate() {
            out.push(if i < start || i + end >= digits.len() {
                *c
            } else {
                '*'
            });
        }
        return out;
    }
    let total = text.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    text.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen + 4 > total { c } else { '*' }
            } else {
                c
            }
        })
        .collect()
}

/// `da******@gmail.com`: the first two characters of the local part (one when it has two or
/// fewer), six stars, the domain. Text without an `@` keeps its first two characters.
pub fn mask_email(text: &str) -> String {
    let trimmed = text.trim();
    let (local, domain) = match trimmed.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => (local, Some(domain)),
        _ => (trimmed, None),
    };
    let count = local.chars().count();
    let keep = if count > 2 {
        2
    } else {
        count.saturating_sub(1)
    };
    let mut out: String = local.chars().take(keep).collect();
    out.push_str(EMAIL_PAD);
    if let Some(domain) = domain {
        out.push('@');
        out.push_str(domain);
    }
    out
}

/// The first `start` and last `end` characters of `text` around `padding`; only `padding` when
/// the text is not longer than `start + end` (so a mask never shows a whole value).
pub fn mask_partial(text: &str, start: usize, padding: &str, end: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= start.saturating_add(end) {
        return padding.to_string();
    }
    let mut out: String = chars[..start].iter().collect();
    out.push_str(padding);
    out.extend(&chars[chars.len() - end..]);
    out
}

#[user_doc(
    doc_section(label = "Data Masking Functions"),
    description = "A phone number with its middle digits hidden, for views of customer data: the national number keeps its first 3 and last 4 digits (from 11 digits up, so a Chinese mobile keeps its operator prefix; shorter numbers keep 2 and 2), written the same whatever the input format (`138 1234 5678`, `+86-138…`, full-width digits), with `+<country code> ` in front for numbers outside China. Text that is not a valid number keeps only its last 4 digits (other characters stay). NULL in, NULL out.",
    syntax_example = "mask_phone(text)",
    sql_example = r#"```sql
> SELECT mask_phone('+86 138-1234-5678') AS cn, mask_phone('+1 650 253 0000') AS us,
         mask_phone('call 12345') AS other;
+-------------+---------------+------------+
| cn          | us            | other      |
+-------------+---------------+------------+
| 138****5678 | +1 65******00 | call *2345 |
+-------------+---------------+------------+
```"#,
    argument(name = "text", description = "A phone number as written.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MaskPhoneFunc {
    signature: Signature,
}

crate::args::text_to_text_udf!(MaskPhoneFunc, "mask_phone", |t| Some(mask_phone(t)));

#[user_doc(
    doc_section(label = "Data Masking Functions"),
    description = "An e-mail address with its local part hidden: the first two characters (one when the local part is that short), six stars whatever the length, `@` and the domain as written (so analyses by provider still work). Text without an `@` keeps its first two characters and gets the six stars. NULL in, NULL out.",
    syntax_example = "mask_email(text)",
    sql_example = r#"```sql
> SELECT mask_email('dawei.song@gmail.com') AS a, mask_email('li@qq.com') AS b;
+--------------------+----------------+
| a                  | b              |
+--------------------+----------------+
| da******@gmail.com | l******@qq.com |
+--------------------+----------------+
```"#,
    argument(name = "text", description = "An e-mail address.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MaskEmailFunc {
    signature: Signature,
}

crate::args::text_to_text_udf!(MaskEmailFunc, "mask_email", |t| Some(mask_email(t)));

#[user_doc(
    doc_section(label = "Data Masking Functions"),
    description = "The first `keep_start` and last `keep_end` characters of a text around `padding` (PostgreSQL Anonymizer's `partial`), counted in characters, so Chinese names mask as expected. When the text is not longer than `keep_start + keep_end` the result is the padding alone, so a mask never shows a whole value. NULL when any argument is NULL; negative or fractional counts are an error.",
    syntax_example = "mask_partial(text, keep_start, padding, keep_end)",
    sql_example = r#"```sql
> SELECT mask_partial('宋杰洋', 1, '**', 0) AS name, mask_partial('310105198803150021', 6, '********', 4) AS id_card,
         mask_partial('王五', 1, '*', 1) AS short;
+------+--------------------+-------+
| name | id_card            | short |
+------+--------------------+-------+
| 宋** | 310105********0021 | *     |
+------+--------------------+-------+
```"#,
    argument(name = "text", description = "The text to mask."),
    argument(
        name = "keep_start",
        description = "How many leading characters to show."
    ),
    argument(name = "padding", description = "What replaces the hidden middle."),
    argument(
        name = "keep_end",
        description = "How many trailing characters to show."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MaskPartialFunc {
    signature: Signature,
}

crate::args::text_udf_impls!(MaskPartialFunc);

/// A character count from a number argument.
fn count(name: &str, value: f64) -> Result<usize> {
    if value < 0.0 || value.fract() != 0.0 || !value.is_finite() {
        return exec_err!(
            "mask_partial: {name} must be a whole number of characters (0 or more), got {value}"
        );
    }
    Ok(value as usize)
}

impl ScalarUDFImpl for MaskPartialFunc {
    fn name(&self) -> &str {
        "mask_partial"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce(
            self.name(),
            arg_types,
            &[
                ("text", "text"),
                ("keep_start", "number"),
                ("padding", "text"),
                ("keep_end", "number"),
            ],
            4,
        )
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let array =
            |i: usize, to: &DataType| -> Result<_> { Ok(cast(&args.args[i].to_array(rows)?, to)?) };
        let (text, start, padding, end) = (
            array(0, &DataType::Utf8)?,
            array(1, &DataType::Float64)?,
            array(2, &DataType::Utf8)?,
            array(3, &DataType::Float64)?,
        );
        let (text, padding) = (text.as_string::<i32>(), padding.as_string::<i32>());
        let (start, end) = (
            start.as_primitive::<Float64Type>(),
            end.as_primitive::<Float64Type>(),
        );
        let mut out = StringBuilder::with_capacity(rows, text.value_data().len());
        for i in 0..rows {
            if text.is_null(i) || start.is_null(i) || padding.is_null(i) || end.is_null(i) {
                out.append_null();
                continue;
            }
            out.append_value(mask_partial(
                text.value(i),
                count("keep_start", start.value(i))?,
                padding.value(i),
                count("keep_end", end.value(i))?,
            ));
        }
        crate::scalar_or_array(&args.args, Arc::new(out.finish()))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::new_from_impl(MaskPhoneFunc::default())),
        Arc::new(ScalarUDF::new_from_impl(MaskEmailFunc::default())),
        Arc::new(ScalarUDF::new_from_impl(MaskPartialFunc::default())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_keep_prefix_and_last_four_whatever_the_format() {
        for written in [
            "13812345678",
            "138 1234 5678",
            "+86 138-1234-5678",
            "0086 13812345678",
            "１３８１２３４５６７８",
        ] {
            assert_eq!(mask_phone(written), "138****5678", "{written}");
        }
        assert_eq!(mask_phone("not a phone 12"), "not a phone 12");
        assert_eq!(mask_phone("call 12345"), "call *2345");
    }

    #[test]
    fn emails_hide_the_local_part_and_its_length() {
        assert_eq!(mask_email("dawei@gmail.com"), "da******@gmail.com");
        assert_eq!(mask_email("dawei.song@gmail.com"), "da******@gmail.com");
        assert_eq!(mask_email("li@qq.com"), "l******@qq.com");
        assert_eq!(mask_email("x@qq.com"), "******@qq.com");
        assert_eq!(mask_email("nobody"), "no******");
    }

    #[test]
    fn partial_never_shows_a_whole_value() {
        assert_eq!(mask_partial("宋杰洋", 1, "**", 0), "宋**");
        assert_eq!(mask_partial("abcdefgh", 1, "xxxx", 3), "axxxxfgh");
        assert_eq!(mask_partial("王五", 1, "*", 1), "*");
        assert_eq!(mask_partial("", 0, "*", 0), "*");
    }
}
