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
