//! `information_schema` as PostgreSQL clients read it.
//!
//! DataFusion answers `information_schema` itself when it is enabled — before any catalog of
//! ours is asked — with Arrow's type names (`Int64`, `Utf8View`, `Timestamp(ns)`) and without
//! the columns and views PostgreSQL has that clients read: Metabase's field sync reads
//! `columns.udt_name` (`int8`, `timestamptz`) and joins `table_constraints` with
//! `key_column_usage`; SQLAlchemy (Superset), DBeaver and hand-written reports read
//! `data_type` in PostgreSQL's names (`bigint`, `timestamp with time zone`). So the session
//! turns DataFusion's off and registers this schema as `information_schema` instead: DataFusion's
//! tables (SHOW, `df_settings`, `routines` still work through them), `columns` with PostgreSQL's
//! type names and `udt_*`/identity columns, and PostgreSQL's constraint views — empty, as
//! huaxiang tables have no primary, unique or foreign keys.

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::catalog::information_schema::InformationSchemaProvider;
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use crate::pg::rows::{Rewritten, RowRewrite};

/// The schema's name.
pub const INFORMATION_SCHEMA: &str = "information_schema";

/// Registers the schema in `catalog` of `ctx` and switches DataFusion's own off. Call after
/// every table function is registered (they are listed in `routines`).
pub fn register(ctx: &SessionContext, catalog: &str) -> Result<()> {
    let state = ctx.state();
    let inner = InformationSchemaProvider::new(state.catalog_list().clone())
        .with_table_functions(state.table_functions().clone());
    ctx.state_ref()
        .write()
        .config_mut()
        .options_mut()
        .catalog
        .information_schema = false;
    let Some(catalog) = ctx.catalog(catalog) else {
        return Err(datafusion::error::DataFusionError::Plan(format!(
            "catalog {catalog} is not registered"
        )));
    };
    catalog.register_schema(
        INFORMATION_SCHEMA,
        Arc::new(PgInformationSchema {
            inner: Arc::new(inner),
        }),
    )?;
    Ok(())
}

/// PostgreSQL's constraint views, with their columns (all text but the positions).
const CONSTRAINT_VIEWS: &[(&str, &[&str])] = &[
    (
        "table_constraints",
        &[
            "constraint_catalog",
            "constraint_schema",
            "constraint_name",
            "table_catalog",
            "table_schema",
            "table_name",
            "constraint_type",
            "is_deferrable",
            "initially_deferred",
            "enforced",
            "nulls_distinct",
        ],
    ),
    (
        "key_column_usage",
        &[
            "constraint_catalog",
            "constraint_schema",
            "constraint_name",
            "table_catalog",
            "table_schema",
            "table_name",
            "column_name",
            "ordinal_position",
            "position_in_unique_constraint",
        ],
    ),
    (
        "referential_constraints",
        &[
            "constraint_catalog",
            "constraint_schema",
            "constraint_name",
            "unique_constraint_catalog",
            "unique_constraint_schema",
            "unique_constraint_name",
            "match_option",
            "update_rule",
            "delete_rule",
        ],
    ),
    (
        "constraint_column_usage",
        &[
            "table_catalog",
            "table_schema",
            "table_name",
            "column_name",
            "constraint_catalog",
            "constraint_schema",
            "constraint_name",
        ],
    ),
];

#[derive(Debug)]
struct PgInformationSchema {
    inner: Arc<InformationSchemaProvider>,
}

#[async_trait]
impl SchemaProvider for PgInformationSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.inner.table_names();
        names.extend(CONSTRAINT_VIEWS.iter().map(|(name, _)| name.to_string()));
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some((_, columns)) = CONSTRAINT_VIEWS.iter().find(|(n, _)| *n == name) {
            let fields: Vec<Field> = columns
                .iter()
                .map(|c| {
                    let data_type = if c.ends_with("position") || c.ends_with("constraint") {
                        DataType::Int32
                    } else {
                        DataType::Utf8
                    };
                    Field::new(*c, data_type, true)
                })
                .collect();
            let table = MemTable::try_new(Arc::new(Schema::new(fields)), vec![vec![]])?;
            return Ok(Some(Arc::new(table)));
        }
        let table = self.inner.table(name).await?;
        Ok(match (name, table) {
            ("columns", Some(table)) => {
                let rows = PgColumns::of(&table.schema());
                Some(Rewritten::provider(table, rows))
            }
            (_, table) => table,
        })
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name) || CONSTRAINT_VIEWS.iter().any(|(n, _)| *n == name)
    }
}

/// `columns` with `data_type` in PostgreSQL's names, `ordinal_position` from 1, numbers as
/// int4, and PostgreSQL's `udt_*`, identity and generation columns added.
#[derive(Debug)]
struct PgColumns {
    data_type: Option<usize>,
    catalog: Option<usize>,
    position: Option<usize>,
}

/// Columns of PostgreSQL's `information_schema.columns` that DataFusion's lacks.
const ADDED_COLUMNS: [&str; 7] = [
    "udt_catalog",
    "udt_schema",
    "udt_name",
    "is_identity",
    "identity_generation",
    "is_generated",
    "is_updatable",
];

impl PgColumns {
    fn of(schema: &SchemaRef) -> Self {
        Self {
            data_type: schema.index_of("data_type").ok(),
            catalog: schema.index_of("table_catalog").ok(),
            position: schema.index_of("ordinal_position").ok(),
        }
    }
}

#[async_trait]
impl RowRewrite for PgColumns {
    fn schema(&self, inner: &SchemaRef) -> SchemaRef {
        // PostgreSQL's numbers here (`ordinal_position`, lengths, precisions) are
        // `cardinal_number`, an int4; DataFusion's are UInt64, which clients see as numeric.
        let mut fields: Vec<FieldRef> = inner
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::UInt64 => {
                    Arc::new(Field::new(f.name(), DataType::Int32, f.is_nullable()))
                }
                _ => f.clone(),
            })
            .collect();
        fields.extend(
            ADDED_COLUMNS
                .iter()
                .map(|name| Arc::new(Field::new(*name, DataType::Utf8, true))),
        );
        Arc::new(Schema::new_with_metadata(fields, inner.metadata().clone()))
    }

    async fn rewrite(
        &self,
        batches: Vec<RecordBatch>,
        schema: &SchemaRef,
        _state: &dyn Session,
    ) -> Result<Vec<RecordBatch>> {
        batches
            .into_iter()
            .map(|batch| {
                let rows = batch.num_rows();
                let arrow_types: Vec<Option<DataType>> = match self.data_type {
                    Some(i) => {
                        let text = cast(batch.column(i), &DataType::Utf8)?;
                        let text = text.as_string::<i32>();
                        (0..rows)
                            .map(|r| {
                                text.is_valid(r)
                                    .then(|| DataType::from_str(text.value(r)).ok())
                                    .flatten()
                            })
                            .collect()
                    }
                    None => vec![None; rows],
                };
                let mut columns = batch
                    .columns()
                    .iter()
                    .zip(schema.fields())
                    .map(|(c, f)| {
                        if c.data_type() == f.data_type() {
                            Ok(c.clone())
                        } else {
                            cast(c, f.data_type())
                        }
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                // DataFusion counts columns from 0, PostgreSQL from 1.
                if let Some(i) = self.position {
                    columns[i] = datafusion::arrow::compute::kernels::numeric::add(
                        &columns[i],
                        &datafusion::arrow::array::Int32Array::new_scalar(1),
                    )?;
                }
                if let Some(i) = self.data_type {
                    let original = cast(&columns[i], &DataType::Utf8)?;
                    let original = original.as_string::<i32>();
                    let names: StringArray = (0..rows)
                        .map(|r| match &arrow_types[r] {
                            Some(t) => Some(pg_type_names(t).0.to_string()),
                            None => original.is_valid(r).then(|| original.value(r).to_string()),
                        })
                        .collect();
                    columns[i] = cast(
                        &(Arc::new(names) as ArrayRef),
                        batch.schema().field(i).data_type(),
                    )?;
                }
                let text = |value: &dyn Fn(usize) -> Option<String>| -> ArrayRef {
                    Arc::new((0..rows).map(value).collect::<StringArray>())
                };
                let catalog = match self.catalog {
                    Some(i) => cast(batch.column(i), &DataType::Utf8)?,
                    None => Arc::new(StringArray::from(vec![None::<&str>; rows])),
                };
                let catalog = catalog.as_string::<i32>();
                columns.push(text(&|r| {
                    catalog.is_valid(r).then(|| catalog.value(r).to_string())
                }));
                columns.push(text(&|_| Some("pg_catalog".to_string())));
                columns.push(text(&|r| {
                    arrow_types[r].as_ref().map(|t| pg_type_names(t).1)
                }));
                columns.push(text(&|_| Some("NO".to_string())));
                columns.push(text(&|_| None));
                columns.push(text(&|_| Some("NEVER".to_string())));
                columns.push(text(&|_| Some("YES".to_string())));
                Ok(RecordBatch::try_new(schema.clone(), columns)?)
            })
            .collect()
    }
}

/// PostgreSQL's names for the type a column of an Arrow type has on the wire: the
/// `information_schema` name (`data_type`: `bigint`, `timestamp with time zone`) and the
/// internal one (`pg_type.typname`, `udt_name`: `int8`, `timestamptz`; arrays `_` and their
/// element's).
pub fn pg_type_names(data_type: &DataType) -> (&'static str, String) {
    let (sql, internal) = match data_type {
        DataType::Boolean => ("boolean", "bool"),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => ("smallint", "int2"),
        DataType::Int32 | DataType::UInt16 => ("integer", "int4"),
        DataType::Int64 | DataType::UInt32 => ("bigint", "int8"),
        DataType::UInt64 => ("numeric", "numeric"),
        DataType::Float16 | DataType::Float32 => ("real", "float4"),
        DataType::Float64 => ("double precision", "float8"),
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => ("numeric", "numeric"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
            ("text", "text")
        }
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => ("bytea", "bytea"),
        DataType::Date32 | DataType::Date64 => ("date", "date"),
        DataType::Time32(_) | DataType::Time64(_) => ("time without time zone", "time"),
        DataType::Timestamp(_, None) => ("timestamp without time zone", "timestamp"),
        DataType::Timestamp(_, Some(_)) => ("timestamp with time zone", "timestamptz"),
        DataType::Interval(_) | DataType::Duration(_) => ("interval", "interval"),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::FixedSizeList(f, _) => {
            return ("ARRAY", format!("_{}", pg_type_names(f.data_type()).1));
        }
        DataType::Dictionary(_, value) => return pg_type_names(value),
        DataType::Struct(_)
        | DataType::Map(..)
        | DataType::Union(..)
        | DataType::RunEndEncoded(..) => ("USER-DEFINED", "record"),
    };
    (sql, internal.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udt_names_are_pg_type_names() {
        assert_eq!(pg_type_names(&DataType::Int64).1, "int8");
        assert_eq!(
            pg_type_names(&DataType::Timestamp(
                datafusion::arrow::datatypes::TimeUnit::Microsecond,
                Some("+00:00".into())
            ))
            .1,
            "timestamptz"
        );
        assert_eq!(
            pg_type_names(&DataType::new_list(DataType::Utf8, true)).1,
            "_text"
        );
        assert_eq!(pg_type_names(&DataType::Decimal128(12, 2)).1, "numeric");
    }

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
        .map(|t| pg_type_names(&DataType::from_str(t).unwrap_or_else(|e| panic!("{t}: {e}"))).0)
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
