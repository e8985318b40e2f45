//! DBSCAN (Ester, Kriegel, Sander & Xu 1996, "A density-based algorithm for discovering
//! clusters in large spatial databases with noise"), step for step as `linfa-clustering` 0.8's
//! `Dbscan` does it — the same k-d tree (`linfa-nn`), the same visiting order, so the same
//! memberships — with one difference that is why it is ours: the loop checks its statement
//! between neighbourhood searches. An eps that puts most rows within reach of each other makes
//! DBSCAN quadratic; linfa's loop cannot be stopped, ours ends within one search of a
//! cancel.

use std::collections::VecDeque;

use linfa_nn::distance::L2Dist;
use linfa_nn::{CommonNearestNeighbour, NearestNeighbour, NearestNeighbourIndex};
use ndarray::ArrayView2;

/// The cluster of each row (numbered in the order clusters are found), `None` for noise. A row
/// is a core point when at least `min_points` rows (itself included) lie within `eps` of it.
pub fn dbscan(
    x: ArrayView2<'_, f64>,
    eps: f64,
    min_points: usize,
) -> Result<Vec<Option<usize>>, String> {
    let n = x.nrows();
    let mut memberships: Vec<Option<usize>> = vec![None; n];
    if n == 0 || x.ncols() == 0 {
        return Ok(memberships);
    }
    let index = CommonNearestNeighbour::KdTree
        .from_batch(&x, L2Dist)
        .map_err(|e| format!("cannot index the rows: {e}"))?;
    // One search can return every row (a wide eps): look at the statement before each.
    let neighbours_of = |row: usize, memberships: &[Option<usize>]| {
        crate::stop::checkpoint().map_err(|e| e.to_string())?;
        neighbours(index.as_ref(), x, row, eps, memberships)
    };
    let mut found = vec![false; n];
    let mut queue = VecDeque::new();
    let mut cluster = 0;
    for i in 0..n {
        if memberships[i].is_some() {
            continue;
        }
        let (count, near) = neighbours_of(i, &memberships)?;
        if count < min_points {
            continue;
        }
        for &j in &near {
            found[j] = true;
        }
        queue.extend(near);
        memberships[i] = Some(cluster);
        while let Some(candidate) = queue.pop_front() {
            found[candidate] = false;
            let (count, near) = neighbours_of(candidate, &memberships)?;
            memberships[candidate] = Some(cluster);
            if count >= min_points {
                for j in near {
                    if !found[j] {
                        queue.push_back(j);
                        found[j] = true;
                    }
                }
            }
        }
        cluster += 1;
    }
    Ok(memberships)
}

/// How many rows lie within `eps` of `row` (itself included), and those of them not yet in a
/// cluster (itself excluded).
fn neighbours(
    index: &dyn NearestNeighbourIndex<f64>,
    x: ArrayView2<'_, f64>,
    row: usize,
    eps: f64,
    memberships: &[Option<usize>],
) -> Result<(usize, Vec<usize>), String> {
    let within = index
        .within_range(x.row(row), eps)
        .map_err(|e| format!("neighbourhood search failed: {e}"))?;
    let count = within.len();
    let open = within
        .into_iter()
        .map(|(_, j)| j)
        .filter(|&j| j != row && memberships[j].is_none())
        .collect();
    Ok((count, open))
}

#[cfg(test)]
mod tests {
    use super::*;
    use linfa::ParamGuard;
    use linfa::traits::Transformer;
    use linfa_clustering::Dbscan;
    use ndarray::Array2;
    use rand_xoshiro::Xoshiro256Plus;
    use rand_xoshiro::rand_core::{RngCore, SeedableRng};

    /// Three blobs and scattered noise, seeded.
    fn rows(n: usize, seed: u64) -> Array2<f64> {
        let mut rng = Xoshiro256Plus::seed_from_u64(seed);
        let mut uniform = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        Array2::from_shape_fn((n, 2), |(i, _)| {
            let centre = [0.0, 5.0, 10.0][i % 3];
            if i % 10 == 0 {
                uniform() * 14.0 - 2.0
            } else {
                centre + uniform()
            }
        })
    }

    #[test]
    fn the_same_memberships_as_linfa() {
        for (seed, eps, min_points) in [(1, 0.3, 4), (2, 0.5, 10), (3, 0.1, 3), (4, 2.0, 5)] {
            let x = rows(3000, seed);
            let ours = dbscan(x.view(), eps, min_points).expect("dbscan");
            let linfa = Dbscan::params(min_points)
                .tolerance(eps)
                .check()
                .expect("params")
                .transform(&x);
            assert_eq!(ours, linfa.to_vec(), "seed {seed}, eps {eps}");
            assert!(ours.iter().any(|m| m.is_some()), "clusters found");
        }
    }

    #[test]
    fn empty_input_is_no_clusters() {
        let x = Array2::<f64>::zeros((0, 2));
        assert!(dbscan(x.view(), 0.5, 3).expect("empty").is_empty());
    }

    #[test]
    fn a_stopped_statement_ends_the_search() {
        let x = rows(5000, 9);
        let token = crate::stop::StopToken::new();
        let _scope = crate::stop::enter(&token);
        token.stop(crate::stop::StopReason::Cancelled);
        let err = dbscan(x.view(), 100.0, 3).expect_err("stopped");
        assert!(err.contains("canceling statement"), "{err}");
    }
}
