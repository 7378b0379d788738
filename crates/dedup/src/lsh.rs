//! Locality-sensitive hashing over MinHash bands, and the choice of bands x rows.

use std::cell::RefCell;
use std::collections::HashMap;

use millstone_core::prehashed::PreHashedBuild;
use xxhash_rust::xxh3::xxh3_64;

/// Band keys of a signature: one 64-bit hash per band of `rows` values.
pub fn band_keys(values: &[u32], bands: usize, rows: usize) -> Vec<u64> {
    (0..bands)
        .map(|band| {
            let slice = &values[band * rows..(band + 1) * rows];
            let mut bytes = Vec::with_capacity(rows * 4 + 2);
            bytes.extend_from_slice(&(band as u16).to_le_bytes());
            for v in slice {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            xxh3_64(&bytes)
        })
        .collect()
}

/// An LSH index: for each band, a bucket of document numbers sharing that band's key. Buckets
/// are linked lists threaded through one `u32` per document and band, so the index costs
/// `bands x (4 bytes + one hash-map entry per distinct key)` per document.
///
/// ```
/// use millstone_dedup::LshIndex;
/// let mut index = LshIndex::new(2);
/// index.insert(&[10, 20]);
/// index.insert(&[11, 20]);
/// assert_eq!(index.candidates(&[99, 20], 100), vec![1, 0]);
/// ```
#[derive(Debug, Clone)]
pub struct LshIndex {
    bands: usize,
    /// Band keys are xxh3 hashes already: the maps use them as their own hash.
    heads: Vec<HashMap<u64, u32, PreHashedBuild>>,
    next: Vec<u32>,
    len: u32,
}

const END: u32 = u32::MAX;

impl LshIndex {
    /// An empty index for `bands` bands.
    pub fn new(bands: usize) -> Self {
        LshIndex { bands, heads: vec![HashMap::default(); bands], next: Vec::new(), len: 0 }
    }

    /// Number of documents inserted.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Inserts the next document (numbered 0, 1, 2, ... in insertion order).
    pub fn insert(&mut self, keys: &[u64]) -> u32 {
        let doc = self.len;
        for (band, key) in keys.iter().enumerate().take(self.bands) {
            let previous = self.heads[band].insert(*key, doc).unwrap_or(END);
            self.next.push(previous);
        }
        self.len += 1;
        doc
    }

    /// Documents sharing at least one band with `keys`, newest first, without repeats; at most
    /// `max_per_bucket` are taken from any one bucket.
    pub fn candidates(&self, keys: &[u64], max_per_bucket: usize) -> Vec<u32> {
        // Similar documents share most bands, so the buckets repeat each other: a bit per
        // document drops the repeats as they come, and only the distinct ones are sorted. The
        // bits stay allocated per thread between calls (one bit per indexed document: 125 KB
        // per million) and are cleared word by word after each call.
        thread_local! {
            static SEEN: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
        }
        SEEN.with_borrow_mut(|seen| {
            let words = (self.len as usize).div_ceil(64);
            if seen.len() < words {
                seen.resize(words, 0);
            }
            let mut found = Vec::new();
            for (band, key) in keys.iter().enumerate().take(self.bands) {
                let mut doc = self.heads[band].get(key).copied().unwrap_or(END);
                let mut taken = 0;
                while doc != END && taken < max_per_bucket {
                    let (word, bit) = (doc as usize / 64, 1u64 << (doc % 64));
                    if seen[word] & bit == 0 {
                        seen[word] |= bit;
                        found.push(doc);
                    }
                    taken += 1;
                    doc = self.next[doc as usize * self.bands + band];
                }
            }
            for &doc in &found {
                seen[doc as usize / 64] = 0;
            }
            found.sort_unstable_by(|a, b| b.cmp(a));
            found
        })
    }

    /// Approximate heap bytes.
    pub fn retained_bytes(&self) -> usize {
        self.next.capacity() * 4 + self.heads.iter().map(|h| h.capacity() * 13).sum::<usize>()
    }
}

/// Probability that two documents of Jaccard similarity `s` share at least one band.
pub fn collision_probability(s: f64, bands: usize, rows: usize) -> f64 {
    1.0 - (1.0 - s.powi(rows as i32)).powi(bands as i32)
}

/// Chooses `(bands, rows)` with `bands * rows <= permutations` minimising
/// `fp_weight x (false-positive area below threshold) + fn_weight x (false-negative area above)`.
pub fn optimal_bands_rows(
    threshold: f64,
    permutations: usize,
    fp_weight: f64,
    fn_weight: f64,
) -> (usize, usize) {
    let integrate = |f: &dyn Fn(f64) -> f64, a: f64, b: f64| {
        let steps = 200;
        let h = (b - a) / steps as f64;
        (0..steps).map(|i| (f(a + i as f64 * h) + f(a + (i + 1) as f64 * h)) * h / 2.0).sum::<f64>()
    };
    let mut best = (1, 1);
    let mut best_error = f64::INFINITY;
    for bands in 1..=permutations {
        for rows in 1..=permutations / bands {
            let fp = integrate(&|s| collision_probability(s, bands, rows), 0.0, threshold);
            let fneg = integrate(&|s| 1.0 - collision_probability(s, bands, rows), threshold, 1.0);
            let error = fp * fp_weight + fneg * fn_weight;
            if error < best_error - 1e-12 {
                best_error = error;
                best = (bands, rows);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optimal_parameters_move_with_the_threshold() {
        let (b_low, r_low) = optimal_bands_rows(0.3, 112, 0.5, 0.5);
        let (b_high, r_high) = optimal_bands_rows(0.8, 112, 0.5, 0.5);
        assert!(r_low < r_high, "{b_low}x{r_low} vs {b_high}x{r_high}");
        assert!(b_low * r_low <= 112 && b_high * r_high <= 112);
        // An S-curve around the threshold: likely above it, unlikely well below it.
        assert!(collision_probability(0.9, b_high, r_high) > 0.9);
        assert!(collision_probability(0.6, b_high, r_high) < 0.1);
        assert!(collision_probability(0.45, b_low, r_low) > 0.9);
    }

    #[test]
    fn buckets_are_capped_and_newest_first() {
        let mut index = LshIndex::new(1);
        for _ in 0..10 {
            index.insert(&[5]);
        }
        assert_eq!(index.candidates(&[5], 3), vec![9, 8, 7]);
        assert!(index.candidates(&[6], 3).is_empty());
    }
}
