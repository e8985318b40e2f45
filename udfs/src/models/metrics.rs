//! Classification metrics of predicted probabilities against 0/1 labels: the confusion matrix at
//! a threshold, accuracy, precision, recall, F1, the ROC curve and its area.

/// Area under the ROC curve by the rank-sum (Mann-Whitney) statistic, tied scores sharing their
/// average rank — what scikit-learn's `roc_auc_score` computes. NaN without both classes.
pub fn auc(scores: &[f64], labels: &[bool]) -> f64 {
    let positives = labels.iter().filter(|l| **l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return f64::NAN;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let mean_rank = (i + j + 2) as f64 / 2.0;
        for k in &order[i..=j] {
            if labels[*k] {
                rank_sum += mean_rank;
            }
        }
        i = j + 1;
    }
    let p = positives as f64;
    (rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64)
}

/// Metrics at `threshold` (a row is predicted positive when its probability is at least the
/// threshold), as (name, value) rows.
pub fn binary_metrics(scores: &[f64], labels: &[bool], threshold: f64) -> Vec<(String, f64)> {
    let (mut tp, mut fp, mut tn, mut fn_) = (0usize, 0usize, 0usize, 0usize);
    for (s, l) in scores.iter().zip(labels) {
        match (*s >= threshold, *l) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, false) => tn += 1,
            (false, true) => fn_ += 1,
        }
    }
    let ratio = |a: usize, b: usize| {
        if b == 0 {
            f64::NAN
        } else {
            a as f64 / b as f64
        }
    };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        f64::NAN
    };
    vec![
        ("rows".to_string(), labels.len() as f64),
        ("accuracy".to_string(), ratio(tp + tn, labels.len())),
        ("precision".to_string(), precision),
        ("recall".to_string(), recall),
        ("f1".to_string(), f1),
        ("auc".to_string(), auc(scores, labels)),
        ("true_positive".to_string(), tp as f64),
        ("false_positive".to_string(), fp as f64),
        ("true_negative".to_string(), tn as f64),
        ("false_negative".to_string(), fn_ as f64),
    ]
}

/// The ROC curve: one point per distinct score, from the highest threshold down, starting at
/// (0, 0) with threshold +inf, as scikit-learn's `roc_curve(drop_intermediate=False)`.
pub fn roc_curve(scores: &[f64], labels: &[bool]) -> Vec<(f64, f64, f64)> {
    let positives = labels.iter().filter(|l| **l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
    let mut points = vec![(f64::INFINITY, 0.0, 0.0)];
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let threshold = scores[order[i]];
        while i < order.len() && scores[order[i]] == threshold {
            if labels[order[i]] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        let rate = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        points.push((threshold, rate(fp, negatives), rate(tp, positives)));
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_matches_scikit_learn() {
        // sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.75
        assert_eq!(
            auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
            0.75
        );
        // ties: roc_auc_score([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]) = 0.875
        assert_eq!(
            auc(&[0.5, 0.5, 0.2, 0.9], &[false, true, false, true]),
            0.875
        );
        assert!(auc(&[0.1, 0.2], &[true, true]).is_nan());
    }

    #[test]
    fn confusion_and_roc() {
        let scores = [0.9, 0.8, 0.3, 0.2];
        let labels = [true, false, true, false];
        let m = binary_metrics(&scores, &labels, 0.5);
        let get = |n: &str| m.iter().find(|(k, _)| k == n).unwrap().1;
        assert_eq!(
            (
                get("true_positive"),
                get("false_positive"),
                get("true_negative"),
                get("false_negative")
            ),
            (1.0, 1.0, 1.0, 1.0)
        );
        assert_eq!(get("accuracy"), 0.5);
        let roc = roc_curve(&scores, &labels);
        assert_eq!(roc.len(), 5);
        assert_eq!(roc.last().unwrap(), &(0.2, 1.0, 1.0));
        assert_eq!(roc[1], (0.9, 0.0, 0.5));
    }
}
