//! Real clients against a real server process: psql, pgjdbc (DBeaver's and Metabase's driver)
//! and psycopg2. `.ci/run` installs them (postgresql-client, libpostgresql-jdbc-java, a venv).

use std::path::PathBuf;
use std::process::Command;

use super::common::{DEMO_CUSTOMERS, ServerProcess, demo_dir, psql, temp_dir};

/// What psql prints for a statement that fails, with the SQLSTATE (VERBOSITY=verbose).
fn psql_error(server: &ServerProcess, sql: &str) -> String {
    let out = psql(server, &["-v", "VERBOSITY=verbose", "-c", sql]);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "client failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn psql_lists_tables_describes_orders_and_streams_100k_rows() {
    let server = ServerProcess::start(demo_dir(), &[]);

    let dt = stdout(&psql(&server, &["-c", "\\dt"]));
    for table in [
        "customers",
        "orders",
        "order_items",
        "reviews",
        "crm_contacts",
    ] {
        assert!(dt.contains(table), "\\dt does not list {table}:\n{dt}");
    }

    let d = stdout(&psql(&server, &["-c", "\\d orders"]));
    for (column, pg_type) in [
        ("order_id", "bigint"),
        ("customer_id", "bigint"),
        ("order_ts", "timestamp with time zone"),
        ("amount", "numeric"),
        ("category", "text"),
        ("channel", "text"),
        ("store", "text"),
    ] {
        assert!(
            d.lines().any(|l| l.contains(column) && l.contains(pg_type)),
            "\\d orders does not show {column} as {pg_type}:\n{d}"
        );
    }

    // \dt+ shows each table's size in the data dir; \du the users.
    let dt_plus = stdout(&psql(&server, &["-c", "\\dt+"]));
    let orders = dt_plus
        .lines()
        .find(|l| l.contains("| orders "))
        .unwrap_or_else(|| panic!("\\dt+ does not list orders:\n{dt_plus}"));
    assert!(
        orders.contains(" kB ") || orders.contains(" MB "),
        "no size for orders: {orders}"
    );
    let du = stdout(&psql(&server, &["-c", "\\du"]));
    assert!(
        du.lines()
            .any(|l| l.contains("huaxiang") && l.contains("Superuser")),
        "{du}"
    );

    // \df lists our functions with their arguments and result types.
    let df = stdout(&psql(&server, &["-c", "\\df"]));
    for (name, result, arguments) in [
        ("mask_phone", "text", "text text"),
        (
            "rfm_segment",
            "text",
            "r_score bigint, f_score bigint, m_score bigint",
        ),
        ("rfm_score", "SETOF record", "query \"any\", as_of \"any\""),
        (
            "segment_agreement",
            "double precision",
            "labels_a text, labels_b text",
        ),
    ] {
        assert!(
            df.lines().any(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                cells.get(1) == Some(&name)
                    && cells.get(2) == Some(&result)
                    && cells.get(3) == Some(&arguments)
            }),
            "\\df does not list {name}({arguments}) -> {result}:\n{df}"
        );
    }
    // \df+ adds volatility, language and source (no SQL bodies: the source is the name).
    let df_plus = stdout(&psql(&server, &["-c", "\\df+ segment_agreement"]));
    assert!(
        df_plus.lines().any(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            cells.get(1) == Some(&"segment_agreement")
                && cells.contains(&"internal")
                && cells.get(11) == Some(&"segment_agreement")
        }),
        "{df_plus}"
    );

    let rows = stdout(&psql(
        &server,
        &[
            "-At",
            "-c",
            "SELECT order_id, customer_id, amount FROM orders ORDER BY order_id LIMIT 100000",
        ],
    ));
    assert_eq!(rows.lines().count(), 100_000);
    let first: Vec<&str> = rows.lines().next().unwrap_or_default().split('|').collect();
    assert_eq!(first.first(), Some(&"1000001"));

    // The same aggregate over the wire and in-process agree.
    let wire = stdout(&psql(
        &server,
        &[
            "-At",
            "-c",
            "SELECT count(DISTINCT customer_id), sum(amount) FROM orders",
        ],
    ));
    let local = super::common::sql_csv(
        demo_dir(),
        "SELECT count(DISTINCT customer_id) AS c, sum(amount) AS s FROM orders",
    );
    let local = local.lines().nth(1).unwrap_or_default().replace(',', "|");
    assert_eq!(wire.trim(), local.trim());
    let customers: usize = wire
        .split('|')
        .next()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    assert!(
        customers > DEMO_CUSTOMERS * 8 / 10,
        "only {customers} customers have orders"
    );
}

#[test]
fn psql_error_then_next_query_on_the_same_connection_works() {
    let server = ServerProcess::start(demo_dir(), &[]);
    // Without ON_ERROR_STOP psql goes on after an error, on the same connection.
    let out = Command::new("psql")
        .arg(server.url())
        .args(["-X", "-At", "-v", "VERBOSITY=verbose"])
        .args([
            "-c",
            "SELECT * FROM no_such_table",
            "-c",
            "SELECT count(*) FROM customers",
        ])
        .output()
        .expect("psql");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("42P01"), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        DEMO_CUSTOMERS.to_string()
    );
}

#[test]
fn psql_wrong_password_is_refused_with_28p01() {
    let server = ServerProcess::start(demo_dir(), &[]);
    let out = Command::new("psql")
        .arg(format!(
            "postgresql://huaxiang:wrong@127.0.0.1:{}/huaxiang",
            server.port
        ))
        .args(["-X", "-c", "SELECT 1"])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("password authentication failed"),
        "{stderr}"
    );
}

/// The client programs the smoke tests run (`tests/clients/smoke`).
fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/smoke")
}

#[test]
fn pgjdbc_lists_tables_and_runs_prepared_statements() {
    let jar = std::env::var("HUAXIANG_PGJDBC_JAR")
        .unwrap_or_else(|_| "/usr/share/java/postgresql.jar".to_string());
    assert!(
        std::path::Path::new(&jar).exists(),
        "pgjdbc not found at {jar} (apt-get install libpostgresql-jdbc-java)"
    );
    let server = ServerProcess::start(demo_dir(), &[]);
    let out = Command::new("java")
        .args(["-cp", &jar])
        .arg(clients_dir().join("JdbcSmoke.java"))
        .arg(format!(
            "jdbc:postgresql://127.0.0.1:{}/huaxiang",
            server.port
        ))
        .output()
        .expect("java must be installed");
    let text = stdout(&out);
    assert!(text.contains("ALL OK"), "{text}");
}

/// Runs a Python client program of `tests/clients/smoke/` against a demo server; it prints ALL OK.
fn python_client_passes(script: &str) {
    let python = super::reference::python();
    let server = ServerProcess::start(demo_dir(), &[]);
    let out = Command::new(&python)
        .arg(clients_dir().join(script))
        .arg(server.url())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} ({e}); .ci/run creates the venv"));
    let text = stdout(&out);
    assert!(text.contains("ALL OK"), "{text}");
}

#[test]
fn psycopg2_runs_a_parameterised_query() {
    python_client_passes("psycopg2_smoke.py");
}

/// Superset's path: SQLAlchemy 2 reflects every table and a view (columns with PostgreSQL
/// types, keys, indexes, constraints, comments) without error.
#[test]
fn sqlalchemy_reflects_every_table_as_superset_does() {
    python_client_passes("sqlalchemy_reflection.py");
}

/// `SET` belongs to the connection that ran it, as in PostgreSQL; tables created on one
/// connection are seen by the next.
#[test]
fn settings_belong_to_one_connection_and_tables_to_all() {
    let dir = super::common::temp_dir();
    let server = ServerProcess::start(dir.path(), &[]);
    let own = stdout(&psql(
        &server,
        &[
            "-At",
            "-c",
            "SET datafusion.execution.batch_size = 123",
            "-c",
            "SHOW datafusion.execution.batch_size",
            "-c",
            "CREATE TABLE shared_t AS SELECT 1 AS x",
        ],
    ));
    assert!(own.lines().any(|l| l == "123"), "{own}");
    let other = stdout(&psql(
        &server,
        &[
            "-At",
            "-c",
            "SHOW datafusion.execution.batch_size",
            "-c",
            "SELECT x FROM shared_t",
            "-c",
            "SHOW server_version",
        ],
    ));
    assert!(
        other.lines().any(|l| l == "8192"),
        "another connection sees the SET:\n{other}"
    );
    assert!(other.lines().any(|l| l == "1"), "{other}");
    assert!(other.contains("16.6 (huaxiang"), "{other}");
}

/// `statement_timeout` stops a query while its rows are being computed (57014), and the
/// connection goes on serving.
#[test]
fn statement_timeout_cancels_a_long_query_with_57014() {
    let server = ServerProcess::start(demo_dir(), &[]);
    let out = psql(
        &server,
        &[
            "-At",
            "-c",
            "SET statement_timeout = '200ms'",
            "-c",
            "SELECT count(*) FROM orders a JOIN orders b ON a.customer_id = b.customer_id \
             JOIN orders c ON b.customer_id = c.customer_id",
            "-c",
            "SELECT 41 + 1",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        stderr.contains("canceling statement due to statement timeout"),
        "{stderr}\n{printed}"
    );
    // psql -c stops at the first error; the same server still answers.
    let next = stdout(&psql(&server, &["-At", "-c", "SELECT 41 + 1"]));
    assert_eq!(next.trim(), "42");
}

/// A CancelRequest (psql's Ctrl-C, psycopg2's `cancel()`) stops the running query with 57014
/// within a second, and the connection goes on serving.
#[test]
fn a_cancel_request_stops_the_running_query() {
    python_client_passes("cancel.py");
}

/// The segmentation functions over the wire: the window and table forms agree, and a bad
/// argument is an error with its SQLSTATE on a connection that stays usable.
#[test]
fn psql_runs_kmeans_and_gets_sqlstates_for_bad_arguments() {
    let server = ServerProcess::start(demo_dir(), &[]);
    let stats = "SELECT customer_id, count(*) AS orders, sum(amount) AS spend FROM orders GROUP BY customer_id";
    let out = stdout(&psql(
        &server,
        &[
            "-At",
            "-c",
            &format!(
                "SELECT count(*) FROM (SELECT customer_id, kmeans_segment(orders, spend, 3) OVER () AS s FROM ({stats})) w \
                 JOIN kmeans_segment('{}', 3) t USING (customer_id) WHERE w.s = t.segment",
                stats.replace('\'', "''")
            ),
            "-c",
            &format!("SELECT count(*) FROM ({stats})"),
        ],
    ));
    let counts: Vec<&str> = out.lines().collect();
    assert_eq!(counts.len(), 2, "{out}");
    assert_eq!(
        counts[0], counts[1],
        "window and table forms disagree:\n{out}"
    );

    let stderr = psql_error(
        &server,
        "SELECT kmeans_segment(orders, 0) OVER () FROM (SELECT 1.0 AS orders)",
    );
    assert!(stderr.contains("22023"), "{stderr}");
    assert!(stderr.contains("kmeans_segment: k must be"), "{stderr}");
}

/// Churn and CLV over the wire: `clv` from raw orders, a model trained in one connection and
/// scored in another, and a bad feature count as 22023.
#[test]
fn psql_trains_and_scores_churn_models_and_runs_clv() {
    let dir = temp_dir();
    let server = ServerProcess::start(dir.path(), &[]);
    let out = stdout(&psql(
        &server,
        &[
            "-At",
            "-c",
            "CREATE TABLE h AS SELECT value AS x, CASE WHEN value % 10 > 4 THEN 1 ELSE 0 END AS label \
             FROM generate_series(1, 200)",
            "-c",
            "SELECT model, rows FROM train_model('wire_churn', 'logistic', 'SELECT x % 10 AS x, label FROM h')",
            "-c",
            "CREATE TABLE o AS SELECT value % 20 AS customer_id, \
             to_timestamp(1767225600 + ((value * 13) % 300) * 86400) AS order_ts, 10.0 + value % 7 AS amount \
             FROM generate_series(1, 400)",
            "-c",
            "SELECT count(*), bool_and(p_alive BETWEEN 0 AND 1) FROM clv('o', DATE '2026-12-31', 30)",
        ],
    ));
    assert_eq!(
        out.lines()
            .filter(|l| !l.starts_with("SELECT"))
            .collect::<Vec<_>>(),
        vec!["wire_churn|200", "20|t"],
        "{out}"
    );
    let scored = stdout(&psql(
        &server,
        &[
            "-At",
            "-c",
            "SELECT churn_prob('wire_churn', 9) > 0.5, churn_prob('wire_churn', 0) < 0.5",
        ],
    ));
    assert_eq!(scored.trim(), "t|t");
    let stderr = psql_error(&server, "SELECT churn_prob('wire_churn', 1, 2)");
    assert!(stderr.contains("22023"), "{stderr}");
    assert!(stderr.contains("takes 1 features (x)"), "{stderr}");
}

/// Sentiment and topics over the wire: Chinese text survives the protocol both ways, arrays
/// of topics arrive as PostgreSQL text arrays, and a wrong argument is 42804.
#[test]
fn psql_tags_reviews_with_sentiment_and_topics() {
    let dir = temp_dir();
    let server = ServerProcess::start(dir.path(), &[]);
    let out = stdout(&psql(
        &server,
        &[
            "-At",
            "-c",
            "CREATE TABLE r (id INT, body TEXT)",
            "-c",
            "INSERT INTO r VALUES (1, '物流很快，客服态度非常好👍'), (2, '質量太差，退款一直不到賬'), \
             (3, 'Great quality, fast shipping!'), (4, NULL)",
            "-c",
            "SELECT id, sentiment_tag(body), sentiment_tag(body, 0.05, 'cn'), text_topics(body) \
             FROM r ORDER BY id",
        ],
    ));
    assert_eq!(
        out.lines()
            .filter(|l| !l.starts_with("CREATE") && !l.starts_with("INSERT"))
            .collect::<Vec<_>>(),
        vec![
            "1|positive|正面|{logistics,service}",
            "2|negative|负面|{quality,refund_return}",
            "3|positive|正面|{logistics,quality}",
            "4|||",
        ],
        "{out}"
    );
    let stderr = psql_error(&server, "SELECT sentiment_score(42)");
    assert!(stderr.contains("42804"), "{stderr}");
}

/// Cleaning and identity resolution over the wire: full-width digits and Chinese names survive
/// the protocol, person ids come back, the members list is a PostgreSQL text array, and a bad
/// region or a duplicate record key is 22023 naming the problem.
#[test]
fn psql_cleans_and_links_customer_records() {
    let dir = temp_dir();
    let server = ServerProcess::start(dir.path(), &[]);
    let out = stdout(&psql(
        &server,
        &[
            "-At",
            "-c",
            "CREATE TABLE c (src TEXT, id TEXT, name TEXT, phone TEXT, email TEXT)",
            "-c",
            "INSERT INTO c VALUES ('shop', '1', '宋杰洋', '１３８１２３４５６７８', 'song@qq.com'), \
             ('crm', 'A', '宋 杰洋', '0086-138-1234-5678', NULL), ('crm', 'B', '李娜', NULL, ' SONG@QQ.COM')",
            "-c",
            "SELECT src, id, normalize_text(name), normalize_phone(phone), normalize_email(email) \
             FROM c ORDER BY src, id",
            "-c",
            "SELECT person_id, records, members FROM identity_persons('SELECT src, id, \
             normalize_phone(phone) AS phone, normalize_email(email) AS email FROM c')",
        ],
    ));
    assert_eq!(
        out.lines()
            .filter(|l| !l.starts_with("CREATE") && !l.starts_with("INSERT"))
            .collect::<Vec<_>>(),
        vec![
            "crm|A|宋杰洋|+8613812345678|",
            "crm|B|李娜||song@qq.com",
            "shop|1|宋杰洋|+8613812345678|song@qq.com",
            "crm:A|3|{crm:A,crm:B,shop:1}",
        ],
        "{out}"
    );
    let stderr = psql_error(&server, "SELECT normalize_phone('138', 'XX')");
    assert!(
        stderr.contains("22023") && stderr.contains("unknown region"),
        "{stderr}"
    );
    let stderr = psql_error(
        &server,
        "SELECT * FROM resolve_identities('SELECT ''a'' AS s, ''1'' AS id, ''p'' AS phone \
         UNION ALL SELECT ''a'', ''1'', ''q''')",
    );
    assert!(
        stderr.contains("22023") && stderr.contains("more than once"),
        "{stderr}"
    );
}

/// `COPY … TO STDOUT` as psql's `\copy` and psycopg2's `copy_expert` send it: CSV with a header
/// equal to `huaxiang sql --format csv` on the same query, the text format's NULLs and escapes,
/// and COPY FROM STDIN / binary are clear refusals.
#[test]
fn copy_to_stdout_streams_csv_and_text() {
    let mut server = ServerProcess::start(demo_dir(), &[]);
    let query =
        "SELECT customer_id, name, city, signup_date FROM customers ORDER BY customer_id LIMIT 50";
    let out = psql(
        &server,
        &["-c", &format!("\\copy ({query}) to stdout with csv header")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        super::common::sql_csv(demo_dir(), query)
    );
    let out = psql(
        &server,
        &[
            "-c",
            "COPY (SELECT 1 AS a, NULL AS b, concat('x', chr(9), 'y\\z') AS c, 1 < 2 AS t, \
             'a,b' AS d) TO STDOUT",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1\t\\N\tx\\ty\\\\z\tt\ta,b\n"
    );
    let out = psql(
        &server,
        &[
            "-c",
            "COPY (SELECT NULL AS a, '' AS b, 'say \"hi\"' AS c) TO STDOUT WITH (FORMAT csv)",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        ",\"\",\"say \"\"hi\"\"\"\n"
    );
    // The whole of orders, as a table name with columns.
    let out = psql(&server, &["-c", "COPY orders (order_id, amount) TO STDOUT"]);
    let count = super::common::sql_csv(demo_dir(), "SELECT count(*) FROM orders");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .count()
            .to_string(),
        count.lines().nth(1).unwrap()
    );
    for (sql, code) in [
        ("COPY orders TO STDOUT WITH (FORMAT binary)", "0A000"),
        ("COPY no_such_table TO STDOUT", "42P01"),
    ] {
        let out = psql(&server, &["-v", "VERBOSITY=verbose", "-c", sql]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(code), "{sql}: {err}");
    }
    // psycopg2's copy_expert, the path pandas users take.
    let script = "import sys, io, psycopg2\n\
                  c = psycopg2.connect(sys.argv[1]); b = io.StringIO()\n\
                  c.cursor().copy_expert('COPY (SELECT city, count(*) AS n FROM customers GROUP BY city ORDER BY city) TO STDOUT WITH CSV HEADER', b)\n\
                  print(b.getvalue(), end='')";
    let out = std::process::Command::new(super::reference::python())
        .args(["-c", script, &server.url()])
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        super::common::sql_csv(
            demo_dir(),
            "SELECT city, count(*) AS n FROM customers GROUP BY city ORDER BY city"
        )
    );
    assert!(server.is_running());
}

/// `COPY … FROM STDIN` as psql's `\\copy … from` and psycopg2's `copy_expert` send it: CSV with
/// a header (quotes, embedded delimiters, empty fields as NULL), the text format's escapes, a
/// column list (other columns NULL), one atomic append per COPY; bad values, NOT NULL and a
/// missing table are errors that leave the table as it was.
#[test]
fn copy_from_stdin_appends_csv_and_text() {
    let dir = temp_dir();
    let server = ServerProcess::start(dir.path(), &[]);
    let csv = dir.path().join("people.csv");
    std::fs::write(
        &csv,
        "id,name,spend,joined\n1,宋杰洋,12.50,2025-01-02\n2,\"Lee, Ann\",,2025-02-03\n\
         3,\"say \"\"hi\"\"\",7,2025-03-04\n",
    )
    .unwrap();
    let run = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = Command::new("psql")
            .arg(server.url())
            .args([
                "-X",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-v",
                "VERBOSITY=verbose",
            ])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("psql");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, _, err) = run(
        &[
            "-c",
            "CREATE TABLE people (id BIGINT NOT NULL, name TEXT, spend NUMERIC(10,2), joined DATE)",
            "-c",
            &format!("\\copy people from '{}' with csv header", csv.display()),
        ],
        "",
    );
    assert!(ok, "{err}");
    let (ok, _, err) = run(
        &["-c", "\\copy people from stdin"],
        "4\tx\\ty\t\\N\t2025-04-05\n",
    );
    assert!(ok, "{err}");
    let (ok, _, err) = run(
        &["-c", "\\copy people (id, name) from stdin"],
        "5\tonly two\n",
    );
    assert!(ok, "{err}");
    let (_, out, _) = run(
        &[
            "-c",
            "SELECT id, name, spend, joined FROM people ORDER BY id",
        ],
        "",
    );
    assert_eq!(
        out,
        "1|宋杰洋|12.50|2025-01-02\n2|Lee, Ann||2025-02-03\n3|say \"hi\"|7.00|2025-03-04\n\
         4|x\ty||2025-04-05\n5|only two||\n"
    );
    // Errors leave the table as it was: a bad number, a NULL in a NOT NULL column, no table.
    for (args, stdin, code) in [
        (
            vec!["-c", "\\copy people from stdin"],
            "6\tbad\tnotanumber\t2025-04-05\n7\tok\t1\t2025-01-01\n",
            "22P02",
        ),
        (
            vec!["-c", "\\copy people (id, name) from stdin"],
            "\\N\tnobody\n",
            "23502",
        ),
        (vec!["-c", "\\copy people from stdin"], "1\t2\n", "22P02"),
        (vec!["-c", "\\copy nothere from stdin"], "1\n", "42P01"),
        (
            vec!["-c", "\\copy people (id, nope) from stdin"],
            "1\tx\n",
            "42703",
        ),
    ] {
        let (ok, _, err) = run(&args, stdin);
        assert!(!ok && err.contains(code), "{args:?}: {err}");
    }
    let (_, out, _) = run(&["-c", "SELECT count(*) FROM people"], "");
    assert_eq!(out.trim(), "5");
    // psycopg2's copy_expert, as pandas users load a frame.
    let script = "import sys, io, psycopg2\n\
                  c = psycopg2.connect(sys.argv[1]); c.autocommit = True\n\
                  c.cursor().copy_expert('COPY people (id, name) FROM STDIN WITH (FORMAT csv)', io.StringIO('10,ten\\n11,eleven\\n'))\n\
                  cur = c.cursor(); cur.execute('SELECT count(*) FROM people WHERE id >= 10'); print(cur.fetchone()[0])";
    let out = Command::new(super::reference::python())
        .args(["-c", script, &server.url()])
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
}

/// pgcli's completion: its own refresher's catalog queries fill its completer, which then
/// offers the tables, views, columns, schemas and functions.
#[test]
fn pgcli_completion_offers_tables_columns_and_functions() {
    python_client_passes("pgcli_completion.py");
}

/// `SELECT set_config(…)` (pg_dump, ORMs) sets the connection's setting as SET does; the user
/// functions answer who logged in.
#[test]
fn set_config_sets_and_session_user_is_the_login() {
    let dir = super::common::temp_dir();
    let server = ServerProcess::start(dir.path(), &[]);
    let out = stdout(&psql(
        &server,
        &[
            "-At",
            "-c",
            "SELECT pg_catalog.set_config('datafusion.execution.batch_size', '321', false)",
            "-c",
            "SHOW datafusion.execution.batch_size",
            "-c",
            "SELECT session_user, current_user, user",
        ],
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, ["321", "321", "huaxiang|huaxiang|huaxiang"], "{out}");
    let refused = psql(
        &server,
        &[
            "-c",
            "SELECT upper(set_config('datafusion.execution.batch_size', '5', false))",
        ],
    );
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(
        text.contains("set_config is supported as a statement of its own"),
        "{text}"
    );
}
