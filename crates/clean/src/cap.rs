//! `clean.cap`: at most N documents per source, for mixtures where no site or dump may
//! dominate. Which documents stay is decided by the same hash as `clean.sample` (of the id by
//! default, with the seed): per source, the `cap` documents with the smallest hashes — a
//! bottom-k sample, uniform over the source and the same at any thread count, batch size or
//! input order. A stage after `clean.sample` with the same seed keeps a subset of what the rate
//! kept.
//!
//! It is a barrier: the decision for the first document of a source needs the last. It holds
//! 16 bytes per kept document of each capped source, and the documents themselves in a spill
//! file; they go on in input order. In a distributed run it is one global step (one task sees
//! every source); with `--shard i/N` each shard is capped on its own.
//!
//! ```yaml
//! type: clean.cap
//! by: meta.site
//! cap: 1000              # any other site
//! caps: { wikipedia.org: 5000 }
//! seed: 7
//! ```

use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::path::PathBuf;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    Barrier, Batch, BuildContext, BuildError, Document, DropReason, Emit, FieldError, FieldRef, OnMatch,
    SpillFile, Stage, StageConfig, StageError, StageKind,
};
use serde::{Deserialize, Serialize};

use crate::sample::sample_hash;

/// Configuration of `clean.cap`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapConfig {
    /// The field naming a document's source (`meta.source`, `meta.site`); documents without
    /// it are one source of their own, capped by `cap`.
    pub by: FieldRef,
    /// Most documents of a source not listed in `caps` (default: no cap).
    #[serde(default)]
    pub cap: Option<u64>,
    /// Most documents per value of `by`.
    #[serde(default)]
    pub caps: BTreeMap<String, u64>,
    /// The field whose hash decides (default `id`), as in `clean.sample`.
    #[serde(default = "default_field")]
    pub field: FieldRef,
    /// Seed of the hash, as in `clean.sample`.
    #[serde(default)]
    pub seed: u64,
    /// `drop` (default) or `annotate` (keep everything; `source_cap` in meta says `keep` or
    /// `over_source_cap`).
    #[serde(default = "OnMatch::default_drop")]
    pub on_match: OnMatch,
    /// Where the spill file goes; default: the system temp folder.
    #[serde(default)]
    pub spill_dir: Option<PathBuf>,
}

fn default_field() -> FieldRef {
    FieldRef::Id
}

const OVER_CAP: DropReason = DropReason("over_source_cap");

impl StageConfig for CapConfig {
    const TYPE: &'static str = "clean.cap";
    const KIND: StageKind = StageKind::Barrier;
    const ON_MATCH: &'static [OnMatch] = OnMatch::DOCUMENTS;
    const SUMMARY: &'static str =
        "At most N documents per source: the N smallest hashes of the id (bottom-k), as clean.sample";
    const EXAMPLE: &'static str = "type: clean.cap\nby: meta.site\ncap: 1000\ncaps: { a.org: 2 }\nseed: 7\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] =
        &[("over_source_cap", "its source has `cap` documents with smaller hashes")];

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        if self.cap.is_none() && self.caps.is_empty() {
            return Err(vec![FieldError::new("cap", "give `cap` (every source) and/or `caps` (per source)")]);
        }
        Ok(())
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::barrier(SourceCap {
            config: self.clone(),
            sources: HashMap::new(),
            spill: None,
            thresholds: None,
            ordinal: 0,
        }))
    }
}

/// One source's bottom-k: the largest of its `cap` smallest `(hash, ordinal)` on top.
#[derive(Debug, Default)]
struct Smallest {
    cap: usize,
    heap: BinaryHeap<(u64, u64)>,
}

impl Smallest {
    fn offer(&mut self, key: (u64, u64)) {
        if self.heap.len() < self.cap {
            self.heap.push(key);
        } else if self.heap.peek().is_some_and(|top| key < *top) {
            self.heap.pop();
            self.heap.push(key);
        }
    }
    /// The largest key kept, once the cap is reached (before it, every document stays).
    fn threshold(&self) -> Option<(u64, u64)> {
        (self.heap.len() >= self.cap).then(|| self.heap.peek().copied().unwrap_or((0, 0)))
    }
}

struct SourceCap {
    config: CapConfig,
    sources: HashMap<String, Smallest>,
    spill: Option<SpillFile>,
    /// After `finish`: the largest key kept per capped source that reached its cap.
    thresholds: Option<HashMap<String, (u64, u64)>>,
    ordinal: u64,
}

impl SourceCap {
    fn cap_of(&self, source: &str) -> Option<u64> {
        self.config.caps.get(source).copied().or(self.config.cap)
    }
    /// The source of a document (empty when it has none) and its `(hash, ordinal)` key.
    fn key(&self, doc: &Document, ordinal: u64) -> (String, (u64, u64)) {
        let source = self.config.by.get(doc).map(|s| s.into_owned()).unwrap_or_default();
        let value = self.config.field.get(doc).unwrap_or_default();
        (source, (sample_hash(&value, self.config.seed), ordinal))
    }
}

impl Barrier for SourceCap {
    fn process(&mut self, batch: Batch, _out: &mut Emit) -> Result<(), StageError> {
        if self.spill.is_none() {
            self.spill = Some(SpillFile::create(self.config.spill_dir.as_deref())?);
        }
        for doc in batch.docs {
            let (source, key) = self.key(&doc, self.ordinal);
            self.ordinal += 1;
            if let Some(cap) = self.cap_of(&source) {
                let cap = usize::try_from(cap).unwrap_or(usize::MAX);
                self.sources
                    .entry(source)
                    .or_insert_with(|| Smallest { cap, heap: BinaryHeap::new() })
                    .offer(key);
            }
            self.spill.as_mut().expect("created above").push(doc)?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Emit) -> Result<(), StageError> {
        let sources = std::mem::take(&mut self.sources);
        out.count("sources", sources.len() as u64);
        let thresholds: HashMap<String, (u64, u64)> = sources
            .into_iter()
            .filter_map(|(source, smallest)| Some((source, smallest.threshold()?)))
            .collect();
        out.count("sources_capped", thresholds.len() as u64);
        self.thresholds = Some(thresholds);
        self.ordinal = 0;
        Ok(())
    }

    fn drain(&mut self, out: &mut Emit, max_docs: usize) -> Result<bool, StageError> {
        let Some(mut spill) = self.spill.take() else { return Ok(false) };
        for _ in 0..max_docs {
            let Some(doc) = spill.read_next()? else { return Ok(false) };
            let (source, key) = self.key(&doc, self.ordinal);
            self.ordinal += 1;
            let thresholds = self.thresholds.as_ref().expect("finish ran before drain");
            let over = match self.cap_of(&source) {
                Some(0) => true,
                Some(_) => thresholds.get(&source).is_some_and(|largest| key > *largest),
                None => false,
            };
            let tag = (self.config.on_match == OnMatch::Annotate).then_some("source_cap");
            out.decide(doc, over.then_some(OVER_CAP), tag);
        }
        self.spill = Some(spill);
        Ok(true)
    }

    fn retained_bytes(&self) -> usize {
        self.sources.values().map(|s| s.heap.capacity() * 16).sum::<usize>()
            + self.sources.keys().map(|k| k.capacity() + 64).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn config(on_match: OnMatch) -> CapConfig {
        CapConfig {
            by: FieldRef::meta("site"),
            cap: Some(3),
            caps: BTreeMap::from([("big.org".to_string(), 5), ("none.org".to_string(), 0)]),
            field: FieldRef::Id,
            seed: 7,
            on_match,
            spill_dir: None,
        }
    }

    fn docs(sites: &[(&str, usize)]) -> Vec<Document> {
        let mut docs = Vec::new();
        for (site, n) in sites {
            for i in 0..*n {
                docs.push(Document::new(format!("{site}/{i}"), "text").with_meta("site", *site));
            }
        }
        docs
    }

    fn kept_ids(config: &CapConfig, docs: &[Document], batch: usize) -> Vec<String> {
        let stage = config.build(&BuildContext::for_tests()).unwrap();
        let outcome = millstone_testkit::laws::run_barrier(stage, docs, batch).unwrap();
        outcome.kept.iter().map(|d| d.id.to_string()).collect()
    }

    #[test]
    fn caps_each_source_to_its_smallest_hashes() {
        let all = docs(&[("big.org", 20), ("small.org", 2), ("mid.org", 10), ("none.org", 4)]);
        let kept = kept_ids(&config(OnMatch::Drop), &all, 4);
        let count = |site: &str| kept.iter().filter(|id| id.starts_with(site)).count();
        assert_eq!((count("big.org"), count("small.org"), count("mid.org"), count("none.org")), (5, 2, 3, 0));
        // The kept ones are those with the smallest hashes of their source.
        let mut mid: Vec<(u64, String)> =
            (0..10).map(|i| format!("mid.org/{i}")).map(|id| (sample_hash(&id, 7), id)).collect();
        mid.sort();
        let expected: Vec<&String> = mid.iter().take(3).map(|(_, id)| id).collect();
        let mut got: Vec<&String> = kept.iter().filter(|id| id.starts_with("mid.org")).collect();
        got.sort_by_key(|id| sample_hash(id, 7));
        assert_eq!(got, expected);
        // Output keeps input order.
        let positions: Vec<usize> =
            kept.iter().map(|id| all.iter().position(|d| &*d.id == id).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn annotate_keeps_all_and_marks_the_rest_and_documents_without_a_source_share_one_cap() {
        let mut all = docs(&[("big.org", 8)]);
        all.extend((0..5).map(|i| Document::new(format!("loose/{i}"), "t")));
        let stage = config(OnMatch::Annotate).build(&BuildContext::for_tests()).unwrap();
        let outcome = millstone_testkit::laws::run_barrier(stage, &all, 3).unwrap();
        assert_eq!(outcome.kept.len(), 13);
        let over = |prefix: &str| {
            outcome
                .kept
                .iter()
                .filter(|d| d.id.starts_with(prefix) && d.meta["source_cap"] == "over_source_cap")
                .count()
        };
        assert_eq!((over("big.org"), over("loose")), (3, 2));
        assert!(CapConfig { cap: None, caps: BTreeMap::new(), ..config(OnMatch::Drop) }.validate().is_err());
    }

    proptest! {
        /// The kept set does not depend on the batch size or the input order.
        #[test]
        fn same_kept_set_at_any_batch_size_and_order(
            sizes in prop::collection::vec(0usize..12, 1..5),
            batch in 1usize..9,
            seed in any::<u64>(),
        ) {
            let sites = ["big.org", "a.org", "b.org", "c.org"];
            let all = docs(&sizes.iter().zip(sites).map(|(n, s)| (s, *n)).collect::<Vec<_>>());
            let mut reversed = all.clone();
            reversed.reverse();
            let mut cfg = config(OnMatch::Drop);
            cfg.seed = seed;
            let mut one = kept_ids(&cfg, &all, 1);
            let mut other = kept_ids(&cfg, &reversed, batch);
            one.sort();
            other.sort();
            prop_assert_eq!(&one, &other);
            for (n, site) in sizes.iter().zip(sites) {
                let cap = if site == "big.org" { 5 } else { 3 };
                prop_assert_eq!(one.iter().filter(|id| id.starts_with(site)).count(), (*n).min(cap));
            }
        }
    }
}
