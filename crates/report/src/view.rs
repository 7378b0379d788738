//! The fields of a run report the HTML report reads; everything else is ignored, and every
//! field may be missing, so single runs, merged distributed reports and `millstone stats` all
//! parse.

use std::collections::BTreeMap;

use millstone_core::{Profile, Threshold};
use serde::Deserialize;

/// A run report, as far as the HTML report needs it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RunView {
    /// Pipeline name.
    pub pipeline: String,
    /// Worker threads.
    pub threads: usize,
    /// Tasks per step (distributed runs).
    pub tasks: usize,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
    /// Input MB per second.
    pub mb_per_sec: f64,
    /// Peak resident memory.
    pub peak_rss_bytes: u64,
    /// Totals.
    pub totals: TotalsView,
    /// Stages in pipeline order.
    pub stages: Vec<StageView>,
    /// The error that stopped the run.
    pub error: Option<String>,
    /// Whether the run was interrupted.
    pub interrupted: bool,
}

/// Document totals.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TotalsView {
    /// Records read.
    pub input: u64,
    /// Documents written.
    pub written: u64,
    /// Documents dropped.
    pub dropped: u64,
    /// Records or documents failed.
    pub failed: u64,
}

/// One stage.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StageView {
    /// Stage id.
    pub id: String,
    /// Registered type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// `source`, `transform`, `barrier` or `sink`.
    pub kind: String,
    /// Documents in.
    pub docs_in: u64,
    /// Documents passed on.
    pub docs_out: u64,
    /// Drops by reason.
    pub dropped: BTreeMap<String, u64>,
    /// Failures.
    pub failed: u64,
    /// Text bytes in.
    pub bytes_in: u64,
    /// Text bytes out.
    pub bytes_out: u64,
    /// Distributions.
    pub profile: Profile,
    /// Thresholds the stage applies to tagged fields.
    pub thresholds: Vec<Threshold>,
}
