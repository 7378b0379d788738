//! Side outputs: dropped documents (`<out>/rejects/<stage>.jsonl`) and failed ones
//! (`<out>/quarantine/<stage>.jsonl`). Each stage's file is written by the one thread that owns
//! the stage's ordered output, so its content is deterministic.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use millstone_core::{Document, Provenance};
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
    files: Mutex<HashMap<PathBuf, BufWriter<File>>>,
}

impl SideWriter {
    pub(crate) fn new(out_dir: &Path, stage_ids: Vec<String>) -> Self {
        SideWriter { out_dir: out_dir.to_path_buf(), stage_ids, files: Mutex::new(HashMap::new()) }
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
            let path = self.out_dir.join(dir).join(format!("{}.jsonl", self.stage_ids[stage]));
            if !files.contains_key(&path) {
                std::fs::create_dir_all(path.parent().expect("has a parent"))?;
                files.insert(path.clone(), BufWriter::new(File::create(&path)?));
            }
            let file = files.get_mut(&path).expect("opened above");
            serde_json::to_writer(&mut *file, &line)?;
            file.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Flushes every file; returns the paths written.
    pub(crate) fn finish(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let mut paths = Vec::new();
        for (path, file) in files.iter_mut() {
            file.flush()?;
            paths.push(path.clone());
        }
        paths.sort();
        Ok(paths)
    }
}
