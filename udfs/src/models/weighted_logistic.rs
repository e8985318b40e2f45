//! L2-regularised logistic regression with per-row weights, for `class_weight=balanced`.
//!
//! Our own because `linfa-logistic` 0.8 fits without sample weights (its dataset weights are
//! ignored). The objective is scikit-learn's `LogisticRegression(C, class_weight)`:
//!
//! `C · Σᵢ wᵢ · [log(1 + e^{zᵢ}) − yᵢ zᵢ] + ½ ‖β‖²`, `zᵢ = β₀ + xᵢ·β`, intercept not penalised,
//!
//! minimised by argmin's L-BFGS with a Moré-Thuente line search (the solver linfa-logistic and
//! scikit-learn's default both use), so weighted and unweighted fits agree in everything but the
//! weights.

use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason, TerminationStatus};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use ndarray::{Array2, ArrayView1, Axis};

use crate::saved::model::sigmoid;

/// The weighted, penalised negative log-likelihood of a logistic model.
struct Problem<'a> {
    x: &'a Array2<f64>,
    y: &'a [bool],
    w: &'a [f64],
    c: f64,
}

impl Problem<'_> {
    /// `zᵢ` for every row, with `beta[0]` the intercept.
    fn linear(&self, beta: &[f64]) -> Vec<f64> {
        let coefs = ArrayView1::from(&beta[1..]);
        self.x
            .axis_iter(Axis(0))
            .map(|row| beta[0] + row.dot(&coefs))
            .collect()
    }
}

/// log(1 + eᶻ) without overflow.
fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

impl CostFunction for Problem<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, beta: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        // Each evaluation passes over every row: a stopped statement ends the fit here.
        crate::stop::checkpoint().map_err(|e| argmin::core::Error::msg(e.to_string()))?;
        let loss: f64 = self
            .linear(beta)
            .iter()
            .zip(self.y)
            .zip(self.w)
            .map(|((z, y), w)| w * (softplus(*z) - if *y { *z } else { 0.0 }))
            .sum();
        let penalty: f64 = beta[1..].iter().map(|b| b * b).sum::<f64>() / 2.0;
        Ok(self.c * loss + penalty)
    }
}

impl Gradient for Problem<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, beta: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        crate::stop::checkpoint().map_err(|e| argmin::core::Error::msg(e.to_string()))?;
        let mut g = vec![0.0; beta.len()];
        for ((row, z), (y, w)) in self
            .x
            .axis_iter(Axis(0))
            .zip(self.linear(beta))
            .zip(self.y.iter().zip(self.w))
        {
            let r = self.c * w * (sigmoid(z) - f64::from(u8::from(*y)));
            g[0] += r;
            for (gj, xj) in g[1..].iter_mut().zip(row) {
                *gj += r * xj;
            }
        }
        for (gj, bj) in g[1..].iter_mut().zip(&beta[1..]) {
            *gj += bj;
        }
        Ok(g)
    }
}

/// Fits the model; returns `(intercept, coefficients)`. `x` is already standardised if wanted.
pub fn fit(
    x: &Array2<f64>,
    y: &[bool],
    weights: &[f64],
    c: f64,
    max_iter: u64,
) -> Result<(f64, Vec<f64>), String> {
    let problem = Problem {
        x,
        y,
        w: weights,
        c,
    };
    let start = vec![0.0; x.ncols() + 1];
    // Tolerances relative to the cost at the start (C · Σw · ln 2), so they mean the same for
    // a hundred rows and a million.
    let scale = problem.cost(&start).map_err(|e| e.to_string())?.max(1.0);
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(1e-10 * scale)
        .and_then(|s| s.with_tolerance_cost(1e-14 * scale))
        .map_err(|e| e.to_string())?;
    let result = Executor::new(problem, solver)
        .configure(|s| s.param(start).max_iters(max_iter))
        .run()
        .map_err(|e| format!("logistic regression failed: {e}"))?;
    let state = result.state();
    if let TerminationStatus::Terminated(TerminationReason::MaxItersReached) =
        state.get_termination_status()
    {
        return Err(format!(
            "logistic regression did not converge in max_iter={max_iter} iterations; \
             raise max_iter or standardize the features"
        ));
    }
    let beta = state
        .get_best_param()
        .cloned()
        .ok_or("logistic regression found no parameters")?;
    if beta.iter().any(|b| !b.is_finite()) {
        return Err("logistic regression diverged (non-finite coefficients)".to_string());
    }
    Ok((beta[0], beta[1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With all weights 1 the weighted fit is the ordinary one: the gradient at its optimum
    /// vanishes, and doubling every weight equals doubling C.
    #[test]
    fn weights_scale_like_c_and_the_optimum_has_zero_gradient() {
        let x = Array2::from_shape_fn((40, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f64 - 5.0);
        let y: Vec<bool> = (0..40).map(|i| (i * 7 % 11) + (i % 3) > 6).collect();
        let ones = vec![1.0; 40];
        let twos = vec![2.0; 40];
        let (b0, b) = fit(&x, &y, &twos, 1.0, 200).unwrap();
        let (c0, c) = fit(&x, &y, &ones, 2.0, 200).unwrap();
        assert!((b0 - c0).abs() < 1e-6, "{b0} vs {c0}");
        for (p, q) in b.iter().zip(&c) {
            assert!((p - q).abs() < 1e-6, "{p} vs {q}");
        }
        let problem = Problem {
            x: &x,
            y: &y,
            w: &ones,
            c: 2.0,
        };
        let mut beta = vec![c0];
        beta.extend(c);
        let g = problem.gradient(&beta).unwrap();
        assert!(g.iter().all(|v| v.abs() < 1e-5), "{g:?}");
    }

    #[test]
    fn too_few_iterations_is_an_error_not_an_answer() {
        let x = Array2::from_shape_fn((40, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f64);
        let y: Vec<bool> = (0..40).map(|i| i % 3 == 0).collect();
        let err = fit(&x, &y, &vec![1.0; 40], 1.0, 1).unwrap_err();
        assert!(err.contains("did not converge"), "{err}");
    }
}
