//! A spill file: documents written to disk in order and read back in the same order, for
//! barriers that must see the whole input before deciding (two-pass cleaning, cluster keepers)
//! while keeping memory bounded. The file is anonymous and disappears with the value.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::document::{Document, Meta, Provenance, Span};
use crate::error::StageError;

#[derive(Serialize, Deserialize)]
struct Record {
    id: String,
    text: String,
    meta: Meta,
    provenance: Provenance,
    spans: Vec<Span>,
}

/// Documents parked on disk.
#[derive(Debug)]
pub struct SpillFile {
    writer: Option<BufWriter<File>>,
    reader: Option<BufReader<File>>,
    written: u64,
    line: String,
}

fn spill_error(e: impl std::fmt::Display) -> StageError {
    StageError::other(format!("spill file: {e}"))
}

impl SpillFile {
    /// A new anonymous spill file in `dir` (the system temp folder when `None`).
    pub fn create(dir: Option<&Path>) -> Result<Self, StageError> {
        let dir = dir.map(Path::to_path_buf).unwrap_or_else(std::env::temp_dir);
        let file = tempfile::tempfile_in(&dir).map_err(|e| StageError::io(dir.display(), e))?;
        Ok(SpillFile {
            writer: Some(BufWriter::with_capacity(1 << 20, file)),
            reader: None,
            written: 0,
            line: String::new(),
        })
    }

    /// Appends a document (its scratch value is not kept).
    pub fn push(&mut self, doc: Document) -> Result<(), StageError> {
        let writer = self.writer.as_mut().ok_or_else(|| spill_error("already being read"))?;
        let record = Record {
            id: doc.id.to_string(),
            text: doc.text,
            meta: doc.meta,
            provenance: doc.provenance,
            spans: doc.spans,
        };
        serde_json::to_writer(&mut *writer, &record).map_err(spill_error)?;
        writer.write_all(b"\n").map_err(spill_error)?;
        self.written += 1;
        Ok(())
    }

    /// Documents written.
    pub fn len(&self) -> u64 {
        self.written
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.written == 0
    }

    /// The next document in write order, switching to reading on the first call.
    pub fn read_next(&mut self) -> Result<Option<Document>, StageError> {
        if let Some(mut writer) = self.writer.take() {
            writer.flush().map_err(spill_error)?;
            let mut file = writer.into_inner().map_err(|e| spill_error(e.error()))?;
            file.rewind().map_err(spill_error)?;
            self.reader = Some(BufReader::with_capacity(1 << 20, file));
        }
        let reader = self.reader.as_mut().expect("switched to reading above");
        self.line.clear();
        if reader.read_line(&mut self.line).map_err(spill_error)? == 0 {
            return Ok(None);
        }
        let record: Record = serde_json::from_str(&self.line).map_err(spill_error)?;
        let mut doc = Document::new(record.id, record.text).with_provenance(record.provenance);
        doc.meta = record.meta;
        doc.spans = record.spans;
        Ok(Some(doc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_order() {
        let mut spill = SpillFile::create(None).unwrap();
        let docs: Vec<Document> = (0..5)
            .map(|i| {
                Document::new(format!("d{i}"), format!("text\n{i} ✓"))
                    .with_meta("n", i)
                    .with_provenance(Provenance::line("f", i))
            })
            .collect();
        for d in docs.clone() {
            spill.push(d).unwrap();
        }
        let mut back = Vec::new();
        while let Some(d) = spill.read_next().unwrap() {
            back.push(d);
        }
        assert_eq!(back, docs);
    }
}
