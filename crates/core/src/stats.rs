//! Per-stage statistics, recorded by the runner once per batch.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::profile::Profile;

/// How many error samples a stage keeps for the report.
pub const MAX_ERROR_SAMPLES: usize = 20;

/// One recorded failure: which record, and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorSample {
    /// Document id, if the failure is about a document.
    pub id: Option<String>,
    /// Where the record came from (`file:line`).
    pub location: String,
    /// The error message.
    pub message: String,
}

/// What one stage did over a run.
///
/// Conservation: for one-to-one stages `docs_in == docs_out + dropped + failed`; for
/// flat-map stages (`flat_map`) `docs_out` counts emitted pieces and only
/// `docs_in >= failed` is required.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StageStats {
    /// Documents that entered the stage (for sources: records read, good or bad).
    pub docs_in: u64,
    /// Documents passed on.
    pub docs_out: u64,
    /// Dropped documents by reason.
    pub dropped: BTreeMap<&'static str, u64>,
    /// Documents (or records) that failed.
    pub failed: u64,
    /// Text bytes in.
    pub bytes_in: u64,
    /// Text bytes out.
    pub bytes_out: u64,
    /// Time spent inside the stage, summed over threads.
    #[serde(serialize_with = "as_secs")]
    pub busy: Duration,
    /// Stage-specific counters (`lines_removed`, `clusters`...).
    pub counters: BTreeMap<&'static str, u64>,
    /// Largest state a barrier held, in bytes.
    pub retained_bytes_peak: u64,
    /// Whether one input may produce several outputs.
    pub flat_map: bool,
    /// The first failures, for the report.
    pub error_samples: Vec<ErrorSample>,
    /// Failures by kind (the error message up to its first `:`, numbers as `N`).
    pub failures: BTreeMap<String, u64>,
    /// Distributions: for sources, of what they read; for sinks, of what they were given (with
    /// every tagged field); for other stages, samples of what they dropped and what they
    /// observed (cluster sizes).
    #[serde(skip_serializing_if = "Profile::is_empty")]
    pub profile: Profile,
}

/// The kind of a failure, for counting: its message up to the first `:`, numbers as `N` (digits
/// inside a word, as in `UTF-8`, stay), at most 60 characters (`invalid UTF-8 at byte N`).
pub fn failure_kind(message: &str) -> String {
    let head = message.split(": ").next().unwrap_or(message);
    let mut kind = String::new();
    let mut in_number = false;
    let mut previous = ' ';
    for c in head.chars() {
        if c.is_ascii_digit() && (in_number || !(previous.is_alphanumeric() || previous == '-')) {
            if !in_number {
                kind.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            kind.push(c);
        }
        previous = c;
        if kind.len() >= 60 {
            break;
        }
    }
    kind
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1e6).round() / 1e6)
}

impl StageStats {
    /// Total dropped documents.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    /// Whether the counts add up.
    pub fn conserved(&self) -> bool {
        if self.flat_map {
            self.docs_in >= self.failed
        } else {
            self.docs_in == self.docs_out + self.dropped_total() + self.failed
        }
    }

    /// Records a failure: counted by kind, and sampled if there is room.
    pub fn record_failure(&mut self, sample: ErrorSample) {
        self.failed += 1;
        *self.failures.entry(failure_kind(&sample.message)).or_default() += 1;
        self.sample_error(sample);
    }

    /// Records a failure sample if there is room.
    pub fn sample_error(&mut self, sample: ErrorSample) {
        if self.error_samples.len() < MAX_ERROR_SAMPLES {
            self.error_samples.push(sample);
        }
    }

    /// Adds another partial record of the same stage.
    pub fn merge(&mut self, other: &StageStats) {
        self.docs_in += other.docs_in;
        self.docs_out += other.docs_out;
        for (k, v) in &other.dropped {
            *self.dropped.entry(k).or_default() += v;
        }
        self.failed += other.failed;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.busy += other.busy;
        for (k, v) in &other.counters {
            *self.counters.entry(k).or_default() += v;
        }
        self.retained_bytes_peak = self.retained_bytes_peak.max(other.retained_bytes_peak);
        self.flat_map |= other.flat_map;
        for (k, v) in &other.failures {
            *self.failures.entry(k.clone()).or_default() += v;
        }
        for sample in &other.error_samples {
            self.sample_error(sample.clone());
        }
        self.profile.merge(&other.profile);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_kinds_group_messages() {
        assert_eq!(failure_kind("invalid UTF-8 at byte 42"), "invalid UTF-8 at byte N");
        assert_eq!(failure_kind("not valid JSON: expected value at line 1 column 5"), "not valid JSON");
        let mut st = StageStats::default();
        for i in 0..3 {
            st.record_failure(ErrorSample { id: None, location: "f".into(), message: format!("bad at {i}") });
        }
        assert_eq!((st.failed, st.failures["bad at N"]), (3, 3));
    }

    #[test]
    fn conservation_and_merge() {
        let mut a = StageStats { docs_in: 10, docs_out: 7, failed: 1, ..Default::default() };
        a.dropped.insert("too_short", 2);
        assert!(a.conserved());
        let b = a.clone();
        a.merge(&b);
        assert_eq!(a.docs_in, 20);
        assert_eq!(a.dropped["too_short"], 4);
        assert!(a.conserved());
        a.docs_out += 1;
        assert!(!a.conserved());
    }
}
