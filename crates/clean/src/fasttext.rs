//! `clean.fasttext`: scores documents with any fastText supervised classifier — the quality
//! classifiers of DCLM (`__label__hq` vs `__label__cc`) and FineWeb-style recipes, topic or
//! toxicity models — and keeps those whose probability for one label reaches a threshold.
//!
//! The probability of `label` goes to `meta.<key>` (default `fasttext.<label>`) for every
//! document; with `on_match: annotate` nothing is dropped and the verdict goes to
//! `meta.<key>.verdict` (`keep` or the drop reason). Newlines count as spaces, as in the
//! recipes that call fastText's Python `predict` on `text.replace("\n", " ")`.
//!
//! ```yaml
//! type: clean.fasttext
//! model_path: models/dclm_openhermes_reddit_eli5_vs_rw_v2_bigram_200k_train.bin
//! label: hq
//! threshold: 0.018
//! ```

use std::path::PathBuf;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, ByteSize, Document, DropReason, Emit, FieldError, OnMatch, Stage, StageConfig,
    StageError, StageKind, Transform,
};
use serde::{Deserialize, Serialize};

use crate::language::{not_a_label, open_model, strip_label, with_scratch};

/// Configuration of `clean.fasttext`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FastTextConfig {
    /// The fastText supervised model (`.bin` or `.ftz`).
    pub model_path: PathBuf,
    /// The label whose probability is the score (`hq` or `__label__hq`).
    pub label: String,
    /// Keep documents whose probability for `label` is at least this.
    #[serde(default = "half")]
    pub threshold: f64,
    /// The metadata key of the score (default `fasttext.<label>`).
    #[serde(default)]
    pub key: Option<String>,
    /// Look at no more than this many bytes of each document (default: the whole text).
    #[serde(default)]
    pub max_bytes: Option<ByteSize>,
    /// `drop` (default) or `annotate` (keep everything; the verdict in `<key>.verdict`).
    #[serde(default = "OnMatch::default_drop")]
    pub on_match: OnMatch,
}

fn half() -> f64 {
    0.5
}

impl StageConfig for FastTextConfig {
    const TYPE: &'static str = "clean.fasttext";
    const KIND: StageKind = StageKind::Transform;
    const ON_MATCH: &'static [OnMatch] = OnMatch::DOCUMENTS;
    const SUMMARY: &'static str =
        "Score with a fastText classifier (DCLM/FineWeb-style quality, topics); keep a label above a threshold";
    const EXAMPLE: &'static str =
        "type: clean.fasttext\nmodel_path: models/lid.176.ftz\nlabel: en\nthreshold: 0.65\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] =
        &[("below_classifier_threshold", "the probability of `label` is below `threshold`")];

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if !self.model_path.is_file() {
            errors.push(FieldError::new(
                "model_path",
                format!(
                    "{} does not exist (expected a fastText model, .bin or .ftz)",
                    self.model_path.display()
                ),
            ));
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            errors.push(FieldError::new("threshold", "a probability, from 0 to 1"));
        }
        if self.label.trim().is_empty() {
            errors.push(FieldError::new("label", "the label to score, e.g. `hq`"));
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        let model = open_model(&self.model_path)?;
        let wanted = strip_label(&self.label).to_string();
        let labels: Vec<&str> = model.labels().iter().map(|l| strip_label(l)).collect();
        let Some(index) = labels.iter().position(|l| *l == wanted) else {
            return Err(BuildError::field("label", not_a_label(&wanted, &labels, &self.model_path)));
        };
        let key = self.key.clone().unwrap_or_else(|| format!("fasttext.{wanted}"));
        Ok(Stage::transform(FastTextClassifier {
            raw_label: model.labels()[index].clone(),
            verdict_key: format!("{key}.verdict"),
            key,
            model,
            config: self.clone(),
        }))
    }
}

/// The `clean.fasttext` transform.
pub struct FastTextClassifier {
    model: millstone_fasttext::Model,
    raw_label: String,
    key: String,
    verdict_key: String,
    config: FastTextConfig,
}

impl FastTextClassifier {
    /// The probability the model gives `label` for `text` (0 when it is not among the labels
    /// the model ranks above fastText's 1e-5 floor).
    pub fn score(&self, text: &str) -> f64 {
        let all = self.model.labels().len();
        with_scratch(|scratch| {
            self.model
                .predict_with(text, all, 0.0, scratch)
                .into_iter()
                .find(|p| p.raw_label == self.raw_label)
                .map_or(0.0, |p| p.probability as f64)
        })
    }
}

impl Transform for FastTextClassifier {
    fn apply(&self, mut doc: Document, out: &mut Emit) -> Result<(), StageError> {
        let end = match self.config.max_bytes {
            Some(limit) => millstone_core::text::floor_char_boundary(&doc.text, limit.0 as usize),
            None => doc.text.len(),
        };
        let score = self.score(&doc.text[..end]);
        doc.meta.insert(self.key.clone(), serde_json::json!((score * 1e6).round() / 1e6));
        let reason = (score < self.config.threshold).then_some(DropReason("below_classifier_threshold"));
        let tag = (self.config.on_match == OnMatch::Annotate).then_some(self.verdict_key.as_str());
        out.decide(doc, reason, tag);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(path: PathBuf, label: &str, on_match: OnMatch) -> FastTextConfig {
        FastTextConfig {
            model_path: path,
            label: label.into(),
            threshold: 0.5,
            key: None,
            max_bytes: None,
            on_match,
        }
    }

    #[test]
    fn scores_a_label_and_drops_or_annotates() {
        // lid.176 as a classifier of "is this German": the real model stands in for a quality one.
        let Some(path) = crate::lid176_for_tests() else { return };
        let docs = || {
            vec![
                Document::new("de", "Der Stadtrat hat am Dienstag den neuen Hafenhaushalt genehmigt."),
                Document::new("en", "The council approved the new harbour budget on Tuesday."),
            ]
        };
        for on_match in [OnMatch::Drop, OnMatch::Annotate] {
            let Stage::Transform(t) =
                config(path.clone(), "__label__de", on_match).build(&BuildContext::for_tests()).unwrap()
            else {
                panic!()
            };
            let mut out = Emit::new(false);
            for doc in docs() {
                t.apply(doc, &mut out).unwrap();
            }
            let kept = out.kept();
            assert!(kept[0].meta["fasttext.de"].as_f64().unwrap() > 0.9);
            if on_match == OnMatch::Drop {
                assert_eq!(kept.len(), 1);
            } else {
                assert_eq!(kept.len(), 2);
                assert_eq!(kept[0].meta["fasttext.de.verdict"], "keep");
                assert_eq!(kept[1].meta["fasttext.de.verdict"], "below_classifier_threshold");
                assert!(kept[1].meta["fasttext.de"].as_f64().unwrap() < 0.1);
            }
        }
    }

    #[test]
    fn unknown_labels_and_bad_models_are_diagnostics() {
        if let Some(path) = crate::lid176_for_tests() {
            let Err(err) = config(path, "deu", OnMatch::Drop).build(&BuildContext::for_tests()) else {
                panic!("`deu` accepted")
            };
            assert!(err.to_string().contains("did you mean"), "{err}");
        }
        let missing = config("/no/model.bin".into(), "hq", OnMatch::Drop);
        assert!(missing.validate().unwrap_err()[0].message.contains("/no/model.bin"));
    }
}
