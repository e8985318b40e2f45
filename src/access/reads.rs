//! Read checks: a statement reading a table or view of `public` that the user has no SELECT
//! grant for is refused (42501) before it runs.

use std::ops::ControlFlow;

use datafusion::common::Result;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    CopySource, Expr as SqlExpr, FunctionArg, FunctionArgExpr, ObjectName, Statement, TableFactor,
    Value, Visit, Visitor,
};

use super::Principal;
use crate::catalog::{Catalog, DATABASE, PUBLIC_SCHEMA};
use crate::error::{SqlError, codes};

/// How deep table functions' query arguments are followed (a query naming a function whose
/// argument is a query …); deeper is refused rather than left unchecked.
const MAX_QUERY_ARGUMENT_DEPTH: usize = 8;

/// Refuses (42501) statements reading a table or view of `public` that `principal` has no
/// SELECT grant for. Relations are those the statement names, and those named by the text
/// arguments of table functions (`profile('customers')`, `rfm_score('SELECT … FROM orders', …)`),
/// which plan their own query.
pub fn check_reads(
    statements: &[DFStatement],
    principal: &Principal,
    catalog: &Catalog,
) -> Result<(), SqlError> {
    if principal.admin {
        return Ok(());
    }
    for statement in statements {
        check_statement(statement, principal, catalog, 0)?;
    }
    Ok(())
}

fn check_statement(
    statement: &DFStatement,
    principal: &Principal,
    catalog: &Catalog,
    depth: usize,
) -> Result<(), SqlError> {
    match statement {
        DFStatement::Statement(sql) => check_sql(sql, principal, catalog, depth),
        DFStatement::Explain(explain) => {
            check_statement(&explain.statement, principal, catalog, depth)
        }
        // Refused for non-admins by the read-only rules.
        _ => Ok(()),
    }
}

fn check_sql(
    statement: &Statement,
    principal: &Principal,
    catalog: &Catalog,
    depth: usize,
) -> Result<(), SqlError> {
    if let Statement::Copy {
        source: CopySource::Table { table_name, .. },
        ..
    } = statement
    {
        check_relation(table_name, principal, catalog)?;
    }
    let mut visitor = ReadVisitor {
        principal,
        catalog,
        depth,
    };
    match statement.visit(&mut visitor) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(e) => Err(e),
    }
}

struct ReadVisitor<'a> {
    principal: &'a Principal,
    catalog: &'a Catalog,
    depth: usize,
}

impl Visitor for ReadVisitor<'_> {
    type Break = SqlError;

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<SqlError> {
        match check_relation(relation, self.principal, self.catalog) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(e),
        }
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<SqlError> {
        let TableFactor::Table {
            args: Some(args), ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        for arg in &args.args {
            let expr = match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e))
                | FunctionArg::Named {
                    arg: FunctionArgExpr::Expr(e),
                    ..
                }
                | FunctionArg::ExprNamed {
                    arg: FunctionArgExpr::Expr(e),
                    ..
                } => e,
                _ => continue,
            };
            let SqlExpr::Value(value) = expr else {
                continue;
            };
            let text = match &value.value {
                Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => s.clone(),
                Value::DollarQuotedString(d) => d.value.clone(),
                _ => continue,
            };
            if let Err(e) = self.check_text(&text) {
                return ControlFlow::Break(e);
            }
        }
        ControlFlow::Continue(())
    }
}

impl ReadVisitor<'_> {
    /// A table function's text argument: a relation name, a query, or other text (a date, an
    /// option) that names nothing.
    fn check_text(&self, text: &str) -> Result<(), SqlError> {
        if let Some(statements) = crate::sql_text::parse(text) {
            if self.depth >= MAX_QUERY_ARGUMENT_DEPTH {
                return Err(SqlError::new(
                    codes::INSUFFICIENT_PRIVILEGE,
                    "permission denied: table function queries nested too deeply to check",
                ));
            }
            for statement in &statements {
                check_statement(statement, self.principal, self.catalog, self.depth + 1)?;
            }
            return Ok(());
        }
        // Not a statement: maybe a bare (possibly qualified, quoted) relation name.
        let name = text.trim();
        let parts: Vec<String> = name
            .split('.')
            .map(|part| {
                let part = part.trim();
                match part.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
                    Some(quoted) => quoted.to_string(),
                    None => part.to_lowercase(),
                }
            })
            .collect();
        match public_relation_of(&parts) {
            Some(relation) => self.check_name(&relation),
            None => Ok(()),
        }
    }

    fn check_name(&self, relation: &str) -> Result<(), SqlError> {
        check_public(relation, self.principal, self.catalog)
    }
}

fn check_relation(
    name: &ObjectName,
    principal: &Principal,
    catalog: &Catalog,
) -> Result<(), SqlError> {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|part| part.as_ident())
        .map(|ident| match ident.quote_style {
            Some(_) => ident.value.clone(),
            None => ident.value.to_lowercase(),
        })
        .collect();
    match public_relation_of(&parts) {
        Some(relation) => check_public(&relation, principal, catalog),
        None => Ok(()),
    }
}

/// The `public` relation a name refers to (`name`, `public.name`, `huaxiang.public.name`).
pub(super) fn public_relation_of(parts: &[String]) -> Option<String> {
    match parts {
        [name] => Some(name.clone()),
        [schema, name] if schema == PUBLIC_SCHEMA => Some(name.clone()),
        [database, schema, name] if database == DATABASE && schema == PUBLIC_SCHEMA => {
            Some(name.clone())
        }
        _ => None,
    }
}

fn check_public(relation: &str, principal: &Principal, catalog: &Catalog) -> Result<(), SqlError> {
    // Names that are not ours (a CTE, a table function, pg_catalog's tables) pass here.
    if !catalog.has_relation(relation) {
        return Ok(());
    }
    if principal.may_select(catalog.relation_access(relation).as_ref()) {
        return Ok(());
    }
    Err(SqlError::new(
        codes::INSUFFICIENT_PRIVILEGE,
        format!("permission denied for table {relation}"),
    )
    .with_hint(format!(
        "An admin can allow it: GRANT SELECT ON {relation} TO {};",
        principal.roles.first().unwrap_or(&principal.user)
    )))
}
