//! `SHOW` for what `datafusion-postgres`'s `SetShowHook` answers wrongly: `server_version` (it
//! says "datafusion ..."; clients that parse it want PostgreSQL's form, as in the startup
//! parameter) and DataFusion's own settings (it answers an empty `unsupported_show_statement`).
//! Everything else falls through to `SetShowHook`.
//!
//! Also `SELECT set_config(name, value, is_local)` (pg_dump, ORMs): run as `SET name = value`
//! through `SetShowHook`, answering the value as PostgreSQL does.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::hooks::{HookClient, QueryHook};
use pgwire::api::ClientInfo;
use pgwire::api::Type;
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};

use crate::error::codes;

#[derive(Debug, Default)]
pub struct ShowSettingHook;

/// `SELECT [pg_catalog.]set_config('name', 'value', is_local)` as a statement of its own.
#[derive(Debug, Default)]
pub struct SetConfigHook;

/// The name and value of a `set_config` statement.
fn set_config_call(statement: &Statement) -> Option<(String, String)> {
    use datafusion::sql::sqlparser::ast::{
        Expr, FunctionArg, FunctionArgExpr, FunctionArguments, SelectItem, SetExpr, Value,
    };
    let Statement::Query(query) = statement else {
        return None;
    };
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let [
        SelectItem::UnnamedExpr(Expr::Function(f))
        | SelectItem::ExprWithAlias {
            expr: Expr::Function(f),
            ..
        },
    ] = select.projection.as_slice()
    else {
        return None;
    };
    let name = f.name.0.last()?.as_ident()?.value.to_ascii_lowercase();
    if name != "set_config" || !select.from.is_empty() {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let text = |arg: &FunctionArg| match arg {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v))) => match &v.value {
            Value::SingleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    };
    match list.args.as_slice() {
        [name, value, _local] => Some((text(name)?, text(value)?)),
        _ => None,
    }
}

impl SetConfigHook {
    async fn answer(
        &self,
        statement: &Statement,
        session: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let (name, value) = set_config_call(statement)?;
        let set = format!("SET {name} = '{}'", value.replace('\'', "''"));
        let set = match datafusion::sql::sqlparser::parser::Parser::parse_sql(
            &datafusion::sql::sqlparser::dialect::PostgreSqlDialect {},
            &set,
        ) {
            Ok(mut statements) if statements.len() == 1 => statements.remove(0),
            _ => {
                return Some(Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                    "ERROR".into(),
                    codes::UNDEFINED_OBJECT.into(),
                    format!("unrecognized configuration parameter \"{name}\""),
                )))));
            }
        };
        use datafusion_postgres::hooks::set_show::SetShowHook;
        if let Some(Err(e)) = SetShowHook.handle_simple_query(&set, session, client).await {
            return Some(Err(e));
        }
        Some(show_response("set_config", &value))
    }
}

#[async_trait]
impl QueryHook for SetConfigHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.answer(statement, session_context, client).await
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        use datafusion::arrow::datatypes::{Field, Schema};
        use datafusion::common::ToDFSchema;
        set_config_call(statement)?;
        let schema = Schema::new(vec![Field::new("set_config", DataType::Utf8, true)]);
        Some(
            schema
                .to_dfschema()
                .map(|schema| {
                    LogicalPlan::EmptyRelation(datafusion::logical_expr::EmptyRelation {
                        produce_one_row: true,
                        schema: Arc::new(schema),
                    })
                })
                .map_err(|e| PgWireError::ApiError(Box::new(e))),
        )
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.answer(statement, session_context, client).await
    }
}

/// The value `SHOW name` answers, or an error for an unknown name (PostgreSQL: 42704).
fn setting(name: &str, session: &SessionContext) -> Option<PgWireResult<(String, String)>> {
    let lower = name.to_ascii_lowercase();
    if lower == "server_version" {
        return Some(Ok((
            "server_version".into(),
            crate::pg::settings::server_version(),
        )));
    }
    if lower == "server_version_num" {
        return Some(Ok((
            "server_version_num".into(),
            crate::pg::settings::server_version_num().to_string(),
        )));
    }
    if !lower.starts_with("datafusion.") {
        return None;
    }
    let state = session.state();
    let entry = state
        .config()
        .options()
        .entries()
        .into_iter()
        .find(|e| e.key == lower);
    Some(match entry {
        Some(e) => Ok((e.key, e.value.unwrap_or_default())),
        None => Err(PgWireError::UserError(Box::new(ErrorInfo::new(
            "ERROR".into(),
            codes::UNDEFINED_OBJECT.into(),
            format!("unrecognized configuration parameter \"{name}\""),
        )))),
    })
}

fn show_response(name: &str, value: &str) -> PgWireResult<Response> {
    let fields = Arc::new(vec![FieldInfo::new(
        name.to_string(),
        None,
        None,
        Type::TEXT,
        FieldFormat::Text,
    )]);
    let mut encoder = DataRowEncoder::new(fields.clone());
    encoder.encode_field(&Some(value))?;
    let row = encoder.take_row();
    Ok(Response::Query(QueryResponse::new(
        fields,
        Box::pin(futures::stream::once(async move { Ok(row) })),
    )))
}

fn variable_name(statement: &Statement) -> Option<String> {
    let Statement::ShowVariable { variable } = statement else {
        return None;
    };
    Some(
        variable
            .iter()
            .map(|v| v.value.clone())
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// A duration in milliseconds as PostgreSQL shows a time setting: in the largest unit that
/// divides it (`7s`, `2min`, `1500ms`, `0` for none).
fn pg_duration(ms: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("min", 60_000),
        ("s", 1000),
    ];
    if ms == 0 {
        return "0".into();
    }
    UNITS
        .iter()
        .find(|(_, size)| ms.is_multiple_of(*size))
        .map(|(unit, size)| format!("{}{unit}", ms / size))
        .unwrap_or_else(|| format!("{ms}ms"))
}

/// The answer to a `SHOW` this hook knows. `statement_timeout` is in PostgreSQL's form
/// (`datafusion-postgres` answers `7000ms` for what PostgreSQL calls `7s`; asyncpg and
/// pgbouncer-style pools compare the text).
fn answer(
    statement: &Statement,
    session: &SessionContext,
    client: &dyn HookClient,
) -> Option<PgWireResult<Response>> {
    let name = variable_name(statement)?;
    if name.eq_ignore_ascii_case("statement_timeout") {
        let ms = super::session::statement_timeout_ms(client);
        return Some(show_response("statement_timeout", &pg_duration(ms)));
    }
    Some(setting(&name, session)?.and_then(|(n, v)| show_response(&n, &v)))
}

#[async_trait]
impl QueryHook for ShowSettingHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        answer(statement, session_context, client)
    }

    async fn handle_extended_parse_query(
        &self,
        _statement: &Statement,
        _session_context: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        None
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        answer(statement, session_context, client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_show_in_the_largest_whole_unit() {
        let shown: Vec<String> = [0, 1500, 7000, 120_000, 3_600_000, 86_400_000, 90_000]
            .into_iter()
            .map(pg_duration)
            .collect();
        assert_eq!(shown, ["0", "1500ms", "7s", "2min", "1h", "1d", "90s"]);
    }

    #[test]
    fn server_version_and_datafusion_settings() {
        let session = SessionContext::new();
        let (_, v) = setting("server_version", &session).unwrap().unwrap();
        assert!(v.starts_with(crate::pg::settings::PG_VERSION), "{v}");
        let (_, num) = setting("server_version_num", &session).unwrap().unwrap();
        assert_eq!(num, "160006");
        let (key, batch) = setting("DataFusion.Execution.Batch_Size", &session)
            .unwrap()
            .unwrap();
        assert_eq!(
            (key.as_str(), batch.as_str()),
            ("datafusion.execution.batch_size", "8192")
        );
        assert!(setting("datafusion.nope", &session).unwrap().is_err());
        assert!(setting("search_path", &session).is_none());
    }
}
