//! The progress display on a terminal: one bar per active phase. The read bar counts input
//! bytes of finished shards out of the total of every shard (file sizes, or byte-range
//! lengths), with an ETA, documents and text megabytes per second, and the stage that has been
//! busiest so far; below it, one line per barrier finishing or draining what it held back and
//! per sink preparing its outputs, each with its own clock. The display never sits still
//! while work goes on.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use millstone_core::Shard;

/// A progress display; does nothing when the run has no terminal.
pub(crate) struct Progress {
    bars: Option<Bars>,
    started: Instant,
    docs: AtomicU64,
    bytes: AtomicU64,
}

struct Bars {
    multi: MultiProgress,
    read: ProgressBar,
    /// Input bytes of each shard, in reading order, and how many have finished.
    shard_bytes: Mutex<Vec<u64>>,
    shards_done: AtomicUsize,
    /// The busiest stage so far, named on the read bar.
    busiest: Mutex<String>,
    /// One spinner per stage that is in a phase of its own, by stage index.
    phases: Mutex<Vec<(usize, ProgressBar)>>,
}

const TICK: Duration = Duration::from_millis(200);

impl Progress {
    /// A display on standard error; hidden unless `show`.
    pub(crate) fn new(show: bool) -> Self {
        Self::with_target(show.then(ProgressDrawTarget::stderr))
    }

    /// A display drawn on `target` (none: hidden).
    pub(crate) fn with_target(target: Option<ProgressDrawTarget>) -> Self {
        let bars = target.map(|target| {
            let multi = MultiProgress::with_draw_target(target);
            let read = multi.add(ProgressBar::new(0));
            read.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] read [{bar:24}] {bytes}/{total_bytes}, ETA {eta} | {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            read.enable_steady_tick(TICK);
            Bars {
                multi,
                read,
                shard_bytes: Mutex::new(Vec::new()),
                shards_done: AtomicUsize::new(0),
                busiest: Mutex::new(String::new()),
                phases: Mutex::new(Vec::new()),
            }
        });
        Progress { bars, started: Instant::now(), docs: AtomicU64::new(0), bytes: AtomicU64::new(0) }
    }

    /// Whether the display is drawn.
    pub(crate) fn shown(&self) -> bool {
        self.bars.is_some()
    }

    /// Sets the shards the run reads, in reading order (their sizes are only looked up when the
    /// display is shown).
    pub(crate) fn set_shards(&self, shards: &[(usize, Shard)]) {
        let Some(bars) = &self.bars else { return };
        let sizes: Vec<u64> = shards
            .iter()
            .map(|(_, shard)| match &shard.range {
                Some(range) => range.end - range.start,
                None => millstone_storage::file::stat(&shard.path).map(|s| s.size).unwrap_or(0),
            })
            .collect();
        bars.read.set_length(sizes.iter().sum());
        *bars.shard_bytes.lock().unwrap_or_else(|p| p.into_inner()) = sizes;
    }

    /// Counts documents and text bytes the sources produced.
    pub(crate) fn read(&self, docs: u64, bytes: u64) {
        if self.bars.is_none() {
            return;
        }
        self.docs.fetch_add(docs, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.refresh();
    }

    /// The next shard, in reading order, was read to its end.
    pub(crate) fn shard_done(&self) {
        let Some(bars) = &self.bars else { return };
        let k = bars.shards_done.fetch_add(1, Ordering::Relaxed);
        let size = bars.shard_bytes.lock().unwrap_or_else(|p| p.into_inner()).get(k).copied().unwrap_or(0);
        bars.read.inc(size);
    }

    /// Names the stage that has been busiest so far (`id` and its share of the busy time).
    pub(crate) fn busiest(&self, id: &str, share: f64) {
        let Some(bars) = &self.bars else { return };
        *bars.busiest.lock().unwrap_or_else(|p| p.into_inner()) =
            format!("{id} {:.0}% of the work", share * 100.0);
    }

    /// Stage `stage` is now doing `what` (`None`: it is done).
    pub(crate) fn phase(&self, stage: usize, what: Option<String>) {
        let Some(bars) = &self.bars else { return };
        let mut phases = bars.phases.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(at) = phases.iter().position(|(s, _)| *s == stage) {
            let (_, bar) = phases.remove(at);
            bar.finish_and_clear();
            bars.multi.remove(&bar);
        }
        if let Some(what) = what {
            let bar = bars.multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(what);
            bar.enable_steady_tick(TICK);
            phases.push((stage, bar));
        }
    }

    fn refresh(&self) {
        let Some(bars) = &self.bars else { return };
        let docs = self.docs.load(Ordering::Relaxed);
        let bytes = self.bytes.load(Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let busiest = bars.busiest.lock().unwrap_or_else(|p| p.into_inner());
        bars.read.set_message(format!(
            "{docs} docs ({:.0}/s), {:.1} MB text ({:.1} MB/s){}{}",
            docs as f64 / secs,
            bytes as f64 / 1e6,
            bytes as f64 / 1e6 / secs,
            if busiest.is_empty() { "" } else { " | busiest: " },
            busiest
        ));
    }

    pub(crate) fn finish(&self) {
        let Some(bars) = &self.bars else { return };
        for (_, bar) in bars.phases.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            bar.finish_and_clear();
        }
        bars.read.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The terminal's contents once `ready` holds (draws come from the ticker thread), or after
    /// ten seconds, whatever they are then.
    fn screen_once(term: &indicatif::InMemoryTerm, ready: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let screen = term.contents();
            if ready(&screen) || started.elapsed() > Duration::from_secs(10) {
                return screen;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn the_read_bar_counts_shard_bytes_and_each_phase_gets_a_line_of_its_own() {
        let term = indicatif::InMemoryTerm::new(12, 160);
        let progress = Progress::with_target(Some(ProgressDrawTarget::term_like(Box::new(term.clone()))));
        let shard = |start: u64, end: u64| {
            (0, Shard { path: "in.jsonl".into(), range: Some(start..end), first_line: 1 })
        };
        progress.set_shards(&[shard(0, 1000), shard(1000, 3000)]);
        progress.read(10, 5_000_000);
        progress.shard_done();
        progress.busiest("dedup.exact#2", 0.62);
        progress.read(1, 0);
        progress.phase(2, Some("dedup.exact#2: finishing".into()));
        progress.phase(3, Some("export.jsonl#3: preparing its outputs".into()));
        let screen = screen_once(&term, |s| {
            s.contains("export.jsonl#3") && s.contains("finishing") && s.contains("busiest")
        });
        assert!(screen.contains("1000 B/2.93 KiB"), "{screen}");
        assert!(screen.contains("11 docs") && screen.contains("5.0 MB text"), "{screen}");
        assert!(screen.contains("busiest: dedup.exact#2 62% of the work"), "{screen}");
        let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 3, "a read bar and two phase lines: {screen}");
        assert!(
            lines[1].contains("dedup.exact#2: finishing") && lines[2].contains("export.jsonl#3"),
            "{screen}"
        );
        progress.phase(2, None);
        // Redraws clear and rewrite lines: wait for a whole frame without the finished phase.
        let screen = screen_once(&term, |s| !s.contains("finishing") && s.contains("preparing its outputs"));
        assert!(!screen.contains("finishing") && screen.contains("preparing its outputs"), "{screen}");
        progress.finish();
    }
}
