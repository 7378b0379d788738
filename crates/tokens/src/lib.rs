//! Tokenizers by name, shared by every stage that counts or writes tokens (`segment.tokens`,
//! `segment.chunks`, `export.tokens`):
//!
//! * tiktoken encodings (`cl100k_base`, `o200k_base`, `p50k_base`, `r50k_base`; `gpt2` is
//!   `r50k_base`), whose tables ship inside `tiktoken-rs` (nothing is downloaded), each loaded
//!   once per process;
//! * a Hugging Face `tokenizer.json` (Llama, Mistral, Qwen, ... tokenizers), read by the
//!   `tokenizers` crate.
//!
//! Texts are encoded as ordinary text: a `<|endoftext|>` inside a document is text, not the
//! special token, so no document can forge a document boundary.
//!
//! ```
//! let tokenizer = millstone_tokens::Tokenizer::named("cl100k_base")?;
//! let tokens = tokenizer.encode("Hello world");
//! assert_eq!(tokens, [9906, 1917]);
//! assert_eq!(tokenizer.decode(&tokens)?, "Hello world");
//! assert_eq!(tokenizer.end_of_document(), Some(100257));
//! # Ok::<(), millstone_tokens::Error>(())
//! ```

use std::path::{Path, PathBuf};

use millstone_core::suggest::did_you_mean;
use tiktoken_rs::CoreBPE;

/// The tiktoken encodings this crate knows, by name.
pub const TIKTOKEN_NAMES: &[&str] = &["cl100k_base", "o200k_base", "p50k_base", "r50k_base", "gpt2"];

/// What can go wrong getting or using a tokenizer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No tiktoken encoding has this name.
    #[error(
        "no tokenizer named `{name}`{hint} (known: {known}; or give a Hugging Face tokenizer.json as a path)"
    )]
    UnknownName {
        /// The name given.
        name: String,
        /// ` (did you mean ...?)` or empty.
        hint: String,
        /// The known names.
        known: String,
    },
    /// A `tokenizer.json` could not be read.
    #[error("{path}: not a Hugging Face tokenizer.json: {message}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What the tokenizers crate said.
        message: String,
    },
    /// Token ids that are not in the vocabulary.
    #[error("cannot decode: {0}")]
    Decode(String),
}

/// A tokenizer: a tiktoken encoding or a Hugging Face tokenizer.
pub enum Tokenizer {
    /// A tiktoken encoding from `tiktoken-rs`.
    Tiktoken {
        /// Its name (`cl100k_base`).
        name: &'static str,
        /// The encoder, loaded once per process.
        bpe: &'static CoreBPE,
        /// The `<|endoftext|>` id.
        end_of_text: u32,
        /// Ids are below this.
        vocab_size: usize,
    },
    /// A Hugging Face tokenizer from a `tokenizer.json`.
    HuggingFace {
        /// The file it came from.
        path: PathBuf,
        /// The tokenizer.
        tokenizer: Box<tokenizers::Tokenizer>,
        /// Its end-of-sequence token, if it has one of the usual names.
        end_of_text: Option<u32>,
    },
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// End-of-sequence token names of common Hugging Face tokenizers, most common first.
const HF_END_TOKENS: &[&str] = &["<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>", "<|im_end|>", "[SEP]"];

impl Tokenizer {
    /// A tiktoken encoding by name; an unknown name gets "did you mean".
    pub fn named(name: &str) -> Result<Tokenizer, Error> {
        let (name, bpe, end_of_text, vocab_size): (&'static str, &'static CoreBPE, u32, usize) = match name {
            "cl100k_base" => ("cl100k_base", tiktoken_rs::cl100k_base_singleton(), 100_257, 100_277),
            "o200k_base" => ("o200k_base", tiktoken_rs::o200k_base_singleton(), 199_999, 200_019),
            "p50k_base" => ("p50k_base", tiktoken_rs::p50k_base_singleton(), 50_256, 50_281),
            "r50k_base" | "gpt2" => ("r50k_base", tiktoken_rs::r50k_base_singleton(), 50_256, 50_257),
            other => {
                let near = did_you_mean(other, TIKTOKEN_NAMES.iter().copied());
                return Err(Error::UnknownName {
                    name: other.to_string(),
                    hint: if near.is_empty() {
                        String::new()
                    } else {
                        format!(" (did you mean {}?)", near.join(", "))
                    },
                    known: TIKTOKEN_NAMES.join(", "),
                });
            }
        };
        Ok(Tokenizer::Tiktoken { name, bpe, end_of_text, vocab_size })
    }

    /// A Hugging Face tokenizer from its `tokenizer.json`.
    pub fn from_file(path: &Path) -> Result<Tokenizer, Error> {
        let tokenizer = tokenizers::Tokenizer::from_file(path)
            .map_err(|e| Error::BadFile { path: path.to_path_buf(), message: e.to_string() })?;
        let end_of_text = HF_END_TOKENS.iter().find_map(|t| tokenizer.token_to_id(t));
        Ok(Tokenizer::HuggingFace { path: path.to_path_buf(), tokenizer: Box::new(tokenizer), end_of_text })
    }

    /// `named` for a known name, else `from_file` when `spec` is an existing file.
    pub fn named_or_file(spec: &str) -> Result<Tokenizer, Error> {
        match Tokenizer::named(spec) {
            Err(unknown) if !Path::new(spec).is_file() => Err(unknown),
            Err(_) => Tokenizer::from_file(Path::new(spec)),
            found => found,
        }
    }

    /// `cl100k_base`, or the tokenizer file's path.
    pub fn describe(&self) -> String {
        match self {
            Tokenizer::Tiktoken { name, .. } => name.to_string(),
            Tokenizer::HuggingFace { path, .. } => path.display().to_string(),
        }
    }

    /// The token ids of `text`, as ordinary text (special-token strings are not special).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        match self {
            Tokenizer::Tiktoken { bpe, .. } => bpe.encode_ordinary(text),
            Tokenizer::HuggingFace { tokenizer, .. } => match tokenizer.encode_fast(text, false) {
                Ok(encoding) => encoding.get_ids().to_vec(),
                Err(_) => Vec::new(),
            },
        }
    }

    /// How many tokens `text` is.
    pub fn count(&self, text: &str) -> usize {
        self.encode(text).len()
    }

    /// The text of `tokens` (a token that ends inside a UTF-8 character decodes with U+FFFD).
    pub fn decode(&self, tokens: &[u32]) -> Result<String, Error> {
        match self {
            Tokenizer::Tiktoken { bpe, .. } => bpe
                .decode_bytes(tokens)
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .map_err(|e| Error::Decode(e.to_string())),
            Tokenizer::HuggingFace { tokenizer, .. } => {
                tokenizer.decode(tokens, false).map_err(|e| Error::Decode(e.to_string()))
            }
        }
    }

    /// The bytes of one token (tiktoken encodings; `None` for other tokenizers or unknown ids).
    pub fn token_bytes(&self, id: u32) -> Option<Vec<u8>> {
        match self {
            Tokenizer::Tiktoken { bpe, .. } => bpe.decode_bytes(&[id]).ok(),
            Tokenizer::HuggingFace { .. } => None,
        }
    }

    /// The end-of-document token (`<|endoftext|>`, `</s>`, ...), if the tokenizer has one.
    pub fn end_of_document(&self) -> Option<u32> {
        match self {
            Tokenizer::Tiktoken { end_of_text, .. } => Some(*end_of_text),
            Tokenizer::HuggingFace { end_of_text, .. } => *end_of_text,
        }
    }

    /// Every id is below this (special tokens included).
    pub fn vocab_size(&self) -> usize {
        match self {
            Tokenizer::Tiktoken { vocab_size, .. } => *vocab_size,
            Tokenizer::HuggingFace { tokenizer, .. } => tokenizer.get_vocab_size(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiktoken_encodings_round_trip_and_know_their_end_token() {
        for name in ["cl100k_base", "o200k_base", "p50k_base", "r50k_base"] {
            let t = Tokenizer::named(name).unwrap();
            let text = "Le conseil a voté mardi. 市议会周二批准了 🚀 <|endoftext|> end";
            let tokens = t.encode(text);
            assert_eq!(t.decode(&tokens).unwrap(), text, "{name}");
            let eod = t.end_of_document().unwrap();
            assert!(!tokens.contains(&eod), "{name}: a document's text forged the end token");
            assert!(tokens.iter().all(|&id| (id as usize) < t.vocab_size()), "{name}");
            assert_eq!(t.decode(&[eod]).unwrap(), "<|endoftext|>", "{name}");
        }
        assert_eq!(Tokenizer::named("gpt2").unwrap().describe(), "r50k_base");
    }

    #[test]
    fn unknown_names_get_did_you_mean() {
        let err = Tokenizer::named("cl100k").unwrap_err().to_string();
        assert!(err.contains("did you mean cl100k_base"), "{err}");
        let err = Tokenizer::named_or_file("/no/tokenizer.json").unwrap_err().to_string();
        assert!(err.contains("known: cl100k_base"), "{err}");
    }

    #[test]
    fn a_hugging_face_tokenizer_json_is_read() {
        use tokenizers::models::wordlevel::WordLevel;
        use tokenizers::pre_tokenizers::whitespace::Whitespace;
        let vocab = [("[UNK]", 0u32), ("</s>", 1), ("hello", 2), ("world", 3)]
            .into_iter()
            .map(|(t, i)| (t.to_string(), i))
            .collect();
        let model = WordLevel::builder().vocab(vocab).unk_token("[UNK]".into()).build().unwrap();
        let mut hf = tokenizers::Tokenizer::new(model);
        hf.with_pre_tokenizer(Some(Whitespace {}));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        hf.save(&path, false).unwrap();
        let t = Tokenizer::named_or_file(path.to_str().unwrap()).unwrap();
        assert_eq!(t.encode("hello world again"), [2, 3, 0]);
        assert_eq!(t.end_of_document(), Some(1));
        assert_eq!(t.vocab_size(), 4);
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"not\": \"a tokenizer\"}").unwrap();
        let err = Tokenizer::from_file(&bad).unwrap_err().to_string();
        assert!(err.contains("bad.json") && err.contains("not a Hugging Face tokenizer.json"), "{err}");
    }
}
