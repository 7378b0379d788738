//! # millstone-ingest
//!
//! Sources: stages that turn files into [`Document`]s, reading shards (files, or byte ranges of
//! large uncompressed files) in parallel while the runner keeps their order.
//!
//! <!-- stages:begin: generated from the registry by tests/docs.rs -->
//! | type | kind | what it does | on_match |
//! |---|---|---|---|
//! | `ingest.csv` | source | Read CSV/TSV with a header row (plain, .gz, .zst); other columns become metadata | - |
//! | `ingest.html` | source | Read HTML files (plain/.gz/.zst), decoded by their declared charset | - |
//! | `ingest.jsonl` | source | Read JSON Lines (plain, .gz, .zst); other fields become metadata | - |
//! | `ingest.parquet` | source | Read Parquet (row groups as shards, column projection); other columns become metadata | - |
//! | `ingest.text_dir` | source | Read a folder of text files, one document per file (id = relative path) | - |
//! | `ingest.warc` | source | Read WARC/WET (gzip per record): WET text or HTML responses with URL/date in meta | - |
//! <!-- stages:end -->
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
pub mod http;
pub mod input;
pub mod jsonl;
pub mod parquet;
pub mod text_dir;
pub mod warc;

use millstone_core::{FieldError, Registry, StageError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
    /// Listing or reading an object store (`s3://`, `https://`).
    #[error(transparent)]
    Storage(#[from] millstone_storage::Error),
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
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

/// Where a source reads: `path` (one file or folder) or `paths` (a list of files and globs).
/// Flattened into every source's configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Inputs {
    /// One input file or folder (a folder: every file beneath it, in sorted order). Required
    /// unless `paths` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<std::path::PathBuf>,
    /// Input files and glob patterns (`[data/*.jsonl.zst, extra.jsonl]`), instead of `path`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
}

impl Inputs {
    /// One file or folder.
    pub fn path(path: impl Into<std::path::PathBuf>) -> Self {
        Inputs { path: Some(path.into()), paths: Vec::new() }
    }

    /// A list of files and globs.
    pub fn paths(paths: Vec<String>) -> Self {
        Inputs { path: None, paths }
    }

    /// Field errors: exactly one of `path` and `paths`, and no glob in `path`.
    pub fn validate(&self, errors: &mut Vec<FieldError>) {
        match (&self.path, self.paths.is_empty()) {
            (Some(_), false) => errors.push(FieldError::new(
                "paths",
                "give `path` (one file or folder) or `paths` (a list of files and globs), not both",
            )),
            (None, true) => errors.push(FieldError::new(
                "path",
                "is required: `path` (one file or folder) or `paths` (a list of files and globs)",
            )),
            (Some(path), true) if path.to_string_lossy().contains(['*', '?', '[']) => {
                errors.push(FieldError::new(
                    "path",
                    format!("names one file or folder; put the glob in `paths: [\"{}\"]`", path.display()),
                ))
            }
            _ => {}
        }
    }

    /// The patterns to expand: `path` (a file, or a folder meaning every file beneath it), then
    /// `paths`.
    pub fn patterns(&self) -> Vec<String> {
        let mut patterns: Vec<String> = self.path.iter().map(|p| p.display().to_string()).collect();
        patterns.extend(self.paths.iter().cloned());
        patterns
    }
}
