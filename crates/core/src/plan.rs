//! The executable pipeline: built stages plus runtime settings. Produced by `millstone-config`,
//! executed by `millstone-runner` (which therefore never depends on the config crate).

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::bytesize::ByteSize;
use crate::stage::Stage;

/// How many worker threads to use: `auto` (all cores) or a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Threads {
    /// As many as the machine has cores.
    #[default]
    Auto,
    /// Exactly this many (at least 1).
    Count(usize),
}

impl Threads {
    /// The concrete number of threads.
    pub fn resolve(self) -> usize {
        match self {
            Threads::Auto => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            Threads::Count(n) => n.max(1),
        }
    }
}

impl Serialize for Threads {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Threads::Auto => s.serialize_str("auto"),
            Threads::Count(n) => s.serialize_u64(*n as u64),
        }
    }
}

impl<'de> Deserialize<'de> for Threads {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Count(usize),
            Text(String),
        }
        match Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected `auto` or a positive integer"))?
        {
            Raw::Count(0) => Err(serde::de::Error::custom("threads must be at least 1 (or `auto`)")),
            Raw::Count(n) => Ok(Threads::Count(n)),
            Raw::Text(t) if t == "auto" => Ok(Threads::Auto),
            Raw::Text(t) => match t.parse::<usize>() {
                Ok(n) if n > 0 => Ok(Threads::Count(n)),
                _ => Err(serde::de::Error::custom(format!(
                    "expected `auto` or a positive integer, found `{t}`"
                ))),
            },
        }
    }
}

impl JsonSchema for Threads {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Threads".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "`auto` or a positive number of worker threads.",
            "anyOf": [{"const": "auto"}, {"type": "integer", "minimum": 1}]
        })
    }
}

/// The `runtime:` section of a pipeline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeSettings {
    /// Worker threads for transforms (`auto` = number of cores). Reader and sink threads are extra.
    pub threads: Threads,
    /// A batch is cut after this many documents...
    pub batch_docs: usize,
    /// ...or after this many bytes of text, whichever comes first.
    pub batch_bytes: ByteSize,
    /// Batches in flight at once per parallel section (never more than 4 per thread); bounds
    /// memory to about `max_in_flight x batch_bytes` per section.
    pub max_in_flight: usize,
    /// Where rejects, quarantine files and default reports go.
    pub out_dir: PathBuf,
    /// Stop at the first bad record or failing document, whatever the stages' `on_error`.
    pub fail_fast: bool,
    /// Upper bound on the state barriers may retain (dedup indexes); exceeding it fails the run.
    pub max_retained: Option<ByteSize>,
    /// A run in which a larger share of the input records failed is a failed run (exit 1, no
    /// completion marker), even though each failure alone was skipped. `1.0` turns this off.
    pub max_failed_fraction: f64,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        RuntimeSettings {
            threads: Threads::Auto,
            batch_docs: 1024,
            batch_bytes: ByteSize(8 << 20),
            max_in_flight: 32,
            out_dir: PathBuf::from("out"),
            fail_fast: false,
            max_retained: None,
            max_failed_fraction: 0.1,
        }
    }
}

/// What the runner does when a stage fails on one document (or a source on one record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorPolicy {
    /// Stop the run with an error naming the stage and the document.
    Fail,
    /// Count the document as failed, log it and go on (the default: a bad record never kills a run).
    #[default]
    Skip,
    /// Like `skip`, and append the document and the error to `<out>/quarantine/<stage>.jsonl`.
    Quarantine,
}

/// One stage of a plan, with the runner-owned settings from its YAML entry.
pub struct PlannedStage {
    /// Unique id (`near_dups`, or `<type>#<index>`).
    pub id: String,
    /// The registered type name.
    pub type_name: &'static str,
    /// Per-document error policy.
    pub on_error: ErrorPolicy,
    /// Write dropped documents with their reason to `<out>/rejects/<id>.jsonl`.
    pub keep_dropped: bool,
    /// The built stage.
    pub stage: Stage,
    /// What `millstone validate` reports about the stage (memory, derived parameters).
    pub notes: Vec<String>,
}

/// A validated, built pipeline, ready to run.
pub struct Plan {
    /// Pipeline name.
    pub name: String,
    /// Runtime settings.
    pub runtime: RuntimeSettings,
    /// Stages in order; the first ones are sources.
    pub stages: Vec<PlannedStage>,
    /// Hash of the resolved configuration (after overrides), for resume markers and reports.
    pub config_hash: String,
}
