//! `dedup.simhash`: 64-bit Charikar SimHash over shingles, candidates from permuted block
//! tables, and the same verification, clustering and keeper machinery as `dedup.minhash`.
//!
//! Two fingerprints within Hamming distance `k` agree exactly on at least one of `k + 1`
//! blocks (pigeonhole), so indexing each block finds every such pair. Similarity is
//! `1 - distance / 64`.

use std::marker::PhantomData;
use std::sync::Arc;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, Document, FieldError, Stage, StageConfig, StageError, StageKind,
};
use serde::{Deserialize, Serialize};

use crate::cluster::{ClusterMode, ClusterOptions, NearDedup, NearIndex, PrepareStep};
use crate::lsh::LshIndex;
use crate::normalize::Normalization;
use crate::shingle::{Shingler, Unit};

/// Computes 64-bit SimHash fingerprints: each shingle votes +1/-1 on every bit of its hash;
/// a bit of the fingerprint is set where the votes are positive.
///
/// ```
/// use millstone_dedup::simhash::SimHasher;
/// use millstone_dedup::shingle::{Shingler, Unit};
/// use millstone_dedup::Normalization;
/// let s = SimHasher::new(Shingler::new(Unit::Words, 3, Normalization::default()));
/// // SimHash needs documents of some length: a few hundred shingles here.
/// let text: String = (0..300).map(|i| format!("word{} ", i * 31 % 97)).collect();
/// let edited = text.replacen("word31 ", "", 1);
/// assert!((s.fingerprint(&text) ^ s.fingerprint(&edited)).count_ones() <= 4);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SimHasher {
    shingler: Shingler,
}

impl SimHasher {
    /// A fingerprinter over `shingler`'s shingles.
    pub fn new(shingler: Shingler) -> Self {
        SimHasher { shingler }
    }

    /// The fingerprint of `text` (0 for a text without shingles).
    pub fn fingerprint(&self, text: &str) -> u64 {
        let mut votes = [0i32; 64];
        self.shingler.for_each(text, |h| {
            for (bit, vote) in votes.iter_mut().enumerate() {
                *vote += if (h >> bit) & 1 == 1 { 1 } else { -1 };
            }
        });
        votes.iter().enumerate().fold(0u64, |fp, (bit, &v)| if v > 0 { fp | (1 << bit) } else { fp })
    }
}

/// Configuration of `dedup.simhash`. (Unknown keys are rejected by the pipeline loader.)
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct SimHashConfig {
    /// Shingle unit: `words` or `chars` (default words).
    pub unit: Option<Unit>,
    /// Shingle length (default 3).
    pub ngram: Option<usize>,
    /// Normalisation before shingling (default: lowercase, whitespace, punctuation).
    pub normalize: Option<Normalization>,
    /// Largest Hamming distance between fingerprints of duplicates (default 3).
    pub max_distance: Option<u32>,
    /// At most this many documents are taken from one block bucket per query.
    pub max_bucket: Option<usize>,
    /// At most this many candidates (newest first) are verified per document.
    pub max_candidates: Option<usize>,
    /// Clusters, keeper, action, report.
    #[serde(flatten)]
    pub cluster: ClusterOptions,
}

impl SimHashConfig {
    fn max_distance(&self) -> u32 {
        self.max_distance.unwrap_or(3)
    }
    fn normalize(&self) -> Normalization {
        self.normalize.unwrap_or(Normalization { punctuation: true, ..Normalization::default() })
    }
    fn ngram(&self) -> usize {
        self.ngram.unwrap_or(3)
    }
    fn max_bucket(&self) -> usize {
        self.max_bucket.unwrap_or(64)
    }
    fn max_candidates(&self) -> usize {
        self.max_candidates.unwrap_or(2048)
    }
}

impl StageConfig for SimHashConfig {
    const TYPE: &'static str = "dedup.simhash";
    const ON_MATCH: &'static [millstone_core::OnMatch] = millstone_core::OnMatch::DOCUMENTS;
    const RENAMED: &'static [(&'static str, &'static str)] = &[("action", "on_match")];
    const KIND: StageKind = StageKind::Barrier;
    const SUMMARY: &'static str =
        "Near-duplicate clusters by 64-bit SimHash within a Hamming distance, keeper policy";
    const EXAMPLE: &'static str =
        "type: dedup.simhash\nmax_distance: 3\nkeeper: first\nreport: out/simhash-clusters.jsonl\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] =
        &[("near_duplicate", "fingerprint within max_distance of another cluster member that is kept")];

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.max_distance() > 16 {
            errors.push(FieldError::new(
                "max_distance",
                "must be at most 16 (larger distances are not near duplicates)",
            ));
        }
        if self.ngram == Some(0) {
            errors.push(FieldError::new("ngram", "must be at least 1"));
        }
        self.cluster.validate(&mut errors);
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn resolved(&self) -> serde_json::Map<String, serde_json::Value> {
        let json = |v: serde_json::Result<serde_json::Value>| v.unwrap_or_default();
        [
            ("unit", json(serde_json::to_value(self.unit.unwrap_or_default()))),
            ("ngram", self.ngram().into()),
            ("normalize", json(serde_json::to_value(self.normalize()))),
            ("max_distance", self.max_distance().into()),
            ("max_bucket", self.max_bucket().into()),
            ("max_candidates", self.max_candidates().into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn build(&self, cx: &BuildContext) -> Result<Stage, BuildError> {
        let hasher =
            SimHasher::new(Shingler::new(self.unit.unwrap_or_default(), self.ngram(), self.normalize()));
        let k = self.max_distance();
        let prepare = Arc::new(PrepareStep {
            signature: move |doc: &Document| SimHashSignature {
                fingerprint: hasher.fingerprint(&doc.text),
                empty: doc.text.trim().is_empty(),
            },
            keeper: self.cluster.key_extractor(),
            _marker: PhantomData,
        });
        let index = SimHashIndex::new(k, self.max_bucket(), self.max_candidates());
        let options = ClusterOptions {
            clusters: Some(self.cluster.clusters.unwrap_or(ClusterMode::Verified)),
            ..self.cluster.for_run(cx)
        };
        let barrier = NearDedup::new(index, 1.0 - k as f64 / 64.0, options, cx.overwrite);
        Ok(Stage::Barrier { prepare: Some(prepare), barrier: Box::new(barrier) })
    }
}

/// A document's fingerprint.
pub struct SimHashSignature {
    fingerprint: u64,
    empty: bool,
}

/// Block tables over fingerprints.
pub struct SimHashIndex {
    blocks: Vec<(u32, u32)>,
    tables: LshIndex,
    fingerprints: Vec<u64>,
    max_bucket: usize,
    max_candidates: usize,
}

impl SimHashIndex {
    /// An index finding every pair within Hamming distance `max_distance`.
    pub fn new(max_distance: u32, max_bucket: usize, max_candidates: usize) -> Self {
        let count = max_distance + 1;
        let blocks = (0..count).map(|i| (i * 64 / count, (i + 1) * 64 / count)).collect();
        SimHashIndex {
            blocks,
            tables: LshIndex::new(count as usize),
            fingerprints: Vec::new(),
            max_bucket,
            max_candidates,
        }
    }

    fn keys(&self, fingerprint: u64) -> Vec<u64> {
        self.blocks
            .iter()
            .enumerate()
            .map(|(i, &(lo, hi))| {
                let width = hi - lo;
                let mask = if width == 64 { u64::MAX } else { (1u64 << width) - 1 };
                ((fingerprint >> lo) & mask) ^ ((i as u64) << 58).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            })
            .collect()
    }
}

impl NearIndex for SimHashIndex {
    type Signature = SimHashSignature;

    fn candidates(&self, signature: &SimHashSignature) -> Vec<u32> {
        let mut candidates = self.tables.candidates(&self.keys(signature.fingerprint), self.max_bucket);
        candidates.truncate(self.max_candidates);
        candidates
    }

    fn similarity(&self, signature: &SimHashSignature, other: u32) -> f64 {
        1.0 - (signature.fingerprint ^ self.fingerprints[other as usize]).count_ones() as f64 / 64.0
    }

    fn comparable(&self, signature: &SimHashSignature) -> bool {
        !signature.empty
    }

    fn similarity_between(&mut self, a: u32, b: u32) -> Result<f64, StageError> {
        Ok(1.0 - (self.fingerprints[a as usize] ^ self.fingerprints[b as usize]).count_ones() as f64 / 64.0)
    }

    fn insert(&mut self, signature: &SimHashSignature) -> Result<(), StageError> {
        if signature.empty {
            let n = self.fingerprints.len() as u64;
            self.tables.insert(&vec![n ^ 0xdead_beef_0000_0000; self.blocks.len()]);
        } else {
            self.tables.insert(&self.keys(signature.fingerprint));
        }
        self.fingerprints.push(signature.fingerprint);
        Ok(())
    }

    fn retained_bytes(&self) -> usize {
        self.tables.retained_bytes() + self.fingerprints.capacity() * 8
    }

    fn state_bytes_per_document(&self) -> u64 {
        8 + self.blocks.len() as u64 * (4 + 20)
    }

    fn summary(&self) -> Vec<(&'static str, u64)> {
        vec![("blocks", self.blocks.len() as u64)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn block_tables_find_every_pair_within_the_distance(
            base in any::<u64>(),
            flips in prop::collection::vec(prop::collection::vec(0u32..64, 0..6), 1..20),
            k in 0u32..6,
        ) {
            let mut index = SimHashIndex::new(k, usize::MAX, usize::MAX);
            let fps: Vec<u64> = flips.iter().map(|f| f.iter().fold(base, |fp, bit| fp ^ (1 << bit))).collect();
            for (i, &fp) in fps.iter().enumerate() {
                let sig = SimHashSignature { fingerprint: fp, empty: false };
                let found = index.candidates(&sig);
                for (j, &other) in fps[..i].iter().enumerate() {
                    if (fp ^ other).count_ones() <= k {
                        prop_assert!(found.contains(&(j as u32)), "pair {j}-{i} at distance {} missed", (fp ^ other).count_ones());
                    }
                }
                index.insert(&sig).unwrap();
            }
        }
    }

    #[test]
    fn near_copies_are_close_and_different_texts_are_far() {
        let s = SimHasher::new(Shingler::new(Unit::Words, 3, Normalization::default()));
        let base: String = (0..400).map(|i| format!("w{} ", i * 7919 % 2000)).collect();
        let edited = base.replacen("w7919", "changed", 1);
        let other: String = (0..400).map(|i| format!("v{} ", i * 104729 % 2000)).collect();
        assert!((s.fingerprint(&base) ^ s.fingerprint(&edited)).count_ones() <= 3);
        assert!((s.fingerprint(&base) ^ s.fingerprint(&other)).count_ones() > 16);
    }
}
