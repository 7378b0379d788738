//! A spill file: documents written to disk in order and read back in the same order, for
//! barriers that must see the whole input before deciding (two-pass cleaning, cluster keepers)
//! while keeping memory bounded. The file is anonymous and disappears with the value.
//!
//! Records are length-prefixed binary (id, text, provenance, spans as raw bytes; only the
//! small metadata map goes through JSON), because the barrier thread that writes and reads
//! them is sequential: copying text costs far less than escaping and parsing it.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;

use crate::document::{Document, Location, Meta, Provenance, Span};
use crate::error::StageError;

fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    buf.extend_from_slice(bytes);
}

fn put_u64(buf: &mut Vec<u8>, n: u64) {
    buf.extend_from_slice(&n.to_le_bytes());
}

/// Reads back what `put_*` wrote.
struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn u64(&mut self) -> Result<u64, StageError> {
        let (head, rest) = self.bytes.split_at_checked(8).ok_or_else(|| spill_corrupt("truncated record"))?;
        self.bytes = rest;
        Ok(u64::from_le_bytes(head.try_into().expect("8 bytes")))
    }
    fn bytes(&mut self) -> Result<&'a [u8], StageError> {
        let len = self.u64()? as usize;
        let (head, rest) =
            self.bytes.split_at_checked(len).ok_or_else(|| spill_corrupt("truncated record"))?;
        self.bytes = rest;
        Ok(head)
    }
    fn string(&mut self) -> Result<String, StageError> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(spill_error)
    }
}

fn encode(doc: &Document, buf: &mut Vec<u8>) -> Result<(), StageError> {
    put_bytes(buf, doc.id.as_bytes());
    put_bytes(buf, doc.text.as_bytes());
    put_bytes(buf, &serde_json::to_vec(&doc.meta).map_err(spill_error)?);
    put_bytes(buf, doc.provenance.source.as_bytes());
    let (kind, n) = match doc.provenance.location {
        Location::File => (0, 0),
        Location::Line(n) => (1, n),
        Location::Byte(n) => (2, n),
        Location::Record(n) => (3, n),
    };
    put_u64(buf, kind);
    put_u64(buf, n);
    put_u64(buf, doc.spans.len() as u64);
    for span in &doc.spans {
        put_u64(buf, span.start as u64);
        put_u64(buf, span.end as u64);
        put_bytes(buf, span.label.as_bytes());
    }
    Ok(())
}

fn decode(record: &[u8]) -> Result<Document, StageError> {
    let mut c = Cursor { bytes: record };
    let id = c.string()?;
    let text = c.string()?;
    let meta: Meta = serde_json::from_slice(c.bytes()?).map_err(spill_error)?;
    let source = c.string()?;
    let location = match (c.u64()?, c.u64()?) {
        (0, _) => Location::File,
        (1, n) => Location::Line(n),
        (2, n) => Location::Byte(n),
        (_, n) => Location::Record(n),
    };
    let spans = (0..c.u64()?)
        .map(|_| Ok(Span { start: c.u64()? as usize, end: c.u64()? as usize, label: c.string()?.into() }))
        .collect::<Result<Vec<_>, StageError>>()?;
    let mut doc = Document::new(id, text).with_provenance(Provenance { source: source.into(), location });
    doc.meta = meta;
    doc.spans = spans;
    Ok(doc)
}

/// A record longer than this is corruption, not data (it would not fit in memory anyway).
const MAX_RECORD_BYTES: u64 = 1 << 40;

impl SpillFile {
    /// Encodes one document as a spill record (without the length prefix).
    pub fn encode_record(doc: &Document, buf: &mut Vec<u8>) -> Result<(), StageError> {
        encode(doc, buf)
    }

    /// Decodes one spill record; a truncated or corrupt record is an error, never a panic.
    pub fn decode_record(record: &[u8]) -> Result<Document, StageError> {
        decode(record)
    }

    /// Writes `doc` to `writer` as one length-prefixed record (`buf` is scratch space) and
    /// returns the bytes written; errors name `source`. The format of spill files, also used
    /// for documents passed between the steps of a distributed run.
    pub fn write_record(
        writer: &mut impl Write,
        doc: &Document,
        buf: &mut Vec<u8>,
        source: &dyn std::fmt::Display,
    ) -> Result<u64, StageError> {
        buf.clear();
        encode(doc, buf)?;
        let io = |e| StageError::io(source, e);
        writer.write_all(&(buf.len() as u64).to_le_bytes()).map_err(io)?;
        writer.write_all(buf).map_err(io)?;
        Ok(buf.len() as u64 + 8)
    }

    /// Reads the next record [`SpillFile::write_record`] wrote (`buf` is scratch space): `None`
    /// at a clean end; a truncated or corrupt record is an error naming `source`.
    pub fn read_record(
        reader: &mut impl Read,
        buf: &mut Vec<u8>,
        source: &dyn std::fmt::Display,
    ) -> Result<Option<Document>, StageError> {
        let corrupt = |what: &str| {
            StageError::io(source, std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string()))
        };
        let mut len = [0u8; 8];
        let mut filled = 0;
        while filled < len.len() {
            match reader.read(&mut len[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(StageError::io(source, e)),
            }
        }
        match filled {
            0 => return Ok(None),
            8 => {}
            _ => return Err(corrupt("truncated record length")),
        }
        let len = u64::from_le_bytes(len);
        if len > MAX_RECORD_BYTES {
            return Err(corrupt("impossible record length"));
        }
        buf.resize(len as usize, 0);
        reader.read_exact(buf).map_err(|e| StageError::io(source, e))?;
        decode(buf).map(Some).map_err(|e| corrupt(&format!("corrupt record: {e}")))
    }
}

/// Documents parked on disk.
#[derive(Debug)]
pub struct SpillFile {
    writer: Option<BufWriter<File>>,
    reader: Option<BufReader<File>>,
    written: u64,
    buffer: Vec<u8>,
}

fn spill_error(e: impl std::error::Error + Send + Sync + 'static) -> StageError {
    StageError::path("spill file", e)
}

fn spill_corrupt(what: &str) -> StageError {
    StageError::path("spill file", std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string()))
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
            buffer: Vec::new(),
        })
    }

    /// Appends a document (its scratch value is not kept).
    pub fn push(&mut self, doc: Document) -> Result<(), StageError> {
        let writer = self.writer.as_mut().ok_or_else(|| spill_corrupt("already being read"))?;
        SpillFile::write_record(writer, &doc, &mut self.buffer, &"spill file")?;
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
            let mut file = writer.into_inner().map_err(|e| spill_error(e.into_error()))?;
            file.rewind().map_err(spill_error)?;
            self.reader = Some(BufReader::with_capacity(1 << 20, file));
        }
        let reader = self.reader.as_mut().expect("switched to reading above");
        SpillFile::read_record(reader, &mut self.buffer, &"spill file")
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
