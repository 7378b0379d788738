//! The payload a browser would see in an archived HTTP response: the status line and headers
//! parsed, `Transfer-Encoding: chunked` undone, `Content-Encoding` (gzip, deflate, br, zstd)
//! decoded, the charset taken from the `Content-Type` header, then the page's own `<meta>`
//! declaration, then detection (chardetng).

use std::io::Read;

/// A parsed HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response<'a> {
    /// The status code (`200`).
    pub status: u16,
    /// Header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body as transmitted (possibly chunked and compressed).
    pub body: &'a [u8],
}

impl Response<'_> {
    /// The value of header `name` (case-insensitive), the first if repeated.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The MIME type of `Content-Type`, lowercase, without parameters (`""` when absent).
    pub fn mime(&self) -> String {
        self.header("Content-Type").unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase()
    }

    /// The `charset` parameter of `Content-Type`.
    pub fn charset(&self) -> Option<&str> {
        let value = self.header("Content-Type")?;
        value.split(';').skip(1).find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim().eq_ignore_ascii_case("charset").then(|| v.trim().trim_matches(['"', '\'']))
        })
    }
}

/// Parses an HTTP response: status line, headers up to the blank line, body.
pub fn parse_response(bytes: &[u8]) -> Result<Response<'_>, String> {
    let (head_end, body_start) = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| bytes.windows(2).position(|w| w == b"\n\n").map(|i| (i, i + 2)))
        .ok_or("HTTP response without a header/body separator")?;
    let head = String::from_utf8_lossy(&bytes[..head_end]);
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/") {
        return Err(format!("HTTP response without a status line (starts {:?})", truncate(status_line, 40)));
    }
    let status = parts
        .next()
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("HTTP status line without a status code: {:?}", truncate(status_line, 60)))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Response { status, headers, body: &bytes[body_start..] })
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The body with `Transfer-Encoding: chunked` undone and every `Content-Encoding` decoded
/// (innermost last, as listed), at most `limit` bytes.
pub fn payload(response: &Response, limit: u64) -> Result<Vec<u8>, String> {
    let chunked =
        response.header("Transfer-Encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let mut body = if chunked { dechunk(response.body)? } else { response.body.to_vec() };
    if let Some(encodings) = response.header("Content-Encoding") {
        for encoding in encodings.rsplit(',').map(|e| e.trim().to_ascii_lowercase()) {
            body = decode(&encoding, &body, limit)?;
        }
    }
    Ok(body)
}

/// Undoes chunked transfer coding: `size[;ext]\r\n data \r\n ... 0\r\n` (trailers ignored).
pub fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(body.len());
    loop {
        let line_end =
            body.iter().position(|&b| b == b'\n').ok_or("chunked body: a chunk size line is cut off")?;
        let line =
            std::str::from_utf8(&body[..line_end]).map_err(|_| "chunked body: a chunk size is not text")?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("chunked body: {:?} is not a chunk size", truncate(size_text, 20)))?;
        body = &body[line_end + 1..];
        if size == 0 {
            return Ok(out);
        }
        let chunk =
            body.get(..size).ok_or_else(|| format!("chunked body: a chunk of {size} bytes is cut off"))?;
        out.extend_from_slice(chunk);
        body = &body[size..];
        body = body.strip_prefix(b"\r\n").or_else(|| body.strip_prefix(b"\n")).unwrap_or(body);
        if body.is_empty() {
            // Many crawlers store bodies whose last chunk was lost; keep what arrived.
            return Ok(out);
        }
    }
}

fn read_limited(reader: impl Read, limit: u64, encoding: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    reader.take(limit + 1).read_to_end(&mut out).map_err(|e| format!("Content-Encoding {encoding}: {e}"))?;
    if out.len() as u64 > limit {
        return Err(format!(
            "Content-Encoding {encoding}: the decoded body is larger than max_doc_bytes ({limit})"
        ));
    }
    Ok(out)
}

/// Decodes one content coding.
fn decode(encoding: &str, body: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    match encoding {
        "gzip" | "x-gzip" => read_limited(flate2::read::MultiGzDecoder::new(body), limit, encoding),
        // "deflate" is zlib by the standard, raw deflate by some servers.
        "deflate" => read_limited(flate2::read::ZlibDecoder::new(body), limit, encoding)
            .or_else(|_| read_limited(flate2::read::DeflateDecoder::new(body), limit, encoding)),
        "br" => read_limited(brotli::Decompressor::new(body, 1 << 16), limit, encoding),
        "zstd" => read_limited(
            zstd::stream::read::Decoder::new(body).map_err(|e| format!("Content-Encoding zstd: {e}"))?,
            limit,
            encoding,
        ),
        "identity" | "" | "none" => Ok(body.to_vec()),
        other => Err(format!("unknown Content-Encoding {other:?}")),
    }
}

/// Decodes an HTML payload to text: the HTTP charset when it names a known encoding, else the
/// page's `<meta>` declaration, else UTF-8 when valid, else detection.
pub fn decode_text(bytes: &[u8], http_charset: Option<&str>) -> String {
    if let Some(encoding) = http_charset.and_then(|c| encoding_rs::Encoding::for_label(c.as_bytes())) {
        let (text, _, _) = encoding.decode(bytes);
        return text.into_owned();
    }
    crate::html::decode_html(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn response(headers: &str, body: &[u8]) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 200 OK\r\n{headers}\r\n").into_bytes();
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn status_headers_and_charset_are_parsed() {
        let bytes =
            b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html; charset=\"ISO-8859-1\"\r\n\r\n<p>x</p>";
        let r = parse_response(bytes).unwrap();
        assert_eq!((r.status, r.mime().as_str(), r.charset()), (404, "text/html", Some("ISO-8859-1")));
        assert_eq!(r.body, b"<p>x</p>");
        assert!(parse_response(b"GET / HTTP/1.1\r\n\r\n").unwrap_err().contains("status line"));
        assert!(parse_response(b"HTTP/1.1 OK\r\n\r\n").unwrap_err().contains("status code"));
    }

    #[test]
    fn chunked_bodies_lose_their_size_lines() {
        assert_eq!(dechunk(b"5\r\nHello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n").unwrap(), b"Hello, world");
        assert_eq!(dechunk(b"5\r\nHello\r\n").unwrap(), b"Hello", "a lost last chunk keeps what arrived");
        assert!(dechunk(b"zz\r\nHello").unwrap_err().contains("not a chunk size"));
        assert!(dechunk(b"50\r\nHello").unwrap_err().contains("cut off"));
    }

    #[test]
    fn every_content_encoding_is_decoded() {
        let page = "<html><body><p>Grüße aus Köln</p></body></html>".repeat(20);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(page.as_bytes()).unwrap();
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(page.as_bytes()).unwrap();
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(page.as_bytes()).unwrap();
        let mut br = Vec::new();
        brotli::BrotliCompress(&mut page.as_bytes(), &mut br, &Default::default()).unwrap();
        let zst = zstd::encode_all(page.as_bytes(), 3).unwrap();
        for (encoding, body) in [
            ("gzip", gz.finish().unwrap()),
            ("deflate", zlib.finish().unwrap()),
            ("deflate", raw.finish().unwrap()),
            ("br", br),
            ("zstd", zst),
        ] {
            let bytes = response(&format!("Content-Encoding: {encoding}\r\n"), &body);
            let decoded = payload(&parse_response(&bytes).unwrap(), 1 << 20).unwrap();
            assert_eq!(decoded, page.as_bytes(), "{encoding}");
        }
        let bytes = response("Content-Encoding: gzip\r\n", b"not gzip at all");
        assert!(payload(&parse_response(&bytes).unwrap(), 1 << 20).unwrap_err().contains("gzip"));
        let bytes = response("Content-Encoding: compress\r\n", b"x");
        assert!(payload(&parse_response(&bytes).unwrap(), 1 << 20).unwrap_err().contains("unknown"));
    }

    #[test]
    fn chunked_and_gzipped_together_and_size_bounded() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&vec![b'a'; 10_000]).unwrap();
        let gz = gz.finish().unwrap();
        let mut chunked = format!("{:x}\r\n", gz.len()).into_bytes();
        chunked.extend_from_slice(&gz);
        chunked.extend_from_slice(b"\r\n0\r\n\r\n");
        let bytes = response("Transfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n", &chunked);
        let r = parse_response(&bytes).unwrap();
        assert_eq!(payload(&r, 1 << 20).unwrap().len(), 10_000);
        assert!(payload(&r, 100).unwrap_err().contains("larger than max_doc_bytes"));
    }

    #[test]
    fn charset_comes_from_http_then_meta_then_detection() {
        let latin1 = b"<p>caf\xe9</p>";
        assert_eq!(decode_text(latin1, Some("iso-8859-1")), "<p>café</p>");
        let declared = b"<meta charset=\"windows-1251\"><p>\xcf\xf0\xe8\xe2\xe5\xf2</p>";
        assert!(decode_text(declared, None).contains("Привет"));
        assert_eq!(decode_text("<p>café</p>".as_bytes(), None), "<p>café</p>");
    }
}
