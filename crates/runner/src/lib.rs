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

mod report;
mod side;

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use millstone_core::{
    Barrier, Batch, BatchEncoder, Document, Emit, ErrorPolicy, ErrorSample, Plan, Provenance,
    RuntimeSettings, Shard, Sink, Source, SourceItem, Stage, StageError, StageKind, StageStats, Transform,
};
use tracing::{debug_span, info_span, warn};

pub use report::{RunReport, StageReport, Totals};
use side::{SideRecord, SideWriter};

/// Options of one run that are not part of the pipeline file.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Process only shard set `i` of `n` (`--shard i/n`): shards whose position modulo `n` is `i`.
    pub shard: Option<(usize, usize)>,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A stage failed and its policy (or `fail_fast`) says stop.
    #[error("stage `{stage}` failed: {error}")]
    Stage {
        /// Stage id.
        stage: String,
        /// The error.
        error: StageError,
    },
    /// The plan cannot run (no source, bad shard selection).
    #[error("invalid plan: {0}")]
    Plan(String),
    /// A side file (rejects, quarantine) could not be written.
    #[error("cannot write side output: {0}")]
    SideOutput(#[from] std::io::Error),
    /// The worker pool could not be created.
    #[error("cannot start worker threads: {0}")]
    Pool(String),
}

/// The first fatal error of a run; every thread checks it and winds down.
#[derive(Default)]
struct Abort {
    flag: AtomicBool,
    error: Mutex<Option<Error>>,
}

impl Abort {
    fn set(&self, error: Error) {
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(error);
        }
        self.flag.store(true, Ordering::SeqCst);
    }
    fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
    fn take(&self) -> Option<Error> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// A transform in a fused section, with the settings the runner needs to apply it.
struct Fused {
    stage: usize,
    transform: Arc<dyn Transform>,
    keep_dropped: bool,
    /// A barrier's prepare step: counts busy time and failures only.
    prepare: bool,
}

enum Step {
    /// Fused transforms, and optionally the following sink's encoder.
    Parallel(Arc<Vec<Fused>>, Option<Arc<dyn BatchEncoder>>),
    Barrier(usize, Box<dyn Barrier>),
    Sink(usize, Box<dyn Sink>),
}

/// State shared by all threads of a run.
struct Shared {
    stats: Vec<Mutex<StageStats>>,
    ids: Vec<String>,
    policies: Vec<ErrorPolicy>,
    keep_dropped: Vec<bool>,
    side: SideWriter,
    abort: Abort,
    runtime: RuntimeSettings,
}

impl Shared {
    fn merge(&self, stage: usize, stats: &StageStats) {
        self.stats[stage].lock().unwrap_or_else(|p| p.into_inner()).merge(stats);
    }
    fn policy(&self, stage: usize) -> ErrorPolicy {
        if self.runtime.fail_fast {
            ErrorPolicy::Fail
        } else {
            self.policies[stage]
        }
    }
    fn write_side(&self, records: Vec<SideRecord>) -> bool {
        if let Err(e) = self.side.write(records) {
            self.abort.set(Error::SideOutput(e));
            return false;
        }
        true
    }
}

/// Runs a plan to completion and returns its report.
pub fn run(plan: Plan, options: &RunOptions) -> Result<RunReport, Error> {
    let started = Instant::now();
    let threads = plan.runtime.threads.resolve();
    let run_span = info_span!("run", pipeline = %plan.name);
    let _entered = run_span.enter();

    let ids: Vec<String> = plan.stages.iter().map(|s| s.id.clone()).collect();
    let shared = Arc::new(Shared {
        stats: plan.stages.iter().map(|_| Mutex::new(StageStats::default())).collect(),
        policies: plan.stages.iter().map(|s| s.on_error).collect(),
        keep_dropped: plan.stages.iter().map(|s| s.keep_dropped).collect(),
        side: SideWriter::new(&plan.runtime.out_dir, ids.clone()),
        abort: Abort::default(),
        runtime: plan.runtime.clone(),
        ids: ids.clone(),
    });
    let kinds: Vec<StageKind> = plan.stages.iter().map(|s| s.stage.kind()).collect();
    let type_names: Vec<&'static str> = plan.stages.iter().map(|s| s.type_name).collect();

    // Split the plan into sources and steps.
    let mut sources: Vec<(usize, Box<dyn Source>)> = Vec::new();
    let mut steps: Vec<Step> = Vec::new();
    let mut pending: Vec<Fused> = Vec::new();
    for (index, planned) in plan.stages.into_iter().enumerate() {
        let fused = |transform, prepare| Fused {
            stage: index,
            transform,
            keep_dropped: planned.keep_dropped,
            prepare,
        };
        match planned.stage {
            Stage::Source(source) => {
                if !steps.is_empty() || !pending.is_empty() {
                    return Err(Error::Plan(format!(
                        "source `{}` must come before other stages",
                        planned.id
                    )));
                }
                sources.push((index, source));
            }
            Stage::Transform(t) => pending.push(fused(t, false)),
            Stage::Barrier { prepare, barrier } => {
                if let Some(p) = prepare {
                    pending.push(fused(p, true));
                }
                if !pending.is_empty() {
                    steps.push(Step::Parallel(Arc::new(std::mem::take(&mut pending)), None));
                }
                steps.push(Step::Barrier(index, barrier));
            }
            Stage::Sink(sink) => {
                let encoder = sink.encoder();
                if !pending.is_empty() || encoder.is_some() {
                    steps.push(Step::Parallel(Arc::new(std::mem::take(&mut pending)), encoder));
                }
                steps.push(Step::Sink(index, sink));
            }
        }
    }
    if !pending.is_empty() {
        steps.push(Step::Parallel(Arc::new(pending), None));
    }
    for fused in steps
        .iter()
        .filter_map(|s| if let Step::Parallel(f, _) = s { Some(f) } else { None })
        .flat_map(|f| f.iter())
    {
        if fused.transform.is_flat_map() && !fused.prepare {
            shared.stats[fused.stage].lock().unwrap_or_else(|p| p.into_inner()).flat_map = true;
        }
    }
    if sources.is_empty() {
        return Err(Error::Plan("a pipeline needs at least one source stage".into()));
    }

    // Shards, in a deterministic order that does not depend on the thread count.
    let mut shards: Vec<(usize, Shard)> = Vec::new();
    for (index, source) in &sources {
        let list = source.shards().map_err(|error| Error::Stage { stage: ids[*index].clone(), error })?;
        shards.extend(list.into_iter().map(|s| (*index, s)));
    }
    if let Some((i, n)) = options.shard {
        if n == 0 || i >= n {
            return Err(Error::Plan(format!("--shard {i}/{n}: expected i/N with i < N")));
        }
        shards = shards.into_iter().enumerate().filter(|(k, _)| k % n == i).map(|(_, s)| s).collect();
    }
    let shards_read = shards.len();

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("millstone-worker-{i}"))
        .build()
        .map_err(|e| Error::Pool(e.to_string()))?;
    let pool = Arc::new(pool);

    let sources: Arc<Vec<(usize, Box<dyn Source>)>> = Arc::new(sources);
    let progress = options.progress.then(progress_bar);
    let mut sink_summaries: BTreeMap<usize, millstone_core::SinkSummary> = BTreeMap::new();
    let mut written = 0u64;
    let mut input_bytes = 0u64;

    std::thread::scope(|scope| {
        let cap = 2usize;
        let (first_tx, mut rx) = bounded::<Batch>(cap);
        // Readers and the in-order merger.
        {
            let shared = shared.clone();
            let sources = sources.clone();
            let span = run_span.clone();
            let progress = progress.clone();
            scope.spawn(move || {
                let _e = span.enter();
                read_sources(&sources, shards, threads, &shared, first_tx, progress.as_ref());
            });
        }
        let mut handles = Vec::new();
        for step in steps {
            let (tx, next_rx) = bounded::<Batch>(cap);
            let input = std::mem::replace(&mut rx, next_rx);
            let shared = shared.clone();
            let span = run_span.clone();
            match step {
                Step::Parallel(chain, encoder) => {
                    let pool = pool.clone();
                    scope.spawn(move || {
                        let _e = span.enter();
                        run_parallel(&pool, chain, encoder, input, tx, &shared);
                    });
                }
                Step::Barrier(index, barrier) => {
                    let type_name = type_names[index];
                    scope.spawn(move || {
                        let _e = span.enter();
                        let _s = info_span!("stage", id = %shared.ids[index], r#type = type_name).entered();
                        run_barrier(index, barrier, input, tx, &shared);
                    });
                }
                Step::Sink(index, sink) => {
                    let type_name = type_names[index];
                    handles.push(scope.spawn(move || {
                        let _e = span.enter();
                        let _s = info_span!("stage", id = %shared.ids[index], r#type = type_name).entered();
                        run_sink(index, sink, input, tx, &shared).map(|summary| (index, summary))
                    }));
                }
            }
        }
        for batch in rx.iter() {
            written += batch.docs.len() as u64;
        }
        for handle in handles {
            if let Ok(Some((index, summary))) = handle.join() {
                sink_summaries.insert(index, summary);
            }
        }
    });
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    if let Some(error) = shared.abort.take() {
        return Err(error);
    }
    let side_files = shared.side.finish()?;

    let shared =
        Arc::try_unwrap(shared).map_err(|_| Error::Plan("worker threads outlived the run".into()))?;
    let stats: Vec<StageStats> =
        shared.stats.into_iter().map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner())).collect();
    for (index, st) in stats.iter().enumerate() {
        if kinds[index] == StageKind::Source {
            input_bytes += st.bytes_out;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut report = RunReport {
        pipeline: plan.name,
        config_hash: plan.config_hash,
        threads,
        shard: options.shard.map(|(i, n)| format!("{i}/{n}")),
        shards_read,
        elapsed_secs: (elapsed * 1000.0).round() / 1000.0,
        mb_per_sec: if elapsed > 0.0 {
            ((input_bytes as f64 / 1e6 / elapsed) * 10.0).round() / 10.0
        } else {
            0.0
        },
        totals: Totals { written, ..Default::default() },
        conserved: false,
        stages: stats
            .into_iter()
            .enumerate()
            .map(|(index, stats)| StageReport {
                id: ids[index].clone(),
                type_name: type_names[index].to_string(),
                kind: kinds[index],
                stats,
                output: sink_summaries.remove(&index),
            })
            .collect(),
        side_files,
    };
    report.compute_totals();
    if !report.conserved {
        warn!("document counts do not add up; see the report");
    }
    Ok(report)
}

fn progress_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// One message from a reader to the merger: a batch of one shard, with its bad records.
struct ReaderBatch {
    source: usize,
    docs: Vec<Document>,
    bad: Vec<SideRecord>,
    stats: StageStats,
    /// A fatal error (policy `fail`); the merger raises it when it reaches this point of the
    /// input, so the error reported is always the first in input order.
    fatal: Option<Error>,
}

/// Reads shards on up to `threads` reader threads, each shard into its own bounded channel, and
/// merges them in shard order. At most `threads` shards are open at once and each channel holds
/// two batches, so read-ahead is bounded; the merger always waits on the lowest open shard,
/// which a reader is working on, so there is no deadlock.
fn read_sources(
    sources: &[(usize, Box<dyn Source>)],
    shards: Vec<(usize, Shard)>,
    threads: usize,
    shared: &Arc<Shared>,
    out: Sender<Batch>,
    progress: Option<&indicatif::ProgressBar>,
) {
    let readers = threads.min(shards.len()).max(1);
    let mut senders = Vec::with_capacity(shards.len());
    let mut receivers = Vec::with_capacity(shards.len());
    for _ in 0..shards.len() {
        let (tx, rx) = bounded::<ReaderBatch>(2);
        senders.push(Mutex::new(Some(tx)));
        receivers.push(rx);
    }
    let next_shard = AtomicUsize::new(0);
    let source_index: BTreeMap<usize, &dyn Source> = sources.iter().map(|(i, s)| (*i, s.as_ref())).collect();
    std::thread::scope(|scope| {
        for r in 0..readers {
            let senders = &senders;
            let shards = &shards;
            let next_shard = &next_shard;
            let source_index = &source_index;
            std::thread::Builder::new()
                .name(format!("millstone-reader-{r}"))
                .spawn_scoped(scope, move || loop {
                    let k = next_shard.fetch_add(1, Ordering::SeqCst);
                    if k >= shards.len() || shared.abort.is_set() {
                        break;
                    }
                    let Some(tx) = senders[k].lock().unwrap_or_else(|p| p.into_inner()).take() else {
                        continue;
                    };
                    let (stage, shard) = &shards[k];
                    read_one_shard(source_index[stage], *stage, shard, shared, &tx);
                })
                .expect("spawning a reader thread");
        }
        let mut seq = 0u64;
        let mut docs_total = 0u64;
        let mut bytes_total = 0u64;
        let started = Instant::now();
        'merge: for rx in receivers {
            for mut msg in rx.iter() {
                shared.merge(msg.source, &msg.stats);
                if let Some(fatal) = msg.fatal.take() {
                    shared.abort.set(fatal);
                    break 'merge;
                }
                if !shared.write_side(msg.bad) {
                    break 'merge;
                }
                if msg.docs.is_empty() {
                    continue;
                }
                docs_total += msg.docs.len() as u64;
                bytes_total += msg.stats.bytes_out;
                if let Some(bar) = progress {
                    let secs = started.elapsed().as_secs_f64().max(1e-9);
                    bar.set_message(format!(
                        "{docs_total} docs ({:.0} docs/s), {:.1} MB ({:.1} MB/s)",
                        docs_total as f64 / secs,
                        bytes_total as f64 / 1e6,
                        bytes_total as f64 / 1e6 / secs
                    ));
                }
                if out.send(Batch::new(seq, msg.docs)).is_err() || shared.abort.is_set() {
                    break 'merge;
                }
                seq += 1;
            }
        }
        // Dropping the receivers unblocks readers still sending; they see the abort and stop.
        next_shard.store(usize::MAX / 2, Ordering::SeqCst);
    });
}

fn read_one_shard(
    source: &dyn Source,
    stage: usize,
    shard: &Shard,
    shared: &Shared,
    tx: &Sender<ReaderBatch>,
) {
    let runtime = &shared.runtime;
    let policy = shared.policy(stage);
    let _span = debug_span!("stage", id = %shared.ids[stage], shard = %shard.label()).entered();
    let new_batch = || ReaderBatch {
        source: stage,
        docs: Vec::new(),
        bad: Vec::new(),
        stats: StageStats::default(),
        fatal: None,
    };
    let mut batch = new_batch();
    let mut batch_bytes = 0usize;
    let mut started = Instant::now();
    let flush = |batch: &mut ReaderBatch, started: &mut Instant| -> ControlFlow<()> {
        let mut full = std::mem::replace(batch, new_batch());
        full.stats.busy += started.elapsed();
        *started = Instant::now();
        if tx.send(full).is_err() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let result = source.read(shard, &mut |item| {
        if shared.abort.is_set() {
            return ControlFlow::Break(());
        }
        batch.stats.docs_in += 1;
        match item {
            SourceItem::Doc(doc) => {
                let n = doc.text.len() as u64;
                batch.stats.docs_out += 1;
                batch.stats.bytes_in += n;
                batch.stats.bytes_out += n;
                batch_bytes += doc.approx_bytes();
                batch.docs.push(doc);
            }
            SourceItem::Bad(bad) => {
                batch.stats.failed += 1;
                batch.stats.sample_error(ErrorSample {
                    id: None,
                    location: bad.provenance.to_string(),
                    message: bad.message.clone(),
                });
                match policy {
                    ErrorPolicy::Fail => {
                        batch.fatal = Some(Error::Stage {
                            stage: shared.ids[stage].clone(),
                            error: StageError::Record { provenance: bad.provenance, message: bad.message },
                        });
                        let _ = flush(&mut batch, &mut started);
                        return ControlFlow::Break(());
                    }
                    ErrorPolicy::Skip => warn!(stage = %shared.ids[stage], "skipping bad record at {}: {}", bad.provenance, bad.message),
                    ErrorPolicy::Quarantine => batch.bad.push(SideRecord::Quarantined {
                        stage,
                        id: None,
                        provenance: bad.provenance,
                        error: bad.message,
                        doc: None,
                    }),
                }
            }
        }
        if batch.docs.len() >= runtime.batch_docs.max(1) || batch_bytes as u64 >= runtime.batch_bytes.0 {
            batch_bytes = 0;
            return flush(&mut batch, &mut started);
        }
        ControlFlow::Continue(())
    });
    if let Err(error) = result {
        let provenance = Provenance::file(shard.label());
        batch.stats.failed += 1;
        batch.stats.docs_in += 1;
        batch.stats.sample_error(ErrorSample {
            id: None,
            location: provenance.to_string(),
            message: error.to_string(),
        });
        match policy {
            ErrorPolicy::Fail => batch.fatal = Some(Error::Stage { stage: shared.ids[stage].clone(), error }),
            ErrorPolicy::Skip => warn!(stage = %shared.ids[stage], "{}: {error}", shard.label()),
            ErrorPolicy::Quarantine => batch.bad.push(SideRecord::Quarantined {
                stage,
                id: None,
                provenance,
                error: error.to_string(),
                doc: None,
            }),
        }
    }
    let _ = flush(&mut batch, &mut started);
}

/// The output of a fused section for one batch.
struct SectionResult {
    docs: Vec<Document>,
    encoded: Option<Vec<u8>>,
    side: Vec<SideRecord>,
    stats: Vec<(usize, StageStats)>,
}

/// Runs a fused section over a stream of batches on the pool, at most `max_in_flight` batches at
/// a time, and forwards results in input order.
fn run_parallel(
    pool: &rayon::ThreadPool,
    chain: Arc<Vec<Fused>>,
    encoder: Option<Arc<dyn BatchEncoder>>,
    input: Receiver<Batch>,
    out: Sender<Batch>,
    shared: &Arc<Shared>,
) {
    let max_in_flight = shared.runtime.max_in_flight.max(1);
    let (results_tx, results_rx) = unbounded::<(u64, Result<SectionResult, Error>)>();
    let mut pending: BTreeMap<u64, Result<SectionResult, Error>> = BTreeMap::new();
    let mut next_ticket = 0u64;
    let mut next_out = 0u64;
    let mut in_flight = 0usize;
    let mut input_open = true;
    loop {
        if !input_open && in_flight == 0 {
            break;
        }
        let received = if input_open && in_flight < max_in_flight {
            crossbeam_channel::select! {
                recv(input) -> msg => match msg {
                    Ok(batch) => {
                        let ticket = next_ticket;
                        next_ticket += 1;
                        in_flight += 1;
                        let chain = chain.clone();
                        let encoder = encoder.clone();
                        let tx = results_tx.clone();
                        let shared = shared.clone();
                        pool.spawn(move || {
                            let result = run_section(&chain, batch, &shared).and_then(|mut section| {
                                if let Some(encoder) = &encoder {
                                    let batch = Batch::new(ticket, std::mem::take(&mut section.docs));
                                    section.encoded = Some(encoder.encode(&batch).map_err(|error| Error::Stage {
                                        stage: "encoder".into(),
                                        error,
                                    })?);
                                    section.docs = batch.docs;
                                }
                                Ok(section)
                            });
                            let _ = tx.send((ticket, result));
                        });
                        None
                    }
                    Err(_) => { input_open = false; None }
                },
                recv(results_rx) -> msg => msg.ok(),
            }
        } else {
            results_rx.recv().ok()
        };
        let Some((ticket, result)) = received else {
            continue;
        };
        in_flight -= 1;
        pending.insert(ticket, result);
        while let Some(result) = pending.remove(&next_out) {
            next_out += 1;
            match result {
                Err(error) => {
                    shared.abort.set(error);
                    return;
                }
                Ok(section) => {
                    for (stage, stats) in &section.stats {
                        shared.merge(*stage, stats);
                    }
                    if !shared.write_side(section.side) {
                        return;
                    }
                    if !section.docs.is_empty()
                        && out
                            .send(Batch { seq: next_out - 1, docs: section.docs, encoded: section.encoded })
                            .is_err()
                    {
                        return;
                    }
                }
            }
        }
        if shared.abort.is_set() {
            return;
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Applies each fused transform in turn to a whole batch.
fn run_section(chain: &[Fused], batch: Batch, shared: &Shared) -> Result<SectionResult, Error> {
    let mut docs = batch.docs;
    let mut side = Vec::new();
    let mut all_stats = Vec::with_capacity(chain.len());
    for fused in chain {
        let _span = debug_span!("stage", id = %shared.ids[fused.stage]).entered();
        let started = Instant::now();
        let mut stats = StageStats::default();
        let policy = shared.policy(fused.stage);
        let mut emit = Emit::new(fused.keep_dropped && !fused.prepare);
        let input = std::mem::take(&mut docs);
        if !fused.prepare {
            stats.docs_in = input.len() as u64;
            stats.bytes_in = input.iter().map(|d| d.text.len() as u64).sum();
        }
        for doc in input {
            let id = doc.id.clone();
            let provenance = doc.provenance.clone();
            let backup = (policy == ErrorPolicy::Quarantine).then(|| doc.clone());
            let outcome = catch_unwind(AssertUnwindSafe(|| fused.transform.apply(doc, &mut emit)));
            let error = match outcome {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => e,
                Err(payload) => StageError::Panic {
                    id: id.clone(),
                    provenance: provenance.clone(),
                    message: panic_message(&*payload),
                },
            };
            if fused.prepare {
                stats.docs_in += 1;
            }
            stats.failed += 1;
            stats.sample_error(ErrorSample {
                id: Some(id.to_string()),
                location: provenance.to_string(),
                message: error.to_string(),
            });
            match policy {
                ErrorPolicy::Fail => {
                    return Err(Error::Stage {
                        stage: shared.ids[fused.stage].clone(),
                        error: StageError::Document { id, message: format!("{error} (from {provenance})") },
                    })
                }
                ErrorPolicy::Skip => {
                    warn!(stage = %shared.ids[fused.stage], "document `{id}` ({provenance}) failed: {error}")
                }
                ErrorPolicy::Quarantine => side.push(SideRecord::Quarantined {
                    stage: fused.stage,
                    id: Some(id.to_string()),
                    provenance,
                    error: error.to_string(),
                    doc: backup,
                }),
            }
        }
        let (kept, dropped, counters) = emit.into_parts();
        if !fused.prepare {
            stats.docs_out = kept.len() as u64;
            stats.bytes_out = kept.iter().map(|d| d.text.len() as u64).sum();
            for (reason, doc) in dropped {
                *stats.dropped.entry(reason.0).or_default() += 1;
                if let Some(doc) = doc {
                    side.push(SideRecord::Rejected { stage: fused.stage, reason: reason.0, doc });
                }
            }
            for (name, n) in counters {
                *stats.counters.entry(name).or_default() += n;
            }
        }
        stats.busy = started.elapsed();
        docs = kept;
        all_stats.push((fused.stage, stats));
    }
    Ok(SectionResult { docs, encoded: None, side, stats: all_stats })
}

fn run_barrier(
    index: usize,
    mut barrier: Box<dyn Barrier>,
    input: Receiver<Batch>,
    out: Sender<Batch>,
    shared: &Shared,
) {
    let keep_dropped = shared.keep_dropped[index];
    let budget = shared.runtime.max_retained.map(|b| b.0);
    let mut seq = 0u64;
    let emit_batch = |emit: Emit, retained: u64, stats: &mut StageStats, seq: &mut u64| -> bool {
        let (kept, dropped, counters) = emit.into_parts();
        stats.docs_out += kept.len() as u64;
        stats.bytes_out += kept.iter().map(|d| d.text.len() as u64).sum::<u64>();
        let mut side = Vec::new();
        for (reason, doc) in dropped {
            *stats.dropped.entry(reason.0).or_default() += 1;
            if let Some(doc) = doc {
                side.push(SideRecord::Rejected { stage: index, reason: reason.0, doc });
            }
        }
        for (name, n) in counters {
            *stats.counters.entry(name).or_default() += n;
        }
        stats.retained_bytes_peak = stats.retained_bytes_peak.max(retained);
        shared.merge(index, stats);
        *stats = StageStats::default();
        if !shared.write_side(side) {
            return false;
        }
        if let Some(limit) = budget {
            if retained > limit {
                shared.abort.set(Error::Stage {
                    stage: shared.ids[index].clone(),
                    error: StageError::Budget(format!(
                        "the stage holds {retained} bytes, above runtime.max_retained = {limit}"
                    )),
                });
                return false;
            }
        }
        if !kept.is_empty() {
            if out.send(Batch::new(*seq, kept)).is_err() {
                return false;
            }
            *seq += 1;
        }
        true
    };
    for batch in input.iter() {
        if shared.abort.is_set() {
            return;
        }
        let mut stats = StageStats {
            docs_in: batch.docs.len() as u64,
            bytes_in: batch.text_bytes() as u64,
            ..Default::default()
        };
        let mut emit = Emit::new(keep_dropped);
        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| barrier.process(batch, &mut emit)));
        stats.busy = started.elapsed();
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                shared.abort.set(Error::Stage { stage: shared.ids[index].clone(), error: e });
                return;
            }
            Err(payload) => {
                shared.abort.set(Error::Stage {
                    stage: shared.ids[index].clone(),
                    error: StageError::Other(format!("barrier panicked: {}", panic_message(&*payload))),
                });
                return;
            }
        }
        if !emit_batch(emit, barrier.retained_bytes() as u64, &mut stats, &mut seq) {
            return;
        }
    }
    if shared.abort.is_set() {
        return;
    }
    let mut emit = Emit::new(keep_dropped);
    let mut stats = StageStats::default();
    let started = Instant::now();
    if let Err(e) = barrier.finish(&mut emit) {
        shared.abort.set(Error::Stage { stage: shared.ids[index].clone(), error: e });
        return;
    }
    stats.busy = started.elapsed();
    if !emit_batch(emit, barrier.retained_bytes() as u64, &mut stats, &mut seq) {
        return;
    }
    let max_docs = shared.runtime.batch_docs.max(1);
    loop {
        let mut emit = Emit::new(keep_dropped);
        let started = Instant::now();
        let more = match barrier.drain(&mut emit, max_docs) {
            Ok(more) => more,
            Err(e) => {
                shared.abort.set(Error::Stage { stage: shared.ids[index].clone(), error: e });
                return;
            }
        };
        stats.busy = started.elapsed();
        if !emit_batch(emit, barrier.retained_bytes() as u64, &mut stats, &mut seq) || !more {
            break;
        }
    }
    for (name, n) in barrier.summary() {
        *stats.counters.entry(name).or_default() += n;
    }
    shared.merge(index, &stats);
}

fn run_sink(
    index: usize,
    mut sink: Box<dyn Sink>,
    input: Receiver<Batch>,
    out: Sender<Batch>,
    shared: &Shared,
) -> Option<millstone_core::SinkSummary> {
    for mut batch in input.iter() {
        if shared.abort.is_set() {
            return None;
        }
        let started = Instant::now();
        let result = match batch.encoded.take() {
            Some(bytes) => sink.write_encoded(&batch, bytes),
            None => sink.write(&batch),
        };
        let n = batch.docs.len() as u64;
        let bytes = batch.text_bytes() as u64;
        let stats = StageStats {
            docs_in: n,
            docs_out: n,
            bytes_in: bytes,
            bytes_out: bytes,
            busy: started.elapsed(),
            ..Default::default()
        };
        if let Err(e) = result {
            shared.abort.set(Error::Stage { stage: shared.ids[index].clone(), error: e });
            return None;
        }
        shared.merge(index, &stats);
        if out.send(batch).is_err() {
            return None;
        }
    }
    if shared.abort.is_set() {
        return None;
    }
    let started = Instant::now();
    match sink.finish() {
        Ok(summary) => {
            shared.merge(index, &StageStats { busy: started.elapsed(), ..Default::default() });
            Some(summary)
        }
        Err(e) => {
            shared.abort.set(Error::Stage { stage: shared.ids[index].clone(), error: e });
            None
        }
    }
}

/// Where the runner writes side outputs for a stage (for tests and docs).
pub fn rejects_path(runtime: &RuntimeSettings, stage_id: &str) -> PathBuf {
    runtime.out_dir.join("rejects").join(format!("{stage_id}.jsonl"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use millstone_core::{Emit, PlannedStage};

    struct Numbers(usize);
    impl Source for Numbers {
        fn shards(&self) -> Result<Vec<Shard>, StageError> {
            Ok((0..4).map(|i| Shard::file(format!("part{i}"))).collect())
        }
        fn read(
            &self,
            shard: &Shard,
            emit: &mut dyn FnMut(SourceItem) -> ControlFlow<()>,
        ) -> Result<(), StageError> {
            let part = shard.path.display().to_string();
            for i in 0..self.0 {
                let doc = Document::new(format!("{part}-{i}"), format!("text {i}"))
                    .with_provenance(Provenance::line(part.as_str(), i as u64 + 1));
                if emit(SourceItem::Doc(doc)).is_break() {
                    break;
                }
            }
            Ok(())
        }
    }

    struct PanicOn(&'static str);
    impl Transform for PanicOn {
        fn apply(&self, doc: Document, out: &mut Emit) -> Result<(), StageError> {
            if &*doc.id == self.0 {
                panic!("boom");
            }
            out.keep(doc);
            Ok(())
        }
    }

    fn plan(policy: ErrorPolicy) -> Plan {
        let runtime = RuntimeSettings {
            batch_docs: 7,
            out_dir: std::env::temp_dir().join(format!("millstone-runner-test-{}", std::process::id())),
            ..Default::default()
        };
        Plan {
            name: "t".into(),
            runtime,
            config_hash: String::new(),
            stages: vec![
                PlannedStage {
                    id: "src".into(),
                    type_name: "test.numbers",
                    on_error: ErrorPolicy::Skip,
                    keep_dropped: false,
                    stage: Stage::Source(Box::new(Numbers(50))),
                    notes: vec![],
                },
                PlannedStage {
                    id: "explode".into(),
                    type_name: "test.panic",
                    on_error: policy,
                    keep_dropped: false,
                    stage: Stage::transform(PanicOn("part2-13")),
                    notes: vec![],
                },
            ],
        }
    }

    #[test]
    fn a_panic_names_the_stage_and_the_document() {
        let err = run(plan(ErrorPolicy::Fail), &RunOptions::default()).expect_err("fails");
        let msg = err.to_string();
        assert!(
            msg.contains("explode")
                && msg.contains("part2-13")
                && msg.contains("boom")
                && msg.contains("part2:14"),
            "{msg}"
        );
    }

    #[test]
    fn a_panic_under_skip_is_counted_as_failed() {
        let report = run(plan(ErrorPolicy::Skip), &RunOptions::default()).unwrap();
        assert_eq!(report.totals.input, 200);
        assert_eq!(report.totals.written, 199);
        assert_eq!(report.totals.failed, 1);
        assert!(report.conserved);
        assert!(report.stages[1].stats.error_samples[0].message.contains("boom"));
    }

    #[test]
    fn shard_selection_partitions_the_input() {
        let mut total = 0;
        for i in 0..3 {
            let report =
                run(plan(ErrorPolicy::Skip), &RunOptions { shard: Some((i, 3)), progress: false }).unwrap();
            total += report.totals.input;
        }
        assert_eq!(total, 200);
    }
}
