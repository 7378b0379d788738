//! Reading: shards on parallel reader threads, merged back in shard order into batches (of
//! documents, or of raw lines that the first section parses: see `lines`).
//!
//! At most `threads` shards are open at once and each has a two-batch channel, so read-ahead is
//! bounded; the merger always waits on the lowest unfinished shard, which a reader is working
//! on, so there is no deadlock. Batches are cut per shard, so the batch sequence depends on the
//! shard list and the batch settings only, never on the thread count.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crossbeam_channel::{bounded, Sender};
use millstone_core::{Batch, Document, Provenance, Shard, Source, StageError, StageStats};
use tracing::debug_span;

use crate::accounting::{Failure, Shared};
use crate::error::Error;
use crate::lines::LineBatch;
use crate::parallel::Input;
use crate::side::SideRecord;

/// One message from a reader to the merger: a batch of one shard, with its bad records.
struct ReaderBatch {
    source: usize,
    docs: Vec<Document>,
    bad: Vec<SideRecord>,
    stats: StageStats,
    /// A fatal error (policy `fail`); the merger raises it when it reaches this point of the
    /// input, so the error reported is always the first in input order.
    fatal: Option<Error>,
    /// Raw lines to parse on the pool, instead of `docs`, for a source with a line parser.
    lines: Option<LineBatch>,
}

impl ReaderBatch {
    fn new(source: usize) -> Self {
        ReaderBatch {
            source,
            docs: Vec::new(),
            bad: Vec::new(),
            stats: StageStats::default(),
            fatal: None,
            lines: None,
        }
    }
}

/// Reads `shards` (each tagged with its source's stage index) and sends their documents, in
/// shard order, as numbered batches to `out`.
pub(crate) fn read_sources(
    sources: &[(usize, Box<dyn Source>)],
    shards: Vec<(usize, Shard)>,
    threads: usize,
    shared: &Shared,
    out: Sender<Input>,
) {
    let progress = &shared.progress;
    let readers = threads.min(shards.len()).max(1);
    let mut senders = Vec::with_capacity(shards.len());
    let mut receivers = Vec::with_capacity(shards.len());
    for _ in 0..shards.len() {
        let (tx, rx) = bounded::<ReaderBatch>(2);
        senders.push(Mutex::new(Some(tx)));
        receivers.push(rx);
    }
    let next_shard = AtomicUsize::new(0);
    let source_of: BTreeMap<usize, &dyn Source> = sources.iter().map(|(i, s)| (*i, s.as_ref())).collect();
    std::thread::scope(|scope| {
        for r in 0..readers {
            let (senders, shards, next_shard, source_of) = (&senders, &shards, &next_shard, &source_of);
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
                    read_one_shard(source_of[stage], *stage, shard, shared, &tx);
                })
                .expect("spawning a reader thread");
        }
        let mut seq = 0u64;
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
                let (docs, bytes) = match &msg.lines {
                    Some(lines) => (lines.len(), lines.byte_len() as u64),
                    None => (msg.docs.len(), msg.stats.bytes_out),
                };
                if docs == 0 {
                    continue;
                }
                progress.read(docs as u64, bytes);
                if seq % 64 == 0 && progress.shown() {
                    if let Some((id, share)) = shared.busiest() {
                        progress.busiest(id, share);
                    }
                }
                let input = match msg.lines {
                    Some(lines) => Input::Lines(lines),
                    None => Input::Docs(Batch { origin: Some(msg.source), ..Batch::new(seq, msg.docs) }),
                };
                if out.send(input).is_err() || shared.abort.is_set() {
                    break 'merge;
                }
                seq += 1;
            }
            progress.shard_done();
        }
        // Dropping the receivers unblocks readers still sending; they see the abort and stop.
        next_shard.store(usize::MAX / 2, Ordering::SeqCst);
    });
}

/// Reads one shard into batches of at most `batch_docs` documents / `batch_bytes` bytes; a
/// source with a line parser into batches of as many raw lines, parsed on the pool.
fn read_one_shard(
    source: &dyn Source,
    stage: usize,
    shard: &Shard,
    shared: &Shared,
    tx: &Sender<ReaderBatch>,
) {
    let runtime = &shared.runtime;
    let _span = debug_span!("stage", id = %shared.ids[stage], shard = %shard.label()).entered();
    let full = |docs: usize, bytes: usize| {
        docs >= runtime.batch_docs.max(1) || bytes as u64 >= runtime.batch_bytes.0
    };
    let mut batch = ReaderBatch::new(stage);
    let mut started = Instant::now();
    // Sends the batch; a line batch is followed by an empty one for the rest of the shard.
    let flush = |batch: &mut ReaderBatch, started: &mut Instant| -> ControlFlow<()> {
        let lines = batch.lines.as_ref().map(|lines| lines.next(shared.buffers.take()));
        let mut full = std::mem::replace(batch, ReaderBatch { lines, ..ReaderBatch::new(stage) });
        full.stats.busy += started.elapsed();
        *started = Instant::now();
        if tx.send(full).is_err() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let result = match source.line_parser() {
        Some(parser) => {
            let (file, name, buffer) = (shard.file_label(), shard.file_name().into(), shared.buffers.take());
            batch.lines = Some(LineBatch::new(stage, parser, file, name, buffer));
            source.read_lines(shard, &mut |raw| {
                if shared.abort.is_set() {
                    return ControlFlow::Break(());
                }
                let lines = batch.lines.as_mut().expect("a line batch");
                lines.push(raw);
                if full(lines.len(), lines.byte_len()) {
                    return flush(&mut batch, &mut started);
                }
                ControlFlow::Continue(())
            })
        }
        None => {
            let mut batch_bytes = 0usize;
            source.read(shard, &mut |item| {
                if shared.abort.is_set() {
                    return ControlFlow::Break(());
                }
                let ReaderBatch { docs, stats, bad, .. } = &mut batch;
                let before = docs.len();
                if let Err(fatal) = shared.absorb(stage, item, docs, stats, bad) {
                    batch.fatal = Some(fatal);
                    let _ = flush(&mut batch, &mut started);
                    return ControlFlow::Break(());
                }
                batch_bytes += batch.docs[before..].iter().map(Document::approx_bytes).sum::<usize>();
                if full(batch.docs.len(), batch_bytes) {
                    batch_bytes = 0;
                    return flush(&mut batch, &mut started);
                }
                ControlFlow::Continue(())
            })
        }
    };
    match result {
        // An input listed at the start that is gone when its turn comes: its records cannot be
        // counted, so this is not one failed record but a failed run that names the file.
        Err(StageError::Io { path, source }) if source.kind() == std::io::ErrorKind::NotFound => {
            batch.fatal = Some(Error::Stage {
                stage: shared.ids[stage].clone(),
                error: StageError::Io {
                    path,
                    source: std::io::Error::new(source.kind(), "the input file disappeared during the run"),
                },
            });
        }
        Err(error) => match batch.lines.as_mut() {
            // After the lines before it, in order, wherever they are parsed.
            Some(lines) => lines.push_failure(Provenance::file(shard.label()), error),
            None => {
                batch.stats.docs_in += 1;
                let failure =
                    Failure { id: None, provenance: Provenance::file(shard.label()), error, doc: None };
                if let Err(fatal) = shared.on_failure(stage, failure, &mut batch.stats, &mut batch.bad) {
                    batch.fatal = Some(fatal);
                }
            }
        },
        Ok(()) => {}
    }
    batch.stats.busy += started.elapsed();
    let _ = tx.send(batch);
}
