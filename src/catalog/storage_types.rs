//! Which Arrow types a managed (Delta) table stores, and how query results are cast to them.
//!
//! Delta Lake has no unsigned integers, no nanosecond timestamps, no `Utf8View`, no time-of-day
//! or interval type. `CREATE TABLE ... AS SELECT` may produce any of these, so the result is cast
//! to the nearest type Delta stores without losing values; types with no faithful equivalent
//! are refused with a message naming the column.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Schema, TimeUnit};

use crate::error::{SqlError, codes};

/// The schema a managed table stores for rows of `schema`.
pub fn storage_schema(schema: &Schema) -> Result<Schema, SqlError> {
    let fields = schema
        .fields()
        .iter()
        .map(|f| storage_field(f))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Schema::new(fields))
}

fn storage_field(field: &Field) -> Result<FieldRef, SqlError> {
    check_column_name(field.name())?;
    let data_type = storage_type(field.name(), field.data_type())?;
    Ok(Arc::new(
        Field::new(field.name(), data_type, field.is_nullable())
            .with_metadata(field.metadata().clone()),
    ))
}

/// Delta (without column mapping) refuses these characters in column names.
const INVALID_NAME_CHARS: &[char] = &[' ', ',', ';', '{', '}', '(', ')', '\n', '\t', '='];

fn check_column_name(name: &str) -> Result<(), SqlError> {
    if name.is_empty() || name.contains(INVALID_NAME_CHARS) {
        return Err(SqlError::new(
            codes::INVALID_NAME,
            format!("column name \"{name}\" cannot be stored in a table"),
        )
        .with_hint(
            "Give the column a plain name with AS, e.g. SELECT count(*) AS orders; \
             names may not contain spaces or any of , ; { } ( ) =",
        ));
    }
    Ok(())
}

fn storage_type(column: &str, data_type: &DataType) -> Result<DataType, SqlError> {
    use DataType::*;
    let stored = match data_type {
        Null => Utf8,
        Boolean | Int8 | Int16 | Int32 | Int64 | Float32 | Float64 | Date32 | Utf8 | Binary => {
            data_type.clone()
        }
        UInt8 => Int16,
        UInt16 => Int32,
        UInt32 => Int64,
        UInt64 => Decimal128(20, 0),
        Float16 => Float32,
        Utf8View | LargeUtf8 => Utf8,
        BinaryView | LargeBinary | FixedSizeBinary(_) => Binary,
        Date64 => Date32,
        Decimal32(p, s) | Decimal64(p, s) | Decimal128(p, s) => Decimal128(*p, *s),
        Decimal256(p, s) if *p <= 38 => Decimal128(*p, *s),
        Timestamp(_, None) => Timestamp(TimeUnit::Microsecond, None),
        Timestamp(_, Some(_)) => Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Dictionary(_, value) => storage_type(column, value)?,
        List(item) | LargeList(item) | ListView(item) | LargeListView(item) => {
            List(storage_field(item)?)
        }
        FixedSizeList(item, _) => List(storage_field(item)?),
        Struct(fields) => Struct(
            fields
                .iter()
                .map(|f| storage_field(f))
                .collect::<Result<Fields, _>>()?,
        ),
        Map(entries, sorted) => Map(storage_field(entries)?, *sorted),
        other => {
            return Err(SqlError::new(
                codes::FEATURE_NOT_SUPPORTED,
                format!("column \"{column}\" has type {other}, which a stored table cannot hold"),
            )
            .with_hint("Cast it to text, a number or a timestamp first."));
        }
    };
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_and_view_types_widen_to_storable_types() {
        let schema = Schema::new(vec![
            Field::new("n", DataType::UInt64, false),
            Field::new("s", DataType::Utf8View, true),
            Field::new("t", DataType::Timestamp(TimeUnit::Nanosecond, None), true),
        ]);
        let stored = storage_schema(&schema).unwrap();
        assert_eq!(stored.field(0).data_type(), &DataType::Decimal128(20, 0));
        assert_eq!(stored.field(1).data_type(), &DataType::Utf8);
        assert_eq!(
            stored.field(2).data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, None)
        );
    }

    #[test]
    fn unnamed_expressions_are_refused_with_a_hint() {
        let schema = Schema::new(vec![Field::new("count(*)", DataType::Int64, false)]);
        let err = storage_schema(&schema).unwrap_err();
        assert!(err.message.contains("count(*)"), "{}", err.message);
        assert!(err.hint.unwrap().contains("AS"));
    }

    #[test]
    fn interval_is_refused() {
        let schema = Schema::new(vec![Field::new(
            "gap",
            DataType::Interval(datafusion::arrow::datatypes::IntervalUnit::MonthDayNano),
            true,
        )]);
        assert_eq!(
            storage_schema(&schema).unwrap_err().sqlstate,
            codes::FEATURE_NOT_SUPPORTED
        );
    }
}
