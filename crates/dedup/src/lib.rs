//! # millstone-dedup
//!
//! Deduplication, as stages and as a library usable without the runner.
//!
//! | type | finds |
//! |---|---|
//! | `dedup.exact` | documents whose normalised text (or a meta field) is identical |
//! | `dedup.minhash` | near duplicates: MinHash-LSH, verified Jaccard/containment, keeper policy |
//! | `dedup.simhash` | near duplicates: 64-bit SimHash within a Hamming distance, block tables |
//! | `dedup.exact_segments` | repeated paragraphs/lines: keep first, CCNet remove-all, per-source scope |
//! | `dedup.substring` | spans repeated from earlier documents (suffix array), first copy kept |
//! | `dedup.bloom` | bounded-memory approximate exact dedup of documents or paragraphs (BFF) |
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
pub mod eval;
pub mod exact;
pub mod lsh;
pub mod minhash;
pub mod near;
pub mod normalize;
pub mod report;
pub mod segments;
pub mod shingle;
pub mod simhash;
pub mod substring;
pub mod unionfind;

use millstone_core::Registry;

pub use bloom::BloomFilter;
pub use exact::{ExactConfig, ExactHasher};
pub use lsh::LshIndex;
pub use minhash::{MinHasher, Signature, Similarity};
pub use near::MinHashConfig;
pub use normalize::Normalization;
pub use simhash::SimHasher;
pub use unionfind::UnionFind;

/// Registers every stage of this crate.
pub fn register(registry: &mut Registry) {
    registry.register::<ExactConfig>();
    registry.register::<MinHashConfig>();
    registry.register::<simhash::SimHashConfig>();
    registry.register::<bloom::BloomConfig>();
    registry.register::<segments::SegmentsConfig>();
    registry.register::<substring::SubstringConfig>();
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Parameters that cannot work together.
    #[error("invalid parameters: {0}")]
    Parameters(String),
}
