//! What a run saw, as distributions: mergeable histograms of document length and of every
//! numeric field the stages tagged, counts per source and per category (`lang`, verdicts), and a
//! few sampled documents per drop reason or verdict.
//!
//! Everything here merges exactly and in any order: histogram buckets are fixed (a logarithmic
//! mapping with 1% relative accuracy, as DDSketch uses), counts are integers, samples are the
//! documents with the smallest hash of their id. So the numbers of a run are the same from one
//! thread or many, one shard or many, whatever the batch size. (Below the caps on distinct keys:
//! a profile keeps at most [`MAX_FIELDS`] histograms and [`MAX_CATEGORY_VALUES`] values per
//! category; what comes past a cap is counted under `(other)`.)

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::document::Document;
use crate::text::{ascii_bytes_equal, ascii_whitespace_bytes, word_starts, HIGH_BITS};

/// Relative accuracy of a histogram's buckets: a quantile is within 1% of a true value.
pub const RELATIVE_ACCURACY: f64 = 0.01;
/// Histograms one profile keeps (numeric fields beyond are not profiled).
pub const MAX_FIELDS: usize = 64;
/// Distinct values one category keeps; later ones are counted under `(other)`.
pub const MAX_CATEGORY_VALUES: usize = 1000;
/// Documents sampled per drop reason or verdict.
pub const SAMPLES_PER_KEY: usize = 3;
/// Characters of a sampled document's text that a sample keeps.
pub const EXCERPT_CHARS: usize = 400;

fn gamma() -> f64 {
    (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
}

/// A histogram of non-negative or negative values in logarithmic buckets of fixed edges.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Values recorded.
    pub count: u64,
    /// Smallest value recorded.
    pub min: f64,
    /// Largest value recorded.
    pub max: f64,
    /// Values equal to zero (and below 1e-9 in magnitude).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub zeros: u64,
    /// Positive values per bucket: bucket `i` holds values in `(gamma^(i-1), gamma^i]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub positive: BTreeMap<i32, u64>,
    /// Negative values per bucket of their magnitude.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub negative: BTreeMap<i32, u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

const ZERO_MAGNITUDE: f64 = 1e-9;

fn bucket_of(magnitude: f64) -> i32 {
    (magnitude.ln() / gamma().ln()).ceil() as i32
}

/// The value a bucket stands for: the middle of its edges in relative terms.
fn bucket_value(index: i32) -> f64 {
    let g = gamma();
    2.0 * g.powi(index) / (g + 1.0)
}

impl Histogram {
    /// Records one value; NaN and infinities are ignored.
    pub fn record(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        if self.count == 0 || value < self.min {
            self.min = value;
        }
        if self.count == 0 || value > self.max {
            self.max = value;
        }
        self.count += 1;
        if value.abs() < ZERO_MAGNITUDE {
            self.zeros += 1;
        } else if value > 0.0 {
            *self.positive.entry(bucket_of(value)).or_default() += 1;
        } else {
            *self.negative.entry(bucket_of(-value)).or_default() += 1;
        }
    }

    /// Adds another histogram's values.
    pub fn merge(&mut self, other: &Histogram) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = other.clone();
            return;
        }
        self.count += other.count;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.zeros += other.zeros;
        for (k, v) in &other.positive {
            *self.positive.entry(*k).or_default() += v;
        }
        for (k, v) in &other.negative {
            *self.negative.entry(*k).or_default() += v;
        }
    }

    /// Buckets in ascending order of value: (representative value, count).
    pub fn buckets(&self) -> Vec<(f64, u64)> {
        let mut out = Vec::with_capacity(self.positive.len() + self.negative.len() + 1);
        out.extend(self.negative.iter().rev().map(|(i, n)| (-bucket_value(*i), *n)));
        if self.zeros > 0 {
            out.push((0.0, self.zeros));
        }
        out.extend(self.positive.iter().map(|(i, n)| (bucket_value(*i), *n)));
        for (value, _) in &mut out {
            *value = value.clamp(self.min, self.max);
        }
        out
    }

    /// The value below which a fraction `q` (0..=1) of the values lie, within 1%; `None` when
    /// empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * (self.count - 1) as f64).floor() as u64;
        if rank == 0 {
            return Some(self.min);
        }
        if rank + 1 >= self.count {
            return Some(self.max);
        }
        let mut seen = 0;
        for (value, n) in self.buckets() {
            seen += n;
            if seen > rank {
                return Some(value);
            }
        }
        Some(self.max)
    }

    /// Fraction of the values at or below `threshold` (bucket resolution).
    pub fn fraction_at_most(&self, threshold: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let below: u64 = self.buckets().iter().filter(|(v, _)| *v <= threshold).map(|(_, n)| n).sum();
        below as f64 / self.count as f64
    }
}

/// A threshold a stage applies to a field it tags, so reports can draw it into that field's
/// histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// The field, as written to metadata (`quality.gopher.mean_word_length`, `lang_score`).
    pub field: String,
    /// The comparison a kept document passes (`>=`, `<`, ...).
    pub op: String,
    /// The value.
    pub value: f64,
}

/// One sampled document: enough to see why it was dropped or tagged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The hash of its id the sample was chosen by (smallest first).
    pub rank: u64,
    /// Document id.
    pub id: String,
    /// Where it came from (`file:line`).
    pub location: String,
    /// Its length in characters.
    pub chars: u64,
    /// The start of its text.
    pub excerpt: String,
    /// Its short metadata (numbers, booleans, strings up to 80 bytes): the signals stages tagged.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub signals: BTreeMap<String, Value>,
}

/// The rank a document is sampled by: a hash of its id, so the same documents are chosen
/// however the input is split.
pub fn sample_rank(id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id.as_bytes())
}

impl Sample {
    /// A sample of `doc` with rank `rank`.
    pub fn of(doc: &Document, rank: u64) -> Self {
        let excerpt_end = doc.text.char_indices().nth(EXCERPT_CHARS).map_or(doc.text.len(), |(i, _)| i);
        let mut signals = BTreeMap::new();
        flatten_short(&doc.meta, "", 0, &mut signals);
        Sample {
            rank,
            id: doc.id.to_string(),
            location: doc.provenance.to_string(),
            chars: count_chars(&doc.text),
            excerpt: doc.text[..excerpt_end].to_string(),
            signals,
        }
    }
}

fn flatten_short<'a>(
    map: impl IntoIterator<Item = (&'a String, &'a Value)>,
    prefix: &str,
    depth: usize,
    out: &mut BTreeMap<String, Value>,
) {
    for (key, value) in map {
        if out.len() >= 32 {
            return;
        }
        let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            Value::Number(_) | Value::Bool(_) => {
                out.insert(name, value.clone());
            }
            Value::String(s) if s.len() <= 80 => {
                out.insert(name, value.clone());
            }
            Value::Object(inner) if depth < 3 => flatten_short(inner, &name, depth + 1, out),
            _ => {}
        }
    }
}

/// Sampled documents per key, the [`SAMPLES_PER_KEY`] smallest ranks of each.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Samples(pub BTreeMap<String, Vec<Sample>>);

impl Samples {
    /// Offers a document under `key`; `make` builds its sample only when it is among the
    /// smallest ranks so far.
    pub fn offer(&mut self, key: &str, rank: u64, make: impl FnOnce() -> Sample) {
        let kept = match self.0.get_mut(key) {
            Some(kept) => kept,
            None => self.0.entry(key.to_string()).or_default(),
        };
        if kept.len() >= SAMPLES_PER_KEY && kept.last().is_some_and(|last| last.rank <= rank) {
            return;
        }
        let sample = make();
        let at = kept.partition_point(|s| (s.rank, &s.id) < (sample.rank, &sample.id));
        if kept.get(at).is_some_and(|s| s.rank == sample.rank && s.id == sample.id) {
            return;
        }
        kept.insert(at, sample);
        kept.truncate(SAMPLES_PER_KEY);
    }

    /// Adds another set of samples.
    pub fn merge(&mut self, other: &Samples) {
        for (key, samples) in &other.0 {
            for sample in samples {
                self.offer(key, sample.rank, || sample.clone());
            }
        }
    }

    /// Whether nothing was sampled.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The distributions of the documents at one point of a pipeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Documents profiled (0 for a stage that only recorded drops or observations).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub docs: u64,
    /// Histograms: `chars`, `words`, `meta.<field>` for tagged numbers, and what the stage
    /// observed (`cluster_size`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub histograms: BTreeMap<String, Histogram>,
    /// Counts per value: `source`, `meta.lang`, `meta.<...>.verdict`, boolean fields.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub categories: BTreeMap<String, BTreeMap<String, u64>>,
    /// Sampled documents: `drop:<reason>` for drops, `<field>=<value>` for verdicts other than
    /// `keep`.
    #[serde(default, skip_serializing_if = "Samples::is_empty")]
    pub samples: Samples,
}

/// Characters in `text` (UTF-8 scalar values).
pub fn count_chars(text: &str) -> u64 {
    text.as_bytes().iter().filter(|b| (**b as i8) >= -0x40).count() as u64
}

/// Words in `text`: runs of bytes other than ASCII whitespace.
pub fn count_words(text: &str) -> u64 {
    TextShape::of(text).words
}

/// The characters and words of a text, counted in one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextShape {
    /// UTF-8 scalar values.
    pub chars: u64,
    /// Runs of bytes other than ASCII whitespace (space, `\t`, `\n`, `\x0C`, `\r`).
    pub words: u64,
}

impl TextShape {
    /// Counts eight bytes at a time in a `u64` ("SIMD within a register"): 2.5x the
    /// byte-at-a-time loop on news text, which the compiler does not vectorise (the word count
    /// carries a dependency from byte to byte).
    pub fn of(text: &str) -> TextShape {
        let mut chunks = text.as_bytes().chunks_exact(8);
        let (mut chars, mut words) = (0u64, 0u64);
        // Bit 63 set: the byte before this chunk was whitespace (the text start counts as such).
        let mut previous = HIGH_BITS;
        for chunk in &mut chunks {
            let x = u64::from_le_bytes(chunk.try_into().expect("chunks of 8"));
            let continuation = x & !(x << 1) & HIGH_BITS;
            chars += 8 - u64::from(continuation.count_ones());
            let space = whitespace_bytes(x);
            words += u64::from(word_starts(space, previous));
            previous = space;
        }
        let mut previous_space = previous >> 63 == 1;
        for &b in chunks.remainder() {
            chars += u64::from((b as i8) >= -0x40);
            let space = b.is_ascii_whitespace();
            words += u64::from(previous_space & !space);
            previous_space = space;
        }
        TextShape { chars, words }
    }
}

/// The high bit of each byte of `x` that is ASCII whitespace as `u8::is_ascii_whitespace` has
/// it (space, 9, 10, 12, 13).
fn whitespace_bytes(x: u64) -> u64 {
    let (spaces, nine_to_thirteen) = ascii_whitespace_bytes(x);
    spaces | (nine_to_thirteen & !ascii_bytes_equal(x, 0x0B))
}

/// Whether a string field is counted by value: languages and verdicts.
fn is_category(name: &str) -> bool {
    name == "lang" || name == "language" || name.ends_with("verdict")
}

/// Whether a numeric field is an identifier rather than a measurement.
fn is_identifier(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name);
    last == "id" || last.ends_with("_id") || last == "cluster" || last == "line" || last == "offset"
}

/// The source a document is counted under: its `source` (or `site`) field, else the host of
/// its `url`, else the file it was read from.
pub fn source_key(doc: &Document) -> String {
    for field in ["source", "site"] {
        if let Some(Value::String(source)) = doc.meta.get(field) {
            return source.clone();
        }
    }
    if let Some(Value::String(url)) = doc.meta.get("url") {
        let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
        let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        if !host.is_empty() {
            return host.to_ascii_lowercase();
        }
    }
    let file = &*doc.provenance.source;
    file.rsplit('/').next().unwrap_or(file).to_string()
}

impl Profile {
    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.docs == 0 && self.histograms.is_empty() && self.categories.is_empty() && self.samples.is_empty()
    }

    /// Records a value under a histogram name.
    pub fn observe(&mut self, name: &str, value: f64) {
        let room = self.histograms.len() < MAX_FIELDS;
        match self.histograms.get_mut(name) {
            Some(h) => h.record(value),
            None if room => self.histograms.entry(name.to_string()).or_default().record(value),
            None => {}
        }
    }

    /// Adds a histogram of values under a name.
    pub fn observe_all(&mut self, name: &str, values: &Histogram) {
        let room = self.histograms.len() < MAX_FIELDS;
        match self.histograms.get_mut(name) {
            Some(h) => h.merge(values),
            None if room => {
                self.histograms.insert(name.to_string(), values.clone());
            }
            None => {}
        }
    }

    /// Counts one value of a category.
    pub fn count(&mut self, category: &str, value: &str) {
        self.count_n(category, value, 1);
    }

    /// Counts `n` documents with one value of a category; past [`MAX_CATEGORY_VALUES`]
    /// distinct values, new ones are counted under `(other)`.
    fn count_n(&mut self, category: &str, value: &str, n: u64) {
        let values = match self.categories.get_mut(category) {
            Some(values) => values,
            None => self.categories.entry(category.to_string()).or_default(),
        };
        let key =
            if values.contains_key(value) || values.len() < MAX_CATEGORY_VALUES { value } else { "(other)" };
        match values.get_mut(key) {
            Some(count) => *count += n,
            None => {
                values.insert(key.to_string(), n);
            }
        }
    }

    /// Lengths and sources only: what sources' output is profiled with.
    pub fn record_shape(&mut self, doc: &Document) {
        self.record_shape_of(doc, TextShape::of(&doc.text));
    }

    /// [`Profile::record_shape`] with the text's shape already counted.
    pub fn record_shape_of(&mut self, doc: &Document, shape: TextShape) {
        self.docs += 1;
        self.observe("chars", shape.chars as f64);
        self.observe("words", shape.words as f64);
        self.count("source", &source_key(doc));
    }

    /// Lengths, sources, every numeric and categorical metadata field, and samples of
    /// documents whose verdicts are not `keep`: what a sink's input is profiled with.
    pub fn record_full(&mut self, doc: &Document) {
        self.record_full_of(doc, TextShape::of(&doc.text));
    }

    /// [`Profile::record_full`] with the text's shape already counted.
    pub fn record_full_of(&mut self, doc: &Document, shape: TextShape) {
        self.record_shape_of(doc, shape);
        self.record_meta(doc, doc.meta.iter(), "meta", 0);
    }

    fn record_meta<'a>(
        &mut self,
        doc: &Document,
        fields: impl IntoIterator<Item = (&'a String, &'a Value)>,
        prefix: &str,
        depth: usize,
    ) {
        for (key, value) in fields {
            let name = format!("{prefix}.{key}");
            match value {
                Value::Number(n) if !is_identifier(&name) => {
                    if let Some(x) = n.as_f64() {
                        self.observe(&name, x);
                    }
                }
                Value::Bool(b) => self.count(&name, if *b { "true" } else { "false" }),
                Value::String(s) if is_category(key) => {
                    self.count(&name, s);
                    if key.ends_with("verdict") && s != "keep" {
                        let field = &name["meta.".len()..];
                        let rank = sample_rank(&doc.id);
                        self.samples.offer(&format!("{field}={s}"), rank, || Sample::of(doc, rank));
                    }
                }
                Value::Object(inner) if depth < 3 => self.record_meta(doc, inner, &name, depth + 1),
                _ => {}
            }
        }
    }

    /// Adds another profile of the same point.
    pub fn merge(&mut self, other: &Profile) {
        self.docs += other.docs;
        for (name, h) in &other.histograms {
            self.observe_all(name, h);
        }
        for (category, values) in &other.categories {
            for (value, n) in values {
                self.count_n(category, value, *n);
            }
        }
        self.samples.merge(&other.samples);
    }
}

#[cfg(test)]
mod tests;
