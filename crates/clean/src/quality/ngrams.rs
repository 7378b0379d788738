//! Classes of equal word n-grams in one document, for Gopher's repetition rules, refined from
//! n to n + 1 instead of hashing every n-gram again for every n.
//!
//! Each position's class is the first position where the same n-gram starts. Two (n+1)-grams
//! are equal when their n-grams are equal and the next words are equal, so a position whose
//! n-gram occurs once stays alone at every larger n. Only the *shared* positions (those in a
//! class of two or more) are kept in a sorted list and looked up, by (class, class of the next
//! word); every other pass also walks that list only. On text that repeats little the list is
//! a few percent of the words from n = 3 on, so all n together cost little more than n = 2.

use std::collections::HashMap;

use millstone_core::prehashed::PreHashedBuild;

use super::words::for_each_word;

/// The n-gram classes of a word sequence at the current n.
pub struct NGramClasses {
    /// The class of each word: the first position of an equal word.
    word_class: Vec<u32>,
    /// The class of the n-gram starting at each shared position (a position alone in its
    /// class is its own class; entries of positions no longer shared are stale).
    class: Vec<u32>,
    /// Positions whose n-gram occurs at least twice, ascending.
    shared: Vec<u32>,
    /// How many positions each shared class has, indexed by the class's first position
    /// (entries of other positions are stale).
    size: Vec<u32>,
    /// Characters before each word (prefix sums of word lengths, `words + 1` of them).
    chars_before: Vec<usize>,
    n: usize,
    next: HashMap<u64, u32, PreHashedBuild>,
    /// Scratch: classes seen by [`Self::repeated_chars`], indexed like `size`.
    seen: Vec<bool>,
}

impl NGramClasses {
    /// Classes of single words; `char_counts` are the words' lengths in characters.
    #[cfg(test)]
    pub fn new(words: &[&str], char_counts: impl IntoIterator<Item = usize>) -> Self {
        let mut builder = Builder::with_capacity(words.len());
        for (word, chars) in words.iter().zip(char_counts) {
            builder.push(word, chars);
        }
        builder.finish()
    }

    /// Classes of the [`for_each_word`] words of `text`, numbered as they are split off (no
    /// list of the words is kept).
    pub fn of_text(text: &str) -> Self {
        let mut builder = Builder::with_capacity(text.len() / 6);
        for_each_word(text, |word, ascii| {
            builder.push(word, if ascii { word.len() } else { word.chars().count() })
        });
        builder.finish()
    }

    /// Sets `shared` from the single words' classes and their sizes.
    fn share_single_words(&mut self) {
        let (class, size) = (&self.word_class, &self.size);
        self.shared.clear();
        self.shared.extend(0..class.len() as u32);
        keep_shared(&mut self.shared, class, size);
    }

    /// Number of words.
    pub fn words(&self) -> usize {
        self.word_class.len()
    }

    /// Refines the classes to `n`-grams (`n` at least 1 and at most [`Self::words`]); going back
    /// to a smaller n starts again from single words.
    pub fn refine_to(&mut self, n: usize) {
        assert!(n >= 1 && n <= self.words(), "n-gram length {n} of {} words", self.words());
        if n < self.n {
            self.class.clone_from(&self.word_class);
            self.size.iter_mut().for_each(|s| *s = 0);
            for &c in &self.class {
                self.size[c as usize] += 1;
            }
            self.n = 1;
            self.share_single_words();
        }
        while self.n < n && !self.shared.is_empty() {
            let positions = self.words() - self.n;
            let live = self.shared.partition_point(|&i| (i as usize) < positions);
            self.shared.truncate(live);
            for &i in &self.shared {
                self.size[self.class[i as usize] as usize] = 0;
            }
            self.next.clear();
            for &i in &self.shared {
                let i = i as usize;
                let key = (u64::from(self.class[i]) << 32) | u64::from(self.word_class[i + self.n]);
                let refined = *self.next.entry(mix(key)).or_insert(i as u32);
                self.class[i] = refined;
                self.size[refined as usize] += 1;
            }
            keep_shared(&mut self.shared, &self.class, &self.size);
            self.n += 1;
        }
        self.n = n;
    }

    /// The most frequent n-gram as (count, first position); ties go to the one seen first.
    pub fn most_frequent(&self) -> (usize, usize) {
        let mut best = (1, 0);
        for &i in &self.shared {
            let count = self.size[self.class[i as usize] as usize] as usize;
            if self.class[i as usize] == i && count > best.0 {
                best = (count, i as usize);
            }
        }
        best
    }

    /// Characters of the words from `start`, `len` of them (no separators).
    pub fn chars(&self, start: usize, len: usize) -> usize {
        self.chars_before[start + len] - self.chars_before[start]
    }

    /// Characters in n-grams seen before, scanning left to right and skipping past each repeat
    /// (Gopher's and datatrove's `find_all_duplicate`). Positions alone in their class are
    /// never repeats, so the scan jumps from shared position to shared position.
    pub fn repeated_chars(&mut self) -> usize {
        let n = self.n;
        let (mut repeated, mut next_free) = (0, 0);
        for &i in &self.shared {
            let i = i as usize;
            if i < next_free {
                continue;
            }
            let class = self.class[i] as usize;
            if self.seen[class] {
                repeated += self.chars_before[i + n] - self.chars_before[i];
                next_free = i + n;
            } else {
                self.seen[class] = true;
                next_free = i + 1;
            }
        }
        for &i in &self.shared {
            self.seen[self.class[i as usize] as usize] = false;
        }
        repeated
    }
}

/// Keeps the positions whose class has at least two, in order. Whether a word repeats is close
/// to a coin toss on prose, so the positions are compacted without a branch on it.
fn keep_shared(positions: &mut Vec<u32>, class: &[u32], size: &[u32]) {
    let mut kept = 0;
    for read in 0..positions.len() {
        let i = positions[read];
        positions[kept] = i;
        kept += usize::from(size[class[i as usize] as usize] >= 2);
    }
    positions.truncate(kept);
}

/// Numbers words by class as they come: a word's class is the position of its first equal.
struct Builder<'a> {
    first: HashMap<&'a str, u32, foldhash::fast::FixedState>,
    word_class: Vec<u32>,
    size: Vec<u32>,
    chars_before: Vec<usize>,
}

impl<'a> Builder<'a> {
    fn with_capacity(words: usize) -> Self {
        let mut chars_before = Vec::with_capacity(words + 1);
        chars_before.push(0);
        Builder {
            first: HashMap::with_capacity_and_hasher(words, Default::default()),
            word_class: Vec::with_capacity(words),
            size: Vec::with_capacity(words),
            chars_before,
        }
    }

    fn push(&mut self, word: &'a str, chars: usize) {
        let position = self.word_class.len() as u32;
        let class = *self.first.entry(word).or_insert(position);
        self.word_class.push(class);
        self.size.push(0);
        self.size[class as usize] += 1;
        self.chars_before.push(self.chars_before[position as usize] + chars);
    }

    fn finish(self) -> NGramClasses {
        let words = self.word_class.len();
        let mut classes = NGramClasses {
            class: self.word_class.clone(),
            word_class: self.word_class,
            shared: Vec::new(),
            size: self.size,
            chars_before: self.chars_before,
            n: 1,
            next: HashMap::with_capacity_and_hasher(words / 4, PreHashedBuild::default()),
            seen: vec![false; words],
        };
        classes.share_single_words();
        classes
    }
}

/// A 64-bit finaliser (from SplitMix64): the table uses the key as its hash.
fn mix(key: u64) -> u64 {
    let mut z = key.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn classes(words: &[&str]) -> NGramClasses {
        NGramClasses::new(words, words.iter().map(|w| w.chars().count()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        /// Against the direct definitions: counting each n-gram as a slice of words.
        #[test]
        fn classes_match_the_direct_definitions(
            words in proptest::collection::vec(prop_oneof![Just("a"), Just("b"), Just("cc"), Just("é")], 1..60),
            ns in proptest::collection::vec(1usize..12, 1..6),
        ) {
            let mut c = classes(&words);
            for n in ns.into_iter().filter(|&n| n <= words.len()) {
                c.refine_to(n);
                let grams: Vec<&[&str]> = words.windows(n).collect();
                let mut best = (0, 0);
                for (i, g) in grams.iter().enumerate() {
                    let count = grams.iter().filter(|h| *h == g).count();
                    if !grams[..i].contains(g) && count > best.0 {
                        best = (count, i);
                    }
                }
                prop_assert_eq!(c.most_frequent(), best);
                let mut seen: HashSet<&[&str]> = HashSet::new();
                let (mut repeated, mut i) = (0, 0);
                while i + n <= words.len() {
                    if seen.insert(&words[i..i + n]) {
                        i += 1;
                    } else {
                        repeated += words[i..i + n].iter().map(|w| w.chars().count()).sum::<usize>();
                        i += n;
                    }
                }
                prop_assert_eq!(c.repeated_chars(), repeated);
            }
        }
    }
}
