//! `export.csv` (one row per document: id, text, chosen metadata columns) and `export.text_dir`
//! (one `.txt` file per document, named by its id). Both appear only when the run succeeds:
//! the CSV through a temporary file, the folder through a temporary sibling folder renamed into
//! place.

use std::collections::HashSet;
use std::path::PathBuf;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    AtomicFile, Batch, BuildContext, BuildError, FieldError, PendingOutput, Prepared, Sink, Stage,
    StageConfig, StageError, StageKind,
};
use serde::{Deserialize, Serialize};

/// Configuration of `export.csv`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CsvSinkConfig {
    /// Output file (`.tsv` writes tab-separated values).
    pub path: PathBuf,
    /// Metadata columns after `id` and `text` (values written as JSON unless they are strings).
    #[serde(default)]
    pub fields: Vec<String>,
}

impl StageConfig for CsvSinkConfig {
    const TYPE: &'static str = "export.csv";
    const RENAMED: &'static [(&'static str, &'static str)] = &[("columns", "fields")];
    const KIND: StageKind = StageKind::Sink;
    const SUMMARY: &'static str = "Write CSV/TSV: id, text and chosen metadata columns, atomically";
    const EXAMPLE: &'static str = "type: export.csv\npath: out/docs.csv\nfields: [title, url, lang]\n";

    fn build(&self, cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::Sink(Box::new(CsvSink {
            config: CsvSinkConfig { path: cx.output_path(&self.path), ..self.clone() },
            overwrite: cx.overwrite,
            writer: None,
            docs: 0,
        })))
    }
}

struct CsvSink {
    config: CsvSinkConfig,
    overwrite: bool,
    writer: Option<csv::Writer<AtomicFile>>,
    docs: u64,
}

impl CsvSink {
    fn io(&self, e: impl std::error::Error + Send + Sync + 'static) -> StageError {
        StageError::path(self.config.path.display(), e)
    }
}

impl Sink for CsvSink {
    fn write(&mut self, batch: &Batch) -> Result<(), StageError> {
        if self.writer.is_none() {
            let file = AtomicFile::create(&self.config.path, self.overwrite).map_err(|e| self.io(e))?;
            let tsv = self.config.path.extension().is_some_and(|e| e == "tsv");
            let mut writer =
                csv::WriterBuilder::new().delimiter(if tsv { b'\t' } else { b',' }).from_writer(file);
            let mut header = vec!["id".to_string(), "text".to_string()];
            header.extend(self.config.fields.iter().cloned());
            writer.write_record(&header).map_err(|e| self.io(e))?;
            self.writer = Some(writer);
        }
        let writer = self.writer.as_mut().expect("created above");
        for doc in &batch.docs {
            let mut row = vec![doc.id.to_string(), doc.text.clone()];
            for column in &self.config.fields {
                row.push(match doc.meta.get(column) {
                    None => String::new(),
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                });
            }
            writer.write_record(&row).map_err(|e| StageError::path(self.config.path.display(), e))?;
        }
        self.docs += batch.docs.len() as u64;
        Ok(())
    }

    fn prepare(&mut self) -> Result<Prepared, StageError> {
        if self.writer.is_none() {
            self.write(&Batch::default())?;
        }
        let writer = self.writer.take().expect("created above");
        let file = writer.into_inner().map_err(|e| self.io(e.into_error()))?;
        Ok(Prepared { docs: self.docs, pending: vec![Box::new(file)] })
    }
}

/// Configuration of `export.text_dir`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextDirSinkConfig {
    /// Output folder; each document becomes `<id>.txt` (ids with `/` make sub-folders).
    pub path: PathBuf,
}

impl StageConfig for TextDirSinkConfig {
    const TYPE: &'static str = "export.text_dir";
    const KIND: StageKind = StageKind::Sink;
    const SUMMARY: &'static str = "Write one .txt file per document into a folder, atomically";
    const EXAMPLE: &'static str = "type: export.text_dir\npath: out/texts\n";

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        if self.path.file_name().is_none() {
            return Err(vec![FieldError::new("path", "must name a folder")]);
        }
        Ok(())
    }

    fn build(&self, cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::Sink(Box::new(TextDirSink {
            config: TextDirSinkConfig { path: cx.output_path(&self.path) },
            overwrite: cx.overwrite,
            temp: None,
            names: HashSet::new(),
            docs: 0,
            bytes: 0,
        })))
    }
}

struct TextDirSink {
    config: TextDirSinkConfig,
    overwrite: bool,
    temp: Option<PathBuf>,
    names: HashSet<String>,
    docs: u64,
    bytes: u64,
}

/// Longest file-name component written, in bytes (file systems allow 255).
const MAX_COMPONENT_BYTES: usize = 200;

/// A safe relative file name (without `.txt`) for an id: path separators kept as folders, `.`,
/// `..` and odd characters replaced, long components cut (with a hash of the whole component
/// so distinct ids stay distinct), and folder names never ending in `.txt`, so that no folder
/// can take the place of a document's file (ids `x` and `x.txt/y`).
fn file_name(id: &str) -> String {
    let parts: Vec<&str> =
        id.split(['/', '\\']).filter(|p| !p.is_empty() && *p != "." && *p != "..").collect();
    let last = parts.len().saturating_sub(1);
    let cleaned: Vec<String> = parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let mut name: String = part
                .chars()
                .map(|c| if c.is_alphanumeric() || "-_.".contains(c) { c } else { '_' })
                .collect();
            if name.starts_with('.') {
                name.replace_range(0..1, "_");
            }
            if name.len() > MAX_COMPONENT_BYTES {
                let hash = xxhash_rust::xxh3::xxh3_64(part.as_bytes());
                let cut = millstone_core::text::floor_char_boundary(&name, MAX_COMPONENT_BYTES - 17);
                name = format!("{}-{hash:016x}", &name[..cut]);
            }
            if i < last && name.ends_with(".txt") {
                name.push('_');
            }
            name
        })
        .collect();
    if cleaned.is_empty() {
        "_".into()
    } else {
        cleaned.join("/")
    }
}

impl Sink for TextDirSink {
    fn write(&mut self, batch: &Batch) -> Result<(), StageError> {
        let io = |p: &std::path::Path, e| StageError::io(p.display(), e);
        if self.temp.is_none() {
            if !self.overwrite && self.config.path.exists() {
                return Err(StageError::other(format!(
                    "{} exists; pass --overwrite to replace it",
                    self.config.path.display()
                )));
            }
            let name = self.config.path.file_name().expect("validated").to_string_lossy().into_owned();
            let temp = self.config.path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
            std::fs::create_dir_all(&temp).map_err(|e| io(&temp, e))?;
            self.temp = Some(temp);
        }
        let temp = self.temp.clone().expect("created above");
        for doc in &batch.docs {
            let mut name = file_name(&doc.id);
            let mut n = 1;
            while !self.names.insert(name.clone()) {
                n += 1;
                name = format!("{}~{n}", file_name(&doc.id));
            }
            let path = temp.join(format!("{name}.txt"));
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            }
            std::fs::write(&path, &doc.text).map_err(|e| io(&path, e))?;
            self.bytes += doc.text.len() as u64;
        }
        self.docs += batch.docs.len() as u64;
        Ok(())
    }

    fn prepare(&mut self) -> Result<Prepared, StageError> {
        if self.temp.is_none() {
            self.write(&Batch::default())?;
        }
        let temp = self.temp.take().expect("created above");
        let pending = PendingFolder { temp: Some(temp), target: self.config.path.clone() };
        Ok(Prepared { docs: self.docs, pending: vec![Box::new(pending)] })
    }
}

/// A finished text folder under its temporary name; committed by replacing the target folder.
struct PendingFolder {
    temp: Option<PathBuf>,
    target: PathBuf,
}

impl PendingOutput for PendingFolder {
    fn target(&self) -> &std::path::Path {
        &self.target
    }
    fn ready(&self) -> std::io::Result<()> {
        if self.target.exists() && !self.target.is_dir() {
            return Err(std::io::Error::other(format!("{} is a file, not a folder", self.target.display())));
        }
        Ok(())
    }
    fn commit(mut self: Box<Self>) -> std::io::Result<PathBuf> {
        let temp = self.temp.take().expect("committed once");
        if self.target.exists() {
            std::fs::remove_dir_all(&self.target)?;
        }
        std::fs::rename(&temp, &self.target)?;
        Ok(self.target.clone())
    }
}

impl Drop for PendingFolder {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = std::fs::remove_dir_all(temp);
        }
    }
}

impl Drop for TextDirSink {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = std::fs::remove_dir_all(temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use millstone_core::Document;

    #[test]
    fn csv_round_trips_through_ingest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.csv");
        let mut sink = CsvSink {
            config: CsvSinkConfig { path: path.clone(), fields: vec!["url".into()] },
            overwrite: false,
            writer: None,
            docs: 0,
        };
        sink.write(&Batch::new(
            0,
            vec![Document::new("a", "text, with \"quotes\"\nand a line").with_meta("url", "u")],
        ))
        .unwrap();
        sink.finish().unwrap();
        let source = millstone_ingest::csv::CsvSource::new(
            serde_json::from_value(serde_json::json!({"path": path.display().to_string()})).unwrap(),
        );
        let docs = millstone_testkit::read_docs(&source);
        assert_eq!(docs[0].text, "text, with \"quotes\"\nand a line");
        assert_eq!(docs[0].meta["url"], "u");
    }

    /// Ids that used to kill the sink: a 300-character id (too long for a file name), and `x`
    /// next to `x.txt/y` (a folder where a document's file must go). Every document is written.
    #[test]
    fn text_dir_survives_long_and_clashing_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("texts");
        let config = TextDirSinkConfig { path: path.clone() };
        let Stage::Sink(mut sink) = config.build(&BuildContext::for_tests()).unwrap() else { panic!() };
        let long = "é".repeat(300);
        let ids = [long.as_str(), "x", "x.txt/y", "x.txt", ".hidden", "a/../b"];
        let docs: Vec<Document> =
            ids.iter().enumerate().map(|(i, id)| Document::new(*id, format!("t{i}"))).collect();
        sink.write(&Batch::new(0, docs)).unwrap();
        let summary = sink.finish().unwrap();
        assert_eq!(summary.docs, ids.len() as u64);
        let mut texts = Vec::new();
        let mut stack = vec![path];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(d).unwrap().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    assert!(e.file_name().len() <= 255);
                    texts.push(std::fs::read_to_string(e.path()).unwrap());
                }
            }
        }
        texts.sort();
        assert_eq!(texts, ["t0", "t1", "t2", "t3", "t4", "t5"]);
    }

    #[test]
    fn a_text_dir_that_is_not_committed_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let config = TextDirSinkConfig { path: dir.path().join("texts") };
        let Stage::Sink(mut sink) = config.build(&BuildContext::for_tests()).unwrap() else { panic!() };
        sink.write(&Batch::new(0, vec![Document::new("a", "x")])).unwrap();
        drop(sink);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn text_dir_names_files_safely_and_appears_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("texts");
        let mut sink = TextDirSink {
            config: TextDirSinkConfig { path: out.clone() },
            overwrite: false,
            temp: None,
            names: HashSet::new(),
            docs: 0,
            bytes: 0,
        };
        sink.write(&Batch::new(
            0,
            vec![Document::new("site/a", "A"), Document::new("../evil", "B"), Document::new("site/a", "C")],
        ))
        .unwrap();
        assert!(!out.exists());
        sink.finish().unwrap();
        assert_eq!(std::fs::read_to_string(out.join("site/a.txt")).unwrap(), "A");
        assert_eq!(std::fs::read_to_string(out.join("evil.txt")).unwrap(), "B");
        assert_eq!(std::fs::read_to_string(out.join("site/a~2.txt")).unwrap(), "C");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        #[test]
        fn csv_round_trips_arbitrary_text(texts in proptest::collection::vec(millstone_testkit::text(), 1..8)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("o.csv");
            let mut sink = CsvSink { config: CsvSinkConfig { path: path.clone(), fields: vec!["n".into()] }, overwrite: false, writer: None, docs: 0 };
            let docs: Vec<Document> = texts.iter().enumerate().map(|(i, t)| Document::new(format!("d{i}"), t.clone()).with_meta("n", i.to_string())).collect();
            sink.write(&Batch::new(0, docs.clone())).unwrap();
            sink.finish().unwrap();
            let source = millstone_ingest::csv::CsvSource::new(serde_json::from_value(serde_json::json!({"path": path.display().to_string()})).unwrap());
            let back = millstone_testkit::read_docs(&source);
            proptest::prop_assert_eq!(back.len(), docs.len());
            for (a, b) in docs.iter().zip(&back) {
                proptest::prop_assert_eq!(&a.text, &b.text);
                proptest::prop_assert_eq!(&a.meta, &b.meta);
            }
        }
    }
}
