//! Which 128-bit hashes a stream has seen, and how often: the state of exact dedup.
//!
//! Each distinct hash is stored once, in arrival order; a hash table of 4-byte positions into
//! that list finds it again, and only hashes seen more than once have a count. Per distinct hash
//! that is 16 bytes in the list (up to 18 with its growth room) and 5 bytes (position and control
//! byte) per table slot, 5.7-11.4 with the table between seven eighths and seven sixteenths full:
//! 22-30 bytes, against 38-75 for a `HashMap<u128, (u32, u32)>` of the same entries. The hashes
//! are xxh3 outputs already, so their low 64 bits serve as the table's hash: nothing is hashed
//! twice.

use hashbrown::{HashMap, HashTable};

/// The distinct hashes seen so far (at most `u32::MAX` of them).
#[derive(Debug, Default)]
pub struct FirstSeen {
    table: HashTable<u32>,
    hashes: Vec<u128>,
    /// Occurrences of the hashes seen more than once, by position.
    repeated: HashMap<u32, u32, foldhash::fast::FixedState>,
}

impl FirstSeen {
    /// Counts one more occurrence of `hash`: returns the position of its first occurrence among
    /// the distinct hashes (0, 1, 2, ... in arrival order) and whether this is that first one.
    pub fn insert(&mut self, hash: u128) -> (u32, bool) {
        let hashes = &self.hashes;
        if let Some(&position) = self.table.find(hash as u64, |&p| hashes[p as usize] == hash) {
            *self.repeated.entry(position).or_insert(1) += 1;
            return (position, false);
        }
        let position = u32::try_from(self.hashes.len()).expect("at most u32::MAX distinct hashes");
        if self.hashes.len() == self.hashes.capacity() {
            // An eighth more (at least 1,024), not twice as much: at most an eighth unused.
            self.hashes.reserve_exact((self.hashes.len() / 8).max(1024));
        }
        self.hashes.push(hash);
        let hashes = &self.hashes;
        self.table.insert_unique(hash as u64, position, |&p| hashes[p as usize] as u64);
        (position, true)
    }

    /// Distinct hashes seen.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether nothing was seen.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// How often each hash seen more than once occurred (position, occurrences).
    pub fn repeated(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.repeated.iter().map(|(&p, &n)| (p, n))
    }

    /// Bytes held (by allocation, not by use).
    pub fn bytes(&self) -> usize {
        self.table.allocation_size()
            + self.hashes.capacity() * std::mem::size_of::<u128>()
            + self.repeated.allocation_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The positions and counts of a plain map of first positions, whatever the hashes
        /// (equal low halves included, which share table hashes).
        #[test]
        fn positions_and_counts_are_those_of_a_map(keys in prop::collection::vec((0u64..40, 0u64..3), 0..400)) {
            let mut seen = FirstSeen::default();
            let mut model: std::collections::HashMap<u128, u32> = Default::default();
            let mut counts = Vec::new();
            for (low, high) in keys {
                let hash = u128::from(low) | (u128::from(high) << 64);
                let next = model.len() as u32;
                let first = *model.entry(hash).or_insert(next);
                if first == next {
                    counts.push(0);
                }
                counts[first as usize] += 1;
                prop_assert_eq!(seen.insert(hash), (first, first == next));
            }
            prop_assert_eq!(seen.len(), model.len());
            let mut repeated: Vec<(u32, u32)> = seen.repeated().collect();
            repeated.sort_unstable();
            let expected: Vec<(u32, u32)> =
                counts.iter().enumerate().filter(|(_, n)| **n > 1).map(|(p, n)| (p as u32, *n)).collect();
            prop_assert_eq!(repeated, expected);
        }
    }

    #[test]
    fn a_million_distinct_hashes_take_at_most_32_bytes_each() {
        let mut seen = FirstSeen::default();
        for i in 0..1_000_000u128 {
            seen.insert(xxhash_rust::xxh3::xxh3_128(&i.to_le_bytes()));
        }
        let per_hash = seen.bytes() as f64 / seen.len() as f64;
        assert!(per_hash <= 32.0, "{per_hash:.1} bytes per distinct hash");
    }
}
