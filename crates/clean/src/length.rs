//! `clean.length`: the common simple filter on characters, words and lines.

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, Document, DropReason, FieldError, Filter, OnMatch, Stage, StageConfig,
    StageError, StageKind, Verdict,
};
use serde::{Deserialize, Serialize};

/// Configuration of `clean.length`; every bound is optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LengthConfig {
    /// Fewest characters (Unicode scalar values).
    pub min_chars: Option<usize>,
    /// Most characters.
    pub max_chars: Option<usize>,
    /// Fewest whitespace-separated words.
    pub min_words: Option<usize>,
    /// Most words.
    pub max_words: Option<usize>,
    /// Fewest non-empty lines.
    pub min_lines: Option<usize>,
    /// Most non-empty lines.
    pub max_lines: Option<usize>,
    /// `drop` (default) or `annotate` (keep every document; the verdict, `keep` or the drop
    /// reason, in `meta.length.verdict`).
    #[serde(default)]
    pub on_match: OnMatch,
}

impl StageConfig for LengthConfig {
    const TYPE: &'static str = "clean.length";
    const KIND: StageKind = StageKind::Transform;
    const ON_MATCH: &'static [OnMatch] = OnMatch::DOCUMENTS;
    const SUMMARY: &'static str = "Keep documents within min/max characters, words and lines";
    const EXAMPLE: &'static str = "type: clean.length\nmin_words: 50\nmax_chars: 1000000\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] = &[
        ("too_few_chars", "fewer than min_chars characters"),
        ("too_many_chars", "more than max_chars characters"),
        ("too_few_words", "fewer than min_words words"),
        ("too_many_words", "more than max_words words"),
        ("too_few_lines", "fewer than min_lines non-empty lines"),
        ("too_many_lines", "more than max_lines non-empty lines"),
    ];

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        for (name, min, max) in [
            ("chars", self.min_chars, self.max_chars),
            ("words", self.min_words, self.max_words),
            ("lines", self.min_lines, self.max_lines),
        ] {
            if let (Some(a), Some(b)) = (min, max) {
                if a > b {
                    errors.push(FieldError::new(
                        format!("min_{name}"),
                        format!("is larger than max_{name} ({a} > {b})"),
                    ));
                }
            }
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::filter(self.clone(), self.on_match, "length.verdict"))
    }
}

fn bound(
    value: usize,
    min: Option<usize>,
    max: Option<usize>,
    low: &'static str,
    high: &'static str,
) -> Option<DropReason> {
    if min.is_some_and(|m| value < m) {
        return Some(DropReason(low));
    }
    if max.is_some_and(|m| value > m) {
        return Some(DropReason(high));
    }
    None
}

impl Filter for LengthConfig {
    fn check(&self, doc: &Document) -> Result<Verdict, StageError> {
        let text = &doc.text;
        let checks = [
            (self.min_chars.is_some() || self.max_chars.is_some()).then(|| {
                bound(text.chars().count(), self.min_chars, self.max_chars, "too_few_chars", "too_many_chars")
            }),
            (self.min_words.is_some() || self.max_words.is_some()).then(|| {
                bound(
                    text.split_whitespace().count(),
                    self.min_words,
                    self.max_words,
                    "too_few_words",
                    "too_many_words",
                )
            }),
            (self.min_lines.is_some() || self.max_lines.is_some()).then(|| {
                bound(
                    text.lines().filter(|l| !l.trim().is_empty()).count(),
                    self.min_lines,
                    self.max_lines,
                    "too_few_lines",
                    "too_many_lines",
                )
            }),
        ];
        Ok(checks.into_iter().flatten().flatten().next().map_or(Verdict::Keep, Verdict::Drop))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        let f = LengthConfig { min_words: Some(3), max_chars: Some(20), ..Default::default() };
        assert_eq!(
            f.check(&Document::new("a", "one two")).unwrap(),
            Verdict::Drop(DropReason("too_few_words"))
        );
        assert_eq!(f.check(&Document::new("a", "one two three")).unwrap(), Verdict::Keep);
        assert_eq!(
            f.check(&Document::new("a", "one two three four five six")).unwrap(),
            Verdict::Drop(DropReason("too_many_chars"))
        );
        assert!(LengthConfig { min_lines: Some(5), max_lines: Some(2), ..Default::default() }
            .validate()
            .is_err());
    }
}
