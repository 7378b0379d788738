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
use crate::frequency::{CommonCut, CommonShingles};
use crate::lsh::LshIndex;
use crate::near::Verification;
use crate::normalize::Normalization;
use crate::shingle::{Shingler, Unit};
use crate::shingle_sets::fold;
use crate::verify::{jaccard_of, ExactRecord, ExactSet, ExactVerifier, Frequencies};

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
        self.fingerprint_with(text, |_| {})
    }

    /// The fingerprint of `text`, passing every shingle hash to `each` too.
    pub fn fingerprint_with(&self, text: &str, mut each: impl FnMut(u64)) -> u64 {
        let mut votes = [0i32; 64];
        self.shingler.for_each(text, |h| {
            each(h);
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
    /// At most this many documents are taken from one block bucket per query (a document is
    /// compared with at most `(max_distance + 1) x max_bucket` others).
    pub max_bucket: Option<usize>,
    /// How cluster members are checked against their keeper: `exact` (Jaccard of the true
    /// shingle sets, on disk in `spill_dir`, at `threshold`) or `sketch` (the fingerprints'
    /// agreement, `1 - distance / 64`, at `1 - max_distance / 64`). Default: exact.
    pub verification: Option<Verification>,
    /// Jaccard similarity of the true shingle sets a member needs with its keeper, with exact
    /// verification (default 0.5).
    pub threshold: Option<f64>,
    /// Leave shingles found in many documents (of one site) out of the exact verification
    /// (see `dedup.minhash`). Needs exact verification and verified clusters.
    pub common_shingles: Option<CommonShingles>,
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
    fn clusters(&self) -> ClusterMode {
        self.cluster.clusters.unwrap_or(ClusterMode::Verified)
    }
    /// Whether members are verified on the true shingle sets.
    fn exact(&self) -> bool {
        self.verification.unwrap_or_default() == Verification::Exact
            && self.clusters() == ClusterMode::Verified
    }
    fn threshold(&self) -> f64 {
        self.threshold.unwrap_or(0.5)
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
        if !(0.0..=1.0).contains(&self.threshold()) {
            errors.push(FieldError::new("threshold", "must be between 0 and 1"));
        }
        if let Some(common) = &self.common_shingles {
            common.validate("common_shingles", &mut errors);
            if !self.exact() || self.cluster.streaming {
                errors.push(FieldError::new(
                    "common_shingles",
                    "needs `verification: exact` and `clusters: verified` without `streaming` (common \
                     shingles are known only after the last document)",
                ));
            }
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
            ("verification", json(serde_json::to_value(self.verification.unwrap_or_default()))),
            ("threshold", self.threshold().into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn build(&self, cx: &BuildContext) -> Result<Stage, BuildError> {
        let hasher =
            SimHasher::new(Shingler::new(self.unit.unwrap_or_default(), self.ngram(), self.normalize()));
        let k = self.max_distance();
        let exact = self.exact();
        let frequencies = crate::verify::frequencies(self.common_shingles.as_ref());
        let counting = frequencies.clone();
        let prepare = Arc::new(PrepareStep {
            signature: move |doc: &Document| SimHashSignature::new(&hasher, doc, exact, counting.as_ref()),
            keeper: self.cluster.key_extractor(),
            _marker: PhantomData,
        });
        let mut index = SimHashIndex::new(k, self.max_bucket());
        if exact {
            let verifier = ExactVerifier::create(self.cluster.spill_dir.as_deref(), frequencies.clone())
                .map_err(|e| BuildError::field("spill_dir", e.to_string()))?;
            index.exact = Some((verifier, self.threshold()));
        }
        let options = ClusterOptions {
            clusters: Some(self.cluster.clusters.unwrap_or(ClusterMode::Verified)),
            ..self.cluster.for_run(cx)
        };
        let threshold = 1.0 - k as f64 / 64.0;
        let split = SimHashSplit {
            hasher,
            blocks: blocks(k),
            max_bucket: self.max_bucket(),
            threshold,
            exact: exact.then_some(self.threshold()),
            frequencies,
            keeper: self.cluster.key_extractor(),
            policy: self.cluster.keeper,
            clusters: options.clusters.unwrap_or(ClusterMode::Verified),
            options: options.clone(),
            overwrite: cx.overwrite,
        };
        let mut barrier = NearDedup::new(index, threshold, options, cx.overwrite);
        if !self.cluster.streaming {
            barrier = barrier.with_split(Arc::new(split));
        }
        Ok(Stage::Barrier { prepare: Some(prepare), barrier: Box::new(barrier) })
    }
}

/// A document's fingerprint, and its shingle set with exact verification.
pub struct SimHashSignature {
    fingerprint: u64,
    empty: bool,
    exact: Option<ExactSet>,
}

impl SimHashSignature {
    fn new(hasher: &SimHasher, doc: &Document, exact: bool, frequencies: Option<&Frequencies>) -> Self {
        let mut folded = Vec::new();
        let fingerprint = if exact {
            hasher.fingerprint_with(&doc.text, |h| folded.push(fold(h)))
        } else {
            hasher.fingerprint(&doc.text)
        };
        SimHashSignature {
            fingerprint,
            empty: doc.text.trim().is_empty(),
            exact: exact.then(|| ExactSet::new(folded, doc, frequencies)),
        }
    }
}

/// The `max_distance + 1` bit ranges of the block tables.
fn blocks(max_distance: u32) -> Vec<(u32, u32)> {
    let count = max_distance + 1;
    (0..count).map(|i| (i * 64 / count, (i + 1) * 64 / count)).collect()
}

/// The key of each block of `fingerprint`, tagged with the block's number.
fn block_keys(blocks: &[(u32, u32)], fingerprint: u64) -> Vec<u64> {
    blocks
        .iter()
        .enumerate()
        .map(|(i, &(lo, hi))| {
            let width = hi - lo;
            let mask = if width == 64 { u64::MAX } else { (1u64 << width) - 1 };
            ((fingerprint >> lo) & mask) ^ ((i as u64) << 58).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        })
        .collect()
}

/// Similarity of two fingerprints: `1 - distance / 64`.
fn fingerprint_similarity(a: u64, b: u64) -> f64 {
    1.0 - (a ^ b).count_ones() as f64 / 64.0
}

/// Block tables over fingerprints.
pub struct SimHashIndex {
    blocks: Vec<(u32, u32)>,
    tables: LshIndex,
    fingerprints: Vec<u64>,
    max_bucket: usize,
    /// The true sets and the Jaccard threshold, with exact verification.
    exact: Option<(ExactVerifier, f64)>,
}

impl SimHashIndex {
    /// An index finding every pair within Hamming distance `max_distance`.
    pub fn new(max_distance: u32, max_bucket: usize) -> Self {
        let blocks = blocks(max_distance);
        SimHashIndex {
            tables: LshIndex::new(blocks.len()),
            blocks,
            fingerprints: Vec::new(),
            max_bucket,
            exact: None,
        }
    }

    fn keys(&self, fingerprint: u64) -> Vec<u64> {
        block_keys(&self.blocks, fingerprint)
    }
}

impl NearIndex for SimHashIndex {
    type Signature = SimHashSignature;

    fn candidates(&self, signature: &SimHashSignature) -> Vec<u32> {
        self.tables.candidates(&self.keys(signature.fingerprint), self.max_bucket)
    }

    fn similarity(&self, signature: &SimHashSignature, other: u32) -> f64 {
        fingerprint_similarity(signature.fingerprint, self.fingerprints[other as usize])
    }

    fn comparable(&self, signature: &SimHashSignature) -> bool {
        !signature.empty
    }

    fn similarity_between(&mut self, a: u32, b: u32) -> Result<f64, StageError> {
        match &mut self.exact {
            Some((verifier, _)) => Ok(jaccard_of(verifier.overlap(a, b)?).0),
            None => Ok(fingerprint_similarity(self.fingerprints[a as usize], self.fingerprints[b as usize])),
        }
    }

    fn verification_threshold(&self) -> Option<f64> {
        self.exact.as_ref().map(|(_, threshold)| *threshold)
    }

    fn insert(&mut self, signature: &SimHashSignature) -> Result<(), StageError> {
        if let (Some((verifier, _)), Some(set)) = (&mut self.exact, &signature.exact) {
            verifier.push(set)?;
        }
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
        self.tables.retained_bytes()
            + self.fingerprints.capacity() * 8
            + self.exact.as_ref().map_or(0, |(verifier, _)| verifier.retained_bytes())
    }

    fn state_bytes_per_document(&self) -> u64 {
        let exact =
            self.exact.as_ref().map_or(0, |(v, _)| ExactVerifier::bytes_per_document(v.counts_frequencies()));
        8 + self.blocks.len() as u64 * (4 + 20) + exact
    }

    fn summary(&self) -> Vec<(&'static str, u64)> {
        let mut counters = vec![("blocks", self.blocks.len() as u64)];
        if let Some((verifier, _)) = &self.exact {
            counters.push(("shingle_set_disk_bytes", verifier.disk_bytes()));
        }
        counters
    }
}

/// `dedup.simhash` split for distributed runs ([`millstone_core::NearDuplicates`]): the band
/// keys are the block keys, a record is the fingerprint, then the keeper key and the id, then
/// with exact verification the document's scope (with `common_shingles`) and shingle set.
struct SimHashSplit {
    hasher: SimHasher,
    blocks: Vec<(u32, u32)>,
    max_bucket: usize,
    threshold: f64,
    keeper: crate::cluster::KeyExtractor,
    policy: crate::cluster::KeeperPolicy,
    clusters: ClusterMode,
    options: ClusterOptions,
    overwrite: bool,
    /// The Jaccard threshold of exact verification.
    exact: Option<f64>,
    /// This task's shingle counts (signing) or every task's (clustering).
    frequencies: Option<Frequencies>,
}

fn fingerprint_of(record: &[u8]) -> u64 {
    u64::from_le_bytes(record[..8].try_into().expect("8 bytes"))
}

impl millstone_core::NearDuplicates for SimHashSplit {
    fn bands(&self) -> usize {
        self.blocks.len()
    }

    fn max_bucket(&self) -> usize {
        self.max_bucket
    }

    fn sketch_bytes(&self) -> usize {
        8
    }

    fn sign(&self, doc: &Document, keys: &mut Vec<u64>, record: &mut Vec<u8>) {
        let signature =
            SimHashSignature::new(&self.hasher, doc, self.exact.is_some(), self.frequencies.as_ref());
        keys.clear();
        if !signature.empty {
            keys.extend(block_keys(&self.blocks, signature.fingerprint));
        }
        record.clear();
        record.extend_from_slice(&signature.fingerprint.to_le_bytes());
        crate::cluster::encode_keeper(&self.keeper.key(doc), &doc.id, record);
        if let Some(set) = &signature.exact {
            set.encode(self.frequencies.is_some(), record);
        }
    }

    fn candidate_similarity(&self, later: &[u8], earlier: &[u8]) -> f64 {
        fingerprint_similarity(fingerprint_of(later), fingerprint_of(earlier))
    }

    fn threshold(&self) -> f64 {
        self.threshold
    }

    fn record_id<'a>(&self, record: &'a [u8]) -> &'a str {
        record.get(8..).and_then(|rest| crate::cluster::decode_keeper(rest).ok()).map_or("", |(_, id, _)| id)
    }

    fn cluster(&self, members: &[&[u8]]) -> Result<(Vec<(usize, f32)>, u64), StageError> {
        let bad = || StageError::other("a dedup.simhash record is truncated or corrupt");
        let cut = self.frequencies.as_ref().map(|(sketch, common)| CommonCut::new(sketch, common));
        let records = members
            .iter()
            .map(|m| {
                let (key, id, rest) = crate::cluster::decode_keeper(m.get(8..).ok_or_else(bad)?)?;
                let exact =
                    ExactRecord::decode(rest, self.frequencies.is_some())?.with_common_counted(cut.as_ref());
                Ok((fingerprint_of(m), key, id, exact))
            })
            .collect::<Result<Vec<_>, StageError>>()?;
        crate::cluster::records_keepers(
            &records,
            self.policy,
            self.clusters,
            self.exact.unwrap_or(self.threshold),
            |r| (&r.1, r.2),
            |a, b| match self.exact {
                Some(_) if a.3.is_empty() || b.3.is_empty() => 0.0,
                Some(_) => jaccard_of(a.3.overlap(&b.3, cut.as_ref())).0,
                None => fingerprint_similarity(a.0, b.0),
            },
        )
    }

    fn apply(&self, verdicts: Vec<(u64, millstone_core::NearVerdict)>) -> Box<dyn millstone_core::Barrier> {
        Box::new(crate::cluster::NearApply::new(verdicts, &self.options, self.overwrite))
    }

    fn corpus_state(&self) -> Option<Vec<u8>> {
        crate::verify::corpus_state(self.frequencies.as_ref())
    }

    fn add_corpus_state(&self, state: &[u8]) -> Result<(), StageError> {
        crate::verify::add_corpus_state(self.frequencies.as_ref(), state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shingle_sets::set_of;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn block_tables_find_every_pair_within_the_distance(
            base in any::<u64>(),
            flips in prop::collection::vec(prop::collection::vec(0u32..64, 0..6), 1..20),
            k in 0u32..6,
        ) {
            let mut index = SimHashIndex::new(k, usize::MAX);
            let fps: Vec<u64> = flips.iter().map(|f| f.iter().fold(base, |fp, bit| fp ^ (1 << bit))).collect();
            for (i, &fp) in fps.iter().enumerate() {
                let sig = SimHashSignature { fingerprint: fp, empty: false, exact: None };
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// With exact verification every clustered member is within the Jaccard threshold of
        /// its keeper on the true shingle sets, whatever the fingerprints said.
        #[test]
        fn every_member_is_within_the_jaccard_threshold_of_its_keeper(
            docs in millstone_testkit::edited_copies(4, 120, 3000, 40, 24),
            batch in 1usize..6,
        ) {
            let config = SimHashConfig {
                max_distance: Some(12),
                threshold: Some(0.6),
                cluster: ClusterOptions { on_match: millstone_core::OnMatch::Annotate, ..Default::default() },
                ..Default::default()
            };
            let (kept, _) =
                millstone_testkit::run_barrier(config.build(&BuildContext::for_tests()).unwrap(), docs.clone(), batch);
            let shingler = Shingler::new(Unit::Words, 3, config.normalize());
            for (keeper, doc) in crate::cluster::members_with_keepers(&docs, &kept) {
                let (a, b) = (set_of(&shingler, &keeper.text), set_of(&shingler, &doc.text));
                let (jaccard, _, _) = jaccard_of((crate::shingle_sets::intersection(&a, &b), a.len(), b.len()));
                prop_assert!(jaccard >= 0.6 - 1e-9, "{} joined {} at {}", doc.id, keeper.id, jaccard);
            }
        }
    }

    #[test]
    fn exact_verification_is_the_default_and_common_shingles_need_it() {
        let config = SimHashConfig::default();
        assert!(config.exact());
        let common = Some(CommonShingles { scope_field: None, min_docs: 5, min_fraction: 0.0 });
        let sketch = SimHashConfig {
            verification: Some(Verification::Sketch),
            common_shingles: common,
            ..Default::default()
        };
        assert_eq!(sketch.validate().unwrap_err()[0].field, "common_shingles");
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
