//! `ingest.csv`: CSV or TSV files with a header row; one column is the text, one the id, the
//! others become metadata (strings). Plain, `.gz` or `.zst`.

use std::ops::ControlFlow;
use std::sync::Arc;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, Document, FieldError, Provenance, RecordError, Shard, Source, SourceItem,
    Stage, StageConfig, StageError, StageKind,
};
use serde::{Deserialize, Serialize};

use crate::{input, Inputs};

/// Configuration of `ingest.csv`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CsvConfig {
    /// Where to read: `path` (one file or folder) or `paths` (files and globs).
    #[serde(flatten)]
    pub inputs: Inputs,
    /// Column holding the text.
    #[serde(default = "default_text")]
    pub text_field: String,
    /// Column holding the id; when absent, `<file name>:<line>`.
    #[serde(default = "default_id")]
    pub id_field: String,
    /// Field delimiter (default `,`, or tab for `.tsv` files).
    #[serde(default)]
    pub delimiter: Option<char>,
}

fn default_text() -> String {
    "text".into()
}
fn default_id() -> String {
    "id".into()
}

impl StageConfig for CsvConfig {
    const TYPE: &'static str = "ingest.csv";
    const RENAMED: &'static [(&'static str, &'static str)] =
        &[("text_column", "text_field"), ("id_column", "id_field")];
    const KIND: StageKind = StageKind::Source;
    const SUMMARY: &'static str =
        "Read CSV/TSV with a header row (plain, .gz, .zst); other columns become metadata";
    const EXAMPLE: &'static str =
        "type: ingest.csv\npath: data/articles.tsv\ntext_field: body\nid_field: article_id\n";

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        self.inputs.validate(&mut errors);
        if self.delimiter.is_some_and(|d| !d.is_ascii()) {
            errors.push(FieldError::new("delimiter", "must be a single ASCII character"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(())
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::Source(Box::new(CsvSource { config: self.clone() })))
    }
}

/// The `ingest.csv` source.
pub struct CsvSource {
    config: CsvConfig,
}

impl CsvSource {
    /// A source from a configuration.
    pub fn new(config: CsvConfig) -> Self {
        CsvSource { config }
    }
}

impl Source for CsvSource {
    fn shards(&self) -> Result<Vec<Shard>, StageError> {
        Ok(input::file_shards(&self.config.inputs.patterns())?)
    }

    fn read(
        &self,
        shard: &Shard,
        emit: &mut dyn FnMut(SourceItem) -> ControlFlow<()>,
    ) -> Result<(), StageError> {
        let label: Arc<str> = shard.path.display().to_string().into();
        let file_name = shard.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tsv = file_name.trim_end_matches(".gz").trim_end_matches(".zst").ends_with(".tsv");
        let delimiter = self.config.delimiter.map(|d| d as u8).unwrap_or(if tsv { b'\t' } else { b',' });
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(false)
            .from_reader(input::open(&shard.path)?);
        let headers = match reader.headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                let _ = emit(SourceItem::Bad(RecordError {
                    provenance: Provenance::line(label.clone(), 1),
                    message: format!("no header row: {e}"),
                }));
                return Ok(());
            }
        };
        let column = |name: &str| headers.iter().position(|h| h == name);
        let Some(text_at) = column(&self.config.text_field) else {
            let _ = emit(SourceItem::Bad(RecordError {
                provenance: Provenance::line(label.clone(), 1),
                message: format!(
                    "no column `{}` (columns: {})",
                    self.config.text_field,
                    headers.iter().collect::<Vec<_>>().join(", ")
                ),
            }));
            return Ok(());
        };
        let id_at = column(&self.config.id_field);
        let mut seen = false;
        for record in reader.records() {
            seen = true;
            let item = match record {
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    SourceItem::Bad(RecordError {
                        provenance: Provenance::line(label.clone(), line),
                        message: e.to_string(),
                    })
                }
                Ok(row) => {
                    let line = row.position().map_or(0, |p| p.line());
                    let text = row.get(text_at).unwrap_or_default().to_string();
                    let id = id_at
                        .and_then(|i| row.get(i))
                        .filter(|s| !s.is_empty())
                        .map_or_else(|| format!("{file_name}:{line}"), str::to_string);
                    let mut doc =
                        Document::new(id, text).with_provenance(Provenance::line(label.clone(), line));
                    for (i, (name, value)) in headers.iter().zip(row.iter()).enumerate() {
                        if i != text_at && Some(i) != id_at {
                            doc.meta.insert(name.to_string(), value.into());
                        }
                    }
                    SourceItem::Doc(doc)
                }
            };
            if emit(item).is_break() {
                return Ok(());
            }
        }
        if !seen {
            let _ = emit(SourceItem::Bad(RecordError {
                provenance: Provenance::file(label),
                message: "no rows below the header".into(),
            }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_and_reports_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(
            &path,
            "id,text,site\n1,\"Hello, world\",x\n2,\"multi\nline\",y\n3,too,many,fields\n,no id,z\n",
        )
        .unwrap();
        let source = CsvSource::new(CsvConfig {
            inputs: Inputs::path(path.clone()),
            text_field: "text".into(),
            id_field: "id".into(),
            delimiter: None,
        });
        let items = millstone_testkit::read_all(&source);
        assert!(matches!(&items[0], SourceItem::Doc(d) if d.text == "Hello, world" && d.meta["site"] == "x"));
        assert!(matches!(&items[1], SourceItem::Doc(d) if d.text == "multi\nline"));
        assert!(
            matches!(&items[2], SourceItem::Bad(b) if b.provenance.to_string().ends_with("a.csv:5")),
            "{:?}",
            items[2]
        );
        assert!(matches!(&items[3], SourceItem::Doc(d) if &*d.id == "a.csv:6"));
    }
}
