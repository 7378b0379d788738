//! `export.jsonl`: one JSON object per document: `id`, `text`, then metadata fields.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    AtomicFile, Batch, BatchEncoder, BuildContext, BuildError, Document, FieldError, PendingOutput, Prepared,
    Sink, Stage, StageConfig, StageError, StageKind,
};
use serde::{Deserialize, Serialize};

use crate::{json_string, Error};

/// Configuration of `export.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonlSinkConfig {
    /// Output file; `.gz` or `.zst` compresses.
    pub path: PathBuf,
    /// Write `spans` (annotated byte ranges) as a field.
    #[serde(default)]
    pub include_spans: bool,
    /// Write `source` (file and line of the input record) as a field.
    #[serde(default)]
    pub include_provenance: bool,
    /// Compression level (gzip 0-9, zstd 1-22); default: the codec's default.
    #[serde(default)]
    pub compression_level: Option<i32>,
    /// Metadata fields to write (default: all).
    #[serde(default)]
    pub fields: Option<Vec<String>>,
    /// Rename fields on output (`{text: content, url: source_url}`).
    #[serde(default)]
    pub rename: std::collections::BTreeMap<String, String>,
    /// Start a new file after this many (uncompressed) bytes; `path` must contain `{part}`,
    /// which becomes 00000, 00001, ...
    #[serde(default)]
    pub max_file_bytes: Option<millstone_core::ByteSize>,
}

impl JsonlSinkConfig {
    /// Default settings writing to `path`.
    pub fn to(path: &Path) -> Self {
        JsonlSinkConfig {
            path: path.to_path_buf(),
            include_spans: false,
            include_provenance: false,
            compression_level: None,
            fields: None,
            rename: Default::default(),
            max_file_bytes: None,
        }
    }
}

impl StageConfig for JsonlSinkConfig {
    const TYPE: &'static str = "export.jsonl";
    const RENAMED: &'static [(&'static str, &'static str)] = &[("level", "compression_level")];
    const KIND: StageKind = StageKind::Sink;
    const SUMMARY: &'static str = "Write JSON Lines (plain, .gz, .zst), atomically";
    const EXAMPLE: &'static str = "type: export.jsonl\npath: out/corpus.jsonl.zst\ninclude_spans: false\n";

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.path.as_os_str().is_empty() || self.path.file_name().is_none() {
            errors.push(FieldError::new("path", "must name a file"));
        }
        if self.max_file_bytes.is_some() && !self.path.to_string_lossy().contains("{part}") {
            errors.push(FieldError::new("path", "must contain `{part}` when max_file_bytes is set"));
        }
        if let Some(level) = self.compression_level {
            let range = match codec(&self.path) {
                Codec::Gzip => 0..=9,
                Codec::Zstd => 1..=22,
                Codec::Plain => 0..=0,
            };
            if !range.contains(&level) {
                errors.push(FieldError::new(
                    "compression_level",
                    format!("must be in {}..={} for this file type", range.start(), range.end()),
                ));
            }
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, cx: &BuildContext) -> Result<Stage, BuildError> {
        let mut config = self.clone();
        config.path = cx.output_path(&self.path);
        Ok(Stage::Sink(Box::new(JsonlSink::new(config, cx.overwrite))))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    Plain,
    Gzip,
    Zstd,
}

fn codec(path: &Path) -> Codec {
    match path.extension().and_then(|e| e.to_str()) {
        Some("gz") => Codec::Gzip,
        Some("zst") => Codec::Zstd,
        _ => Codec::Plain,
    }
}

enum Writer {
    Plain(AtomicFile),
    Gzip(flate2::write::GzEncoder<AtomicFile>),
    Zstd(zstd::stream::write::Encoder<'static, AtomicFile>),
}

impl Writer {
    fn inner(&mut self) -> &mut dyn Write {
        match self {
            Writer::Plain(w) => w,
            Writer::Gzip(w) => w,
            Writer::Zstd(w) => w,
        }
    }
    fn finish(self) -> std::io::Result<AtomicFile> {
        match self {
            Writer::Plain(w) => Ok(w),
            Writer::Gzip(w) => w.finish(),
            Writer::Zstd(w) => w.finish(),
        }
    }
}

/// The `export.jsonl` sink.
pub struct JsonlSink {
    config: JsonlSinkConfig,
    overwrite: bool,
    writer: Option<Writer>,
    buffer: Vec<u8>,
    docs: u64,
    /// Finished parts, committed together when the run succeeds.
    finished: Vec<AtomicFile>,
    part: usize,
    part_bytes: u64,
}

impl JsonlSink {
    /// A sink with this configuration.
    pub fn new(config: JsonlSinkConfig, overwrite: bool) -> Self {
        JsonlSink {
            config,
            overwrite,
            writer: None,
            buffer: Vec::with_capacity(1 << 20),
            docs: 0,
            finished: Vec::new(),
            part: 0,
            part_bytes: 0,
        }
    }

    fn io(&self, source: std::io::Error) -> StageError {
        Error::Io { path: self.config.path.display().to_string(), source }.into()
    }

    fn part_path(&self) -> PathBuf {
        PathBuf::from(self.config.path.to_string_lossy().replace("{part}", &format!("{:05}", self.part)))
    }

    fn open(&mut self) -> Result<(), StageError> {
        if self.writer.is_some() {
            return Ok(());
        }
        let file = AtomicFile::create(&self.part_path(), self.overwrite).map_err(|e| self.io(e))?;
        let writer = match codec(&self.config.path) {
            Codec::Plain => Writer::Plain(file),
            Codec::Gzip => Writer::Gzip(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::new(self.config.compression_level.unwrap_or(6) as u32),
            )),
            Codec::Zstd => {
                let encoder =
                    zstd::stream::write::Encoder::new(file, self.config.compression_level.unwrap_or(3))
                        .map_err(|e| self.io(e))?;
                Writer::Zstd(encoder)
            }
        };
        self.writer = Some(writer);
        Ok(())
    }
}

fn write_document_as(
    out: &mut Vec<u8>,
    doc: &Document,
    layout: &JsonlEncoder,
) -> Result<(), serde_json::Error> {
    let name = |key: &'static str| layout.rename.get(key).map_or(key, String::as_str);
    let field = |out: &mut Vec<u8>, key: &str| {
        out.push(b',');
        json_string::push(out, key);
        out.push(b':');
    };
    out.push(b'{');
    json_string::push(out, name("id"));
    out.push(b':');
    json_string::push(out, &doc.id);
    field(out, name("text"));
    json_string::push(out, &doc.text);
    for (key, value) in &doc.meta {
        let wanted = layout.fields.as_ref().is_none_or(|f| f.contains(key));
        if wanted && key != "id" && key != "text" && key != "spans" {
            field(out, layout.rename.get(key).unwrap_or(key));
            serde_json::to_writer(&mut *out, value)?;
        }
    }
    if layout.include_spans {
        field(out, name("spans"));
        serde_json::to_writer(&mut *out, &doc.spans)?;
    }
    if layout.include_provenance {
        field(out, name("source"));
        json_string::push(out, &doc.provenance.to_string());
    }
    out.extend_from_slice(b"}\n");
    Ok(())
}

/// Serialises one document as a JSON object line into `out`: `id`, `text`, the metadata
/// fields in key order, then `spans` and `source` when asked.
pub fn write_document(
    out: &mut Vec<u8>,
    doc: &Document,
    include_spans: bool,
    include_provenance: bool,
) -> Result<(), serde_json::Error> {
    let layout = JsonlEncoder { include_spans, include_provenance, fields: None, rename: Default::default() };
    write_document_as(out, doc, &layout)
}

/// Serialises batches for [`JsonlSink`]; the runner runs it on worker threads.
#[derive(Debug, Clone)]
pub struct JsonlEncoder {
    include_spans: bool,
    include_provenance: bool,
    fields: Option<std::collections::BTreeSet<String>>,
    rename: std::collections::BTreeMap<String, String>,
}

impl BatchEncoder for JsonlEncoder {
    fn encode(&self, batch: &Batch) -> Result<Vec<u8>, StageError> {
        let mut out = Vec::new();
        self.encode_into(batch, &mut out)?;
        Ok(out)
    }

    fn encode_into(&self, batch: &Batch, out: &mut Vec<u8>) -> Result<(), StageError> {
        // Text plus an eighth for escapes (news text: a `\n` per ~60 bytes) and the keys, so
        // the buffer seldom grows while it is written.
        out.reserve(batch.text_bytes() + batch.text_bytes() / 8 + batch.docs.len() * 64);
        for doc in &batch.docs {
            write_document_as(out, doc, self).map_err(|e| {
                StageError::from(Error::Serialize { id: doc.id.to_string(), message: e.to_string() })
            })?;
        }
        Ok(())
    }
}

impl JsonlSink {
    fn encoder_config(&self) -> JsonlEncoder {
        JsonlEncoder {
            include_spans: self.config.include_spans,
            include_provenance: self.config.include_provenance,
            fields: self.config.fields.as_ref().map(|f| f.iter().cloned().collect()),
            rename: self.config.rename.clone(),
        }
    }

    fn write_bytes(&mut self, bytes: &[u8], docs: usize) -> Result<(), StageError> {
        if let (Some(max), true) = (self.config.max_file_bytes, self.part_bytes > 0) {
            if self.part_bytes + bytes.len() as u64 > max.0 {
                let writer = self.writer.take().expect("a part is open");
                self.finished.push(writer.finish().map_err(|e| self.io(e))?);
                self.part += 1;
                self.part_bytes = 0;
            }
        }
        self.part_bytes += bytes.len() as u64;
        self.open()?;
        let writer = self.writer.as_mut().expect("opened above");
        if let Err(e) = writer.inner().write_all(bytes) {
            return Err(self.io(e));
        }
        self.docs += docs as u64;
        Ok(())
    }
}

impl Sink for JsonlSink {
    fn write(&mut self, batch: &Batch) -> Result<(), StageError> {
        let mut buffer = std::mem::take(&mut self.buffer);
        buffer.clear();
        self.encoder_config().encode_into(batch, &mut buffer)?;
        let result = self.write_bytes(&buffer, batch.docs.len());
        self.buffer = buffer;
        result
    }

    fn encoder(&self) -> Option<Arc<dyn BatchEncoder>> {
        Some(Arc::new(self.encoder_config()))
    }

    fn write_encoded(&mut self, batch: &Batch, encoded: &[u8]) -> Result<(), StageError> {
        self.write_bytes(encoded, batch.docs.len())
    }

    fn prepare(&mut self) -> Result<Prepared, StageError> {
        self.open()?;
        let writer = self.writer.take().expect("opened above");
        let last = writer.finish().map_err(|e| self.io(e))?;
        let pending = std::mem::take(&mut self.finished)
            .into_iter()
            .chain([last])
            .map(|file| Box::new(file) as Box<dyn PendingOutput>)
            .collect();
        Ok(Prepared { docs: self.docs, pending })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(name: &str) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let docs = vec![
            Document::new("a", "héllo\n\"quoted\"").with_meta("url", "http://x").with_meta("n", 3),
            Document::new("b", "🧑‍🚀 second"),
        ];
        let mut sink = JsonlSink::new(JsonlSinkConfig::to(&path), false);
        sink.write(&Batch::new(0, docs.clone())).unwrap();
        let summary = sink.finish().unwrap();
        assert_eq!(summary.docs, 2);
        let source = millstone_ingest::jsonl::JsonlSource::new(vec![path.display().to_string()]);
        let back = millstone_testkit::read_docs(&source);
        assert_eq!(back.len(), 2);
        for (a, b) in docs.iter().zip(&back) {
            assert_eq!((&a.id, &a.text, &a.meta), (&b.id, &b.text, &b.meta));
        }
    }

    #[test]
    fn round_trips_plain_gzip_zstd() {
        round_trip("o.jsonl");
        round_trip("o.jsonl.gz");
        round_trip("o.jsonl.zst");
    }

    #[test]
    fn rotates_files_and_selects_fields() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = JsonlSinkConfig::to(&dir.path().join("part-{part}.jsonl"));
        config.max_file_bytes = Some(millstone_core::ByteSize(100));
        config.fields = Some(vec!["url".into()]);
        config.rename.insert("text".into(), "content".into());
        let mut sink = JsonlSink::new(config, false);
        for i in 0..5 {
            let doc =
                Document::new(format!("d{i}"), "x".repeat(60)).with_meta("url", "u").with_meta("drop", 1);
            let batch = Batch::new(i, vec![doc]);
            let bytes = sink.encoder().unwrap().encode(&batch).unwrap();
            sink.write_encoded(&batch, &bytes).unwrap();
        }
        let summary = sink.finish().unwrap();
        assert_eq!(summary.files.len(), 5);
        let first = std::fs::read_to_string(dir.path().join("part-00000.jsonl")).unwrap();
        assert_eq!(first, format!("{{\"id\":\"d0\",\"content\":\"{}\",\"url\":\"u\"}}\n", "x".repeat(60)));
    }

    #[test]
    fn refuses_to_overwrite_and_leaves_no_temp_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.jsonl");
        std::fs::write(&path, "old").unwrap();
        let mut sink = JsonlSink::new(JsonlSinkConfig::to(&path), false);
        let err = sink.write(&Batch::new(0, vec![Document::new("a", "x")])).unwrap_err();
        assert!(err.to_string().contains("--overwrite"), "{err}");
        let mut sink = JsonlSink::new(JsonlSinkConfig::to(&path), true);
        sink.write(&Batch::new(0, vec![Document::new("a", "x")])).unwrap();
        drop(sink);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
