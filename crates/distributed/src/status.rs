//! What a distributed run has done so far, read from the work folder's markers and failure
//! records (never from the scheduler, whose memory of finished jobs is short).

use std::path::PathBuf;

use serde_json::Value;

use crate::report::MergedReport;
use crate::task::{ranges, TaskFailure, TaskMarker};
use crate::work::{StepPlan, WorkPlan};

/// One step's state.
#[derive(Debug, Clone)]
pub struct StepStatus {
    /// The step as planned.
    pub step: StepPlan,
    /// Ranks with a valid marker.
    pub done: Vec<usize>,
    /// Ranks whose last attempt failed, with the error and log.
    pub failed: Vec<(usize, TaskFailure)>,
    /// Ranks not done and not failed (never run, running, or killed without a record).
    pub pending: Vec<usize>,
    /// Documents the finished tasks read.
    pub docs: u64,
    /// Text bytes the finished tasks read.
    pub bytes: u64,
}

impl StepStatus {
    /// Whether every rank is done.
    pub fn complete(&self) -> bool {
        self.done.len() == self.step.tasks
    }
    /// Ranks to (re)submit: all but the done ones.
    pub fn missing(&self) -> Vec<usize> {
        (0..self.step.tasks).filter(|r| !self.done.contains(r)).collect()
    }
}

fn read_counts(marker: &TaskMarker) -> (u64, u64) {
    let stages = marker.report.get("stages").and_then(Value::as_array).cloned().unwrap_or_default();
    let sources = stages.iter().filter(|s| s.get("kind").and_then(Value::as_str) == Some("source"));
    sources.fold((0, 0), |(docs, bytes), s| {
        let get = |k: &str| s.get(k).and_then(Value::as_u64).unwrap_or(0);
        (docs + get("docs_in"), bytes + get("bytes_out"))
    })
}

/// The state of every step. Markers are checked by output size (cheap); tasks check checksums.
pub fn status(plan: &WorkPlan) -> Vec<StepStatus> {
    plan.steps
        .iter()
        .map(|step| {
            let mut state = StepStatus {
                step: step.clone(),
                done: Vec::new(),
                failed: Vec::new(),
                pending: Vec::new(),
                docs: 0,
                bytes: 0,
            };
            for rank in 0..step.tasks {
                match TaskMarker::load(plan, step.index, rank) {
                    Some(marker) if marker.holds(plan, false).is_ok() => {
                        let (docs, bytes) = read_counts(&marker);
                        state.docs += docs;
                        state.bytes += bytes;
                        state.done.push(rank);
                        continue;
                    }
                    _ => {}
                }
                let failure = std::fs::read_to_string(plan.failure_path(step.index, rank))
                    .ok()
                    .and_then(|t| serde_json::from_str::<TaskFailure>(&t).ok());
                match failure {
                    Some(failure) => state.failed.push((rank, failure)),
                    None => state.pending.push(rank),
                }
            }
            state
        })
        .collect()
}

/// The merged report, once every task of every step is done.
pub fn merged_report(plan: &WorkPlan) -> Option<MergedReport> {
    let markers = plan
        .steps
        .iter()
        .map(|step| TaskMarker::finished(plan, step.index).ok())
        .collect::<Option<Vec<_>>>()?;
    Some(MergedReport::merge(plan, &markers))
}

/// `millstone status` output.
pub fn render(plan: &WorkPlan, steps: &[StepStatus]) -> String {
    use std::fmt::Write;
    let mut s = format!("{}\n", plan.file().display());
    for state in steps {
        let _ = writeln!(
            s,
            "{}\n  done {}/{}, failed {}, pending {}; {} docs, {:.1} MB read by finished tasks",
            state.step.describe(),
            state.done.len(),
            state.step.tasks,
            state.failed.len(),
            state.pending.len(),
            state.docs,
            state.bytes as f64 / 1e6
        );
        if !state.pending.is_empty() && state.pending.len() < state.step.tasks {
            let _ = writeln!(s, "  pending ranks: {}", ranges(&state.pending));
        }
        for (rank, failure) in &state.failed {
            let log = failure.log.as_ref().map(|p| format!(" (log: {})", p.display())).unwrap_or_default();
            let _ = writeln!(s, "  rank {rank} failed: {}{log}", failure.error);
        }
    }
    s
}

/// The log paths a failed rank may have, for messages.
pub fn failure_log(plan: &WorkPlan, step: usize, rank: usize) -> Option<PathBuf> {
    std::fs::read_to_string(plan.failure_path(step, rank))
        .ok()
        .and_then(|t| serde_json::from_str::<TaskFailure>(&t).ok())
        .and_then(|f| f.log)
}
