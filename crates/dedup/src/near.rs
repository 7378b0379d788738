//! `dedup.minhash`: near-duplicate clustering with MinHash-LSH and verification of every
//! candidate pair (Jaccard, containment, or the larger of the two).
//!
//! Signatures and band keys are computed in parallel (the stage's prepare step). The sequential
//! part keeps, per document, a 16-bit sketch of the signature (`2 x permutations` bytes), its
//! shingle count and the LSH band links, plus what [`crate::cluster`] keeps (id, best match,
//! cluster links); never the text. Clusters are transitive (union-find over every verified
//! pair), so the keeper of a cluster is known only after the last document: documents wait in a
//! spill file on disk and come back, in input order, after the last batch. `streaming: true`
//! instead decides on arrival (greedy leader clustering, keeper = first, no spill).

use std::marker::PhantomData;
use std::sync::Arc;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, Document, FieldError, Stage, StageConfig, StageError, StageKind,
};
use serde::{Deserialize, Serialize};

pub use crate::cluster::{ClusterMode, ClusterOptions, KeeperPolicy};
use crate::cluster::{NearDedup, NearIndex, PrepareStep};
use crate::frequency::{CommonCut, CommonShingles};
use crate::lsh::{band_keys, optimal_bands_rows, LshIndex};
use crate::minhash::{MinHasher, Similarity};
use crate::normalize::Normalization;
use crate::shingle::{Shingler, Unit};
use crate::shingle_sets::fold;
use crate::verify::{jaccard_of, ExactRecord, ExactSet, ExactVerifier, Frequencies};

/// Calibrated starting points, so users need not choose bands and rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// Republished articles: 3-word shingles, containment-aware (`similarity: max`, threshold
    /// 0.45), 256 permutations as 128 bands x 2 rows so that pairs with Jaccard ~0.15 are still
    /// proposed and a story inside a longer page (extra comments, footers) is found; verified
    /// clusters (every member matches its keeper on the true shingle sets).
    News,
    /// Crawl-scale near duplicates, datatrove-like: 5-gram words, 112 permutations as 14 bands x
    /// 8 rows, Jaccard verification at 0.7, connected components.
    Web,
}

/// Configuration of `dedup.minhash`; explicit keys override the preset. (Unknown keys are
/// rejected by the pipeline loader, which checks them against the schema; serde cannot deny
/// unknown fields next to a flattened struct.)
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct MinHashConfig {
    /// `news` or `web` (default `web` values when absent).
    pub preset: Option<Preset>,
    /// Shingle unit: `words` or `chars`.
    pub unit: Option<Unit>,
    /// Shingle length in units.
    pub ngram: Option<usize>,
    /// Number of hash functions.
    pub permutations: Option<usize>,
    /// LSH bands (with `rows`; `bands x rows <= permutations`).
    pub bands: Option<usize>,
    /// Rows per band.
    pub rows: Option<usize>,
    /// Similarity at or above which a candidate pair is a duplicate. Without bands/rows, the
    /// LSH parameters are derived from it.
    pub threshold: Option<f64>,
    /// How candidates are verified: `jaccard`, `containment` or `max`.
    pub similarity: Option<Similarity>,
    /// Normalisation before shingling.
    pub normalize: Option<Normalization>,
    /// Seed of the hash functions.
    pub seed: Option<u64>,
    /// Also index the lead: a signature of the first `lead_shingles` shingles (about as many
    /// words), banded in `lead_bands` bands of 2 rows, so a truncated or lead-only extraction of
    /// a long article is proposed even where whole-text LSH cannot see it (Jaccard of a 60-word
    /// lead with a 1,000-word article is ~0.06). 0 turns it off. Candidates are still verified.
    pub lead_shingles: Option<usize>,
    /// Bands of the lead signature (2 rows each).
    pub lead_bands: Option<usize>,
    /// At most this many documents are taken from one LSH bucket per query (bounds the cost of
    /// very common band keys: a document is compared with at most `bands x max_bucket` others).
    pub max_bucket: Option<usize>,
    /// Containment is trusted only when the smaller document has at least this many shingles
    /// (tiny texts are "contained" in long ones by chance); below it, Jaccard is used.
    pub min_containment_shingles: Option<u32>,
    /// How cluster members are checked against their keeper: `exact` (true shingle sets, kept
    /// on disk in `spill_dir`) or `sketch` (the MinHash estimate only: no disk, less precise).
    pub verification: Option<Verification>,
    /// Leave shingles found in many documents (of one site, with `scope_field`) out of the
    /// exact verification, so a shared template (navigation, footers, widgets) cannot make two
    /// stories similar. Needs `verification: exact` and `clusters: verified`. Default: off.
    pub common_shingles: Option<CommonShingles>,
    /// Clusters, keeper, action, report.
    #[serde(flatten)]
    pub cluster: ClusterOptions,
}

/// Fully resolved parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MinHashParams {
    /// Shingle unit.
    pub unit: Unit,
    /// Shingle length.
    pub ngram: usize,
    /// Hash functions.
    pub permutations: usize,
    /// LSH bands.
    pub bands: usize,
    /// LSH rows per band.
    pub rows: usize,
    /// Verification threshold.
    pub threshold: f64,
    /// Verification measure.
    pub similarity: Similarity,
    /// Normalisation.
    pub normalize: Normalization,
    /// Hash seed.
    pub seed: u64,
    /// Shingles of the lead signature (0: no lead bands).
    pub lead_shingles: usize,
    /// Bands of the lead signature.
    pub lead_bands: usize,
    /// Bucket scan cap.
    pub max_bucket: usize,
    /// Smallest shingle count for containment.
    pub min_containment_shingles: u32,
    /// How members are checked against their keeper.
    pub verification: Verification,
    /// What a cluster is.
    pub clusters: ClusterMode,
    /// Shingles left out of exact verification.
    pub common_shingles: Option<CommonShingles>,
}

/// How the members of a near-duplicate cluster are checked against its keeper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verification {
    /// On the true shingle sets (stored on disk, 4 bytes per distinct shingle).
    #[default]
    Exact,
    /// On the MinHash sketches: no disk, but estimator noise on short-in-long pairs.
    Sketch,
}

impl MinHashConfig {
    /// Resolves preset, explicit keys and derived LSH parameters.
    pub fn params(&self) -> MinHashParams {
        let preset = self.preset.unwrap_or(Preset::Web);
        let (unit, ngram, permutations, bands, rows, threshold, similarity, clusters, lead) = match preset {
            // Connected components, as datatrove and rensa cluster at these parameters: near
            // copies at Jaccard 0.7 rarely chain, and LSH at 14x8 misses many direct pairs that
            // transitivity recovers.
            Preset::Web => (Unit::Words, 5, 112, 14, 8, 0.7, Similarity::Jaccard, ClusterMode::Connected, 0),
            // Calibrated with `millstone eval dedup` (numbers in the dedup issue's note): 3-word
            // shingles; 0.45 stays ~3 sigma above the exact containment (0.34) of short stories
            // that share a quotation, while republications (~0.9 after cleaning) pass easily.
            // 256 permutations halve the estimator's noise on short documents.
            // Verified clusters: containment-aware matching links over-long pages (navigation,
            // teasers of other stories) to other stories; every member must match its keeper.
            // Lead bands: the first 50 shingles, for truncated and lead-only extractions.
            Preset::News => (Unit::Words, 3, 256, 128, 2, 0.45, Similarity::Max, ClusterMode::Verified, 50),
        };
        let normalize =
            self.normalize.unwrap_or(Normalization { punctuation: true, ..Normalization::default() });
        let permutations = self.permutations.unwrap_or(permutations);
        let threshold = self.threshold.unwrap_or(threshold);
        let (bands, rows) = match (self.bands, self.rows) {
            (Some(b), Some(r)) => (b, r),
            (Some(b), None) => (b, (permutations / b.max(1)).max(1)),
            (None, Some(r)) => ((permutations / r.max(1)).max(1), r),
            (None, None) if self.threshold.is_some() || self.permutations.is_some() => {
                // LSH works on Jaccard; with containment-aware verification aim lower so that
                // pairs with low Jaccard but high containment still become candidates.
                let lsh_threshold = match self.similarity.unwrap_or(similarity) {
                    Similarity::Jaccard => threshold,
                    _ => (threshold * 0.5).max(0.05),
                };
                optimal_bands_rows(lsh_threshold, permutations, 0.5, 0.5)
            }
            (None, None) => (bands, rows),
        };
        MinHashParams {
            unit: self.unit.unwrap_or(unit),
            ngram: self.ngram.unwrap_or(ngram),
            permutations,
            bands,
            rows,
            threshold,
            similarity: self.similarity.unwrap_or(similarity),
            normalize,
            seed: self.seed.unwrap_or(0x5eed),
            lead_shingles: self.lead_shingles.unwrap_or(lead),
            lead_bands: if self.lead_shingles.unwrap_or(lead) == 0 {
                0
            } else {
                self.lead_bands.unwrap_or(16)
            },
            max_bucket: self.max_bucket.unwrap_or(64),
            min_containment_shingles: self.min_containment_shingles.unwrap_or(20),
            verification: self.verification.unwrap_or_default(),
            clusters: self.cluster.clusters.unwrap_or(clusters),
            common_shingles: self.common_shingles.clone(),
        }
    }
}

impl MinHashParams {
    /// LSH tables: the bands of the whole text, then those of the lead.
    fn all_bands(&self) -> usize {
        self.bands + self.lead_bands
    }

    /// The configured measure for sets of these sizes (Jaccard when one is too small for
    /// containment to mean anything).
    fn measure(&self, size_a: u32, size_b: u32) -> Similarity {
        if size_a.min(size_b) < self.min_containment_shingles {
            Similarity::Jaccard
        } else {
            self.similarity
        }
    }

    /// The configured similarity of two sets of these sizes with this Jaccard similarity.
    fn score(&self, jaccard: f64, size_a: u32, size_b: u32) -> f64 {
        self.measure(size_a, size_b).score(jaccard, size_a, size_b)
    }
}

impl StageConfig for MinHashConfig {
    const TYPE: &'static str = "dedup.minhash";
    const ON_MATCH: &'static [millstone_core::OnMatch] = millstone_core::OnMatch::DOCUMENTS;
    const RENAMED: &'static [(&'static str, &'static str)] = &[("action", "on_match")];
    const KIND: StageKind = StageKind::Barrier;
    const SUMMARY: &'static str =
        "Near-duplicate clusters: MinHash-LSH, verified Jaccard/containment, keeper policy";
    const EXAMPLE: &'static str =
        "type: dedup.minhash\npreset: news\nkeeper: longest\nreport: out/near-clusters.jsonl\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] =
        &[("near_duplicate", "in a cluster of similar documents whose keeper is another document")];

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let p = self.params();
        let mut errors = Vec::new();
        if p.ngram == 0 {
            errors.push(FieldError::new("ngram", "must be at least 1"));
        }
        if p.permutations == 0 || p.permutations > 4096 {
            errors.push(FieldError::new("permutations", "must be between 1 and 4096"));
        }
        if p.bands == 0 || p.rows == 0 || p.bands * p.rows > p.permutations {
            errors.push(FieldError::new(
                "bands",
                format!(
                    "bands x rows ({} x {}) must be between 1 and permutations ({})",
                    p.bands, p.rows, p.permutations
                ),
            ));
        }
        if !(0.0..=1.0).contains(&p.threshold) {
            errors.push(FieldError::new("threshold", "must be between 0 and 1"));
        }
        if p.lead_bands * LEAD_ROWS > p.permutations || (p.lead_shingles > 0 && p.lead_bands == 0) {
            errors.push(FieldError::new(
                "lead_bands",
                format!(
                    "lead_bands x 2 ({}) must be between 2 and permutations ({})",
                    p.lead_bands * 2,
                    p.permutations
                ),
            ));
        }
        if let Some(common) = &p.common_shingles {
            common.validate("common_shingles", &mut errors);
            if p.verification != Verification::Exact
                || p.clusters != ClusterMode::Verified
                || self.cluster.streaming
            {
                errors.push(FieldError::new(
                    "common_shingles",
                    "needs `verification: exact` and `clusters: verified` without `streaming` (common \
                     shingles are known only after the last document)",
                ));
            }
        }
        self.cluster.validate(&mut errors);
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn resolved(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut values = match serde_json::to_value(self.params()) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        values.insert(
            "preset".into(),
            serde_json::to_value(self.preset.unwrap_or(Preset::Web)).unwrap_or_default(),
        );
        values
    }

    fn build(&self, cx: &BuildContext) -> Result<Stage, BuildError> {
        let p = self.params();
        let hasher = MinHasher::new(p.permutations, p.seed)
            .map_err(|e| BuildError::field("permutations", e.to_string()))?;
        tracing::info!(stage = %cx.stage_id, bands = p.bands, rows = p.rows, threshold = p.threshold, "dedup.minhash LSH parameters");
        let shingler = Shingler::new(p.unit, p.ngram, p.normalize);
        let banding = p.clone();
        let frequencies = crate::verify::frequencies(p.common_shingles.as_ref());
        let options = ClusterOptions { clusters: Some(p.clusters), ..self.cluster.for_run(cx) };
        let split = MinHashSplit {
            params: p.clone(),
            hasher: hasher.clone(),
            shingler,
            keeper: self.cluster.key_extractor(),
            policy: self.cluster.keeper,
            options: options.clone(),
            overwrite: cx.overwrite,
            frequencies: frequencies.clone(),
        };
        let counting = frequencies.clone();
        let prepare = Arc::new(PrepareStep {
            signature: move |doc: &Document| {
                MinHashSignature::new(&hasher, &shingler, doc, &banding, counting.as_ref())
            },
            keeper: self.cluster.key_extractor(),
            _marker: PhantomData,
        });
        let exact = match (p.verification, p.clusters) {
            (Verification::Exact, ClusterMode::Verified) => Some(
                ExactVerifier::create(self.cluster.spill_dir.as_deref(), frequencies)
                    .map_err(|e| BuildError::field("spill_dir", e.to_string()))?,
            ),
            _ => None,
        };
        let index = MinHashIndex::new(p.clone(), exact);
        let mut barrier = NearDedup::new(index, p.threshold, options, cx.overwrite);
        if !self.cluster.streaming {
            barrier = barrier.with_split(Arc::new(split));
        }
        Ok(Stage::Barrier { prepare: Some(prepare), barrier: Box::new(barrier) })
    }
}

/// What the prepare step computes: band keys, a 16-bit sketch, the distinct shingle count and
/// the shingle set itself (for exact verification).
pub struct MinHashSignature {
    keys: Vec<u64>,
    sketch: Vec<u16>,
    shingles: u32,
    exact: ExactSet,
}

impl MinHashSignature {
    /// The signature of `doc`; its shingles are counted into `frequencies` when given.
    fn new(
        hasher: &MinHasher,
        shingler: &Shingler,
        doc: &Document,
        p: &MinHashParams,
        frequencies: Option<&Frequencies>,
    ) -> Self {
        let mut folded = Vec::new();
        let mut lead = vec![u32::MAX; p.lead_bands * LEAD_ROWS];
        let signature = hasher.signature_with(shingler, &doc.text, |h| {
            if folded.len() < p.lead_shingles {
                hasher.update(&mut lead, h);
            }
            folded.push(fold(h))
        });
        let exact = ExactSet::new(folded, doc, frequencies);
        let mut keys = band_keys(&signature.values, p.bands, p.rows);
        keys.extend(band_keys(&lead, p.lead_bands, LEAD_ROWS));
        MinHashSignature {
            keys,
            sketch: signature.values.iter().map(|v| (v >> 16) as u16).collect(),
            shingles: exact.set.len() as u32,
            exact,
        }
    }
}

/// Rows per band of the lead signature.
const LEAD_ROWS: usize = 2;

/// Estimated Jaccard similarity from two 16-bit sketches, corrected for chance collisions.
pub fn sketch_jaccard(a: &[u16], b: &[u16]) -> f64 {
    jaccard_from_equal(a.iter().zip(b).filter(|(x, y)| x == y).count(), a.len())
}

/// Estimated Jaccard similarity when `equal` of `len` 16-bit sketch values agree.
fn jaccard_from_equal(equal: usize, len: usize) -> f64 {
    let equal = equal as f64 / len.max(1) as f64;
    let chance = 1.0 / 65536.0;
    ((equal - chance) / (1.0 - chance)).clamp(0.0, 1.0)
}

/// LSH over band keys plus the sketches and sizes needed to verify candidates.
pub struct MinHashIndex {
    params: MinHashParams,
    lsh: LshIndex,
    sketches: Vec<u16>,
    shingles: Vec<u32>,
    exact: Option<ExactVerifier>,
}

impl MinHashIndex {
    fn new(params: MinHashParams, exact: Option<ExactVerifier>) -> Self {
        MinHashIndex {
            lsh: LshIndex::new(params.all_bands()),
            params,
            sketches: Vec::new(),
            shingles: Vec::new(),
            exact,
        }
    }

    fn sketch(&self, doc: u32) -> &[u16] {
        let k = self.params.permutations;
        &self.sketches[doc as usize * k..(doc as usize + 1) * k]
    }
}

impl NearIndex for MinHashIndex {
    type Signature = MinHashSignature;

    fn candidates(&self, signature: &MinHashSignature) -> Vec<u32> {
        self.lsh.candidates(&signature.keys, self.params.max_bucket)
    }

    fn similarity(&self, signature: &MinHashSignature, other: u32) -> f64 {
        let jaccard = sketch_jaccard(&signature.sketch, self.sketch(other));
        self.params.score(jaccard, signature.shingles, self.shingles[other as usize])
    }

    fn comparable(&self, signature: &MinHashSignature) -> bool {
        signature.shingles > 0
    }

    fn similarity_between(&mut self, a: u32, b: u32) -> Result<f64, StageError> {
        let (size_a, size_b) = (self.shingles[a as usize], self.shingles[b as usize]);
        if size_a == 0 || size_b == 0 {
            return Ok(0.0);
        }
        match &mut self.exact {
            Some(exact) => {
                let (jaccard, size_a, size_b) = jaccard_of(exact.overlap(a, b)?);
                Ok(self.params.score(jaccard, size_a, size_b))
            }
            None => Ok(self.params.score(sketch_jaccard(self.sketch(a), self.sketch(b)), size_a, size_b)),
        }
    }

    fn insert(&mut self, signature: &MinHashSignature) -> Result<(), StageError> {
        if let Some(exact) = &mut self.exact {
            exact.push(&signature.exact)?;
        }
        if signature.shingles > 0 {
            self.lsh.insert(&signature.keys);
        } else {
            // An empty document gets keys no other document shares, so numbering stays aligned.
            let n = self.lsh.len() as u64;
            self.lsh.insert(&vec![n ^ 0xdead_beef_0000_0000; self.params.all_bands()]);
        }
        self.sketches.extend_from_slice(&signature.sketch);
        self.shingles.push(signature.shingles);
        Ok(())
    }

    fn retained_bytes(&self) -> usize {
        self.lsh.retained_bytes()
            + self.sketches.capacity() * 2
            + self.shingles.capacity() * 4
            + self.exact.as_ref().map_or(0, ExactVerifier::retained_bytes)
    }

    fn state_bytes_per_document(&self) -> u64 {
        // Sketch, distinct shingle count, per band a chain link and (with hash-map slack) a
        // bucket entry, and the shingle set's offset.
        let bands = self.params.all_bands() as u64;
        2 * self.params.permutations as u64
            + 4
            + bands * (4 + 20)
            + if self.exact.is_some() {
                ExactVerifier::bytes_per_document(self.params.common_shingles.is_some())
            } else {
                0
            }
    }

    fn summary(&self) -> Vec<(&'static str, u64)> {
        let mut counters =
            vec![("lsh_bands", self.params.bands as u64), ("lsh_rows", self.params.rows as u64)];
        if self.params.lead_bands > 0 {
            counters.push(("lsh_lead_bands", self.params.lead_bands as u64));
        }
        if let Some(exact) = &self.exact {
            counters.push(("shingle_set_disk_bytes", exact.disk_bytes()));
        }
        counters
    }
}

/// `dedup.minhash` split for distributed runs ([`millstone_core::NearDuplicates`]). A record
/// is the 16-bit sketch and the distinct shingle count (the part candidate matching reads),
/// then the keeper key, the id and, with exact verification of verified clusters, the shingle
/// set.
struct MinHashSplit {
    params: MinHashParams,
    hasher: MinHasher,
    shingler: Shingler,
    keeper: crate::cluster::KeyExtractor,
    policy: KeeperPolicy,
    options: ClusterOptions,
    overwrite: bool,
    /// This task's shingle counts (signing) or every task's (clustering).
    frequencies: Option<Frequencies>,
}

/// A record of [`MinHashSplit`], decoded.
struct SplitRecord<'a> {
    sketch: Vec<u16>,
    shingles: u32,
    key: crate::cluster::KeeperKey,
    id: &'a str,
    exact: ExactRecord,
}

impl MinHashSplit {
    fn exact_sets(&self) -> bool {
        self.params.verification == Verification::Exact && self.params.clusters == ClusterMode::Verified
    }

    fn sketch_of(record: &[u8], permutations: usize) -> (Vec<u16>, u32) {
        let sketch =
            record[..2 * permutations].chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect();
        let shingles =
            u32::from_le_bytes(record[2 * permutations..2 * permutations + 4].try_into().expect("4 bytes"));
        (sketch, shingles)
    }

    fn decode<'a>(&self, record: &'a [u8]) -> Result<SplitRecord<'a>, StageError> {
        let head = 2 * self.params.permutations + 4;
        if record.len() < head {
            return Err(StageError::other("a dedup.minhash record is truncated or corrupt"));
        }
        let (sketch, shingles) = Self::sketch_of(record, self.params.permutations);
        let (key, id, rest) = crate::cluster::decode_keeper(&record[head..])?;
        let exact = ExactRecord::decode(rest, self.frequencies.is_some())?;
        Ok(SplitRecord { sketch, shingles, key, id, exact })
    }
}

impl millstone_core::NearDuplicates for MinHashSplit {
    fn bands(&self) -> usize {
        self.params.all_bands()
    }

    fn max_bucket(&self) -> usize {
        self.params.max_bucket
    }

    fn sketch_bytes(&self) -> usize {
        2 * self.params.permutations + 4
    }

    fn sign(&self, doc: &Document, keys: &mut Vec<u64>, record: &mut Vec<u8>) {
        let p = &self.params;
        let signature =
            MinHashSignature::new(&self.hasher, &self.shingler, doc, p, self.frequencies.as_ref());
        keys.clear();
        if signature.shingles > 0 {
            keys.extend_from_slice(&signature.keys);
        }
        record.clear();
        for v in &signature.sketch {
            record.extend_from_slice(&v.to_le_bytes());
        }
        record.extend_from_slice(&signature.shingles.to_le_bytes());
        crate::cluster::encode_keeper(&self.keeper.key(doc), &doc.id, record);
        if self.exact_sets() {
            signature.exact.encode(self.frequencies.is_some(), record);
        }
    }

    fn candidate_similarity(&self, later: &[u8], earlier: &[u8]) -> f64 {
        let k = self.params.permutations;
        let size = |r: &[u8]| u32::from_le_bytes(r[2 * k..2 * k + 4].try_into().expect("4 bytes"));
        let equal = later[..2 * k]
            .chunks_exact(2)
            .zip(earlier[..2 * k].chunks_exact(2))
            .filter(|(x, y)| x == y)
            .count();
        self.params.score(jaccard_from_equal(equal, k), size(later), size(earlier))
    }

    fn threshold(&self) -> f64 {
        self.params.threshold
    }

    fn record_id<'a>(&self, record: &'a [u8]) -> &'a str {
        self.decode(record).map_or("", |r| r.id)
    }

    fn cluster(&self, members: &[&[u8]]) -> Result<(Vec<(usize, f32)>, u64), StageError> {
        let cut = self.frequencies.as_ref().map(|(sketch, common)| CommonCut::new(sketch, common));
        let records = members
            .iter()
            .map(|m| {
                let record = self.decode(m)?;
                Ok(SplitRecord { exact: record.exact.with_common_counted(cut.as_ref()), ..record })
            })
            .collect::<Result<Vec<_>, StageError>>()?;
        let exact = self.exact_sets();
        let p = &self.params;
        crate::cluster::records_keepers(
            &records,
            self.policy,
            p.clusters,
            p.threshold,
            |r| (&r.key, r.id),
            |a, b| {
                if a.shingles == 0 || b.shingles == 0 {
                    return 0.0;
                }
                if exact {
                    let overlap = a.exact.overlap(&b.exact, cut.as_ref());
                    let (jaccard, size_a, size_b) = jaccard_of(overlap);
                    p.score(jaccard, size_a, size_b)
                } else {
                    p.score(sketch_jaccard(&a.sketch, &b.sketch), a.shingles, b.shingles)
                }
            },
        )
    }

    fn apply(&self, verdicts: Vec<(u64, millstone_core::NearVerdict)>) -> Box<dyn millstone_core::Barrier> {
        Box::new(crate::cluster::NearApply::new(verdicts, &self.options, self.overwrite))
    }

    fn corpus_state(&self) -> Option<Vec<u8>> {
        crate::verify::corpus_state(self.frequencies.as_ref())
    }

    fn add_corpus_state(&self, state: &[u8]) -> Result<(), StageError> {
        crate::verify::add_corpus_state(self.frequencies.as_ref(), state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shingle_sets::set_of;
    use millstone_core::{FieldRef, UnionFind};
    use proptest::prelude::*;

    /// Runs the stage on `docs` in batches of `batch` and returns (kept ids, dropped ids).
    fn run(config: &MinHashConfig, docs: Vec<Document>, batch: usize) -> (Vec<String>, Vec<String>) {
        let (kept, dropped) =
            millstone_testkit::run_barrier(config.build(&BuildContext::for_tests()).unwrap(), docs, batch);
        let ids = |d: Vec<Document>| d.into_iter().map(|d| d.id.to_string()).collect();
        (ids(kept), ids(dropped))
    }

    /// Runs the stage and returns the kept and dropped documents themselves.
    fn run_docs(config: &MinHashConfig, docs: Vec<Document>, batch: usize) -> (Vec<Document>, Vec<Document>) {
        millstone_testkit::run_barrier(config.build(&BuildContext::for_tests()).unwrap(), docs, batch)
    }

    fn words(seed: u64, n: usize) -> String {
        let mut rng = millstone_testkit::news::Rng::new(seed);
        (0..n).map(|_| format!("w{}", rng.below(5000))).collect::<Vec<_>>().join(" ")
    }

    fn with(cluster: ClusterOptions, config: MinHashConfig) -> MinHashConfig {
        MinHashConfig { cluster, ..config }
    }

    #[test]
    fn republication_with_a_long_comment_thread_is_found_by_the_news_preset() {
        let article = words(1, 400);
        let republished = format!("{article} {}", words(2, 900));
        let docs = vec![
            Document::new("a", article.clone()),
            Document::new("b", republished),
            Document::new("c", words(3, 400)),
        ];
        let web = MinHashConfig { preset: Some(Preset::Web), ..Default::default() };
        assert_eq!(run(&web, docs.clone(), 10).1.len(), 0, "Jaccard ~0.3 is below the web threshold");
        let news = MinHashConfig { preset: Some(Preset::News), ..Default::default() };
        let (kept, dropped) = run(&news, docs, 10);
        assert_eq!((kept, dropped), (vec!["a".to_string(), "c".to_string()], vec!["b".to_string()]));
    }

    #[test]
    fn keeper_policies_choose_by_length_field_and_priority() {
        let base = words(9, 300);
        let docs = vec![
            Document::new("short", base.clone()).with_meta("date", "2024-03-02").with_meta("site", "blog"),
            Document::new("long", format!("{base} {}", words(10, 30)))
                .with_meta("date", "2024-03-01")
                .with_meta("site", "wire"),
            Document::new("other", words(11, 300)),
        ];
        let news = |keeper, field: Option<&str>, priority: Vec<&str>| {
            with(
                ClusterOptions {
                    keeper,
                    keeper_field: field.map(millstone_core::FieldRef::meta),
                    priority: priority.into_iter().map(str::to_string).collect(),
                    ..Default::default()
                },
                MinHashConfig { preset: Some(Preset::News), ..Default::default() },
            )
        };
        let kept = |c: MinHashConfig| run(&c, docs.clone(), 2).0;
        assert_eq!(kept(news(KeeperPolicy::First, None, vec![])), ["short", "other"]);
        assert_eq!(kept(news(KeeperPolicy::Longest, None, vec![])), ["long", "other"]);
        assert_eq!(kept(news(KeeperPolicy::Shortest, None, vec![])), ["short", "other"]);
        assert_eq!(kept(news(KeeperPolicy::Min, Some("date"), vec![])), ["long", "other"]);
        assert_eq!(kept(news(KeeperPolicy::Max, Some("date"), vec![])), ["short", "other"]);
        assert_eq!(kept(news(KeeperPolicy::Priority, Some("site"), vec!["wire"])), ["long", "other"]);
    }

    #[test]
    fn a_site_template_does_not_make_two_stories_similar_but_a_republication_still_is() {
        // Six pages of one site: a 500-word template around a 60-word story each; the wire
        // story of page 0 is also republished, bare, by three other sites.
        let template = words(20, 500);
        let page = |n: u64| format!("{} {template}", words(100 + n, 60));
        let mut docs: Vec<Document> = (0..6)
            .map(|n| Document::new(format!("site-{n}"), page(n)).with_meta("site", "a.example"))
            .collect();
        for other in ["b.example", "c.example", "d.example"] {
            docs.push(Document::new(format!("wire-{other}"), words(100, 60)).with_meta("site", other));
        }
        let news = |common: Option<CommonShingles>| MinHashConfig {
            preset: Some(Preset::News),
            common_shingles: common,
            ..Default::default()
        };
        let (_, dropped) = run(&news(None), docs.clone(), 3);
        assert!(
            dropped.iter().filter(|id| id.starts_with("site-")).count() >= 4,
            "the template links pages: {dropped:?}"
        );
        let per_site =
            CommonShingles { scope_field: Some(FieldRef::meta("site")), min_docs: 3, min_fraction: 0.0 };
        let (kept, dropped) = run(&news(Some(per_site)), docs.clone(), 3);
        // Page 0 keeps its story: the bare copies are duplicates of it, the other pages are not.
        assert_eq!(dropped, ["wire-b.example", "wire-c.example", "wire-d.example"], "kept: {kept:?}");
        // Counted over the whole corpus, the wire story's four copies would be common too.
        let global = CommonShingles { scope_field: None, min_docs: 3, min_fraction: 0.0 };
        let (_, dropped) = run(&news(Some(global)), docs, 3);
        assert!(dropped.is_empty(), "{dropped:?}");
    }

    #[test]
    fn lead_bands_propose_the_lead_of_a_long_article() {
        // 40 articles of 1,500 words and, for each, its first 60 words: whole-text Jaccard ~0.04,
        // which 128 x 2 bands propose with probability ~0.2; the lead bands see the same start.
        let mut docs = Vec::new();
        for n in 0..40u64 {
            let article = words(1000 + n, 1500);
            let lead: String = article.split(' ').take(60).collect::<Vec<_>>().join(" ");
            docs.push(Document::new(format!("article-{n}"), article));
            docs.push(Document::new(format!("lead-{n}"), lead));
        }
        let news =
            |lead| MinHashConfig { preset: Some(Preset::News), lead_shingles: lead, ..Default::default() };
        let (_, without) = run(&news(Some(0)), docs.clone(), 16);
        let (_, with_lead) = run(&news(None), docs, 16);
        assert!(without.len() < 20, "whole-text bands alone find few: {}", without.len());
        // Proposed is not linked: the candidate check still estimates containment from the
        // 256-value sketches, which misses a 58-shingle lead in 1,500 shingles now and then.
        assert!(with_lead.len() >= 36, "{with_lead:?}");
        assert!(with_lead.iter().all(|id| id.starts_with("lead-")));
    }

    #[test]
    fn common_shingles_need_exact_verified_clusters() {
        let common = Some(CommonShingles { scope_field: None, min_docs: 50, min_fraction: 0.0 });
        let connected = MinHashConfig {
            preset: Some(Preset::Web),
            common_shingles: common.clone(),
            ..Default::default()
        };
        assert_eq!(connected.validate().unwrap_err()[0].field, "common_shingles");
        let sketch = MinHashConfig {
            preset: Some(Preset::News),
            verification: Some(Verification::Sketch),
            common_shingles: common,
            ..Default::default()
        };
        assert_eq!(sketch.validate().unwrap_err()[0].field, "common_shingles");
    }

    #[test]
    fn params_from_threshold_and_validation() {
        let c = MinHashConfig {
            threshold: Some(0.8),
            similarity: Some(Similarity::Jaccard),
            ..Default::default()
        };
        let p = c.params();
        assert!(p.bands * p.rows <= p.permutations && p.rows >= 4, "{p:?}");
        let bad = MinHashConfig { bands: Some(20), rows: Some(8), ..Default::default() };
        assert_eq!(bad.validate().unwrap_err()[0].field, "bands");
        let bad = with(
            ClusterOptions { keeper: KeeperPolicy::Max, ..Default::default() },
            MinHashConfig::default(),
        );
        assert_eq!(bad.validate().unwrap_err()[0].field, "keeper_field");
    }

    fn corpus() -> impl Strategy<Value = Vec<Document>> {
        // A few base texts, each copied with random word edits: clusters of varying similarity.
        millstone_testkit::edited_copies(6, 60, 5000, 25, 30)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]
        #[test]
        fn lsh_with_one_row_bands_equals_naive_all_pairs(docs in corpus()) {
            let base = MinHashConfig { permutations: Some(64), bands: Some(64), rows: Some(1), threshold: Some(0.5),
                similarity: Some(Similarity::Jaccard), ngram: Some(2), max_bucket: Some(usize::MAX),
                verification: Some(Verification::Sketch), ..Default::default() };
            let p = base.params();
            let hasher = MinHasher::new(p.permutations, p.seed).unwrap();
            let shingler = Shingler::new(p.unit, p.ngram, p.normalize);
            let sketches: Vec<Vec<u16>> =
                docs.iter().map(|d| MinHashSignature::new(&hasher, &shingler, d, &p, None).sketch).collect();
            let similar = |i: usize, j: usize| sketch_jaccard(&sketches[i], &sketches[j]) >= 0.5;
            let ids = |keep: Vec<usize>| keep.into_iter().map(|i| docs[i].id.to_string()).collect::<Vec<_>>();

            // Streaming: a document is dropped iff it matches an earlier document.
            let streaming = with(ClusterOptions { streaming: true, ..Default::default() }, base.clone());
            let (kept, _) = run(&streaming, docs.clone(), 7);
            prop_assert_eq!(kept, ids((0..docs.len()).filter(|&i| !(0..i).any(|j| similar(i, j))).collect()));

            // Otherwise: union-find over all verified pairs gives candidate clusters, and each is
            // split so that every member is similar to its keeper (no chaining).
            let shortest = with(
                ClusterOptions { keeper: KeeperPolicy::Shortest, clusters: Some(ClusterMode::Verified), ..Default::default() },
                base.clone(),
            );
            let (mut kept, _) = run(&shortest, docs.clone(), 7);
            let mut uf = UnionFind::default();
            for i in 0..docs.len() {
                uf.find(i as u32);
                for j in 0..i {
                    if similar(i, j) {
                        uf.union(i as u32, j as u32);
                    }
                }
            }
            let mut components: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
            for i in 0..docs.len() {
                components.entry(uf.find(i as u32)).or_default().push(i);
            }
            let len = |k: usize| docs[k].text.chars().count();
            let mut keepers = Vec::new();
            for mut remaining in components.into_values() {
                while !remaining.is_empty() {
                    let keeper = *remaining.iter().min_by_key(|&&k| (len(k), &docs[k].id)).unwrap();
                    keepers.push(keeper);
                    remaining.retain(|&m| m != keeper && !similar(keeper, m));
                }
            }
            let mut expected = ids(keepers);
            kept.sort();
            expected.sort();
            prop_assert_eq!(kept, expected);
        }

        #[test]
        fn every_member_is_within_the_threshold_of_its_keeper_on_true_shingle_sets(docs in corpus()) {
            let config = with(ClusterOptions { on_match: millstone_core::OnMatch::Annotate, ..Default::default() },
                MinHashConfig { preset: Some(Preset::News), ngram: Some(2), ..Default::default() });
            let p = config.params();
            let (kept, _) = run_docs(&config, docs.clone(), 4);
            let shingler = Shingler::new(p.unit, p.ngram, p.normalize);
            for (keeper, doc) in crate::cluster::members_with_keepers(&docs, &kept) {
                let (a, b) = (set_of(&shingler, &keeper.text), set_of(&shingler, &doc.text));
                let common = crate::shingle_sets::intersection(&a, &b);
                let jaccard = common as f64 / (a.len() + b.len() - common) as f64;
                let measure = if a.len().min(b.len()) < p.min_containment_shingles as usize { Similarity::Jaccard } else { p.similarity };
                let score = measure.score(jaccard, a.len() as u32, b.len() as u32);
                prop_assert!(score >= p.threshold - 1e-9, "{} joined {} at {}", doc.id, keeper.id, score);
            }
        }

        #[test]
        fn survivors_do_not_depend_on_input_order_or_batching(docs in corpus(), seed in 0u64..1000, batch in 1usize..9) {
            let config = with(ClusterOptions { keeper: KeeperPolicy::Longest, ..Default::default() },
                MinHashConfig { preset: Some(Preset::News), ngram: Some(2), ..Default::default() });
            let (mut a, _) = run(&config, docs.clone(), 5);
            let mut shuffled = docs.clone();
            let mut rng = millstone_testkit::news::Rng::new(seed);
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, rng.below(i + 1));
            }
            let (mut b, _) = run(&config, shuffled, batch);
            a.sort();
            b.sort();
            prop_assert_eq!(a, b);
        }

        #[test]
        fn running_on_its_own_output_removes_nothing(docs in corpus()) {
            let config = MinHashConfig { preset: Some(Preset::Web), ngram: Some(2), ..Default::default() };
            let (kept, _) = run(&config, docs.clone(), 4);
            let survivors: Vec<Document> = docs.into_iter().filter(|d| kept.contains(&d.id.to_string())).collect();
            let (again, dropped) = run(&config, survivors, 4);
            prop_assert!(dropped.is_empty());
            prop_assert_eq!(again, kept);
        }
    }
}
