//! The Gamma-Gamma model of spend per transaction (Fader & Hardie 2013, "The Gamma-Gamma Model
//! of Monetary Value"; Colombo & Jiang 1999): maximum-likelihood fit over repeat buyers and the
//! conditional expected average transaction value, as in the `lifetimes` package.

use std::collections::HashMap;

use super::optimize::{chunk_parts, minimize_smooth};
use super::special::{digamma, ln_gamma};

/// A repeat buyer: `x` repeat transactions with mean value `m`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spend {
    pub x: f64,
    pub m: f64,
}

/// Fitted parameters: transaction values are Gamma(p, ν) with ν ~ Gamma(q, γ).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
}

impl Params {
    /// Mean transaction value of the population, γp / (q − 1).
    pub fn population_mean(&self) -> f64 {
        self.gamma * self.p / (self.q - 1.0)
    }
}

/// Fits the model on repeat buyers (x ≥ 1, m > 0). Refuses a fit with q ≤ 1, where the model's
/// mean spend is infinite (the conditional expectation would come out negative).
pub fn fit(buyers: &[Spend], penalizer: f64) -> Result<Params, String> {
    for s in buyers {
        if !(s.x >= 1.0 && s.m > 0.0 && s.m.is_finite()) {
            return Err(format!(
                "the spend model needs repeat buyers with a positive mean value, got frequency {} and value {}",
                s.x, s.m
            ));
        }
    }
    if buyers.len() < 2 {
        return Err(format!(
            "the spend model needs at least 2 repeat buyers with a positive value, got {}",
            buyers.len()
        ));
    }
    let mut weights: HashMap<[u64; 2], (Spend, f64)> = HashMap::new();
    for s in buyers {
        weights
            .entry([s.x.to_bits(), s.m.to_bits()])
            .or_insert((*s, 0.0))
            .1 += 1.0;
    }
    let mut data: Vec<(Spend, f64)> = weights.into_values().collect();
    data.sort_by(|(a, _), (b, _)| a.x.total_cmp(&b.x).then(a.m.total_cmp(&b.m)));
    // ln m and ln x do not depend on the parameters.
    let logs: Vec<(f64, f64)> = data.iter().map(|(s, _)| (s.x.ln(), s.m.ln())).collect();
    let total_weight: f64 = data.iter().map(|(_, w)| w).sum();
    // The negative mean log-likelihood plus the penalty, and its gradient by the log parameters.
    let objective = |v: &[f64]| {
        if v.iter().any(|x| x.abs() > 30.0) {
            return (f64::INFINITY, vec![f64::NAN; 3]);
        }
        let params = [v[0].exp(), v[1].exp(), v[2].exp()];
        let [sum, dp, dq, dg] = chunk_parts(data.len(), |run| {
            log_likelihood(params, &data[run.clone()], &logs[run])
        })
        .iter()
        .fold([0.0; 4], |mut sum, part| {
            for (s, p) in sum.iter_mut().zip(part) {
                *s += p;
            }
            sum
        });
        let penalty: f64 = params.iter().map(|p| p * p).sum();
        let gradient = params
            .iter()
            .zip([dp, dq, dg])
            .map(|(p, d)| p * (-d / total_weight + 2.0 * penalizer * p))
            .collect();
        (-sum / total_weight + penalizer * penalty, gradient)
    };
    let (best, _) = minimize_smooth(objective, vec![0.1; 3])?;
    if best.iter().any(|x| x.abs() > 29.0) {
        return Err(
            "the spend model ran off to an extreme: the values do not identify it".to_string(),
        );
    }
    let params = Params {
        p: best[0].exp(),
        q: best[1].exp(),
        gamma: best[2].exp(),
    };
    if params.q <= 1.0 {
        return Err(format!(
            "the spend model fits q = {:.4} <= 1, for which the mean transaction value is \
             infinite (a few very large values?): no expected value can be given; remove \
             outliers or cap the amounts",
            params.q
        ));
    }
    Ok(params)
}

/// The weighted log-likelihood of a run of buyers and its derivatives by p, q and γ (Fader &
/// Hardie 2013, eq. 3; lifetimes' `GammaGammaFitter._negative_log_likelihood`):
/// ℓ = lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q ln γ + (px−1) ln m + px ln x − (px+q) ln(xm+γ).
fn log_likelihood([p, q, g]: [f64; 3], data: &[(Spend, f64)], logs: &[(f64, f64)]) -> [f64; 4] {
    let (ln_g, ln_gamma_q, digamma_q) = (g.ln(), ln_gamma(q), digamma(q));
    let mut out = [0.0; 4];
    // Terms that depend on x only, cached for runs of equal x (the data is sorted by x).
    let mut cached_x = f64::NAN;
    let (mut gammas, mut psi_pxq, mut psi_px) = (0.0, 0.0, 0.0);
    for ((s, w), (ln_x, ln_m)) in data.iter().zip(logs) {
        let px = p * s.x;
        if s.x != cached_x {
            cached_x = s.x;
            gammas = ln_gamma(px + q) - ln_gamma(px) - ln_gamma_q;
            psi_pxq = digamma(px + q);
            psi_px = digamma(px);
        }
        let spent = s.x * s.m + g;
        let ln_spent = spent.ln();
        let ll = gammas + q * ln_g + (px - 1.0) * ln_m + px * ln_x - (px + q) * ln_spent;
        out[0] += w * ll;
        out[1] += w * s.x * (psi_pxq - psi_px + ln_m + ln_x - ln_spent);
        out[2] += w * (psi_pxq - digamma_q + ln_g - ln_spent);
        out[3] += w * (q / g - (px + q) / spent);
    }
    out
}

/// Expected mean transaction value of a customer with `x` repeat transactions of mean `m`: a
/// weighted mean of the population mean and the customer's own mean. A customer without repeat
/// transactions (or without a positive mean) gets the population mean.
pub fn expected_value(p: Params, x: f64, m: Option<f64>) -> f64 {
    match m {
        Some(m) if x > 0.0 && m > 0.0 => {
            let w = p.p * x / (p.p * x + p.q - 1.0);
            (1.0 - w) * p.population_mean() + w * m
        }
        _ => p.population_mean(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_it_cannot_fit() {
        assert!(fit(&[], 0.0).is_err());
        assert!(fit(&[Spend { x: 1.0, m: 10.0 }], 0.0).is_err());
        assert!(fit(&[Spend { x: 1.0, m: -1.0 }, Spend { x: 2.0, m: 3.0 }], 0.0).is_err());
        assert!(fit(&[Spend { x: 0.0, m: 1.0 }, Spend { x: 2.0, m: 3.0 }], 0.0).is_err());
    }

    #[test]
    fn the_likelihood_gradient_is_its_slope() {
        let data = [
            (Spend { x: 1.0, m: 12.5 }, 2.0),
            (Spend { x: 3.0, m: 40.0 }, 1.0),
            (Spend { x: 3.0, m: 7.25 }, 1.0),
            (Spend { x: 9.0, m: 22.0 }, 3.0),
        ];
        let logs: Vec<(f64, f64)> = data.iter().map(|(s, _)| (s.x.ln(), s.m.ln())).collect();
        let at = [6.25, 3.74, 15.44];
        let gradient = log_likelihood(at, &data, &logs);
        for i in 0..3 {
            let h = 1e-6 * at[i];
            let (mut up, mut down) = (at, at);
            up[i] += h;
            down[i] -= h;
            let slope = (log_likelihood(up, &data, &logs)[0]
                - log_likelihood(down, &data, &logs)[0])
                / (2.0 * h);
            assert!(
                (gradient[i + 1] - slope).abs() < 1e-6 * slope.abs().max(1.0),
                "parameter {i}: {} vs {slope}",
                gradient[i + 1]
            );
        }
    }

    #[test]
    fn expected_value_shrinks_towards_the_population() {
        let p = Params {
            p: 6.25,
            q: 3.74,
            gamma: 15.44,
        };
        let pop = p.population_mean();
        assert_eq!(expected_value(p, 0.0, None), pop);
        let one = expected_value(p, 1.0, Some(100.0));
        let many = expected_value(p, 20.0, Some(100.0));
        assert!(pop < one && one < many && many < 100.0);
    }
}
