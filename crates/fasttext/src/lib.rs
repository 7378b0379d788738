//! Reads fastText supervised models (`.bin`, and quantized `.ftz` such as `lid.176.ftz`) and
//! predicts labels exactly as fastText 0.9 does: the same tokens, subword hashes, pruned
//! dictionaries, product-quantized rows, and softmax, one-vs-all or hierarchical-softmax output.
//!
//! Why our own reader: the pure-Rust `fasttext` crate (0.8.0) loads `lid.176.ftz` but predicts
//! wrong labels from quantized models (measured: "Le chat est assis sur le tapis." comes out as
//! `pt`, German as `ar`, Russian as `hi`); the other crates bind the archived C++ library and
//! need a C++ build. Inference is a few hundred lines; training is out of scope.
//!
//! ```no_run
//! let model = millstone_fasttext::Model::open("lid.176.ftz")?;
//! let best = model.predict("Le chat est assis sur le tapis.", 1, 0.0);
//! assert_eq!(best[0].label(), "fr");
//! # Ok::<(), millstone_fasttext::Error>(())
//! ```

mod dictionary;
mod matrix;
mod model;
mod read;

pub use model::{Loss, Model, Prediction, Scratch};

/// What can go wrong reading a model file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read the model: {0}")]
    Io(#[from] std::io::Error),
    /// The file does not start with fastText's magic number.
    #[error("not a fastText model (magic number {found:#x}, expected {expected:#x})")]
    NotFastText {
        /// What the file starts with.
        found: u32,
        /// fastText's magic number.
        expected: u32,
    },
    /// A fastText version this reader does not know.
    #[error("fastText model version {0}, expected 11 or 12")]
    Version(i32),
    /// The file is a word-vector model, not a classifier.
    #[error("a {0} model (word vectors), not a supervised classifier")]
    NotSupervised(&'static str),
    /// A field holds an impossible value (truncated or corrupt file).
    #[error("corrupt model: {0}")]
    Corrupt(String),
}
