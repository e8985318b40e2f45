//! Sentiment speed: `sentiment_score` over 1,000,000 short reviews (the demo's review texts,
//! repeated), from the text file `scripts/bench-sentiment` writes (one review per line; the
//! same texts the Python references are timed on).
//!
//! `cargo bench -p huaxiang-udfs --bench sentiment -- REVIEWS.txt`

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

const REVIEWS: usize = 1_000_000;

/// Scores `n` reviews cycled from `texts` on this thread and prints the rate.
fn one_core(what: &str, texts: &[&str], n: usize) {
    if texts.is_empty() {
        return;
    }
    let start = Instant::now();
    let sum: f64 = texts
        .iter()
        .cycle()
        .take(n)
        .map(|t| huaxiang_udfs::sentiment::analyzer::analyze(t, false).score)
        .sum();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "one core, {what}: {n} reviews in {secs:.2}s = {:.0} reviews/s (sum of scores {sum:.1})",
        n as f64 / secs
    );
}

#[tokio::main]
async fn main() {
    let Some(path) = std::env::args().skip(1).find(|a| a.ends_with(".txt")) else {
        eprintln!("usage: cargo bench -p huaxiang-udfs --bench sentiment -- REVIEWS.txt");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(&path).expect("read the reviews");
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "{path} has no reviews");
    let reviews: Vec<&str> = lines.iter().copied().cycle().take(REVIEWS).collect();

    // The lexicon and segmenter load once per process; time them apart.
    let start = Instant::now();
    huaxiang_udfs::sentiment::analyzer::warm_up();
    println!(
        "load lexicon + segmenter: {:.2}s",
        start.elapsed().as_secs_f64()
    );

    // One core, the function alone: all reviews, then each language on its own (to set
    // beside snownlp and vaderSentiment).
    one_core("all reviews", &lines, REVIEWS);
    let is_chinese = |t: &&str| t.chars().any(huaxiang_udfs::sentiment::analyzer::is_cjk);
    let chinese: Vec<&str> = lines.iter().copied().filter(is_chinese).collect();
    let english: Vec<&str> = lines.iter().copied().filter(|t| !is_chinese(t)).collect();
    one_core("Chinese only", &chinese, 200_000);
    one_core("English only", &english, 200_000);

    // Through SQL, every core (one partition per core).
    let ctx = SessionContext::new();
    huaxiang_udfs::register_all(&ctx).expect("register functions");
    let schema = Arc::new(Schema::new(vec![Field::new("text", DataType::Utf8, false)]));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = REVIEWS.div_ceil(cores);
    let partitions: Vec<Vec<RecordBatch>> = reviews
        .chunks(chunk)
        .map(|part| {
            part.chunks(8192)
                .map(|b| {
                    RecordBatch::try_new(
                        schema.clone(),
                        vec![Arc::new(StringArray::from(b.to_vec()))],
                    )
                    .expect("batch")
                })
                .collect()
        })
        .collect();
    let table = MemTable::try_new(schema, partitions).expect("memory table");
    ctx.register_table("reviews", Arc::new(table))
        .expect("register");
    let start = Instant::now();
    let out = ctx
        .sql("SELECT count(*) AS reviews, sum(sentiment_score(text)) AS total FROM reviews")
        .await
        .expect("plan")
        .collect()
        .await
        .expect("run");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "SQL, {cores} cores: {REVIEWS} reviews in {secs:.2}s = {:.0} reviews/s",
        REVIEWS as f64 / secs
    );
    println!(
        "{}",
        datafusion::arrow::util::pretty::pretty_format_batches(&out).expect("format")
    );
}
