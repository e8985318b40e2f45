//! Bad input: every case gets a clear error (or a closed connection) and the server goes on
//! serving everyone else.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::common::{BIN, ServerProcess, demo_dir, path_str, psql, run, temp_dir};

fn healthy(server: &ServerProcess) {
    let out = psql(server, &["-At", "-c", "SELECT 1"]);
    assert!(
        out.status.success(),
        "server stopped serving: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
}

/// Sends raw bytes and reads until the server closes the connection (or a timeout).
fn raw_exchange(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    reply
}

#[test]
fn malformed_startup_packets_close_the_connection_and_others_are_served() {
    let dir = temp_dir();
    let mut server = ServerProcess::start(dir.path(), &[]);
    let cases: Vec<Vec<u8>> = vec![
        vec![],
        vec![0, 0],
        vec![0, 0, 0, 8, 0x12, 0x34, 0x56, 0x78], // unknown protocol version
        vec![0, 0, 0, 3],                         // length shorter than itself
        vec![0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0], // absurd length
        vec![0, 0, 0, 9, 0, 3, 0, 0, b'u'],       // parameters not terminated
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), // wrong protocol
        vec![
            0, 0, 0, 16, 0, 3, 0, 0, b'u', b's', b'e', b'r', 0, b'x', 0, 0,
        ], // then nothing
    ];
    for case in &cases {
        raw_exchange(server.port, case);
        assert!(server.is_running(), "server died on {case:?}");
    }
    healthy(&server);
}

#[test]
fn a_client_that_disconnects_mid_result_does_not_disturb_others() {
    let mut server = ServerProcess::start(demo_dir(), &[]);
    let url = server.url();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        for _ in 0..3 {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            let task = tokio::spawn(connection);
            let rows = client
                .query_raw(
                    "SELECT value, repeat('z', 100) FROM generate_series(1, 3000000)",
                    Vec::<i32>::new(),
                )
                .await
                .expect("start streaming");
            futures::pin_mut!(rows);
            use futures::StreamExt;
            for _ in 0..10 {
                rows.next().await;
            }
            // Drop the connection while the server is still sending rows.
            task.abort();
            drop(client);
        }
    });
    assert!(server.is_running());
    healthy(&server);
}

#[test]
fn a_corrupt_file_behind_an_external_table_is_an_error_not_a_crash() {
    let dir = temp_dir();
    let parquet = dir.path().join("scores.parquet");
    let out = run(&[
        "sql",
        "--data-dir",
        path_str(dir.path()),
        "-c",
        &format!(
            "COPY (SELECT 1 AS id, 2.5 AS score) TO '{p}' STORED AS PARQUET; \
             CREATE EXTERNAL TABLE scores STORED AS PARQUET LOCATION '{p}'",
            p = parquet.display()
        ),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut server = ServerProcess::start(dir.path(), &[]);
    std::fs::write(&parquet, b"PAR1 this is not parquet at all PAR1").expect("corrupt the file");
    let out = psql(&server, &["-c", "SELECT * FROM scores"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ERROR"), "{stderr}");
    assert!(server.is_running());
    healthy(&server);

    // A restart with the file still corrupt: the server starts, and says why the table is unusable.
    drop(server);
    let server = ServerProcess::start(dir.path(), &[]);
    let out = psql(&server, &["-c", "SELECT * FROM scores"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("scores"));
    healthy(&server);
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let dir = temp_dir();
    let server = ServerProcess::start(dir.path(), &[]);
    let out = run(&[
        "serve",
        "--data-dir",
        path_str(dir.path()),
        "--port",
        &server.port.to_string(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot listen on") && stderr.contains("--port"),
        "{stderr}"
    );
    healthy(&server);
}

#[test]
fn a_config_with_an_unknown_key_is_refused() {
    let dir = temp_dir();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "[server]\nport = 5433\nlisten_adress = \"0.0.0.0\"\n",
    )
    .expect("write");
    let out = run(&[
        "serve",
        "--data-dir",
        path_str(dir.path()),
        "--config",
        path_str(&config),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("listen_adress") && stderr.lines().count() <= 2,
        "{stderr}"
    );
}

/// `huaxiang sql` in a folder without a data dir runs queries, files and functions (as DuckDB's
/// and SQLite's command lines do without a database), never creates the data dir, and says
/// clearly that creating a table needs one.
#[test]
fn sql_runs_without_a_data_dir_and_says_when_it_needs_one() {
    let dir = temp_dir();
    let missing = dir.path().join("nowhere");
    let out = run(&[
        "sql",
        "--data-dir",
        path_str(&missing),
        "--format",
        "csv",
        "-c",
        "SELECT mask_phone('13812345678') AS phone, 40 + 2 AS answer",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "phone,answer\n138****5678,42"
    );
    // A workbook in the working directory, by a relative name (the first try).
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (row, (id, name)) in [(1.0, "甲"), (2.0, "乙")].into_iter().enumerate() {
        sheet.write_number(row as u32 + 1, 0, id).unwrap();
        sheet.write_string(row as u32 + 1, 1, name).unwrap();
    }
    sheet.write_string(0, 0, "id").unwrap();
    sheet.write_string(0, 1, "name").unwrap();
    book.save(dir.path().join("export.xlsx")).unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args([
            "sql",
            "--format",
            "csv",
            "-c",
            "SELECT count(*) AS n FROM read_excel('export.xlsx')",
        ])
        .output()
        .expect("run huaxiang");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "n\n2");
    let out = run(&[
        "sql",
        "--data-dir",
        path_str(&missing),
        "-c",
        "CREATE TABLE t AS SELECT 1 AS x",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ERROR 55000: CREATE TABLE needs a data directory")
            && stderr.contains("does not exist")
            && stderr.contains("mkdir -p"),
        "{stderr}"
    );
    assert!(!missing.exists(), "sql must not create a data dir");
    assert!(
        !dir.path().join("huaxiang-data").exists(),
        "sql must not create the default data dir"
    );
}

#[test]
fn the_default_user_is_refused_on_a_public_address() {
    let dir = temp_dir();
    let out = run(&[
        "serve",
        "--data-dir",
        path_str(dir.path()),
        "--host",
        "0.0.0.0",
        "--port",
        "0",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing") && stderr.contains("huaxiang passwd"),
        "{stderr}"
    );
}

#[test]
fn configured_users_log_in_and_others_do_not() {
    let dir = temp_dir();
    let config = dir.path().join("huaxiang.toml");
    let passwd = |args: &[&str], password: &[u8]| {
        let mut child = std::process::Command::new(BIN)
            .args(["passwd", "--config", path_str(&config)])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("passwd");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(password)
            .expect("write password");
        assert!(child.wait().expect("passwd").success());
    };
    passwd(&["--admin", "analyst"], b"s3cret pass\n");
    // An old client's user: an md5 verifier, so the login is MD5 password authentication.
    passwd(&["--md5", "legacy"], b"old-pw\n");
    let text = std::fs::read_to_string(&config).expect("config written");
    assert!(
        text.contains("SCRAM-SHA-256$4096:") && !text.contains("s3cret"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "\"{}\"",
            huaxiang::access::verifier::make_md5_verifier("old-pw", "legacy")
        )),
        "{text}"
    );

    let server = ServerProcess::start(dir.path(), &["--config", path_str(&config)]);
    let login = |user: &str, password: &str| {
        std::process::Command::new("psql")
            .arg(format!(
                "postgresql://{user}:{}@127.0.0.1:{}/huaxiang",
                password.replace(' ', "%20"),
                server.port
            ))
            .args(["-X", "-At", "-c", "SELECT 7"])
            .output()
            .expect("psql")
    };
    let ok = login("analyst", "s3cret pass");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "7");
    // The built-in user is gone once users are configured.
    assert!(!login("huaxiang", "huaxiang").status.success());
    let wrong = login("analyst", "wrong");
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("password authentication failed"));
    // MD5: psql answers the server's MD5 request; a wrong password is refused the same way.
    let ok = login("legacy", "old-pw");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "7");
    let wrong = login("legacy", "new-pw");
    assert!(
        !wrong.status.success()
            && String::from_utf8_lossy(&wrong.stderr).contains("password authentication failed"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    // tokio-postgres too (its MD5 code, not libpq's).
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let url = format!(
            "postgresql://legacy:old-pw@127.0.0.1:{}/huaxiang",
            server.port
        );
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("md5 login");
        tokio::spawn(connection);
        let row = client.query_one("SELECT 7::BIGINT", &[]).await.unwrap();
        assert_eq!(row.get::<_, i64>(0), 7);
    });
}

#[test]
fn fifty_concurrent_logins_all_succeed() {
    let dir = temp_dir();
    let server = ServerProcess::start(dir.path(), &[]);
    let url = server.url();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let results = runtime.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..50 {
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let (client, connection) =
                    tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
                tokio::spawn(connection);
                let row = client
                    .query_one(&format!("SELECT {i}::BIGINT AS n"), &[])
                    .await?;
                Ok::<i64, tokio_postgres::Error>(row.get::<_, i64>(0))
            }));
        }
        let mut values = Vec::new();
        for (i, task) in tasks.into_iter().enumerate() {
            values.push((i as i64, task.await.expect("task")));
        }
        values
    });
    for (i, result) in results {
        assert_eq!(result.expect("login and query"), i);
    }
}

/// TLS from the usual PEM files: a PKCS#8 and a PKCS#1 key both work, psql's sslmode=require
/// gets an encrypted session, `require_tls` refuses plaintext with 28000, and a key that cannot
/// be loaded stops `serve` with a message naming the file instead of serving plaintext.
#[test]
fn tls_with_pkcs8_and_pkcs1_keys_and_require_tls() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let (cert, key8, key1) = (
        dir.path().join("cert.pem"),
        dir.path().join("key8.pem"),
        dir.path().join("key1.pem"),
    );
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl (Debian package openssl)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-keyout",
        path_str(&key8),
        "-out",
        path_str(&cert),
    ]);
    openssl(&[
        "rsa",
        "-in",
        path_str(&key8),
        "-traditional",
        "-out",
        path_str(&key1),
    ]);
    assert!(
        std::fs::read_to_string(&key8)
            .unwrap()
            .contains("BEGIN PRIVATE KEY")
    );
    assert!(
        std::fs::read_to_string(&key1)
            .unwrap()
            .contains("BEGIN RSA PRIVATE KEY")
    );
    let configure = |key: &Path, require: bool| {
        std::fs::write(
            data.join("huaxiang.toml"),
            format!(
                "[server]\ntls_cert = \"{}\"\ntls_key = \"{}\"\nrequire_tls = {require}\n",
                path_str(&cert),
                path_str(key)
            ),
        )
        .unwrap();
    };
    let connect = |server: &ServerProcess, sslmode: &str| {
        std::process::Command::new("psql")
            .arg(format!("{}?sslmode={sslmode}", server.url()))
            .args(["-X", "-At", "-c", "SELECT 40 + 2", "-c", "\\conninfo"])
            .output()
            .expect("psql")
    };

    configure(&key8, false);
    let server = ServerProcess::start(&data, &[]);
    let out = connect(&server, "require");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.starts_with("42\n"), "{text}");
    assert!(text.contains("SSL connection (protocol: TLSv1."), "{text}");
    let out = connect(&server, "disable");
    assert!(
        out.status.success(),
        "plaintext is allowed unless require_tls"
    );
    drop(server);

    configure(&key1, true);
    let server = ServerProcess::start(&data, &[]);
    let out = connect(&server, "require");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("SSL connection"));
    let out = connect(&server, "disable");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("accepts only TLS"),
        "{err}"
    );
    drop(server);

    // A key that is not a key: no server at all.
    std::fs::write(dir.path().join("bad.pem"), "not a key").unwrap();
    configure(&dir.path().join("bad.pem"), false);
    let out = run(&["serve", "--data-dir", path_str(&data), "--port", "0"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("bad.pem") && err.contains("private key"),
        "{err}"
    );
}

/// A query that needs more memory than `query_memory_mb` allows fails with 53200 (and a hint),
/// instead of the process being killed; the connection and the server go on.
#[test]
fn an_oversized_query_is_53200_not_an_out_of_memory_kill() {
    let dir = temp_dir();
    std::fs::write(
        dir.path().join("huaxiang.toml"),
        "[server]\nquery_memory_mb = 16\n",
    )
    .unwrap();
    let mut server = ServerProcess::start(dir.path(), &[]);
    // 20 million values gathered into one array (~160 MB): array_agg cannot spill.
    let out = psql(
        &server,
        &[
            "-v",
            "VERBOSITY=verbose",
            "-c",
            "SELECT cardinality(array_agg(x)) FROM generate_series(1, 20000000) t(x)",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("53200") && err.contains("query_memory_mb"),
        "{err}"
    );
    // The same connection's next query, which fits, works.
    let out = psql(
        &server,
        &[
            "-At",
            "-c",
            "SELECT sum(x) FROM generate_series(1, 1000) t(x)",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "500500");
    assert!(server.is_running());
    healthy(&server);
}

/// Logs in over a raw socket (SCRAM-SHA-256 through `postgres-protocol`, the code
/// tokio-postgres uses) and returns the socket, ready for a query.
fn raw_login(port: u16) -> TcpStream {
    use bytes::BytesMut;
    use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};
    use postgres_protocol::message::{backend::Message, frontend};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut out = BytesMut::new();
    frontend::startup_message([("user", "huaxiang"), ("database", "huaxiang")], &mut out).unwrap();
    stream.write_all(&out).unwrap();
    let mut inbox = BytesMut::new();
    let mut next = |stream: &mut TcpStream| loop {
        if let Some(message) = Message::parse(&mut inbox).expect("a backend message") {
            return message;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).expect("read during login");
        assert!(n > 0, "the server closed the connection during login");
        inbox.extend_from_slice(&chunk[..n]);
    };
    let mut scram = ScramSha256::new(b"huaxiang", ChannelBinding::unsupported());
    loop {
        match next(&mut stream) {
            Message::AuthenticationSasl(_) => {
                out.clear();
                frontend::sasl_initial_response("SCRAM-SHA-256", scram.message(), &mut out)
                    .unwrap();
                stream.write_all(&out).unwrap();
            }
            Message::AuthenticationSaslContinue(body) => {
                scram.update(body.data()).expect("server-first");
                out.clear();
                frontend::sasl_response(scram.message(), &mut out).unwrap();
                stream.write_all(&out).unwrap();
            }
            Message::ReadyForQuery(_) => return stream,
            Message::ErrorResponse(_) => panic!("login refused"),
            _ => {}
        }
    }
}

/// 200 malformed or truncated protocol messages after a successful login — unknown types,
/// lengths shorter than the header, lengths far beyond what is sent (up to 2 GiB declared),
/// random bodies for Parse/Bind/Describe/Execute/Close/CopyData/FunctionCall — each gets an
/// error or a closed connection, and a healthy client is served throughout.
#[test]
fn malformed_protocol_messages_after_login_are_errors_not_crashes() {
    let dir = temp_dir();
    let mut server = ServerProcess::start(dir.path(), &[]);
    // A fixed pseudo-random sequence (xorshift), so a failure can be replayed.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut random = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let types = *b"QPBDEHSCXdcfFz\x00\xff";
    for case in 0..200 {
        let kind = types[(random() % types.len() as u64) as usize];
        let body_len = (random() % 64) as usize;
        let body: Vec<u8> = (0..body_len).map(|_| random() as u8).collect();
        let declared: u32 = match case % 4 {
            0 => (random() % 4) as u32, // shorter than the length field
            1 => (body_len + 4) as u32 + 1 + (random() % 1000) as u32, // more than is sent
            2 => 0x7fff_ff00,           // an absurd length
            _ => (body_len + 4) as u32, // exact, with a garbage body
        };
        let mut message = vec![kind];
        message.extend_from_slice(&declared.to_be_bytes());
        message.extend_from_slice(&body);
        let mut stream = raw_login(server.port);
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let _ = stream.write_all(&message);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut answer = Vec::new();
        // Whatever came back (usually an ErrorResponse), the connection ends — EOF or reset —
        // instead of hanging, and the server lives.
        match stream.read_to_end(&mut answer) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("case {case}: the connection was left hanging ({e}): {message:?}"),
        }
        assert!(
            server.is_running(),
            "server died on case {case}: {message:?}"
        );
        if case % 25 == 0 {
            healthy(&server);
        }
    }
    healthy(&server);
}

/// A statement nested deeper than the server can plan safely — a 20,000-term chain (5,000 terms
/// overflowed a 2 MiB runtime stack and aborted the whole process before the guard), deep
/// parentheses, deep subqueries — is 54001 for that statement alone; a chain just under the
/// limit is answered, and the server serves on.
#[test]
fn deeply_nested_statements_are_54001_not_a_crash() {
    let data = temp_dir();
    let mut server = ServerProcess::start(data.path(), &[]);
    let deep = [
        format!("SELECT {} AS s", vec!["1"; 20_000].join(" + ")),
        format!("SELECT {}1{} AS s", "(".repeat(3000), ")".repeat(3000)),
        format!(
            "SELECT * FROM {}(SELECT 1 AS a) t0{}",
            "(SELECT * FROM ".repeat(1500),
            ") t".repeat(1500)
        ),
    ];
    for sql in &deep {
        let out = super::common::psql_as(&server, "huaxiang", "huaxiang", sql);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains("54001") && stderr.contains("too complex"),
            "{}…: {stderr}",
            &sql[..40]
        );
        assert!(server.is_running(), "the server died on {}…", &sql[..40]);
        healthy(&server);
    }
    let near = format!("SELECT {} AS s", vec!["1"; 900].join(" + "));
    let out = super::common::psql_as(&server, "huaxiang", "huaxiang", &near);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "900",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The workload's statements, each with the parameter it is run with (extended protocol) or
/// none (simple protocol); every answer is read as text rows so any wrong value shows.
const WORKLOAD: &[(&str, Option<i64>)] = &[
    ("SELECT count(*), sum(amount)::text FROM orders", None),
    (
        "SELECT city, count(*) FROM customers GROUP BY city ORDER BY city",
        None,
    ),
    (
        "SELECT count(*), coalesce(sum(amount), 0)::text FROM orders \
         WHERE customer_id = (SELECT min(customer_id) FROM customers) + $1",
        Some(17),
    ),
    (
        "SELECT count(*), coalesce(sum(amount), 0)::text FROM orders \
         WHERE customer_id = (SELECT min(customer_id) FROM customers) + $1",
        Some(4242),
    ),
    (
        "SELECT segment, count(*) FROM rfm_score('SELECT customer_id, order_ts, amount FROM orders WHERE customer_id % 10 = 0', \
         DATE '2026-11-01', 5, 'cn') \
         GROUP BY segment ORDER BY segment",
        None,
    ),
    (
        "SELECT sentiment_tag(text), count(*) FROM reviews WHERE review_id % 10 = 0 \
         GROUP BY 1 ORDER BY 1",
        None,
    ),
    (
        "SELECT c.channel, count(DISTINCT o.customer_id) FROM customers c \
         JOIN orders o ON o.customer_id = c.customer_id WHERE c.customer_id % 7 = $1 \
         GROUP BY c.channel ORDER BY c.channel",
        Some(3),
    ),
];

async fn workload_answer(
    client: &tokio_postgres::Client,
    sql: &str,
    parameter: Option<i64>,
) -> Result<Vec<Vec<Option<String>>>, tokio_postgres::Error> {
    match parameter {
        None => {
            let mut rows = Vec::new();
            for message in client.simple_query(sql).await? {
                if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
                    rows.push(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_string))
                            .collect(),
                    );
                }
            }
            Ok(rows)
        }
        Some(p) => {
            // Typed reads over the binary format: every column of these is int8 or text.
            let statement = client.prepare(sql).await?;
            let rows = client.query(&statement, &[&p]).await?;
            Ok(rows
                .iter()
                .map(|row| {
                    (0..row.len())
                        .map(|i| match row.columns()[i].type_() {
                            &tokio_postgres::types::Type::INT8 => {
                                row.get::<_, Option<i64>>(i).map(|v| v.to_string())
                            }
                            _ => row.get::<_, Option<String>>(i),
                        })
                        .collect()
                })
                .collect())
        }
    }
}

/// 50 clients at once, each running the mixed workload (simple and extended protocol, joins,
/// our table and scalar functions, a transaction, its own settings) over and over for a bounded
/// time on the demo data: every answer equals the one a single client got alone, no error, and
/// one connection's `SET` never shows in another.
#[test]
fn fifty_clients_running_a_mixed_workload_get_only_right_answers() {
    let server = ServerProcess::start(demo_dir(), &[]);
    let url = server.url();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(connection);
        let mut expected = Vec::new();
        for (sql, parameter) in WORKLOAD {
            let started = std::time::Instant::now();
            let answer = workload_answer(&client, sql, *parameter)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
            assert!(!answer.is_empty(), "{sql} gave no rows");
            eprintln!("{:?} for one client alone: {sql}", started.elapsed());
            expected.push(answer);
        }
        let expected = std::sync::Arc::new(expected);
        let until = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut tasks = Vec::new();
        for i in 0..50usize {
            let url = url.clone();
            let expected = expected.clone();
            tasks.push(tokio::spawn(async move {
                let (client, connection) =
                    tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
                tokio::spawn(connection);
                let timeout = format!("{}s", 601 + i);
                client
                    .batch_execute(&format!("SET statement_timeout = '{timeout}'"))
                    .await?;
                let mut done = 0usize;
                let mut round = 0usize;
                loop {
                    for k in 0..WORKLOAD.len() {
                        // Each client starts at its own place in the list.
                        let which = (k + i + round) % WORKLOAD.len();
                        let (sql, parameter) = WORKLOAD[which];
                        let answer = workload_answer(&client, sql, parameter).await?;
                        assert_eq!(answer, expected[which], "client {i}: {sql}");
                        done += 1;
                    }
                    client.batch_execute("BEGIN").await?;
                    let row = client
                        .query_one("SELECT count(*) FROM customers", &[])
                        .await?;
                    assert!(row.get::<_, i64>(0) > 0);
                    client.batch_execute("COMMIT").await?;
                    let shown = client.simple_query("SHOW statement_timeout").await?;
                    let shown = shown.iter().find_map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                        _ => None,
                    });
                    assert_eq!(shown.as_deref(), Some(timeout.as_str()), "client {i}");
                    round += 1;
                    if tokio::time::Instant::now() >= until {
                        return Ok::<usize, tokio_postgres::Error>(done);
                    }
                }
            }));
        }
        let mut total = 0;
        for (i, task) in tasks.into_iter().enumerate() {
            let done = task
                .await
                .unwrap_or_else(|e| panic!("client {i} failed: {e}"))
                .unwrap_or_else(|e| panic!("client {i}: {e}"));
            total += done;
        }
        assert!(total >= 50 * WORKLOAD.len(), "{total} statements");
        eprintln!("mixed workload: {total} statements by 50 clients, all right");
    });
    healthy(&server);
}

/// The server's resident memory in KiB.
fn resident_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A client that asks for a huge result and never reads it: the server stops producing rows
/// when the socket is full (memory stays flat rather than buffering the result), everyone else
/// is served meanwhile, and when the client goes away its query ends.
#[test]
fn a_client_that_never_reads_holds_no_memory_and_blocks_nobody() {
    use bytes::BytesMut;
    use postgres_protocol::message::frontend;
    let mut server = ServerProcess::start(demo_dir(), &[]);
    healthy(&server);
    let pid = server.pid();
    let before = resident_kib(pid);
    let mut silent = raw_login(server.port);
    let mut out = BytesMut::new();
    // About 10 GB of rows if it were all produced.
    frontend::query(
        "SELECT value, repeat('x', 1000) FROM generate_series(1, 10000000)",
        &mut out,
    )
    .unwrap();
    silent.write_all(&out).unwrap();
    let mut peak = before;
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(500));
        healthy(&server);
        peak = peak.max(resident_kib(pid));
    }
    let grown_mib = peak.saturating_sub(before) / 1024;
    assert!(
        grown_mib < 512,
        "the server buffered an unread result: {grown_mib} MiB more"
    );
    drop(silent);
    std::thread::sleep(Duration::from_secs(1));
    assert!(server.is_running());
    healthy(&server);
    eprintln!("never-reading client: resident memory grew by {grown_mib} MiB at most");
}
