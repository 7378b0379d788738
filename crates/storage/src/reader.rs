//! Streaming reads of an object: one GET of the wanted byte range, its body pulled by a task on
//! the I/O runtime into a bounded queue of [`FRAMES_AHEAD`] body frames, so the download runs
//! ahead of the parser by a bounded amount whatever the object's size. A connection that breaks
//! mid-body is resumed where it stopped by `object_store` (which checks the ETag did not
//! change). Seeking drops the queue and starts a new GET at the new position.
//!
//! One GET per range rather than a series of ranged GETs: S3 serves both at the same speed,
//! but servers that slice ranges out of a whole object per request (moto) are an order of
//! magnitude slower with many.

use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;

use bytes::Bytes;
use futures::StreamExt;
use object_store::{GetOptions, GetRange};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{runtime, Error, Object};

/// Body frames (each at most a few hundred KiB) held ahead of the reader.
const FRAMES_AHEAD: usize = 64;

type Frame = Result<Bytes, object_store::Error>;

/// A blocking reader of bytes `start..end` of an object.
pub struct ObjectReader {
    object: Object,
    /// The position of the next byte `read` returns.
    position: u64,
    end: u64,
    current: Bytes,
    frames: Option<mpsc::Receiver<Frame>>,
    feeder: Option<JoinHandle<()>>,
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
            end: range.end,
            current: Bytes::new(),
            frames: None,
            feeder: None,
        };
        reader.start();
        Ok(reader)
    }

    /// Starts the GET of `position..end`, if anything is left.
    fn start(&mut self) {
        self.stop();
        if self.position >= self.end {
            return;
        }
        let (sender, receiver) = mpsc::channel(FRAMES_AHEAD);
        let (store, path) = (self.object.store.clone(), self.object.path.clone());
        let options =
            GetOptions { range: Some(GetRange::Bounded(self.position..self.end)), ..Default::default() };
        self.feeder = Some(runtime().spawn(async move {
            let mut body = match store.get_opts(&path, options).await {
                Ok(result) => result.into_stream(),
                Err(e) => {
                    let _ = sender.send(Err(e)).await;
                    return;
                }
            };
            while let Some(frame) = body.next().await {
                let failed = frame.is_err();
                if sender.send(frame).await.is_err() || failed {
                    return;
                }
            }
        }));
        self.frames = Some(receiver);
    }

    fn stop(&mut self) {
        if let Some(feeder) = self.feeder.take() {
            feeder.abort();
        }
        self.frames = None;
        self.current = Bytes::new();
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            let Some(frames) = self.frames.as_mut() else { return Ok(0) };
            match frames.blocking_recv() {
                Some(Ok(frame)) => self.current = frame,
                Some(Err(e)) => {
                    self.stop();
                    return Err(io::Error::other(Error::store(&self.object.url, e)));
                }
                None if self.position < self.end => {
                    self.stop();
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "{}: the body ended at byte {} of {}",
                            self.object.url, self.position, self.end
                        ),
                    ));
                }
                None => {
                    self.stop();
                    return Ok(0);
                }
            }
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
            self.position = target;
            self.start();
        }
        Ok(target)
    }
}

impl Drop for ObjectReader {
    fn drop(&mut self) {
        self.stop();
    }
}
