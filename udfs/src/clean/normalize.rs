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

/// The valid phone number `text` denotes, read in `default_region` unless it carries its own
/// country code (`+86 …`, `0086-…`); `None` when it is not a valid number.
pub fn parse_phone(text: &str, default_region: country::Id) -> Option<PhoneNumber> {
    let folded = fold_width(text);
    let trimmed = folded.trim();
    if trimmed.is_empty() {
        return None;
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
    phonenumber::is_valid(&number).then_some(number)
}

/// E.164 (`+8613812345678`) of a valid number.
pub fn e164(number: &PhoneNumber) -> String {
    number.format().mode(Mode::E164).to_string()
}

/// The region (ISO 3166 code) a valid number belongs to.
pub fn phone_region(number: &PhoneNumber) -> Option<String> {
    number.country().id().map(|id| id.as_ref().to_string())
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
        parse_phone(text, country::Id::CN).map(|n| e164(&n))
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
            parse_phone("(415) 555-2671", region("us").unwrap()).map(|n| e164(&n)),
            Some("+14155552671".to_string())
        );
        let n = parse_phone("+44 20 7946 0018", country::Id::CN).unwrap();
        assert_eq!(phone_region(&n).as_deref(), Some("GB"));
        assert_eq!(region("xx"), None);
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
