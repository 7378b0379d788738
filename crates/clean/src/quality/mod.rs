//! Quality filters with the published thresholds: Gopher quality and repetition (Rae et al.
//! 2021, Table A1), C4 (Raffel et al. 2020, line and document rules), FineWeb (Penedo et al.
//! 2024). Every rule has its own drop reason (the same codes datatrove uses) and every threshold
//! can be overridden; a rule set to `null` is off.
//!
//! Words are split the way spaCy's English tokenizer does for these statistics (whitespace, then
//! leading/trailing punctuation and English contractions as separate tokens); `tests/` holds
//! datatrove's verdicts on 265 synthetic documents and checks agreement.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, Document, DropReason, Emit, FieldError, Filter, FilterStage, OnMatch, Stage,
    StageConfig, StageError, StageKind, Transform, Verdict,
};
use regex::Regex;
use serde::{Deserialize, Serialize};

mod ngrams;
mod words;

pub use words::{count_words, for_each_word, python_lines, words};

/// Characters that end a sentence (Unicode Sentence_Terminal, the common ones).
pub fn is_terminal_punctuation(c: char) -> bool {
    matches!(
        c,
        '.' | '!'
            | '?'
            | '։'
            | '؟'
            | '۔'
            | '܀'
            | '܁'
            | '܂'
            | '߹'
            | '।'
            | '॥'
            | '၊'
            | '။'
            | '።'
            | '፧'
            | '፨'
            | '᙮'
            | '᠃'
            | '᠉'
            | '᥄'
            | '᥅'
            | '‼'
            | '‽'
            | '⁇'
            | '⁈'
            | '⁉'
            | '⸮'
            | '⸼'
            | '。'
            | '꓿'
            | '꘎'
            | '꘏'
            | '꛳'
            | '꛷'
            | '﹒'
            | '﹖'
            | '﹗'
            | '！'
            | '．'
            | '？'
            | '｡'
    )
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn drop(reason: &'static str) -> Verdict {
    Verdict::Drop(DropReason(reason))
}

/// Configuration of `clean.gopher_quality` (defaults: Gopher's published values).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct GopherQualityConfig {
    /// Fewest words (not counting pure-punctuation tokens).
    pub min_doc_words: Option<usize>,
    /// Most words.
    pub max_doc_words: Option<usize>,
    /// Smallest mean word length.
    pub min_avg_word_length: Option<f64>,
    /// Largest mean word length.
    pub max_avg_word_length: Option<f64>,
    /// Largest ratio of `#` (and, separately, of ellipses) to words.
    pub max_symbol_word_ratio: Option<f64>,
    /// Largest fraction of lines starting with a bullet (`•` or `-`).
    pub max_bullet_lines_ratio: Option<f64>,
    /// Largest fraction of lines ending with an ellipsis.
    pub max_ellipsis_lines_ratio: Option<f64>,
    /// Smallest fraction of words containing a letter.
    pub min_alpha_words_ratio: Option<f64>,
    /// Fewest distinct stop words present.
    pub min_stop_words: Option<usize>,
    /// The stop words.
    pub stop_words: Vec<String>,
    /// `drop` (default) or `annotate` (keep every document; the verdict, `keep` or the drop
    /// reason, in `meta.quality.gopher.verdict`).
    #[serde(default)]
    pub on_match: OnMatch,
}

impl Default for GopherQualityConfig {
    fn default() -> Self {
        GopherQualityConfig {
            min_doc_words: Some(50),
            max_doc_words: Some(100_000),
            min_avg_word_length: Some(3.0),
            max_avg_word_length: Some(10.0),
            max_symbol_word_ratio: Some(0.1),
            max_bullet_lines_ratio: Some(0.9),
            max_ellipsis_lines_ratio: Some(0.3),
            min_alpha_words_ratio: Some(0.8),
            min_stop_words: Some(2),
            stop_words: ["the", "be", "to", "of", "and", "that", "have", "with"].map(String::from).to_vec(),
            on_match: OnMatch::Drop,
        }
    }
}

impl StageConfig for GopherQualityConfig {
    const TYPE: &'static str = "clean.gopher_quality";
    const KIND: StageKind = StageKind::Transform;
    const ON_MATCH: &'static [OnMatch] = OnMatch::DOCUMENTS;
    const SUMMARY: &'static str =
        "Gopher quality rules: word counts and lengths, symbols, bullets, ellipses, alpha words, stop words";
    const EXAMPLE: &'static str = "type: clean.gopher_quality\nmin_doc_words: 50\nmax_avg_word_length: 10\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] = &[
        ("gopher_short_doc", "fewer than min_doc_words words"),
        ("gopher_long_doc", "more than max_doc_words words"),
        ("gopher_below_avg_threshold", "mean word length below min_avg_word_length"),
        ("gopher_above_avg_threshold", "mean word length above max_avg_word_length"),
        ("gopher_too_many_hashes", "`#` per word above max_symbol_word_ratio"),
        ("gopher_too_many_ellipsis", "ellipses per word above max_symbol_word_ratio"),
        ("gopher_too_many_bullets", "bullet lines above max_bullet_lines_ratio"),
        ("gopher_too_many_end_ellipsis", "lines ending in an ellipsis above max_ellipsis_lines_ratio"),
        ("gopher_below_alpha_threshold", "words with a letter below min_alpha_words_ratio"),
        ("gopher_enough_stop_words", "fewer than min_stop_words stop words"),
    ];

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(filter_stage(GopherQuality::new(self.clone()), self.on_match))
    }
}

/// The Gopher quality filter.
pub struct GopherQuality {
    config: GopherQualityConfig,
    /// Each stop word and its index (the first, if listed twice).
    stop_words: HashMap<String, usize, foldhash::fast::FixedState>,
    /// The longest stop word, in bytes: longer words are not looked up.
    longest_stop_word: usize,
}

impl GopherQuality {
    /// A filter with these thresholds.
    pub fn new(config: GopherQualityConfig) -> Self {
        let mut stop_words = HashMap::default();
        for (index, word) in config.stop_words.iter().enumerate() {
            stop_words.entry(word.clone()).or_insert(index);
        }
        let longest_stop_word = config.stop_words.iter().map(String::len).max().unwrap_or(0);
        GopherQuality { config, stop_words, longest_stop_word }
    }

    /// The measurements the rules compare with their thresholds, from one pass over the words
    /// and one over the lines.
    pub fn signals(&self, text: &str) -> GopherSignals {
        let (mut n_words, mut non_symbol, mut non_symbol_chars, mut alpha) = (0usize, 0usize, 0usize, 0usize);
        let mut stop_words_seen = vec![false; self.config.stop_words.len()];
        for_each_word(text, |word, ascii| {
            n_words += 1;
            let (has_alphanumeric, has_alphabetic, length) = if ascii {
                let bytes = word.as_bytes();
                let alphanumeric = bytes.iter().any(u8::is_ascii_alphanumeric);
                (alphanumeric, alphanumeric && bytes.iter().any(u8::is_ascii_alphabetic), word.len())
            } else {
                // Within a word nothing is whitespace: not punctuation is alphanumeric.
                (word.chars().any(char::is_alphanumeric), word.chars().any(char::is_alphabetic), chars(word))
            };
            if has_alphanumeric {
                non_symbol += 1;
                non_symbol_chars += length;
            }
            alpha += usize::from(has_alphabetic);
            if word.len() <= self.longest_stop_word {
                if let Some(&index) = self.stop_words.get(word) {
                    stop_words_seen[index] = true;
                }
            }
        });
        let ratio = |count: usize, of: usize| (of > 0).then(|| count as f64 / of as f64);
        let mean_word_length = (non_symbol > 0).then(|| non_symbol_chars as f64 / non_symbol as f64);
        let lines = python_lines(text);
        let bullets = lines
            .iter()
            .filter(|l| {
                let t = l.trim_start();
                t.starts_with('•') || t.starts_with('-')
            })
            .count();
        let end_ellipsis = lines
            .iter()
            .filter(|l| {
                let t = l.trim_end();
                t.ends_with("...") || t.ends_with('…')
            })
            .count();
        let ellipses = memchr::memmem::find_iter(text.as_bytes(), "...").count()
            + memchr::memmem::find_iter(text.as_bytes(), "…").count();
        GopherSignals {
            words: non_symbol,
            mean_word_length,
            hash_ratio: ratio(memchr::memchr_iter(b'#', text.as_bytes()).count(), n_words),
            ellipsis_ratio: ratio(ellipses, n_words),
            bullet_lines_ratio: ratio(bullets, lines.len()),
            end_ellipsis_lines_ratio: ratio(end_ellipsis, lines.len()),
            alpha_words_ratio: ratio(alpha, n_words),
            stop_words: stop_words_seen.iter().filter(|&&seen| seen).count(),
        }
    }

    /// The verdict for `text`: the first rule (in Gopher's order) its signals break.
    pub fn verdict(&self, text: &str) -> Verdict {
        self.verdict_of(&self.signals(text))
    }

    fn verdict_of(&self, s: &GopherSignals) -> Verdict {
        let c = &self.config;
        let above =
            |value: Option<f64>, max: Option<f64>| matches!((value, max), (Some(v), Some(m)) if v > m);
        let below =
            |value: Option<f64>, min: Option<f64>| matches!((value, min), (Some(v), Some(m)) if v < m);
        if c.min_doc_words.is_some_and(|m| s.words < m) {
            return drop("gopher_short_doc");
        }
        if c.max_doc_words.is_some_and(|m| s.words > m) {
            return drop("gopher_long_doc");
        }
        if below(s.mean_word_length, c.min_avg_word_length) {
            return drop("gopher_below_avg_threshold");
        }
        if above(s.mean_word_length, c.max_avg_word_length) {
            return drop("gopher_above_avg_threshold");
        }
        if above(s.hash_ratio, c.max_symbol_word_ratio) {
            return drop("gopher_too_many_hashes");
        }
        if above(s.ellipsis_ratio, c.max_symbol_word_ratio) {
            return drop("gopher_too_many_ellipsis");
        }
        if above(s.bullet_lines_ratio, c.max_bullet_lines_ratio) {
            return drop("gopher_too_many_bullets");
        }
        if above(s.end_ellipsis_lines_ratio, c.max_ellipsis_lines_ratio) {
            return drop("gopher_too_many_end_ellipsis");
        }
        if below(s.alpha_words_ratio, c.min_alpha_words_ratio) {
            return drop("gopher_below_alpha_threshold");
        }
        if c.min_stop_words.is_some_and(|m| s.stop_words < m) {
            return drop("gopher_enough_stop_words");
        }
        Verdict::Keep
    }
}

/// What `clean.gopher_quality` measures (ratios are `None` where their denominator is 0);
/// written to `meta.quality.gopher.*` by `on_match: annotate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GopherSignals {
    /// Words that are not only punctuation.
    pub words: usize,
    /// Their mean length in characters.
    pub mean_word_length: Option<f64>,
    /// `#` per word.
    pub hash_ratio: Option<f64>,
    /// Ellipses per word.
    pub ellipsis_ratio: Option<f64>,
    /// Lines starting with a bullet, per line.
    pub bullet_lines_ratio: Option<f64>,
    /// Lines ending in an ellipsis, per line.
    pub end_ellipsis_lines_ratio: Option<f64>,
    /// Words with a letter, per word.
    pub alpha_words_ratio: Option<f64>,
    /// Distinct stop words present.
    pub stop_words: usize,
}

impl Measures for GopherQuality {
    const PREFIX: &'static str = "quality.gopher";

    fn measure(&self, text: &str) -> (Vec<(&'static str, serde_json::Value)>, Verdict) {
        let signals = self.signals(text);
        let verdict = self.verdict_of(&signals);
        let fields = vec![
            ("words", serde_json::json!(signals.words)),
            ("mean_word_length", rounded(signals.mean_word_length)),
            ("hash_ratio", rounded(signals.hash_ratio)),
            ("ellipsis_ratio", rounded(signals.ellipsis_ratio)),
            ("bullet_lines_ratio", rounded(signals.bullet_lines_ratio)),
            ("end_ellipsis_lines_ratio", rounded(signals.end_ellipsis_lines_ratio)),
            ("alpha_words_ratio", rounded(signals.alpha_words_ratio)),
            ("stop_words", serde_json::json!(signals.stop_words)),
        ];
        (fields, verdict)
    }

    fn limits(&self) -> Vec<(&'static str, &'static str, Option<f64>)> {
        let c = &self.config;
        vec![
            ("words", ">=", c.min_doc_words.map(|v| v as f64)),
            ("words", "<=", c.max_doc_words.map(|v| v as f64)),
            ("mean_word_length", ">=", c.min_avg_word_length),
            ("mean_word_length", "<=", c.max_avg_word_length),
            ("hash_ratio", "<=", c.max_symbol_word_ratio),
            ("ellipsis_ratio", "<=", c.max_symbol_word_ratio),
            ("bullet_lines_ratio", "<=", c.max_bullet_lines_ratio),
            ("end_ellipsis_lines_ratio", "<=", c.max_ellipsis_lines_ratio),
            ("alpha_words_ratio", ">=", c.min_alpha_words_ratio),
            ("stop_words", ">=", c.min_stop_words.map(|v| v as f64)),
        ]
    }
}

/// A ratio as written to meta: four decimals, `null` where it has no denominator.
fn rounded(value: Option<f64>) -> serde_json::Value {
    serde_json::json!(value.map(|v| (v * 1e4).round() / 1e4))
}

/// A quality filter that can say what it measured: `on_match: annotate` writes the signals and
/// the verdict they give to meta, and reports draw the thresholds over their histograms.
trait Measures: Send + Sync {
    /// The meta namespace of the signals (`quality.fineweb`); the verdict goes to `PREFIX.verdict`.
    const PREFIX: &'static str;
    /// Every signal, named as under `PREFIX`, and the verdict the rules give on them (the same
    /// verdict as the dropping filter's).
    fn measure(&self, text: &str) -> (Vec<(&'static str, serde_json::Value)>, Verdict);
    /// `(signal, the comparison a kept document passes, threshold)`; `None`: that rule is off.
    fn limits(&self) -> Vec<(&'static str, &'static str, Option<f64>)>;
}

/// The stage of a quality filter: its [`Tags`] under `on_match: annotate`, else the filter itself,
/// dropping.
fn filter_stage<M: Measures + Filter + 'static>(filter: M, on_match: OnMatch) -> Stage {
    match on_match {
        OnMatch::Annotate => Stage::transform(Tags(filter)),
        _ => Stage::transform(FilterStage(filter)),
    }
}

/// `on_match: annotate` for a [`Measures`] filter: keeps every document, text unchanged.
struct Tags<M>(M);

impl<M: Measures> Transform for Tags<M> {
    fn apply(&self, mut doc: Document, out: &mut Emit) -> Result<(), StageError> {
        let (fields, verdict) = self.0.measure(&doc.text);
        for (name, value) in fields {
            doc.meta.insert(format!("{}.{name}", M::PREFIX), value);
        }
        out.decide(doc, verdict.drop_reason(), Some(&format!("{}.verdict", M::PREFIX)));
        Ok(())
    }

    fn thresholds(&self) -> Vec<millstone_core::Threshold> {
        self.0
            .limits()
            .into_iter()
            .filter_map(|(field, op, value)| {
                Some(millstone_core::Threshold {
                    field: format!("{}.{field}", M::PREFIX),
                    op: op.into(),
                    value: value?,
                })
            })
            .collect()
    }
}

/// Stops a rule chain at the first broken rule, or (annotating) measures every rule and keeps
/// the first broken one as the verdict.
struct Rules {
    verdict: Verdict,
    measure_all: bool,
}

impl Rules {
    fn new(measure_all: bool) -> Self {
        Rules { verdict: Verdict::Keep, measure_all }
    }

    /// Whether to compute a rule's signal: its threshold is set, or every signal is wanted.
    fn wants(&self, threshold: bool) -> bool {
        self.measure_all || threshold
    }

    /// Records a broken rule (the first one decides); true when evaluation can stop.
    fn broke(&mut self, reason: &'static str) -> bool {
        if matches!(self.verdict, Verdict::Keep) {
            self.verdict = drop(reason);
        }
        !self.measure_all
    }
}

impl Filter for GopherQuality {
    fn check(&self, doc: &Document) -> Result<Verdict, StageError> {
        Ok(self.verdict(&doc.text))
    }
}

/// Elements seen before (count, characters), as Gopher's duplicate fractions count them.
fn duplicates(items: &[&str]) -> (usize, usize) {
    let mut seen = HashSet::with_capacity_and_hasher(items.len(), xxhash_rust::xxh3::Xxh3DefaultBuilder);
    let (mut elements, mut characters) = (0, 0);
    for &item in items {
        if !seen.insert(item) {
            elements += 1;
            characters += chars(item);
        }
    }
    (elements, characters)
}

/// Configuration of `clean.gopher_repetition` (defaults: Gopher Table A1).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct GopherRepetitionConfig {
    /// Largest fraction of duplicate lines.
    pub dup_line_frac: Option<f64>,
    /// Largest fraction of duplicate paragraphs.
    pub dup_para_frac: Option<f64>,
    /// Largest fraction of characters in duplicate lines.
    pub dup_line_char_frac: Option<f64>,
    /// Largest fraction of characters in duplicate paragraphs.
    pub dup_para_char_frac: Option<f64>,
    /// `[n, fraction]`: the most frequent n-gram may cover at most this fraction of characters.
    pub top_n_grams: Vec<(usize, f64)>,
    /// `[n, fraction]`: repeated n-grams may cover at most this fraction of characters.
    pub dup_n_grams: Vec<(usize, f64)>,
    /// `drop` (default) or `annotate` (keep every document; every fraction under
    /// `meta.quality.gopher_repetition.*`, named like the drop reasons, and the verdict, `keep` or
    /// the drop reason, in `meta.quality.gopher_repetition.verdict`).
    #[serde(default)]
    pub on_match: OnMatch,
}

impl Default for GopherRepetitionConfig {
    fn default() -> Self {
        GopherRepetitionConfig {
            dup_line_frac: Some(0.3),
            dup_para_frac: Some(0.3),
            dup_line_char_frac: Some(0.2),
            dup_para_char_frac: Some(0.2),
            top_n_grams: vec![(2, 0.2), (3, 0.18), (4, 0.16)],
            dup_n_grams: vec![(5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)],
            on_match: OnMatch::Drop,
        }
    }
}

const TOP_REASONS: [&str; 11] = [
    "top_0_gram",
    "top_1_gram",
    "top_2_gram",
    "top_3_gram",
    "top_4_gram",
    "top_5_gram",
    "top_6_gram",
    "top_7_gram",
    "top_8_gram",
    "top_9_gram",
    "top_10_gram",
];
const DUP_REASONS: [&str; 11] = [
    "duplicated_0_n_grams",
    "duplicated_1_n_grams",
    "duplicated_2_n_grams",
    "duplicated_3_n_grams",
    "duplicated_4_n_grams",
    "duplicated_5_n_grams",
    "duplicated_6_n_grams",
    "duplicated_7_n_grams",
    "duplicated_8_n_grams",
    "duplicated_9_n_grams",
    "duplicated_10_n_grams",
];

impl StageConfig for GopherRepetitionConfig {
    const TYPE: &'static str = "clean.gopher_repetition";
    const KIND: StageKind = StageKind::Transform;
    const ON_MATCH: &'static [OnMatch] = OnMatch::DOCUMENTS;
    const SUMMARY: &'static str =
        "Gopher repetition rules: duplicate lines/paragraphs, top and duplicated n-grams";
    const EXAMPLE: &'static str =
        "type: clean.gopher_repetition\ndup_line_frac: 0.3\ntop_n_grams: [[2, 0.2], [3, 0.18], [4, 0.16]]\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] = &[
        ("empty", "no text"),
        ("dup_para_frac", "duplicate paragraphs above dup_para_frac"),
        ("dup_para_char_frac", "characters in duplicate paragraphs above dup_para_char_frac"),
        ("dup_line_frac", "duplicate lines above dup_line_frac"),
        ("dup_line_char_frac", "characters in duplicate lines above dup_line_char_frac"),
        ("top_N_gram", "the most frequent N-gram covers too many characters"),
        ("duplicated_N_n_grams", "repeated N-grams cover too many characters"),
    ];

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let bad: Vec<FieldError> = self
            .top_n_grams
            .iter()
            .map(|g| ("top_n_grams", g))
            .chain(self.dup_n_grams.iter().map(|g| ("dup_n_grams", g)))
            .filter(|(_, (n, _))| *n == 0 || *n > 10)
            .map(|(field, (n, _))| FieldError::new(field, format!("n = {n} must be between 1 and 10")))
            .collect();
        bad.is_empty().then_some(()).ok_or(bad)
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        let filter = GopherRepetition::new(self.clone());
        Ok(filter_stage(filter, self.on_match))
    }
}

/// The Gopher repetition filter.
pub struct GopherRepetition {
    config: GopherRepetitionConfig,
}

impl GopherRepetition {
    /// A filter with these thresholds.
    pub fn new(config: GopherRepetitionConfig) -> Self {
        GopherRepetition { config }
    }

    /// The verdict for `text`: the first rule (in Gopher's order) it breaks.
    pub fn verdict(&self, text: &str) -> Verdict {
        self.evaluate(text, false).1
    }

    /// Every signal, with the verdict.
    pub fn signals(&self, text: &str) -> (RepetitionSignals, Verdict) {
        self.evaluate(text, true)
    }

    fn evaluate(&self, text: &str, measure_all: bool) -> (RepetitionSignals, Verdict) {
        let c = &self.config;
        let mut s = RepetitionSignals::default();
        if text.is_empty() {
            return (s, drop("empty"));
        }
        let mut rules = Rules::new(measure_all);
        let length = chars(text) as f64;
        if rules.wants(c.dup_para_frac.is_some() || c.dup_para_char_frac.is_some()) {
            let paragraphs: Vec<&str> = words::split_at_newline_runs(text.trim(), 2);
            let (dup, dup_chars) = duplicates(&paragraphs);
            let frac = dup as f64 / paragraphs.len() as f64;
            s.dup_para_frac = Some(frac);
            if c.dup_para_frac.is_some_and(|m| frac > m) && rules.broke("dup_para_frac") {
                return (s, rules.verdict);
            }
            let char_frac = dup_chars as f64 / length;
            s.dup_para_char_frac = Some(char_frac);
            if c.dup_para_char_frac.is_some_and(|m| char_frac > m) && rules.broke("dup_para_char_frac") {
                return (s, rules.verdict);
            }
        }
        if rules.wants(c.dup_line_frac.is_some() || c.dup_line_char_frac.is_some()) {
            let lines: Vec<&str> = words::split_at_newline_runs(text, 1);
            let (dup, dup_chars) = duplicates(&lines);
            let frac = dup as f64 / lines.len() as f64;
            s.dup_line_frac = Some(frac);
            if c.dup_line_frac.is_some_and(|m| frac > m) && rules.broke("dup_line_frac") {
                return (s, rules.verdict);
            }
            let char_frac = dup_chars as f64 / length;
            s.dup_line_char_frac = Some(char_frac);
            if c.dup_line_char_frac.is_some_and(|m| char_frac > m) && rules.broke("dup_line_char_frac") {
                return (s, rules.verdict);
            }
        }
        if c.top_n_grams.is_empty() && c.dup_n_grams.is_empty() {
            return (s, rules.verdict);
        }
        let mut grams = ngrams::NGramClasses::of_text(text);
        let words = grams.words();
        for &(n, fraction) in &c.top_n_grams {
            if words < n || n == 0 {
                continue;
            }
            grams.refine_to(n);
            let (count, first) = grams.most_frequent();
            let gram_chars = grams.chars(first, n) + n - 1;
            let covered = (gram_chars * count) as f64 / length;
            s.top_n_grams.push((n, covered));
            if covered > fraction && rules.broke(TOP_REASONS[n]) {
                return (s, rules.verdict);
            }
        }
        for &(n, fraction) in &c.dup_n_grams {
            let repeated = if words < n || n == 0 {
                0
            } else {
                grams.refine_to(n);
                grams.repeated_chars()
            };
            let covered = repeated as f64 / length;
            s.dup_n_grams.push((n, covered));
            if covered > fraction && rules.broke(DUP_REASONS[n]) {
                return (s, rules.verdict);
            }
        }
        (s, rules.verdict)
    }
}

/// What `clean.gopher_repetition` measures (fractions; `None` where that rule is off and only
/// the verdict was wanted); written to `meta.quality.gopher_repetition.*` by `on_match: annotate`,
/// named like the drop reasons (`dup_line_frac`, `top_2_gram`, `duplicated_5_n_grams`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RepetitionSignals {
    /// Duplicate paragraphs, per paragraph.
    pub dup_para_frac: Option<f64>,
    /// Characters in duplicate paragraphs, per character.
    pub dup_para_char_frac: Option<f64>,
    /// Duplicate lines, per line.
    pub dup_line_frac: Option<f64>,
    /// Characters in duplicate lines, per character.
    pub dup_line_char_frac: Option<f64>,
    /// `(n, characters the most frequent n-gram covers, per character)`, per configured n that
    /// the document has words for.
    pub top_n_grams: Vec<(usize, f64)>,
    /// `(n, characters in repeated n-grams, per character)`, per configured n.
    pub dup_n_grams: Vec<(usize, f64)>,
}

impl Measures for GopherRepetition {
    const PREFIX: &'static str = "quality.gopher_repetition";

    fn measure(&self, text: &str) -> (Vec<(&'static str, serde_json::Value)>, Verdict) {
        let (s, verdict) = self.signals(text);
        let mut fields = vec![
            ("dup_para_frac", rounded(s.dup_para_frac)),
            ("dup_para_char_frac", rounded(s.dup_para_char_frac)),
            ("dup_line_frac", rounded(s.dup_line_frac)),
            ("dup_line_char_frac", rounded(s.dup_line_char_frac)),
        ];
        fields.extend(s.top_n_grams.iter().map(|&(n, v)| (TOP_REASONS[n], rounded(Some(v)))));
        fields.extend(s.dup_n_grams.iter().map(|&(n, v)| (DUP_REASONS[n], rounded(Some(v)))));
        (fields, verdict)
    }

    fn limits(&self) -> Vec<(&'static str, &'static str, Option<f64>)> {
        let c = &self.config;
        let mut limits = vec![
            ("dup_para_frac", "<=", c.dup_para_frac),
            ("dup_para_char_frac", "<=", c.dup_para_char_frac),
            ("dup_line_frac", "<=", c.dup_line_frac),
            ("dup_line_char_frac", "<=", c.dup_line_char_frac),
        ];
        limits.extend(c.top_n_grams.iter().map(|&(n, v)| (TOP_REASONS[n], "<=", Some(v))));
        limits.extend(c.dup_n_grams.iter().map(|&(n, v)| (DUP_REASONS[n], "<=", Some(v))));
        limits
    }
}

impl Filter for GopherRepetition {
    fn check(&self, doc: &Document) -> Result<Verdict, StageError> {
        Ok(self.verdict(&doc.text))
    }
}

/// Configuration of `clean.c4` (defaults: the C4 paper and its reference code).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct C4Config {
    /// Remove Wikipedia-style citations (`[1]`, `[edit]`, `[citation needed]`) from lines.
    pub remove_citations: bool,
    /// Drop lines that do not end in `.`, `?`, `!`, `"` or `'` (or end in `...`).
    pub filter_no_terminal_punct: bool,
    /// Drop the document if fewer sentences remain (`null`: off).
    pub min_num_sentences: Option<usize>,
    /// Drop lines with fewer words (`null`: off).
    pub min_words_per_line: Option<usize>,
    /// Drop lines with a longer word (`null`: off).
    pub max_word_length: Option<usize>,
    /// Drop documents containing "lorem ipsum".
    pub filter_lorem_ipsum: bool,
    /// Drop lines mentioning "javascript".
    pub filter_javascript: bool,
    /// Drop documents containing `{`.
    pub filter_curly_bracket: bool,
    /// Drop lines about cookies, terms of use and privacy policies.
    pub filter_policy: bool,
    /// Drop documents containing any of these words (whole words, case-insensitive); C4 used the
    /// LDNOOBW list, which you supply here.
    pub bad_words: Vec<String>,
    /// `drop` (default: drops pages and removes lines) or `annotate` (the text unchanged; the
    /// verdict, `keep` or the drop reason, in `meta.quality.c4.verdict`, the sentences left after
    /// line filtering in `meta.quality.c4.sentences` and the number of lines C4 would remove in
    /// `meta.quality.c4.lines_removed`).
    pub on_match: OnMatch,
}

impl Default for C4Config {
    fn default() -> Self {
        C4Config {
            remove_citations: true,
            filter_no_terminal_punct: true,
            min_num_sentences: Some(5),
            min_words_per_line: Some(3),
            max_word_length: Some(1000),
            filter_lorem_ipsum: true,
            filter_javascript: true,
            filter_curly_bracket: true,
            filter_policy: true,
            bad_words: Vec::new(),
            on_match: OnMatch::Drop,
        }
    }
}

const POLICY_SUBSTRINGS: [&str; 6] =
    ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"];

impl StageConfig for C4Config {
    const TYPE: &'static str = "clean.c4";
    const KIND: StageKind = StageKind::Transform;
    const ON_MATCH: &'static [OnMatch] = OnMatch::DOCUMENTS;
    const SUMMARY: &'static str = "C4 rules: keep lines with terminal punctuation and 3+ words, drop pages with lorem ipsum, {, bad words";
    const EXAMPLE: &'static str = "type: clean.c4\nmin_num_sentences: 5\nbad_words: [\"badword\"]\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] = &[
        ("lorem_ipsum", "the page contains \"lorem ipsum\""),
        ("curly_bracket", "the page contains `{` (code)"),
        ("too_few_sentences", "fewer than min_num_sentences sentences left after line filtering"),
        ("bad_words", "the page contains a listed bad word"),
    ];

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        let filter = C4::new(self.clone()).map_err(|e| BuildError::field("bad_words", e.to_string()))?;
        Ok(match self.on_match {
            OnMatch::Annotate => Stage::transform(Tags(filter)),
            _ => Stage::transform(filter),
        })
    }
}

/// The C4 line and page filter.
pub struct C4 {
    config: C4Config,
    citations: Regex,
    bad_words: Option<Regex>,
    /// `lorem ipsum`, `javascript`, then the policy phrases, matched in one pass per line.
    line_phrases: aho_corasick::AhoCorasick,
}

/// Which of C4's phrases a line contains.
#[derive(Default)]
struct LinePhrases {
    lorem_ipsum: bool,
    javascript: bool,
    policy: bool,
}

/// The C4 outcome for one page: the kept lines, or a drop reason.
pub type C4Outcome = Result<String, &'static str>;

impl C4 {
    /// A filter with these settings.
    pub fn new(config: C4Config) -> Result<Self, regex::Error> {
        let bad_words = if config.bad_words.is_empty() {
            None
        } else {
            let alternatives: Vec<String> = config.bad_words.iter().map(|w| regex::escape(w)).collect();
            Some(Regex::new(&format!(r"(?i)(?:\W|^)(?:{})(?:\W|$)", alternatives.join("|")))?)
        };
        let phrases = ["lorem ipsum", "javascript"].into_iter().chain(POLICY_SUBSTRINGS);
        // Leftmost-first finds every flag the overlapping search would: no phrase ends with a
        // prefix of `lorem ipsum` or `javascript`, and a policy phrase hidden by an overlap is
        // behind `javascript` (the line is skipped either way) or another policy phrase.
        let line_phrases = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(phrases)
            .expect("fixed phrases build");
        Ok(C4 {
            citations: Regex::new(r"\[\d*\]|\[edit\]|\[citation needed\]").expect("valid"),
            bad_words,
            line_phrases,
            config,
        })
    }

    /// The phrases in `line` (`ascii`: whether it is all ASCII), as
    /// `line.to_lowercase().contains(phrase)` finds them: an ASCII
    /// line is matched ignoring ASCII case, any other is lowercased first (Unicode lowercasing
    /// can make ASCII letters, e.g. the Kelvin sign's `k`).
    fn phrases_in(&self, line: &str, ascii: bool) -> LinePhrases {
        let lowered;
        let haystack = if ascii {
            line
        } else {
            lowered = line.to_lowercase();
            &lowered
        };
        let mut found = LinePhrases::default();
        for m in self.line_phrases.find_iter(haystack) {
            match m.pattern().as_usize() {
                0 => found.lorem_ipsum = true,
                1 => found.javascript = true,
                _ => found.policy = true,
            }
        }
        found
    }

    /// Sentences in a line (`ascii`: whether it is all ASCII): runs of terminal punctuation
    /// followed by whitespace or the end.
    fn sentences(line: &str, ascii: bool) -> usize {
        let closes_sentence =
            |c: char| is_terminal_punctuation(c) || matches!(c, '"' | '\'' | '”' | '’' | ')');
        let mut count = 0;
        if ascii {
            let bytes = line.as_bytes();
            let mut i = 0;
            while let Some(found) = memchr::memchr3(b'.', b'!', b'?', &bytes[i..]) {
                i += found + 1;
                while i < bytes.len() && matches!(bytes[i], b'.' | b'!' | b'?' | b'"' | b'\'' | b')') {
                    i += 1;
                }
                count += usize::from(i == bytes.len() || char::from(bytes[i]).is_whitespace());
            }
        } else {
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                if is_terminal_punctuation(c) {
                    while chars.next_if(|&next| closes_sentence(next)).is_some() {}
                    count += usize::from(chars.peek().is_none_or(|next| next.is_whitespace()));
                }
            }
        }
        count.max(usize::from(!line.trim().is_empty()))
    }

    /// Applies the rules to a page.
    pub fn apply_to(&self, text: &str) -> C4Outcome {
        let page = self.evaluate(text, false);
        match page.verdict {
            Verdict::Keep => Ok(page.kept.join("\n").trim().to_string()),
            Verdict::Drop(reason) => Err(reason.0),
        }
    }

    fn evaluate<'a>(&self, text: &'a str, measure_all: bool) -> C4Page<'a> {
        let c = &self.config;
        let mut rules = Rules::new(measure_all);
        let mut page = C4Page { kept: Vec::new(), lines: 0, sentences: 0, verdict: Verdict::Keep };
        if let Some(bad) = &self.bad_words {
            if bad.is_match(text) && rules.broke("bad_words") {
                page.verdict = rules.verdict;
                return page;
            }
        }
        let wants_phrases = c.filter_lorem_ipsum || c.filter_javascript || c.filter_policy;
        for line in python_lines(text) {
            page.lines += 1;
            let line = line.trim();
            let ascii = line.is_ascii();
            let (word_count, too_long) = if ascii {
                match c.max_word_length {
                    // No word is longer than its line.
                    Some(m) if line.len() > m => {
                        let (count, longest) = words::ascii_word_count_and_longest(line);
                        (count, longest > m)
                    }
                    _ => (words::ascii_word_count(line), false),
                }
            } else {
                let mut count = 0;
                let mut too_long = false;
                for word in line.split_whitespace() {
                    count += 1;
                    too_long |= c.max_word_length.is_some_and(|m| word.len() > m && chars(word) > m);
                }
                (count, too_long)
            };
            if too_long {
                continue;
            }
            let line = if c.remove_citations && memchr::memchr(b'[', line.as_bytes()).is_some() {
                self.citations.replace_all(line, "")
            } else {
                Cow::Borrowed(line)
            };
            if c.filter_no_terminal_punct
                && (!line.ends_with(['.', '?', '!', '"', '\'']) || line.ends_with("..."))
            {
                continue;
            }
            if c.min_words_per_line.is_some_and(|m| word_count < m) {
                continue;
            }
            let found = if wants_phrases { self.phrases_in(&line, ascii) } else { LinePhrases::default() };
            if c.filter_lorem_ipsum && found.lorem_ipsum && rules.broke("lorem_ipsum") {
                page.verdict = rules.verdict;
                return page;
            }
            if c.filter_javascript && found.javascript {
                continue;
            }
            if c.filter_curly_bracket && line.contains('{') && rules.broke("curly_bracket") {
                page.verdict = rules.verdict;
                return page;
            }
            if c.filter_policy && found.policy {
                continue;
            }
            page.sentences += Self::sentences(&line, ascii);
            page.kept.push(line);
        }
        if c.min_num_sentences.is_some_and(|m| page.sentences < m) {
            rules.broke("too_few_sentences");
        }
        page.verdict = rules.verdict;
        page
    }
}

/// What the C4 rules make of one page.
struct C4Page<'a> {
    /// The lines kept, trimmed and without citations.
    kept: Vec<Cow<'a, str>>,
    /// Lines seen (all of them, unless a page rule stopped the pass).
    lines: usize,
    /// Sentences in the kept lines.
    sentences: usize,
    verdict: Verdict,
}

impl Measures for C4 {
    const PREFIX: &'static str = "quality.c4";

    fn measure(&self, text: &str) -> (Vec<(&'static str, serde_json::Value)>, Verdict) {
        let page = self.evaluate(text, true);
        let fields = vec![
            ("sentences", serde_json::json!(page.sentences)),
            ("lines_removed", serde_json::json!(page.lines - page.kept.len())),
        ];
        (fields, page.verdict)
    }

    fn limits(&self) -> Vec<(&'static str, &'static str, Option<f64>)> {
        vec![("sentences", ">=", self.config.min_num_sentences.map(|v| v as f64))]
    }
}

impl Transform for C4 {
    fn apply(&self, mut doc: Document, out: &mut Emit) -> Result<(), StageError> {
        match self.apply_to(&doc.text) {
            Ok(text) => {
                if text != doc.text {
                    out.count("docs_changed", 1);
                    doc.set_text(text);
                }
                out.keep(doc);
            }
            Err(reason) => out.drop(doc, DropReason(reason)),
        }
        Ok(())
    }
}

/// Configuration of `clean.fineweb` (defaults: the FineWeb paper).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FineWebConfig {
    /// Smallest fraction of lines ending in terminal punctuation.
    pub line_punct_thr: Option<f64>,
    /// Do not apply `line_punct_thr` to documents with no such line at all.
    pub line_punct_exclude_zero: bool,
    /// Largest fraction of short lines.
    pub short_line_thr: Option<f64>,
    /// A line of at most this many characters is short.
    pub short_line_length: usize,
    /// Largest fraction of characters in duplicated lines.
    pub char_duplicates_ratio: Option<f64>,
    /// Largest ratio of line breaks to words (lists).
    pub new_line_ratio: Option<f64>,
    /// `drop` (default) or `annotate` (keep every document; the ratios under
    /// `meta.quality.fineweb.*`, named like the drop reasons, and the verdict, `keep` or the drop
    /// reason, in `meta.quality.fineweb.verdict`).
    #[serde(default)]
    pub on_match: OnMatch,
}

impl Default for FineWebConfig {
    fn default() -> Self {
        FineWebConfig {
            line_punct_thr: Some(0.12),
            line_punct_exclude_zero: false,
            short_line_thr: Some(0.67),
            short_line_length: 30,
            char_duplicates_ratio: Some(0.01),
            new_line_ratio: Some(0.3),
            on_match: OnMatch::Drop,
        }
    }
}

impl StageConfig for FineWebConfig {
    const TYPE: &'static str = "clean.fineweb";
    const KIND: StageKind = StageKind::Transform;
    const ON_MATCH: &'static [OnMatch] = OnMatch::DOCUMENTS;
    const SUMMARY: &'static str =
        "FineWeb rules: punctuated lines, short lines, duplicated line characters, list-like pages";
    const EXAMPLE: &'static str = "type: clean.fineweb\nline_punct_thr: 0.12\nshort_line_thr: 0.67\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] = &[
        ("empty", "no non-blank line"),
        ("line_punct_ratio", "too few lines end in terminal punctuation"),
        ("short_line_ratio", "too many short lines"),
        ("char_dup_ratio", "too many characters in duplicated lines"),
        ("list_ratio", "too many line breaks per word"),
    ];

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        let filter = FineWeb::new(self.clone());
        Ok(filter_stage(filter, self.on_match))
    }
}

/// The FineWeb quality filter.
pub struct FineWeb {
    config: FineWebConfig,
}

impl FineWeb {
    /// A filter with these thresholds.
    pub fn new(config: FineWebConfig) -> Self {
        FineWeb { config }
    }

    /// The verdict for `text`: the first rule it breaks.
    pub fn verdict(&self, text: &str) -> Verdict {
        self.evaluate(text, false).1
    }

    /// Every signal, with the verdict.
    pub fn signals(&self, text: &str) -> (FineWebSignals, Verdict) {
        self.evaluate(text, true)
    }

    fn evaluate(&self, text: &str, measure_all: bool) -> (FineWebSignals, Verdict) {
        let c = &self.config;
        let mut s = FineWebSignals::default();
        let lines: Vec<&str> = text.split('\n').filter(|l| !l.trim().is_empty()).collect();
        if lines.is_empty() {
            return (s, drop("empty"));
        }
        let mut rules = Rules::new(measure_all);
        let n = lines.len() as f64;
        if rules.wants(c.line_punct_thr.is_some()) {
            let ratio =
                lines.iter().filter(|l| l.chars().next_back().is_some_and(is_terminal_punctuation)).count()
                    as f64
                    / n;
            s.line_punct_ratio = Some(ratio);
            if c.line_punct_thr.is_some_and(|min| ratio < min && !(ratio == 0.0 && c.line_punct_exclude_zero))
                && rules.broke("line_punct_ratio")
            {
                return (s, rules.verdict);
            }
        }
        if rules.wants(c.short_line_thr.is_some()) {
            let ratio = lines.iter().filter(|l| chars(l) <= c.short_line_length).count() as f64 / n;
            s.short_line_ratio = Some(ratio);
            if c.short_line_thr.is_some_and(|max| ratio > max) && rules.broke("short_line_ratio") {
                return (s, rules.verdict);
            }
        }
        if rules.wants(c.char_duplicates_ratio.is_some()) {
            let total = text.chars().filter(|&ch| ch != '\n').count().max(1);
            let ratio = duplicates(&lines).1 as f64 / total as f64;
            s.char_dup_ratio = Some(ratio);
            if c.char_duplicates_ratio.is_some_and(|max| ratio > max) && rules.broke("char_dup_ratio") {
                return (s, rules.verdict);
            }
        }
        if rules.wants(c.new_line_ratio.is_some()) {
            let words = count_words(text);
            if words > 0 {
                let ratio = text.matches('\n').count() as f64 / words as f64;
                s.list_ratio = Some(ratio);
                if c.new_line_ratio.is_some_and(|max| ratio > max) && rules.broke("list_ratio") {
                    return (s, rules.verdict);
                }
            }
        }
        (s, rules.verdict)
    }
}

/// What `clean.fineweb` measures, named like its drop reasons (`None`: not measured, or no
/// words for `list_ratio`); written to `meta.quality.fineweb.*` by `on_match: annotate`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FineWebSignals {
    /// Non-blank lines ending in terminal punctuation, per non-blank line.
    pub line_punct_ratio: Option<f64>,
    /// Non-blank lines of at most `short_line_length` characters, per non-blank line.
    pub short_line_ratio: Option<f64>,
    /// Characters in duplicated lines, per character (line breaks not counted).
    pub char_dup_ratio: Option<f64>,
    /// Line breaks per word.
    pub list_ratio: Option<f64>,
}

impl Measures for FineWeb {
    const PREFIX: &'static str = "quality.fineweb";

    fn measure(&self, text: &str) -> (Vec<(&'static str, serde_json::Value)>, Verdict) {
        let (s, verdict) = self.signals(text);
        let fields = vec![
            ("line_punct_ratio", rounded(s.line_punct_ratio)),
            ("short_line_ratio", rounded(s.short_line_ratio)),
            ("char_dup_ratio", rounded(s.char_dup_ratio)),
            ("list_ratio", rounded(s.list_ratio)),
        ];
        (fields, verdict)
    }

    fn limits(&self) -> Vec<(&'static str, &'static str, Option<f64>)> {
        let c = &self.config;
        vec![
            ("line_punct_ratio", ">=", c.line_punct_thr),
            ("short_line_ratio", "<=", c.short_line_thr),
            ("char_dup_ratio", "<=", c.char_duplicates_ratio),
            ("list_ratio", "<=", c.new_line_ratio),
        ]
    }
}

impl Filter for FineWeb {
    fn check(&self, doc: &Document) -> Result<Verdict, StageError> {
        Ok(self.verdict(&doc.text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn annotate_keeps_everything_and_writes_the_verdict() {
        let short = Document::new("short", "Too short to be a page.");
        let page = Document::new("page", "The cat and the dog sat with the owner of the house. ".repeat(12));
        let stages: [(Stage, &str, &str); 4] = [
            (
                GopherQualityConfig { on_match: OnMatch::Annotate, ..Default::default() }
                    .build(&BuildContext::for_tests())
                    .unwrap(),
                "quality.gopher.verdict",
                "gopher_short_doc",
            ),
            (
                GopherRepetitionConfig { on_match: OnMatch::Annotate, ..Default::default() }
                    .build(&BuildContext::for_tests())
                    .unwrap(),
                "quality.gopher_repetition.verdict",
                "top_2_gram",
            ),
            (
                FineWebConfig { on_match: OnMatch::Annotate, ..Default::default() }
                    .build(&BuildContext::for_tests())
                    .unwrap(),
                "quality.fineweb.verdict",
                "short_line_ratio",
            ),
            (
                C4Config { on_match: OnMatch::Annotate, ..Default::default() }
                    .build(&BuildContext::for_tests())
                    .unwrap(),
                "quality.c4.verdict",
                "too_few_sentences",
            ),
        ];
        for (stage, key, short_verdict) in stages {
            let Stage::Transform(t) = stage else { panic!() };
            let mut out = Emit::new(false);
            t.apply(short.clone(), &mut out).unwrap();
            t.apply(page.clone(), &mut out).unwrap();
            assert_eq!(out.kept().len(), 2, "{key}");
            assert_eq!(out.kept()[0].meta[key], short_verdict, "{key}");
            assert_eq!(out.kept()[0].text, short.text);
            let signals: &[&str] = match key {
                "quality.gopher_repetition.verdict" => {
                    &["dup_line_frac", "top_2_gram", "duplicated_10_n_grams"]
                }
                "quality.fineweb.verdict" => {
                    &["line_punct_ratio", "short_line_ratio", "char_dup_ratio", "list_ratio"]
                }
                "quality.c4.verdict" => &["sentences", "lines_removed"],
                _ => &["mean_word_length"],
            };
            let prefix = key.trim_end_matches(".verdict");
            for signal in signals {
                assert!(out.kept()[1].meta.contains_key(&format!("{prefix}.{signal}")), "{prefix}.{signal}");
            }
            if key == "quality.c4.verdict" {
                assert_eq!(out.kept()[0].meta["quality.c4.sentences"], 1);
                assert_eq!(out.kept()[0].meta["quality.c4.lines_removed"], 0);
            }
            if key == "quality.gopher.verdict" {
                let page = &out.kept()[1].meta;
                assert_eq!(page["quality.gopher.words"], 144);
                assert_eq!(page["quality.gopher.stop_words"], 4);
                assert_eq!(page["quality.gopher.alpha_words_ratio"], 0.9231);
                assert_eq!(page["quality.gopher.hash_ratio"], 0.0);
            }
        }
    }

    #[test]
    fn gopher_rule_edges() {
        let g = GopherQuality::new(GopherQualityConfig::default());
        let text = "the cat and the dog ".repeat(10);
        assert_eq!(g.verdict(&text), Verdict::Keep);
        assert_eq!(g.verdict(&"the cat and the dog ".repeat(9)), drop("gopher_short_doc"));
        let bullets: String = (0..20).map(|_| "- the cat and the dog sat\n").collect();
        assert_eq!(g.verdict(&bullets), drop("gopher_too_many_bullets"));
        let off = GopherQuality::new(GopherQualityConfig { min_doc_words: None, ..Default::default() });
        assert_eq!(off.verdict(&"the cat and the dog ".repeat(2)), Verdict::Keep);
    }

    #[test]
    fn c4_keeps_good_lines_and_counts_sentences() {
        let c4 = C4::new(C4Config::default()).unwrap();
        let page = "Menu\nThe first line is fine. It has two sentences.\nno punctuation here\nWe use cookies to track you.\nThird good line [1] here. Yes!\nA fourth fine line.\n";
        assert_eq!(c4.apply_to(page), Ok("The first line is fine. It has two sentences.\nThird good line  here. Yes!\nA fourth fine line.".into()));
        assert_eq!(c4.apply_to("One line only."), Err("too_few_sentences"));
        let bad = C4::new(C4Config { bad_words: vec!["frobnicate".into()], ..Default::default() }).unwrap();
        assert_eq!(bad.apply_to("Do not Frobnicate here."), Err("bad_words"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn filters_never_panic(
            text in prop_oneof![
                millstone_testkit::text_with_long_lines(),
                proptest::collection::vec(prop_oneof![
                    Just("’s"), Just("n’t"), Just("'ll"), Just("İ"), Just("é"), Just("word"), Just(" "), Just("..."), Just("!")
                ], 0..40).prop_map(|parts| parts.concat()),
            ]
        ) {
            let _ = GopherQuality::new(GopherQualityConfig::default()).verdict(&text);
            let _ = GopherRepetition::new(GopherRepetitionConfig::default()).verdict(&text);
            let _ = C4::new(C4Config::default()).unwrap().apply_to(&text);
            let _ = FineWeb::new(FineWebConfig::default()).verdict(&text);
            for w in words(&text) {
                prop_assert!(!w.is_empty() && !w.chars().any(char::is_whitespace));
            }
        }

        /// Annotating measures every rule but decides like the dropping filter, which stops at
        /// the first broken rule.
        #[test]
        fn annotate_gives_the_dropping_verdict(
            lines in prop::collection::vec(prop_oneof![
                Just("The cat and the dog sat with the owner of the house.".to_string()),
                Just("Menu".to_string()),
                Just("- item one".to_string()),
                Just(String::new()),
                Just("Read more...".to_string()),
                Just("Lorem ipsum dolor sit amet, consectetur.".to_string()),
                Just("var x = { a: 1 };".to_string()),
                "[a-z ]{1,80}[.!?]?",
            ], 0..30),
        ) {
            let text = lines.join("\n");
            let check = |measures: &dyn Fn(&str) -> Verdict, dropping: &dyn Fn(&str) -> Verdict| {
                assert_eq!(measures(&text).drop_reason(), dropping(&text).drop_reason(), "{text:?}");
            };
            let gopher = GopherQuality::new(GopherQualityConfig::default());
            check(&|t| gopher.measure(t).1, &|t| gopher.verdict(t));
            let repetition = GopherRepetition::new(GopherRepetitionConfig::default());
            check(&|t| repetition.measure(t).1, &|t| repetition.verdict(t));
            let fineweb = FineWeb::new(FineWebConfig::default());
            check(&|t| fineweb.measure(t).1, &|t| fineweb.verdict(t));
            let c4 = C4::new(C4Config::default()).unwrap();
            let c4_verdict = |t: &str| c4.apply_to(t).err().map_or(Verdict::Keep, drop);
            check(&|t| c4.measure(t).1, &c4_verdict);
        }
    }
}
