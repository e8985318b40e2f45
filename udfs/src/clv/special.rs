//! Special functions the customer-base models need: log-gamma (from `libm`), its derivative
//! digamma, log-sum-exp, and the Gauss hypergeometric function 2F1 on [0, 1).

/// ln Γ(x) for x > 0.
#[inline]
pub fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// The digamma function ψ(x) = d/dx ln Γ(x), for x > 0 (the gradients of the likelihoods).
/// `libm` has no digamma and `statrs`' would be a new dependency for one function: the usual
/// recurrence ψ(x) = ψ(x + 1) − 1/x up to x ≥ 10, then the asymptotic series (Abramowitz &
/// Stegun 6.3.18), good to about 1e-15 relative there.
pub fn digamma(mut x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 || x.is_infinite() {
        return f64::NAN;
    }
    let mut shift = 0.0;
    while x < 10.0 {
        shift -= 1.0 / x;
        x += 1.0;
    }
    let inv2 = 1.0 / (x * x);
    // Bernoulli terms B2k / (2k x^2k) for k = 1..6.
    let series = inv2
        * (1.0 / 12.0
            - inv2
                * (1.0 / 120.0
                    - inv2
                        * (1.0 / 252.0
                            - inv2
                                * (1.0 / 240.0 - inv2 * (1.0 / 132.0 - inv2 * 691.0 / 32760.0)))));
    shift + x.ln() - 0.5 / x - series
}

/// ln(e^a + e^b) without overflow.
#[inline]
pub fn log_add_exp(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// Most series terms summed before 2F1 gives up.
const MAX_TERMS: usize = 1_000_000;

/// The Gauss hypergeometric function 2F1(a, b; c; z) for 0 ≤ z < 1, by its power series
/// (Abramowitz & Stegun 15.1.1), summed until a term no longer changes the sum. `None` when
/// `c` is a non-positive integer or the series has not converged after a million terms
/// (z very close to 1). No crate on crates.io offers a maintained real 2F1; the BG/NBD only
/// needs it on [0, 1), where the series converges geometrically.
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Option<f64> {
    if !(0.0..1.0).contains(&z) || (c <= 0.0 && c.fract() == 0.0) {
        return None;
    }
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 0..MAX_TERMS {
        let n = n as f64;
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        sum += term;
        if term.abs() <= f64::EPSILON * sum.abs() * 0.5 && n > 2.0 {
            return sum.is_finite().then_some(sum);
        }
        if term == 0.0 {
            return Some(sum);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        ((a - b) / b).abs() < tol
    }

    #[test]
    fn hyp2f1_matches_closed_forms() {
        // 2F1(1, 1; 2; z) = -ln(1 - z) / z
        for z in [0.01, 0.3, 0.7, 0.95, 0.999] {
            let expect = -(1.0f64 - z).ln() / z;
            assert!(
                close(hyp2f1(1.0, 1.0, 2.0, z).unwrap(), expect, 1e-12),
                "z={z}"
            );
        }
        // 2F1(a, b; b; z) = (1 - z)^-a
        assert!(close(
            hyp2f1(2.5, 3.0, 3.0, 0.4).unwrap(),
            0.6f64.powf(-2.5),
            1e-12
        ));
        // scipy.special.hyp2f1(1.243, 3.426, 4.219, 0.25) = 1.3308669210501707
        assert!(close(
            hyp2f1(1.243, 3.426, 4.219, 0.25).unwrap(),
            1.3308669210501707,
            1e-12
        ));
        assert_eq!(hyp2f1(1.0, 1.0, 2.0, 0.0), Some(1.0));
        assert_eq!(hyp2f1(1.0, 1.0, -2.0, 0.5), None);
        assert_eq!(hyp2f1(1.0, 1.0, 2.0, 1.0), None);
    }

    #[test]
    fn digamma_matches_known_values_and_the_slope_of_ln_gamma() {
        // ψ(1) = −γ, ψ(1/2) = −γ − 2 ln 2, ψ(10) = H(9) − γ.
        let euler = 0.577_215_664_901_532_9;
        assert!(close(digamma(1.0), -euler, 1e-14));
        assert!(close(digamma(0.5), -euler - 2.0 * 2f64.ln(), 1e-14));
        let h9: f64 = (1..10).map(|k| 1.0 / k as f64).sum();
        assert!(close(digamma(10.0), h9 - euler, 1e-14));
        // mpmath.digamma(0.01) = -100.5608854578686...
        assert!(close(digamma(0.01), -100.560_885_457_868_67, 1e-13));
        for x in [0.03, 0.7, 2.5, 7.0, 43.2, 1e4] {
            let h = 1e-5 * x;
            let slope = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            assert!(close(digamma(x), slope, 1e-7), "x={x}");
        }
        assert!(digamma(0.0).is_nan() && digamma(-1.0).is_nan() && digamma(f64::NAN).is_nan());
    }

    #[test]
    fn ln_gamma_and_log_add_exp() {
        assert!(close(ln_gamma(5.0), 24f64.ln(), 1e-14));
        assert!(close(
            ln_gamma(0.5),
            std::f64::consts::PI.sqrt().ln(),
            1e-14
        ));
        assert!(close(
            log_add_exp(1000.0, 1000.0),
            1000.0 + 2f64.ln(),
            1e-15
        ));
        assert_eq!(
            log_add_exp(f64::NEG_INFINITY, f64::NEG_INFINITY),
            f64::NEG_INFINITY
        );
    }
}
