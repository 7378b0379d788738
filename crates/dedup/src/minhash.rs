//! MinHash signatures, streamed: memory does not grow with document length.

use millstone_core::schemars::{self, JsonSchema};

use crate::shingle::Shingler;
use crate::Error;

/// Computes MinHash signatures with `permutations` independent hash functions
/// `h_i(x) = (a_i * x + b_i mod 2^64) >> 32` over the 64-bit shingle hashes (`a_i` odd): the
/// multiply-add-shift family, whose high bits are well mixed, giving 32-bit values. (The
/// earlier `a_i * x + b_i mod 2^32` over 32-bit folds is cheaper but biased: its minima are not
/// min-wise independent enough, and pairs near the LSH threshold were missed.)
///
/// ```
/// use millstone_dedup::{MinHasher, Normalization, shingle::{Shingler, Unit}};
/// let hasher = MinHasher::new(128, 42).unwrap();
/// let shingler = Shingler::new(Unit::Words, 3, Normalization::default());
/// let a = hasher.signature(&shingler, "the quick brown fox jumps over the lazy dog near the river bank");
/// let b = hasher.signature(&shingler, "the quick brown fox jumps over the lazy dog near the river");
/// let j = MinHasher::jaccard(&a.values, &b.values);
/// assert!(j > 0.6 && j < 1.0, "{j}");
/// ```
#[derive(Debug, Clone)]
pub struct MinHasher {
    a: Vec<u64>,
    b: Vec<u64>,
}

/// A document's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// One minimum per permutation (`u32::MAX` for an empty document).
    pub values: Vec<u32>,
    /// Number of shingles seen; the set size used to estimate containment.
    pub shingles: u32,
}

impl MinHasher {
    /// A hasher with `permutations` functions drawn deterministically from `seed`.
    pub fn new(permutations: usize, seed: u64) -> Result<Self, Error> {
        if permutations == 0 || permutations > 4096 {
            return Err(Error::Parameters(format!("permutations must be 1..=4096, got {permutations}")));
        }
        let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let a = (0..permutations).map(|_| next() | 1).collect();
        let b = (0..permutations).map(|_| next()).collect();
        Ok(MinHasher { a, b })
    }

    /// Number of permutations.
    pub fn permutations(&self) -> usize {
        self.a.len()
    }

    /// Folds one shingle hash into `values`.
    #[inline]
    pub fn update(&self, values: &mut [u32], shingle: u64) {
        for ((v, &a), &b) in values.iter_mut().zip(&self.a).zip(&self.b) {
            let h = (a.wrapping_mul(shingle).wrapping_add(b) >> 32) as u32;
            *v = (*v).min(h);
        }
    }

    /// The signature of `text` under `shingler`.
    pub fn signature(&self, shingler: &Shingler, text: &str) -> Signature {
        self.signature_with(shingler, text, |_| {})
    }

    /// The signature of `text`, also handing every shingle hash to `each` (to collect the set).
    pub fn signature_with(&self, shingler: &Shingler, text: &str, mut each: impl FnMut(u64)) -> Signature {
        let mut values = vec![u32::MAX; self.a.len()];
        let mut shingles = 0u32;
        shingler.for_each(text, |h| {
            shingles = shingles.saturating_add(1);
            self.update(&mut values, h);
            each(h);
        });
        Signature { values, shingles }
    }

    /// Estimated Jaccard similarity: the fraction of equal positions.
    pub fn jaccard(a: &[u32], b: &[u32]) -> f64 {
        if a.is_empty() {
            return 0.0;
        }
        a.iter().zip(b).filter(|(x, y)| x == y && **x != u32::MAX).count() as f64 / a.len() as f64
    }
}

/// How two documents are compared once LSH proposes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Similarity {
    /// |A ∩ B| / |A ∪ B|.
    Jaccard,
    /// |A ∩ B| / min(|A|, |B|): one document is (mostly) inside the other.
    Containment,
    /// The larger of the two.
    #[default]
    Max,
}

impl Similarity {
    /// The similarity from an estimated Jaccard value and the two shingle-set sizes.
    pub fn score(self, jaccard: f64, size_a: u32, size_b: u32) -> f64 {
        let containment = || {
            let (a, b) = (size_a.max(1) as f64, size_b.max(1) as f64);
            let intersection = jaccard / (1.0 + jaccard) * (a + b);
            (intersection / a.min(b)).min(1.0)
        };
        match self {
            Similarity::Jaccard => jaccard,
            Similarity::Containment => containment(),
            Similarity::Max => jaccard.max(containment()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shingle::Unit;
    use crate::Normalization;
    use proptest::prelude::*;

    fn exact_jaccard(a: &std::collections::HashSet<u64>, b: &std::collections::HashSet<u64>) -> f64 {
        if a.is_empty() && b.is_empty() {
            return 1.0;
        }
        a.intersection(b).count() as f64 / a.union(b).count() as f64
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn estimate_is_within_bound_of_exact_jaccard(
            base in prop::collection::vec("[a-e]{1,3}", 30..120),
            edits in prop::collection::vec((0usize..200, "[a-z]{2,6}"), 0..60),
        ) {
            let shingler = Shingler::new(Unit::Words, 2, Normalization::default());
            let hasher = MinHasher::new(256, 1).unwrap();
            let a = base.join(" ");
            let mut words = base.clone();
            for (pos, w) in edits {
                let i = pos % words.len();
                words[i] = w;
            }
            let b = words.join(" ");
            let exact = exact_jaccard(&shingler.set(&a), &shingler.set(&b));
            let est = MinHasher::jaccard(&hasher.signature(&shingler, &a).values, &hasher.signature(&shingler, &b).values);
            // Standard error is sqrt(J(1-J)/k) <= 0.031 at k = 256; allow 5 sigma.
            prop_assert!((est - exact).abs() <= 0.16, "estimate {est} vs exact {exact}");
        }
    }

    #[test]
    fn containment_recovers_a_copy_inside_a_longer_page() {
        let shingler = Shingler::new(Unit::Words, 5, Normalization::default());
        let hasher = MinHasher::new(256, 7).unwrap();
        let article: Vec<String> = (0..300).map(|i| format!("w{}", i * 7919 % 1000)).collect();
        let comments: Vec<String> = (0..700).map(|i| format!("c{}", i * 104729 % 5000)).collect();
        let a = hasher.signature(&shingler, &article.join(" "));
        let b = hasher.signature(&shingler, &format!("{} {}", article.join(" "), comments.join(" ")));
        let j = MinHasher::jaccard(&a.values, &b.values);
        assert!(j < 0.45, "{j}");
        let c = Similarity::Containment.score(j, a.shingles, b.shingles);
        assert!(c > 0.8, "containment {c} (jaccard {j}, sizes {} {})", a.shingles, b.shingles);
    }
}
