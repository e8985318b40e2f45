//! Topic tags of a text from a dictionary of topic words (`data/sentiment/topics.txt`), plus
//! topics the user passes in.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

const TOPICS_TEXT: &str = include_str!("../../data/sentiment/topics.txt");

/// One topic: its id, its Chinese label, and its words.
#[derive(Debug, Clone)]
pub struct Topic {
    pub id: String,
    pub label_cn: String,
    pub words: Vec<String>,
}

/// A dictionary of topics and one automaton over all their words.
#[derive(Debug)]
pub struct Topics {
    topics: Vec<Topic>,
    matcher: AhoCorasick,
    /// For each pattern: its topic and whether it must match a whole (Latin) word.
    patterns: Vec<(usize, bool)>,
}

fn builtin_topics() -> Vec<Topic> {
    TOPICS_TEXT
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.splitn(3, '|').map(str::trim);
            let (id, cn, words) = (parts.next()?, parts.next()?, parts.next()?);
            Some(Topic {
                id: id.to_string(),
                label_cn: cn.to_string(),
                words: words
                    .split(',')
                    .map(|w| w.trim().to_lowercase())
                    .filter(|w| !w.is_empty())
                    .collect(),
            })
        })
        .collect()
}

/// The built-in dictionary, built once per process.
pub static BUILTIN: LazyLock<Topics> =
    LazyLock::new(|| Topics::new(builtin_topics()).expect("the built-in topic dictionary builds"));

/// Parses user topics: `topic: word, word; topic2: word` (topics separated by `;` or new
/// lines; a topic may appear several times, e.g. from `string_agg(topic || ': ' || word, '; ')`).
pub fn parse_user_topics(text: &str) -> Result<Vec<Topic>, String> {
    let mut topics: Vec<Topic> = Vec::new();
    for entry in text.split([';', '\n', '；']).map(str::trim) {
        if entry.is_empty() {
            continue;
        }
        let (name, words) = entry
            .split_once([':', '：'])
            .ok_or_else(|| format!("topic entry '{entry}' is not 'topic: word, word'"))?;
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("topic entry '{entry}' has no topic name"));
        }
        let words: Vec<String> = words
            .split([',', '，', '|'])
            .map(|w| w.trim().to_lowercase())
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            return Err(format!("topic '{name}' has no words"));
        }
        match topics.iter_mut().find(|t| t.id == name) {
            Some(t) => t.words.extend(words),
            None => topics.push(Topic {
                id: name.to_string(),
                label_cn: name.to_string(),
                words,
            }),
        }
    }
    Ok(topics)
}

impl Topics {
    pub fn new(topics: Vec<Topic>) -> Result<Self, String> {
        let mut words = Vec::new();
        let mut patterns = Vec::new();
        for (i, topic) in topics.iter().enumerate() {
            for w in &topic.words {
                words.push(fast2s::convert(w));
                patterns.push((i, w.is_ascii()));
            }
        }
        let matcher = AhoCorasick::new(&words).map_err(|e| e.to_string())?;
        Ok(Self {
            topics,
            matcher,
            patterns,
        })
    }

    /// The built-in topics followed by `extra` (a user topic of a built-in id adds words to it).
    pub fn with_extra(extra: Vec<Topic>) -> Result<Self, String> {
        let mut all = builtin_topics();
        for topic in extra {
            match all.iter_mut().find(|t| t.id == topic.id) {
                Some(t) => t.words.extend(topic.words),
                None => all.push(topic),
            }
        }
        Self::new(all)
    }

    /// The topics `text` mentions, in dictionary order, each once.
    pub fn tag(&self, text: &str, chinese_labels: bool) -> Vec<&str> {
        let folded = fast2s::convert(text).to_lowercase();
        let bytes = folded.as_bytes();
        let mut found = vec![false; self.topics.len()];
        for m in self.matcher.find_overlapping_iter(&folded) {
            let (topic, whole_word) = self.patterns[m.pattern().as_usize()];
            if whole_word {
                let before = m.start().checked_sub(1).map(|i| bytes[i]);
                let after = bytes.get(m.end()).copied();
                let letter = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
                if letter(before) || letter(after) {
                    continue;
                }
            }
            found[topic] = true;
        }
        self.topics
            .iter()
            .zip(found)
            .filter(|(_, f)| *f)
            .map(|(t, _)| {
                if chinese_labels {
                    t.label_cn.as_str()
                } else {
                    t.id.as_str()
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_topics_match_chinese_anywhere_and_english_whole_words() {
        let t = &*BUILTIN;
        assert_eq!(
            t.tag("物流很快，但是价格太贵了", false),
            vec!["logistics", "price"]
        );
        assert_eq!(t.tag("快遞很慢，包裝也破了", true), vec!["物流", "包装"]);
        assert_eq!(t.tag("The refund took ages", false), vec!["refund_return"]);
        // "boxer" is not "box"
        assert!(t.tag("a boxer", false).is_empty());
        assert!(t.tag("", false).is_empty());
    }

    #[test]
    fn user_topics_extend_the_dictionary() {
        let extra =
            parse_user_topics("warranty: 保修, warranty; 会员: 积分; warranty: 维修").unwrap();
        let t = Topics::with_extra(extra).unwrap();
        assert_eq!(t.tag("保修期内免费维修", false), vec!["warranty"]);
        assert_eq!(t.tag("积分到账了", false), vec!["会员"]);
        assert!(parse_user_topics("no colon here").is_err());
        assert!(parse_user_topics("empty:").is_err());
    }
}
