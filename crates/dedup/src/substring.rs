//! `dedup.substring`: exact-substring dedup with a suffix array (Lee et al., 2022), keeping the
//! first copy: any span of at least `min_length` bytes that already occurred earlier in the
//! corpus is removed from the later document (Google's tool removes every copy).
//!
//! The texts of all documents are concatenated (separated by `0xFF`, which UTF-8 never
//! contains) and suffix-sorted with `divsufsort`; the LCP array (Kasai) groups suffixes into
//! blocks sharing at least `min_length` bytes. Every position of a block except the earliest
//! has an earlier copy of length >= `min_length`; the union of `[p, p + min_length)` over those
//! positions is exactly the union of the duplicated spans. Spans are trimmed to char
//! boundaries. The corpus text must fit in memory (about 13 bytes per input byte while
//! sorting, `max_corpus_bytes` guards it); run larger corpora sharded with `--shard i/N`.

use std::path::PathBuf;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::text::{ceil_char_boundary, floor_char_boundary, remove_ranges};
use millstone_core::{
    Barrier, Batch, BuildContext, BuildError, ByteSize, DropReason, Emit, FieldError, OnMatch, Span,
    SpillFile, Stage, StageConfig, StageError, StageKind,
};
use serde::{Deserialize, Serialize};

/// Configuration of `dedup.substring`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubstringConfig {
    /// Shortest repeated span removed, in bytes.
    #[serde(default = "default_min_length")]
    pub min_length: usize,
    /// `remove` the spans, or `annotate` them with `duplicate` spans.
    #[serde(default = "OnMatch::default_remove")]
    pub on_match: OnMatch,
    /// Drop a document left with fewer characters than this.
    #[serde(default = "default_min_remaining")]
    pub min_remaining_chars: usize,
    /// Refuse corpora larger than this (the suffix array needs ~13x the text in memory).
    #[serde(default = "default_max_bytes")]
    pub max_corpus_bytes: ByteSize,
    /// Where the spill file goes; default: the system temp folder.
    #[serde(default)]
    pub spill_dir: Option<PathBuf>,
}

fn default_min_length() -> usize {
    100
}
fn default_min_remaining() -> usize {
    1
}
fn default_max_bytes() -> ByteSize {
    ByteSize(1 << 30)
}

impl StageConfig for SubstringConfig {
    const TYPE: &'static str = "dedup.substring";
    const ON_MATCH: &'static [OnMatch] = OnMatch::SPANS;
    const RENAMED: &'static [(&'static str, &'static str)] = &[("action", "on_match")];
    const KIND: StageKind = StageKind::Barrier;
    const SUMMARY: &'static str =
        "Remove spans repeated from earlier documents (suffix array, keep first copy)";
    const EXAMPLE: &'static str = "type: dedup.substring\nmin_length: 100\nmin_remaining_chars: 200\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] = &[(
        "too_short_after_substring_dedup",
        "less than min_remaining_chars left after removing repeated spans",
    )];

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.min_length < 8 {
            errors.push(FieldError::new("min_length", "must be at least 8 bytes"));
        }
        if self.max_corpus_bytes.0 >= i32::MAX as u64 {
            errors.push(FieldError::new("max_corpus_bytes", "must be below 2GiB (32-bit suffix array)"));
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn notes(&self) -> Vec<String> {
        vec![format!(
            "holds the corpus text in memory (up to {}; ~13 bytes per text byte while sorting)",
            self.max_corpus_bytes
        )]
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::barrier(SubstringDedup {
            config: self.clone(),
            corpus: Vec::new(),
            starts: Vec::new(),
            spill: None,
            duplicates: Vec::new(),
            drained: 0,
        }))
    }
}

/// Byte ranges (within each document) that occurred earlier in `texts`, at least `min_length`
/// long, merged and trimmed to char boundaries.
///
/// ```
/// use millstone_dedup::substring::repeated_spans;
/// let texts = ["a long shared sentence here. first doc", "second doc: a long shared sentence here."];
/// let spans = repeated_spans(&texts, 20);
/// assert!(spans[0].is_empty());
/// assert_eq!(&texts[1][spans[1][0].clone()], "a long shared sentence here.");
/// ```
pub fn repeated_spans<S: AsRef<str>>(texts: &[S], min_length: usize) -> Vec<Vec<std::ops::Range<usize>>> {
    let mut corpus = Vec::new();
    let mut starts = Vec::new();
    for t in texts {
        starts.push(corpus.len());
        corpus.extend_from_slice(t.as_ref().as_bytes());
        corpus.push(0xFF);
    }
    let spans = spans_in_corpus(&corpus, &starts, min_length);
    spans
        .into_iter()
        .enumerate()
        .map(|(i, ranges)| trim_to_chars(texts[i].as_ref(), ranges, min_length))
        .collect()
}

/// The raw (byte) duplicated ranges per document of a `0xFF`-separated corpus.
fn spans_in_corpus(corpus: &[u8], starts: &[usize], min_length: usize) -> Vec<Vec<std::ops::Range<usize>>> {
    let n = corpus.len();
    let mut result = vec![Vec::new(); starts.len()];
    if n == 0 {
        return result;
    }
    let mut sa = vec![0i32; n];
    divsufsort::sort_in_place(corpus, &mut sa);
    // Kasai: lcp[i] = LCP(suffix sa[i-1], suffix sa[i]).
    let mut rank = vec![0u32; n];
    for (i, &p) in sa.iter().enumerate() {
        rank[p as usize] = i as u32;
    }
    let mut lcp = vec![0u32; n];
    let mut h = 0usize;
    for p in 0..n {
        let r = rank[p] as usize;
        if r > 0 {
            let q = sa[r - 1] as usize;
            while p + h < n && q + h < n && corpus[p + h] == corpus[q + h] && corpus[p + h] != 0xFF {
                h += 1;
            }
            lcp[r] = h as u32;
            h = h.saturating_sub(1);
        } else {
            h = 0;
        }
    }
    drop(rank);
    let doc_of = |p: usize| starts.partition_point(|&s| s <= p) - 1;
    // Blocks of suffixes sharing >= min_length bytes: all but the earliest are later copies.
    let mut block: Vec<usize> = Vec::new();
    let flush = |block: &mut Vec<usize>, result: &mut Vec<Vec<std::ops::Range<usize>>>| {
        if block.len() > 1 {
            let first = *block.iter().min().expect("non-empty");
            for &p in block.iter().filter(|&&p| p != first) {
                let d = doc_of(p);
                let offset = p - starts[d];
                result[d].push(offset..offset + min_length);
            }
        }
        block.clear();
    };
    for i in 0..n {
        if i > 0 && lcp[i] as usize >= min_length {
            if block.is_empty() {
                block.push(sa[i - 1] as usize);
            }
            block.push(sa[i] as usize);
        } else {
            flush(&mut block, &mut result);
        }
    }
    flush(&mut block, &mut result);
    for ranges in &mut result {
        ranges.sort_by_key(|r| r.start);
        let mut merged: Vec<std::ops::Range<usize>> = Vec::with_capacity(ranges.len());
        for r in ranges.drain(..) {
            match merged.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        *ranges = merged;
    }
    result
}

fn trim_to_chars(
    text: &str,
    ranges: Vec<std::ops::Range<usize>>,
    min_length: usize,
) -> Vec<std::ops::Range<usize>> {
    ranges
        .into_iter()
        .map(|r| ceil_char_boundary(text, r.start)..floor_char_boundary(text, r.end))
        .filter(|r| r.start < r.end && r.len() >= min_length.min(r.len()).max(1))
        .collect()
}

struct SubstringDedup {
    config: SubstringConfig,
    corpus: Vec<u8>,
    starts: Vec<usize>,
    spill: Option<SpillFile>,
    duplicates: Vec<Vec<std::ops::Range<usize>>>,
    drained: usize,
}

impl Barrier for SubstringDedup {
    fn process(&mut self, batch: Batch, _out: &mut Emit) -> Result<(), StageError> {
        if self.spill.is_none() {
            self.spill = Some(SpillFile::create(self.config.spill_dir.as_deref())?);
        }
        for doc in batch.docs {
            if (self.corpus.len() + doc.text.len() + 1) as u64 > self.config.max_corpus_bytes.0 {
                return Err(StageError::Budget(format!(
                    "dedup.substring: the corpus exceeds max_corpus_bytes ({}) at document `{}`; \
                     raise it if memory allows (~13 bytes per text byte) or run sharded (--shard i/N)",
                    self.config.max_corpus_bytes, doc.id
                )));
            }
            self.starts.push(self.corpus.len());
            self.corpus.extend_from_slice(doc.text.as_bytes());
            self.corpus.push(0xFF);
            self.spill.as_mut().expect("created above").push(doc)?;
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut Emit) -> Result<(), StageError> {
        self.duplicates = spans_in_corpus(&self.corpus, &self.starts, self.config.min_length);
        self.corpus = Vec::new();
        Ok(())
    }

    fn drain(&mut self, out: &mut Emit, max_docs: usize) -> Result<bool, StageError> {
        let Some(mut spill) = self.spill.take() else { return Ok(false) };
        for _ in 0..max_docs {
            let Some(mut doc) = spill.read_next()? else { return Ok(false) };
            let raw = std::mem::take(&mut self.duplicates[self.drained]);
            self.drained += 1;
            let ranges = trim_to_chars(&doc.text, raw, self.config.min_length);
            if !ranges.is_empty() {
                out.count("spans_removed", ranges.len() as u64);
                out.count("bytes_removed", ranges.iter().map(|r| r.len() as u64).sum());
            }
            let remaining = match self.config.on_match {
                OnMatch::Annotate => {
                    let removed: usize = ranges.iter().map(|r| r.len()).sum();
                    doc.spans.extend(ranges.into_iter().map(|r| Span::new(r.start, r.end, "duplicate")));
                    doc.spans.sort_by_key(|s| (s.start, s.end));
                    doc.text.len() - removed
                }
                _ => {
                    if !ranges.is_empty() {
                        doc.set_text(remove_ranges(&doc.text, ranges));
                    }
                    doc.text.trim().chars().count()
                }
            };
            let reason = (remaining < self.config.min_remaining_chars)
                .then_some(DropReason("too_short_after_substring_dedup"));
            let tag = (self.config.on_match == OnMatch::Annotate).then_some("substring.verdict");
            out.decide(doc, reason, tag);
        }
        self.spill = Some(spill);
        Ok(true)
    }

    fn retained_bytes(&self) -> usize {
        self.corpus.capacity() + self.starts.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// O(n^2) reference: mark [p, p + L) where L is the longest match of the suffix at p with
    /// any earlier suffix (within document bounds), if L >= min_length.
    fn naive(texts: &[String], min_length: usize) -> Vec<Vec<std::ops::Range<usize>>> {
        let mut corpus = Vec::new();
        let mut starts = Vec::new();
        for t in texts {
            starts.push(corpus.len());
            corpus.extend_from_slice(t.as_bytes());
            corpus.push(0xFF);
        }
        let mut result = vec![Vec::new(); texts.len()];
        for (d, t) in texts.iter().enumerate() {
            let mut marked = vec![false; t.len()];
            for i in 0..t.len() {
                let p = starts[d] + i;
                let mut best = 0;
                for q in 0..p {
                    let mut l = 0;
                    while p + l < corpus.len() && corpus[p + l] == corpus[q + l] && corpus[p + l] != 0xFF {
                        l += 1;
                    }
                    best = best.max(l);
                }
                if best >= min_length {
                    marked[i..i + best].iter_mut().for_each(|m| *m = true);
                }
            }
            let mut ranges = Vec::new();
            let mut i = 0;
            while i < marked.len() {
                if marked[i] {
                    let s = i;
                    while i < marked.len() && marked[i] {
                        i += 1;
                    }
                    ranges.push(s..i);
                } else {
                    i += 1;
                }
            }
            result[d] = trim_to_chars(t, ranges, min_length);
        }
        result
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(150))]
        #[test]
        fn matches_the_naive_reference(
            pieces in prop::collection::vec(prop::sample::select(vec!["ab", "abc ", "é", "🧑‍🚀", "the cat ", "xyz", "\n"]), 0..120),
            cuts in prop::collection::vec(0usize..120, 0..6),
            min_length in 3usize..12,
        ) {
            let joined: String = pieces.concat();
            let mut bounds: Vec<usize> = cuts.into_iter().map(|c| millstone_core::text::floor_char_boundary(&joined, c * joined.len() / 120)).collect();
            bounds.push(0);
            bounds.push(joined.len());
            bounds.sort();
            bounds.dedup();
            let texts: Vec<String> = bounds.windows(2).map(|w| joined[w[0]..w[1]].to_string()).collect();
            let fast = repeated_spans(&texts, min_length);
            let slow = naive(&texts, min_length);
            prop_assert_eq!(fast.clone(), slow);
            for (t, ranges) in texts.iter().zip(&fast) {
                for r in ranges {
                    prop_assert!(t.is_char_boundary(r.start) && t.is_char_boundary(r.end));
                }
            }
        }
    }

    #[test]
    fn first_copy_is_kept() {
        let quote = "“No town should have to face this alone, and none will,” the minister said.";
        let texts = vec![
            format!("Story one. {quote} More."),
            format!("Story two. {quote} Other."),
            "Unrelated text entirely.".into(),
        ];
        let spans = repeated_spans(&texts, 30);
        assert!(spans[0].is_empty() && spans[2].is_empty());
        assert_eq!(spans[1].len(), 1);
        assert!(texts[1][spans[1][0].clone()].contains("No town should"));
    }
}
