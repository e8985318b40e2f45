//! Options of the clustering functions, given as one text argument:
//! `'seed=7, n_init=10, max_iter=300, tol=1e-4, standardize=zscore'`.

/// How features are scaled before clustering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standardize {
    /// z-score: subtract the mean, divide by the (population) standard deviation. Default,
    /// because spend and order counts differ by orders of magnitude.
    ZScore,
    /// Scale each feature to [0, 1].
    MinMax,
    /// Use the features as they are.
    None,
}

/// Options shared by the k-means and DBSCAN functions.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterOptions {
    pub standardize: Standardize,
    /// Restarts from different k-means++ seeds; the run with the lowest inertia wins.
    pub n_init: usize,
    pub max_iter: u64,
    /// Relative tolerance, as scikit-learn's: stop when the squared centre shift is below
    /// `tol` × the mean variance of the (standardised) features.
    pub tol: f64,
    pub seed: u64,
    /// Rows used to compute silhouettes (sampled with `seed` beyond this).
    pub silhouette_sample: usize,
    /// Range of k tried by `k => 'auto'`.
    pub k_min: usize,
    pub k_max: usize,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            standardize: Standardize::ZScore,
            n_init: 10,
            max_iter: 300,
            tol: 1e-4,
            seed: 42,
            silhouette_sample: 2000,
            k_min: 2,
            k_max: 10,
        }
    }
}

pub const OPTION_NAMES: &str = "standardize (zscore|minmax|none), n_init, max_iter, tol, seed, silhouette_sample, k_min, k_max";

impl ClusterOptions {
    /// Parses `key=value` pairs separated by commas or spaces.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut options = Self::default();
        for (key, value) in crate::key_values(text, OPTION_NAMES)? {
            let number = |what: &str| -> Result<u64, String> {
                value.parse::<u64>().map_err(|_| {
                    format!("option {what} must be a non-negative integer, got '{value}'")
                })
            };
            match key.as_str() {
                "standardize" | "standardise" | "scale" => {
                    options.standardize = match value.to_ascii_lowercase().as_str() {
                        "zscore" | "z" | "standard" => Standardize::ZScore,
                        "minmax" => Standardize::MinMax,
                        "none" | "off" | "false" => Standardize::None,
                        other => {
                            return Err(format!(
                                "option standardize must be zscore, minmax or none, got '{other}'"
                            ));
                        }
                    }
                }
                "n_init" | "restarts" => options.n_init = number("n_init")? as usize,
                "max_iter" => options.max_iter = number("max_iter")?,
                "seed" => options.seed = number("seed")?,
                "silhouette_sample" => {
                    options.silhouette_sample = number("silhouette_sample")? as usize
                }
                "k_min" => options.k_min = number("k_min")? as usize,
                "k_max" => options.k_max = number("k_max")? as usize,
                "tol" => {
                    options.tol = value
                        .parse::<f64>()
                        .ok()
                        .filter(|t| t.is_finite() && *t >= 0.0)
                        .ok_or_else(|| {
                            format!("option tol must be a non-negative number, got '{value}'")
                        })?
                }
                other => {
                    return Err(format!(
                        "unknown option '{other}' (options: {OPTION_NAMES})"
                    ));
                }
            }
        }
        if options.n_init == 0 {
            return Err("option n_init must be at least 1".to_string());
        }
        if options.max_iter == 0 {
            return Err("option max_iter must be at least 1".to_string());
        }
        if options.silhouette_sample < 2 {
            return Err("option silhouette_sample must be at least 2".to_string());
        }
        if options.k_min < 2 || options.k_max < options.k_min || options.k_max > 50 {
            return Err(format!(
                "options k_min and k_max must satisfy 2 <= k_min <= k_max <= 50, got {} and {}",
                options.k_min, options.k_max
            ));
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(
            ClusterOptions::parse("").unwrap(),
            ClusterOptions::default()
        );
        let o = ClusterOptions::parse("seed=7, n_init=3 tol=1e-6;standardize=none").unwrap();
        assert_eq!(
            (o.seed, o.n_init, o.tol, o.standardize),
            (7, 3, 1e-6, Standardize::None)
        );
    }

    #[test]
    fn bad_options_are_named() {
        assert!(
            ClusterOptions::parse("seeds=1")
                .unwrap_err()
                .contains("unknown option 'seeds'")
        );
        assert!(
            ClusterOptions::parse("n_init=0")
                .unwrap_err()
                .contains("n_init")
        );
        assert!(ClusterOptions::parse("tol=-1").unwrap_err().contains("tol"));
        assert!(
            ClusterOptions::parse("seed")
                .unwrap_err()
                .contains("key=value")
        );
        assert!(
            ClusterOptions::parse("k_min=5,k_max=3")
                .unwrap_err()
                .contains("k_min")
        );
    }
}
