//! CLV speed: `clv(...)` over the demo orders — summarising ~1.9M orders, fitting BG/NBD and
//! Gamma-Gamma, scoring every customer — on the CSV `scripts/bench-clv` writes (the same file
//! `lifetimes` is timed on).
//!
//! `cargo bench -p huaxiang-udfs --bench clv -- PATH.csv`

use std::time::Instant;

use datafusion::prelude::{CsvReadOptions, SessionContext};

#[tokio::main]
async fn main() {
    let Some(path) = std::env::args().skip(1).find(|a| a.ends_with(".csv")) else {
        eprintln!(
            "usage: cargo bench -p huaxiang-udfs --bench clv -- ORDERS.csv (see scripts/bench-clv)"
        );
        std::process::exit(2);
    };
    let ctx = SessionContext::new();
    huaxiang_udfs::register_all(&ctx).expect("register functions");
    ctx.register_csv("orders", &path, CsvReadOptions::new())
        .await
        .expect("register the orders");
    // Load into memory first, so the timing is of clv and not of CSV parsing.
    let batches = ctx
        .sql("SELECT customer_id, CAST(order_ts AS TIMESTAMP) AS order_ts, CAST(amount AS DOUBLE) AS amount FROM orders")
        .await
        .expect("plan")
        .collect()
        .await
        .expect("read the orders");
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let table = datafusion::datasource::MemTable::try_new(batches[0].schema(), vec![batches])
        .expect("memory table");
    ctx.register_table("orders_mem", std::sync::Arc::new(table))
        .expect("register");
    let start = Instant::now();
    let out = ctx
        .sql("SELECT count(*) AS customers, sum(clv) AS total FROM clv('orders_mem', DATE '2026-10-31', 90)")
        .await
        .expect("plan clv")
        .collect()
        .await
        .expect("run clv");
    let seconds = start.elapsed().as_secs_f64();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&out).expect("format");
    println!("huaxiang clv: orders={rows} time={seconds:.2}s\n{text}");
}
