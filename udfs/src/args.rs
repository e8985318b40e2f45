//! Argument checks shared by the scalar functions that take text: argument counts and types
//! (as `coerce_types`, so a wrong type is refused while planning), constant options, and the
//! text column itself.

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};

/// Whether a column of type `t` is text (or an untyped NULL).
pub fn is_text(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null
    )
}

/// Checks `arg_types` against `(name, kind)` pairs, the first `required` of them required;
/// kinds are "text", "number" and "bool".
pub fn coerce(
    function: &str,
    arg_types: &[DataType],
    params: &[(&str, &str)],
    required: usize,
) -> Result<Vec<DataType>> {
    if arg_types.len() < required || arg_types.len() > params.len() {
        let names: Vec<&str> = params.iter().map(|p| p.0).collect();
        let count = if required == params.len() {
            required.to_string()
        } else {
            format!("{required} to {}", params.len())
        };
        return plan_err!(
            "{function} takes {count} argument(s) ({}), got {}",
            names.join(", "),
            arg_types.len()
        );
    }
    arg_types
        .iter()
        .zip(params)
        .map(|(t, (name, kind))| match *kind {
            "text" if is_text(t) => Ok(DataType::Utf8),
            "text" => plan_err!("{function}: argument {name} must be text, got {t}"),
            "bool" if matches!(t, DataType::Boolean | DataType::Null) => Ok(DataType::Boolean),
            "bool" => plan_err!("{function}: argument {name} must be a boolean, got {t}"),
            _ if t.is_numeric() || t == &DataType::Null => Ok(DataType::Float64),
            _ => plan_err!("{function}: argument {name} must be a number, got {t}"),
        })
        .collect()
}

/// A constant text argument (options); `None` when absent or NULL.
pub fn constant_text(function: &str, args: &[ColumnarValue], i: usize) -> Result<Option<String>> {
    match args.get(i) {
        None => Ok(None),
        Some(ColumnarValue::Scalar(v)) => match v {
            ScalarValue::Utf8(s) | ScalarValue::Utf8View(s) | ScalarValue::LargeUtf8(s) => {
                Ok(s.clone())
            }
            ScalarValue::Null => Ok(None),
            other => exec_err!("{function}: argument {} must be text, got {other}", i + 1),
        },
        Some(_) => exec_err!("{function}: argument {} must be a constant", i + 1),
    }
}

/// The first argument as a Utf8 array.
pub fn texts(args: &ScalarFunctionArgs) -> Result<ArrayRef> {
    Ok(cast(
        &args.args[0].to_array(args.number_rows)?,
        &DataType::Utf8,
    )?)
}

/// `Default` for a function whose only field is its (user-defined) signature: the argument
/// checks are in its `coerce_types`.
macro_rules! text_udf_impls {
    ($ty:ident) => {
        impl Default for $ty {
            fn default() -> Self {
                Self {
                    signature: datafusion::logical_expr::Signature::user_defined(
                        datafusion::logical_expr::Volatility::Immutable,
                    ),
                }
            }
        }
    };
}
pub(crate) use text_udf_impls;

/// The whole implementation of a function of one text argument with a text result:
/// `$apply` (`fn(&str) -> Option<String>`) is applied to each value, NULL in, NULL out. The
/// struct (with only a `signature` field) carries the `#[user_doc]`.
macro_rules! text_to_text_udf {
    ($ty:ident, $name:literal, $apply:expr) => {
        crate::args::text_udf_impls!($ty);

        impl datafusion::logical_expr::ScalarUDFImpl for $ty {
            fn name(&self) -> &str {
                $name
            }

            fn signature(&self) -> &datafusion::logical_expr::Signature {
                &self.signature
            }

            fn coerce_types(
                &self,
                arg_types: &[datafusion::arrow::datatypes::DataType],
            ) -> datafusion::common::Result<Vec<datafusion::arrow::datatypes::DataType>> {
                crate::args::coerce(self.name(), arg_types, &[("text", "text")], 1)
            }

            fn return_type(
                &self,
                _arg_types: &[datafusion::arrow::datatypes::DataType],
            ) -> datafusion::common::Result<datafusion::arrow::datatypes::DataType> {
                Ok(datafusion::arrow::datatypes::DataType::Utf8)
            }

            fn invoke_with_args(
                &self,
                args: datafusion::logical_expr::ScalarFunctionArgs,
            ) -> datafusion::common::Result<datafusion::logical_expr::ColumnarValue> {
                use datafusion::arrow::array::{Array as _, AsArray as _};
                let texts = crate::args::texts(&args)?;
                let texts = texts.as_string::<i32>();
                let mut out = datafusion::arrow::array::StringBuilder::with_capacity(
                    texts.len(),
                    texts.value_data().len(),
                );
                for value in texts.iter() {
                    out.append_option(value.and_then($apply));
                }
                crate::scalar_or_array(&args.args, std::sync::Arc::new(out.finish()))
            }

            fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
                self.doc()
            }
        }
    };
}
pub(crate) use text_to_text_udf;
