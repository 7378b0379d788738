//! `ingest.html`: one document per HTML file (plain, `.gz` or `.zst`), decoded by its declared
//! charset (`<meta charset>`, `http-equiv` content type; detected by chardetng when undeclared
//! and not UTF-8). Pair it with `clean.html_to_text`.

use std::io::Read;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, ByteSize, Document, FieldError, Provenance, RecordError, Shard, Source,
    SourceItem, Stage, StageConfig, StageError, StageKind,
};
use serde::{Deserialize, Serialize};

use crate::{input, Inputs};

/// Configuration of `ingest.html`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct HtmlSourceConfig {
    /// Where to read: `path` (one file or folder) or `paths` (files and globs).
    #[serde(flatten)]
    pub inputs: Inputs,
    /// Files larger than this (decompressed) are reported as bad instead of read.
    #[serde(default = "crate::jsonl::default_max_doc_bytes")]
    pub max_doc_bytes: ByteSize,
}

impl StageConfig for HtmlSourceConfig {
    const TYPE: &'static str = "ingest.html";
    const KIND: StageKind = StageKind::Source;
    const SUMMARY: &'static str = "Read HTML files (plain/.gz/.zst), decoded by their declared charset";
    const EXAMPLE: &'static str = "type: ingest.html\npaths: [\"pages/**/*.html.gz\"]\n";

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        self.inputs.validate(&mut errors);
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::Source(Box::new(HtmlSource { config: self.clone() })))
    }
}

/// The `ingest.html` source.
pub struct HtmlSource {
    config: HtmlSourceConfig,
}

/// Decodes HTML bytes: UTF-8 if valid, else the declared charset, else the detected one
/// (chardetng; Windows-1252 for Western text).
pub fn decode_html(bytes: &[u8]) -> String {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.to_string();
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).to_ascii_lowercase();
    let declared = head.find("charset=").and_then(|i| {
        let rest = head[i + 8..].trim_start_matches(['"', '\'']);
        let end =
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')).unwrap_or(rest.len());
        encoding_rs::Encoding::for_label(&rest.as_bytes()[..end])
    });
    let encoding = declared.unwrap_or_else(|| {
        let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
        detector.feed(bytes, true);
        detector.guess(None, chardetng::Utf8Detection::Deny)
    });
    let (text, _, _) = encoding.decode(bytes);
    text.into_owned()
}

fn strip_extensions(name: &str) -> &str {
    let mut stem = name;
    for ext in [".gz", ".zst", ".html", ".htm", ".xhtml"] {
        stem = stem.strip_suffix(ext).unwrap_or(stem);
    }
    stem
}

impl Source for HtmlSource {
    fn shards(&self) -> Result<Vec<Shard>, StageError> {
        Ok(input::file_shards(&self.config.inputs.patterns())?)
    }

    fn read(
        &self,
        shard: &Shard,
        emit: &mut dyn FnMut(SourceItem) -> ControlFlow<()>,
    ) -> Result<(), StageError> {
        let path: &PathBuf = &shard.path;
        let label: Arc<str> = path.display().to_string().into();
        let mut bytes = Vec::new();
        let limit = self.config.max_doc_bytes.0;
        input::open(path)?.take(limit + 1).read_to_end(&mut bytes).map_err(|e| StageError::Record {
            provenance: Provenance::file(label.clone()),
            message: format!("cannot read: {e}"),
        })?;
        let bad = |message: String| {
            SourceItem::Bad(RecordError { provenance: Provenance::file(label.clone()), message })
        };
        if bytes.is_empty() {
            let _ = emit(bad("empty file".into()));
            return Ok(());
        }
        if bytes.len() as u64 > limit {
            let _ = emit(bad(format!("file is larger than max_doc_bytes ({})", self.config.max_doc_bytes)));
            return Ok(());
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let doc = Document::new(strip_extensions(&name), decode_html(&bytes))
            .with_provenance(Provenance::file(label.clone()))
            .with_meta("source_file", label.to_string());
        let _ = emit(SourceItem::Doc(doc));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_declared_and_undeclared_charsets() {
        assert_eq!(decode_html("<p>café</p>".as_bytes()), "<p>café</p>");
        assert_eq!(
            decode_html(b"<meta charset=\"iso-8859-15\"><p>\xa4 caf\xe9</p>"),
            "<meta charset=\"iso-8859-15\"><p>€ café</p>"
        );
        assert_eq!(decode_html(b"<p>caf\xe9 \x93q\x94</p>"), "<p>café “q”</p>");
    }

    #[test]
    fn reads_gzipped_pages_with_ids_from_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0001.html.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut enc, b"<html><body><p>Hello</p></body></html>").unwrap();
        std::fs::write(&path, enc.finish().unwrap()).unwrap();
        let source = HtmlSource {
            config: HtmlSourceConfig { inputs: Inputs::path(path.clone()), max_doc_bytes: ByteSize(1 << 20) },
        };
        let mut docs = Vec::new();
        for shard in source.shards().unwrap() {
            source
                .read(&shard, &mut |i| {
                    if let SourceItem::Doc(d) = i {
                        docs.push(d)
                    }
                    ControlFlow::Continue(())
                })
                .unwrap();
        }
        assert_eq!(&*docs[0].id, "0001");
        assert!(docs[0].text.contains("<p>Hello</p>"));
    }
}
