//! `export.tokens`: tokenized training shards in the Megatron-LM indexed-dataset layout
//! (`MMIDIDX`), which Megatron-LM, NeMo and GPT-NeoX read directly: `part-NNNNN.bin` holds the
//! token ids of every document back to back, `part-NNNNN.idx` says where each starts.
//!
//! The `.idx` layout: magic `MMIDIDX\x00\x00`, u64 version 1, u8 dtype code (8 = uint16 for
//! vocabularies under 65,500 ids, else 4 = int32), u64 sequence count, u64 document count, i32
//! sequence lengths, i64 byte offsets into the `.bin`, i64 document index (`0..=n`: one sequence
//! per document). All little-endian.
//!
//! Each document's `field` (the text by default) is encoded as ordinary text (so `<|endoftext|>`
//! inside a text is not the special token), then the tokenizer's end-of-document token is
//! appended (`append_eod`). Tokenizing runs on the worker threads; the sink thread only writes.
//! With `max_file_bytes` a new part starts before a `.bin` would pass that size. With `shuffle`
//! documents are ordered by a hash of their id and `seed`, the same order at any thread count or
//! batch size: tokens are spilled to a temporary file next to the output and 20 bytes per
//! document are held in memory until the end.
//!
//! ```yaml
//! type: export.tokens
//! path: out/tokens
//! tokenizer: cl100k_base
//! max_file_bytes: 1GiB
//! shuffle: true
//! seed: 7
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    AtomicFile, Batch, BatchEncoder, BuildContext, BuildError, ByteSize, FieldError, FieldRef, PendingOutput,
    Prepared, Sink, Stage, StageConfig, StageError, StageKind,
};
use millstone_tokens::Tokenizer;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The `.idx` magic.
pub const MAGIC: &[u8; 9] = b"MMIDIDX\x00\x00";
/// Megatron's dtype code of `uint16`.
pub const DTYPE_UINT16: u8 = 8;
/// Megatron's dtype code of `int32`.
pub const DTYPE_INT32: u8 = 4;

/// Configuration of `export.tokens`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokensSinkConfig {
    /// The output folder: `part-00000.bin`, `part-00000.idx`, ...
    pub path: PathBuf,
    /// A tiktoken encoding (`cl100k_base`, `o200k_base`, `p50k_base`, `r50k_base`) or the path
    /// of a Hugging Face `tokenizer.json`.
    #[serde(default = "default_tokenizer")]
    pub tokenizer: String,
    /// The field to tokenize (default `text`).
    #[serde(default = "default_field")]
    pub field: FieldRef,
    /// Append the tokenizer's end-of-document token to every document (default true).
    #[serde(default = "yes")]
    pub append_eod: bool,
    /// Order documents by a hash of their id and `seed` instead of input order.
    #[serde(default)]
    pub shuffle: bool,
    /// Seed of the shuffle.
    #[serde(default)]
    pub seed: u64,
    /// Start a new part before a `.bin` would pass this size.
    #[serde(default)]
    pub max_file_bytes: Option<ByteSize>,
}

fn default_tokenizer() -> String {
    "cl100k_base".into()
}
fn default_field() -> FieldRef {
    FieldRef::Text
}
fn yes() -> bool {
    true
}

impl TokensSinkConfig {
    /// Default settings writing to the folder `path`.
    pub fn to(path: &Path) -> Self {
        TokensSinkConfig {
            path: path.to_path_buf(),
            tokenizer: default_tokenizer(),
            field: FieldRef::Text,
            append_eod: true,
            shuffle: false,
            seed: 0,
            max_file_bytes: None,
        }
    }
}

impl StageConfig for TokensSinkConfig {
    const TYPE: &'static str = "export.tokens";
    const KIND: StageKind = StageKind::Sink;
    const SUMMARY: &'static str =
        "Write tokenized shards (Megatron-LM .bin/.idx) with tiktoken or a tokenizer.json, atomically";
    const EXAMPLE: &'static str = "type: export.tokens\npath: out/tokens\ntokenizer: cl100k_base\n";

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.path.as_os_str().is_empty() {
            errors.push(FieldError::new("path", "must name a folder"));
        }
        if let Err(e) = Tokenizer::named(&self.tokenizer) {
            if !Path::new(&self.tokenizer).is_file() {
                errors.push(FieldError::new("tokenizer", e.to_string()));
            }
        }
        if self.max_file_bytes.is_some_and(|m| m.0 < 1024) {
            errors.push(FieldError::new("max_file_bytes", "must be at least 1KiB"));
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, cx: &BuildContext) -> Result<Stage, BuildError> {
        let tokenizer = Tokenizer::named_or_file(&self.tokenizer)
            .map_err(|e| BuildError::field("tokenizer", e.to_string()))?;
        let end_of_document = match (self.append_eod, tokenizer.end_of_document()) {
            (false, _) => None,
            (true, Some(id)) => Some(id),
            (true, None) => {
                return Err(BuildError::field(
                    "append_eod",
                    format!("{} has no end-of-document token; set append_eod: false", tokenizer.describe()),
                ))
            }
        };
        let mut config = self.clone();
        config.path = cx.output_path(&self.path);
        let encoder = TokenEncoder {
            wide: tokenizer.vocab_size() >= 65_500,
            tokenizer: Arc::new(tokenizer),
            field: self.field.clone(),
            end_of_document,
        };
        Ok(Stage::Sink(Box::new(TokensSink::new(config, encoder, cx.overwrite))))
    }
}

/// Tokenizes batches on worker threads: per document a u32 token count, then its tokens at the
/// output width.
#[derive(Clone)]
pub struct TokenEncoder {
    tokenizer: Arc<Tokenizer>,
    field: FieldRef,
    end_of_document: Option<u32>,
    /// int32 tokens (else uint16).
    wide: bool,
}

impl BatchEncoder for TokenEncoder {
    fn encode(&self, batch: &Batch) -> Result<Vec<u8>, StageError> {
        let width = if self.wide { 4 } else { 2 };
        let mut out = Vec::with_capacity(batch.text_bytes() / 4 * width + batch.docs.len() * 8);
        for doc in &batch.docs {
            let text = self.field.get(doc).unwrap_or_default();
            let mut tokens = self.tokenizer.encode(&text);
            tokens.extend(self.end_of_document);
            out.extend_from_slice(&(tokens.len() as u32).to_le_bytes());
            for t in tokens {
                if self.wide {
                    out.extend_from_slice(&(t as i32).to_le_bytes());
                } else {
                    out.extend_from_slice(&(t as u16).to_le_bytes());
                }
            }
        }
        Ok(out)
    }
}

/// One part being written: its `.bin` and the lengths of its sequences.
struct Part {
    bin: BufWriter<AtomicFile>,
    bin_bytes: u64,
    lengths: Vec<i32>,
}

/// Where a document's tokens are in the shuffle spill.
struct Spilled {
    key: u64,
    offset: u64,
    tokens: u32,
}

/// The `export.tokens` sink.
pub struct TokensSink {
    config: TokensSinkConfig,
    encoder: TokenEncoder,
    overwrite: bool,
    part: Option<Part>,
    part_number: usize,
    finished: Vec<AtomicFile>,
    docs: u64,
    /// With `shuffle`: the spill file and where each document is in it.
    spill: Option<(BufWriter<File>, u64)>,
    spilled: Vec<Spilled>,
    /// With `shuffle`: the batch's document ids' hashes, in order (set by `write_encoded`).
    keys: Vec<u64>,
}

impl TokensSink {
    /// A sink writing with `encoder`'s tokenizer.
    pub fn new(config: TokensSinkConfig, encoder: TokenEncoder, overwrite: bool) -> Self {
        TokensSink {
            config,
            encoder,
            overwrite,
            part: None,
            part_number: 0,
            finished: Vec::new(),
            docs: 0,
            spill: None,
            spilled: Vec::new(),
            keys: Vec::new(),
        }
    }

    fn io(&self, what: &Path, source: std::io::Error) -> StageError {
        Error::Io { path: what.display().to_string(), source }.into()
    }

    fn width(&self) -> usize {
        if self.encoder.wide {
            4
        } else {
            2
        }
    }

    fn part_path(&self, extension: &str) -> PathBuf {
        self.config.path.join(format!("part-{:05}.{extension}", self.part_number))
    }

    /// Appends one document's tokens (already at the output width) to the current part.
    fn append(&mut self, tokens: &[u8]) -> Result<(), StageError> {
        let count = tokens.len() / self.width();
        if let (Some(max), Some(part)) = (self.config.max_file_bytes, &self.part) {
            if part.bin_bytes > 0 && part.bin_bytes + tokens.len() as u64 > max.0 {
                self.close_part()?;
            }
        }
        if self.part.is_none() {
            let path = self.part_path("bin");
            let bin = AtomicFile::create(&path, self.overwrite).map_err(|e| self.io(&path, e))?;
            self.part =
                Some(Part { bin: BufWriter::with_capacity(1 << 20, bin), bin_bytes: 0, lengths: Vec::new() });
        }
        let part = self.part.as_mut().expect("opened above");
        if let Err(e) = part.bin.write_all(tokens) {
            let path = self.part_path("bin");
            return Err(self.io(&path, e));
        }
        part.bin_bytes += tokens.len() as u64;
        part.lengths.push(count as i32);
        self.docs += 1;
        Ok(())
    }

    /// Finishes the current part: its `.bin` flushed, its `.idx` written; both wait for commit.
    fn close_part(&mut self) -> Result<(), StageError> {
        let Some(part) = self.part.take() else { return Ok(()) };
        let bin_path = self.part_path("bin");
        let bin = part.bin.into_inner().map_err(|e| self.io(&bin_path, e.into_error()))?;
        let idx_path = self.part_path("idx");
        let idx = AtomicFile::create(&idx_path, self.overwrite).map_err(|e| self.io(&idx_path, e))?;
        let mut idx = BufWriter::new(idx);
        let dtype = if self.encoder.wide { DTYPE_INT32 } else { DTYPE_UINT16 };
        write_index(&mut idx, dtype, &part.lengths, self.width()).map_err(|e| self.io(&idx_path, e))?;
        let idx = idx.into_inner().map_err(|e| self.io(&idx_path, e.into_error()))?;
        self.finished.push(bin);
        self.finished.push(idx);
        self.part_number += 1;
        Ok(())
    }

    fn spill_document(&mut self, key: u64, tokens: &[u8]) -> Result<(), StageError> {
        if self.spill.is_none() {
            std::fs::create_dir_all(&self.config.path).map_err(|e| self.io(&self.config.path, e))?;
            let file = tempfile::tempfile_in(&self.config.path).map_err(|e| self.io(&self.config.path, e))?;
            self.spill = Some((BufWriter::with_capacity(1 << 20, file), 0));
        }
        let (writer, offset) = self.spill.as_mut().expect("opened above");
        let at = *offset;
        if let Err(e) = writer.write_all(tokens) {
            return Err(self.io(&self.config.path, e));
        }
        *offset += tokens.len() as u64;
        self.spilled.push(Spilled { key, offset: at, tokens: (tokens.len() / self.width()) as u32 });
        Ok(())
    }

    /// Writes the spilled documents in key order.
    fn unspill(&mut self) -> Result<(), StageError> {
        let Some((writer, _)) = self.spill.take() else { return Ok(()) };
        let file = writer.into_inner().map_err(|e| self.io(&self.config.path, e.into_error()))?;
        let mut spilled = std::mem::take(&mut self.spilled);
        spilled.sort_by_key(|s| (s.key, s.offset));
        let mut buffer = Vec::new();
        for s in spilled {
            buffer.resize(s.tokens as usize * self.width(), 0);
            read_exact_at(&file, &mut buffer, s.offset).map_err(|e| self.io(&self.config.path, e))?;
            self.append(&buffer)?;
        }
        Ok(())
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buffer: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, offset)
}

#[cfg(not(unix))]
fn read_exact_at(mut file: &File, buffer: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buffer)
}

/// Writes a Megatron `MMIDIDX` index for sequences of `lengths` tokens of `width` bytes, one
/// sequence per document.
pub fn write_index(out: &mut impl Write, dtype: u8, lengths: &[i32], width: usize) -> std::io::Result<()> {
    out.write_all(MAGIC)?;
    out.write_all(&1u64.to_le_bytes())?;
    out.write_all(&[dtype])?;
    out.write_all(&(lengths.len() as u64).to_le_bytes())?;
    out.write_all(&(lengths.len() as u64 + 1).to_le_bytes())?;
    for length in lengths {
        out.write_all(&length.to_le_bytes())?;
    }
    let mut pointer = 0i64;
    for length in lengths {
        out.write_all(&pointer.to_le_bytes())?;
        pointer += *length as i64 * width as i64;
    }
    for document in 0..=lengths.len() as i64 {
        out.write_all(&document.to_le_bytes())?;
    }
    Ok(())
}

impl Sink for TokensSink {
    fn write(&mut self, batch: &Batch) -> Result<(), StageError> {
        let encoded = self.encoder.encode(batch)?;
        self.write_encoded(batch, &encoded)
    }

    fn encoder(&self) -> Option<Arc<dyn BatchEncoder>> {
        Some(Arc::new(self.encoder.clone()))
    }

    fn write_encoded(&mut self, batch: &Batch, encoded: &[u8]) -> Result<(), StageError> {
        self.keys.clear();
        if self.config.shuffle {
            let seed = self.config.seed;
            self.keys.extend(
                batch.docs.iter().map(|d| xxhash_rust::xxh3::xxh3_64_with_seed(d.id.as_bytes(), seed)),
            );
        }
        let width = self.width();
        let mut at = 0;
        for i in 0..batch.docs.len() {
            let count = u32::from_le_bytes(encoded[at..at + 4].try_into().expect("4 bytes")) as usize;
            let tokens = &encoded[at + 4..at + 4 + count * width];
            at += 4 + count * width;
            if self.config.shuffle {
                let key = self.keys[i];
                self.spill_document(key, tokens)?;
            } else {
                self.append(tokens)?;
            }
        }
        Ok(())
    }

    fn prepare(&mut self) -> Result<Prepared, StageError> {
        self.unspill()?;
        if self.part.is_none() && self.finished.is_empty() {
            // No documents: still one empty, valid part, so readers find a dataset.
            let path = self.part_path("bin");
            let bin = AtomicFile::create(&path, self.overwrite).map_err(|e| self.io(&path, e))?;
            self.part = Some(Part { bin: BufWriter::new(bin), bin_bytes: 0, lengths: Vec::new() });
        }
        self.close_part()?;
        let docs = self.docs;
        let pending = std::mem::take(&mut self.finished)
            .into_iter()
            .map(|file| Box::new(file) as Box<dyn PendingOutput>)
            .collect();
        Ok(Prepared { docs, pending })
    }
}

#[cfg(test)]
mod tests;
