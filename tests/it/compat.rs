//! The compatibility suite: the cases of `tests/compat/cases.yaml`, run by seven real drivers —
//! psql (simple protocol), psycopg2, psycopg 3 (text, and binary parameters and results),
//! asyncpg (binary), node-postgres, pgjdbc (past prepareThreshold) and tokio-postgres — against
//! huaxiang and against a PostgreSQL 15 started here. Every expectation that is not marked as
//! huaxiang's own must hold on PostgreSQL too, so the file cannot drift from the real thing.
//! Each driver also runs its own checks (server-side cursors, pool reset, DatabaseMetaData,
//! portal row limits) on both servers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{Value, json};

use super::common::{ServerProcess, temp_dir};
use super::realdb::{self, pg_local};

const PG_PASSWORD: &str = "compat-Secret-2291";

/// Where and as whom a driver connects.
struct Target {
    name: &'static str,
    port: u16,
    user: &'static str,
    password: &'static str,
    dbname: &'static str,
    /// The cases this server runs (all for huaxiang; those not marked `postgres: false` for
    /// PostgreSQL), as JSON for the Python and node drivers and as TSV for Java.
    cases_json: PathBuf,
    cases_tsv: PathBuf,
}

fn compat_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("compat")
}

/// cases.yaml as JSON.
fn load_cases() -> Value {
    load_yaml("cases.yaml")
}

/// A YAML file of tests/compat as JSON (PyYAML of the test venv reads it; the harnesses and
/// drivers read JSON).
pub fn load_yaml(file: &str) -> Value {
    let python = super::reference::python();
    let out = Command::new(&python)
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1], encoding='utf-8')), sys.stdout, ensure_ascii=False)",
        ])
        .arg(compat_dir().join(file))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} ({e}); .ci/run creates the venv"));
    assert!(
        out.status.success(),
        "reading {file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("YAML as JSON")
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// The case list for Java: name, base64 SQL, base64 steps joined by U+001E, parameters.
fn java_lines(cases: &[Value]) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut out = String::new();
    for case in cases {
        let steps: Vec<&str> = case["steps"]
            .as_array()
            .map(|s| s.iter().map(text).collect())
            .unwrap_or_default();
        let params: Vec<String> = case["params"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .map(|p| match p {
                        Value::Null => "n".to_string(),
                        Value::Bool(b) => format!("b:{b}"),
                        Value::Number(n) if n.is_i64() => format!("i:{n}"),
                        Value::Number(n) => format!("f:{n}"),
                        other => format!("s:{}", b64(text(other))),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let steps = if steps.is_empty() {
            String::new()
        } else {
            b64(&steps.join("\u{1e}"))
        };
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            text(&case["name"]),
            b64(text(&case["sql"])),
            steps,
            params.join(",")
        ));
    }
    out
}

impl Target {
    /// What the Python and node drivers take: host, port, user, password, database, cases.
    fn driver_args(&self) -> Vec<std::ffi::OsString> {
        let port = self.port.to_string();
        ["127.0.0.1", &port, self.user, self.password, self.dbname]
            .into_iter()
            .map(Into::into)
            .chain([self.cases_json.clone().into_os_string()])
            .collect()
    }
}

fn target(
    name: &'static str,
    port: u16,
    login: (&'static str, &'static str, &'static str),
    cases: Vec<Value>,
    dir: &Path,
) -> Target {
    let cases_json = dir.join(format!("{name}-cases.json"));
    let cases_tsv = dir.join(format!("{name}-cases.tsv"));
    std::fs::write(&cases_tsv, java_lines(&cases)).unwrap();
    std::fs::write(&cases_json, json!({ "cases": cases }).to_string()).unwrap();
    Target {
        name,
        port,
        user: login.0,
        password: login.1,
        dbname: login.2,
        cases_json,
        cases_tsv,
    }
}

/// Runs a driver program; its stdout is JSON lines. A driver that dies (psycopg's C code has
/// crashed on a server answer it did not expect) yields a failed check with its stderr.
fn run_driver(driver: &str, command: &mut Command) -> Vec<Value> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run the {driver} driver: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut records: Vec<Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{driver}: {e}: {l}")))
        .collect();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        records.push(json!({
            "check": "driver_exits_cleanly",
            "ok": false,
            "detail": format!("{} after {} answers: {}", out.status, records.len(), stderr.trim()),
        }));
    }
    records
}

fn python_driver(driver: &str, t: &Target) -> Vec<Value> {
    run_driver(
        driver,
        Command::new(super::reference::python())
            .arg(compat_dir().join("py_driver.py"))
            .arg(driver)
            .args(t.driver_args()),
    )
}

fn node_driver(t: &Target) -> Vec<Value> {
    run_driver(
        "node-postgres",
        Command::new("node")
            .arg(compat_dir().join("node_driver.js"))
            .args(t.driver_args()),
    )
}

fn jdbc_driver(t: &Target) -> Vec<Value> {
    let jar = std::env::var("HUAXIANG_PGJDBC_JAR")
        .unwrap_or_else(|_| "/usr/share/java/postgresql.jar".to_string());
    run_driver(
        "pgjdbc",
        Command::new("java")
            .args(["-cp", &jar])
            .arg(compat_dir().join("JdbcDriver.java"))
            .arg(format!(
                "jdbc:postgresql://127.0.0.1:{}/{}",
                t.port, t.dbname
            ))
            .args([t.user, t.password])
            .arg(&t.cases_tsv),
    )
}

/// psql runs the cases without parameters, each in its own session: steps, then the case.
/// It shows no types; values are exactly the server's text.
fn psql_driver(t: &Target, cases: &[Value]) -> Vec<Value> {
    const NULL: &str = "\u{1}NULL";
    let mut answers = Vec::new();
    for case in cases.iter().filter(|c| c["params"].is_null()) {
        let mut script = String::from("\\set VERBOSITY verbose\n");
        for step in case["steps"].as_array().into_iter().flatten() {
            script.push_str(text(step));
            script.push_str(";\n");
        }
        script.push_str("\\echo @@final\n");
        script.push_str(text(&case["sql"]));
        script.push_str(";\n");
        let script_path = t.cases_json.with_extension("psql");
        std::fs::write(&script_path, script).unwrap();
        let out = Command::new("psql")
            .arg(format!(
                "postgresql://{}@127.0.0.1:{}/{}",
                t.user, t.port, t.dbname
            ))
            .args(["-X", "-A", "-F", "\u{1f}", "-P", "footer=off"])
            .args(["-P", &format!("null={NULL}"), "-f"])
            .arg(&script_path)
            .env("PGPASSWORD", t.password)
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .expect("psql must be installed (apt-get install postgresql-client)");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let after: Vec<&str> = stdout
            .split_once("@@final\n")
            .map(|(_, rest)| rest.lines().collect())
            .unwrap_or_default();
        let answer = if let Some((header, rows)) = after.split_first() {
            let cell = |v: &str| {
                if v == NULL {
                    Value::Null
                } else {
                    Value::String(v.to_string())
                }
            };
            json!({
                "case": case["name"],
                "columns": header.split('\u{1f}').map(|n| json!([n, null])).collect::<Vec<_>>(),
                "rows": rows.iter().map(|r| r.split('\u{1f}').map(cell).collect::<Vec<_>>()).collect::<Vec<_>>(),
                "error": null,
            })
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let code = stderr
                .lines()
                .rev()
                .filter_map(|l| l.split("ERROR:  ").nth(1))
                .find_map(|rest| rest.split(':').next())
                .map(str::to_string)
                .unwrap_or_else(|| format!("client: {stderr}"));
            json!({ "case": case["name"], "columns": null, "rows": null, "error": code })
        };
        answers.push(answer);
    }
    answers
}

/// tokio-postgres: every case prepared (column types from the statement description); cases
/// without parameters then run through `simple_query` (text values), the others through the
/// binary `query` with typed parameters.
fn tokio_driver(t: &Target, cases: &[Value]) -> Vec<Value> {
    use tokio_postgres::types::ToSql;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(
            &format!(
                "host=127.0.0.1 port={} user={} password={} dbname={}",
                t.port, t.user, t.password, t.dbname
            ),
            tokio_postgres::NoTls,
        )
        .await
        .expect("tokio-postgres connects");
        tokio::spawn(connection);
        let code = |e: tokio_postgres::Error| {
            e.code()
                .map(|c| c.code().to_string())
                .unwrap_or_else(|| format!("client: {e}"))
        };
        let mut answers = Vec::new();
        for case in cases {
            let steps: Vec<&str> = case["steps"]
                .as_array()
                .map(|s| s.iter().map(text).collect())
                .unwrap_or_default();
            for step in &steps {
                let _ = client.batch_execute(step).await;
            }
            let sql = text(&case["sql"]);
            let params: Vec<Box<dyn ToSql + Sync + Send>> = case["params"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| -> Box<dyn ToSql + Sync + Send> {
                    match p {
                        Value::Null => Box::new(None::<String>),
                        Value::Bool(b) => Box::new(*b),
                        Value::Number(n) if n.is_i64() => Box::new(n.as_i64().unwrap()),
                        Value::Number(n) => Box::new(n.as_f64().unwrap()),
                        other => Box::new(text(other).to_string()),
                    }
                })
                .collect();
            let answer = async {
                let statement = client.prepare(sql).await.map_err(code)?;
                let columns: Vec<Value> = statement
                    .columns()
                    .iter()
                    .map(|c| json!([c.name(), c.type_().name()]))
                    .collect();
                let mut rows = Vec::new();
                if params.is_empty() {
                    for message in client.simple_query(sql).await.map_err(code)? {
                        if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
                            rows.push(
                                (0..row.len())
                                    .map(|i| json!(row.get(i)))
                                    .collect::<Vec<_>>(),
                            );
                        }
                    }
                } else {
                    let refs: Vec<&(dyn ToSql + Sync)> = params
                        .iter()
                        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                        .collect();
                    for row in client.query(&statement, &refs).await.map_err(code)? {
                        let mut values = Vec::new();
                        for i in 0..statement.columns().len() {
                            values.push(json!(super::common::cell_text(&row, i)));
                        }
                        rows.push(values);
                    }
                }
                Ok::<_, String>(json!({ "case": case["name"], "columns": columns, "rows": rows, "error": null }))
            }
            .await
            .unwrap_or_else(|error| {
                json!({ "case": case["name"], "columns": null, "rows": null, "error": error })
            });
            answers.push(answer);
            if !steps.is_empty() {
                let _ = client.batch_execute("ROLLBACK").await;
            }
        }
        answers
    })
}

/// Whether two values of a column of type `ty` are the same: exactly, or for floating-point
/// types as numbers (drivers print doubles their own way: 1e+20, 1.0E20, 100000000000000000000).
fn same_value(ty: &str, got: &Value, want: &Value) -> bool {
    if got == want {
        return true;
    }
    match (ty, got.as_str(), want.as_str()) {
        ("float4" | "float8", Some(g), Some(w)) => {
            let parse = |s: &str| s.parse::<f64>().ok();
            match (parse(g), parse(w)) {
                (Some(g), Some(w)) if ty == "float4" => (g - w).abs() <= 1e-6 * w.abs().max(1.0),
                (Some(g), Some(w)) => g == w,
                _ => false,
            }
        }
        _ => false,
    }
}

/// What is wrong with `answer` given the expectation `want` (None when it matches).
fn mismatch(answer: &Value, want: &Value) -> Option<String> {
    if let Some(code) = want["error"].as_str() {
        return (answer["error"].as_str() != Some(code)).then(|| {
            format!(
                "expected SQLSTATE {code}, got {}",
                short(&json!({"error": answer["error"], "columns": answer["columns"], "rows": answer["rows"]}))
            )
        });
    }
    if !answer["error"].is_null() {
        return Some(format!("expected rows, got error {}", answer["error"]));
    }
    let got_columns = answer["columns"].as_array().cloned().unwrap_or_default();
    let want_columns = want["columns"].as_array().cloned().unwrap_or_default();
    let names = |cs: &[Value]| cs.iter().map(|c| c[0].clone()).collect::<Vec<_>>();
    if names(&got_columns) != names(&want_columns) {
        return Some(format!(
            "columns {} instead of {}",
            short(&json!(names(&got_columns))),
            short(&json!(names(&want_columns)))
        ));
    }
    let types: Vec<String> = want_columns
        .iter()
        .map(|c| text(&c[1]).to_string())
        .collect();
    for (got, ty) in got_columns.iter().zip(&types) {
        if !got[1].is_null() && text(&got[1]) != ty {
            return Some(format!(
                "column {} has type {} instead of {ty}",
                got[0], got[1]
            ));
        }
    }
    let got_rows = answer["rows"].as_array().cloned().unwrap_or_default();
    let want_rows = want["rows"].as_array().cloned().unwrap_or_default();
    let rows_match = got_rows.len() == want_rows.len()
        && got_rows.iter().zip(&want_rows).all(|(g, w)| {
            let (g, w) = (
                g.as_array().cloned().unwrap_or_default(),
                w.as_array().cloned().unwrap_or_default(),
            );
            g.len() == w.len()
                && g.iter()
                    .zip(&w)
                    .zip(&types)
                    .all(|((g, w), ty)| same_value(ty, g, w))
        });
    (!rows_match).then(|| {
        format!(
            "rows {} instead of {}",
            short(&answer["rows"]),
            short(&want["rows"])
        )
    })
}

fn short(value: &Value) -> String {
    let s = value.to_string();
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s
    }
}

/// The expectation of `case` on `target`: PostgreSQL's (the case's own), or for huaxiang its
/// `huaxiang:` override where the two differ on purpose.
fn expectation<'a>(case: &'a Value, target: &str) -> &'a Value {
    if target == "huaxiang" && case["huaxiang"].is_object() {
        &case["huaxiang"]
    } else {
        case
    }
}

#[test]
fn drivers_agree_with_postgresql_on_every_case() {
    let spec = load_cases();
    let cases: Vec<Value> = spec["cases"].as_array().expect("cases").clone();
    for case in &cases {
        let documented = !case["why"].is_null();
        assert!(
            case["postgres"] != json!(false) && case["huaxiang"].is_null() || documented,
            "case {} differs from PostgreSQL without saying why",
            case["name"]
        );
    }
    let setup = text(&spec["setup"]);

    let pg = realdb::start_postgres(PG_PASSWORD);
    let out = pg_local(&pg, setup);
    assert!(
        out.status.success(),
        "setup on PostgreSQL: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = temp_dir();
    let server = ServerProcess::start(data.path(), &[]);
    let out = super::common::psql(&server, &["-q", "-c", setup]);
    assert!(
        out.status.success(),
        "setup on huaxiang: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let work = temp_dir();
    let pg_cases: Vec<Value> = cases
        .iter()
        .filter(|c| c["postgres"] != json!(false))
        .cloned()
        .collect();
    let targets = [
        target(
            "huaxiang",
            server.port,
            ("huaxiang", "huaxiang", "huaxiang"),
            cases.clone(),
            work.path(),
        ),
        target(
            "postgres",
            pg.port,
            ("postgres", PG_PASSWORD, "postgres"),
            pg_cases.clone(),
            work.path(),
        ),
    ];

    let mut failures = Vec::new();
    // Known differences: case → what differed on huaxiang (they must differ somewhere).
    let mut known: BTreeMap<String, Vec<String>> = cases
        .iter()
        .filter(|c| !c["known_difference"].is_null())
        .map(|c| (text(&c["name"]).to_string(), Vec::new()))
        .collect();
    let known_checks = spec["known_check_differences"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    known.extend(known_checks.keys().map(|k| (k.clone(), Vec::new())));
    let mut answered = 0;
    for t in &targets {
        let target_cases = if t.name == "huaxiang" {
            &cases
        } else {
            &pg_cases
        };
        let mut by_driver: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        by_driver.insert("psql", psql_driver(t, target_cases));
        for driver in ["psycopg2", "psycopg3", "psycopg3-binary", "asyncpg"] {
            by_driver.insert(driver, python_driver(driver, t));
        }
        by_driver.insert("node-postgres", node_driver(t));
        by_driver.insert("pgjdbc", jdbc_driver(t));
        by_driver.insert("tokio-postgres", tokio_driver(t, target_cases));

        for (driver, records) in &by_driver {
            for case in target_cases {
                if *driver == "psql" && !case["params"].is_null() {
                    continue;
                }
                let name = text(&case["name"]);
                match records.iter().find(|r| r["case"] == case["name"]) {
                    None => failures.push(format!("{}/{driver}/{name}: no answer", t.name)),
                    Some(answer) => {
                        answered += 1;
                        if let Some(why) = mismatch(answer, expectation(case, t.name)) {
                            let line = format!("{}/{driver}/{name}: {why}", t.name);
                            match known.get_mut(name) {
                                Some(seen) if t.name == "huaxiang" => seen.push(line),
                                _ => failures.push(line),
                            }
                        }
                    }
                }
            }
            for check in records.iter().filter(|r| !r["check"].is_null()) {
                let name = text(&check["check"]);
                if check["ok"] != json!(true) {
                    let line = format!(
                        "{}/{driver}/check {name}: {}",
                        t.name,
                        text(&check["detail"])
                    );
                    match known.get_mut(name) {
                        Some(seen) if t.name == "huaxiang" && known_checks.contains_key(name) => {
                            seen.push(line)
                        }
                        _ => failures.push(line),
                    }
                }
            }
        }
    }
    for (name, seen) in &known {
        if seen.is_empty() {
            failures.push(format!(
                "huaxiang/{name}: now answers as PostgreSQL does — remove its known_difference"
            ));
        } else {
            eprintln!("known difference {name}:\n  {}", seen.join("\n  "));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {answered} answers (and checks) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
