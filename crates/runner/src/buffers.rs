//! Byte buffers of batches handed back for the next batches: encoded batches once their sink
//! thread wrote them, raw lines once the pool parsed them.
//!
//! A fresh buffer for every batch costs the allocator fresh pages, which the kernel zeroes (in
//! profiles of the identity pipeline that zeroing was the largest single item, first in the
//! encoders, then in the readers). The pool keeps a few buffers, so memory stays bounded by
//! `keep` times the largest batch.

use std::sync::Mutex;

/// Spare buffers, at most `keep` of them.
pub(crate) struct BufferPool {
    spare: Mutex<Vec<Vec<u8>>>,
    keep: usize,
}

impl BufferPool {
    /// A pool that keeps up to `keep` buffers.
    pub(crate) fn new(keep: usize) -> Self {
        BufferPool { spare: Mutex::new(Vec::with_capacity(keep)), keep }
    }

    /// An empty buffer, with the capacity of one given back if there is one.
    pub(crate) fn take(&self) -> Vec<u8> {
        self.spare.lock().unwrap_or_else(|p| p.into_inner()).pop().unwrap_or_default()
    }

    /// Gives a written buffer back; dropped when the pool is full.
    pub(crate) fn give(&self, mut buffer: Vec<u8>) {
        buffer.clear();
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        if spare.len() < self.keep {
            spare.push(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_empty_with_their_capacity_and_the_pool_stays_bounded() {
        let pool = BufferPool::new(2);
        assert_eq!(pool.take().capacity(), 0);
        for _ in 0..3 {
            let mut b = Vec::with_capacity(1000);
            b.extend_from_slice(b"bytes");
            pool.give(b);
        }
        assert_eq!(pool.spare.lock().unwrap().len(), 2);
        let b = pool.take();
        assert!(b.is_empty() && b.capacity() >= 1000);
    }
}
