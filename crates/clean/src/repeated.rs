//! `clean.repeated_lines`: lines that recur across many documents of the same source are that
//! source's boilerplate (navigation, footers, appeals), and are removed everywhere in it.
//!
//! This is CCNet's insight restricted to one source at a time: a line repeated across documents
//! of *different* sources (a syndicated paragraph, a famous quotation) is content and stays.
//! Two passes are needed (count, then remove), so documents wait in a spill file; memory holds
//! one 16-byte count entry per distinct short line per source, never the texts.

use std::collections::HashMap;
use std::sync::Arc;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    Barrier, Batch, BuildContext, BuildError, Document, Emit, FieldError, FieldRef, OnMatch, Span, SpillFile,
    Stage, StageConfig, StageError, StageKind, Transform,
};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::boilerplate::remove_spans;

/// Configuration of `clean.repeated_lines`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepeatedLinesConfig {
    /// The field naming the source (`meta.site`, `meta.domain`); documents without it are left alone.
    pub scope_field: FieldRef,
    /// A line is boilerplate when it appears in at least this many documents of its source...
    #[serde(default = "default_min_docs")]
    pub min_docs: u32,
    /// ...and in at least this fraction of them.
    #[serde(default)]
    pub min_fraction: f64,
    /// Only lines up to this many characters are considered (content paragraphs are long).
    #[serde(default = "default_max_line_chars")]
    pub max_line_chars: usize,
    /// `remove` (delete the lines) or `annotate` (spans labelled `boilerplate`).
    #[serde(default = "OnMatch::default_remove")]
    pub on_match: OnMatch,
    /// Where the spill file goes; default: the system temp folder.
    #[serde(default)]
    pub spill_dir: Option<std::path::PathBuf>,
}

fn default_min_docs() -> u32 {
    3
}
fn default_max_line_chars() -> usize {
    200
}

impl StageConfig for RepeatedLinesConfig {
    const TYPE: &'static str = "clean.repeated_lines";
    const ON_MATCH: &'static [OnMatch] = OnMatch::SPANS;
    const RENAMED: &'static [(&'static str, &'static str)] =
        &[("mode", "on_match"), ("field", "scope_field")];
    const KIND: StageKind = StageKind::Barrier;
    const SUMMARY: &'static str =
        "Remove lines that recur across documents of the same source (site boilerplate)";
    const EXAMPLE: &'static str = "type: clean.repeated_lines\nscope_field: meta.site\nmin_docs: 3\n";

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.min_docs < 2 {
            errors.push(FieldError::new("min_docs", "must be at least 2"));
        }
        if !(0.0..=1.0).contains(&self.min_fraction) {
            errors.push(FieldError::new("min_fraction", "must be between 0 and 1"));
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        let lines = LineKeys { field: self.scope_field.clone(), max_line_chars: self.max_line_chars };
        Ok(Stage::Barrier {
            prepare: Some(Arc::new(lines.clone())),
            barrier: Box::new(RepeatedLines {
                config: self.clone(),
                lines,
                counts: HashMap::new(),
                source_docs: HashMap::new(),
                spill: None,
                lines_removed: 0,
            }),
        })
    }
}

/// Finds a document's source and the keys of its candidate lines.
#[derive(Debug, Clone)]
struct LineKeys {
    field: FieldRef,
    max_line_chars: usize,
}

struct Keys {
    source: Option<u64>,
    lines: Vec<u64>,
}

fn line_key(source: u64, line: &str) -> u64 {
    let folded: String = line.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    xxh3_64(folded.as_bytes()) ^ source.rotate_left(17).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl LineKeys {
    fn source(&self, doc: &Document) -> Option<u64> {
        self.field.get(doc).map(|s| xxh3_64(s.as_bytes()))
    }

    /// `(start, end_with_terminator, key)` for each candidate line.
    fn lines<'a>(&'a self, text: &'a str, source: u64) -> impl Iterator<Item = (usize, usize, u64)> + 'a {
        millstone_core::text::line_ranges(text).filter_map(move |(start, end, next)| {
            let line = text[start..end].trim();
            (!line.is_empty() && line.chars().count() <= self.max_line_chars)
                .then(|| (start, next, line_key(source, line)))
        })
    }

    fn keys(&self, doc: &Document) -> Keys {
        match self.source(doc) {
            None => Keys { source: None, lines: Vec::new() },
            Some(source) => {
                let mut lines: Vec<u64> = self.lines(&doc.text, source).map(|(_, _, k)| k).collect();
                lines.sort_unstable();
                lines.dedup();
                Keys { source: Some(source), lines }
            }
        }
    }
}

impl Transform for LineKeys {
    fn apply(&self, mut doc: Document, out: &mut Emit) -> Result<(), StageError> {
        doc.scratch = Some(Arc::new(self.keys(&doc)));
        out.keep(doc);
        Ok(())
    }
}

/// The sequential part of `clean.repeated_lines`.
pub struct RepeatedLines {
    config: RepeatedLinesConfig,
    lines: LineKeys,
    counts: HashMap<u64, u32>,
    source_docs: HashMap<u64, u32>,
    spill: Option<SpillFile>,
    lines_removed: u64,
}

impl RepeatedLines {
    fn totals(&self) -> Totals<'_> {
        Totals {
            config: &self.config,
            lines: &self.lines,
            counts: &self.counts,
            source_docs: &self.source_docs,
        }
    }
}

/// The counts over every document, and what they decide.
struct Totals<'a> {
    config: &'a RepeatedLinesConfig,
    lines: &'a LineKeys,
    counts: &'a HashMap<u64, u32>,
    source_docs: &'a HashMap<u64, u32>,
}

impl Totals<'_> {
    fn is_boilerplate(&self, source: u64, key: u64) -> bool {
        let count = self.counts.get(&key).copied().unwrap_or(0);
        let docs = self.source_docs.get(&source).copied().unwrap_or(0);
        count >= self.config.min_docs && count as f64 >= self.config.min_fraction * docs as f64
    }

    /// Removes (or annotates) the document's boilerplate lines and emits it; returns how many
    /// lines it had.
    fn clean(&self, mut doc: Document, out: &mut Emit) -> u64 {
        let mut removed = 0;
        if let Some(source) = self.lines.source(&doc) {
            let spans: Vec<Span> = self
                .lines
                .lines(&doc.text, source)
                .filter(|&(_, _, key)| self.is_boilerplate(source, key))
                .map(|(start, end, _)| Span::new(start, end, "boilerplate"))
                .collect();
            if !spans.is_empty() {
                removed = spans.len() as u64;
                out.count("docs_changed", 1);
                out.count("lines_removed", removed);
                match self.config.on_match {
                    OnMatch::Annotate => {
                        doc.spans.extend(spans);
                        doc.spans.sort_by_key(|s| (s.start, s.end));
                    }
                    _ => doc.set_text(remove_spans(&doc.text, &spans)),
                }
            }
        }
        out.keep(doc);
        removed
    }
}

/// `clean.repeated_lines` split for distributed runs: lines counted where the documents are,
/// summed per key bucket; each task then cleans its documents with the totals.
struct RepeatedLinesSplit {
    config: RepeatedLinesConfig,
    lines: LineKeys,
}

impl millstone_core::CountByKey for RepeatedLinesSplit {
    fn keys(&self, doc: &Document) -> Option<(u64, Vec<u64>)> {
        let keys = self.lines.keys(doc);
        keys.source.map(|source| (source, keys.lines))
    }

    fn min_count(&self) -> u32 {
        self.config.min_docs
    }

    fn counter_names(&self) -> (&'static str, &'static str) {
        ("distinct_lines", "sources")
    }

    fn apply(&self, groups: HashMap<u64, u32>, counts: HashMap<u64, u32>) -> Box<dyn Barrier> {
        Box::new(RepeatedLinesApply {
            config: self.config.clone(),
            lines: self.lines.clone(),
            counts,
            source_docs: groups,
        })
    }
}

/// Cleans one task's documents with the totals of a distributed run.
struct RepeatedLinesApply {
    config: RepeatedLinesConfig,
    lines: LineKeys,
    counts: HashMap<u64, u32>,
    source_docs: HashMap<u64, u32>,
}

impl Barrier for RepeatedLinesApply {
    fn process(&mut self, batch: Batch, out: &mut Emit) -> Result<(), StageError> {
        let totals = Totals {
            config: &self.config,
            lines: &self.lines,
            counts: &self.counts,
            source_docs: &self.source_docs,
        };
        for doc in batch.docs {
            totals.clean(doc, out);
        }
        Ok(())
    }

    fn retained_bytes(&self) -> usize {
        (self.counts.capacity() + self.source_docs.capacity()) * 17
    }
}

impl Barrier for RepeatedLines {
    fn process(&mut self, batch: Batch, _out: &mut Emit) -> Result<(), StageError> {
        if self.spill.is_none() {
            self.spill = Some(SpillFile::create(self.config.spill_dir.as_deref())?);
        }
        for mut doc in batch.docs {
            let keys = match doc.take_scratch::<Keys>() {
                Some(k) => k,
                None => Arc::new(self.lines.keys(&doc)),
            };
            if let Some(source) = keys.source {
                *self.source_docs.entry(source).or_default() += 1;
                for key in &keys.lines {
                    *self.counts.entry(*key).or_default() += 1;
                }
            }
            self.spill.as_mut().expect("created above").push(doc)?;
        }
        Ok(())
    }

    fn drain(&mut self, out: &mut Emit, max_docs: usize) -> Result<bool, StageError> {
        let Some(mut spill) = self.spill.take() else { return Ok(false) };
        for _ in 0..max_docs {
            let Some(doc) = spill.read_next()? else { return Ok(false) };
            self.lines_removed += self.totals().clean(doc, out);
        }
        self.spill = Some(spill);
        Ok(true)
    }

    fn count_by_key(&self) -> Option<Arc<dyn millstone_core::CountByKey>> {
        Some(Arc::new(RepeatedLinesSplit { config: self.config.clone(), lines: self.lines.clone() }))
    }

    fn retained_bytes(&self) -> usize {
        (self.counts.capacity() + self.source_docs.capacity()) * 17
    }

    fn summary(&self) -> Vec<(&'static str, u64)> {
        vec![("distinct_lines", self.counts.len() as u64), ("sources", self.source_docs.len() as u64)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(docs: Vec<Document>, min_docs: u32) -> Vec<Document> {
        let config = RepeatedLinesConfig {
            scope_field: FieldRef::meta("site"),
            min_docs,
            min_fraction: 0.0,
            max_line_chars: 200,
            on_match: OnMatch::Remove,
            spill_dir: None,
        };
        millstone_testkit::run_barrier(config.build(&BuildContext::for_tests()).unwrap(), docs, 64).0
    }

    #[test]
    fn removes_a_sites_footer_but_not_a_quote_shared_across_sites() {
        let quote = "“We will stand with every family,” the minister said.";
        let docs = vec![
            Document::new("a1", format!("Story one.\n{quote}\nA partner service wrote this.\n"))
                .with_meta("site", "a"),
            Document::new("a2", "Story two.\nA partner service wrote this.\n").with_meta("site", "a"),
            Document::new("a3", "Story three.\nA  partner service wrote THIS.\n").with_meta("site", "a"),
            Document::new("b1", format!("Other story.\n{quote}\n")).with_meta("site", "b"),
            Document::new("c1", format!("Third.\n{quote}\n")).with_meta("site", "c"),
            Document::new("x", "A partner service wrote this.\n"),
        ];
        let out = run(docs, 3);
        let texts: Vec<&str> = out.iter().map(|d| d.text.as_str()).collect();
        assert_eq!(texts[0], format!("Story one.\n{quote}\n"));
        assert_eq!(texts[2], "Story three.\n");
        assert!(texts[3].contains(quote) && texts[4].contains(quote));
        assert_eq!(texts[5], "A partner service wrote this.\n", "documents without a source are left alone");
        assert_eq!(
            out.iter().map(|d| d.id.to_string()).collect::<Vec<_>>(),
            ["a1", "a2", "a3", "b1", "c1", "x"]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn removes_only_whole_repeated_lines_and_never_touches_sourceless_docs(
            docs in prop::collection::vec((prop::sample::select(vec!["a", "b"]), prop::collection::vec(prop::sample::select(vec!["Shared footer line", "Unique story text here", "Another line of news", ""]), 0..6), any::<bool>()), 0..12),
        ) {
            let input: Vec<Document> = docs.iter().enumerate().map(|(i, (site, lines, with_site))| {
                let d = Document::new(format!("d{i}"), lines.join("\n"));
                if *with_site { d.with_meta("site", *site) } else { d }
            }).collect();
            let output = run(input.clone(), 3);
            prop_assert_eq!(output.len(), input.len());
            for (a, b) in input.iter().zip(&output) {
                prop_assert_eq!(&a.id, &b.id);
                if !a.meta.contains_key("site") {
                    prop_assert_eq!(&a.text, &b.text);
                }
                // What remains is the input's lines in order, some removed, none changed.
                let mut remaining = b.text.lines();
                let mut next = remaining.next();
                for line in a.text.lines() {
                    if next == Some(line) {
                        next = remaining.next();
                    }
                }
                prop_assert!(next.is_none(), "output has a line that is not from the input: {:?}", next);
            }
        }
    }
}
