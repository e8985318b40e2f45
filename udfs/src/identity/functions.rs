//! The SQL surface: `resolve_identities` (a person id per record), `identity_persons` (why
//! records were merged) and `identity_rejected` (identifiers too common to link by).

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, ListBuilder, RecordBatch, StringArray, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DataFusionError, Result, exec_err, plan_err};
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::resolve::{Records, Resolution, resolve};
use crate::query_table::{QueryTable, plan_query, session_state, string_arg};

const DEFAULT_MAX_PERSONS: usize = 10;

/// Which of the three answers a call gives.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Records,
    Persons,
    Rejected,
}

#[derive(Debug, Clone)]
struct Options {
    max_persons: usize,
    /// Identifier kinds named first, most trusted first.
    trust: Vec<String>,
}

fn parse_options(function: &str, text: &str) -> Result<Options> {
    let mut options = Options {
        max_persons: DEFAULT_MAX_PERSONS,
        trust: Vec::new(),
    };
    let pairs = crate::key_values(text, "max_persons, trust")
        .map_err(|e| DataFusionError::Plan(format!("{function}: {e}")))?;
    for (key, value) in pairs {
        match key.as_str() {
            "max_persons" => {
                options.max_persons = match value.parse::<usize>() {
                    Ok(n) if n >= 1 => n,
                    _ => {
                        return plan_err!(
                            "{function}: max_persons must be a whole number of at least 1, got '{value}'"
                        );
                    }
                }
            }
            "trust" => {
                options.trust = value
                    .split('>')
                    .map(|k| k.trim().to_string())
                    .filter(|k| !k.is_empty())
                    .collect();
            }
            other => {
                return plan_err!(
                    "{function}: unknown option '{other}' (options: max_persons, trust)"
                );
            }
        }
    }
    Ok(options)
}

/// The shared planning step of the three functions: arguments, the query, its columns.
fn plan(
    function: &'static str,
    answer: Answer,
    args: TableFunctionArgs,
) -> Result<Arc<dyn TableProvider>> {
    let exprs = args.exprs();
    if !(1..=2).contains(&exprs.len()) {
        return plan_err!(
            "{function} takes 1 or 2 arguments ('query' [, 'options']), got {}",
            exprs.len()
        );
    }
    let state = session_state(args.session(), function)?;
    let query = string_arg(function, "query", &exprs[0])?;
    let options = match exprs.get(1) {
        Some(e) => parse_options(function, &string_arg(function, "options", e)?)?,
        None => parse_options(function, "")?,
    };
    let input = plan_query(state, function, &query)?;
    let fields = input.schema().fields();
    if fields.len() < 3 {
        return plan_err!(
            "{function}: the query must return source, record_id and at least one identifier column; it returns {} column(s)",
            fields.len()
        );
    }
    let columns: Vec<String> = fields.iter().map(|f| f.name().clone()).collect();
    let identifiers = &columns[2..];
    for kind in &options.trust {
        if !identifiers.contains(kind) {
            return plan_err!(
                "{function}: trust names '{kind}', which is not an identifier column (they are: {})",
                identifiers.join(", ")
            );
        }
    }
    // Trust order: the kinds the option names, then the others in column order.
    let mut order: Vec<usize> = options
        .trust
        .iter()
        .filter_map(|k| identifiers.iter().position(|c| c == k))
        .collect();
    order.dedup();
    for i in 0..identifiers.len() {
        if !order.contains(&i) {
            order.push(i);
        }
    }
    let order: Vec<usize> = order.into_iter().map(|i| i + 2).collect();
    let schema = output_schema(answer);
    let out_schema = schema.clone();
    let max_persons = options.max_persons;
    let finish = Arc::new(move |batches: Vec<RecordBatch>| {
        let records = gather(function, &batches, &columns, &order)?;
        crate::stop::checkpoint()?;
        let resolution = resolve(&records, max_persons);
        crate::stop::checkpoint()?;
        let columns = match answer {
            Answer::Records => record_rows(&records, &resolution),
            Answer::Persons => person_rows(&records, &resolution),
            Answer::Rejected => rejected_rows(&records, &resolution),
        };
        if columns[0].is_empty() {
            return Ok(vec![]);
        }
        Ok(vec![RecordBatch::try_new(out_schema.clone(), columns)?])
    });
    Ok(Arc::new(QueryTable::new(function, input, schema, finish)))
}

fn text_list(name: &str) -> Field {
    Field::new(
        name,
        DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        false,
    )
}

fn output_schema(answer: Answer) -> SchemaRef {
    let text = |name: &str| Field::new(name, DataType::Utf8, false);
    let count = |name: &str| Field::new(name, DataType::Int64, false);
    Arc::new(Schema::new(match answer {
        Answer::Records => vec![
            text("source"),
            text("record_id"),
            text("person_id"),
            count("person_records"),
        ],
        Answer::Persons => vec![
            text("person_id"),
            count("records"),
            text_list("sources"),
            text_list("members"),
            text_list("linked_by"),
        ],
        Answer::Rejected => vec![
            text("kind"),
            text("value"),
            count("records"),
            count("persons"),
        ],
    }))
}

/// The query's rows as sorted, checked records: keys as text, identifiers as trimmed text
/// (empty is NULL), identifier columns in trust order.
fn gather(
    function: &str,
    batches: &[RecordBatch],
    columns: &[String],
    order: &[usize],
) -> Result<Records> {
    let text_columns = |c: usize| -> Result<Vec<ArrayRef>> {
        batches
            .iter()
            .map(|b| Ok(cast(b.column(c), &DataType::Utf8)?))
            .collect()
    };
    let sources = text_columns(0)?;
    let ids = text_columns(1)?;
    let mut keys: Vec<(String, String, usize, usize)> = Vec::new();
    for (b, (s, r)) in sources.iter().zip(&ids).enumerate() {
        let (s, r) = (s.as_string::<i32>(), r.as_string::<i32>());
        for row in 0..s.len() {
            if s.is_null(row) || r.is_null(row) {
                let which = if s.is_null(row) {
                    &columns[0]
                } else {
                    &columns[1]
                };
                return exec_err!(
                    "{function}: {which} is NULL in a row; every record needs a source and a record id"
                );
            }
            keys.push((s.value(row).to_string(), r.value(row).to_string(), b, row));
        }
    }
    keys.sort_unstable();
    if let Some(w) = keys
        .windows(2)
        .find(|w| w[0].0 == w[1].0 && w[0].1 == w[1].1)
    {
        return exec_err!(
            "{function}: record ({}, {}) appears more than once; ({}, {}) must be unique",
            w[0].0,
            w[0].1,
            columns[0],
            columns[1]
        );
    }
    let mut records = Records {
        kinds: order.iter().map(|&c| columns[c].clone()).collect(),
        ..Records::default()
    };
    for &c in order {
        let arrays = text_columns(c)?;
        let arrays: Vec<&StringArray> = arrays.iter().map(|a| a.as_string::<i32>()).collect();
        let values: Vec<Option<String>> = keys
            .iter()
            .map(|(_, _, b, row)| {
                let a = arrays[*b];
                (!a.is_null(*row))
                    .then(|| a.value(*row).trim())
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
            })
            .collect();
        if !keys.is_empty() && values.iter().all(Option::is_none) {
            return exec_err!(
                "{function}: identifier column {} is NULL or empty in every row; leave it out of the query",
                columns[c]
            );
        }
        records.values.push(values);
    }
    (records.sources, records.record_ids) = keys.into_iter().map(|(s, r, _, _)| (s, r)).unzip();
    Ok(records)
}

fn key(records: &Records, i: u32) -> String {
    let i = i as usize;
    format!("{}:{}", records.sources[i], records.record_ids[i])
}

/// The records of each person, persons by their smallest record.
fn members(resolution: &Resolution) -> Vec<Vec<u32>> {
    let mut members = vec![Vec::new(); resolution.person.len()];
    for (i, &p) in resolution.person.iter().enumerate() {
        members[p as usize].push(i as u32);
    }
    members
}

fn record_rows(records: &Records, resolution: &Resolution) -> Vec<ArrayRef> {
    let members = members(resolution);
    let person_ids: Vec<String> = resolution.person.iter().map(|&p| key(records, p)).collect();
    vec![
        Arc::new(StringArray::from_iter_values(&records.sources)),
        Arc::new(StringArray::from_iter_values(&records.record_ids)),
        Arc::new(StringArray::from_iter_values(person_ids)),
        Arc::new(Int64Array::from_iter_values(
            resolution
                .person
                .iter()
                .map(|&p| members[p as usize].len() as i64),
        )),
    ]
}

fn person_rows(records: &Records, resolution: &Resolution) -> Vec<ArrayRef> {
    let members = members(resolution);
    let mut linked_by: Vec<BTreeSet<String>> = vec![BTreeSet::new(); members.len()];
    for link in &resolution.links {
        let person = resolution.person[link.records[0] as usize] as usize;
        linked_by[person].insert(format!("{}={}", records.kinds[link.kind], link.value));
    }
    let mut person_id = StringBuilder::new();
    let mut count = Vec::new();
    let mut sources = ListBuilder::new(StringBuilder::new());
    let mut member_keys = ListBuilder::new(StringBuilder::new());
    let mut links = ListBuilder::new(StringBuilder::new());
    for (p, records_of) in members.iter().enumerate() {
        if records_of.len() < 2 {
            continue;
        }
        person_id.append_value(key(records, p as u32));
        count.push(records_of.len() as i64);
        let distinct: BTreeSet<&str> = records_of
            .iter()
            .map(|&r| records.sources[r as usize].as_str())
            .collect();
        for s in distinct {
            sources.values().append_value(s);
        }
        sources.append(true);
        for &r in records_of {
            member_keys.values().append_value(key(records, r));
        }
        member_keys.append(true);
        for l in &linked_by[p] {
            links.values().append_value(l);
        }
        links.append(true);
    }
    vec![
        Arc::new(person_id.finish()),
        Arc::new(Int64Array::from(count)),
        Arc::new(sources.finish()),
        Arc::new(member_keys.finish()),
        Arc::new(links.finish()),
    ]
}

fn rejected_rows(records: &Records, resolution: &Resolution) -> Vec<ArrayRef> {
    let r = &resolution.rejected;
    vec![
        Arc::new(StringArray::from_iter_values(
            r.iter().map(|x| records.kinds[x.kind].as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            r.iter().map(|x| x.value.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(
            r.iter().map(|x| x.records as i64),
        )),
        Arc::new(Int64Array::from_iter_values(
            r.iter().map(|x| x.persons as i64),
        )),
    ]
}

// ---------------------------------------------------------------------------------------------

#[user_doc(
    doc_section(label = "Identity Resolution Functions"),
    description = "One row per input record — `source, record_id, person_id, person_records` — where records that share an identifier value (directly or through other records) are one person: the connected components of the records linked by equal identifiers. The query's first two columns are the record's source and id (unique together, never NULL); every further column is one kind of identifier, named by its column, compared exactly after trimming (empty text is NULL) — normalise them in the query (`normalize_phone`, `normalize_email`). Guard: a value carried by records of more than `max_persons` persons (a shop hotline, `info@…`) is not used as a link (see `identity_rejected`); persons are counted as they stand after the more trusted kinds are applied (kinds in column order, or the `trust` option). `person_id` is `source:record_id` of the person's smallest record (by source, then record id), so ids are deterministic and adding records does not renumber unrelated persons. Identifier columns that are NULL in every row are an error.",
    syntax_example = "resolve_identities('query or table' [, 'max_persons=N, trust=kind>kind'])",
    sql_example = r#"```sql
> SELECT person_records, count(*) AS records FROM resolve_identities($$
    SELECT 'shop' AS source, customer_id AS record_id,
           normalize_phone(phone) AS phone, normalize_email(email) AS email, NULL AS wechat_id
    FROM customers
    UNION ALL
    SELECT 'crm', contact_id, normalize_phone(mobile), normalize_email(email), wechat_id
    FROM crm_contacts $$)
  GROUP BY person_records ORDER BY person_records;
+----------------+---------+
| person_records | records |
+----------------+---------+
| 1              | 30398   |
| 2              | 150424  |
| 3              | 14115   |
+----------------+---------+
```"#,
    argument(
        name = "query",
        description = "A SELECT returning source, record_id and one or more identifier columns, or a table with that shape."
    ),
    argument(
        name = "options",
        description = "`max_persons=N`: a value seen on more than N persons is not a link (default 10). `trust=wechat_id>phone>email`: identifier kinds from most to least trusted (unnamed kinds follow in column order)."
    )
)]
#[derive(Debug, Default)]
pub struct ResolveIdentitiesFunc;

impl ResolveIdentitiesFunc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

impl TableFunctionImpl for ResolveIdentitiesFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        plan("resolve_identities", Answer::Records, args)
    }
}

#[user_doc(
    doc_section(label = "Identity Resolution Functions"),
    description = "Why records were merged: one row per person of two or more records — `person_id, records, sources, members, linked_by` — with the sources it was seen in, its records as `source:record_id`, and the identifier values (`kind=value`) that linked them. Same arguments and rules as `resolve_identities`.",
    syntax_example = "identity_persons('query or table' [, 'options'])",
    sql_example = r#"```sql
> SELECT person_id, records, sources, linked_by FROM identity_persons($$
    SELECT 'shop' AS source, customer_id AS record_id,
           normalize_phone(phone) AS phone, normalize_email(email) AS email
    FROM customers
    UNION ALL
    SELECT 'crm', contact_id, normalize_phone(mobile), normalize_email(email) FROM crm_contacts $$)
  ORDER BY records DESC, person_id LIMIT 2;
+----------------+---------+-------------+-------------------------------------------------------------+
| person_id      | records | sources     | linked_by                                                   |
+----------------+---------+-------------+-------------------------------------------------------------+
| crm:CRM1000009 | 3       | [crm, shop] | [email=fengchaolei9388.179388@qq.com, phone=+8618332919250] |
| crm:CRM1000011 | 3       | [crm, shop] | [email=xuqianxin74652.188652@qq.com, phone=+8617606280866]  |
+----------------+---------+-------------+-------------------------------------------------------------+
```"#,
    argument(name = "query", description = "As for `resolve_identities`."),
    argument(name = "options", description = "As for `resolve_identities`.")
)]
#[derive(Debug, Default)]
pub struct IdentityPersonsFunc;

impl IdentityPersonsFunc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

impl TableFunctionImpl for IdentityPersonsFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        plan("identity_persons", Answer::Persons, args)
    }
}

#[user_doc(
    doc_section(label = "Identity Resolution Functions"),
    description = "The identifier values `resolve_identities` did not use as links because records of more than `max_persons` persons carry them — `kind, value, records, persons` — typically a shop hotline, a shared mailbox or a test account. Same arguments and rules as `resolve_identities`.",
    syntax_example = "identity_rejected('query or table' [, 'options'])",
    sql_example = r#"```sql
> SELECT * FROM identity_rejected($$
    SELECT 'crm' AS source, contact_id AS record_id,
           normalize_phone(mobile) AS phone, normalize_email(email) AS email FROM crm_contacts $$);
+-------+------------------------+---------+---------+
| kind  | value                  | records | persons |
+-------+------------------------+---------+---------+
| phone | +8613800138000         | 333     | 333     |
| email | info@huaxiang-shop.com | 333     | 333     |
+-------+------------------------+---------+---------+
```"#,
    argument(name = "query", description = "As for `resolve_identities`."),
    argument(name = "options", description = "As for `resolve_identities`.")
)]
#[derive(Debug, Default)]
pub struct IdentityRejectedFunc;

impl IdentityRejectedFunc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

impl TableFunctionImpl for IdentityRejectedFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        plan("identity_rejected", Answer::Rejected, args)
    }
}
