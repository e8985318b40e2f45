//! The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005, "Counting Your Customers the
//! Easy Way") and its MBG/NBD variant (Batislam, Denizel & Filiztekin 2007): maximum-likelihood
//! fit, probability alive and conditional expected purchases, in the formulas of the `lifetimes`
//! package they are checked against.

use std::collections::HashMap;

use super::optimize::{chunk_parts, minimize_smooth};
use super::special::{digamma, hyp2f1, ln_gamma, log_add_exp};

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

/// A log-likelihood and its gradient with respect to (r, alpha, a, b).
#[derive(Debug, Clone, Copy, Default)]
struct Likelihood {
    value: f64,
    gradient: [f64; 4],
    weight: f64,
}

/// Mean log-likelihood of the grouped histories and its gradient, in parallel runs (see
/// [`chunk_parts`]).
fn mean_log_likelihood(variant: Variant, p: Params, data: &[(History, f64)]) -> Likelihood {
    let sum = chunk_parts(data.len(), |run| {
        chunk_log_likelihood(variant, p, &data[run])
    })
    .iter()
    .fold(Likelihood::default(), |mut sum, part| {
        sum.value += part.value;
        for (s, g) in sum.gradient.iter_mut().zip(part.gradient) {
            *s += g;
        }
        sum.weight += part.weight;
        sum
    });
    Likelihood {
        value: sum.value / sum.weight,
        gradient: sum.gradient.map(|g| g / sum.weight),
        weight: sum.weight,
    }
}

/// The weighted log-likelihood of a run of grouped histories, with its gradient and weight.
/// Per customer (Fader, Hardie & Lee 2005, eq. 6; lifetimes' `BetaGeoFitter._negative_log_likelihood`):
/// A1 = lnΓ(r+x) − lnΓ(r) + r ln α, A2 = lnB(a, b+x) − lnB(a, b), A3 = −(r+x) ln(α+T),
/// A4 = ln a − ln(b+x−1) − (r+x) ln(α+tx); ℓ = A1 + A2 + ln(e^A3 + [x>0] e^A4).
/// (MBG/NBD: A2 with b+x+1, and ℓ = A1 + A2 + A3 + ln(1 + e^A4') with
/// A4' = ln a − ln(b+x) + (r+x)(ln(α+T) − ln(α+tx)).)
fn chunk_log_likelihood(variant: Variant, p: Params, data: &[(History, f64)]) -> Likelihood {
    let Params { r, alpha, a, b } = p;
    let (ln_alpha, ln_a) = (alpha.ln(), a.ln());
    let mut out = Likelihood::default();
    // Terms that depend on x only, cached for runs of equal x (the data is sorted by x): the
    // value of A1 + A2 and its derivatives by r, a and b.
    let mut cached_x = f64::NAN;
    let (mut a12, mut d12_r, mut d12_a, mut d12_b) = (0.0, 0.0, 0.0, 0.0);
    // The MBG/NBD's A2 is the BG/NBD's one purchase later.
    let shift = match variant {
        Variant::BgNbd => 0.0,
        Variant::MbgNbd => 1.0,
    };
    for (h, w) in data {
        let x = h.x;
        if x != cached_x {
            cached_x = x;
            let xs = x + shift;
            a12 = ln_gamma(r + x) - ln_gamma(r) + r * ln_alpha + ln_gamma(a + b) + ln_gamma(b + xs)
                - ln_gamma(b)
                - ln_gamma(a + b + xs);
            d12_r = digamma(r + x) - digamma(r) + ln_alpha;
            let common = digamma(a + b) - digamma(a + b + xs);
            d12_a = common;
            d12_b = common + digamma(b + xs) - digamma(b);
        }
        let ln_t = (alpha + h.t).ln();
        let ln_tx = (alpha + h.tx).ln();
        let rx = r + x;
        let a3 = -rx * ln_t;
        // ℓ, and its derivatives by r, alpha, a and b.
        let (ll, g) = match variant {
            Variant::BgNbd if x > 0.0 => {
                let a4 = ln_a - (b + x - 1.0).ln() - rx * ln_tx;
                // The shares of the two terms of the log-sum-exp.
                let s4 = 1.0 / (1.0 + (a3 - a4).exp());
                let s3 = 1.0 - s4;
                (
                    a12 + log_add_exp(a3, a4),
                    [
                        d12_r - s3 * ln_t - s4 * ln_tx,
                        r / alpha - s3 * rx / (alpha + h.t) - s4 * rx / (alpha + h.tx),
                        d12_a + s4 / a,
                        d12_b - s4 / (b + x - 1.0),
                    ],
                )
            }
            Variant::BgNbd => (
                a12 + a3,
                [d12_r - ln_t, r / alpha - rx / (alpha + h.t), d12_a, d12_b],
            ),
            Variant::MbgNbd => {
                let a4 = ln_a - (b + x).ln() + rx * (ln_t - ln_tx);
                let s4 = 1.0 / (1.0 + (-a4).exp());
                (
                    a12 + a3 + log_add_exp(a4, 0.0),
                    [
                        d12_r - ln_t + s4 * (ln_t - ln_tx),
                        r / alpha - rx / (alpha + h.t)
                            + s4 * rx * (1.0 / (alpha + h.t) - 1.0 / (alpha + h.tx)),
                        d12_a + s4 / a,
                        d12_b - s4 / (b + x),
                    ],
                )
            }
        };
        out.value += w * ll;
        for (sum, d) in out.gradient.iter_mut().zip(g) {
            *sum += w * d;
        }
        out.weight += w;
    }
    out
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
    // The negative mean log-likelihood plus the penalty, and its gradient by the log parameters
    // (d/d ln p = p d/dp).
    let objective = |v: &[f64]| {
        if v.iter().any(|x| x.abs() > 30.0) {
            return (f64::INFINITY, vec![f64::NAN; 4]);
        }
        let p = params(v);
        let ll = mean_log_likelihood(variant, p, &data);
        let values = [p.r, p.alpha, p.a, p.b];
        let penalty: f64 = values.iter().map(|q| q * q).sum();
        let gradient = values
            .iter()
            .zip(ll.gradient)
            .map(|(q, d)| q * (-d + 2.0 * penalizer * q))
            .collect();
        (-ll.value + penalizer * penalty, gradient)
    };
    // Start where `lifetimes` starts: every log parameter 0.1.
    let (best, _) = minimize_smooth(objective, vec![0.1; 4])?;
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
    fn the_likelihood_gradient_is_its_slope() {
        let data = grouped(&[
            History {
                x: 0.0,
                tx: 0.0,
                t: 38.9,
            },
            History {
                x: 2.0,
                tx: 30.4,
                t: 38.9,
            },
            History {
                x: 1.0,
                tx: 1.7,
                t: 12.0,
            },
            History {
                x: 7.0,
                tx: 35.0,
                t: 36.0,
            },
        ]);
        let at = [0.243, 4.414, 0.793, 2.426];
        let params = |v: [f64; 4]| Params {
            r: v[0],
            alpha: v[1],
            a: v[2],
            b: v[3],
        };
        for variant in [Variant::BgNbd, Variant::MbgNbd] {
            let gradient = mean_log_likelihood(variant, params(at), &data).gradient;
            for i in 0..4 {
                let h = 1e-6 * at[i];
                let (mut up, mut down) = (at, at);
                up[i] += h;
                down[i] -= h;
                let slope = (mean_log_likelihood(variant, params(up), &data).value
                    - mean_log_likelihood(variant, params(down), &data).value)
                    / (2.0 * h);
                assert!(
                    (gradient[i] - slope).abs() < 1e-6 * slope.abs().max(1.0),
                    "{variant:?} parameter {i}: {} vs {slope}",
                    gradient[i]
                );
            }
        }
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
