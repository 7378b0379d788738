//! The shape of a run: a plan's stages compiled into sources and a chain of steps (fused
//! parallel sections, barriers, sinks), then one thread per step joined by bounded channels.
//!
//! ```text
//! shards -> readers -> merger -> [section on the pool] -> barrier -> [section] -> sink -> ...
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use crossbeam_channel::bounded;
use millstone_core::{Barrier, Batch, PlannedStage, Prepared, Shard, Sink, Source, Stage};
use tracing::{info_span, Span};

use crate::accounting::Shared;
use crate::barrier::run_barrier;
use crate::error::Error;
use crate::parallel::{run_parallel, Fused, Input, Section};
use crate::read::read_sources;
use crate::sink::run_sink;

/// Batches a channel between two steps holds.
const CHANNEL_BATCHES: usize = 2;

/// One sequential link of the chain after the sources.
enum Step {
    Parallel(Arc<Section>),
    Barrier(usize, Box<dyn Barrier>),
    Sink(usize, Box<dyn Sink>),
}

/// A plan's stages, compiled.
pub(crate) struct Topology {
    sources: Vec<(usize, Box<dyn Source>)>,
    steps: Vec<Step>,
}

/// What the chain delivered: documents that left the last step, and per stage that writes
/// files (sinks; barriers with reports) its documents written and its outputs to commit.
pub(crate) struct Delivered {
    pub written: u64,
    pub pending: BTreeMap<usize, Prepared>,
}

impl Topology {
    /// Sources first, then the other stages; consecutive transforms (and a barrier's prepare
    /// step, and a sink's encoder) are fused into one parallel section.
    pub(crate) fn compile(stages: Vec<PlannedStage>) -> Result<Self, Error> {
        let mut sources = Vec::new();
        let mut steps = Vec::new();
        let mut pending: Vec<Fused> = Vec::new();
        let section =
            |chain, encoder, profile_sink| Step::Parallel(Arc::new(Section { chain, encoder, profile_sink }));
        for (index, planned) in stages.into_iter().enumerate() {
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
                Stage::Transform(transform) => {
                    pending.push(Fused { stage: index, transform, prepare: false })
                }
                Stage::Barrier { prepare, barrier } => {
                    if let Some(transform) = prepare {
                        pending.push(Fused { stage: index, transform, prepare: true });
                    }
                    // The first step is always a section: sources' output is profiled there.
                    if !pending.is_empty() || steps.is_empty() {
                        steps.push(section(std::mem::take(&mut pending), None, None));
                    }
                    steps.push(Step::Barrier(index, barrier));
                }
                Stage::Sink(sink) => {
                    // Every sink is fed by a section, which profiles what the sink is given.
                    let encoder = sink.encoder().map(|e| (index, e));
                    steps.push(section(std::mem::take(&mut pending), encoder, Some(index)));
                    steps.push(Step::Sink(index, sink));
                }
            }
        }
        if !pending.is_empty() || steps.is_empty() {
            steps.push(section(pending, None, None));
        }
        if sources.is_empty() {
            return Err(Error::Plan("a pipeline needs at least one source stage".into()));
        }
        Ok(Topology { sources, steps })
    }

    /// Stages that may emit several documents per input.
    pub(crate) fn flat_map_stages(&self) -> Vec<usize> {
        self.steps
            .iter()
            .filter_map(|s| if let Step::Parallel(section) = s { Some(section) } else { None })
            .flat_map(|section| section.chain.iter())
            .filter(|fused| fused.transform.is_flat_map() && !fused.prepare)
            .map(|fused| fused.stage)
            .collect()
    }

    /// Every source's shards in plan order (never dependent on the thread count), restricted to
    /// shard set `i` of `n` (positions congruent to `i` modulo `n`) when given.
    pub(crate) fn shards(
        &self,
        shared: &Shared,
        shard_set: Option<(usize, usize)>,
    ) -> Result<Vec<(usize, Shard)>, Error> {
        let sources =
            self.sources.iter().map(|(index, source)| (*index, shared.ids[*index].as_str(), source.as_ref()));
        select_shards(sources, shard_set)
    }

    /// Runs the chain to its end: one thread for the readers, one per step, the pool for
    /// sections. Returns when every thread has finished.
    pub(crate) fn execute(
        self,
        shards: Vec<(usize, Shard)>,
        pool: &Arc<rayon::ThreadPool>,
        shared: &Arc<Shared>,
        span: &Span,
    ) -> Delivered {
        let threads = pool.current_num_threads();
        let Topology { sources, steps } = self;
        let mut delivered = Delivered { written: 0, pending: BTreeMap::new() };
        let mut steps = steps.into_iter();
        let Some(Step::Parallel(first)) = steps.next() else {
            unreachable!("compile makes a section the first step")
        };
        std::thread::scope(|scope| {
            let (read_tx, read_rx) = bounded::<Input>(CHANNEL_BATCHES);
            let sources = &sources;
            scope.spawn(move || {
                let _e = span.enter();
                read_sources(sources, shards, threads, shared, read_tx);
            });
            // The first section also parses what line sources read (see `lines`).
            let (first_tx, mut rx) = bounded::<Batch>(CHANNEL_BATCHES);
            scope.spawn(move || {
                let _e = span.enter();
                run_parallel(pool, first, read_rx, first_tx, shared);
            });
            let mut outputs = Vec::new();
            for step in steps {
                let (tx, next_rx) = bounded::<Batch>(CHANNEL_BATCHES);
                let input = std::mem::replace(&mut rx, next_rx);
                let stage_span = |index: usize| info_span!(parent: span, "stage", id = %shared.ids[index], r#type = shared.type_names[index]);
                match step {
                    Step::Parallel(section) => {
                        scope.spawn(move || {
                            let _e = span.enter();
                            run_parallel(pool, section, input, tx, shared);
                        });
                    }
                    Step::Barrier(index, barrier) => {
                        let stage_span = stage_span(index);
                        outputs.push(scope.spawn(move || {
                            let _e = stage_span.enter();
                            run_barrier(index, barrier, input, tx, shared)
                                .map(|pending| (index, Prepared { docs: 0, pending }))
                        }));
                    }
                    Step::Sink(index, sink) => {
                        let stage_span = stage_span(index);
                        outputs.push(scope.spawn(move || {
                            let _e = stage_span.enter();
                            run_sink(index, sink, input, tx, shared).map(|summary| (index, summary))
                        }));
                    }
                }
            }
            for batch in rx.iter() {
                delivered.written += batch.docs.len() as u64;
            }
            for handle in outputs {
                if let Ok(Some((index, prepared))) = handle.join() {
                    delivered.pending.insert(index, prepared);
                }
            }
        });
        delivered
    }
}

/// The shards of `sources` (stage index, id, source) in order, restricted to shard set `i` of
/// `n` (positions congruent to `i` modulo `n`) when given.
pub(crate) fn select_shards<'a>(
    sources: impl Iterator<Item = (usize, &'a str, &'a dyn Source)>,
    shard_set: Option<(usize, usize)>,
) -> Result<Vec<(usize, Shard)>, Error> {
    let mut shards = Vec::new();
    for (index, id, source) in sources {
        let list = source.shards().map_err(|error| Error::Stage { stage: id.to_string(), error })?;
        shards.extend(list.into_iter().map(|s| (index, s)));
    }
    if let Some((i, n)) = shard_set {
        if n == 0 || i >= n {
            return Err(Error::Plan(format!("--shard {i}/{n}: expected i/N with i < N")));
        }
        shards = shards.into_iter().enumerate().filter(|(k, _)| k % n == i).map(|(_, s)| s).collect();
    }
    Ok(shards)
}

/// The files behind a list of shards, sorted, each once.
pub(crate) fn files_of(shards: &[(usize, Shard)]) -> Vec<std::path::PathBuf> {
    let mut files: Vec<std::path::PathBuf> = shards.iter().map(|(_, s)| s.path.clone()).collect();
    files.sort();
    files.dedup();
    files
}
