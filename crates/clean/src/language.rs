//! `clean.language`: language identification, writing `meta.lang` and `meta.lang_score`, and
//! optionally keeping only listed languages. Two models:
//!
//! * `whatlang` (default): pure Rust, 69 languages, trigram profiles, no model file; ISO 639-3
//!   codes (`eng`). Weak on short texts (a short French sentence comes out as Catalan).
//! * `fasttext`: a fastText language-ID model the user gives (`model_path`), e.g. `lid.176.ftz`
//!   (176 languages, the model FineWeb, CCNet and datatrove use) or a GlotLID-style model; labels
//!   as the model spells them without `__label__` (`en`, `fr`; GlotLID `eng_Latn`), the score is
//!   fastText's probability. Read by `millstone-fasttext`, identical to fastText's own predictions.
//!
//! With `per_paragraph`, each paragraph (text between blank lines) is identified too, into
//! `meta.lang_paragraphs`: `[{start, end, lang, score}]` with byte offsets.
//!
//! ```yaml
//! type: clean.language
//! model: fasttext
//! model_path: models/lid.176.ftz
//! keep: [en, de]
//! min_score: 0.65
//! ```

use std::path::PathBuf;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::suggest::did_you_mean;
use millstone_core::{
    BuildContext, BuildError, ByteSize, Document, DropReason, Emit, FieldError, OnMatch, Stage, StageConfig,
    StageError, StageKind, Transform,
};
use serde::{Deserialize, Serialize};

/// Which language identifier `clean.language` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LanguageModel {
    /// whatlang's trigram profiles (built in; ISO 639-3 codes).
    #[default]
    Whatlang,
    /// A fastText language-ID model from `model_path` (labels as the model spells them).
    Fasttext,
}

/// Configuration of `clean.language`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LanguageConfig {
    /// `whatlang` (default) or `fasttext` (needs `model_path`).
    #[serde(default)]
    pub model: LanguageModel,
    /// The fastText model file (`.bin` or `.ftz`), with `model: fasttext`.
    #[serde(default)]
    pub model_path: Option<PathBuf>,
    /// Keep only these languages (whatlang: ISO 639-3 `eng`, `deu`; fastText: the model's labels,
    /// `en`, `de`); empty keeps all.
    #[serde(default)]
    pub keep: Vec<String>,
    /// Drop documents whose detection confidence is below this (only when `keep` is set).
    #[serde(default)]
    pub min_score: f64,
    /// Look at no more than this many bytes of each document (speed on long texts).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: ByteSize,
    /// Also identify each paragraph, into `meta.lang_paragraphs`.
    #[serde(default)]
    pub per_paragraph: bool,
    /// `drop` (default) or `annotate` (keep every document; the verdict, `keep` or the drop
    /// reason, in `meta.language.verdict`).
    #[serde(default)]
    pub on_match: OnMatch,
}

fn default_max_bytes() -> ByteSize {
    ByteSize(4096)
}

impl Default for LanguageConfig {
    fn default() -> Self {
        LanguageConfig {
            model: LanguageModel::Whatlang,
            model_path: None,
            keep: Vec::new(),
            min_score: 0.0,
            max_bytes: default_max_bytes(),
            per_paragraph: false,
            on_match: OnMatch::Drop,
        }
    }
}

impl StageConfig for LanguageConfig {
    const TYPE: &'static str = "clean.language";
    const KIND: StageKind = StageKind::Transform;
    const ON_MATCH: &'static [OnMatch] = OnMatch::DOCUMENTS;
    const SUMMARY: &'static str =
        "Identify the language (whatlang or a fastText model such as lid.176), write meta.lang/lang_score, keep listed languages";
    const EXAMPLE: &'static str = "type: clean.language\nkeep: [eng, deu]\nmin_score: 0.5\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] = &[
        ("wrong_language", "detected language not in `keep`"),
        ("low_language_score", "detection confidence below min_score"),
        ("unknown_language", "no language could be detected"),
    ];

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        match (self.model, &self.model_path) {
            (LanguageModel::Whatlang, Some(_)) => errors.push(FieldError::new(
                "model_path",
                "a model file is read only with `model: fasttext` (whatlang is built in)",
            )),
            (LanguageModel::Fasttext, None) => errors.push(FieldError::new(
                "model_path",
                "`model: fasttext` needs `model_path: FILE` (a fastText language-ID model such as lid.176.ftz)",
            )),
            (LanguageModel::Fasttext, Some(path)) if !path.is_file() => errors.push(FieldError::new(
                "model_path",
                format!("{} does not exist (expected a fastText model, .bin or .ftz)", path.display()),
            )),
            _ => {}
        }
        if self.model == LanguageModel::Whatlang {
            for (i, code) in self.keep.iter().enumerate() {
                if whatlang::Lang::from_code(code.as_str()).is_none() {
                    errors.push(FieldError::new(
                        format!("keep.{i}"),
                        format!("`{code}` is not an ISO 639-3 code whatlang knows (e.g. eng, deu, fra)"),
                    ));
                }
            }
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::transform(LanguageFilter { detector: self.detector()?, config: self.clone() }))
    }
}

impl LanguageConfig {
    /// The detector this configuration names, its model read and `keep` checked against it.
    pub fn detector(&self) -> Result<Detector, BuildError> {
        Ok(match self.model {
            LanguageModel::Whatlang => Detector::Whatlang,
            LanguageModel::Fasttext => {
                let path = self
                    .model_path
                    .as_ref()
                    .ok_or_else(|| BuildError::field("model_path", "`model: fasttext` needs `model_path`"))?;
                let model = open_model(path)?;
                let labels: Vec<&str> = model.labels().iter().map(|l| strip_label(l)).collect();
                for (i, code) in self.keep.iter().enumerate() {
                    if !labels.contains(&code.as_str()) {
                        return Err(BuildError::field(format!("keep.{i}"), not_a_label(code, &labels, path)));
                    }
                }
                Detector::FastText(Box::new(model))
            }
        })
    }
}

/// Opens a fastText model for a stage, as a config diagnostic on `model_path` when it fails.
pub(crate) fn open_model(path: &std::path::Path) -> Result<millstone_fasttext::Model, BuildError> {
    millstone_fasttext::Model::open(path).map_err(|e| {
        BuildError::field(
            "model_path",
            format!("{}: {e} (expected a fastText supervised model, .bin or .ftz)", path.display()),
        )
    })
}

/// A label without fastText's `__label__` prefix.
pub(crate) fn strip_label(label: &str) -> &str {
    label.strip_prefix("__label__").unwrap_or(label)
}

/// The diagnostic for `wanted`, which is not one of a model's `labels`: "did you mean" when one
/// is close, else a few of them.
pub(crate) fn not_a_label(wanted: &str, labels: &[&str], path: &std::path::Path) -> String {
    let near = did_you_mean(wanted, labels.iter().copied());
    let hint = if near.is_empty() {
        format!("it has {} labels such as {}", labels.len(), labels[..labels.len().min(5)].join(", "))
    } else {
        format!("did you mean {}?", near.join(", "))
    };
    format!("`{wanted}` is not a label of {}: {hint}", path.display())
}

/// Runs `f` with this thread's prediction buffers (shared by every fastText stage).
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut millstone_fasttext::Scratch) -> R) -> R {
    SCRATCH.with_borrow_mut(f)
}

/// The language identifier a stage runs.
pub enum Detector {
    /// whatlang.
    Whatlang,
    /// A fastText model.
    FastText(Box<millstone_fasttext::Model>),
}

thread_local! {
    static SCRATCH: std::cell::RefCell<millstone_fasttext::Scratch> = Default::default();
}

impl Detector {
    /// The most likely language of `text` and its score, if any. A text without a letter
    /// (empty, digits, punctuation, emoji) has none: fastText would still rank its labels for
    /// the end-of-line token alone (`en` at 0.12 for whitespace with lid.176).
    pub fn detect(&self, text: &str) -> Option<(String, f64)> {
        if !text.chars().any(char::is_alphabetic) {
            return None;
        }
        match self {
            Detector::Whatlang => {
                whatlang::detect(text).map(|info| (info.lang().code().to_string(), info.confidence()))
            }
            Detector::FastText(model) => with_scratch(|scratch| {
                model
                    .predict_with(text, 1, 0.0, scratch)
                    .into_iter()
                    .next()
                    .map(|p| (p.label().to_string(), p.probability as f64))
            }),
        }
    }
}

fn rounded(score: f64) -> serde_json::Value {
    serde_json::json!((score * 1e4).round() / 1e4)
}

/// Byte ranges of the paragraphs of `text` (runs of lines between blank lines), trimmed.
fn paragraphs(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    let mut end = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        if content.trim().is_empty() {
            if let Some(s) = start.take() {
                out.push((s, end));
            }
        } else {
            start.get_or_insert(offset);
            end = offset + content.len();
        }
        offset += line.len();
    }
    if let Some(s) = start {
        out.push((s, end));
    }
    out
}

/// Detects languages and filters on them.
pub struct LanguageFilter {
    detector: Detector,
    config: LanguageConfig,
}

impl Transform for LanguageFilter {
    fn apply(&self, mut doc: Document, out: &mut Emit) -> Result<(), StageError> {
        let end = millstone_core::text::floor_char_boundary(&doc.text, self.config.max_bytes.0 as usize);
        let found = self.detector.detect(&doc.text[..end]);
        if let Some((lang, score)) = &found {
            doc.meta.insert("lang".into(), lang.as_str().into());
            doc.meta.insert("lang_score".into(), rounded(*score));
        }
        if self.config.per_paragraph {
            let spans: Vec<serde_json::Value> = paragraphs(&doc.text)
                .into_iter()
                .filter_map(|(start, end)| {
                    let (lang, score) = self.detector.detect(&doc.text[start..end])?;
                    Some(serde_json::json!({"start": start, "end": end, "lang": lang, "score": rounded(score)}))
                })
                .collect();
            doc.meta.insert("lang_paragraphs".into(), spans.into());
        }
        if self.config.keep.is_empty() {
            out.keep(doc);
            return Ok(());
        }
        let reason = match found {
            None => Some("unknown_language"),
            Some((lang, _)) if !self.config.keep.contains(&lang) => Some("wrong_language"),
            Some((_, score)) if score < self.config.min_score => Some("low_language_score"),
            Some(_) => None,
        };
        let tag = (self.config.on_match == OnMatch::Annotate).then_some("language.verdict");
        out.decide(doc, reason.map(DropReason), tag);
        Ok(())
    }

    fn thresholds(&self) -> Vec<millstone_core::Threshold> {
        let applies = !self.config.keep.is_empty() && self.config.min_score > 0.0;
        applies
            .then(|| millstone_core::Threshold {
                field: "lang_score".into(),
                op: ">=".into(),
                value: self.config.min_score,
            })
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(config: &LanguageConfig, docs: Vec<Document>) -> Emit {
        let Stage::Transform(t) = config.build(&BuildContext::for_tests()).unwrap() else { panic!() };
        let mut out = Emit::new(false);
        for doc in docs {
            t.apply(doc, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn whatlang_detects_and_filters() {
        let config = LanguageConfig { keep: vec!["eng".into()], ..Default::default() };
        let out = run(
            &config,
            vec![
                Document::new(
                    "en",
                    "The council approved the harbour budget on Tuesday after a long debate.",
                ),
                Document::new(
                    "de",
                    "Der Stadtrat hat am Dienstag nach langer Debatte den Hafenhaushalt genehmigt.",
                ),
            ],
        );
        assert_eq!(out.kept().len(), 1);
        assert_eq!(out.kept()[0].meta["lang"], "eng");
        let tagging =
            LanguageConfig { keep: vec!["eng".into()], on_match: OnMatch::Annotate, ..Default::default() };
        let out = run(
            &tagging,
            vec![
                Document::new(
                    "de",
                    "Der Stadtrat hat am Dienstag nach langer Debatte den Hafenhaushalt genehmigt.",
                ),
                Document::new("none", "12345 !!!"),
            ],
        );
        let verdicts: Vec<&serde_json::Value> =
            out.kept().iter().map(|d| &d.meta["language.verdict"]).collect();
        assert_eq!(verdicts, ["wrong_language", "unknown_language"]);
        assert!(LanguageConfig { keep: vec!["english".into()], ..Default::default() }.validate().is_err());
        let scored = LanguageConfig { keep: vec!["eng".into()], min_score: 0.65, ..Default::default() };
        let Stage::Transform(t) = scored.build(&BuildContext::for_tests()).unwrap() else { panic!() };
        let drawn: Vec<(String, f64)> = t.thresholds().into_iter().map(|t| (t.field, t.value)).collect();
        assert_eq!(drawn, [("lang_score".to_string(), 0.65)]);
    }

    #[test]
    fn fasttext_needs_an_existing_model_file() {
        let missing = LanguageConfig { model: LanguageModel::Fasttext, ..Default::default() };
        assert!(missing.validate().unwrap_err()[0].message.contains("model_path"));
        let absent = LanguageConfig {
            model: LanguageModel::Fasttext,
            model_path: Some("/no/such/lid.176.ftz".into()),
            ..Default::default()
        };
        assert!(absent.validate().unwrap_err()[0].message.contains("/no/such/lid.176.ftz"));
        let dir = tempfile::tempdir().unwrap();
        let corrupt = dir.path().join("model.ftz");
        std::fs::write(&corrupt, b"not a model at all").unwrap();
        let config = LanguageConfig {
            model: LanguageModel::Fasttext,
            model_path: Some(corrupt),
            ..Default::default()
        };
        config.validate().unwrap();
        let Err(err) = config.build(&BuildContext::for_tests()) else { panic!("a corrupt model built") };
        assert!(err.to_string().contains("not a fastText model"), "{err}");
        assert!(err.to_string().contains("model.ftz"), "{err}");
    }

    #[test]
    fn paragraphs_are_trimmed_byte_ranges() {
        let text = "one\ntwo\n\n  \nthree\r\n\nfour";
        let got: Vec<&str> = paragraphs(text).into_iter().map(|(s, e)| &text[s..e]).collect();
        assert_eq!(got, ["one\ntwo", "three", "four"]);
        assert!(paragraphs("").is_empty());
    }

    #[test]
    fn fasttext_labels_short_texts_whatlang_gets_wrong() {
        let Some(path) = crate::lid176_for_tests() else { return };
        let config = LanguageConfig {
            model: LanguageModel::Fasttext,
            model_path: Some(path.clone()),
            keep: vec!["fr".into(), "en".into()],
            per_paragraph: true,
            ..Default::default()
        };
        let out = run(
            &config,
            vec![
                Document::new("fr", "Le chat est assis sur le tapis."),
                Document::new(
                    "mixed",
                    "Le conseil municipal a voté mardi le nouveau budget du port.\n\nThe council voted on Tuesday.",
                ),
            ],
        );
        assert_eq!(out.kept().len(), 2);
        assert_eq!(out.kept()[0].meta["lang"], "fr");
        let paragraphs = out.kept()[1].meta["lang_paragraphs"].as_array().unwrap();
        assert_eq!(paragraphs[0]["lang"], "fr");
        assert_eq!(paragraphs[1]["lang"], "en");
        // Nothing to identify: no label, whatever the model would rank for an empty line.
        let detector = config.detector().unwrap();
        for blank in ["", "   \n\t", "12 345 -- !!", "🙂🙂"] {
            assert_eq!(detector.detect(blank), None, "{blank:?}");
        }
        let typo = LanguageConfig {
            model: LanguageModel::Fasttext,
            model_path: Some(path),
            keep: vec!["eng".into()],
            ..Default::default()
        };
        let Err(err) = typo.build(&BuildContext::for_tests()) else { panic!("`eng` accepted") };
        assert!(err.to_string().contains("did you mean"), "{err}");
    }
}
