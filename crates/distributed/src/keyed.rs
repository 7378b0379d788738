//! Keep-first-by-key barriers (`dedup.exact`) across tasks, in three moves:
//!
//! 1. **sign**: the parallel step before the barrier ends with a [`KeySink`] that writes, for
//!    every document with a key, `(key, position, id)` into the file of the key's bucket
//!    (`keys/step-<s>/b<k>-r<rank>.keys.zst`), position being the document's index in the
//!    task's output stream;
//! 2. **reduce**: task `k` of the reduce step reads bucket `k` of every task, sorts by
//!    `(key, rank, position)` (the order of one process) and marks every record but the first
//!    of each key as a duplicate of it, writing one verdict file per task
//!    (`verdicts/step-<s>/r<rank>-b<k>.verdicts.zst`);
//! 3. **apply**: task `r` of the next step reads the documents task `r` wrote in step 1 and the
//!    verdicts for `r` from every bucket, and the barrier's own apply stage drops, counts and
//!    reports exactly as it would in one process.
//!
//! Memory: the sign and apply sides hold one open file per bucket and one task's verdicts; a
//! reduce task holds its bucket's records (16 + 8 + 4 bytes plus the id per document).

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use millstone_core::{
    AtomicFile, Batch, DocId, KeepFirstByKey, PendingOutput, Prepared, Profile, Sink, StageError,
};

use crate::error::Error;
use crate::fingerprint::output_sum;
use crate::task::{require_finished, TaskMarker};
use crate::work::{write_atomic, WorkPlan};

/// Stage id of the key writer.
pub(crate) const KEYS_ID: &str = ":step-keys";

pub(crate) type Writer = zstd::Encoder<'static, BufWriter<AtomicFile>>;

pub(crate) fn open(path: &Path) -> std::io::Result<Writer> {
    let file = AtomicFile::create(path, true)?;
    zstd::Encoder::new(BufWriter::with_capacity(1 << 16, file), 1)
}

pub(crate) fn seal(writer: Writer) -> std::io::Result<Box<dyn PendingOutput>> {
    let buffered = writer.finish()?;
    Ok(Box::new(buffered.into_inner().map_err(|e| e.into_error())?))
}

/// The key file of `rank` for `bucket`.
pub(crate) fn key_file(plan: &WorkPlan, step: usize, bucket: usize, rank: usize) -> PathBuf {
    plan.keys_dir(step).join(format!("b{bucket:05}-r{rank:05}.keys.zst"))
}

/// The verdict file of `rank` from `bucket`.
pub(crate) fn verdict_file(plan: &WorkPlan, step: usize, rank: usize, bucket: usize) -> PathBuf {
    plan.verdicts_dir(step).join(format!("r{rank:05}-b{bucket:05}.verdicts.zst"))
}

/// Writes the keys of the documents that reach it, one file per bucket.
pub(crate) struct KeySink {
    keyed: Arc<dyn KeepFirstByKey>,
    files: Vec<PathBuf>,
    writers: Vec<Writer>,
    position: u64,
    record: Vec<u8>,
}

impl KeySink {
    pub(crate) fn new(keyed: Arc<dyn KeepFirstByKey>, files: Vec<PathBuf>) -> Self {
        KeySink { keyed, files, writers: Vec::new(), position: 0, record: Vec::new() }
    }
}

impl Sink for KeySink {
    fn write(&mut self, batch: &Batch) -> Result<(), StageError> {
        if self.writers.is_empty() {
            for path in &self.files {
                self.writers.push(open(path).map_err(|e| StageError::io(path.display(), e))?);
            }
        }
        for doc in &batch.docs {
            let position = self.position;
            self.position += 1;
            let Some(key) = self.keyed.key(doc) else { continue };
            let bucket = (key % self.writers.len() as u128) as usize;
            self.record.clear();
            self.record.extend_from_slice(&key.to_le_bytes());
            self.record.extend_from_slice(&position.to_le_bytes());
            self.record.extend_from_slice(&(doc.id.len() as u32).to_le_bytes());
            self.record.extend_from_slice(doc.id.as_bytes());
            self.writers[bucket]
                .write_all(&self.record)
                .map_err(|e| StageError::io(self.files[bucket].display(), e))?;
        }
        Ok(())
    }

    fn prepare(&mut self) -> Result<Prepared, StageError> {
        if self.writers.is_empty() {
            for path in &self.files {
                self.writers.push(open(path).map_err(|e| StageError::io(path.display(), e))?);
            }
        }
        let mut pending = Vec::new();
        for (writer, path) in std::mem::take(&mut self.writers).into_iter().zip(&self.files) {
            pending.push(seal(writer).map_err(|e| StageError::io(path.display(), e))?);
        }
        Ok(Prepared { docs: 0, pending })
    }
}

/// Reads a whole zstd file.
pub(crate) fn read_all(path: &Path) -> Result<Vec<u8>, Error> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    BufReader::new(zstd::Decoder::new(file).map_err(|e| Error::io(path, e))?)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    Ok(bytes)
}

pub(crate) fn corrupt(path: &Path) -> Error {
    Error::io(path, std::io::Error::new(std::io::ErrorKind::InvalidData, "truncated record"))
}

/// Splits `bytes` into `(fixed header, id)` records.
pub(crate) fn records<'a>(
    bytes: &'a [u8],
    header: usize,
    path: &Path,
) -> Result<Vec<(&'a [u8], &'a str)>, Error> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (head, tail) = rest.split_at_checked(header + 4).ok_or_else(|| corrupt(path))?;
        let len = u32::from_le_bytes(head[header..].try_into().expect("4 bytes")) as usize;
        let (id, tail) = tail.split_at_checked(len).ok_or_else(|| corrupt(path))?;
        out.push((&head[..header], std::str::from_utf8(id).map_err(|_| corrupt(path))?));
        rest = tail;
    }
    Ok(out)
}

/// Runs reduce task `bucket` of `step` and writes its marker; `stage_id`/`type_name` name the
/// barrier in the task's report.
pub(crate) fn run_reduce(
    plan: &WorkPlan,
    step: usize,
    bucket: usize,
    keyed: &dyn KeepFirstByKey,
    stage: (&str, &str),
) -> Result<(), Error> {
    let started = Instant::now();
    let previous = &plan.steps[step - 1];
    require_finished(plan, step, previous.index)?;
    let mut files = Vec::new();
    let mut entries: Vec<(u128, u32, u64, u32)> = Vec::new();
    let mut ids: Vec<Box<str>> = Vec::new();
    for rank in 0..previous.tasks {
        let path = key_file(plan, previous.index, bucket, rank);
        let bytes = read_all(&path)?;
        for (head, id) in records(&bytes, 24, &path)? {
            let key = u128::from_le_bytes(head[..16].try_into().expect("16 bytes"));
            let position = u64::from_le_bytes(head[16..24].try_into().expect("8 bytes"));
            entries.push((key, rank as u32, position, ids.len() as u32));
            ids.push(id.into());
        }
        files.push(path);
    }
    let held = entries.capacity() * std::mem::size_of::<(u128, u32, u64, u32)>()
        + ids.iter().map(|i| i.len() + 16).sum::<usize>();
    entries.sort_unstable();
    let mut verdicts: Vec<Vec<(u64, u32)>> = vec![Vec::new(); previous.tasks];
    let mut distinct = 0u64;
    let mut keeper = 0u32;
    // Every key lives in one bucket, so each bucket observes its own clusters' sizes whole.
    let mut profile = Profile::default();
    let mut copies = 0u32;
    for (i, &(key, rank, position, id)) in entries.iter().enumerate() {
        if i == 0 || entries[i - 1].0 != key {
            if copies > 1 {
                profile.observe("cluster_size", f64::from(copies));
            }
            copies = 1;
            distinct += 1;
            keeper = id;
        } else {
            copies += 1;
            verdicts[rank as usize].push((position, keeper));
        }
    }
    if copies > 1 {
        profile.observe("cluster_size", f64::from(copies));
    }
    let mut outputs = Vec::new();
    for (rank, mut list) in verdicts.into_iter().enumerate() {
        list.sort_unstable();
        let mut bytes = Vec::new();
        for (position, keeper) in list {
            let id = &ids[keeper as usize];
            bytes.extend_from_slice(&position.to_le_bytes());
            bytes.extend_from_slice(&(id.len() as u32).to_le_bytes());
            bytes.extend_from_slice(id.as_bytes());
        }
        let path = verdict_file(plan, step, rank, bucket);
        let compressed = zstd::encode_all(&bytes[..], 1).map_err(|e| Error::io(&path, e))?;
        write_atomic(&path, &compressed)?;
        outputs.push(output_sum(&path).map_err(|e| Error::io(&path, e))?);
    }
    let counters = serde_json::json!({keyed.distinct_counter(): distinct, "keys_read": entries.len()});
    save_observed_reduce_marker(plan, step, bucket, started, stage, counters, &profile, held, outputs)
}

/// Writes the marker of a task that reads and writes work files only: its report names the
/// barrier (`stage`: id and type) with `counters` and `held` bytes, and no documents.
#[allow(clippy::too_many_arguments)]
pub(crate) fn save_reduce_marker(
    plan: &WorkPlan,
    step: usize,
    rank: usize,
    started: Instant,
    stage: (&str, &str),
    counters: serde_json::Value,
    held: usize,
    outputs: Vec<crate::fingerprint::OutputSum>,
) -> Result<(), Error> {
    let observed = Profile::default();
    save_observed_reduce_marker(plan, step, rank, started, stage, counters, &observed, held, outputs)
}

/// [`save_reduce_marker`] with what the reduce observed (`profile`: cluster sizes).
#[allow(clippy::too_many_arguments)]
fn save_observed_reduce_marker(
    plan: &WorkPlan,
    step: usize,
    rank: usize,
    started: Instant,
    stage: (&str, &str),
    counters: serde_json::Value,
    profile: &Profile,
    held: usize,
    outputs: Vec<crate::fingerprint::OutputSum>,
) -> Result<(), Error> {
    let report = serde_json::json!({
        "elapsed_secs": started.elapsed().as_secs_f64(),
        "totals": {"written": 0},
        "stages": [{
            "id": stage.0, "type": stage.1, "kind": "barrier",
            "docs_in": 0, "docs_out": 0, "failed": 0, "bytes_in": 0, "bytes_out": 0,
            "dropped": {}, "failures": {},
            "counters": counters,
            "retained_bytes_peak": held,
            "profile": profile,
        }],
    });
    let marker = TaskMarker {
        config_hash: plan.config_hash.clone(),
        step,
        rank,
        chunks: Vec::new(),
        outputs,
        peak_rss_bytes: millstone_runner::peak_rss_bytes(),
        report,
    };
    marker.save(plan)
}

/// The verdicts for `rank` from every bucket of reduce step `step`, by ascending position.
pub(crate) fn load_verdicts(plan: &WorkPlan, step: usize, rank: usize) -> Result<Vec<(u64, DocId)>, Error> {
    let reduce = &plan.steps[step];
    require_finished(plan, step + 1, step)?;
    let mut all = Vec::new();
    for bucket in 0..reduce.tasks {
        let path = verdict_file(plan, step, rank, bucket);
        let bytes = read_all(&path)?;
        for (head, id) in records(&bytes, 8, &path)? {
            all.push((u64::from_le_bytes(head.try_into().expect("8 bytes")), DocId::from(id)));
        }
    }
    all.sort_unstable_by_key(|(position, _)| *position);
    Ok(all)
}
