//! `COPY (query) TO STDOUT`, `COPY table [(columns)] TO STDOUT` and `COPY table [(columns)] FROM
//! STDIN`, in PostgreSQL's text and CSV formats — what psql's `\copy`, psycopg2's `copy_expert`
//! and pandas' bulk loaders send.
//!
//! pgwire carries the CopyOutResponse/CopyData/CopyDone exchange; `datafusion-postgres` has no
//! COPY at all, so the statement is recognised here and its rows are encoded here: one CopyData
//! message per row (pgwire counts them for the `COPY n` tag), values written as PostgreSQL's
//! output functions write them where Arrow's differ (booleans `t`/`f`, timestamps with a space).

use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use datafusion::arrow::array::{Array, AsArray, RecordBatch, StringArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource, CopyTarget, Statement,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use futures::StreamExt;
use pgwire::api::results::{CopyResponse, Response};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::copy::CopyData;

use crate::error::{SqlError, codes};

/// How rows are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyFormat {
    /// PostgreSQL's text format: tab-separated, `\N` for NULL, backslash escapes.
    Text { delimiter: char, null: String },
    /// CSV: quoted where needed, empty for NULL.
    Csv {
        delimiter: char,
        null: String,
        quote: char,
        escape: char,
        header: bool,
    },
}

/// A `COPY … TO STDOUT`: the query whose rows are sent, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyOut {
    pub query: String,
    pub format: CopyFormat,
}

/// A `COPY table [(columns)] FROM STDIN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyIn {
    pub table: String,
    pub columns: Vec<String>,
    pub format: CopyFormat,
}

/// A COPY this module runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Copy {
    Out(CopyOut),
    In(CopyIn),
}

fn unsupported(what: &str) -> SqlError {
    SqlError::new(
        codes::FEATURE_NOT_SUPPORTED,
        format!("{what} is not supported"),
    )
}

/// `Some` when `text` is a COPY this module answers (or must refuse clearly): `COPY … TO
/// STDOUT` or `COPY … FROM STDIN`. `None` for anything else, including `COPY … TO 'file'`,
/// which DataFusion runs.
pub fn parse(text: &str) -> Option<Result<Copy, SqlError>> {
    let head = text.trim_start();
    if !head
        .get(..4)
        .is_some_and(|w| w.eq_ignore_ascii_case("copy"))
    {
        return None;
    }
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, text).ok()?;
    if statements.len() != 1 {
        return None;
    }
    let Statement::Copy {
        source,
        to,
        target,
        options,
        legacy_options,
        ..
    } = statements.remove(0)
    else {
        return None;
    };
    match (to, &target) {
        (true, CopyTarget::Stdout) => Some(build(source, options, legacy_options).map(Copy::Out)),
        (false, CopyTarget::Stdin) => {
            let CopySource::Table {
                table_name,
                columns,
            } = source
            else {
                return Some(Err(unsupported("COPY (query) FROM STDIN")));
            };
            Some(
                build(
                    CopySource::Table {
                        table_name: table_name.clone(),
                        columns: columns.clone(),
                    },
                    options,
                    legacy_options,
                )
                .map(|out| {
                    Copy::In(CopyIn {
                        table: table_name.to_string(),
                        columns: columns.iter().map(|c| c.value.clone()).collect(),
                        format: out.format,
                    })
                }),
            )
        }
        _ => None,
    }
}

fn build(
    source: CopySource,
    options: Vec<CopyOption>,
    legacy: Vec<CopyLegacyOption>,
) -> Result<CopyOut, SqlError> {
    let query = match source {
        CopySource::Query(query) => query.to_string(),
        CopySource::Table {
            table_name,
            columns,
        } => {
            let columns = if columns.is_empty() {
                "*".to_string()
            } else {
                columns
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!("SELECT {columns} FROM {table_name}")
        }
    };
    let mut csv = false;
    let (mut delimiter, mut null, mut quote, mut escape, mut header) =
        (None, None, '"', None, false);
    for option in options {
        match option {
            CopyOption::Format(name) => match name.value.to_ascii_lowercase().as_str() {
                "csv" => csv = true,
                "text" => csv = false,
                "binary" => return Err(unsupported("COPY's binary format")),
                other => {
                    return Err(SqlError::new(
                        codes::INVALID_PARAMETER_VALUE,
                        format!("COPY format \"{other}\" not recognized"),
                    ));
                }
            },
            CopyOption::Delimiter(c) => delimiter = Some(c),
            CopyOption::Null(s) => null = Some(s),
            CopyOption::Header(h) => header = h,
            CopyOption::Quote(c) => quote = c,
            CopyOption::Escape(c) => escape = Some(c),
            CopyOption::Encoding(e)
                if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {}
            other => return Err(unsupported(&format!("COPY option {other}"))),
        }
    }
    for option in legacy {
        match option {
            CopyLegacyOption::Csv(csv_options) => {
                csv = true;
                for o in csv_options {
                    match o {
                        CopyLegacyCsvOption::Header => header = true,
                        CopyLegacyCsvOption::Quote(c) => quote = c,
                        CopyLegacyCsvOption::Escape(c) => escape = Some(c),
                        other => return Err(unsupported(&format!("COPY option {other}"))),
                    }
                }
            }
            CopyLegacyOption::Delimiter(c) => delimiter = Some(c),
            CopyLegacyOption::Null(s) => null = Some(s),
            CopyLegacyOption::Header => header = true,
            CopyLegacyOption::Binary => return Err(unsupported("COPY's binary format")),
            other => return Err(unsupported(&format!("COPY option {other}"))),
        }
    }
    let format = if csv {
        CopyFormat::Csv {
            delimiter: delimiter.unwrap_or(','),
            null: null.unwrap_or_default(),
            quote,
            escape: escape.unwrap_or(quote),
            header,
        }
    } else {
        if header {
            return Err(SqlError::new(
                codes::FEATURE_NOT_SUPPORTED,
                "COPY HEADER is available only in CSV mode",
            ));
        }
        CopyFormat::Text {
            delimiter: delimiter.unwrap_or('\t'),
            null: null.unwrap_or_else(|| "\\N".to_string()),
        }
    };
    Ok(CopyOut { query, format })
}

/// Runs the query in `session` and answers with its rows as CopyData.
pub async fn respond(session: &SessionContext, copy: CopyOut) -> PgWireResult<Response> {
    let to_pg = |e: datafusion::error::DataFusionError| super::wire_error::pg_error(&e);
    let frame = session.sql(&copy.query).await.map_err(to_pg)?;
    let names: Vec<String> = frame
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let columns = names.len();
    let stream = frame.execute_stream().await.map_err(to_pg)?;
    let format = Arc::new(copy.format);
    let mut header = match &*format {
        CopyFormat::Csv { header: true, .. } => Some(header_line(&names, &format)),
        _ => None,
    };
    let rows = stream.flat_map(move |batch| {
        let out: Vec<PgWireResult<CopyData>> = match batch {
            Ok(batch) => match encode(&batch, &format, &mut header) {
                Ok(rows) => rows.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(to_pg(e))],
            },
            Err(e) => vec![Err(to_pg(e))],
        };
        futures::stream::iter(out)
    });
    Ok(Response::CopyOut(CopyResponse::new(0, columns, rows)))
}

fn header_line(names: &[String], format: &CopyFormat) -> BytesMut {
    let mut line = BytesMut::new();
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            put_char(&mut line, delimiter(format));
        }
        write_value(&mut line, name, format);
    }
    line.put_u8(b'\n');
    line
}

fn delimiter(format: &CopyFormat) -> char {
    match format {
        CopyFormat::Text { delimiter, .. } | CopyFormat::Csv { delimiter, .. } => *delimiter,
    }
}

fn put_char(buffer: &mut BytesMut, c: char) {
    let mut utf8 = [0u8; 4];
    buffer.put_slice(c.encode_utf8(&mut utf8).as_bytes());
}

/// One non-NULL value, escaped or quoted for the format.
fn write_value(out: &mut BytesMut, value: &str, format: &CopyFormat) {
    match format {
        CopyFormat::Text { delimiter, .. } => {
            for c in value.chars() {
                match c {
                    '\\' => out.put_slice(b"\\\\"),
                    '\n' => out.put_slice(b"\\n"),
                    '\r' => out.put_slice(b"\\r"),
                    '\t' if *delimiter == '\t' => out.put_slice(b"\\t"),
                    c if c == *delimiter => {
                        out.put_u8(b'\\');
                        put_char(out, c);
                    }
                    c => put_char(out, c),
                }
            }
        }
        CopyFormat::Csv {
            delimiter,
            null,
            quote,
            escape,
            ..
        } => {
            let needs_quotes = value.is_empty()
                || value == null
                || value
                    .chars()
                    .any(|c| c == *delimiter || c == *quote || c == '\n' || c == '\r');
            if !needs_quotes {
                out.put_slice(value.as_bytes());
                return;
            }
            put_char(out, *quote);
            for c in value.chars() {
                if c == *quote || c == *escape {
                    put_char(out, *escape);
                }
                put_char(out, c);
            }
            put_char(out, *quote);
        }
    }
}

/// The batch's rows, one CopyData each; the header (if still to send) goes with the first.
fn encode(
    batch: &RecordBatch,
    format: &CopyFormat,
    header: &mut Option<BytesMut>,
) -> datafusion::error::Result<Vec<CopyData>> {
    let options = FormatOptions::new()
        .with_date_format(Some("%Y-%m-%d"))
        .with_datetime_format(Some("%Y-%m-%d %H:%M:%S%.f"))
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"))
        .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.f%:z"));
    let formatters = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<Result<Vec<_>, _>>()?;
    let null = match format {
        CopyFormat::Text { null, .. } | CopyFormat::Csv { null, .. } => null.as_str(),
    };
    // Logical nulls: a column of type Null has no validity buffer but is all NULL.
    let nulls: Vec<_> = batch.columns().iter().map(|c| c.logical_nulls()).collect();
    let mut rows = Vec::with_capacity(batch.num_rows());
    let mut text = String::new();
    for row in 0..batch.num_rows() {
        let mut line = header.take().unwrap_or_default();
        for (i, (column, formatter)) in batch.columns().iter().zip(&formatters).enumerate() {
            if i > 0 {
                put_char(&mut line, delimiter(format));
            }
            if nulls[i].as_ref().is_some_and(|n| n.is_null(row)) {
                line.put_slice(null.as_bytes());
                continue;
            }
            text.clear();
            if column.data_type() == &DataType::Boolean {
                text.push(if column.as_boolean().value(row) {
                    't'
                } else {
                    'f'
                });
            } else {
                use std::fmt::Write;
                write!(text, "{}", formatter.value(row)).map_err(|e| {
                    datafusion::error::DataFusionError::Execution(format!(
                        "COPY cannot write a value: {e}"
                    ))
                })?;
            }
            write_value(&mut line, &text, format);
        }
        line.put_u8(b'\n');
        rows.push(CopyData::new(line.freeze()));
    }
    Ok(rows)
}

/// A `COPY … FROM STDIN` under way: the target and the data received so far.
pub struct CopyInProgress {
    copy: CopyIn,
    schema: datafusion::arrow::datatypes::SchemaRef,
    /// Positions in `schema` of the columns the data has, in the data's order.
    columns: Vec<usize>,
    data: Vec<u8>,
}

impl CopyInProgress {
    /// Checks the table and columns before any data is sent.
    pub async fn start(session: &SessionContext, copy: CopyIn) -> PgWireResult<Self> {
        let table = session.table(copy.table.as_str()).await.map_err(|_| {
            refusal(SqlError::new(
                codes::UNDEFINED_TABLE,
                format!("relation \"{}\" does not exist", copy.table),
            ))
        })?;
        let schema = Arc::new(table.schema().as_arrow().clone());
        let columns = if copy.columns.is_empty() {
            (0..schema.fields().len()).collect()
        } else {
            copy.columns
                .iter()
                .map(|name| {
                    schema.index_of(name).map_err(|_| {
                        refusal(SqlError::new(
                            codes::UNDEFINED_COLUMN,
                            format!(
                                "column \"{name}\" of relation \"{}\" does not exist",
                                copy.table
                            ),
                        ))
                    })
                })
                .collect::<PgWireResult<Vec<_>>>()?
        };
        if let CopyFormat::Csv { null, .. } = &copy.format
            && !null.is_empty()
        {
            return Err(refusal(unsupported("COPY FROM with a CSV NULL string")));
        }
        Ok(Self {
            copy,
            schema,
            columns,
            data: Vec::new(),
        })
    }

    pub fn columns(&self) -> usize {
        self.columns.len()
    }

    pub fn push(&mut self, data: &[u8]) {
        self.data.extend_from_slice(data);
    }

    /// Parses what was sent and appends it to the table in one commit; returns the row count.
    pub async fn finish(self, session: &SessionContext) -> PgWireResult<usize> {
        let batch = self.decode().map_err(refusal)?;
        let rows = batch.num_rows();
        if rows > 0 {
            let frame = session
                .read_batch(batch)
                .map_err(|e| super::wire_error::pg_error(&e))?;
            frame
                .write_table(
                    self.copy.table.as_str(),
                    datafusion::dataframe::DataFrameWriteOptions::new(),
                )
                .await
                .map_err(|e| super::wire_error::pg_error(&e))?;
        }
        Ok(rows)
    }

    /// The data as text columns, then cast to the table's types (the table's width: columns
    /// not sent are NULL).
    fn decode(&self) -> Result<RecordBatch, SqlError> {
        let texts = match &self.copy.format {
            CopyFormat::Text { delimiter, null } => {
                decode_text(&self.data, *delimiter, null, self.columns.len())?
            }
            CopyFormat::Csv {
                delimiter,
                quote,
                escape,
                header,
                ..
            } => self.decode_csv(*delimiter, *quote, *escape, *header)?,
        };
        let rows = texts.first().map_or(0, Array::len);
        let mut arrays = Vec::with_capacity(self.schema.fields().len());
        for (i, field) in self.schema.fields().iter().enumerate() {
            let array: datafusion::arrow::array::ArrayRef =
                match self.columns.iter().position(|&c| c == i) {
                    Some(k) => {
                        let options = datafusion::arrow::compute::CastOptions {
                            safe: false,
                            ..Default::default()
                        };
                        datafusion::arrow::compute::cast_with_options(
                            &texts[k],
                            field.data_type(),
                            &options,
                        )
                        .map_err(|e| {
                            SqlError::new(
                                codes::INVALID_TEXT_REPRESENTATION,
                                format!("COPY {}, column {}: {e}", self.copy.table, field.name()),
                            )
                        })?
                    }
                    None => datafusion::arrow::array::new_null_array(field.data_type(), rows),
                };
            arrays.push(array);
        }
        let options =
            datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(self.schema.clone(), arrays, &options).map_err(|e| {
            SqlError::new(
                codes::NOT_NULL_VIOLATION,
                format!("COPY {}: {e}", self.copy.table),
            )
        })
    }

    fn decode_csv(
        &self,
        delimiter: char,
        quote: char,
        escape: char,
        header: bool,
    ) -> Result<Vec<StringArray>, SqlError> {
        let bad = |what: &str| {
            SqlError::new(
                codes::INVALID_PARAMETER_VALUE,
                format!("COPY {what} must be a one-byte character"),
            )
        };
        let byte = |c: char, what: &str| u8::try_from(u32::from(c)).map_err(|_| bad(what));
        let fields: Vec<datafusion::arrow::datatypes::Field> = (0..self.columns.len())
            .map(|i| {
                datafusion::arrow::datatypes::Field::new(format!("c{i}"), DataType::Utf8, true)
            })
            .collect();
        let mut builder = datafusion::arrow::csv::ReaderBuilder::new(Arc::new(
            datafusion::arrow::datatypes::Schema::new(fields),
        ))
        .with_header(header)
        .with_delimiter(byte(delimiter, "delimiter")?)
        .with_quote(byte(quote, "quote")?);
        if escape != quote {
            builder = builder.with_escape(byte(escape, "escape")?);
        }
        let reader = builder
            .build(std::io::Cursor::new(&self.data))
            .map_err(|e| {
                SqlError::new(
                    codes::INVALID_TEXT_REPRESENTATION,
                    format!("COPY {}: {e}", self.copy.table),
                )
            })?;
        let mut columns: Vec<StringBuilder> = (0..self.columns.len())
            .map(|_| StringBuilder::new())
            .collect();
        for batch in reader {
            let batch = batch.map_err(|e| {
                SqlError::new(
                    codes::INVALID_TEXT_REPRESENTATION,
                    format!("COPY {}: {e}", self.copy.table),
                )
            })?;
            for (k, column) in batch.columns().iter().enumerate() {
                columns[k].extend(column.as_string::<i32>().iter());
            }
        }
        Ok(columns.iter_mut().map(StringBuilder::finish).collect())
    }
}

/// PostgreSQL's text format: one row per line, `delimiter`-separated, `null` for NULL,
/// backslash escapes (`\t`, `\n`, `\\`, …); a line `\.` ends the data.
fn decode_text(
    data: &[u8],
    delimiter: char,
    null: &str,
    width: usize,
) -> Result<Vec<StringArray>, SqlError> {
    let text = std::str::from_utf8(data).map_err(|e| {
        SqlError::new(
            codes::INVALID_TEXT_REPRESENTATION,
            format!("COPY data is not UTF-8: {e}"),
        )
    })?;
    let mut columns: Vec<StringBuilder> = (0..width).map(|_| StringBuilder::new()).collect();
    let lines: Vec<&str> = text.split('\n').collect();
    for (number, line) in lines.iter().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line == "\\." {
            break;
        }
        // The newline that ends the last row leaves an empty piece.
        if line.is_empty() && number + 1 == lines.len() {
            continue;
        }
        let mut fields: Vec<Option<String>> = Vec::with_capacity(width);
        let mut raw = String::new();
        let mut chars = line.chars();
        let mut escaped_any = false;
        let mut finish = |raw: &mut String, escaped: bool| {
            let value = if !escaped && raw == null {
                None
            } else {
                Some(std::mem::take(raw))
            };
            raw.clear();
            fields.push(value);
        };
        while let Some(c) = chars.next() {
            if c == '\\' {
                escaped_any = true;
                match chars.next() {
                    Some('t') => raw.push('\t'),
                    Some('n') => raw.push('\n'),
                    Some('r') => raw.push('\r'),
                    Some('N') if raw.is_empty() => {
                        // `\N` is the default NULL marker; compare it unescaped.
                        raw.push_str("\\N");
                        escaped_any = false;
                    }
                    Some(other) => raw.push(other),
                    None => raw.push('\\'),
                }
            } else if c == delimiter {
                finish(&mut raw, escaped_any);
                escaped_any = false;
            } else {
                raw.push(c);
            }
        }
        finish(&mut raw, escaped_any);
        if fields.len() != width {
            return Err(SqlError::new(
                codes::INVALID_TEXT_REPRESENTATION,
                format!(
                    "COPY line {}: {} column(s), expected {width}",
                    number + 1,
                    fields.len()
                ),
            ));
        }
        for (k, value) in fields.into_iter().enumerate() {
            columns[k].append_option(value);
        }
    }
    Ok(columns.iter_mut().map(StringBuilder::finish).collect())
}

/// The error a refused COPY gets.
pub fn refusal(error: SqlError) -> PgWireError {
    super::wire_error::pg_error(&error.into_datafusion())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(sql: &str) -> CopyOut {
        match parse(sql).expect("a COPY").expect("accepted") {
            Copy::Out(out) => out,
            other => panic!("not a COPY TO STDOUT: {other:?}"),
        }
    }

    #[test]
    fn psql_copy_statements_parse() {
        let c = out("COPY ( SELECT a, b FROM t ) TO STDOUT with csv header");
        assert_eq!(c.query, "SELECT a, b FROM t");
        assert!(matches!(
            c.format,
            CopyFormat::Csv {
                header: true,
                delimiter: ',',
                ..
            }
        ));
        let c = out("copy orders (order_id, amount) to stdout");
        assert_eq!(c.query, "SELECT order_id, amount FROM orders");
        assert_eq!(
            c.format,
            CopyFormat::Text {
                delimiter: '\t',
                null: "\\N".to_string()
            }
        );
        let c = out("COPY t TO STDOUT WITH (FORMAT csv, DELIMITER ';', NULL 'NA')");
        assert!(
            matches!(c.format, CopyFormat::Csv { delimiter: ';', ref null, .. } if null == "NA")
        );
        assert_eq!(
            parse("COPY t (a, b) FROM STDIN WITH CSV HEADER")
                .unwrap()
                .unwrap(),
            Copy::In(CopyIn {
                table: "t".to_string(),
                columns: vec!["a".to_string(), "b".to_string()],
                format: CopyFormat::Csv {
                    delimiter: ',',
                    null: String::new(),
                    quote: '"',
                    escape: '"',
                    header: true
                }
            })
        );
        assert!(!matches!(parse("COPY (SELECT 1) FROM STDIN"), Some(Ok(_))));
        assert!(
            parse("COPY t TO STDOUT WITH (FORMAT binary)")
                .unwrap()
                .is_err()
        );
        assert!(parse("COPY (SELECT 1) TO '/tmp/x.csv'").is_none());
        assert!(parse("SELECT 1").is_none());
    }

    #[test]
    fn text_format_rows_are_unescaped() {
        let data = b"1\tx\\ty\t\\N\n2\t\\\\\t\n\\.\n";
        let columns = decode_text(data, '\t', "\\N", 3).unwrap();
        let values = |k: usize| columns[k].iter().collect::<Vec<_>>();
        assert_eq!(values(0), vec![Some("1"), Some("2")]);
        assert_eq!(values(1), vec![Some("x\ty"), Some("\\")]);
        assert_eq!(values(2), vec![None, Some("")]);
        assert!(decode_text(b"1\t2\n", '\t', "\\N", 3).is_err());
    }

    #[test]
    fn values_are_escaped_and_quoted() {
        let text = CopyFormat::Text {
            delimiter: '\t',
            null: "\\N".to_string(),
        };
        let mut b = BytesMut::new();
        write_value(&mut b, "a\tb\\c\nd", &text);
        assert_eq!(&b[..], b"a\\tb\\\\c\\nd");
        let csv = CopyFormat::Csv {
            delimiter: ',',
            null: String::new(),
            quote: '"',
            escape: '"',
            header: false,
        };
        for (value, written) in [
            ("plain", "plain"),
            ("", "\"\""),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("两\n行", "\"两\n行\""),
        ] {
            let mut b = BytesMut::new();
            write_value(&mut b, value, &csv);
            assert_eq!(std::str::from_utf8(&b).unwrap(), written);
        }
    }
}
