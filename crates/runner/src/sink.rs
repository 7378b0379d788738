//! Sinks: one thread per sink stage writes batches in input order (bytes already encoded on the
//! pool where the sink offers an encoder), passes them on, and prepares its outputs at the end;
//! the run commits them with every other output once all stages succeeded.

use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use millstone_core::{Batch, Prepared, Sink, StageStats};

use crate::abort::guarded;
use crate::accounting::Shared;

/// Runs sink stage `index`; returns what it prepared, or `None` if the run stopped.
pub(crate) fn run_sink(
    index: usize,
    mut sink: Box<dyn Sink>,
    input: Receiver<Batch>,
    out: Sender<Batch>,
    shared: &Shared,
) -> Option<Prepared> {
    let id = shared.ids[index].as_str();
    for mut batch in input.iter() {
        if shared.abort.is_set() {
            return None;
        }
        let started = Instant::now();
        guarded(&shared.abort, id, || match batch.encoded.take() {
            Some(bytes) => {
                let written = sink.write_encoded(&batch, &bytes);
                shared.buffers.give(bytes);
                written
            }
            None => sink.write(&batch),
        })?;
        let (docs, bytes) = (batch.docs.len() as u64, batch.text_bytes() as u64);
        let stats = StageStats {
            docs_in: docs,
            docs_out: docs,
            bytes_in: bytes,
            bytes_out: bytes,
            busy: started.elapsed(),
            ..Default::default()
        };
        shared.merge(index, &stats);
        if out.send(batch).is_err() {
            return None;
        }
    }
    if shared.abort.is_set() {
        return None;
    }
    shared.progress.phase(index, Some(format!("{id}: preparing its outputs")));
    let started = Instant::now();
    let prepared = guarded(&shared.abort, id, || sink.prepare())?;
    shared.progress.phase(index, None);
    shared.merge(index, &StageStats { busy: started.elapsed(), ..Default::default() });
    Some(prepared)
}
