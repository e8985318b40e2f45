//! The `huaxiang` command line: `serve`, `sql`, `demo`, `passwd`.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use futures::StreamExt;

use crate::access::verifier::make_verifier;
use crate::config::{self, Config};
use crate::demo::{self, DemoOptions};
use crate::engine::{Engine, EngineOptions, Outcome};
use crate::server::auth::Users;
use crate::server::{Server, ServerOptions};
use crate::sql_text::split_statements;

#[derive(Debug, Parser)]
#[command(
    name = "huaxiang",
    version,
    about = "画像 huaxiang: an analytical SQL engine for customer profiling, served over the PostgreSQL wire protocol"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the data dir over the PostgreSQL wire protocol.
    Serve(ServeArgs),
    /// Run SQL in-process against a data dir and print the result (for scripts and cron jobs).
    Sql(SqlArgs),
    /// (Re)generate the demo data set in a data dir.
    Demo(DemoArgs),
    /// Add a user or change a user's password in the config file.
    Passwd(PasswdArgs),
}

#[derive(Debug, Args)]
pub struct DataDirArg {
    /// The data directory [default: ./huaxiang-data, or `server.data_dir` in the config file].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// Address to listen on [default: 127.0.0.1].
    #[arg(long)]
    pub host: Option<String>,
    /// Port to listen on [default: 5433].
    #[arg(long)]
    pub port: Option<u16>,
    /// Create the demo data set in the data dir first, if it is not there yet.
    #[arg(long)]
    pub demo: bool,
    /// Configuration file [default: <data dir>/huaxiang.toml when it exists].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// SQL to run (one or more statements separated by `;`).
    #[arg(
        short = 'c',
        long = "command",
        value_name = "SQL",
        conflicts_with = "file",
        // SQL may start with a `--` comment.
        allow_hyphen_values = true
    )]
    pub command: Option<String>,
    /// File of SQL statements to run (`-` for standard input).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// How to print results.
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    /// Configuration file, for its `[sources]` [default: <data dir>/huaxiang.toml when it exists].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// Number of customers.
    #[arg(long, default_value_t = demo::DEFAULT_CUSTOMERS)]
    pub customers: usize,
    /// Random seed: the same seed gives the same data.
    #[arg(long, default_value_t = demo::DEFAULT_SEED)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct PasswdArgs {
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// Configuration file to edit [default: <data dir>/huaxiang.toml].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Make the user an admin (may create and drop tables).
    #[arg(long)]
    pub admin: bool,
    /// Store an md5 verifier, for old clients that cannot do SCRAM-SHA-256 (weaker: prefer
    /// the default).
    #[arg(long)]
    pub md5: bool,
    /// User name.
    pub user: String,
}

const DEFAULT_DATA_DIR: &str = "huaxiang-data";

fn data_dir_of(arg: &DataDirArg, config: Option<&Config>) -> PathBuf {
    arg.data_dir
        .clone()
        .or_else(|| config.and_then(|c| c.server.data_dir.clone()))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Sql(args) => sql(args).await,
        Command::Demo(args) => demo_command(args).await,
        Command::Passwd(args) => passwd(args),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let provisional_dir = data_dir_of(&args.data_dir, None);
    let config = match Config::locate(args.config.as_deref(), &provisional_dir) {
        Some(path) => Config::load(&path)?,
        None => Config::default(),
    };
    let data_dir = data_dir_of(&args.data_dir, Some(&config));
    let users = Users::from_config(&config).map_err(|e| anyhow::anyhow!(e))?;
    let options = ServerOptions {
        host: args
            .host
            .or(config.server.host.clone())
            .unwrap_or_else(|| config::DEFAULT_HOST.to_string()),
        port: args
            .port
            .or(config.server.port)
            .unwrap_or(config::DEFAULT_PORT),
        max_connections: config.server.max_connections.unwrap_or(0),
        // A TLS setting that cannot be loaded stops the server here, before it listens.
        tls: match (&config.server.tls_cert, &config.server.tls_key) {
            (Some(cert), Some(key)) => Some(crate::server::tls::acceptor(cert, key)?),
            _ => None,
        },
        require_tls: config.server.require_tls,
        query_memory: config::query_memory_limit(&config),
        statement_timeout_ms: config.server.statement_timeout_ms()?,
        statements_per_user: config.server.statements_per_user.unwrap_or(0),
    };
    let engine = Engine::open(&EngineOptions::new(&data_dir).with_config(&config))
        .await
        .with_context(|| format!("cannot open data directory {}", data_dir.display()))?;
    if args.demo && !demo::is_present(&engine) {
        eprintln!("creating the demo data set in {} ...", data_dir.display());
        demo::create(
            &engine,
            &DemoOptions::default(),
            std::io::stderr().is_terminal(),
        )
        .await?;
    }
    let server = Server::bind(engine.clone(), users.clone(), &options).await?;
    let address = server.local_addr()?;
    print_banner(&engine, &users, address);
    server.run(shutdown_signal()).await;
    Ok(())
}

fn print_banner(engine: &Engine, users: &Users, address: std::net::SocketAddr) {
    let relations = engine.catalog().relation_names();
    println!(
        "huaxiang {} listening on {address}",
        env!("CARGO_PKG_VERSION")
    );
    println!("  data dir: {}", engine.data_dir().display());
    println!(
        "  database: {}   tables and views: {}",
        crate::catalog::DATABASE,
        relations.len()
    );
    if users.is_default {
        println!(
            "  user: {user}   password: {pw}   (built-in; add users with `huaxiang passwd NAME`)",
            user = config::DEFAULT_USER,
            pw = config::DEFAULT_PASSWORD
        );
        println!(
            "  connect: psql \"postgresql://{user}:{pw}@{host}:{port}/{db}\"",
            user = config::DEFAULT_USER,
            pw = config::DEFAULT_PASSWORD,
            host = address.ip(),
            port = address.port(),
            db = crate::catalog::DATABASE
        );
    } else {
        println!("  users: {}", users.names().join(", "));
        println!(
            "  connect: psql -h {} -p {} -U <user> {}",
            address.ip(),
            address.port(),
            crate::catalog::DATABASE
        );
    }
    let _ = std::io::stdout().flush();
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn sql(args: SqlArgs) -> anyhow::Result<()> {
    let text = match (&args.command, &args.file) {
        (Some(c), _) => c.clone(),
        (None, Some(path)) if path == Path::new("-") => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s
        }
        (None, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        (None, None) => anyhow::bail!("give SQL with -c 'SQL' or -f FILE"),
    };
    let provisional_dir = data_dir_of(&args.data_dir, None);
    let config = match Config::locate(args.config.as_deref(), &provisional_dir) {
        Some(path) => Config::load(&path)?,
        None => Config::default(),
    };
    let data_dir = data_dir_of(&args.data_dir, Some(&config));
    // Without a data dir (an empty folder, a one-off query of a file) run on a scratch one, as
    // DuckDB's and SQLite's command lines run without a database file; only creating durable
    // relations needs the real one, and says so. `sql` never creates a data dir itself.
    let scratch = match data_dir.exists() {
        true => None,
        false => Some(tempfile::tempdir().context("cannot make a scratch directory")?),
    };
    let mut options = EngineOptions::new(scratch.as_ref().map_or(data_dir.as_path(), |s| s.path()))
        .with_config(&config);
    options.create_data_dir = false;
    if scratch.is_some() {
        options.missing_data_dir = Some(data_dir.clone());
        // Relative file names (read_excel('export.xlsx')) are the working directory's.
        if options.import_dir.is_none() {
            options.import_dir = Some(std::env::current_dir()?);
        }
    }
    let engine = Engine::open(&options).await.map_err(|e| cli_error(&e))?;
    let result = run_script(&engine, &text, args.format, &mut std::io::stdout()).await;
    drop(engine);
    drop(scratch);
    result
}

/// `ERROR <SQLSTATE>: message`, with psql's DETAIL and HINT lines.
fn cli_error(e: &datafusion::error::DataFusionError) -> anyhow::Error {
    let described = crate::error::describe(e);
    let mut message = format!("ERROR {}: {}", described.sqlstate, described.message);
    if let Some(detail) = described.detail {
        message.push_str(&format!("\nDETAIL: {detail}"));
    }
    if let Some(hint) = described.hint {
        message.push_str(&format!("\nHINT: {hint}"));
    }
    anyhow::anyhow!(message)
}

/// Runs every statement of `text`, printing results; stops at the first error.
pub async fn run_script(
    engine: &Arc<Engine>,
    text: &str,
    format: OutputFormat,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let statements = split_statements(text).map_err(|e| anyhow::anyhow!("syntax error: {e}"))?;
    for statement in statements {
        let outcome = engine
            .execute(statement.text)
            .await
            .map_err(|e| cli_error(&e))?;
        match outcome {
            Outcome::Command(tag) => {
                if matches!(format, OutputFormat::Table) {
                    writeln!(out, "{tag}")?;
                }
            }
            Outcome::Rows(df) => {
                let schema = df.schema().as_arrow().clone();
                let mut stream = df.execute_stream().await.map_err(|e| cli_error(&e))?;
                let mut batches: Vec<RecordBatch> = Vec::new();
                match format {
                    OutputFormat::Table => {
                        while let Some(batch) = stream.next().await {
                            batches.push(batch.map_err(|e| cli_error(&e))?);
                        }
                        if batches.is_empty() {
                            batches.push(RecordBatch::new_empty(Arc::new(schema)));
                        }
                        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                        writeln!(out, "{}", pretty_format_batches(&batches)?)?;
                        writeln!(out, "({rows} row{})", if rows == 1 { "" } else { "s" })?;
                    }
                    OutputFormat::Csv => {
                        let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                            .with_header(true)
                            .build(&mut *out);
                        let mut wrote = false;
                        while let Some(batch) = stream.next().await {
                            let batch = batch.map_err(|e| cli_error(&e))?;
                            writer.write(&batch)?;
                            wrote = true;
                        }
                        if !wrote {
                            writer.write(&RecordBatch::new_empty(Arc::new(schema)))?;
                        }
                    }
                    OutputFormat::Json => {
                        let mut writer =
                            datafusion::arrow::json::LineDelimitedWriter::new(&mut *out);
                        while let Some(batch) = stream.next().await {
                            let batch = batch.map_err(|e| cli_error(&e))?;
                            writer.write(&batch)?;
                        }
                        writer.finish()?;
                    }
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}

async fn demo_command(args: DemoArgs) -> anyhow::Result<()> {
    if args.customers == 0 {
        anyhow::bail!("--customers must be at least 1");
    }
    let data_dir = data_dir_of(&args.data_dir, None);
    let engine = Engine::open(&EngineOptions::new(&data_dir)).await?;
    let started = std::time::Instant::now();
    demo::create(
        &engine,
        &DemoOptions {
            customers: args.customers,
            seed: args.seed,
        },
        std::io::stderr().is_terminal(),
    )
    .await?;
    eprintln!(
        "demo data set ({} customers, seed {}) written to {} in {:.1}s",
        args.customers,
        args.seed,
        engine.data_dir().display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn passwd(args: PasswdArgs) -> anyhow::Result<()> {
    let data_dir = data_dir_of(&args.data_dir, None);
    let path = args
        .config
        .clone()
        .unwrap_or_else(|| data_dir.join(config::CONFIG_FILE_NAME));
    let password = read_password(&args.user)?;
    if password.is_empty() {
        anyhow::bail!("the password must not be empty");
    }
    let verifier = if args.md5 {
        crate::access::verifier::make_md5_verifier(&password, &args.user)
    } else {
        make_verifier(&password)
    };
    config::set_user_password(&path, &args.user, &verifier, args.admin)?;
    eprintln!(
        "user {} {} in {} (restart the server to apply)",
        args.user,
        if args.admin { "(admin) saved" } else { "saved" },
        path.display()
    );
    Ok(())
}

/// Reads a password: prompted twice without echo on a terminal, else one line from stdin.
fn read_password(user: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("password for {user}: "))?;
        let second = rpassword::prompt_password("again: ")?;
        if first != second {
            anyhow::bail!("the passwords do not match");
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}
