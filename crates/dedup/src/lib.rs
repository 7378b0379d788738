//! # millstone-dedup
//!
//! Deduplication, as stages and as a library usable without the runner.
//!
//! <!-- stages:begin: generated from the registry by tests/docs.rs -->
//! | type | kind | what it does | on_match |
//! |---|---|---|---|
//! | `dedup.bloom` | barrier | Bounded-memory approximate exact dedup of documents or paragraphs (Bloom filter) | - |
//! | `dedup.decontaminate` | transform | Find benchmark text (13-gram overlap with JSONL/Parquet test sets): drop, cut out +-200 chars, or annotate | drop, remove, annotate |
//! | `dedup.exact` | barrier | Drop exact duplicates (xxh3-128 of normalised text or a meta field), keep the first | drop, annotate |
//! | `dedup.exact_segments` | barrier | Paragraph/line exact dedup across the corpus (keep first or CCNet remove-all, per-source scope) | remove, annotate |
//! | `dedup.minhash` | barrier | Near-duplicate clusters: MinHash-LSH, verified Jaccard/containment, keeper policy | drop, annotate |
//! | `dedup.simhash` | barrier | Near-duplicate clusters by 64-bit SimHash within a Hamming distance, keeper policy | drop, annotate |
//! | `dedup.substring` | barrier | Remove spans repeated from earlier documents (suffix array, keep first copy) | remove, annotate |
//! <!-- stages:end -->
//!
//! ```
//! use millstone_dedup::{ExactHasher, Normalization};
//! use millstone_core::Document;
//! let h = ExactHasher::text(Normalization::default());
//! assert_eq!(h.hash(&Document::new("a", "Same  TEXT")), h.hash(&Document::new("b", "same text")));
//! ```
#![deny(missing_docs)]

pub mod bloom;
pub mod cluster;
pub mod decontaminate;
pub mod eval;
pub mod exact;
pub mod first_seen;
pub mod frequency;
pub mod lsh;
pub mod minhash;
pub mod near;
pub mod normalize;
pub mod report;
pub mod segments;
pub mod shingle;
pub mod shingle_sets;
pub mod simhash;
pub mod substring;
mod verify;

use millstone_core::Registry;

pub use bloom::BloomFilter;
pub use exact::{ExactConfig, ExactHasher};
pub use lsh::LshIndex;
pub use millstone_core::UnionFind;
pub use minhash::{MinHasher, Signature, Similarity};
pub use near::MinHashConfig;
pub use normalize::Normalization;
pub use simhash::SimHasher;

/// Registers every stage of this crate.
pub fn register(registry: &mut Registry) {
    registry.register::<ExactConfig>();
    registry.register::<MinHashConfig>();
    registry.register::<simhash::SimHashConfig>();
    registry.register::<bloom::BloomConfig>();
    registry.register::<segments::SegmentsConfig>();
    registry.register::<substring::SubstringConfig>();
    registry.register::<decontaminate::DecontaminateConfig>();
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Parameters that cannot work together.
    #[error("invalid parameters: {0}")]
    Parameters(String),
}
