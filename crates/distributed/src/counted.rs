//! Counting barriers (`clean.repeated_lines`) across tasks ([`millstone_core::CountByKey`]):
//!
//! 1. **count**: the parallel step before the barrier ends with a [`CountSink`] that counts, in
//!    the task, every key (documents containing it) and every group (documents in it), and
//!    writes the key counts by bucket (`keys/step-<s>/b<k>-r<rank>.keys.zst`: key, count) and
//!    the group counts (`keys/step-<s>/r<rank>.groups.zst`);
//! 2. **reduce**: task `k` sums bucket `k` of every task and keeps the keys whose total reaches
//!    the barrier's `min_count` (`verdicts/step-<s>/b<k>.counts.zst`);
//! 3. **apply**: every task of the next step loads those totals and the summed group counts,
//!    and the barrier's apply stage decides each document as one process would.
//!
//! Memory: a counting task holds one entry per distinct key of its documents; a reduce task
//! the distinct keys of its bucket; an apply task only the keys that reached `min_count`.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use millstone_core::{Batch, BatchEncoder, CountByKey, Prepared, Sink, StageError};

use crate::error::Error;
use crate::fingerprint::output_sum;
use crate::keyed::{corrupt, key_file, open, read_all, save_reduce_marker, seal};
use crate::task::require_finished;
use crate::work::{write_atomic, WorkPlan};

/// Stage id of the counter.
pub(crate) const COUNT_ID: &str = ":step-count";

/// The group-count file of counting task `rank`.
pub(crate) fn groups_file(plan: &WorkPlan, step: usize, rank: usize) -> PathBuf {
    plan.keys_dir(step).join(format!("r{rank:05}.groups.zst"))
}

/// The totals file of reduce task `bucket`.
fn totals_file(plan: &WorkPlan, step: usize, bucket: usize) -> PathBuf {
    plan.verdicts_dir(step).join(format!("b{bucket:05}.counts.zst"))
}

/// `(u64, u32)` pairs, 12 bytes each.
fn pairs(bytes: &[u8], path: &std::path::Path) -> Result<Vec<(u64, u32)>, Error> {
    if bytes.len() % 12 != 0 {
        return Err(corrupt(path));
    }
    Ok(bytes
        .chunks_exact(12)
        .map(|p| {
            (
                u64::from_le_bytes(p[..8].try_into().expect("8 bytes")),
                u32::from_le_bytes(p[8..].try_into().expect("4 bytes")),
            )
        })
        .collect())
}

fn encode_pairs<'a>(pairs: impl Iterator<Item = (&'a u64, &'a u32)>) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (key, count) in pairs {
        bytes.extend_from_slice(&key.to_le_bytes());
        bytes.extend_from_slice(&count.to_le_bytes());
    }
    bytes
}

/// Computes each document's group and keys on the runner's worker threads: per document with
/// a group, the group, the number of keys and the keys.
struct CountEncoder {
    counted: Arc<dyn CountByKey>,
}

impl BatchEncoder for CountEncoder {
    fn encode(&self, batch: &Batch) -> Result<Vec<u8>, StageError> {
        let mut out = Vec::new();
        for doc in &batch.docs {
            if let Some((group, keys)) = self.counted.keys(doc) {
                out.extend_from_slice(&group.to_le_bytes());
                out.extend_from_slice(&(keys.len() as u32).to_le_bytes());
                for key in keys {
                    out.extend_from_slice(&key.to_le_bytes());
                }
            }
        }
        Ok(out)
    }
}

/// Counts the keys and groups of the documents that reach it.
pub(crate) struct CountSink {
    counted: Arc<dyn CountByKey>,
    buckets: Vec<PathBuf>,
    groups_path: PathBuf,
    counts: HashMap<u64, u32>,
    groups: HashMap<u64, u32>,
}

impl CountSink {
    pub(crate) fn new(
        counted: Arc<dyn CountByKey>,
        plan: &WorkPlan,
        step: usize,
        rank: usize,
        buckets: usize,
    ) -> Self {
        CountSink {
            counted,
            buckets: (0..buckets).map(|b| key_file(plan, step, b, rank)).collect(),
            groups_path: groups_file(plan, step, rank),
            counts: HashMap::new(),
            groups: HashMap::new(),
        }
    }
}

impl Sink for CountSink {
    fn write(&mut self, batch: &Batch) -> Result<(), StageError> {
        let encoded = CountEncoder { counted: self.counted.clone() }.encode(batch)?;
        self.write_encoded(batch, &encoded)
    }

    fn encoder(&self) -> Option<Arc<dyn BatchEncoder>> {
        Some(Arc::new(CountEncoder { counted: self.counted.clone() }))
    }

    fn write_encoded(&mut self, _batch: &Batch, encoded: &[u8]) -> Result<(), StageError> {
        let truncated = || StageError::other("a counted batch is truncated");
        let mut rest = encoded;
        while !rest.is_empty() {
            let (head, tail) = rest.split_at_checked(12).ok_or_else(truncated)?;
            let group = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
            let keys = u32::from_le_bytes(head[8..].try_into().expect("4 bytes")) as usize;
            let (keys, tail) = tail.split_at_checked(keys * 8).ok_or_else(truncated)?;
            *self.groups.entry(group).or_default() += 1;
            for key in keys.chunks_exact(8) {
                *self.counts.entry(u64::from_le_bytes(key.try_into().expect("8 bytes"))).or_default() += 1;
            }
            rest = tail;
        }
        Ok(())
    }

    fn prepare(&mut self) -> Result<Prepared, StageError> {
        let mut by_bucket: Vec<Vec<(u64, u32)>> = vec![Vec::new(); self.buckets.len()];
        for (&key, &count) in &self.counts {
            by_bucket[(key % self.buckets.len() as u64) as usize].push((key, count));
        }
        let mut pending = Vec::new();
        let mut write = |path: &PathBuf, mut list: Vec<(u64, u32)>| -> Result<(), StageError> {
            list.sort_unstable();
            let io = |e| StageError::io(path.display(), e);
            let mut writer = open(path).map_err(io)?;
            writer.write_all(&encode_pairs(list.iter().map(|(k, c)| (k, c)))).map_err(io)?;
            pending.push(seal(writer).map_err(io)?);
            Ok(())
        };
        for (path, list) in self.buckets.iter().zip(by_bucket) {
            write(path, list)?;
        }
        write(&self.groups_path, self.groups.iter().map(|(&g, &c)| (g, c)).collect())?;
        Ok(Prepared { docs: 0, pending })
    }
}

/// Runs reduce task `bucket` of `step` for a counting barrier and writes its marker.
pub(crate) fn run_count_reduce(
    plan: &WorkPlan,
    step: usize,
    bucket: usize,
    counted: &dyn CountByKey,
    stage: (&str, &str),
) -> Result<(), Error> {
    let started = Instant::now();
    let sign = step - 1;
    require_finished(plan, step, sign)?;
    let mut totals: HashMap<u64, u32> = HashMap::new();
    for rank in 0..plan.steps[sign].tasks {
        let path = key_file(plan, sign, bucket, rank);
        for (key, count) in pairs(&read_all(&path)?, &path)? {
            *totals.entry(key).or_default() += count;
        }
    }
    let distinct = totals.len();
    let held = totals.capacity() * 16;
    let mut kept: Vec<(u64, u32)> = totals.into_iter().filter(|&(_, c)| c >= counted.min_count()).collect();
    kept.sort_unstable();
    let path = totals_file(plan, step, bucket);
    let bytes = encode_pairs(kept.iter().map(|(k, c)| (k, c)));
    write_atomic(&path, &zstd::encode_all(&bytes[..], 1).map_err(|e| Error::io(&path, e))?)?;
    let outputs = vec![output_sum(&path).map_err(|e| Error::io(&path, e))?];
    let (distinct_name, groups_name) = counted.counter_names();
    let mut counters = serde_json::json!({ distinct_name: distinct, "keys_kept": kept.len() });
    if bucket == 0 {
        // Groups are counted once, by the first bucket, so that merged reports add up.
        counters[groups_name] = load_groups(plan, sign)?.len().into();
    }
    save_reduce_marker(plan, step, bucket, started, stage, counters, held, outputs)
}

/// The summed group counts of counting step `sign`.
fn load_groups(plan: &WorkPlan, sign: usize) -> Result<HashMap<u64, u32>, Error> {
    let mut groups: HashMap<u64, u32> = HashMap::new();
    for rank in 0..plan.steps[sign].tasks {
        let path = groups_file(plan, sign, rank);
        for (group, count) in pairs(&read_all(&path)?, &path)? {
            *groups.entry(group).or_default() += count;
        }
    }
    Ok(groups)
}

/// Counts by group or by key.
type Counts = HashMap<u64, u32>;

/// The group counts and the key totals of reduce step `step`, for every apply task.
pub(crate) fn load_totals(plan: &WorkPlan, step: usize) -> Result<(Counts, Counts), Error> {
    require_finished(plan, step + 1, step)?;
    let mut counts = HashMap::new();
    for bucket in 0..plan.steps[step].tasks {
        let path = totals_file(plan, step, bucket);
        counts.extend(pairs(&read_all(&path)?, &path)?);
    }
    Ok((load_groups(plan, step - 1)?, counts))
}
