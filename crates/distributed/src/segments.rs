//! Segment barriers (`dedup.exact_segments`) across tasks ([`millstone_core::SegmentMatches`]):
//!
//! 1. **list**: the parallel step before the barrier ends with a [`SegmentSink`] that writes,
//!    for every segment of every document, `(hash, source, position, segment index)` into the
//!    file of the hash's bucket (`keys/step-<s>/b<k>-r<rank>.keys.zst`);
//! 2. **reduce**: task `k` reads bucket `k` of every task, sorts by
//!    `(hash, rank, position, index)` (input order) and lets the barrier decide every occurrence
//!    of each hash with all the others; the matches go to one file per task
//!    (`verdicts/step-<s>/r<rank>-b<k>.segments.zst`: position, index);
//! 3. **apply**: task `r` of the next step reads its documents and its matches from every
//!    bucket, and the barrier's apply stage removes, counts and reports as in one process.
//!
//! Memory: a reduce task holds its bucket's occurrences (48 bytes each).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use millstone_core::{Batch, BatchEncoder, Prepared, SegmentMatches, Sink, StageError};

use crate::error::Error;
use crate::fingerprint::output_sum;
use crate::keyed::{corrupt, key_file, open, read_all, save_reduce_marker, seal, Writer};
use crate::task::require_finished;
use crate::work::{write_atomic, WorkPlan};

/// Stage id of the segment lister.
pub(crate) const SEGMENTS_ID: &str = ":step-segments";

/// Bytes of one occurrence record: hash, source flag, source, position, index.
const RECORD: usize = 16 + 1 + 8 + 8 + 4;

fn matches_file(plan: &WorkPlan, step: usize, rank: usize, bucket: usize) -> PathBuf {
    plan.verdicts_dir(step).join(format!("r{rank:05}-b{bucket:05}.segments.zst"))
}

/// Lists each document's segments on the runner's worker threads: per document, the source
/// flag and source, the segment count and the hashes.
struct SegmentEncoder {
    split: Arc<dyn SegmentMatches>,
}

impl BatchEncoder for SegmentEncoder {
    fn encode(&self, batch: &Batch) -> Result<Vec<u8>, StageError> {
        let mut out = Vec::new();
        for doc in &batch.docs {
            let (source, hashes) = self.split.segments(doc);
            out.push(source.is_some() as u8);
            out.extend_from_slice(&source.unwrap_or(0).to_le_bytes());
            out.extend_from_slice(&(hashes.len() as u32).to_le_bytes());
            for hash in hashes {
                out.extend_from_slice(&hash.to_le_bytes());
            }
        }
        Ok(out)
    }
}

/// Writes the segment occurrences of the documents that reach it, one file per bucket.
pub(crate) struct SegmentSink {
    split: Arc<dyn SegmentMatches>,
    files: Vec<PathBuf>,
    writers: Vec<Writer>,
    position: u64,
}

impl SegmentSink {
    pub(crate) fn new(
        split: Arc<dyn SegmentMatches>,
        plan: &WorkPlan,
        step: usize,
        rank: usize,
        buckets: usize,
    ) -> Self {
        let files = (0..buckets).map(|b| key_file(plan, step, b, rank)).collect();
        SegmentSink { split, files, writers: Vec::new(), position: 0 }
    }

    fn open(&mut self) -> Result<(), StageError> {
        if self.writers.is_empty() {
            for path in &self.files {
                self.writers.push(open(path).map_err(|e| StageError::io(path.display(), e))?);
            }
        }
        Ok(())
    }
}

impl Sink for SegmentSink {
    fn write(&mut self, batch: &Batch) -> Result<(), StageError> {
        let encoded = SegmentEncoder { split: self.split.clone() }.encode(batch)?;
        self.write_encoded(batch, &encoded)
    }

    fn encoder(&self) -> Option<Arc<dyn BatchEncoder>> {
        Some(Arc::new(SegmentEncoder { split: self.split.clone() }))
    }

    fn write_encoded(&mut self, _batch: &Batch, encoded: &[u8]) -> Result<(), StageError> {
        self.open()?;
        let truncated = || StageError::other("a listed batch is truncated");
        let mut rest = encoded;
        let mut record = [0u8; RECORD];
        while !rest.is_empty() {
            let (head, tail) = rest.split_at_checked(13).ok_or_else(truncated)?;
            let count = u32::from_le_bytes(head[9..13].try_into().expect("4 bytes")) as usize;
            let (hashes, tail) = tail.split_at_checked(count * 16).ok_or_else(truncated)?;
            record[16..25].copy_from_slice(&head[..9]);
            record[25..33].copy_from_slice(&self.position.to_le_bytes());
            for (index, hash) in hashes.chunks_exact(16).enumerate() {
                record[..16].copy_from_slice(hash);
                record[33..].copy_from_slice(&(index as u32).to_le_bytes());
                let bucket = (u128::from_le_bytes(hash.try_into().expect("16 bytes"))
                    % self.files.len() as u128) as usize;
                self.writers[bucket]
                    .write_all(&record)
                    .map_err(|e| StageError::io(self.files[bucket].display(), e))?;
            }
            self.position += 1;
            rest = tail;
        }
        Ok(())
    }

    fn prepare(&mut self) -> Result<Prepared, StageError> {
        self.open()?;
        let mut pending = Vec::new();
        for (writer, path) in std::mem::take(&mut self.writers).into_iter().zip(&self.files) {
            pending.push(seal(writer).map_err(|e| StageError::io(path.display(), e))?);
        }
        Ok(Prepared { docs: 0, pending })
    }
}

/// One occurrence: hash, rank, position, index, source.
type Occurrence = (u128, u32, u64, u32, Option<u64>);

/// Runs reduce task `bucket` of `step` for a segment barrier and writes its marker.
pub(crate) fn run_segment_reduce(
    plan: &WorkPlan,
    step: usize,
    bucket: usize,
    split: &dyn SegmentMatches,
    stage: (&str, &str),
) -> Result<(), Error> {
    let started = Instant::now();
    let sign = step - 1;
    require_finished(plan, step, sign)?;
    let mut occurrences: Vec<Occurrence> = Vec::new();
    for rank in 0..plan.steps[sign].tasks {
        let path = key_file(plan, sign, bucket, rank);
        let bytes = read_all(&path)?;
        if bytes.len() % RECORD != 0 {
            return Err(corrupt(&path));
        }
        occurrences.reserve(bytes.len() / RECORD);
        for r in bytes.chunks_exact(RECORD) {
            let source = (r[16] == 1).then(|| u64::from_le_bytes(r[17..25].try_into().expect("8 bytes")));
            occurrences.push((
                u128::from_le_bytes(r[..16].try_into().expect("16 bytes")),
                rank as u32,
                u64::from_le_bytes(r[25..33].try_into().expect("8 bytes")),
                u32::from_le_bytes(r[33..].try_into().expect("4 bytes")),
                source,
            ));
        }
    }
    occurrences.sort_unstable();
    let held = occurrences.capacity() * std::mem::size_of::<Occurrence>();
    let mut by_rank: Vec<Vec<(u64, u32)>> = vec![Vec::new(); plan.steps[sign].tasks];
    let mut distinct = 0u64;
    for run in occurrences.chunk_by(|a, b| a.0 == b.0) {
        distinct += 1;
        let list: Vec<(Option<u64>, u64)> = run.iter().map(|o| (o.4, ((o.1 as u64) << 40) | o.2)).collect();
        for (occurrence, matched) in run.iter().zip(split.matches(&list)) {
            if matched {
                by_rank[occurrence.1 as usize].push((occurrence.2, occurrence.3));
            }
        }
    }
    let mut outputs = Vec::new();
    for (rank, mut list) in by_rank.into_iter().enumerate() {
        list.sort_unstable();
        let mut bytes = Vec::with_capacity(list.len() * 12);
        for (position, index) in list {
            bytes.extend_from_slice(&position.to_le_bytes());
            bytes.extend_from_slice(&index.to_le_bytes());
        }
        let path = matches_file(plan, step, rank, bucket);
        write_atomic(&path, &zstd::encode_all(&bytes[..], 1).map_err(|e| Error::io(&path, e))?)?;
        outputs.push(output_sum(&path).map_err(|e| Error::io(&path, e))?);
    }
    let counters =
        serde_json::json!({ split.distinct_counter(): distinct, "segments_read": occurrences.len() });
    save_reduce_marker(plan, step, bucket, started, stage, counters, held, outputs)
}

/// The matches for `rank` from every bucket of reduce step `step`, ascending.
pub(crate) fn load_segment_matches(
    plan: &WorkPlan,
    step: usize,
    rank: usize,
) -> Result<Vec<(u64, u32)>, Error> {
    require_finished(plan, step + 1, step)?;
    let mut all = Vec::new();
    for bucket in 0..plan.steps[step].tasks {
        let path = matches_file(plan, step, rank, bucket);
        let bytes = read_all(&path)?;
        if bytes.len() % 12 != 0 {
            return Err(corrupt(&path));
        }
        all.extend(bytes.chunks_exact(12).map(|m| {
            (
                u64::from_le_bytes(m[..8].try_into().expect("8 bytes")),
                u32::from_le_bytes(m[8..].try_into().expect("4 bytes")),
            )
        }));
    }
    all.sort_unstable();
    Ok(all)
}
