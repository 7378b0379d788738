//! Errors of the core crate: stage failures, build failures and field validation errors.

use crate::document::{DocId, Provenance};

/// The error type of `millstone-core` operations that are not stage-specific.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two stage types were registered under one name.
    #[error("stage type `{0}` is registered twice")]
    DuplicateStageType(&'static str),
    /// A stage type name does not follow `group.name` in snake_case.
    #[error("stage type `{0}` must look like `group.name` (lowercase, digits, `_`)")]
    BadStageTypeName(&'static str),
}

/// A problem with one configuration field, found by [`crate::StageConfig::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the field inside the stage (`bands`, `keeper.field`).
    pub field: String,
    /// What is wrong, as a sentence fragment (`must be at least 1`).
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// A stage could not be built from a valid configuration (e.g. a regex did not compile).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BuildError {
    /// The field the problem is about, if one is.
    pub field: Option<String>,
    /// What went wrong.
    pub message: String,
}

impl BuildError {
    /// A build error about a field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        BuildError { field: Some(field.into()), message: message.into() }
    }
}

/// An error raised by a stage while processing data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StageError {
    /// An I/O error on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A record could not be processed; names the record.
    #[error("{provenance}: {message}")]
    Record {
        /// Where the record is.
        provenance: Provenance,
        /// What is wrong with it.
        message: String,
    },
    /// A document could not be processed by a stage.
    #[error("document `{id}`: {message}")]
    Document {
        /// The document's id.
        id: DocId,
        /// What went wrong.
        message: String,
    },
    /// The stage panicked; the runner turns panics into this error.
    #[error("stage panicked on document `{id}` ({provenance}): {message}")]
    Panic {
        /// The document being processed.
        id: DocId,
        /// Where it came from.
        provenance: Provenance,
        /// The panic payload, if it was a string.
        message: String,
    },
    /// A sequential stage (barrier or sink) panicked; the runner turns the panic into this error.
    #[error("stage panicked: {0}")]
    Panicked(String),
    /// A source met a record it cannot turn into a document (bad JSON, a missing field).
    #[error("{0}")]
    BadRecord(String),
    /// A library error on a named file, with its source chain.
    #[error("{path}: {source}")]
    Path {
        /// The file involved.
        path: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An error of a stage crate, with its source chain.
    #[error(transparent)]
    Crate(Box<dyn std::error::Error + Send + Sync>),
    /// A memory budget was exceeded.
    #[error("memory budget exceeded: {0}")]
    Budget(String),
    /// Any other error, with a message.
    #[error("{0}")]
    Other(String),
}

impl StageError {
    /// An I/O error on `path`.
    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        StageError::Io { path: path.to_string(), source }
    }
    /// A library error on `path`, keeping the error as the source.
    pub fn path(
        path: impl std::fmt::Display,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StageError::Path { path: path.to_string(), source: Box::new(source) }
    }
    /// A free-form error.
    pub fn other(message: impl Into<String>) -> Self {
        StageError::Other(message.into())
    }
}
