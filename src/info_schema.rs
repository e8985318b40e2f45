//! `information_schema.columns.data_type` in PostgreSQL's type names.
//!
//! DataFusion's `information_schema` writes Arrow's names (`Int64`, `Utf8View`, `Float64`,
//! `Timestamp(ns)`); Metabase, Superset (through SQLAlchemy), DBeaver and hand-written reports
//! read `data_type` and expect PostgreSQL's (`bigint`, `text`, `double precision`,
//! `timestamp without time zone`). DataFusion answers `information_schema` itself, before any
//! catalog of ours is asked, so this analyzer rule puts a projection over every scan of
//! `information_schema.columns` that renames the types, keeping the scan's schema.

use std::str::FromStr;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, Result};
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, Projection, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;

/// PostgreSQL's `information_schema` name for an Arrow type, as PostgreSQL would store the
/// column huaxiang's type maps to on the wire.
pub fn pg_data_type(data_type: &DataType) -> &'static str {
    match data_type {
        DataType::Boolean => "boolean",
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => "smallint",
        DataType::Int32 | DataType::UInt16 => "integer",
        DataType::Int64 | DataType::UInt32 => "bigint",
        DataType::UInt64 => "numeric",
        DataType::Float16 | DataType::Float32 => "real",
        DataType::Float64 => "double precision",
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => "numeric",
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => "text",
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "bytea",
        DataType::Date32 | DataType::Date64 => "date",
        DataType::Time32(_) | DataType::Time64(_) => "time without time zone",
        DataType::Timestamp(_, None) => "timestamp without time zone",
        DataType::Timestamp(_, Some(_)) => "timestamp with time zone",
        DataType::Interval(_) | DataType::Duration(_) => "interval",
        DataType::List(_)
        | DataType::LargeList(_)
        | DataType::ListView(_)
        | DataType::LargeListView(_)
        | DataType::FixedSizeList(..) => "ARRAY",
        DataType::Dictionary(_, value) => pg_data_type(value),
        DataType::Struct(_)
        | DataType::Map(..)
        | DataType::Union(..)
        | DataType::RunEndEncoded(..) => "USER-DEFINED",
    }
}

/// Arrow's type text (as DataFusion's information_schema writes it) → PostgreSQL's name; text
/// that is not an Arrow type is kept.
#[derive(Debug, PartialEq, Eq, Hash)]
struct PgDataTypeName {
    signature: Signature,
}

impl ScalarUDFImpl for PgDataTypeName {
    fn name(&self) -> &str {
        "pg_information_schema_type"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let names = arrays[0].as_string::<i32>();
        let out: StringArray = names
            .iter()
            .map(|name| {
                name.map(|n| match DataType::from_str(n) {
                    Ok(t) => pg_data_type(&t).to_string(),
                    Err(_) => n.to_string(),
                })
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out) as Arc<dyn Array>))
    }
}

/// The analyzer rule; add it to a session with `SessionState::add_analyzer_rule`.
#[derive(Debug)]
pub struct PgInformationSchemaTypes {
    rename: Arc<ScalarUDF>,
}

impl Default for PgInformationSchemaTypes {
    fn default() -> Self {
        Self {
            rename: Arc::new(ScalarUDF::new_from_impl(PgDataTypeName {
                signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
            })),
        }
    }
}

impl AnalyzerRule for PgInformationSchemaTypes {
    fn analyze(&self, plan: LogicalPlan, _: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            let LogicalPlan::TableScan(scan) = &node else {
                return Ok(Transformed::no(node));
            };
            let is_columns = scan.table_name.table() == "columns"
                && scan.table_name.schema() == Some("information_schema");
            let schema = scan.projected_schema.clone();
            if !is_columns || schema.field_with_unqualified_name("data_type").is_err() {
                return Ok(Transformed::no(node));
            }
            let exprs = schema
                .iter()
                .map(|(qualifier, field)| {
                    let column = Expr::Column(Column::from((qualifier, field)));
                    if field.name() == "data_type" {
                        self.rename
                            .call(vec![column])
                            .alias_qualified(qualifier.cloned(), "data_type")
                    } else {
                        column
                    }
                })
                .collect();
            let projection = Projection::try_new(exprs, Arc::new(node))?;
            Ok(Transformed::yes(LogicalPlan::Projection(projection)))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "pg_information_schema_types"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrow_type_text_maps_to_postgres_names() {
        let names: Vec<&str> = [
            "Int64",
            "Int32",
            "Utf8View",
            "Float64",
            "Date32",
            "Boolean",
            "Decimal128(10, 2)",
            "Timestamp(ns)",
            "Timestamp(µs, \"+00:00\")",
            "List(Int64)",
        ]
        .into_iter()
        .map(|t| pg_data_type(&DataType::from_str(t).unwrap_or_else(|e| panic!("{t}: {e}"))))
        .collect();
        assert_eq!(
            names,
            [
                "bigint",
                "integer",
                "text",
                "double precision",
                "date",
                "boolean",
                "numeric",
                "timestamp without time zone",
                "timestamp with time zone",
                "ARRAY"
            ]
        );
    }
}
