//! Training: labelled rows from a query, a logistic regression (`linfa-logistic`) or a decision
//! tree (`linfa-trees`), and the metrics of the result on the training rows.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, SchemaRef};
use linfa::DatasetBase;
use linfa::prelude::Fit;
use linfa_logistic::LogisticRegression;
use linfa_trees::{DecisionTree, TreeNode};
use ndarray::{Array1, Array2, Axis};

use super::metrics::binary_metrics;
use crate::saved::model::{Kind, Model, Node, Params};
use crate::segment::kmeans_core::Standardizer;
use crate::segment::options::Standardize;

/// Which column is the label: the one named `label`, else the last.
pub fn label_index(schema: &SchemaRef) -> usize {
    schema
        .fields()
        .iter()
        .position(|f| f.name().eq_ignore_ascii_case("label"))
        .unwrap_or(schema.fields().len().saturating_sub(1))
}

/// Checks the column types of a labelled query: numeric (or boolean) features and a label.
pub fn check_columns(schema: &SchemaRef, labelled: bool) -> Result<(), String> {
    let label = if labelled {
        Some(label_index(schema))
    } else {
        None
    };
    let features = schema.fields().len() - usize::from(labelled);
    if features == 0 {
        return Err("the query must return at least one feature column".to_string());
    }
    for (i, f) in schema.fields().iter().enumerate() {
        let t = f.data_type();
        if !(t.is_numeric() || t == &DataType::Boolean || t == &DataType::Null) {
            let what = if Some(i) == label {
                "the label"
            } else {
                "a feature"
            };
            return Err(format!(
                "column {} ({what}) must be a number, got {t}",
                f.name()
            ));
        }
    }
    Ok(())
}

/// Complete rows of a query: features (in column order, label left out) and 0/1 labels.
pub struct Rows {
    pub features: Vec<String>,
    pub x: Array2<f64>,
    pub y: Vec<bool>,
    /// Rows left out because a feature or the label was NULL (or not finite).
    pub skipped: usize,
}

/// Reads labelled (or, with `labelled` false, unlabelled) rows.
pub fn read_rows(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    labelled: bool,
) -> Result<Rows, String> {
    let label = labelled.then(|| label_index(schema));
    let feature_cols: Vec<usize> = (0..schema.fields().len())
        .filter(|i| Some(*i) != label)
        .collect();
    let features: Vec<String> = feature_cols
        .iter()
        .map(|i| schema.field(*i).name().clone())
        .collect();
    let mut values = Vec::new();
    let mut y = Vec::new();
    let mut skipped = 0;
    for batch in batches {
        let columns = (0..batch.num_columns())
            .map(|i| cast(batch.column(i), &DataType::Float64).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        let columns: Vec<_> = columns
            .iter()
            .map(|c| c.as_primitive::<Float64Type>().clone())
            .collect();
        'rows: for r in 0..batch.num_rows() {
            let label_value = match label {
                Some(l) => {
                    let c = &columns[l];
                    if c.is_null(r) {
                        skipped += 1;
                        continue;
                    }
                    let v = c.value(r);
                    if v == 0.0 {
                        Some(false)
                    } else if v == 1.0 {
                        Some(true)
                    } else {
                        return Err(format!(
                            "the label ({}) must be 0 or 1 (or a boolean), got {v}",
                            schema.field(l).name()
                        ));
                    }
                }
                None => None,
            };
            let start = values.len();
            for i in &feature_cols {
                let c = &columns[*i];
                if c.is_null(r) || !c.value(r).is_finite() {
                    values.truncate(start);
                    skipped += 1;
                    continue 'rows;
                }
                values.push(c.value(r));
            }
            if let Some(l) = label_value {
                y.push(l);
            }
        }
    }
    let n = values.len() / features.len().max(1);
    let x = Array2::from_shape_vec((n, features.len()), values).map_err(|e| e.to_string())?;
    Ok(Rows {
        features,
        x,
        y,
        skipped,
    })
}

/// Training options: `standardize=zscore|none, c=1.0, max_iter=100, max_depth=5,
/// min_leaf=1, class_weight=none|balanced, threshold=0.5`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    pub standardize: bool,
    pub c: f64,
    pub max_iter: u64,
    pub max_depth: usize,
    pub min_leaf: f32,
    pub balanced: bool,
    pub threshold: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            standardize: true,
            c: 1.0,
            max_iter: 100,
            max_depth: 5,
            min_leaf: 1.0,
            balanced: false,
            threshold: 0.5,
        }
    }
}

const OPTION_NAMES: &str = "standardize (zscore|none), c, max_iter, max_depth, min_leaf, class_weight (none|balanced), threshold";

impl TrainOptions {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut o = Self::default();
        for (key, value) in crate::key_values(text, OPTION_NAMES)? {
            let number = || -> Result<f64, String> {
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .ok_or_else(|| format!("option {key} must be greater than 0, got '{value}'"))
            };
            match key.as_str() {
                "standardize" | "standardise" => {
                    o.standardize = match value.to_ascii_lowercase().as_str() {
                        "zscore" | "true" | "on" => true,
                        "none" | "false" | "off" => false,
                        other => {
                            return Err(format!(
                                "option standardize must be zscore or none, got '{other}'"
                            ));
                        }
                    }
                }
                "c" => o.c = number()?,
                "max_iter" => o.max_iter = number()? as u64,
                "max_depth" => o.max_depth = number()? as usize,
                "min_leaf" => o.min_leaf = number()? as f32,
                "threshold" => {
                    o.threshold = value
                        .parse::<f64>()
                        .ok()
                        .filter(|t| (0.0..=1.0).contains(t))
                        .ok_or_else(|| {
                            format!("option threshold must be between 0 and 1, got '{value}'")
                        })?
                }
                "class_weight" => {
                    o.balanced = match value.to_ascii_lowercase().as_str() {
                        "balanced" => true,
                        "none" => false,
                        other => {
                            return Err(format!(
                                "option class_weight must be none or balanced, got '{other}'"
                            ));
                        }
                    };
                }
                other => {
                    return Err(format!(
                        "unknown option '{other}' (options: {OPTION_NAMES})"
                    ));
                }
            }
        }
        Ok(o)
    }
}

/// Trains a model of `kind` on `rows`.
pub fn train(
    name: &str,
    kind: Kind,
    rows: &Rows,
    options: &TrainOptions,
    options_text: &str,
    trained_at: i64,
) -> Result<Model, String> {
    let n = rows.x.nrows();
    let positives = rows.y.iter().filter(|l| **l).count();
    if n < 2 || positives == 0 || positives == n {
        return Err(format!(
            "training needs rows of both classes; got {n} complete row(s), {positives} with label 1"
        ));
    }
    let params = match kind {
        Kind::Clv => {
            return Err("clv models are fitted by clv(..., 'save=NAME'), not trained".to_string());
        }
        Kind::Logistic => {
            let how = if options.standardize {
                Standardize::ZScore
            } else {
                Standardize::None
            };
            let s = Standardizer::fit(rows.x.view(), how);
            let x = s.transform(rows.x.view());
            let (intercept, coefficients) = if options.balanced {
                let weights = balanced_weights(&rows.y, positives);
                super::weighted_logistic::fit(&x, &rows.y, &weights, options.c, options.max_iter)?
            } else {
                let y: Array1<bool> = rows.y.iter().copied().collect();
                let fitted = LogisticRegression::default()
                    .alpha(1.0 / options.c)
                    .max_iterations(options.max_iter)
                    .fit(&DatasetBase::new(x, y))
                    .map_err(|e| format!("logistic regression failed: {e}"))?;
                // linfa models the probability of its "positive" class, the larger one; turn
                // it into the probability of label 1.
                let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
                (
                    sign * fitted.intercept(),
                    fitted.params().iter().map(|w| sign * w).collect(),
                )
            };
            Params::Logistic {
                intercept,
                coefficients,
                center: s.center,
                scale: s.scale,
            }
        }
        Kind::Tree => {
            let y: Array1<usize> = rows.y.iter().map(|l| usize::from(*l)).collect();
            let weights: Array1<f32> = if options.balanced {
                balanced_weights(&rows.y, positives)
                    .into_iter()
                    .map(|w| w as f32)
                    .collect()
            } else {
                Array1::ones(n)
            };
            let dataset = DatasetBase::new(rows.x.clone(), y).with_weights(weights.clone());
            let tree = DecisionTree::params()
                .max_depth(Some(options.max_depth))
                .min_weight_leaf(options.min_leaf)
                .fit(&dataset)
                .map_err(|e| format!("decision tree failed: {e}"))?;
            let mut root = convert(tree.root_node());
            fill_leaves(
                &mut root,
                &rows.x,
                &rows.y,
                weights.as_slice().unwrap_or(&[]),
            );
            let importances = tree.feature_importance();
            let mut all = vec![0.0; rows.features.len()];
            for (i, v) in importances.iter().enumerate().take(all.len()) {
                all[i] = *v;
            }
            Params::Tree {
                root,
                importances: all,
            }
        }
    };
    let mut model = Model {
        name: name.to_string(),
        kind,
        features: rows.features.clone(),
        params,
        metrics: vec![],
        options: options_text.to_string(),
        trained_at,
        rows: n,
    };
    let scores: Vec<f64> = rows
        .x
        .axis_iter(Axis(0))
        .map(|r| super::predict::predict(&model, r.as_slice().unwrap_or(&r.to_vec())))
        .collect();
    model.metrics = binary_metrics(&scores, &rows.y, options.threshold);
    Ok(model)
}

/// scikit-learn's `class_weight='balanced'`: each row weighs n / (2 · rows of its class).
fn balanced_weights(y: &[bool], positives: usize) -> Vec<f64> {
    let n = y.len() as f64;
    let (p, q) = (positives as f64, n - positives as f64);
    y.iter()
        .map(|l| n / (2.0 * if *l { p } else { q }))
        .collect()
}

/// linfa's tree as ours; leaves get their probabilities in [`fill_leaves`].
fn convert(node: &TreeNode<f64, usize>) -> Node {
    let children = node.children();
    match (node.is_leaf(), children.first(), children.get(1)) {
        (false, Some(Some(left)), Some(Some(right))) => {
            let (feature, value, _) = node.split();
            Node::Split {
                feature,
                value,
                left: Box::new(convert(left)),
                right: Box::new(convert(right)),
            }
        }
        _ => Node::Leaf {
            probability: f64::NAN,
        },
    }
}

/// Sets each leaf's probability to the weighted share of label-1 training rows reaching it.
fn fill_leaves(root: &mut Node, x: &Array2<f64>, y: &[bool], weights: &[f32]) {
    fn leaf_index(node: &Node, row: &[f64], path: &mut Vec<bool>) {
        if let Node::Split {
            feature,
            value,
            left,
            right,
        } = node
        {
            let go_left = row[*feature] <= *value;
            path.push(go_left);
            leaf_index(if go_left { left } else { right }, row, path);
        }
    }
    fn set(node: &mut Node, path: &[bool], positive: f64, total: f64) {
        match node {
            Node::Leaf { probability } => *probability = positive / total,
            Node::Split { left, right, .. } => {
                if path[0] {
                    set(left, &path[1..], positive, total)
                } else {
                    set(right, &path[1..], positive, total)
                }
            }
        }
    }
    let mut sums: std::collections::BTreeMap<Vec<bool>, (f64, f64)> = Default::default();
    for (i, row) in x.axis_iter(Axis(0)).enumerate() {
        let row = row.to_vec();
        let mut path = Vec::new();
        leaf_index(root, &row, &mut path);
        let w = weights.get(i).copied().unwrap_or(1.0) as f64;
        let entry = sums.entry(path).or_insert((0.0, 0.0));
        if y[i] {
            entry.0 += w;
        }
        entry.1 += w;
    }
    for (path, (positive, total)) in sums {
        set(root, &path, positive, total);
    }
    // A leaf no training row reached (possible only with degenerate splits) predicts 0.5.
    fn unreached(node: &mut Node) {
        match node {
            Node::Leaf { probability } if probability.is_nan() => *probability = 0.5,
            Node::Leaf { .. } => {}
            Node::Split { left, right, .. } => {
                unreached(left);
                unreached(right);
            }
        }
    }
    unreached(root);
}
