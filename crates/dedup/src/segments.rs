//! `dedup.exact_segments`: paragraph- or line-level exact dedup across the corpus (CCNet).
//!
//! * `keep: first` (default): a segment's first copy stays; later copies are removed (or, with
//!   `on_match: annotate`, marked). Streams, unless `scope_field` is set.
//! * `keep: none`: every segment that occurs in two or more documents is removed everywhere
//!   (CCNet's behaviour). Needs two passes: documents wait in a spill file.
//! * `scope_field` (e.g. `meta.site`): a segment that recurs in at least `scope_min_docs` documents
//!   of the *same* source is that source's boilerplate and goes everywhere in it; a segment
//!   shared across *different* sources (syndication, quotations) keeps its first copy.
//!
//! Memory: one 16-byte hash (plus a 4-byte count in two-pass modes) per distinct segment.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::text::{line_ranges, paragraph_ranges, remove_ranges};
use millstone_core::{
    Barrier, Batch, BuildContext, BuildError, Document, DropReason, Emit, FieldError, FieldRef, OnMatch,
    Span, SpillFile, Stage, StageConfig, StageError, StageKind, Transform,
};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

use crate::normalize::Normalization;
use crate::report::{ClusterReport, ReportRow};

/// What a segment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SegmentUnit {
    /// Blank-line separated paragraphs.
    #[default]
    Paragraphs,
    /// Non-empty lines.
    Lines,
}

/// Which copy of a repeated segment stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeepCopy {
    /// The first copy stays; later ones are matches.
    #[default]
    First,
    /// None: every copy of a segment that occurs in two or more documents is a match (CCNet).
    None,
}

/// Configuration of `dedup.exact_segments`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentsConfig {
    /// `paragraphs` or `lines`.
    #[serde(default)]
    pub unit: SegmentUnit,
    /// Which copy of a repeated segment stays: `first` or `none`.
    #[serde(default)]
    pub keep: KeepCopy,
    /// `remove` the matched segments or `annotate` them with `duplicate` spans.
    #[serde(default = "OnMatch::default_remove")]
    pub on_match: OnMatch,
    /// Which differences to ignore.
    #[serde(default)]
    pub normalize: Normalization,
    /// Segments shorter than this many characters are never touched.
    #[serde(default = "default_min_length")]
    pub min_length: usize,
    /// The field naming the source (`meta.site`); enables per-source boilerplate removal.
    #[serde(default)]
    pub scope_field: Option<FieldRef>,
    /// With `scope_field`: a segment in at least this many documents of one source is boilerplate.
    #[serde(default = "default_scope_min_docs")]
    pub scope_min_docs: u32,
    /// Drop a document left with fewer characters than this.
    #[serde(default = "default_min_remaining")]
    pub min_remaining_chars: usize,
    /// Write a report (one JSONL row per document: how much of it was removed).
    #[serde(default)]
    pub report: Option<PathBuf>,
    /// Where the spill file goes (two-pass modes); default: the system temp folder.
    #[serde(default)]
    pub spill_dir: Option<PathBuf>,
}

fn default_min_length() -> usize {
    20
}
fn default_scope_min_docs() -> u32 {
    3
}
fn default_min_remaining() -> usize {
    1
}

impl StageConfig for SegmentsConfig {
    const TYPE: &'static str = "dedup.exact_segments";
    const ON_MATCH: &'static [OnMatch] = OnMatch::SPANS;
    const RENAMED: &'static [(&'static str, &'static str)] = &[("action", "on_match"), ("mode", "keep")];
    const KIND: StageKind = StageKind::Barrier;
    const SUMMARY: &'static str =
        "Paragraph/line exact dedup across the corpus (keep first or CCNet remove-all, per-source scope)";
    const EXAMPLE: &'static str =
        "type: dedup.exact_segments\nunit: paragraphs\nkeep: first\nscope_field: meta.site\nmin_length: 30\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] = &[(
        "all_segments_duplicate",
        "nothing (or less than min_remaining_chars) was left after segment dedup",
    )];

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        if self.scope_field.is_some() && self.scope_min_docs < 2 {
            return Err(vec![FieldError::new("scope_min_docs", "must be at least 2")]);
        }
        Ok(())
    }

    fn build(&self, cx: &BuildContext) -> Result<Stage, BuildError> {
        let report = self.report.as_deref().map(|p| cx.output_path(p));
        let segmenter = Segmenter { config: SegmentsConfig { report, ..self.clone() } };
        Ok(Stage::Barrier {
            prepare: Some(Arc::new(segmenter.clone())),
            barrier: Box::new(SegmentDedup {
                segmenter,
                overwrite: cx.overwrite,
                first_seen: HashSet::new(),
                counts: HashMap::new(),
                scoped: HashMap::new(),
                spill: None,
                report: None,
                segments_removed: 0,
                pending: Vec::new(),
            }),
        })
    }
}

/// A segment: its byte range and the hash of its normalised text.
#[derive(Debug, Clone)]
struct Segment {
    range: std::ops::Range<usize>,
    hash: u128,
}

struct Segments {
    source: Option<u64>,
    list: Vec<Segment>,
}

#[derive(Debug, Clone)]
struct Segmenter {
    config: SegmentsConfig,
}

impl Segmenter {
    fn two_pass(&self) -> bool {
        self.config.keep == KeepCopy::None || self.config.scope_field.is_some()
    }

    fn segments(&self, doc: &Document) -> Segments {
        let text = &doc.text;
        let ranges: Vec<std::ops::Range<usize>> = match self.config.unit {
            SegmentUnit::Paragraphs => paragraph_ranges(text).collect(),
            SegmentUnit::Lines => line_ranges(text)
                .filter(|&(s, e, _)| !text[s..e].trim().is_empty())
                .map(|(s, e, _)| s..e)
                .collect(),
        };
        let list = ranges
            .into_iter()
            .filter(|r| text[r.clone()].trim().chars().count() >= self.config.min_length)
            .map(|range| Segment {
                hash: xxh3_128(self.config.normalize.apply(&text[range.clone()]).as_bytes()),
                range,
            })
            .collect();
        let source = self.config.scope_field.as_ref().and_then(|f| f.get(doc)).map(|s| xxh3_64(s.as_bytes()));
        Segments { source, list }
    }
}

impl Transform for Segmenter {
    fn apply(&self, mut doc: Document, out: &mut Emit) -> Result<(), StageError> {
        doc.scratch = Some(Arc::new(self.segments(&doc)));
        out.keep(doc);
        Ok(())
    }
}

fn scoped_key(source: u64, hash: u128) -> u128 {
    hash ^ (u128::from(source) << 64 | u128::from(source.rotate_left(29)))
}

struct SegmentDedup {
    segmenter: Segmenter,
    overwrite: bool,
    first_seen: HashSet<u128>,
    counts: HashMap<u128, u32>,
    scoped: HashMap<u128, u32>,
    spill: Option<SpillFile>,
    report: Option<ClusterReport>,
    segments_removed: u64,
    pending: Vec<Box<dyn millstone_core::PendingOutput>>,
}

impl SegmentDedup {
    /// Decides about one document's segments and emits it.
    fn decide(&mut self, doc: Document, segments: &Segments, out: &mut Emit) -> Result<(), StageError> {
        let config = &self.segmenter.config;
        let (first_seen, counts, scoped) = (&mut self.first_seen, &self.counts, &self.scoped);
        let removed = emit_decided(config, doc, segments, self.report.as_mut(), out, |_, segment| {
            let boilerplate = segments.source.is_some_and(|source| {
                scoped.get(&scoped_key(source, segment.hash)).copied().unwrap_or(0) >= config.scope_min_docs
            });
            boilerplate
                || match config.keep {
                    KeepCopy::None => counts.get(&segment.hash).copied().unwrap_or(0) >= 2,
                    KeepCopy::First => !first_seen.insert(segment.hash),
                }
        })?;
        self.segments_removed += removed;
        Ok(())
    }

    fn open_report(&mut self) -> Result<(), StageError> {
        if self.report.is_none() {
            if let Some(path) = &self.segmenter.config.report {
                self.report = Some(ClusterReport::create(path, self.overwrite)?);
            }
        }
        Ok(())
    }
}

/// Removes (or annotates) the segments `duplicate(index, segment)` says are matches, writes
/// the report row, and keeps or drops the document; returns how many segments matched. One
/// process and the apply step of a distributed run both decide through here.
fn emit_decided(
    config: &SegmentsConfig,
    mut doc: Document,
    segments: &Segments,
    report: Option<&mut ClusterReport>,
    out: &mut Emit,
    mut duplicate: impl FnMut(usize, &Segment) -> bool,
) -> Result<u64, StageError> {
    let mut removed: Vec<std::ops::Range<usize>> = Vec::new();
    for (index, segment) in segments.list.iter().enumerate() {
        if duplicate(index, segment) {
            // Take the line breaks after the segment too, so no empty lines pile up.
            let rest = &doc.text[segment.range.end..];
            let breaks = rest.len() - rest.trim_start_matches(['\r', '\n']).len();
            removed.push(segment.range.start..segment.range.end + breaks);
        }
    }
    let before = doc.text.len();
    let annotate = config.on_match == OnMatch::Annotate;
    if annotate {
        doc.spans.extend(removed.iter().map(|r| Span::new(r.start, r.end, "duplicate")));
        doc.spans.sort_by_key(|s| (s.start, s.end));
    } else if !removed.is_empty() {
        doc.set_text(remove_ranges(&doc.text, removed.iter().cloned()));
    }
    let removed_bytes: usize = removed.iter().map(|r| r.len()).sum();
    let remaining =
        if annotate { before.saturating_sub(removed_bytes) } else { doc.text.trim().chars().count() };
    let keep = remaining >= config.min_remaining_chars;
    if let Some(report) = report {
        let reason = match (removed.is_empty(), keep) {
            (true, _) => "unchanged",
            (false, true) => "segments_removed",
            (false, false) => "all_segments_duplicate",
        };
        let kept_fraction = 1.0 - removed_bytes as f64 / before.max(1) as f64;
        report.row(&ReportRow {
            id: &doc.id,
            cluster: &doc.id,
            keeper: &doc.id,
            similarity: (kept_fraction * 1e4).round() / 1e4,
            reason,
        })?;
    }
    if !removed.is_empty() {
        out.count("segments_removed", removed.len() as u64);
    }
    let reason = (!keep).then_some(DropReason("all_segments_duplicate"));
    out.decide(doc, reason, annotate.then_some("exact_segments.verdict"));
    Ok(removed.len() as u64)
}

/// `dedup.exact_segments` split for distributed runs: every occurrence of a segment hash is
/// decided with all the others in the hash's bucket, as one process decides it.
struct SegmentsSplit {
    segmenter: Segmenter,
    overwrite: bool,
}

impl millstone_core::SegmentMatches for SegmentsSplit {
    fn segments(&self, doc: &Document) -> (Option<u64>, Vec<u128>) {
        let segments = self.segmenter.segments(doc);
        (segments.source, segments.list.iter().map(|s| s.hash).collect())
    }

    fn matches(&self, occurrences: &[(Option<u64>, u64)]) -> Vec<bool> {
        let config = &self.segmenter.config;
        // Documents containing the segment, in all and per source (occurrences are in input
        // order, so a document's occurrences are adjacent).
        let mut documents = 0u32;
        let mut per_source: HashMap<u64, u32> = HashMap::new();
        for (i, &(source, ordinal)) in occurrences.iter().enumerate() {
            if i == 0 || occurrences[i - 1].1 != ordinal {
                documents += 1;
                if let Some(source) = source {
                    *per_source.entry(source).or_default() += 1;
                }
            }
        }
        // Keep `first`: the first occurrence that is not boilerplate stays, as one process
        // remembers only segments it did not remove as boilerplate.
        let mut seen = false;
        occurrences
            .iter()
            .map(|&(source, _)| {
                let boilerplate = source.is_some_and(|s| per_source[&s] >= config.scope_min_docs);
                boilerplate
                    || match config.keep {
                        KeepCopy::None => documents >= 2,
                        KeepCopy::First => std::mem::replace(&mut seen, true),
                    }
            })
            .collect()
    }

    fn distinct_counter(&self) -> &'static str {
        "distinct_segments"
    }

    fn apply(&self, matches: Vec<(u64, u32)>) -> Box<dyn Barrier> {
        Box::new(SegmentsApply {
            segmenter: self.segmenter.clone(),
            matches,
            next: 0,
            position: 0,
            report: crate::report::ReportSlot::new(self.segmenter.config.report.clone(), self.overwrite),
        })
    }
}

/// Applies the matches of a distributed `dedup.exact_segments` to one task's documents.
struct SegmentsApply {
    segmenter: Segmenter,
    matches: Vec<(u64, u32)>,
    next: usize,
    position: u64,
    report: crate::report::ReportSlot,
}

impl Barrier for SegmentsApply {
    fn process(&mut self, batch: Batch, out: &mut Emit) -> Result<(), StageError> {
        for mut doc in batch.docs {
            let segments = match doc.take_scratch::<Segments>() {
                Some(s) => s,
                None => Arc::new(self.segmenter.segments(&doc)),
            };
            let position = self.position;
            self.position += 1;
            let (matches, next) = (&self.matches, &mut self.next);
            let report = self.report.get()?;
            emit_decided(&self.segmenter.config, doc, &segments, report, out, |index, _| {
                let hit = matches.get(*next).is_some_and(|&m| m == (position, index as u32));
                *next += hit as usize;
                hit
            })?;
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut Emit) -> Result<(), StageError> {
        if self.next != self.matches.len() {
            return Err(StageError::other(format!(
                "dedup.exact_segments: {} matches left over after {} documents: the task's input is not the one its segments were listed from",
                self.matches.len() - self.next,
                self.position
            )));
        }
        self.report.seal()
    }

    fn take_pending(&mut self) -> Vec<Box<dyn millstone_core::PendingOutput>> {
        self.report.take_pending()
    }

    fn retained_bytes(&self) -> usize {
        self.matches.capacity() * 16
    }
}

impl Barrier for SegmentDedup {
    fn process(&mut self, batch: Batch, out: &mut Emit) -> Result<(), StageError> {
        for mut doc in batch.docs {
            let segments = match doc.take_scratch::<Segments>() {
                Some(s) => s,
                None => Arc::new(self.segmenter.segments(&doc)),
            };
            if self.segmenter.two_pass() {
                let mut distinct: Vec<u128> = segments.list.iter().map(|s| s.hash).collect();
                distinct.sort_unstable();
                distinct.dedup();
                for hash in distinct {
                    *self.counts.entry(hash).or_default() += 1;
                    if let Some(source) = segments.source {
                        *self.scoped.entry(scoped_key(source, hash)).or_default() += 1;
                    }
                }
                if self.spill.is_none() {
                    self.spill = Some(SpillFile::create(self.segmenter.config.spill_dir.as_deref())?);
                }
                self.spill.as_mut().expect("created above").push(doc)?;
            } else {
                self.open_report()?;
                self.decide(doc, &segments, out)?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut Emit) -> Result<(), StageError> {
        self.open_report()
    }

    fn drain(&mut self, out: &mut Emit, max_docs: usize) -> Result<bool, StageError> {
        if let Some(mut spill) = self.spill.take() {
            for _ in 0..max_docs {
                match spill.read_next()? {
                    Some(doc) => {
                        let segments = self.segmenter.segments(&doc);
                        self.decide(doc, &segments, out)?;
                    }
                    None => return self.close_report(),
                }
            }
            self.spill = Some(spill);
            return Ok(true);
        }
        self.close_report()
    }

    fn take_pending(&mut self) -> Vec<Box<dyn millstone_core::PendingOutput>> {
        std::mem::take(&mut self.pending)
    }

    fn retained_bytes(&self) -> usize {
        self.first_seen.capacity() * 17 + (self.counts.capacity() + self.scoped.capacity()) * 21
    }

    fn summary(&self) -> Vec<(&'static str, u64)> {
        vec![("distinct_segments", self.first_seen.len().max(self.counts.len()) as u64)]
    }

    fn segment_matches(&self) -> Option<Arc<dyn millstone_core::SegmentMatches>> {
        Some(Arc::new(SegmentsSplit { segmenter: self.segmenter.clone(), overwrite: self.overwrite }))
    }
}

impl SegmentDedup {
    fn close_report(&mut self) -> Result<bool, StageError> {
        if let Some(report) = self.report.take() {
            self.pending.push(report.seal()?);
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn config() -> SegmentsConfig {
        serde_json::from_value(serde_json::json!({"min_length": 5})).unwrap()
    }

    fn run(config: SegmentsConfig, docs: Vec<Document>) -> Vec<Document> {
        millstone_testkit::run_barrier(config.build(&BuildContext::for_tests()).unwrap(), docs, 64).0
    }

    fn docs() -> Vec<Document> {
        vec![
            Document::new("a", "Story A opening.\n\nShared quotation paragraph.\n\nSite footer text.")
                .with_meta("site", "x"),
            Document::new("b", "Story B opening.\n\nSite footer text.").with_meta("site", "x"),
            Document::new("c", "Story C opening.\n\nSite footer text.").with_meta("site", "x"),
            Document::new("d", "Story D opening.\n\nShared quotation paragraph.").with_meta("site", "y"),
        ]
    }

    fn texts(out: &[Document]) -> Vec<String> {
        out.iter().map(|d| d.text.replace("\n\n", " | ").trim().to_string()).collect()
    }

    #[test]
    fn keep_first_remove_all_and_scope() {
        assert_eq!(
            texts(&run(config(), docs())),
            [
                "Story A opening. | Shared quotation paragraph. | Site footer text.",
                "Story B opening. |",
                "Story C opening. |",
                "Story D opening. |"
            ]
        );
        let remove_all = SegmentsConfig { keep: KeepCopy::None, ..config() };
        assert_eq!(
            texts(&run(remove_all, docs())),
            ["Story A opening. |", "Story B opening. |", "Story C opening. |", "Story D opening. |"]
        );
        // Scoped: the footer (3 docs of site x) is boilerplate everywhere on x; the quotation
        // shared across sites keeps its first copy.
        let scoped = SegmentsConfig { scope_field: Some(FieldRef::meta("site")), ..config() };
        assert_eq!(
            texts(&run(scoped, docs())),
            [
                "Story A opening. | Shared quotation paragraph. |",
                "Story B opening. |",
                "Story C opening. |",
                "Story D opening. |"
            ]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100))]
        #[test]
        fn output_is_idempotent_and_marks_are_valid(docs in millstone_testkit::documents(20)) {
            let once = run(config(), docs.clone());
            let twice = run(config(), once.clone());
            prop_assert_eq!(texts(&once), texts(&twice));
            let marked = run(SegmentsConfig { on_match: OnMatch::Annotate, min_remaining_chars: 0, ..config() }, docs);
            for d in &marked {
                millstone_testkit::assert_spans_valid(d);
            }
        }
    }
}
