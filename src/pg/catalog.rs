//! `pg_catalog` tables as clients read them, over `datafusion-pg-catalog`'s: this wraps its
//! `pg_catalog` schema and changes the rows of four tables (each a [`RowRewrite`]).
//!
//! - `pg_proc` lists our functions too, so psql's `\df` and DBeaver's function lists show them
//!   with their arguments and result types, and `pg_get_function_result`,
//!   `pg_get_function_arguments` and `pg_get_function_identity_arguments` describe them.
//! - `pg_class` gains PostgreSQL's `reloptions` and `relacl` columns (NULL), and notes the oid of
//!   each table of `public` for the size functions (below).
//! - `pg_index` and `pg_constraint` give their key columns as lists, as PostgreSQL types them,
//!   so clients' `unnest(indkey)` plans (SQLAlchemy's reflection).
//!
//! `datafusion-pg-catalog` serves `pg_proc` as a fixed copy of PostgreSQL's built-in functions
//! (schema `pg_catalog`); ours follow, one row per function of the `udfs` crate (and per arity
//! when trailing arguments are optional), in schema `public`. Argument types come from the functions' own signatures: each
//! is asked which argument types it accepts (DataFusion's coercion, as when planning a call),
//! trying the types users pass — text, double precision, bigint, boolean, timestamptz, date —
//! and the first combination it takes unchanged is the one shown; the result type is what the
//! function says it returns for those. Table functions take constants whose types they check
//! themselves, so their arguments are `"any"` and their result `SETOF record`.
//!
//! With the oids `pg_class` gave the tables of `public`, `pg_table_size(oid)`, `pg_relation_size` and `pg_total_relation_size` (psql's `\dt+`,
//! DBeaver's table statistics) report the bytes the table takes in the data dir
//! (`datafusion-pg-catalog`'s own versions answer 0 for every table).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float32Array, Int16Array, Int32Array, Int64Array,
    Int64Builder, ListBuilder, RecordBatch, StringArray, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int32Type, SchemaRef, TimeUnit};
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::WindowUDFFieldArgs;
use datafusion::logical_expr::type_coercion::functions::{UDFCoercionExt, fields_with_udf};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature,
};
use datafusion::physical_plan::collect;
use datafusion::prelude::SessionContext;

use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::{
    PgCatalogContextProvider, Role,
};

use super::owners::{OwnerNames, Owners, RoleOids, with_relation_owners};
use super::rows::{Rewritten, RowRewrite, map_oids, oid_signature};
use crate::access::RoleInfo;
use crate::catalog::Catalog;

/// Our functions' oids start here, far above PostgreSQL's built-ins and the oids
/// `datafusion-pg-catalog` hands out to relations (from 16384, one per object).
const FIRST_OID: i32 = 1_000_000;

/// A PostgreSQL type: its oid and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PgType {
    oid: i32,
    name: &'static str,
}

const ANY: PgType = PgType {
    oid: 2276,
    name: "\"any\"",
};

/// The PostgreSQL type clients see for an Arrow type (as the wire encoding describes it).
fn pg_type(data_type: &DataType) -> PgType {
    let (oid, name) = match data_type {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => (25, "text"),
        DataType::Float64 => (701, "double precision"),
        DataType::Float32 => (700, "real"),
        DataType::Int64 | DataType::UInt64 | DataType::UInt32 => (20, "bigint"),
        DataType::Int32 | DataType::UInt16 => (23, "integer"),
        DataType::Int16 | DataType::Int8 | DataType::UInt8 => (21, "smallint"),
        DataType::Boolean => (16, "boolean"),
        DataType::Date32 | DataType::Date64 => (1082, "date"),
        DataType::Timestamp(_, Some(_)) => (1184, "timestamp with time zone"),
        DataType::Timestamp(_, None) => (1114, "timestamp without time zone"),
        DataType::Decimal128(_, _) | DataType::Decimal256(_, _) => (1700, "numeric"),
        DataType::List(f) | DataType::LargeList(f) => match pg_type(f.data_type()).oid {
            25 => (1009, "text[]"),
            701 => (1022, "double precision[]"),
            20 => (1016, "bigint[]"),
            23 => (1007, "integer[]"),
            _ => return ANY,
        },
        DataType::Struct(_) => (2249, "record"),
        _ => return ANY,
    };
    PgType { oid, name }
}

/// One row of our functions in `pg_proc`.
#[derive(Debug, Clone)]
struct ProcRow {
    oid: i32,
    name: String,
    /// `f` function, `a` aggregate, `w` window.
    kind: &'static str,
    /// Set-returning (table functions).
    set: bool,
    args: Vec<(String, PgType)>,
    result: PgType,
}

impl ProcRow {
    fn result_text(&self) -> String {
        if self.set {
            "SETOF record".to_string()
        } else {
            self.result.name.to_string()
        }
    }

    fn arguments_text(&self) -> String {
        self.args
            .iter()
            .map(|(name, t)| format!("{name} {}", t.name))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The types tried for each argument, in order of preference.
fn candidates() -> [DataType; 6] {
    [
        DataType::Utf8,
        DataType::Float64,
        DataType::Int64,
        DataType::Boolean,
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        DataType::Date32,
    ]
}

/// More arguments than this are shown as `"any"` rather than searched (6^5 combinations).
const MAX_PROBED_ARGS: usize = 5;

/// The first combination of candidate types `accepts` takes unchanged.
fn probe(arity: usize, accepts: &dyn Fn(&[FieldRef]) -> bool) -> Option<Vec<DataType>> {
    if arity > MAX_PROBED_ARGS {
        return None;
    }
    let candidates = candidates();
    let mut choice = vec![0usize; arity];
    loop {
        let fields: Vec<FieldRef> = choice
            .iter()
            .map(|&c| Arc::new(Field::new("a", candidates[c].clone(), true)))
            .collect();
        if accepts(&fields) {
            return Some(fields.iter().map(|f| f.data_type().clone()).collect());
        }
        // The next combination, first argument fastest.
        let mut i = 0;
        loop {
            if i == arity {
                return None;
            }
            choice[i] += 1;
            if choice[i] < candidates.len() {
                break;
            }
            choice[i] = 0;
            i += 1;
        }
    }
}

/// Whether `function` takes `fields` without changing their types.
fn takes_unchanged<F: UDFCoercionExt>(function: &F, fields: &[FieldRef]) -> bool {
    fields_with_udf(fields, function).is_ok_and(|coerced| {
        coerced
            .iter()
            .zip(fields)
            .all(|(c, f)| c.data_type() == f.data_type())
    })
}

/// Argument names and the arities a function is called with, from its documentation: the
/// names of `arguments`, and in `syntax_example` the arguments after a `[` are optional.
fn arities(doc: Option<&Documentation>) -> (Vec<String>, Vec<usize>) {
    let Some(doc) = doc else {
        return (Vec::new(), vec![0]);
    };
    let names: Vec<String> = doc
        .arguments
        .as_ref()
        .map(|args| args.iter().map(|(name, _)| name.clone()).collect())
        .unwrap_or_default();
    let inside = doc
        .syntax_example
        .split_once('(')
        .map(|(_, rest)| rest.rsplit_once(')').map_or(rest, |(args, _)| args))
        .unwrap_or("");
    let required_text = inside.split('[').next().unwrap_or("");
    let required = required_text
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .count()
        .min(names.len());
    let arities = if inside.contains('[') {
        (required..=names.len()).collect()
    } else {
        vec![names.len()]
    };
    (names, arities)
}

/// What a function kind answers: its name, documentation, whether it takes given argument
/// types unchanged, and its result type for them (`None` for table functions, which check
/// their constant arguments themselves and return rows).
struct Described<'a> {
    name: &'a str,
    /// `f` function, `a` aggregate, `w` window.
    kind: &'static str,
    doc: Option<&'a Documentation>,
    typing: Option<Typing<'a>>,
}

/// The result type for argument types the function takes unchanged, else `None`.
type Typing<'a> = Box<dyn Fn(&[FieldRef]) -> Option<DataType> + 'a>;

impl<'a> Described<'a> {
    /// A scalar, aggregate or window function: `result` gives its result field for arguments
    /// it takes unchanged.
    fn typed<F: UDFCoercionExt>(
        function: &'a F,
        kind: &'static str,
        doc: Option<&'a Documentation>,
        result: impl Fn(&[FieldRef]) -> Result<FieldRef> + 'a,
    ) -> Self {
        Self {
            name: function.name(),
            kind,
            doc,
            typing: Some(Box::new(move |fields| {
                takes_unchanged(function, fields)
                    .then(|| result(fields).ok().map(|f| f.data_type().clone()))
                    .flatten()
            })),
        }
    }

    /// Its rows, one per arity.
    fn rows(&self) -> Vec<ProcRow> {
        let (names, arities) = arities(self.doc);
        arities
            .into_iter()
            .map(|arity| {
                let typed = self.typing.as_ref().and_then(|typing| {
                    let args = probe(arity, &|fields| typing(fields).is_some())?;
                    let fields: Vec<FieldRef> = args
                        .iter()
                        .map(|t| Arc::new(Field::new("a", t.clone(), true)))
                        .collect();
                    Some((args, typing(&fields)?))
                });
                let args = (0..arity)
                    .map(|i| {
                        let t = typed.as_ref().map_or(ANY, |(types, _)| pg_type(&types[i]));
                        (names.get(i).cloned().unwrap_or_default(), t)
                    })
                    .collect();
                ProcRow {
                    oid: 0,
                    name: self.name.to_string(),
                    kind: self.kind,
                    set: self.typing.is_none(),
                    args,
                    result: typed.as_ref().map_or(ANY, |(_, result)| pg_type(result)),
                }
            })
            .collect()
    }
}

/// Our functions, one row per name and arity, in name order; computed once.
fn our_functions() -> &'static [ProcRow] {
    static ROWS: OnceLock<Vec<ProcRow>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let (scalars, aggregates, windows, tables) = (
            huaxiang_udfs::scalar_functions(),
            huaxiang_udfs::aggregate_functions(),
            huaxiang_udfs::window_functions(),
            huaxiang_udfs::table_functions(),
        );
        let mut described = Vec::new();
        for udf in &scalars {
            described.push(Described::typed(
                udf.as_ref(),
                "f",
                udf.documentation(),
                |fields| {
                    udf.return_field_from_args(ReturnFieldArgs {
                        arg_fields: fields,
                        scalar_arguments: &vec![None; fields.len()],
                    })
                },
            ));
        }
        for udaf in &aggregates {
            described.push(Described::typed(
                udaf.as_ref(),
                "a",
                udaf.documentation(),
                |fields| udaf.return_field(fields),
            ));
        }
        for udwf in &windows {
            described.push(Described::typed(
                udwf.as_ref(),
                "w",
                udwf.documentation(),
                |fields| udwf.field(WindowUDFFieldArgs::new(fields, udwf.name())),
            ));
        }
        for table in &tables {
            described.push(Described {
                name: table.name,
                kind: "f",
                doc: table.documentation,
                typing: None,
            });
        }
        let mut rows: Vec<ProcRow> = described.iter().flat_map(Described::rows).collect();
        rows.sort_by(|a, b| (&a.name, a.args.len()).cmp(&(&b.name, b.args.len())));
        rows.dedup_by(|a, b| a.name == b.name && a.args.len() == b.args.len());
        for (i, row) in rows.iter_mut().enumerate() {
            row.oid = FIRST_OID + i as i32;
        }
        rows
    })
}

fn by_oid(oid: i32) -> Option<&'static ProcRow> {
    let rows = our_functions();
    let index = usize::try_from(oid.checked_sub(FIRST_OID)?).ok()?;
    rows.get(index)
}

/// What `pg_class` said of each relation oid, as last read.
type RelationOids = Arc<RwLock<HashMap<i32, Noted>>>;

/// Where a relation lives, for the size and visibility functions.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Noted {
    /// A relation of `public`, by name.
    Public(String),
    /// A table of `pg_catalog`.
    Catalog,
    /// A relation of a schema outside the search path (`huaxiang`, `information_schema`).
    Elsewhere,
}

/// `pg_catalog`'s namespace oid, the same in every PostgreSQL.
const PG_CATALOG_NAMESPACE: i32 = 11;

/// Replaces `pg_catalog` in `ctx`'s catalog `database` by one whose `pg_proc` lists our
/// functions too and whose tables name the relations' owners among `roles`, and registers the
/// `pg_get_function_*`, size and owner functions.
pub fn register(ctx: &SessionContext, database: &str, tables: Arc<Catalog>, roles: &[RoleInfo]) {
    let oids = RelationOids::default();
    let owners = Owners::new(
        tables.clone(),
        crate::access::administrator(roles),
        roles.iter().map(|r| r.name.clone()).collect(),
    );
    if let Some(catalog) = ctx.catalog(database)
        && let Some(inner) = catalog.schema("pg_catalog")
    {
        let _ = catalog.register_schema(
            "pg_catalog",
            Arc::new(PgCatalogWithOurs {
                inner,
                oids: oids.clone(),
                owners: owners.clone(),
            }),
        );
    }
    ctx.register_udf(super::owners::user_by_id(owners));
    for (name, answer) in [
        ("pg_table_is_visible", OidAnswer::Visible),
        ("pg_table_size", OidAnswer::Size),
        ("pg_relation_size", OidAnswer::Size),
        ("pg_total_relation_size", OidAnswer::Size),
        ("pg_get_function_result", OidAnswer::FunctionResult),
        ("pg_get_function_arguments", OidAnswer::FunctionArguments),
        (
            "pg_get_function_identity_arguments",
            OidAnswer::FunctionArguments,
        ),
    ] {
        ctx.register_udf(ScalarUDF::new_from_impl(OidFunction {
            name,
            answer,
            oids: oids.clone(),
            catalog: tables.clone(),
            signature: oid_signature(),
        }));
    }
}

/// `pg_catalog` with our functions in `pg_proc` and the relations' owners.
#[derive(Debug)]
struct PgCatalogWithOurs {
    inner: Arc<dyn SchemaProvider>,
    oids: RelationOids,
    owners: Owners,
}

#[async_trait]
impl SchemaProvider for PgCatalogWithOurs {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let table = self.inner.table(name).await?;
        let Some(table) = table else {
            return Ok(None);
        };
        let namespaces = self.inner.table("pg_namespace").await?;
        Ok(Some(match name.to_ascii_lowercase().as_str() {
            "pg_proc" => {
                let lists = ListColumns::of(
                    &table.schema(),
                    &[
                        ("proallargtypes", DataType::Int32),
                        ("proargmodes", DataType::Utf8),
                        ("proargnames", DataType::Utf8),
                        ("proacl", DataType::Utf8),
                    ],
                );
                Rewritten::provider(table, OurFunctions { namespaces, lists })
            }
            "pg_type" => {
                let procs = self.inner.table("pg_proc").await?;
                Rewritten::provider(table, RegprocOids::of(procs))
            }
            "pg_class" => {
                let added = missing_pg_class_columns(&table.schema());
                Rewritten::provider(
                    table,
                    NoteRelationOids {
                        namespaces,
                        oids: self.oids.clone(),
                        added,
                        owners: self.owners.clone(),
                    },
                )
            }
            "pg_roles" => Rewritten::provider(table, RoleOids(self.owners.clone())),
            "pg_tables" => Rewritten::provider(
                table,
                OwnerNames {
                    owners: self.owners.clone(),
                    name_column: "tablename",
                    owner_column: "tableowner",
                    tables_only: true,
                },
            ),
            "pg_views" => Rewritten::provider(
                table,
                OwnerNames {
                    owners: self.owners.clone(),
                    name_column: "viewname",
                    owner_column: "viewowner",
                    tables_only: false,
                },
            ),
            "pg_constraint" => {
                let lists = ListColumns::of(
                    &table.schema(),
                    &[("conkey", DataType::Int16), ("confkey", DataType::Int16)],
                );
                Rewritten::provider(table, lists)
            }
            "pg_index" => {
                let lists = ListColumns::of(
                    &table.schema(),
                    &[
                        ("indkey", DataType::Int16),
                        ("indoption", DataType::Int16),
                        ("indclass", DataType::Int32),
                        ("indcollation", DataType::Int32),
                    ],
                );
                Rewritten::provider(table, lists)
            }
            _ => table,
        }))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

/// `pg_proc`: PostgreSQL's built-ins, then ours; the argument lists (`proallargtypes`,
/// `proargmodes`, `proargnames`, which `datafusion-pg-catalog` keeps as text such as
/// `"[2276]"`) and `proacl` (psql's `\df+`) as arrays, as PostgreSQL has them, so pgcli's
/// `COALESCE(proallargtypes::regtype[], …)` plans.
#[derive(Debug)]
struct OurFunctions {
    namespaces: Option<Arc<dyn TableProvider>>,
    lists: ListColumns,
}

#[async_trait]
impl RowRewrite for OurFunctions {
    fn schema(&self, inner: &SchemaRef) -> SchemaRef {
        self.lists.schema(inner)
    }

    async fn rewrite(
        &self,
        mut batches: Vec<RecordBatch>,
        schema: &SchemaRef,
        state: &dyn Session,
    ) -> Result<Vec<RecordBatch>> {
        let namespace = public_oid(&self.namespaces, state).await?;
        if let Some(text_schema) = batches.first().map(|b| b.schema()) {
            batches.push(our_rows(&text_schema, namespace)?);
        }
        self.lists.rewrite(batches, schema, state).await
    }
}

/// `pg_type` with its `regproc` columns (`typinput`, `typreceive`, …) as the oids of the
/// functions they name, as PostgreSQL stores them (`datafusion-pg-catalog` keeps the names), so
/// Npgsql's `JOIN pg_proc ON proc.oid = typ.typreceive` and pgjdbc's
/// `typinput = 'array_in'::regproc` compare oids. `-` (no function) is 0.
#[derive(Debug)]
struct RegprocOids {
    procs: Option<Arc<dyn TableProvider>>,
}

impl RegprocOids {
    const COLUMNS: [&str; 8] = [
        "typinput",
        "typoutput",
        "typreceive",
        "typsend",
        "typmodin",
        "typmodout",
        "typanalyze",
        "typsubscript",
    ];

    fn of(procs: Option<Arc<dyn TableProvider>>) -> Self {
        Self { procs }
    }

    /// Function name → oid, from `pg_proc` (the first of overloaded names).
    async fn oids(&self, state: &dyn Session) -> Result<HashMap<String, i32>> {
        let mut oids = HashMap::new();
        for (oid, name) in named_oids(&self.procs, "proname", state).await? {
            oids.entry(name).or_insert(oid);
        }
        Ok(oids)
    }
}

#[async_trait]
impl RowRewrite for RegprocOids {
    fn schema(&self, inner: &SchemaRef) -> SchemaRef {
        let fields: Vec<FieldRef> = inner
            .fields()
            .iter()
            .map(|f| {
                if Self::COLUMNS.contains(&f.name().as_str()) {
                    Arc::new(Field::new(f.name(), DataType::Int32, true))
                } else {
                    f.clone()
                }
            })
            .collect();
        Arc::new(datafusion::arrow::datatypes::Schema::new_with_metadata(
            fields,
            inner.metadata().clone(),
        ))
    }

    async fn rewrite(
        &self,
        batches: Vec<RecordBatch>,
        schema: &SchemaRef,
        state: &dyn Session,
    ) -> Result<Vec<RecordBatch>> {
        let oids = self.oids(state).await?;
        batches
            .into_iter()
            .map(|batch| {
                let columns = batch
                    .columns()
                    .iter()
                    .zip(schema.fields())
                    .map(|(column, field)| {
                        if column.data_type() == field.data_type() {
                            return Ok(column.clone());
                        }
                        let names = cast(column, &DataType::Utf8)?;
                        let names = names.as_string::<i32>();
                        let column: ArrayRef = Arc::new(
                            (0..names.len())
                                .map(|i| {
                                    names.is_valid(i).then(|| match names.value(i) {
                                        "-" | "" | "0" => 0,
                                        name => oids.get(name).copied().unwrap_or(0),
                                    })
                                })
                                .collect::<Int32Array>(),
                        );
                        Ok(column)
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(RecordBatch::try_new(schema.clone(), columns)?)
            })
            .collect()
    }
}

/// The oid `pg_namespace` gives schema `public` (handed out when first listed).
async fn public_oid(
    namespaces: &Option<Arc<dyn TableProvider>>,
    state: &dyn Session,
) -> Result<Option<i32>> {
    Ok(named_oids(namespaces, "nspname", state)
        .await?
        .into_iter()
        .find(|(_, name)| name == "public")
        .map(|(oid, _)| oid))
}

/// The (oid, name) rows of a catalog table (`name` its name column), in its order.
async fn named_oids(
    table: &Option<Arc<dyn TableProvider>>,
    name: &str,
    state: &dyn Session,
) -> Result<Vec<(i32, String)>> {
    let mut rows = Vec::new();
    let Some(table) = table else {
        return Ok(rows);
    };
    let plan = table.scan(state, None, &[], None).await?;
    for batch in collect(plan, state.task_ctx()).await? {
        let (Some(oids), Some(names)) = (batch.column_by_name("oid"), batch.column_by_name(name))
        else {
            continue;
        };
        let oids = cast(oids, &DataType::Int32)?;
        let names = cast(names, &DataType::Utf8)?;
        let (oids, names) = (oids.as_primitive::<Int32Type>(), names.as_string::<i32>());
        for i in 0..batch.num_rows() {
            if oids.is_valid(i) && names.is_valid(i) {
                rows.push((oids.value(i), names.value(i).to_string()));
            }
        }
    }
    Ok(rows)
}

/// Our rows in `pg_proc`'s columns; columns not set here are NULL.
fn our_rows(schema: &SchemaRef, namespace: Option<i32>) -> Result<RecordBatch> {
    let rows = our_functions();
    let n = rows.len();
    let text = |f: &dyn Fn(&ProcRow) -> Option<String>| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<StringArray>())
    };
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let column: ArrayRef = match field.name().as_str() {
                "oid" => Arc::new(rows.iter().map(|r| r.oid).collect::<Int32Array>()),
                "proname" => text(&|r| Some(r.name.clone())),
                "pronamespace" => Arc::new(Int32Array::from(vec![namespace; n])),
                "proowner" => Arc::new(Int32Array::from(vec![10; n])),
                // internal (12): compiled into the server
                "prolang" => Arc::new(Int32Array::from(vec![12; n])),
                "procost" => Arc::new(Float32Array::from(vec![1.0; n])),
                "prorows" => Arc::new(
                    rows.iter()
                        .map(|r| if r.set { 1000.0 } else { 0.0 })
                        .collect::<Float32Array>(),
                ),
                "provariadic" => Arc::new(Int32Array::from(vec![0; n])),
                "prosupport" => text(&|_| Some("-".to_string())),
                "prokind" => text(&|r| Some(r.kind.to_string())),
                "prosecdef" | "proleakproof" | "proisstrict" => {
                    Arc::new(BooleanArray::from(vec![false; n]))
                }
                "proretset" => Arc::new(rows.iter().map(|r| Some(r.set)).collect::<BooleanArray>()),
                "provolatile" => text(&|_| Some("s".to_string())),
                "proparallel" => text(&|_| Some("s".to_string())),
                "pronargs" => Arc::new(
                    rows.iter()
                        .map(|r| r.args.len() as i16)
                        .collect::<Int16Array>(),
                ),
                "pronargdefaults" => Arc::new(Int16Array::from(vec![0; n])),
                "prorettype" => Arc::new(
                    rows.iter()
                        .map(|r| if r.set { 2249 } else { r.result.oid })
                        .collect::<Int32Array>(),
                ),
                "proargtypes" => text(&|r| {
                    Some(
                        r.args
                            .iter()
                            .map(|(_, t)| t.oid.to_string())
                            .collect::<Vec<_>>()
                            .join(" "),
                    )
                }),
                "proargnames" => text(&|r| {
                    (!r.args.is_empty()).then(|| {
                        let names: Vec<&str> = r.args.iter().map(|(n, _)| n.as_str()).collect();
                        format!("{{{}}}", names.join(","))
                    })
                }),
                "prosrc" => text(&|r| Some(r.name.clone())),
                _ => datafusion::arrow::array::new_null_array(field.data_type(), n),
            };
            if column.data_type() == field.data_type() {
                Ok(column)
            } else {
                Ok(cast(&column, field.data_type())?)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// `pg_class`, noting the oids of `public`'s relations as it is read (for the size
/// functions), with each relation's owner in `relowner`, and PostgreSQL's columns
/// `datafusion-pg-catalog` leaves out (`reloptions`, read by SQLAlchemy's index reflection)
/// added as NULL: huaxiang sets no storage options.
#[derive(Debug)]
struct NoteRelationOids {
    namespaces: Option<Arc<dyn TableProvider>>,
    oids: RelationOids,
    added: Vec<FieldRef>,
    owners: Owners,
}

/// Columns of PostgreSQL's `pg_class` missing from `datafusion-pg-catalog`'s, all NULL here.
fn missing_pg_class_columns(schema: &SchemaRef) -> Vec<FieldRef> {
    let text_array = DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)));
    [("reloptions", text_array.clone()), ("relacl", text_array)]
        .into_iter()
        .filter(|(name, _)| schema.index_of(name).is_err())
        .map(|(name, t)| Arc::new(Field::new(name, t, true)))
        .collect()
}

#[async_trait]
impl RowRewrite for NoteRelationOids {
    fn schema(&self, inner: &SchemaRef) -> SchemaRef {
        let mut fields: Vec<FieldRef> = inner.fields().iter().cloned().collect();
        fields.extend(self.added.iter().cloned());
        Arc::new(datafusion::arrow::datatypes::Schema::new_with_metadata(
            fields,
            inner.metadata().clone(),
        ))
    }

    async fn rewrite(
        &self,
        batches: Vec<RecordBatch>,
        schema: &SchemaRef,
        state: &dyn Session,
    ) -> Result<Vec<RecordBatch>> {
        let public = public_oid(&self.namespaces, state).await?;
        let batches = batches
            .into_iter()
            .map(|batch| {
                let mut columns = batch.columns().to_vec();
                for field in &self.added {
                    columns.push(datafusion::arrow::array::new_null_array(
                        field.data_type(),
                        batch.num_rows(),
                    ));
                }
                let batch = RecordBatch::try_new(schema.clone(), columns)?;
                with_relation_owners(batch, public, &self.owners)
            })
            .collect::<Result<Vec<_>>>()?;
        if let Some(public) = public {
            let mut found: HashMap<i32, Noted> = HashMap::new();
            for batch in &batches {
                let (Some(oid), Some(name), Some(namespace)) = (
                    batch.column_by_name("oid"),
                    batch.column_by_name("relname"),
                    batch.column_by_name("relnamespace"),
                ) else {
                    continue;
                };
                let (oid, name, namespace) = (
                    cast(oid, &DataType::Int32)?,
                    cast(name, &DataType::Utf8)?,
                    cast(namespace, &DataType::Int32)?,
                );
                let (oid, name, namespace) = (
                    oid.as_primitive::<Int32Type>(),
                    name.as_string::<i32>(),
                    namespace.as_primitive::<Int32Type>(),
                );
                for i in 0..batch.num_rows() {
                    if !(namespace.is_valid(i) && oid.is_valid(i)) {
                        continue;
                    }
                    let noted = match namespace.value(i) {
                        n if n == public => Noted::Public(name.value(i).to_string()),
                        PG_CATALOG_NAMESPACE => Noted::Catalog,
                        _ => Noted::Elsewhere,
                    };
                    found.insert(oid.value(i), noted);
                }
            }
            if let Ok(mut oids) = self.oids.write() {
                oids.extend(found);
            }
        }
        Ok(batches)
    }
}

/// Array columns (`int2vector`, `oidvector`, `int2[]` in PostgreSQL) that
/// `datafusion-pg-catalog` keeps as text such as `"1 2"`, given as lists, so the
/// `unnest(conkey)` of SQLAlchemy's and pgjdbc's key queries plans.
#[derive(Debug)]
struct ListColumns {
    /// Indices of the columns to convert, with their element type.
    columns: Vec<(usize, DataType)>,
}

impl ListColumns {
    /// The columns of `schema` among `wanted` that are text.
    fn of(schema: &SchemaRef, wanted: &[(&str, DataType)]) -> Self {
        let columns = wanted
            .iter()
            .filter_map(|(name, element)| {
                let i = schema.index_of(name).ok()?;
                matches!(
                    schema.field(i).data_type(),
                    DataType::Utf8 | DataType::Utf8View
                )
                .then(|| (i, element.clone()))
            })
            .collect();
        Self { columns }
    }

    /// `"1 2"`, `"{1,2}"`, `"[1, 2]"` → `[1, 2]`, and for text elements `"['a', 'b']"`,
    /// `"{a,b}"` → `["a", "b"]`; NULL stays NULL.
    fn to_list(text: &ArrayRef, element: &DataType) -> Result<ArrayRef> {
        let text = cast(text, &DataType::Utf8)?;
        let text = text.as_string::<i32>();
        let parts = |i: usize| {
            text.value(i)
                .trim_matches(|c| matches!(c, '{' | '}' | '[' | ']'))
                .split(|c: char| c == ',' || c.is_whitespace())
                .map(|p| p.trim_matches(|c| c == '\'' || c == '"'))
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        let list: ArrayRef = if element.is_numeric() {
            let mut builder = ListBuilder::new(Int64Builder::new());
            for i in 0..text.len() {
                if text.is_null(i) {
                    builder.append_null();
                    continue;
                }
                for part in parts(i) {
                    builder.values().append_option(part.parse::<i64>().ok());
                }
                builder.append(true);
            }
            Arc::new(builder.finish())
        } else {
            let mut builder = ListBuilder::new(StringBuilder::new());
            for i in 0..text.len() {
                if text.is_null(i) {
                    builder.append_null();
                    continue;
                }
                for part in parts(i) {
                    builder.values().append_value(part);
                }
                builder.append(true);
            }
            Arc::new(builder.finish())
        };
        Ok(cast(&list, &list_of(element))?)
    }
}

fn list_of(element: &DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(element.clone(), true)))
}

#[async_trait]
impl RowRewrite for ListColumns {
    fn schema(&self, inner: &SchemaRef) -> SchemaRef {
        let mut fields: Vec<FieldRef> = inner.fields().iter().cloned().collect();
        for (i, element) in &self.columns {
            fields[*i] = Arc::new(Field::new(fields[*i].name(), list_of(element), true));
        }
        Arc::new(datafusion::arrow::datatypes::Schema::new_with_metadata(
            fields,
            inner.metadata().clone(),
        ))
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
                let mut columns = batch.columns().to_vec();
                for (i, element) in &self.columns {
                    columns[*i] = Self::to_list(&columns[*i], element)?;
                }
                Ok(RecordBatch::try_new(schema.clone(), columns)?)
            })
            .collect()
    }
}

/// What an [`OidFunction`] answers for an oid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum OidAnswer {
    /// `pg_table_is_visible`: true for the relations of the search path (`public`,
    /// `pg_catalog`), false for others (`huaxiang.models`, `information_schema`), NULL for an
    /// oid `pg_class` has not shown — so psql's `\dt` and SQLAlchemy's table list (which filter
    /// with it) show only what an unqualified name reaches, as in PostgreSQL.
    /// (`datafusion-pg-catalog`'s own version is true for every oid.)
    Visible,
    /// `pg_table_size` (and `pg_relation_size`, `pg_total_relation_size`, the same here:
    /// huaxiang has no indexes or TOAST): the bytes a table of `public` takes in the data dir,
    /// 0 for views, external tables and other schemas, NULL for an oid `pg_class` has not shown.
    Size,
    /// `pg_get_function_result`: for our functions, the result as PostgreSQL writes it; NULL
    /// for other oids (PostgreSQL's built-ins are not described).
    FunctionResult,
    /// `pg_get_function_arguments` / `_identity_arguments`: our functions' argument lists.
    FunctionArguments,
}

/// The catalog functions of one oid argument: relations' visibility and size, functions'
/// descriptions.
#[derive(Debug)]
struct OidFunction {
    name: &'static str,
    answer: OidAnswer,
    oids: RelationOids,
    catalog: Arc<Catalog>,
    signature: Signature,
}

impl PartialEq for OidFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.oids, &other.oids)
    }
}

impl Eq for OidFunction {}

impl std::hash::Hash for OidFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl OidFunction {
    /// What `pg_class` said of a relation oid.
    fn noted(&self, oid: i64) -> Option<Noted> {
        self.oids
            .read()
            .ok()?
            .get(&i32::try_from(oid).ok()?)
            .cloned()
    }
}

impl ScalarUDFImpl for OidFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.answer {
            OidAnswer::Visible => DataType::Boolean,
            OidAnswer::Size => DataType::Int64,
            OidAnswer::FunctionResult | OidAnswer::FunctionArguments => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match self.answer {
            OidAnswer::Visible => map_oids(
                &args,
                |oid| Some(self.noted(oid)? != Noted::Elsewhere),
                |values| Arc::new(BooleanArray::from(values)),
                ScalarValue::Boolean,
            ),
            OidAnswer::Size => map_oids(
                &args,
                |oid| {
                    let Noted::Public(name) = self.noted(oid)? else {
                        // PostgreSQL's own catalogs and other schemas take no room in the
                        // data dir.
                        return Some(0);
                    };
                    self.catalog
                        .relation_size(&name)
                        .and_then(|bytes| i64::try_from(bytes).ok())
                },
                |values| Arc::new(Int64Array::from(values)),
                ScalarValue::Int64,
            ),
            OidAnswer::FunctionResult | OidAnswer::FunctionArguments => map_oids(
                &args,
                |oid| {
                    let row = by_oid(i32::try_from(oid).ok()?)?;
                    Some(match self.answer {
                        OidAnswer::FunctionResult => row.result_text(),
                        _ => row.arguments_text(),
                    })
                },
                |values| Arc::new(values.into_iter().collect::<StringArray>()),
                ScalarValue::Utf8,
            ),
        }
    }
}

/// `pg_roles` from the configured users: admins are superusers that may create roles; every
/// user may log in.
#[derive(Debug, Clone)]
pub(super) struct UserRoles {
    pub(super) users: Vec<RoleInfo>,
}

#[async_trait::async_trait]
impl PgCatalogContextProvider for UserRoles {
    async fn roles(&self) -> Vec<String> {
        self.users.iter().map(|r| r.name.clone()).collect()
    }

    async fn role(&self, name: &str) -> Option<Role> {
        let role = self.users.iter().find(|r| r.name == name)?;
        Some(Role {
            name: role.name.clone(),
            is_superuser: role.admin,
            can_login: role.login,
            can_create_db: false,
            can_create_role: role.admin,
            can_create_user: role.admin,
            can_replication: false,
            grants: Vec::new(),
            inherited_roles: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_functions_have_types_from_their_signatures() {
        let rows = our_functions();
        let find = |name: &str, arity: usize| {
            rows.iter()
                .find(|r| r.name == name && r.args.len() == arity)
                .unwrap_or_else(|| panic!("{name}/{arity} not in pg_proc"))
        };
        let mask = find("mask_partial", 4);
        assert_eq!(
            mask.arguments_text(),
            "text text, keep_start double precision, padding text, keep_end double precision"
        );
        assert_eq!(mask.result_text(), "text");
        let score = find("sentiment_score", 1);
        assert_eq!(score.result_text(), "double precision");
        assert_eq!(find("segment_agreement", 2).kind, "a");
        let rfm = rows
            .iter()
            .find(|r| r.name == "rfm_score" && r.set)
            .unwrap();
        assert_eq!(rfm.result_text(), "SETOF record");
        // Every function is there, with distinct oids.
        for name in huaxiang_udfs::function_names() {
            assert!(rows.iter().any(|r| r.name == name), "{name} missing");
        }
        let mut oids: Vec<i32> = rows.iter().map(|r| r.oid).collect();
        oids.dedup();
        assert_eq!(oids.len(), rows.len());
        assert_eq!(
            by_oid(mask.oid).map(|r| r.name.as_str()),
            Some("mask_partial")
        );
        assert!(by_oid(871).is_none());
    }
}
