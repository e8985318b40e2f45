//! PostgreSQL compatibility functions that client tools call while connecting.
//!
//! SQLAlchemy (and so Superset), Grafana and JDBC read `version()` and expect it to start with
//! `PostgreSQL <major>.<minor>`; DataFusion's own `version()` says "Apache DataFusion ...".

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::prelude::SessionContext;

/// The PostgreSQL version huaxiang presents itself as.
pub const PG_VERSION: &str = "16.6";

/// `server_version` as sent in the startup ParameterStatus.
pub fn server_version() -> String {
    format!("{PG_VERSION} (huaxiang {})", env!("CARGO_PKG_VERSION"))
}

/// The text of `version()`.
pub fn version_string() -> String {
    format!(
        "PostgreSQL {PG_VERSION} (huaxiang {}) on {}-pc-linux-gnu, compiled by rustc, 64-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    )
}

pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(VersionFunc::new()));
    ctx.register_udf(ScalarUDF::new_from_impl(CurrentSettingFunc::new()));
    ctx.register_udf(pg_size_pretty_udf());
    ctx.register_udf(ScalarUDF::new_from_impl(JsonBuildObjectFunc {
        signature: Signature::one_of(
            vec![TypeSignature::Nullary, TypeSignature::VariadicAny],
            Volatility::Immutable,
        ),
    }));
    // Functions whose answer in huaxiang is fixed by what it has: every function is visible
    // (one schema search path), and there are no sequences, indexes or comments (COMMENT ON
    // is not supported), so PostgreSQL's own answer for such objects — NULL — is the answer.
    let null_text = ScalarValue::Utf8(None);
    for (name, arities, value) in [
        (
            "pg_function_is_visible",
            &[1][..],
            ScalarValue::Boolean(Some(true)),
        ),
        (
            "pg_type_is_visible",
            &[1][..],
            ScalarValue::Boolean(Some(true)),
        ),
        ("pg_get_serial_sequence", &[2][..], null_text.clone()),
        ("pg_get_indexdef", &[1, 3][..], null_text.clone()),
        ("col_description", &[2][..], null_text.clone()),
        ("obj_description", &[1, 2][..], null_text.clone()),
        ("shobj_description", &[2][..], null_text.clone()),
        // No advisory locks are ever taken (pg_advisory_lock is not offered), so there are
        // none to release; PostgreSQL's `void` answer shows as an empty value. asyncpg's
        // pool sends this on every connection it takes back.
        (
            "pg_advisory_unlock_all",
            &[0][..],
            ScalarValue::Utf8(Some(String::new())),
        ),
    ] {
        ctx.register_udf(ScalarUDF::new_from_impl(ConstantFunc {
            name,
            signature: Signature::one_of(
                arities
                    .iter()
                    .map(|&n| match n {
                        0 => TypeSignature::Nullary,
                        n => TypeSignature::Any(n),
                    })
                    .collect(),
                Volatility::Stable,
            ),
            value,
        }));
    }
}

/// A catalog function whose answer is always `value`, whatever its arguments (of the listed
/// arities, any types).
#[derive(Debug, PartialEq, Eq, Hash)]
struct ConstantFunc {
    name: &'static str,
    signature: Signature,
    value: ScalarValue,
}

impl ScalarUDFImpl for ConstantFunc {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.value.data_type())
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(self.value.clone()))
    }
}

/// PostgreSQL's `pg_size_pretty(bigint)`: bytes below 10 kB, then kB, MB, GB, TB, PB, each
/// used below 20 × 1024 − 1 of it, half-rounded (dbsize.c, PostgreSQL 15).
pub fn size_pretty(mut size: i64) -> String {
    // (name, limit, half-rounded, unit bits)
    const UNITS: [(&str, i64, bool, u32); 6] = [
        ("bytes", 10 * 1024, false, 0),
        ("kB", 20 * 1024 - 1, true, 10),
        ("MB", 20 * 1024 - 1, true, 20),
        ("GB", 20 * 1024 - 1, true, 30),
        ("TB", 20 * 1024 - 1, true, 40),
        ("PB", 20 * 1024 - 1, true, 50),
    ];
    let half_rounded = |x: i64| (x + if x < 0 { -1 } else { 1 }) / 2;
    for (i, (name, limit, round, bits)) in UNITS.iter().enumerate() {
        let last = i + 1 == UNITS.len();
        if last || size.unsigned_abs() < *limit as u64 {
            if *round {
                size = half_rounded(size);
            }
            return format!("{size} {name}");
        }
        let (_, _, next_round, next_bits) = UNITS[i + 1];
        let shift = next_bits - bits - u32::from(next_round) + u32::from(*round);
        size /= 1i64 << shift;
    }
    unreachable!("the last unit always answers")
}

fn pg_size_pretty_udf() -> ScalarUDF {
    datafusion::logical_expr::create_udf(
        "pg_size_pretty",
        vec![DataType::Int64],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let sizes = arrays[0].as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            let out: datafusion::arrow::array::StringArray =
                sizes.iter().map(|s| s.map(size_pretty)).collect();
            huaxiang_udfs::scalar_or_array(args, Arc::new(out))
        }),
    )
}

/// `server_version_num`: 16.6 → 160006.
pub fn server_version_num() -> u32 {
    let mut parts = PG_VERSION.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    major * 10000 + minor
}

/// The value of a run-time setting as PostgreSQL's `current_setting` reports it: the
/// connection's DataFusion settings by their names, and the PostgreSQL settings client tools
/// read while connecting. `None` for an unknown name.
pub fn setting_value(name: &str, options: &ConfigOptions) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("datafusion.") {
        return options
            .entries()
            .into_iter()
            .find(|e| e.key == lower)
            .map(|e| e.value.unwrap_or_default());
    }
    Some(match lower.as_str() {
        "server_version" => server_version(),
        "server_version_num" => server_version_num().to_string(),
        "timezone" => options
            .execution
            .time_zone
            .clone()
            .unwrap_or_else(|| "UTC".to_string()),
        "server_encoding" | "client_encoding" => "UTF8".to_string(),
        "datestyle" => "ISO, MDY".to_string(),
        "intervalstyle" => "postgres".to_string(),
        "standard_conforming_strings" | "integer_datetimes" => "on".to_string(),
        "search_path" => "\"$user\", public".to_string(),
        "max_identifier_length" => "63".to_string(),
        "default_transaction_read_only" | "transaction_read_only" => "off".to_string(),
        "transaction_isolation" | "default_transaction_isolation" => "read committed".to_string(),
        "lc_collate" | "lc_ctype" => "C.UTF-8".to_string(),
        _ => return None,
    })
}

/// `current_setting(name [, missing_ok])`: PostgreSQL's function, which Metabase, Grafana and
/// pgAdmin-style tools call while connecting.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CurrentSettingFunc {
    signature: Signature,
}

impl CurrentSettingFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![DataType::Utf8]),
                    TypeSignature::Exact(vec![DataType::Utf8, DataType::Boolean]),
                ],
                Volatility::Stable,
            ),
        }
    }
}

impl Default for CurrentSettingFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for CurrentSettingFunc {
    fn name(&self) -> &str {
        "current_setting"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let names = arrays[0].as_string::<i32>();
        let missing_ok = arrays.get(1).map(|a| a.as_boolean().clone());
        let mut out = StringBuilder::with_capacity(rows, rows * 8);
        for i in 0..names.len() {
            if names.is_null(i) {
                out.append_null();
                continue;
            }
            let name = names.value(i);
            match setting_value(name, &args.config_options) {
                Some(value) => out.append_value(value),
                None if missing_ok
                    .as_ref()
                    .is_some_and(|m| m.is_valid(i) && m.value(i)) =>
                {
                    out.append_null()
                }
                None => {
                    return Err(datafusion::error::DataFusionError::External(Box::new(
                        crate::error::SqlError::new(
                            crate::error::codes::UNDEFINED_OBJECT,
                            format!("unrecognized configuration parameter \"{name}\""),
                        ),
                    )));
                }
            }
        }
        huaxiang_udfs::scalar_or_array(&args.args, Arc::new(out.finish()))
    }
}

/// `version()`: PostgreSQL's version string, naming huaxiang.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct VersionFunc {
    signature: Signature,
}

impl VersionFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::exact(vec![], Volatility::Stable),
        }
    }
}

impl Default for VersionFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for VersionFunc {
    fn name(&self) -> &str {
        "version"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
            version_string(),
        ))))
    }
}

/// `json_build_object(key, value, ...)`: a JSON object text written as PostgreSQL writes it
/// (`{"a" : 1, "b" : "x"}`), keys in the order given; numbers and booleans as JSON values,
/// NULL as `null`, everything else as a JSON string of its text.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonBuildObjectFunc {
    signature: Signature,
}

impl ScalarUDFImpl for JsonBuildObjectFunc {
    fn name(&self) -> &str {
        "json_build_object"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if !arg_types.len().is_multiple_of(2) {
            return Err(crate::error::SqlError::new(
                crate::error::codes::INVALID_PARAMETER_VALUE,
                format!(
                    "json_build_object: argument list must have even number of elements, got {}",
                    arg_types.len()
                ),
            )
            .with_hint(
                "The arguments of json_build_object() must consist of alternating keys and values.",
            )
            .into_datafusion());
        }
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let options = FormatOptions::default();
        let formatters = arrays
            .iter()
            .map(|a| ArrayFormatter::try_new(a.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut out = StringBuilder::with_capacity(rows, rows * 16);
        for row in 0..rows {
            let mut text = String::from("{");
            for pair in 0..arrays.len() / 2 {
                let (k, v) = (2 * pair, 2 * pair + 1);
                if arrays[k].logical_nulls().is_some_and(|n| n.is_null(row)) {
                    return Err(crate::error::SqlError::new(
                        "22004",
                        format!("json_build_object: null value not allowed for object key (argument {})", k + 1),
                    )
                    .into_datafusion());
                }
                if pair > 0 {
                    text.push_str(", ");
                }
                let key = formatters[k].value(row).to_string();
                text.push_str(&serde_json::Value::String(key).to_string());
                text.push_str(" : ");
                let value = &arrays[v];
                let is_null = value.logical_nulls().is_some_and(|n| n.is_null(row));
                if is_null {
                    text.push_str("null");
                } else if value.data_type().is_numeric() || value.data_type() == &DataType::Boolean
                {
                    text.push_str(&formatters[v].value(row).to_string());
                } else {
                    let shown = formatters[v].value(row).to_string();
                    text.push_str(&serde_json::Value::String(shown).to_string());
                }
            }
            text.push('}');
            out.append_value(text);
        }
        huaxiang_udfs::scalar_or_array(&args.args, Arc::new(out.finish()))
    }
}

#[cfg(test)]
mod size_tests {
    use super::size_pretty;

    /// Answers of PostgreSQL 15's pg_size_pretty.
    #[test]
    fn sizes_read_as_postgresql_writes_them() {
        for (size, text) in [
            (0, "0 bytes"),
            (10239, "10239 bytes"),
            (10240, "10 kB"),
            (1048576, "1024 kB"),
            (20971520, "20 MB"),
            (1073741824, "1024 MB"),
            (-10240, "-10 kB"),
            (i64::MAX, "8192 PB"),
        ] {
            assert_eq!(size_pretty(size), text, "{size}");
        }
    }
}
