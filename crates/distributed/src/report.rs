//! The report of a whole distributed run, merged from the task markers: per stage, the sums of
//! what its tasks counted (each stage runs in exactly one step), totals and the conservation
//! check, as `millstone run` reports them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use millstone_core::Profile;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::task::TaskMarker;
use crate::work::{StepKind, WorkPlan};

/// One stage, summed over its tasks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MergedStage {
    /// Stage id.
    pub id: String,
    /// Registered type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Stage kind.
    pub kind: String,
    /// Documents in.
    pub docs_in: u64,
    /// Documents passed on.
    pub docs_out: u64,
    /// Dropped documents by reason.
    pub dropped: BTreeMap<String, u64>,
    /// Failed documents or records.
    pub failed: u64,
    /// Failures by kind.
    pub failures: BTreeMap<String, u64>,
    /// Text bytes in.
    pub bytes_in: u64,
    /// Text bytes out.
    pub bytes_out: u64,
    /// Stage counters, summed.
    pub counters: BTreeMap<String, u64>,
    /// Largest state one task of the stage held.
    pub retained_bytes_peak: u64,
    /// Whether one input may give several outputs.
    pub flat_map: bool,
    /// Distributions, merged over the tasks (see `millstone_core::Profile`).
    #[serde(default, skip_serializing_if = "Profile::is_empty")]
    pub profile: Profile,
}

/// One step: how long its tasks took, how much memory and intermediate data they used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepSummary {
    /// The step.
    pub index: usize,
    /// `parallel` or `global`.
    pub kind: String,
    /// Its tasks.
    pub tasks: usize,
    /// The slowest task's seconds.
    pub max_task_secs: f64,
    /// All tasks' seconds.
    pub total_task_secs: f64,
    /// The largest task peak RSS.
    pub max_peak_rss_bytes: u64,
    /// Chunk files written for the next step.
    pub chunk_files: usize,
    /// Their bytes (compressed).
    pub chunk_bytes: u64,
}

/// Totals over the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedTotals {
    /// Records the sources met.
    pub input: u64,
    /// Documents that reached the end.
    pub written: u64,
    /// Documents dropped.
    pub dropped: u64,
    /// Documents or records that failed.
    pub failed: u64,
    /// Whether a stage may emit several documents per input.
    pub has_flat_map: bool,
}

/// The merged report (`<work>/report.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MergedReport {
    /// Pipeline name.
    pub pipeline: String,
    /// Hash of the resolved configuration.
    pub config_hash: String,
    /// Tasks per parallel step.
    pub tasks: usize,
    /// Per step.
    pub steps: Vec<StepSummary>,
    /// Per pipeline stage, in order.
    pub stages: Vec<MergedStage>,
    /// Totals.
    pub totals: MergedTotals,
    /// Whether every stage's counts and the totals add up.
    pub conserved: bool,
    /// Every output the tasks committed except chunk files, sorted.
    pub outputs: Vec<PathBuf>,
}

fn u(value: &Value, key: &str) -> u64 {
    value.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn add_map(into: &mut BTreeMap<String, u64>, value: Option<&Value>) {
    for (k, v) in value.and_then(Value::as_object).into_iter().flatten() {
        *into.entry(k.clone()).or_default() += v.as_u64().unwrap_or(0);
    }
}

impl MergedReport {
    /// Merges the markers of every task of `plan` (`markers[step][rank]`).
    pub(crate) fn merge(plan: &WorkPlan, markers: &[Vec<TaskMarker>]) -> Self {
        // A stage's numbers may come from two steps (a reduce step counts distinct keys, the
        // step after it the documents), so stages are merged by id, in pipeline order.
        let mut stages: Vec<MergedStage> = Vec::new();
        let mut steps = Vec::new();
        let mut outputs = Vec::new();
        let mut pipeline = String::new();
        let mut written = 0;
        for (step, tasks) in plan.steps.iter().zip(markers) {
            let mut summary = StepSummary {
                index: step.index,
                kind: match step.kind {
                    StepKind::Global => "global",
                    StepKind::Parallel => "parallel",
                    StepKind::Reduce => "reduce",
                    StepKind::Match => "match",
                    StepKind::Cluster => "cluster",
                }
                .into(),
                tasks: step.tasks,
                ..Default::default()
            };
            for marker in tasks {
                let report = &marker.report;
                if let Some(name) = report.get("pipeline").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                    pipeline = name.to_string();
                }
                let secs = report.get("elapsed_secs").and_then(Value::as_f64).unwrap_or(0.0);
                summary.max_task_secs = summary.max_task_secs.max(secs);
                summary.total_task_secs += secs;
                summary.max_peak_rss_bytes = summary.max_peak_rss_bytes.max(marker.peak_rss_bytes);
                summary.chunk_files += marker.chunks.len();
                for output in &marker.outputs {
                    if marker.chunks.contains(&output.path) {
                        summary.chunk_bytes += output.size;
                    } else {
                        outputs.push(output.path.clone());
                    }
                }
                if step.index + 1 == plan.steps.len() {
                    written += report.get("totals").map_or(0, |t| u(t, "written"));
                }
                let user_stages = report
                    .get("stages")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|s| !s.get("id").and_then(Value::as_str).unwrap_or(":").starts_with(':'));
                for stage in user_stages {
                    let id = stage.get("id").and_then(Value::as_str).unwrap_or_default();
                    let position = match stages.iter().position(|s| s.id == id) {
                        Some(position) => position,
                        None => {
                            stages.push(MergedStage {
                                id: id.into(),
                                type_name: stage
                                    .get("type")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .into(),
                                kind: stage.get("kind").and_then(Value::as_str).unwrap_or_default().into(),
                                ..Default::default()
                            });
                            stages.len() - 1
                        }
                    };
                    let merged = &mut stages[position];
                    merged.docs_in += u(stage, "docs_in");
                    merged.docs_out += u(stage, "docs_out");
                    merged.failed += u(stage, "failed");
                    merged.bytes_in += u(stage, "bytes_in");
                    merged.bytes_out += u(stage, "bytes_out");
                    merged.retained_bytes_peak =
                        merged.retained_bytes_peak.max(u(stage, "retained_bytes_peak"));
                    merged.flat_map |= stage.get("flat_map").and_then(Value::as_bool).unwrap_or(false);
                    add_map(&mut merged.dropped, stage.get("dropped"));
                    add_map(&mut merged.failures, stage.get("failures"));
                    add_map(&mut merged.counters, stage.get("counters"));
                    if let Some(profile) =
                        stage.get("profile").and_then(|p| serde_json::from_value::<Profile>(p.clone()).ok())
                    {
                        merged.profile.merge(&profile);
                    }
                }
            }
            steps.push(summary);
        }
        outputs.sort();
        outputs.dedup();
        let mut totals = MergedTotals { written, ..Default::default() };
        for stage in &stages {
            if stage.kind == "source" {
                totals.input += stage.docs_in;
            }
            totals.dropped += stage.dropped.values().sum::<u64>();
            totals.failed += stage.failed;
            totals.has_flat_map |= stage.flat_map;
        }
        let stages_ok = stages.iter().all(|s| {
            let dropped: u64 = s.dropped.values().sum();
            if s.flat_map {
                s.docs_in >= s.failed
            } else if s.kind == "source" {
                s.docs_in == s.docs_out + s.failed
            } else {
                s.docs_in == s.docs_out + dropped + s.failed
            }
        });
        let conserved = stages_ok
            && (totals.has_flat_map || totals.input == totals.written + totals.dropped + totals.failed);
        MergedReport {
            pipeline,
            config_hash: plan.config_hash.clone(),
            tasks: plan.tasks,
            steps,
            stages,
            totals,
            conserved,
            outputs,
        }
    }

    /// A plain-text table, like `millstone run` prints.
    pub fn summary_table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let width = self.stages.iter().map(|r| r.id.len()).max().unwrap_or(5).max(5);
        let _ = writeln!(
            s,
            "{:<width$}  {:>9} {:>9} {:>9} {:>7}  drop reasons",
            "stage", "in", "out", "dropped", "failed"
        );
        for st in &self.stages {
            let reasons: Vec<String> = st.dropped.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(
                s,
                "{:<width$}  {:>9} {:>9} {:>9} {:>7}  {}",
                st.id,
                st.docs_in,
                st.docs_out,
                st.dropped.values().sum::<u64>(),
                st.failed,
                reasons.join(" ")
            );
        }
        for step in &self.steps {
            let _ = writeln!(
                s,
                "step {} ({}, {} task(s)): slowest task {:.2}s, all tasks {:.2}s, peak RSS {:.0} MB, {} chunk files ({:.1} MB)",
                step.index,
                step.kind,
                step.tasks,
                step.max_task_secs,
                step.total_task_secs,
                step.max_peak_rss_bytes as f64 / 1e6,
                step.chunk_files,
                step.chunk_bytes as f64 / 1e6
            );
        }
        let t = &self.totals;
        let _ = write!(
            s,
            "total: {} in = {} written + {} dropped + {} failed{}",
            t.input,
            t.written,
            t.dropped,
            t.failed,
            if self.conserved { "" } else { "  (COUNTS DO NOT ADD UP)" }
        );
        s
    }
}
