//! `clean.language`: language identification with `whatlang` (pure Rust, 69 languages,
//! trigram profiles; fast enough to run on every document), writing `meta.lang` (ISO 639-3,
//! e.g. `eng`) and `meta.lang_score`, and optionally keeping only listed languages.
//!
//! `lingua` is more accurate on short texts but its models make it much larger and slower; it
//! was not measured here (see the cleaning issue's note).

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, ByteSize, Document, DropReason, Emit, FieldError, Stage, StageConfig,
    StageError, StageKind, Transform,
};
use serde::{Deserialize, Serialize};

/// Configuration of `clean.language`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LanguageConfig {
    /// Keep only these languages (ISO 639-3: `eng`, `deu`, `fra`, `spa`...); empty keeps all.
    #[serde(default)]
    pub keep: Vec<String>,
    /// Drop documents whose detection confidence is below this (only when `keep` is set).
    #[serde(default)]
    pub min_score: f64,
    /// Look at no more than this many bytes of each document (speed on long texts).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: ByteSize,
}

fn default_max_bytes() -> ByteSize {
    ByteSize(4096)
}

impl StageConfig for LanguageConfig {
    const TYPE: &'static str = "clean.language";
    const KIND: StageKind = StageKind::Transform;
    const SUMMARY: &'static str =
        "Identify the language (whatlang), write meta.lang/lang_score, keep listed languages";
    const EXAMPLE: &'static str = "type: clean.language\nkeep: [eng, deu]\nmin_score: 0.5\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] = &[
        ("wrong_language", "detected language not in `keep`"),
        ("low_language_score", "detection confidence below min_score"),
        ("unknown_language", "no language could be detected"),
    ];

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let bad: Vec<FieldError> = self
            .keep
            .iter()
            .enumerate()
            .filter(|(_, code)| whatlang::Lang::from_code(code.as_str()).is_none())
            .map(|(i, code)| {
                FieldError::new(
                    format!("keep.{i}"),
                    format!("`{code}` is not an ISO 639-3 code whatlang knows (e.g. eng, deu, fra)"),
                )
            })
            .collect();
        bad.is_empty().then_some(()).ok_or(bad)
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::transform(LanguageFilter {
            keep: self.keep.iter().filter_map(|c| whatlang::Lang::from_code(c.as_str())).collect(),
            config: self.clone(),
        }))
    }
}

/// Detects languages and filters on them.
pub struct LanguageFilter {
    keep: Vec<whatlang::Lang>,
    config: LanguageConfig,
}

impl Transform for LanguageFilter {
    fn apply(&self, mut doc: Document, out: &mut Emit) -> Result<(), StageError> {
        let end = millstone_core::text::floor_char_boundary(&doc.text, self.config.max_bytes.0 as usize);
        let info = whatlang::detect(&doc.text[..end]);
        if let Some(info) = &info {
            doc.meta.insert("lang".into(), info.lang().code().into());
            doc.meta.insert("lang_score".into(), serde_json::json!((info.confidence() * 1e4).round() / 1e4));
        }
        if self.keep.is_empty() {
            out.keep(doc);
            return Ok(());
        }
        match info {
            None => out.drop(doc, DropReason("unknown_language")),
            Some(i) if !self.keep.contains(&i.lang()) => out.drop(doc, DropReason("wrong_language")),
            Some(i) if i.confidence() < self.config.min_score => {
                out.drop(doc, DropReason("low_language_score"))
            }
            Some(_) => out.keep(doc),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_and_filters() {
        let config = LanguageConfig { keep: vec!["eng".into()], min_score: 0.0, max_bytes: ByteSize(4096) };
        let Stage::Transform(t) = config.build(&BuildContext::for_tests()).unwrap() else { panic!() };
        let mut out = Emit::new(false);
        t.apply(
            Document::new("en", "The council approved the harbour budget on Tuesday after a long debate."),
            &mut out,
        )
        .unwrap();
        t.apply(
            Document::new(
                "de",
                "Der Stadtrat hat am Dienstag nach langer Debatte den Hafenhaushalt genehmigt.",
            ),
            &mut out,
        )
        .unwrap();
        assert_eq!(out.kept().len(), 1);
        assert_eq!(out.kept()[0].meta["lang"], "eng");
        assert!(LanguageConfig { keep: vec!["english".into()], min_score: 0.0, max_bytes: ByteSize(4096) }
            .validate()
            .is_err());
    }
}
