//! Streaming reads of an object: ranged GETs of [`CHUNK_BYTES`], the next one requested while
//! the current one is consumed, so at most two chunks are held whatever the object's size.
//! Seeking drops both and starts again at the new position.

use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;

use bytes::Bytes;
use object_store::ObjectStoreExt;
use tokio::task::JoinHandle;

use crate::{block_on, runtime, Error, Object, CHUNK_BYTES};

/// A blocking reader of bytes `start..end` of an object.
pub struct ObjectReader {
    object: Object,
    /// The position of the next byte `read` returns.
    position: u64,
    /// The next byte to request.
    next: u64,
    end: u64,
    current: Bytes,
    ahead: Option<JoinHandle<Result<Bytes, object_store::Error>>>,
}

impl ObjectReader {
    /// Reads the whole object.
    pub fn open(url: &str) -> Result<Self, Error> {
        let size = crate::size(url)?;
        Self::open_range(url, 0..size)
    }

    /// Reads bytes `range` of the object.
    pub fn open_range(url: &str, range: Range<u64>) -> Result<Self, Error> {
        let object = Object::parse(url)?;
        let mut reader = ObjectReader {
            object,
            position: range.start,
            next: range.start,
            end: range.end,
            current: Bytes::new(),
            ahead: None,
        };
        reader.request();
        Ok(reader)
    }

    /// Starts the GET of the next chunk, if any is left.
    fn request(&mut self) {
        if self.next >= self.end {
            self.ahead = None;
            return;
        }
        let range = self.next..(self.next + CHUNK_BYTES).min(self.end);
        self.next = range.end;
        let (store, path) = (self.object.store.clone(), self.object.path.clone());
        self.ahead = Some(runtime().spawn(async move { store.get_range(&path, range).await }));
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.current.is_empty() {
            let Some(pending) = self.ahead.take() else { return Ok(0) };
            let fetched = block_on(pending).map_err(io::Error::other)?;
            self.current = fetched.map_err(|e| io::Error::other(Error::store(&self.object.url, e)))?;
            self.request();
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for ObjectReader {
    /// Positions are offsets in the object (not in the range it was opened on); reading past
    /// the range's end still stops there.
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
            SeekFrom::End(delta) => self.end.checked_add_signed(delta),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start of the object"))?;
        if target != self.position {
            if let Some(pending) = self.ahead.take() {
                pending.abort();
            }
            self.current = Bytes::new();
            self.position = target;
            self.next = target;
            self.request();
        }
        Ok(target)
    }
}

impl Drop for ObjectReader {
    fn drop(&mut self) {
        if let Some(pending) = self.ahead.take() {
            pending.abort();
        }
    }
}
