//! `dedup.exact`: exact document dedup on a 128-bit xxh3 hash of the normalised text (or of a
//! metadata field such as `url`); the first copy is kept.
//!
//! The hash is computed in parallel (the stage's prepare step); the sequential part keeps one
//! 16-byte hash per distinct document (plus the keeper's id when a report is written), never
//! the texts.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    Barrier, Batch, BuildContext, BuildError, DocId, Document, DropReason, Emit, FieldRef, Stage,
    StageConfig, StageError, StageKind, Transform,
};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::normalize::Normalization;
use crate::report::{ClusterReport, ReportRow};

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
}

fn default_field() -> FieldRef {
    FieldRef::Text
}

impl StageConfig for ExactConfig {
    const TYPE: &'static str = "dedup.exact";
    const KIND: StageKind = StageKind::Barrier;
    const SUMMARY: &'static str =
        "Drop exact duplicates (xxh3-128 of normalised text or a meta field), keep the first";
    const EXAMPLE: &'static str = "type: dedup.exact\nfield: text\nnormalize: { lowercase: true, whitespace: true }\nreport: out/exact-dups.jsonl\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] =
        &[("exact_duplicate", "the normalised field equals that of an earlier document")];

    fn build(&self, cx: &BuildContext) -> Result<Stage, BuildError> {
        let hasher = Arc::new(ExactHasher { field: self.field.clone(), normalize: self.normalize });
        Ok(Stage::Barrier {
            prepare: Some(hasher),
            barrier: Box::new(ExactDedup {
                seen: HashMap::new(),
                keepers: Vec::new(),
                report_path: self.report.as_deref().map(|p| cx.output_path(p)),
                report: None,
                overwrite: cx.overwrite,
                missing: 0,
                pending: Vec::new(),
            }),
        })
    }
}

/// Hashes the configured field of a document.
#[derive(Debug, Clone)]
pub struct ExactHasher {
    field: FieldRef,
    normalize: Normalization,
}

impl ExactHasher {
    /// A hasher of the document text with the given normalisation.
    pub fn text(normalize: Normalization) -> Self {
        ExactHasher { field: FieldRef::Text, normalize }
    }

    /// The 128-bit hash of the document's field, or `None` if the field is missing.
    pub fn hash(&self, doc: &Document) -> Option<u128> {
        let value = self.field.get(doc)?;
        let value = value.as_ref();
        let mut hasher = Xxh3::new();
        let mut buf = [0u8; 4];
        let mut chunk = String::with_capacity(256);
        self.normalize.for_each_char(value, |c| {
            chunk.push_str(c.encode_utf8(&mut buf));
            if chunk.len() >= 240 {
                hasher.update(chunk.as_bytes());
                chunk.clear();
            }
        });
        hasher.update(chunk.as_bytes());
        Some(hasher.digest128())
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
    seen: HashMap<u128, u32>,
    keepers: Vec<DocId>,
    report_path: Option<PathBuf>,
    report: Option<ClusterReport>,
    overwrite: bool,
    missing: u64,
    pending: Vec<Box<dyn millstone_core::PendingOutput>>,
}

const DUPLICATE: DropReason = DropReason("exact_duplicate");

impl ExactDedup {
    fn open_report(&mut self) -> Result<(), StageError> {
        if self.report.is_none() {
            if let Some(path) = &self.report_path {
                self.report = Some(ClusterReport::create(path, self.overwrite)?);
            }
        }
        Ok(())
    }
}

impl Barrier for ExactDedup {
    fn process(&mut self, batch: Batch, out: &mut Emit) -> Result<(), StageError> {
        self.open_report()?;
        for mut doc in batch.docs {
            let hash = doc.take_scratch::<ExactHash>().map(|h| h.0).ok_or_else(|| StageError::Document {
                id: doc.id.clone(),
                message: "dedup.exact: hash missing (prepare step did not run)".into(),
            })?;
            let Some(hash) = hash else {
                self.missing += 1;
                if let Some(r) = &mut self.report {
                    r.row(&ReportRow {
                        id: &doc.id,
                        cluster: &doc.id,
                        keeper: &doc.id,
                        similarity: 1.0,
                        reason: "missing_field",
                    })?;
                }
                out.keep(doc);
                continue;
            };
            let next = self.seen.len() as u32;
            let keeper = *self.seen.entry(hash).or_insert(next);
            let is_new = keeper == next;
            if self.report.is_some() && is_new {
                self.keepers.push(doc.id.clone());
            }
            if let Some(r) = &mut self.report {
                let keeper_id = &self.keepers[keeper as usize];
                let reason = if is_new { "keeper" } else { DUPLICATE.0 };
                r.row(&ReportRow {
                    id: &doc.id,
                    cluster: keeper_id,
                    keeper: keeper_id,
                    similarity: 1.0,
                    reason,
                })?;
            }
            if is_new {
                out.keep(doc);
            } else {
                out.drop(doc, DUPLICATE);
            }
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut Emit) -> Result<(), StageError> {
        self.open_report()?;
        if let Some(report) = self.report.take() {
            self.pending.push(report.seal()?);
        }
        Ok(())
    }

    fn take_pending(&mut self) -> Vec<Box<dyn millstone_core::PendingOutput>> {
        std::mem::take(&mut self.pending)
    }

    fn retained_bytes(&self) -> usize {
        self.seen.capacity() * (std::mem::size_of::<(u128, u32)>() + 1)
            + self.keepers.iter().map(|k| k.len() + 16).sum::<usize>()
    }

    fn summary(&self) -> Vec<(&'static str, u64)> {
        vec![("distinct", self.seen.len() as u64), ("missing_field", self.missing)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(docs: Vec<Document>, normalize: Normalization) -> Vec<Document> {
        let hasher = ExactHasher::text(normalize);
        let mut barrier = ExactDedup {
            seen: HashMap::new(),
            keepers: Vec::new(),
            report_path: None,
            report: None,
            overwrite: true,
            missing: 0,
            pending: Vec::new(),
        };
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
