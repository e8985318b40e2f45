//! Numerical functions checked against reference implementations (pandas/numpy/scikit-learn in
//! the test venv), on the demo data.

use std::path::PathBuf;
use std::process::Command;

use super::common::{demo_dir, path_str, run, temp_dir};

/// The venv's python, created by scripts/test.
pub fn python() -> String {
    std::env::var("HUAXIANG_PYTHON").unwrap_or_else(|_| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(".venv/bin/python")
            .to_string_lossy()
            .into_owned()
    })
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
}

/// Runs SQL against the demo data and writes the CSV result to `path`.
fn export_csv(sql: &str, path: &std::path::Path) {
    let out = run(&[
        "sql",
        "--data-dir",
        path_str(demo_dir()),
        "--format",
        "csv",
        "-c",
        sql,
    ]);
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(path, &out.stdout).expect("write csv");
}

#[test]
fn rfm_scores_match_pandas_customer_by_customer() {
    let dir = temp_dir();
    let orders = dir.path().join("orders.csv");
    let ours = dir.path().join("rfm.csv");
    export_csv("SELECT customer_id, order_ts, amount FROM orders", &orders);
    export_csv(
        "SELECT * FROM rfm_score('SELECT customer_id, order_ts, amount FROM orders', DATE '2026-11-01')",
        &ours,
    );
    let out = Command::new(python())
        .arg(script("rfm_reference.py"))
        .args([path_str(&orders), path_str(&ours), "2026-11-01"])
        .output()
        .expect("run the pandas reference (scripts/test creates the venv)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "RFM differs from the pandas reference (exact scores, monetary within 1e-9 relative):\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("mismatches 0"), "{text}");
}
