//! Cluster reports: one JSONL row per document that entered a dedup stage.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use millstone_core::{AtomicFile, StageError};
use serde::Serialize;

/// One row of a cluster report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRow<'a> {
    /// The document.
    pub id: &'a str,
    /// The cluster it belongs to (the keeper's id; its own id when unique).
    pub cluster: &'a str,
    /// The document kept for the cluster.
    pub keeper: &'a str,
    /// Similarity to the document it was matched with (1.0 for exact copies and keepers).
    pub similarity: f64,
    /// `keeper` (the document kept for its cluster, also when it is alone), or the drop reason
    /// (`exact_duplicate`, `near_duplicate`), the same in every dedup stage.
    pub reason: &'a str,
}

/// A cluster report being written atomically.
pub struct ClusterReport {
    file: BufWriter<AtomicFile>,
    path: PathBuf,
}

impl ClusterReport {
    /// Starts a report at `path`.
    pub fn create(path: &Path, overwrite: bool) -> Result<Self, StageError> {
        let file = AtomicFile::create(path, overwrite).map_err(|e| StageError::io(path.display(), e))?;
        Ok(ClusterReport { file: BufWriter::with_capacity(1 << 16, file), path: path.to_path_buf() })
    }

    /// Writes one row.
    pub fn row(&mut self, row: &ReportRow<'_>) -> Result<(), StageError> {
        let io = |e: std::io::Error| StageError::io(self.path.display(), e);
        serde_json::to_writer(&mut self.file, row).map_err(|e| io(e.into()))?;
        self.file.write_all(b"\n").map_err(io)
    }

    /// Flushes the report and hands it over for committing with the run's other outputs.
    pub fn seal(self) -> Result<Box<dyn millstone_core::PendingOutput>, StageError> {
        let path = self.path.clone();
        let file = self.file.into_inner().map_err(|e| StageError::io(path.display(), e.into_error()))?;
        Ok(Box::new(file))
    }
}

/// A stage's cluster report: opened on first use (so a run with no documents still writes an
/// empty one), sealed once at the end, then handed over for committing.
pub(crate) struct ReportSlot {
    path: Option<PathBuf>,
    overwrite: bool,
    open: Option<ClusterReport>,
    sealed: Vec<Box<dyn millstone_core::PendingOutput>>,
}

impl ReportSlot {
    /// A slot for a report at `path` (none when `None`).
    pub(crate) fn new(path: Option<PathBuf>, overwrite: bool) -> Self {
        ReportSlot { path, overwrite, open: None, sealed: Vec::new() }
    }

    /// The configured path and overwrite flag.
    pub(crate) fn settings(&self) -> (Option<PathBuf>, bool) {
        (self.path.clone(), self.overwrite)
    }

    /// The report, opened if needed; `None` when none is configured.
    pub(crate) fn get(&mut self) -> Result<Option<&mut ClusterReport>, StageError> {
        if self.open.is_none() && self.sealed.is_empty() {
            if let Some(path) = &self.path {
                self.open = Some(ClusterReport::create(path, self.overwrite)?);
            }
        }
        Ok(self.open.as_mut())
    }

    /// Flushes the report for committing.
    pub(crate) fn seal(&mut self) -> Result<(), StageError> {
        self.get()?;
        if let Some(report) = self.open.take() {
            self.sealed.push(report.seal()?);
        }
        Ok(())
    }

    /// The sealed report, for the runner to commit.
    pub(crate) fn take_pending(&mut self) -> Vec<Box<dyn millstone_core::PendingOutput>> {
        std::mem::take(&mut self.sealed)
    }
}
