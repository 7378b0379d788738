//! Scoring a clustering against ground truth: Adjusted Rand Index and duplicate-pair
//! precision / recall / F1.

use std::collections::HashMap;
use std::hash::Hash;

/// Scores of a predicted clustering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterScores {
    /// Adjusted Rand Index (1 = identical clusterings, ~0 = chance).
    pub ari: f64,
    /// Of the predicted duplicate pairs, the fraction that are true pairs.
    pub precision: f64,
    /// Of the true duplicate pairs, the fraction predicted.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Items scored.
    pub items: usize,
}

fn pairs(n: u64) -> f64 {
    (n * n.saturating_sub(1) / 2) as f64
}

/// Scores `predicted` against `truth`; both give a cluster label per item, in the same order.
///
/// ```
/// use millstone_dedup::eval::score;
/// let s = score(&["a", "a", "b", "c"], &[1, 1, 2, 3]);
/// assert_eq!((s.ari, s.f1), (1.0, 1.0));
/// ```
pub fn score<T: Eq + Hash, P: Eq + Hash>(truth: &[T], predicted: &[P]) -> ClusterScores {
    assert_eq!(truth.len(), predicted.len(), "one label per item");
    let mut contingency: HashMap<(&T, &P), u64> = HashMap::new();
    let mut true_sizes: HashMap<&T, u64> = HashMap::new();
    let mut pred_sizes: HashMap<&P, u64> = HashMap::new();
    for (t, p) in truth.iter().zip(predicted) {
        *contingency.entry((t, p)).or_default() += 1;
        *true_sizes.entry(t).or_default() += 1;
        *pred_sizes.entry(p).or_default() += 1;
    }
    let both: f64 = contingency.values().map(|&n| pairs(n)).sum();
    let true_pairs: f64 = true_sizes.values().map(|&n| pairs(n)).sum();
    let pred_pairs: f64 = pred_sizes.values().map(|&n| pairs(n)).sum();
    let total = pairs(truth.len() as u64);
    let expected = if total > 0.0 { true_pairs * pred_pairs / total } else { 0.0 };
    let max = (true_pairs + pred_pairs) / 2.0;
    let ari = if (max - expected).abs() < 1e-12 { 1.0 } else { (both - expected) / (max - expected) };
    let precision = if pred_pairs > 0.0 { both / pred_pairs } else { 1.0 };
    let recall = if true_pairs > 0.0 { both / true_pairs } else { 1.0 };
    let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
    ClusterScores { ari, precision, recall, f1, items: truth.len() }
}

/// Accuracy and F1 of binary decisions `predicted[i]` against `truth[i]`.
pub fn binary_scores(truth: &[bool], predicted: &[bool]) -> (f64, f64) {
    let tp = truth.iter().zip(predicted).filter(|(t, p)| **t && **p).count() as f64;
    let fp = truth.iter().zip(predicted).filter(|(t, p)| !**t && **p).count() as f64;
    let fneg = truth.iter().zip(predicted).filter(|(t, p)| **t && !**p).count() as f64;
    let correct = truth.iter().zip(predicted).filter(|(t, p)| t == p).count() as f64;
    let f1 = if tp > 0.0 { 2.0 * tp / (2.0 * tp + fp + fneg) } else { 0.0 };
    (correct / truth.len().max(1) as f64, f1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // sklearn.metrics.adjusted_rand_score([0,0,1,1],[0,0,1,2]) = 0.5714...
        let s = score(&[0, 0, 1, 1], &[0, 0, 1, 2]);
        assert!((s.ari - 0.571428).abs() < 1e-5, "{}", s.ari);
        assert_eq!((s.precision, s.recall), (1.0, 0.5));
        // Everything in one predicted cluster.
        let s = score(&[0, 0, 1, 1], &[0, 0, 0, 0]);
        assert!(s.ari.abs() < 1e-12 && s.precision < 0.34 && s.recall == 1.0);
        let (acc, f1) = binary_scores(&[true, false, true, true], &[true, true, false, true]);
        assert_eq!(acc, 0.5);
        assert!((f1 - 2.0 / 3.0).abs() < 1e-12);
    }
}
