//! # millstone-core
//!
//! The types every millstone crate shares, and the only crate a stage author must depend on:
//!
//! * [`Document`] and [`Batch`]: what flows through a pipeline. A document carries its
//!   [`Provenance`] (file and line or byte offset) so that every error can name the input record.
//! * The four stage kinds ([`Source`], [`Transform`], [`Barrier`], [`Sink`]) and the small
//!   adapters ([`Filter`], [`Map`], [`Split`]) that make most stages a single method.
//! * [`Emit`]: how a stage keeps, drops (with a [`DropReason`]) or counts.
//! * [`StageConfig`] and [`Registry`]: a stage's YAML configuration type, validated and built into
//!   a runtime [`Stage`]; registration is an explicit function call per stage type.
//! * [`StageStats`] and [`Plan`]: the bookkeeping and the executable pipeline the runner consumes.
//!
//! ```
//! use millstone_core::{Document, Emit, Filter, Verdict, DropReason, Transform, FilterStage};
//!
//! struct NonEmpty;
//! impl Filter for NonEmpty {
//!     fn check(&self, doc: &Document) -> Result<Verdict, millstone_core::StageError> {
//!         Ok(if doc.text.trim().is_empty() { Verdict::Drop(DropReason("empty")) } else { Verdict::Keep })
//!     }
//! }
//! let stage = FilterStage(NonEmpty);
//! let mut out = Emit::new(false);
//! stage.apply(Document::new("a", "hello"), &mut out).unwrap();
//! stage.apply(Document::new("b", "   "), &mut out).unwrap();
//! assert_eq!(out.kept().len(), 1);
//! assert_eq!(out.dropped_count(), 1);
//! ```
#![deny(missing_docs)]

mod atomic;
mod bytesize;
mod document;
mod error;
mod plan;
pub mod prehashed;
pub mod profile;
mod registry;
mod spill;
mod stage;
mod stats;
pub mod suggest;
pub mod text;
mod unionfind;
mod vocab;

pub use atomic::AtomicFile;
pub use bytesize::ByteSize;
pub use document::{Batch, DocId, Document, Location, Meta, Provenance, Span};
pub use error::{BuildError, Error, FieldError, StageError};
pub use plan::{ErrorPolicy, Plan, PlannedStage, RuntimeSettings, Threads};
pub use profile::{Histogram, Profile, Sample, Samples, Threshold};
pub use registry::{part_path, BuildContext, ConfigProblem, Registry, StageConfig, StageInfo};
pub use spill::SpillFile;
pub use stage::{
    commit_all, Barrier, BatchEncoder, CountByKey, DropReason, Emit, Filter, FilterStage, KeepFirstByKey,
    LineParser, Map, MapStage, NearDuplicates, NearVerdict, PendingOutput, PrefixState, Prepared, RawLine,
    RecordError, SegmentMatches, Shard, Sink, SinkSummary, Source, SourceItem, Split, SplitStage, Stage,
    StageKind, TagFilter, Transform, Verdict, DROPPED_CHARS,
};
pub use stats::{failure_kind, ErrorSample, StageStats};
pub use unionfind::UnionFind;
pub use vocab::{FieldRef, OnMatch};

/// Re-exported so stage crates derive the same `JsonSchema` the registry uses.
pub use schemars;
