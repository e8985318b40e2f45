//! Sentiment and topic tags of reviews, chat messages and complaints, Chinese and English:
//! `sentiment_score`, `sentiment_tag`, `sentiment_explain`, `text_topics`.

pub mod analyzer;
pub mod functions;
pub mod topics;
pub mod vader;

use std::sync::Arc;

use datafusion::logical_expr::ScalarUDF;

use functions::{SentimentExplainFunc, SentimentScoreFunc, SentimentTagFunc, TextTopicsFunc};

pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::new_from_impl(SentimentScoreFunc::default())),
        Arc::new(ScalarUDF::new_from_impl(SentimentTagFunc::default())),
        Arc::new(ScalarUDF::new_from_impl(SentimentExplainFunc::default())),
        Arc::new(ScalarUDF::new_from_impl(TextTopicsFunc::default())),
    ]
}
