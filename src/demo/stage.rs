//! The demo's staging files: what the generator writes chunk by chunk, as Parquet, before the
//! tables are made from them by queries (see `super::make_tables`). Holding every order in
//! memory to number them by time took 8.6 GB at a million customers. Orders are staged in
//! buckets of time instead, each sorted on its own when they are numbered (`number_orders`):
//! what is held is one bucket, a 32nd of the orders. (Sorting them all in one query spilled,
//! but its merge of the spilled runs of these nested rows still peaked at 5 GB.)

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Date32Builder, Decimal128Builder, Int32Builder, Int64Array, Int64Builder, ListArray,
    RecordBatch, StringBuilder, StructArray, TimestampMicrosecondBuilder,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::{
    SortColumn, concat_batches, lexsort_to_indices, take_record_batch,
};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use datafusion::common::Result;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;

use super::{CrmRow, Customer, Order, PRODUCTS, days_since_epoch};

pub const CUSTOMERS: &str = "customers.parquet";
pub const CRM: &str = "crm.parquet";
/// The orders numbered by time (see `super::NUMBERED_ORDERS`).
pub const NUMBERED: &str = "numbered.parquet";

fn utc_timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn money() -> DataType {
    DataType::Decimal128(12, 2)
}

fn money_builder() -> Result<Decimal128Builder> {
    Ok(Decimal128Builder::new().with_precision_and_scale(12, 2)?)
}

fn customers_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("gender", DataType::Utf8, false),
        Field::new("birth_year", DataType::Int32, false),
        Field::new("city", DataType::Utf8, false),
        Field::new("signup_date", DataType::Date32, false),
        Field::new("channel", DataType::Utf8, false),
        Field::new("phone", DataType::Utf8, false),
        Field::new("email", DataType::Utf8, true),
    ]))
}

fn item_fields() -> Fields {
    Fields::from(vec![
        Field::new("product", DataType::Utf8, false),
        Field::new("category", DataType::Utf8, false),
        Field::new("quantity", DataType::Int32, false),
        Field::new("unit_price", money(), false),
    ])
}

fn item_list_field() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Struct(item_fields()), false))
}

/// An order with its items and review, before it has an id; `seq` numbers a customer's orders
/// in time, so (order_ts, customer_id, seq) orders them as the shop does.
fn orders_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("order_ts", utc_timestamp(), false),
        Field::new("customer_id", DataType::Int64, false),
        Field::new("seq", DataType::Int32, false),
        Field::new("amount", money(), false),
        Field::new("category", DataType::Utf8, false),
        Field::new("channel", DataType::Utf8, false),
        Field::new("store", DataType::Utf8, false),
        Field::new("items", DataType::List(item_list_field()), false),
        Field::new("review_ts", utc_timestamp(), true),
        Field::new("rating", DataType::Int32, true),
        Field::new("review_text", DataType::Utf8, true),
    ]))
}

/// A CRM contact before its id: `r` is its position in the CRM's own order, which the
/// shuffled contact ids are drawn for at the end.
fn crm_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("r", DataType::Int64, false),
        Field::new("full_name", DataType::Utf8, false),
        Field::new("mobile", DataType::Utf8, true),
        Field::new("email", DataType::Utf8, true),
        Field::new("wechat_id", DataType::Utf8, true),
        Field::new("city", DataType::Utf8, false),
        Field::new("created_at", utc_timestamp(), false),
        Field::new("customer_id", DataType::Int64, true),
    ]))
}

/// The buckets of time the orders are staged in.
const ORDER_BUCKETS: usize = 32;

fn bucket_file(bucket: usize) -> String {
    format!("orders-{bucket:02}.parquet")
}

/// The staging directory's open files.
pub struct Staging {
    customers: ArrowWriter<File>,
    /// One per bucket of `bucket_micros` from `first_micros`, in time order.
    orders: Vec<ArrowWriter<File>>,
    first_micros: i64,
    bucket_micros: i64,
    crm: ArrowWriter<File>,
}

/// A staging file's writer: fast compression (written once, read once), and small row groups,
/// which are what the writer holds in memory.
fn writer(dir: &Path, name: &str, schema: SchemaRef) -> Result<ArrowWriter<File>> {
    let file = File::create(dir.join(name))?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(65_536))
        .build();
    Ok(ArrowWriter::try_new(file, schema, Some(properties))?)
}

impl Staging {
    /// Creates `dir` afresh, for orders placed from `first_micros` to `last_micros` (an order
    /// outside goes to the first or last bucket: the buckets stay in time order).
    pub fn create(dir: &Path, first_micros: i64, last_micros: i64) -> Result<Self> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::create_dir_all(dir)?;
        let orders = (0..ORDER_BUCKETS)
            .map(|bucket| writer(dir, &bucket_file(bucket), orders_schema()))
            .collect::<Result<_>>()?;
        let span = (last_micros - first_micros).max(ORDER_BUCKETS as i64);
        Ok(Self {
            customers: writer(dir, CUSTOMERS, customers_schema())?,
            orders,
            first_micros,
            bucket_micros: span / ORDER_BUCKETS as i64 + 1,
            crm: writer(dir, CRM, crm_schema())?,
        })
    }

    fn bucket(&self, ts_micros: i64) -> usize {
        let k = (ts_micros - self.first_micros).div_euclid(self.bucket_micros);
        k.clamp(0, ORDER_BUCKETS as i64 - 1) as usize
    }

    pub fn customers(&mut self, customers: &[Customer]) -> Result<()> {
        let mut id = Int64Builder::new();
        let mut name = StringBuilder::new();
        let mut gender = StringBuilder::new();
        let mut birth = Int32Builder::new();
        let mut city = StringBuilder::new();
        let mut signup = Date32Builder::new();
        let mut channel = StringBuilder::new();
        let mut phone = StringBuilder::new();
        let mut email = StringBuilder::new();
        for c in customers {
            id.append_value(c.id);
            name.append_value(&c.name);
            gender.append_value(c.gender);
            birth.append_value(c.birth_year);
            city.append_value(c.city);
            signup.append_value(days_since_epoch(c.signup));
            channel.append_value(c.channel);
            phone.append_value(&c.phone);
            email.append_option(c.email.as_deref());
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(id.finish()),
            Arc::new(name.finish()),
            Arc::new(gender.finish()),
            Arc::new(birth.finish()),
            Arc::new(city.finish()),
            Arc::new(signup.finish()),
            Arc::new(channel.finish()),
            Arc::new(phone.finish()),
            Arc::new(email.finish()),
        ];
        self.customers
            .write(&RecordBatch::try_new(customers_schema(), columns)?)?;
        Ok(())
    }

    /// `orders` are one customer's or more, each with its `seq` among its customer's orders;
    /// each goes to its bucket of time.
    pub fn orders(&mut self, orders: &[(i32, Order)]) -> Result<()> {
        let mut buckets: Vec<Vec<&(i32, Order)>> = vec![Vec::new(); ORDER_BUCKETS];
        for order in orders {
            buckets[self.bucket(order.1.ts_micros)].push(order);
        }
        for (writer, orders) in self.orders.iter_mut().zip(buckets) {
            if !orders.is_empty() {
                writer.write(&orders_batch(&orders)?)?;
            }
        }
        Ok(())
    }

    /// `rows` with their positions in the CRM's order.
    pub fn crm(&mut self, rows: &[(i64, CrmRow)]) -> Result<()> {
        let mut r = Int64Builder::new();
        let mut name = StringBuilder::new();
        let mut mobile = StringBuilder::new();
        let mut email = StringBuilder::new();
        let mut wechat = StringBuilder::new();
        let mut city = StringBuilder::new();
        let mut created = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        let mut customer = Int64Builder::new();
        for (position, row) in rows {
            r.append_value(*position);
            name.append_value(&row.full_name);
            mobile.append_option(row.mobile.as_deref());
            email.append_option(row.email.as_deref());
            wechat.append_option(row.wechat_id.as_deref());
            city.append_value(&row.city);
            created.append_value(row.created_micros);
            customer.append_option(row.customer_id);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(r.finish()),
            Arc::new(name.finish()),
            Arc::new(mobile.finish()),
            Arc::new(email.finish()),
            Arc::new(wechat.finish()),
            Arc::new(city.finish()),
            Arc::new(created.finish()),
            Arc::new(customer.finish()),
        ];
        self.crm
            .write(&RecordBatch::try_new(crm_schema(), columns)?)?;
        Ok(())
    }

    /// Finishes the files.
    pub fn close(self) -> Result<()> {
        self.customers.close()?;
        for orders in self.orders {
            orders.close()?;
        }
        self.crm.close()?;
        Ok(())
    }
}

/// The staged rows of `orders`.
fn orders_batch(orders: &[&(i32, Order)]) -> Result<RecordBatch> {
    let mut ts = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut customer = Int64Builder::new();
    let mut seq = Int32Builder::new();
    let mut amount = money_builder()?;
    let mut category = StringBuilder::new();
    let mut channel = StringBuilder::new();
    let mut store = StringBuilder::new();
    let mut review_ts = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut rating = Int32Builder::new();
    let mut review_text = StringBuilder::new();
    let mut lengths = Vec::with_capacity(orders.len());
    let mut product = StringBuilder::new();
    let mut item_category = StringBuilder::new();
    let mut quantity = Int32Builder::new();
    let mut unit_price = money_builder()?;
    for (k, order) in orders.iter().copied() {
        let total: i64 = order
            .items
            .iter()
            .map(|(_, q, cents)| *q as i64 * cents)
            .sum();
        let main = order
            .items
            .iter()
            .max_by_key(|(_, q, cents)| *q as i64 * cents)
            .map_or(0, |(i, _, _)| *i);
        ts.append_value(order.ts_micros);
        customer.append_value(order.customer_id);
        seq.append_value(*k);
        amount.append_value(total as i128);
        category.append_value(PRODUCTS[main].category);
        channel.append_value(order.channel);
        store.append_value(&order.store);
        match &order.review {
            Some((at, stars, text)) => {
                review_ts.append_value(*at);
                rating.append_value(*stars);
                review_text.append_value(text);
            }
            None => {
                review_ts.append_null();
                rating.append_null();
                review_text.append_null();
            }
        }
        lengths.push(order.items.len());
        for (p, q, cents) in &order.items {
            product.append_value(PRODUCTS[*p].name);
            item_category.append_value(PRODUCTS[*p].category);
            quantity.append_value(*q);
            unit_price.append_value(*cents as i128);
        }
    }
    let items = StructArray::try_new(
        item_fields(),
        vec![
            Arc::new(product.finish()),
            Arc::new(item_category.finish()),
            Arc::new(quantity.finish()),
            Arc::new(unit_price.finish()),
        ],
        None,
    )?;
    let items = ListArray::try_new(
        item_list_field(),
        OffsetBuffer::from_lengths(lengths),
        Arc::new(items),
        None,
    )?;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(ts.finish()),
        Arc::new(customer.finish()),
        Arc::new(seq.finish()),
        Arc::new(amount.finish()),
        Arc::new(category.finish()),
        Arc::new(channel.finish()),
        Arc::new(store.finish()),
        Arc::new(items),
        Arc::new(review_ts.finish()),
        Arc::new(rating.finish()),
        Arc::new(review_text.finish()),
    ];
    Ok(RecordBatch::try_new(orders_schema(), columns)?)
}

/// Numbers the staged orders by time — `order_id` from `first_id` on, in the order of
/// (order_ts, customer_id, seq) — into `numbered`, in that order, a bucket at a time; removes
/// the bucket files.
pub fn number_orders(dir: &Path, first_id: i64) -> Result<()> {
    let mut next_id = first_id;
    let mut out = writer(dir, NUMBERED, numbered_schema())?;
    for bucket in 0..ORDER_BUCKETS {
        let path = dir.join(bucket_file(bucket));
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path)?)?.build()?;
        let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
        let rows = concat_batches(&orders_schema(), &batches)?;
        drop(batches);
        let keys: Vec<SortColumn> = ["order_ts", "customer_id", "seq"]
            .iter()
            .map(|name| {
                Ok(SortColumn {
                    values: rows.column(rows.schema().index_of(name)?).clone(),
                    options: None,
                })
            })
            .collect::<Result<_>>()?;
        let rows = take_record_batch(&rows, &lexsort_to_indices(&keys, None)?)?;
        let ids = Int64Array::from_iter_values(next_id..next_id + rows.num_rows() as i64);
        next_id += rows.num_rows() as i64;
        let mut columns: Vec<ArrayRef> = vec![Arc::new(ids)];
        columns.extend(rows.columns().iter().cloned());
        let rows = RecordBatch::try_new(numbered_schema(), columns)?;
        out.write(&rows)?;
        drop(rows);
        std::fs::remove_file(&path)?;
    }
    out.close()?;
    Ok(())
}

/// `order_id`, then the staged order's columns.
fn numbered_schema() -> SchemaRef {
    let mut fields = vec![Arc::new(Field::new("order_id", DataType::Int64, false))];
    fields.extend(orders_schema().fields().iter().cloned());
    Arc::new(Schema::new(fields))
}
