//! The sentiment score of one text, Chinese, English or mixed.
//!
//! English-only text is scored by VADER (our port of vaderSentiment 3.3.2, `super::vader`), so
//! English scores are VADER's. Text with Chinese characters goes
//! through our rules, because no crate scores Chinese: traditional characters are folded to
//! simplified (`fast2s`), the text is split into clauses at punctuation, bracket codes
//! (`[哭]`) and emoji are taken as tokens, the rest is segmented by `jieba-rs`, and each word
//! of the lexicon (`data/sentiment/zh_lexicon.txt`; Latin words inside Chinese text fall back
//! to VADER's lexicon) contributes its valence:
//!
//! - times the degree adverbs among the three tokens before it in its clause (很 ×1.3,
//!   非常 ×1.5, 有点 ×0.7, …),
//! - negated (×−0.75; ×−0.5 after 不太/不怎么, "not very") when an odd number of negators
//!   (不, 没, 没有, 别, 无, 未, 并不, …) stand among those three tokens,
//! - ×0.5 before and ×1.5 after the last contrast word (但是, 可是, 不过, 然而, 可惜, …),
//! - flipped in a question that carries a rhetorical or sarcasm marker (难道…？, 这也叫…？),
//!   halved in any other question.
//!
//! The sum is pushed 0.292 further from zero for each exclamation mark (up to four) and mapped
//! to [-1, 1] by VADER's normalisation `s / sqrt(s² + 15)`, so Chinese and English scores read
//! alike and share the tag thresholds.

use std::collections::HashMap;
use std::sync::LazyLock;

use jieba_rs::Jieba;

pub use super::vader::Evidence;

/// A score and, when asked for, the evidence behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub score: f64,
    pub evidence: Vec<Evidence>,
    /// Rules applying to the whole text (contrast, exclamation, language).
    pub notes: Vec<String>,
}

const LEXICON_TEXT: &str = include_str!("../../data/sentiment/zh_lexicon.txt");

/// Negators and how much of a word's valence survives them (negated: × −factor).
const NEGATORS: &[(&str, f64)] = &[
    ("不", 0.75),
    ("没", 0.75),
    ("没有", 0.75),
    ("别", 0.75),
    ("无", 0.75),
    ("未", 0.75),
    ("并不", 0.75),
    ("并没有", 0.75),
    ("不是", 0.75),
    ("不算", 0.75),
    ("算不上", 0.75),
    ("不会", 0.75),
    ("不要", 0.75),
    ("从不", 0.75),
    ("从来不", 0.75),
    ("从来没有", 0.75),
    ("绝不", 0.75),
    ("毫无", 0.75),
    ("毫不", 0.75),
    ("根本不", 0.75),
    ("完全不", 0.75),
    ("一点也不", 0.75),
    ("一点都不", 0.75),
    ("不够", 0.6),
    ("不太", 0.5),
    ("不怎么", 0.5),
    ("不大", 0.5),
    ("没那么", 0.5),
    ("not", 0.75),
    ("no", 0.75),
    ("never", 0.75),
    ("don't", 0.75),
    ("isn't", 0.75),
];

/// Degree adverbs and their multipliers.
const DEGREES: &[(&str, f64)] = &[
    ("很", 1.3),
    ("挺", 1.2),
    ("蛮", 1.2),
    ("比较", 1.1),
    ("较", 1.1),
    ("还算", 0.8),
    ("非常", 1.5),
    ("十分", 1.5),
    ("特别", 1.5),
    ("特", 1.4),
    ("太", 1.5),
    ("超", 1.5),
    ("超级", 1.6),
    ("极", 1.7),
    ("极其", 1.7),
    ("极度", 1.7),
    ("相当", 1.4),
    ("真", 1.3),
    ("真的", 1.3),
    ("真是", 1.3),
    ("实在", 1.3),
    ("巨", 1.6),
    ("贼", 1.5),
    ("好", 1.2),
    ("更", 1.2),
    ("更加", 1.3),
    ("最", 1.6),
    ("有点", 0.7),
    ("有点儿", 0.7),
    ("有些", 0.7),
    ("稍微", 0.6),
    ("稍", 0.6),
    ("略", 0.7),
    ("略微", 0.6),
    ("一点", 0.7),
    ("very", 1.3),
    ("so", 1.3),
    ("super", 1.5),
    ("really", 1.3),
];

/// Words after which a sentence's weight moves to what follows.
const CONTRASTS: &[&str] = &[
    "但是", "但", "可是", "不过", "然而", "却", "可惜", "只是", "but",
];

/// Markers that turn a question into its opposite (rhetorical or sarcastic).
const RHETORICAL: &[&str] = &[
    "难道",
    "这也叫",
    "也叫",
    "这也算",
    "也配",
    "还好意思",
    "怎么好意思",
    "岂",
    "凭什么",
    "怎么可能",
];

/// How many tokens before a word its negators and degree adverbs may stand.
const WINDOW: usize = 4;
/// How many tokens after a word a trailing negator (一点礼貌都没有) may stand.
const POST_WINDOW: usize = 2;
const NEGATION: f64 = 0.75;

/// Negators that follow what they negate: 一点问题都没有, 礼貌也没有.
const POST_NEGATORS: &[&str] = &["没有", "都没有", "也没有", "都没", "也没", "全无"];

/// Particles that may trail a word without changing it (脏得, 好了, 值啊).
const PARTICLES: &[char] = &['了', '的', '得', '啊', '呀', '吧', '啦', '哦', '呢', '哈'];

const CONTRAST_BEFORE: f64 = 0.5;
const CONTRAST_AFTER: f64 = 1.5;
const EXCLAMATION: f64 = 0.292;
const QUESTION_DAMPING: f64 = 0.5;

struct Resources {
    jieba: Jieba,
    lexicon: HashMap<String, f64>,
    negators: HashMap<&'static str, f64>,
    degrees: HashMap<&'static str, f64>,
    /// Degree adverbs and negators, longest first, for splitting a whole token.
    prefixes: Vec<&'static str>,
    /// Bracket codes and emoji of the lexicon, longest first.
    symbols: Vec<(String, f64)>,
}

/// Loaded once per process: the segmenter's dictionary and the lexicon.
static RESOURCES: LazyLock<Resources> = LazyLock::new(|| {
    // Each word also under the form the traditional→simplified folding gives it: the folding
    // runs on every text, and fast2s maps a few simplified characters too (呵 → 嗬).
    let lexicon: HashMap<String, f64> = LEXICON_TEXT
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (word, value) = l.rsplit_once(' ')?;
            let (word, value) = (word.trim(), value.trim().parse::<f64>().ok()?);
            Some([(word.to_string(), value), (fast2s::convert(word), value)])
        })
        .flatten()
        .collect();
    let mut jieba = Jieba::new();
    let words = lexicon
        .keys()
        .map(String::as_str)
        .chain(NEGATORS.iter().map(|(w, _)| *w))
        .chain(DEGREES.iter().map(|(w, _)| *w))
        .chain(CONTRASTS.iter().copied());
    for word in words {
        if word.chars().any(is_cjk) && !jieba.has_word(word) {
            // Ten times the frequency that just makes the word one token on its own, so that
            // it also wins against neighbours (太难用 → 太 / 难用, not 太难 / 用).
            let freq = jieba.suggest_freq(word).saturating_mul(10);
            jieba.add_word(word, Some(freq), None);
        }
    }
    let mut symbols: Vec<(String, f64)> = lexicon
        .iter()
        .filter(|(w, _)| w.starts_with('[') || w.chars().all(is_symbol))
        .map(|(w, v)| (w.clone(), *v))
        .collect();
    symbols.sort_by_key(|(w, _)| std::cmp::Reverse(w.len()));
    let mut prefixes: Vec<&'static str> = DEGREES
        .iter()
        .chain(NEGATORS)
        .map(|(w, _)| *w)
        .filter(|w| !w.is_ascii())
        .collect();
    prefixes.sort_by_key(|w| std::cmp::Reverse(w.len()));
    Resources {
        prefixes,
        jieba,
        lexicon,
        negators: NEGATORS.iter().copied().collect(),
        degrees: DEGREES.iter().copied().collect(),
        symbols,
    }
});

/// Loads the lexicon and segmenter now (they load on first use otherwise).
pub fn warm_up() {
    LazyLock::force(&RESOURCES);
    super::vader::warm_up();
}

/// A lexicon word found in a token, with the degree adverb or negator it started with.
struct Found {
    valence: f64,
    prefix: Option<&'static str>,
}

/// Looks a token up: as it is; in VADER's lexicon for a Latin word; else, for a Chinese token
/// the segmenter kept whole (很脏, 不实用, 最好用, 脏得), as a degree adverb or negator
/// followed by a lexicon word, with a trailing particle dropped.
fn lookup(r: &Resources, word: &str) -> Option<Found> {
    if word.is_ascii() {
        let lower = ascii_lower(word);
        let valence = r
            .lexicon
            .get(&*lower)
            .copied()
            .or_else(|| super::vader::lexicon_valence(&lower))?;
        return Some(Found {
            valence,
            prefix: None,
        });
    }
    if let Some(v) = r.lexicon.get(word) {
        return Some(Found {
            valence: *v,
            prefix: None,
        });
    }
    let stem = word.trim_end_matches(PARTICLES);
    if stem != word
        && !stem.is_empty()
        && let Some(v) = r.lexicon.get(stem)
    {
        return Some(Found {
            valence: *v,
            prefix: None,
        });
    }
    r.prefixes.iter().find_map(|p| {
        let rest = stem.strip_prefix(p)?;
        let v = r.lexicon.get(rest)?;
        Some(Found {
            valence: *v,
            prefix: Some(*p),
        })
    })
}

/// `w` in ASCII lower case, copied only when it has capitals (the rule-word tables and the
/// lexicon are lower case; Chinese tokens pass through without an allocation).
fn ascii_lower(w: &str) -> std::borrow::Cow<'_, str> {
    if w.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(w.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(w)
    }
}

pub fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}' | '\u{f900}'..='\u{faff}')
}

/// Emoji and other pictographs (not letters, digits or punctuation).
fn is_symbol(c: char) -> bool {
    matches!(c, '\u{2600}'..='\u{27bf}' | '\u{1f000}'..='\u{1faff}' | '\u{fe0f}')
}

fn clause_end(c: char) -> bool {
    matches!(
        c,
        '，' | ','
            | '。'
            | '.'
            | '！'
            | '!'
            | '？'
            | '?'
            | '；'
            | ';'
            | '～'
            | '~'
            | '\n'
            | '…'
            | '、'
    )
}

/// The sentiment of `text` in [-1, 1]; with `explain`, the evidence too.
pub fn analyze(text: &str, explain: bool) -> Scored {
    if text.trim().is_empty() {
        return Scored {
            score: 0.0,
            evidence: vec![],
            notes: vec!["empty text".to_string()],
        };
    }
    // VADER for English; our rules for Chinese, mixed text, and text of emoji alone.
    if text.chars().any(is_cjk) || !text.chars().any(|c| c.is_ascii_alphabetic()) {
        chinese(text, explain)
    } else {
        english(text, explain)
    }
}

fn english(text: &str, explain: bool) -> Scored {
    let vader = super::vader::score(text, explain);
    Scored {
        score: vader.compound,
        evidence: vader.evidence,
        notes: if explain {
            vec!["english: VADER".to_string()]
        } else {
            vec![]
        },
    }
}

/// One token of a Chinese (or mixed) text.
enum Piece<'a> {
    Word(&'a str),
    /// A bracket code or emoji of the lexicon.
    Symbol(&'static str, f64),
    /// End of a clause, with its punctuation.
    End(char),
}

fn pieces<'a>(r: &'static Resources, text: &'a str, out: &mut Vec<Piece<'a>>) {
    let mut run_start = 0;
    let mut i = 0;
    let bytes_len = text.len();
    let flush = |out: &mut Vec<Piece<'a>>, from: usize, to: usize| {
        if from < to {
            for token in r.jieba.cut(&text[from..to], true) {
                let w = token.word.trim();
                if !w.is_empty() {
                    out.push(Piece::Word(w));
                }
            }
        }
    };
    while i < bytes_len {
        let tail = &text[i..];
        let c = tail.chars().next().unwrap_or(' ');
        if clause_end(c) {
            flush(out, run_start, i);
            out.push(Piece::End(c));
            i += c.len_utf8();
            run_start = i;
            continue;
        }
        if (c == '[' || is_symbol(c))
            && let Some((symbol, value)) =
                r.symbols.iter().find(|(s, _)| tail.starts_with(s.as_str()))
        {
            flush(out, run_start, i);
            out.push(Piece::Symbol(symbol.as_str(), *value));
            i += symbol.len();
            run_start = i;
            continue;
        }
        i += c.len_utf8();
    }
    flush(out, run_start, bytes_len);
}

fn chinese(original: &str, explain: bool) -> Scored {
    let r: &'static Resources = &RESOURCES;
    let text = fast2s::convert(original);
    let mut tokens = Vec::with_capacity(text.len() / 2);
    pieces(r, &text, &mut tokens);

    // (token index, contribution, evidence)
    let mut values: Vec<(usize, f64, Option<Evidence>)> = Vec::new();
    let mut last_contrast: Option<(usize, &str)> = None;
    let mut clause_start = 0;
    let mut clause_values_start = 0;
    let mut exclamations = 0usize;
    let mut notes = Vec::new();
    for (i, piece) in tokens.iter().enumerate() {
        match piece {
            Piece::End(c) => {
                if matches!(c, '!' | '！') {
                    exclamations += 1;
                }
                if matches!(c, '?' | '？') {
                    question(
                        &tokens[clause_start..i],
                        &mut values[clause_values_start..],
                        explain,
                    );
                }
                clause_start = i + 1;
                clause_values_start = values.len();
            }
            Piece::Symbol(symbol, value) => values.push((
                i,
                *value,
                explain.then(|| Evidence {
                    term: symbol.to_string(),
                    value: *value,
                    rules: vec![],
                }),
            )),
            Piece::Word(word) => {
                if CONTRASTS.contains(word) {
                    last_contrast = Some((i, word));
                }
                let Some(found) = lookup(r, word) else {
                    continue;
                };
                let mut value = found.valence;
                let mut rules = Vec::new();
                let mut negation = 1.0;
                let mut negated_by: Vec<&str> = Vec::new();
                let mut intensified = false;
                // The word's own prefix (很脏 = 很 + 脏), then the tokens before it.
                let before = tokens[clause_start.max(i.saturating_sub(WINDOW))..i]
                    .iter()
                    .rev()
                    .map_while(|p| match p {
                        Piece::Word(w) => Some(*w),
                        _ => None,
                    });
                for w in found.prefix.into_iter().chain(before) {
                    let w_lower = ascii_lower(w);
                    if let Some(d) = r.degrees.get(&*w_lower) {
                        value *= d;
                        if explain {
                            rules.push(format!("{w} ×{d}"));
                        }
                    } else if let Some(n) = r.negators.get(&*w_lower) {
                        negation *= -n;
                        negated_by.push(w);
                    } else if matches!(w, "这么" | "如此" | "这样") {
                        intensified = true;
                    }
                }
                // 从来没有这么失望过: "never so …" intensifies instead of negating.
                if intensified && negated_by.iter().any(|n| n.starts_with("从")) {
                    negation = 1.5;
                    if explain {
                        rules.push(format!("{}这么… ×1.5", negated_by.join("+")));
                    }
                    negated_by.clear();
                    value *= negation;
                }
                // 一点礼貌都没有: a negator after the word, at the end of its clause.
                let after = tokens[i + 1..tokens.len().min(i + 1 + POST_WINDOW)]
                    .iter()
                    .map_while(|p| match p {
                        Piece::Word(w) => Some(*w),
                        _ => None,
                    });
                for w in after {
                    if POST_NEGATORS.contains(&w) {
                        negation *= -NEGATION;
                        negated_by.push(w);
                        break;
                    }
                }
                if !negated_by.is_empty() {
                    value *= negation;
                    if explain {
                        let how = if negation < 0.0 {
                            "negated by"
                        } else {
                            "double negation"
                        };
                        rules.push(format!("{how} {}", negated_by.join("+")));
                    }
                }
                values.push((
                    i,
                    value,
                    explain.then(|| Evidence {
                        term: word.to_string(),
                        value,
                        rules,
                    }),
                ));
            }
        }
    }
    if let Some((at, word)) = last_contrast {
        for (i, value, evidence) in values.iter_mut() {
            let factor = if *i < at {
                CONTRAST_BEFORE
            } else {
                CONTRAST_AFTER
            };
            *value *= factor;
            if let Some(e) = evidence {
                e.value = *value;
                e.rules.push(format!(
                    "{} {word} ×{factor}",
                    if *i < at { "before" } else { "after" }
                ));
            }
        }
        if explain {
            notes.push(format!(
                "contrast {word}: words before ×{CONTRAST_BEFORE}, after ×{CONTRAST_AFTER}"
            ));
        }
    }
    let mut sum: f64 = values.iter().map(|v| v.1).sum();
    let bangs = exclamations.min(4);
    if bangs > 0 && sum != 0.0 {
        sum += sum.signum() * EXCLAMATION * bangs as f64;
        if explain {
            notes.push(format!("{bangs} exclamation mark(s) ×{EXCLAMATION}"));
        }
    }
    Scored {
        score: super::vader::normalize(sum),
        evidence: values.into_iter().filter_map(|v| v.2).collect(),
        notes,
    }
}

/// A clause ending in a question mark: flipped with a rhetorical marker, else halved.
fn question(clause: &[Piece], values: &mut [(usize, f64, Option<Evidence>)], explain: bool) {
    let text: String = clause
        .iter()
        .filter_map(|p| match p {
            Piece::Word(w) => Some(*w),
            _ => None,
        })
        .collect();
    let marker = RHETORICAL.iter().find(|m| text.contains(*m));
    let factor = if marker.is_some() {
        -1.0
    } else {
        QUESTION_DAMPING
    };
    for (_, value, evidence) in values.iter_mut() {
        *value *= factor;
        if let Some(e) = evidence.as_mut().filter(|_| explain) {
            e.value = *value;
            e.rules.push(match marker {
                Some(m) => format!("rhetorical question ({m}…？) flips"),
                None => format!("question ×{QUESTION_DAMPING}"),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> f64 {
        analyze(text, false).score
    }

    #[test]
    fn chinese_rules_move_the_score_the_right_way() {
        assert!(s("质量很好") > 0.3);
        assert!(s("质量很好") > s("质量好"));
        assert!(s("质量不好") < -0.3);
        assert!(s("不推荐") < 0.0);
        assert!(s("没有任何异味") > 0.0);
        assert!(s("虽然贵，但是质量很好") > 0.0);
        assert!(s("外观好看，但是质量太差") < 0.0);
        assert!(s("太好用了！！") > s("太好用了"));
        assert!(s("难道这就是正品吗？") < 0.0);
        assert!(s("服務很好，質量也不錯") > 0.3, "traditional characters");
        assert!(s("气死了[哭]") < 0.0);
        assert!(s("👍👍") > 0.0);
        assert!(s("客服很rude") < 0.0, "English words inside Chinese");
    }

    #[test]
    fn english_is_vader() {
        assert_eq!(
            s("The food was good but the service was awful"),
            super::super::vader::score("The food was good but the service was awful", false)
                .compound
        );
        // VADER 3.3: "no" before a sentiment word negates it
        assert!(s("No complaints, it just works.") > 0.0);
        assert!(s("no") < 0.0);
        // vaderSentiment keeps a token of two letters or fewer with its punctuation: "No." is
        // not the lexicon's "no".
        assert_eq!(s("No."), 0.0);
    }

    #[test]
    fn empty_odd_and_hostile_text_is_neutral_or_scored_never_a_panic() {
        for text in [
            "",
            "   ",
            "\n\t",
            "!!!",
            "？？？",
            "[",
            "[哭",
            "]]]",
            "😀",
            "a",
            "不",
            "很",
            "但是",
            "but",
            "BUT!!!",
            "？不好",
            "，，，",
            "\u{0}",
            "🏳️‍🌈",
            "ＡＢＣ",
        ] {
            let v = s(text);
            assert!((-1.0..=1.0).contains(&v), "{text:?} → {v}");
        }
        assert_eq!(s("   "), 0.0);
    }

    /// The rule words are matched after traditional → simplified folding, so folding must
    /// leave them as they are.
    #[test]
    fn rule_words_survive_the_folding() {
        let words = NEGATORS
            .iter()
            .chain(DEGREES)
            .map(|(w, _)| *w)
            .chain(CONTRASTS.iter().copied())
            .chain(RHETORICAL.iter().copied())
            .chain(POST_NEGATORS.iter().copied());
        for w in words {
            assert_eq!(fast2s::convert(w), w);
        }
        assert!(s("呵呵") < 0.0, "呵 folds to 嗬; the lexicon has both");
    }

    #[test]
    fn explain_names_the_words_and_rules() {
        let e = analyze("虽然便宜，但是质量不好", true);
        let terms: Vec<&str> = e.evidence.iter().map(|e| e.term.as_str()).collect();
        assert!(terms.contains(&"便宜") && terms.contains(&"不好"), "{e:?}");
        assert!(e.notes.iter().any(|n| n.contains("但是")), "{e:?}");
    }
}
