//! # millstone-dedup
//!
//! Deduplication, as stages and as a library usable without the runner.
//!
//! | type | finds |
//! |---|---|
//! | `dedup.exact` | documents whose normalised text (or a meta field) is identical |
//!
//! ```
//! use millstone_dedup::{ExactHasher, Normalization};
//! use millstone_core::Document;
//! let h = ExactHasher::text(Normalization::default());
//! assert_eq!(h.hash(&Document::new("a", "Same  TEXT")), h.hash(&Document::new("b", "same text")));
//! ```
#![deny(missing_docs)]

pub mod exact;
pub mod normalize;
pub mod report;

use millstone_core::Registry;

pub use exact::{ExactConfig, ExactHasher};
pub use normalize::Normalization;

/// Registers every stage of this crate.
pub fn register(registry: &mut Registry) {
    registry.register::<ExactConfig>();
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Parameters that cannot work together.
    #[error("invalid parameters: {0}")]
    Parameters(String),
}
