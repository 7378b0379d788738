//! Text normalisation before hashing or shingling: what counts as "the same text".

use std::borrow::Cow;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::text::{ascii_whitespace_bytes, HIGH_BITS};
use serde::{Deserialize, Serialize};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Which differences to ignore when comparing texts.
///
/// ```
/// use millstone_dedup::Normalization;
/// let n = Normalization { punctuation: true, digits: true, accents: true, ..Default::default() };
/// assert_eq!(n.apply("  Café, 2024!\n\tOpened "), "cafe 0000 opened");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
        self.apply_into(text, &mut out);
        out
    }

    /// Appends the normalised text to `out` (reuse one buffer across documents).
    pub fn apply_into(&self, text: &str, out: &mut String) {
        let source = self.without_accents(text);
        if !self.punctuation && !self.digits {
            let mut bytes = std::mem::take(out).into_bytes();
            self.push_bytes(&source, &mut bytes);
            *out = String::from_utf8(bytes).expect("normalised text is UTF-8");
            return;
        }
        let start = out.len();
        let mut pending_space = false;
        let mut push = |out: &mut String, c: char| {
            if self.whitespace && c.is_whitespace() {
                pending_space = out.len() > start;
                return;
            }
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        };
        for c in source.chars() {
            if c.is_ascii() {
                let c = if self.punctuation && c.is_ascii_punctuation() {
                    continue;
                } else if self.digits && c.is_ascii_digit() {
                    '0'
                } else if self.lowercase {
                    c.to_ascii_lowercase()
                } else {
                    c
                };
                push(out, c);
                continue;
            }
            let mut emit = |c: char| {
                if self.punctuation && !c.is_alphanumeric() && !c.is_whitespace() {
                    return;
                }
                push(out, if self.digits && c.is_numeric() { '0' } else { c });
            };
            if self.lowercase && c.is_uppercase() {
                // Lowercasing can yield several characters (İ -> i + U+0307); filter each.
                c.to_lowercase().for_each(&mut emit);
            } else {
                emit(c);
            }
        }
    }

    /// `text` without accents and other combining marks when `accents` is set.
    fn without_accents<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.accents {
            Cow::Owned(text.nfd().filter(|c| !is_combining_mark(*c)).collect())
        } else {
            Cow::Borrowed(text)
        }
    }

    /// Appends the UTF-8 bytes of the normalised text to `out`: the bytes [`Normalization::apply`]
    /// gives, without a `String` in between (what hashing needs).
    pub fn apply_bytes(&self, text: &str, out: &mut Vec<u8>) {
        if self.punctuation || self.digits {
            out.extend_from_slice(self.apply(text).as_bytes());
        } else {
            self.push_bytes(&self.without_accents(text), out);
        }
    }

    /// Case and whitespace normalisation (no punctuation or digit rules; accents already
    /// stripped). Runs of ASCII that need no change but lowercasing (words and the single
    /// spaces between them) are copied whole and lowercased in place; whitespace runs and other
    /// characters go one by one, as in `apply_into`'s per-character loop.
    fn push_bytes(&self, source: &str, out: &mut Vec<u8>) {
        let is_space = |b: u8| self.collapses(b);
        out.reserve(source.len());
        let start = out.len();
        let mut pending_space = false;
        let bytes = source.as_bytes();
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            if b < 0x80 && !is_space(b) {
                let end = self.run_end(bytes, i);
                if pending_space {
                    out.push(b' ');
                    pending_space = false;
                }
                let copied = out.len();
                out.extend_from_slice(&bytes[i..end]);
                if self.lowercase {
                    out[copied..].make_ascii_lowercase();
                }
                i = end;
                continue;
            }
            if b < 0x80 {
                pending_space = out.len() > start;
                i += 1;
                continue;
            }
            let c = source[i..].chars().next().expect("a character starts here");
            i += c.len_utf8();
            let mut push = |c: char| {
                if self.whitespace && c.is_whitespace() {
                    pending_space = out.len() > start;
                    return;
                }
                if pending_space {
                    out.push(b' ');
                    pending_space = false;
                }
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            };
            if self.lowercase && c.is_uppercase() {
                // Lowercasing can yield several characters (İ -> i + U+0307).
                c.to_lowercase().for_each(&mut push);
            } else {
                push(c);
            }
        }
    }

    /// Whether ASCII byte `b` is whitespace this normalisation collapses (`char::is_whitespace`'s
    /// ASCII set: space and 9 to 13).
    fn collapses(&self, b: u8) -> bool {
        self.whitespace && (b == b' ' || (9..=13).contains(&b))
    }

    /// Where the copyable run starting at `start` ends (`bytes[start]` is ASCII and not
    /// whitespace): ASCII bytes, with no whitespace but single spaces between two of them.
    /// Eight bytes at a time while no word holds a non-ASCII byte, whitespace other than a space,
    /// or a space after a space; then byte by byte.
    fn run_end(&self, bytes: &[u8], start: usize) -> usize {
        let is_space = |b: u8| self.collapses(b);
        let plain = |b: u8| b < 0x80 && !is_space(b);
        let mut end = start + 1;
        let mut previous_space = false;
        while let Some(chunk) = bytes.get(end..end + 8) {
            let x = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            let mut stops = x & HIGH_BITS;
            if self.whitespace {
                let (spaces, other) = ascii_whitespace_bytes(x);
                let doubled = spaces & ((spaces << 8) | if previous_space { 0x80 } else { 0 });
                stops |= other | doubled;
            }
            if stops != 0 {
                end += (stops.trailing_zeros() / 8) as usize;
                break;
            }
            previous_space = x >> 56 == u64::from(b' ');
            end += 8;
        }
        // A space is part of the run only before a plain byte.
        if self.whitespace && bytes[end - 1] == b' ' && !bytes.get(end).is_some_and(|&b| plain(b)) {
            return end - 1;
        }
        while let Some(&b) = bytes.get(end) {
            let next_plain = bytes.get(end + 1).is_some_and(|&n| plain(n));
            if b >= 0x80 || (is_space(b) && !(b == b' ' && next_plain)) {
                break;
            }
            end += 1;
        }
        end
    }

    /// Calls `f` with each character of the normalised text.
    pub fn for_each_char(&self, text: &str, mut f: impl FnMut(char)) {
        self.apply(text).chars().for_each(&mut f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn normalisation_is_idempotent_and_trimmed(text in millstone_testkit::text(), p in any::<bool>(), d in any::<bool>(), a in any::<bool>()) {
            let n = Normalization { lowercase: true, whitespace: true, punctuation: p, digits: d, accents: a };
            let once = n.apply(&text);
            prop_assert_eq!(n.apply(&once), once.clone());
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
        }
    }

    /// The definition: each character on its own, as the run copier must agree with.
    fn one_by_one(n: &Normalization, text: &str) -> String {
        let mut out = String::new();
        let mut pending_space = false;
        let mut push = |out: &mut String, c: char| {
            if n.whitespace && c.is_whitespace() {
                pending_space = !out.is_empty();
            } else {
                if pending_space {
                    out.push(' ');
                    pending_space = false;
                }
                out.push(c);
            }
        };
        for c in text.chars() {
            if n.lowercase && c.is_uppercase() {
                c.to_lowercase().for_each(|c| push(&mut out, c));
            } else {
                push(&mut out, c);
            }
        }
        out
    }

    proptest! {
        #[test]
        fn the_byte_path_gives_the_char_by_char_text(
            chars in prop::collection::vec(prop::sample::select(vec![
                'a', 'Z', ' ', '\t', '\n', '\u{b}', '\u{c}', '\r', '\u{1c}', '.', '9', 'É', 'İ', '\u{a0}', '\u{2003}', '中',
            ]), 0..60),
            lowercase in any::<bool>(),
            whitespace in any::<bool>(),
        ) {
            let text: String = chars.into_iter().collect();
            let n = Normalization { lowercase, whitespace, ..Normalization::NONE };
            let expected = one_by_one(&n, &text);
            prop_assert_eq!(n.apply(&text), expected.clone());
            let mut bytes = b"kept ".to_vec();
            n.apply_bytes(&text, &mut bytes);
            prop_assert_eq!(&bytes[5..], expected.as_bytes());
        }
    }

    proptest! {
        /// Long runs of words and single spaces, which the eight-byte scan copies, broken at every
        /// offset by doubled spaces, other whitespace and non-ASCII characters.
        #[test]
        fn the_eight_byte_scan_gives_the_char_by_char_text(
            tokens in prop::collection::vec(prop::sample::select(vec![
                "word", "Word", "a", "ABCDEFGHIJ", " ", " ", " ", "  ", "\n", " \n", "\t", "é", "ÀB", "x.y", "\u{a0}",
            ]), 0..80),
            lowercase in any::<bool>(),
            whitespace in any::<bool>(),
        ) {
            let text: String = tokens.concat();
            let n = Normalization { lowercase, whitespace, ..Normalization::NONE };
            let mut bytes = Vec::new();
            n.apply_bytes(&text, &mut bytes);
            prop_assert_eq!(String::from_utf8(bytes).unwrap(), one_by_one(&n, &text));
        }
    }

    #[test]
    fn ascii_and_unicode_agree() {
        let n = Normalization { punctuation: true, ..Default::default() };
        assert_eq!(n.apply("Ünïcode, ASCII! «quoted» ÉTÉ"), "ünïcode ascii quoted été");
    }
}
