//! `dedup.decontaminate`: finds documents that contain text of evaluation benchmarks (questions,
//! answers, passages) so that a model is not trained on its own test set — the 13-gram overlap
//! check of GPT-3, the Pile, NeMo Curator's task decontamination and datatrove's n-gram
//! decontamination.
//!
//! The index is built once, when the pipeline starts, from the benchmark files the user names
//! (JSONL, plain or compressed; Parquet; plain text with one item per line): the words of the
//! chosen fields of each item, lowercased, without punctuation, as overlapping `ngram`-word
//! windows. Items shorter than `ngram` words (but with at least `min_words`) are matched whole,
//! as NeMo does. Every window of every document is then looked up; a hit is verified word by
//! word against the item, so a hash collision never flags a document. Memory is the index only:
//! 16 bytes per n-gram plus 8 per benchmark word, logged at start.
//!
//! A document that shares at least `min_ngrams` n-grams with the benchmarks is dropped
//! (`benchmark_overlap`), annotated (`contamination` spans and metadata) or, with
//! `on_match: remove`, has every match cut out with `window` characters on either side (NeMo's
//! 200), the pieces left joined by newlines; a document cut in more than `max_cuts` places, or
//! with nothing left, is dropped. In every mode `meta.<key>` lists the benchmark items matched
//! (benchmark, item id, n-grams shared, byte range of the first), and the stage counts matched
//! documents per benchmark (`matched.<benchmark>`).
//!
//! ```yaml
//! type: dedup.decontaminate
//! benchmarks:
//!   - name: mmlu
//!     paths: [benchmarks/mmlu/test-*.parquet]
//!     fields: [question, choices]
//!   - name: gsm8k
//!     path: benchmarks/gsm8k/test.jsonl
//!     fields: [question, answer]
//! ngram: 13
//! on_match: remove
//! ```

use std::collections::HashMap;
use std::io::BufRead;
use std::ops::{ControlFlow, Range};
use std::path::Path;

use millstone_core::prehashed::PreHashedBuild;
use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, Document, DropReason, Emit, FieldError, OnMatch, Source, SourceItem, Span,
    Stage, StageConfig, StageError, StageKind, Transform,
};
use millstone_ingest::Inputs;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use xxhash_rust::xxh3::xxh3_64;

/// One benchmark: its files and the fields holding its text.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkFiles {
    /// The benchmark's name, as reported (`mmlu`).
    pub name: String,
    /// Its files: `path` (one file or folder) or `paths` (files and globs); `.jsonl`/`.json`
    /// (plain, `.gz`, `.zst`), `.parquet`, or anything else as text with one item per line.
    #[serde(flatten)]
    pub inputs: Inputs,
    /// Fields whose text is indexed, in order (dots reach into objects; lists are read item by
    /// item). Default `[text]`; ignored for text files.
    #[serde(default = "default_fields")]
    pub fields: Vec<String>,
    /// Field holding an item's id (default `id`; when absent, `<file name>:<line>`).
    #[serde(default = "default_id_field")]
    pub id_field: String,
}

fn default_fields() -> Vec<String> {
    vec!["text".into()]
}
fn default_id_field() -> String {
    "id".into()
}

/// Configuration of `dedup.decontaminate`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecontaminateConfig {
    /// The benchmarks to look for.
    pub benchmarks: Vec<BenchmarkFiles>,
    /// Words per n-gram (13, as GPT-3 and NeMo).
    #[serde(default = "default_ngram")]
    pub ngram: usize,
    /// Items with fewer than `ngram` words but at least this many are matched as a whole.
    #[serde(default = "default_min_words")]
    pub min_words: usize,
    /// A document is contaminated when it shares at least this many n-grams with the benchmarks.
    #[serde(default = "one")]
    pub min_ngrams: usize,
    /// `drop` (default), `remove` (cut the matches out) or `annotate`.
    #[serde(default = "OnMatch::default_drop")]
    pub on_match: OnMatch,
    /// With `remove`: characters cut on either side of each match.
    #[serde(default = "default_window")]
    pub window: usize,
    /// With `remove`: a document cut in more places than this is dropped instead.
    #[serde(default = "default_max_cuts")]
    pub max_cuts: usize,
    /// The metadata key listing the matched benchmark items.
    #[serde(default = "default_key")]
    pub key: String,
}

fn default_ngram() -> usize {
    13
}
fn default_min_words() -> usize {
    8
}
fn one() -> usize {
    1
}
fn default_window() -> usize {
    200
}
fn default_max_cuts() -> usize {
    10
}
fn default_key() -> String {
    "contamination".into()
}

const OVERLAP: DropReason = DropReason("benchmark_overlap");
const CUT_TOO_OFTEN: DropReason = DropReason("benchmark_overlap_too_many_cuts");
/// At most this many matched items are listed in a document's metadata.
const LISTED_ITEMS: usize = 16;

impl StageConfig for DecontaminateConfig {
    const TYPE: &'static str = "dedup.decontaminate";
    const KIND: StageKind = StageKind::Transform;
    const ON_MATCH: &'static [OnMatch] = &[OnMatch::Drop, OnMatch::Remove, OnMatch::Annotate];
    const SUMMARY: &'static str =
        "Find benchmark text (13-gram overlap with JSONL/Parquet test sets): drop, cut out +-200 chars, or annotate";
    const EXAMPLE: &'static str = "type: dedup.decontaminate\nbenchmarks:\n  - name: quiz\n    path: examples/web/benchmarks/quiz.jsonl\n    fields: [question, answer]\nngram: 13\non_match: remove\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] = &[
        ("benchmark_overlap", "shares at least `min_ngrams` n-grams with a benchmark item (`drop`), or nothing is left after cutting them out (`remove`)"),
        ("benchmark_overlap_too_many_cuts", "`remove` would cut the document in more than `max_cuts` places"),
    ];

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.benchmarks.is_empty() {
            errors.push(FieldError::new("benchmarks", "name at least one benchmark (name, path, fields)"));
        }
        for (i, benchmark) in self.benchmarks.iter().enumerate() {
            let mut inner = Vec::new();
            benchmark.inputs.validate(&mut inner);
            if benchmark.name.trim().is_empty() {
                inner.push(FieldError::new("name", "must not be empty"));
            }
            if benchmark.fields.is_empty() || benchmark.fields.iter().any(|f| f.is_empty()) {
                inner.push(FieldError::new(
                    "fields",
                    "name the fields holding the text, e.g. [question, answer]",
                ));
            }
            if self.benchmarks[..i].iter().any(|b| b.name == benchmark.name) {
                inner.push(FieldError::new("name", format!("`{}` is named twice", benchmark.name)));
            }
            errors.extend(
                inner.into_iter().map(|e| FieldError::new(format!("benchmarks.{i}.{}", e.field), e.message)),
            );
        }
        if !(1..=64).contains(&self.ngram) {
            errors.push(FieldError::new("ngram", "must be between 1 and 64 words"));
        }
        if self.min_words == 0 || self.min_words > self.ngram {
            errors.push(FieldError::new("min_words", "must be between 1 and `ngram`"));
        }
        if self.min_ngrams == 0 {
            errors.push(FieldError::new("min_ngrams", "must be at least 1"));
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        let mut index = NgramIndex::new(self.ngram, self.min_words);
        for benchmark in &self.benchmarks {
            let files = millstone_ingest::input::expand(&benchmark.inputs.patterns())
                .map_err(|e| BuildError::field("benchmarks", e.to_string()))?;
            if files.is_empty() {
                return Err(BuildError::field(
                    "benchmarks",
                    format!(
                        "benchmark `{}`: no files match {:?}",
                        benchmark.name,
                        benchmark.inputs.patterns()
                    ),
                ));
            }
            let (before, mut offered) = (index.items.len(), 0usize);
            for file in files {
                read_items(&file, benchmark, &mut |id, text| {
                    offered += 1;
                    index.add(&benchmark.name, id, text);
                })
                .map_err(|e| BuildError::field("benchmarks", e))?;
            }
            let indexed = index.items.len() - before;
            tracing::info!(
                "dedup.decontaminate: benchmark `{}`: {indexed} of {offered} items indexed ({} shorter than min_words)",
                benchmark.name,
                offered - indexed
            );
            if indexed == 0 {
                return Err(BuildError::field(
                    "benchmarks",
                    format!(
                        "benchmark `{}`: no item has {} words or more in {:?} (wrong `fields`?)",
                        benchmark.name, self.min_words, benchmark.fields
                    ),
                ));
            }
        }
        tracing::info!(
            items = index.items.len(),
            ngrams = index.ngram_count(),
            bytes = index.retained_bytes(),
            "dedup.decontaminate: benchmark index built"
        );
        let matched_counters = self
            .benchmarks
            .iter()
            .map(|b| &*Box::leak(format!("matched.{}", b.name).into_boxed_str()))
            .collect();
        Ok(Stage::transform(Decontaminator { index, config: self.clone(), matched_counters }))
    }
}

/// Reads the items of one benchmark file, passing each `(id, text)` to `add`; a line or row that
/// cannot be read is logged with file:line and skipped.
fn read_items(
    path: &Path,
    benchmark: &BenchmarkFiles,
    add: &mut dyn FnMut(String, String),
) -> Result<(), String> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    let what = |e: &dyn std::fmt::Display| format!("benchmark `{}`: {}: {e}", benchmark.name, path.display());
    if lower.ends_with(".parquet") {
        return read_parquet(path, benchmark, add).map_err(|e| what(&e));
    }
    let json = [".jsonl", ".json", ".ndjson"].iter().any(|ext| {
        lower.ends_with(ext) || [".gz", ".zst", ".bz2"].iter().any(|c| lower.ends_with(&format!("{ext}{c}")))
    });
    let reader = millstone_ingest::input::open(path).map_err(|e| what(&e))?;
    for (index, line) in reader.lines().enumerate() {
        let line_number = index + 1;
        let line = line.map_err(|e| what(&format!("line {line_number}: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        if !json {
            add(format!("{name}:{line_number}"), line);
            continue;
        }
        let record: Value = match serde_json::from_str(&line) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                tracing::warn!("{}:{line_number}: not a JSON object; benchmark item skipped", path.display());
                continue;
            }
            Err(e) => {
                tracing::warn!(
                    "{}:{line_number}: not valid JSON ({e}); benchmark item skipped",
                    path.display()
                );
                continue;
            }
        };
        let mut text = String::new();
        for field in &benchmark.fields {
            if let Some(value) = get_path(&record, field) {
                append_text(value, &mut text);
            }
        }
        if text.is_empty() {
            tracing::warn!(
                "{}:{line_number}: none of the fields {:?} holds text; benchmark item skipped",
                path.display(),
                benchmark.fields
            );
            continue;
        }
        let id = match get_path(&record, &benchmark.id_field) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => format!("{name}:{line_number}"),
        };
        add(id, text);
    }
    Ok(())
}

fn read_parquet(
    path: &Path,
    benchmark: &BenchmarkFiles,
    add: &mut dyn FnMut(String, String),
) -> Result<(), StageError> {
    let (first, rest) = benchmark.fields.split_first().expect("validated: at least one field");
    let source = millstone_ingest::parquet::ParquetSource::new(millstone_ingest::parquet::ParquetConfig {
        inputs: Inputs::path(path),
        text_field: first.clone(),
        id_field: benchmark.id_field.clone(),
        fields: Some(rest.to_vec()),
        batch_rows: 4096,
        invalid_utf8: Default::default(),
    });
    for shard in source.shards()? {
        source.read(&shard, &mut |item| {
            match item {
                SourceItem::Doc(doc) => {
                    let mut text = doc.text;
                    for field in rest {
                        if let Some(value) = doc.meta.get(field) {
                            append_text(value, &mut text);
                        }
                    }
                    add(doc.id.to_string(), text);
                }
                SourceItem::Bad(bad) => {
                    tracing::warn!("{}: {}; benchmark item skipped", bad.provenance, bad.message)
                }
                SourceItem::Dropped(..) => {}
            }
            ControlFlow::Continue(())
        })?;
    }
    Ok(())
}

/// The value at a dotted path (`a.b.c`) of a JSON object.
fn get_path<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    let object = value.as_object()?;
    if let Some(v) = object.get(path) {
        return Some(v);
    }
    let (head, rest) = path.split_once('.')?;
    get_path(object.get(head)?, rest)
}

/// Appends the text of a JSON value (strings; lists and objects element by element; numbers and
/// booleans as written), newline-separated.
fn append_text(value: &Value, out: &mut String) {
    let mut push = |s: &str| {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(s);
    };
    match value {
        Value::Null => {}
        Value::String(s) => push(s),
        Value::Bool(b) => push(if *b { "true" } else { "false" }),
        Value::Number(n) => push(&n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| append_text(v, out)),
        Value::Object(map) => map.values().for_each(|v| append_text(v, out)),
    }
}

/// One word of a text: its byte range and the hash of its normalised form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// xxh3 of the lowercased word.
    pub hash: u64,
}

/// Ideographs and kana are words of their own: those scripts do not separate words by spaces.
fn is_own_word(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Appends the words of `text` to `words`: runs of letters and digits, lowercased (punctuation,
/// symbols and whitespace separate words and are ignored), with ideographs and kana one per word.
///
/// ```
/// use millstone_dedup::decontaminate::words;
/// let (mut a, mut b) = (Vec::new(), Vec::new());
/// words("What is 2+2? Four!", &mut a);
/// words("what is 2 2 four", &mut b);
/// assert_eq!(a.iter().map(|w| w.hash).collect::<Vec<_>>(), b.iter().map(|w| w.hash).collect::<Vec<_>>());
/// assert_eq!((a[4].start, a[4].end), (13, 17));
/// ```
pub fn words(text: &str, words: &mut Vec<Word>) {
    let bytes = text.as_bytes();
    let mut lowered = String::new();
    let mut start: Option<usize> = None;
    let mut needs_lowering = false;
    // Most words are ASCII and lowercase: those are hashed in place; other ASCII words are
    // lowercased byte by byte.
    let mut finish = |start: usize, end: usize, needs_lowering: bool, words: &mut Vec<Word>| {
        let word = &bytes[start..end];
        let hash = if !needs_lowering {
            xxh3_64(word)
        } else if word.is_ascii() {
            let mut buffer = std::mem::take(&mut lowered).into_bytes();
            buffer.clear();
            buffer.extend(word.iter().map(u8::to_ascii_lowercase));
            let hash = xxh3_64(&buffer);
            lowered = String::from_utf8(buffer).expect("ASCII is UTF-8");
            hash
        } else {
            lowered.clear();
            text[start..end].chars().for_each(|c| lowered.extend(c.to_lowercase()));
            xxh3_64(lowered.as_bytes())
        };
        words.push(Word { start, end, hash });
    };
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii() {
            if b.is_ascii_alphanumeric() {
                start.get_or_insert(i);
                needs_lowering |= b.is_ascii_uppercase();
            } else if let Some(s) = start.take() {
                finish(s, i, std::mem::take(&mut needs_lowering), words);
            }
            i += 1;
            continue;
        }
        let c = text[i..].chars().next().expect("a char starts here");
        if !c.is_alphanumeric() || is_own_word(c) {
            if let Some(s) = start.take() {
                finish(s, i, std::mem::take(&mut needs_lowering), words);
            }
            if c.is_alphanumeric() {
                finish(i, i + c.len_utf8(), true, words);
            }
        } else {
            start.get_or_insert(i);
            needs_lowering = true;
        }
        i += c.len_utf8();
    }
    if let Some(s) = start {
        finish(s, text.len(), needs_lowering, words);
    }
}

/// Hash of `len` consecutive word hashes (a cyclic polynomial, so the next window's hash is one
/// step away), mixed with the length so that whole short items and n-grams never share a key.
struct Rolling {
    len: u32,
    hash: u64,
}

impl Rolling {
    fn new(hashes: &[u64]) -> Self {
        let len = hashes.len() as u32;
        let hash = hashes.iter().fold(0u64, |h, &w| h.rotate_left(1) ^ w);
        Rolling { len, hash }
    }
    fn roll(&mut self, out: u64, incoming: u64) {
        self.hash = self.hash.rotate_left(1) ^ out.rotate_left(self.len) ^ incoming;
    }
    fn key(&self) -> u64 {
        (self.hash ^ u64::from(self.len)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
}

fn mark_present(present: &mut [u64], shift: u32, key: u64) {
    let bit = key >> shift;
    present[(bit / 64) as usize] |= 1 << (bit % 64);
}

/// Where an indexed n-gram occurs first: benchmark item and word offset in it.
#[derive(Debug, Clone, Copy)]
struct Occurrence {
    item: u32,
    offset: u32,
}

/// A benchmark item.
#[derive(Debug)]
struct Item {
    benchmark: u32,
    id: String,
    /// Start of its words in `NgramIndex::item_words`.
    words_from: usize,
    words_to: usize,
}

/// The n-grams of benchmark items, for lookups from documents.
///
/// ```
/// use millstone_dedup::decontaminate::NgramIndex;
/// let mut index = NgramIndex::new(5, 3);
/// index.add("quiz", "q1".into(), "Which planet is known as the red planet? Mars".into());
/// // Eight shared words hold four 5-word windows.
/// let found = index.find("Everyone knows which planet is known as the RED planet.");
/// assert_eq!(found.len(), 4);
/// assert_eq!(index.item_id(found[0].item), ("quiz", "q1"));
/// assert!(index.find("Which planet is the largest?").is_empty());
/// ```
#[derive(Debug)]
pub struct NgramIndex {
    ngram: usize,
    min_words: usize,
    benchmarks: Vec<String>,
    items: Vec<Item>,
    item_words: Vec<u64>,
    map: HashMap<u64, Occurrence, PreHashedBuild>,
    /// One bit per slot of the top bits of each key, about 8 bits per key: most windows of a
    /// document are in no benchmark, and this answers them from cache instead of the map.
    present: Vec<u64>,
    present_shift: u32,
    /// Window lengths with entries, longest first (`ngram`, then whole short items).
    lengths: Vec<usize>,
}

/// One n-gram of a document found in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NgramMatch {
    /// The item (see [`NgramIndex::item_id`]).
    pub item: u32,
    /// Byte range of the n-gram in the document.
    pub start: usize,
    /// One past its last byte.
    pub end: usize,
}

impl NgramIndex {
    /// An empty index of `ngram`-word windows; items shorter than that are indexed whole when
    /// they have at least `min_words` words.
    pub fn new(ngram: usize, min_words: usize) -> Self {
        NgramIndex {
            ngram,
            min_words,
            benchmarks: Vec::new(),
            items: Vec::new(),
            item_words: Vec::new(),
            map: HashMap::default(),
            present: vec![0; 1 << 10],
            present_shift: 64 - 16,
            lengths: Vec::new(),
        }
    }

    /// Indexes one item; returns false (and keeps nothing) when it has fewer than `min_words`.
    pub fn add(&mut self, benchmark: &str, id: String, text: String) -> bool {
        let mut found = Vec::new();
        words(&text, &mut found);
        if found.len() < self.min_words {
            return false;
        }
        let benchmark = match self.benchmarks.iter().position(|b| b == benchmark) {
            Some(i) => i,
            None => {
                self.benchmarks.push(benchmark.to_string());
                self.benchmarks.len() - 1
            }
        } as u32;
        let item = self.items.len() as u32;
        let words_from = self.item_words.len();
        self.item_words.extend(found.iter().map(|w| w.hash));
        self.items.push(Item { benchmark, id, words_from, words_to: self.item_words.len() });
        let hashes = &self.item_words[words_from..];
        let len = self.ngram.min(hashes.len());
        if !self.lengths.contains(&len) {
            self.lengths.push(len);
            self.lengths.sort_unstable_by(|a, b| b.cmp(a));
        }
        let mut rolling = Rolling::new(&hashes[..len]);
        for offset in 0..=hashes.len() - len {
            if offset > 0 {
                rolling.roll(hashes[offset - 1], hashes[offset + len - 1]);
            }
            let key = rolling.key();
            self.map.entry(key).or_insert(Occurrence { item, offset: offset as u32 });
            mark_present(&mut self.present, self.present_shift, key);
        }
        if self.map.len() * 8 > self.present.len() * 64 {
            self.grow_present();
        }
        true
    }

    fn may_be_present(&self, key: u64) -> bool {
        let bit = key >> self.present_shift;
        self.present[(bit / 64) as usize] & (1 << (bit % 64)) != 0
    }

    /// Doubles the presence bits (keeping about 8 per key) and sets them again from the map.
    fn grow_present(&mut self) {
        let bits = (self.map.len() * 8).next_power_of_two().max(1 << 16);
        self.present = vec![0; bits / 64];
        self.present_shift = 64 - bits.trailing_zeros();
        for &key in self.map.keys() {
            mark_present(&mut self.present, self.present_shift, key);
        }
    }

    /// Number of distinct n-grams indexed.
    pub fn ngram_count(&self) -> usize {
        self.map.len()
    }

    /// Bytes the index holds.
    pub fn retained_bytes(&self) -> usize {
        self.map.capacity() * (8 + std::mem::size_of::<Occurrence>() + 1)
            + self.item_words.capacity() * 8
            + self.present.capacity() * 8
            + self.items.iter().map(|i| i.id.capacity() + std::mem::size_of::<Item>()).sum::<usize>()
    }

    /// The benchmark name and id of an item.
    pub fn item_id(&self, item: u32) -> (&str, &str) {
        let item = &self.items[item as usize];
        (&self.benchmarks[item.benchmark as usize], &item.id)
    }

    /// Every window of `text` that is an n-gram of a benchmark item (or a whole short item), in
    /// text order.
    pub fn find(&self, text: &str) -> Vec<NgramMatch> {
        let mut scratch = Vec::new();
        words(text, &mut scratch);
        let mut found = Vec::new();
        self.find_in_words(&scratch, &mut found);
        found
    }

    fn find_in_words(&self, words: &[Word], found: &mut Vec<NgramMatch>) {
        let hashes: Vec<u64> = words.iter().map(|w| w.hash).collect();
        for &len in &self.lengths {
            if hashes.len() < len {
                continue;
            }
            let mut rolling = Rolling::new(&hashes[..len]);
            for start in 0..=hashes.len() - len {
                if start > 0 {
                    rolling.roll(hashes[start - 1], hashes[start + len - 1]);
                }
                let key = rolling.key();
                if !self.may_be_present(key) {
                    continue;
                }
                let Some(occurrence) = self.map.get(&key) else { continue };
                let item = &self.items[occurrence.item as usize];
                let at = item.words_from + occurrence.offset as usize;
                let whole_item = item.words_to - item.words_from == len;
                // A short item matches only as a whole; the words themselves must be equal.
                if (len < self.ngram && !whole_item)
                    || self.item_words[at..at + len] != hashes[start..start + len]
                {
                    continue;
                }
                found.push(NgramMatch {
                    item: occurrence.item,
                    start: words[start].start,
                    end: words[start + len - 1].end,
                });
            }
        }
        found.sort_unstable_by_key(|m| (m.start, m.end, m.item));
    }
}

/// The `dedup.decontaminate` transform.
pub struct Decontaminator {
    index: NgramIndex,
    config: DecontaminateConfig,
    matched_counters: Vec<&'static str>,
}

thread_local! {
    static WORDS: std::cell::RefCell<Vec<Word>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Decontaminator {
    /// The benchmark index.
    pub fn index(&self) -> &NgramIndex {
        &self.index
    }

    /// The matches in `text`.
    pub fn matches(&self, text: &str) -> Vec<NgramMatch> {
        WORDS.with_borrow_mut(|scratch| {
            scratch.clear();
            words(text, scratch);
            let mut found = Vec::new();
            self.index.find_in_words(scratch, &mut found);
            found
        })
    }

    /// The metadata listing of matched items, in order of first match.
    fn listing(&self, found: &[NgramMatch]) -> Value {
        let mut order: Vec<(u32, usize, Range<usize>)> = Vec::new();
        let mut position: HashMap<u32, usize, xxhash_rust::xxh3::Xxh3DefaultBuilder> = HashMap::default();
        for m in found {
            match position.get(&m.item) {
                Some(&i) => order[i].1 += 1,
                None => {
                    position.insert(m.item, order.len());
                    order.push((m.item, 1, m.start..m.end));
                }
            }
        }
        let listed: Vec<Value> = order
            .into_iter()
            .take(LISTED_ITEMS)
            .map(|(item, ngrams, range)| {
                let (benchmark, id) = self.index.item_id(item);
                serde_json::json!({
                    "benchmark": benchmark, "item": id, "ngrams": ngrams,
                    "start": range.start, "end": range.end,
                })
            })
            .collect();
        Value::Array(listed)
    }
}

/// The byte ranges to cut: the matches merged, each merged range widened by `window`
/// characters on either side, merged again (so a document with thousands of overlapping
/// n-grams walks `window` characters per range, not per n-gram).
fn cut_ranges(text: &str, found: &[NgramMatch], window: usize) -> Vec<Range<usize>> {
    let mut merged: Vec<Range<usize>> = Vec::new();
    let mut sorted: Vec<Range<usize>> = found.iter().map(|m| m.start..m.end).collect();
    sorted.sort_unstable_by_key(|r| r.start);
    for range in sorted {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    let mut ranges: Vec<Range<usize>> = Vec::with_capacity(merged.len());
    for range in merged {
        let start = match window {
            0 => range.start,
            _ => text[..range.start].char_indices().rev().nth(window - 1).map_or(0, |(i, _)| i),
        };
        let end = text[range.end..].char_indices().nth(window).map_or(text.len(), |(i, _)| range.end + i);
        match ranges.last_mut() {
            Some(last) if start <= last.end => last.end = last.end.max(end),
            _ => ranges.push(start..end),
        }
    }
    ranges
}

/// `text` without `ranges`, the pieces left (trimmed, non-empty) joined by newlines.
fn remove_and_join(text: &str, ranges: &[Range<usize>]) -> String {
    let mut pieces = Vec::with_capacity(ranges.len() + 1);
    let mut pos = 0;
    for range in ranges {
        pieces.push(text[pos..range.start].trim());
        pos = range.end;
    }
    pieces.push(text[pos..].trim());
    pieces.retain(|p| !p.is_empty());
    pieces.join("\n")
}

impl Transform for Decontaminator {
    fn apply(&self, mut doc: Document, out: &mut Emit) -> Result<(), StageError> {
        let found = self.matches(&doc.text);
        if found.len() < self.config.min_ngrams {
            out.keep(doc);
            return Ok(());
        }
        let mut benchmarks: Vec<u32> =
            found.iter().map(|m| self.index.items[m.item as usize].benchmark).collect();
        benchmarks.sort_unstable();
        benchmarks.dedup();
        for b in benchmarks {
            out.count(self.matched_counters[b as usize], 1);
        }
        out.count("contaminated_docs", 1);
        out.count("ngrams_matched", found.len() as u64);
        doc.meta.insert(self.config.key.clone(), self.listing(&found));
        match self.config.on_match {
            OnMatch::Annotate => {
                let label = self.config.key.clone();
                doc.spans.extend(found.iter().map(|m| Span {
                    start: m.start,
                    end: m.end,
                    label: label.clone().into(),
                }));
                doc.spans.sort_by_key(|s| (s.start, s.end));
                out.keep(doc);
            }
            OnMatch::Remove => {
                let ranges = cut_ranges(&doc.text, &found, self.config.window);
                if ranges.len() > self.config.max_cuts {
                    out.drop(doc, CUT_TOO_OFTEN);
                    return Ok(());
                }
                let left = remove_and_join(&doc.text, &ranges);
                out.count("bytes_removed", (doc.text.len() - left.len().min(doc.text.len())) as u64);
                if left.is_empty() {
                    out.drop(doc, OVERLAP);
                } else {
                    doc.set_text(left);
                    out.keep(doc);
                }
            }
            _ => out.drop(doc, OVERLAP),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
