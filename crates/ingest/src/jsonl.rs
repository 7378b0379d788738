//! `ingest.jsonl`: JSON Lines files, plain or compressed, one document per line.
//!
//! Large uncompressed files are split into byte-range shards aligned to line starts
//! (`shard_bytes`), so one big file is parsed on every core; line numbers stay exact.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::sync::Arc;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, ByteSize, Document, FieldError, LineParser, Meta, Provenance, RawLine,
    RecordError, Shard, Source, SourceItem, Stage, StageConfig, StageError, StageKind,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::input::{self, Compression, Decoded};
use crate::{Inputs, InvalidUtf8};

/// Configuration of `ingest.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct JsonlConfig {
    /// Where to read: `path` (one file or folder) or `paths` (files and globs).
    #[serde(flatten)]
    pub inputs: Inputs,
    /// Field holding the text; dots reach into objects (`content.body`).
    #[serde(default = "default_text_field")]
    pub text_field: String,
    /// Field holding the id; when absent, the id is `<file name>:<line>`.
    #[serde(default = "default_id_field")]
    pub id_field: String,
    /// What to do with a line that is not valid UTF-8.
    #[serde(default)]
    pub invalid_utf8: InvalidUtf8,
    /// Records larger than this are reported as bad instead of read.
    #[serde(default = "default_max_doc_bytes")]
    pub max_doc_bytes: ByteSize,
    /// Uncompressed files larger than this are read as several byte-range shards.
    #[serde(default = "default_shard_bytes")]
    pub shard_bytes: ByteSize,
}

fn default_text_field() -> String {
    "text".into()
}
fn default_id_field() -> String {
    "id".into()
}
pub(crate) fn default_max_doc_bytes() -> ByteSize {
    ByteSize(64 << 20)
}
fn default_shard_bytes() -> ByteSize {
    ByteSize(64 << 20)
}

impl StageConfig for JsonlConfig {
    const TYPE: &'static str = "ingest.jsonl";
    const KIND: StageKind = StageKind::Source;
    const SUMMARY: &'static str = "Read JSON Lines (plain, .gz, .zst); other fields become metadata";
    const EXAMPLE: &'static str =
        "type: ingest.jsonl\npaths: [data/*.jsonl.zst]\ntext_field: text\nid_field: id\n";

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.text_field.is_empty() {
            errors.push(FieldError::new("text_field", "must not be empty"));
        }
        if self.shard_bytes.0 < 4096 {
            errors.push(FieldError::new("shard_bytes", "must be at least 4KiB"));
        }
        self.inputs.validate(&mut errors);
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::Source(Box::new(JsonlSource::from_config(self.clone()))))
    }
}

/// The `ingest.jsonl` source, usable on its own.
#[derive(Debug, Clone)]
pub struct JsonlSource {
    config: JsonlConfig,
}

impl JsonlSource {
    /// A source over these paths with default settings.
    pub fn new(paths: Vec<String>) -> Self {
        JsonlSource::from_config(JsonlConfig {
            inputs: Inputs::paths(paths),
            text_field: default_text_field(),
            id_field: default_id_field(),
            invalid_utf8: InvalidUtf8::default(),
            max_doc_bytes: default_max_doc_bytes(),
            shard_bytes: default_shard_bytes(),
        })
    }

    /// A source from a configuration.
    pub fn from_config(config: JsonlConfig) -> Self {
        JsonlSource { config }
    }

    /// Sets the byte-range shard size (builder style).
    pub fn with_shard_bytes(mut self, bytes: u64) -> Self {
        self.config.shard_bytes = ByteSize(bytes);
        self
    }

    /// Parses one line (without its terminator) into an item; `None` for a blank line.
    pub fn parse_line(
        &self,
        bytes: &[u8],
        file: &Arc<str>,
        line: u64,
        file_name: &str,
    ) -> Option<SourceItem> {
        let provenance = || Provenance::line(file.clone(), line);
        let bad = |message: String| Some(SourceItem::Bad(RecordError { provenance: provenance(), message }));
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return None;
        }
        if bytes.len() as u64 > self.config.max_doc_bytes.0 {
            return bad(format!(
                "record of {} bytes is larger than max_doc_bytes ({})",
                bytes.len(),
                self.config.max_doc_bytes
            ));
        }
        let (text, repaired) = match std::str::from_utf8(bytes) {
            Ok(text) => (std::borrow::Cow::Borrowed(text), false),
            Err(_) => match input::decode(bytes.to_vec(), self.config.invalid_utf8) {
                Decoded::Text { text, repaired } => (std::borrow::Cow::Owned(text), repaired),
                Decoded::Invalid { offset } => {
                    return bad(format!("invalid UTF-8 at byte {offset} of the line"))
                }
            },
        };
        // Straight into the document's metadata map: no intermediate JSON object to rebuild.
        let mut record: Meta = match serde_json::from_str(&text) {
            Ok(map) => map,
            Err(e) => {
                return bad(match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(_)) => format!("not valid JSON: {e}"),
                    Ok(other) => format!("not a JSON object (found {})", json_kind(&other)),
                    Err(e) => format!(
                        "not valid JSON: {}",
                        e.to_string().replace(" at line 1 column", " at column")
                    ),
                })
            }
        };
        let body = match take_path(&mut record, &self.config.text_field) {
            Some(Value::String(s)) => s,
            Some(other) => {
                return bad(format!(
                    "field `{}` is {}, not a string",
                    self.config.text_field,
                    json_kind(&other)
                ))
            }
            None => return bad(format!("no text field `{}`", self.config.text_field)),
        };
        let id: Arc<str> = match take_path(&mut record, &self.config.id_field) {
            Some(Value::String(s)) => s.into(),
            Some(Value::Number(n)) => n.to_string().into(),
            _ => format!("{file_name}:{line}").into(),
        };
        if repaired {
            record.insert("invalid_utf8_repaired".into(), Value::Bool(true));
        }
        let mut doc = Document::new(id, body).with_provenance(provenance());
        doc.meta = record;
        Some(SourceItem::Doc(doc))
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Removes and returns the value at a dotted path (`a.b.c`) of a record: a top-level key of
/// that name first, else the path through nested objects.
pub fn take_path(record: &mut Meta, path: &str) -> Option<Value> {
    record.remove(path).or_else(|| {
        let (head, rest) = path.split_once('.')?;
        take_nested(record.get_mut(head)?.as_object_mut()?, rest)
    })
}

fn take_nested(map: &mut serde_json::Map<String, Value>, path: &str) -> Option<Value> {
    map.remove(path).or_else(|| {
        let (head, rest) = path.split_once('.')?;
        take_nested(map.get_mut(head)?.as_object_mut()?, rest)
    })
}

/// Byte offsets where shards of `path` start: multiples of `shard_bytes`, moved forward to the
/// next line start. Returns `(start, end, first_line)` triples.
/// `file` is a local file or an object read by ranged GETs (`len` bytes either way).
fn line_aligned_ranges<R: Read + Seek>(
    mut file: R,
    len: u64,
    shard_bytes: u64,
) -> std::io::Result<Vec<(u64, u64, u64)>> {
    let mut cuts = vec![0u64];
    let mut target = shard_bytes;
    let mut buf = vec![0u8; 64 << 10];
    while target < len {
        file.seek(SeekFrom::Start(target - 1))?;
        let mut pos = target - 1;
        let boundary = loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break len;
            }
            if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
                break pos + i as u64 + 1;
            }
            pos += n as u64;
        };
        if boundary >= len {
            break;
        }
        if boundary > *cuts.last().expect("non-empty") {
            cuts.push(boundary);
        }
        target = boundary.max(target) + shard_bytes;
    }
    cuts.push(len);
    // Count newlines before each cut for exact line numbers.
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut ranges = Vec::with_capacity(cuts.len() - 1);
    let mut line = 1u64;
    for window in cuts.windows(2) {
        let (start, end) = (window[0], window[1]);
        ranges.push((start, end, line));
        let mut remaining = end - start;
        while remaining > 0 {
            let chunk = reader.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            let take = chunk.len().min(remaining as usize);
            line += memchr::memchr_iter(b'\n', &chunk[..take]).count() as u64;
            reader.consume(take);
            remaining -= take as u64;
        }
    }
    Ok(ranges)
}

impl Source for JsonlSource {
    fn shards(&self) -> Result<Vec<Shard>, StageError> {
        let files = input::expand(&self.config.inputs.patterns())?;
        let mut shards = Vec::new();
        for path in files {
            let io = |source| StageError::io(path.display(), source);
            let len = millstone_storage::file::stat(&path).map_err(io)?.size;
            let compressed = Compression::detect(&path).map_err(io)? != Compression::None;
            if compressed || len <= self.config.shard_bytes.0 {
                shards.push(Shard::file(path));
                continue;
            }
            let url = path.to_string_lossy();
            let ranges = if millstone_storage::is_remote(&url) {
                // The size is known: no second HEAD.
                let object = millstone_storage::ObjectReader::open_range(&url, 0..len)
                    .map_err(|e| io(std::io::Error::other(e)))?;
                line_aligned_ranges(object, len, self.config.shard_bytes.0)
            } else {
                line_aligned_ranges(File::open(&path).map_err(io)?, len, self.config.shard_bytes.0)
            };
            for (start, end, first_line) in ranges.map_err(io)? {
                shards.push(Shard { path: path.clone(), range: Some(start..end), first_line });
            }
        }
        Ok(shards)
    }

    fn read(
        &self,
        shard: &Shard,
        emit: &mut dyn FnMut(SourceItem) -> ControlFlow<()>,
    ) -> Result<(), StageError> {
        let (file, file_name) = (shard.file_label(), shard.file_name());
        self.read_lines(shard, &mut |record| match record {
            RawLine::Line { bytes, number } => match self.parse_line(bytes, &file, number, &file_name) {
                Some(item) => emit(item),
                None => ControlFlow::Continue(()),
            },
            RawLine::Bad(bad) => emit(SourceItem::Bad(bad)),
        })
    }

    fn line_parser(&self) -> Option<Arc<dyn LineParser>> {
        Some(Arc::new(self.clone()))
    }

    fn read_lines(
        &self,
        shard: &Shard,
        emit: &mut dyn FnMut(RawLine<'_>) -> ControlFlow<()>,
    ) -> Result<(), StageError> {
        let label = shard.file_label();
        let mut reader: Box<dyn BufRead + Send> = match &shard.range {
            None => input::open(&shard.path)?,
            Some(range) => {
                let io = |source| StageError::io(shard.path.display(), source);
                let url = shard.path.to_string_lossy();
                let bytes: Box<dyn Read + Send> = if millstone_storage::is_remote(&url) {
                    Box::new(
                        millstone_storage::ObjectReader::open_range(&url, range.clone())
                            .map_err(|e| io(std::io::Error::other(e)))?,
                    )
                } else {
                    let mut file = File::open(&shard.path).map_err(io)?;
                    file.seek(SeekFrom::Start(range.start)).map_err(io)?;
                    Box::new(file.take(range.end - range.start))
                };
                let mut reader = BufReader::with_capacity(1 << 20, bytes);
                if range.start == 0 {
                    input::skip_bom(&mut reader).map_err(io)?;
                }
                Box::new(reader)
            }
        };
        let mut line = shard.first_line;
        let mut seen_any = false;
        let max = self.config.max_doc_bytes.0;
        // One line buffer for the whole shard: a fresh one per line grew by doubling, and the
        // allocator's fresh pages were the reader's largest cost.
        let mut bytes = Vec::with_capacity(64 << 10);
        loop {
            let read = input::read_line_bounded(&mut reader, &mut bytes, max).map_err(|e| StageError::Record {
                provenance: Provenance::line(label.clone(), line),
                message: format!("input ends abruptly at line {line}: {e} (truncated or corrupt compressed stream; the lines before it were read)"),
            })?;
            if read.consumed == 0 {
                break;
            }
            seen_any = true;
            if read.too_long {
                let bad = RawLine::Bad(RecordError {
                    provenance: Provenance::line(label.clone(), line),
                    message: format!(
                        "record of {} bytes is larger than max_doc_bytes ({}); skipped without reading it into memory",
                        read.consumed,
                        self.config.max_doc_bytes
                    ),
                });
                if emit(bad).is_break() {
                    return Ok(());
                }
                line += 1;
                continue;
            }
            if bytes.last() == Some(&b'\n') {
                bytes.pop();
                if bytes.last() == Some(&b'\r') {
                    bytes.pop();
                }
            }
            if emit(RawLine::Line { bytes: &bytes, number: line }).is_break() {
                return Ok(());
            }
            line += 1;
        }
        if !seen_any && shard.range.is_none() {
            // An empty file holds no record: nothing to count as failed.
            tracing::warn!("{label}: empty file");
        }
        Ok(())
    }
}

impl LineParser for JsonlSource {
    fn parse_line(&self, bytes: &[u8], file: &Arc<str>, number: u64, file_name: &str) -> Option<SourceItem> {
        JsonlSource::parse_line(self, bytes, file, number, file_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn collect(source: &JsonlSource) -> Vec<SourceItem> {
        millstone_testkit::read_all(source)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn byte_range_shards_read_exactly_the_sequential_documents(
            lines in proptest::collection::vec((0usize..3000, proptest::bool::weighted(0.1)), 1..60),
            shard_bytes in 4096u64..20_000,
            crlf in proptest::bool::ANY,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("x.jsonl");
            let mut body = String::new();
            for (i, (len, broken)) in lines.iter().enumerate() {
                if *broken {
                    body.push_str("{not json");
                } else {
                    body.push_str(&format!("{{\"id\":\"{i}\",\"text\":\"{}\"}}", "é".repeat(*len / 2)));
                }
                body.push_str(if crlf { "\r\n" } else { "\n" });
            }
            std::fs::write(&path, &body).unwrap();
            let describe = |source: &JsonlSource| {
                let mut out = Vec::new();
                for shard in source.shards().unwrap() {
                    source.read(&shard, &mut |i| {
                        out.push(match i {
                            SourceItem::Doc(d) => format!("doc {} {} {}", d.id, d.text.len(), d.provenance),
                            SourceItem::Bad(b) => format!("bad {}", b.provenance),
                            SourceItem::Dropped(p, reason) => format!("dropped {p} {reason}"),
                        });
                        ControlFlow::Continue(())
                    }).unwrap();
                }
                out
            };
            let sequential = describe(&JsonlSource::new(vec![path.display().to_string()]).with_shard_bytes(1 << 30));
            let sharded = describe(&JsonlSource::new(vec![path.display().to_string()]).with_shard_bytes(shard_bytes));
            proptest::prop_assert_eq!(sequential, sharded);
        }
    }

    #[test]
    fn reports_each_bad_line_with_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let mut f = File::create(&path).unwrap();
        f.write_all(b"{\"text\":\"ok\"}\n{broken\n\n[1]\n{\"body\":\"no text\"}\n{\"text\":\"bad \xff utf8\"}\n{\"text\":5}\n").unwrap();
        let items = collect(&JsonlSource::new(vec![path.display().to_string()]));
        let bad: Vec<String> = items
            .iter()
            .filter_map(|i| match i {
                SourceItem::Bad(b) => Some(b.provenance.to_string() + " " + &b.message),
                _ => None,
            })
            .collect();
        assert_eq!(bad.len(), 5, "{bad:?}");
        assert!(bad[0].ends_with("x.jsonl:2 not valid JSON: key must be a string at column 2"), "{}", bad[0]);
        assert!(bad[1].contains(":4 not a JSON object (found an array)"));
        assert!(bad[2].contains(":5 no text field `text`"));
        assert!(bad[3].contains(":6 invalid UTF-8 at byte 13"), "{}", bad[3]);
        assert!(bad[4].contains(":7 field `text` is a number"));
        match &items[0] {
            SourceItem::Doc(d) => assert_eq!(&*d.id, "x.jsonl:1"),
            _ => panic!(),
        }
    }

    #[test]
    fn lossy_utf8_keeps_the_document() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        std::fs::write(&path, b"{\"text\":\"a \xff b\"}\n").unwrap();
        let mut source = JsonlSource::new(vec![path.display().to_string()]);
        source.config.invalid_utf8 = InvalidUtf8::Lossy;
        match &collect(&source)[0] {
            SourceItem::Doc(d) => assert_eq!(d.text, "a \u{fffd} b"),
            _ => panic!(),
        }
    }

    #[test]
    fn a_bom_does_not_break_the_first_record_and_magic_bytes_win_over_the_extension() {
        let dir = tempfile::tempdir().unwrap();
        let bom = dir.path().join("bom.jsonl");
        std::fs::write(
            &bom,
            b"\xEF\xBB\xBF{\"id\":\"1\",\"text\":\"first\"}\n{\"id\":\"2\",\"text\":\"second\"}\n",
        )
        .unwrap();
        // Plain text under a compressed name: read as plain text.
        let fake_gz = dir.path().join("plain.jsonl.gz");
        std::fs::write(&fake_gz, b"{\"id\":\"3\",\"text\":\"third\"}\n").unwrap();
        for shard_bytes in [64 << 20, 4096] {
            let source = JsonlSource::new(vec![bom.display().to_string(), fake_gz.display().to_string()])
                .with_shard_bytes(shard_bytes);
            let texts: Vec<String> = collect(&source)
                .into_iter()
                .map(|i| match i {
                    SourceItem::Doc(d) => d.text,
                    other => panic!("not a document: {other:?}"),
                })
                .collect();
            assert_eq!(texts, ["first", "second", "third"]);
        }
    }

    /// A line far above `max_doc_bytes` is reported with its line number and skipped without
    /// being buffered; the next line is read.
    #[test]
    fn a_huge_line_is_skipped_not_buffered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.jsonl");
        let huge = format!("{{\"id\":\"1\",\"text\":\"{}\"}}\n", "x".repeat(3 << 20));
        std::fs::write(&path, format!("{huge}{{\"id\":\"2\",\"text\":\"small\"}}\n")).unwrap();
        let mut source = JsonlSource::new(vec![path.display().to_string()]);
        source.config.max_doc_bytes = ByteSize(1 << 20);
        let items = collect(&source);
        assert!(
            matches!(&items[0], SourceItem::Bad(b) if b.provenance.location == millstone_core::Location::Line(1)
                && b.message.contains("larger than max_doc_bytes")),
            "{:?}",
            items[0]
        );
        assert!(matches!(&items[1], SourceItem::Doc(d) if d.text == "small"));
    }

    #[test]
    fn nested_fields_and_empty_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.jsonl");
        std::fs::write(&path, "{\"doc\":{\"body\":\"deep\",\"lang\":\"en\"},\"key\":7}\n").unwrap();
        let empty = dir.path().join("e.jsonl");
        std::fs::write(&empty, "").unwrap();
        let mut source = JsonlSource::new(vec![path.display().to_string(), empty.display().to_string()]);
        source.config.text_field = "doc.body".into();
        source.config.id_field = "key".into();
        let items = collect(&source);
        assert_eq!(items.len(), 1, "the empty file holds no record");
        match &items[0] {
            SourceItem::Doc(d) => {
                assert_eq!(d.text, "deep");
                assert_eq!(&*d.id, "7");
                assert_eq!(d.meta["doc"]["lang"], "en");
            }
            _ => panic!(),
        }
    }

    #[test]
    fn truncated_gzip_keeps_earlier_lines_and_reports_the_break() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        for i in 0..2000 {
            writeln!(enc, "{{\"text\":\"document number {i} with some words\"}}").unwrap();
        }
        let bytes = enc.finish().unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let source = JsonlSource::new(vec![path.display().to_string()]);
        let shard = &source.shards().unwrap()[0];
        let mut docs = 0;
        let err = source
            .read(shard, &mut |_| {
                docs += 1;
                ControlFlow::Continue(())
            })
            .unwrap_err();
        assert!(docs > 100, "{docs}");
        assert!(err.to_string().contains("input ends abruptly"), "{err}");
    }
}
