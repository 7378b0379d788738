//! One task: a slice of the pipeline run by the ordinary runner over the task's share of the
//! input, with a marker written after its outputs are committed.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use millstone_config::{parse_plan, LoadOptions};
use millstone_core::{
    CountByKey, ErrorPolicy, KeepFirstByKey, NearDuplicates, Plan, PlannedStage, PrefixState, Registry,
    SegmentMatches, Stage,
};
use millstone_runner::{run, RunOptions, RunReport};
use serde::{Deserialize, Serialize};

use crate::counted::{load_totals, run_count_reduce, CountSink, COUNT_ID};
use crate::error::Error;
use crate::fingerprint::{input_print, output_sum, OutputSum};
use crate::intermediate::{AssignedSource, ChunkSink, ChunkSource, INPUT_ID, OUTPUT_ID, TYPE_NAME};
use crate::keyed::{key_file, load_verdicts, run_reduce, KeySink, KEYS_ID};
use crate::near::{load_near_verdicts, run_cluster, run_match, NearSink, SignFiles, SIGN_ID};
use crate::segments::{load_segment_matches, run_segment_reduce, SegmentSink, SEGMENTS_ID};
use crate::work::{slice_for, write_atomic, BarrierSplit, StepKind, WorkPlan};

/// What a finished task recorded (`done/step-<s>/<rank>.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskMarker {
    /// The plan's configuration hash.
    pub config_hash: String,
    /// The step.
    pub step: usize,
    /// The rank.
    pub rank: usize,
    /// Chunk files for the next step, in order.
    pub chunks: Vec<PathBuf>,
    /// Every output the task committed (chunks included), with checksums.
    pub outputs: Vec<OutputSum>,
    /// Peak resident memory of the task's process, in bytes (0 where unknown).
    pub peak_rss_bytes: u64,
    /// The task's run report.
    pub report: serde_json::Value,
}

/// What a failed task recorded (`failed/step-<s>/<rank>.json`); removed when the task succeeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskFailure {
    /// The error.
    pub error: String,
    /// Where the task's output went, if the engine said.
    pub log: Option<PathBuf>,
}

/// How a task runs.
#[derive(Debug, Clone, Default)]
pub struct TaskOptions {
    /// Set to stop the task (nothing is committed, no marker is written).
    pub interrupt: Option<Arc<AtomicBool>>,
    /// Show a progress bar.
    pub progress: bool,
    /// The task's log file, recorded if it fails (so `status` can point at it).
    pub log: Option<PathBuf>,
}

/// What [`run_task`] did.
#[derive(Debug)]
pub enum TaskOutcome {
    /// The task ran; its report.
    Ran(Box<RunReport>),
    /// A reduce, match or cluster task wrote its verdicts.
    Matched,
    /// A valid marker showed the task finished before; nothing was done.
    AlreadyDone,
}

impl TaskMarker {
    /// Reads the marker of `step`/`rank`, if there is one.
    pub fn load(plan: &WorkPlan, step: usize, rank: usize) -> Option<TaskMarker> {
        let text = std::fs::read_to_string(plan.marker_path(step, rank)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The markers of every task of `step`, in rank order, checked by output size; otherwise
    /// the ranks without a valid marker.
    pub fn finished(plan: &WorkPlan, step: usize) -> Result<Vec<TaskMarker>, Vec<usize>> {
        let mut markers = Vec::new();
        let mut missing = Vec::new();
        for rank in 0..plan.steps[step].tasks {
            match TaskMarker::load(plan, step, rank) {
                Some(marker) if marker.holds(plan, false).is_ok() => markers.push(marker),
                _ => missing.push(rank),
            }
        }
        if missing.is_empty() {
            Ok(markers)
        } else {
            Err(missing)
        }
    }

    /// Writes this marker (temporary name, then rename): the last act of a finished task.
    pub(crate) fn save(&self, plan: &WorkPlan) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(self).expect("a marker serialises") + "\n";
        write_atomic(&plan.marker_path(self.step, self.rank), text.as_bytes())
    }

    /// Whether this marker belongs to `plan` and its outputs are all there, unchanged in size
    /// (`full`: and in content).
    pub fn holds(&self, plan: &WorkPlan, full: bool) -> Result<(), String> {
        if self.config_hash != plan.config_hash {
            return Err("the marker is from another configuration".into());
        }
        for output in &self.outputs {
            let now = if full {
                output_sum(&output.path).ok()
            } else {
                millstone_storage::file::total_size(&output.path)
                    .ok()
                    .map(|size| OutputSum { size, ..output.clone() })
            };
            match now {
                Some(now) if now == *output => {}
                Some(_) => return Err(format!("output {} changed", output.path.display())),
                None => return Err(format!("output {} is missing", output.path.display())),
            }
        }
        Ok(())
    }
}

fn check_request(plan: &WorkPlan, step: usize, rank: usize) -> Result<(), Error> {
    let Some(planned) = plan.steps.get(step) else {
        return Err(Error::Usage(format!(
            "step {step} does not exist: the plan has steps 0..{}",
            plan.steps.len()
        )));
    };
    if rank >= planned.tasks {
        return Err(Error::Usage(format!(
            "step {step} has ranks 0..{}; {rank} does not exist",
            planned.tasks
        )));
    }
    if plan.millstone_version != env!("CARGO_PKG_VERSION") {
        return Err(Error::Stale(format!(
            "planned by millstone {}, this is {}",
            plan.millstone_version,
            env!("CARGO_PKG_VERSION")
        )));
    }
    match std::fs::read_to_string(&plan.pipeline) {
        Ok(text) if text != plan.pipeline_text => {
            return Err(Error::Stale(format!("{} changed since it was planned", plan.pipeline.display())))
        }
        _ => {}
    }
    Ok(())
}

/// `0,3-5` for ranks 0, 3, 4, 5.
pub(crate) fn ranges(ranks: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ranks.len() {
        let start = ranks[i];
        while i + 1 < ranks.len() && ranks[i + 1] == ranks[i] + 1 {
            i += 1;
        }
        parts.push(if ranks[i] == start { start.to_string() } else { format!("{start}-{}", ranks[i]) });
        i += 1;
    }
    parts.join(",")
}

/// The markers of every task of step `previous`, which `step` needs; otherwise a
/// [`Error::NotReady`] naming the ranks without one.
pub(crate) fn require_finished(
    plan: &WorkPlan,
    step: usize,
    previous: usize,
) -> Result<Vec<TaskMarker>, Error> {
    TaskMarker::finished(plan, previous).map_err(|missing| Error::NotReady {
        step,
        previous,
        missing: ranges(&missing),
    })
}

/// The chunks the previous step left for `step`, in order.
fn input_chunks(plan: &WorkPlan, step: usize) -> Result<Vec<PathBuf>, Error> {
    let previous = step - 1;
    let markers = require_finished(plan, step, previous)?;
    Ok(markers.into_iter().flat_map(|m| m.chunks).collect())
}

fn internal(id: &str, stage: Stage) -> PlannedStage {
    PlannedStage {
        id: id.to_string(),
        type_name: TYPE_NAME,
        on_error: ErrorPolicy::Fail,
        keep_dropped: false,
        stage,
        notes: Vec::new(),
    }
}

/// Builds the runner plan of one task: its stages of the pipeline, its input and, unless it is
/// the last step, a chunk writer for the next step.
fn task_plan(plan: &WorkPlan, step: usize, rank: usize, registry: &Registry) -> Result<Plan, Error> {
    let planned = &plan.steps[step];
    let parallel = planned.kind == StepKind::Parallel;
    let built = build(plan, registry, parallel.then_some((rank, planned.tasks)))?;
    let Plan { name, runtime, stages: all, config_hash } = built;
    let mut stages = Vec::new();
    if planned.input_by_rank {
        // After a reduce or cluster step: this rank's documents as the signing step left them.
        let before = plan.steps[..step]
            .iter()
            .rev()
            .find(|s| s.kind == StepKind::Parallel)
            .expect("a signing step comes first");
        let marker = TaskMarker::load(plan, before.index, rank)
            .filter(|m| m.holds(plan, false).is_ok())
            .ok_or_else(|| Error::NotReady { step, previous: before.index, missing: rank.to_string() })?;
        stages.push(internal(INPUT_ID, Stage::Source(Box::new(ChunkSource { chunks: marker.chunks }))));
    } else if step > 0 {
        let chunks = input_chunks(plan, step)?;
        let mine =
            if parallel { chunks[slice_for(chunks.len(), planned.tasks, rank)].to_vec() } else { chunks };
        stages.push(internal(INPUT_ID, Stage::Source(Box::new(ChunkSource { chunks: mine }))));
    }
    // The barrier that applies the verdicts, and whether it still needs its prepare step
    // (state and segment barriers do; the others get all they need from the verdicts).
    let mut apply = if planned.input_by_rank {
        let index = planned.first_stage;
        let split = BarrierSplit::of(&all[index].stage);
        let barrier = match split {
            BarrierSplit::Near => near_stage(&all, index)?.apply(load_near_verdicts(plan, step - 1, rank)?),
            BarrierSplit::Prefix => {
                require_finished(plan, step, step - 1)?;
                let earlier: Vec<PathBuf> = (0..rank).map(|r| state_file(plan, step - 1, r)).collect();
                prefix_stage(&all, index)?.resume(&earlier).map_err(|error| {
                    Error::Run(millstone_runner::Error::Stage { stage: all[index].id.clone(), error })
                })?
            }
            BarrierSplit::Counted => {
                let (groups, counts) = load_totals(plan, step - 1)?;
                counted_stage(&all, index)?.apply(groups, counts)
            }
            BarrierSplit::Segments => {
                segments_stage(&all, index)?.apply(load_segment_matches(plan, step - 1, rank)?)
            }
            BarrierSplit::Keyed | BarrierSplit::Whole => {
                keyed_stage(&all, index)?.apply(load_verdicts(plan, step - 1, rank)?)
            }
        };
        Some((barrier, matches!(split, BarrierSplit::Prefix | BarrierSplit::Segments)))
    } else {
        None
    };
    let signer: Option<PlannedStage> = match planned.sign_stage {
        None => None,
        Some(k) => {
            let buckets = plan.steps[step + 1].tasks;
            Some(match BarrierSplit::of(&all[k].stage) {
                BarrierSplit::Near => {
                    let files = SignFiles::new(plan, step, rank, buckets);
                    internal(SIGN_ID, Stage::Sink(Box::new(NearSink::new(near_stage(&all, k)?, files))))
                }
                BarrierSplit::Segments => internal(
                    SEGMENTS_ID,
                    Stage::Sink(Box::new(SegmentSink::new(
                        segments_stage(&all, k)?,
                        plan,
                        step,
                        rank,
                        buckets,
                    ))),
                ),
                BarrierSplit::Counted => internal(
                    COUNT_ID,
                    Stage::Sink(Box::new(CountSink::new(counted_stage(&all, k)?, plan, step, rank, buckets))),
                ),
                BarrierSplit::Prefix => internal(
                    STATE_ID,
                    Stage::Sink(prefix_stage(&all, k)?.state_sink(state_file(plan, step, rank))),
                ),
                _ => {
                    let files = (0..buckets).map(|b| key_file(plan, step, b, rank)).collect();
                    internal(KEYS_ID, Stage::Sink(Box::new(KeySink::new(keyed_stage(&all, k)?, files))))
                }
            })
        }
    };
    for (index, mut stage) in all.into_iter().enumerate() {
        if !(planned.first_stage..planned.end_stage).contains(&index) {
            continue;
        }
        match stage.stage {
            Stage::Source(inner) => {
                let shards = plan
                    .shards
                    .iter()
                    .filter(|s| s.stage == index && s.rank == rank)
                    .map(|s| s.shard())
                    .collect();
                stage.stage = Stage::Source(Box::new(AssignedSource { inner, shards }));
            }
            Stage::Barrier { prepare, .. } if index == planned.first_stage && apply.is_some() => {
                let (barrier, keep_prepare) = apply.take().expect("checked");
                stage.stage = Stage::Barrier { prepare: prepare.filter(|_| keep_prepare), barrier };
            }
            other => stage.stage = other,
        }
        stages.push(stage);
    }
    if step + 1 < plan.steps.len() {
        let sink = ChunkSink::new(plan.data_dir(step), rank, plan.chunk_bytes);
        stages.push(internal(OUTPUT_ID, Stage::Sink(Box::new(sink))));
    }
    stages.extend(signer);
    Ok(Plan { name, runtime, stages, config_hash })
}

/// The distributed form `form` takes from the barrier of stage `index`, which the plan says it
/// has; a stage that no longer has it (`what`: how it was planned to run) makes the plan stale.
fn split_form<T: ?Sized>(
    stages: &[PlannedStage],
    index: usize,
    form: impl Fn(&dyn millstone_core::Barrier) -> Option<Arc<T>>,
    what: &str,
) -> Result<Arc<T>, Error> {
    match stages.get(index).map(|s| &s.stage) {
        Some(Stage::Barrier { barrier, .. }) => form(barrier.as_ref()),
        _ => None,
    }
    .ok_or_else(|| Error::Stale(format!("stage {index} no longer {what}")))
}

/// The keep-first-by-key form of stage `index`, which the plan says it has.
fn keyed_stage(stages: &[PlannedStage], index: usize) -> Result<Arc<dyn KeepFirstByKey>, Error> {
    split_form(stages, index, |b| b.keep_first_by_key(), "runs as keep-first-by-key")
}

/// Stage id of the writer of a prefix-state barrier's state.
const STATE_ID: &str = ":step-state";

/// The state file task `rank` of `step` writes for a prefix-state barrier.
fn state_file(plan: &WorkPlan, step: usize, rank: usize) -> PathBuf {
    plan.keys_dir(step).join(format!("r{rank:05}.state"))
}

/// The segment form of stage `index`, which the plan says it has.
fn segments_stage(stages: &[PlannedStage], index: usize) -> Result<Arc<dyn SegmentMatches>, Error> {
    split_form(stages, index, |b| b.segment_matches(), "runs as segment matching")
}

/// The counting form of stage `index`, which the plan says it has.
fn counted_stage(stages: &[PlannedStage], index: usize) -> Result<Arc<dyn CountByKey>, Error> {
    split_form(stages, index, |b| b.count_by_key(), "runs as key counting")
}

/// The prefix-state form of stage `index`, which the plan says it has.
fn prefix_stage(stages: &[PlannedStage], index: usize) -> Result<Arc<dyn PrefixState>, Error> {
    split_form(stages, index, |b| b.prefix_state(), "runs from merged states")
}

/// The near-duplicate form of stage `index`, which the plan says it has.
fn near_stage(stages: &[PlannedStage], index: usize) -> Result<Arc<dyn NearDuplicates>, Error> {
    split_form(stages, index, |b| b.near_duplicates(), "runs as near-duplicate matching")
}

/// The pipeline as planned, built for one task (`part`: rank and tasks of a parallel step),
/// refused if it no longer resolves to the planned configuration.
fn build(plan: &WorkPlan, registry: &Registry, part: Option<(usize, usize)>) -> Result<Plan, Error> {
    let load = LoadOptions {
        overrides: plan.overrides.clone(),
        threads: plan.threads,
        overwrite: true,
        shard: None,
        part,
    };
    let built = parse_plan(&plan.pipeline.display().to_string(), &plan.pipeline_text, registry, &load)?;
    if built.config_hash != plan.config_hash {
        return Err(Error::Stale("the pipeline resolves to another configuration hash".into()));
    }
    Ok(built)
}

/// Runs task `rank` of reduce, match or cluster step `step`.
fn reduce_task(plan: &WorkPlan, step: usize, rank: usize, registry: &Registry) -> Result<(), Error> {
    let built = build(plan, registry, None)?;
    let index = plan.steps[step].first_stage;
    let stage = &built.stages[index];
    let names = (stage.id.as_str(), stage.type_name);
    match plan.steps[step].kind {
        StepKind::Match => run_match(plan, step, rank, near_stage(&built.stages, index)?.as_ref(), names),
        StepKind::Cluster => run_cluster(plan, step, near_stage(&built.stages, index)?.as_ref(), names),
        _ if BarrierSplit::of(&stage.stage) == BarrierSplit::Segments => {
            run_segment_reduce(plan, step, rank, segments_stage(&built.stages, index)?.as_ref(), names)
        }
        _ if BarrierSplit::of(&stage.stage) == BarrierSplit::Counted => {
            run_count_reduce(plan, step, rank, counted_stage(&built.stages, index)?.as_ref(), names)
        }
        _ => run_reduce(plan, step, rank, keyed_stage(&built.stages, index)?.as_ref(), names),
    }
}

/// Checks that the input files of this task are as planned.
fn check_inputs(plan: &WorkPlan, step: usize, rank: usize) -> Result<(), Error> {
    if step != 0 {
        return Ok(());
    }
    let mine: std::collections::BTreeSet<&Path> =
        plan.shards.iter().filter(|s| s.rank == rank).map(|s| s.path.as_path()).collect();
    for print in plan.inputs.iter().filter(|p| mine.contains(p.path.as_path())) {
        match input_print(&print.path) {
            Ok(now) if now == *print => {}
            Ok(_) => {
                return Err(Error::Stale(format!(
                    "input {} changed since it was planned",
                    print.path.display()
                )))
            }
            Err(e) => return Err(Error::Stale(format!("input {} is gone ({e})", print.path.display()))),
        }
    }
    Ok(())
}

/// Runs task `rank` of `step`, or returns [`TaskOutcome::AlreadyDone`] when its marker (with
/// full output checksums) shows it finished. Relative paths of the pipeline resolve against the
/// current directory, which should be the plan's `cwd`.
pub fn run_task(
    plan: &WorkPlan,
    step: usize,
    rank: usize,
    registry: &Registry,
    options: &TaskOptions,
) -> Result<TaskOutcome, Error> {
    check_request(plan, step, rank)?;
    if let Some(marker) = TaskMarker::load(plan, step, rank) {
        if marker.holds(plan, true).is_ok() {
            return Ok(TaskOutcome::AlreadyDone);
        }
        // A marker whose outputs changed is void from now on: if this attempt dies too, no later
        // step may take the old one for a finished task.
        let path = plan.marker_path(step, rank);
        std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    }
    if matches!(plan.steps[step].kind, StepKind::Reduce | StepKind::Match | StepKind::Cluster) {
        return match reduce_task(plan, step, rank, registry) {
            Ok(()) => {
                let _ = std::fs::remove_file(plan.failure_path(step, rank));
                Ok(TaskOutcome::Matched)
            }
            Err(error) => {
                record_failure(plan, step, rank, &error, options);
                Err(error)
            }
        };
    }
    let result = check_inputs(plan, step, rank).and_then(|()| {
        let task = task_plan(plan, step, rank, registry)?;
        let planned = &plan.steps[step];
        let run_options = RunOptions {
            shard: None,
            part: (planned.kind == StepKind::Parallel).then_some((rank, planned.tasks)),
            progress: options.progress,
            overwrite: true,
            interrupt: options.interrupt.clone(),
        };
        Ok(run(task, &run_options)?)
    });
    let report = match result {
        Ok(report) => report,
        Err(error) => {
            record_failure(plan, step, rank, &error, options);
            return Err(error);
        }
    };
    let chunks = report
        .stages
        .iter()
        .find(|s| s.id == OUTPUT_ID)
        .and_then(|s| s.output.as_ref())
        .map(|o| o.files.clone())
        .unwrap_or_default();
    let outputs = report
        .outputs()
        .iter()
        .map(|p| output_sum(p).map_err(|e| Error::io(p, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let marker = TaskMarker {
        config_hash: plan.config_hash.clone(),
        step,
        rank,
        chunks,
        outputs,
        peak_rss_bytes: millstone_runner::peak_rss_bytes(),
        report: serde_json::to_value(&report).expect("a report serialises"),
    };
    marker.save(plan)?;
    let _ = std::fs::remove_file(plan.failure_path(step, rank));
    Ok(TaskOutcome::Ran(Box::new(report)))
}

/// Leaves the failure record `status` shows (best effort: the task fails either way).
fn record_failure(plan: &WorkPlan, step: usize, rank: usize, error: &Error, options: &TaskOptions) {
    let failure = TaskFailure { error: error_chain(error), log: options.log.clone() };
    let text = serde_json::to_string_pretty(&failure).expect("serialisable") + "\n";
    let _ = write_atomic(&plan.failure_path(step, rank), text.as_bytes());
}

/// An error and its causes, `: `-joined.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
