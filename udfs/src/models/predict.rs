//! What a trained model predicts for one row.

use crate::saved::model::{Model, Params, sigmoid};

/// The probability of the positive class for one row of features (in the model's order).
pub fn predict(model: &Model, row: &[f64]) -> f64 {
    match &model.params {
        Params::Logistic {
            intercept,
            coefficients,
            center,
            scale,
        } => {
            let z = coefficients
                .iter()
                .zip(row)
                .zip(center.iter().zip(scale))
                .map(|((w, x), (c, s))| w * (x - c) / s)
                .sum::<f64>()
                + intercept;
            sigmoid(z)
        }
        Params::Tree { root, .. } => root.predict(row),
        Params::Clv { .. } => match crate::clv::fitted::parameters(model) {
            Some((variant, p, _)) => {
                let h = crate::clv::bgnbd::History {
                    x: row[0],
                    tx: row[1],
                    t: row[2],
                };
                if h.check().is_err() {
                    return f64::NAN;
                }
                1.0 - crate::clv::bgnbd::p_alive(variant, p, h)
            }
            None => f64::NAN,
        },
    }
}
