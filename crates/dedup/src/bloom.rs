//! `dedup.bloom`: bounded-memory approximate exact dedup (dolma / BFF style), of whole documents
//! or of paragraphs by their word n-grams. Memory is fixed up front from the expected number of
//! items and the false-positive rate; a false positive can only remove a unique item, never keep
//! a duplicate, and its rate is what you configured.

use std::sync::Arc;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::text::{paragraph_ranges, remove_ranges};
use millstone_core::{
    Barrier, Batch, BuildContext, BuildError, Document, DropReason, Emit, FieldError, Stage, StageConfig,
    StageError, StageKind, Transform,
};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

use crate::normalize::Normalization;

/// A Bloom filter over 128-bit item hashes (Kirsch-Mitzenmacher double hashing).
///
/// ```
/// use millstone_dedup::BloomFilter;
/// let mut f = BloomFilter::with_rate(1000, 0.01);
/// assert!(!f.insert(42));
/// assert!(f.insert(42));
/// assert!(f.bytes() < 2000);
/// ```
#[derive(Debug, Clone)]
pub struct BloomFilter {
    words: Vec<u64>,
    bits: u64,
    hashes: u32,
}

impl BloomFilter {
    /// Bits and hash count for `expected` items at false-positive rate `rate`.
    pub fn parameters(expected: u64, rate: f64) -> (u64, u32) {
        let n = expected.max(1) as f64;
        let ln2 = std::f64::consts::LN_2;
        let bits = (-(n * rate.clamp(1e-12, 0.5).ln()) / (ln2 * ln2)).ceil().max(64.0) as u64;
        let hashes = ((bits as f64 / n) * ln2).round().clamp(1.0, 32.0) as u32;
        (bits, hashes)
    }

    /// A filter sized for `expected` items at false-positive rate `rate`.
    pub fn with_rate(expected: u64, rate: f64) -> Self {
        let (bits, hashes) = Self::parameters(expected, rate);
        BloomFilter { words: vec![0; bits.div_ceil(64) as usize], bits, hashes }
    }

    /// Memory taken, in bytes.
    pub fn bytes(&self) -> usize {
        self.words.len() * 8
    }

    fn positions(&self, item: u128) -> impl Iterator<Item = u64> + '_ {
        let h1 = item as u64;
        let h2 = ((item >> 64) as u64) | 1;
        (0..self.hashes as u64).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) % self.bits)
    }

    /// Whether `item` is (probably) in the filter.
    pub fn contains(&self, item: u128) -> bool {
        self.positions(item).all(|p| self.words[(p / 64) as usize] & (1 << (p % 64)) != 0)
    }

    /// Writes the filter (bit count, hash count, then its words, little-endian).
    pub fn write_to(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        out.write_all(&self.bits.to_le_bytes())?;
        out.write_all(&self.hashes.to_le_bytes())?;
        for word in &self.words {
            out.write_all(&word.to_le_bytes())?;
        }
        Ok(())
    }

    /// Adds every item of a filter [`BloomFilter::write_to`] wrote (a bitwise or), which must
    /// have the same size and hash count.
    pub fn union_from(&mut self, input: &mut impl std::io::Read) -> std::io::Result<()> {
        let mut head = [0u8; 12];
        input.read_exact(&mut head)?;
        let bits = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        let hashes = u32::from_le_bytes(head[8..].try_into().expect("4 bytes"));
        if (bits, hashes) != (self.bits, self.hashes) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "a filter of {bits} bits and {hashes} hashes cannot join one of {} and {}",
                    self.bits, self.hashes
                ),
            ));
        }
        let mut chunk = vec![0u8; 1 << 16];
        let mut next = 0;
        while next < self.words.len() {
            let n = (self.words.len() - next).min(chunk.len() / 8);
            input.read_exact(&mut chunk[..n * 8])?;
            for (word, bytes) in self.words[next..next + n].iter_mut().zip(chunk.chunks_exact(8)) {
                *word |= u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
            }
            next += n;
        }
        Ok(())
    }

    /// Adds `item`; returns whether it was (probably) there already.
    pub fn insert(&mut self, item: u128) -> bool {
        let mut present = true;
        let positions: Vec<u64> = self.positions(item).collect();
        for p in positions {
            let word = &mut self.words[(p / 64) as usize];
            let mask = 1 << (p % 64);
            present &= *word & mask != 0;
            *word |= mask;
        }
        present
    }
}

/// What `dedup.bloom` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BloomUnit {
    /// Whole documents (normalised text).
    #[default]
    Document,
    /// Paragraphs, by their word n-grams (BFF): a paragraph most of whose n-grams were seen
    /// before is removed.
    Paragraph,
}

/// Configuration of `dedup.bloom`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BloomConfig {
    /// `document` or `paragraph`.
    #[serde(default)]
    pub unit: BloomUnit,
    /// Items the filter is sized for (documents, or paragraph n-grams); more still work but the
    /// false-positive rate rises.
    pub expected_items: u64,
    /// Target false-positive rate.
    #[serde(default = "default_rate")]
    pub false_positive_rate: f64,
    /// Which differences to ignore.
    #[serde(default)]
    pub normalize: Normalization,
    /// Words per n-gram (paragraph mode).
    #[serde(default = "default_ngram")]
    pub ngram: usize,
    /// Fraction of a paragraph's n-grams that must have been seen for it to be removed.
    #[serde(default = "default_overlap")]
    pub overlap: f64,
    /// Drop a document left with fewer characters than this after paragraph removal.
    #[serde(default = "default_min_chars")]
    pub min_remaining_chars: usize,
}

fn default_rate() -> f64 {
    0.001
}
fn default_ngram() -> usize {
    13
}
fn default_overlap() -> f64 {
    0.8
}
fn default_min_chars() -> usize {
    1
}

impl StageConfig for BloomConfig {
    const TYPE: &'static str = "dedup.bloom";
    const KIND: StageKind = StageKind::Barrier;
    const SUMMARY: &'static str =
        "Bounded-memory approximate exact dedup of documents or paragraphs (Bloom filter)";
    const EXAMPLE: &'static str =
        "type: dedup.bloom\nunit: paragraph\nexpected_items: 1000000\nfalse_positive_rate: 0.001\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] = &[
        ("bloom_duplicate", "the document's hash was (probably) seen before"),
        ("empty_after_bloom", "paragraph dedup left too little text"),
    ];

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if !(self.false_positive_rate > 0.0 && self.false_positive_rate < 0.5) {
            errors.push(FieldError::new("false_positive_rate", "must be between 0 and 0.5"));
        }
        if self.expected_items == 0 {
            errors.push(FieldError::new("expected_items", "must be at least 1"));
        }
        if self.ngram == 0 {
            errors.push(FieldError::new("ngram", "must be at least 1"));
        }
        if !(0.0..=1.0).contains(&self.overlap) || self.overlap == 0.0 {
            errors.push(FieldError::new("overlap", "must be in (0, 1]"));
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn notes(&self) -> Vec<String> {
        let (bits, hashes) = BloomFilter::parameters(self.expected_items, self.false_positive_rate);
        vec![format!(
            "Bloom filter of {:.1} MiB ({bits} bits, {hashes} hashes) for {} items at {} false positives",
            bits as f64 / 8.0 / 1048576.0,
            self.expected_items,
            self.false_positive_rate
        )]
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::Barrier {
            prepare: Some(Arc::new(BloomHasher { config: self.clone() })),
            barrier: Box::new(BloomDedup {
                filter: BloomFilter::with_rate(self.expected_items, self.false_positive_rate),
                config: self.clone(),
            }),
        })
    }
}

/// Item hashes of a document: one for the whole text, or n-gram hashes per paragraph.
enum Items {
    Document(u128),
    Paragraphs(Vec<(std::ops::Range<usize>, Vec<u128>)>),
}

struct BloomHasher {
    config: BloomConfig,
}

impl BloomHasher {
    fn items(&self, text: &str) -> Items {
        match self.config.unit {
            BloomUnit::Document => Items::Document(xxh3_128(self.config.normalize.apply(text).as_bytes())),
            BloomUnit::Paragraph => Items::Paragraphs(
                paragraph_ranges(text)
                    .map(|range| {
                        let normalized = self.config.normalize.apply(&text[range.clone()]);
                        let words: Vec<&str> = normalized.split_whitespace().collect();
                        let n = self.config.ngram.min(words.len()).max(1);
                        let grams = words
                            .windows(n)
                            .map(|w| {
                                let joined = w.join(" ");
                                (xxh3_128(joined.as_bytes()) ^ u128::from(xxh3_64(b"bff"))).rotate_left(7)
                            })
                            .collect();
                        (range, grams)
                    })
                    .collect(),
            ),
        }
    }
}

impl Transform for BloomHasher {
    fn apply(&self, mut doc: Document, out: &mut Emit) -> Result<(), StageError> {
        doc.scratch = Some(Arc::new(self.items(&doc.text)));
        out.keep(doc);
        Ok(())
    }
}

struct BloomDedup {
    filter: BloomFilter,
    config: BloomConfig,
}

impl Barrier for BloomDedup {
    fn process(&mut self, batch: Batch, out: &mut Emit) -> Result<(), StageError> {
        for mut doc in batch.docs {
            let items = doc.take_scratch::<Items>().ok_or_else(|| StageError::Document {
                id: doc.id.clone(),
                message: "dedup.bloom: hashes missing (prepare step did not run)".into(),
            })?;
            match &*items {
                Items::Document(hash) => {
                    if self.filter.insert(*hash) {
                        out.drop(doc, DropReason("bloom_duplicate"));
                    } else {
                        out.keep(doc);
                    }
                }
                Items::Paragraphs(paragraphs) => {
                    let mut remove = Vec::new();
                    for (range, grams) in paragraphs {
                        if grams.is_empty() {
                            continue;
                        }
                        let seen = grams.iter().filter(|g| self.filter.contains(**g)).count();
                        if seen as f64 >= self.config.overlap * grams.len() as f64 {
                            remove.push(range.clone());
                        }
                        for g in grams {
                            self.filter.insert(*g);
                        }
                    }
                    if !remove.is_empty() {
                        out.count("paragraphs_removed", remove.len() as u64);
                        doc.set_text(remove_ranges(&doc.text, remove));
                    }
                    if doc.text.trim().chars().count() < self.config.min_remaining_chars {
                        out.drop(doc, DropReason("empty_after_bloom"));
                    } else {
                        out.keep(doc);
                    }
                }
            }
        }
        Ok(())
    }

    fn retained_bytes(&self) -> usize {
        self.filter.bytes()
    }

    fn prefix_state(&self) -> Option<Arc<dyn millstone_core::PrefixState>> {
        Some(Arc::new(BloomSplit { config: self.config.clone() }))
    }
}

/// `dedup.bloom` split for distributed runs: task `r` writes the filter of its own items, and
/// its documents are then decided against the union of the filters of tasks `0..r` — the
/// filter one process holds when it reaches task `r`'s first document — so every false
/// positive is the same as in one process.
struct BloomSplit {
    config: BloomConfig,
}

impl millstone_core::PrefixState for BloomSplit {
    fn state_sink(&self, path: std::path::PathBuf) -> Box<dyn millstone_core::Sink> {
        Box::new(BloomStateSink {
            hasher: Arc::new(BloomHasher { config: self.config.clone() }),
            filter: BloomFilter::with_rate(self.config.expected_items, self.config.false_positive_rate),
            path,
        })
    }

    fn resume(&self, earlier: &[std::path::PathBuf]) -> Result<Box<dyn Barrier>, StageError> {
        let mut filter = BloomFilter::with_rate(self.config.expected_items, self.config.false_positive_rate);
        for path in earlier {
            let file = std::fs::File::open(path).map_err(|e| StageError::io(path.display(), e))?;
            filter
                .union_from(&mut std::io::BufReader::new(file))
                .map_err(|e| StageError::io(path.display(), e))?;
        }
        Ok(Box::new(BloomDedup { filter, config: self.config.clone() }))
    }
}

/// Adds the items of the documents that reach it to a filter and writes it at the end.
struct BloomStateSink {
    hasher: Arc<BloomHasher>,
    filter: BloomFilter,
    path: std::path::PathBuf,
}

impl BloomHasher {
    /// Every item hash of `doc`, appended to `out` (16 bytes each).
    fn encode_items(&self, doc: &Document, out: &mut Vec<u8>) {
        match self.items(&doc.text) {
            Items::Document(hash) => out.extend_from_slice(&hash.to_le_bytes()),
            Items::Paragraphs(paragraphs) => {
                for gram in paragraphs.iter().flat_map(|(_, grams)| grams) {
                    out.extend_from_slice(&gram.to_le_bytes());
                }
            }
        }
    }
}

impl millstone_core::BatchEncoder for BloomHasher {
    fn encode(&self, batch: &Batch) -> Result<Vec<u8>, StageError> {
        let mut out = Vec::new();
        for doc in &batch.docs {
            self.encode_items(doc, &mut out);
        }
        Ok(out)
    }
}

impl millstone_core::Sink for BloomStateSink {
    fn write(&mut self, batch: &Batch) -> Result<(), StageError> {
        let encoded = millstone_core::BatchEncoder::encode(&*self.hasher, batch)?;
        self.write_encoded(batch, &encoded)
    }

    fn encoder(&self) -> Option<Arc<dyn millstone_core::BatchEncoder>> {
        Some(self.hasher.clone())
    }

    fn write_encoded(&mut self, _batch: &Batch, encoded: &[u8]) -> Result<(), StageError> {
        for item in encoded.chunks_exact(16) {
            self.filter.insert(u128::from_le_bytes(item.try_into().expect("16 bytes")));
        }
        Ok(())
    }

    fn prepare(&mut self) -> Result<millstone_core::Prepared, StageError> {
        use std::io::Write;
        let io = |e: std::io::Error| StageError::io(self.path.display(), e);
        let file = millstone_core::AtomicFile::create(&self.path, true).map_err(io)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
        self.filter.write_to(&mut out).map_err(io)?;
        out.flush().map_err(io)?;
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        Ok(millstone_core::Prepared { docs: 0, pending: vec![Box::new(file)] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn measured_false_positive_rate_is_near_the_target() {
        let mut f = BloomFilter::with_rate(20_000, 0.01);
        for i in 0..20_000u128 {
            f.insert(xxh3_128(&i.to_le_bytes()));
        }
        let false_positives = (20_000..120_000u128).filter(|i| f.contains(xxh3_128(&i.to_le_bytes()))).count()
            as f64
            / 100_000.0;
        assert!(false_positives < 0.015, "{false_positives}");
    }

    proptest! {
        #[test]
        fn a_filter_rebuilt_from_written_parts_is_the_filter_of_all_items(
            parts in prop::collection::vec(prop::collection::vec(any::<u128>(), 0..50), 1..5),
        ) {
            let mut all = BloomFilter::with_rate(100, 0.05);
            let mut merged = BloomFilter::with_rate(100, 0.05);
            for part in &parts {
                let mut filter = BloomFilter::with_rate(100, 0.05);
                for &item in part {
                    filter.insert(item);
                    all.insert(item);
                }
                let mut bytes = Vec::new();
                filter.write_to(&mut bytes).unwrap();
                merged.union_from(&mut &bytes[..]).unwrap();
            }
            prop_assert_eq!(&merged.words, &all.words);
            let mut other = Vec::new();
            BloomFilter::with_rate(1000, 0.05).write_to(&mut other).unwrap();
            prop_assert!(merged.union_from(&mut &other[..]).is_err(), "filters of different sizes do not merge");
        }
    }

    fn run(config: BloomConfig, docs: Vec<Document>) -> Vec<Document> {
        millstone_testkit::run_barrier(config.build(&BuildContext::for_tests()).unwrap(), docs, 64).0
    }

    fn config(unit: BloomUnit) -> BloomConfig {
        BloomConfig {
            unit,
            expected_items: 10_000,
            false_positive_rate: 1e-6,
            normalize: Normalization::default(),
            ngram: 3,
            overlap: 0.8,
            min_remaining_chars: 1,
        }
    }

    #[test]
    fn paragraph_mode_removes_repeated_paragraphs_and_keeps_new_ones() {
        let shared = "the same quoted paragraph appears in both stories word for word";
        let docs = vec![
            Document::new("a", format!("First story opening lines here.\n\n{shared}")),
            Document::new("b", format!("A different opening for the second story.\n\n{shared}")),
            Document::new("c", shared.to_string()),
        ];
        let out = run(config(BloomUnit::Paragraph), docs);
        assert_eq!(out.len(), 2, "c lost its only paragraph and is dropped");
        assert_eq!(out[1].text.trim(), "A different opening for the second story.");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100))]
        #[test]
        fn document_mode_never_drops_a_unique_document_at_a_tiny_rate(docs in millstone_testkit::documents(40)) {
            let n = Normalization::default();
            let out = run(config(BloomUnit::Document), docs.clone());
            let mut seen = std::collections::HashSet::new();
            let expected: Vec<_> = docs.iter().filter(|d| seen.insert(n.apply(&d.text))).map(|d| d.id.clone()).collect();
            prop_assert_eq!(out.iter().map(|d| d.id.clone()).collect::<Vec<_>>(), expected);
        }
    }
}
