//! `dedup.exact`: exact document dedup on a 128-bit xxh3 hash of the normalised text (or of a
//! metadata field such as `url`); the first copy is kept.
//!
//! The hash is computed in parallel (the stage's prepare step); the sequential part keeps one
//! 16-byte hash per distinct document in a [`FirstSeen`] (22-30 bytes in all; plus the keeper's
//! id when a report is written), never the texts.

use std::path::PathBuf;
use std::sync::Arc;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    Barrier, Batch, BuildContext, BuildError, DocId, Document, DropReason, Emit, FieldRef, KeepFirstByKey,
    OnMatch, Stage, StageConfig, StageError, StageKind, Transform,
};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_128;

use crate::first_seen::FirstSeen;
use crate::normalize::Normalization;
use crate::report::{ReportRow, ReportSlot};

/// Configuration of `dedup.exact`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExactConfig {
    /// What to compare: `text`, `id` or `meta.<key>` (e.g. `meta.url`).
    #[serde(default = "default_field")]
    pub field: FieldRef,
    /// Which differences to ignore.
    #[serde(default)]
    pub normalize: Normalization,
    /// Write a cluster report (JSONL, one row per document) here.
    #[serde(default)]
    pub report: Option<PathBuf>,
    /// `drop` (default) or `annotate` (keep every document; `meta.dup.exact.verdict` is `keep`
    /// or `exact_duplicate`).
    #[serde(default = "OnMatch::default_drop")]
    pub on_match: OnMatch,
}

/// The metadata key of the verdict under `on_match: annotate`.
const VERDICT_KEY: &str = "dup.exact.verdict";

fn default_field() -> FieldRef {
    FieldRef::Text
}

impl StageConfig for ExactConfig {
    const TYPE: &'static str = "dedup.exact";
    const KIND: StageKind = StageKind::Barrier;
    const ON_MATCH: &'static [OnMatch] = OnMatch::DOCUMENTS;
    const SUMMARY: &'static str =
        "Drop exact duplicates (xxh3-128 of normalised text or a meta field), keep the first";
    const EXAMPLE: &'static str = "type: dedup.exact\nfield: text\nnormalize: { lowercase: true, whitespace: true }\nreport: out/exact-dups.jsonl\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] =
        &[("exact_duplicate", "the normalised field equals that of an earlier document")];

    fn build(&self, cx: &BuildContext) -> Result<Stage, BuildError> {
        let tag = (self.on_match == OnMatch::Annotate).then_some(VERDICT_KEY);
        let hasher = Arc::new(ExactHasher { field: self.field.clone(), normalize: self.normalize, tag });
        Ok(Stage::Barrier {
            prepare: Some(hasher.clone()),
            barrier: Box::new(ExactDedup::new(
                hasher,
                ReportSlot::new(self.report.as_deref().map(|p| cx.output_path(p)), cx.overwrite),
            )),
        })
    }
}

/// Hashes the configured field of a document.
#[derive(Debug, Clone)]
pub struct ExactHasher {
    field: FieldRef,
    normalize: Normalization,
    /// With `on_match: annotate`: the metadata key of the verdict.
    tag: Option<&'static str>,
}

impl ExactHasher {
    /// A hasher of the document text with the given normalisation.
    pub fn text(normalize: Normalization) -> Self {
        ExactHasher { field: FieldRef::Text, normalize, tag: None }
    }

    /// The 128-bit hash of the document's field, or `None` if the field is missing.
    pub fn hash(&self, doc: &Document) -> Option<u128> {
        let value = self.field.get(doc)?;
        if self.normalize == Normalization::NONE {
            return Some(xxh3_128(value.as_bytes()));
        }
        thread_local! {
            static NORMALISED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        Some(NORMALISED.with_borrow_mut(|normalised| {
            normalised.clear();
            self.normalize.apply_bytes(&value, normalised);
            let hash = xxh3_128(normalised);
            if normalised.capacity() > 1 << 20 {
                // One huge document must not pin its size of memory on this thread.
                *normalised = Vec::new();
            }
            hash
        }))
    }
}

struct ExactHash(Option<u128>);

impl Transform for ExactHasher {
    fn apply(&self, mut doc: Document, out: &mut Emit) -> Result<(), StageError> {
        doc.scratch = Some(Arc::new(ExactHash(self.hash(&doc))));
        out.keep(doc);
        Ok(())
    }
}

/// The sequential part of `dedup.exact`.
pub struct ExactDedup {
    hasher: Arc<ExactHasher>,
    /// The distinct hashes, by the position of their keeper (into `keepers`).
    seen: FirstSeen,
    keepers: Vec<DocId>,
    report: ReportSlot,
    missing: u64,
}

const DUPLICATE: DropReason = DropReason("exact_duplicate");

impl ExactDedup {
    fn new(hasher: Arc<ExactHasher>, report: ReportSlot) -> Self {
        ExactDedup { hasher, seen: FirstSeen::default(), keepers: Vec::new(), report, missing: 0 }
    }
}

/// One report row whose cluster and keeper are the same document.
fn row<'a>(id: &'a str, keeper: &'a str, reason: &'a str) -> ReportRow<'a> {
    ReportRow { id, cluster: keeper, keeper, similarity: 1.0, reason }
}

impl Barrier for ExactDedup {
    fn process(&mut self, batch: Batch, out: &mut Emit) -> Result<(), StageError> {
        let reporting = self.report.get()?.is_some();
        for mut doc in batch.docs {
            let hash = doc.take_scratch::<ExactHash>().map(|h| h.0).ok_or_else(|| StageError::Document {
                id: doc.id.clone(),
                message: "dedup.exact: hash missing (prepare step did not run)".into(),
            })?;
            let Some(hash) = hash else {
                self.missing += 1;
                if let Some(r) = self.report.get()? {
                    r.row(&row(&doc.id, &doc.id, "missing_field"))?;
                }
                out.keep(doc);
                continue;
            };
            let (keeper, is_new) = self.seen.insert(hash);
            if reporting && is_new {
                self.keepers.push(doc.id.clone());
            }
            if let Some(r) = self.report.get()? {
                let reason = if is_new { "keeper" } else { DUPLICATE.0 };
                r.row(&row(&doc.id, &self.keepers[keeper as usize], reason))?;
            }
            out.decide(doc, (!is_new).then_some(DUPLICATE), self.hasher.tag);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Emit) -> Result<(), StageError> {
        for (_, copies) in self.seen.repeated() {
            out.observe("cluster_size", f64::from(copies));
        }
        self.report.seal()
    }

    fn take_pending(&mut self) -> Vec<Box<dyn millstone_core::PendingOutput>> {
        self.report.take_pending()
    }

    fn retained_bytes(&self) -> usize {
        self.seen.bytes() + self.keepers.iter().map(|k| k.len() + 16).sum::<usize>()
    }

    fn summary(&self) -> Vec<(&'static str, u64)> {
        vec![("distinct", self.seen.len() as u64), ("missing_field", self.missing)]
    }

    fn state_bytes_per_document(&self) -> Option<u64> {
        // A hash and its table slot per distinct document (with growth room, see `FirstSeen`),
        // plus the keeper's id in a report.
        let report = if self.report.settings().0.is_some() { 40 } else { 0 };
        Some(30 + report)
    }

    fn keep_first_by_key(&self) -> Option<Arc<dyn KeepFirstByKey>> {
        let (report_path, overwrite) = self.report.settings();
        Some(Arc::new(ExactKeyed { hasher: self.hasher.clone(), report_path, overwrite }))
    }
}

/// `dedup.exact` split for distributed runs: the key is the hash, the verdicts come back as
/// positions of duplicates.
struct ExactKeyed {
    hasher: Arc<ExactHasher>,
    report_path: Option<PathBuf>,
    overwrite: bool,
}

impl KeepFirstByKey for ExactKeyed {
    fn key(&self, doc: &Document) -> Option<u128> {
        self.hasher.hash(doc)
    }

    fn apply(&self, duplicates: Vec<(u64, DocId)>) -> Box<dyn Barrier> {
        Box::new(ExactApply {
            hasher: self.hasher.clone(),
            duplicates,
            next: 0,
            position: 0,
            report: ReportSlot::new(self.report_path.clone(), self.overwrite),
            missing: 0,
        })
    }
}

/// Applies the verdicts of a distributed `dedup.exact` to one task's documents: the same
/// drops, counters and report rows as [`ExactDedup`] gives them in one process.
struct ExactApply {
    hasher: Arc<ExactHasher>,
    duplicates: Vec<(u64, DocId)>,
    next: usize,
    position: u64,
    report: ReportSlot,
    missing: u64,
}

impl Barrier for ExactApply {
    fn process(&mut self, batch: Batch, out: &mut Emit) -> Result<(), StageError> {
        for doc in batch.docs {
            let position = self.position;
            self.position += 1;
            let (reason, keeper) = if self.hasher.hash(&doc).is_none() {
                self.missing += 1;
                ("missing_field", None)
            } else if self.duplicates.get(self.next).is_some_and(|(p, _)| *p == position) {
                self.next += 1;
                (DUPLICATE.0, Some(self.duplicates[self.next - 1].1.clone()))
            } else {
                ("keeper", None)
            };
            if let Some(r) = self.report.get()? {
                r.row(&row(&doc.id, keeper.as_deref().unwrap_or(&doc.id), reason))?;
            }
            out.decide(doc, keeper.is_some().then_some(DUPLICATE), self.hasher.tag);
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut Emit) -> Result<(), StageError> {
        if self.next != self.duplicates.len() {
            return Err(StageError::other(format!(
                "dedup.exact: {} verdicts left over after {} documents: the task's input is not the one its keys were computed from",
                self.duplicates.len() - self.next,
                self.position
            )));
        }
        self.report.seal()
    }

    fn take_pending(&mut self) -> Vec<Box<dyn millstone_core::PendingOutput>> {
        self.report.take_pending()
    }

    fn retained_bytes(&self) -> usize {
        self.duplicates.iter().map(|(_, id)| id.len() + 24).sum()
    }

    fn summary(&self) -> Vec<(&'static str, u64)> {
        vec![("missing_field", self.missing)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn run(docs: Vec<Document>, normalize: Normalization) -> Vec<Document> {
        let hasher = ExactHasher::text(normalize);
        let mut barrier = ExactDedup::new(Arc::new(hasher.clone()), ReportSlot::new(None, true));
        let mut prepared = Emit::new(false);
        for d in docs {
            hasher.apply(d, &mut prepared).unwrap();
        }
        let (docs, _, _) = prepared.into_parts();
        let mut out = Emit::new(false);
        barrier.process(Batch::new(0, docs), &mut out).unwrap();
        out.into_parts().0
    }

    #[test]
    fn finish_observes_the_size_of_every_duplicate_cluster() {
        let hasher = ExactHasher::text(Normalization::default());
        let mut barrier = ExactDedup::new(Arc::new(hasher.clone()), ReportSlot::new(None, true));
        let mut prepared = Emit::new(false);
        for (id, text) in [("a", "x"), ("b", "y"), ("c", "x"), ("d", "z"), ("e", "x"), ("f", "y")] {
            hasher.apply(Document::new(id, text), &mut prepared).unwrap();
        }
        let mut out = Emit::new(false);
        barrier.process(Batch::new(0, prepared.into_parts().0), &mut out).unwrap();
        barrier.finish(&mut out).unwrap();
        let (_, observations) = out.take_profile();
        let (_, sizes) = observations.iter().find(|(name, _)| *name == "cluster_size").unwrap();
        assert_eq!((sizes.count, sizes.min, sizes.max), (2, 2.0, 3.0), "{{x x x}} and {{y y}}; z is alone");
    }

    #[test]
    fn keeps_first_copy_under_normalisation() {
        let docs = vec![
            Document::new("a", "Hello  World"),
            Document::new("b", "hello world"),
            Document::new("c", "Hello, World"),
        ];
        let kept: Vec<String> =
            run(docs.clone(), Normalization::default()).iter().map(|d| d.id.to_string()).collect();
        assert_eq!(kept, ["a", "c"]);
        let n = Normalization { punctuation: true, ..Default::default() };
        assert_eq!(run(docs, n).len(), 1);
    }

    /// The distributed form: keys per part, first of each key found over all parts in order,
    /// verdicts applied per part; the kept documents and report rows are those of one process.
    fn run_split(docs: Vec<Document>, cuts: &[usize]) -> (Vec<String>, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let single = ExactDedup::new(
            Arc::new(ExactHasher::text(Normalization::default())),
            ReportSlot::new(Some(dir.path().join("r.jsonl")), true),
        );
        let keyed = single.keep_first_by_key().unwrap();
        let mut bounds = vec![0];
        bounds.extend(cuts.iter().map(|c| c % (docs.len() + 1)));
        bounds.push(docs.len());
        bounds.sort_unstable();
        let parts: Vec<&[Document]> = bounds.windows(2).map(|w| &docs[w[0]..w[1]]).collect();
        let mut first: HashMap<u128, DocId> = HashMap::new();
        let mut kept = Vec::new();
        let mut rows = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let duplicates: Vec<(u64, DocId)> = part
                .iter()
                .enumerate()
                .filter_map(|(p, d)| {
                    let key = keyed.key(d)?;
                    match first.get(&key) {
                        Some(keeper) => Some((p as u64, keeper.clone())),
                        None => {
                            first.insert(key, d.id.clone());
                            None
                        }
                    }
                })
                .collect();
            let mut apply = keyed.apply(duplicates);
            let mut out = Emit::new(false);
            apply.process(Batch::new(0, part.to_vec()), &mut out).unwrap();
            apply.finish(&mut out).unwrap();
            kept.extend(out.into_parts().0.into_iter().map(|d| d.id.to_string()));
            let target = dir.path().join(format!("part-{i}.jsonl"));
            for pending in apply.take_pending() {
                let path = pending.commit().unwrap();
                std::fs::rename(&path, &target).unwrap();
                rows.extend(std::fs::read_to_string(&target).unwrap().lines().map(String::from));
            }
        }
        (kept, rows)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn the_distributed_form_gives_the_single_process_answer(
            docs in millstone_testkit::documents(30),
            cuts in proptest::collection::vec(0usize..40, 0..4),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut single = ExactDedup::new(
                Arc::new(ExactHasher::text(Normalization::default())),
                ReportSlot::new(Some(dir.path().join("single.jsonl")), true),
            );
            let mut prepared = Emit::new(false);
            for d in docs.clone() {
                single.hasher.clone().apply(d, &mut prepared).unwrap();
            }
            let mut out = Emit::new(false);
            single.process(Batch::new(0, prepared.into_parts().0), &mut out).unwrap();
            single.finish(&mut out).unwrap();
            let kept: Vec<String> = out.into_parts().0.into_iter().map(|d| d.id.to_string()).collect();
            let path = single.take_pending().pop().unwrap().commit().unwrap();
            let rows: Vec<String> = std::fs::read_to_string(path).unwrap().lines().map(String::from).collect();
            prop_assert_eq!(run_split(docs, &cuts), (kept, rows));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn matches_a_naive_reference(docs in millstone_testkit::documents(40)) {
            let n = Normalization::default();
            let kept = run(docs.clone(), n);
            let mut seen = std::collections::HashSet::new();
            let expected: Vec<&Document> = docs.iter().filter(|d| seen.insert(n.apply(&d.text))).collect();
            prop_assert_eq!(kept.iter().map(|d| &d.id).collect::<Vec<_>>(), expected.iter().map(|d| &d.id).collect::<Vec<_>>());
            // Running again on the output removes nothing.
            prop_assert_eq!(run(kept.clone(), n).len(), kept.len());
        }
    }
}
