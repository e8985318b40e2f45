//! PostgreSQL compatibility functions that client tools call while connecting.
//!
//! SQLAlchemy (and so Superset), Grafana and JDBC read `version()` and expect it to start with
//! `PostgreSQL <major>.<minor>`; DataFusion's own `version()` says "Apache DataFusion ...".

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
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
        let array: ArrayRef = Arc::new(out.finish());
        Ok(
            if args
                .args
                .iter()
                .all(|a| matches!(a, ColumnarValue::Scalar(_)))
            {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&array, 0)?)
            } else {
                ColumnarValue::Array(array)
            },
        )
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
