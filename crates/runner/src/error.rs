//! Why a run stopped.

use millstone_core::{DocId, Provenance, StageError};

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A stage failed and its policy (or `fail_fast`) says stop.
    #[error("stage `{stage}` failed: {error}")]
    Stage {
        /// Stage id.
        stage: String,
        /// The error.
        #[source]
        error: StageError,
    },
    /// A stage failed on one document and its policy (or `fail_fast`) says stop.
    #[error("stage `{stage}` failed on document `{id}` ({provenance}): {error}")]
    Document {
        /// Stage id.
        stage: String,
        /// The document.
        id: DocId,
        /// Where the document came from.
        provenance: Provenance,
        /// The error.
        #[source]
        error: Box<StageError>,
    },
    /// A source met a record it could not read and its policy (or `fail_fast`) says stop.
    #[error("stage `{stage}` failed at {provenance}: {error}")]
    Record {
        /// Stage id.
        stage: String,
        /// Where the record is.
        provenance: Provenance,
        /// The error.
        #[source]
        error: Box<StageError>,
    },
    /// More than `runtime.max_failed_fraction` of the input records failed.
    #[error(
        "{failed} of {input} input records ({percent:.1}%) failed, above runtime.max_failed_fraction = {max}: \
         the run is failed and nothing was committed; the report's error samples name the records"
    )]
    TooManyFailures {
        /// Records that failed.
        failed: u64,
        /// Records read.
        input: u64,
        /// `failed / input` in percent.
        percent: f64,
        /// The limit.
        max: f64,
    },
    /// The plan cannot run (no source, bad shard selection).
    #[error("invalid plan: {0}")]
    Plan(String),
    /// A side file (rejects, quarantine) could not be written.
    #[error("cannot write side output: {0}")]
    SideOutput(#[from] std::io::Error),
    /// The run stopped on `error` after it had started; nothing was committed, and `report`
    /// says what was done until then (with the error in `report.error`).
    #[error("{error}")]
    Failed {
        /// What stopped the run.
        #[source]
        error: Box<Error>,
        /// The work done until then.
        report: Box<crate::RunReport>,
    },
    /// The run was interrupted (Ctrl-C, SIGTERM): nothing was committed; the report says what
    /// was done until then.
    #[error("interrupted: nothing was committed")]
    Interrupted(Box<crate::RunReport>),
    /// The worker pool could not be created.
    #[error("cannot start worker threads")]
    Pool(#[source] rayon::ThreadPoolBuildError),
}
