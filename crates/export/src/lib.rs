//! # millstone-export
//!
//! Sinks: stages that write documents out. Every sink writes under a temporary name and renames
//! into place when the run succeeds ([`millstone_core::AtomicFile`]), so a failed or killed run
//! never leaves a half-written output under the final name; an existing output is kept unless
//! the run has `--overwrite`.
//!
//! <!-- stages:begin: generated from the registry by tests/docs.rs -->
//! | type | kind | what it does | on_match |
//! |---|---|---|---|
//! | `export.csv` | sink | Write CSV/TSV: id, text and chosen metadata columns, atomically | - |
//! | `export.jsonl` | sink | Write JSON Lines (plain, .gz, .zst), atomically | - |
//! | `export.parquet` | sink | Write Parquet (zstd, row groups, typed metadata columns), atomically | - |
//! | `export.text_dir` | sink | Write one .txt file per document into a folder, atomically | - |
//! | `export.tokens` | sink | Write tokenized shards (Megatron-LM .bin/.idx) with tiktoken or a tokenizer.json, atomically | - |
//! <!-- stages:end -->
//!
//! ```
//! use millstone_export::jsonl::{JsonlSink, JsonlSinkConfig};
//! use millstone_core::{Batch, Document, Sink};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("out.jsonl");
//! let mut sink = JsonlSink::new(JsonlSinkConfig::to(&path), true);
//! sink.write(&Batch::new(0, vec![Document::new("a", "hello").with_meta("url", "u")])).unwrap();
//! sink.finish().unwrap();
//! assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"id\":\"a\",\"text\":\"hello\",\"url\":\"u\"}\n");
//! ```
#![deny(missing_docs)]

pub mod json_string;
pub mod jsonl;
pub mod parquet;
pub mod table;
pub mod tokens;

use millstone_core::{Registry, StageError};

/// Registers every sink of this crate.
pub fn register(registry: &mut Registry) {
    registry.register::<jsonl::JsonlSinkConfig>();
    registry.register::<table::CsvSinkConfig>();
    registry.register::<parquet::ParquetSinkConfig>();
    registry.register::<table::TextDirSinkConfig>();
    registry.register::<tokens::TokensSinkConfig>();
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Writing an output failed.
    #[error("{path}: {source}")]
    Io {
        /// The output.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A document could not be serialised.
    #[error("cannot serialise document `{id}`: {message}")]
    Serialize {
        /// The document.
        id: String,
        /// Why.
        message: String,
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
