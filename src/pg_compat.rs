//! PostgreSQL compatibility functions that client tools call while connecting.
//!
//! SQLAlchemy (and so Superset), Grafana and JDBC read `version()` and expect it to start with
//! `PostgreSQL <major>.<minor>`; DataFusion's own `version()` says "Apache DataFusion ...".

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
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
