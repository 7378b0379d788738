//! A `HashMap`/`HashSet` hasher for keys that are already well-mixed 64-bit hashes (xxh3 of a
//! word or an n-gram): hashing them again would only cost time.
//!
//! ```
//! use std::collections::HashSet;
//! use millstone_core::prehashed::PreHashedBuild;
//! let mut seen: HashSet<u64, PreHashedBuild> = HashSet::default();
//! assert!(seen.insert(0x9e37_79b9_7f4a_7c15));
//! ```

/// Passes a `u64` key through unchanged.
#[derive(Default, Clone, Copy)]
pub struct PreHashed(u64);

impl std::hash::Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The `BuildHasher` of [`PreHashed`].
pub type PreHashedBuild = std::hash::BuildHasherDefault<PreHashed>;
