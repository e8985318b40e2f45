//! Identity-resolution speed: `resolve_identities` over 1,000,000 records with three identifier
//! kinds (phone, e-mail, WeChat id), and `normalize_phone` / `normalize_email` over 1,000,000
//! messy values, through SQL on every core.
//!
//! The records are synthetic and deterministic: 600,000 persons; each has one to three records
//! in three systems; every record carries some of the person's identifiers (never none), and a
//! shop hotline and shared mailbox sit on 2,000 records of different persons.
//!
//! `cargo bench -p huaxiang-udfs --bench identity`

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};

const RECORDS: usize = 1_000_000;
const PERSONS: u64 = 600_000;

struct Rows {
    source: Vec<String>,
    record_id: Vec<String>,
    phone: Vec<Option<String>>,
    email: Vec<Option<String>>,
    wechat: Vec<Option<String>>,
}

fn records() -> Rows {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let mut rows = Rows {
        source: Vec::with_capacity(RECORDS),
        record_id: Vec::with_capacity(RECORDS),
        phone: Vec::with_capacity(RECORDS),
        email: Vec::with_capacity(RECORDS),
        wechat: Vec::with_capacity(RECORDS),
    };
    let systems = ["shop", "crm", "service"];
    for i in 0..RECORDS as u64 {
        let person = rng.next_u64() % PERSONS;
        let r = rng.next_u64();
        let (mut phone, mut email, wechat) = (r & 1 != 0, r & 2 != 0, r & 4 != 0);
        if !(phone || email || wechat) {
            phone = true;
        }
        if i % 500 == 0 {
            phone = true;
            email = true;
        }
        rows.source.push(systems[(i % 3) as usize].to_string());
        rows.record_id.push(format!("R{i:07}"));
        rows.phone.push(phone.then(|| {
            if i % 500 == 0 {
                "+8613800138000".to_string()
            } else {
                format!("+86138{:08}", person)
            }
        }));
        rows.email.push(email.then(|| {
            if i % 500 == 0 {
                "info@shop.com".to_string()
            } else {
                format!("p{person}@qq.com")
            }
        }));
        rows.wechat.push(wechat.then(|| format!("wx_{person}")));
    }
    rows
}

fn messy(phone: &str) -> String {
    let digits = &phone[3..];
    format!("0086-{}-{}-{}", &digits[..3], &digits[3..7], &digits[7..])
}

#[tokio::main]
async fn main() {
    let rows = records();
    let ctx = SessionContext::new();
    huaxiang_udfs::register_all(&ctx).expect("register functions");
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    let schema = Arc::new(Schema::new(vec![
        text("source"),
        text("record_id"),
        text("phone"),
        text("email"),
        text("wechat_id"),
        text("messy_phone"),
        text("messy_email"),
    ]));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = RECORDS.div_ceil(cores);
    let partitions: Vec<Vec<RecordBatch>> = (0..RECORDS)
        .step_by(chunk)
        .map(|start| {
            let end = (start + chunk).min(RECORDS);
            (start..end)
                .step_by(8192)
                .map(|b| {
                    let r = b..(b + 8192).min(end);
                    let strings =
                        |v: &[String]| Arc::new(StringArray::from_iter_values(&v[r.clone()]));
                    let options = |v: &[Option<String>]| {
                        Arc::new(StringArray::from_iter(v[r.clone()].iter()))
                    };
                    let messy_phone: Vec<Option<String>> = rows.phone[r.clone()]
                        .iter()
                        .map(|p| p.as_deref().map(messy))
                        .collect();
                    let messy_email: Vec<Option<String>> = rows.email[r.clone()]
                        .iter()
                        .map(|e| e.as_deref().map(|e| format!(" {} ", e.to_uppercase())))
                        .collect();
                    RecordBatch::try_new(
                        schema.clone(),
                        vec![
                            strings(&rows.source),
                            strings(&rows.record_id),
                            options(&rows.phone),
                            options(&rows.email),
                            options(&rows.wechat),
                            Arc::new(StringArray::from_iter(messy_phone.iter())),
                            Arc::new(StringArray::from_iter(messy_email.iter())),
                        ],
                    )
                    .expect("batch")
                })
                .collect()
        })
        .collect();
    let table = MemTable::try_new(schema, partitions).expect("memory table");
    ctx.register_table("records", Arc::new(table))
        .expect("register");

    for (what, sql) in [
        (
            "normalize_phone + normalize_email of 1,000,000 messy records",
            "SELECT count(normalize_phone(messy_phone)) AS phones, count(normalize_email(messy_email)) AS emails FROM records",
        ),
        (
            "resolve_identities of 1,000,000 records, 3 identifier kinds",
            "SELECT count(*) AS records, count(DISTINCT person_id) AS persons, max(person_records) AS largest \
             FROM resolve_identities('SELECT source, record_id, phone, email, wechat_id FROM records')",
        ),
        (
            "identity_rejected of the same records",
            "SELECT * FROM identity_rejected('SELECT source, record_id, phone, email, wechat_id FROM records')",
        ),
    ] {
        let start = Instant::now();
        let out = ctx
            .sql(sql)
            .await
            .expect("plan")
            .collect()
            .await
            .expect("run");
        println!("{what}: {:.2}s", start.elapsed().as_secs_f64());
        println!(
            "{}",
            datafusion::arrow::util::pretty::pretty_format_batches(&out).expect("format")
        );
    }
}
