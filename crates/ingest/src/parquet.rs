//! `ingest.parquet`: Parquet files read with the arrow/parquet crates; every row group is a
//! shard (so one big file uses every core), only the needed columns are read (projection),
//! one column is the text, one the id, the chosen others become metadata.

use std::fs::File;
use std::ops::ControlFlow;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, Document, FieldError, Location, Provenance, RecordError, Shard, Source,
    SourceItem, Stage, StageConfig, StageError, StageKind,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use serde::{Deserialize, Serialize};

use crate::input::Decoded;
use crate::{input, Inputs, InvalidUtf8};

/// Configuration of `ingest.parquet`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ParquetConfig {
    /// Where to read: `path` (one file or folder) or `paths` (files and globs).
    #[serde(flatten)]
    pub inputs: Inputs,
    /// Column holding the text.
    #[serde(default = "default_text")]
    pub text_field: String,
    /// Column holding the id; when absent, `<file name>#<row>`.
    #[serde(default = "default_id")]
    pub id_field: String,
    /// Metadata columns to read (default: all others).
    #[serde(default)]
    pub fields: Option<Vec<String>>,
    /// Rows per record batch.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    /// What to do with a text cell of a `binary` column that is not valid UTF-8.
    #[serde(default)]
    pub invalid_utf8: InvalidUtf8,
}

fn default_text() -> String {
    "text".into()
}
fn default_id() -> String {
    "id".into()
}
fn default_batch_rows() -> usize {
    4096
}

impl StageConfig for ParquetConfig {
    const TYPE: &'static str = "ingest.parquet";
    const RENAMED: &'static [(&'static str, &'static str)] =
        &[("text_column", "text_field"), ("id_column", "id_field"), ("columns", "fields")];
    const KIND: StageKind = StageKind::Source;
    const SUMMARY: &'static str =
        "Read Parquet (row groups as shards, column projection); other columns become metadata";
    const EXAMPLE: &'static str =
        "type: ingest.parquet\npaths: [data/*.parquet]\ntext_field: text\nfields: [url, date]\n";

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        self.inputs.validate(&mut errors);
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::Source(Box::new(ParquetSource { config: self.clone() })))
    }
}

/// The `ingest.parquet` source.
pub struct ParquetSource {
    config: ParquetConfig,
}

impl ParquetSource {
    /// A source from a configuration.
    pub fn new(config: ParquetConfig) -> Self {
        ParquetSource { config }
    }
}

fn parquet_error(path: &std::path::Path, e: impl std::error::Error + Send + Sync + 'static) -> StageError {
    StageError::path(path.display(), e)
}

/// A cell as JSON: strings, numbers, booleans and nulls natively, anything else as its text.
/// The bytes of a `binary`-typed cell.
fn binary(array: &dyn Array, row: usize) -> Option<&[u8]> {
    match array.data_type() {
        DataType::Binary => Some(array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => Some(array.as_binary::<i64>().value(row)),
        DataType::BinaryView => Some(array.as_binary_view().value(row)),
        _ => None,
    }
}

/// The text of a text cell: strings as they are, `binary` cells decoded as UTF-8 under
/// `invalid_utf8`; anything else is an error message.
fn text_cell(array: &dyn Array, row: usize, policy: InvalidUtf8) -> Result<String, String> {
    if !array.is_null(row) {
        if let Some(bytes) = binary(array, row) {
            return match input::decode(bytes.to_vec(), policy) {
                Decoded::Text { text, .. } => Ok(text),
                Decoded::Invalid { offset } => {
                    Err(format!("invalid UTF-8 at byte {offset} of the text cell"))
                }
            };
        }
    }
    match cell(array, row) {
        serde_json::Value::String(text) => Ok(text),
        other => Err(format!("holds {other}, not a string")),
    }
}

fn cell(array: &dyn Array, row: usize) -> serde_json::Value {
    if array.is_null(row) {
        return serde_json::Value::Null;
    }
    if let Some(Ok(text)) = binary(array, row).map(std::str::from_utf8) {
        return text.into();
    }
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(row).into(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(row).into(),
        DataType::Utf8View => array.as_string_view().value(row).into(),
        DataType::Boolean => array.as_boolean().value(row).into(),
        _ => {
            let text = arrow_cast::display::ArrayFormatter::try_new(array, &Default::default())
                .map(|f| f.value(row).to_string())
                .unwrap_or_default();
            match array.data_type() {
                t if t.is_integer() || t.is_floating() => serde_json::from_str(&text).unwrap_or(text.into()),
                _ => text.into(),
            }
        }
    }
}

/// A Parquet file on disk or in an object store; from a store, the footer and each row group's
/// column chunks are fetched with ranged GETs, never the whole object.
enum ParquetInput {
    Local(File),
    Remote { url: String, size: u64 },
}

impl ParquetInput {
    fn open(path: &std::path::Path) -> Result<Self, StageError> {
        let url = path.to_string_lossy();
        if millstone_storage::is_remote(&url) {
            let size = millstone_storage::size(&url).map_err(|e| StageError::Crate(Box::new(e)))?;
            return Ok(ParquetInput::Remote { url: url.into_owned(), size });
        }
        Ok(ParquetInput::Local(File::open(path).map_err(|e| StageError::io(path.display(), e))?))
    }
}

impl parquet::file::reader::Length for ParquetInput {
    fn len(&self) -> u64 {
        match self {
            ParquetInput::Local(file) => file.len(),
            ParquetInput::Remote { size, .. } => *size,
        }
    }
}

impl parquet::file::reader::ChunkReader for ParquetInput {
    type T = Box<dyn std::io::Read + Send>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(match self {
            ParquetInput::Local(file) => Box::new(file.get_read(start)?),
            ParquetInput::Remote { url, size } => Box::new(
                millstone_storage::ObjectReader::open_range(url, start..*size)
                    .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))?,
            ),
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        match self {
            ParquetInput::Local(file) => file.get_bytes(start, length),
            ParquetInput::Remote { url, .. } => {
                millstone_storage::read_range(url, start..start + length as u64)
                    .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))
            }
        }
    }
}

impl Source for ParquetSource {
    fn shards(&self) -> Result<Vec<Shard>, StageError> {
        let mut shards = Vec::new();
        for path in input::expand(&self.config.inputs.patterns())? {
            let file = ParquetInput::open(&path)?;
            let builder =
                ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| parquet_error(&path, e))?;
            let mut first_row = 0u64;
            for (i, group) in builder.metadata().row_groups().iter().enumerate() {
                shards.push(Shard {
                    path: path.clone(),
                    range: Some(i as u64..i as u64 + 1),
                    first_line: first_row,
                });
                first_row += group.num_rows() as u64;
            }
        }
        Ok(shards)
    }

    fn read(
        &self,
        shard: &Shard,
        emit: &mut dyn FnMut(SourceItem) -> ControlFlow<()>,
    ) -> Result<(), StageError> {
        let path = &shard.path;
        let label: Arc<str> = path.display().to_string().into();
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let file = ParquetInput::open(path)?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| parquet_error(path, e))?;
        let schema = builder.schema().clone();
        let Ok(text_at) = schema.index_of(&self.config.text_field) else {
            let _ = emit(SourceItem::Bad(RecordError {
                provenance: Provenance::file(label.clone()),
                message: format!("no column `{}`", self.config.text_field),
            }));
            return Ok(());
        };
        let wanted: Vec<usize> = (0..schema.fields().len())
            .filter(|&i| {
                let name = schema.field(i).name();
                i == text_at
                    || *name == self.config.id_field
                    || self.config.fields.as_ref().is_none_or(|c| c.contains(name))
            })
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), wanted.iter().copied());
        let group = shard.range.as_ref().map_or(0, |r| r.start as usize);
        let reader = builder
            .with_projection(mask)
            .with_row_groups(vec![group])
            .with_batch_size(self.config.batch_rows.max(1))
            .build()
            .map_err(|e| parquet_error(path, e))?;
        let mut row_number = shard.first_line;
        for batch in reader {
            let batch: RecordBatch = batch.map_err(|e| StageError::Record {
                provenance: Provenance { source: label.clone(), location: Location::Record(row_number) },
                message: format!("cannot decode row group {group}: {e}"),
            })?;
            let text_col = batch.column(batch.schema().index_of(&self.config.text_field).expect("projected"));
            let id_col = batch.schema().index_of(&self.config.id_field).ok().map(|i| batch.column(i).clone());
            let names: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
            for row in 0..batch.num_rows() {
                let provenance = Provenance { source: label.clone(), location: Location::Record(row_number) };
                row_number += 1;
                let item = match text_cell(text_col.as_ref(), row, self.config.invalid_utf8) {
                    Ok(text) => {
                        let id = match id_col.as_ref().map(|c| cell(c.as_ref(), row)) {
                            Some(serde_json::Value::String(s)) => s,
                            Some(v) if !v.is_null() => v.to_string(),
                            _ => format!("{file_name}#{}", row_number - 1),
                        };
                        let mut doc = Document::new(id, text).with_provenance(provenance);
                        for (i, name) in names.iter().enumerate() {
                            if *name != self.config.text_field && *name != self.config.id_field {
                                doc.meta.insert(name.clone(), cell(batch.column(i).as_ref(), row));
                            }
                        }
                        SourceItem::Doc(doc)
                    }
                    Err(problem) => SourceItem::Bad(RecordError {
                        provenance,
                        message: format!("text column `{}` {problem}", self.config.text_field),
                    }),
                };
                if emit(item).is_break() {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{BinaryArray, StringArray};

    /// `binary` text columns used to come out hex-encoded; they are decoded as UTF-8 now, and a
    /// cell that is not UTF-8 is a bad record that names its row.
    #[test]
    fn binary_text_columns_are_decoded_as_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.parquet");
        let schema = Arc::new(arrow_schema::Schema::new(vec![
            arrow_schema::Field::new("id", DataType::Utf8, false),
            arrow_schema::Field::new("text", DataType::Binary, true),
            arrow_schema::Field::new("raw", DataType::Binary, true),
        ]));
        let texts: Vec<&[u8]> = vec!["Café au lait".as_bytes(), b"bad \xff byte"];
        let raw: Vec<&[u8]> = vec![b"plain", b"\x00\xfe"];
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["a", "b"])),
                Arc::new(BinaryArray::from(texts)),
                Arc::new(BinaryArray::from(raw)),
            ],
        )
        .unwrap();
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(File::create(&path).unwrap(), schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let config = ParquetConfig {
            inputs: Inputs::path(&path),
            text_field: default_text(),
            id_field: default_id(),
            fields: None,
            batch_rows: default_batch_rows(),
            invalid_utf8: InvalidUtf8::Skip,
        };
        let items = millstone_testkit::read_all(&ParquetSource { config });
        match &items[0] {
            SourceItem::Doc(d) => {
                assert_eq!(d.text, "Café au lait");
                assert_eq!(d.meta["raw"], "plain");
            }
            other => panic!("{other:?}"),
        }
        match &items[1] {
            SourceItem::Bad(b) => {
                assert!(b.message.contains("invalid UTF-8"), "{}", b.message);
                assert_eq!(b.provenance.location, Location::Record(1));
            }
            other => panic!("{other:?}"),
        }
    }
}
