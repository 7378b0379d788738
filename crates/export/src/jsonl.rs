//! `export.jsonl`: one JSON object per document: `id`, `text`, then metadata fields.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    AtomicFile, Batch, BatchEncoder, BuildContext, BuildError, Document, FieldError, Sink, SinkSummary,
    Stage, StageConfig, StageError, StageKind,
};
use serde::ser::{SerializeMap, Serializer};
use serde::Deserialize;

use crate::Error;

/// Configuration of `export.jsonl`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
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
    pub level: Option<i32>,
}

impl JsonlSinkConfig {
    /// Default settings writing to `path`.
    pub fn to(path: &Path) -> Self {
        JsonlSinkConfig {
            path: path.to_path_buf(),
            include_spans: false,
            include_provenance: false,
            level: None,
        }
    }
}

impl StageConfig for JsonlSinkConfig {
    const TYPE: &'static str = "export.jsonl";
    const KIND: StageKind = StageKind::Sink;
    const SUMMARY: &'static str = "Write JSON Lines (plain, .gz, .zst), atomically";
    const EXAMPLE: &'static str = "type: export.jsonl\npath: out/corpus.jsonl.zst\ninclude_spans: false\n";

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.path.as_os_str().is_empty() || self.path.file_name().is_none() {
            errors.push(FieldError::new("path", "must name a file"));
        }
        if let Some(level) = self.level {
            let range = match codec(&self.path) {
                Codec::Gzip => 0..=9,
                Codec::Zstd => 1..=22,
                Codec::Plain => 0..=0,
            };
            if !range.contains(&level) {
                errors.push(FieldError::new(
                    "level",
                    format!("must be in {}..={} for this file type", range.start(), range.end()),
                ));
            }
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::Sink(Box::new(JsonlSink::new(self.clone(), cx.overwrite))))
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
}

impl JsonlSink {
    /// A sink with this configuration.
    pub fn new(config: JsonlSinkConfig, overwrite: bool) -> Self {
        JsonlSink { config, overwrite, writer: None, buffer: Vec::with_capacity(1 << 20), docs: 0 }
    }

    fn io(&self, source: std::io::Error) -> StageError {
        Error::Io { path: self.config.path.display().to_string(), source }.into()
    }

    fn open(&mut self) -> Result<(), StageError> {
        if self.writer.is_some() {
            return Ok(());
        }
        let file = AtomicFile::create(&self.config.path, self.overwrite).map_err(|e| self.io(e))?;
        let writer = match codec(&self.config.path) {
            Codec::Plain => Writer::Plain(file),
            Codec::Gzip => Writer::Gzip(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::new(self.config.level.unwrap_or(6) as u32),
            )),
            Codec::Zstd => {
                let encoder = zstd::stream::write::Encoder::new(file, self.config.level.unwrap_or(3))
                    .map_err(|e| self.io(e))?;
                Writer::Zstd(encoder)
            }
        };
        self.writer = Some(writer);
        Ok(())
    }
}

/// Serialises one document as a JSON object line into `out`.
pub fn write_document(
    out: &mut Vec<u8>,
    doc: &Document,
    include_spans: bool,
    include_provenance: bool,
) -> Result<(), serde_json::Error> {
    let mut ser = serde_json::Serializer::new(&mut *out);
    let mut map = ser.serialize_map(None)?;
    map.serialize_entry("id", &*doc.id)?;
    map.serialize_entry("text", &doc.text)?;
    for (key, value) in &doc.meta {
        if key != "id" && key != "text" && key != "spans" {
            map.serialize_entry(key, value)?;
        }
    }
    if include_spans {
        map.serialize_entry("spans", &doc.spans)?;
    }
    if include_provenance {
        map.serialize_entry("source", &doc.provenance.to_string())?;
    }
    map.end()?;
    out.push(b'\n');
    Ok(())
}

/// Serialises batches for [`JsonlSink`]; the runner runs it on worker threads.
#[derive(Debug, Clone, Copy)]
pub struct JsonlEncoder {
    include_spans: bool,
    include_provenance: bool,
}

impl JsonlEncoder {
    fn encode_into(&self, out: &mut Vec<u8>, batch: &Batch) -> Result<(), StageError> {
        for doc in &batch.docs {
            write_document(out, doc, self.include_spans, self.include_provenance).map_err(|e| {
                StageError::from(Error::Serialize { id: doc.id.to_string(), message: e.to_string() })
            })?;
        }
        Ok(())
    }
}

impl BatchEncoder for JsonlEncoder {
    fn encode(&self, batch: &Batch) -> Result<Vec<u8>, StageError> {
        let mut out = Vec::with_capacity(batch.text_bytes() + batch.docs.len() * 64);
        self.encode_into(&mut out, batch)?;
        Ok(out)
    }
}

impl JsonlSink {
    fn encoder_config(&self) -> JsonlEncoder {
        JsonlEncoder {
            include_spans: self.config.include_spans,
            include_provenance: self.config.include_provenance,
        }
    }

    fn write_bytes(&mut self, bytes: &[u8], docs: usize) -> Result<(), StageError> {
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
        self.encoder_config().encode_into(&mut buffer, batch)?;
        let result = self.write_bytes(&buffer, batch.docs.len());
        self.buffer = buffer;
        result
    }

    fn encoder(&self) -> Option<Arc<dyn BatchEncoder>> {
        Some(Arc::new(self.encoder_config()))
    }

    fn write_encoded(&mut self, batch: &Batch, encoded: Vec<u8>) -> Result<(), StageError> {
        self.write_bytes(&encoded, batch.docs.len())
    }

    fn finish(&mut self) -> Result<SinkSummary, StageError> {
        self.open()?;
        let writer = self.writer.take().expect("opened above");
        let file = writer.finish().map_err(|e| self.io(e))?;
        let path = file.commit().map_err(|e| self.io(e))?;
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Ok(SinkSummary { files: vec![path], docs: self.docs, bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use millstone_core::{Source, SourceItem};

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
        let mut back = Vec::new();
        for shard in source.shards().unwrap() {
            source
                .read(&shard, &mut |i| {
                    if let SourceItem::Doc(d) = i {
                        back.push(d)
                    }
                    std::ops::ControlFlow::Continue(())
                })
                .unwrap();
        }
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
