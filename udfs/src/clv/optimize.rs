//! Maximum likelihood by `argmin`'s Nelder-Mead on log parameters (so every parameter stays
//! positive), restarted from its own best point until the optimum stops moving — the usual cure
//! for a simplex that collapsed early.

use argmin::core::{CostFunction, Error, Executor, State};
use argmin::solver::neldermead::NelderMead;
use rayon::prelude::*;

/// Items per parallel task of a likelihood.
const LIKELIHOOD_CHUNK: usize = 8192;

/// `part` of each run of [`LIKELIHOOD_CHUNK`] indices of `0..n`, computed in parallel and
/// returned in order: summed in that order they give the same value however the runs were
/// scheduled, so a fit is the same on every run.
pub fn chunk_parts<R: Send>(n: usize, part: impl Fn(std::ops::Range<usize>) -> R + Sync) -> Vec<R> {
    (0..n.div_ceil(LIKELIHOOD_CHUNK))
        .into_par_iter()
        .map(|k| part(k * LIKELIHOOD_CHUNK..((k + 1) * LIKELIHOOD_CHUNK).min(n)))
        .collect()
}

/// A negative mean log-likelihood over log parameters.
struct Objective<F: Fn(&[f64]) -> f64> {
    f: F,
}

impl<F: Fn(&[f64]) -> f64> CostFunction for Objective<F> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, log_params: &Self::Param) -> Result<f64, Error> {
        // Every evaluation passes over all customers: a stopped statement ends the fit here.
        crate::stop::checkpoint().map_err(|e| Error::msg(e.to_string()))?;
        let value = (self.f)(log_params);
        // A NaN would stall the simplex; an infinitely bad point is simply rejected.
        Ok(if value.is_nan() { f64::INFINITY } else { value })
    }
}

/// Minimises `f` over log parameters starting at `start`. Returns the best log parameters and
/// the value there, or why it failed.
pub fn minimize(f: impl Fn(&[f64]) -> f64, start: Vec<f64>) -> Result<(Vec<f64>, f64), String> {
    let objective = Objective { f };
    let mut best = start;
    let mut best_value = objective.cost(&best).map_err(|e| e.to_string())?;
    for _round in 0..8 {
        let mut simplex = vec![best.clone()];
        for i in 0..best.len() {
            let mut vertex = best.clone();
            vertex[i] += 0.5;
            simplex.push(vertex);
        }
        let solver = NelderMead::new(simplex)
            .with_sd_tolerance(1e-12)
            .map_err(|e| e.to_string())?;
        let result = Executor::new(
            Objective {
                f: &objective.f as &dyn Fn(&[f64]) -> f64,
            },
            solver,
        )
        .configure(|state| state.max_iters(4000))
        .run()
        .map_err(|e| e.to_string())?;
        let state = result.state();
        let Some(point) = state.get_best_param().cloned() else {
            return Err("the optimiser returned no point".to_string());
        };
        let value = state.get_best_cost();
        let settled = (best_value - value).abs() <= 1e-12 * value.abs().max(1.0);
        if value < best_value {
            best = point;
            best_value = value;
        }
        if settled {
            return if best_value.is_finite() {
                Ok((best, best_value))
            } else {
                Err("the likelihood is not finite anywhere the optimiser looked".to_string())
            };
        }
    }
    Err("the fit did not converge: the likelihood kept improving after 8 restarts".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_a_bowl() {
        let (p, v) = minimize(
            |x| (x[0] - 1.0).powi(2) + 3.0 * (x[1] + 2.0).powi(2) + 5.0,
            vec![0.0, 0.0],
        )
        .unwrap();
        assert!(
            (p[0] - 1.0).abs() < 1e-5 && (p[1] + 2.0).abs() < 1e-5,
            "{p:?}"
        );
        assert!((v - 5.0).abs() < 1e-10);
    }

    #[test]
    fn an_unbounded_objective_does_not_converge() {
        assert!(minimize(|x| x[0], vec![0.0]).is_err());
    }
}
