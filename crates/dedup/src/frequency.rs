//! Document frequencies of shingles, for boilerplate-aware verification: a shingle found in
//! many documents of one scope (a site's navigation, share widgets, footers, stock phrases)
//! says nothing about whether two documents tell the same story, so exact verification leaves
//! such shingles out of both sets before it compares them.
//!
//! Counts live in a count-min sketch of atomic counters (fixed size, whatever the corpus): the
//! parallel prepare step adds each document's distinct shingles as it goes, and because
//! addition commutes the final counts do not depend on threads, batches or task boundaries.
//! Sketches of several tasks merge by adding their counters. A count-min sketch never
//! under-counts, so every shingle really above the cut is left out; an over-count (a
//! collision in all rows) can only leave out a shingle that is not common. Keying by
//! `(scope, shingle)` makes a story republished by many sites stay comparable while a site
//! template shared by many of its pages does not.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{Document, FieldError, FieldRef, StageError};
use serde::{Deserialize, Serialize};

/// When a shingle counts as common and is left out of exact verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommonShingles {
    /// Count documents per value of this field (`meta.site`, `meta.domain`): a shingle is
    /// common within one site, and a document without the field is neither counted nor cut.
    /// Default: the whole corpus is one scope.
    #[serde(default)]
    pub scope_field: Option<FieldRef>,
    /// A shingle in at least this many documents of its scope is common (default 50).
    #[serde(default = "default_min_docs")]
    pub min_docs: u32,
    /// ... and in at least this fraction of all documents (default 0: `min_docs` alone).
    #[serde(default)]
    pub min_fraction: f64,
}

fn default_min_docs() -> u32 {
    50
}

impl CommonShingles {
    /// Field errors of these settings, under `key`.
    pub fn validate(&self, key: &str, errors: &mut Vec<FieldError>) {
        if self.min_docs < 2 {
            errors.push(FieldError::new(format!("{key}.min_docs"), "must be at least 2"));
        }
        if !(0.0..=1.0).contains(&self.min_fraction) {
            errors.push(FieldError::new(format!("{key}.min_fraction"), "must be between 0 and 1"));
        }
    }

    /// The scope key of a document: 1 for the whole corpus without a scope field, a hash of
    /// the field's value, or [`UNSCOPED`] when the document lacks the field.
    pub fn scope_of(&self, doc: &Document) -> u64 {
        match &self.scope_field {
            None => 1,
            Some(field) => {
                field.get(doc).map_or(UNSCOPED, |value| xxhash_rust::xxh3::xxh3_64(value.as_bytes()) | 1)
            }
        }
    }
}

/// The scope of a document without the scope field: never counted, nothing of it is common.
pub const UNSCOPED: u64 = 0;

const ROWS: usize = 3;
const WIDTH_BITS: u32 = 21;
const WIDTH: usize = 1 << WIDTH_BITS;

/// A count-min sketch of (scope, shingle) document frequencies: 3 rows of 2^21 `u32` counters
/// (24 MiB), plus the number of documents counted.
pub struct FrequencySketch {
    counters: Box<[AtomicU32]>,
    documents: AtomicU64,
}

impl std::fmt::Debug for FrequencySketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrequencySketch").field("documents", &self.documents()).finish_non_exhaustive()
    }
}

impl Default for FrequencySketch {
    fn default() -> Self {
        FrequencySketch {
            counters: (0..ROWS * WIDTH).map(|_| AtomicU32::new(0)).collect(),
            documents: AtomicU64::new(0),
        }
    }
}

fn slots(scope: u64, shingle: u32) -> [usize; ROWS] {
    // fmix64 of MurmurHash3 over (scope, shingle): a few multiplies, no branches.
    let mut h = scope.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ shingle as u64;
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^= h >> 33;
    let g = h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mask = WIDTH as u64 - 1;
    [
        (h & mask) as usize,
        WIDTH + ((h >> WIDTH_BITS) & mask) as usize,
        2 * WIDTH + ((g >> 40) & mask) as usize,
    ]
}

impl FrequencySketch {
    /// Counts one document of `scope` with these distinct shingles.
    pub fn add_document(&self, scope: u64, set: &[u32]) {
        if scope == UNSCOPED {
            return;
        }
        for &shingle in set {
            for slot in slots(scope, shingle) {
                self.counters[slot].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.documents.fetch_add(1, Ordering::Relaxed);
    }

    /// Documents counted (those with a scope).
    pub fn documents(&self) -> u64 {
        self.documents.load(Ordering::Relaxed)
    }

    /// At least the number of documents of `scope` holding `shingle` (never fewer).
    pub fn estimate(&self, scope: u64, shingle: u32) -> u32 {
        slots(scope, shingle).iter().map(|&s| self.counters[s].load(Ordering::Relaxed)).min().unwrap_or(0)
    }

    /// The counts as bytes (for another task to merge).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.counters.len() * 4);
        out.extend_from_slice(&self.documents().to_le_bytes());
        for counter in self.counters.iter() {
            out.extend_from_slice(&counter.load(Ordering::Relaxed).to_le_bytes());
        }
        out
    }

    /// Adds counts written by [`FrequencySketch::to_bytes`].
    pub fn add_bytes(&self, bytes: &[u8]) -> Result<(), StageError> {
        if bytes.len() != 8 + self.counters.len() * 4 {
            return Err(StageError::other("a shingle frequency file has the wrong size"));
        }
        let (documents, counts) = bytes.split_at(8);
        self.documents
            .fetch_add(u64::from_le_bytes(documents.try_into().expect("8 bytes")), Ordering::Relaxed);
        for (counter, count) in self.counters.iter().zip(counts.chunks_exact(4)) {
            let count = u32::from_le_bytes(count.try_into().expect("4 bytes"));
            counter.fetch_add(count, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Bytes held.
    pub fn retained_bytes(&self) -> usize {
        self.counters.len() * 4
    }
}

/// The cut: common shingles of each scope, decided once all documents are counted.
pub struct CommonCut<'a> {
    sketch: &'a FrequencySketch,
    cut: u32,
}

impl<'a> CommonCut<'a> {
    /// The cut of `settings` over the documents counted in `sketch`.
    pub fn new(sketch: &'a FrequencySketch, settings: &CommonShingles) -> Self {
        let by_fraction = (settings.min_fraction * sketch.documents() as f64).ceil() as u32;
        CommonCut { sketch, cut: settings.min_docs.max(by_fraction) }
    }

    /// Whether `shingle` is common in `scope`.
    pub fn is_common(&self, scope: u64, shingle: u32) -> bool {
        scope != UNSCOPED && self.sketch.estimate(scope, shingle) >= self.cut
    }

    /// How many shingles of `set` are common in `scope`.
    pub fn count_common(&self, scope: u64, set: &[u32]) -> u32 {
        set.iter().filter(|&&s| self.is_common(scope, s)).count() as u32
    }

    /// |A' ∩ B'|, |A'|, |B'| where A' is `a` without the shingles common in its scope (and B'
    /// likewise): only the shared shingles are looked up, the sizes come from the counts.
    pub fn overlap(&self, a: ScopedSet, b: ScopedSet) -> (usize, usize, usize) {
        let mut shared = 0;
        crate::shingle_sets::for_each_common(a.set, b.set, |s| {
            if !self.is_common(a.scope, s) && !self.is_common(b.scope, s) {
                shared += 1;
            }
        });
        (shared, a.set.len() - a.common as usize, b.set.len() - b.common as usize)
    }
}

/// A document's shingle set as boilerplate-aware verification sees it.
#[derive(Debug, Clone, Copy)]
pub struct ScopedSet<'a> {
    /// The sorted distinct shingles.
    pub set: &'a [u32],
    /// Its scope ([`CommonShingles::scope_of`]).
    pub scope: u64,
    /// How many of them are common there ([`CommonCut::count_common`]).
    pub common: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn settings(min_docs: u32) -> CommonShingles {
        CommonShingles { scope_field: None, min_docs, min_fraction: 0.0 }
    }

    #[test]
    fn a_shingle_in_many_documents_of_a_scope_is_common_only_there() {
        let sketch = FrequencySketch::default();
        for doc in 0..10u32 {
            sketch.add_document(7, &[1, 2, 100 + doc]);
        }
        sketch.add_document(9, &[1]);
        let cut = CommonCut::new(&sketch, &settings(5));
        assert!(cut.is_common(7, 1) && cut.is_common(7, 2));
        sketch.add_document(UNSCOPED, &[1]);
        assert!(!cut.is_common(UNSCOPED, 1), "a document without a scope is never cut");
        assert!(!cut.is_common(7, 103) && !cut.is_common(9, 1));
        let set = [1, 2, 103];
        assert_eq!(cut.count_common(7, &set), 2);
        let scoped = |scope, set| ScopedSet { set, scope, common: cut.count_common(scope, set) };
        assert_eq!(cut.overlap(scoped(7, &set), scoped(7, &[1, 103, 104])), (1, 1, 2));
        assert_eq!(cut.overlap(scoped(9, &[1, 5]), scoped(9, &[1])), (1, 2, 1), "1 is not common on site 9");
    }

    #[test]
    fn the_fraction_raises_the_cut_with_the_corpus() {
        let sketch = FrequencySketch::default();
        for _ in 0..100 {
            sketch.add_document(1, &[5]);
        }
        let cut = CommonCut::new(&sketch, &CommonShingles { min_fraction: 0.5, ..settings(2) });
        assert_eq!(cut.cut, 50);
        let cut = CommonCut::new(&sketch, &CommonShingles { min_fraction: 1.0, ..settings(2) });
        assert!(cut.is_common(1, 5));
    }

    #[test]
    fn a_sketch_of_the_wrong_size_is_refused() {
        assert!(FrequencySketch::default().add_bytes(&[0; 12]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// Never fewer than the true count; merging two halves gives the whole.
        #[test]
        fn estimates_bound_counts_and_halves_merge_to_the_whole(
            docs in proptest::collection::vec((1u64..4, proptest::collection::btree_set(0u32..500, 0..40)), 1..40),
        ) {
            let whole = FrequencySketch::default();
            let (first, second) = (FrequencySketch::default(), FrequencySketch::default());
            for (i, (scope, set)) in docs.iter().enumerate() {
                let set: Vec<u32> = set.iter().copied().collect();
                whole.add_document(*scope, &set);
                if i % 2 == 0 { first.add_document(*scope, &set) } else { second.add_document(*scope, &set) }
            }
            first.add_bytes(&second.to_bytes()).unwrap();
            prop_assert_eq!(first.to_bytes(), whole.to_bytes());
            for scope in 1..4u64 {
                for shingle in 0..500u32 {
                    let truth = docs.iter().filter(|(s, set)| *s == scope && set.contains(&shingle)).count() as u32;
                    prop_assert!(whole.estimate(scope, shingle) >= truth);
                }
            }
        }
    }
}
