//! Live database sources against real servers: a PostgreSQL 15 and a MariaDB started here from
//! the Debian packages on loopback, loaded with a few thousand rows, queried through huaxiang
//! (in place, joined with a local table, filters pushed down as `EXPLAIN` shows), snapshotted
//! with CREATE TABLE AS, and the errors of a wrong password, an unknown source, a missing table
//! and an unreachable host — none of which may show the password.

use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::common::{ServerProcess, path_str, psql, psql_as, run, sql_csv, temp_dir};
use super::realdb::{
    self, DbServer, command_as, db_dir, free_port, is_root, pg_local, server_group, wait_until,
};

const PG_PASSWORD: &str = "pg-Secret-4417";
const MARIA_PASSWORD: &str = "maria-Secret-9921";
const ROWS: usize = 3000;

/// A PostgreSQL 15 with password login for `postgres` and a table `crm.people` of ROWS rows.
fn start_postgres() -> DbServer {
    let server = realdb::start_postgres(PG_PASSWORD);
    let local = |sql: &str| pg_local(&server, sql);
    let out = local(&format!(
        "CREATE SCHEMA crm;
         CREATE TABLE crm.people (id int PRIMARY KEY, name text, phone text, city text,
                                  spend numeric(10,2), joined date);
         INSERT INTO crm.people
           SELECT i, 'person ' || i, '1380000' || lpad(i::text, 4, '0'),
                  (ARRAY['上海','北京','杭州'])[1 + i % 3], (i % 500) * 1.5,
                  DATE '2024-01-01' + i % 700
           FROM generate_series(1, {ROWS}) i;"
    ));
    assert!(
        out.status.success(),
        "loading PostgreSQL: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    server
}

/// A MariaDB with a user `shop` (password login) and a table `erp.orders` of ROWS rows.
fn start_mariadb() -> DbServer {
    let dir = db_dir("mysql");
    let data = dir.path().join("data");
    let out = command_as("mysql", "mariadb-install-db")
        .args(["--no-defaults", "--skip-test-db"])
        .arg(format!("--datadir={}", path_str(&data)))
        .arg("--auth-root-authentication-method=socket")
        .output()
        .expect("mariadb-install-db (install the Debian package mariadb-server)");
    assert!(
        out.status.success(),
        "mariadb-install-db: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    let socket = dir.path().join("sock");
    let child = server_group(command_as("mysql", "/usr/sbin/mariadbd"))
        .arg("--no-defaults")
        .arg(format!("--datadir={}", path_str(&data)))
        .arg(format!("--socket={}", path_str(&socket)))
        .arg(format!("--port={port}"))
        .arg(format!("--pid-file={}", path_str(&dir.path().join("pid"))))
        .args(["--bind-address=127.0.0.1", "--skip-log-error"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mariadbd");
    let server = DbServer { child, port, dir };
    let local = |sql: &str| maria_local(&server, sql);
    wait_until("MariaDB", || local("SELECT 1").status.success());
    let out = local(&format!(
        "CREATE DATABASE erp CHARACTER SET utf8mb4;
         CREATE USER 'shop'@'%' IDENTIFIED BY '{MARIA_PASSWORD}';
         GRANT SELECT ON erp.* TO 'shop'@'%';
         CREATE TABLE erp.orders (order_id INT PRIMARY KEY, person_id INT, amount DECIMAL(10,2),
                                  channel VARCHAR(20), ordered_at DATETIME);
         USE erp;
         INSERT INTO erp.orders
           SELECT seq, 1 + (seq * 7) % 2999, (seq % 97) * 2.5,
                  ELT(1 + seq % 3, '门店', 'app', 'web'),
                  TIMESTAMP '2025-01-01 00:00:00' + INTERVAL seq MINUTE
           FROM seq_1_to_{ROWS};"
    ));
    assert!(
        out.status.success(),
        "loading MariaDB: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    server
}

/// Runs `sql` in the MariaDB as its administrator, over its Unix socket.
fn maria_local(server: &DbServer, sql: &str) -> std::process::Output {
    let user = if is_root() {
        "mysql".to_string()
    } else {
        whoami()
    };
    command_as("mysql", "mariadb")
        .args(["--no-defaults", "-u", &user])
        .arg(format!(
            "--socket={}",
            path_str(&server.dir.path().join("sock"))
        ))
        .args(["-e", sql])
        .output()
        .expect("mariadb client")
}

fn whoami() -> String {
    std::env::var("USER").unwrap_or_else(|_| "root".to_string())
}

/// huaxiang.toml declaring both sources (and, when given, users).
fn write_config(dir: &Path, pg: u16, maria: u16, pg_password: &str, users: &str) {
    write_config_with(dir, pg, maria, pg_password, users, free_port());
}

fn write_config_with(dir: &Path, pg: u16, maria: u16, pg_password: &str, users: &str, silent: u16) {
    std::fs::create_dir_all(dir).unwrap();
    let unreachable = free_port();
    std::fs::write(
        dir.join("huaxiang.toml"),
        format!(
            r#"{users}
[sources.crm]
kind = "postgres"
host = "127.0.0.1"
port = {pg}
database = "postgres"
user = "postgres"
password = "{pg_password}"
sslmode = "disable"

[sources.erp]
kind = "mysql"
host = "127.0.0.1"
port = {maria}
database = "erp"
user = "shop"
password = "{MARIA_PASSWORD}"
sslmode = "disabled"

[sources.gone]
kind = "postgres"
host = "127.0.0.1"
port = {unreachable}
database = "x"
user = "x"
password = "x"
sslmode = "disable"
connect_timeout_secs = 3

[sources.silent]
kind = "mysql"
host = "127.0.0.1"
port = {silent}
database = "x"
user = "x"
sslmode = "disabled"
connect_timeout_secs = 2
"#
        ),
    )
    .unwrap();
}

/// `huaxiang sql` that must fail; returns its stderr.
fn sql_error(data_dir: &Path, sql: &str) -> String {
    let out = run(&["sql", "--data-dir", path_str(data_dir), "-c", sql]);
    assert!(!out.status.success(), "expected an error from {sql}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn postgres_and_mariadb_tables_are_queried_in_place() {
    let (pg, maria) = std::thread::scope(|s| {
        let pg = s.spawn(start_postgres);
        let maria = s.spawn(start_mariadb);
        (pg.join().unwrap(), maria.join().unwrap())
    });
    let home = temp_dir();
    let dir = home.path().join("data");
    write_config(&dir, pg.port, maria.port, PG_PASSWORD, "");

    // Declared once; the catalog keeps only the DDL (no password), replayed at every start.
    let out = sql_csv(
        &dir,
        "CREATE EXTERNAL TABLE crm_people STORED AS POSTGRES LOCATION 'crm.people' \
           OPTIONS ('connection' 'crm');
         CREATE EXTERNAL TABLE erp_orders STORED AS MYSQL LOCATION 'orders' \
           OPTIONS ('connection' 'erp');
         CREATE TABLE local_tiers AS SELECT * FROM (VALUES ('上海', 'A'), ('北京', 'B')) t(city, tier);
         SELECT count(*), sum(spend), min(joined) FROM crm_people;",
    );
    // Σ (i mod 500) × 1.5 over i = 1..3000 = 6 × 1.5 × (0 + … + 499).
    assert!(out.ends_with("\n3000,1122750.00,2024-01-01\n"), "{out}");
    let catalog = std::fs::read_to_string(dir.join("catalog.json")).unwrap();
    assert!(catalog.contains("crm_people") && !catalog.contains(PG_PASSWORD));

    // MariaDB rows, a filter, a join across both sources and a local table.
    let out = sql_csv(
        &dir,
        "SELECT p.city, t.tier, count(*) AS orders, sum(o.amount) AS amount
         FROM erp_orders o JOIN crm_people p ON p.id = o.person_id
         LEFT JOIN local_tiers t ON t.city = p.city
         WHERE o.channel = 'app'
         GROUP BY p.city, t.tier ORDER BY p.city",
    );
    // The same numbers computed here from the generators' formulas.
    let mut expected = std::collections::BTreeMap::<&str, (usize, f64)>::new();
    for seq in 1..=ROWS {
        if (1 + seq % 3) != 2 {
            continue;
        }
        let person = 1 + (seq * 7) % 2999;
        let city = ["上海", "北京", "杭州"][person % 3];
        let e = expected.entry(city).or_default();
        e.0 += 1;
        e.1 += (seq % 97) as f64 * 2.5;
    }
    for (city, (count, amount)) in &expected {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{city},")))
            .unwrap_or_else(|| panic!("no row for {city} in {out}"));
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[2], count.to_string(), "{line}");
        assert!(
            (cells[3].parse::<f64>().unwrap() - amount).abs() < 1e-6,
            "{line} vs {amount}"
        );
    }
    assert!(out.contains("上海,A,") && out.contains("杭州,,"), "{out}");

    // The WHERE reaches each source as SQL.
    let plan = sql_csv(
        &dir,
        "EXPLAIN SELECT name FROM crm_people WHERE city = '杭州' AND spend > 100",
    );
    assert!(
        plan.contains("Exec sql=SELECT") && plan.contains("WHERE") && plan.contains("杭州"),
        "{plan}"
    );
    let plan = sql_csv(
        &dir,
        "EXPLAIN SELECT amount FROM erp_orders WHERE channel = 'web'",
    );
    assert!(
        plan.contains("Exec sql=SELECT") && plan.contains("WHERE") && plan.contains("'web'"),
        "{plan}"
    );

    // A durable snapshot.
    let out = sql_csv(
        &dir,
        "CREATE TABLE people_snapshot AS SELECT * FROM crm_people WHERE city = '北京';
         SELECT count(*) FROM people_snapshot;",
    );
    assert!(out.trim_end().ends_with("1000"), "{out}");

    // Errors: unknown source, wrong kind, missing table, credentials in SQL.
    for (kind, location, options, expected) in [
        (
            "POSTGRES",
            "a",
            "'connection' 'nope'",
            &["42704", "nope", "crm, erp, gone"][..],
        ),
        (
            "POSTGRES",
            "orders",
            "'connection' 'erp'",
            &["22023", "STORED AS MYSQL"][..],
        ),
        (
            "POSTGRES",
            "crm.nobody",
            "'connection' 'crm'",
            &["42P01", "crm.nobody"][..],
        ),
        (
            "POSTGRES",
            "crm.people",
            "'connection' 'crm', 'pass' 'x'",
            &["22023", "never in SQL"][..],
        ),
    ] {
        let e = sql_error(
            &dir,
            &format!(
                "CREATE EXTERNAL TABLE x STORED AS {kind} LOCATION '{location}' OPTIONS ({options})"
            ),
        );
        assert!(expected.iter().all(|w| e.contains(w)), "{expected:?}: {e}");
    }

    // An unreachable source fails within its timeout.
    let started = Instant::now();
    let e = sql_error(
        &dir,
        "CREATE EXTERNAL TABLE x STORED AS POSTGRES LOCATION 'a' OPTIONS ('connection' 'gone')",
    );
    assert!(e.contains("08001") && e.contains("gone"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(30));
    // A source that accepts the connection and never answers: the timeout ends the wait.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    write_config_with(
        &dir,
        pg.port,
        maria.port,
        PG_PASSWORD,
        "",
        silent.local_addr().unwrap().port(),
    );
    let started = Instant::now();
    let e = sql_error(
        &dir,
        "CREATE EXTERNAL TABLE x STORED AS MYSQL LOCATION 'a' OPTIONS ('connection' 'silent')",
    );
    assert!(
        e.contains("08001") && e.contains("no answer within 2 s"),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    drop(silent);

    // Over the wire: the same tables, and a non-admin may query but not declare sources.
    let admin = huaxiang::access::verifier::make_verifier("admin-pw");
    let analyst = huaxiang::access::verifier::make_verifier("analyst-pw");
    write_config(
        &dir,
        pg.port,
        maria.port,
        PG_PASSWORD,
        &format!(
            "[users.boss]\npassword = \"{admin}\"\nadmin = true\n\n\
             [users.ana]\npassword = \"{analyst}\"\nadmin = false\n"
        ),
    );
    let server = ServerProcess::start(&dir, &[]);
    let ask = |user: &str, pw: &str, sql: &str| psql_as(&server, user, pw, sql);
    let out = ask(
        "boss",
        "admin-pw",
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO PUBLIC",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ask(
        "ana",
        "analyst-pw",
        "SELECT count(*) FROM erp_orders WHERE amount > 100",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = (1..=ROWS).filter(|s| (s % 97) as f64 * 2.5 > 100.0).count();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        expected.to_string()
    );
    let out = ask(
        "ana",
        "analyst-pw",
        "CREATE EXTERNAL TABLE y STORED AS POSTGRES LOCATION 'crm.people' OPTIONS ('connection' 'crm')",
    );
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("42501"), "{e}");
    let out = ask(
        "boss",
        "admin-pw",
        "CREATE EXTERNAL TABLE y STORED AS POSTGRES LOCATION 'crm.people' OPTIONS ('connection' 'crm')",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The source's table changes shape under the running server: a clear error naming the
    // column, the server goes on; a new process sees the new shape.
    let out = pg_local(&pg, "ALTER TABLE crm.people RENAME COLUMN city TO town");
    assert!(out.status.success());
    let out = ask(
        "ana",
        "analyst-pw",
        "SELECT count(*) FROM crm_people WHERE city = '上海'",
    );
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && e.contains("ERROR:  42703: the source database answered")
            && e.contains("people.city does not exist"),
        "{e}"
    );
    let out = ask("ana", "analyst-pw", "SELECT count(*) FROM erp_orders");
    assert!(out.status.success());
    let out = maria_local(
        &maria,
        "ALTER TABLE erp.orders RENAME COLUMN channel TO via",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ask(
        "ana",
        "analyst-pw",
        "SELECT count(*) FROM erp_orders WHERE channel = 'app'",
    );
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && e.contains("ERROR:  42703: the source database answered")
            && e.contains("Unknown column 'orders.channel' in 'WHERE'\n"),
        "{e}"
    );
    drop(server);
    let out = sql_csv(&dir, "SELECT count(*) FROM crm_people WHERE town = '上海'");
    assert!(out.trim_end().ends_with("1000"), "{out}");

    // A source that refuses the login: the error names the source, never the password.
    write_config(&dir, pg.port, maria.port, "wrong-Password-77", "");
    let e = sql_error(&dir, "SELECT count(*) FROM crm_people");
    assert!(e.contains("crm") && !e.contains("wrong-Password-77"), "{e}");
    let server = ServerProcess::start(&dir, &[]);
    let out = psql(&server, &["-c", "SELECT count(*) FROM crm_people"]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && !e.contains("wrong-Password-77"),
        "{e}"
    );
    // The other tables and sources keep working.
    let out = psql(
        &server,
        &["-A", "-t", "-c", "SELECT count(*) FROM erp_orders"],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        ROWS.to_string()
    );
}
