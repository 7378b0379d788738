//! # millstone-runner
//!
//! Executes a [`Plan`]: sources are read shard by shard (several shards at once, merged back in
//! shard order), documents are cut into batches, consecutive transforms are fused and run on an
//! owned rayon pool, results are put back in input order, barriers and sinks run on their own
//! threads and see batches in order. Every queue is bounded, so the documents in memory are
//! about `(max_in_flight + queues) x batch_bytes` per parallel section, and output is identical
//! for any thread count.
//!
//! The runner does all bookkeeping: per-stage [`StageStats`], drop reasons, error policy
//! (`fail` / `skip` / `quarantine`), rejects files, panics turned into errors that name the
//! stage and the document, tracing spans and an optional progress bar.
//!
//! ```
//! use millstone_core::*;
//! use millstone_runner::{run, RunOptions};
//!
//! struct Memory(Vec<&'static str>);
//! impl Source for Memory {
//!     fn shards(&self) -> Result<Vec<Shard>, StageError> { Ok(vec![Shard::file("mem")]) }
//!     fn read(&self, _: &Shard, emit: &mut dyn FnMut(SourceItem) -> std::ops::ControlFlow<()>) -> Result<(), StageError> {
//!         for (i, t) in self.0.iter().enumerate() { let _ = emit(SourceItem::Doc(Document::new(i.to_string(), *t))); }
//!         Ok(())
//!     }
//! }
//! let plan = Plan {
//!     name: "demo".into(), runtime: RuntimeSettings::default(), config_hash: String::new(),
//!     stages: vec![PlannedStage { id: "src".into(), type_name: "test.memory", on_error: ErrorPolicy::Skip,
//!                                 keep_dropped: false, stage: Stage::Source(Box::new(Memory(vec!["a", "b"]))), notes: vec![] }],
//! };
//! let report = run(plan, &RunOptions::default()).unwrap();
//! assert_eq!(report.totals.written, 2);
//! ```
#![deny(missing_docs)]

mod abort;
mod accounting;
mod barrier;
mod buffers;
mod error;
mod lines;
mod parallel;
mod progress;
mod read;
mod report;
mod side;
mod sink;
mod topology;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use millstone_core::Plan;
use tracing::{info_span, warn};

pub use error::Error;
pub use report::{peak_rss_bytes, RunReport, StageReport, Totals};

use accounting::Shared;
use topology::Topology;

/// Options of one run that are not part of the pipeline file.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Process only shard set `i` of `n` (`--shard i/n`): shards whose position modulo `n` is `i`.
    pub shard: Option<(usize, usize)>,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Side files (rejects, quarantine) may replace existing ones (`--overwrite`).
    pub overwrite: bool,
    /// Task `i` of `n` of a distributed step: side files (rejects, quarantine) are named
    /// `<stage>.<i>-of-<n>.jsonl`, as in a sharded run; unlike `shard`, it selects no shards
    /// (the task's sources already hold only its own).
    pub part: Option<(usize, usize)>,
    /// Set (e.g. by a signal handler) to stop the run: reading stops, nothing is committed, and
    /// `run` returns [`Error::Interrupted`] with the report of the work done.
    pub interrupt: Option<Arc<AtomicBool>>,
}

/// How often the run looks at [`RunOptions::interrupt`].
const INTERRUPT_POLL: Duration = Duration::from_millis(20);

/// Commits the outputs of every stage (in stage order), then the side files.
#[allow(clippy::type_complexity)]
fn commit(
    pending: std::collections::BTreeMap<usize, millstone_core::Prepared>,
    shared: &Shared,
) -> Result<(std::collections::BTreeMap<usize, millstone_core::SinkSummary>, Vec<std::path::PathBuf>), Error>
{
    for (index, prepared) in &pending {
        for output in &prepared.pending {
            output.ready().map_err(|e| Error::Stage {
                stage: shared.ids[*index].clone(),
                error: millstone_core::StageError::io(output.target().display(), e),
            })?;
        }
    }
    let mut summaries = std::collections::BTreeMap::new();
    for (index, prepared) in pending {
        if prepared.pending.is_empty() && prepared.docs == 0 {
            continue;
        }
        let (files, bytes) = millstone_core::commit_all(prepared.pending).map_err(|e| Error::Stage {
            stage: shared.ids[index].clone(),
            error: millstone_core::StageError::io("committing outputs", e),
        })?;
        summaries.insert(index, millstone_core::SinkSummary { files, docs: prepared.docs, bytes });
    }
    let side = shared.side.finish()?;
    Ok((summaries, side))
}

/// The input files a run of `plan` (restricted to `shard` = `(i, n)`) would read, sorted: what
/// completion markers fingerprint.
pub fn input_files(plan: &Plan, shard: Option<(usize, usize)>) -> Result<Vec<std::path::PathBuf>, Error> {
    let sources = plan.stages.iter().enumerate().filter_map(|(index, s)| match &s.stage {
        millstone_core::Stage::Source(source) => Some((index, s.id.as_str(), source.as_ref())),
        _ => None,
    });
    Ok(topology::files_of(&topology::select_shards(sources, shard)?))
}

/// Runs a plan to completion and returns its report.
pub fn run(plan: Plan, options: &RunOptions) -> Result<RunReport, Error> {
    let started = Instant::now();
    let threads = plan.runtime.threads.resolve();
    let span = info_span!("run", pipeline = %plan.name);
    let _entered = span.enter();

    let Plan { name, runtime, stages, config_hash } = plan;
    let shared = Arc::new(Shared::new(
        &stages,
        runtime,
        options.shard.or(options.part),
        options.overwrite,
        options.progress,
    ));
    let kinds: Vec<millstone_core::StageKind> = stages.iter().map(|s| s.stage.kind()).collect();
    let thresholds: Vec<Vec<millstone_core::Threshold>> = stages
        .iter()
        .map(|s| match &s.stage {
            millstone_core::Stage::Transform(t) => t.thresholds(),
            _ => Vec::new(),
        })
        .collect();
    let topology = Topology::compile(stages)?;
    for stage in topology.flat_map_stages() {
        shared.mark_flat_map(stage);
    }
    let shards = topology.shards(&shared, options.shard)?;
    let shards_read = shards.len();
    let inputs = topology::files_of(&shards);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("millstone-worker-{i}"))
        .build()
        .map_err(Error::Pool)?;
    let pool = Arc::new(pool);
    shared.progress.set_shards(&shards);
    let finished = AtomicBool::new(false);
    let delivered = std::thread::scope(|scope| {
        if let Some(interrupt) = &options.interrupt {
            let (shared, finished) = (&shared, &finished);
            scope.spawn(move || {
                while !finished.load(Ordering::SeqCst) {
                    if interrupt.load(Ordering::SeqCst) {
                        shared.abort.interrupt();
                        break;
                    }
                    std::thread::sleep(INTERRUPT_POLL);
                }
            });
        }
        let delivered = topology.execute(shards, &pool, &shared, &span);
        finished.store(true, Ordering::SeqCst);
        delivered
    });
    shared.progress.finish();
    shared.log_unlogged_failures();
    let mut error = shared.abort.take();
    if error.is_none() {
        let sources: Vec<bool> = kinds.iter().map(|k| *k == millstone_core::StageKind::Source).collect();
        let (failed, input) = shared.failed_and_input(&sources);
        let max = shared.runtime.max_failed_fraction;
        if input > 0 && failed as f64 / input as f64 > max {
            let percent = failed as f64 * 100.0 / input as f64;
            error = Some(Error::TooManyFailures { failed, input, percent, max });
        }
    }
    let interrupted = shared.abort.was_interrupted() && error.is_none();
    // Every stage succeeded: commit all outputs together (a failed run commits none; its
    // temporaries are removed when the pending outputs are dropped).
    let mut side_files = Vec::new();
    let mut sinks = std::collections::BTreeMap::new();
    if error.is_none() && !interrupted {
        match commit(delivered.pending, &shared) {
            Ok((committed, side)) => (sinks, side_files) = (committed, side),
            Err(e) => error = Some(e),
        }
    }
    let mut report = RunReport::assemble(report::Assembly {
        pipeline: name,
        config_hash,
        threads,
        shard: options.shard,
        shards_read,
        elapsed: started.elapsed(),
        ids: shared.ids.clone(),
        type_names: shared.type_names.clone(),
        kinds,
        stats: shared.take_stats(),
        thresholds,
        written: delivered.written,
        sinks,
        side_files,
    });
    report.inputs = inputs;
    if let Some(error) = error {
        report.error = Some(error.to_string());
        return Err(Error::Failed { error: Box::new(error), report: Box::new(report) });
    }
    if interrupted {
        report.interrupted = true;
        return Err(Error::Interrupted(Box::new(report)));
    }
    if !report.conserved {
        warn!("document counts do not add up; see the report");
    }
    Ok(report)
}
