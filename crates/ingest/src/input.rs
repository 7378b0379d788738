//! Opening inputs: glob expansion, decompression by extension or magic bytes, and decoding with
//! a UTF-8 policy.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::{Error, InvalidUtf8};

/// Compression of an input stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain bytes.
    None,
    /// gzip (also multi-member).
    Gzip,
    /// Zstandard.
    Zstd,
    /// bzip2 (also multi-stream).
    Bzip2,
}

impl Compression {
    /// Detects compression from the file's magic bytes. They win over the extension: a
    /// `.jsonl.gz` that is really plain text is read as plain text.
    pub fn detect(path: &Path) -> std::io::Result<Self> {
        let url = path.to_string_lossy();
        if millstone_storage::is_remote(&url) {
            let size = millstone_storage::size(&url).map_err(std::io::Error::other)?;
            if size == 0 {
                return Ok(Compression::None);
            }
            let head = millstone_storage::read_range(&url, 0..size.min(4)).map_err(std::io::Error::other)?;
            return Ok(Self::from_magic(&head));
        }
        let mut magic = [0u8; 4];
        let mut file = File::open(path)?;
        let mut n = 0;
        while n < magic.len() {
            match file.read(&mut magic[n..])? {
                0 => break,
                k => n += k,
            }
        }
        Ok(Self::from_magic(&magic[..n]))
    }

    /// The compression whose magic bytes start `head`.
    pub fn from_magic(head: &[u8]) -> Self {
        match head {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            [b'B', b'Z', b'h', b'1'..=b'9', ..] => Compression::Bzip2,
            _ => Compression::None,
        }
    }
}

/// What [`read_line_bounded`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRead {
    /// Bytes consumed from the input, terminator included (0 at the end of the input).
    pub consumed: u64,
    /// The line was longer than the limit: `buf` is empty and the rest of the line was skipped.
    pub too_long: bool,
}

/// Reads one line (with its `\n`) into `buf`, holding at most `max` bytes of it in memory: a
/// longer line is skipped to its end without being buffered, so one huge record cannot take
/// the memory of the process.
pub fn read_line_bounded<R: BufRead + ?Sized>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: u64,
) -> std::io::Result<LineRead> {
    buf.clear();
    let mut read = LineRead { consumed: 0, too_long: false };
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(read);
        }
        let (take, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if !read.too_long {
            // The terminator (`\n` or `\r\n`) does not count against the limit.
            if (buf.len() + take) as u64 > max + 2 {
                read.too_long = true;
                *buf = Vec::new();
            } else {
                buf.extend_from_slice(&available[..take]);
            }
        }
        reader.consume(take);
        read.consumed += take as u64;
        if done {
            return Ok(read);
        }
    }
}

/// Skips a UTF-8 byte order mark at the start of a stream (editors and spreadsheet exports write
/// one; it is not part of the first record).
pub fn skip_bom<R: BufRead + ?Sized>(reader: &mut R) -> std::io::Result<()> {
    if reader.fill_buf()?.starts_with(b"\xEF\xBB\xBF") {
        reader.consume(3);
    }
    Ok(())
}

/// Opens a file for buffered reading, decompressing as needed, without a leading UTF-8 BOM.
pub fn open(path: &Path) -> Result<Box<dyn BufRead + Send>, Error> {
    let mut reader = open_raw(path)?;
    skip_bom(&mut reader).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
    Ok(reader)
}

fn open_raw(path: &Path) -> Result<Box<dyn BufRead + Send>, Error> {
    let io = |source| Error::Io { path: path.display().to_string(), source };
    let url = path.to_string_lossy();
    if millstone_storage::is_remote(&url) {
        let mut object = BufReader::with_capacity(1 << 20, millstone_storage::ObjectReader::open(&url)?);
        let compression = Compression::from_magic(object.fill_buf().map_err(io)?);
        return decompressed(object, compression).map_err(io);
    }
    let compression = Compression::detect(path).map_err(io)?;
    let file = File::open(path).map_err(io)?;
    decompressed(file, compression).map_err(io)
}

/// `input` decompressed by `compression`, buffered.
fn decompressed<R: Read + Send + 'static>(
    input: R,
    compression: Compression,
) -> std::io::Result<Box<dyn BufRead + Send>> {
    Ok(match compression {
        Compression::None => Box::new(BufReader::with_capacity(1 << 20, input)),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(BufReader::new(input)),
        )),
        Compression::Zstd => {
            Box::new(BufReader::with_capacity(1 << 20, zstd::stream::read::Decoder::new(input)?))
        }
        Compression::Bzip2 => Box::new(BufReader::with_capacity(
            1 << 20,
            bzip2::read::MultiBzDecoder::new(BufReader::new(input)),
        )),
    })
}

/// The regular files beneath `dir`, sorted. Symbolic links are followed only with
/// `follow_symlinks`, and then a link back to an ancestor folder (a loop) is an error naming it.
pub fn walk_files(dir: &Path, follow_symlinks: bool) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(follow_symlinks).sort_by_file_name() {
        let entry = entry.map_err(|e| Error::Io {
            path: e.path().unwrap_or(dir).display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
        if entry.file_type().is_file() {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// Expands paths, folders (every file beneath, symbolic links not followed) and glob patterns
/// into a sorted, de-duplicated list of files; `s3://` patterns are listed from the store (see
/// [`millstone_storage::list`]) and `https://` URLs name one object each. A pattern (or plain path) that matches nothing is
/// an error.
pub fn expand(patterns: &[String]) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for pattern in patterns {
        let before = files.len();
        if millstone_storage::is_remote(pattern) {
            files.extend(millstone_storage::list(pattern)?.into_iter().map(PathBuf::from));
        } else if Path::new(pattern).is_file() {
            files.push(PathBuf::from(pattern));
        } else if Path::new(pattern).is_dir() {
            files.extend(walk_files(Path::new(pattern), false)?);
        } else {
            let matches = glob::glob(pattern)
                .map_err(|e| Error::BadGlob { pattern: pattern.clone(), message: e.msg.to_string() })?;
            for entry in matches {
                let path = entry.map_err(|e| Error::Io {
                    path: e.path().display().to_string(),
                    source: std::io::Error::other(e.to_string()),
                })?;
                if path.is_file() {
                    files.push(path);
                }
            }
        }
        if files.len() == before {
            return Err(Error::NoMatch(pattern.clone()));
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// One shard per file matched by `patterns` (for sources that read whole files).
pub fn file_shards(patterns: &[String]) -> Result<Vec<millstone_core::Shard>, Error> {
    Ok(expand(patterns)?.into_iter().map(millstone_core::Shard::file).collect())
}

/// The outcome of decoding bytes under a UTF-8 policy.
pub enum Decoded {
    /// Valid UTF-8 (or repaired under `lossy`; `repaired` says so).
    Text {
        /// The text.
        text: String,
        /// Whether bad bytes were replaced.
        repaired: bool,
    },
    /// Invalid, with the byte offset of the first bad byte.
    Invalid {
        /// Offset of the first invalid byte within the record.
        offset: usize,
    },
}

/// Decodes `bytes` as UTF-8 under `policy`.
pub fn decode(bytes: Vec<u8>, policy: InvalidUtf8) -> Decoded {
    match String::from_utf8(bytes) {
        Ok(text) => Decoded::Text { text, repaired: false },
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            match policy {
                InvalidUtf8::Lossy => {
                    Decoded::Text { text: String::from_utf8_lossy(e.as_bytes()).into_owned(), repaired: true }
                }
                InvalidUtf8::Detect => {
                    let bytes = e.as_bytes();
                    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
                    detector.feed(bytes, true);
                    let (text, _, _) = detector.guess(None, chardetng::Utf8Detection::Deny).decode(bytes);
                    Decoded::Text { text: text.into_owned(), repaired: true }
                }
                InvalidUtf8::Skip => Decoded::Invalid { offset },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Bounded reading gives what `read_until` gives for lines within the limit, flags
        /// longer ones without holding them, and consumes exactly the same bytes.
        #[test]
        fn bounded_lines_match_read_until(
            lines in prop::collection::vec("[a-z\r]{0,40}", 0..20),
            max in 0u64..30,
            capacity in 1usize..16,
        ) {
            let data = lines.join("\n");
            let mut bounded = std::io::BufReader::with_capacity(capacity, data.as_bytes());
            let mut plain = data.as_bytes();
            loop {
                let mut expected = Vec::new();
                let n = plain.read_until(b'\n', &mut expected).unwrap();
                let mut got = Vec::new();
                let read = read_line_bounded(&mut bounded, &mut got, max).unwrap();
                prop_assert_eq!(read.consumed, n as u64);
                prop_assert!(got.len() as u64 <= max + 2);
                if read.too_long {
                    prop_assert!(expected.len() as u64 > max + 2);
                    prop_assert!(got.is_empty());
                } else {
                    prop_assert_eq!(&got, &expected);
                }
                if n == 0 {
                    break;
                }
            }
        }
    }
}
