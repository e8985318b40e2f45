//! The catalog queries tools send on their own (Grafana, Metabase, DBeaver, Npgsql), replayed
//! from `tests/compat/catalog_replays.yaml` over the protocol each tool uses, against huaxiang
//! with the demo data and against a PostgreSQL 15 started here: every query must run on both,
//! and huaxiang's answers must hold what the tool then shows (tables, columns and their types,
//! functions).

use serde_json::Value;
use tokio_postgres::types::{ToSql, Type};

use tokio_postgres::{Client, SimpleQueryMessage};

use super::common::{ServerProcess, cell_text, demo_dir};
use super::realdb::{self, pg_local};

const PG_PASSWORD: &str = "replay-Secret-4417";

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// The rows of one statement, each column name → its text (NULL absent).
type Rows = Vec<Vec<(String, Option<String>)>>;

/// A parameter as the tool binds it.
enum Param {
    Int8(i64),
    Int4(i32),
    Text(String),
}

impl Param {
    fn of(pair: &Value, vars: &[(String, String)]) -> Self {
        let kind = text(&pair[0]);
        let value = match &pair[1] {
            Value::String(s) => vars
                .iter()
                .find(|(name, _)| name == s)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| s.clone()),
            other => other.to_string(),
        };
        match kind {
            "int8" => Param::Int8(value.parse().expect("an int8 parameter")),
            "int4" => Param::Int4(value.parse().expect("an int4 parameter")),
            _ => Param::Text(value),
        }
    }

    /// The value written into the text of a simple-protocol query.
    fn literal(&self) -> String {
        match self {
            Param::Int8(v) => v.to_string(),
            Param::Int4(v) => v.to_string(),
            Param::Text(v) => format!("'{}'", v.replace('\'', "''")),
        }
    }
}

/// Runs one replay: the statements' rows (one entry per statement), or the error.
async fn replay(
    client: &Client,
    sql: &str,
    params: &[Param],
    protocol: &str,
) -> Result<Vec<Rows>, String> {
    let error = |e: tokio_postgres::Error| match e.as_db_error() {
        Some(db) => format!("{} {}", db.code().code(), db.message()),
        None => e.to_string(),
    };
    if protocol == "simple" {
        let mut sql = sql.to_string();
        for (i, param) in params.iter().enumerate().rev() {
            sql = sql.replace(&format!("${}", i + 1), &param.literal());
        }
        let mut statements = Vec::new();
        let mut rows = Rows::new();
        for message in client.simple_query(&sql).await.map_err(error)? {
            match message {
                SimpleQueryMessage::Row(row) => rows.push(
                    row.columns()
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (c.name().to_string(), row.get(i).map(str::to_string)))
                        .collect(),
                ),
                SimpleQueryMessage::CommandComplete(_) => {
                    statements.push(std::mem::take(&mut rows))
                }
                _ => {}
            }
        }
        return Ok(statements);
    }
    let typed: Vec<(&(dyn ToSql + Sync), Type)> = params
        .iter()
        .map(|p| match p {
            Param::Int8(v) => (v as &(dyn ToSql + Sync), Type::INT8),
            Param::Int4(v) => (v as &(dyn ToSql + Sync), Type::INT4),
            // pgjdbc binds setString as varchar.
            Param::Text(v) => (v as &(dyn ToSql + Sync), Type::VARCHAR),
        })
        .collect();
    let rows = client.query_typed(sql, &typed).await.map_err(error)?;
    Ok(vec![
        rows.iter()
            .map(|row| {
                row.columns()
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.name().to_string(), cell_text(row, i)))
                    .collect()
            })
            .collect(),
    ])
}

/// What is wrong with `statements` against `expect`, if anything.
fn unmet(statements: &[Rows], expect: &Value) -> Option<String> {
    if let Some(count) = expect["statements"].as_u64()
        && statements.len() as u64 != count
    {
        return Some(format!(
            "{} statements answered, not {count}",
            statements.len()
        ));
    }
    let index = expect["statement"]
        .as_u64()
        .map(|n| n as usize - 1)
        .unwrap_or(statements.len().saturating_sub(1));
    let empty = Rows::new();
    let rows = statements.get(index).unwrap_or(&empty);
    if let Some(min) = expect["min_rows"].as_u64()
        && (rows.len() as u64) < min
    {
        return Some(format!("{} rows, fewer than {min}", rows.len()));
    }
    if let Some(columns) = expect["columns"].as_array()
        && let Some(first) = rows.first()
    {
        let got: Vec<&str> = first.iter().map(|(name, _)| name.as_str()).collect();
        let want: Vec<&str> = columns.iter().map(text).collect();
        if got != want {
            return Some(format!("columns {got:?}, not {want:?}"));
        }
    }
    for wanted in expect["contains"].as_array().into_iter().flatten() {
        let wanted = wanted.as_object().expect("a contains entry is a map");
        let found = rows.iter().any(|row| {
            wanted.iter().all(|(column, value)| {
                let want = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                row.iter()
                    .any(|(name, got)| name == column && got.as_deref() == Some(want.as_str()))
            })
        });
        if !found {
            let shown: Vec<String> = rows.iter().take(8).map(|row| format!("{row:?}")).collect();
            return Some(format!(
                "no row with {wanted:?} among {} rows, e.g. {}",
                rows.len(),
                shown.join("; ")
            ));
        }
    }
    None
}

async fn connect(port: u16, user: &str, password: &str, dbname: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user={user} password={password} dbname={dbname}"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("tokio-postgres connects");
    tokio::spawn(connection);
    client
}

#[test]
fn tools_catalog_queries_replayed() {
    let spec = super::compat::load_yaml("catalog_replays.yaml");
    let pg = realdb::start_postgres(PG_PASSWORD);
    let out = pg_local(&pg, text(&spec["postgres_setup"]));
    assert!(
        out.status.success(),
        "setup on PostgreSQL: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = ServerProcess::start(demo_dir(), &[]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut failures = Vec::new();
    let mut answered = 0;
    runtime.block_on(async {
        for (target, port, user, password, dbname) in [
            ("huaxiang", server.port, "huaxiang", "huaxiang", "huaxiang"),
            ("postgres", pg.port, "postgres", PG_PASSWORD, "postgres"),
        ] {
            let client = connect(port, user, password, dbname).await;
            let mut vars = Vec::new();
            for (name, sql) in spec["vars"].as_object().into_iter().flatten() {
                let rows = client
                    .simple_query(text(sql))
                    .await
                    .unwrap_or_else(|e| panic!("{target}: var {name}: {e}"));
                let value = rows.iter().find_map(|m| match m {
                    SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
                    _ => None,
                });
                vars.push((
                    name.clone(),
                    value.unwrap_or_else(|| panic!("{target}: no {name}")),
                ));
            }
            for case in spec["replays"].as_array().expect("replays") {
                let name = format!("{} / {}", text(&case["tool"]), text(&case["name"]));
                let params: Vec<Param> = case["params"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| Param::of(p, &vars))
                    .collect();
                let protocols: Vec<&str> = match case["protocols"].as_array() {
                    Some(list) => list.iter().map(text).collect(),
                    None => vec!["simple", "extended"],
                };
                for protocol in protocols {
                    answered += 1;
                    // PostgreSQL only has to run the text: over the simple protocol, as
                    // tokio-postgres asks for binary results, which PostgreSQL has no output
                    // function for in some catalog types (aclitem).
                    let protocol = if target == "postgres" {
                        "simple"
                    } else {
                        protocol
                    };
                    match replay(&client, text(&case["sql"]), &params, protocol).await {
                        Err(e) => failures.push(format!("{target}/{protocol}/{name}: {e}")),
                        Ok(statements) if target == "huaxiang" => {
                            if let Some(why) = unmet(&statements, &case["expect"]) {
                                failures.push(format!("{target}/{protocol}/{name}: {why}"));
                            }
                        }
                        Ok(_) => {}
                    }
                }
            }
        }
    });
    assert!(
        failures.is_empty(),
        "{} of {answered} replays failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
