//! K-means on a feature matrix: standardisation, greedy k-means++ and Lloyd (`super::lloyd`) with
//! restarts, segment numbers ordered by size, distances, and the silhouette for choosing k.

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};

use super::lloyd::{LloydRun, kmeans_plusplus, lloyd};
use super::options::{ClusterOptions, Standardize};

/// Column-wise standardisation fitted on the data.
#[derive(Debug, Clone)]
pub struct Standardizer {
    pub center: Vec<f64>,
    pub scale: Vec<f64>,
}

impl Standardizer {
    /// Fits `how` on the columns of `data`. A constant column gets scale 1 (it then contributes
    /// nothing to distances after centring).
    pub fn fit(data: ArrayView2<f64>, how: Standardize) -> Self {
        let columns = data.ncols();
        let n = data.nrows().max(1) as f64;
        let mut center = vec![0.0; columns];
        let mut scale = vec![1.0; columns];
        for (j, column) in data.axis_iter(Axis(1)).enumerate() {
            match how {
                Standardize::None => {}
                Standardize::ZScore => {
                    let mean = column.sum() / n;
                    // Population standard deviation, as scikit-learn's StandardScaler.
                    let var = column.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
                    center[j] = mean;
                    scale[j] = if var > 0.0 { var.sqrt() } else { 1.0 };
                }
                Standardize::MinMax => {
                    let (lo, hi) = column
                        .iter()
                        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
                            (lo.min(*x), hi.max(*x))
                        });
                    center[j] = if lo.is_finite() { lo } else { 0.0 };
                    scale[j] = if hi > lo { hi - lo } else { 1.0 };
                }
            }
        }
        Self { center, scale }
    }

    pub fn transform(&self, data: ArrayView2<f64>) -> Array2<f64> {
        let mut out = data.to_owned();
        for (j, mut column) in out.axis_iter_mut(Axis(1)).enumerate() {
            let (c, s) = (self.center[j], self.scale[j]);
            column.mapv_inplace(|x| (x - c) / s);
        }
        out
    }

    /// Back to the original units.
    pub fn inverse(&self, data: ArrayView2<f64>) -> Array2<f64> {
        let mut out = data.to_owned();
        for (j, mut column) in out.axis_iter_mut(Axis(1)).enumerate() {
            let (c, s) = (self.center[j], self.scale[j]);
            column.mapv_inplace(|x| x * s + c);
        }
        out
    }
}

/// A fitted k-means model.
#[derive(Debug, Clone)]
pub struct KMeansFit {
    pub k: usize,
    pub standardizer: Standardizer,
    /// Centres in standardised units, row `s` for segment `s + 1`.
    pub centers: Array2<f64>,
    /// Segment of each row, 0-based; segment 0 is the largest.
    pub labels: Vec<usize>,
    /// Euclidean distance of each row to its centre, in standardised units.
    pub distances: Vec<f64>,
    pub sizes: Vec<usize>,
    /// Sum of squared distances to the nearest centre (standardised units), as scikit-learn's
    /// `inertia_`.
    pub inertia: f64,
}

impl KMeansFit {
    /// Centres in the original units of the features.
    pub fn centers_original(&self) -> Array2<f64> {
        self.standardizer.inverse(self.centers.view())
    }
}

fn squared_distance(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The mean of the rows of each cluster; a cluster without rows keeps its centre.
fn member_means(x: ArrayView2<f64>, labels: &[usize], mut centers: Array2<f64>) -> Array2<f64> {
    let mut sums = Array2::<f64>::zeros(centers.dim());
    let mut counts = vec![0usize; centers.nrows()];
    for (row, l) in x.axis_iter(Axis(0)).zip(labels) {
        let mut sum = sums.row_mut(*l);
        sum += &row;
        counts[*l] += 1;
    }
    for (c, count) in counts.iter().enumerate() {
        if *count > 0 {
            let mean = &sums.row(c) / *count as f64;
            centers.row_mut(c).assign(&mean);
        }
    }
    centers
}

/// Runs k-means on `data` (rows = observations) with `k` clusters.
pub fn fit(data: ArrayView2<f64>, k: usize, options: &ClusterOptions) -> Result<KMeansFit, String> {
    let n = data.nrows();
    if n == 0 {
        return Err("no rows to cluster".to_string());
    }
    if k < 1 || k > n {
        return Err(format!(
            "k must be between 1 and the number of rows ({n}), got {k}"
        ));
    }
    if data.iter().any(|x| !x.is_finite()) {
        return Err("features must be finite numbers".to_string());
    }
    let standardizer = Standardizer::fit(data, options.standardize);
    let x = standardizer.transform(data);
    let d = x.ncols();
    let x = x.as_standard_layout();
    let Some(rows) = x.as_slice() else {
        return Err("k-means needs the features as contiguous rows".to_string());
    };
    // scikit-learn stops when the squared centre shift is below tol × the mean feature variance.
    let mean_variance = x.var_axis(Axis(0), 0.0).mean().unwrap_or(1.0);
    let tolerance = options.tol * mean_variance;
    // Restart `r` is seeded with `seed + r`; the restart with the lowest inertia wins (the first
    // of equals).
    let mut best: Option<LloydRun> = None;
    for run in 0..options.n_init.max(1) {
        let mut rng = Xoshiro256Plus::seed_from_u64(options.seed.wrapping_add(run as u64));
        let start = kmeans_plusplus(rows, d, k, &mut rng);
        let result = lloyd(rows, d, start, options.max_iter, tolerance);
        crate::stop::checkpoint().map_err(|e| e.to_string())?;
        if best.as_ref().is_none_or(|b| result.inertia < b.inertia) {
            best = Some(result);
        }
    }
    let Some(best) = best else {
        return Err("k-means made no run".to_string());
    };
    let raw_labels = best.labels;
    let start = Array2::from_shape_vec((k, d), best.centers)
        .map_err(|e| format!("k-means centres: {e}"))?;
    // Report each centre as the mean of its rows (Lloyd stops on its tolerance one update
    // early, a little off the mean), and distances to those centres.
    let raw_centers = member_means(x.view(), &raw_labels, start);
    let sq: Vec<f64> = x
        .axis_iter(Axis(0))
        .zip(&raw_labels)
        .map(|(row, l)| squared_distance(row, raw_centers.row(*l)))
        .collect();
    let mut raw_sizes = vec![0usize; k];
    for l in &raw_labels {
        raw_sizes[*l] += 1;
    }
    // Stable numbering: largest segment first; equal sizes ordered by their centre's coordinates.
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| {
        raw_sizes[b].cmp(&raw_sizes[a]).then_with(|| {
            raw_centers
                .row(a)
                .iter()
                .zip(raw_centers.row(b).iter())
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    });
    let mut new_index = vec![0usize; k];
    for (new, old) in order.iter().enumerate() {
        new_index[*old] = new;
    }
    let mut centers = Array2::zeros((k, data.ncols()));
    for (new, old) in order.iter().enumerate() {
        centers.row_mut(new).assign(&raw_centers.row(*old));
    }
    let labels: Vec<usize> = raw_labels.iter().map(|l| new_index[*l]).collect();
    let sizes: Vec<usize> = order.iter().map(|old| raw_sizes[*old]).collect();
    Ok(KMeansFit {
        k,
        standardizer,
        centers,
        labels,
        distances: sq.iter().map(|d| d.sqrt()).collect(),
        sizes,
        inertia: sq.iter().sum(),
    })
}

/// Mean silhouette coefficient (Rousseeuw 1987, "Silhouettes: a graphical aid to the
/// interpretation and validation of cluster analysis") over at most `sample` rows drawn with
/// `seed`, in the standardised space of `fit`. Exact when the data has at most `sample` rows.
pub fn silhouette(data: ArrayView2<f64>, fit: &KMeansFit, sample: usize, seed: u64) -> f64 {
    let n = data.nrows();
    if fit.k < 2 || n < 2 {
        return f64::NAN;
    }
    let x = fit.standardizer.transform(data);
    let rows: Vec<usize> = if n <= sample {
        (0..n).collect()
    } else {
        // Partial Fisher-Yates with a seeded generator: a reproducible sample.
        let mut rng = Xoshiro256Plus::seed_from_u64(seed ^ 0x5117_0E77);
        let mut idx: Vec<usize> = (0..n).collect();
        for i in 0..sample {
            let j = i + (rng.next_u64() % (n - i) as u64) as usize;
            idx.swap(i, j);
        }
        idx.truncate(sample);
        idx
    };
    let k = fit.k;
    let mut total = 0.0;
    let mut counted = 0usize;
    for &i in &rows {
        if crate::stop::stopped() {
            // The caller's next checkpoint reports the stop.
            return f64::NAN;
        }
        let mut sums = vec![0.0f64; k];
        let mut counts = vec![0usize; k];
        for &j in &rows {
            if i == j {
                continue;
            }
            let d = squared_distance(x.row(i), x.row(j)).sqrt();
            sums[fit.labels[j]] += d;
            counts[fit.labels[j]] += 1;
        }
        let own = fit.labels[i];
        if counts[own] == 0 {
            // A singleton cluster has silhouette 0 by definition.
            counted += 1;
            continue;
        }
        let a = sums[own] / counts[own] as f64;
        let b = (0..k)
            .filter(|c| *c != own && counts[*c] > 0)
            .map(|c| sums[c] / counts[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() {
            let s = (b - a) / a.max(b);
            if s.is_finite() {
                total += s;
            }
        }
        counted += 1;
    }
    if counted == 0 {
        f64::NAN
    } else {
        total / counted as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn blobs() -> Array2<f64> {
        // Three well separated groups of different sizes.
        let mut rows = Vec::new();
        for i in 0..30 {
            rows.push([0.0 + (i % 5) as f64 * 0.01, 0.0 + (i % 3) as f64 * 0.01]);
        }
        for i in 0..20 {
            rows.push([10.0 + (i % 5) as f64 * 0.01, 10.0]);
        }
        for i in 0..10 {
            rows.push([0.0, 10.0 + (i % 2) as f64 * 0.01]);
        }
        Array2::from_shape_vec((60, 2), rows.into_iter().flatten().collect()).unwrap()
    }

    #[test]
    fn finds_the_groups_and_numbers_them_by_size() {
        let data = blobs();
        let fit = fit(data.view(), 3, &ClusterOptions::default()).unwrap();
        assert_eq!(fit.sizes, vec![30, 20, 10]);
        assert_eq!(fit.labels[0], 0);
        assert_eq!(fit.labels[35], 1);
        assert_eq!(fit.labels[55], 2);
        let centers = fit.centers_original();
        assert!((centers[[1, 0]] - 10.02).abs() < 0.01, "{centers:?}");
        assert!(silhouette(data.view(), &fit, 1000, 1) > 0.9);
    }

    #[test]
    fn same_seed_same_segments() {
        let data = blobs();
        let a = fit(data.view(), 3, &ClusterOptions::default()).unwrap();
        let b = fit(data.view(), 3, &ClusterOptions::default()).unwrap();
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.inertia, b.inertia);
    }

    #[test]
    fn bad_k_and_empty_input_are_errors() {
        let data = blobs();
        assert!(fit(data.view(), 0, &ClusterOptions::default()).is_err());
        assert!(fit(data.view(), 61, &ClusterOptions::default()).is_err());
        let empty = Array2::<f64>::zeros((0, 2));
        assert!(fit(empty.view(), 2, &ClusterOptions::default()).is_err());
    }

    #[test]
    fn constant_columns_do_not_break_standardisation() {
        let data = array![[1.0, 5.0], [2.0, 5.0], [3.0, 5.0], [10.0, 5.0]];
        let s = Standardizer::fit(data.view(), Standardize::ZScore);
        assert_eq!(s.scale[1], 1.0);
        let fit = fit(data.view(), 2, &ClusterOptions::default()).unwrap();
        assert_eq!(fit.sizes, vec![3, 1]);
    }
}

/// One k tried when choosing k.
#[derive(Debug, Clone, PartialEq)]
pub struct KTrial {
    pub k: usize,
    pub inertia: f64,
    pub silhouette: f64,
}

/// Fits k-means for every k in `k_min..=k_max` (capped at rows - 1) and returns the trials and
/// the fit with the best silhouette (ties: the smaller k).
pub fn fit_best_k(
    data: ArrayView2<f64>,
    options: &ClusterOptions,
) -> Result<(KMeansFit, Vec<KTrial>), String> {
    let n = data.nrows();
    if n < 3 {
        return Err(format!("choosing k needs at least 3 rows, got {n}"));
    }
    let k_max = options.k_max.min(n - 1);
    if k_max < options.k_min {
        return Err(format!(
            "k_min ({}) must be below the number of rows ({n})",
            options.k_min
        ));
    }
    let mut trials = Vec::new();
    let mut best: Option<(f64, KMeansFit)> = None;
    for k in options.k_min..=k_max {
        let fitted = fit(data, k, options)?;
        let s = silhouette(data, &fitted, options.silhouette_sample, options.seed);
        crate::stop::checkpoint().map_err(|e| e.to_string())?;
        trials.push(KTrial {
            k,
            inertia: fitted.inertia,
            silhouette: s,
        });
        let better = match &best {
            None => true,
            Some((best_s, _)) => s > *best_s || (best_s.is_nan() && !s.is_nan()),
        };
        if better {
            best = Some((s, fitted));
        }
    }
    match best {
        Some((_, fitted)) => Ok((fitted, trials)),
        None => Err("no k could be tried".to_string()),
    }
}
