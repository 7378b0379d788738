//! Every document's set of shingle hashes, on disk, for exact verification: near-duplicate
//! stages propose and link candidates with sketches, then check each cluster member against its
//! keeper on the true sets, so estimator noise can neither chain two stories nor drop a short
//! extraction of a long one. In memory: 8 bytes per document (its offset) and the last set read
//! (the keeper being compared against); on disk: 4 bytes per distinct shingle.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use millstone_core::StageError;

/// A 64-bit shingle hash folded to the 32 bits a shingle set stores.
pub fn fold(hash: u64) -> u32 {
    (hash >> 32) as u32 ^ hash as u32
}

/// The sorted distinct values of `hashes` (folded shingle hashes): a document's shingle set.
pub fn shingle_set(mut hashes: Vec<u32>) -> Vec<u32> {
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

/// Calls `f` with every value of two sorted sets that is in both.
pub fn for_each_common(a: &[u32], b: &[u32], mut f: impl FnMut(u32)) {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                f(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
}

/// The shingle set of `text` under `shingler` (what the stages store, computed on its own).
pub fn set_of(shingler: &crate::shingle::Shingler, text: &str) -> Vec<u32> {
    let mut folded = Vec::new();
    shingler.for_each(text, |h| folded.push(fold(h)));
    shingle_set(folded)
}

/// |A ∩ B| of two sorted sets.
pub fn intersection(a: &[u32], b: &[u32]) -> usize {
    let mut n = 0;
    for_each_common(a, b, |_| n += 1);
    n
}

/// Shingle sets of documents 0, 1, 2, ... in an anonymous file.
pub struct ShingleSets {
    file: File,
    writer: Option<BufWriter<File>>,
    /// `ends[i]` is where document i's set ends, in u32s.
    ends: Vec<u64>,
    cached: Option<(u32, Vec<u32>)>,
}

fn error(e: std::io::Error) -> StageError {
    StageError::path("shingle set file", e)
}

impl ShingleSets {
    /// A new store in `dir` (the system temp folder when `None`).
    pub fn create(dir: Option<&Path>) -> Result<Self, StageError> {
        let dir = dir.map(Path::to_path_buf).unwrap_or_else(std::env::temp_dir);
        let file = tempfile::tempfile_in(&dir).map_err(|e| StageError::io(dir.display(), e))?;
        let writer = BufWriter::with_capacity(1 << 20, file.try_clone().map_err(error)?);
        Ok(ShingleSets { file, writer: Some(writer), ends: Vec::new(), cached: None })
    }

    /// Appends the next document's set.
    pub fn push(&mut self, set: &[u32]) -> Result<(), StageError> {
        let writer =
            self.writer.as_mut().ok_or_else(|| StageError::other("shingle sets: written after reading"))?;
        for h in set {
            writer.write_all(&h.to_le_bytes()).map_err(error)?;
        }
        let end = self.ends.last().copied().unwrap_or(0) + set.len() as u64;
        self.ends.push(end);
        Ok(())
    }

    /// Size of document `i`'s set.
    pub fn len_of(&self, i: u32) -> usize {
        let i = i as usize;
        (self.ends[i] - if i == 0 { 0 } else { self.ends[i - 1] }) as usize
    }

    /// Document `i`'s set (read back from disk; the last one read is kept).
    pub fn get(&mut self, i: u32) -> Result<&[u32], StageError> {
        if self.cached.as_ref().is_none_or(|(c, _)| *c != i) {
            let set = self.read(i)?;
            self.cached = Some((i, set));
        }
        Ok(&self.cached.as_ref().expect("filled above").1)
    }

    /// Exact |A ∩ B|, |A|, |B| of documents `a` and `b` (`a`'s set stays cached: pass the
    /// keeper as `a` when comparing many members with it).
    pub fn overlap(&mut self, a: u32, b: u32) -> Result<(usize, usize, usize), StageError> {
        self.with_pair(a, b, |first, other| (intersection(first, other), first.len(), other.len()))
    }

    /// `f` of the sets of documents `a` (kept cached) and `b`.
    pub fn with_pair<T>(
        &mut self,
        a: u32,
        b: u32,
        f: impl FnOnce(&[u32], &[u32]) -> T,
    ) -> Result<T, StageError> {
        let other = if a == b { None } else { Some(self.read(b)?) };
        let first = self.get(a)?;
        Ok(f(first, other.as_deref().unwrap_or(first)))
    }

    fn read(&mut self, i: u32) -> Result<Vec<u32>, StageError> {
        if let Some(mut writer) = self.writer.take() {
            writer.flush().map_err(error)?;
        }
        let start = if i == 0 { 0 } else { self.ends[i as usize - 1] };
        let mut bytes = vec![0u8; self.len_of(i) * 4];
        self.file.read_exact_at(&mut bytes, start * 4).map_err(error)?;
        Ok(bytes.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes"))).collect())
    }

    /// Bytes held in memory.
    pub fn retained_bytes(&self) -> usize {
        self.ends.capacity() * 8 + self.cached.as_ref().map_or(0, |(_, s)| s.capacity() * 4)
    }

    /// Bytes on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.ends.last().copied().unwrap_or(0) * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sets_read_back_and_overlaps_are_exact(
            sets in proptest::collection::vec(proptest::collection::vec(0u32..200, 0..50), 1..20),
        ) {
            let sets: Vec<Vec<u32>> = sets.into_iter().map(shingle_set).collect();
            let mut store = ShingleSets::create(None).unwrap();
            for s in &sets {
                store.push(s).unwrap();
            }
            for a in 0..sets.len() as u32 {
                for b in 0..sets.len() as u32 {
                    let expected = sets[a as usize].iter().filter(|h| sets[b as usize].contains(h)).count();
                    let (inter, la, lb) = store.overlap(a, b).unwrap();
                    prop_assert_eq!((inter, la, lb), (expected, sets[a as usize].len(), sets[b as usize].len()));
                }
            }
        }
    }
}
