//! Text normalisation before hashing or shingling: what counts as "the same text".

use millstone_core::schemars::{self, JsonSchema};
use serde::Deserialize;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Which differences to ignore when comparing texts.
///
/// ```
/// use millstone_dedup::Normalization;
/// let n = Normalization { punctuation: true, digits: true, accents: true, ..Default::default() };
/// assert_eq!(n.apply("  Café, 2024!\n\tOpened "), "cafe 0000 opened");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Normalization {
    /// Ignore case (Unicode lowercase).
    pub lowercase: bool,
    /// Treat any run of whitespace as one space; ignore leading/trailing whitespace.
    pub whitespace: bool,
    /// Ignore punctuation and symbols.
    pub punctuation: bool,
    /// Treat every digit as `0`.
    pub digits: bool,
    /// Ignore accents and other combining marks (`café` = `cafe`).
    pub accents: bool,
}

impl Default for Normalization {
    fn default() -> Self {
        Normalization { lowercase: true, whitespace: true, punctuation: false, digits: false, accents: false }
    }
}

impl Normalization {
    /// Leaves text unchanged.
    pub const NONE: Normalization = Normalization {
        lowercase: false,
        whitespace: false,
        punctuation: false,
        digits: false,
        accents: false,
    };

    /// The normalised text.
    pub fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        self.for_each_char(text, |c| out.push(c));
        out
    }

    /// Calls `f` with each character of the normalised text, without allocating a copy.
    pub fn for_each_char(&self, text: &str, mut f: impl FnMut(char)) {
        let mut pending_space = false;
        let mut started = false;
        let mut emit = |c: char, f: &mut dyn FnMut(char)| {
            if self.whitespace && c.is_whitespace() {
                pending_space = started;
                return;
            }
            if pending_space {
                f(' ');
                pending_space = false;
            }
            started = true;
            f(c);
        };
        let mut handle = |c: char, f: &mut dyn FnMut(char)| {
            if self.punctuation && !c.is_alphanumeric() && !c.is_whitespace() {
                return;
            }
            let c = if self.digits && c.is_numeric() { '0' } else { c };
            if self.lowercase && !c.is_lowercase() && c.is_uppercase() {
                for l in c.to_lowercase() {
                    emit(l, f);
                }
            } else {
                emit(c, f);
            }
        };
        if self.accents {
            for c in text.nfd().filter(|c| !is_combining_mark(*c)) {
                handle(c, &mut f);
            }
        } else {
            for c in text.chars() {
                handle(c, &mut f);
            }
        }
    }
}
