//! The demo data set: a retailer's customers, orders, basket items, reviews and a second
//! system's view of the same people (CRM contacts), with planted structure for the analytics to
//! find — loyal high-value buyers, rising newcomers, customers who went silent, customers who
//! churned, co-purchase rules, review tone that follows rating and trajectory, and identifiers
//! written differently across systems.
//!
//! Deterministic: every customer draws from its own RNG seeded by (seed, customer_id), so the
//! same seed and size give the same data on every machine.

mod stage;
pub mod words;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use datafusion::arrow::array::{AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit};
use datafusion::common::{Constraints, Result, TableReference};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::{
    ColumnarValue, CreateMemoryTable, ScalarUDF, Volatility, create_udf,
};
use datafusion::prelude::{DataFrame, ParquetReadOptions, SessionContext, col};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use rand::distr::weighted::WeightedIndex;
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_distr::Poisson;

use crate::engine::Engine;
use words::*;

/// The demo's "today": orders cover the two years before it.
pub fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default()
}

pub const DEFAULT_CUSTOMERS: usize = 100_000;
pub const DEFAULT_SEED: u64 = 42;

/// The tables the demo writes, in order.
pub const TABLES: &[&str] = &[
    "customers",
    "orders",
    "order_items",
    "reviews",
    "crm_contacts",
];

/// Where the true customer ↔ CRM links are kept for tests (not a table, so analysts do not
/// stumble on the answer).
pub const TRUTH_FILE: &str = "demo-truth/crm_links.csv";

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub customers: usize,
    pub seed: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            customers: DEFAULT_CUSTOMERS,
            seed: DEFAULT_SEED,
        }
    }
}

/// The hidden behaviour a customer was generated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Persona {
    LoyalHighValue,
    Regular,
    RisingNewcomer,
    Silent,
    Churned,
    Occasional,
}

const PERSONAS: &[(Persona, u32)] = &[
    (Persona::LoyalHighValue, 8),
    (Persona::Regular, 38),
    (Persona::RisingNewcomer, 12),
    (Persona::Silent, 15),
    (Persona::Churned, 15),
    (Persona::Occasional, 12),
];

struct Customer {
    id: i64,
    persona: Persona,
    name: String,
    pinyin: String,
    gender: &'static str,
    birth_year: i32,
    city: &'static str,
    signup: NaiveDate,
    channel: &'static str,
    phone: String,
    email: Option<String>,
}

struct Order {
    customer_id: i64,
    ts_micros: i64,
    channel: &'static str,
    store: String,
    items: Vec<(usize, i32, i64)>, // product index, quantity, unit price in cents
    review: Option<(i64, i32, String)>, // review ts, rating, text
}

fn weighted<'a, T>(rng: &mut impl Rng, items: &'a [(T, u32)]) -> &'a T {
    let total: u32 = items.iter().map(|(_, w)| *w).sum();
    let mut pick = rng.random_range(0..total.max(1));
    for (item, w) in items {
        if pick < *w {
            return item;
        }
        pick -= w;
    }
    &items[items.len() - 1].0
}

fn pick<'a, T>(rng: &mut impl Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn pick_str(rng: &mut impl Rng, items: &[&'static str]) -> &'static str {
    items[rng.random_range(0..items.len())]
}

fn poisson(rng: &mut impl Rng, lambda: f64) -> u64 {
    match Poisson::new(lambda.max(1e-9)) {
        Ok(d) => d.sample(rng) as u64,
        Err(_) => 0,
    }
}

fn days_since_epoch(date: NaiveDate) -> i32 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32
}

/// Micros since the epoch for a Beijing-time (UTC+8) date and second of the day.
fn beijing_micros(date: NaiveDate, second_of_day: i64) -> i64 {
    (days_since_epoch(date) as i64 * 86_400 + second_of_day - 8 * 3600) * 1_000_000
}

/// A customer's RNG: independent of every other customer's, so sizes and order do not matter.
fn customer_rng(seed: u64, id: i64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    rng.set_stream(stream);
    rng
}

/// A unique mobile number per index (the multiplier is coprime to 10^8, so this is a bijection).
fn mobile_number(index: u64, prefixes: &[&str]) -> String {
    let prefix = prefixes[(index % prefixes.len() as u64) as usize];
    let body = (index.wrapping_mul(7_919) + 12_345_678) % 100_000_000;
    format!("{prefix}{body:08}")
}

fn make_customer(seed: u64, id: i64, start: NaiveDate, end: NaiveDate) -> Customer {
    let mut rng = customer_rng(seed, id, 0);
    let persona = *weighted(&mut rng, PERSONAS);
    let gender = if rng.random_bool(0.52) { "女" } else { "男" };
    let (surname, surname_py) = *pick(&mut rng, SURNAMES);
    let given_list = if gender == "女" {
        GIVEN_FEMALE
    } else {
        GIVEN_MALE
    };
    let given_len = if rng.random_bool(0.7) { 2 } else { 1 };
    let mut name = surname.to_string();
    let mut pinyin = surname_py.to_string();
    for _ in 0..given_len {
        let (c, py) = *pick(&mut rng, given_list);
        name.push_str(c);
        pinyin.push_str(py);
    }
    let birth_year = 1960 + (rng.random::<f64>().powf(0.8) * 45.0) as i32;
    let city = *weighted(&mut rng, CITIES);
    let span = (end - start).num_days();
    let signup_offset = match persona {
        Persona::RisingNewcomer => rng.random_range(span - 180..span - 20),
        Persona::Churned => rng.random_range(-365..100),
        Persona::Silent | Persona::LoyalHighValue => rng.random_range(-365..200),
        Persona::Regular => rng.random_range(-365..span - 120),
        Persona::Occasional => rng.random_range(-365..span - 10),
    };
    let signup = start + Duration::days(signup_offset);
    let channel = *weighted(&mut rng, SIGNUP_CHANNELS);
    let phone = mobile_number(id as u64, MOBILE_PREFIXES);
    let email = if rng.random_bool(0.88) {
        let domain = *weighted(&mut rng, EMAIL_DOMAINS);
        let style = rng.random_range(0..3);
        let local = match style {
            0 => format!("{pinyin}{}", id % 10_000),
            1 => format!("{surname_py}.{}{}", &pinyin[surname_py.len()..], id % 1000),
            _ => format!("{pinyin}{}", (birth_year as i64 % 100) * 1000 + (id % 1000)),
        };
        Some(format!("{local}.{id}@{domain}"))
    } else {
        None
    };
    Customer {
        id,
        persona,
        name,
        pinyin,
        gender,
        birth_year,
        city,
        signup,
        channel,
        phone,
        email,
    }
}

/// Product indexes with weights, optionally only the expensive ones.
struct ProductPicker {
    all: WeightedIndex<u32>,
    premium: Vec<usize>,
    by_category: BTreeMap<&'static str, (Vec<usize>, WeightedIndex<u32>)>,
    index_of: BTreeMap<&'static str, usize>,
}

impl ProductPicker {
    fn new() -> Result<Self> {
        let weights: Vec<u32> = PRODUCTS.iter().map(|p| p.weight).collect();
        let all = WeightedIndex::new(&weights).map_err(weights_err)?;
        let premium = (0..PRODUCTS.len())
            .filter(|&i| PRODUCTS[i].price >= 300.0)
            .collect();
        let mut by_category = BTreeMap::new();
        for category in CATEGORIES {
            let members: Vec<usize> = (0..PRODUCTS.len())
                .filter(|&i| PRODUCTS[i].category == *category)
                .collect();
            let weights: Vec<u32> = members.iter().map(|&i| PRODUCTS[i].weight).collect();
            let dist = WeightedIndex::new(&weights).map_err(weights_err)?;
            by_category.insert(*category, (members, dist));
        }
        let index_of = PRODUCTS
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name, i))
            .collect();
        Ok(Self {
            all,
            premium,
            by_category,
            index_of,
        })
    }
}

fn weights_err(e: rand::distr::weighted::Error) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Internal(format!("demo product weights: {e}"))
}

/// The days a customer is active and how many orders they place in that time.
fn activity(
    rng: &mut impl Rng,
    c: &Customer,
    start: NaiveDate,
    end: NaiveDate,
) -> (NaiveDate, NaiveDate, u64) {
    let from = c.signup.max(start);
    let years = |a: NaiveDate, b: NaiveDate| ((b - a).num_days().max(1) as f64) / 365.0;
    match c.persona {
        Persona::LoyalHighValue => (from, end, 1 + poisson(rng, 38.0 * years(from, end))),
        Persona::Regular => (from, end, 1 + poisson(rng, 12.0 * years(from, end))),
        Persona::RisingNewcomer => (from, end, 2 + poisson(rng, 10.0)),
        Persona::Silent => {
            let last = end - Duration::days(rng.random_range(95..250));
            let last = last.max(from + Duration::days(10));
            (from, last, 1 + poisson(rng, 13.0 * years(from, last)))
        }
        Persona::Churned => {
            let last = start + Duration::days(rng.random_range(60..330));
            let last = last.max(from + Duration::days(10));
            (from, last, 1 + poisson(rng, 10.0 * years(from, last)))
        }
        Persona::Occasional => {
            let n = if rng.random_bool(0.15) {
                0
            } else {
                1 + poisson(rng, 2.5)
            };
            (from, end, n)
        }
    }
}

/// Rating weights (1..=5) for a customer's order, by persona and whether it is a late order.
fn rating_weights(persona: Persona, late: bool) -> [(i32, u32); 5] {
    let w = match persona {
        Persona::LoyalHighValue => [2, 3, 10, 35, 50],
        Persona::Regular => [4, 6, 20, 40, 30],
        Persona::RisingNewcomer => [3, 5, 15, 37, 40],
        Persona::Silent => [8, 12, 30, 30, 20],
        Persona::Churned if late => [35, 25, 20, 12, 8],
        Persona::Churned => [8, 10, 27, 30, 25],
        Persona::Occasional => [8, 8, 30, 30, 24],
    };
    [(1, w[0]), (2, w[1]), (3, w[2]), (4, w[3]), (5, w[4])]
}

/// Order hours (Beijing time) with weights: evenings are busiest.
const HOUR_WEIGHTS: [(i64, u32); 24] = [
    (0, 1),
    (1, 1),
    (2, 1),
    (3, 1),
    (4, 1),
    (5, 1),
    (6, 2),
    (7, 3),
    (8, 4),
    (9, 5),
    (10, 6),
    (11, 6),
    (12, 7),
    (13, 6),
    (14, 5),
    (15, 5),
    (16, 6),
    (17, 7),
    (18, 8),
    (19, 10),
    (20, 12),
    (21, 13),
    (22, 10),
    (23, 4),
];

fn review_text(rng: &mut impl Rng, rating: i32, product: &str) -> String {
    let language = rng.random_range(0..100);
    if language < 8 {
        // Mixed Chinese/English; pick one whose tone matches the rating.
        let matching: Vec<&str> = MIXED
            .iter()
            .filter(|(_, r)| (*r - rating).abs() <= 1)
            .map(|(t, _)| *t)
            .collect();
        if !matching.is_empty() {
            return matching[rng.random_range(0..matching.len())].to_string();
        }
    }
    if language < 20 {
        return match rating {
            4 | 5 => pick_str(rng, EN_POSITIVE).to_string(),
            3 => pick_str(rng, EN_NEUTRAL).to_string(),
            _ => pick_str(rng, EN_NEGATIVE).to_string(),
        };
    }
    let mut text = String::from(product);
    match rating {
        5 => {
            text.push_str(pick_str(rng, ZH_POSITIVE));
            text.push('，');
            text.push_str(pick_str(rng, ZH_POSITIVE));
            if rng.random_bool(0.5) {
                text.push_str(pick_str(rng, ZH_POSITIVE_TAIL));
            }
        }
        4 => {
            text.push_str(pick_str(rng, ZH_POSITIVE));
            if rng.random_bool(0.4) {
                // Contrast: a small complaint first, the positive clause after "但是" weighs more.
                text = format!(
                    "{product}虽然{}，但是{}",
                    pick_str(rng, ZH_NEGATIVE),
                    pick_str(rng, ZH_POSITIVE)
                );
            }
        }
        3 => {
            text.push_str(pick_str(rng, ZH_NEUTRAL));
            if rng.random_bool(0.3) {
                text.push('，');
                text.push_str(pick_str(rng, ZH_NEGATED_POSITIVE));
            }
        }
        _ => {
            let form = rng.random_range(0..3);
            match form {
                0 => {
                    text.push_str(pick_str(rng, ZH_NEGATIVE));
                    text.push('，');
                    text.push_str(pick_str(rng, ZH_NEGATIVE));
                }
                1 => {
                    text = format!(
                        "{product}虽然{}，但是{}",
                        pick_str(rng, ZH_POSITIVE),
                        pick_str(rng, ZH_NEGATIVE)
                    );
                }
                _ => {
                    text.push_str(pick_str(rng, ZH_NEGATED_POSITIVE));
                    text.push('，');
                    text.push_str(pick_str(rng, ZH_NEGATIVE));
                }
            }
            if rng.random_bool(0.5) {
                text.push_str(pick_str(rng, ZH_NEGATIVE_TAIL));
            }
        }
    }
    text
}

fn make_orders(
    seed: u64,
    c: &Customer,
    start: NaiveDate,
    end: NaiveDate,
    picker: &ProductPicker,
) -> Vec<Order> {
    let mut rng = customer_rng(seed, c.id, 1);
    let (from, to, n) = activity(&mut rng, c, start, end);
    if n == 0 || to <= from {
        return Vec::new();
    }
    let span_days = (to - from).num_days().max(1) as f64;
    let mut day_offsets: Vec<f64> = (0..n)
        .map(|_| {
            let u: f64 = rng.random();
            // Rising newcomers buy more and more often: later days are more likely.
            if c.persona == Persona::RisingNewcomer {
                u.sqrt()
            } else {
                u
            }
        })
        .map(|u| u * span_days)
        .collect();
    day_offsets.sort_by(|a, b| a.total_cmp(b));

    let favourites = [*pick(&mut rng, CATEGORIES), *pick(&mut rng, CATEGORIES)];
    let spend = match c.persona {
        Persona::LoyalHighValue => 2.2,
        Persona::RisingNewcomer => 1.3,
        Persona::Regular | Persona::Silent => 1.0,
        Persona::Churned => 0.8,
        Persona::Occasional => 0.6,
    };
    let review_rate = match c.persona {
        Persona::Churned => 0.18,
        Persona::LoyalHighValue => 0.12,
        _ => 0.10,
    };

    let mut orders = Vec::with_capacity(n as usize);
    for (k, offset) in day_offsets.iter().enumerate() {
        let date = from + Duration::days(*offset as i64);
        let second = *weighted(&mut rng, &HOUR_WEIGHTS) * 3600 + rng.random_range(0..3600);
        let ts_micros = beijing_micros(date, second);
        let channel = *weighted(&mut rng, ORDER_CHANNELS);
        let store = if channel == "store" {
            format!("{}{}", c.city, pick(&mut rng, STORE_SUFFIXES))
        } else {
            "online".to_string()
        };
        let item_count = (1 + poisson(&mut rng, 0.8 * spend)).min(6);
        let mut products: Vec<usize> = Vec::new();
        for _ in 0..item_count {
            let product = if c.persona == Persona::LoyalHighValue && rng.random_bool(0.3) {
                *pick(&mut rng, &picker.premium)
            } else if rng.random_bool(0.6) {
                let category = favourites[rng.random_range(0..2)];
                match picker.by_category.get(category) {
                    Some((members, dist)) => members[dist.sample(&mut rng)],
                    None => picker.all.sample(&mut rng),
                }
            } else {
                picker.all.sample(&mut rng)
            };
            if !products.contains(&product) {
                products.push(product);
            }
        }
        // Planted co-purchases (for association rules).
        for (anchor, companion, probability) in CO_PURCHASE {
            let (Some(&a), Some(&b)) =
                (picker.index_of.get(anchor), picker.index_of.get(companion))
            else {
                continue;
            };
            if products.contains(&a) && !products.contains(&b) && rng.random_bool(*probability) {
                products.push(b);
            }
        }
        let items = products
            .into_iter()
            .map(|i| {
                let quantity = *weighted(&mut rng, &[(1, 80), (2, 15), (3, 5)]);
                let discount = 1.0 - 0.05 * rng.random_range(0..5) as f64;
                let cents = (PRODUCTS[i].price * discount * 100.0).round() as i64;
                (i, quantity, cents)
            })
            .collect::<Vec<_>>();
        let late = (k as f64) >= 0.6 * n as f64;
        let review = if rng.random_bool(review_rate) {
            let review_date = date + Duration::days(rng.random_range(2..10));
            if review_date < end {
                let rating = *weighted(&mut rng, &rating_weights(c.persona, late));
                let main_product = items
                    .iter()
                    .max_by_key(|(_, q, cents)| *q as i64 * cents)
                    .map_or("商品", |(i, _, _)| PRODUCTS[*i].name);
                let text = review_text(&mut rng, rating, main_product);
                let second = rng.random_range(8 * 3600..23 * 3600);
                Some((beijing_micros(review_date, second), rating, text))
            } else {
                None
            }
        } else {
            None
        };
        orders.push(Order {
            customer_id: c.id,
            ts_micros,
            channel,
            store,
            items,
            review,
        });
    }
    orders
}

/// A phone number written the ways other systems write it.
fn messy_phone(rng: &mut impl Rng, phone: &str) -> String {
    let (a, rest) = phone.split_at(3);
    let (b, c) = rest.split_at(4);
    match rng.random_range(0..100) {
        0..=34 => phone.to_string(),
        35..=49 => format!("{a} {b} {c}"),
        50..=64 => format!("+86 {a} {b} {c}"),
        65..=74 => format!("+86{phone}"),
        75..=84 => format!("0086-{a}-{b}-{c}"),
        85..=95 => format!("{a}-{b}-{c}"),
        // Full-width digits, as some input methods produce.
        _ => phone
            .chars()
            .map(|ch| {
                ch.to_digit(10)
                    .and_then(|d| char::from_u32(0xFF10 + d))
                    .unwrap_or(ch)
            })
            .collect(),
    }
}

fn messy_email(rng: &mut impl Rng, email: &str) -> String {
    match rng.random_range(0..100) {
        0..=59 => email.to_string(),
        60..=79 => email.to_uppercase(),
        80..=89 => format!(" {email} "),
        _ => {
            let mut chars = email.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        }
    }
}

struct CrmRow {
    full_name: String,
    mobile: Option<String>,
    email: Option<String>,
    wechat_id: Option<String>,
    city: String,
    created_micros: i64,
    customer_id: Option<i64>,
}

/// The CRM's contacts, made customer by customer as the customers are generated: one RNG over
/// all of them in order (so the contacts do not depend on how the customers were chunked), the
/// positions of the rows in the CRM's own order, and at the end the shuffled contact ids.
struct Crm {
    rng: ChaCha8Rng,
    /// Rows so far.
    rows: i64,
    /// Rows that are customers so far (every 37th of the first ones is a trap, see `add`).
    customer_rows: usize,
    traps: usize,
}

impl Crm {
    fn new(seed: u64, customers: usize) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0xC0FF_EE00),
            rows: 0,
            customer_rows: 0,
            traps: (customers / 300).max(3),
        }
    }

    fn push(&mut self, row: CrmRow, out: &mut Vec<(i64, CrmRow)>) {
        out.push((self.rows, row));
        self.rows += 1;
    }

    /// The contacts of one customer (none, one, or a duplicate pair).
    fn add(&mut self, c: &Customer, out: &mut Vec<(i64, CrmRow)>) {
        let rng = &mut self.rng;
        if !rng.random_bool(0.8) {
            return;
        }
        let copies = if rng.random_bool(0.06) { 2 } else { 1 };
        let wechat = rng
            .random_bool(0.6)
            .then(|| format!("wx_{}{}", c.pinyin, c.id % 100_000));
        for copy in 0..copies {
            let rng = &mut self.rng;
            let full_name = if rng.random_bool(0.1) {
                let split = c
                    .name
                    .char_indices()
                    .nth(1)
                    .map_or(c.name.len(), |(i, _)| i);
                format!("{} {}", &c.name[..split], &c.name[split..])
            } else {
                c.name.clone()
            };
            // A duplicate keeps at least one identifier of the first record, so it can be linked.
            let mobile = (copy == 0 || rng.random_bool(0.7)).then(|| messy_phone(rng, &c.phone));
            let email = c
                .email
                .as_ref()
                .filter(|_| mobile.is_none() || rng.random_bool(0.8))
                .map(|e| messy_email(rng, e));
            let mobile = if mobile.is_none() && email.is_none() && wechat.is_none() {
                Some(messy_phone(rng, &c.phone))
            } else {
                mobile
            };
            let created = c.signup + Duration::days(rng.random_range(-30..60));
            let mut row = CrmRow {
                full_name,
                mobile,
                email,
                wechat_id: wechat.clone(),
                city: c.city.to_string(),
                created_micros: beijing_micros(created, rng.random_range(9 * 3600..18 * 3600)),
                customer_id: Some(c.id),
            };
            // The classic trap for identity resolution: a shop hotline and a shared mailbox
            // entered for many different people.
            if self.customer_rows.is_multiple_of(37) && self.customer_rows / 37 < self.traps {
                row.mobile = Some("13800138000".to_string());
                row.email = Some("info@huaxiang-shop.com".to_string());
            }
            self.customer_rows += 1;
            self.push(row, out);
        }
    }

    /// People the CRM knows who never bought anything (a tenth as many as the customers).
    fn prospects(&mut self, customers: usize, out: &mut Vec<(i64, CrmRow)>) {
        for k in 0..customers / 10 {
            let rng = &mut self.rng;
            let gender = if rng.random_bool(0.5) {
                GIVEN_FEMALE
            } else {
                GIVEN_MALE
            };
            let (s, s_py) = *pick(rng, SURNAMES);
            let (g, g_py) = *pick(rng, gender);
            let phone = mobile_number(50_000_000 + k as u64, &["166", "167", "171", "173"]);
            let row = CrmRow {
                full_name: format!("{s}{g}"),
                mobile: Some(messy_phone(rng, &phone)),
                email: rng
                    .random_bool(0.5)
                    .then(|| format!("{s_py}{g_py}.p{k}@163.com")),
                wechat_id: None,
                city: weighted(rng, CITIES).to_string(),
                created_micros: beijing_micros(
                    as_of() - Duration::days(rng.random_range(10..900)),
                    36_000,
                ),
                customer_id: None,
            };
            self.push(row, out);
        }
    }

    /// Contact ids in a shuffled order, so they do not reveal the customer order: row `r`
    /// gets `CRM` and the 7 digits of 1,000,000 + the `r`th number (see `contact_id`).
    fn contact_numbers(mut self) -> Vec<u32> {
        let mut ids: Vec<u32> = (0..self.rows as u32).collect();
        ids.shuffle(&mut self.rng);
        ids
    }
}

fn contact_id(number: u32) -> String {
    format!("CRM{:07}", 1_000_000 + number as u64)
}

/// Customers generated (and their orders and contacts staged) at a time: what the generator
/// holds in memory is one chunk, whatever the size of the data set.
const CHUNK_CUSTOMERS: usize = 20_000;

/// Memory the queries that make the tables may hold; their sorts spill to disk beyond it.
const TABLE_MEMORY_BYTES: usize = 2 << 30;

/// Where the demo stages its data while it runs (inside the data dir: the same disk as the
/// tables, and never another data dir's run).
const STAGING_DIR: &str = "demo-staging";

/// Generates the customers chunk by chunk into the staging files (see `stage.rs`); returns the
/// CRM's shuffled contact numbers (4 bytes per contact: the only thing kept for the whole set).
fn generate(options: &DemoOptions, dir: &Path, progress: &ProgressBar) -> Result<Vec<u32>> {
    let end = as_of();
    let start = end - Duration::days(730);
    let picker = ProductPicker::new()?;
    progress.set_length(options.customers as u64);
    progress.set_message("customers and orders");
    let mut staging = stage::Staging::create(
        dir,
        beijing_micros(start, 0),
        beijing_micros(end + Duration::days(1), 0),
    )?;
    let mut crm = Crm::new(options.seed, options.customers);
    let mut contacts = Vec::new();
    for first in (0..options.customers).step_by(CHUNK_CUSTOMERS) {
        let last = (first + CHUNK_CUSTOMERS).min(options.customers);
        let customers: Vec<Customer> = (first..last)
            .map(|index| make_customer(options.seed, 100_001 + index as i64, start, end))
            .collect();
        let mut orders = Vec::new();
        for customer in &customers {
            let made = make_orders(options.seed, customer, start, end, &picker);
            orders.extend((0..).zip(made));
            crm.add(customer, &mut contacts);
        }
        staging.customers(&customers)?;
        staging.orders(&orders)?;
        staging.crm(&contacts)?;
        contacts.clear();
        progress.set_position(last as u64);
    }
    crm.prospects(options.customers, &mut contacts);
    staging.crm(&contacts)?;
    staging.close()?;
    progress.set_message("numbering the orders by time");
    // Order ids follow time, as in a real shop; ties (one customer's orders in the same
    // second) in the customer's own order.
    stage::number_orders(dir, FIRST_ORDER_ID)?;
    Ok(crm.contact_numbers())
}

/// What the demo tables are made of — the staging files, and the contact ids
/// (`demo_contact_id(r)`) — as a session of their own to plan the queries in.
async fn staging_session(dir: &Path, contact_numbers: Vec<u32>) -> Result<SessionContext> {
    let numbers = Arc::new(contact_numbers);
    let ctx = crate::engine::scratch_context(vec![contact_id_udf(numbers)]);
    for (name, file, sorted_by) in [
        ("staged_customers", stage::CUSTOMERS, Some("customer_id")),
        // One file, in order_id's order: the tables made from it merge instead of sorting.
        ("numbered", stage::NUMBERED, Some("order_id")),
        ("staged_crm", stage::CRM, None),
    ] {
        register_staged(&ctx, name, &dir.join(file), sorted_by).await?;
    }
    Ok(ctx)
}

/// `demo_contact_id(r)`: the contact id of the CRM's `r`th contact, from the shuffled
/// `numbers`.
fn contact_id_udf(numbers: Arc<Vec<u32>>) -> ScalarUDF {
    create_udf(
        "demo_contact_id",
        vec![DataType::Int64],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let rows = ColumnarValue::values_to_arrays(args)?;
            let Some(positions) = rows.first().and_then(|r| r.as_primitive_opt::<Int64Type>())
            else {
                return datafusion::common::internal_err!("demo_contact_id takes one bigint");
            };
            let ids: StringArray = positions
                .iter()
                .map(|r| {
                    let r = usize::try_from(r?).ok()?;
                    numbers.get(r).map(|n| contact_id(*n))
                })
                .collect();
            Ok(ColumnarValue::Array(Arc::new(ids)))
        }),
    )
}

/// Registers a staging file; `sorted_by`: the column it is written in the order of (so
/// queries ordered by it merge rather than sort).
async fn register_staged(
    ctx: &SessionContext,
    name: &str,
    path: &Path,
    sorted_by: Option<&str>,
) -> Result<()> {
    let mut options = ParquetReadOptions::default();
    if let Some(column) = sorted_by {
        options = options.file_sort_order(vec![vec![col(column).sort(true, false)]]);
    }
    ctx.register_parquet(name, path_text(path)?, options).await
}

fn path_text(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| {
        datafusion::error::DataFusionError::Execution(format!(
            "the data dir's path is not UTF-8: {}",
            path.display()
        ))
    })
}

const FIRST_ORDER_ID: i64 = 1_000_001;

/// The demo tables, by the query that makes each from the staging files and `numbered`.
const TABLE_QUERIES: [(&str, &str); 5] = [
    (
        "customers",
        "SELECT * FROM staged_customers ORDER BY customer_id",
    ),
    (
        "orders",
        "SELECT order_id, customer_id, order_ts, amount, category, channel, store \
         FROM numbered ORDER BY order_id",
    ),
    (
        "order_items",
        // An order's items are together, in order_id's order; among themselves (no column
        // orders them) they may come in another order than generated: the sort after `unnest`
        // is not stable (seen at 30,000 customers; the rows are the same).
        "SELECT order_id, item['product'] AS product, item['category'] AS category, \
                item['quantity'] AS quantity, item['unit_price'] AS unit_price \
         FROM (SELECT order_id, unnest(items) AS item FROM numbered) ORDER BY order_id",
    ),
    (
        "reviews",
        "SELECT CAST(row_number() OVER (ORDER BY review_ts, order_id) AS BIGINT) AS review_id, \
                customer_id, order_id, review_ts, channel, rating, review_text AS text \
         FROM numbered WHERE review_ts IS NOT NULL ORDER BY review_id",
    ),
    (
        "crm_contacts",
        "SELECT demo_contact_id(r) AS contact_id, full_name, mobile, email, wechat_id, city, \
                created_at \
         FROM staged_crm ORDER BY contact_id",
    ),
];

/// The true customer of every CRM contact that is a customer, in contact order.
const TRUTH_QUERY: &str = "SELECT demo_contact_id(r) AS contact_id, customer_id FROM staged_crm \
     WHERE customer_id IS NOT NULL ORDER BY contact_id";

/// Makes (or replaces) the demo tables from the staging files, each atomically, and the truth
/// file.
async fn make_tables(
    engine: &Engine,
    dir: &Path,
    contact_numbers: Vec<u32>,
    progress: &ProgressBar,
) -> Result<()> {
    let staged = staging_session(dir, contact_numbers).await?;
    // The engine's session, with a memory limit its sorts spill under.
    let state = engine.bulk_session(TABLE_MEMORY_BYTES)?;
    progress.set_position(0);
    progress.set_length(TABLES.len() as u64);
    for (name, sql) in TABLE_QUERIES {
        progress.set_message(format!("writing {name}"));
        let plan = staged.sql(sql).await?.logical_plan().clone();
        let cmd = CreateMemoryTable {
            name: TableReference::bare(name),
            constraints: Constraints::default(),
            input: Arc::new(plan),
            if_not_exists: false,
            or_replace: true,
            column_defaults: vec![],
            temporary: false,
        };
        engine
            .catalog()
            .create_table(&cmd, &engine.administrator(), &state)
            .await?;
        progress.inc(1);
    }
    let truth = staged.sql(TRUTH_QUERY).await?.logical_plan().clone();
    let truth = DataFrame::new(state, truth).execute_stream().await?;
    write_truth(engine.data_dir(), truth).await
}

/// Writes the truth file from `(contact_id, customer_id)` batches, replacing it atomically.
async fn write_truth(data_dir: &Path, mut truth: SendableRecordBatchStream) -> Result<()> {
    let path = data_dir.join(TRUTH_FILE);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("csv.tmp");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    out.write_all(b"contact_id,customer_id\n")?;
    while let Some(batch) = truth.next().await {
        let batch = batch?;
        let contacts = cast(batch.column(0), &DataType::Utf8)?;
        let customers = cast(batch.column(1), &DataType::Int64)?;
        let (Some(contacts), Some(customers)) = (
            contacts.as_string_opt::<i32>(),
            customers.as_primitive_opt::<Int64Type>(),
        ) else {
            return datafusion::common::internal_err!("the truth query's columns");
        };
        for (contact, customer) in contacts.iter().zip(customers.iter()) {
            if let (Some(contact), Some(customer)) = (contact, customer) {
                writeln!(out, "{contact},{customer}")?;
            }
        }
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(())
}

/// Generates and writes the demo data set, showing progress on the terminal. Memory stays
/// bounded whatever the size: customers are generated a chunk at a time into staging files in
/// the data dir (removed at the end), and the tables are made from them by queries that spill
/// to disk.
pub async fn create(engine: &Engine, options: &DemoOptions, show_progress: bool) -> Result<()> {
    let progress = if show_progress {
        ProgressBar::new(options.customers as u64)
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
    {
        progress.set_style(style);
    }
    let dir = engine.data_dir().join(STAGING_DIR);
    let contact_numbers = {
        let options = options.clone();
        let bar = progress.clone();
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || generate(&options, &dir, &bar))
            .await
            .map_err(|e| {
                datafusion::error::DataFusionError::Execution(format!(
                    "demo generation failed: {e}"
                ))
            })?
    };
    let made = match contact_numbers {
        Ok(numbers) => make_tables(engine, &dir, numbers, &progress).await,
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_dir_all(&dir);
    made?;
    progress.set_message("writing the Excel order export");
    write_excel_export(engine).await?;
    progress.finish_with_message("demo data ready");
    Ok(())
}

/// Whether the demo tables are all present.
pub fn is_present(engine: &Engine) -> bool {
    let names = engine.catalog().relation_names();
    TABLES.iter().all(|t| names.iter().any(|n| n == t))
}

/// Where the demo writes the shop's Excel order export (relative paths given to `read_excel`
/// are looked up in the data dir's `imports/`).
pub const EXCEL_EXPORT: &str = "imports/shop_orders.xlsx";

/// The most orders the Excel export holds (see [`write_excel_export`]).
pub const EXCEL_EXPORT_ROWS: usize = 100_000;

/// Writes the shop's order export of the last 14 days as an Excel workbook, as a shop system
/// would: sheet `订单` with the customer's name and mobile number (written as people write
/// them) instead of the customer id, and a sheet `说明` with a note. Written to a temporary
/// file and renamed, so a reader never sees half a workbook. At most [`EXCEL_EXPORT_ROWS`]
/// orders (the first of the period; a sheet holds 1,048,576 rows, and the workbook is built in
/// memory), so the export of a ten-million-customer demo stays a workbook.
pub async fn write_excel_export(engine: &Engine) -> Result<()> {
    use datafusion::arrow::array::{AsArray, Float64Array, Int64Array};
    use datafusion::arrow::datatypes::TimestampMicrosecondType;
    let batches = engine
        .context()
        .sql(&format!(
            "SELECT o.order_id, o.order_ts, c.name, c.phone, \
             CAST(o.amount AS DOUBLE) AS amount, o.channel \
             FROM orders o JOIN customers c USING (customer_id) \
             WHERE o.order_ts >= TIMESTAMP '2026-10-18 00:00:00' ORDER BY o.order_id \
             LIMIT {EXCEL_EXPORT_ROWS}"
        ))
        .await?
        .collect()
        .await?;
    let mut book = rust_xlsxwriter::Workbook::new();
    let date_format = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm");
    let xlsx =
        |e: rust_xlsxwriter::XlsxError| datafusion::error::DataFusionError::External(Box::new(e));
    {
        let sheet = book.add_worksheet();
        sheet.set_name("订单").map_err(xlsx)?;
        for (c, title) in ["订单号", "下单时间", "客户姓名", "手机号", "金额", "渠道"]
            .iter()
            .enumerate()
        {
            sheet.write_string(0, c as u16, *title).map_err(xlsx)?;
        }
        let mut row = 1u32;
        for b in &batches {
            let ids = b.column(0).as_any().downcast_ref::<Int64Array>();
            let ts = datafusion::arrow::compute::cast(
                b.column(1),
                &DataType::Timestamp(TimeUnit::Microsecond, None),
            )?;
            let Some(ts) = ts.as_primitive_opt::<TimestampMicrosecondType>() else {
                continue;
            };
            let names = datafusion::arrow::compute::cast(b.column(2), &DataType::Utf8)?;
            let phones = datafusion::arrow::compute::cast(b.column(3), &DataType::Utf8)?;
            let channels = datafusion::arrow::compute::cast(b.column(5), &DataType::Utf8)?;
            let amounts = b.column(4).as_any().downcast_ref::<Float64Array>();
            let (Some(ids), Some(amounts)) = (ids, amounts) else {
                continue;
            };
            for i in 0..b.num_rows() {
                let id = ids.value(i);
                sheet
                    .write_string(row, 0, format!("SO{id}"))
                    .map_err(xlsx)?;
                if let Some(t) = chrono::DateTime::from_timestamp_micros(ts.value(i)) {
                    sheet
                        .write_datetime_with_format(row, 1, t.naive_utc(), &date_format)
                        .map_err(xlsx)?;
                }
                sheet
                    .write_string(row, 2, names.as_string::<i32>().value(i))
                    .map_err(xlsx)?;
                let phone = phones.as_string::<i32>().value(i);
                let written = match id % 3 {
                    0 => phone.to_string(),
                    1 if phone.len() == 11 => {
                        format!("{} {} {}", &phone[..3], &phone[3..7], &phone[7..])
                    }
                    _ => format!("+86-{phone}"),
                };
                sheet.write_string(row, 3, written).map_err(xlsx)?;
                sheet.write_number(row, 4, amounts.value(i)).map_err(xlsx)?;
                sheet
                    .write_string(row, 5, channels.as_string::<i32>().value(i))
                    .map_err(xlsx)?;
                row += 1;
            }
        }
    }
    {
        let sheet = book.add_worksheet();
        sheet.set_name("说明").map_err(xlsx)?;
        sheet
            .write_string(0, 0, "门店系统订单导出：最近 14 天，按手机号识别客户")
            .map_err(xlsx)?;
    }
    let path = engine.data_dir().join(EXCEL_EXPORT);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("xlsx.tmp");
    book.save(&tmp).map_err(xlsx)?;
    std::fs::rename(&tmp, &path)?;
    Ok(())
}
