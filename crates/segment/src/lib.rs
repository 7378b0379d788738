//! # millstone-segment
//!
//! Segmenters find byte ranges of a document's text — lines, paragraphs — and either annotate
//! the document with [`Span`]s (`mode: annotate`, the default) or emit one document per segment
//! (`mode: explode`, with `parent_id`, `index`, `start`, `end` in meta).
//!
//! Guarantees, checked by property tests on hostile Unicode: spans are non-empty, ordered,
//! non-overlapping, on char boundaries, and the text between spans is only separators
//! (line breaks and blank lines), so segments plus separators give back the text exactly.
//!
//! ```
//! use millstone_segment::paragraph_ranges;
//! let text = "First para\nstill first.\n\n\r\nSecond.\n";
//! let paras: Vec<&str> = paragraph_ranges(text).map(|r| &text[r]).collect();
//! assert_eq!(paras, ["First para\nstill first.", "Second."]);
//! ```
#![deny(missing_docs)]

use std::ops::Range;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, Document, Registry, Span, Split, SplitStage, Stage, StageConfig, StageError,
    StageKind, Transform,
};
use serde::Deserialize;

/// Registers every stage of this crate.
pub fn register(registry: &mut Registry) {
    registry.register::<LinesConfig>();
    registry.register::<ParagraphsConfig>();
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A segment range is not on char boundaries (a bug; reported rather than panicking).
    #[error("segment {start}..{end} is not on char boundaries")]
    BadRange {
        /// Start byte.
        start: usize,
        /// End byte.
        end: usize,
    },
}

/// Whether a segmenter annotates or explodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Add spans to the document.
    #[default]
    Annotate,
    /// Emit one document per segment.
    Explode,
}

/// Non-empty lines (without their terminators; `\n`, `\r\n` or `\r`), skipping blank lines.
pub fn line_ranges(text: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    millstone_core::text::line_ranges(text)
        .filter(|&(start, end, _)| !text[start..end].trim().is_empty())
        .map(|(start, end, _)| start..end)
}

pub use millstone_core::text::paragraph_ranges;

/// A segmenter over a range function, shared by the line and paragraph stages.
pub struct Segmenter {
    label: &'static str,
    mode: Mode,
    ranges: fn(&str) -> Vec<Range<usize>>,
}

impl Segmenter {
    fn annotate(&self, mut doc: Document) -> Document {
        let ranges = (self.ranges)(&doc.text);
        doc.spans.retain(|s| s.label != self.label);
        doc.spans.extend(ranges.into_iter().map(|r| Span::new(r.start, r.end, self.label)));
        doc.spans.sort_by_key(|s| (s.start, s.end));
        doc
    }
}

impl Split for Segmenter {
    fn split(&self, doc: Document, out: &mut Vec<Document>) -> Result<(), StageError> {
        for (index, range) in (self.ranges)(&doc.text).into_iter().enumerate() {
            let text = doc.text.get(range.clone()).ok_or_else(|| {
                StageError::other(Error::BadRange { start: range.start, end: range.end }.to_string())
            })?;
            let mut piece = Document::new(format!("{}#{}{index}", doc.id, &self.label[..1]), text);
            piece.provenance = doc.provenance.clone();
            piece.meta = doc.meta.clone();
            piece.meta.insert("parent_id".into(), doc.id.to_string().into());
            piece.meta.insert("index".into(), index.into());
            piece.meta.insert("start".into(), range.start.into());
            piece.meta.insert("end".into(), range.end.into());
            out.push(piece);
        }
        Ok(())
    }
}

struct Annotator(Segmenter);

impl Transform for Annotator {
    fn apply(&self, doc: Document, out: &mut millstone_core::Emit) -> Result<(), StageError> {
        out.keep(self.0.annotate(doc));
        Ok(())
    }
}

fn build(label: &'static str, mode: Mode, ranges: fn(&str) -> Vec<Range<usize>>) -> Stage {
    let segmenter = Segmenter { label, mode, ranges };
    match segmenter.mode {
        Mode::Annotate => Stage::transform(Annotator(segmenter)),
        Mode::Explode => Stage::transform(SplitStage(segmenter)),
    }
}

/// Configuration of `segment.lines`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinesConfig {
    /// `annotate` (spans labelled `line`) or `explode` (a document per line).
    #[serde(default)]
    pub mode: Mode,
}

impl StageConfig for LinesConfig {
    const TYPE: &'static str = "segment.lines";
    const KIND: StageKind = StageKind::Transform;
    const SUMMARY: &'static str = "Non-empty lines as byte-offset spans (or one document per line)";
    const EXAMPLE: &'static str = "type: segment.lines\nmode: annotate\n";
    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(build("line", self.mode, |t| line_ranges(t).collect()))
    }
}

/// Configuration of `segment.paragraphs`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParagraphsConfig {
    /// `annotate` (spans labelled `paragraph`) or `explode` (a document per paragraph).
    #[serde(default)]
    pub mode: Mode,
}

impl StageConfig for ParagraphsConfig {
    const TYPE: &'static str = "segment.paragraphs";
    const KIND: StageKind = StageKind::Transform;
    const SUMMARY: &'static str =
        "Blank-line separated paragraphs as byte-offset spans (or one document each)";
    const EXAMPLE: &'static str = "type: segment.paragraphs\nmode: annotate\n";
    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(build("paragraph", self.mode, |t| paragraph_ranges(t).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check_partition(text: &str, ranges: &[Range<usize>]) {
        let mut pos = 0;
        for r in ranges {
            assert!(r.start < r.end && r.start >= pos, "{ranges:?}");
            assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
            assert!(
                text[pos..r.start].chars().all(char::is_whitespace),
                "non-separator text skipped: {:?}",
                &text[pos..r.start]
            );
            pos = r.end;
        }
        assert!(text[pos..].chars().all(char::is_whitespace));
    }

    #[test]
    fn crlf_and_cr() {
        let t = "a\r\nb\r\rc\n \n\td";
        assert_eq!(line_ranges(t).map(|r| &t[r]).collect::<Vec<_>>(), ["a", "b", "c", "\td"]);
        assert_eq!(paragraph_ranges(t).map(|r| &t[r]).collect::<Vec<_>>(), ["a\r\nb", "c", "\td"]);
    }

    #[test]
    fn explode_carries_offsets() {
        let seg =
            Segmenter { label: "paragraph", mode: Mode::Explode, ranges: |t| paragraph_ranges(t).collect() };
        let mut out = Vec::new();
        seg.split(Document::new("p", "one\n\ntwo"), &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].text, "two");
        assert_eq!(out[1].meta["start"], 5);
        assert_eq!(out[1].meta["parent_id"], "p");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn segments_partition_the_text(text in millstone_testkit::text_with_long_lines()) {
            let lines: Vec<_> = line_ranges(&text).collect();
            let paras: Vec<_> = paragraph_ranges(&text).collect();
            check_partition(&text, &lines);
            check_partition(&text, &paras);
            // Every line lies inside exactly one paragraph.
            for l in &lines {
                prop_assert_eq!(paras.iter().filter(|p| p.start <= l.start && l.end <= p.end).count(), 1);
            }
            let seg = Segmenter { label: "paragraph", mode: Mode::Annotate, ranges: |t| paragraph_ranges(t).collect() };
            let doc = seg.annotate(Document::new("x", text.clone()));
            millstone_testkit::assert_spans_valid(&doc);
            // Annotating twice gives the same spans.
            prop_assert_eq!(seg.annotate(doc.clone()).spans, doc.spans);
        }
    }
}
