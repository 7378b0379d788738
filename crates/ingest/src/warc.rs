//! `ingest.warc`: WARC and WET files (Common Crawl layout; plain or gzip per record, which reads
//! as one concatenated stream). `conversion` records (WET) become text documents; `response`
//! records become HTML documents (HTTP headers stripped, body decoded by its charset) filtered by
//! MIME type, for `clean.html_to_text` downstream. URL, date, record id and content type go to
//! meta; provenance is the record's byte offset in the decompressed stream.

use std::io::{BufRead, Read};
use std::ops::ControlFlow;
use std::sync::Arc;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, ByteSize, Document, FieldError, Provenance, RecordError, Shard, Source,
    SourceItem, Stage, StageConfig, StageError, StageKind,
};
use serde::{Deserialize, Serialize};

use crate::html::decode_html;
use crate::{input, Inputs};

/// Configuration of `ingest.warc`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct WarcConfig {
    /// Where to read: `path` (one file or folder) or `paths` (files and globs).
    #[serde(flatten)]
    pub inputs: Inputs,
    /// Record types to read: `conversion` (WET text) and/or `response` (HTML).
    #[serde(default = "default_types")]
    pub record_types: Vec<String>,
    /// For `response` records: MIME types to keep.
    #[serde(default = "default_mime")]
    pub mime_types: Vec<String>,
    /// Records larger than this are reported as bad and skipped.
    #[serde(default = "crate::jsonl::default_max_doc_bytes")]
    pub max_doc_bytes: ByteSize,
}

fn default_types() -> Vec<String> {
    vec!["conversion".into(), "response".into()]
}
fn default_mime() -> Vec<String> {
    vec!["text/html".into(), "application/xhtml+xml".into()]
}

impl StageConfig for WarcConfig {
    const TYPE: &'static str = "ingest.warc";
    const KIND: StageKind = StageKind::Source;
    const SUMMARY: &'static str =
        "Read WARC/WET (gzip per record): WET text or HTML responses with URL/date in meta";
    const EXAMPLE: &'static str =
        "type: ingest.warc\npaths: [\"crawl/*.warc.wet.gz\"]\nrecord_types: [conversion]\n";

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        self.inputs.validate(&mut errors);
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::Source(Box::new(WarcSource { config: self.clone() })))
    }
}

/// The `ingest.warc` source.
pub struct WarcSource {
    config: WarcConfig,
}

/// A counting reader, so records can name their byte offset.
struct Counting<R> {
    inner: R,
    offset: u64,
}

impl<R: BufRead> Counting<R> {
    fn read_line(&mut self, line: &mut Vec<u8>) -> std::io::Result<usize> {
        line.clear();
        let n = self.inner.read_until(b'\n', line)?;
        self.offset += n as u64;
        Ok(n)
    }
    fn read_exact_len(&mut self, len: usize, buf: &mut Vec<u8>) -> std::io::Result<()> {
        buf.clear();
        buf.resize(len, 0);
        self.inner.read_exact(buf)?;
        self.offset += len as u64;
        Ok(())
    }
    /// Reads lines until one starts a WARC record (`WARC/1.`); returns its offset, with the line
    /// in `line`, or `None` at the end of the input.
    fn resync(&mut self, line: &mut Vec<u8>) -> std::io::Result<Option<u64>> {
        loop {
            let at = self.offset;
            if self.read_line(line)? == 0 {
                return Ok(None);
            }
            if line.starts_with(b"WARC/1.") {
                return Ok(Some(at));
            }
        }
    }
    fn skip(&mut self, len: u64) -> std::io::Result<()> {
        let copied = std::io::copy(&mut (&mut self.inner).take(len), &mut std::io::sink())?;
        self.offset += copied;
        if copied < len {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "record body cut short"));
        }
        Ok(())
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

impl Source for WarcSource {
    fn shards(&self) -> Result<Vec<Shard>, StageError> {
        Ok(input::file_shards(&self.config.inputs.patterns())?)
    }

    fn read(
        &self,
        shard: &Shard,
        emit: &mut dyn FnMut(SourceItem) -> ControlFlow<()>,
    ) -> Result<(), StageError> {
        let label: Arc<str> = shard.path.display().to_string().into();
        let mut reader = Counting { inner: input::open(&shard.path)?, offset: 0 };
        let mut line = Vec::new();
        let mut body = Vec::new();
        let broken = |offset: u64, e: std::io::Error| StageError::Record {
            provenance: Provenance::byte(label.clone(), offset),
            message: format!("WARC stream breaks off: {e} (records before it were read)"),
        };
        // The offset of a version line already in `line`, found by resynchronising.
        let mut pending: Option<u64> = None;
        // After a bad record, skips to the next `WARC/1.x` line and reports what was skipped.
        let skip_to_next = |reader: &mut Counting<_>,
                            line: &mut Vec<u8>,
                            from: u64,
                            why: &str,
                            emit: &mut dyn FnMut(SourceItem) -> ControlFlow<()>|
         -> Result<Option<u64>, StageError> {
            let next = reader.resync(line).map_err(|e| broken(from, e))?;
            let message = match next {
                Some(at) => format!("{why}; skipped {} bytes to the next record at byte {at}", at - from),
                None => format!("{why}; skipped {} bytes to the end of the file", reader.offset - from),
            };
            let _ = emit(SourceItem::Bad(RecordError {
                provenance: Provenance::byte(label.clone(), from),
                message,
            }));
            Ok(next)
        };
        loop {
            let start = match pending.take() {
                Some(at) => at,
                None => {
                    // Skip blank lines between records, then expect the version line.
                    let start = reader.offset;
                    let n = reader.read_line(&mut line).map_err(|e| broken(start, e))?;
                    if n == 0 {
                        break;
                    }
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    start
                }
            };
            if !line.starts_with(b"WARC/") {
                let why = "not a WARC record (expected a `WARC/1.x` line)";
                match skip_to_next(&mut reader, &mut line, start, why, emit)? {
                    Some(at) => pending = Some(at),
                    None => break,
                }
                continue;
            }
            let mut headers: Vec<(String, String)> = Vec::new();
            loop {
                let at = reader.offset;
                if reader.read_line(&mut line).map_err(|e| broken(at, e))? == 0 {
                    return Err(broken(
                        at,
                        std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "end of file inside headers"),
                    ));
                }
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end();
                if text.is_empty() {
                    break;
                }
                if let Some((k, v)) = text.split_once(':') {
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            let provenance = Provenance::byte(label.clone(), start);
            let Some(length) = header(&headers, "Content-Length").and_then(|v| v.parse::<u64>().ok()) else {
                let why = "record without a valid Content-Length";
                match skip_to_next(&mut reader, &mut line, start, why, emit)? {
                    Some(at) => pending = Some(at),
                    None => break,
                }
                continue;
            };
            let kind = header(&headers, "WARC-Type").unwrap_or("").to_string();
            let wanted = self.config.record_types.contains(&kind);
            if !wanted || length > self.config.max_doc_bytes.0 {
                reader.skip(length).map_err(|e| broken(start, e))?;
                if wanted {
                    let _ = emit(SourceItem::Bad(RecordError {
                        provenance,
                        message: format!("record of {length} bytes is larger than max_doc_bytes"),
                    }));
                }
                continue;
            }
            reader.read_exact_len(length as usize, &mut body).map_err(|e| broken(start, e))?;
            let url = header(&headers, "WARC-Target-URI").unwrap_or("");
            let id = header(&headers, "WARC-Record-ID").unwrap_or("").trim_matches(['<', '>']).to_string();
            let (text, content_type) = if kind == "response" {
                let split = body
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map(|i| (i, i + 4))
                    .or_else(|| body.windows(2).position(|w| w == b"\n\n").map(|i| (i, i + 2)));
                let Some((head_end, body_start)) = split else {
                    let _ = emit(SourceItem::Bad(RecordError {
                        provenance,
                        message: "HTTP response without a header/body separator".into(),
                    }));
                    continue;
                };
                let http = String::from_utf8_lossy(&body[..head_end]).to_string();
                let content_type = http
                    .lines()
                    .find_map(|l| {
                        l.split_once(':')
                            .filter(|(k, _)| k.trim().eq_ignore_ascii_case("content-type"))
                            .map(|(_, v)| v.trim().to_string())
                    })
                    .unwrap_or_default();
                let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
                if !self.config.mime_types.contains(&mime) {
                    continue;
                }
                (decode_html(&body[body_start..]), content_type)
            } else {
                (
                    String::from_utf8_lossy(&body).into_owned(),
                    header(&headers, "Content-Type").unwrap_or("text/plain").to_string(),
                )
            };
            let mut doc = Document::new(if id.is_empty() { format!("{}@{start}", label) } else { id }, text)
                .with_provenance(provenance);
            doc.meta.insert("url".into(), url.into());
            if let Some(date) = header(&headers, "WARC-Date") {
                doc.meta.insert("date".into(), date.into());
            }
            doc.meta.insert("content_type".into(), content_type.into());
            doc.meta.insert("warc_type".into(), kind.into());
            if emit(SourceItem::Doc(doc)).is_break() {
                return Ok(());
            }
        }
        if reader.offset == 0 {
            // An empty file holds no record: nothing to count as failed.
            tracing::warn!("{label}: empty WARC file");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn record(kind: &str, uri: &str, body: &[u8]) -> Vec<u8> {
        let mut r = format!(
            "WARC/1.0\r\nWARC-Type: {kind}\r\nWARC-Target-URI: {uri}\r\nWARC-Date: 2024-03-01T10:00:00Z\r\nWARC-Record-ID: <urn:uuid:{uri}>\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        r.extend_from_slice(b"\r\n\r\n");
        r
    }

    fn read(path: &std::path::Path, types: &[&str]) -> Vec<SourceItem> {
        let source = WarcSource {
            config: WarcConfig {
                inputs: Inputs::path(path),
                record_types: types.iter().map(|s| s.to_string()).collect(),
                mime_types: default_mime(),
                max_doc_bytes: ByteSize(1 << 20),
            },
        };
        let mut items = Vec::new();
        for shard in source.shards().unwrap() {
            let _ = source.read(&shard, &mut |i| {
                items.push(i);
                ControlFlow::Continue(())
            });
        }
        items
    }

    /// Garbage between records and a record with a non-numeric Content-Length used to end the
    /// file; now the reader resynchronises on the next `WARC/1.x` line and reports what it
    /// skipped, with byte offsets.
    #[test]
    fn bad_records_are_skipped_to_the_next_record_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.warc");
        let mut bytes = record("conversion", "u1", b"first");
        let garbage_at = bytes.len();
        bytes.extend_from_slice(
            b"garbage line
more garbage
",
        );
        bytes.extend(record("conversion", "u2", b"second"));
        let bad_at = bytes.len();
        let unreadable = String::from_utf8(record("conversion", "u3", b"lost body")).unwrap();
        bytes.extend(unreadable.replace("Content-Length: 9", "Content-Length: nine").into_bytes());
        bytes.extend(record("conversion", "u4", b"fourth"));
        std::fs::write(&path, &bytes).unwrap();
        let items = read(&path, &["conversion"]);
        let texts: Vec<&str> = items
            .iter()
            .filter_map(|i| if let SourceItem::Doc(d) = i { Some(d.text.as_str()) } else { None })
            .collect();
        assert_eq!(texts, ["first", "second", "fourth"], "{items:?}");
        let bad: Vec<&RecordError> =
            items.iter().filter_map(|i| if let SourceItem::Bad(b) = i { Some(b) } else { None }).collect();
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert_eq!(bad[0].provenance.location, millstone_core::Location::Byte(garbage_at as u64));
        assert!(
            bad[0].message.contains("not a WARC record") && bad[0].message.contains("skipped"),
            "{}",
            bad[0].message
        );
        assert_eq!(bad[1].provenance.location, millstone_core::Location::Byte(bad_at as u64));
        assert!(bad[1].message.contains("Content-Length"), "{}", bad[1].message);
    }

    #[test]
    fn wet_and_warc_records_per_record_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.warc.gz");
        let mut bytes = Vec::new();
        for r in [
            record("warcinfo", "info", b"software: test"),
            record("conversion", "http://a.example/1", "Plain text of page one. Café.".as_bytes()),
            record("response", "http://a.example/2", b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><p>Page two</p></html>"),
            record("response", "http://a.example/3", b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n\x89PNG"),
        ] {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&r).unwrap();
            bytes.extend(enc.finish().unwrap());
        }
        std::fs::write(&path, &bytes).unwrap();
        let items = read(&path, &["conversion", "response"]);
        let docs: Vec<&Document> =
            items.iter().filter_map(|i| if let SourceItem::Doc(d) = i { Some(d) } else { None }).collect();
        assert_eq!(docs.len(), 2, "{items:?}");
        assert_eq!(docs[0].text, "Plain text of page one. Café.");
        assert_eq!(docs[0].meta["url"], "http://a.example/1");
        assert_eq!(docs[1].text, "<html><p>Page two</p></html>");
        assert!(docs[1].meta["content_type"].as_str().unwrap().starts_with("text/html"));
        // A truncated file keeps the records before the break.
        std::fs::write(&path, &bytes[..bytes.len() - 40]).unwrap();
        let items = read(&path, &["conversion"]);
        assert!(items.iter().any(|i| matches!(i, SourceItem::Doc(_))));
    }
}
