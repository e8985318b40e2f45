//! Runs every `sql/**/*.slt` file against the engine in-process, each in a fresh data dir.
//!
//! Values print as in DataFusion's sqllogictests: NULL as `NULL`, the empty string as `(empty)`.
//! A `query error` regex is matched against `<SQLSTATE>: <message>`, so files can check codes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use huaxiang::engine::{Engine, EngineOptions, Outcome};
use sqllogictest::{DBOutput, DefaultColumnType};

#[derive(Debug)]
struct SltError(String, String);

impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0, self.1)
    }
}

impl std::error::Error for SltError {}

fn slt_error(e: datafusion::error::DataFusionError) -> SltError {
    let described = huaxiang::error::describe(&e);
    SltError(described.sqlstate.to_string(), described.message)
}

struct HuaxiangDb {
    engine: Arc<Engine>,
}

fn column_type(data_type: &DataType) -> DefaultColumnType {
    match data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => DefaultColumnType::Integer,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => DefaultColumnType::FloatingPoint,
        _ => DefaultColumnType::Text,
    }
}

fn format_rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, SltError> {
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SltError("XX000".into(), e.to_string()))?;
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| {
                        let text = f.value(row).to_string();
                        if text.is_empty() {
                            "(empty)".to_string()
                        } else {
                            text
                        }
                    })
                    .collect(),
            );
        }
    }
    Ok(rows)
}

#[async_trait]
impl sqllogictest::AsyncDB for HuaxiangDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        match self.engine.execute(sql).await.map_err(slt_error)? {
            Outcome::Command(tag) => Ok(DBOutput::StatementComplete(tag.rows.unwrap_or(0) as u64)),
            Outcome::Rows(df) => {
                let types = df
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| column_type(f.data_type()))
                    .collect();
                let batches = df.collect().await.map_err(slt_error)?;
                Ok(DBOutput::Rows {
                    types,
                    rows: format_rows(&batches)?,
                })
            }
        }
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "huaxiang"
    }

    async fn sleep(dur: std::time::Duration) {
        tokio::time::sleep(dur).await;
    }

    fn error_sql_state(err: &Self::Error) -> Option<String> {
        Some(err.0.clone())
    }
}

fn slt_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            slt_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "slt") {
            found.push(path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqllogictest_files() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sql");
    let mut files = Vec::new();
    slt_files(&root, &mut files);
    files.sort();
    assert!(!files.is_empty(), "no .slt files under {}", root.display());
    let mut failures = Vec::new();
    for file in &files {
        let dir = super::common::temp_dir();
        let engine = Engine::open(&EngineOptions::new(dir.path()))
            .await
            .expect("open a fresh data dir");
        let mut runner = sqllogictest::Runner::new(move || {
            let engine = engine.clone();
            async move { Ok::<_, SltError>(HuaxiangDb { engine }) }
        });
        runner.with_column_validator(sqllogictest::strict_column_validator);
        if let Err(e) = runner.run_file_async(file).await {
            failures.push(format!("{}:\n{e}", file.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} .slt file(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
