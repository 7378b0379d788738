//! The plan of a distributed run (`<work>/plan.json`): the pipeline as it was planned, its
//! inputs listed once and assigned to tasks, and its steps.
//!
//! Steps come from cutting the pipeline at its barriers. A run of sources, transforms and sinks
//! is a **parallel** step of N tasks; a run of consecutive barriers is a **global** step of one
//! task that reads every document of the step before, in order, so that every barrier (exact,
//! segment and near-duplicate dedup, Bloom filters, repeated-line counts, suffix arrays) decides
//! exactly as in `millstone run`. Inputs are given to the tasks of the first step as contiguous
//! runs of shards of about equal bytes, so the concatenation of the tasks' outputs in rank order
//! is the order of one process.

use std::path::{Path, PathBuf};

use millstone_config::{parse_plan, LoadOptions};
use millstone_core::{Registry, Stage, StageKind};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::fingerprint::{input_print, InputPrint};

/// The plan's file name inside the work folder.
pub const PLAN_FILE: &str = "plan.json";
const FORMAT: u32 = 1;

/// What a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Sources, transforms and sinks: N independent tasks.
    Parallel,
    /// Consecutive barriers: one task over every document, in order.
    Global,
    /// The key matching of a keep-first-by-key barrier (`dedup.exact`): task `k` reads bucket
    /// `k` of every task's keys and finds the first document of each key; or the key counting
    /// of a counting barrier (`clean.repeated_lines`): task `k` sums bucket `k`'s counts.
    Reduce,
    /// The candidate matching of a near-duplicate barrier (`dedup.minhash`): task `k` compares
    /// the documents that share a band key of bucket `k`.
    Match,
    /// The clustering of a near-duplicate barrier: one task over the matched pairs.
    Cluster,
}

/// How a barrier runs in a distributed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BarrierSplit {
    /// In a global step.
    Whole,
    /// Sign, reduce, apply ([`millstone_core::KeepFirstByKey`]).
    Keyed,
    /// Sign, match, cluster, apply ([`millstone_core::NearDuplicates`]).
    Near,
    /// Write each task's state, apply from the union of the earlier ones
    /// ([`millstone_core::PrefixState`]).
    Prefix,
    /// Count, reduce, apply ([`millstone_core::CountByKey`]).
    Counted,
    /// List segments, reduce, apply ([`millstone_core::SegmentMatches`]).
    Segments,
}

impl BarrierSplit {
    /// How `stage` runs.
    pub(crate) fn of(stage: &Stage) -> Self {
        match stage {
            Stage::Barrier { barrier, .. } if barrier.keep_first_by_key().is_some() => BarrierSplit::Keyed,
            Stage::Barrier { barrier, .. } if barrier.near_duplicates().is_some() => BarrierSplit::Near,
            Stage::Barrier { barrier, .. } if barrier.prefix_state().is_some() => BarrierSplit::Prefix,
            Stage::Barrier { barrier, .. } if barrier.count_by_key().is_some() => BarrierSplit::Counted,
            Stage::Barrier { barrier, .. } if barrier.segment_matches().is_some() => BarrierSplit::Segments,
            _ => BarrierSplit::Whole,
        }
    }
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepPlan {
    /// Position of the step (0, 1, ...).
    pub index: usize,
    /// Parallel or global.
    pub kind: StepKind,
    /// First pipeline stage of the step.
    pub first_stage: usize,
    /// One past its last stage.
    pub end_stage: usize,
    /// The ids of its stages, for people reading the plan.
    pub stage_ids: Vec<String>,
    /// How many tasks it has.
    pub tasks: usize,
    /// A parallel step that also writes, per key bucket, the keys (or signatures) of the stage
    /// with this index (whose reduce or match step follows).
    #[serde(default)]
    pub sign_stage: Option<usize>,
    /// A parallel step after a reduce or cluster step: task `r` reads the documents task `r` of
    /// the signing step wrote, and its first stage applies the verdicts of the step before.
    #[serde(default)]
    pub input_by_rank: bool,
    /// About how many bytes of state one task of this step holds at the planned input (global
    /// and reduce steps; from the barriers' bytes per document and the estimated documents).
    #[serde(default)]
    pub state_estimate_bytes: Option<u64>,
}

impl StepPlan {
    /// `step 1 (global, 1 task): exact_dups, near_dups`.
    pub fn describe(&self) -> String {
        let kind = match self.kind {
            StepKind::Parallel => "parallel",
            StepKind::Global => "global",
            StepKind::Reduce => "reduce",
            StepKind::Match => "match",
            StepKind::Cluster => "cluster",
        };
        let tasks = if self.tasks == 1 { "1 task".to_string() } else { format!("{} tasks", self.tasks) };
        format!("step {} ({kind}, {tasks}): {}", self.index, self.stage_ids.join(", "))
    }
}

/// One unit of input (a file or a byte range of one) and the task that reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedShard {
    /// The source stage that reads it.
    pub stage: usize,
    /// The file.
    pub path: PathBuf,
    /// A byte range of the file, if the source splits files.
    pub range: Option<(u64, u64)>,
    /// The line at which the range starts.
    pub first_line: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// The task of step 0 that reads it.
    pub rank: usize,
}

impl PlannedShard {
    /// As the runner's [`millstone_core::Shard`].
    pub fn shard(&self) -> millstone_core::Shard {
        millstone_core::Shard {
            path: self.path.clone(),
            range: self.range.map(|(a, b)| a..b),
            first_line: self.first_line,
        }
    }
}

/// The plan of a distributed run, as stored in `<work>/plan.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkPlan {
    /// File format version.
    pub format: u32,
    /// The millstone version that planned it (tasks of another version refuse to run).
    pub millstone_version: String,
    /// The pipeline file, absolute.
    pub pipeline: PathBuf,
    /// Its text when planned; tasks build from this and refuse when the file changed since.
    pub pipeline_text: String,
    /// `--set` overrides.
    pub overrides: Vec<String>,
    /// `--threads` per task.
    pub threads: Option<usize>,
    /// Hash of the resolved configuration.
    pub config_hash: String,
    /// The working directory relative paths are resolved against.
    pub cwd: PathBuf,
    /// The work folder, absolute.
    pub work: PathBuf,
    /// Tasks of each parallel step.
    pub tasks: usize,
    /// Largest document bytes per chunk file between steps.
    pub chunk_bytes: u64,
    /// The steps, in order.
    pub steps: Vec<StepPlan>,
    /// Every input shard, in pipeline order, with its task.
    pub shards: Vec<PlannedShard>,
    /// Every input file when planned.
    pub inputs: Vec<InputPrint>,
    /// Documents in the input, estimated from a sample of the first shard (an upper bound: it
    /// counts text bytes only, so markup and JSON overhead make it larger).
    #[serde(default)]
    pub estimated_docs: u64,
    /// The pipeline's `storage:` settings as resolved when planned (no credentials: those come
    /// from each task's environment); every process that loads the plan opens stores with them.
    #[serde(default)]
    pub storage: millstone_storage::StorageSettings,
}

/// What `plan` needs besides the pipeline.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Tasks per parallel step.
    pub tasks: usize,
    /// The work folder (shared by every node that runs tasks).
    pub work: PathBuf,
    /// `--set` overrides.
    pub overrides: Vec<String>,
    /// `--threads` per task.
    pub threads: Option<usize>,
    /// Replace existing outputs, and discard the work of another plan in `work`.
    pub overwrite: bool,
    /// Largest document bytes per chunk file between steps.
    pub chunk_bytes: u64,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            tasks: 1,
            work: PathBuf::from("work"),
            overrides: Vec::new(),
            threads: None,
            overwrite: false,
            chunk_bytes: 64 << 20,
        }
    }
}

fn absolute(path: &Path) -> Result<PathBuf, Error> {
    std::path::absolute(path).map_err(|e| Error::io(path, e))
}

/// The steps of a pipeline whose stages have these kinds, splits and ids. A keep-first-by-key
/// barrier after a parallel step becomes a reduce step (the parallel step before it writes the
/// keys) and a parallel step that starts by applying the verdicts; a near-duplicate barrier
/// likewise, with a match and a cluster step in place of the reduce; a prefix-state barrier
/// needs no step between (the parallel step before writes each task's state, the next one
/// starts from the union of the earlier tasks'); any other barrier joins a global step.
pub(crate) fn compile_steps(
    kinds: &[StageKind],
    splits: &[BarrierSplit],
    ids: &[String],
    tasks: usize,
) -> Vec<StepPlan> {
    let mut steps: Vec<StepPlan> = Vec::new();
    let new_step = |steps: &Vec<StepPlan>, kind, index: usize, tasks| StepPlan {
        index: steps.len(),
        kind,
        first_stage: index,
        end_stage: index + 1,
        stage_ids: vec![ids[index].clone()],
        tasks,
        sign_stage: None,
        input_by_rank: false,
        state_estimate_bytes: None,
    };
    for (index, kind) in kinds.iter().enumerate() {
        let last_kind = steps.last().map(|s| s.kind);
        if splits[index] != BarrierSplit::Whole && last_kind == Some(StepKind::Parallel) {
            steps.last_mut().expect("a step").sign_stage = Some(index);
            match splits[index] {
                BarrierSplit::Keyed | BarrierSplit::Counted | BarrierSplit::Segments => {
                    let reduce = new_step(&steps, StepKind::Reduce, index, tasks);
                    steps.push(reduce);
                }
                BarrierSplit::Near => {
                    let matching = new_step(&steps, StepKind::Match, index, tasks);
                    steps.push(matching);
                    let cluster = new_step(&steps, StepKind::Cluster, index, 1);
                    steps.push(cluster);
                }
                BarrierSplit::Prefix | BarrierSplit::Whole => {}
            }
            let apply =
                StepPlan { input_by_rank: true, ..new_step(&steps, StepKind::Parallel, index, tasks) };
            steps.push(apply);
            continue;
        }
        let step_kind = if *kind == StageKind::Barrier { StepKind::Global } else { StepKind::Parallel };
        match steps.last_mut() {
            Some(last) if last.kind == step_kind => {
                last.end_stage = index + 1;
                last.stage_ids.push(ids[index].clone());
            }
            _ => {
                let step =
                    new_step(&steps, step_kind, index, if step_kind == StepKind::Global { 1 } else { tasks });
                steps.push(step);
            }
        }
    }
    steps
}

/// The task of each of `sizes.len()` consecutive shards: contiguous runs of about equal bytes
/// (a shard goes to the task its byte midpoint falls in).
pub(crate) fn assign(sizes: &[u64], tasks: usize) -> Vec<usize> {
    let total: u128 = sizes.iter().map(|&s| s as u128).sum();
    let mut before: u128 = 0;
    sizes
        .iter()
        .enumerate()
        .map(|(k, &size)| {
            let rank = if total == 0 {
                k * tasks / sizes.len()
            } else {
                ((2 * before + size as u128) * tasks as u128 / (2 * total)) as usize
            };
            before += size as u128;
            rank.min(tasks - 1)
        })
        .collect()
}

/// The pieces `0..n` gives to each of `tasks` tasks, in order: task `r` gets
/// `r*n/tasks .. (r+1)*n/tasks`.
pub(crate) fn slice_for(n: usize, tasks: usize, rank: usize) -> std::ops::Range<usize> {
    rank * n / tasks..(rank + 1) * n / tasks
}

/// Plans `pipeline` as `options.tasks` tasks per parallel step and writes `<work>/plan.json`.
///
/// Planning twice with the same pipeline, inputs and options keeps the existing plan (and so
/// every finished task). A different plan in a work folder with finished tasks is refused
/// unless `overwrite` is set, which discards that work.
pub fn plan(pipeline: &Path, registry: &Registry, options: &PlanOptions) -> Result<WorkPlan, Error> {
    if options.tasks == 0 {
        return Err(Error::Usage("--tasks must be at least 1".into()));
    }
    let pipeline = absolute(pipeline)?;
    let text = std::fs::read_to_string(&pipeline).map_err(|e| Error::io(&pipeline, e))?;
    // Outputs of this very plan exist when it is resubmitted: they are checked only for a new plan.
    let mut load = LoadOptions {
        overrides: options.overrides.clone(),
        threads: options.threads,
        overwrite: true,
        shard: None,
        part: Some((0, options.tasks)),
    };
    let label = pipeline.display().to_string();
    let built = parse_plan(&label, &text, registry, &load)?;
    let kinds: Vec<StageKind> = built.stages.iter().map(|s| s.stage.kind()).collect();
    let splits: Vec<BarrierSplit> = built.stages.iter().map(|s| BarrierSplit::of(&s.stage)).collect();
    let ids: Vec<String> = built.stages.iter().map(|s| s.id.clone()).collect();
    let mut steps = compile_steps(&kinds, &splits, &ids, options.tasks);

    let mut listed = Vec::new();
    for (index, planned) in built.stages.iter().enumerate() {
        if let Stage::Source(source) = &planned.stage {
            let shards = source.shards().map_err(|error| {
                Error::Run(millstone_runner::Error::Stage { stage: planned.id.clone(), error })
            })?;
            for shard in shards {
                let bytes = match &shard.range {
                    Some(r) => r.end - r.start,
                    None => std::fs::metadata(&shard.path).map(|m| m.len()).unwrap_or(0),
                };
                listed.push((index, shard, bytes));
            }
        }
    }
    let ranks = assign(&listed.iter().map(|(_, _, b)| *b).collect::<Vec<_>>(), options.tasks);
    let shards: Vec<PlannedShard> = listed
        .into_iter()
        .zip(ranks)
        .map(|((stage, shard, bytes), rank)| PlannedShard {
            stage,
            path: shard.path,
            range: shard.range.map(|r| (r.start, r.end)),
            first_line: shard.first_line,
            bytes,
            rank,
        })
        .collect();
    let estimated_docs = estimate_docs(&built, &shards);
    for step in &mut steps {
        step.state_estimate_bytes = match step.kind {
            StepKind::Parallel => None,
            // Key records (hash, rank, position, id index) and the id, for one bucket.
            StepKind::Reduce => Some(estimated_docs.div_ceil(step.tasks as u64) * 72),
            // Band-key entries (key, band, ordinal) of one bucket.
            StepKind::Match => {
                let bands = match &built.stages[step.first_stage].stage {
                    Stage::Barrier { barrier, .. } => barrier.near_duplicates().map_or(0, |n| n.bands()),
                    _ => 0,
                } as u64;
                Some(estimated_docs.div_ceil(step.tasks as u64) * bands * 24)
            }
            // At most: every document matched (two edge ends, a node, a union-find slot and a
            // verdict with a short id).
            StepKind::Cluster => Some(estimated_docs * 72),
            StepKind::Global => {
                let per_doc: u64 = built.stages[step.first_stage..step.end_stage]
                    .iter()
                    .filter_map(|s| match &s.stage {
                        Stage::Barrier { barrier, .. } => barrier.state_bytes_per_document(),
                        _ => None,
                    })
                    .sum();
                Some(per_doc * estimated_docs)
            }
        };
    }
    let mut files: Vec<&PathBuf> = shards.iter().map(|s| &s.path).collect();
    files.sort();
    files.dedup();
    let inputs =
        files.into_iter().map(|p| input_print(p).map_err(|e| Error::io(p, e))).collect::<Result<_, _>>()?;

    let work = absolute(&options.work)?;
    let planned = WorkPlan {
        format: FORMAT,
        millstone_version: env!("CARGO_PKG_VERSION").to_string(),
        pipeline,
        pipeline_text: text,
        overrides: options.overrides.clone(),
        threads: options.threads,
        config_hash: built.config_hash,
        cwd: std::env::current_dir().map_err(|e| Error::io(".", e))?,
        work: work.clone(),
        tasks: options.tasks,
        chunk_bytes: options.chunk_bytes.max(1),
        steps,
        shards,
        inputs,
        estimated_docs,
        storage: millstone_storage::current(),
    };
    let file = work.join(PLAN_FILE);
    if file.exists() {
        if let Ok(existing) = WorkPlan::load(&file) {
            if existing == planned {
                return Ok(existing);
            }
        }
        if !options.overwrite {
            load.overwrite = false;
            parse_plan(&label, &planned.pipeline_text, registry, &load)?;
        }
        let finished = work.join("done");
        if finished.exists() && !options.overwrite {
            return Err(Error::Usage(format!(
                "{} holds another plan with finished tasks; pass --overwrite to discard them, or use another --work folder",
                work.display()
            )));
        }
        for dir in ["done", "failed", "data", "keys", "verdicts"] {
            let dir = work.join(dir);
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            }
        }
    } else if !options.overwrite {
        load.overwrite = false;
        parse_plan(&label, &planned.pipeline_text, registry, &load)?;
    }
    planned.save(&file)?;
    Ok(planned)
}

impl WorkPlan {
    /// Reads a plan file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let plan: WorkPlan = serde_json::from_str(&text)
            .map_err(|e| Error::BadPlan { path: path.to_path_buf(), message: e.to_string() })?;
        if plan.format != FORMAT {
            return Err(Error::BadPlan {
                path: path.to_path_buf(),
                message: format!("format {} (this millstone reads format {FORMAT})", plan.format),
            });
        }
        millstone_storage::configure(&plan.storage);
        Ok(plan)
    }

    /// Writes the plan atomically.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(self).expect("a plan serialises") + "\n";
        write_atomic(path, text.as_bytes())
    }

    /// The plan file's path.
    pub fn file(&self) -> PathBuf {
        self.work.join(PLAN_FILE)
    }

    /// The marker of a finished task.
    pub fn marker_path(&self, step: usize, rank: usize) -> PathBuf {
        self.work.join("done").join(format!("step-{step}")).join(format!("{rank:05}.json"))
    }

    /// The record of a failed task.
    pub fn failure_path(&self, step: usize, rank: usize) -> PathBuf {
        self.work.join("failed").join(format!("step-{step}")).join(format!("{rank:05}.json"))
    }

    /// Where a step's tasks put the keys they computed, one file per task and bucket.
    pub fn keys_dir(&self, step: usize) -> PathBuf {
        self.work.join("keys").join(format!("step-{step}"))
    }

    /// Where a reduce step's tasks put their verdicts, one file per bucket and task.
    pub fn verdicts_dir(&self, step: usize) -> PathBuf {
        self.work.join("verdicts").join(format!("step-{step}"))
    }

    /// Where a step's tasks put their chunk files.
    pub fn data_dir(&self, step: usize) -> PathBuf {
        self.work.join("data").join(format!("step-{step}"))
    }

    /// Where the engines put task logs.
    pub fn log_dir(&self, step: usize) -> PathBuf {
        self.work.join("logs").join(format!("step-{step}"))
    }

    /// Bytes of input.
    pub fn input_bytes(&self) -> u64 {
        self.shards.iter().map(|s| s.bytes).sum()
    }

    /// Lines for `millstone plan`: inputs, steps and their tasks.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "plan {}: {} input files, {} shards, {:.1} MB, {} tasks per parallel step\n",
            self.file().display(),
            self.inputs.len(),
            self.shards.len(),
            self.input_bytes() as f64 / 1e6,
            self.tasks
        );
        for step in &self.steps {
            s.push_str("  ");
            s.push_str(&step.describe());
            s.push('\n');
            if let Some(bytes) = step.state_estimate_bytes {
                s.push_str(&format!(
                    "    state: about {:.0} MB per task for ~{} documents (an estimate; the run report's retained_bytes_peak is the measure)\n",
                    bytes as f64 / 1e6,
                    self.estimated_docs
                ));
            }
            match step.kind {
                StepKind::Global => s.push_str(
                    "    one task sees every document in input order, so its barriers decide as in one process\n",
                ),
                StepKind::Reduce => s.push_str(
                    "    task k matches the keys of bucket k (the first document of each, or each key's total);\n    the next step applies the verdicts where the documents are\n",
                ),
                StepKind::Match => s.push_str(
                    "    task k compares the documents that share a band key of bucket k (sketches read by offset)\n",
                ),
                StepKind::Cluster => s.push_str(
                    "    one task clusters the matched documents only (an upper bound above: every document matched);\n    the next step applies the verdicts where the documents are\n",
                ),
                StepKind::Parallel => {}
            }
        }
        s
    }
}

/// Documents in the whole input, estimated by reading up to 2,000 documents of the first
/// shard: documents per text byte, times the input bytes.
fn estimate_docs(built: &millstone_core::Plan, shards: &[PlannedShard]) -> u64 {
    let Some(first) = shards.first() else { return 0 };
    let Some(Stage::Source(source)) = built.stages.get(first.stage).map(|s| &s.stage) else { return 0 };
    let (mut docs, mut text_bytes) = (0u64, 0u64);
    let _ = source.read(&first.shard(), &mut |item| {
        if let millstone_core::SourceItem::Doc(doc) = item {
            docs += 1;
            text_bytes += doc.text.len() as u64;
        }
        if docs >= 2000 {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    });
    if docs == 0 {
        return 0;
    }
    let total: u64 = shards.iter().map(|s| s.bytes).sum();
    ((total as f64) * docs as f64 / text_bytes.max(1) as f64).ceil() as u64
}

/// Writes `bytes` to `path` under a temporary name, then renames it into place.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write;
    let mut file = millstone_core::AtomicFile::create(path, true).map_err(|e| Error::io(path, e))?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))?;
    file.commit().map(drop).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn steps_cut_at_barriers() {
        use StageKind::*;
        let kinds = [Source, Transform, Barrier, Barrier, Transform, Sink, Barrier];
        let ids: Vec<String> = (0..kinds.len()).map(|i| format!("s{i}")).collect();
        let steps = compile_steps(&kinds, &[BarrierSplit::Whole; 7], &ids, 4);
        let shape: Vec<(StepKind, usize, usize, usize)> =
            steps.iter().map(|s| (s.kind, s.first_stage, s.end_stage, s.tasks)).collect();
        assert_eq!(
            shape,
            [
                (StepKind::Parallel, 0, 2, 4),
                (StepKind::Global, 2, 4, 1),
                (StepKind::Parallel, 4, 6, 4),
                (StepKind::Global, 6, 7, 1)
            ]
        );
    }

    #[test]
    fn a_keyed_barrier_after_a_parallel_step_becomes_sign_reduce_apply() {
        use StageKind::*;
        let kinds = [Source, Transform, Barrier, Barrier, Sink];
        use BarrierSplit::{Keyed, Near, Whole};
        let keyed = [Whole, Whole, Keyed, Whole, Whole];
        let ids: Vec<String> = (0..kinds.len()).map(|i| format!("s{i}")).collect();
        let steps = compile_steps(&kinds, &keyed, &ids, 3);
        let shape: Vec<(StepKind, usize, usize, usize, Option<usize>, bool)> = steps
            .iter()
            .map(|s| (s.kind, s.first_stage, s.end_stage, s.tasks, s.sign_stage, s.input_by_rank))
            .collect();
        assert_eq!(
            shape,
            [
                (StepKind::Parallel, 0, 2, 3, Some(2), false),
                (StepKind::Reduce, 2, 3, 3, None, false),
                (StepKind::Parallel, 2, 3, 3, None, true),
                (StepKind::Global, 3, 4, 1, None, false),
                (StepKind::Parallel, 4, 5, 3, None, false),
            ]
        );
        // After a global step a keyed barrier joins it: its documents are all in one task.
        let kinds = [Source, Barrier, Barrier];
        let steps = compile_steps(&kinds, &[Whole, Whole, Keyed], &ids[..3], 3);
        assert_eq!(steps.iter().map(|s| s.kind).collect::<Vec<_>>(), [StepKind::Parallel, StepKind::Global]);
        // A prefix-state barrier: the step before writes states, the next applies.
        let kinds = [Source, Barrier, Sink];
        let steps = compile_steps(&kinds, &[Whole, BarrierSplit::Prefix, Whole], &ids[..3], 3);
        let shape: Vec<(StepKind, Option<usize>, bool)> =
            steps.iter().map(|s| (s.kind, s.sign_stage, s.input_by_rank)).collect();
        assert_eq!(shape, [(StepKind::Parallel, Some(1), false), (StepKind::Parallel, None, true)]);
        // A near-duplicate barrier: sign, match (N tasks), cluster (1 task), apply.
        let steps = compile_steps(&kinds, &[Whole, Near, Whole], &ids[..3], 3);
        let shape: Vec<(StepKind, usize, Option<usize>, bool)> =
            steps.iter().map(|s| (s.kind, s.tasks, s.sign_stage, s.input_by_rank)).collect();
        assert_eq!(
            shape,
            [
                (StepKind::Parallel, 3, Some(1), false),
                (StepKind::Match, 3, None, false),
                (StepKind::Cluster, 1, None, false),
                (StepKind::Parallel, 3, None, true),
            ]
        );
    }

    proptest! {
        #[test]
        fn assignment_is_contiguous_complete_and_balanced(
            sizes in proptest::collection::vec(0u64..1000, 1..60),
            tasks in 1usize..10,
        ) {
            let ranks = assign(&sizes, tasks);
            prop_assert_eq!(ranks.len(), sizes.len());
            prop_assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "contiguous: {:?}", ranks);
            prop_assert!(ranks.iter().all(|&r| r < tasks));
            // No task holds more than its share plus one shard.
            let total: u64 = sizes.iter().sum();
            let largest = sizes.iter().copied().max().unwrap_or(0);
            for rank in 0..tasks {
                let bytes: u64 = sizes.iter().zip(&ranks).filter(|(_, &r)| r == rank).map(|(s, _)| s).sum();
                prop_assert!(bytes <= total / tasks as u64 + 2 * largest + 1, "rank {} has {} of {}", rank, bytes, total);
            }
        }

        #[test]
        fn slices_partition_in_order(n in 0usize..100, tasks in 1usize..12) {
            let all: Vec<usize> = (0..tasks).flat_map(|r| slice_for(n, tasks, r)).collect();
            prop_assert_eq!(all, (0..n).collect::<Vec<_>>());
        }
    }
}
