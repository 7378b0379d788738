//! The model's dictionary: words and labels, and how a line of text becomes input rows
//! (word ids, character n-gram buckets, word n-gram buckets), as fastText's `getLine` does.

use std::collections::HashMap;
use std::io::Read;

use crate::read::{Args, Binary};
use crate::Error;

/// fastText's end-of-sentence token, appended to every predicted line.
const EOS: &[u8] = b"</s>";
/// How fastText marks labels.
pub(crate) const LABEL_PREFIX: &[u8] = b"__label__";
/// fastText's limit on dictionary size.
const MAX_VOCAB: i64 = 30_000_000;

/// fastText's 32-bit FNV-1a over bytes, each byte sign-extended as a C `char`.
fn fnv_step(h: u32, byte: u8) -> u32 {
    (h ^ (byte as i8 as i32 as u32)).wrapping_mul(16_777_619)
}
const FNV_OFFSET: u32 = 2_166_136_261;

/// fastText's hash of a token.
pub(crate) fn hash(token: &[u8]) -> u32 {
    token.iter().fold(FNV_OFFSET, |h, &b| fnv_step(h, b))
}

/// Word ids by word, open addressing on fastText's own hash of the token (computed anyway for
/// word n-grams), so a lookup hashes nothing twice.
struct WordTable {
    /// `(hash, id)`, `id == -1` empty; length a power of two.
    slots: Vec<(u32, i32)>,
    /// Word `id`'s bytes are `arena[starts[id]..starts[id + 1]]`.
    arena: Vec<u8>,
    starts: Vec<usize>,
}

impl WordTable {
    fn with_capacity(words: usize) -> Self {
        let slots = (words * 2).next_power_of_two().max(16);
        WordTable { slots: vec![(0, -1); slots], arena: Vec::new(), starts: vec![0] }
    }

    fn len(&self) -> usize {
        self.starts.len() - 1
    }

    fn word(&self, id: i32) -> &[u8] {
        &self.arena[self.starts[id as usize]..self.starts[id as usize + 1]]
    }

    fn find(&self, token: &[u8], h: u32) -> Result<i32, usize> {
        let mask = self.slots.len() - 1;
        let mut at = h as usize & mask;
        loop {
            let (slot_hash, id) = self.slots[at];
            if id < 0 {
                return Err(at);
            }
            if slot_hash == h && self.word(id) == token {
                return Ok(id);
            }
            at = (at + 1) & mask;
        }
    }

    /// Adds a word; `false` if it was there already.
    fn insert(&mut self, token: &[u8]) -> bool {
        let h = hash(token);
        match self.find(token, h) {
            Ok(_) => false,
            Err(at) => {
                let id = self.len() as i32;
                self.arena.extend_from_slice(token);
                self.starts.push(self.arena.len());
                self.slots[at] = (h, id);
                true
            }
        }
    }

    fn get(&self, token: &[u8], h: u32) -> Option<i32> {
        self.find(token, h).ok()
    }
}

/// The buckets a pruned (quantized) model kept, and the row each maps to: a bitmap with a rank
/// per 64 buckets, so the membership test of every character n-gram touches one 16-byte cell
/// (a few hundred KiB for lid.176's 2M buckets, where a dense map would be 8 MiB of cache misses).
struct PrunedIndex {
    /// Per 64 buckets: which are kept, and how many kept buckets come before.
    cells: Vec<(u64, u32)>,
    /// The rows of the kept buckets, in bucket order.
    rows: Vec<i32>,
}

impl PrunedIndex {
    fn new(bucket: u32, mut pairs: Vec<(u32, i32)>) -> Self {
        pairs.sort_unstable();
        pairs.dedup_by_key(|p| p.0);
        let mut cells = vec![(0u64, 0u32); (bucket as usize).div_ceil(64)];
        for &(from, _) in &pairs {
            cells[from as usize / 64].0 |= 1 << (from % 64);
        }
        let mut before = 0u32;
        for cell in &mut cells {
            cell.1 = before;
            before += cell.0.count_ones();
        }
        PrunedIndex { cells, rows: pairs.into_iter().map(|p| p.1).collect() }
    }

    fn get(&self, bucket: u32) -> Option<i32> {
        let (bits, before) = self.cells[bucket as usize / 64];
        let bit = 1u64 << (bucket % 64);
        (bits & bit != 0).then(|| self.rows[before as usize + (bits & (bit - 1)).count_ones() as usize])
    }

    fn max_row(&self) -> Option<i32> {
        self.rows.iter().copied().max()
    }
}

/// Where one token's rows are in [`TokenRows::rows`], and its hash (`None`: skipped).
#[derive(Clone, Copy)]
pub(crate) struct CachedToken {
    start: u32,
    end: u32,
    hash: Option<i32>,
}

/// A cache of tokens' input rows, one per thread (in [`crate::Scratch`]): text repeats its
/// words, and a token's rows depend on the token alone. Emptied when it grows past its bounds.
#[derive(Default)]
pub(crate) struct TokenRows {
    tokens: HashMap<Box<[u8]>, CachedToken, foldhash::fast::FixedState>,
    rows: Vec<i32>,
}

impl TokenRows {
    /// Most tokens and rows kept (about 6 MiB of cache).
    const MAX_TOKENS: usize = 50_000;
    const MAX_ROWS: usize = 1 << 20;

    /// Keeps `cached` (whose rows were just appended) and returns where its rows now are.
    fn insert(&mut self, token: &[u8], cached: CachedToken) -> CachedToken {
        if self.tokens.len() >= Self::MAX_TOKENS || self.rows.len() >= Self::MAX_ROWS {
            // Keep only the token just added: move its rows to the front.
            let own: Vec<i32> = self.rows[cached.start as usize..cached.end as usize].to_vec();
            self.tokens.clear();
            self.rows.clear();
            self.rows.extend_from_slice(&own);
            let moved = CachedToken { start: 0, end: own.len() as u32, hash: cached.hash };
            self.tokens.insert(token.into(), moved);
            return moved;
        }
        self.tokens.insert(token.into(), cached);
        cached
    }
}

pub(crate) struct Dictionary {
    /// Word ids by word (labels are not looked up in predicted text).
    words: WordTable,
    /// Labels, `__label__` prefix included, in output-row order.
    pub(crate) labels: Vec<String>,
    /// How often each label was seen in training (the hierarchical-softmax tree's weights).
    pub(crate) label_counts: Vec<i64>,
    nwords: i32,
    /// The kept buckets of pruned (quantized) models; `None` when not pruned.
    pruned: Option<PrunedIndex>,
    minn: usize,
    maxn: usize,
    bucket: u32,
    word_ngrams: usize,
}

impl Dictionary {
    pub(crate) fn read<R: Read>(input: &mut Binary<R>, args: &Args) -> Result<Dictionary, Error> {
        let size = input.i32()?;
        let nwords = input.i32()?;
        let nlabels = input.i32()?;
        let _ntokens = input.i64()?;
        let prune_size = input.i64()?;
        let size = input.count("dictionary size", size as i64, MAX_VOCAB)?;
        if nwords < 0 || nlabels < 0 || nwords as i64 + nlabels as i64 != size as i64 {
            return Err(Error::Corrupt(format!("{nwords} words + {nlabels} labels != {size} entries")));
        }
        let mut words = WordTable::with_capacity(nwords as usize);
        let mut labels = Vec::with_capacity(nlabels as usize);
        let mut label_counts = Vec::with_capacity(nlabels as usize);
        for _ in 0..size {
            let entry = input.c_string()?;
            let count = input.i64()?;
            match input.u8()? {
                0 => {
                    if !words.insert(&entry) {
                        return Err(Error::Corrupt(format!(
                            "the word {:?} twice",
                            String::from_utf8_lossy(&entry)
                        )));
                    }
                }
                1 => {
                    labels.push(String::from_utf8_lossy(&entry).into_owned());
                    label_counts.push(count);
                }
                other => return Err(Error::Corrupt(format!("dictionary entry type {other}"))),
            }
        }
        if words.len() != nwords as usize || labels.len() != nlabels as usize {
            return Err(Error::Corrupt("dictionary entries out of order or repeated".into()));
        }
        let pruned = if prune_size >= 0 {
            let n = input.count("pruned index size", prune_size, MAX_VOCAB * 4)?;
            let mut pairs = Vec::with_capacity(n);
            for _ in 0..n {
                let from = input.i32()?;
                let to = input.i32()?;
                if from < 0 || from as u32 >= args.bucket || to < 0 {
                    return Err(Error::Corrupt(format!("pruned bucket {from} -> {to} of {}", args.bucket)));
                }
                pairs.push((from as u32, to));
            }
            Some(PrunedIndex::new(args.bucket, pairs))
        } else {
            None
        };
        Ok(Dictionary {
            words,
            labels,
            label_counts,
            nwords,
            pruned,
            minn: args.minn,
            maxn: args.maxn,
            bucket: args.bucket,
            word_ngrams: args.word_ngrams,
        })
    }

    /// Rows the input matrix must have: words plus buckets.
    pub(crate) fn input_rows_at_least(&self) -> usize {
        let buckets = match &self.pruned {
            None => self.bucket as usize,
            Some(index) => index.max_row().map_or(0, |row| row as usize + 1),
        };
        self.nwords as usize + buckets
    }

    fn push_bucket(&self, rows: &mut Vec<i32>, bucket: i32) {
        let row = match &self.pruned {
            None => bucket,
            Some(index) => match index.get(bucket as u32) {
                Some(kept) => kept,
                None => return,
            },
        };
        rows.push(self.nwords + row);
    }

    /// One token's rows (its word row, if in the vocabulary, then its subword buckets), appended
    /// to `rows`; no hash for a label token missing from the vocabulary (it is skipped).
    fn token_rows(&self, token: &[u8], rows: &mut Vec<i32>, word: &mut Vec<u8>) -> CachedToken {
        let start = rows.len() as u32;
        let h = hash(token);
        let id = self.words.get(token, h);
        let skipped = id.is_none() && token.starts_with(LABEL_PREFIX);
        if !skipped {
            if let Some(id) = id {
                rows.push(id);
            }
            if token != EOS {
                self.push_subwords(rows, token, word);
            }
        }
        CachedToken { start, end: rows.len() as u32, hash: (!skipped).then_some(h as i32) }
    }

    /// Character n-gram buckets of `<token>` (fastText's `computeSubwords`).
    fn push_subwords(&self, rows: &mut Vec<i32>, token: &[u8], word: &mut Vec<u8>) {
        if self.maxn == 0 || self.bucket == 0 {
            return;
        }
        word.clear();
        word.push(b'<');
        word.extend_from_slice(token);
        word.push(b'>');
        let len = word.len();
        for i in 0..len {
            if word[i] & 0xC0 == 0x80 {
                continue;
            }
            let mut h = FNV_OFFSET;
            let mut j = i;
            let mut n = 1;
            while j < len && n <= self.maxn {
                h = fnv_step(h, word[j]);
                j += 1;
                while j < len && word[j] & 0xC0 == 0x80 {
                    h = fnv_step(h, word[j]);
                    j += 1;
                }
                if n >= self.minn && !(n == 1 && (i == 0 || j == len)) {
                    self.push_bucket(rows, (h % self.bucket) as i32);
                }
                n += 1;
            }
        }
    }

    /// The input rows of one line of text: its whitespace-separated tokens then `</s>`. Each
    /// token's rows are worked out once per [`TokenRows`] cache and copied after that.
    pub(crate) fn line_rows(
        &self,
        text: &str,
        cache: &mut TokenRows,
        rows: &mut Vec<i32>,
        hashes: &mut Vec<i32>,
        word: &mut Vec<u8>,
    ) {
        rows.clear();
        hashes.clear();
        let tokens = text
            .as_bytes()
            .split(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t' | 0x0B | 0x0C | 0))
            .filter(|t| !t.is_empty())
            .chain(std::iter::once(EOS));
        for token in tokens {
            let cached = match cache.tokens.get(token) {
                Some(&cached) => cached,
                None => {
                    let cached = self.token_rows(token, &mut cache.rows, word);
                    cache.insert(token, cached)
                }
            };
            if let Some(h) = cached.hash {
                rows.extend_from_slice(&cache.rows[cached.start as usize..cached.end as usize]);
                hashes.push(h);
            }
        }
        if self.word_ngrams > 1 && self.bucket > 0 {
            for i in 0..hashes.len() {
                let mut h = hashes[i] as i64 as u64;
                for &next in hashes.iter().take((i + self.word_ngrams).min(hashes.len())).skip(i + 1) {
                    h = h.wrapping_mul(116_049_371).wrapping_add(next as i64 as u64);
                    self.push_bucket(rows, (h % self.bucket as u64) as i32);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruned_index_maps_kept_buckets_only() {
        let index = PrunedIndex::new(200, vec![(130, 7), (0, 3), (63, 9), (64, 1), (199, 2)]);
        let got: Vec<(u32, i32)> = (0..200).filter_map(|b| index.get(b).map(|r| (b, r))).collect();
        assert_eq!(got, [(0, 3), (63, 9), (64, 1), (130, 7), (199, 2)]);
        assert_eq!(index.max_row(), Some(9));
    }

    #[test]
    fn hash_is_fnv1a_with_signed_bytes() {
        assert_eq!(hash(b""), 2_166_136_261);
        assert_eq!(hash(b"a"), 0xe40c292c);
        // A byte >= 0x80 is sign-extended first, as fastText's `char` is on x86.
        assert_ne!(hash("é".as_bytes()), {
            let mut h = FNV_OFFSET;
            for &b in "é".as_bytes() {
                h = (h ^ b as u32).wrapping_mul(16_777_619);
            }
            h
        });
    }
}
