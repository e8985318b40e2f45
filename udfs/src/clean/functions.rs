//! The SQL surface: `normalize_phone`, `phone_valid`, `phone_region`, `normalize_email`,
//! `normalize_text`.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, AsArray, BooleanBuilder, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, DocSection, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;
use phonenumber::country;

use super::normalize::{normalize_email, normalize_text, parse_phone, region};
use crate::args::{coerce, texts};

const SECTION: DocSection = DocSection {
    include: true,
    label: "Data Cleaning Functions",
    description: None,
};

/// What a phone function answers about a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhoneAnswer {
    /// `normalize_phone`: E.164 text.
    E164,
    /// `phone_valid`: boolean.
    Valid,
    /// `phone_region`: ISO region code.
    Region,
}

/// `normalize_phone`, `phone_valid` and `phone_region`: one parse, three answers.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PhoneFunc {
    answer: PhoneAnswer,
    signature: Signature,
}

impl PhoneFunc {
    pub fn new(answer: PhoneAnswer) -> Self {
        Self {
            answer,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

const PHONE_ARGUMENTS: [(&str, &str); 2] = [
    (
        "text",
        "A phone number as people write it: spaces, dashes, brackets, `+86`, `0086`, full-width digits.",
    ),
    (
        "default_region",
        "ISO 3166 region the number is read in when it has no country code of its own. Default 'CN'.",
    ),
];

fn phone_doc(name: &str, description: &str, example: &str) -> Documentation {
    let mut doc = Documentation::builder(
        SECTION,
        description,
        format!("{name}(text [, default_region])"),
    )
    .with_sql_example(example);
    for (arg, text) in PHONE_ARGUMENTS {
        doc = doc.with_argument(arg, text);
    }
    doc.build()
}

static NORMALIZE_PHONE_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    phone_doc(
        "normalize_phone",
        "The phone number in E.164 form (`+8613812345678`), or NULL when it is not a valid number for its region (libphonenumber's metadata, through the `phonenumber` crate). Chinese mobile numbers written with spaces, dashes, `+86`, `0086` or full-width digits all give the same E.164 text, so it can join records from different systems. NULL in, NULL out; an unknown region code is an error.",
        r#"```sql
> SELECT normalize_phone('138 1234 5678') AS a, normalize_phone('0086-138-1234-5678') AS b,
         normalize_phone('１３８１２３４５６７８') AS c, normalize_phone('(415) 555-2671', 'US') AS d,
         normalize_phone('12345') AS e;
+----------------+----------------+----------------+--------------+---+
| a              | b              | c              | d            | e |
+----------------+----------------+----------------+--------------+---+
| +8613812345678 | +8613812345678 | +8613812345678 | +14155552671 |   |
+----------------+----------------+----------------+--------------+---+
```"#,
    )
});

static PHONE_VALID_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    phone_doc(
        "phone_valid",
        "Whether the text is a valid phone number (a number libphonenumber knows for its region, the right length and prefix), read in `default_region` unless it carries a country code. NULL in, NULL out.",
        r#"```sql
> SELECT phone_valid('+86 138 1234 5678') AS a, phone_valid('138 1234') AS b,
         phone_valid('020 7946 0018', 'GB') AS c;
+------+-------+------+
| a    | b     | c    |
+------+-------+------+
| true | false | true |
+------+-------+------+
```"#,
    )
});

static PHONE_REGION_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    phone_doc(
        "phone_region",
        "The region (ISO 3166 code) a valid phone number belongs to, e.g. `CN`, `HK`, `US` (`001` for non-geographic numbers such as +800, as libphonenumber names them); NULL when the number is not valid. NULL in, NULL out.",
        r#"```sql
> SELECT phone_region('13812345678') AS a, phone_region('+852 5123 4567') AS b,
         phone_region('+1 415 555 2671') AS c;
+----+----+----+
| a  | b  | c  |
+----+----+----+
| CN | HK | US |
+----+----+----+
```"#,
    )
});

impl ScalarUDFImpl for PhoneFunc {
    fn name(&self) -> &str {
        match self.answer {
            PhoneAnswer::E164 => "normalize_phone",
            PhoneAnswer::Valid => "phone_valid",
            PhoneAnswer::Region => "phone_region",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce(
            self.name(),
            arg_types,
            &[("text", "text"), ("default_region", "text")],
            1,
        )
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.answer {
            PhoneAnswer::Valid => DataType::Boolean,
            PhoneAnswer::E164 | PhoneAnswer::Region => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let name = self.name();
        let texts = texts(&args)?;
        let texts = texts.as_string::<i32>();
        let regions = match args.args.get(1) {
            Some(r) => Some(cast(&r.to_array(args.number_rows)?, &DataType::Utf8)?),
            None => None,
        };
        let regions = regions.as_ref().map(|r| r.as_string::<i32>());
        // The region column is usually one constant: parse each distinct code once.
        let mut last: Option<(String, country::Id)> = None;
        let mut numbers = Vec::with_capacity(texts.len());
        for i in 0..texts.len() {
            let code = match regions {
                None => Some("CN"),
                Some(r) if r.is_null(i) => None,
                Some(r) => Some(r.value(i)),
            };
            let (Some(code), false) = (code, texts.is_null(i)) else {
                numbers.push(None);
                continue;
            };
            let id = match &last {
                Some((c, id)) if c == code => *id,
                _ => {
                    let Some(id) = region(code) else {
                        return exec_err!(
                            "{name}: unknown region '{code}' (an ISO 3166 code such as CN, HK, US)"
                        );
                    };
                    last = Some((code.to_string(), id));
                    id
                }
            };
            numbers.push(Some(parse_phone(texts.value(i), id)));
        }
        let array: Arc<dyn Array> = match self.answer {
            PhoneAnswer::Valid => {
                let mut out = BooleanBuilder::with_capacity(numbers.len());
                for n in &numbers {
                    out.append_option(n.as_ref().map(Option::is_some));
                }
                Arc::new(out.finish())
            }
            answer => {
                let mut out = StringBuilder::with_capacity(numbers.len(), numbers.len() * 14);
                for n in &numbers {
                    out.append_option(n.as_ref().and_then(|n| {
                        let n = n.as_ref()?;
                        match answer {
                            PhoneAnswer::E164 => Some(n.e164()),
                            _ => Some(n.region()),
                        }
                    }));
                }
                Arc::new(out.finish())
            }
        };
        crate::scalar_or_array(&args.args, array)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(match self.answer {
            PhoneAnswer::E164 => &NORMALIZE_PHONE_DOC,
            PhoneAnswer::Valid => &PHONE_VALID_DOC,
            PhoneAnswer::Region => &PHONE_REGION_DOC,
        })
    }
}

// ---------------------------------------------------------------------------------------------

#[user_doc(
    doc_section(label = "Data Cleaning Functions"),
    description = "The e-mail address trimmed and lower-cased (full-width characters folded), or NULL when it is not an address (RFC 5322 syntax through the `email_address` crate, a domain of at least two labels, no display name). With `fold_provider` true, addresses at gmail.com and googlemail.com lose the dots of their local part and any `+tag` and become @gmail.com — Gmail delivers them to the same mailbox; other providers are left alone, as their rules differ. Off by default. NULL in, NULL out.",
    syntax_example = "normalize_email(text [, fold_provider])",
    sql_example = r#"```sql
> SELECT normalize_email('  Da.Wei@QQ.com ') AS a, normalize_email('da.wei+shop@gmail.com', true) AS b,
         normalize_email('not an address') AS c;
+---------------+-----------------+---+
| a             | b               | c |
+---------------+-----------------+---+
| da.wei@qq.com | dawei@gmail.com |   |
+---------------+-----------------+---+
```"#,
    argument(name = "text", description = "The address as entered."),
    argument(
        name = "fold_provider",
        description = "Fold Gmail's dots and +tags (boolean). Default false."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NormalizeEmailFunc {
    signature: Signature,
}

crate::args::text_udf_impls!(NormalizeEmailFunc);

impl ScalarUDFImpl for NormalizeEmailFunc {
    fn name(&self) -> &str {
        "normalize_email"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce(
            self.name(),
            arg_types,
            &[("text", "text"), ("fold_provider", "bool")],
            1,
        )
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let texts = texts(&args)?;
        let texts = texts.as_string::<i32>();
        let fold = match args.args.get(1) {
            Some(f) => Some(cast(&f.to_array(args.number_rows)?, &DataType::Boolean)?),
            None => None,
        };
        let fold = fold.as_ref().map(|f| f.as_boolean());
        let mut out = StringBuilder::with_capacity(texts.len(), texts.value_data().len());
        for i in 0..texts.len() {
            let fold = match fold {
                None => Some(false),
                Some(f) if f.is_null(i) => None,
                Some(f) => Some(f.value(i)),
            };
            match (fold, texts.is_null(i)) {
                (Some(fold), false) => out.append_option(normalize_email(texts.value(i), fold)),
                _ => out.append_null(),
            }
        }
        crate::scalar_or_array(&args.args, Arc::new(out.finish()))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

// ---------------------------------------------------------------------------------------------

#[user_doc(
    doc_section(label = "Data Cleaning Functions"),
    description = "Names, addresses and company names made comparable: full-width letters, digits and punctuation folded to ASCII (`ＡＢＣ１２３` → `ABC123`, the ideographic space to a space), leading and trailing whitespace trimmed, every run of whitespace one space — and none between two Chinese characters (`宋 杰洋` → `宋杰洋`, as a CRM may split surname and given name). Case is kept. NULL when nothing but whitespace is left; NULL in, NULL out.",
    syntax_example = "normalize_text(text)",
    sql_example = r#"```sql
> SELECT normalize_text('  上海　浦东  ＡＢＣ贸易有限公司 ') AS a, normalize_text('宋 杰洋') AS b;
+--------------------------+--------+
| a                        | b      |
+--------------------------+--------+
| 上海浦东 ABC贸易有限公司 | 宋杰洋 |
+--------------------------+--------+
```"#,
    argument(name = "text", description = "The text to clean.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NormalizeTextFunc {
    signature: Signature,
}

crate::args::text_to_text_udf!(NormalizeTextFunc, "normalize_text", normalize_text);
