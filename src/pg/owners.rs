//! Who owns each relation, as PostgreSQL's catalogs say it: `pg_roles.oid`, `pg_class.relowner`,
//! `pg_tables.tableowner`, `pg_views.viewowner` and `pg_get_userbyid(oid)` (psql's `\dt`
//! Owner column, DBeaver's table properties). `datafusion-pg-catalog` gives every role oid 0,
//! every relation owner 0 and answers `postgres` for any oid.
//!
//! Owners are the users who created the relations (kept in the durable catalog); relations
//! made before owners were kept, and `pg_catalog`'s own tables, belong to the data dir's
//! administrator ([`crate::access::administrator`]), who gets PostgreSQL's bootstrap superuser
//! oid 10. Every other user's oid is derived from the name, so it is the same in every session
//! and after a restart, also for a user no longer configured who still owns a table.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int32Array, RecordBatch, StringArray,
};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Int32Type, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};

use super::rows::{RowRewrite, map_oids, oid_signature};
use crate::catalog::Catalog;

/// PostgreSQL's oid of the bootstrap superuser.
const BOOTSTRAP_SUPERUSER: i32 = 10;

/// Role oids other than the administrator's start here, above the oids of relations and of our
/// functions, so a role oid is never mistaken for another object's.
const FIRST_ROLE_OID: i32 = 100_000_000;

/// The owners of relations and the oids of users.
#[derive(Debug, Clone)]
pub(crate) struct Owners {
    tables: Arc<Catalog>,
    administrator: String,
    /// The configured users and roles.
    roles: Vec<String>,
}

impl Owners {
    pub(crate) fn new(tables: Arc<Catalog>, administrator: String, roles: Vec<String>) -> Self {
        Self {
            tables,
            administrator,
            roles,
        }
    }

    /// The owner of relation `name` of `public`.
    fn of(&self, relation: &str) -> String {
        self.tables
            .owner(relation)
            .unwrap_or_else(|| self.administrator.clone())
    }

    /// The oid of user `name`: 10 for the administrator, otherwise FNV-1a of the name above
    /// [`FIRST_ROLE_OID`] (own code: a stable hash of a few bytes, not worth a dependency).
    fn oid(&self, name: &str) -> i32 {
        if name == self.administrator {
            return BOOTSTRAP_SUPERUSER;
        }
        let hash = name.bytes().fold(0x811c_9dc5u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        FIRST_ROLE_OID + (hash % 1_000_000_000) as i32
    }

    /// The users oids stand for: the configured users and the relations' owners, by oid.
    fn names_by_oid(&self) -> HashMap<i64, String> {
        let owners = self.tables.owners();
        let mut names = HashMap::new();
        // The first name with an oid wins, the administrator's before all.
        for name in std::iter::once(&self.administrator)
            .chain(&self.roles)
            .chain(owners.values())
        {
            names
                .entry(i64::from(self.oid(name)))
                .or_insert_with(|| name.clone());
        }
        names
    }
}

/// Replaces the text column `owner` of a catalog view listing relations (`pg_tables`,
/// `pg_views`): the relation's owner for `public`, the administrator elsewhere. With
/// `tables_only`, the views of `public` are left out, as PostgreSQL's `pg_tables` has no views
/// (`datafusion-pg-catalog`'s lists them).
#[derive(Debug)]
pub(crate) struct OwnerNames {
    pub(crate) owners: Owners,
    pub(crate) name_column: &'static str,
    pub(crate) owner_column: &'static str,
    pub(crate) tables_only: bool,
}

#[async_trait]
impl RowRewrite for OwnerNames {
    async fn rewrite(
        &self,
        batches: Vec<RecordBatch>,
        schema: &SchemaRef,
        _state: &dyn Session,
    ) -> Result<Vec<RecordBatch>> {
        let (Ok(owner_index), Ok(name_index), Ok(schema_index)) = (
            schema.index_of(self.owner_column),
            schema.index_of(self.name_column),
            schema.index_of("schemaname"),
        ) else {
            return Ok(batches);
        };
        batches
            .into_iter()
            .map(|batch| {
                let names = cast(batch.column(name_index), &DataType::Utf8)?;
                let schemas = cast(batch.column(schema_index), &DataType::Utf8)?;
                let (names, schemas) = (names.as_string::<i32>(), schemas.as_string::<i32>());
                let (owners, kept): (Vec<String>, Vec<bool>) = (0..batch.num_rows())
                    .map(|i| {
                        if schemas.is_valid(i) && schemas.value(i) == "public" {
                            let name = names.value(i);
                            let view = self.tables_only && self.owners.tables.is_view(name);
                            (self.owners.of(name), !view)
                        } else {
                            (self.owners.administrator.clone(), true)
                        }
                    })
                    .unzip();
                let (owners, kept) = (StringArray::from(owners), BooleanArray::from(kept));
                let batch = with_column(&batch, owner_index, Arc::new(owners))?;
                Ok(filter_record_batch(&batch, &kept)?)
            })
            .collect()
    }
}

/// `pg_roles` with each role's oid.
#[derive(Debug)]
pub(crate) struct RoleOids(pub(crate) Owners);

#[async_trait]
impl RowRewrite for RoleOids {
    async fn rewrite(
        &self,
        batches: Vec<RecordBatch>,
        schema: &SchemaRef,
        _state: &dyn Session,
    ) -> Result<Vec<RecordBatch>> {
        let (Ok(oid_index), Ok(name_index)) = (schema.index_of("oid"), schema.index_of("rolname"))
        else {
            return Ok(batches);
        };
        batches
            .into_iter()
            .map(|batch| {
                let names = cast(batch.column(name_index), &DataType::Utf8)?;
                let names = names.as_string::<i32>();
                let oids: Int32Array = (0..batch.num_rows())
                    .map(|i| names.is_valid(i).then(|| self.0.oid(names.value(i))))
                    .collect();
                with_column(&batch, oid_index, Arc::new(oids))
            })
            .collect()
    }
}

/// `pg_class`'s `relowner` for each row of `batch`: the owner's oid for relations of `public`
/// (namespace oid `public`), the administrator's elsewhere.
pub(crate) fn with_relation_owners(
    batch: RecordBatch,
    public: Option<i32>,
    owners: &Owners,
) -> Result<RecordBatch> {
    let schema = batch.schema();
    let (Ok(owner_index), Some(names), Some(namespaces)) = (
        schema.index_of("relowner"),
        batch.column_by_name("relname"),
        batch.column_by_name("relnamespace"),
    ) else {
        return Ok(batch);
    };
    let names = cast(names, &DataType::Utf8)?;
    let namespaces = cast(namespaces, &DataType::Int32)?;
    let (names, namespaces) = (
        names.as_string::<i32>(),
        namespaces.as_primitive::<Int32Type>(),
    );
    let oids: Int32Array = (0..batch.num_rows())
        .map(|i| {
            let in_public =
                public.is_some_and(|p| namespaces.is_valid(i) && namespaces.value(i) == p);
            Some(if in_public && names.is_valid(i) {
                owners.oid(&owners.of(names.value(i)))
            } else {
                BOOTSTRAP_SUPERUSER
            })
        })
        .collect();
    with_column(&batch, owner_index, Arc::new(oids))
}

/// `batch` with column `index` replaced by `values`, cast to the column's type.
fn with_column(batch: &RecordBatch, index: usize, values: ArrayRef) -> Result<RecordBatch> {
    let schema = batch.schema();
    let mut columns = batch.columns().to_vec();
    columns[index] = cast(&values, schema.field(index).data_type())?;
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// `pg_get_userbyid(oid)`: the user's name, or `unknown (OID=n)` as PostgreSQL answers for an
/// oid that is no role.
pub(crate) fn user_by_id(owners: Owners) -> ScalarUDF {
    ScalarUDF::new_from_impl(UserById {
        owners,
        signature: oid_signature(),
    })
}

#[derive(Debug)]
struct UserById {
    owners: Owners,
    signature: Signature,
}

impl PartialEq for UserById {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.owners.tables, &other.owners.tables)
    }
}

impl Eq for UserById {}

impl std::hash::Hash for UserById {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.signature.hash(state);
    }
}

impl ScalarUDFImpl for UserById {
    fn name(&self) -> &str {
        "pg_get_userbyid"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let names = self.owners.names_by_oid();
        map_oids(
            &args,
            |oid| {
                Some(
                    names
                        .get(&oid)
                        .cloned()
                        .unwrap_or_else(|| format!("unknown (OID={oid})")),
                )
            },
            |values| Arc::new(values.into_iter().collect::<StringArray>()),
            ScalarValue::Utf8,
        )
    }
}
