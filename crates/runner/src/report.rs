//! The run report: per-stage statistics, totals and the conservation check.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use millstone_core::{SinkSummary, StageKind, StageStats, Threshold};
use serde::Serialize;

/// What one stage did.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    /// Stage id.
    pub id: String,
    /// Registered type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Stage kind.
    pub kind: StageKind,
    /// The numbers.
    #[serde(flatten)]
    pub stats: StageStats,
    /// For sinks: what was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<SinkSummary>,
    /// Thresholds the stage applies to fields it tags (drawn into the HTML report).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<Threshold>,
}

/// Document totals over the whole run.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    /// Records the sources met (documents plus bad records).
    pub input: u64,
    /// Documents that reached the end of the pipeline.
    pub written: u64,
    /// Documents dropped by some stage.
    pub dropped: u64,
    /// Documents or records that failed.
    pub failed: u64,
    /// Whether a stage may emit several documents per input (then `input` need not equal
    /// `written + dropped + failed`).
    pub has_flat_map: bool,
}

/// The report of one run (`--report run.json`).
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Pipeline name.
    pub pipeline: String,
    /// Hash of the resolved configuration.
    pub config_hash: String,
    /// Worker threads used.
    pub threads: usize,
    /// `i/N` when the run processed one shard set.
    pub shard: Option<String>,
    /// Shards (files or byte ranges) read.
    pub shards_read: usize,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
    /// Input text bytes per second.
    pub mb_per_sec: f64,
    /// Peak resident memory of the process when the run ended, in bytes (0 where unknown).
    pub peak_rss_bytes: u64,
    /// Totals.
    pub totals: Totals,
    /// Whether every stage's counts and the totals add up.
    pub conserved: bool,
    /// Per stage, in pipeline order.
    pub stages: Vec<StageReport>,
    /// Rejects and quarantine files written.
    pub side_files: Vec<PathBuf>,
    /// The run was interrupted: the numbers cover the work done until then, and no output was
    /// committed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// The input files read.
    pub inputs: Vec<PathBuf>,
    /// The error that stopped the run, if one did (then nothing was committed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Everything a finished run knows, for [`RunReport::assemble`].
pub(crate) struct Assembly {
    pub pipeline: String,
    pub config_hash: String,
    pub threads: usize,
    pub shard: Option<(usize, usize)>,
    pub shards_read: usize,
    pub elapsed: Duration,
    pub ids: Vec<String>,
    pub type_names: Vec<&'static str>,
    pub kinds: Vec<StageKind>,
    pub stats: Vec<StageStats>,
    pub thresholds: Vec<Vec<Threshold>>,
    pub written: u64,
    pub sinks: BTreeMap<usize, SinkSummary>,
    pub side_files: Vec<PathBuf>,
}

/// The peak resident memory of this process so far (`VmHWM`), in bytes; 0 where unknown.
pub fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

impl RunReport {
    /// The report of a finished run, with totals and the conservation check.
    pub(crate) fn assemble(run: Assembly) -> Self {
        let Assembly { mut sinks, mut thresholds, .. } = run;
        let input_bytes: u64 = run
            .stats
            .iter()
            .zip(&run.kinds)
            .filter(|(_, kind)| **kind == StageKind::Source)
            .map(|(st, _)| st.bytes_out)
            .sum();
        let elapsed = run.elapsed.as_secs_f64();
        let mb_per_sec =
            if elapsed > 0.0 { ((input_bytes as f64 / 1e6 / elapsed) * 10.0).round() / 10.0 } else { 0.0 };
        let stages = run
            .stats
            .into_iter()
            .enumerate()
            .map(|(index, stats)| StageReport {
                id: run.ids[index].clone(),
                type_name: run.type_names[index].to_string(),
                kind: run.kinds[index],
                stats,
                output: sinks.remove(&index),
                thresholds: std::mem::take(&mut thresholds[index]),
            })
            .collect();
        let mut report = RunReport {
            pipeline: run.pipeline,
            config_hash: run.config_hash,
            threads: run.threads,
            shard: run.shard.map(|(i, n)| format!("{i}/{n}")),
            shards_read: run.shards_read,
            elapsed_secs: (elapsed * 1000.0).round() / 1000.0,
            mb_per_sec,
            peak_rss_bytes: peak_rss_bytes(),
            totals: Totals { written: run.written, ..Default::default() },
            conserved: false,
            stages,
            side_files: run.side_files,
            interrupted: false,
            inputs: Vec::new(),
            error: None,
        };
        report.compute_totals();
        report
    }

    fn compute_totals(&mut self) {
        let mut totals = Totals::default();
        for stage in &self.stages {
            if stage.kind == StageKind::Source {
                totals.input += stage.stats.docs_in;
            }
            totals.dropped += stage.stats.dropped_total();
            totals.failed += stage.stats.failed;
            totals.has_flat_map |= stage.stats.flat_map;
        }
        self.totals.input = totals.input;
        self.totals.dropped = totals.dropped;
        self.totals.failed = totals.failed;
        self.totals.has_flat_map = totals.has_flat_map;
        let stages_ok = self.stages.iter().all(|s| s.stats.conserved());
        let totals_ok = self.totals.has_flat_map
            || self.totals.input == self.totals.written + self.totals.dropped + self.totals.failed;
        self.conserved = stages_ok && totals_ok;
    }

    /// Every file the run committed: sink outputs, reports, side files; sorted.
    pub fn outputs(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .stages
            .iter()
            .filter_map(|s| s.output.as_ref())
            .flat_map(|o| o.files.iter().cloned())
            .chain(self.side_files.iter().cloned())
            .collect();
        files.sort();
        files.dedup();
        files
    }

    /// A plain-text table for stderr.
    pub fn summary_table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let width = self.stages.iter().map(|r| r.id.len()).max().unwrap_or(5).max(5);
        let _ = writeln!(
            s,
            "{:<width$}  {:>9} {:>9} {:>9} {:>7} {:>10} {:>8}  drop reasons | failure reasons",
            "stage", "in", "out", "dropped", "failed", "MB in", "busy s"
        );
        for r in &self.stages {
            let st = &r.stats;
            let mut reasons =
                st.dropped.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
            if !st.failures.is_empty() {
                let failures: Vec<String> = st.failures.iter().map(|(k, v)| format!("{k}={v}")).collect();
                reasons = format!("{reasons} | {}", failures.join("; "));
            }
            let _ = writeln!(
                s,
                "{:<width$}  {:>9} {:>9} {:>9} {:>7} {:>10.2} {:>8.2}  {}",
                r.id,
                st.docs_in,
                st.docs_out,
                st.dropped_total(),
                st.failed,
                st.bytes_in as f64 / 1e6,
                st.busy.as_secs_f64(),
                reasons.trim_start()
            );
        }
        let top = self.top_counters(6);
        if !top.is_empty() {
            let _ = writeln!(s, "counters: {top}");
        }
        let files = self.outputs().len();
        let mb_out: u64 = self.stages.iter().filter_map(|r| r.output.as_ref()).map(|o| o.bytes).sum();
        let t = &self.totals;
        let _ = write!(
            s,
            "total: {} in = {} written + {} dropped + {} failed{} | {:.2}s, {:.1} MB/s, {} threads | {:.1} MB out in {files} file(s), peak RSS {:.0} MB",
            t.input,
            t.written,
            t.dropped,
            t.failed,
            if self.error.is_some() {
                "  (FAILED: nothing committed)"
            } else if self.interrupted {
                "  (INTERRUPTED: nothing committed)"
            } else if self.conserved {
                ""
            } else {
                "  (COUNTS DO NOT ADD UP)"
            },
            self.elapsed_secs,
            self.mb_per_sec,
            self.threads,
            mb_out as f64 / 1e6,
            self.peak_rss_bytes as f64 / 1e6
        );
        s
    }

    /// The largest stage counters, `stage.counter=n`, largest first.
    fn top_counters(&self, n: usize) -> String {
        let mut all: Vec<(u64, String)> = self
            .stages
            .iter()
            .flat_map(|r| r.stats.counters.iter().map(move |(k, v)| (*v, format!("{}.{k}", r.id))))
            .filter(|(v, _)| *v > 0)
            .collect();
        all.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        all.iter().take(n).map(|(v, k)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    }
}
