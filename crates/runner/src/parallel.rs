//! Parallel sections: consecutive transforms fused into one pool task per batch, at most
//! `max_in_flight` batches at a time, put back in input order by ticket.
//!
//! A section may end with a sink's encoder, so serialisation runs on the pool too. Every task
//! releases what it holds of the run before it reports, and the section waits for all its tasks
//! (also when the run aborts), so no work of a run outlives it.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{unbounded, Receiver, Sender};
use millstone_core::profile::TextShape;
use millstone_core::{Batch, BatchEncoder, Document, Emit, StageError, StageStats, Transform};
use tracing::debug_span;

use crate::abort::panic_message;
use crate::accounting::{Failure, Shared};
use crate::error::Error;
use crate::lines::LineBatch;
use crate::side::SideRecord;

/// A transform in a fused section.
pub(crate) struct Fused {
    /// The stage index in the plan.
    pub stage: usize,
    pub transform: Arc<dyn Transform>,
    /// A barrier's prepare step: it must keep every document, so only busy time and failures
    /// are counted (under the barrier's stage).
    pub prepare: bool,
}

/// Fused transforms, optionally followed by the next sink's encoder (stage index, encoder).
///
/// A section also profiles: batches still marked with the source that read them are profiled
/// as that source's output before the chain, and when the section feeds sink `profile_sink`,
/// what leaves the chain is profiled (with every tagged field) as that sink's input.
pub(crate) struct Section {
    pub chain: Vec<Fused>,
    pub encoder: Option<(usize, Arc<dyn BatchEncoder>)>,
    pub profile_sink: Option<usize>,
}

/// What a section works on: batches of documents, and (the first section only) raw lines that
/// it parses first.
pub(crate) enum Input {
    Docs(Batch),
    Lines(LineBatch),
}

impl From<Batch> for Input {
    fn from(batch: Batch) -> Self {
        Input::Docs(batch)
    }
}

/// What a section made of one batch.
struct Outcome {
    docs: Vec<Document>,
    encoded: Option<Vec<u8>>,
    side: Vec<SideRecord>,
    stats: Vec<(usize, StageStats)>,
}

/// Runs `section` over the batches of `input` on `pool` and forwards the results in order.
pub(crate) fn run_parallel<I: Into<Input> + Send + 'static>(
    pool: &rayon::ThreadPool,
    section: Arc<Section>,
    input: Receiver<I>,
    out: Sender<Batch>,
    shared: &Arc<Shared>,
) {
    // Four batches per worker keep every worker busy while one batch is slow; more only hold
    // memory (with parsing on the pool, readers fill whatever is allowed).
    let max_in_flight = shared.runtime.max_in_flight.clamp(1, 4 * pool.current_num_threads().max(1));
    let (results_tx, results_rx) = unbounded::<(u64, Result<Outcome, Error>)>();
    let mut pending: BTreeMap<u64, Result<Outcome, Error>> = BTreeMap::new();
    let (mut next_ticket, mut next_out, mut in_flight) = (0u64, 0u64, 0usize);
    let mut input_open = true;
    // Once set (abort, closed output), no new batch is started and results are only drained.
    let mut stopping = false;
    while input_open && !stopping || in_flight > 0 {
        let received = if input_open && !stopping && in_flight < max_in_flight {
            crossbeam_channel::select! {
                recv(input) -> msg => {
                    match msg {
                        Ok(batch) => {
                            let ticket = next_ticket;
                            next_ticket += 1;
                            in_flight += 1;
                            let (section, shared, tx) = (section.clone(), shared.clone(), results_tx.clone());
                            pool.spawn(move || {
                                let result = section.apply(ticket, batch.into(), &shared);
                                drop((section, shared));
                                let _ = tx.send((ticket, result));
                            });
                        }
                        Err(_) => input_open = false,
                    }
                    None
                },
                recv(results_rx) -> msg => msg.ok(),
            }
        } else {
            results_rx.recv().ok()
        };
        let Some((ticket, result)) = received else { continue };
        in_flight -= 1;
        // A batch that finished after the abort may have been cut short: it is not forwarded.
        stopping |= shared.abort.is_set();
        if stopping {
            continue;
        }
        pending.insert(ticket, result);
        while let Some(result) = pending.remove(&next_out) {
            next_out += 1;
            if !forward(result, next_out - 1, &out, shared) {
                stopping = true;
                pending.clear();
                break;
            }
        }
        stopping |= shared.abort.is_set();
    }
}

/// Accounts one in-order result and sends its documents on; false when the run must stop.
fn forward(result: Result<Outcome, Error>, seq: u64, out: &Sender<Batch>, shared: &Shared) -> bool {
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(error) => {
            shared.abort.set(error);
            return false;
        }
    };
    for (stage, stats) in &outcome.stats {
        shared.merge(*stage, stats);
    }
    if !shared.write_side(outcome.side) {
        return false;
    }
    outcome.docs.is_empty()
        || out.send(Batch { seq, docs: outcome.docs, encoded: outcome.encoded, origin: None }).is_ok()
}

impl Section {
    /// Parses raw lines into a batch of documents, counted as the source's output.
    fn parse(
        ticket: u64,
        lines: LineBatch,
        shared: &Shared,
        stats: &mut Vec<(usize, StageStats)>,
        side: &mut Vec<SideRecord>,
    ) -> Result<Batch, Error> {
        let source = lines.source;
        let started = Instant::now();
        let mut st = StageStats::default();
        let mut docs = Vec::with_capacity(lines.len());
        let (buffer, parsed) = lines.parse(|parsed| match parsed {
            Ok(item) => shared.absorb(source, item, &mut docs, &mut st, side),
            Err((provenance, error)) => {
                st.docs_in += 1;
                shared.on_failure(source, Failure { id: None, provenance, error, doc: None }, &mut st, side)
            }
        });
        shared.buffers.give(buffer);
        parsed?;
        st.busy = started.elapsed();
        stats.push((source, st));
        Ok(Batch { origin: Some(source), ..Batch::new(ticket, docs) })
    }

    /// Applies each fused transform in turn to a whole batch, then the encoder.
    fn apply(&self, ticket: u64, input: Input, shared: &Shared) -> Result<Outcome, Error> {
        let mut side = Vec::new();
        let mut stats = Vec::with_capacity(self.chain.len() + 3);
        let batch = match input {
            Input::Docs(batch) => batch,
            Input::Lines(lines) => Section::parse(ticket, lines, shared, &mut stats, &mut side)?,
        };
        let mut docs = batch.docs;
        let profile_sink = self.profile_sink.filter(|_| !shared.abort.is_set());
        if let (Some(source), Some(sink), true) = (batch.origin, profile_sink, self.chain.is_empty()) {
            // A source straight into a sink: each text's shape is counted once for both profiles.
            let (mut read, mut written) = (StageStats::default(), StageStats::default());
            for doc in &docs {
                let shape = TextShape::of(&doc.text);
                read.profile.record_shape_of(doc, shape);
                written.profile.record_full_of(doc, shape);
            }
            stats.extend([(source, read), (sink, written)]);
            return self.encode(ticket, docs, side, stats, shared);
        }
        if let Some(source) = batch.origin {
            let mut st = StageStats::default();
            docs.iter().for_each(|doc| st.profile.record_shape(doc));
            stats.push((source, st));
        }
        for fused in &self.chain {
            if shared.abort.is_set() {
                break;
            }
            let _span = debug_span!("stage", id = %shared.ids[fused.stage]).entered();
            let started = Instant::now();
            let mut st = StageStats::default();
            let (kept, st_side) = fused.apply(std::mem::take(&mut docs), shared, &mut st)?;
            side.extend(st_side);
            st.busy = started.elapsed();
            docs = kept;
            stats.push((fused.stage, st));
        }
        if let Some(sink) = self.profile_sink.filter(|_| !shared.abort.is_set()) {
            let mut st = StageStats::default();
            docs.iter().for_each(|doc| st.profile.record_full(doc));
            stats.push((sink, st));
        }
        self.encode(ticket, docs, side, stats, shared)
    }

    /// Runs the section's encoder, if any, over what the chain kept.
    fn encode(
        &self,
        ticket: u64,
        mut docs: Vec<Document>,
        side: Vec<SideRecord>,
        stats: Vec<(usize, StageStats)>,
        shared: &Shared,
    ) -> Result<Outcome, Error> {
        let mut encoded = None;
        if let Some((sink, encoder)) = &self.encoder {
            let batch = Batch::new(ticket, docs);
            let mut bytes = shared.buffers.take();
            encoder
                .encode_into(&batch, &mut bytes)
                .map_err(|error| Error::Stage { stage: shared.ids[*sink].clone(), error })?;
            encoded = Some(bytes);
            docs = batch.docs;
        }
        Ok(Outcome { docs, encoded, side, stats })
    }
}

impl Fused {
    /// Applies the transform to each document, catching errors and panics per document.
    fn apply(
        &self,
        input: Vec<Document>,
        shared: &Shared,
        stats: &mut StageStats,
    ) -> Result<(Vec<Document>, Vec<SideRecord>), Error> {
        let mut side = Vec::new();
        let retain_dropped = shared.keep_dropped[self.stage] && !self.prepare;
        let mut emit = Emit::new(retain_dropped);
        let quarantine = shared.quarantines(self.stage);
        if !self.prepare {
            stats.docs_in = input.len() as u64;
            stats.bytes_in = input.iter().map(|d| d.text.len() as u64).sum();
        }
        for doc in input {
            // Queued batches are not worked through once the run is stopping (an interrupt or
            // a fatal error): the run ends within one document's time, not max_in_flight batches'.
            if shared.abort.is_set() {
                break;
            }
            let id = doc.id.clone();
            let provenance = doc.provenance.clone();
            let backup = quarantine.then(|| doc.clone());
            let error = match catch_unwind(AssertUnwindSafe(|| self.transform.apply(doc, &mut emit))) {
                Ok(Ok(())) => continue,
                Ok(Err(error)) => error,
                Err(payload) => StageError::Panic {
                    id: id.clone(),
                    provenance: provenance.clone(),
                    message: panic_message(&*payload),
                },
            };
            if self.prepare {
                stats.docs_in += 1;
            }
            let failure = Failure { id: Some(id), provenance, error, doc: backup };
            shared.on_failure(self.stage, failure, stats, &mut side)?;
        }
        if self.prepare {
            let (kept, _, _) = emit.into_parts();
            return Ok((kept, side));
        }
        let kept = shared.account(self.stage, emit, stats, &mut side);
        Ok((kept, side))
    }
}
