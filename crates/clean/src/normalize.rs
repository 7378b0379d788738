//! `clean.normalize_unicode` and `clean.normalize_whitespace`.

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, Document, Emit, Map, MapStage, Stage, StageConfig, StageError, StageKind,
};
use serde::{Deserialize, Serialize};
use unicode_normalization::{is_nfc_quick, is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// Puts `text` into `doc` if it differs (spans no longer apply then), counting the change.
fn replace_text(mut doc: Document, text: String, out: &mut Emit) -> Document {
    if text != doc.text {
        out.count("docs_changed", 1);
        doc.set_text(text);
    }
    doc
}

/// A Unicode normalisation form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Form {
    /// Canonical composition (keeps compatibility characters such as `ﬁ`).
    #[default]
    Nfc,
    /// Compatibility composition (`ﬁ` -> `fi`, full-width -> ASCII).
    Nfkc,
}

/// Configuration of `clean.normalize_unicode`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnicodeConfig {
    /// Normalisation form.
    #[serde(default)]
    pub form: Form,
    /// Remove control and format characters (C0/C1 controls, zero-width spaces, BOM, soft
    /// hyphen, bidi controls) except newline and tab. ZWJ inside emoji sequences is kept.
    #[serde(default = "yes")]
    pub remove_controls: bool,
    /// Fold curly quotes to straight ones and dashes to `-`.
    #[serde(default)]
    pub fold_punctuation: bool,
    /// Repair mojibake: UTF-8 that was decoded as Windows-1252 / Latin-1 (`â€™` -> `’`, `Ã©` -> `é`).
    #[serde(default = "yes")]
    pub fix_mojibake: bool,
}

/// The Windows-1252 byte for a character, if it has one (Latin-1 plus the 0x80-0x9F specials).
fn cp1252_byte(c: char) -> Option<u8> {
    let special = match c {
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8A,
        '‹' => 0x8B,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9A,
        '›' => 0x9B,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        _ => 0,
    };
    if special != 0 {
        return Some(special);
    }
    let code = c as u32;
    ((0x80..=0xFF).contains(&code)).then_some(code as u8)
}

/// Repairs UTF-8 sequences that were decoded as Windows-1252 or Latin-1: a lead character
/// (`Â`-`ô`) followed by the right number of continuation characters whose bytes form a valid
/// UTF-8 character is replaced by that character. Anything else is left alone.
///
/// ```
/// use millstone_clean::normalize::fix_mojibake;
/// assert_eq!(fix_mojibake("It\u{e2}\u{20ac}\u{2122}s caf\u{c3}\u{a9} time"), "It’s café time");
/// assert_eq!(fix_mojibake("Ã  la carte"), "Ã  la carte");
/// ```
pub fn fix_mojibake(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let continuation = match cp1252_byte(c) {
            Some(0xC2..=0xDF) => 1,
            Some(0xE0..=0xEF) => 2,
            Some(0xF0..=0xF4) => 3,
            _ => 0,
        };
        if continuation > 0 && i + continuation < chars.len() {
            let mut bytes = vec![cp1252_byte(c).expect("checked")];
            for &next in &chars[i + 1..=i + continuation] {
                match cp1252_byte(next) {
                    Some(b @ 0x80..=0xBF) => bytes.push(b),
                    _ => break,
                }
            }
            if bytes.len() == continuation + 1 {
                if let Ok(decoded) = std::str::from_utf8(&bytes) {
                    out.push_str(decoded);
                    i += continuation + 1;
                    continue;
                }
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

fn yes() -> bool {
    true
}

impl StageConfig for UnicodeConfig {
    const TYPE: &'static str = "clean.normalize_unicode";
    const KIND: StageKind = StageKind::Transform;
    const SUMMARY: &'static str =
        "Unicode NFC/NFKC, remove control/format characters, fold quotes and dashes";
    const EXAMPLE: &'static str =
        "type: clean.normalize_unicode\nform: nfc\nremove_controls: true\nfix_mojibake: true\n";
    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::transform(MapStage(UnicodeNormalizer { config: self.clone() })))
    }
}

/// Normalises text as configured by [`UnicodeConfig`].
#[derive(Debug, Clone)]
pub struct UnicodeNormalizer {
    config: UnicodeConfig,
}

fn is_removable(c: char, prev: Option<char>, next: Option<char>) -> bool {
    match c {
        '\n' | '\t' => false,
        '\r' => false,
        '\u{200D}' => {
            // Keep ZWJ between two non-ASCII symbols (emoji sequences, Indic conjuncts).
            !(prev.is_some_and(|p| !p.is_ascii()) && next.is_some_and(|n| !n.is_ascii()))
        }
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        '\u{ad}' | '\u{200B}' | '\u{200C}' | '\u{200E}' | '\u{200F}' | '\u{2060}' | '\u{FEFF}' => true,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

fn fold(c: char) -> char {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' => '\'',
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{00AB}' | '\u{00BB}' => '"',
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}' | '\u{2212}' => '-',
        _ => c,
    }
}

impl UnicodeNormalizer {
    /// A normaliser with this configuration.
    pub fn new(config: UnicodeConfig) -> Self {
        UnicodeNormalizer { config }
    }

    /// Normalises `text`. Idempotent: `normalize(normalize(x)) == normalize(x)`.
    pub fn normalize(&self, text: &str) -> String {
        let mut current = self.pass(text);
        if current == text {
            return current;
        }
        // Removing or folding can expose new sequences (and NFKC can produce removable
        // characters), so repeat until stable; in practice at most one more pass changes anything.
        for _ in 0..4 {
            let next = self.pass(&current);
            if next == current {
                break;
            }
            current = next;
        }
        current
    }

    fn pass(&self, text: &str) -> String {
        let repaired;
        let text = if self.config.fix_mojibake && text.chars().any(|c| ('\u{c2}'..='\u{f4}').contains(&c)) {
            repaired = fix_mojibake(text);
            repaired.as_str()
        } else {
            text
        };
        let filtered = if self.config.remove_controls || self.config.fold_punctuation {
            let chars: Vec<char> = text.chars().collect();
            let mut out = String::with_capacity(text.len());
            let mut prev = None;
            for (i, &c) in chars.iter().enumerate() {
                if self.config.remove_controls && is_removable(c, prev, chars.get(i + 1).copied()) {
                    continue;
                }
                let c = if self.config.fold_punctuation { fold(c) } else { c };
                out.push(c);
                prev = Some(c);
            }
            out
        } else {
            text.to_string()
        };
        match self.config.form {
            Form::Nfc if is_nfc_quick(filtered.chars()) == IsNormalized::Yes => filtered,
            Form::Nfkc if is_nfkc_quick(filtered.chars()) == IsNormalized::Yes => filtered,
            Form::Nfc => filtered.nfc().collect(),
            Form::Nfkc => filtered.nfkc().collect(),
        }
    }
}

impl Map for UnicodeNormalizer {
    fn map(&self, doc: Document, out: &mut Emit) -> Result<Document, StageError> {
        let normalized = self.normalize(&doc.text);
        Ok(replace_text(doc, normalized, out))
    }
}

/// Configuration of `clean.normalize_whitespace`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhitespaceConfig {
    /// Most consecutive empty lines to keep (1 keeps paragraph breaks).
    #[serde(default = "one")]
    pub max_blank_lines: usize,
}

fn one() -> usize {
    1
}

impl StageConfig for WhitespaceConfig {
    const TYPE: &'static str = "clean.normalize_whitespace";
    const KIND: StageKind = StageKind::Transform;
    const SUMMARY: &'static str = "Collapse spaces, trim lines, LF line ends, limit empty lines";
    const EXAMPLE: &'static str = "type: clean.normalize_whitespace\nmax_blank_lines: 1\n";
    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::transform(MapStage(WhitespaceNormalizer { max_blank_lines: self.max_blank_lines })))
    }
}

/// Normalises whitespace: Unicode spaces and tabs become one ASCII space, lines are trimmed,
/// CRLF/CR become LF, runs of empty lines are capped, the text is trimmed at both ends.
#[derive(Debug, Clone, Copy)]
pub struct WhitespaceNormalizer {
    /// Most consecutive empty lines kept.
    pub max_blank_lines: usize,
}

impl WhitespaceNormalizer {
    /// Normalises `text`. Idempotent.
    pub fn normalize(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut blank_run = 0usize;
        let mut wrote_line = false;
        for (start, end, _) in millstone_core::text::line_ranges(text) {
            let line = &text[start..end];
            let mut collapsed = String::with_capacity(line.len());
            for word in line.split(|c: char| c.is_whitespace()).filter(|w| !w.is_empty()) {
                if !collapsed.is_empty() {
                    collapsed.push(' ');
                }
                collapsed.push_str(word);
            }
            if collapsed.is_empty() {
                blank_run += 1;
                continue;
            }
            if wrote_line {
                out.push('\n');
                for _ in 0..blank_run.min(self.max_blank_lines) {
                    out.push('\n');
                }
            }
            blank_run = 0;
            out.push_str(&collapsed);
            wrote_line = true;
        }
        out
    }
}

impl Map for WhitespaceNormalizer {
    fn map(&self, doc: Document, out: &mut Emit) -> Result<Document, StageError> {
        let normalized = self.normalize(&doc.text);
        Ok(replace_text(doc, normalized, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unicode(form: Form, fold: bool) -> UnicodeNormalizer {
        UnicodeNormalizer::new(UnicodeConfig {
            form,
            remove_controls: true,
            fold_punctuation: fold,
            fix_mojibake: true,
        })
    }

    #[test]
    fn composes_and_removes_controls() {
        let n = unicode(Form::Nfc, false);
        assert_eq!(n.normalize("cafe\u{301}\u{200B} ok\u{0}\u{FEFF}"), "café ok");
        assert_eq!(n.normalize("👩\u{200D}🚀"), "👩\u{200D}🚀");
        assert_eq!(unicode(Form::Nfkc, false).normalize("ﬁne ＡＢＣ"), "fine ABC");
        assert_eq!(unicode(Form::Nfc, true).normalize("“Hi” – it’s"), "\"Hi\" - it's");
        assert_eq!(
            unicode(Form::Nfc, false)
                .normalize("Lavrov\u{e2}\u{20ac}\u{2122}s \u{e2}\u{20ac}\u{153}plan\u{e2}\u{20ac}\u{9d}"),
            "Lavrov’s “plan”"
        );
    }

    #[test]
    fn whitespace_rules() {
        let w = WhitespaceNormalizer { max_blank_lines: 1 };
        assert_eq!(w.normalize("  a \t b\u{a0}c  \r\n\r\n\r\n\nd\re  \n\n"), "a b c\n\nd\ne");
        assert_eq!(WhitespaceNormalizer { max_blank_lines: 0 }.normalize("a\n\n\nb"), "a\nb");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn normalisers_are_idempotent(text in millstone_testkit::text()) {
            for n in [unicode(Form::Nfc, false), unicode(Form::Nfkc, true)] {
                let once = n.normalize(&text);
                prop_assert_eq!(n.normalize(&once), once.clone());
            }
            let w = WhitespaceNormalizer { max_blank_lines: 1 };
            let once = w.normalize(&text);
            prop_assert_eq!(w.normalize(&once), once);
        }
    }
}
