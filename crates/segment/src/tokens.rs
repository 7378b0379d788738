//! `segment.tokens`: counts each document's tokens into `meta.<key>` (`tokens` by default), with a
//! tiktoken encoding or a Hugging Face `tokenizer.json` — what a mixture's token budget, a length
//! filter in tokens, or a report of tokens per source needs. The text is not changed.
//!
//! ```yaml
//! type: segment.tokens
//! tokenizer: cl100k_base     # or o200k_base, p50k_base, r50k_base, or a tokenizer.json path
//! key: tokens
//! ```

use std::path::Path;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, Document, Emit, FieldError, Stage, StageConfig, StageError, StageKind,
    Transform,
};
use millstone_tokens::Tokenizer;
use serde::{Deserialize, Serialize};

/// Configuration of `segment.tokens`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokensConfig {
    /// A tiktoken encoding (`cl100k_base`, `o200k_base`, `p50k_base`, `r50k_base`) or the path
    /// of a Hugging Face `tokenizer.json`.
    #[serde(default = "default_tokenizer")]
    pub tokenizer: String,
    /// The metadata key of the count.
    #[serde(default = "default_key")]
    pub key: String,
}

fn default_tokenizer() -> String {
    "cl100k_base".into()
}
fn default_key() -> String {
    "tokens".into()
}

impl StageConfig for TokensConfig {
    const TYPE: &'static str = "segment.tokens";
    const KIND: StageKind = StageKind::Transform;
    const SUMMARY: &'static str = "Count tokens (tiktoken encodings or a tokenizer.json) into meta.tokens";
    const EXAMPLE: &'static str = "type: segment.tokens\ntokenizer: cl100k_base\n";

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Err(e) = Tokenizer::named(&self.tokenizer) {
            if !Path::new(&self.tokenizer).is_file() {
                errors.push(FieldError::new("tokenizer", e.to_string()));
            }
        }
        if self.key.is_empty() {
            errors.push(FieldError::new("key", "must not be empty"));
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        let tokenizer = Tokenizer::named_or_file(&self.tokenizer)
            .map_err(|e| BuildError::field("tokenizer", e.to_string()))?;
        Ok(Stage::transform(TokenCounter { tokenizer, key: self.key.clone() }))
    }
}

/// The `segment.tokens` transform.
pub struct TokenCounter {
    tokenizer: Tokenizer,
    key: String,
}

impl Transform for TokenCounter {
    fn apply(&self, mut doc: Document, out: &mut Emit) -> Result<(), StageError> {
        let count = self.tokenizer.count(&doc.text);
        doc.meta.insert(self.key.clone(), count.into());
        out.keep(doc);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_tokens_into_meta() {
        let config = TokensConfig { tokenizer: "cl100k_base".into(), key: "n_tokens".into() };
        let Stage::Transform(t) = config.build(&BuildContext::for_tests()).unwrap() else { panic!() };
        let mut out = Emit::new(false);
        t.apply(Document::new("a", "Hello world"), &mut out).unwrap();
        t.apply(Document::new("b", ""), &mut out).unwrap();
        assert_eq!(out.kept()[0].meta["n_tokens"], 2);
        assert_eq!(out.kept()[1].meta["n_tokens"], 0);
        assert_eq!(out.kept()[0].text, "Hello world");
    }

    #[test]
    fn unknown_tokenizers_get_did_you_mean() {
        let config = TokensConfig { tokenizer: "o200k".into(), key: "tokens".into() };
        let errors = config.validate().unwrap_err();
        assert!(errors[0].message.contains("did you mean o200k_base"), "{errors:?}");
    }
}
