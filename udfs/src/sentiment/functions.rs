//! The SQL surface: `sentiment_score`, `sentiment_tag`, `sentiment_explain`, `text_topics`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Float64Builder, ListBuilder, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature,
};
use datafusion_macros::user_doc;

use super::analyzer::analyze;
use super::topics::{BUILTIN, Topics, parse_user_topics};
use crate::args::{coerce, constant_text, texts};

/// Labels: `en` (default) or `cn`.
fn chinese_labels(function: &str, args: &[ColumnarValue], i: usize) -> Result<bool> {
    match constant_text(function, args, i)?.as_deref().map(str::trim) {
        None | Some("en") | Some("EN") => Ok(false),
        Some("cn") | Some("CN") | Some("zh") => Ok(true),
        Some(other) => exec_err!("{function}: labels must be 'en' or 'cn', got '{other}'"),
    }
}

// ---------------------------------------------------------------------------------------------

#[user_doc(
    doc_section(label = "Sentiment and Topic Functions"),
    description = "The sentiment of a review, chat message or complaint as a number from -1 (most negative) to 1 (most positive). English text is scored by VADER exactly as vaderSentiment 3.3.2 scores it (VADER's own lexicon and rules, compound rounded to 4 decimals); text with Chinese characters (simplified or traditional, possibly mixed with English words) by huaxiang's rules over `jieba-rs` segmentation and a Chinese lexicon: negation (不, 没, 没有, 别, 无, 未, 并不 …), degree adverbs (很, 非常, 太, 特别, 有点, 稍微 …), contrast (但是, 可是, 不过, 然而: the clause after weighs more), rhetorical questions, exclamation marks, internet words and emoticons ([哭], 👍, 差评, 坑). NULL in, NULL out; empty or whitespace-only text scores 0.",
    syntax_example = "sentiment_score(text)",
    sql_example = r#"```sql
> SELECT round(sentiment_score('物流很快，质量也不错'), 2) AS a,
         round(sentiment_score('虽然便宜，但是质量太差了'), 2) AS b,
         round(sentiment_score('Great quality, fast shipping!'), 2) AS c;
+-----+------+------+
| a   | b    | c    |
+-----+------+------+
| 0.7 | -0.7 | 0.66 |
+-----+------+------+
```"#,
    argument(name = "text", description = "The text to score.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SentimentScoreFunc {
    signature: Signature,
}

crate::args::text_udf_impls!(SentimentScoreFunc);

impl ScalarUDFImpl for SentimentScoreFunc {
    fn name(&self) -> &str {
        "sentiment_score"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce(self.name(), arg_types, &[("text", "text")], 1)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let texts = texts(&args)?;
        let texts = texts.as_string::<i32>();
        let mut out = Float64Builder::with_capacity(texts.len());
        for text in texts.iter() {
            out.append_option(text.map(|t| analyze(t, false).score));
        }
        crate::scalar_or_array(&args.args, Arc::new(out.finish()))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[user_doc(
    doc_section(label = "Sentiment and Topic Functions"),
    description = "`positive`, `neutral` or `negative` from `sentiment_score`: positive when the score is at least `threshold` (default 0.05, VADER's convention), negative when it is at most −`threshold`, else neutral. With labels `'cn'`: 正面, 中性, 负面. NULL in, NULL out; empty text is neutral.",
    syntax_example = "sentiment_tag(text [, threshold [, labels]])",
    sql_example = r#"```sql
> SELECT sentiment_tag('客服态度很差，再也不买了') AS a,
         sentiment_tag('还行吧', 0.3) AS b,
         sentiment_tag('非常满意', 0.05, 'cn') AS c;
+----------+---------+------+
| a        | b       | c    |
+----------+---------+------+
| negative | neutral | 正面 |
+----------+---------+------+
```"#,
    argument(name = "text", description = "The text to tag."),
    argument(
        name = "threshold",
        description = "A constant in [0, 1): how far from 0 a score must be to count as positive or negative (default 0.05, also when NULL)."
    ),
    argument(name = "labels", description = "`'en'` (default) or `'cn'`.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SentimentTagFunc {
    signature: Signature,
}

crate::args::text_udf_impls!(SentimentTagFunc);

impl ScalarUDFImpl for SentimentTagFunc {
    fn name(&self) -> &str {
        "sentiment_tag"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce(
            self.name(),
            arg_types,
            &[
                ("text", "text"),
                ("threshold", "number"),
                ("labels", "text"),
            ],
            1,
        )
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let name = self.name();
        let threshold = match args.args.get(1) {
            None | Some(ColumnarValue::Scalar(ScalarValue::Float64(None) | ScalarValue::Null)) => {
                0.05
            }
            Some(ColumnarValue::Scalar(ScalarValue::Float64(Some(t))))
                if (0.0..1.0).contains(t) =>
            {
                *t
            }
            Some(ColumnarValue::Scalar(v)) => {
                return exec_err!("{name}: threshold must be at least 0 and below 1, got {v}");
            }
            Some(_) => return exec_err!("{name}: threshold must be a constant"),
        };
        let labels = if chinese_labels(name, &args.args, 2)? {
            ["正面", "中性", "负面"]
        } else {
            ["positive", "neutral", "negative"]
        };
        let texts = texts(&args)?;
        let texts = texts.as_string::<i32>();
        let mut out = StringBuilder::with_capacity(texts.len(), texts.len() * 8);
        for text in texts.iter() {
            out.append_option(text.map(|t| {
                let s = analyze(t, false).score;
                if s >= threshold && s > 0.0 {
                    labels[0]
                } else if s <= -threshold && s < 0.0 {
                    labels[2]
                } else {
                    labels[1]
                }
            }));
        }
        crate::scalar_or_array(&args.args, Arc::new(out.finish()))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[user_doc(
    doc_section(label = "Sentiment and Topic Functions"),
    description = "Why a text scored as it did: the score, then each sentiment word or emoticon with its contribution and the rules that changed it (degree adverbs, negation, contrast, rhetorical question), then rules of the whole text (contrast, exclamation marks). For English text, each VADER lexicon word with its valence after VADER's rules (boosters, negation, ALL CAPS, 'but', 'least', idioms). NULL in, NULL out.",
    syntax_example = "sentiment_explain(text)",
    sql_example = r#"```sql
> SELECT sentiment_explain('虽然便宜，但是质量不好');
+------------------------------------------------------------------------------------------------------------------------+
| sentiment_explain(Utf8("虽然便宜，但是质量不好"))                                                                      |
+------------------------------------------------------------------------------------------------------------------------+
| score -0.52; 便宜 +0.65 (before 但是 ×0.5); 不好 -3.00 (after 但是 ×1.5); contrast 但是: words before ×0.5, after ×1.5 |
+------------------------------------------------------------------------------------------------------------------------+
```"#,
    argument(name = "text", description = "The text to explain.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SentimentExplainFunc {
    signature: Signature,
}

crate::args::text_to_text_udf!(SentimentExplainFunc, "sentiment_explain", |t| Some(
    explanation(t)
));

/// `score …; word ±v (rules); …; notes`.
pub fn explanation(text: &str) -> String {
    let scored = analyze(text, true);
    let mut parts = vec![format!("score {:.2}", scored.score)];
    for e in &scored.evidence {
        if e.rules.is_empty() {
            parts.push(format!("{} {:+.2}", e.term, e.value));
        } else {
            parts.push(format!(
                "{} {:+.2} ({})",
                e.term,
                e.value,
                e.rules.join(", ")
            ));
        }
    }
    parts.extend(scored.notes);
    parts.join("; ")
}

#[user_doc(
    doc_section(label = "Sentiment and Topic Functions"),
    description = "The topics a text mentions, as an array of tags in dictionary order: `logistics`, `price`, `quality`, `service`, `refund_return`, `packaging`, `usability`, `taste`, `environment`, `size_fit`, `speed` (the dictionary and its words are in the README). Chinese words match anywhere (after traditional → simplified), English words as whole words, ignoring case. `extra_topics` adds the user's own topics as text `'topic: word, word; topic2: word'` — build it from a table with `(SELECT string_agg(topic || ': ' || word, '; ') FROM my_topics)`; a user topic with a built-in id adds words to it. With labels `'cn'` the built-in topics are named in Chinese (物流, 价格, 质量, 服务, 退换, 包装, 使用, 口味, 环境, 尺码, 效率). NULL in, NULL out; a text without topics gives an empty array.",
    syntax_example = "text_topics(text [, extra_topics [, labels]])",
    sql_example = r#"```sql
> SELECT text_topics('物流太慢了，而且包装破了') AS a,
         text_topics('保修期内免费维修', 'warranty: 保修, 维修') AS b,
         text_topics('The refund took two weeks', NULL, 'cn') AS c;
+------------------------+------------+--------+
| a                      | b          | c      |
+------------------------+------------+--------+
| [logistics, packaging] | [warranty] | [退换] |
+------------------------+------------+--------+
```"#,
    argument(name = "text", description = "The text to tag."),
    argument(
        name = "extra_topics",
        description = "A constant text of user topics, `'topic: word, word; topic2: word'`, or NULL."
    ),
    argument(name = "labels", description = "`'en'` (default) or `'cn'`.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TextTopicsFunc {
    signature: Signature,
}

crate::args::text_udf_impls!(TextTopicsFunc);

impl ScalarUDFImpl for TextTopicsFunc {
    fn name(&self) -> &str {
        "text_topics"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce(
            self.name(),
            arg_types,
            &[
                ("text", "text"),
                ("extra_topics", "text"),
                ("labels", "text"),
            ],
            1,
        )
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Arc::new(Field::new_list_field(
            DataType::Utf8,
            true,
        ))))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let name = self.name();
        let chinese = chinese_labels(name, &args.args, 2)?;
        let user;
        let topics: &Topics = match constant_text(name, &args.args, 1)? {
            Some(extra) if !extra.trim().is_empty() => {
                let extra = parse_user_topics(&extra).map_err(|e| {
                    datafusion::error::DataFusionError::Execution(format!("{name}: {e}"))
                })?;
                user = Topics::with_extra(extra).map_err(|e| {
                    datafusion::error::DataFusionError::Execution(format!("{name}: {e}"))
                })?;
                &user
            }
            _ => &BUILTIN,
        };
        let texts = texts(&args)?;
        let texts = texts.as_string::<i32>();
        let mut out = ListBuilder::new(StringBuilder::new());
        for text in texts.iter() {
            match text {
                None => out.append_null(),
                Some(t) => {
                    for tag in topics.tag(t, chinese) {
                        out.values().append_value(tag);
                    }
                    out.append(true);
                }
            }
        }
        crate::scalar_or_array(&args.args, Arc::new(out.finish()))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
