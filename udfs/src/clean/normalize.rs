//! Cleaning of the identifiers customer records are linked by: phone numbers (through the
//! `phonenumber` crate, libphonenumber's metadata), e-mail addresses (the `email_address`
//! crate's RFC 5322 check) and free text such as names, addresses and company names.

use std::borrow::Cow;

use email_address::{EmailAddress, Options};
use phonenumber::{Mode, PhoneNumber, country};

/// Full-width ASCII forms (U+FF01..U+FF5E, as Chinese input methods type digits, letters and
/// punctuation) folded to ASCII, and the ideographic space U+3000 to a space.
pub fn fold_width(text: &str) -> Cow<'_, str> {
    let wide = |c: char| matches!(c, '\u{ff01}'..='\u{ff5e}' | '\u{3000}');
    if !text.chars().any(wide) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match c {
                '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
                '\u{3000}' => ' ',
                c => c,
            })
            .collect(),
    )
}

/// Han characters (and the CJK punctuation between them), between which whitespace means
/// nothing: 宋 杰洋 is 宋杰洋.
fn is_han(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}' | '\u{f900}'..='\u{faff}' | '\u{3001}'..='\u{303f}')
}

/// Trimmed, full-width folded, every run of whitespace one space — none between two Han
/// characters; `None` when nothing is left.
pub fn normalize_text(text: &str) -> Option<String> {
    let folded = fold_width(text);
    let mut out = String::with_capacity(folded.len());
    for word in folded.split_whitespace() {
        let joins =
            out.chars().next_back().is_some_and(is_han) && word.chars().next().is_some_and(is_han);
        if !out.is_empty() && !joins {
            out.push(' ');
        }
        out.push_str(word);
    }
    (!out.is_empty()).then_some(out)
}

/// A region code (`CN`, `us`, …) as the phone library's country id.
pub fn region(code: &str) -> Option<country::Id> {
    code.trim().to_ascii_uppercase().parse().ok()
}

/// A valid phone number.
#[derive(Debug, Clone, PartialEq)]
pub enum Phone {
    /// A Chinese mobile number (its 11 national digits), read without the full parser.
    ChineseMobile(String),
    /// Any other number, as the phone library parsed it.
    Parsed(PhoneNumber),
}

impl Phone {
    /// E.164 (`+8613812345678`).
    pub fn e164(&self) -> String {
        match self {
            Phone::ChineseMobile(national) => format!("+86{national}"),
            Phone::Parsed(number) => number.format().mode(Mode::E164).to_string(),
        }
    }

    /// The national (significant) number.
    pub fn national(&self) -> String {
        match self {
            Phone::ChineseMobile(national) => national.clone(),
            Phone::Parsed(number) => number.national().to_string(),
        }
    }

    /// The country calling code of a number outside China (None for Chinese numbers).
    pub fn foreign_code(&self) -> Option<u16> {
        match self {
            Phone::ChineseMobile(_) => None,
            Phone::Parsed(number) => {
                (number.country().id() != Some(country::Id::CN)).then(|| number.code().value())
            }
        }
    }

    /// The region (ISO 3166 code) the number belongs to.
    pub fn region(&self) -> Option<String> {
        match self {
            Phone::ChineseMobile(_) => Some("CN".to_string()),
            Phone::Parsed(number) => number.country().id().map(|id| id.as_ref().to_string()),
        }
    }
}

/// The valid phone number `text` denotes, read in `default_region` unless it carries its own
/// country code (`+86 …`, `0086-…`); `None` when it is not a valid number.
pub fn parse_phone(text: &str, default_region: country::Id) -> Option<Phone> {
    let folded = fold_width(text);
    let trimmed = folded.trim();
    if trimmed.is_empty() {
        return None;
    }
    if let Some(national) = plain_chinese_mobile(trimmed, default_region) {
        return chinese_mobile_is_valid(&national).then_some(Phone::ChineseMobile(national));
    }
    // libphonenumber reads "00" as an international prefix only for regions that dial it; a
    // Chinese export writes 0086 for +86 whatever region the number is read in.
    let digits_start = trimmed.trim_start_matches(['(', ' ']);
    let international;
    let input = if let Some(rest) = digits_start.strip_prefix("00")
        && rest.starts_with(|c: char| c.is_ascii_digit() && c != '0')
    {
        international = format!("+{rest}");
        international.as_str()
    } else {
        trimmed
    };
    let number = phonenumber::parse(Some(default_region), input).ok()?;
    phonenumber::is_valid(&number).then_some(Phone::Parsed(number))
}

/// The fast path of most of a Chinese customer base: a mobile number written plainly — 11
/// digits starting with 13 to 19, bare (read in CN) or after `+86` / `0086`, with spaces, dashes, dots
/// or parentheses between — gives its 11 national digits; anything else `None` (the full
/// parser reads it). The phone library's parser costs microseconds per number (regular
/// expressions over every form a number can take), which dominated identity resolution over
/// millions of records. Its answer for these forms is known: the national number is the 11
/// digits (CN's national prefix `0` and carrier codes cannot start an 11-digit number beginning
/// with 1 — a stripped carrier code would leave 6 digits, shorter than any Chinese number), so
/// only validity remains, decided below by the same metadata. The test
/// `plain_chinese_mobiles_agree_with_the_full_parser` checks every 3-digit prefix.
fn plain_chinese_mobile(text: &str, default_region: country::Id) -> Option<String> {
    let (plus, body) = match text.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, text.trim_start_matches('(')),
    };
    let (plus, body) = match body.strip_prefix("+") {
        Some(rest) if !plus => (true, rest),
        _ => (plus, body),
    };
    let mut digits = String::with_capacity(15);
    for c in body.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    let national = match (plus, digits.len()) {
        (true, 13) => digits.strip_prefix("86")?,
        (false, 15) => digits.strip_prefix("0086")?,
        (false, 11) if default_region == country::Id::CN => digits.as_str(),
        _ => return None,
    };
    // Mobile ranges are 13x to 19x; 10x (Beijing's area code), 11x and 12x (service and
    // carrier codes) are left to the full parser, whose reading of them varies.
    let mobile_range = national
        .as_bytes()
        .get(1)
        .is_some_and(|d| (b'3'..=b'9').contains(d));
    (national.starts_with('1') && mobile_range).then(|| national.to_string())
}

/// Whether an 11-digit Chinese national number is valid, as `phonenumber::is_valid` decides:
/// it matches the country's general pattern and the pattern of some number type. The patterns
/// are the crate's CN metadata, compiled once here: the crate's own matching goes through a
/// regex cache behind one process-wide mutex, keyed by the pattern's text (hashed on every
/// use), which cost more than the match itself and serialised the cores.
fn chinese_mobile_is_valid(national: &str) -> bool {
    static CN: std::sync::LazyLock<Option<CnPatterns>> = std::sync::LazyLock::new(CnPatterns::load);
    CN.as_ref().is_some_and(|cn| {
        cn.general.is_match(national) && cn.types.iter().any(|t| t.is_match(national))
    })
}

/// A metadata descriptor's pattern and possible lengths, matched as
/// `phonenumber::metadata::Descriptor::is_match` does.
struct Pattern {
    regex: regex::Regex,
    lengths: Vec<u16>,
}

impl Pattern {
    fn of(descriptor: &phonenumber::metadata::Descriptor) -> Option<Self> {
        // The crate's regexes ignore whitespace and must match from the number's start.
        let regex =
            regex::RegexBuilder::new(&format!("^(?:{})", descriptor.national_number().as_str()))
                .ignore_whitespace(true)
                .build()
                .ok()?;
        Some(Self {
            regex,
            lengths: descriptor.possible_length().to_vec(),
        })
    }

    fn is_match(&self, value: &str) -> bool {
        (self.lengths.is_empty() || self.lengths.contains(&(value.len() as u16)))
            && self.regex.is_match(value)
    }
}

/// CN's general pattern and its number types' patterns.
struct CnPatterns {
    general: Pattern,
    types: Vec<Pattern>,
}

impl CnPatterns {
    fn load() -> Option<Self> {
        let meta = phonenumber::metadata::DATABASE.by_id("CN")?;
        let d = meta.descriptors();
        let types = [
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.fixed_line(),
            d.mobile(),
        ]
        .into_iter()
        .flatten()
        .map(Pattern::of)
        .collect::<Option<Vec<_>>>()?;
        Some(Self {
            general: Pattern::of(d.general())?,
            types,
        })
    }
}

/// Providers whose addresses ignore dots in the local part and anything after a `+`.
const DOT_AND_PLUS_BLIND: &[&str] = &["gmail.com", "googlemail.com"];

/// A trimmed, lower-cased e-mail address; `None` when it is not an address with a domain of at
/// least two labels. With `fold_provider`, Gmail addresses lose the dots of their local part and
/// any `+tag`, and googlemail.com becomes gmail.com (they reach the same mailbox).
pub fn normalize_email(text: &str, fold_provider: bool) -> Option<String> {
    let folded = fold_width(text);
    let lower = folded.trim().to_lowercase();
    let options = Options {
        minimum_sub_domains: 2,
        allow_domain_literal: false,
        allow_display_text: false,
        ..Options::default()
    };
    let address = EmailAddress::parse_with_options(&lower, options).ok()?;
    if !fold_provider || !DOT_AND_PLUS_BLIND.contains(&address.domain()) {
        return Some(lower);
    }
    let local = address.local_part();
    let local = local.split('+').next().unwrap_or(local).replace('.', "");
    (!local.is_empty()).then(|| format!("{local}@gmail.com"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(text: &str) -> Option<String> {
        parse_phone(text, country::Id::CN).map(|n| n.e164())
    }

    #[test]
    fn chinese_mobiles_written_every_way_normalise_alike() {
        for text in [
            "13812345678",
            "138 1234 5678",
            "138-1234-5678",
            "+86 138 1234 5678",
            "+8613812345678",
            "0086-138-1234-5678",
            "008613812345678",
            "１３８１２３４５６７８",
            " (+86) 138 1234 5678 ",
        ] {
            assert_eq!(phone(text).as_deref(), Some("+8613812345678"), "{text}");
        }
    }

    #[test]
    fn invalid_numbers_are_none() {
        for text in [
            "",
            "   ",
            "abc",
            "123",
            "1381234567",
            "138123456789",
            "+86 000",
            "电话",
        ] {
            assert_eq!(phone(text), None, "{text}");
        }
    }

    #[test]
    fn other_regions_keep_their_country_code() {
        assert_eq!(
            parse_phone("(415) 555-2671", region("us").unwrap()).map(|n| n.e164()),
            Some("+14155552671".to_string())
        );
        let n = parse_phone("+44 20 7946 0018", country::Id::CN).unwrap();
        assert_eq!(n.region().as_deref(), Some("GB"));
        // A Chinese mobile with its country code, read in another region (libphonenumber:
        // valid, +8613812345678).
        assert_eq!(
            parse_phone("+86 138 1234 5678", region("us").unwrap()).map(|n| n.e164()),
            Some("+8613812345678".to_string())
        );
        assert_eq!(region("xx"), None);
    }

    /// The full parser's answer, as `parse_phone` gave it before the fast path.
    fn full_parser(text: &str, region: country::Id) -> Option<(String, Option<String>)> {
        let trimmed = text.trim();
        let input = match trimmed.trim_start_matches(['(', ' ']).strip_prefix("00") {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit() && c != '0') => {
                format!("+{rest}")
            }
            _ => trimmed.to_string(),
        };
        let number = phonenumber::parse(Some(region), input).ok()?;
        phonenumber::is_valid(&number).then(|| {
            let phone = Phone::Parsed(number);
            (phone.e164(), phone.region())
        })
    }

    #[test]
    fn plain_chinese_mobiles_agree_with_the_full_parser() {
        let mut fast = 0;
        for prefix in 100..200u32 {
            for suffix in [0u32, 12_345_678, 55_550_000, 99_999_999, 80_012_345] {
                let national = format!("{prefix}{suffix:08}");
                let spaced = format!("{} {} {}", &national[..3], &national[3..7], &national[7..]);
                for text in [
                    national.clone(),
                    spaced.clone(),
                    format!("{}-{}-{}", &national[..3], &national[3..7], &national[7..]),
                    format!("+86{national}"),
                    format!("+86 {spaced}"),
                    format!("(+86) {spaced}"),
                    format!("0086-{national}"),
                    format!("0086 {spaced}"),
                ] {
                    // A number with its country code is the same in every region, as
                    // libphonenumber reads it; the `phonenumber` crate reads `+86 138…` in
                    // region US as +86 38… (the US national prefix 1 stripped), so the
                    // reference for those is its reading in CN.
                    let has_code = text.starts_with(['+', '(']) || text.starts_with("00");
                    for region in [country::Id::CN, country::Id::US] {
                        let ours = parse_phone(&text, region);
                        fast += usize::from(matches!(ours, Some(Phone::ChineseMobile(_))));
                        let taken = plain_chinese_mobile(text.trim(), region).is_some();
                        let reference = if taken && has_code {
                            country::Id::CN
                        } else {
                            region
                        };
                        assert_eq!(
                            ours.map(|p| (p.e164(), p.region())),
                            full_parser(&text, reference),
                            "{text} in {region:?}"
                        );
                    }
                }
            }
        }
        assert!(fast > 1000, "the fast path was taken {fast} times");
    }

    #[test]
    fn emails() {
        assert_eq!(
            normalize_email("  Da.Wei@Gmail.COM ", false).as_deref(),
            Some("da.wei@gmail.com")
        );
        assert_eq!(
            normalize_email("Da.Wei+shop@googlemail.com", true).as_deref(),
            Some("dawei@gmail.com")
        );
        assert_eq!(
            normalize_email("da.wei+x@qq.com", true).as_deref(),
            Some("da.wei+x@qq.com")
        );
        for bad in [
            "",
            "dawei",
            "dawei@",
            "@qq.com",
            "da wei@qq.com",
            "dawei@localhost",
        ] {
            assert_eq!(normalize_email(bad, false), None, "{bad}");
        }
        assert_eq!(
            normalize_email("ＤＡＷＥＩ＠ＱＱ．ＣＯＭ", false).as_deref(),
            Some("dawei@qq.com")
        );
    }

    #[test]
    fn text() {
        assert_eq!(
            normalize_text("  上海　浦东\t新区  ＡＢＣ公司 ").as_deref(),
            Some("上海浦东新区 ABC公司")
        );
        assert_eq!(normalize_text("宋 杰洋").as_deref(), Some("宋杰洋"));
        assert_eq!(
            normalize_text(" Li   Na  李 娜 ").as_deref(),
            Some("Li Na 李娜")
        );
        assert_eq!(normalize_text(" \u{3000} "), None);
    }
}
