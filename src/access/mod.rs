//! Who may do what: principals and roles, the access statements (GRANT/REVOKE/masking) and
//! their execution, read checks, masking, which server files a session may name, and password
//! verifiers. The grants and masks themselves are stored state: `catalog::access`.
//!
//! - `GRANT SELECT ON customers, orders TO analyst` / `REVOKE … FROM …` (also `ON ALL TABLES IN
//!   SCHEMA public`, `TO PUBLIC`): who may read a table or view. Admins read everything; other
//!   users need a grant to themselves, one of their roles (`roles = [...]` in `huaxiang.toml`)
//!   or PUBLIC, else the statement is refused with 42501 before it runs. As in PostgreSQL, a
//!   view is checked as itself, not for the tables it reads.
//! - `ALTER TABLE customers ALTER COLUMN phone ADD MASKED WITH (FUNCTION = 'mask_phone()')` /
//!   `… DROP MASKED` and `GRANT UNMASK ON customers TO support` (SQL Server's dynamic data
//!   masking syntax, the best known one; PostgreSQL has none built in): users without UNMASK
//!   see the column through the masking function — in the table, every view over it, table
//!   functions reading it and `COPY … TO STDOUT` alike, since the mask is put into each query
//!   plan above the table's scan ([`MaskingRule`]).
//!
//! Grants and masks live in `catalog.json` (see `catalog::access`), changed atomically.
//! GRANT, REVOKE and the masking statements need the admin role.
//!
//! - `admission.rs` — `admit`: what every query string over the wire goes through before it
//!   runs (nesting guard, file and source rules, read-only users, read checks);
//! - `statements.rs` — GRANT/REVOKE/masking statements: parsing and execution;
//! - `reads.rs` — `check_reads`;
//! - `masking.rs` — `MaskingRule` and the `MaskedTable` it wraps scans in;
//! - `files.rs` — `FileAccess`: which server files a session may name;
//! - `verifier.rs` — PostgreSQL's password verifiers (SCRAM-SHA-256, md5).

mod admission;
pub mod files;
pub mod masking;
pub mod reads;
pub mod statements;
pub mod verifier;

use std::collections::BTreeSet;

use crate::catalog::access::{PUBLIC_GRANTEE, RelationAccess};

pub use admission::{admit, needs_admin};
pub use masking::MaskingRule;
pub use reads::check_reads;
pub use statements::{AccessStatement, Privilege, execute, parse};

/// The default user of a data dir without configured users.
pub const DEFAULT_USER: &str = "huaxiang";
pub const DEFAULT_PASSWORD: &str = "huaxiang";

/// The data dir's administrator: the first (by name) administrator who may log in, else the
/// default user. Owns what is created in-process (`huaxiang sql`, the demo) and the relations
/// made before owners were kept; `pg_roles` gives it PostgreSQL's bootstrap superuser oid (10).
pub fn administrator(roles: &[RoleInfo]) -> String {
    roles
        .iter()
        .filter(|r| r.admin && r.login)
        .map(|r| r.name.as_str())
        .min()
        .unwrap_or(DEFAULT_USER)
        .to_string()
}

/// A user or a role users are members of, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleInfo {
    pub name: String,
    pub admin: bool,
    /// Users log in; roles named only in users' `roles` lists do not.
    pub login: bool,
}

/// The logged-in user as the privilege checks see it.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: String,
    pub roles: Vec<String>,
    pub admin: bool,
}

impl Principal {
    /// Whether a grant to `grantees` reaches this user.
    pub(crate) fn holds(&self, grantees: &BTreeSet<String>) -> bool {
        grantees.contains(PUBLIC_GRANTEE)
            || grantees.contains(&self.user)
            || self.roles.iter().any(|r| grantees.contains(r))
    }

    pub(crate) fn may_select(&self, access: Option<&RelationAccess>) -> bool {
        self.admin || access.is_some_and(|a| self.holds(&a.select))
    }

    pub(crate) fn sees_unmasked(&self, access: &RelationAccess) -> bool {
        self.admin || self.holds(&access.unmask)
    }
}
