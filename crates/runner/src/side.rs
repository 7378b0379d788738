//! Side outputs: dropped documents (`<out>/rejects/<stage>.jsonl`) and failed ones
//! (`<out>/quarantine/<stage>.jsonl`; `<stage>.<i>-of-<n>.jsonl` in a sharded run). Each stage's
//! file is written by the one thread that owns the stage's ordered output, so its content is
//! deterministic. Like every output, a side file is written under a temporary name and renamed
//! when the run succeeds; it never replaces an existing file without `overwrite`.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use millstone_core::{AtomicFile, Document, Provenance};
use serde_json::json;

/// A record for a side file.
pub(crate) enum SideRecord {
    /// A dropped document.
    Rejected { stage: usize, reason: &'static str, doc: Document },
    /// A document or record that failed.
    Quarantined {
        stage: usize,
        id: Option<String>,
        provenance: Provenance,
        error: String,
        doc: Option<Document>,
    },
}

pub(crate) struct SideWriter {
    out_dir: PathBuf,
    stage_ids: Vec<String>,
    /// `.<i>-of-<n>` in file names of a sharded run.
    shard_suffix: String,
    overwrite: bool,
    files: Mutex<HashMap<PathBuf, BufWriter<AtomicFile>>>,
}

impl SideWriter {
    pub(crate) fn new(
        out_dir: &Path,
        stage_ids: Vec<String>,
        shard: Option<(usize, usize)>,
        overwrite: bool,
    ) -> Self {
        SideWriter {
            out_dir: out_dir.to_path_buf(),
            stage_ids,
            shard_suffix: shard.map(|(i, n)| format!(".{i:05}-of-{n:05}")).unwrap_or_default(),
            overwrite,
            files: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn write(&self, records: Vec<SideRecord>) -> std::io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        for record in records {
            let (dir, stage, line) = match record {
                SideRecord::Rejected { stage, reason, doc } => (
                    "rejects",
                    stage,
                    json!({"id": &*doc.id, "stage": self.stage_ids[stage], "reason": reason,
                           "source": doc.provenance.to_string(), "text": doc.text, "meta": doc.meta}),
                ),
                SideRecord::Quarantined { stage, id, provenance, error, doc } => (
                    "quarantine",
                    stage,
                    json!({"id": id, "stage": self.stage_ids[stage], "error": error,
                           "source": provenance.to_string(),
                           "text": doc.as_ref().map(|d| d.text.as_str()),
                           "meta": doc.as_ref().map(|d| &d.meta)}),
                ),
            };
            let name = format!("{}{}.jsonl", self.stage_ids[stage], self.shard_suffix);
            let path = self.out_dir.join(dir).join(name);
            if !files.contains_key(&path) {
                files.insert(path.clone(), BufWriter::new(AtomicFile::create(&path, self.overwrite)?));
            }
            let file = files.get_mut(&path).expect("opened above");
            serde_json::to_writer(&mut *file, &line)?;
            file.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Commits every file (the run succeeded); returns the paths written. Files not committed
    /// (the run failed) are removed when the writer is dropped.
    pub(crate) fn finish(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let mut paths = Vec::new();
        for (_, file) in files.drain() {
            let file = file.into_inner().map_err(|e| e.into_error())?;
            paths.push(file.commit()?);
        }
        paths.sort();
        Ok(paths)
    }
}
