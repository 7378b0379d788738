//! Exact verification shared by the near-duplicate stages: every document's true shingle set
//! (on disk, [`ShingleSets`]) and, with `common_shingles`, its scope and the shared shingle
//! frequencies, so that a cluster member is checked against its keeper on the sets
//! themselves, boilerplate left out, whatever sketch proposed the pair (MinHash or SimHash).
//! In one process the sets are in a spill file; in a distributed run they travel in each
//! document's record and [`ExactRecord`] reads them back.

use std::path::Path;
use std::sync::Arc;

use millstone_core::{Document, StageError};

use crate::frequency::{CommonCut, CommonShingles, FrequencySketch, ScopedSet};
use crate::shingle_sets::{intersection, shingle_set, ShingleSets};

/// The shingle frequencies of a run and when a shingle is common.
pub(crate) type Frequencies = (Arc<FrequencySketch>, CommonShingles);

/// New frequencies for these settings.
pub(crate) fn frequencies(common: Option<&CommonShingles>) -> Option<Frequencies> {
    common.map(|c| (Arc::new(FrequencySketch::default()), c.clone()))
}

/// A signing task's shingle counts, for the cluster step ([`millstone_core::NearDuplicates`]).
pub(crate) fn corpus_state(frequencies: Option<&Frequencies>) -> Option<Vec<u8>> {
    frequencies.map(|(sketch, _)| sketch.to_bytes())
}

/// Adds a signing task's shingle counts.
pub(crate) fn add_corpus_state(frequencies: Option<&Frequencies>, state: &[u8]) -> Result<(), StageError> {
    frequencies.map_or(Ok(()), |(sketch, _)| sketch.add_bytes(state))
}

/// A document's set as the prepare step computes it: sorted distinct folded shingle hashes and
/// its scope; the set is counted into the frequencies when they are given.
pub(crate) struct ExactSet {
    pub(crate) set: Vec<u32>,
    pub(crate) scope: u64,
}

impl ExactSet {
    pub(crate) fn new(folded: Vec<u32>, doc: &Document, frequencies: Option<&Frequencies>) -> Self {
        let set = shingle_set(folded);
        let scope = frequencies.map_or(0, |(sketch, common)| {
            let scope = common.scope_of(doc);
            sketch.add_document(scope, &set);
            scope
        });
        ExactSet { set, scope }
    }

    /// Appends the set (and the scope, with frequencies) to a record.
    pub(crate) fn encode(&self, with_scope: bool, record: &mut Vec<u8>) {
        if with_scope {
            record.extend_from_slice(&self.scope.to_le_bytes());
        }
        for v in &self.set {
            record.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// Jaccard similarity from |A ∩ B|, |A| and |B|, with the sizes as `u32`s.
pub(crate) fn jaccard_of((common, a, b): (usize, usize, usize)) -> (f64, u32, u32) {
    (common as f64 / (a + b - common).max(1) as f64, a as u32, b as u32)
}

/// The exact sets of one process's documents 0, 1, 2, ...
pub(crate) struct ExactVerifier {
    sets: ShingleSets,
    frequencies: Option<Frequencies>,
    /// Each document's scope (empty without frequencies).
    scopes: Vec<u64>,
    /// How many shingles of each document are common in its scope (`u32::MAX`: not counted
    /// yet; empty without frequencies).
    common_counts: Vec<u32>,
}

impl ExactVerifier {
    /// A verifier with its spill file in `dir`.
    pub(crate) fn create(dir: Option<&Path>, frequencies: Option<Frequencies>) -> Result<Self, StageError> {
        Ok(ExactVerifier {
            sets: ShingleSets::create(dir)?,
            frequencies,
            scopes: Vec::new(),
            common_counts: Vec::new(),
        })
    }

    /// Adds the next document's set.
    pub(crate) fn push(&mut self, set: &ExactSet) -> Result<(), StageError> {
        self.sets.push(&set.set)?;
        if self.frequencies.is_some() {
            self.scopes.push(set.scope);
            self.common_counts.push(u32::MAX);
        }
        Ok(())
    }

    /// |A ∩ B|, |A|, |B| of documents `a` (pass the keeper: its set stays cached) and `b`,
    /// shingles common in each one's scope left out.
    pub(crate) fn overlap(&mut self, a: u32, b: u32) -> Result<(usize, usize, usize), StageError> {
        let Some((sketch, common)) = &self.frequencies else {
            return self.sets.overlap(a, b);
        };
        let cut = CommonCut::new(sketch, common);
        let (scope_a, scope_b) = (self.scopes[a as usize], self.scopes[b as usize]);
        let counts = &mut self.common_counts;
        self.sets.with_pair(a, b, |set_a, set_b| {
            let mut common_of = |doc: u32, scope, set| {
                if counts[doc as usize] == u32::MAX {
                    counts[doc as usize] = cut.count_common(scope, set);
                }
                counts[doc as usize]
            };
            let (common_a, common_b) = (common_of(a, scope_a, set_a), common_of(b, scope_b, set_b));
            cut.overlap(
                ScopedSet { set: set_a, scope: scope_a, common: common_a },
                ScopedSet { set: set_b, scope: scope_b, common: common_b },
            )
        })
    }

    /// Heap bytes held.
    pub(crate) fn retained_bytes(&self) -> usize {
        self.sets.retained_bytes()
            + self.scopes.capacity() * 8
            + self.common_counts.capacity() * 4
            + self.frequencies.as_ref().map_or(0, |(sketch, _)| sketch.retained_bytes())
    }

    /// About how many of those bytes each document adds.
    pub(crate) fn bytes_per_document(with_frequencies: bool) -> u64 {
        8 + if with_frequencies { 12 } else { 0 }
    }

    /// Whether shingle frequencies are counted (`common_shingles`).
    pub(crate) fn counts_frequencies(&self) -> bool {
        self.frequencies.is_some()
    }

    /// Bytes of sets on disk.
    pub(crate) fn disk_bytes(&self) -> u64 {
        self.sets.disk_bytes()
    }
}

/// A document's exact set read back from its record in a distributed run.
pub(crate) struct ExactRecord {
    scope: u64,
    set: Vec<u32>,
    common: u32,
}

impl ExactRecord {
    /// Reads what [`ExactSet::encode`] wrote (all of `bytes`).
    pub(crate) fn decode(bytes: &[u8], with_scope: bool) -> Result<Self, StageError> {
        let bad = || StageError::other("a near-duplicate record is truncated or corrupt");
        let (scope, rest) = if with_scope {
            let (scope, rest) = bytes.split_at_checked(8).ok_or_else(bad)?;
            (u64::from_le_bytes(scope.try_into().expect("8 bytes")), rest)
        } else {
            (0, bytes)
        };
        if rest.len() % 4 != 0 {
            return Err(bad());
        }
        let set = rest.chunks_exact(4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes"))).collect();
        Ok(ExactRecord { scope, set, common: 0 })
    }

    /// This record with its common shingles counted (once, before its component is clustered).
    pub(crate) fn with_common_counted(mut self, cut: Option<&CommonCut>) -> Self {
        if let Some(cut) = cut {
            self.common = cut.count_common(self.scope, &self.set);
        }
        self
    }

    /// Whether the set is empty (the document has no shingles).
    pub(crate) fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// |A ∩ B|, |A|, |B| of two records, common shingles left out with `cut`.
    pub(crate) fn overlap(&self, other: &ExactRecord, cut: Option<&CommonCut>) -> (usize, usize, usize) {
        match cut {
            Some(cut) => cut.overlap(
                ScopedSet { set: &self.set, scope: self.scope, common: self.common },
                ScopedSet { set: &other.set, scope: other.scope, common: other.common },
            ),
            None => (intersection(&self.set, &other.set), self.set.len(), other.set.len()),
        }
    }
}
