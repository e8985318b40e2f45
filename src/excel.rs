//! Excel workbooks (`.xlsx`, `.xlsm`, `.xlsb`, `.xls`, `.ods`) as tables, through `calamine`:
//! the table function `read_excel('file', 'sheet' [, 'header=false'])` and external tables
//! `CREATE EXTERNAL TABLE t STORED AS EXCEL LOCATION '/path/file.xlsx' OPTIONS ('sheet' 'Orders')`.
//!
//! Column types are inferred from the cells: numbers (BIGINT when every number is whole, else
//! DOUBLE), booleans, dates (DATE when no cell has a time of day, else TIMESTAMP) and text; a
//! column whose cells are of more than one kind becomes TEXT, each cell as Excel displays its
//! value. Error cells (`#DIV/0!`) and empty cells are NULL. The header row names the columns: a
//! header cell merged across several columns names them `name`, `name_2`, …; an empty header
//! cell gives `column_N`; repeated names get `_2`, `_3`. Trailing empty rows are dropped.
//! An external table reads the workbook again at each scan, and a workbook whose columns no
//! longer match the table's is an error naming the file and sheet.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use calamine::{Data, DataType as _, Range, Reader, Sheets, open_workbook_auto};
use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{Session, TableFunctionImpl, TableProvider, TableProviderFactory};
use datafusion::common::{Result, ScalarValue};
use datafusion::datasource::{MemTable, TableType};
use datafusion::logical_expr::{CreateExternalTable, Expr};
use datafusion::physical_plan::ExecutionPlan;

use crate::access::files::FileAccess;
use crate::error::{SqlError, codes};

fn error(code: &'static str, message: String) -> datafusion::error::DataFusionError {
    SqlError::new(code, message).into_datafusion()
}

/// How one sheet is read.
#[derive(Debug, Clone)]
struct SheetRef {
    path: PathBuf,
    /// `None`: the first sheet.
    sheet: Option<String>,
    header: bool,
}

impl SheetRef {
    fn describe(&self) -> String {
        match &self.sheet {
            Some(s) => format!("sheet '{s}' of '{}'", self.path.display()),
            None => format!("the first sheet of '{}'", self.path.display()),
        }
    }
}

/// The kind of a column, from its cells.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Empty,
    Int,
    Float,
    Bool,
    Date,
    DateTime,
    Text,
}

fn cell_kind(cell: &Data) -> Kind {
    match cell {
        Data::Empty | Data::Error(_) => Kind::Empty,
        Data::Int(_) => Kind::Int,
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Kind::Int,
        Data::Float(_) => Kind::Float,
        Data::Bool(_) => Kind::Bool,
        Data::DateTime(_) | Data::DateTimeIso(_) => match cell.as_datetime() {
            Some(t) if t.time() == chrono::NaiveTime::MIN => Kind::Date,
            Some(_) => Kind::DateTime,
            None => Kind::Text,
        },
        Data::String(s) if s.trim().is_empty() => Kind::Empty,
        Data::String(_) | Data::DurationIso(_) => Kind::Text,
    }
}

fn merge(a: Kind, b: Kind) -> Kind {
    use Kind::*;
    match (a, b) {
        (Empty, k) | (k, Empty) => k,
        (x, y) if x == y => x,
        (Int, Float) | (Float, Int) => Float,
        (Date, DateTime) | (DateTime, Date) => DateTime,
        _ => Text,
    }
}

fn data_type(kind: Kind) -> DataType {
    match kind {
        Kind::Int => DataType::Int64,
        Kind::Float => DataType::Float64,
        Kind::Bool => DataType::Boolean,
        Kind::Date => DataType::Date32,
        Kind::DateTime => DataType::Timestamp(TimeUnit::Microsecond, None),
        Kind::Empty | Kind::Text => DataType::Utf8,
    }
}

fn open(path: &Path) -> Result<Sheets<std::io::BufReader<std::fs::File>>> {
    if !path.exists() {
        return Err(error(
            codes::UNDEFINED_FILE,
            format!("workbook '{}' does not exist", path.display()),
        ));
    }
    open_workbook_auto(path).map_err(|e| {
        error(
            codes::INVALID_PARAMETER_VALUE,
            format!(
                "cannot read workbook '{}': {e} (is it a valid, unencrypted Excel file?)",
                path.display()
            ),
        )
    })
}

/// The cells of the sheet and the merged regions of its first row.
fn read_sheet(r: &SheetRef) -> Result<(Range<Data>, Vec<calamine::Dimensions>)> {
    let mut book = open(&r.path)?;
    let names = book.sheet_names();
    let sheet = match &r.sheet {
        Some(s) => {
            if !names.iter().any(|n| n == s) {
                return Err(error(
                    codes::UNDEFINED_TABLE,
                    format!(
                        "workbook '{}' has no sheet '{s}' (its sheets: {})",
                        r.path.display(),
                        names.join(", ")
                    ),
                ));
            }
            s.clone()
        }
        None => names.first().cloned().ok_or_else(|| {
            error(
                codes::INVALID_PARAMETER_VALUE,
                format!("workbook '{}' has no sheets", r.path.display()),
            )
        })?,
    };
    let range = book.worksheet_range(&sheet).map_err(|e| {
        error(
            codes::INVALID_PARAMETER_VALUE,
            format!("cannot read {}: {e}", r.describe()),
        )
    })?;
    let merged = match &mut book {
        Sheets::Xlsx(x) => x.merge_cells_by_sheet_name(&sheet).unwrap_or_default(),
        Sheets::Xls(x) => x.merge_cells_by_sheet_name(&sheet).unwrap_or_default(),
        _ => Vec::new(),
    };
    Ok((range, merged))
}

/// Column names from the header row (absolute row `row`, columns from `col0`).
fn header_names(
    cells: &[Data],
    row: u32,
    col0: u32,
    merged: &[calamine::Dimensions],
) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(cells.len());
    for (i, cell) in cells.iter().enumerate() {
        let col = col0 + i as u32;
        let text = cell.to_string().trim().to_string();
        let name = if !text.is_empty() {
            text
        } else if let Some(m) = merged
            .iter()
            .find(|m| m.start.0 <= row && row <= m.end.0 && m.start.1 < col && col <= m.end.1)
        {
            // Covered by a merged cell: the merged header's name and its place in the merge.
            let first = (m.start.1 - col0) as usize;
            let base = names.get(first).cloned().unwrap_or_default();
            format!("{base}_{}", col - m.start.1 + 1)
        } else {
            format!("column_{}", i + 1)
        };
        names.push(name);
    }
    // Repeated names: the second `name` becomes `name_2`, and so on.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for name in &mut names {
        let n = seen.entry(name.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            *name = format!("{name}_{n}");
        }
    }
    names
}

/// Reads a sheet into a schema and one batch.
fn load(r: &SheetRef) -> Result<(SchemaRef, RecordBatch)> {
    let (range, merged) = read_sheet(r)?;
    let (row0, col0) = range.start().unwrap_or((0, 0));
    let mut rows: Vec<&[Data]> = range.rows().collect();
    while rows
        .last()
        .is_some_and(|row| row.iter().all(|c| cell_kind(c) == Kind::Empty))
    {
        rows.pop();
    }
    let width = range.width();
    let (names, body) = if r.header && !rows.is_empty() {
        (header_names(rows[0], row0, col0, &merged), &rows[1..])
    } else {
        (
            (1..=width).map(|i| format!("column_{i}")).collect(),
            &rows[..],
        )
    };
    let kinds: Vec<Kind> = (0..width)
        .map(|c| {
            body.iter()
                .map(|row| row.get(c).map_or(Kind::Empty, cell_kind))
                .fold(Kind::Empty, merge)
        })
        .collect();
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .zip(&kinds)
            .map(|(n, k)| Field::new(n, data_type(*k), true))
            .collect::<Vec<_>>(),
    ));
    let columns: Vec<ArrayRef> = kinds
        .iter()
        .enumerate()
        .map(|(c, kind)| column(body.iter().map(|row| row.get(c)), *kind))
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok((schema, batch))
}

fn column<'a>(cells: impl Iterator<Item = Option<&'a Data>>, kind: Kind) -> ArrayRef {
    let present = |c: Option<&'a Data>| c.filter(|c| cell_kind(c) != Kind::Empty);
    match kind {
        Kind::Int => {
            let mut b = Int64Builder::new();
            for c in cells.map(present) {
                b.append_option(c.and_then(|c| c.as_f64()).map(|v| v as i64));
            }
            Arc::new(b.finish())
        }
        Kind::Float => {
            let mut b = Float64Builder::new();
            for c in cells.map(present) {
                b.append_option(c.and_then(|c| c.as_f64()));
            }
            Arc::new(b.finish())
        }
        Kind::Bool => {
            let mut b = BooleanBuilder::new();
            for c in cells.map(present) {
                b.append_option(c.and_then(|c| c.get_bool()));
            }
            Arc::new(b.finish())
        }
        Kind::Date => {
            let mut b = Date32Builder::new();
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
            for c in cells.map(present) {
                b.append_option(
                    c.and_then(|c| c.as_datetime())
                        .map(|t| (t.date() - epoch).num_days() as i32),
                );
            }
            Arc::new(b.finish())
        }
        Kind::DateTime => {
            let mut b = TimestampMicrosecondBuilder::new();
            for c in cells.map(present) {
                b.append_option(
                    c.and_then(|c| c.as_datetime())
                        .map(|t| t.and_utc().timestamp_micros()),
                );
            }
            Arc::new(b.finish())
        }
        Kind::Text | Kind::Empty => {
            let mut b = StringBuilder::new();
            for c in cells.map(present) {
                b.append_option(c.map(text_of));
            }
            Arc::new(b.finish())
        }
    }
}

/// A cell as text, in a column of mixed kinds: dates as ISO dates, whole numbers without ".0".
fn text_of(cell: &Data) -> String {
    match cell {
        Data::DateTime(_) | Data::DateTimeIso(_) => match cell.as_datetime() {
            Some(t) if t.time() == chrono::NaiveTime::MIN => t.date().to_string(),
            Some(t) => t.to_string(),
            None => cell.to_string(),
        },
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{}", *f as i64),
        other => other.to_string(),
    }
}

/// A sheet as an external table, read again at each scan.
pub struct ExcelTable {
    sheet: SheetRef,
    schema: SchemaRef,
}

impl fmt::Debug for ExcelTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExcelTable({})", self.sheet.describe())
    }
}

impl ExcelTable {
    fn open(sheet: SheetRef) -> Result<Self> {
        let (schema, _) = load(&sheet)?;
        Ok(Self { sheet, schema })
    }
}

#[async_trait]
impl TableProvider for ExcelTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let sheet = self.sheet.clone();
        let (schema, batch) = tokio::task::spawn_blocking(move || load(&sheet))
            .await
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))??;
        if schema.fields() != self.schema.fields() {
            return Err(error(
                codes::INVALID_PARAMETER_VALUE,
                format!(
                    "{} changed shape since the table was created: now ({}), was ({}); create the table again",
                    self.sheet.describe(),
                    describe_fields(&schema),
                    describe_fields(&self.schema)
                ),
            ));
        }
        let table = MemTable::try_new(schema, vec![vec![batch]])?;
        table.scan(state, projection, filters, limit).await
    }
}

fn describe_fields(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("{} {}", f.name(), f.data_type()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `STORED AS EXCEL`; a relative LOCATION is taken in the import directory, as `read_excel`'s
/// file is (the definition is replayed at every start, so it must not depend on the working
/// directory).
#[derive(Debug)]
pub struct ExcelTableFactory {
    pub import_dir: PathBuf,
}

fn option<'a>(options: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    options
        .get(key)
        .or_else(|| options.get(&format!("format.{key}")))
        .map(String::as_str)
}

fn header_option(value: Option<&str>) -> Result<bool> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("true") | Some("yes") | Some("1") => Ok(true),
        Some("false") | Some("no") | Some("0") => Ok(false),
        Some(other) => Err(error(
            codes::INVALID_PARAMETER_VALUE,
            format!("the Excel option header must be true or false, got '{other}'"),
        )),
    }
}

#[async_trait]
impl TableProviderFactory for ExcelTableFactory {
    async fn create(
        &self,
        _state: &dyn Session,
        cmd: &CreateExternalTable,
    ) -> Result<Arc<dyn TableProvider>> {
        for key in cmd.options.keys() {
            let key = key.strip_prefix("format.").unwrap_or(key);
            if key != "sheet" && key != "header" {
                return Err(error(
                    codes::INVALID_PARAMETER_VALUE,
                    format!("unknown Excel option '{key}' (options: sheet, header)"),
                ));
            }
        }
        let [location] = cmd.locations.as_slice() else {
            return Err(error(
                codes::INVALID_PARAMETER_VALUE,
                "an Excel table reads one workbook: give one LOCATION".to_string(),
            ));
        };
        let sheet = SheetRef {
            path: self.import_dir.join(location),
            sheet: option(&cmd.options, "sheet").map(str::to_string),
            header: header_option(option(&cmd.options, "header"))?,
        };
        let table = tokio::task::spawn_blocking(move || ExcelTable::open(sheet))
            .await
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))??;
        Ok(Arc::new(table))
    }
}

/// `read_excel('file' [, 'sheet' [, 'header=false']])`.
#[derive(Debug)]
pub struct ReadExcelFunc {
    /// Where relative workbook paths are looked up.
    pub import_dir: PathBuf,
    /// Which files this session may read.
    pub access: FileAccess,
}

fn text_arg(expr: &Expr, what: &str) -> Result<Option<String>> {
    match expr {
        Expr::Literal(
            ScalarValue::Utf8(s) | ScalarValue::Utf8View(s) | ScalarValue::LargeUtf8(s),
            _,
        ) => Ok(s.clone()),
        Expr::Literal(ScalarValue::Null, _) => Ok(None),
        other => Err(error(
            codes::DATATYPE_MISMATCH,
            format!("read_excel: {what} must be a text constant, got {other}"),
        )),
    }
}

impl TableFunctionImpl for ReadExcelFunc {
    fn call(&self, args: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        if !(1..=3).contains(&args.len()) {
            return Err(error(
                codes::UNDEFINED_FUNCTION,
                format!(
                    "read_excel takes 1 to 3 arguments ('file' [, 'sheet' [, 'header=false']]), got {}",
                    args.len()
                ),
            ));
        }
        let file = text_arg(&args[0], "file")?.ok_or_else(|| {
            error(
                codes::INVALID_PARAMETER_VALUE,
                "read_excel: file must not be NULL".to_string(),
            )
        })?;
        let sheet = match args.get(1) {
            Some(e) => text_arg(e, "sheet")?,
            None => None,
        };
        let header = match args.get(2) {
            Some(e) => {
                let text = text_arg(e, "options")?.unwrap_or_default();
                let pairs = huaxiang_udfs::key_values(&text, "header=true|false").map_err(|e| {
                    error(codes::INVALID_PARAMETER_VALUE, format!("read_excel: {e}"))
                })?;
                let mut header = true;
                for (key, value) in pairs {
                    if key != "header" {
                        return Err(error(
                            codes::INVALID_PARAMETER_VALUE,
                            format!(
                                "read_excel: unknown option '{key}' (options: header=true|false)"
                            ),
                        ));
                    }
                    header = header_option(Some(value))?;
                }
                header
            }
            None => true,
        };
        let path = self.access.check(&file, &self.import_dir, "read_excel")?;
        // A table function is planned per query: the sheet read now is the one the query sees,
        // so it is read once, not again at the scan as an external table is.
        let (schema, batch) = load(&SheetRef {
            path,
            sheet,
            header,
        })?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }
}
