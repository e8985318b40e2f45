//! Cleaning of the identifiers customer records are linked by: phone numbers (through the
//! `phonenumber` crate, libphonenumber's metadata), e-mail addresses (the `email_address`
//! crate's RFC 5322 check) and free text such as names, addresses and company names.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use email_address::{EmailAddress, Options};
use phonenumber::country;

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
    /// Any other number: its country calling code, national significant number (with an
    /// Italian leading zero where it has one) and the region it belongs to (an ISO 3166 code,
    /// or `001` for the non-geographic codes such as +800).
    Other {
        code: u16,
        national: String,
        region: String,
    },
}

impl Phone {
    /// E.164 (`+8613812345678`).
    pub fn e164(&self) -> String {
        match self {
            Phone::ChineseMobile(national) => format!("+86{national}"),
            Phone::Other { code, national, .. } => format!("+{code}{national}"),
        }
    }

    /// The national (significant) number.
    pub fn national(&self) -> String {
        match self {
            Phone::ChineseMobile(national) | Phone::Other { national, .. } => national.clone(),
        }
    }

    /// The country calling code of a number outside China (None for Chinese numbers).
    pub fn foreign_code(&self) -> Option<u16> {
        match self {
            Phone::ChineseMobile(_) => None,
            Phone::Other { code, region, .. } => (region != "CN").then_some(*code),
        }
    }

    /// The region (ISO 3166 code, `001` for non-geographic numbers) the number belongs to.
    pub fn region(&self) -> String {
        match self {
            Phone::ChineseMobile(_) => "CN".to_string(),
            Phone::Other { region, .. } => region.clone(),
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
    parse_full(trimmed, default_region)
}

/// `parse_phone` without its fast path: trimmed, non-empty `trimmed` read as libphonenumber
/// reads it.
fn parse_full(trimmed: &str, default_region: country::Id) -> Option<Phone> {
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
    if let Some(answer) = parse_international(input) {
        return answer;
    }
    let number = phonenumber::parse(Some(default_region), input).ok()?;
    let (code, national) = (number.code().value(), number.national().to_string());
    let region = valid_region(code, &national)?;
    Some(Phone::Other {
        code,
        national,
        region,
    })
}

/// A number written with its country code (`+39 02 3661 8300`, `(+86) 138…`, `+800 1234 5678`)
/// in digits and separators, read as libphonenumber reads it; `None` for other forms (letters, extensions),
/// which the crate's parser reads. The crate (0.3.10) loses digits of such numbers — the
/// leading zero of Italian landlines, the first digits of +800 and +979 numbers, which it takes
/// for a national prefix — so none of them was valid. libphonenumber: the country code is the
/// shortest run of 1 to 3 leading digits that is a known code; the rest is the national number,
/// from which the code's national prefix is stripped only where the number stays viable
/// (`maybeStripNationalPrefixAndCarrierCode`) and of a possible length (`parseHelper`).
fn parse_international(text: &str) -> Option<Option<Phone>> {
    let body = text.trim_start_matches(['(', ' ']).strip_prefix('+')?;
    let mut digits = String::with_capacity(body.len());
    for c in body.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' | '/' => {}
            _ => return None,
        }
    }
    let database = &*phonenumber::metadata::DATABASE;
    if digits.starts_with('0') {
        return Some(None);
    }
    let Some((code, regions)) = (1..=3.min(digits.len())).find_map(|len| {
        let code: u16 = digits[..len].parse().ok()?;
        database.region(&code).map(|regions| (code, regions))
    }) else {
        return Some(None);
    };
    let national = &digits[code.to_string().len()..];
    // The patterns of the code's main region (listed first), or of the non-geographic code.
    let main = match regions.first() {
        Some(&"001") => RegionPatterns::of_code(code),
        Some(main) => RegionPatterns::of_region(main),
        None => None,
    };
    let Some(main) = main else {
        return Some(None);
    };
    let national = strip_national_prefix(national, &main).unwrap_or_else(|| national.to_string());
    // libphonenumber's bounds on a national significant number.
    if !(2..=17).contains(&national.len()) {
        return Some(None);
    }
    Some(valid_region(code, &national).map(|region| Phone::Other {
        code,
        national,
        region,
    }))
}

/// `national` without the national prefix (`0`, carrier codes, a transform rule) of the region
/// of `patterns`, when libphonenumber would strip it: the prefix matches at the start, the
/// number stays a viable national number if it was one, and its length stays possible for the
/// region.
fn strip_national_prefix(national: &str, patterns: &RegionPatterns) -> Option<String> {
    let captures = patterns.national_prefix.as_ref()?.captures(national)?;
    let whole = captures.get(0)?;
    let last_group = captures.iter().skip(1).last().flatten();
    let stripped = match (&patterns.transform_rule, last_group) {
        (Some(rule), Some(_)) => {
            let mut replaced = String::new();
            captures.expand(rule, &mut replaced);
            replaced + &national[whole.end()..]
        }
        _ => national[whole.end()..].to_string(),
    };
    if patterns.general.is_match(national) && !patterns.general.is_match(&stripped) {
        return None;
    }
    patterns.possible_length(stripped.len()).then_some(stripped)
}

/// A transform rule written for Java (`9$1`) as the `regex` crate expands it (`9${1}`: its
/// `$15` would be group 15).
fn expansion(rule: &str) -> String {
    let mut out = String::with_capacity(rule.len() + 4);
    let mut chars = rule.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('$', Some(d)) if d.is_ascii_digit() => {
                out.push_str(&format!("${{{d}}}"));
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
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

/// Whether an 11-digit Chinese national number is valid (see [`valid_region`]).
fn chinese_mobile_is_valid(national: &str) -> bool {
    static CN: std::sync::LazyLock<Option<Arc<RegionPatterns>>> =
        std::sync::LazyLock::new(|| RegionPatterns::of_region("CN"));
    CN.as_ref().is_some_and(|cn| cn.is_valid(national))
}

/// The region a number (country code, national significant number) belongs to if it is a
/// valid number, as libphonenumber's
/// `isValidNumber` and `getRegionCodeForNumber` decide: among the regions of its country code,
/// the first whose leading digits begin the national number (or, for regions without leading
/// digits, the first the number is valid in), and the number valid there — it matches the
/// region's general pattern and the pattern of some number type (fixed line, mobile, toll
/// free, …), each as a whole.
///
/// Written here rather than calling `phonenumber::is_valid` because the crate (0.3.10) accepts
/// a pattern that matches only the start of the number — `+86 999 9999 9999` passed on its
/// first ten digits — where libphonenumber requires the whole number to match. The patterns
/// are the crate's metadata, compiled once per region: the crate's own matching also goes
/// through a regex cache behind one process-wide mutex, keyed by the pattern's text (hashed on
/// every use), which cost more than the match itself and serialised the cores.
pub fn valid_region(code: u16, national: &str) -> Option<String> {
    let database = &*phonenumber::metadata::DATABASE;
    let regions = database.region(&code)?;
    if let [only] = regions.as_slice() {
        let patterns = if *only == "001" {
            RegionPatterns::of_code(code)?
        } else {
            RegionPatterns::of_region(only)?
        };
        return patterns.is_valid(national).then(|| only.to_string());
    }
    for region in regions {
        let patterns = RegionPatterns::of_region(region)?;
        match &patterns.leading_digits {
            Some(leading) if leading.is_match(national) => {
                return patterns.is_valid(national).then(|| region.to_string());
            }
            Some(_) => {}
            None if patterns.is_valid(national) => return Some(region.to_string()),
            None => {}
        }
    }
    None
}

/// A metadata descriptor's pattern (matched as a whole) and possible lengths.
struct Pattern {
    regex: regex::Regex,
    lengths: Vec<u16>,
}

impl Pattern {
    fn of(descriptor: &phonenumber::metadata::Descriptor) -> Option<Self> {
        // The metadata's regexes are written to ignore whitespace.
        let regex =
            regex::RegexBuilder::new(&format!("^(?:{})$", descriptor.national_number().as_str()))
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

/// A region's general pattern, its number types' patterns and its leading digits.
struct RegionPatterns {
    general: Pattern,
    types: Vec<Pattern>,
    /// The lengths a national number of the region may have, and those only dialled locally
    /// (the union over its number types, as libphonenumber's metadata build fills them in).
    lengths: Vec<u16>,
    local_lengths: Vec<u16>,
    /// The national prefix as read (libphonenumber's `nationalPrefixForParsing`, matched at
    /// the start) and what replaces it (`nationalPrefixTransformRule`), if anything.
    national_prefix: Option<regex::Regex>,
    transform_rule: Option<String>,
    /// Digits a national number of this region begins with (libphonenumber's `leadingDigits`,
    /// matched at the start), where regions share a country code.
    leading_digits: Option<regex::Regex>,
}

/// Compiled patterns by (region, country code — for region `001` only); the region names are
/// the metadata's own, which lives as long as the program.
type PatternCache = std::sync::RwLock<HashMap<(&'static str, u16), Option<Arc<RegionPatterns>>>>;

impl RegionPatterns {
    fn of_region(region: &'static str) -> Option<Arc<Self>> {
        Self::cached(region, 0, || phonenumber::metadata::DATABASE.by_id(region))
    }

    /// The metadata of a non-geographic code (region `001`), which is filed by code.
    fn of_code(code: u16) -> Option<Arc<Self>> {
        Self::cached("001", code, || {
            phonenumber::metadata::DATABASE
                .by_code(&code)?
                .into_iter()
                .next()
        })
    }

    fn cached<'a>(
        region: &'static str,
        code: u16,
        meta: impl FnOnce() -> Option<&'a phonenumber::metadata::Metadata>,
    ) -> Option<Arc<Self>> {
        static CACHE: std::sync::LazyLock<PatternCache> =
            std::sync::LazyLock::new(Default::default);
        let key = (region, code);
        if let Some(known) = CACHE.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return known.clone();
        }
        let compiled = meta().and_then(Self::compile).map(Arc::new);
        CACHE
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, compiled.clone());
        compiled
    }

    fn compile(meta: &phonenumber::metadata::Metadata) -> Option<Self> {
        let d = meta.descriptors();
        let descriptors: Vec<_> = [
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
        .collect();
        let types = descriptors
            .iter()
            .map(|d| Pattern::of(d))
            .collect::<Option<Vec<_>>>()?;
        let union = |of: fn(&phonenumber::metadata::Descriptor) -> &[u16]| {
            let mut all: Vec<u16> = descriptors.iter().flat_map(|d| of(d).to_vec()).collect();
            all.sort_unstable();
            all.dedup();
            all
        };
        let lengths = union(phonenumber::metadata::Descriptor::possible_length);
        let local_lengths = union(phonenumber::metadata::Descriptor::possible_local_length);
        // Patterns matched at the start of the number (libphonenumber's `lookingAt`).
        let at_start = |pattern: Option<&str>| match pattern {
            Some(pattern) => regex::RegexBuilder::new(&format!("^(?:{pattern})"))
                .ignore_whitespace(true)
                .build()
                .ok()
                .map(Some),
            None => Some(None),
        };
        let leading_digits = at_start(meta.leading_digits().map(|p| p.as_str()))?;
        let national_prefix = at_start(meta.national_prefix_for_parsing().map(|p| p.as_str()))?;
        let transform_rule = meta
            .national_prefix_transform_rule()
            .filter(|rule| !rule.is_empty())
            .map(expansion);
        Some(Self {
            general: Pattern::of(d.general())?,
            types,
            lengths,
            local_lengths,
            national_prefix,
            transform_rule,
            leading_digits,
        })
    }

    /// libphonenumber's `testNumberLength`, as `parseHelper` uses it: a length the region's
    /// numbers may have — or longer than any (an over-long number is still read, then found
    /// invalid) — and not one only dialled locally.
    fn possible_length(&self, length: usize) -> bool {
        let length = length as u16;
        let (Some(&min), Some(&max)) = (self.lengths.first(), self.lengths.last()) else {
            return false;
        };
        !self.local_lengths.contains(&length)
            && (self.lengths.contains(&length) || length > max)
            && length >= min
    }

    fn is_valid(&self, national: &str) -> bool {
        self.general.is_match(national) && self.types.iter().any(|t| t.is_match(national))
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
            // Not valid for libphonenumber (phonenumbers 9.0): the crate's own check took them
            // on a pattern matching only their first digits.
            "+86 999 9999 9999",
            "+86 10 1234 5678 9",
            "+44 20 7946 00189",
        ] {
            assert_eq!(phone(text), None, "{text}");
        }
    }

    #[test]
    fn numbers_with_their_country_code_keep_every_digit() {
        // libphonenumber (phonenumbers 9.0.33): valid, with these E.164 texts and regions.
        for (text, e164, region) in [
            ("+39 02 3661 8300", "+390236618300", "IT"),
            ("+800 1234 5678", "+80012345678", "001"),
            ("+979 123 456 789", "+979123456789", "001"),
            ("+44 (0)20 7946 0018", "+442079460018", "GB"),
            ("+7 701 234 5678", "+77012345678", "KZ"),
        ] {
            let phone = parse_phone(text, country::Id::CN).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(
                (phone.e164().as_str(), phone.region().as_str()),
                (e164, region)
            );
        }
        assert_eq!(expansion("9$1"), "9${1}");
        assert_eq!(expansion("$15"), "${1}5");
    }

    #[test]
    fn other_regions_keep_their_country_code() {
        assert_eq!(
            parse_phone("(415) 555-2671", region("us").unwrap()).map(|n| n.e164()),
            Some("+14155552671".to_string())
        );
        let n = parse_phone("+44 20 7946 0018", country::Id::CN).unwrap();
        assert_eq!(n.region(), "GB");
        // A Chinese mobile with its country code, read in another region (libphonenumber:
        // valid, +8613812345678).
        assert_eq!(
            parse_phone("+86 138 1234 5678", region("us").unwrap()).map(|n| n.e164()),
            Some("+8613812345678".to_string())
        );
        assert_eq!(region("xx"), None);
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
                    for region in [country::Id::CN, country::Id::US] {
                        let ours = parse_phone(&text, region);
                        fast += usize::from(matches!(ours, Some(Phone::ChineseMobile(_))));
                        assert_eq!(
                            ours.map(|p| (p.e164(), p.region())),
                            parse_full(text.trim(), region).map(|p| (p.e164(), p.region())),
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
