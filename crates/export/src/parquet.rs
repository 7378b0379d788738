//! `export.parquet`: Parquet with zstd compression and a chosen row-group size; columns `id`,
//! `text` and the listed metadata fields, each typed from its first non-null value (string,
//! 64-bit integer, float, boolean; anything else is stored as JSON text). Written atomically.

use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    AtomicFile, Batch, BuildContext, BuildError, FieldError, Prepared, Sink, Stage, StageConfig, StageError,
    StageKind,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};

/// Configuration of `export.parquet`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParquetSinkConfig {
    /// Output file.
    pub path: std::path::PathBuf,
    /// Metadata fields to store as columns after `id` and `text`.
    #[serde(default)]
    pub fields: Vec<String>,
    /// Rows per row group.
    #[serde(default = "default_rows")]
    pub row_group_rows: usize,
    /// zstd level (1-22).
    #[serde(default = "default_level")]
    pub compression_level: i32,
}

fn default_rows() -> usize {
    65_536
}
fn default_level() -> i32 {
    3
}

impl StageConfig for ParquetSinkConfig {
    const TYPE: &'static str = "export.parquet";
    const RENAMED: &'static [(&'static str, &'static str)] =
        &[("columns", "fields"), ("zstd_level", "compression_level")];
    const KIND: StageKind = StageKind::Sink;
    const SUMMARY: &'static str = "Write Parquet (zstd, row groups, typed metadata columns), atomically";
    const EXAMPLE: &'static str =
        "type: export.parquet\npath: out/corpus.parquet\nfields: [url, lang, lang_score]\n";

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if !(1..=22).contains(&self.compression_level) {
            errors.push(FieldError::new("compression_level", "must be between 1 and 22"));
        }
        if self.row_group_rows == 0 {
            errors.push(FieldError::new("row_group_rows", "must be at least 1"));
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, cx: &BuildContext) -> Result<Stage, BuildError> {
        let config = ParquetSinkConfig { path: cx.output_path(&self.path), ..self.clone() };
        Ok(Stage::Sink(Box::new(ParquetSink {
            config,
            overwrite: cx.overwrite,
            schema: None,
            writer: None,
            docs: 0,
        })))
    }
}

struct ParquetSink {
    config: ParquetSinkConfig,
    overwrite: bool,
    schema: Option<SchemaRef>,
    writer: Option<ArrowWriter<AtomicFile>>,
    docs: u64,
}

fn column_type(batch: &Batch, name: &str) -> DataType {
    let first = batch.docs.iter().filter_map(|d| d.meta.get(name)).find(|v| !v.is_null());
    match first {
        Some(serde_json::Value::Bool(_)) => DataType::Boolean,
        Some(serde_json::Value::Number(n)) if n.is_i64() => DataType::Int64,
        Some(serde_json::Value::Number(_)) => DataType::Float64,
        _ => DataType::Utf8,
    }
}

impl ParquetSink {
    fn error(&self, e: impl std::error::Error + Send + Sync + 'static) -> StageError {
        StageError::path(self.config.path.display(), e)
    }

    fn open(&mut self, batch: &Batch) -> Result<(), StageError> {
        if self.writer.is_some() {
            return Ok(());
        }
        let mut fields =
            vec![Field::new("id", DataType::Utf8, false), Field::new("text", DataType::Utf8, false)];
        fields.extend(self.config.fields.iter().map(|c| Field::new(c, column_type(batch, c), true)));
        let schema: SchemaRef = Arc::new(Schema::new(fields));
        let level = ZstdLevel::try_new(self.config.compression_level).map_err(|e| self.error(e))?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_max_row_group_row_count(Some(self.config.row_group_rows))
            .build();
        let file = AtomicFile::create(&self.config.path, self.overwrite).map_err(|e| self.error(e))?;
        self.writer =
            Some(ArrowWriter::try_new(file, schema.clone(), Some(properties)).map_err(|e| self.error(e))?);
        self.schema = Some(schema);
        Ok(())
    }

    fn record_batch(&self, batch: &Batch) -> Result<RecordBatch, StageError> {
        let schema = self.schema.clone().expect("opened");
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        let mut ids = StringBuilder::new();
        let mut texts = StringBuilder::new();
        for doc in &batch.docs {
            ids.append_value(&*doc.id);
            texts.append_value(&doc.text);
        }
        columns.push(Arc::new(ids.finish()));
        columns.push(Arc::new(texts.finish()));
        for field in schema.fields().iter().skip(2) {
            let values = batch.docs.iter().map(|d| d.meta.get(field.name()).filter(|v| !v.is_null()));
            let array: ArrayRef = match field.data_type() {
                DataType::Boolean => {
                    let mut b = BooleanBuilder::new();
                    values.for_each(|v| b.append_option(v.and_then(|v| v.as_bool())));
                    Arc::new(b.finish())
                }
                DataType::Int64 => {
                    let mut b = Int64Builder::new();
                    values.for_each(|v| b.append_option(v.and_then(|v| v.as_i64())));
                    Arc::new(b.finish())
                }
                DataType::Float64 => {
                    let mut b = Float64Builder::new();
                    values.for_each(|v| b.append_option(v.and_then(|v| v.as_f64())));
                    Arc::new(b.finish())
                }
                _ => {
                    let mut b = StringBuilder::new();
                    values.for_each(|v| match v {
                        None => b.append_null(),
                        Some(serde_json::Value::String(s)) => b.append_value(s),
                        Some(other) => b.append_value(other.to_string()),
                    });
                    Arc::new(b.finish())
                }
            };
            columns.push(array);
        }
        RecordBatch::try_new(schema, columns).map_err(|e| self.error(e))
    }
}

impl Sink for ParquetSink {
    fn write(&mut self, batch: &Batch) -> Result<(), StageError> {
        self.open(batch)?;
        let record = self.record_batch(batch)?;
        let writer = self.writer.as_mut().expect("opened above");
        writer.write(&record).map_err(|e| StageError::path(self.config.path.display(), e))?;
        self.docs += batch.docs.len() as u64;
        Ok(())
    }

    fn prepare(&mut self) -> Result<Prepared, StageError> {
        self.open(&Batch::default())?;
        let writer = self.writer.take().expect("opened above");
        let file = writer.into_inner().map_err(|e| self.error(e))?;
        Ok(Prepared { docs: self.docs, pending: vec![Box::new(file)] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use millstone_core::{Document, Source};

    #[test]
    fn round_trips_through_ingest_parquet_with_row_group_shards() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.parquet");
        let config: ParquetSinkConfig = serde_json::from_value(serde_json::json!({
            "path": path.display().to_string(), "fields": ["url", "n", "score", "ok"], "row_group_rows": 3
        }))
        .unwrap();
        let Stage::Sink(mut sink) = config.build(&BuildContext::for_tests()).unwrap() else { panic!() };
        let docs: Vec<Document> = (0..7)
            .map(|i| {
                Document::new(format!("d{i}"), format!("text {i} é🧑‍🚀"))
                    .with_meta("url", format!("u{i}"))
                    .with_meta("n", i)
                    .with_meta("score", 0.5 + i as f64)
                    .with_meta("ok", i % 2 == 0)
            })
            .collect();
        sink.write(&Batch::new(0, docs[..4].to_vec())).unwrap();
        sink.write(&Batch::new(1, docs[4..].to_vec())).unwrap();
        sink.finish().unwrap();
        let source = millstone_ingest::parquet::ParquetSource::new(
            serde_json::from_value(serde_json::json!({"path": path.display().to_string()})).unwrap(),
        );
        let shards = source.shards().unwrap();
        assert!(shards.len() >= 3, "row groups become shards: {}", shards.len());
        let back = millstone_testkit::read_docs(&source);
        assert_eq!(back.len(), 7);
        for (a, b) in docs.iter().zip(&back) {
            assert_eq!((&a.id, &a.text, &a.meta), (&b.id, &b.text, &b.meta));
        }
        assert_eq!(back[6].provenance.to_string(), format!("{} (record 6)", path.display()));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        #[test]
        fn parquet_round_trips_arbitrary_text(texts in proptest::collection::vec(millstone_testkit::text(), 1..12), rows in 1usize..5) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("o.parquet");
            let config: ParquetSinkConfig = serde_json::from_value(serde_json::json!({"path": path.display().to_string(), "row_group_rows": rows})).unwrap();
            let Stage::Sink(mut sink) = config.build(&BuildContext::for_tests()).unwrap() else { panic!() };
            let docs: Vec<Document> = texts.iter().enumerate().map(|(i, t)| Document::new(format!("d{i}"), t.clone())).collect();
            sink.write(&Batch::new(0, docs.clone())).unwrap();
            sink.finish().unwrap();
            let source = millstone_ingest::parquet::ParquetSource::new(serde_json::from_value(serde_json::json!({"path": path.display().to_string()})).unwrap());
            let back = millstone_testkit::read_docs(&source);
            proptest::prop_assert_eq!(back.iter().map(|d| (&d.id, &d.text)).collect::<Vec<_>>(), docs.iter().map(|d| (&d.id, &d.text)).collect::<Vec<_>>());
        }
    }
}
