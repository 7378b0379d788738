//! # millstone-ingest
//!
//! Sources: stages that turn files into [`Document`]s, reading shards (files, or byte ranges of
//! large uncompressed files) in parallel while the runner keeps their order.
//!
//! | type | reads |
//! |---|---|
//! | `ingest.jsonl` | JSON Lines, plain, `.gz` or `.zst`; byte-range shards for big plain files |
//! | `ingest.text_dir` | a folder of text files, one document per file |
//! | `ingest.csv` | CSV/TSV with a header row; other columns become metadata |
//! | `ingest.warc` | WARC/WET (Common Crawl layout, gzip per record): conversion and response records |
//! | `ingest.parquet` | Parquet, row groups as shards, column projection |
//! | `ingest.html` | HTML files (plain/gz/zst), charset-aware; pair with `clean.html_to_text` |
//!
//! Bad input never stops a run by itself: an invalid UTF-8 record, a line that is not JSON, a
//! missing text field, an empty file or a too-large document is reported as a bad record with
//! its file and line (the runner counts it as failed, and `on_error` decides what else happens);
//! a truncated compressed stream keeps the documents before the break and reports the break.
//!
//! ```
//! use millstone_ingest::jsonl::JsonlSource;
//! use millstone_core::{Source, SourceItem};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("a.jsonl");
//! std::fs::write(&path, "{\"id\":\"x\",\"text\":\"hello\",\"url\":\"u\"}\nnot json\n").unwrap();
//! let source = JsonlSource::new(vec![path.display().to_string()]);
//! let mut items = Vec::new();
//! for shard in source.shards().unwrap() {
//!     source.read(&shard, &mut |item| { items.push(item); std::ops::ControlFlow::Continue(()) }).unwrap();
//! }
//! assert!(matches!(&items[0], SourceItem::Doc(d) if d.text == "hello" && d.meta["url"] == "u"));
//! assert!(matches!(&items[1], SourceItem::Bad(b) if b.message.contains("not valid JSON")));
//! ```
#![deny(missing_docs)]

pub mod csv;
pub mod html;
pub mod input;
pub mod jsonl;
pub mod parquet;
pub mod text_dir;
pub mod warc;

use millstone_core::{Registry, StageError};
use schemars::JsonSchema;
use serde::Deserialize;

use millstone_core::schemars;
pub use millstone_core::Document;

/// Registers every source of this crate.
pub fn register(registry: &mut Registry) {
    registry.register::<jsonl::JsonlConfig>();
    registry.register::<text_dir::TextDirConfig>();
    registry.register::<html::HtmlSourceConfig>();
    registry.register::<csv::CsvConfig>();
    registry.register::<warc::WarcConfig>();
    registry.register::<parquet::ParquetConfig>();
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A path or glob matched no file.
    #[error("no input files match `{0}`")]
    NoMatch(String),
    /// A glob pattern is malformed.
    #[error("bad glob pattern `{pattern}`: {message}")]
    BadGlob {
        /// The pattern.
        pattern: String,
        /// Why.
        message: String,
    },
    /// An I/O error on a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl From<Error> for StageError {
    fn from(e: Error) -> Self {
        match e {
            Error::Io { path, source } => StageError::Io { path, source },
            other => StageError::Crate(Box::new(other)),
        }
    }
}

/// What to do with a record whose bytes are not valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvalidUtf8 {
    /// Report the record as bad (counted as failed, with its location).
    #[default]
    Skip,
    /// Replace bad bytes with U+FFFD and keep the document (counted in `invalid_utf8_repaired`).
    Lossy,
    /// Guess the legacy encoding (chardetng: windows-125x, ISO-8859-x, Shift_JIS, GBK...) and
    /// decode with it (marked `invalid_utf8_repaired`).
    Detect,
}

/// One path or a list of paths (globs allowed).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Paths {
    /// A single path or glob.
    One(String),
    /// Several paths or globs.
    Many(Vec<String>),
}

impl Paths {
    /// The paths as a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Paths::One(p) => vec![p.clone()],
            Paths::Many(v) => v.clone(),
        }
    }
}
