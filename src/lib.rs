//! # millstone
//!
//! The command-line front end of millstone and the built-in stage registry. Each stage crate
//! registers its own stages with one explicit call; nothing is registered behind your back.
//!
//! ```
//! let registry = millstone::builtin_registry();
//! assert!(registry.get("dedup.exact").is_some());
//! ```
#![deny(missing_docs)]

pub mod describe;
pub mod docs;
#[doc(hidden)]
pub mod fuzzing;
pub mod marker;
pub mod stats;

use millstone_core::Registry;

/// A registry with every stage that ships with millstone.
pub fn builtin_registry() -> Registry {
    let mut registry = Registry::new();
    millstone_ingest::register(&mut registry);
    millstone_clean::register(&mut registry);
    millstone_segment::register(&mut registry);
    millstone_dedup::register(&mut registry);
    millstone_export::register(&mut registry);
    registry
}
