//! Who may read each relation and what they see of it, kept in `catalog.json` beside the
//! relations so that a grant or a masking rule changes in the same atomic write as any DDL.
//!
//! ```json
//! "access": {
//!   "customers": {
//!     "select": ["analyst"],
//!     "unmask": ["support"],
//!     "masks": { "phone": { "function": "mask_phone" } }
//!   }
//! }
//! ```
//!
//! Admins read everything unmasked; everyone else needs a `select` grant (to them, one of their
//! roles, or `PUBLIC`) and sees the masked columns masked unless an `unmask` grant covers them.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::Result;
use serde::{Deserialize, Serialize};

use super::Catalog;
use crate::error::{SqlError, codes};

/// The grantee name that stands for every user, as in PostgreSQL.
pub const PUBLIC_GRANTEE: &str = "public";

/// The grants and masks of one relation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RelationAccess {
    /// Roles (or users, or `public`) that may SELECT.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub select: BTreeSet<String>,
    /// Roles that see masked columns as they are.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub unmask: BTreeSet<String>,
    /// Masked columns and how they are masked.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub masks: BTreeMap<String, Mask>,
}

impl RelationAccess {
    fn is_empty(&self) -> bool {
        self.select.is_empty() && self.unmask.is_empty() && self.masks.is_empty()
    }
}

/// How a masked column is shown: one of the masking functions of the `udfs` crate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "function", rename_all = "snake_case", deny_unknown_fields)]
pub enum Mask {
    /// `mask_phone(column)`: `138****5678`.
    MaskPhone,
    /// `mask_email(column)`: `da******@gmail.com`.
    MaskEmail,
    /// `mask_partial(column, keep_start, padding, keep_end)`.
    MaskPartial {
        keep_start: usize,
        padding: String,
        keep_end: usize,
    },
}

impl std::fmt::Display for Mask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mask::MaskPhone => f.write_str("mask_phone()"),
            Mask::MaskEmail => f.write_str("mask_email()"),
            Mask::MaskPartial {
                keep_start,
                padding,
                keep_end,
            } => write!(
                f,
                "mask_partial({keep_start}, \"{}\", {keep_end})",
                padding.replace('"', "\"\"")
            ),
        }
    }
}

impl Catalog {
    /// The grants and masks of `relation` (in `public`), if it has any.
    pub fn relation_access(&self, relation: &str) -> Option<RelationAccess> {
        self.access.read().ok()?.get(relation).cloned()
    }

    /// Whether `relation` is a table or view of `public`.
    pub fn has_relation(&self, relation: &str) -> bool {
        self.loaded
            .read()
            .is_ok_and(|loaded| loaded.contains_key(relation))
    }

    /// Whether `relation` is a view (views are inlined into the queries that read them, so
    /// masks belong on the tables beneath).
    pub fn is_view(&self, relation: &str) -> bool {
        self.provider(relation)
            .is_some_and(|p| p.table_type() == datafusion::datasource::TableType::View)
    }

    /// The columns of `relation`, when it can be opened.
    pub fn relation_schema(&self, relation: &str) -> Option<SchemaRef> {
        self.provider(relation).map(|p| p.schema())
    }

    /// Changes the grants and masks of `relations` in one durable write; `change` may refuse
    /// (then nothing is written). Every relation must exist.
    pub async fn change_access(
        &self,
        relations: &[String],
        change: impl Fn(&str, &mut RelationAccess) -> Result<()>,
    ) -> Result<()> {
        let _guard = self.ddl.lock().await;
        let _lock = self.lock_file().await?;
        let mut file = self.read_file()?;
        for relation in relations {
            if !file.relations.contains_key(relation) {
                return Err(SqlError::new(
                    codes::UNDEFINED_TABLE,
                    format!("relation \"{relation}\" does not exist"),
                )
                .into_datafusion());
            }
            let access = file.access.entry(relation.clone()).or_default();
            change(relation, access)?;
            if access.is_empty() {
                file.access.remove(relation);
            }
        }
        self.write_file(&file)?;
        self.publish_access(&file.access);
        Ok(())
    }

    pub(super) fn publish_access(&self, access: &BTreeMap<String, RelationAccess>) {
        if let Ok(mut current) = self.access.write() {
            *current = access.clone();
        }
    }
}

/// Forgets the grants and masks of dropped relations, as PostgreSQL drops a table's ACL with it.
pub(super) fn forget(access: &mut BTreeMap<String, RelationAccess>, dropped: &[&String]) {
    for name in dropped {
        access.remove(*name);
    }
}
