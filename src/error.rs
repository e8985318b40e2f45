//! Errors with PostgreSQL SQLSTATEs.
//!
//! Every error a client sees passes through [`sqlstate_of`], so psql, JDBC and BI tools get the
//! code PostgreSQL would send (42P01 for a missing table, 42601 for a syntax error, ...) rather
//! than the `XX000` that `datafusion-postgres` sends for everything.

use std::fmt;

use datafusion::arrow::error::ArrowError;
use datafusion::common::{DataFusionError, SchemaError};

/// An error raised by huaxiang itself, carrying the SQLSTATE to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    pub sqlstate: &'static str,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl SqlError {
    pub fn new(sqlstate: &'static str, message: impl Into<String>) -> Self {
        Self {
            sqlstate,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Wraps this error for returning through DataFusion's `Result`.
    pub fn into_datafusion(self) -> DataFusionError {
        DataFusionError::External(Box::new(self))
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SqlError {}

/// SQLSTATE codes used in more than one place.
pub mod codes {
    pub const SYNTAX_ERROR: &str = "42601";
    pub const UNDEFINED_TABLE: &str = "42P01";
    pub const UNDEFINED_COLUMN: &str = "42703";
    pub const UNDEFINED_FUNCTION: &str = "42883";
    pub const UNDEFINED_OBJECT: &str = "42704";
    pub const DUPLICATE_TABLE: &str = "42P07";
    pub const INVALID_NAME: &str = "42602";
    pub const WRONG_OBJECT_TYPE: &str = "42809";
    pub const DEPENDENT_OBJECTS_STILL_EXIST: &str = "2BP01";
    pub const INVALID_SCHEMA_NAME: &str = "3F000";
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    pub const IN_FAILED_SQL_TRANSACTION: &str = "25P02";
    pub const STATEMENT_TOO_COMPLEX: &str = "54001";
    pub const DIVISION_BY_ZERO: &str = "22012";
    pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
    pub const INVALID_PARAMETER_VALUE: &str = "22023";
    pub const DATATYPE_MISMATCH: &str = "42804";
    pub const SYNTAX_ERROR_OR_ACCESS_RULE: &str = "42000";
    pub const OUT_OF_MEMORY: &str = "53200";
    pub const QUERY_CANCELED: &str = "57014";
    pub const ADMIN_SHUTDOWN: &str = "57P01";
    pub const CONNECTION_LOST: &str = "08006";
    /// Resources of the server (here: statements a user may run at once) are used up.
    pub const INSUFFICIENT_RESOURCES: &str = "53000";
    pub const OBJECT_NOT_IN_PREREQUISITE_STATE: &str = "55000";
    pub const NOT_NULL_VIOLATION: &str = "23502";
    pub const IO_ERROR: &str = "58030";
    pub const UNDEFINED_FILE: &str = "58P01";
    pub const INTERNAL_ERROR: &str = "XX000";
    pub const INVALID_PASSWORD: &str = "28P01";
    pub const INVALID_AUTHORIZATION: &str = "28000";
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    /// sqlclient_unable_to_establish_sqlconnection: a live source cannot be reached.
    pub const CONNECTION_FAILURE: &str = "08001";
}

/// The SQLSTATE, message, detail and hint to report for an error.
pub fn describe(error: &DataFusionError) -> SqlError {
    if let Some(own) = find_sql_error(error) {
        return own.clone();
    }
    if let Some(stopped) = find_in_chain::<huaxiang_udfs::stop::Stopped>(error) {
        return stopped_error(stopped.0);
    }
    let root = error.find_root();
    let message = clean_message(error);
    if let Some(source) = source_database_error(&message) {
        return source;
    }
    let code = sqlstate_of(root);
    if code == codes::OUT_OF_MEMORY {
        return SqlError::new(code, message).with_hint(
            "The query needs more memory than one query may use (server.query_memory_mb): \
             aggregate or filter earlier, or ask the admin to raise the limit.",
        );
    }
    SqlError::new(code, message)
}

/// An error a live source database (PostgreSQL, MySQL/MariaDB) answered to the SQL a scan sent
/// it, as `datafusion-table-providers` reports it: "Query execution failed." followed by the
/// server's error — PostgreSQL's "ERROR: msg" and "SQLSTATE: code" lines, or MySQL's
/// "ERROR 1054 (42S22): msg". The common codes are relayed as PostgreSQL's (so a column that
/// is gone at the source is 42703, as postgres_fdw does it); others are HV000 (fdw_error).
fn source_database_error(message: &str) -> Option<SqlError> {
    if !message.contains("Query execution failed.") {
        return None;
    }
    let lines: Vec<&str> = message.lines().map(str::trim).collect();
    let postgres = lines.iter().find_map(|l| l.strip_prefix("ERROR: "));
    let (code, text) = if let Some(text) = postgres {
        let code = lines
            .iter()
            .find_map(|l| l.strip_prefix("SQLSTATE: "))
            .unwrap_or("");
        const RELAYED: &[&str] = &[
            "42703", "42P01", "42501", "42883", "42601", "22012", "22P02", "22003", "57014",
            "53300", "08006", "40001", "25006",
        ];
        let code = RELAYED.iter().find(|c| **c == code).copied();
        (code, text.to_string())
    } else {
        // Server error: `ERROR 1054 (42S22): Unknown column 'orders.channel' in 'WHERE'`
        let line = lines.iter().find(|l| l.contains("ERROR "))?;
        let start = line.find("ERROR ")? + "ERROR ".len();
        let rest = &line[start..];
        let number = rest.split_whitespace().next().unwrap_or("");
        let text = rest.split_once("): ").map_or(rest, |(_, t)| t);
        let code = match number {
            "1054" => Some(codes::UNDEFINED_COLUMN),
            "1146" => Some(codes::UNDEFINED_TABLE),
            "1142" | "1143" => Some(codes::INSUFFICIENT_PRIVILEGE),
            "1064" => Some(codes::SYNTAX_ERROR),
            _ => None,
        };
        // mysql_async quotes it as `…' : drop the closing quote.
        let quoted = line[..start - "ERROR ".len()].ends_with('`');
        let text = match quoted {
            true => text.strip_suffix(['\'', '`']).unwrap_or(text),
            false => text,
        };
        (code, text.to_string())
    };
    Some(
        SqlError::new(
            code.unwrap_or("HV000"),
            format!("the source database answered: {text}"),
        )
        .with_hint(
            "The table may have changed at the source since it was declared: \
             restart the server or re-create the external table to read its columns again.",
        ),
    )
}

/// Finds a [`SqlError`] anywhere in the error's chain.
fn find_sql_error(error: &DataFusionError) -> Option<&SqlError> {
    find_in_chain::<SqlError>(error)
}

/// Finds an error of type `E` anywhere in the error's chain.
fn find_in_chain<E: std::error::Error + 'static>(error: &DataFusionError) -> Option<&E> {
    let mut current: &(dyn std::error::Error + 'static) = error;
    loop {
        if let Some(own) = current.downcast_ref::<E>() {
            return Some(own);
        }
        if let Some(DataFusionError::External(inner)) = current.downcast_ref::<DataFusionError>()
            && let Some(own) = inner.downcast_ref::<E>()
        {
            return Some(own);
        }
        current = current.source()?;
    }
}

/// The error of a statement that was stopped, as PostgreSQL reports each reason.
pub fn stopped_error(reason: huaxiang_udfs::stop::StopReason) -> SqlError {
    use huaxiang_udfs::stop::StopReason;
    let code = match reason {
        StopReason::Cancelled | StopReason::Timeout => codes::QUERY_CANCELED,
        StopReason::ClientGone => codes::CONNECTION_LOST,
        StopReason::Shutdown => codes::ADMIN_SHUTDOWN,
    };
    SqlError::new(code, reason.message())
}

/// The SQLSTATE PostgreSQL would report for a DataFusion error (already reduced to its root).
pub fn sqlstate_of(root: &DataFusionError) -> &'static str {
    use codes::*;
    match root {
        DataFusionError::SQL(..) => SYNTAX_ERROR,
        DataFusionError::NotImplemented(_) => FEATURE_NOT_SUPPORTED,
        DataFusionError::ResourcesExhausted(_) => OUT_OF_MEMORY,
        DataFusionError::Internal(_) => INTERNAL_ERROR,
        DataFusionError::SchemaError(err, _) => match err.as_ref() {
            SchemaError::FieldNotFound { .. } => UNDEFINED_COLUMN,
            SchemaError::AmbiguousReference { .. } => "42702",
            SchemaError::DuplicateQualifiedField { .. }
            | SchemaError::DuplicateUnqualifiedField { .. } => "42701",
        },
        DataFusionError::ArrowError(err, _) => match err.as_ref() {
            ArrowError::DivideByZero => DIVISION_BY_ZERO,
            ArrowError::CastError(_) | ArrowError::ParseError(_) => INVALID_TEXT_REPRESENTATION,
            ArrowError::ArithmeticOverflow(_) => "22003",
            ArrowError::IoError(..) => IO_ERROR,
            _ => INTERNAL_ERROR,
        },
        DataFusionError::IoError(_) | DataFusionError::ObjectStore(_) => IO_ERROR,
        DataFusionError::ParquetError(_) => "XX001",
        DataFusionError::External(inner) => match inner.downcast_ref::<SqlError>() {
            Some(own) => own.sqlstate,
            None => INTERNAL_ERROR,
        },
        DataFusionError::Plan(msg) | DataFusionError::Execution(msg)
            if own_function_sqlstate(own_message(msg)).is_some() =>
        {
            own_function_sqlstate(own_message(msg)).unwrap_or(INTERNAL_ERROR)
        }
        DataFusionError::Plan(msg) => plan_sqlstate(msg),
        DataFusionError::Execution(msg) => execution_sqlstate(msg),
        _ => INTERNAL_ERROR,
    }
}

/// DataFusion wraps the argument-type errors of a function's own coercion as
/// "Function 'f' user-defined coercion failed with: Error during planning: f: ...": the message
/// of the function is the part after the last "Error during planning: ".
fn own_message(msg: &str) -> &str {
    const WRAPPED: &str = "user-defined coercion failed with: ";
    match msg.find(WRAPPED) {
        Some(at) => {
            let inner = &msg[at + WRAPPED.len()..];
            inner
                .strip_prefix("Error during planning: ")
                .unwrap_or(inner)
        }
        None => msg,
    }
}

/// Errors of the `udfs` functions start with the function's name; they are the user's bad
/// arguments (wrong type, count or value), never an engine failure.
fn own_function_sqlstate(msg: &str) -> Option<&'static str> {
    use codes::*;
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(huaxiang_udfs::function_names);
    let name = msg.split([':', ' ']).next()?;
    if !names.iter().any(|n| n == name) {
        return None;
    }
    let lower = msg.to_ascii_lowercase();
    Some(
        if lower.contains("must be a number")
            || lower.contains("must be numeric")
            || lower.contains("must be integers or text")
            || lower.contains("must be an integer, got")
            || lower.contains("must be a timestamp or date, got")
            || lower.contains("must be text, got")
            || lower.contains("must be a boolean, got")
        {
            DATATYPE_MISMATCH
        } else if lower.contains(&format!("{name} takes ")) {
            UNDEFINED_FUNCTION
        } else {
            INVALID_PARAMETER_VALUE
        },
    )
}

/// DataFusion reports most planning failures as `Plan(String)`; recognise the common ones.
fn plan_sqlstate(msg: &str) -> &'static str {
    use codes::*;
    let lower = msg.to_ascii_lowercase();
    if lower.contains("table") && lower.contains("not found") {
        UNDEFINED_TABLE
    } else if lower.contains("invalid function")
        || lower.contains("unknown function")
        || lower.contains("no function matches")
        || lower.contains("function does not exist")
    {
        UNDEFINED_FUNCTION
    } else if lower.contains("no field named") {
        UNDEFINED_COLUMN
    } else if lower.contains("cannot infer common")
        || lower.contains("cannot coerce")
        || lower.contains("failed to coerce")
        || lower.contains("does not support")
        || lower.contains("type signature")
    {
        DATATYPE_MISMATCH
    } else if lower.contains("already exists") {
        DUPLICATE_TABLE
    } else if lower.contains("unique expression names") {
        "42701"
    } else {
        SYNTAX_ERROR_OR_ACCESS_RULE
    }
}

fn execution_sqlstate(msg: &str) -> &'static str {
    use codes::*;
    let lower = msg.to_ascii_lowercase();
    if lower.contains("already exists") {
        DUPLICATE_TABLE
    } else if lower.contains("divide by zero") || lower.contains("division by zero") {
        DIVISION_BY_ZERO
    } else if lower.contains("non-nullable") || lower.contains("not null") {
        NOT_NULL_VIOLATION
    } else if lower.contains("cannot cast") || lower.contains("cast error") {
        INVALID_TEXT_REPRESENTATION
    } else if lower.contains("not found") && lower.contains("table") {
        UNDEFINED_TABLE
    } else {
        INTERNAL_ERROR
    }
}

/// DataFusion prefixes messages with their kind ("Error during planning: ..."); PostgreSQL users
/// read the message itself, so keep DataFusion's text but drop the backtrace noise.
fn clean_message(error: &DataFusionError) -> String {
    let text = error.to_string();
    let text = match text.find("\n\nbacktrace") {
        Some(i) => &text[..i],
        None => text.as_str(),
    };
    // A function's own argument error, unwrapped from DataFusion's coercion message (which
    // would add "No function matches ... You might need to add explicit type casts").
    let own = own_message(text);
    if own.len() != text.len() && own_function_sqlstate(own).is_some() {
        let end = own.find(". No function matches").unwrap_or(own.len());
        return own[..end].to_string();
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_database_errors_keep_the_sources_answer_and_code() {
        let pg = "Execution error: Failed to execute query.\nQuery execution failed.\n\
                  ERROR: column people.city does not exist\nSQLSTATE: 42703\n\
                  For details, refer to the PostgreSQL manual: https://www.postgresql.org/docs/17/";
        let e = source_database_error(pg).unwrap();
        assert_eq!(e.sqlstate, "42703");
        assert_eq!(
            e.message,
            "the source database answered: column people.city does not exist"
        );
        let mysql = "Execution error: Failed to execute query.\nQuery execution failed.\n\
                     Server error: `ERROR 1146 (42S02): Table 'erp.gone' doesn't exist'\n";
        let e = source_database_error(mysql).unwrap();
        assert_eq!(e.sqlstate, "42P01");
        assert_eq!(
            e.message,
            "the source database answered: Table 'erp.gone' doesn't exist"
        );
        let other = "Query execution failed.\nERROR: could not serialize\nSQLSTATE: 99999";
        assert_eq!(source_database_error(other).unwrap().sqlstate, "HV000");
        assert!(source_database_error("division by zero").is_none());
    }
    use datafusion::prelude::SessionContext;

    async fn state_of(sql: &str) -> &'static str {
        let ctx = SessionContext::new();
        let err = match ctx.sql(sql).await {
            Ok(df) => df.collect().await.expect_err("query should fail"),
            Err(e) => e,
        };
        describe(&err).sqlstate
    }

    #[tokio::test]
    async fn common_errors_get_postgres_sqlstates() {
        assert_eq!(state_of("SELEC 1").await, codes::SYNTAX_ERROR);
        assert_eq!(
            state_of("SELECT * FROM nowhere").await,
            codes::UNDEFINED_TABLE
        );
        assert_eq!(
            state_of("SELECT nope FROM (SELECT 1 AS a)").await,
            codes::UNDEFINED_COLUMN
        );
        assert_eq!(
            state_of("SELECT no_such_fn(1)").await,
            codes::UNDEFINED_FUNCTION
        );
        assert_eq!(state_of("SELECT 1/0").await, codes::DIVISION_BY_ZERO);
        assert_eq!(
            state_of("SELECT CAST('x' AS INT)").await,
            codes::INVALID_TEXT_REPRESENTATION
        );
    }

    #[test]
    fn own_errors_keep_their_code_through_wrapping() {
        let own = SqlError::new(codes::DEPENDENT_OBJECTS_STILL_EXIST, "cannot drop");
        let wrapped = DataFusionError::Context("ctx".into(), Box::new(own.into_datafusion()));
        assert_eq!(
            describe(&wrapped).sqlstate,
            codes::DEPENDENT_OBJECTS_STILL_EXIST
        );
    }
}
