//! Every statement can be stopped — by a cancel request, `statement_timeout`, the client going
//! away and server shutdown — including work that never yields its thread: a nested-loop join
//! with a selective filter (it loops inside one poll), a large sort, and long k-means and DBSCAN
//! windows (our own loops). For each, the stop is answered within a second, another client is served
//! while the statement runs, and the server's CPU falls back within two seconds after the stop
//! (measured from /proc, so only real work counts).

use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

use crate::common::{ServerProcess, demo_dir};

/// An accidental Cartesian product with a selective filter: planned as a nested-loop join,
/// whose inner loop runs inside one poll for as long as the filter matches nothing.
const NESTED_LOOP: &str =
    "SELECT count(*) FROM orders o, customers c WHERE o.amount * c.customer_id = 1.2345";

/// A sort of tens of millions of rows (the window needs all of them in order).
const LARGE_SORT: &str = "SELECT max(r) FROM (SELECT row_number() OVER (ORDER BY o.amount * g DESC) AS r \
     FROM orders o CROSS JOIN generate_series(1, 100) g) t";

/// k-means over almost a million rows with many restarts: minutes of our own loop.
const LONG_KMEANS: &str = "SELECT count(DISTINCT s) FROM (SELECT kmeans_segment(a, b, c, 40, \
     'n_init=200, max_iter=1000, tol=0') OVER () AS s FROM (SELECT o.amount::double precision AS a, \
     (o.customer_id % 97)::double precision AS b, g::double precision AS c \
     FROM orders o CROSS JOIN generate_series(1, 5) g) t) x";

/// DBSCAN with an eps that puts every row within reach of every other: quadratic.
const QUADRATIC_DBSCAN: &str = "SELECT count(DISTINCT s) FROM (SELECT dbscan_segment(o.amount, \
     o.customer_id, 100.0, 5) OVER () AS s FROM orders o) x";

const STATEMENTS: [(&str, &str); 4] = [
    ("nested-loop join", NESTED_LOOP),
    ("large sort", LARGE_SORT),
    ("long k-means window", LONG_KMEANS),
    ("quadratic DBSCAN window", QUADRATIC_DBSCAN),
];

/// How long a statement runs before it is stopped: long enough to be deep in its work.
const RUNNING: Duration = Duration::from_millis(1500);

/// CPU time (user + system) the process has used, in clock ticks (1/100 s).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces): utime is
    // the 14th field of the line, stime the 15th.
    let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// Cores the process keeps busy over `window`.
fn cores_busy(pid: u32, window: Duration) -> f64 {
    let before = cpu_ticks(pid);
    std::thread::sleep(window);
    (cpu_ticks(pid) - before) as f64 / 100.0 / window.as_secs_f64()
}

async fn connect(server: &ServerProcess) -> (Client, tokio::task::JoinHandle<()>) {
    let (client, connection) = tokio_postgres::connect(&server.url(), NoTls)
        .await
        .expect("connect");
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    (client, task)
}

/// A new client logs in and gets `SELECT 1` and a catalog query answered within a second.
async fn served_meanwhile(server: &ServerProcess, what: &str) {
    let started = Instant::now();
    let answered = tokio::time::timeout(Duration::from_secs(5), async {
        let (client, task) = connect(server).await;
        let one = client.simple_query("SELECT 1").await.expect("SELECT 1");
        assert!(!one.is_empty());
        client
            .simple_query("SELECT count(*) FROM pg_catalog.pg_class")
            .await
            .expect("catalog query");
        drop(client);
        task.abort();
    })
    .await;
    let waited = started.elapsed();
    assert!(answered.is_ok(), "{what}: another client was not served");
    assert!(
        waited < Duration::from_secs(1),
        "{what}: another client waited {waited:?} to log in and get two answers"
    );
}

/// The server's CPU after a stop at `stopped_at`: measured over the second that ends two
/// seconds after it.
fn assert_cpu_released(pid: u32, stopped_at: Instant, what: &str) {
    let start = stopped_at + Duration::from_secs(1);
    if let Some(wait) = start.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
    let busy = cores_busy(pid, Duration::from_secs(1));
    assert!(
        busy < 0.3,
        "{what}: the server still kept {busy:.2} cores busy two seconds after the stop"
    );
}

fn sqlstate(error: &tokio_postgres::Error) -> String {
    error
        .as_db_error()
        .map(|e| format!("{} {}", e.code().code(), e.message()))
        .unwrap_or_else(|| error.to_string())
}

enum StopBy {
    Cancel,
    Timeout,
    Disconnect,
}

/// Runs `sql`, stops it `by` one means after [`RUNNING`], and checks the answer, the other
/// clients and the CPU.
async fn stop_one(server: &ServerProcess, name: &str, sql: &'static str, by: StopBy) {
    let (client, connection) = connect(server).await;
    if let StopBy::Timeout = by {
        client
            .batch_execute(&format!(
                "SET statement_timeout = '{}ms'",
                RUNNING.as_millis()
            ))
            .await
            .expect("SET");
    }
    let cancel = client.cancel_token();
    let started = Instant::now();
    let running = tokio::spawn(async move {
        let result = client.simple_query(sql).await;
        (result, Instant::now(), client)
    });
    tokio::time::sleep(RUNNING / 2).await;
    let busy = cores_busy(server.pid(), Duration::from_millis(300));
    served_meanwhile(server, &format!("{name} running")).await;
    tokio::time::sleep_until((started + RUNNING).into()).await;
    let what = match by {
        StopBy::Cancel => "cancel",
        StopBy::Timeout => "statement_timeout",
        StopBy::Disconnect => "client gone",
    };
    let what = format!("{name}, stopped by {what} (busy {busy:.2} cores before)");
    eprintln!("{what}");
    let stopped_at = Instant::now();
    match by {
        StopBy::Cancel => cancel.cancel_query(NoTls).await.expect("cancel request"),
        StopBy::Timeout => {}
        StopBy::Disconnect => {
            running.abort();
            connection.abort();
        }
    }
    if !matches!(by, StopBy::Disconnect) {
        let (result, answered_at, client) = running.await.expect("query task");
        let error = match result {
            Ok(_) => panic!("{what}: the statement finished instead of being stopped"),
            Err(e) => sqlstate(&e),
        };
        let expected = match by {
            StopBy::Timeout => "57014 canceling statement due to statement timeout",
            _ => "57014 canceling statement due to user request",
        };
        assert_eq!(error, expected, "{what}");
        let waited = answered_at.saturating_duration_since(stopped_at);
        assert!(
            waited < Duration::from_secs(1),
            "{what}: answered {waited:?} after the stop"
        );
        // The connection goes on serving.
        let next = client.simple_query("SELECT 41 + 1").await;
        assert!(next.is_ok(), "{what}: the connection is unusable: {next:?}");
        connection.abort();
    }
    let pid = server.pid();
    tokio::task::spawn_blocking(move || assert_cpu_released(pid, stopped_at, &what))
        .await
        .expect("cpu check");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("runtime")
}

#[test]
fn cancel_stops_work_that_never_yields() {
    let server = ServerProcess::start(demo_dir(), &[]);
    runtime().block_on(async {
        for (name, sql) in STATEMENTS {
            stop_one(&server, name, sql, StopBy::Cancel).await;
        }
    });
}

#[test]
fn statement_timeout_stops_work_that_never_yields() {
    let server = ServerProcess::start(demo_dir(), &[]);
    runtime().block_on(async {
        for (name, sql) in STATEMENTS {
            stop_one(&server, name, sql, StopBy::Timeout).await;
        }
    });
}

#[test]
fn a_client_that_goes_away_stops_its_work() {
    let server = ServerProcess::start(demo_dir(), &[]);
    runtime().block_on(async {
        for (name, sql) in STATEMENTS {
            stop_one(&server, name, sql, StopBy::Disconnect).await;
        }
    });
}

/// Two CPU-bound statements on both cores: new clients still log in and get answers at once.
#[test]
fn two_runaway_statements_lock_nobody_out() {
    let server = ServerProcess::start(demo_dir(), &[]);
    runtime().block_on(async {
        let mut running = Vec::new();
        for sql in [NESTED_LOOP, LONG_KMEANS] {
            let (client, connection) = connect(&server).await;
            let cancel = client.cancel_token();
            let task = tokio::spawn(async move { client.simple_query(sql).await.err() });
            running.push((cancel, task, connection));
        }
        tokio::time::sleep(RUNNING).await;
        let pid = server.pid();
        let busy = tokio::task::spawn_blocking(move || cores_busy(pid, Duration::from_millis(500)))
            .await
            .expect("cpu");
        assert!(
            busy > 1.0,
            "the two statements should keep the cores busy: {busy:.2}"
        );
        for round in 0..3 {
            served_meanwhile(&server, &format!("two runaway statements, round {round}")).await;
        }
        let stopped_at = Instant::now();
        for (cancel, task, connection) in running {
            cancel.cancel_query(NoTls).await.expect("cancel");
            let error = task.await.expect("task").expect("cancelled");
            assert_eq!(
                sqlstate(&error),
                "57014 canceling statement due to user request"
            );
            connection.abort();
        }
        tokio::task::spawn_blocking(move || assert_cpu_released(pid, stopped_at, "both cancelled"))
            .await
            .expect("cpu check");
    });
}

/// SIGTERM while a statement runs: the client is told 57P01 within a second, idle clients are
/// told too, and the process exits within a few seconds.
#[test]
fn sigterm_stops_running_statements_and_exits() {
    for (name, sql) in STATEMENTS {
        let mut server = ServerProcess::start(demo_dir(), &[]);
        runtime().block_on(async {
            let (idle, idle_connection) = connect(&server).await;
            idle.simple_query("SELECT 1")
                .await
                .expect("idle client works");
            let (client, connection) = connect(&server).await;
            let running = tokio::spawn(async move {
                let result = client.simple_query(sql).await;
                (result, Instant::now())
            });
            tokio::time::sleep(RUNNING).await;
            let stopped_at = Instant::now();
            server.terminate();
            let (result, answered_at) = running.await.expect("query task");
            let error = result.err().map(|e| sqlstate(&e));
            assert_eq!(
                error.as_deref(),
                Some("57P01 terminating connection due to administrator command"),
                "{name}"
            );
            let waited = answered_at.saturating_duration_since(stopped_at);
            assert!(
                waited < Duration::from_secs(1),
                "{name}: answered after {waited:?}"
            );
            // The idle client was told and its connection closed.
            let after = idle.simple_query("SELECT 1").await;
            assert!(after.is_err(), "{name}: the idle connection still works");
            idle_connection.abort();
            connection.abort();
        });
        let exited = server.wait_for_exit(Duration::from_secs(5));
        assert!(
            exited,
            "{name}: the server did not exit within 5 s of SIGTERM"
        );
    }
}

async fn show_statement_timeout(client: &Client) -> String {
    client
        .simple_query("SHOW statement_timeout")
        .await
        .expect("SHOW")
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .unwrap_or_default()
}

/// The server's defaults in `huaxiang.toml`: every session starts with the configured
/// `statement_timeout` (SHOW shows it, `SET … = 0` turns it off, RESET returns to it), and a
/// user's statements beyond `statements_per_user` wait their turn — within their timeout, and
/// cancellable while they wait — while session statements (`SET`, `SHOW`) never wait.
#[test]
fn configured_statement_timeout_and_turns_per_user() {
    let dir = crate::common::temp_dir();
    let config = dir.path().join("huaxiang.toml");
    std::fs::write(
        &config,
        "[server]\nstatement_timeout = \"2s\"\nstatements_per_user = 1\n",
    )
    .expect("write config");
    let server = ServerProcess::start(demo_dir(), &["--config", crate::common::path_str(&config)]);
    runtime().block_on(async {
        let (first, first_connection) = connect(&server).await;
        assert_eq!(show_statement_timeout(&first).await, "2s");
        let started = Instant::now();
        let error = first
            .simple_query(NESTED_LOOP)
            .await
            .expect_err("stopped by the configured timeout");
        assert_eq!(
            sqlstate(&error),
            "57014 canceling statement due to statement timeout"
        );
        let took = started.elapsed();
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_secs(3),
            "the configured timeout took {took:?}"
        );
        first
            .batch_execute("SET statement_timeout = 0")
            .await
            .expect("SET");
        assert_eq!(show_statement_timeout(&first).await, "0");
        first
            .batch_execute("RESET statement_timeout")
            .await
            .expect("RESET");
        assert_eq!(show_statement_timeout(&first).await, "2s");

        // The user's one turn is taken by a long statement...
        first
            .batch_execute("SET statement_timeout = 0")
            .await
            .expect("SET");
        let cancel_first = first.cancel_token();
        let long = tokio::spawn(async move { first.simple_query(NESTED_LOOP).await.err() });
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (second, second_connection) = connect(&server).await;
        // ...session statements do not wait for it...
        assert_eq!(show_statement_timeout(&second).await, "2s");
        // ...a query waits, and times out waiting...
        let started = Instant::now();
        let error = second
            .simple_query("SELECT 1")
            .await
            .expect_err("waits past its timeout");
        assert_eq!(
            sqlstate(&error),
            "57014 canceling statement due to statement timeout"
        );
        assert!(started.elapsed() >= Duration::from_secs(2));
        // ...or is cancelled while it waits.
        second
            .batch_execute("SET statement_timeout = 0")
            .await
            .expect("SET");
        let cancel_second = second.cancel_token();
        let waiting = tokio::spawn(async move {
            let result = second.simple_query("SELECT 1").await.err();
            (result, second)
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!waiting.is_finished(), "SELECT 1 did not wait for its turn");
        cancel_second.cancel_query(NoTls).await.expect("cancel");
        let (error, second) = waiting.await.expect("task");
        assert_eq!(
            error.map(|e| sqlstate(&e)).as_deref(),
            Some("57014 canceling statement due to user request")
        );
        // When the long statement ends, the turn is free again.
        cancel_first.cancel_query(NoTls).await.expect("cancel");
        let error = long.await.expect("task").expect("cancelled");
        assert_eq!(
            sqlstate(&error),
            "57014 canceling statement due to user request"
        );
        let answered =
            tokio::time::timeout(Duration::from_secs(2), second.simple_query("SELECT 1"))
                .await
                .expect("the turn is free")
                .expect("SELECT 1");
        assert!(!answered.is_empty());
        first_connection.abort();
        second_connection.abort();
    });
}
