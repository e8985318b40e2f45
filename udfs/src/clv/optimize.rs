//! Maximum likelihood on log parameters (so every parameter stays positive): `argmin`'s L-BFGS
//! where the likelihood's gradient is known ([`minimize_smooth`]), and its Nelder-Mead,
//! restarted from its own best point until the optimum stops moving — the usual cure for a
//! simplex that collapsed early — where it is not, or where L-BFGS does not reach a flat point.

use std::sync::Mutex;

use argmin::core::{CostFunction, Error, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::neldermead::NelderMead;
use argmin::solver::quasinewton::LBFGS;
use rayon::prelude::*;

/// L-BFGS stops when the gradient's length (of a mean log-likelihood) falls below this.
const GRADIENT_TOLERANCE: f64 = 1e-9;

/// A point L-BFGS ends at is taken when its gradient is at most this long and no log parameter
/// is beyond `INTERIOR` (the fits refuse points beyond it); otherwise Nelder-Mead fits anew.
const FLAT_ENOUGH: f64 = 1e-6;
const INTERIOR: f64 = 29.0;

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

/// Most questions (value or gradient) L-BFGS may ask before Nelder-Mead takes over: its line
/// search has no limit of its own and can circle where the likelihood is infinite.
const MAX_SMOOTH_EVALUATIONS: usize = 2000;

/// An objective's value and gradient at a point.
type ValueAndGradient<'a> = &'a (dyn Fn(&[f64]) -> (f64, Vec<f64>) + Sync);

/// A point with the objective's value and gradient there.
type Evaluated = (Vec<f64>, f64, Vec<f64>);

/// A smooth objective for L-BFGS: value and gradient come from one pass over the customers,
/// so the last point's pair is kept for the line search's separate questions.
struct Smooth<'a> {
    f: ValueAndGradient<'a>,
    last: Mutex<Option<Evaluated>>,
    evaluations: std::sync::atomic::AtomicUsize,
}

impl Smooth<'_> {
    fn at(&self, point: &[f64]) -> Result<(f64, Vec<f64>), Error> {
        let asked = self
            .evaluations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if asked >= MAX_SMOOTH_EVALUATIONS {
            return Err(Error::msg("L-BFGS used up its evaluations"));
        }
        if !point.iter().all(|v| v.is_finite()) {
            return Err(Error::msg("L-BFGS left the finite numbers"));
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((p, value, gradient)) = last.as_ref()
            && p.as_slice() == point
        {
            return Ok((*value, gradient.clone()));
        }
        crate::stop::checkpoint().map_err(|e| Error::msg(e.to_string()))?;
        let (value, gradient) = (self.f)(point);
        let value = if value.is_nan() { f64::INFINITY } else { value };
        *last = Some((point.to_vec(), value, gradient.clone()));
        Ok((value, gradient))
    }
}

impl CostFunction for Smooth<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, point: &Self::Param) -> Result<f64, Error> {
        Ok(self.at(point)?.0)
    }
}

impl Gradient for Smooth<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, point: &Self::Param) -> Result<Vec<f64>, Error> {
        Ok(self.at(point)?.1)
    }
}

/// Minimises `f` (value and gradient over log parameters) from `start` by L-BFGS, or by
/// [`minimize`] from `start` if L-BFGS ends anywhere but at a flat interior point (a failed line
/// search, a wall of infinite values, a likelihood still rising towards infinite parameters).
/// A fit this way needs a few dozen passes over the customers where Nelder-Mead needs hundreds.
pub fn minimize_smooth(
    f: impl Fn(&[f64]) -> (f64, Vec<f64>) + Sync,
    start: Vec<f64>,
) -> Result<(Vec<f64>, f64), String> {
    let problem = Smooth {
        f: &f,
        last: Mutex::new(None),
        evaluations: 0.into(),
    };
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 7)
        .with_tolerance_grad(GRADIENT_TOLERANCE)
        .map_err(|e| e.to_string())?;
    let ended = Executor::new(problem, solver)
        .configure(|state| state.param(start.clone()).max_iters(500))
        .run();
    crate::stop::checkpoint().map_err(|e| e.to_string())?;
    if let Ok(mut result) = ended
        && let Some(best) = result.state().get_best_param().cloned()
        && best.iter().all(|v| v.abs() <= INTERIOR)
    {
        // The best point is usually the last one evaluated: no pass over the customers again.
        let last = result
            .problem
            .take_problem()
            .and_then(|problem| problem.last.into_inner().ok().flatten())
            .filter(|(point, ..)| *point == best);
        let (value, gradient) = match last {
            Some((_, value, gradient)) => (value, gradient),
            None => f(&best),
        };
        let length = gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
        if value.is_finite() && length <= FLAT_ENOUGH {
            return Ok((best, value));
        }
    }
    // Where the likelihood only flattens towards infinite parameters (a few customers whose
    // histories do not identify the model), L-BFGS follows it to the wall, while the simplex
    // stops once its corners are equally good: the answer the fits have always given there.
    minimize(|v| f(v).0, start)
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
    fn the_gradient_fit_finds_the_minimum_and_falls_back_where_it_cannot() {
        // Rosenbrock's valley: curved, badly scaled.
        let rosenbrock = |x: &[f64]| {
            let (a, b) = (x[0], x[1]);
            (
                (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2),
                vec![
                    -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
                    200.0 * (b - a * a),
                ],
            )
        };
        let (p, v) = minimize_smooth(rosenbrock, vec![-1.2, 1.0]).unwrap();
        assert!(
            (p[0] - 1.0).abs() < 1e-6 && (p[1] - 1.0).abs() < 1e-6,
            "{p:?}"
        );
        assert!(v < 1e-12);
        // A wrong gradient sends the line search astray; Nelder-Mead still finds the bowl's floor.
        // (So does a minimum beyond the interior, which L-BFGS would reach first.)
        let lying = |x: &[f64]| ((x[0] - 3.0).powi(2) + 1.0, vec![1.0]);
        let (p, v) = minimize_smooth(lying, vec![0.0]).unwrap();
        assert!(
            (p[0] - 3.0).abs() < 1e-5 && (v - 1.0).abs() < 1e-10,
            "{p:?}"
        );
        assert!(minimize_smooth(|x| (x[0], vec![1.0]), vec![0.0]).is_err());
        let far = |x: &[f64]| ((x[0] - 35.0).powi(2), vec![2.0 * (x[0] - 35.0)]);
        let (p, _) = minimize_smooth(far, vec![0.0]).unwrap();
        assert!((p[0] - 35.0).abs() < 1e-4, "{p:?}");
    }

    #[test]
    fn an_unbounded_objective_does_not_converge() {
        assert!(minimize(|x| x[0], vec![0.0]).is_err());
    }
}
