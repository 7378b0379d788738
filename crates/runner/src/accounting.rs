//! The bookkeeping of a run: per-stage statistics, the error policy and side outputs.
//!
//! Three functions do all of it, whichever thread a stage runs on: [`Shared::account`] turns
//! what a stage emitted into statistics and rejects, [`Shared::absorb`] does it for what a source
//! read, and [`Shared::on_failure`] applies `on_error` to one failed document or record.

use std::collections::BTreeMap;
use std::sync::Mutex;

use millstone_core::{
    DocId, Document, Emit, ErrorPolicy, ErrorSample, PlannedStage, Provenance, RuntimeSettings, SourceItem,
    StageError, StageStats,
};
use tracing::warn;

use crate::abort::Abort;
use crate::buffers::BufferPool;
use crate::error::Error;
use crate::progress::Progress;
use crate::side::{SideRecord, SideWriter};

/// One document or record a stage could not process.
pub(crate) struct Failure {
    /// The document's id; `None` for a record a source could not turn into a document.
    pub id: Option<DocId>,
    /// Where it came from.
    pub provenance: Provenance,
    /// What went wrong.
    pub error: StageError,
    /// The document as it entered the stage, kept for quarantine.
    pub doc: Option<Document>,
}

/// State shared by all threads of a run.
pub(crate) struct Shared {
    stats: Vec<Mutex<StageStats>>,
    pub ids: Vec<String>,
    pub type_names: Vec<&'static str>,
    policies: Vec<ErrorPolicy>,
    pub keep_dropped: Vec<bool>,
    pub side: SideWriter,
    pub abort: Abort,
    pub runtime: RuntimeSettings,
    /// The progress display (hidden without a terminal).
    pub progress: Progress,
    /// Failures so far per stage and kind, for throttling warnings.
    warnings: Mutex<BTreeMap<(usize, String), u64>>,
    /// Byte buffers of batches: encoded ones given back by the sinks, raw lines by the pool.
    pub buffers: BufferPool,
}

/// Failures of one kind logged one by one per stage; the rest are only counted, so one flood of
/// the same error neither fills the log nor hides a different error that comes later.
pub(crate) const WARNINGS_PER_KIND: u64 = 5;

impl Shared {
    pub(crate) fn new(
        stages: &[PlannedStage],
        runtime: RuntimeSettings,
        shard: Option<(usize, usize)>,
        overwrite: bool,
        progress: bool,
    ) -> Self {
        let ids: Vec<String> = stages.iter().map(|s| s.id.clone()).collect();
        // Batches in flight (encoded, or raw lines): one per pool task, plus the queues.
        let keep_buffers = runtime.max_in_flight.max(1) + 4;
        Shared {
            stats: stages.iter().map(|_| Mutex::new(StageStats::default())).collect(),
            type_names: stages.iter().map(|s| s.type_name).collect(),
            policies: stages.iter().map(|s| s.on_error).collect(),
            keep_dropped: stages.iter().map(|s| s.keep_dropped).collect(),
            side: SideWriter::new(&runtime.out_dir, ids.clone(), shard, overwrite),
            abort: Abort::default(),
            runtime,
            progress: Progress::new(progress),
            warnings: Mutex::new(BTreeMap::new()),
            buffers: BufferPool::new(keep_buffers),
            ids,
        }
    }

    /// Adds a partial record to a stage's statistics.
    pub(crate) fn merge(&self, stage: usize, stats: &StageStats) {
        self.stats[stage].lock().unwrap_or_else(|p| p.into_inner()).merge(stats);
    }

    /// Logs, once per stage and kind, how many failures were not logged one by one.
    pub(crate) fn log_unlogged_failures(&self) {
        let warnings = self.warnings.lock().unwrap_or_else(|p| p.into_inner());
        for ((stage, kind), &n) in warnings.iter() {
            if n > WARNINGS_PER_KIND {
                warn!(
                    stage = %self.ids[*stage],
                    "{} more failures of kind `{kind}` not logged one by one; the report counts them",
                    n - WARNINGS_PER_KIND
                );
            }
        }
    }

    /// Marks a stage as one that may emit several documents per input.
    pub(crate) fn mark_flat_map(&self, stage: usize) {
        self.stats[stage].lock().unwrap_or_else(|p| p.into_inner()).flat_map = true;
    }

    /// The stage with the most busy time so far, and its share of all stages' busy time.
    pub(crate) fn busiest(&self) -> Option<(&str, f64)> {
        let busy: Vec<f64> = self
            .stats
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).busy.as_secs_f64())
            .collect();
        let total: f64 = busy.iter().sum();
        let (stage, most) = busy.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
        (total > 0.0).then(|| (self.ids[stage].as_str(), most / total))
    }

    /// Records that failed and records read so far (sources' input), over all stages.
    pub(crate) fn failed_and_input(&self, sources: &[bool]) -> (u64, u64) {
        let mut failed = 0;
        let mut input = 0;
        for (stage, stats) in self.stats.iter().enumerate() {
            let stats = stats.lock().unwrap_or_else(|p| p.into_inner());
            failed += stats.failed;
            if sources[stage] {
                input += stats.docs_in;
            }
        }
        (failed, input)
    }

    /// Takes every stage's final statistics (the run is over).
    pub(crate) fn take_stats(&self) -> Vec<StageStats> {
        self.stats.iter().map(|m| std::mem::take(&mut *m.lock().unwrap_or_else(|p| p.into_inner()))).collect()
    }

    fn policy(&self, stage: usize) -> ErrorPolicy {
        if self.runtime.fail_fast {
            ErrorPolicy::Fail
        } else {
            self.policies[stage]
        }
    }

    /// Whether failures of `stage` are quarantined (then documents are backed up before it runs).
    pub(crate) fn quarantines(&self, stage: usize) -> bool {
        self.policy(stage) == ErrorPolicy::Quarantine
    }

    /// Stops the run with a stage's error.
    pub(crate) fn fail(&self, stage: usize, error: StageError) {
        self.abort.set(Error::Stage { stage: self.ids[stage].clone(), error });
    }

    /// Writes side records; a write error stops the run. Returns whether the run goes on.
    pub(crate) fn write_side(&self, records: Vec<SideRecord>) -> bool {
        if let Err(e) = self.side.write(records) {
            self.abort.set(Error::SideOutput(e));
            return false;
        }
        true
    }

    /// Turns what `stage` emitted into statistics (documents and bytes out, drops by reason,
    /// counters) and rejects records; returns the kept documents.
    pub(crate) fn account(
        &self,
        stage: usize,
        mut emit: Emit,
        stats: &mut StageStats,
        side: &mut Vec<SideRecord>,
    ) -> Vec<Document> {
        let (samples, observations) = emit.take_profile();
        for (reason, samples) in samples.0 {
            let key = format!("drop:{reason}");
            for sample in samples {
                stats.profile.samples.offer(&key, sample.rank, || sample);
            }
        }
        for (name, values) in observations {
            stats.profile.observe_all(name, &values);
        }
        let (kept, dropped, counters) = emit.into_parts();
        stats.docs_out += kept.len() as u64;
        stats.bytes_out += kept.iter().map(|d| d.text.len() as u64).sum::<u64>();
        for (reason, doc) in dropped {
            *stats.dropped.entry(reason.0).or_default() += 1;
            if let Some(doc) = doc {
                side.push(SideRecord::Rejected { stage, reason: reason.0, doc });
            }
        }
        for (name, n) in counters {
            *stats.counters.entry(name).or_default() += n;
        }
        kept
    }

    /// Counts one item that source `stage` read: a document joins `docs`, a dropped record is
    /// counted by reason, a bad record fails under the source's `on_error` (`Err` when that is
    /// `fail`).
    pub(crate) fn absorb(
        &self,
        stage: usize,
        item: SourceItem,
        docs: &mut Vec<Document>,
        stats: &mut StageStats,
        side: &mut Vec<SideRecord>,
    ) -> Result<(), Error> {
        stats.docs_in += 1;
        match item {
            SourceItem::Doc(doc) => {
                let n = doc.text.len() as u64;
                stats.docs_out += 1;
                stats.bytes_in += n;
                stats.bytes_out += n;
                docs.push(doc);
                Ok(())
            }
            SourceItem::Dropped(_, reason) => {
                *stats.dropped.entry(reason.0).or_default() += 1;
                Ok(())
            }
            SourceItem::Bad(bad) => {
                let error = StageError::BadRecord(bad.message);
                let failure = Failure { id: None, provenance: bad.provenance, error, doc: None };
                self.on_failure(stage, failure, stats, side)
            }
        }
    }

    /// Applies `stage`'s `on_error` to one failure: it is counted and sampled; under `fail` it
    /// becomes the returned error, under `skip` it is logged, under `quarantine` it is written to
    /// the stage's quarantine file.
    pub(crate) fn on_failure(
        &self,
        stage: usize,
        failure: Failure,
        stats: &mut StageStats,
        side: &mut Vec<SideRecord>,
    ) -> Result<(), Error> {
        let Failure { id, provenance, error, doc } = failure;
        let message = error.to_string();
        let kind = millstone_core::failure_kind(&message);
        stats.record_failure(ErrorSample {
            id: id.as_ref().map(|id| id.to_string()),
            location: provenance.to_string(),
            message,
        });
        let stage_id = &self.ids[stage];
        // The first few failures of each kind are logged; the rest are counted (by kind, in the
        // report and the summary) and mentioned once at the end.
        let logged = {
            let mut warnings = self.warnings.lock().unwrap_or_else(|p| p.into_inner());
            let seen = warnings.entry((stage, kind)).or_default();
            *seen += 1;
            *seen <= WARNINGS_PER_KIND
        };
        match (self.policy(stage), id) {
            (ErrorPolicy::Fail, Some(id)) => {
                Err(Error::Document { stage: stage_id.clone(), id, provenance, error: Box::new(error) })
            }
            (ErrorPolicy::Fail, None) => {
                Err(Error::Record { stage: stage_id.clone(), provenance, error: Box::new(error) })
            }
            (ErrorPolicy::Skip, _) if !logged => Ok(()),
            (ErrorPolicy::Skip, id) => {
                match id {
                    Some(id) => warn!(stage = %stage_id, "document `{id}` ({provenance}) failed: {error}"),
                    None => warn!(stage = %stage_id, "skipping {provenance}: {error}"),
                }
                Ok(())
            }
            (ErrorPolicy::Quarantine, id) => {
                side.push(SideRecord::Quarantined {
                    stage,
                    id: id.map(|id| id.to_string()),
                    provenance,
                    error: error.to_string(),
                    doc,
                });
                Ok(())
            }
        }
    }
}
