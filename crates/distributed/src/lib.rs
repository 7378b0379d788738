//! # millstone-distributed
//!
//! Runs one pipeline as a sequence of **steps**, each a set of independent **tasks**, so that
//! a pipeline that runs with `millstone run` also runs on many processes or machines and gives
//! the same answer.
//!
//! * [`plan`] lists the inputs once (sorted, sizes, byte ranges, fingerprints), cuts the
//!   pipeline at its barriers and writes `<work>/plan.json`. Runs of sources, transforms and
//!   sinks become *parallel* steps of N tasks; each run of consecutive barriers becomes a
//!   *global* step of one task that sees every document in the order `millstone run` would, so
//!   global dedup decides exactly as in one process. Two kinds of barrier are split instead:
//!   keep-first-by-key barriers (`dedup.exact`), segment barriers (`dedup.exact_segments`) and
//!   counting barriers (`clean.repeated_lines`) become a parallel *reduce* step over key buckets,
//!   and LSH near-duplicate barriers (`dedup.minhash`) a parallel *match* step over band-key
//!   buckets and a *cluster* step that sees only the documents that matched; both then apply
//!   their verdicts where the documents are.
//! * [`run_task`] runs one task: it checks the plan (configuration hash, input fingerprints, the
//!   previous step's markers), runs its slice of the pipeline with the ordinary runner, commits
//!   its outputs and then writes a marker `done/<step>/<rank>.json` with their checksums. A task
//!   whose marker still checks out returns at once, so rerunning is always safe.
//! * Between steps documents travel in zstd-compressed chunk files (`data/<step>/`), each at
//!   most `chunk_bytes` of document bytes, handed to the next step's tasks in order.
//! * [`engine`] drives the tasks: `local` (processes on this machine) and `slurm` (one job array
//!   per step, chained with `afterok`); both submit only tasks without a valid marker.
//! * [`status`] reads the markers back: steps, ranks done/failed/pending, documents and bytes,
//!   and once everything is done the merged report.
//!
//! The order of documents is defined as the order of `millstone run`: task `i` of a parallel
//! step holds a contiguous piece of that order, so the parts `*.<i>-of-<n>.*` of an output,
//! concatenated by `i`, equal the single-process output.
#![deny(missing_docs)]

mod counted;
pub mod engine;
mod error;
mod fingerprint;
mod intermediate;
mod keyed;
mod near;
mod report;
mod segments;
pub mod status;
mod task;
mod work;

pub use error::Error;
pub use fingerprint::{input_print, output_sum, InputPrint, OutputSum};
pub use report::MergedReport;
pub use task::{run_task, TaskFailure, TaskMarker, TaskOptions, TaskOutcome};
pub use work::{plan, PlanOptions, PlannedShard, StepKind, StepPlan, WorkPlan, PLAN_FILE};
