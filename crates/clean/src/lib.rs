//! # millstone-clean
//!
//! Cleaning stages: they rewrite or filter documents one at a time, so they all run in parallel.
//!
//! | type | does |
//! |---|---|
//! | `clean.normalize_unicode` | NFC/NFKC, mojibake repair, removes control/format characters, optional quote and dash folding |
//! | `clean.normalize_whitespace` | one space between words, no trailing blanks, at most one empty line, LF line ends |
//! | `clean.strip_boilerplate` | drops share/subscribe/cookie/related/byline lines and cuts comment sections |
//! | `clean.length` | keeps documents within char/word/line bounds |
//! | `clean.gopher_quality`, `clean.gopher_repetition`, `clean.c4`, `clean.fineweb` | the field's quality rules, published thresholds, one drop reason per rule |
//! | `clean.html_to_text` | main-content extraction from HTML (rs-trafilatura), metadata into meta |
//! | `clean.language` | language identification (whatlang), keep listed languages |
//! | `clean.pii` | redact e-mails, phones, IPs, card numbers, IBANs |
//! | `clean.repeated_lines` | removes lines that recur across documents of one source (site footers) |
//!
//! ```
//! use millstone_clean::boilerplate::{Boilerplate, BoilerplateConfig};
//! // Comment sections are cut only after enough article text (200 chars by default).
//! let config = BoilerplateConfig { min_chars_before_cut: 20, ..Default::default() };
//! let cleaner = Boilerplate::new(&config).unwrap();
//! let page = "Lavrov spoke in Hamburg on Thursday.\n\nShare this:\n\nLeave a Comment\n\nJoe\nNice article!\n";
//! let cleaned = cleaner.clean(page);
//! assert_eq!(cleaned.text.trim_end(), "Lavrov spoke in Hamburg on Thursday.");
//! ```
#![deny(missing_docs)]

pub mod boilerplate;
pub mod html;
pub mod language;
pub mod length;
pub mod normalize;
pub mod pii;
pub mod quality;
pub mod repeated;

use millstone_core::Registry;

/// Registers every stage of this crate.
pub fn register(registry: &mut Registry) {
    registry.register::<normalize::UnicodeConfig>();
    registry.register::<normalize::WhitespaceConfig>();
    registry.register::<boilerplate::BoilerplateConfig>();
    registry.register::<length::LengthConfig>();
    registry.register::<repeated::RepeatedLinesConfig>();
    registry.register::<quality::GopherQualityConfig>();
    registry.register::<quality::GopherRepetitionConfig>();
    registry.register::<quality::C4Config>();
    registry.register::<quality::FineWebConfig>();
    registry.register::<language::LanguageConfig>();
    registry.register::<pii::PiiConfig>();
    registry.register::<html::HtmlConfig>();
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A user pattern does not compile.
    #[error("pattern `{pattern}` is not a valid regular expression: {message}")]
    BadPattern {
        /// The pattern.
        pattern: String,
        /// The compiler's message.
        message: String,
    },
}
