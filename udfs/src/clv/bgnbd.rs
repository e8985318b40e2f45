//! The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005, "Counting Your Customers the
//! Easy Way") and its MBG/NBD variant (Batislam, Denizel & Filiztekin 2007): maximum-likelihood
//! fit, probability alive and conditional expected purchases, in the formulas of the `lifetimes`
//! package they are checked against.

use std::collections::HashMap;

use super::optimize::{chunk_parts, minimize};
use super::special::{hyp2f1, ln_gamma, log_add_exp};

/// Which repeat-purchase model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// BG/NBD: a customer can only drop out right after a repeat purchase, so every one-time
    /// buyer has P(alive) = 1.
    BgNbd,
    /// MBG/NBD: a customer can also drop out right after the first purchase.
    MbgNbd,
}

impl Variant {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "bgnbd" | "bg/nbd" | "bg_nbd" => Some(Self::BgNbd),
            "mbgnbd" | "mbg/nbd" | "mbg_nbd" => Some(Self::MbgNbd),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::BgNbd => "bgnbd",
            Self::MbgNbd => "mbgnbd",
        }
    }
}

/// A customer's purchase history: `x` repeat purchases, the last at `tx` after the first, and
/// the time `t` from the first purchase to the end of observation (all in one time unit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct History {
    pub x: f64,
    pub tx: f64,
    pub t: f64,
}

impl History {
    /// Checks the history is possible.
    pub fn check(&self) -> Result<(), String> {
        let History { x, tx, t } = *self;
        if !(x.is_finite() && tx.is_finite() && t.is_finite()) {
            return Err("frequency, recency and t must be finite".to_string());
        }
        if x < 0.0 || x.fract() != 0.0 {
            return Err(format!(
                "frequency must be a whole number of repeat purchases, got {x}"
            ));
        }
        if tx < 0.0 || t < 0.0 || tx > t {
            return Err(format!(
                "recency and t must satisfy 0 <= recency <= t, got recency {tx}, t {t}"
            ));
        }
        if x == 0.0 && tx != 0.0 {
            return Err(format!(
                "a customer without repeat purchases has recency 0, got {tx}"
            ));
        }
        Ok(())
    }
}

/// The fitted parameters: purchase rates are Gamma(r, alpha), drop-out probabilities Beta(a, b).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// Histories with equal (x, tx, t) share their likelihood terms.
fn grouped(histories: &[History]) -> Vec<(History, f64)> {
    let mut weights: HashMap<[u64; 3], (History, f64)> = HashMap::new();
    for h in histories {
        weights
            .entry([h.x.to_bits(), h.tx.to_bits(), h.t.to_bits()])
            .or_insert((*h, 0.0))
            .1 += 1.0;
    }
    let mut out: Vec<(History, f64)> = weights.into_values().collect();
    // A fixed order, so the sum (and so the fit) is the same on every run.
    out.sort_by(|(a, _), (b, _)| {
        a.x.total_cmp(&b.x)
            .then(a.tx.total_cmp(&b.tx))
            .then(a.t.total_cmp(&b.t))
    });
    out
}

/// Mean log-likelihood of the grouped histories, in parallel runs (see [`chunk_parts`]).
fn mean_log_likelihood(variant: Variant, p: Params, data: &[(History, f64)]) -> f64 {
    let (total, weight) = chunk_parts(data.len(), |run| {
        chunk_log_likelihood(variant, p, &data[run])
    })
    .iter()
    .fold((0.0, 0.0), |(t, w), (ct, cw)| (t + ct, w + cw));
    total / weight
}

/// The weighted log-likelihood of a run of grouped histories, and its weight.
fn chunk_log_likelihood(variant: Variant, p: Params, data: &[(History, f64)]) -> (f64, f64) {
    let Params { r, alpha, a, b } = p;
    let mut total = 0.0;
    let mut weight = 0.0;
    // Terms that depend on x only, cached for runs of equal x (the data is sorted by x).
    let mut cached_x = f64::NAN;
    let mut a12 = 0.0;
    for (h, w) in data {
        let x = h.x;
        if x != cached_x {
            cached_x = x;
            let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
            let a2 = match variant {
                Variant::BgNbd => {
                    ln_gamma(a + b) + ln_gamma(b + x) - ln_gamma(b) - ln_gamma(a + b + x)
                }
                Variant::MbgNbd => {
                    ln_gamma(a + b) + ln_gamma(b + x + 1.0)
                        - ln_gamma(b)
                        - ln_gamma(a + b + x + 1.0)
                }
            };
            a12 = a1 + a2;
        }
        let a3 = -(r + x) * (alpha + h.t).ln();
        let ll = match variant {
            Variant::BgNbd => {
                if x > 0.0 {
                    let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * (h.tx + alpha).ln();
                    a12 + log_add_exp(a3, a4)
                } else {
                    a12 + a3
                }
            }
            Variant::MbgNbd => {
                let a4 =
                    a.ln() - (b + x).ln() + (r + x) * ((alpha + h.t).ln() - (alpha + h.tx).ln());
                a12 + a3 + log_add_exp(a4, 0.0)
            }
        };
        total += w * ll;
        weight += w;
    }
    (total, weight)
}

/// Fits the model by maximum likelihood. `penalizer` adds `penalizer × Σ params²` to the
/// negative mean log-likelihood, as `lifetimes` does (0 = plain maximum likelihood).
pub fn fit(variant: Variant, histories: &[History], penalizer: f64) -> Result<Params, String> {
    if histories.is_empty() {
        return Err("no customers to fit".to_string());
    }
    for h in histories {
        h.check()?;
    }
    if histories.iter().all(|h| h.x == 0.0) {
        return Err(
            "no customer has a repeat purchase: the model cannot tell purchase rates from drop-out"
                .to_string(),
        );
    }
    let data = grouped(histories);
    let params = |v: &[f64]| Params {
        r: v[0].exp(),
        alpha: v[1].exp(),
        a: v[2].exp(),
        b: v[3].exp(),
    };
    let objective = |v: &[f64]| {
        if v.iter().any(|x| x.abs() > 30.0) {
            return f64::INFINITY;
        }
        let p = params(v);
        -mean_log_likelihood(variant, p, &data)
            + penalizer * (p.r * p.r + p.alpha * p.alpha + p.a * p.a + p.b * p.b)
    };
    // Start where `lifetimes` starts: every log parameter 0.1.
    let (best, _) = minimize(objective, vec![0.1; 4])?;
    if best.iter().any(|x| x.abs() > 29.0) {
        return Err(format!(
            "the fit ran off to an extreme ({:?}): the data does not identify the model \
             (too few repeat buyers?); try the option penalizer=0.001",
            params(&best)
        ));
    }
    Ok(params(&best))
}

/// Probability that the customer is still alive at the end of observation.
pub fn p_alive(variant: Variant, p: Params, h: History) -> f64 {
    let Params { r, alpha, a, b } = p;
    let x = h.x;
    match variant {
        Variant::BgNbd => {
            if x == 0.0 {
                return 1.0;
            }
            let log_div =
                (r + x) * ((alpha + h.t) / (alpha + h.tx)).ln() + (a / (b + x - 1.0)).ln();
            1.0 / (1.0 + log_div.exp())
        }
        Variant::MbgNbd => {
            1.0 / (1.0 + (a / (b + x)) * ((alpha + h.t) / (alpha + h.tx)).powf(r + x))
        }
    }
}

/// Expected number of purchases in the next `horizon` time units, given the history.
pub fn expected_purchases(
    variant: Variant,
    p: Params,
    h: History,
    horizon: f64,
) -> Result<f64, String> {
    if horizon == 0.0 {
        return Ok(0.0);
    }
    let Params { r, alpha, a, b } = p;
    let x = h.x;
    let z = horizon / (alpha + h.t + horizon);
    let (hyp_b, hyp_c, first, alive_ratio) = match variant {
        Variant::BgNbd => (
            b + x,
            a + b + x - 1.0,
            (a + b + x - 1.0) / (a - 1.0),
            if x > 0.0 {
                (a / (b + x - 1.0)) * ((alpha + h.t) / (alpha + h.tx)).powf(r + x)
            } else {
                0.0
            },
        ),
        Variant::MbgNbd => (
            b + x + 1.0,
            a + b + x,
            (a + b + x) / (a - 1.0),
            (a / (b + x)) * ((alpha + h.t) / (alpha + h.tx)).powf(r + x),
        ),
    };
    let hyp = hyp2f1(r + x, hyp_b, hyp_c, z).ok_or_else(|| {
        format!(
            "the horizon {horizon} is too long for the series of the expected purchases \
             (2F1 at z = {z:.6}); use a shorter horizon"
        )
    })?;
    let second = 1.0 - hyp * ((alpha + h.t) / (alpha + h.t + horizon)).powf(r + x);
    let value = first * second / (1.0 + alive_ratio);
    if value.is_finite() {
        Ok(value)
    } else {
        Err(format!(
            "the expected purchases are not finite for this customer (a = {a:.4} is 1: \
             the model has no finite mean)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_time_buyers_are_alive_under_bgnbd_but_not_mbgnbd() {
        let p = Params {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        };
        let once = History {
            x: 0.0,
            tx: 0.0,
            t: 38.86,
        };
        assert_eq!(p_alive(Variant::BgNbd, p, once), 1.0);
        assert!(p_alive(Variant::MbgNbd, p, once) < 1.0);
    }

    #[test]
    fn impossible_histories_are_refused() {
        let bad = [
            History {
                x: 1.5,
                tx: 1.0,
                t: 2.0,
            },
            History {
                x: 1.0,
                tx: 3.0,
                t: 2.0,
            },
            History {
                x: 0.0,
                tx: 1.0,
                t: 2.0,
            },
            History {
                x: -1.0,
                tx: 0.0,
                t: 2.0,
            },
        ];
        for h in bad {
            assert!(fit(Variant::BgNbd, &[h], 0.0).is_err(), "{h:?}");
        }
        assert!(fit(Variant::BgNbd, &[], 0.0).is_err());
        let none_repeat = [History {
            x: 0.0,
            tx: 0.0,
            t: 5.0,
        }; 3];
        assert!(fit(Variant::BgNbd, &none_repeat, 0.0).is_err());
    }

    #[test]
    fn zero_horizon_expects_nothing() {
        let p = Params {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        };
        let h = History {
            x: 2.0,
            tx: 30.43,
            t: 38.86,
        };
        assert_eq!(expected_purchases(Variant::BgNbd, p, h, 0.0), Ok(0.0));
        // lifetimes: BetaGeoFitter with these parameters,
        // conditional_expected_number_of_purchases_up_to_time(39, 2, 30.43, 38.86)
        let e = expected_purchases(Variant::BgNbd, p, h, 39.0).unwrap();
        assert!((e - 1.226028174767135).abs() < 1e-9, "{e}");
    }
}
