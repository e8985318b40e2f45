//! `find_duplicates('table or query' [, 'exact' | 'normalized' [, 'col1, col2']])`: the rows that
//! duplicate another row, grouped — exactly, or after normalising text (phones to E.164,
//! e-mails, whitespace and full-width forms, case), over all columns or the ones named.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, Int64Array, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use crate::TableFunction;
use crate::profile::{is_text_column, normalized_key};
use crate::query_table::{QueryTable, plan_query, session_state, string_arg};

const NAME: &str = "find_duplicates";

#[user_doc(
    doc_section(label = "Data Cleaning Functions"),
    description = "The rows of a table or query that duplicate another row, with every column of the input plus `duplicate_group` (1, 2, … in the order of the groups' compared values, so the numbers do not depend on row order) and `group_rows`; rows without a duplicate are left out. `'exact'` (default) compares the values as they are (NULL equals NULL); `'normalized'` compares text as `profile`'s `normalized_distinct` does — valid phone numbers in E.164, e-mail addresses trimmed and lower-cased, other text through `normalize_text` and lower case — so `138 1234 5678` and `+86 13812345678` are the same. The third argument names the columns to compare (default: all), e.g. the identifiers of a contact list.",
    syntax_example = "find_duplicates('table or query' [, 'exact' | 'normalized' [, 'column, column']])",
    sql_example = r#"```sql
> SELECT duplicate_group, group_rows, contact_id, full_name, mobile
  FROM find_duplicates('SELECT contact_id, full_name, mobile FROM crm_contacts', 'normalized', 'full_name, mobile')
  ORDER BY duplicate_group, contact_id LIMIT 4;
+-----------------+------------+------------+-----------+---------------+
| duplicate_group | group_rows | contact_id | full_name | mobile        |
+-----------------+------------+------------+-----------+---------------+
| 1               | 2          | CRM1046510 | 于丽倩    | 18351097878   |
| 1               | 2          | CRM1090399 | 于丽倩    | 183 5109 7878 |
| 2               | 2          | CRM1016884 | 于丽倩    | 18518529295   |
| 2               | 2          | CRM1031783 | 于丽倩    | 185 1852 9295 |
+-----------------+------------+------------+-----------+---------------+
```"#,
    argument(name = "query", description = "A table or view name, or a SELECT."),
    argument(name = "mode", description = "'exact' (default) or 'normalized'."),
    argument(
        name = "columns",
        description = "The columns to compare, separated by commas. Default: all."
    )
)]
#[derive(Debug, Default)]
pub struct FindDuplicatesFunc;

impl FindDuplicatesFunc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

pub fn table_function() -> TableFunction {
    crate::stateless_table_function!(NAME, FindDuplicatesFunc)
}

impl TableFunctionImpl for FindDuplicatesFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if !(1..=3).contains(&exprs.len()) {
            return plan_err!(
                "{NAME} takes 1 to 3 arguments ('table or query' [, 'exact' | 'normalized' [, 'columns']]), got {}",
                exprs.len()
            );
        }
        let state = session_state(args.session(), NAME)?;
        let query = string_arg(NAME, "query", &exprs[0])?;
        let normalized = match exprs.get(1) {
            None => false,
            Some(e) => match string_arg(NAME, "mode", e)?
                .trim()
                .to_ascii_lowercase()
                .as_str()
            {
                "exact" => false,
                "normalized" | "normalised" => true,
                other => {
                    return plan_err!(
                        "{NAME}: mode must be 'exact' or 'normalized', got '{other}'"
                    );
                }
            },
        };
        let input = plan_query(state, NAME, &query)?;
        let fields: Vec<Field> = input
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let compare: Vec<usize> = match exprs.get(2) {
            None => (0..fields.len()).collect(),
            Some(e) => {
                let text = string_arg(NAME, "columns", e)?;
                let mut columns = Vec::new();
                for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    let Some(i) = fields.iter().position(|f| f.name() == name) else {
                        let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
                        return plan_err!(
                            "{NAME}: the query has no column '{name}' (its columns: {})",
                            names.join(", ")
                        );
                    };
                    columns.push(i);
                }
                if columns.is_empty() {
                    return plan_err!("{NAME}: columns names no column");
                }
                columns
            }
        };
        let mut out_fields = fields.clone();
        for name in ["duplicate_group", "group_rows"] {
            if fields.iter().any(|f| f.name() == name) {
                return plan_err!("{NAME}: the query already has a column named {name}");
            }
            out_fields.push(Field::new(name, DataType::Int64, false));
        }
        let input_schema = Arc::new(Schema::new(fields));
        let schema = Arc::new(Schema::new(out_fields));
        let out = schema.clone();
        let finish = Arc::new(move |batches: Vec<RecordBatch>| {
            let all = concat_batches(&input_schema, &batches)?;
            let text: Vec<_> = compare
                .iter()
                .map(|&c| {
                    let column = all.column(c);
                    let formatter =
                        ArrayFormatter::try_new(column.as_ref(), &FormatOptions::default())?;
                    Ok((column.clone(), formatter))
                })
                .collect::<Result<_>>()?;
            // Rows by key, in input order.
            let mut groups: HashMap<String, Vec<u32>> = HashMap::new();
            let mut order: Vec<String> = Vec::new();
            for row in 0..all.num_rows() {
                let mut key = String::new();
                for (column, formatter) in &text {
                    if column.is_null(row) {
                        key.push('\u{0}');
                        continue;
                    }
                    key.push('\u{1}');
                    let value = formatter.value(row).to_string();
                    if normalized && is_text_column(column.data_type()) {
                        key.push_str(&normalized_key(&value).0);
                    } else {
                        key.push_str(&value);
                    }
                }
                let rows = groups.entry(key.clone()).or_default();
                if rows.is_empty() {
                    order.push(key);
                }
                rows.push(row as u32);
            }
            // Groups numbered in the order of their compared values, whatever the row order.
            order.sort_unstable();
            let (mut indices, mut group, mut size) = (Vec::new(), Vec::new(), Vec::new());
            let mut number = 0;
            for key in &order {
                let rows = &groups[key];
                if rows.len() < 2 {
                    continue;
                }
                number += 1;
                for &r in rows {
                    indices.push(r);
                    group.push(number);
                    size.push(rows.len() as i64);
                }
            }
            if indices.is_empty() {
                return Ok(vec![]);
            }
            let indices = UInt32Array::from(indices);
            let mut columns = all
                .columns()
                .iter()
                .map(|c| take(c.as_ref(), &indices, None))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            columns.push(Arc::new(Int64Array::from(group)));
            columns.push(Arc::new(Int64Array::from(size)));
            Ok(vec![RecordBatch::try_new(out.clone(), columns)?])
        });
        Ok(Arc::new(QueryTable::new(NAME, input, schema, finish)))
    }
}
