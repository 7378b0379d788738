//! Near-duplicate barriers (`dedup.minhash`) across tasks, in four moves
//! ([`millstone_core::NearDuplicates`]):
//!
//! 1. **sign**: the parallel step before the barrier ends with a [`NearSink`] that writes, for
//!    every comparable document, `(band key, band, position)` into the file of the key's bucket
//!    (`keys/step-<s>/b<k>-r<rank>.keys.zst`), and every document's record: its sketch into a
//!    fixed-stride file (`r<rank>.sketches`, read at `position x stride`), the rest (keeper key,
//!    id, shingle set) into `r<rank>.records` with an offset index (`r<rank>.records.idx`);
//! 2. **match**: task `k` reads bucket `k` of every task, sorts by `(key, band, rank, position)`
//!    (input order within a bucket) and compares each document with the up to `max_bucket`
//!    documents before it in the bucket, reading sketches by offset: pairs at or above the
//!    threshold are edges (`verdicts/step-<s>/b<k>.edges.zst`);
//! 3. **cluster** (one task): connected components of all edges, then each component's keepers
//!    as in one process (verified clusters read the members' shingle sets); verdicts for the
//!    members of clusters of two or more, one file per signing task
//!    (`verdicts/step-<s>/r<rank>.near.zst`);
//! 4. **apply**: task `r` of the next step reads the documents task `r` signed and its verdicts.
//!
//! Memory: a match task holds its bucket's entries (24 bytes per document and band) and one
//! window of sketches; the cluster task holds only documents that matched something (an edge is
//! 16 bytes, a matched document 12 bytes plus its verdict), and splits components in parallel.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use millstone_core::{
    AtomicFile, Batch, BatchEncoder, NearDuplicates, NearVerdict, PendingOutput, Prepared, Sink, StageError,
    UnionFind,
};
use rayon::prelude::*;

use crate::error::Error;
use crate::fingerprint::output_sum;
use crate::keyed::{corrupt, key_file, open, read_all, records, save_reduce_marker, seal, Writer};
use crate::task::require_finished;
use crate::work::{write_atomic, WorkPlan};

/// Stage id of the signer.
pub(crate) const SIGN_ID: &str = ":step-sign";

/// Bits of an ordinal that hold the position within a task (the rank sits above them).
const POSITION_BITS: u32 = 40;

fn ordinal(rank: usize, position: u64) -> u64 {
    ((rank as u64) << POSITION_BITS) | position
}

fn split_ordinal(ordinal: u64) -> (usize, u64) {
    ((ordinal >> POSITION_BITS) as usize, ordinal & ((1 << POSITION_BITS) - 1))
}

/// The files of signing task `rank` of `step`.
pub(crate) struct SignFiles {
    /// One band-key file per match task.
    pub(crate) buckets: Vec<PathBuf>,
    sketches: PathBuf,
    records: PathBuf,
    index: PathBuf,
    /// The task's share of corpus-wide statistics ([`NearDuplicates::corpus_state`]).
    corpus: PathBuf,
}

impl SignFiles {
    pub(crate) fn new(plan: &WorkPlan, step: usize, rank: usize, buckets: usize) -> Self {
        let dir = plan.keys_dir(step);
        SignFiles {
            buckets: (0..buckets).map(|b| key_file(plan, step, b, rank)).collect(),
            sketches: dir.join(format!("r{rank:05}.sketches")),
            records: dir.join(format!("r{rank:05}.records")),
            index: dir.join(format!("r{rank:05}.records.idx")),
            corpus: dir.join(format!("r{rank:05}.corpus.zst")),
        }
    }
}

type Plain = BufWriter<AtomicFile>;

struct SignWriters {
    buckets: Vec<Writer>,
    sketches: Plain,
    records: Plain,
    index: Plain,
}

fn plain(path: &Path) -> Result<Plain, StageError> {
    let file = AtomicFile::create(path, true).map_err(|e| StageError::io(path.display(), e))?;
    Ok(BufWriter::with_capacity(1 << 16, file))
}

fn seal_plain(writer: Plain, path: &Path) -> Result<Box<dyn PendingOutput>, StageError> {
    Ok(Box::new(writer.into_inner().map_err(|e| StageError::io(path.display(), e.into_error()))?))
}

/// Signs the documents that reach it (the last stage of the step before a near-duplicate
/// barrier).
pub(crate) struct NearSink {
    split: Arc<dyn NearDuplicates>,
    files: SignFiles,
    writers: Option<SignWriters>,
    position: u64,
    offset: u64,
}

impl NearSink {
    pub(crate) fn new(split: Arc<dyn NearDuplicates>, files: SignFiles) -> Self {
        NearSink { split, files, writers: None, position: 0, offset: 0 }
    }

    fn writers(&mut self) -> Result<&mut SignWriters, StageError> {
        if self.writers.is_none() {
            let mut buckets = Vec::new();
            for path in &self.files.buckets {
                buckets.push(open(path).map_err(|e| StageError::io(path.display(), e))?);
            }
            self.writers = Some(SignWriters {
                buckets,
                sketches: plain(&self.files.sketches)?,
                records: plain(&self.files.records)?,
                index: plain(&self.files.index)?,
            });
        }
        Ok(self.writers.as_mut().expect("opened above"))
    }
}

/// Signs a batch on the runner's worker threads: per document, the number of band keys, the
/// keys, the record's length and the record.
struct SignEncoder {
    split: Arc<dyn NearDuplicates>,
}

impl BatchEncoder for SignEncoder {
    fn encode(&self, batch: &Batch) -> Result<Vec<u8>, StageError> {
        let (mut out, mut keys, mut record) = (Vec::new(), Vec::new(), Vec::new());
        for doc in &batch.docs {
            self.split.sign(doc, &mut keys, &mut record);
            out.extend_from_slice(&(keys.len() as u32).to_le_bytes());
            for key in &keys {
                out.extend_from_slice(&key.to_le_bytes());
            }
            out.extend_from_slice(&(record.len() as u32).to_le_bytes());
            out.extend_from_slice(&record);
        }
        Ok(out)
    }
}

/// Reads a signed batch front to back.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn truncated() -> StageError {
        StageError::other("a signed batch is truncated")
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], StageError> {
        let (head, rest) = self.0.split_at_checked(n).ok_or_else(Self::truncated)?;
        self.0 = rest;
        Ok(head)
    }
    fn u32(&mut self) -> Result<u32, StageError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Result<u64, StageError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
}

impl NearSink {
    /// Writes the signed documents of one batch, as [`SignEncoder`] encoded them.
    fn write_signed(&mut self, signed: &[u8]) -> Result<(), StageError> {
        let stride = self.split.sketch_bytes();
        self.writers()?;
        let (files, writers) = (&self.files, self.writers.as_mut().expect("opened above"));
        let buckets = writers.buckets.len() as u64;
        let mut signed = Cursor(signed);
        while !signed.0.is_empty() {
            let keys = signed.u32()? as usize;
            for band in 0..keys {
                let key = signed.u64()?;
                let bucket = (key % buckets) as usize;
                let mut entry = [0u8; 18];
                entry[..8].copy_from_slice(&key.to_le_bytes());
                entry[8..10].copy_from_slice(&(band as u16).to_le_bytes());
                entry[10..].copy_from_slice(&self.position.to_le_bytes());
                writers.buckets[bucket]
                    .write_all(&entry)
                    .map_err(|e| StageError::io(files.buckets[bucket].display(), e))?;
            }
            let length = signed.u32()? as usize;
            let record = signed.take(length)?;
            if record.len() < stride {
                return Err(Cursor::truncated());
            }
            writers
                .sketches
                .write_all(&record[..stride])
                .map_err(|e| StageError::io(files.sketches.display(), e))?;
            writers
                .records
                .write_all(&record[stride..])
                .map_err(|e| StageError::io(files.records.display(), e))?;
            writers
                .index
                .write_all(&self.offset.to_le_bytes())
                .map_err(|e| StageError::io(files.index.display(), e))?;
            self.offset += (record.len() - stride) as u64;
            self.position += 1;
        }
        Ok(())
    }
}

impl Sink for NearSink {
    fn write(&mut self, batch: &Batch) -> Result<(), StageError> {
        let signed = SignEncoder { split: self.split.clone() }.encode(batch)?;
        self.write_signed(&signed)
    }

    fn encoder(&self) -> Option<Arc<dyn BatchEncoder>> {
        Some(Arc::new(SignEncoder { split: self.split.clone() }))
    }

    fn write_encoded(&mut self, _batch: &Batch, encoded: &[u8]) -> Result<(), StageError> {
        self.write_signed(encoded)
    }

    fn prepare(&mut self) -> Result<Prepared, StageError> {
        let end = self.offset;
        self.writers()?
            .index
            .write_all(&end.to_le_bytes())
            .map_err(|e| StageError::io(self.files.index.display(), e))?;
        let writers = self.writers.take().expect("opened above");
        let mut pending = Vec::new();
        for (writer, path) in writers.buckets.into_iter().zip(&self.files.buckets) {
            pending.push(seal(writer).map_err(|e| StageError::io(path.display(), e))?);
        }
        pending.push(seal_plain(writers.sketches, &self.files.sketches)?);
        pending.push(seal_plain(writers.records, &self.files.records)?);
        pending.push(seal_plain(writers.index, &self.files.index)?);
        if let Some(state) = self.split.corpus_state() {
            let path = &self.files.corpus;
            let mut writer = plain(path)?;
            let compressed =
                zstd::encode_all(&state[..], 1).map_err(|e| StageError::io(path.display(), e))?;
            writer.write_all(&compressed).map_err(|e| StageError::io(path.display(), e))?;
            pending.push(seal_plain(writer, path)?);
        }
        Ok(Prepared { docs: 0, pending })
    }
}

/// The signing tasks' sketch and record files, read by offset.
struct Tables {
    stride: usize,
    sketches: Vec<(PathBuf, File)>,
    records: Vec<(PathBuf, File)>,
    index: Vec<(PathBuf, File)>,
}

fn open_read(path: PathBuf) -> Result<(PathBuf, File), Error> {
    let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
    Ok((path, file))
}

impl Tables {
    fn open(plan: &WorkPlan, sign_step: usize, stride: usize, with_records: bool) -> Result<Self, Error> {
        let mut tables = Tables { stride, sketches: Vec::new(), records: Vec::new(), index: Vec::new() };
        for rank in 0..plan.steps[sign_step].tasks {
            let files = SignFiles::new(plan, sign_step, rank, 0);
            tables.sketches.push(open_read(files.sketches)?);
            if with_records {
                tables.records.push(open_read(files.records)?);
                tables.index.push(open_read(files.index)?);
            }
        }
        Ok(tables)
    }

    fn read(file: &(PathBuf, File), buf: &mut [u8], offset: u64) -> Result<(), Error> {
        file.1.read_exact_at(buf, offset).map_err(|e| Error::io(&file.0, e))
    }

    /// The sketch of the document with this ordinal.
    fn sketch(&self, ordinal: u64, out: &mut Vec<u8>) -> Result<(), Error> {
        let (rank, position) = split_ordinal(ordinal);
        let file = self.sketches.get(rank).ok_or_else(|| corrupt(&self.sketches[0].0))?;
        out.resize(self.stride, 0);
        Self::read(file, out, position * self.stride as u64)
    }

    /// The whole record (sketch, then the rest) of the document with this ordinal.
    fn record(&self, ordinal: u64) -> Result<Vec<u8>, Error> {
        let (rank, position) = split_ordinal(ordinal);
        let index = self.index.get(rank).ok_or_else(|| corrupt(&self.index[0].0))?;
        let mut bounds = [0u8; 16];
        Self::read(index, &mut bounds, position * 8)?;
        let start = u64::from_le_bytes(bounds[..8].try_into().expect("8 bytes"));
        let end = u64::from_le_bytes(bounds[8..].try_into().expect("8 bytes"));
        if end < start {
            return Err(corrupt(&index.0));
        }
        let mut record = Vec::new();
        self.sketch(ordinal, &mut record)?;
        record.resize(self.stride + (end - start) as usize, 0);
        Self::read(&self.records[rank], &mut record[self.stride..], start)?;
        Ok(record)
    }
}

/// The edge file of match task `bucket`.
fn edge_file(plan: &WorkPlan, step: usize, bucket: usize) -> PathBuf {
    plan.verdicts_dir(step).join(format!("b{bucket:05}.edges.zst"))
}

/// The verdict file of signing task `rank`.
fn near_verdict_file(plan: &WorkPlan, step: usize, rank: usize) -> PathBuf {
    plan.verdicts_dir(step).join(format!("r{rank:05}.near.zst"))
}

/// Runs match task `bucket` of `step` and writes its marker.
pub(crate) fn run_match(
    plan: &WorkPlan,
    step: usize,
    bucket: usize,
    split: &dyn NearDuplicates,
    stage: (&str, &str),
) -> Result<(), Error> {
    let started = Instant::now();
    let sign = step - 1;
    require_finished(plan, step, sign)?;
    let mut entries: Vec<(u64, u16, u64)> = Vec::new();
    for rank in 0..plan.steps[sign].tasks {
        let path = key_file(plan, sign, bucket, rank);
        let bytes = read_all(&path)?;
        if bytes.len() % 18 != 0 {
            return Err(corrupt(&path));
        }
        entries.reserve(bytes.len() / 18);
        for entry in bytes.chunks_exact(18) {
            let key = u64::from_le_bytes(entry[..8].try_into().expect("8 bytes"));
            let band = u16::from_le_bytes(entry[8..10].try_into().expect("2 bytes"));
            let position = u64::from_le_bytes(entry[10..].try_into().expect("8 bytes"));
            entries.push((key, band, ordinal(rank, position)));
        }
    }
    entries.sort_unstable();
    // Documents of this bucket, numbered for a union-find: a pair whose documents are already
    // connected by edges found here adds nothing to the components (the cluster step only
    // needs those), so it is not compared, as in one process.
    let mut documents: Vec<u64> = entries.iter().map(|e| e.2).collect();
    documents.sort_unstable();
    documents.dedup();
    let number = |ordinal: u64| documents.binary_search(&ordinal).expect("a document of the bucket") as u32;
    let mut connected = UnionFind::default();
    let tables = Tables::open(plan, sign, split.sketch_bytes(), false)?;
    let (threshold, window) = (split.threshold(), split.max_bucket());
    let mut edges: Vec<(u64, u64)> = Vec::new();
    let mut compared = 0u64;
    // The bucket's last `window` documents, newest last, with their sketches once read.
    let mut recent: std::collections::VecDeque<(u64, u32, Option<Vec<u8>>)> = Default::default();
    for (i, &(key, band, later)) in entries.iter().enumerate() {
        if i == 0 || (entries[i - 1].0, entries[i - 1].1) != (key, band) {
            recent.clear();
        }
        let a = number(later);
        let mut sketch: Option<Vec<u8>> = None;
        for (earlier, b, other) in recent.iter_mut().rev() {
            if connected.find(a) == connected.find(*b) {
                continue;
            }
            if sketch.is_none() {
                let mut read = Vec::new();
                tables.sketch(later, &mut read)?;
                sketch = Some(read);
            }
            if other.is_none() {
                let mut read = Vec::new();
                tables.sketch(*earlier, &mut read)?;
                *other = Some(read);
            }
            compared += 1;
            let (mine, theirs) = (sketch.as_deref().expect("read"), other.as_deref().expect("read"));
            if split.candidate_similarity(mine, theirs) >= threshold {
                connected.union(a, *b);
                edges.push((later, *earlier));
            }
        }
        recent.push_back((later, a, sketch));
        if recent.len() > window {
            recent.pop_front();
        }
    }
    edges.sort_unstable();
    edges.dedup();
    let held = entries.capacity() * 24
        + documents.capacity() * 12
        + edges.capacity() * 16
        + window.min(entries.len() + 1) * (split.sketch_bytes() + 32);
    let mut bytes = Vec::with_capacity(edges.len() * 16);
    for (a, b) in &edges {
        bytes.extend_from_slice(&a.to_le_bytes());
        bytes.extend_from_slice(&b.to_le_bytes());
    }
    let path = edge_file(plan, step, bucket);
    write_atomic(&path, &zstd::encode_all(&bytes[..], 1).map_err(|e| Error::io(&path, e))?)?;
    let outputs = vec![output_sum(&path).map_err(|e| Error::io(&path, e))?];
    let counters = serde_json::json!({
        "band_keys_read": entries.len(), "pairs_verified": compared, "pairs_matched": edges.len(),
    });
    save_reduce_marker(plan, step, bucket, started, stage, counters, held, outputs)
}

/// The verdicts of one component's members (by ordinal) and how often it was split.
type ComponentVerdicts = (Vec<(u64, NearVerdict)>, u64);

/// Runs the cluster task of `step` (rank 0) and writes its marker.
pub(crate) fn run_cluster(
    plan: &WorkPlan,
    step: usize,
    split: &dyn NearDuplicates,
    stage: (&str, &str),
) -> Result<(), Error> {
    let started = Instant::now();
    let (matching, sign) = (step - 1, step - 2);
    require_finished(plan, step, matching)?;
    let mut edges: Vec<(u64, u64)> = Vec::new();
    for bucket in 0..plan.steps[matching].tasks {
        let path = edge_file(plan, matching, bucket);
        let bytes = read_all(&path)?;
        if bytes.len() % 16 != 0 {
            return Err(corrupt(&path));
        }
        for pair in bytes.chunks_exact(16) {
            edges.push((
                u64::from_le_bytes(pair[..8].try_into().expect("8 bytes")),
                u64::from_le_bytes(pair[8..].try_into().expect("8 bytes")),
            ));
        }
    }
    edges.sort_unstable();
    edges.dedup();
    let mut nodes: Vec<u64> = edges.iter().flat_map(|&(a, b)| [a, b]).collect();
    nodes.sort_unstable();
    nodes.dedup();
    if nodes.len() > u32::MAX as usize {
        return Err(Error::Usage(format!(
            "{} documents matched others: one cluster task handles at most {}",
            nodes.len(),
            u32::MAX
        )));
    }
    let number = |ordinal: u64| nodes.binary_search(&ordinal).expect("a node of an edge") as u32;
    let mut components = UnionFind::default();
    for &(a, b) in &edges {
        components.union(number(a), number(b));
    }
    let held = edges.capacity() * 16 + nodes.capacity() * 12;
    drop(edges);
    let mut members: Vec<(u32, u32)> = (0..nodes.len() as u32).map(|i| (components.find(i), i)).collect();
    members.sort_unstable();
    let groups: Vec<&[(u32, u32)]> = members.chunk_by(|a, b| a.0 == b.0).collect();

    for rank in 0..plan.steps[sign].tasks {
        let path = SignFiles::new(plan, sign, rank, 0).corpus;
        if path.exists() {
            split.add_corpus_state(&read_all(&path)?)?;
        }
    }
    let tables = Tables::open(plan, sign, split.sketch_bytes(), true)?;
    let decided: Vec<Result<ComponentVerdicts, Error>> = groups
        .par_iter()
        .map(|group| {
            let ordinals: Vec<u64> = group.iter().map(|&(_, i)| nodes[i as usize]).collect();
            let records = ordinals.iter().map(|&o| tables.record(o)).collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
            let (keepers, splits) = split.cluster(&refs)?;
            let mut sizes = vec![0u32; refs.len()];
            for &(keeper, _) in &keepers {
                sizes[keeper] += 1;
            }
            let mut verdicts = Vec::new();
            for (member, &(keeper, similarity)) in keepers.iter().enumerate() {
                if sizes[keeper] > 1 {
                    let verdict = NearVerdict {
                        keeper: split.record_id(refs[keeper]).into(),
                        is_keeper: keeper == member,
                        similarity,
                        cluster_size: sizes[keeper],
                    };
                    verdicts.push((ordinals[member], verdict));
                }
            }
            Ok((verdicts, splits))
        })
        .collect();
    let sign_tasks = plan.steps[sign].tasks;
    let mut by_rank: Vec<Vec<(u64, NearVerdict)>> = vec![Vec::new(); sign_tasks];
    let mut clusters_split = 0;
    for outcome in decided {
        let (verdicts, splits) = outcome?;
        clusters_split += splits;
        for (ordinal, verdict) in verdicts {
            let (rank, position) = split_ordinal(ordinal);
            by_rank
                .get_mut(rank)
                .ok_or_else(|| corrupt(&edge_file(plan, matching, 0)))?
                .push((position, verdict));
        }
    }
    let mut outputs = Vec::new();
    let mut clustered = 0u64;
    for (rank, mut verdicts) in by_rank.into_iter().enumerate() {
        verdicts.sort_unstable_by_key(|(position, _)| *position);
        clustered += verdicts.len() as u64;
        let mut bytes = Vec::new();
        for (position, verdict) in verdicts {
            bytes.extend_from_slice(&position.to_le_bytes());
            bytes.extend_from_slice(&verdict.similarity.to_le_bytes());
            bytes.push(verdict.is_keeper as u8);
            bytes.extend_from_slice(&verdict.cluster_size.to_le_bytes());
            bytes.extend_from_slice(&(verdict.keeper.len() as u32).to_le_bytes());
            bytes.extend_from_slice(verdict.keeper.as_bytes());
        }
        let path = near_verdict_file(plan, step, rank);
        write_atomic(&path, &zstd::encode_all(&bytes[..], 1).map_err(|e| Error::io(&path, e))?)?;
        outputs.push(output_sum(&path).map_err(|e| Error::io(&path, e))?);
    }
    let counters = serde_json::json!({
        "documents_matched": nodes.len(), "documents_clustered": clustered, "clusters_split": clusters_split,
    });
    save_reduce_marker(plan, step, 0, started, stage, counters, held, outputs)
}

/// The verdicts of cluster step `step` for signing task `rank`, by ascending position.
pub(crate) fn load_near_verdicts(
    plan: &WorkPlan,
    step: usize,
    rank: usize,
) -> Result<Vec<(u64, NearVerdict)>, Error> {
    require_finished(plan, step + 1, step)?;
    let path = near_verdict_file(plan, step, rank);
    let bytes = read_all(&path)?;
    records(&bytes, 17, &path)?
        .into_iter()
        .map(|(head, keeper)| {
            let position = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
            let similarity = f32::from_le_bytes(head[8..12].try_into().expect("4 bytes"));
            let cluster_size = u32::from_le_bytes(head[13..17].try_into().expect("4 bytes"));
            let verdict =
                NearVerdict { keeper: keeper.into(), is_keeper: head[12] == 1, similarity, cluster_size };
            Ok((position, verdict))
        })
        .collect()
}
