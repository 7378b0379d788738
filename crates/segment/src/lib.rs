//! # millstone-segment
//!
//! Segmenters find byte ranges of a document's text — lines, paragraphs, sentences, chunks —
//! and either annotate
//! the document with [`Span`]s (`on_match: annotate`, the default) or emit one document per segment
//! (`on_match: split`, with `parent_id`, `index`, `start`, `end` in meta).
//!
//! <!-- stages:begin: generated from the registry by tests/docs.rs -->
//! | type | kind | what it does | on_match |
//! |---|---|---|---|
//! | `segment.chunks` | transform | Windows of chars, words, sentences or tiktoken tokens with size and overlap | annotate, split |
//! | `segment.lines` | transform | Non-empty lines as byte-offset spans (or one document per line) | annotate, split |
//! | `segment.paragraphs` | transform | Blank-line separated paragraphs as byte-offset spans (or one document each) | annotate, split |
//! | `segment.sentences` | transform | Sentences: abbreviations, initials, times, ellipses, quotes, citations, list items, 8 languages | annotate, split |
//! | `segment.tokens` | transform | Count tokens (tiktoken encodings or a tokenizer.json) into meta.tokens | - |
//! <!-- stages:end -->
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

pub mod chunks;
pub mod sentences;
pub mod tokens;

use std::ops::Range;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, Document, OnMatch, Registry, Span, Split, SplitStage, Stage, StageConfig,
    StageError, StageKind, Transform,
};
use serde::{Deserialize, Serialize};

/// Registers every stage of this crate.
pub fn register(registry: &mut Registry) {
    registry.register::<LinesConfig>();
    registry.register::<ParagraphsConfig>();
    registry.register::<SentencesConfig>();
    registry.register::<ChunksConfig>();
    registry.register::<tokens::TokensConfig>();
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

/// Whether a segmenter annotates or explodes (from the stage's `on_match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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

type RangeFn = std::sync::Arc<dyn Fn(&str) -> Vec<Range<usize>> + Send + Sync>;

/// A segmenter over a range function, shared by every segment stage.
pub struct Segmenter {
    label: &'static str,
    mode: Mode,
    ranges: RangeFn,
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
                StageError::Crate(Box::new(Error::BadRange { start: range.start, end: range.end }))
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

fn mode(on_match: OnMatch) -> Mode {
    match on_match {
        OnMatch::Split => Mode::Explode,
        _ => Mode::Annotate,
    }
}

fn build(
    label: &'static str,
    mode: Mode,
    ranges: impl Fn(&str) -> Vec<Range<usize>> + Send + Sync + 'static,
) -> Stage {
    let segmenter = Segmenter { label, mode, ranges: std::sync::Arc::new(ranges) };
    match segmenter.mode {
        Mode::Annotate => Stage::transform(Annotator(segmenter)),
        Mode::Explode => Stage::transform(SplitStage(segmenter)),
    }
}

/// Configuration of `segment.lines`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinesConfig {
    /// `annotate` (spans labelled `line`) or `split` (a document per line).
    #[serde(default = "OnMatch::default_annotate")]
    pub on_match: OnMatch,
}

impl StageConfig for LinesConfig {
    const TYPE: &'static str = "segment.lines";
    const KIND: StageKind = StageKind::Transform;
    const ON_MATCH: &'static [OnMatch] = OnMatch::SEGMENTS;
    const RENAMED: &'static [(&'static str, &'static str)] = &[("mode", "on_match")];
    const SUMMARY: &'static str = "Non-empty lines as byte-offset spans (or one document per line)";
    const EXAMPLE: &'static str = "type: segment.lines\non_match: annotate\n";
    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(build("line", mode(self.on_match), |t| line_ranges(t).collect()))
    }
}

/// Configuration of `segment.paragraphs`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParagraphsConfig {
    /// `annotate` (spans labelled `paragraph`) or `split` (a document per paragraph).
    #[serde(default = "OnMatch::default_annotate")]
    pub on_match: OnMatch,
}

impl StageConfig for ParagraphsConfig {
    const TYPE: &'static str = "segment.paragraphs";
    const KIND: StageKind = StageKind::Transform;
    const ON_MATCH: &'static [OnMatch] = OnMatch::SEGMENTS;
    const RENAMED: &'static [(&'static str, &'static str)] = &[("mode", "on_match")];
    const SUMMARY: &'static str =
        "Blank-line separated paragraphs as byte-offset spans (or one document each)";
    const EXAMPLE: &'static str = "type: segment.paragraphs\non_match: annotate\n";
    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(build("paragraph", mode(self.on_match), |t| paragraph_ranges(t).collect()))
    }
}

/// Configuration of `segment.sentences`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SentencesConfig {
    /// `annotate` (spans labelled `sentence`) or `split` (a document per sentence).
    #[serde(default = "OnMatch::default_annotate")]
    pub on_match: OnMatch,
    /// Abbreviation and sentence-opener lists: `en`, `de`, `fr`, `es`, `it`, `pt`, `nl`, `ru`
    /// (terminal punctuation of other scripts, `。！？ ؟ ۔ ।`, is known whatever the language).
    #[serde(default = "default_language")]
    pub language: String,
    /// A single line break ends a sentence (headings, list items), except inside hard-wrapped
    /// prose (a lowercase line after a line of 3+ words without a sentence end); `false` treats
    /// every single line break as wrapping.
    #[serde(default = "yes")]
    pub newline_boundary: bool,
}

fn default_language() -> String {
    "en".into()
}
fn yes() -> bool {
    true
}

use sentences::LANGUAGES;

impl StageConfig for SentencesConfig {
    const TYPE: &'static str = "segment.sentences";
    const KIND: StageKind = StageKind::Transform;
    const ON_MATCH: &'static [OnMatch] = OnMatch::SEGMENTS;
    const RENAMED: &'static [(&'static str, &'static str)] = &[("mode", "on_match")];
    const SUMMARY: &'static str =
        "Sentences: abbreviations, initials, times, ellipses, quotes, citations, list items, 8 languages";
    const EXAMPLE: &'static str = "type: segment.sentences\nlanguage: en\nnewline_boundary: true\n";

    fn validate(&self) -> Result<(), Vec<millstone_core::FieldError>> {
        if !LANGUAGES.contains(&self.language.as_str()) {
            let expected = LANGUAGES.join(", ");
            return Err(vec![millstone_core::FieldError::new(
                "language",
                format!("must be one of {expected}"),
            )]);
        }
        Ok(())
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        let language: &'static str = LANGUAGES.iter().copied().find(|l| *l == self.language).unwrap_or("en");
        let newline_boundary = self.newline_boundary;
        Ok(build("sentence", mode(self.on_match), move |t| {
            sentences::sentence_ranges(t, &sentences::SentenceOptions { language, newline_boundary })
        }))
    }
}

/// Configuration of `segment.chunks`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChunksConfig {
    /// `annotate` (spans labelled `chunk`) or `split` (a document per chunk, a chunk table).
    #[serde(default = "OnMatch::default_annotate")]
    pub on_match: OnMatch,
    /// `chars`, `words`, `sentences` or `tokens`.
    #[serde(default)]
    pub unit: chunks::ChunkUnit,
    /// Units per chunk.
    pub size: usize,
    /// Units shared by consecutive chunks.
    #[serde(default)]
    pub overlap: usize,
    /// Tokenizer for `unit: tokens`.
    #[serde(default)]
    pub encoding: chunks::Encoding,
    /// End chunks at a sentence boundary when one is in the second half of the window.
    #[serde(default = "yes")]
    pub respect_sentences: bool,
    /// Abbreviation list for sentence boundaries.
    #[serde(default = "default_language")]
    pub language: String,
}

impl StageConfig for ChunksConfig {
    const TYPE: &'static str = "segment.chunks";
    const KIND: StageKind = StageKind::Transform;
    const ON_MATCH: &'static [OnMatch] = OnMatch::SEGMENTS;
    const RENAMED: &'static [(&'static str, &'static str)] = &[("mode", "on_match")];
    const SUMMARY: &'static str =
        "Windows of chars, words, sentences or tiktoken tokens with size and overlap";
    const EXAMPLE: &'static str =
        "type: segment.chunks\nunit: tokens\nencoding: cl100k_base\nsize: 512\noverlap: 64\non_match: split\n";

    fn validate(&self) -> Result<(), Vec<millstone_core::FieldError>> {
        let mut errors = Vec::new();
        if self.size == 0 {
            errors.push(millstone_core::FieldError::new("size", "must be at least 1"));
        }
        if self.overlap >= self.size.max(1) {
            errors.push(millstone_core::FieldError::new("overlap", "must be smaller than size"));
        }
        if !LANGUAGES.contains(&self.language.as_str()) {
            errors.push(millstone_core::FieldError::new(
                "language",
                format!("must be one of {}", LANGUAGES.join(", ")),
            ));
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        let language: &'static str = LANGUAGES.iter().copied().find(|l| *l == self.language).unwrap_or("en");
        let c = self.clone();
        Ok(build("chunk", mode(self.on_match), move |t| {
            chunks::chunk_ranges(
                t,
                c.unit,
                c.encoding,
                c.size,
                c.overlap,
                c.respect_sentences,
                &sentences::SentenceOptions { language, newline_boundary: true },
            )
        }))
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
        let seg = Segmenter {
            label: "paragraph",
            mode: Mode::Explode,
            ranges: std::sync::Arc::new(|t: &str| paragraph_ranges(t).collect()),
        };
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
            let seg = Segmenter { label: "paragraph", mode: Mode::Annotate, ranges: std::sync::Arc::new(|t: &str| paragraph_ranges(t).collect()) };
            // Sentences: ordered, non-overlapping, on char boundaries, only whitespace between them.
            let sentences = sentences::sentence_ranges(&text, &sentences::SentenceOptions::default());
            check_partition(&text, &sentences);
            let doc = seg.annotate(Document::new("x", text.clone()));
            millstone_testkit::assert_spans_valid(&doc);
            // Annotating twice gives the same spans.
            prop_assert_eq!(seg.annotate(doc.clone()).spans, doc.spans);
        }
    }
}
