//! Windows for retrieval and training: by characters, words, sentences or tokens (tiktoken
//! `cl100k_base` / `o200k_base`, which ship inside `tiktoken-rs`: no download), with `size`,
//! `overlap`, and an option to end a window at a sentence boundary when one is near.

use std::ops::Range;

use millstone_core::schemars::{self, JsonSchema};
use serde::{Deserialize, Serialize};

use crate::sentences::{sentence_ranges, SentenceOptions};

/// What a chunk is measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChunkUnit {
    /// Unicode scalar values.
    Chars,
    /// Whitespace-separated words.
    #[default]
    Words,
    /// Sentences.
    Sentences,
    /// tiktoken tokens.
    Tokens,
}

/// A tiktoken encoding shipped with `tiktoken-rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// GPT-4 / GPT-3.5.
    #[default]
    Cl100kBase,
    /// GPT-4o.
    O200kBase,
}

/// Byte ranges of the units of `text` (they cover the text's non-whitespace in order).
pub fn unit_ranges(
    text: &str,
    unit: ChunkUnit,
    encoding: Encoding,
    sentences: &SentenceOptions,
) -> Vec<Range<usize>> {
    weighted_units(text, unit, encoding, sentences).into_iter().map(|(r, _)| r).collect()
}

/// Units with their size in the chosen unit: 1, except a token range that had to absorb the
/// following token(s) because a token ended inside a multi-byte character.
pub fn weighted_units(
    text: &str,
    unit: ChunkUnit,
    encoding: Encoding,
    sentences: &SentenceOptions,
) -> Vec<(Range<usize>, usize)> {
    let ones = |ranges: Vec<Range<usize>>| ranges.into_iter().map(|r| (r, 1)).collect();
    match unit {
        ChunkUnit::Chars => ones(text.char_indices().map(|(i, c)| i..i + c.len_utf8()).collect()),
        ChunkUnit::Words => {
            let base = text.as_ptr() as usize;
            ones(
                text.split_whitespace()
                    .map(|w| (w.as_ptr() as usize - base)..(w.as_ptr() as usize - base + w.len()))
                    .collect(),
            )
        }
        ChunkUnit::Sentences => ones(sentence_ranges(text, sentences)),
        ChunkUnit::Tokens => {
            let bpe = match encoding {
                Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
                Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
            };
            let mut units: Vec<(Range<usize>, usize)> = Vec::new();
            let mut pos = 0usize;
            let mut raw_end = 0usize;
            for token in bpe.encode_ordinary(text) {
                raw_end += bpe.decode_bytes(&[token]).map(|b| b.len()).unwrap_or(0);
                // A token may end inside a multi-byte character; it then shares a unit with the
                // token(s) that finish the character, and the unit weighs that many tokens.
                let end = millstone_core::text::ceil_char_boundary(text, raw_end);
                match units.last_mut() {
                    Some((r, w)) if r.end > pos || end == pos => {
                        r.end = r.end.max(end);
                        *w += 1;
                    }
                    _ => units.push((pos..end, 1)),
                }
                pos = end;
            }
            units
        }
    }
}

/// Chunk windows over `units`: at most `size` in total weight each (a single heavier unit stands
/// alone), the next starting `overlap` units before the previous end; with `boundaries`
/// (sentence ends, as byte offsets), a window ends at the last boundary inside it when that
/// keeps at least half the window. Returns unit index ranges.
pub fn windows(
    units: &[(Range<usize>, usize)],
    size: usize,
    overlap: usize,
    boundaries: Option<&[usize]>,
) -> Vec<Range<usize>> {
    let size = size.max(1);
    let overlap = overlap.min(size - 1);
    let mut out = Vec::new();
    let mut start = 0;
    while start < units.len() {
        let mut end = start + 1;
        let mut weight = units[start].1;
        while end < units.len() && weight + units[end].1 <= size {
            weight += units[end].1;
            end += 1;
        }
        if let (Some(bounds), true) = (boundaries, end < units.len()) {
            // The last unit ending exactly at a sentence end, in the second half of the window.
            let half = start + (end - start).div_ceil(2);
            if let Some(cut) = (half..end).rev().find(|&i| bounds.binary_search(&units[i].0.end).is_ok()) {
                end = cut + 1;
            }
        }
        out.push(start..end);
        if end == units.len() {
            break;
        }
        start = (end - overlap.min(end - start - 1)).max(start + 1);
    }
    out
}

/// Chunk byte ranges of `text`.
///
/// ```
/// use millstone_segment::chunks::{chunk_ranges, ChunkUnit, Encoding};
/// use millstone_segment::sentences::SentenceOptions;
/// let text = "one two three four five six seven";
/// let chunks: Vec<&str> = chunk_ranges(text, ChunkUnit::Words, Encoding::Cl100kBase, 3, 1, false, &SentenceOptions::default())
///     .into_iter().map(|r| &text[r]).collect();
/// assert_eq!(chunks, ["one two three", "three four five", "five six seven"]);
/// ```
pub fn chunk_ranges(
    text: &str,
    unit: ChunkUnit,
    encoding: Encoding,
    size: usize,
    overlap: usize,
    respect_sentences: bool,
    sentences: &SentenceOptions,
) -> Vec<Range<usize>> {
    let units = weighted_units(text, unit, encoding, sentences);
    let bounds: Option<Vec<usize>> = (respect_sentences && unit != ChunkUnit::Sentences)
        .then(|| sentence_ranges(text, sentences).into_iter().map(|r| r.end).collect());
    windows(&units, size, overlap, bounds.as_deref())
        .into_iter()
        .map(|w| units[w.start].0.start..units[w.end - 1].0.end)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn respects_sentences_when_possible() {
        let text = "The first sentence is here. The second one follows now. A third.";
        let chunks: Vec<&str> = chunk_ranges(
            text,
            ChunkUnit::Words,
            Encoding::Cl100kBase,
            8,
            0,
            true,
            &SentenceOptions::default(),
        )
        .into_iter()
        .map(|r| &text[r])
        .collect();
        assert_eq!(chunks, ["The first sentence is here.", "The second one follows now. A third."]);
    }

    #[test]
    fn tokens_cover_the_text() {
        let text = "Tokenizers split “unusual” words like naïve café 🧑‍🚀 oddly.";
        let units = unit_ranges(text, ChunkUnit::Tokens, Encoding::Cl100kBase, &SentenceOptions::default());
        assert_eq!(units.first().unwrap().start, 0);
        assert_eq!(units.last().unwrap().end, text.len());
        assert!(units.windows(2).all(|w| w[0].end == w[1].start));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(150))]
        #[test]
        fn windows_never_exceed_size_and_overlap_exactly(n in 0usize..200, size in 1usize..30, overlap in 0usize..30) {
            let units: Vec<(Range<usize>, usize)> = (0..n).map(|i| (i * 2..i * 2 + 1, 1)).collect();
            let w = windows(&units, size, overlap, None);
            let overlap = overlap.min(size - 1);
            for pair in w.windows(2) {
                prop_assert!(pair[0].len() <= size && pair[1].len() <= size);
                prop_assert_eq!(pair[0].end - pair[1].start, overlap);
            }
            if n > 0 {
                prop_assert_eq!(w.first().unwrap().start, 0);
                prop_assert_eq!(w.last().unwrap().end, n);
            }
        }

        #[test]
        fn token_chunks_stay_within_size(text in millstone_testkit::text(), size in 1usize..20, overlap in 0usize..5) {
            let options = SentenceOptions::default();
            let units = weighted_units(&text, ChunkUnit::Tokens, Encoding::Cl100kBase, &options);
            for r in chunk_ranges(&text, ChunkUnit::Tokens, Encoding::Cl100kBase, size, overlap, true, &options) {
                prop_assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end) && r.start < r.end);
                // The document's tokens inside the chunk (a lone character may need more).
                let inside: Vec<usize> = units.iter().filter(|(u, _)| u.start >= r.start && u.end <= r.end).map(|(_, w)| *w).collect();
                prop_assert!(inside.len() == 1 || inside.iter().sum::<usize>() <= size, "{inside:?} in a chunk of size {size}");
            }
        }
    }
}
