//! Helpers shared by the integration tests: the `huaxiang` binary, a demo data dir built once
//! per test run, and a server process on a free port that is stopped when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use tokio_postgres::types::Type;

pub const BIN: &str = env!("CARGO_BIN_EXE_huaxiang");
pub const DEMO_CUSTOMERS: usize = 10_000;

/// A fresh directory under cargo's per-target temp dir, removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("hx-test-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("create a temp dir under CARGO_TARGET_TMPDIR")
}

/// A data dir with the demo data set (10,000 customers, seed 7), built once per test process.
pub fn demo_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("shared-demo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = run(&[
            "demo",
            "--data-dir",
            path_str(&dir),
            "--customers",
            &DEMO_CUSTOMERS.to_string(),
            "--seed",
            "7",
        ]);
        assert!(
            out.status.success(),
            "demo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// Runs `huaxiang` with `args` and waits for it.
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run huaxiang")
}

/// `huaxiang sql --data-dir DIR -c SQL --format csv`, returning stdout; panics on failure.
pub fn sql_csv(data_dir: &Path, sql: &str) -> String {
    let out = run(&[
        "sql",
        "--data-dir",
        path_str(data_dir),
        "--format",
        "csv",
        "-c",
        sql,
    ]);
    assert!(
        out.status.success(),
        "huaxiang sql failed for {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// A `huaxiang serve` process; killed when dropped.
pub struct ServerProcess {
    child: Child,
    pub port: u16,
}

impl ServerProcess {
    /// Starts `huaxiang serve --port 0` on `data_dir` and waits for its banner.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(["serve", "--data-dir", path_str(data_dir), "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start huaxiang serve");
        let stdout = child.stdout.take().expect("server stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && let Some(rest) = line.split("listening on ").nth(1) {
                    let port = rest
                        .rsplit(':')
                        .next()
                        .and_then(|p| p.trim().parse::<u16>().ok());
                    let _ = tx.send(port);
                    sent = true;
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(120))
            .ok()
            .flatten()
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("huaxiang serve did not print its address");
            });
        Self { child, port }
    }

    pub fn url(&self) -> String {
        format!(
            "postgresql://huaxiang:huaxiang@127.0.0.1:{}/huaxiang",
            self.port
        )
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM (what a service manager sends to stop the server).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `timeout` for the process to exit; whether it did.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> bool {
        let until = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < until {
            if !self.is_running() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs one statement with psql as `user` (unaligned, tuples only, stop on error, verbose
/// errors so the SQLSTATE shows).
pub fn psql_as(server: &ServerProcess, user: &str, password: &str, sql: &str) -> Output {
    Command::new("psql")
        .arg(format!(
            "postgresql://{user}:{password}@127.0.0.1:{}/huaxiang",
            server.port
        ))
        .args([
            "-X",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-v",
            "VERBOSITY=verbose",
            "-c",
            sql,
        ])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql must be installed (apt-get install postgresql-client)")
}

/// Runs psql against the server with the given arguments (unaligned, tuples only, no psqlrc).
pub fn psql(server: &ServerProcess, args: &[&str]) -> Output {
    Command::new("psql")
        .arg(server.url())
        .args(["-X", "-v", "ON_ERROR_STOP=1"])
        .args(args)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql must be installed (apt-get install postgresql-client)")
}

/// A column of a tokio-postgres row (binary results) as text, as PostgreSQL writes it, for
/// the types the tests read; other types show as `(value)` (or NULL).
pub fn cell_text(row: &tokio_postgres::Row, i: usize) -> Option<String> {
    let column = &row.columns()[i];
    match *column.type_() {
        Type::BOOL => row
            .get::<_, Option<bool>>(i)
            .map(|b| if b { "t" } else { "f" }.to_string()),
        Type::INT2 => row.get::<_, Option<i16>>(i).map(|v| v.to_string()),
        Type::INT4 => row.get::<_, Option<i32>>(i).map(|v| v.to_string()),
        Type::INT8 => row.get::<_, Option<i64>>(i).map(|v| v.to_string()),
        Type::OID => row.get::<_, Option<u32>>(i).map(|v| v.to_string()),
        Type::FLOAT4 => row.get::<_, Option<f32>>(i).map(|v| v.to_string()),
        Type::FLOAT8 => row.get::<_, Option<f64>>(i).map(|v| v.to_string()),
        Type::CHAR => row
            .get::<_, Option<i8>>(i)
            .map(|v| char::from(v as u8).to_string()),
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR | Type::UNKNOWN => {
            row.get::<_, Option<String>>(i)
        }
        // Arrays and the rest: only whether they are there.
        _ => row
            .try_get::<_, Option<Raw>>(i)
            .ok()
            .flatten()
            .map(|_| "(value)".to_string()),
    }
}

/// Any value, unread.
struct Raw;

impl<'a> tokio_postgres::types::FromSql<'a> for Raw {
    fn from_sql(_: &Type, _: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw)
    }

    fn accepts(_: &tokio_postgres::types::Type) -> bool {
        true
    }
}
