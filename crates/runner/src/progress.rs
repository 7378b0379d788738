//! The progress display on a terminal: shards read out of all (with an ETA), documents and
//! bytes read with their rates, and the phase the run is in once reading is done (a barrier
//! finishing or draining what it held back, sinks preparing their outputs), so the display never
//! sits still while work goes on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A progress display; does nothing when the run has no terminal.
pub(crate) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
    docs: AtomicU64,
    bytes: AtomicU64,
    /// What runs now besides reading, by stage: shown after the rates.
    phases: Mutex<Vec<(usize, String)>>,
}

impl Progress {
    /// A display of a run over `shards` shards; hidden unless `show`.
    pub(crate) fn new(show: bool, shards: u64) -> Self {
        let bar = show.then(|| {
            let bar = indicatif::ProgressBar::new(shards);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] [{bar:24}] {pos}/{len} shards, ETA {eta} | {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            started: Instant::now(),
            docs: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            phases: Mutex::new(Vec::new()),
        }
    }

    /// Sets the number of shards the run reads.
    pub(crate) fn set_shards(&self, shards: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(shards);
        }
    }

    /// Counts documents and text bytes the sources produced.
    pub(crate) fn read(&self, docs: u64, bytes: u64) {
        if self.bar.is_none() {
            return;
        }
        self.docs.fetch_add(docs, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.refresh();
    }

    /// One more shard read to its end.
    pub(crate) fn shard_done(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// Stage `stage` is now doing `what` (`None`: it is done).
    pub(crate) fn phase(&self, stage: usize, what: Option<String>) {
        if self.bar.is_none() {
            return;
        }
        {
            let mut phases = self.phases.lock().unwrap_or_else(|p| p.into_inner());
            phases.retain(|(s, _)| *s != stage);
            if let Some(what) = what {
                phases.push((stage, what));
            }
        }
        self.refresh();
    }

    fn refresh(&self) {
        let Some(bar) = &self.bar else { return };
        let docs = self.docs.load(Ordering::Relaxed);
        let bytes = self.bytes.load(Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let phases = self.phases.lock().unwrap_or_else(|p| p.into_inner());
        let now: Vec<&str> = phases.iter().map(|(_, what)| what.as_str()).collect();
        bar.set_message(format!(
            "{docs} docs ({:.0}/s), {:.1} MB ({:.1} MB/s){}{}",
            docs as f64 / secs,
            bytes as f64 / 1e6,
            bytes as f64 / 1e6 / secs,
            if now.is_empty() { "" } else { " | " },
            now.join(", ")
        ));
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
