//! PostgreSQL's functions that client tools call while connecting, and the helper functions
//! the rewrites (`super::rewrite`) put into their queries.
//!
//! SQLAlchemy (and so Superset), Grafana and JDBC read `version()` and expect it to start with
//! `PostgreSQL <major>.<minor>`; DataFusion's own `version()` says "Apache DataFusion ...".

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, TypeSignature, Volatility,
};
use datafusion::prelude::SessionContext;

use super::settings::{setting_value, version_string};

pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(VersionFunc::new()));
    ctx.register_udf(ScalarUDF::new_from_impl(CurrentSettingFunc::new()));
    ctx.register_udf(pg_size_pretty_udf());
    ctx.register_udf(ScalarUDF::new_from_impl(FormatFunc {
        signature: Signature::variadic_any(Volatility::Stable),
    }));
    ctx.register_udf(ScalarUDF::new_from_impl(SetConfigFunc {
        signature: Signature::any(3, Volatility::Volatile),
    }));
    ctx.register_udf(ScalarUDF::new_from_impl(ExpandArray {
        signature: Signature::any(1, Volatility::Immutable),
    }));
    ctx.register_udaf(AggregateUDF::new_from_impl(SingleRowValue {
        signature: Signature::any(1, Volatility::Immutable),
    }));
    ctx.register_udf(ScalarUDF::new_from_impl(SingleRowChecked {
        signature: Signature::any(1, Volatility::Immutable),
    }));
    ctx.register_udf(ScalarUDF::new_from_impl(JsonBuildObjectFunc {
        signature: Signature::one_of(
            vec![TypeSignature::Nullary, TypeSignature::VariadicAny],
            Volatility::Immutable,
        ),
    }));
    // Functions whose answer in huaxiang is fixed by what it has: every function is visible
    // (one schema search path), and there are no sequences, indexes or comments (COMMENT ON
    // is not supported), so PostgreSQL's own answer for such objects — NULL — is the answer.
    let null_text = ScalarValue::Utf8(None);
    for (name, arities, value) in [
        (
            "pg_function_is_visible",
            &[1][..],
            ScalarValue::Boolean(Some(true)),
        ),
        (
            "pg_type_is_visible",
            &[1][..],
            ScalarValue::Boolean(Some(true)),
        ),
        ("pg_get_serial_sequence", &[2][..], null_text.clone()),
        ("pg_get_indexdef", &[1, 3][..], null_text.clone()),
        // No function has an SQL-standard body (`BEGIN ATOMIC …`): psql's `\df+` then shows
        // `prosrc`, as PostgreSQL does for built-in and compiled functions.
        ("pg_get_function_sqlbody", &[1][..], null_text.clone()),
        ("col_description", &[2][..], null_text.clone()),
        ("obj_description", &[1, 2][..], null_text.clone()),
        ("shobj_description", &[2][..], null_text.clone()),
        // No advisory locks are ever taken (pg_advisory_lock is not offered), so there are
        // none to release; PostgreSQL's `void` answer shows as an empty value. asyncpg's
        // pool sends this on every connection it takes back.
        (
            "pg_advisory_unlock_all",
            &[0][..],
            ScalarValue::Utf8(Some(String::new())),
        ),
    ] {
        ctx.register_udf(constant_udf(name, arities, value));
    }
}

/// A function answering `value` whatever its arguments, of the given arities.
fn constant_udf(name: &'static str, arities: &[usize], value: ScalarValue) -> ScalarUDF {
    ScalarUDF::new_from_impl(ConstantFunc {
        name,
        signature: Signature::one_of(
            arities
                .iter()
                .map(|&n| match n {
                    0 => TypeSignature::Nullary,
                    n => TypeSignature::Any(n),
                })
                .collect(),
            Volatility::Stable,
        ),
        value,
    })
}

/// A catalog function whose answer is always `value`, whatever its arguments (of the listed
/// arities, any types).
#[derive(Debug, PartialEq, Eq, Hash)]
struct ConstantFunc {
    name: &'static str,
    signature: Signature,
    value: ScalarValue,
}

impl ScalarUDFImpl for ConstantFunc {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.value.data_type())
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(self.value.clone()))
    }
}

/// PostgreSQL's `pg_size_pretty(bigint)`: bytes below 10 kB, then kB, MB, GB, TB, PB, each
/// used below 20 × 1024 − 1 of it, half-rounded (dbsize.c, PostgreSQL 15).
pub fn size_pretty(mut size: i64) -> String {
    // (name, limit, half-rounded, unit bits)
    const UNITS: [(&str, i64, bool, u32); 6] = [
        ("bytes", 10 * 1024, false, 0),
        ("kB", 20 * 1024 - 1, true, 10),
        ("MB", 20 * 1024 - 1, true, 20),
        ("GB", 20 * 1024 - 1, true, 30),
        ("TB", 20 * 1024 - 1, true, 40),
        ("PB", 20 * 1024 - 1, true, 50),
    ];
    let half_rounded = |x: i64| (x + if x < 0 { -1 } else { 1 }) / 2;
    for (i, (name, limit, round, bits)) in UNITS.iter().enumerate() {
        let last = i + 1 == UNITS.len();
        if last || size.unsigned_abs() < *limit as u64 {
            if *round {
                size = half_rounded(size);
            }
            return format!("{size} {name}");
        }
        let (_, _, next_round, next_bits) = UNITS[i + 1];
        let shift = next_bits - bits - u32::from(next_round) + u32::from(*round);
        size /= 1i64 << shift;
    }
    unreachable!("the last unit always answers")
}

fn pg_size_pretty_udf() -> ScalarUDF {
    datafusion::logical_expr::create_udf(
        "pg_size_pretty",
        vec![DataType::Int64],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let sizes = arrays[0].as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            let out: datafusion::arrow::array::StringArray =
                sizes.iter().map(|s| s.map(size_pretty)).collect();
            huaxiang_udfs::scalar_or_array(args, Arc::new(out))
        }),
    )
}

/// `current_setting(name [, missing_ok])`: PostgreSQL's function, which Metabase, Grafana and
/// pgAdmin-style tools call while connecting.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CurrentSettingFunc {
    signature: Signature,
}

impl CurrentSettingFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![DataType::Utf8]),
                    TypeSignature::Exact(vec![DataType::Utf8, DataType::Boolean]),
                ],
                Volatility::Stable,
            ),
        }
    }
}

impl Default for CurrentSettingFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for CurrentSettingFunc {
    fn name(&self) -> &str {
        "current_setting"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let names = arrays[0].as_string::<i32>();
        let missing_ok = arrays.get(1).map(|a| a.as_boolean().clone());
        let mut out = StringBuilder::with_capacity(rows, rows * 8);
        for i in 0..names.len() {
            if names.is_null(i) {
                out.append_null();
                continue;
            }
            let name = names.value(i);
            match setting_value(name, &args.config_options) {
                Some(value) => out.append_value(value),
                None if missing_ok
                    .as_ref()
                    .is_some_and(|m| m.is_valid(i) && m.value(i)) =>
                {
                    out.append_null()
                }
                None => {
                    return Err(datafusion::error::DataFusionError::External(Box::new(
                        crate::error::SqlError::new(
                            crate::error::codes::UNDEFINED_OBJECT,
                            format!("unrecognized configuration parameter \"{name}\""),
                        ),
                    )));
                }
            }
        }
        huaxiang_udfs::scalar_or_array(&args.args, Arc::new(out.finish()))
    }
}

/// `version()`: PostgreSQL's version string, naming huaxiang.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct VersionFunc {
    signature: Signature,
}

impl VersionFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::exact(vec![], Volatility::Stable),
        }
    }
}

impl Default for VersionFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for VersionFunc {
    fn name(&self) -> &str {
        "version"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
            version_string(),
        ))))
    }
}

/// `json_build_object(key, value, ...)`: a JSON object text written as PostgreSQL writes it
/// (`{"a" : 1, "b" : "x"}`), keys in the order given; numbers and booleans as JSON values,
/// NULL as `null`, everything else as a JSON string of its text.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonBuildObjectFunc {
    signature: Signature,
}

impl ScalarUDFImpl for JsonBuildObjectFunc {
    fn name(&self) -> &str {
        "json_build_object"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if !arg_types.len().is_multiple_of(2) {
            return Err(crate::error::SqlError::new(
                crate::error::codes::INVALID_PARAMETER_VALUE,
                format!(
                    "json_build_object: argument list must have even number of elements, got {}",
                    arg_types.len()
                ),
            )
            .with_hint(
                "The arguments of json_build_object() must consist of alternating keys and values.",
            )
            .into_datafusion());
        }
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let options = FormatOptions::default();
        let formatters = arrays
            .iter()
            .map(|a| ArrayFormatter::try_new(a.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut out = StringBuilder::with_capacity(rows, rows * 16);
        for row in 0..rows {
            let mut text = String::from("{");
            for pair in 0..arrays.len() / 2 {
                let (k, v) = (2 * pair, 2 * pair + 1);
                if arrays[k].logical_nulls().is_some_and(|n| n.is_null(row)) {
                    return Err(crate::error::SqlError::new(
                        "22004",
                        format!("json_build_object: null value not allowed for object key (argument {})", k + 1),
                    )
                    .into_datafusion());
                }
                if pair > 0 {
                    text.push_str(", ");
                }
                let key = formatters[k].value(row).to_string();
                text.push_str(&serde_json::Value::String(key).to_string());
                text.push_str(" : ");
                let value = &arrays[v];
                let is_null = value.logical_nulls().is_some_and(|n| n.is_null(row));
                if is_null {
                    text.push_str("null");
                } else if value.data_type().is_numeric() || value.data_type() == &DataType::Boolean
                {
                    text.push_str(&formatters[v].value(row).to_string());
                } else {
                    let shown = formatters[v].value(row).to_string();
                    text.push_str(&serde_json::Value::String(shown).to_string());
                }
            }
            text.push('}');
            out.append_value(text);
        }
        huaxiang_udfs::scalar_or_array(&args.args, Arc::new(out.finish()))
    }
}

/// `format(formatstr, args...)` as PostgreSQL has it: `%s` the argument's text (NULL is
/// empty), `%I` an identifier quoted when it needs quotes (NULL is an error), `%L` a literal
/// quoted (NULL is `NULL`), `%%` a percent sign; `%n$` picks argument n, and a width (`%10s`,
/// `%-10s`) pads. Metabase's field sync names tables with `format('%I.%I', schema, table)`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct FormatFunc {
    signature: Signature,
}

impl ScalarUDFImpl for FormatFunc {
    fn name(&self) -> &str {
        "format"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let options = FormatOptions::default();
        let formatters = arrays
            .iter()
            .map(|a| ArrayFormatter::try_new(a.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut out = StringBuilder::with_capacity(rows, rows * 16);
        for row in 0..rows {
            let value = |i: usize| -> Option<String> {
                let null = arrays[i].logical_nulls().is_some_and(|n| n.is_null(row));
                (!null).then(|| formatters[i].value(row).to_string())
            };
            match value(0) {
                None => out.append_null(),
                Some(template) => {
                    let arguments: Vec<Option<String>> = (1..arrays.len()).map(value).collect();
                    out.append_value(format_text(&template, &arguments)?);
                }
            }
        }
        huaxiang_udfs::scalar_or_array(&args.args, Arc::new(out.finish()))
    }
}

fn format_error(message: impl Into<String>) -> datafusion::error::DataFusionError {
    crate::error::SqlError::new(
        crate::error::codes::INVALID_PARAMETER_VALUE,
        format!("format: {}", message.into()),
    )
    .into_datafusion()
}

/// One `format` call's text.
fn format_text(template: &str, arguments: &[Option<String>]) -> Result<String> {
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    let mut next = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        // %[position$][-][width]type
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        let mut position = None;
        if chars.peek() == Some(&'$') && !digits.is_empty() {
            chars.next();
            position = Some(
                digits
                    .parse::<usize>()
                    .map_err(|_| format_error("bad position"))?,
            );
            digits.clear();
        }
        let left = digits.is_empty() && chars.peek() == Some(&'-');
        if left {
            chars.next();
        }
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        let width: usize = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| format_error("bad width"))?
        };
        let kind = chars
            .next()
            .ok_or_else(|| format_error("unterminated format() type specifier"))?;
        let index = match position {
            Some(0) => {
                return Err(format_error(
                    "format specifies argument 0, but arguments are numbered from 1",
                ));
            }
            Some(p) => p - 1,
            None => next,
        };
        next = index + 1;
        let argument = arguments
            .get(index)
            .ok_or_else(|| format_error("too few arguments for format()"))?;
        let text = match kind {
            's' => argument.clone().unwrap_or_default(),
            'I' => quote_identifier(argument.as_deref().ok_or_else(|| {
                format_error("null values cannot be formatted as an SQL identifier")
            })?),
            'L' => match argument {
                Some(v) => quote_literal(v),
                None => "NULL".to_string(),
            },
            other => {
                return Err(format_error(format!(
                    "unrecognized format() type specifier \"{other}\""
                )));
            }
        };
        let pad = width.saturating_sub(text.chars().count());
        if left {
            out.push_str(&text);
            out.extend(std::iter::repeat_n(' ', pad));
        } else {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(&text);
        }
    }
    Ok(out)
}

/// PostgreSQL's keywords that may not be used as a bare column name (reserved, and the
/// column-name and type/function-name categories); `quote_ident` quotes them.
const QUOTED_KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// `quote_ident`: unchanged when it is a lower-case identifier that is not a keyword, else in
/// double quotes with inner quotes doubled.
pub fn quote_identifier(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
        && !QUOTED_KEYWORDS.contains(&name);
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `quote_literal`: in single quotes with inner quotes doubled; with backslashes doubled and an
/// `E` prefix when it has any, as PostgreSQL writes it.
pub fn quote_literal(value: &str) -> String {
    let quoted = value.replace('\'', "''");
    if value.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// `session_user` and `current_user` (which `datafusion-postgres` turns into the former) of a
/// connection: the user who logged in. (The dependency's answers `postgres` for everyone.)
pub fn session_user_udfs(user: &str) -> [ScalarUDF; 2] {
    let login = ScalarValue::Utf8(Some(user.to_string()));
    [
        constant_udf("session_user", &[0], login.clone()),
        constant_udf("current_user", &[0], login),
    ]
}

/// `set_config(name, value, is_local)`: the server runs `SELECT set_config('name', 'value', …)`
/// as a statement of its own (`crate::server::show::SetConfigHook`); inside another query, or
/// with computed arguments, it cannot change the connection's settings and says so (0A000).
#[derive(Debug, PartialEq, Eq, Hash)]
struct SetConfigFunc {
    signature: Signature,
}

impl ScalarUDFImpl for SetConfigFunc {
    fn name(&self) -> &str {
        "set_config"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Err(crate::error::SqlError::new(
            crate::error::codes::FEATURE_NOT_SUPPORTED,
            "set_config is supported as a statement of its own with literal arguments: \
             SELECT set_config('name', 'value', false)",
        )
        .into_datafusion())
    }
}

/// The name of PostgreSQL's `information_schema._pg_expandarray(anyarray)`, a set-returning
/// function of rows `(x, n)`: each element and its 1-based position. Here it is the list of
/// those rows (a struct of `x`, `n` each), and [`super::rewrite::rewrite_postgres_forms`]
/// puts `unnest` around the call, so pgjdbc's `getPrimaryKeys` and Metabase's index sync plan:
/// `SELECT (information_schema._pg_expandarray(ARRAY[30, 10])).n` gives the rows 1 and 2.
pub const EXPAND_ARRAY: &str = "_pg_expandarray";

#[derive(Debug, PartialEq, Eq, Hash)]
struct ExpandArray {
    signature: Signature,
}

impl ExpandArray {
    fn row_fields(element: &DataType) -> datafusion::arrow::datatypes::Fields {
        vec![
            Field::new("x", element.clone(), true),
            Field::new("n", DataType::Int32, false),
        ]
        .into()
    }

    fn element(array_type: &DataType) -> Result<DataType> {
        match array_type {
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                Ok(f.data_type().clone())
            }
            DataType::Null => Ok(DataType::Null),
            other => Err(crate::error::SqlError::new(
                crate::error::codes::UNDEFINED_FUNCTION,
                format!(
                    "function {EXPAND_ARRAY}({other}) does not exist: the argument must be an array"
                ),
            )
            .into_datafusion()),
        }
    }
}

impl ScalarUDFImpl for ExpandArray {
    fn name(&self) -> &str {
        EXPAND_ARRAY
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let element = Self::element(&arg_types[0])?;
        Ok(DataType::new_list(
            DataType::Struct(Self::row_fields(&element)),
            true,
        ))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::array::{Int32Array, ListArray, StructArray};
        use datafusion::arrow::buffer::OffsetBuffer;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let lists = cast(
            &arrays[0],
            &DataType::new_list(Self::element(arrays[0].data_type())?, true),
        )?;
        let lists = lists.as_list::<i32>();
        let element = Self::element(lists.data_type())?;
        let mut positions = Vec::with_capacity(lists.values().len());
        let mut elements = Vec::with_capacity(lists.values().len());
        let mut lengths = Vec::with_capacity(lists.len());
        for row in 0..lists.len() {
            if lists.is_null(row) {
                lengths.push(0);
                continue;
            }
            let (start, end) = (
                lists.value_offsets()[row] as usize,
                lists.value_offsets()[row + 1] as usize,
            );
            lengths.push(end - start);
            for (i, at) in (start..end).enumerate() {
                positions.push(i as i32 + 1);
                elements.push(at as u64);
            }
        }
        let taken = datafusion::arrow::compute::take(
            lists.values().as_ref(),
            &datafusion::arrow::array::UInt64Array::from(elements),
            None,
        )?;
        let rows = StructArray::try_new(
            Self::row_fields(&element),
            vec![taken, Arc::new(Int32Array::from(positions))],
            None,
        )?;
        let out = ListArray::try_new(
            Arc::new(Field::new_list_field(
                DataType::Struct(Self::row_fields(&element)),
                true,
            )),
            OffsetBuffer::from_lengths(lengths),
            Arc::new(rows),
            lists.nulls().cloned(),
        )?;
        huaxiang_udfs::scalar_or_array(&args.args, Arc::new(out))
    }
}

/// The aggregate [`super::rewrite::rewrite_postgres_forms`] puts a scalar subquery's value through: the value
/// of its group with the group's row count, which makes it one row for DataFusion.
pub const SINGLE_ROW_VALUE: &str = "single_row_value";

/// The function around such a subquery that takes the value out where it is used: NULL for no
/// row, the value for one, PostgreSQL's 21000 "more than one row returned by a subquery used as
/// an expression" for more.
pub const SINGLE_ROW_CHECKED: &str = "single_row";

/// The aggregate of a scalar subquery's value (see [`SINGLE_ROW_VALUE`]): a
/// struct of the group's value (the last seen; NULL for none) and how many rows it had.
/// [`SingleRowChecked`] takes the value out where it is used, so only a value some outer row
/// needs can be PostgreSQL's error for a second row — as in PostgreSQL, which runs the
/// subquery per row.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SingleRowValue {
    signature: Signature,
}

/// The fields of [`SingleRowValue`]'s answer.
fn single_row_fields(value: &DataType) -> datafusion::arrow::datatypes::Fields {
    vec![
        Field::new("value", value.clone(), true),
        Field::new("rows", DataType::Int64, false),
    ]
    .into()
}

impl AggregateUDFImpl for SingleRowValue {
    fn name(&self) -> &str {
        SINGLE_ROW_VALUE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(single_row_fields(&arg_types[0])))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let value_type = args.exprs[0].data_type(args.schema)?;
        Ok(Box::new(SingleRow {
            value: ScalarValue::try_from(&value_type)?,
            value_type,
            rows: 0,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format!("{}[value]", args.name),
                args.input_fields[0].data_type().clone(),
                true,
            )),
            Arc::new(Field::new(
                format!("{}[rows]", args.name),
                DataType::Int64,
                true,
            )),
        ])
    }
}

#[derive(Debug)]
struct SingleRow {
    value: ScalarValue,
    value_type: DataType,
    rows: i64,
}

impl SingleRow {
    fn add(&mut self, value: ScalarValue, rows: i64) {
        if rows > 0 {
            self.rows += rows;
            self.value = value;
        }
    }
}

impl Accumulator for SingleRow {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let values = &values[0];
        match values.len() {
            0 => {}
            n => self.add(ScalarValue::try_from_array(values, n - 1)?, n as i64),
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let rows = cast(&states[1], &DataType::Int64)?;
        let rows = rows.as_primitive::<Int64Type>();
        for row in 0..states[0].len() {
            if rows.is_valid(row) {
                self.add(
                    ScalarValue::try_from_array(&states[0], row)?,
                    rows.value(row),
                );
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            self.value.clone(),
            ScalarValue::Int64(Some(self.rows)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let answer = datafusion::arrow::array::StructArray::try_new(
            single_row_fields(&self.value_type),
            vec![
                self.value.to_array()?,
                Arc::new(datafusion::arrow::array::Int64Array::from(vec![self.rows])),
            ],
            None,
        )?;
        Ok(ScalarValue::Struct(Arc::new(answer)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.value.size() - std::mem::size_of_val(&self.value)
    }
}

/// The value out of a [`SingleRowValue`] struct: NULL for no row (or no group), the value for
/// one, PostgreSQL's 21000 for more.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SingleRowChecked {
    signature: Signature,
}

impl ScalarUDFImpl for SingleRowChecked {
    fn name(&self) -> &str {
        SINGLE_ROW_CHECKED
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match &arg_types[0] {
            DataType::Struct(fields) if fields.len() == 2 => Ok(fields[0].data_type().clone()),
            other => Err(datafusion::error::DataFusionError::Plan(format!(
                "{}: expected the struct of {}, got {other}",
                SINGLE_ROW_CHECKED, SINGLE_ROW_VALUE
            ))),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let answers = arrays[0].as_struct();
        let rows = cast(answers.column(1), &DataType::Int64)?;
        let rows = rows.as_primitive::<Int64Type>();
        if (0..answers.len()).any(|i| answers.is_valid(i) && rows.is_valid(i) && rows.value(i) > 1)
        {
            return Err(crate::error::SqlError::new(
                "21000",
                "more than one row returned by a subquery used as an expression",
            )
            .into_datafusion());
        }
        let values = answers.column(0).clone();
        let values = match answers.logical_nulls() {
            Some(nulls) if nulls.null_count() > 0 => {
                let missing = datafusion::arrow::array::BooleanArray::from(
                    (0..answers.len())
                        .map(|i| nulls.is_null(i))
                        .collect::<Vec<_>>(),
                );
                datafusion::arrow::compute::nullif(&values, &missing)?
            }
            _ => values,
        };
        huaxiang_udfs::scalar_or_array(&args.args, values)
    }
}

#[cfg(test)]
mod format_tests {
    use super::{format_text, quote_identifier, quote_literal};

    fn format(template: &str, arguments: &[Option<&str>]) -> String {
        let arguments: Vec<Option<String>> =
            arguments.iter().map(|a| a.map(str::to_string)).collect();
        format_text(template, &arguments).unwrap()
    }

    /// Expected values are PostgreSQL 15's answers.
    #[test]
    fn formats_as_postgresql() {
        assert_eq!(
            format("%I.%I", &[Some("public"), Some("orders")]),
            "public.orders"
        );
        assert_eq!(format("%I", &[Some("Order Items")]), "\"Order Items\"");
        assert_eq!(format("%I", &[Some("user")]), "\"user\"");
        assert_eq!(
            format("%L, %L", &[Some("O'Brien"), None]),
            "'O''Brien', NULL"
        );
        assert_eq!(format("%s|%s", &[None, Some("x")]), "|x");
        assert_eq!(format("%2$s %1$s", &[Some("a"), Some("b")]), "b a");
        assert_eq!(
            format("[%5s][%-5s]", &[Some("ab"), Some("cd")]),
            "[   ab][cd   ]"
        );
        assert_eq!(format("100%%", &[]), "100%");
        assert_eq!(quote_literal("a\\b"), "E'a\\\\b'");
        assert_eq!(quote_identifier("a_b1"), "a_b1");
        assert!(format_text("%s %s", &[Some("a".into())]).is_err());
        assert!(format_text("%I", &[None]).is_err());
        assert!(format_text("%x", &[Some("a".into())]).is_err());
    }
}

#[cfg(test)]
mod size_tests {
    use super::size_pretty;

    /// Answers of PostgreSQL 15's pg_size_pretty.
    #[test]
    fn sizes_read_as_postgresql_writes_them() {
        for (size, text) in [
            (0, "0 bytes"),
            (10239, "10239 bytes"),
            (10240, "10 kB"),
            (1048576, "1024 kB"),
            (20971520, "20 MB"),
            (1073741824, "1024 MB"),
            (-10240, "-10 kB"),
            (i64::MAX, "8192 PB"),
        ] {
            assert_eq!(size_pretty(size), text, "{size}");
        }
    }
}
