//! Admission: what every query string sent over the wire goes through before it runs, parsed
//! once — the nesting guard (54001), the server-file and source rules of the connection's user,
//! the refusals of users without the admin role (DDL, writes, grants, model training: 42501)
//! and the read checks of grants ([`super::check_reads`]). Without pgwire: the server turns the
//! [`SqlError`] into its wire form.

use std::path::Path;

use datafusion::sql::parser::Statement as DFStatement;

use super::Principal;
use super::files::FileAccess;
use crate::catalog::Catalog;
use crate::error::{SqlError, codes, describe};
use crate::sources::SourceKind;

/// Admits `sql` for `principal`, whose file access is `access`: 54001 when it nests too deeply
/// to plan safely (see `sql_text::MAX_NESTING`; measured first, so the checks after it never
/// walk such a statement), then the file, role and read checks. Text that does not parse
/// passes: the normal path reports its syntax error and runs nothing.
pub fn admit(
    sql: &str,
    principal: &Principal,
    access: &FileAccess,
    import_dir: &Path,
    catalog: &Catalog,
) -> Result<(), SqlError> {
    let Some(statements) = crate::sql_text::parse(sql) else {
        return Ok(());
    };
    if crate::sql_text::too_deep(&statements) {
        return Err(SqlError::new(
            codes::STATEMENT_TOO_COMPLEX,
            format!(
                "statement too complex: expressions or subqueries nested more than {} levels deep",
                crate::sql_text::MAX_NESTING
            ),
        )
        .with_hint(
            "a long chain of OR or + nests one level per term: use IN (…), a join with a \
             table of the values, or split the expression",
        ));
    }
    if *access == FileAccess::Unrestricted {
        return Ok(());
    }
    for statement in &statements {
        if !access.is_admin() {
            check_read_only(statement).map_err(|e| describe(&e))?;
        }
        check_statement(access, import_dir, statement).map_err(|e| describe(&e))?;
    }
    super::check_reads(&statements, principal, catalog)
}

/// The functions that change trained models (admin only, like DDL).
const MODEL_WRITERS: [&str; 2] = ["train_model", "drop_model"];

pub fn needs_admin(what: &str) -> datafusion::error::DataFusionError {
    SqlError::new(
        codes::INSUFFICIENT_PRIVILEGE,
        format!("permission denied: {what} needs the admin role"),
    )
    .with_hint("Ask an admin, or set `admin = true` for the user in huaxiang.toml.")
    .into_datafusion()
}

/// A user without the admin role reads: DDL, writes, grants and model training answer 42501.
fn check_read_only(statement: &DFStatement) -> datafusion::error::Result<()> {
    use datafusion::sql::sqlparser::ast::{Statement as Sql, visit_relations};
    let denied = |what: &str| Err(needs_admin(what));
    match statement {
        DFStatement::CreateExternalTable(_) => denied("CREATE EXTERNAL TABLE"),
        DFStatement::CopyTo(_) => denied("COPY"),
        DFStatement::Explain(explain) => check_read_only(&explain.statement),
        DFStatement::Statement(sql) => match sql.as_ref() {
            Sql::CreateTable(_) => denied("CREATE TABLE"),
            Sql::CreateView(_) => denied("CREATE VIEW"),
            Sql::Drop { .. } => denied("DROP"),
            Sql::Insert(_) => denied("INSERT"),
            Sql::Update(_) => denied("UPDATE"),
            Sql::Delete(_) => denied("DELETE"),
            Sql::Truncate(_) => denied("TRUNCATE"),
            Sql::AlterTable(_) => denied("ALTER TABLE"),
            Sql::CreateSchema { .. } | Sql::CreateDatabase { .. } => denied("CREATE SCHEMA"),
            Sql::CreateFunction(_) => denied("CREATE FUNCTION"),
            Sql::CreateIndex(_) => denied("CREATE INDEX"),
            Sql::Grant(_) => denied("GRANT"),
            Sql::Revoke(_) => denied("REVOKE"),
            // COPY … TO STDOUT is a query whose rows go to the client.
            Sql::Copy {
                to: true,
                target: datafusion::sql::sqlparser::ast::CopyTarget::Stdout,
                ..
            } => Ok(()),
            Sql::Copy { .. } => denied("COPY"),
            other => {
                let mut writer = None;
                let _ = visit_relations(other, |name| {
                    let last = name.0.last().map(|p| p.to_string().to_lowercase());
                    if let Some(f) = MODEL_WRITERS.iter().find(|f| last.as_deref() == Some(**f)) {
                        writer = Some(*f);
                        return std::ops::ControlFlow::Break(());
                    }
                    std::ops::ControlFlow::Continue(())
                });
                match writer {
                    Some(f) => denied(f),
                    None => Ok(()),
                }
            }
        },
        _ => Ok(()),
    }
}

fn check_statement(
    access: &FileAccess,
    import_dir: &std::path::Path,
    statement: &DFStatement,
) -> datafusion::error::Result<()> {
    // Over the wire a relative path would be taken in the server's working directory, which no
    // client can know: ask for the full path.
    let absolute = |location: &str, what: &str| {
        if location.starts_with('/') || location.contains("://") {
            Ok(())
        } else {
            Err(SqlError::new(
                codes::INVALID_PARAMETER_VALUE,
                format!("{what}: '{location}' must be an absolute path"),
            )
            .with_hint(format!(
                "Write the full path, e.g. '{}/{location}'.",
                import_dir.display()
            ))
            .into_datafusion())
        }
    };
    match statement {
        DFStatement::CopyTo(copy) => {
            access.check(&copy.target, import_dir, "COPY TO")?;
            absolute(&copy.target, "COPY TO")
        }
        DFStatement::CreateExternalTable(create) => {
            if let Some(kind) = SourceKind::from_stored_as(&create.file_type) {
                if access.is_admin() {
                    return Ok(());
                }
                return Err(SqlError::new(
                    codes::INSUFFICIENT_PRIVILEGE,
                    format!(
                        "permission denied: only an admin may declare {} tables",
                        kind.stored_as()
                    ),
                )
                .into_datafusion());
            }
            for location in &create.locations {
                access.check(location, import_dir, "CREATE EXTERNAL TABLE")?;
                // Excel tables take relative paths in the import directory, as read_excel does.
                if !create.file_type.eq_ignore_ascii_case("EXCEL") {
                    absolute(location, "CREATE EXTERNAL TABLE")?;
                }
            }
            Ok(())
        }
        DFStatement::Explain(explain) => check_statement(access, import_dir, &explain.statement),
        _ => Ok(()),
    }
}
