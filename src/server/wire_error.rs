//! Errors as the client gets them: a [`SqlError`] (or a DataFusion error, through
//! `error::describe`) as pgwire's `ErrorInfo`, with its SQLSTATE, detail and hint.

use datafusion::sql::sqlparser;
use pgwire::error::{ErrorInfo, PgWireError};

use crate::error::{SqlError, codes, describe};

/// Converts a DataFusion error into the error the client gets.
pub fn pg_error(error: &datafusion::error::DataFusionError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(&describe(error))))
}

pub fn error_info(error: &SqlError) -> ErrorInfo {
    // Server shutdown ends the session: FATAL, after which pgwire closes the connection.
    let severity = match error.sqlstate {
        codes::ADMIN_SHUTDOWN => "FATAL",
        _ => "ERROR",
    };
    let mut info = ErrorInfo::new(
        severity.to_string(),
        error.sqlstate.to_string(),
        error.message.clone(),
    );
    info.detail = error.detail.clone();
    info.hint = error.hint.clone();
    info
}

/// Rewrites errors from `datafusion-postgres` (all `XX000` as shipped) to PostgreSQL SQLSTATEs.
pub fn normalize_error(error: &mut PgWireError) {
    let replacement = match error {
        PgWireError::ApiError(inner) => {
            if let Some(df) = inner.downcast_ref::<datafusion::error::DataFusionError>() {
                Some(error_info(&describe(df)))
            } else if let Some(parse) = inner.downcast_ref::<sqlparser::parser::ParserError>() {
                Some(error_info(&match parse {
                    // Parentheses or subqueries nested past the parser's limit.
                    sqlparser::parser::ParserError::RecursionLimitExceeded => SqlError::new(
                        codes::STATEMENT_TOO_COMPLEX,
                        "statement too complex: nested too deeply to parse",
                    ),
                    _ => SqlError::new(codes::SYNTAX_ERROR, format!("syntax error: {parse}")),
                }))
            } else {
                Some(error_info(&SqlError::new(
                    codes::INTERNAL_ERROR,
                    inner.to_string(),
                )))
            }
        }
        // datafusion-postgres refuses statements in a failed transaction block with 25P01
        // (no_active_sql_transaction); PostgreSQL's code for it is 25P02.
        PgWireError::UserError(info)
            if info.code == "25P01"
                && info.message.starts_with("current transaction is aborted") =>
        {
            let mut info = ErrorInfo::new(
                info.severity.clone(),
                codes::IN_FAILED_SQL_TRANSACTION.to_string(),
                info.message.clone(),
            );
            info.hint = Some("end the transaction with ROLLBACK".to_string());
            Some(info)
        }
        _ => None,
    };
    if let Some(info) = replacement {
        *error = PgWireError::UserError(Box::new(info));
    }
}
