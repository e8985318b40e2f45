//! Durable tables: everything survives a restart, and a `kill -9` in the middle of a write
//! leaves every table at the version before or after it, never torn.

use std::process::{Command, Stdio};
use std::time::Duration;

use super::common::{BIN, path_str, run, sql_csv, temp_dir};

fn count(dir: &std::path::Path, table: &str) -> u64 {
    let out = sql_csv(dir, &format!("SELECT count(*) AS n FROM {table}"));
    out.lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count in {out:?}"))
}

#[test]
fn everything_created_is_there_after_a_restart() {
    let dir = temp_dir();
    let d = dir.path();
    let csv = d.join("visits.csv");
    std::fs::write(&csv, "customer_id,page\n1,home\n2,cart\n").expect("write csv");
    sql_csv(
        d,
        &format!(
            "CREATE TABLE t (id INT, label TEXT);
             INSERT INTO t VALUES (1, 'one'), (2, 'two');
             CREATE TABLE t2 AS SELECT id * 10 AS id10 FROM t;
             CREATE VIEW v AS SELECT /* exact */ id FROM t WHERE id > 1;
             CREATE EXTERNAL TABLE visits STORED AS CSV LOCATION '{}' OPTIONS ('format.has_header' 'true');",
            csv.display()
        ),
    );
    // Each `huaxiang sql` is a new process: a restart.
    assert_eq!(count(d, "t"), 2);
    assert_eq!(count(d, "t2"), 2);
    assert_eq!(count(d, "v"), 1);
    assert_eq!(count(d, "visits"), 2);
    let def = sql_csv(
        d,
        "SELECT definition FROM information_schema.views WHERE table_name = 'v'",
    );
    assert!(
        def.contains("CREATE VIEW v AS SELECT /* exact */ id FROM t WHERE id > 1"),
        "{def}"
    );

    sql_csv(
        d,
        "DROP VIEW v; DROP TABLE t2; INSERT INTO t VALUES (3, 'three')",
    );
    assert_eq!(count(d, "t"), 3);
    let tables = sql_csv(
        d,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    );
    assert_eq!(
        tables.lines().skip(1).collect::<Vec<_>>(),
        vec!["t", "visits"]
    );
}

#[test]
fn a_running_server_sees_tables_created_by_another_process() {
    let dir = temp_dir();
    let d = dir.path();
    sql_csv(
        d,
        "CREATE TABLE early (x INT); INSERT INTO early VALUES (1)",
    );
    let server = super::common::ServerProcess::start(d, &[]);
    sql_csv(
        d,
        "CREATE TABLE late AS SELECT 42 AS answer; INSERT INTO early VALUES (2)",
    );
    let out = super::common::psql(
        &server,
        &[
            "-At",
            "-c",
            "SELECT answer FROM late",
            "-c",
            "SELECT count(*) FROM early",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "42\n2\n");
}

/// Starts a write in a child process, kills it with SIGKILL after `delay`, and returns whether
/// the child had already finished.
fn kill_during(dir: &std::path::Path, sql: &str, delay: Duration) -> bool {
    let mut child = Command::new(BIN)
        .args(["sql", "--data-dir", path_str(dir), "-c", sql])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn huaxiang sql");
    std::thread::sleep(delay);
    let finished = matches!(child.try_wait(), Ok(Some(_)));
    let _ = child.kill(); // SIGKILL on Unix
    let _ = child.wait();
    finished
}

#[test]
fn kill_9_during_insert_leaves_the_table_before_or_after() {
    let dir = temp_dir();
    let d = dir.path();
    sql_csv(
        d,
        "CREATE TABLE events (id BIGINT, payload TEXT); INSERT INTO events VALUES (0, 'seed')",
    );
    let batch: u64 = 400_000;
    let insert = format!(
        "INSERT INTO events SELECT value, repeat('x', 40) || value FROM generate_series(1, {batch})"
    );
    let mut expected = 1u64;
    let mut interrupted = 0;
    // Kill at different moments: before, during and after the commit.
    for delay_ms in [30u64, 120, 300, 600, 900, 1500, 2500, 4000] {
        let finished = kill_during(d, &insert, Duration::from_millis(delay_ms));
        let now = count(d, "events");
        assert!(
            now == expected || now == expected + batch,
            "after kill -9 at {delay_ms} ms the table has {now} rows; expected {expected} or {}",
            expected + batch
        );
        if now == expected && !finished {
            interrupted += 1;
        }
        expected = now;
    }
    assert!(
        interrupted > 0,
        "no kill landed before the commit; the test did not test anything"
    );
    // The table still takes writes after all that.
    sql_csv(d, "INSERT INTO events VALUES (-1, 'after')");
    assert_eq!(count(d, "events"), expected + 1);
}

#[test]
fn kill_9_during_create_table_as_leaves_no_half_table() {
    let dir = temp_dir();
    let d = dir.path();
    sql_csv(d, "CREATE TABLE keep (x INT); INSERT INTO keep VALUES (1)");
    let ctas = "CREATE TABLE big AS SELECT value AS id, repeat('y', 50) AS pad FROM generate_series(1, 600000)";
    let mut saw_absent = false;
    for delay_ms in [50u64, 200, 500, 1000, 2000] {
        let _ = run(&[
            "sql",
            "--data-dir",
            path_str(d),
            "-c",
            "DROP TABLE IF EXISTS big",
        ]);
        kill_during(d, ctas, Duration::from_millis(delay_ms));
        let tables = sql_csv(
            d,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
        );
        if tables.lines().any(|l| l == "big") {
            assert_eq!(count(d, "big"), 600_000, "a visible table must be complete");
        } else {
            saw_absent = true;
        }
        assert_eq!(count(d, "keep"), 1);
    }
    assert!(saw_absent, "no kill landed before the catalog commit");
    // Directories left by killed writers are removed at the next start.
    let live = sql_csv(
        d,
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
    );
    let live: usize = live
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .expect("count");
    let dirs = std::fs::read_dir(d.join("tables"))
        .expect("tables dir")
        .count();
    assert_eq!(dirs, live, "orphaned table directories were not cleaned up");
}

/// Trained models are kept in the data dir: another process (a restart) scores with them, a
/// retrain replaces one whole, and a damaged model file is a clear error, not a crash.
#[test]
fn trained_models_survive_a_restart_and_are_replaced_whole() {
    let dir = temp_dir();
    let d = dir.path();
    let train = |extra: &str| {
        sql_csv(
            d,
            &format!(
                "SELECT model, features FROM train_model('churn', 'logistic', \
                 'SELECT x{extra}, CASE WHEN x > 50 THEN 1 ELSE 0 END AS label \
                 FROM (SELECT value AS x, value % 7 AS y FROM generate_series(1, 100))')"
            ),
        )
    };
    sql_csv(d, "CREATE TABLE keep (id INT)");
    assert!(train("").contains("churn,x"));
    let scored = sql_csv(
        d,
        "SELECT churn_prob('churn', 90) > 0.5 AS p, churn_prob('churn', 10) < 0.5 AS q",
    );
    assert_eq!(scored.lines().nth(1), Some("true,true"), "{scored}");
    assert!(train(", y").contains("churn,\"x, y\""));
    let listed = sql_csv(d, "SELECT name, features FROM models()");
    assert_eq!(
        listed.lines().skip(1).collect::<Vec<_>>(),
        vec!["churn,\"x, y\""]
    );
    let leftovers: Vec<_> = std::fs::read_dir(d.join("models"))
        .expect("models dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        leftovers,
        vec!["churn.json"],
        "no temporary files are left behind"
    );

    std::fs::write(d.join("models/churn.json"), "{ not json").expect("damage the model");
    let out = run(&[
        "sql",
        "--data-dir",
        path_str(d),
        "-c",
        "SELECT churn_prob('churn', 1, 2)",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("churn.json is damaged"), "{err}");
    assert_eq!(count(d, "keep"), 0, "the server's tables are unaffected");
}
