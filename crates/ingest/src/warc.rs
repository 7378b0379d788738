//! `ingest.warc`: WARC and WET files (Common Crawl layout; plain or gzip per record, which reads
//! as one concatenated stream). `conversion` records (WET) become text documents; `response`
//! records become HTML documents holding the payload a browser would see (the HTTP head parsed,
//! `Transfer-Encoding: chunked` undone, `Content-Encoding` gzip/deflate/br/zstd decoded, the
//! charset from the HTTP header, then `<meta>`, then detection), kept by HTTP status (2xx by
//! default) and MIME type, for `clean.html_to_text` downstream. Every other record is counted as
//! dropped with its reason (`record_type`, `revisit`, `http_status`, `mime_type`); a payload that
//! cannot be decoded is a failed record naming its byte offset. URL, crawl date (`crawl_date`,
//! from WARC-Date), HTTP status, record id and content type go to meta; provenance is the
//! record's byte offset in the decompressed stream.

use std::io::{BufRead, Read};
use std::ops::ControlFlow;
use std::sync::Arc;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, ByteSize, Document, DropReason, FieldError, Provenance, RecordError, Shard,
    Source, SourceItem, Stage, StageConfig, StageError, StageKind,
};
use serde::{Deserialize, Serialize};

use crate::{http, input, Inputs};

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
    /// For `response` records: HTTP status codes to keep, as codes (`200`) or classes (`2xx`).
    #[serde(default = "default_status")]
    pub status_codes: Vec<String>,
    /// Records larger than this are reported as bad and skipped.
    #[serde(default = "crate::jsonl::default_max_doc_bytes")]
    pub max_doc_bytes: ByteSize,
}

fn default_types() -> Vec<String> {
    vec!["conversion".into(), "response".into()]
}
fn default_status() -> Vec<String> {
    vec!["2xx".into()]
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

    const DROP_REASONS: &'static [(&'static str, &'static str)] = &[
        ("record_type", "a record of a type not in record_types (warcinfo, request, metadata)"),
        ("revisit", "a revisit record: its payload is an earlier capture's, not read again"),
        ("http_status", "an HTTP response whose status is not in status_codes"),
        ("mime_type", "an HTTP response whose Content-Type is not in mime_types"),
    ];

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        self.inputs.validate(&mut errors);
        for code in &self.status_codes {
            if status_pattern(code).is_none() {
                errors.push(FieldError::new(
                    "status_codes",
                    format!("{code:?} is neither a status code (200) nor a class (2xx)"),
                ));
            }
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        let statuses = self.status_codes.iter().filter_map(|c| status_pattern(c)).collect();
        Ok(Stage::Source(Box::new(WarcSource { config: self.clone(), statuses })))
    }
}

/// A status pattern: the range of codes `200` or `2xx` stands for.
fn status_pattern(code: &str) -> Option<std::ops::RangeInclusive<u16>> {
    let code = code.trim().to_ascii_lowercase();
    if let Some(class) = code.strip_suffix("xx") {
        let class: u16 = class.parse().ok().filter(|c| (1..=5).contains(c))?;
        return Some(class * 100..=class * 100 + 99);
    }
    let exact: u16 = code.parse().ok().filter(|c| (100..=599).contains(c))?;
    Some(exact..=exact)
}

/// The `ingest.warc` source.
pub struct WarcSource {
    config: WarcConfig,
    statuses: Vec<std::ops::RangeInclusive<u16>>,
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

impl WarcSource {
    /// The text of an HTTP response record: `Ok(Ok((text, content type, status)))`, or the
    /// reason it is not a document, or why its payload cannot be read.
    #[allow(clippy::type_complexity)]
    fn response_text(&self, record: &[u8]) -> Result<Result<(String, String, u16), DropReason>, String> {
        let response = http::parse_response(record)?;
        if !self.statuses.iter().any(|range| range.contains(&response.status)) {
            return Ok(Err(DropReason("http_status")));
        }
        if !self.config.mime_types.contains(&response.mime()) {
            return Ok(Err(DropReason("mime_type")));
        }
        let payload = http::payload(&response, self.config.max_doc_bytes.0)?;
        let text = http::decode_text(&payload, response.charset());
        let content_type = response.header("Content-Type").unwrap_or("").to_string();
        Ok(Ok((text, content_type, response.status)))
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
                let item = if wanted {
                    SourceItem::Bad(RecordError {
                        provenance,
                        message: format!("record of {length} bytes is larger than max_doc_bytes"),
                    })
                } else if kind == "revisit" {
                    SourceItem::Dropped(provenance, DropReason("revisit"))
                } else {
                    SourceItem::Dropped(provenance, DropReason("record_type"))
                };
                if emit(item).is_break() {
                    return Ok(());
                }
                continue;
            }
            reader.read_exact_len(length as usize, &mut body).map_err(|e| broken(start, e))?;
            let url = header(&headers, "WARC-Target-URI").unwrap_or("");
            let id = header(&headers, "WARC-Record-ID").unwrap_or("").trim_matches(['<', '>']).to_string();
            let mut status = None;
            let (text, content_type) = if kind == "response" {
                match self.response_text(&body) {
                    Ok(Ok((text, content_type, code))) => {
                        status = Some(code);
                        (text, content_type)
                    }
                    Ok(Err(reason)) => {
                        if emit(SourceItem::Dropped(provenance, reason)).is_break() {
                            return Ok(());
                        }
                        continue;
                    }
                    Err(message) => {
                        if emit(SourceItem::Bad(RecordError { provenance, message })).is_break() {
                            return Ok(());
                        }
                        continue;
                    }
                }
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
                doc.meta.insert("crawl_date".into(), date.into());
            }
            if let Some(code) = status {
                doc.meta.insert("http_status".into(), code.into());
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
        let config = WarcConfig {
            inputs: Inputs::path(path),
            record_types: types.iter().map(|s| s.to_string()).collect(),
            mime_types: default_mime(),
            status_codes: default_status(),
            max_doc_bytes: ByteSize(1 << 20),
        };
        read_with(config)
    }

    fn read_with(config: WarcConfig) -> Vec<SourceItem> {
        let Stage::Source(source) = config.build(&BuildContext::for_tests()).unwrap() else {
            panic!("a source")
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

    fn dropped(items: &[SourceItem]) -> Vec<&'static str> {
        items
            .iter()
            .filter_map(|i| if let SourceItem::Dropped(_, r) = i { Some(r.0) } else { None })
            .collect()
    }

    /// The payload a browser would see: gzip and chunked bodies decoded (they came out as
    /// binary garbage and with their size lines), the status in meta, non-2xx and revisit
    /// records counted as dropped, the charset from the HTTP header, the crawl date apart.
    #[test]
    fn response_payloads_are_decoded_and_filtered_by_status() {
        let page = "<html><body><p>Grüße aus Köln</p></body></html>";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(page.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let mut gzipped =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Encoding: gzip\r\n\r\n"
                .to_vec();
        gzipped.extend_from_slice(&gz);
        let chunked = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n<p>Hi \r\n9\r\nthere</p>\r\n0\r\n\r\n";
        let latin1 = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=ISO-8859-1\r\n\r\n<p>caf\xe9</p>";
        let missing = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n\r\n<p>gone</p>";
        let moved = b"HTTP/1.1 301 Moved Permanently\r\nLocation: /x\r\nContent-Type: text/html\r\n\r\n";
        let broken = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\nnot gzip";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.warc");
        let mut bytes = Vec::new();
        for r in [
            record("warcinfo", "info", b"software: test"),
            record("request", "http://a.example/1", b"GET /1 HTTP/1.1\r\n\r\n"),
            record("response", "http://a.example/1", &gzipped),
            record("response", "http://a.example/2", chunked),
            record("response", "http://a.example/3", latin1),
            record("response", "http://a.example/4", missing),
            record("response", "http://a.example/5", moved),
            record("revisit", "http://a.example/1", b"HTTP/1.1 200 OK\r\n\r\n"),
            record("response", "http://a.example/6", broken),
        ] {
            bytes.extend(r);
        }
        std::fs::write(&path, &bytes).unwrap();
        let items = read(&path, &["response"]);
        let docs: Vec<&Document> =
            items.iter().filter_map(|i| if let SourceItem::Doc(d) = i { Some(d) } else { None }).collect();
        let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
        assert_eq!(texts, [page, "<p>Hi there</p>", "<p>café</p>"]);
        assert_eq!(docs[0].meta["http_status"], 200);
        assert_eq!(docs[0].meta["crawl_date"], "2024-03-01T10:00:00Z");
        assert!(!docs[0].meta.contains_key("date"), "the crawl date is not the publication date");
        assert_eq!(dropped(&items), ["record_type", "record_type", "http_status", "http_status", "revisit"]);
        let bad: Vec<&RecordError> =
            items.iter().filter_map(|i| if let SourceItem::Bad(b) = i { Some(b) } else { None }).collect();
        assert_eq!(bad.len(), 1);
        assert!(bad[0].message.contains("gzip"), "{}", bad[0].message);
        // Other statuses on request.
        let config = WarcConfig {
            inputs: Inputs::path(&path),
            record_types: vec!["response".into()],
            mime_types: default_mime(),
            status_codes: vec!["2xx".into(), "404".into()],
            max_doc_bytes: ByteSize(1 << 20),
        };
        let items = read_with(config.clone());
        assert_eq!(items.iter().filter(|i| matches!(i, SourceItem::Doc(_))).count(), 4);
        let bad = WarcConfig { status_codes: vec!["2x".into()], ..config };
        assert_eq!(bad.validate().unwrap_err()[0].field, "status_codes");
    }
}
