//! A trained model as it is stored: what it predicts from, its parameters and its training
//! metrics.

use serde::{Deserialize, Serialize};

/// Kinds of trained models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Logistic,
    Tree,
    /// BG/NBD (or MBG/NBD) and Gamma-Gamma, saved by `clv` / `clv_fit` with `save=NAME`.
    Clv,
}

impl Kind {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "logistic" | "logistic_regression" | "lr" => Some(Self::Logistic),
            "tree" | "decision_tree" => Some(Self::Tree),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Logistic => "logistic",
            Self::Tree => "tree",
            Self::Clv => "clv",
        }
    }
}

/// A node of a decision tree: a split (rows with `x[feature] <= value` go left) or a leaf with
/// the (weighted) share of positive training rows that reached it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Node {
    Split {
        feature: usize,
        value: f64,
        left: Box<Node>,
        right: Box<Node>,
    },
    Leaf {
        probability: f64,
    },
}

impl Node {
    /// The probability of the positive class for one row.
    pub fn predict(&self, row: &[f64]) -> f64 {
        let mut node = self;
        loop {
            match node {
                Node::Leaf { probability } => return *probability,
                Node::Split {
                    feature,
                    value,
                    left,
                    right,
                } => {
                    node = if row[*feature] <= *value { left } else { right };
                }
            }
        }
    }
}

/// The parameters of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Params {
    /// P(label = 1) = σ(intercept + Σ coefficients[j] · (x[j] − center[j]) / scale[j]).
    Logistic {
        intercept: f64,
        coefficients: Vec<f64>,
        center: Vec<f64>,
        scale: Vec<f64>,
    },
    /// A decision tree on the raw features, with each feature's importance.
    Tree { root: Node, importances: Vec<f64> },
    /// The customer-base models of `clv`; features are frequency, recency and t in `unit`.
    Clv {
        /// "bgnbd" or "mbgnbd".
        purchases: String,
        r: f64,
        alpha: f64,
        a: f64,
        b: f64,
        /// Gamma-Gamma p, q, gamma; None when there was no spend to fit.
        spend: Option<[f64; 3]>,
        /// "days" or "weeks".
        unit: String,
    },
}

/// A trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub name: String,
    pub kind: Kind,
    pub features: Vec<String>,
    pub params: Params,
    /// Metrics on the training rows, in the order they were computed.
    pub metrics: Vec<(String, f64)>,
    /// The options it was trained with, as given.
    pub options: String,
    /// Training time, microseconds since 1970-01-01 UTC.
    pub trained_at: i64,
    pub rows: usize,
}

/// The logistic function, without overflow for large |z|.
pub(crate) fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl Model {
    /// Per feature: the logistic coefficient (per standard deviation when standardised) or the
    /// tree's impurity-based importance; for a `clv` model, its parameters.
    pub fn weights(&self) -> Vec<(String, f64)> {
        let named = |values: &[f64]| {
            self.features
                .iter()
                .cloned()
                .zip(values.iter().copied())
                .collect()
        };
        match &self.params {
            Params::Logistic { coefficients, .. } => named(coefficients),
            Params::Tree { importances, .. } => named(importances),
            Params::Clv {
                r,
                alpha,
                a,
                b,
                spend,
                ..
            } => {
                let mut rows = vec![
                    ("r".to_string(), *r),
                    ("alpha".to_string(), *alpha),
                    ("a".to_string(), *a),
                    ("b".to_string(), *b),
                ];
                if let Some([p, q, g]) = spend {
                    rows.extend([
                        ("p".to_string(), *p),
                        ("q".to_string(), *q),
                        ("gamma".to_string(), *g),
                    ]);
                }
                rows
            }
        }
    }

    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }
}
