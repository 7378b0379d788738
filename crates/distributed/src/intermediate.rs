//! How documents travel between steps: chunk files of length-prefixed spill records, zstd
//! compressed, written by [`ChunkSink`] as the last stage of a task and read back by
//! [`ChunkSource`] as the first stage of the next step's tasks. And [`AssignedSource`], which
//! gives a task of the first step exactly the input shards the plan assigned to it.

use std::io::{BufReader, BufWriter};
use std::ops::ControlFlow;
use std::path::PathBuf;

use millstone_core::{
    AtomicFile, Batch, PendingOutput, Prepared, Shard, Sink, Source, SourceItem, SpillFile, StageError,
};

/// Stage id of the chunk reader (not a valid user id, so it never collides with one).
pub(crate) const INPUT_ID: &str = ":step-input";
/// Stage id of the chunk writer.
pub(crate) const OUTPUT_ID: &str = ":step-output";
/// Type name shown for both in task reports.
pub(crate) const TYPE_NAME: &str = "millstone.chunks";

const ZSTD_LEVEL: i32 = 1;

type ChunkWriter = zstd::Encoder<'static, BufWriter<AtomicFile>>;

/// Writes the documents that reach it into chunk files `<dir>/<rank>-<n>.chunk.zst`.
pub(crate) struct ChunkSink {
    dir: PathBuf,
    rank: usize,
    chunk_bytes: u64,
    current: Option<(ChunkWriter, u64)>,
    sealed: Vec<Box<dyn PendingOutput>>,
    docs: u64,
    buffer: Vec<u8>,
}

impl ChunkSink {
    pub(crate) fn new(dir: PathBuf, rank: usize, chunk_bytes: u64) -> Self {
        ChunkSink { dir, rank, chunk_bytes, current: None, sealed: Vec::new(), docs: 0, buffer: Vec::new() }
    }

    fn seal(&mut self) -> Result<(), StageError> {
        if let Some((writer, _)) = self.current.take() {
            let path = self.dir.join(self.name(self.sealed.len()));
            let buffered = writer.finish().map_err(|e| StageError::io(path.display(), e))?;
            let file = buffered.into_inner().map_err(|e| StageError::io(path.display(), e.into_error()))?;
            self.sealed.push(Box::new(file));
        }
        Ok(())
    }

    fn name(&self, chunk: usize) -> String {
        format!("{:05}-{chunk:05}.chunk.zst", self.rank)
    }
}

impl Sink for ChunkSink {
    fn write(&mut self, batch: &Batch) -> Result<(), StageError> {
        for doc in &batch.docs {
            if self.current.is_none() {
                let path = self.dir.join(self.name(self.sealed.len()));
                let file = AtomicFile::create(&path, true).map_err(|e| StageError::io(path.display(), e))?;
                let writer = zstd::Encoder::new(BufWriter::with_capacity(1 << 20, file), ZSTD_LEVEL)
                    .map_err(|e| StageError::io(path.display(), e))?;
                self.current = Some((writer, 0));
            }
            let (writer, bytes) = self.current.as_mut().expect("opened above");
            *bytes += SpillFile::write_record(writer, doc, &mut self.buffer, &"chunk file")?;
            self.docs += 1;
            if *bytes >= self.chunk_bytes {
                self.seal()?;
            }
        }
        Ok(())
    }

    fn prepare(&mut self) -> Result<Prepared, StageError> {
        self.seal()?;
        Ok(Prepared { docs: self.docs, pending: std::mem::take(&mut self.sealed) })
    }
}

/// Reads chunk files, each one a shard, in the order given.
pub(crate) struct ChunkSource {
    pub(crate) chunks: Vec<PathBuf>,
}

impl Source for ChunkSource {
    fn shards(&self) -> Result<Vec<Shard>, StageError> {
        Ok(self.chunks.iter().map(Shard::file).collect())
    }

    fn read(
        &self,
        shard: &Shard,
        emit: &mut dyn FnMut(SourceItem) -> ControlFlow<()>,
    ) -> Result<(), StageError> {
        let path = &shard.path;
        let file = std::fs::File::open(path).map_err(|e| StageError::io(path.display(), e))?;
        let mut reader = BufReader::with_capacity(
            1 << 20,
            zstd::Decoder::new(file).map_err(|e| StageError::io(path.display(), e))?,
        );
        let mut record = Vec::new();
        let source = path.display();
        while let Some(doc) = SpillFile::read_record(&mut reader, &mut record, &source)? {
            if emit(SourceItem::Doc(doc)).is_break() {
                break;
            }
        }
        Ok(())
    }
}

/// A source restricted to the shards the plan gave one task (its lines, if it has a line
/// parser, are parsed on the task's pool as in a single process).
pub(crate) struct AssignedSource {
    pub(crate) inner: Box<dyn Source>,
    pub(crate) shards: Vec<Shard>,
}

impl Source for AssignedSource {
    fn shards(&self) -> Result<Vec<Shard>, StageError> {
        Ok(self.shards.clone())
    }

    fn read(
        &self,
        shard: &Shard,
        emit: &mut dyn FnMut(SourceItem) -> ControlFlow<()>,
    ) -> Result<(), StageError> {
        self.inner.read(shard, emit)
    }

    fn line_parser(&self) -> Option<std::sync::Arc<dyn millstone_core::LineParser>> {
        self.inner.line_parser()
    }

    fn read_lines(
        &self,
        shard: &Shard,
        emit: &mut dyn FnMut(millstone_core::RawLine<'_>) -> ControlFlow<()>,
    ) -> Result<(), StageError> {
        self.inner.read_lines(shard, emit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use millstone_core::{Document, Provenance};

    #[test]
    fn chunks_round_trip_in_order_and_split_by_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = ChunkSink::new(dir.path().to_path_buf(), 3, 200);
        let docs: Vec<Document> = (0..20)
            .map(|i| {
                Document::new(format!("d{i}"), "x".repeat(50 + i))
                    .with_meta("n", i)
                    .with_provenance(Provenance::line("in.jsonl", i as u64 + 1))
            })
            .collect();
        sink.write(&Batch::new(0, docs[..7].to_vec())).unwrap();
        sink.write(&Batch::new(1, docs[7..].to_vec())).unwrap();
        let prepared = sink.prepare().unwrap();
        assert_eq!(prepared.docs, 20);
        let (files, _) = millstone_core::commit_all(prepared.pending).unwrap();
        assert!(files.len() > 3, "{files:?}");
        assert!(files[0].ends_with("00003-00000.chunk.zst"));
        let source = ChunkSource { chunks: files };
        let mut back = Vec::new();
        for shard in source.shards().unwrap() {
            source
                .read(&shard, &mut |item| {
                    if let SourceItem::Doc(d) = item {
                        back.push(d);
                    }
                    ControlFlow::Continue(())
                })
                .unwrap();
        }
        assert_eq!(back, docs);
    }

    #[test]
    fn a_truncated_chunk_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = ChunkSink::new(dir.path().to_path_buf(), 0, 1 << 20);
        sink.write(&Batch::new(0, vec![Document::new("a", "y".repeat(5000))])).unwrap();
        let (files, _) = millstone_core::commit_all(sink.prepare().unwrap().pending).unwrap();
        let bytes = std::fs::read(&files[0]).unwrap();
        let raw = zstd::decode_all(&bytes[..]).unwrap();
        std::fs::write(&files[0], zstd::encode_all(&raw[..raw.len() - 10], 1).unwrap()).unwrap();
        let source = ChunkSource { chunks: files.clone() };
        let error = source.read(&Shard::file(&files[0]), &mut |_| ControlFlow::Continue(())).unwrap_err();
        assert!(error.to_string().contains("00000-00000.chunk.zst"), "{error}");
    }
}
