//! The progress line on a terminal: documents and bytes read so far, and their rates.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A progress display; does nothing when the run has no terminal.
pub(crate) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
    docs: AtomicU64,
    bytes: AtomicU64,
}

impl Progress {
    pub(crate) fn new(show: bool) -> Self {
        let bar = show.then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress { bar, started: Instant::now(), docs: AtomicU64::new(0), bytes: AtomicU64::new(0) }
    }

    /// Counts documents and text bytes the sources produced.
    pub(crate) fn read(&self, docs: u64, bytes: u64) {
        let Some(bar) = &self.bar else { return };
        let docs = self.docs.fetch_add(docs, Ordering::Relaxed) + docs;
        let bytes = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        bar.set_message(format!(
            "{docs} docs ({:.0} docs/s), {:.1} MB ({:.1} MB/s)",
            docs as f64 / secs,
            bytes as f64 / 1e6,
            bytes as f64 / 1e6 / secs
        ));
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
