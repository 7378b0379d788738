//! The crate's error type.

use std::path::PathBuf;

/// What can go wrong when planning, running or driving tasks.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file of the work folder.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The pipeline file could not be built.
    #[error(transparent)]
    Config(#[from] millstone_config::Error),
    /// The runner failed.
    #[error(transparent)]
    Run(#[from] millstone_runner::Error),
    /// A barrier's own step (matching, clustering) failed.
    #[error(transparent)]
    Stage(#[from] millstone_core::StageError),
    /// `plan.json` cannot be read.
    #[error("{path}: not a millstone plan: {message}")]
    BadPlan {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The plan no longer matches the world (inputs, pipeline, version): tasks refuse to run.
    #[error("the plan is stale: {0}; run `millstone plan` again (with a fresh --work folder)")]
    Stale(String),
    /// A request that does not fit the plan (a step or rank that does not exist, ...).
    #[error("{0}")]
    Usage(String),
    /// A task cannot start yet: an earlier step is not finished.
    #[error("step {step} cannot run yet: step {previous} has no marker for ranks {missing}")]
    NotReady {
        /// The step asked for.
        step: usize,
        /// The unfinished step.
        previous: usize,
        /// Its ranks without a marker, e.g. `0,3-5`.
        missing: String,
    },
    /// An external program the engine needs is missing.
    #[error("`{tool}` was not found on PATH; install {package}")]
    MissingTool {
        /// The program.
        tool: &'static str,
        /// What provides it.
        package: &'static str,
    },
    /// An external program failed.
    #[error("`{command}` failed: {message}")]
    Tool {
        /// The command line.
        command: String,
        /// Its stderr or exit status.
        message: String,
    },
    /// Tasks failed.
    #[error("{failed} task(s) failed: {details}")]
    TasksFailed {
        /// How many.
        failed: usize,
        /// `step S rank R (log: ...)`, one per failed task.
        details: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
