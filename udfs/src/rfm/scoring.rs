//! The RFM scoring rule, shared by the window and table forms of `rfm_score`.
//!
//! Scores come from quantile thresholds of the population: with `bins` = 5 the thresholds are the
//! 20th, 40th, 60th and 80th percentiles (linear interpolation between order statistics,
//! Hyndman & Fan (1996) type 7 — numpy's and pandas' default). A value's score is one more than
//! the number of thresholds strictly below it, so
//! - equal values always get the same score (unlike `ntile`, which splits ties across tiles);
//! - the lowest values score 1 and the highest `bins` (for F and M); for recency, where fewer
//!   days is better, the score is reversed so the most recent customers score `bins`;
//! - with many ties (most customers bought once) some scores can be unused — this is the
//!   honest answer, where `ntile` would invent differences between equal customers.
//!
//! This equals `1 + numpy.searchsorted(numpy.quantile(x, [j/bins ...]), x, side='left')`, and
//! `pandas.qcut(x, bins, labels=False) + 1` whenever the thresholds are distinct.

/// The inclusive range of `bins` the RFM functions accept (a cell is one digit per measure).
pub const MIN_BINS: i64 = 2;
pub const MAX_BINS: i64 = 9;
pub const DEFAULT_BINS: i64 = 5;

/// Quantile thresholds `Q(j/bins)` for `j = 1..bins` of `values`, which must be sorted ascending
/// and free of NaN. Returns an empty list for an empty population.
pub fn thresholds(sorted: &[f64], bins: usize) -> Vec<f64> {
    if sorted.is_empty() || bins < 2 {
        return Vec::new();
    }
    (1..bins)
        .map(|j| quantile_sorted(sorted, j as f64 / bins as f64))
        .collect()
}

/// Type-7 quantile of sorted data: `h = (n - 1) p`, interpolating between floor(h) and ceil(h).
fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    let h = (n - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let frac = h - lo as f64;
    sorted[lo] + frac * (sorted[hi] - sorted[lo])
}

/// Score of `x` where higher values are better: `1 + #{t : t < x}`.
pub fn score_higher_is_better(x: f64, thresholds: &[f64]) -> u8 {
    1 + thresholds.partition_point(|t| *t < x) as u8
}

/// Score of `x` where lower values are better (recency in days): `bins - #{t : t < x}`.
pub fn score_lower_is_better(x: f64, thresholds: &[f64]) -> u8 {
    (thresholds.len() + 1) as u8 - thresholds.partition_point(|t| *t < x) as u8
}

/// Sorted copy of the finite values of a population (NULLs are not part of it).
pub fn sorted_population(values: impl Iterator<Item = Option<f64>>) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.flatten().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_match_numpy_linear_quantiles() {
        // numpy.quantile([1, 2, 3, 4, 10], [0.2, 0.4, 0.6, 0.8]) = [1.8, 2.6, 3.4, 5.2]
        let t = thresholds(&[1.0, 2.0, 3.0, 4.0, 10.0], 5);
        let expected = [1.8, 2.6, 3.4, 5.2];
        for (a, b) in t.iter().zip(expected) {
            assert!(
                (a - b).abs() < 1e-12,
                "{t:?} vs {expected:?} (numpy reference)"
            );
        }
    }

    #[test]
    fn equal_values_get_equal_scores() {
        let values = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 5.0, 9.0];
        let t = thresholds(&values, 5);
        let scores: Vec<u8> = values
            .iter()
            .map(|v| score_higher_is_better(*v, &t))
            .collect();
        assert!(scores[..6].iter().all(|s| *s == scores[0]), "{scores:?}");
        assert_eq!(scores[0], 1);
        assert_eq!(*scores.last().unwrap(), 5);
    }

    #[test]
    fn recency_is_reversed() {
        let days = [1.0, 10.0, 30.0, 90.0, 365.0];
        let t = thresholds(&days, 5);
        assert_eq!(score_lower_is_better(1.0, &t), 5);
        assert_eq!(score_lower_is_better(365.0, &t), 1);
    }

    #[test]
    fn a_population_of_one_scores_lowest_and_empty_has_no_thresholds() {
        let t = thresholds(&[42.0], 5);
        assert_eq!(score_higher_is_better(42.0, &t), 1);
        assert_eq!(score_lower_is_better(42.0, &t), 5);
        assert!(thresholds(&[], 5).is_empty());
    }

    #[test]
    fn nulls_and_nan_are_not_in_the_population() {
        let sorted = sorted_population([Some(3.0), None, Some(f64::NAN), Some(1.0)].into_iter());
        assert_eq!(sorted, vec![1.0, 3.0]);
    }
}
