//! Shingling: the n-grams whose overlap defines similarity, streamed as 64-bit hashes.

use millstone_core::schemars::{self, JsonSchema};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::normalize::Normalization;

/// What a shingle is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// `n` consecutive words (split on whitespace after normalisation).
    #[default]
    Words,
    /// `n` consecutive characters of the normalised text.
    Chars,
}

/// Turns text into a stream of shingle hashes.
///
/// ```
/// use millstone_dedup::shingle::{Shingler, Unit};
/// use millstone_dedup::Normalization;
/// let s = Shingler::new(Unit::Words, 2, Normalization::default());
/// let mut hashes = Vec::new();
/// s.for_each("A b  c", |h| hashes.push(h));
/// assert_eq!(hashes.len(), 2); // "a b", "b c"
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Shingler {
    unit: Unit,
    n: usize,
    normalization: Normalization,
}

const SEED: u64 = 0x6d69_6c6c_7374_6f6e;

impl Shingler {
    /// A shingler of `n`-grams of `unit` after `normalization`.
    pub fn new(unit: Unit, n: usize, normalization: Normalization) -> Self {
        Shingler { unit, n: n.max(1), normalization }
    }

    /// Calls `f` with the hash of every shingle, in order (duplicates included). A text shorter
    /// than one shingle yields a single shingle of the whole normalised text, if non-empty.
    pub fn for_each(&self, text: &str, mut f: impl FnMut(u64)) {
        let normalized = self.normalization.apply(text);
        match self.unit {
            Unit::Words => {
                let base = normalized.as_ptr() as usize;
                let mut window: std::collections::VecDeque<(usize, usize)> =
                    std::collections::VecDeque::with_capacity(self.n + 1);
                let mut emitted = false;
                for word in normalized.split_whitespace() {
                    let start = word.as_ptr() as usize - base;
                    window.push_back((start, start + word.len()));
                    if window.len() > self.n {
                        window.pop_front();
                    }
                    if window.len() == self.n {
                        let from = window.front().expect("non-empty").0;
                        f(xxh3_64_with_seed(&normalized.as_bytes()[from..start + word.len()], SEED));
                        emitted = true;
                    }
                }
                if let (false, Some(first), Some(last)) = (emitted, window.front(), window.back()) {
                    f(xxh3_64_with_seed(&normalized.as_bytes()[first.0..last.1], SEED));
                }
            }
            Unit::Chars => {
                let offsets: Vec<usize> =
                    normalized.char_indices().map(|(i, _)| i).chain([normalized.len()]).collect();
                let chars = offsets.len() - 1;
                if chars == 0 {
                    return;
                }
                if chars < self.n {
                    f(xxh3_64_with_seed(normalized.as_bytes(), SEED));
                    return;
                }
                for i in 0..=chars - self.n {
                    f(xxh3_64_with_seed(&normalized.as_bytes()[offsets[i]..offsets[i + self.n]], SEED));
                }
            }
        }
    }

    /// The set of distinct shingle hashes (for exact similarity and tests).
    pub fn set(&self, text: &str) -> std::collections::HashSet<u64> {
        let mut set = std::collections::HashSet::new();
        self.for_each(text, |h| {
            set.insert(h);
        });
        set
    }
}
