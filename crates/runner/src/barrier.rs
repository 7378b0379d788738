//! Barriers: one thread per barrier stage sees every batch in input order, then `finish`, then
//! `drain` until the stage has emitted everything it held back (in bounded batches).

use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use millstone_core::{Barrier, Batch, Emit, StageError, StageStats};

use crate::abort::guarded;
use crate::accounting::Shared;

/// The state of one barrier's thread.
struct BarrierThread<'a> {
    index: usize,
    shared: &'a Shared,
    out: Sender<Batch>,
    seq: u64,
}

/// Runs barrier stage `index` over `input`, sending what it emits to `out`; returns the outputs
/// it wrote (reports) for the run to commit, or `None` if the run stopped.
pub(crate) fn run_barrier(
    index: usize,
    mut barrier: Box<dyn Barrier>,
    input: Receiver<Batch>,
    out: Sender<Batch>,
    shared: &Shared,
) -> Option<Vec<Box<dyn millstone_core::PendingOutput>>> {
    let mut thread = BarrierThread { index, shared, out, seq: 0 };
    let id = shared.ids[index].as_str();
    let new_emit = || Emit::new(shared.keep_dropped[index]);
    for batch in input.iter() {
        if shared.abort.is_set() {
            return None;
        }
        let mut stats = StageStats {
            docs_in: batch.docs.len() as u64,
            bytes_in: batch.text_bytes() as u64,
            ..Default::default()
        };
        let mut emit = new_emit();
        let started = Instant::now();
        guarded(&shared.abort, id, || barrier.process(batch, &mut emit))?;
        stats.busy = started.elapsed();
        if !thread.emit(emit, barrier.as_ref(), stats) {
            return None;
        }
    }
    if shared.abort.is_set() {
        return None;
    }
    shared.progress.phase(index, Some(format!("{id}: finishing")));
    let mut emit = new_emit();
    let started = Instant::now();
    guarded(&shared.abort, id, || barrier.finish(&mut emit))?;
    shared.progress.phase(index, Some(format!("{id}: passing on what it held")));
    let stats = StageStats { busy: started.elapsed(), ..Default::default() };
    if !thread.emit(emit, barrier.as_ref(), stats) {
        return None;
    }
    let max_docs = shared.runtime.batch_docs.max(1);
    loop {
        let mut emit = new_emit();
        let started = Instant::now();
        let more = guarded(&shared.abort, id, || barrier.drain(&mut emit, max_docs))?;
        let stats = StageStats { busy: started.elapsed(), ..Default::default() };
        if !thread.emit(emit, barrier.as_ref(), stats) {
            return None;
        }
        if !more {
            break;
        }
    }
    let mut stats = StageStats::default();
    for (name, n) in barrier.summary() {
        *stats.counters.entry(name).or_default() += n;
    }
    shared.merge(index, &stats);
    shared.progress.phase(index, None);
    Some(barrier.take_pending())
}

impl BarrierThread<'_> {
    /// Accounts what the barrier emitted, checks its memory budget and sends the kept documents
    /// on as the next batch; false when the run must stop.
    fn emit(&mut self, emit: Emit, barrier: &dyn Barrier, mut stats: StageStats) -> bool {
        let shared = self.shared;
        let mut side = Vec::new();
        let kept = shared.account(self.index, emit, &mut stats, &mut side);
        let retained = barrier.retained_bytes() as u64;
        stats.retained_bytes_peak = retained;
        shared.merge(self.index, &stats);
        if !shared.write_side(side) {
            return false;
        }
        if let Some(limit) = shared.runtime.max_retained.map(|b| b.0) {
            if retained > limit {
                shared.fail(
                    self.index,
                    StageError::Budget(format!(
                        "the stage holds {retained} bytes, above runtime.max_retained = {limit}"
                    )),
                );
                return false;
            }
        }
        if kept.is_empty() {
            return true;
        }
        let sent = self.out.send(Batch::new(self.seq, kept)).is_ok();
        self.seq += 1;
        sent
    }
}
