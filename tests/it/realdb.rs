//! Real database servers for tests, started here from the Debian packages on loopback and
//! stopped when dropped: PostgreSQL 15 (the live-source tests, the compatibility suite) and the
//! helpers MariaDB shares.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::common::path_str;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args` as `user` when running as root (initdb and mariadbd refuse root), else as
/// ourselves.
pub fn command_as(user: &str, program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", user, "--", program]);
        c
    } else {
        Command::new(program)
    }
}

/// A directory in /tmp the database's OS user may write (the cargo target dir may not be
/// reachable for it).
pub fn db_dir(owner: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("hx-db-")
        .tempdir_in("/tmp")
        .expect("temp dir");
    if is_root() {
        let status = Command::new("chown")
            .args([owner, path_str(dir.path())])
            .status()
            .expect("chown");
        assert!(status.success());
    }
    dir
}

pub fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} did not start within 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A database server process, stopped (and its directory removed) when dropped — also when
/// the test panics. Started as root it runs under `runuser`, whose death leaves the server
/// running: the server is started in a process group of its own ([`server_group`]) and the
/// whole group is killed.
pub struct DbServer {
    pub child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

/// `command` to be spawned as a server: in a new process group led by the spawned process, so
/// [`DbServer`]'s drop can end it with everything it started.
pub fn server_group(mut command: Command) -> Command {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
    command
}

impl Drop for DbServer {
    fn drop(&mut self) {
        // The data is a throwaway copy: no shutdown to wait for.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn pg_bin(name: &str) -> PathBuf {
    let path = PathBuf::from("/usr/lib/postgresql/15/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: install the Debian package postgresql (scripts/test does)",
        path.display()
    );
    path
}

/// A PostgreSQL 15 from the Debian package, listening on 127.0.0.1 with password (SCRAM) login
/// for `postgres` / `password`; empty.
pub fn start_postgres(password: &str) -> DbServer {
    let dir = db_dir("postgres");
    let data = dir.path().join("data");
    let pwfile = dir.path().join("pw");
    std::fs::write(&pwfile, password).unwrap();
    if is_root() {
        Command::new("chown")
            .args(["postgres", path_str(&pwfile)])
            .status()
            .unwrap();
    }
    let out = command_as("postgres", path_str(&pg_bin("initdb")))
        .args(["-D", path_str(&data), "-U", "postgres", "--pwfile"])
        .arg(&pwfile)
        .args([
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
        ])
        .output()
        .expect("initdb");
    assert!(
        out.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    let child = server_group(command_as("postgres", path_str(&pg_bin("postgres"))))
        .args(["-D", path_str(&data), "-p", &port.to_string()])
        .args([
            "-k",
            path_str(dir.path()),
            "-c",
            "listen_addresses=127.0.0.1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start postgres");
    let server = DbServer { child, port, dir };
    wait_until("PostgreSQL", || {
        pg_local(&server, "SELECT 1").status.success()
    });
    server
}

/// Runs `sql` in the PostgreSQL as its superuser, over its Unix socket.
pub fn pg_local(server: &DbServer, sql: &str) -> std::process::Output {
    command_as("postgres", "psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
        .arg(server.dir.path())
        .args([
            "-p",
            &server.port.to_string(),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            sql,
        ])
        .output()
        .expect("psql")
}
