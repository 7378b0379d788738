//! Lines read but not yet parsed. A source of one record per line (JSONL) offers a
//! [`LineParser`]: its reader thread then only cuts the shard into batches of raw lines, in
//! order, and the first parallel section parses them on the worker pool. Parsing was most of a
//! reader's time, and a reader works on one shard at a time, so it did not scale with threads.

use std::sync::Arc;

use millstone_core::{LineParser, Provenance, RawLine, RecordError, SourceItem, StageError};

/// One record of a [`LineBatch`], in input order.
enum Record {
    /// A line: its bytes end at `end` in the batch's buffer (and start where the previous line
    /// ended).
    Line { end: usize, number: u64 },
    /// A record the source could not read.
    Bad(RecordError),
    /// The rest of the shard could not be read (a broken stream), after the lines before it.
    Failed(Provenance, StageError),
}

/// Consecutive raw lines of one shard.
pub(crate) struct LineBatch {
    /// The source's stage index.
    pub source: usize,
    parser: Arc<dyn LineParser>,
    file: Arc<str>,
    file_name: Arc<str>,
    bytes: Vec<u8>,
    records: Vec<Record>,
}

impl LineBatch {
    /// An empty batch of lines of `file` (named `file_name` without folders), held in `bytes`
    /// (a buffer from the run's pool: a fresh one per batch cost the kernel's zeroing of new
    /// pages, the largest item of a reader's profile).
    pub(crate) fn new(
        source: usize,
        parser: Arc<dyn LineParser>,
        file: Arc<str>,
        file_name: Arc<str>,
        bytes: Vec<u8>,
    ) -> Self {
        LineBatch { source, parser, file, file_name, bytes, records: Vec::new() }
    }

    /// An empty batch for the same shard, in `bytes`.
    pub(crate) fn next(&self, bytes: Vec<u8>) -> Self {
        let (parser, file, name) = (self.parser.clone(), self.file.clone(), self.file_name.clone());
        let mut next = LineBatch::new(self.source, parser, file, name, bytes);
        next.records.reserve(self.records.len());
        next
    }

    /// Adds a line or an unreadable record.
    pub(crate) fn push(&mut self, raw: RawLine<'_>) {
        match raw {
            RawLine::Line { bytes, number } => {
                self.bytes.extend_from_slice(bytes);
                self.records.push(Record::Line { end: self.bytes.len(), number });
            }
            RawLine::Bad(bad) => self.records.push(Record::Bad(bad)),
        }
    }

    /// Adds the error that ended the shard early.
    pub(crate) fn push_failure(&mut self, provenance: Provenance, error: StageError) {
        self.records.push(Record::Failed(provenance, error));
    }

    /// Records held.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// Bytes of the lines held.
    pub(crate) fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// Parses the records in order and passes each item on, or the error that ended the shard
    /// (`Err((where, error))`); stops at the first `Err` that `f` returns. Gives back the buffer
    /// that held the lines.
    pub(crate) fn parse<E>(
        self,
        mut f: impl FnMut(Result<SourceItem, (Provenance, StageError)>) -> Result<(), E>,
    ) -> (Vec<u8>, Result<(), E>) {
        let mut start = 0;
        let mut result = Ok(());
        for record in self.records {
            let parsed = match record {
                Record::Line { end, number } => {
                    let line = &self.bytes[start..end];
                    start = end;
                    match self.parser.parse_line(line, &self.file, number, &self.file_name) {
                        Some(parsed) => f(Ok(parsed)),
                        None => Ok(()),
                    }
                }
                Record::Bad(bad) => f(Ok(SourceItem::Bad(bad))),
                Record::Failed(provenance, error) => f(Err((provenance, error))),
            };
            if parsed.is_err() {
                result = parsed;
                break;
            }
        }
        (self.bytes, result)
    }
}
