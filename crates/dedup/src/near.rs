//! `dedup.minhash`: near-duplicate clustering with MinHash-LSH, verification of every candidate
//! pair (Jaccard, containment, or the larger of the two), deterministic union-find clusters and a
//! keeper policy.
//!
//! Signatures and band keys are computed in parallel (the stage's prepare step). The sequential
//! part keeps, per document, a 16-bit sketch of the signature (`2 x permutations` bytes), its
//! shingle count, its id, the keeper key and the LSH band links; never the text. Clusters are
//! transitive (union-find over every verified pair), so the keeper of a cluster is known only
//! after the last document: documents wait in a spill file on disk and come back, in input
//! order, after the last batch. `streaming: true` instead decides on arrival (greedy leader
//! clustering, keeper = first, no spill).

use std::path::PathBuf;
use std::sync::Arc;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    Barrier, Batch, BuildContext, BuildError, DocId, Document, DropReason, Emit, FieldError, SpillFile,
    Stage, StageConfig, StageError, StageKind, Transform,
};
use serde::Deserialize;

use crate::lsh::{band_keys, optimal_bands_rows, LshIndex};
use crate::minhash::{MinHasher, Similarity};
use crate::normalize::Normalization;
use crate::report::{ClusterReport, ReportRow};
use crate::shingle::{Shingler, Unit};
use crate::unionfind::UnionFind;

/// Calibrated starting points, so users need not choose bands and rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// Republished articles: 3-word shingles, containment-aware (`similarity: max`, threshold
    /// 0.45), 256 permutations as 128 bands x 2 rows so that pairs with Jaccard ~0.15 are still
    /// proposed and a story inside a longer page (extra comments, footers) is found.
    News,
    /// Crawl-scale near duplicates, datatrove-like: 5-gram words, 112 permutations as 14 bands x
    /// 8 rows, Jaccard verification.
    Web,
}

/// Which document of a cluster survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeeperPolicy {
    /// The first in input order.
    #[default]
    First,
    /// The longest text.
    Longest,
    /// The shortest text.
    Shortest,
    /// The smallest value of `keeper_field` (e.g. the earliest `date`).
    Min,
    /// The largest value of `keeper_field`.
    Max,
    /// The first whose `keeper_field` appears earliest in `priority` (preferred sources).
    Priority,
}

/// Drop the duplicates, or only mark them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Drop every cluster member but the keeper (reason `near_duplicate`).
    #[default]
    Drop,
    /// Keep everything; set `meta.dup_cluster`, `meta.dup_of`, `meta.dup_similarity`.
    Annotate,
}

/// Configuration of `dedup.minhash`; explicit keys override the preset.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
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
    /// Which member of a cluster survives.
    #[serde(default)]
    pub keeper: KeeperPolicy,
    /// Meta field for keeper `min`, `max` and `priority`.
    pub keeper_field: Option<String>,
    /// Preferred values of `keeper_field`, best first (keeper `priority`).
    #[serde(default)]
    pub priority: Vec<String>,
    /// `drop` or `annotate`.
    #[serde(default)]
    pub action: Action,
    /// Write a cluster report (one JSONL row per document) here.
    pub report: Option<PathBuf>,
    /// Seed of the hash functions.
    pub seed: Option<u64>,
    /// At most this many documents are taken from one LSH bucket per query (bounds the cost of
    /// very common band keys).
    pub max_bucket: Option<usize>,
    /// Containment is trusted only when the smaller document has at least this many shingles
    /// (tiny texts are "contained" in long ones by chance); below it, Jaccard is used.
    pub min_containment_shingles: Option<u32>,
    /// At most this many candidates (newest first) are verified per document.
    pub max_candidates: Option<usize>,
    /// Where spill files go; default: the system temp folder.
    pub spill_dir: Option<PathBuf>,
    /// Decide as documents arrive, without a spill file: a document joins the cluster of its
    /// best earlier match and is dropped; keepers are always the first of their cluster and
    /// clusters are not merged transitively. For crawl-scale runs where disk spill is unwanted.
    #[serde(default)]
    pub streaming: bool,
}

/// Fully resolved parameters.
#[derive(Debug, Clone, PartialEq)]
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
    /// Bucket scan cap.
    pub max_bucket: usize,
    /// Smallest shingle count for containment.
    pub min_containment_shingles: u32,
    /// Candidate cap per document.
    pub max_candidates: usize,
}

impl MinHashConfig {
    /// Resolves preset, explicit keys and derived LSH parameters.
    pub fn params(&self) -> MinHashParams {
        let preset = self.preset.unwrap_or(Preset::Web);
        let (unit, ngram, permutations, bands, rows, threshold, similarity) = match preset {
            Preset::Web => (Unit::Words, 5, 112, 14, 8, 0.7, Similarity::Jaccard),
            // Calibrated with `millstone eval dedup` (numbers in the dedup issue's note): 3-word
            // shingles; 0.45 stays ~3 sigma above the exact containment (0.34) of short stories
            // that share a quotation, while republications (~0.9 after cleaning) pass easily.
            // 256 permutations halve the estimator's noise on short documents.
            Preset::News => (Unit::Words, 3, 256, 128, 2, 0.45, Similarity::Max),
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
            max_bucket: self.max_bucket.unwrap_or(64),
            min_containment_shingles: self.min_containment_shingles.unwrap_or(20),
            max_candidates: self.max_candidates.unwrap_or(2048),
        }
    }
}

impl StageConfig for MinHashConfig {
    const TYPE: &'static str = "dedup.minhash";
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
        if matches!(self.keeper, KeeperPolicy::Min | KeeperPolicy::Max | KeeperPolicy::Priority)
            && self.keeper_field.is_none()
        {
            errors.push(FieldError::new("keeper_field", "is required for keeper min, max and priority"));
        }
        if self.streaming && self.keeper != KeeperPolicy::First {
            errors.push(FieldError::new(
                "streaming",
                "works only with keeper `first` (other keepers need whole clusters)",
            ));
        }
        if self.keeper == KeeperPolicy::Priority && self.priority.is_empty() {
            errors.push(FieldError::new("priority", "must list at least one preferred value"));
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, cx: &BuildContext) -> Result<Stage, BuildError> {
        let p = self.params();
        let hasher = MinHasher::new(p.permutations, p.seed)
            .map_err(|e| BuildError::field("permutations", e.to_string()))?;
        tracing::info!(stage = %cx.stage_id, bands = p.bands, rows = p.rows, threshold = p.threshold, "dedup.minhash LSH parameters");
        let prepare = Arc::new(SignatureStep {
            hasher,
            shingler: Shingler::new(p.unit, p.ngram, p.normalize),
            bands: p.bands,
            rows: p.rows,
            keeper: KeyExtractor {
                policy: self.keeper,
                field: self.keeper_field.clone(),
                priority: self.priority.clone(),
            },
        });
        let barrier = NearDedup::new(
            p,
            self.keeper,
            self.action,
            self.report.clone(),
            cx.overwrite,
            self.spill_dir.clone(),
        );
        Ok(Stage::Barrier { prepare: Some(prepare), barrier: Box::new(barrier) })
    }
}

/// A keeper's ordering key, extracted in parallel.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum KeeperKey {
    None,
    Number(f64),
    Text(Box<str>),
}

#[derive(Debug, Clone)]
struct KeyExtractor {
    policy: KeeperPolicy,
    field: Option<String>,
    priority: Vec<String>,
}

impl KeyExtractor {
    fn key(&self, doc: &Document) -> KeeperKey {
        let value = || self.field.as_ref().and_then(|f| doc.meta.get(f));
        match self.policy {
            KeeperPolicy::First => KeeperKey::None,
            KeeperPolicy::Longest | KeeperPolicy::Shortest => {
                KeeperKey::Number(doc.text.chars().count() as f64)
            }
            KeeperPolicy::Min | KeeperPolicy::Max => match value() {
                Some(serde_json::Value::Number(n)) => n.as_f64().map_or(KeeperKey::None, KeeperKey::Number),
                Some(serde_json::Value::String(s)) => KeeperKey::Text(s.as_str().into()),
                _ => KeeperKey::None,
            },
            KeeperPolicy::Priority => {
                let rank = value()
                    .and_then(|v| v.as_str())
                    .and_then(|s| self.priority.iter().position(|p| p == s))
                    .unwrap_or(self.priority.len());
                KeeperKey::Number(rank as f64)
            }
        }
    }
}

/// What the prepare step hands to the barrier.
struct Prepared {
    keys: Vec<u64>,
    sketch: Vec<u16>,
    shingles: u32,
    keeper_key: KeeperKey,
}

/// The parallel part: signature, band keys, sketch and keeper key.
struct SignatureStep {
    hasher: MinHasher,
    shingler: Shingler,
    bands: usize,
    rows: usize,
    keeper: KeyExtractor,
}

impl Transform for SignatureStep {
    fn apply(&self, mut doc: Document, out: &mut Emit) -> Result<(), StageError> {
        let signature = self.hasher.signature(&self.shingler, &doc.text);
        let prepared = Prepared {
            keys: band_keys(&signature.values, self.bands, self.rows),
            sketch: signature.values.iter().map(|v| (v >> 16) as u16).collect(),
            shingles: signature.shingles,
            keeper_key: self.keeper.key(&doc),
        };
        doc.scratch = Some(Arc::new(prepared));
        out.keep(doc);
        Ok(())
    }
}

/// Estimated Jaccard similarity from two 16-bit sketches, corrected for chance collisions.
pub fn sketch_jaccard(a: &[u16], b: &[u16]) -> f64 {
    let equal = a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len().max(1) as f64;
    let chance = 1.0 / 65536.0;
    ((equal - chance) / (1.0 - chance)).clamp(0.0, 1.0)
}

/// Document ids in one buffer: 8 bytes of offset plus the id's bytes per document.
#[derive(Debug, Default)]
struct IdArena {
    bytes: String,
    ends: Vec<u64>,
}

impl IdArena {
    fn push(&mut self, id: &str) {
        self.bytes.push_str(id);
        self.ends.push(self.bytes.len() as u64);
    }
    fn get(&self, i: u32) -> &str {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }
    fn len(&self) -> usize {
        self.ends.len()
    }
    fn retained_bytes(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * 8
    }
}

/// The sequential part of `dedup.minhash`.
pub struct NearDedup {
    params: MinHashParams,
    keeper: KeeperPolicy,
    action: Action,
    report_path: Option<PathBuf>,
    overwrite: bool,
    spill_dir: Option<PathBuf>,
    index: LshIndex,
    sketches: Vec<u16>,
    shingles: Vec<u32>,
    ids: IdArena,
    /// Keeper keys; empty for keeper `first`, which needs none.
    keys: Vec<KeeperKey>,
    best: Vec<(f32, u32)>,
    clusters: UnionFind,
    keeper_of: Vec<u32>,
    cluster_sizes: Vec<u32>,
    spill: Option<SpillFile>,
    drained: u32,
    pairs_verified: u64,
    pairs_matched: u64,
    streaming: bool,
}

const NEAR_DUPLICATE: DropReason = DropReason("near_duplicate");
const NO_MATCH: u32 = u32::MAX;

impl NearDedup {
    fn new(
        params: MinHashParams,
        keeper: KeeperPolicy,
        action: Action,
        report_path: Option<PathBuf>,
        overwrite: bool,
        spill_dir: Option<PathBuf>,
    ) -> Self {
        NearDedup {
            index: LshIndex::new(params.bands),
            params,
            keeper,
            action,
            report_path,
            overwrite,
            spill_dir,
            sketches: Vec::new(),
            shingles: Vec::new(),
            ids: IdArena::default(),
            keys: Vec::new(),
            best: Vec::new(),
            clusters: UnionFind::default(),
            keeper_of: Vec::new(),
            cluster_sizes: Vec::new(),
            spill: None,
            drained: 0,
            pairs_verified: 0,
            pairs_matched: 0,
            streaming: false,
        }
    }

    fn streaming(&self) -> bool {
        self.streaming
    }

    fn sketch(&self, doc: u32) -> &[u16] {
        let k = self.params.permutations;
        &self.sketches[doc as usize * k..(doc as usize + 1) * k]
    }

    /// Indexes one document and returns its best verified match (similarity, earlier doc).
    fn add(&mut self, id: DocId, prepared: &Prepared) -> (u32, Option<(f64, u32)>) {
        let n = self.ids.len() as u32;
        debug_assert!(self.ids.len() < u32::MAX as usize);
        let mut best: Option<(f64, u32)> = None;
        if prepared.shingles > 0 {
            let mut candidates = self.index.candidates(&prepared.keys, self.params.max_bucket);
            candidates.truncate(self.params.max_candidates);
            self.clusters.find(n);
            for candidate in candidates {
                // A candidate already in this document's cluster adds nothing (this keeps big
                // clusters of copies cheap: one lookup instead of a sketch comparison).
                if !self.streaming() && self.clusters.find(candidate) == self.clusters.find(n) {
                    continue;
                }
                self.pairs_verified += 1;
                let jaccard = sketch_jaccard(&prepared.sketch, self.sketch(candidate));
                let other = self.shingles[candidate as usize];
                let measure = if prepared.shingles.min(other) < self.params.min_containment_shingles {
                    Similarity::Jaccard
                } else {
                    self.params.similarity
                };
                let score = measure.score(jaccard, prepared.shingles, other);
                if score >= self.params.threshold {
                    self.pairs_matched += 1;
                    if !self.streaming() {
                        self.clusters.union(n, candidate);
                    }
                    let earlier = &mut self.best[candidate as usize];
                    if earlier.1 == NO_MATCH || score as f32 > earlier.0 {
                        *earlier = (score as f32, n);
                    }
                    if best.is_none_or(|(s, c)| score > s || (score == s && candidate < c)) {
                        best = Some((score, candidate));
                    }
                }
            }
            self.index.insert(&prepared.keys);
        } else {
            self.index.insert(&vec![u64::from(n) ^ 0xdead_beef_0000_0000; self.params.bands]);
        }
        self.clusters.find(n);
        if self.streaming() {
            // Greedy leader clustering: join the cluster of the best earlier match; a document
            // that matches nothing leads its own cluster. Emitted decisions never change.
            let keeper = best.map_or(n, |(_, c)| self.keeper_of[c as usize]);
            self.keeper_of.push(keeper);
        }
        self.sketches.extend_from_slice(&prepared.sketch);
        self.shingles.push(prepared.shingles);
        self.ids.push(&id);
        if self.keeper != KeeperPolicy::First {
            self.keys.push(prepared.keeper_key.clone());
        }
        self.best.push(best.map_or((1.0, NO_MATCH), |(s, c)| (s as f32, c)));
        (n, best)
    }

    /// Whether `a` beats `b` as a cluster keeper.
    fn better(&self, a: u32, b: u32) -> bool {
        if self.keeper == KeeperPolicy::First {
            return a < b;
        }
        let (ka, kb) = (&self.keys[a as usize], &self.keys[b as usize]);
        let by_key = match self.keeper {
            KeeperPolicy::First => unreachable!("handled above"),
            KeeperPolicy::Longest | KeeperPolicy::Max => compare_keys(ka, kb, true),
            KeeperPolicy::Shortest | KeeperPolicy::Min | KeeperPolicy::Priority => {
                compare_keys(ka, kb, false)
            }
        };
        match by_key {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => self.ids.get(a) < self.ids.get(b),
        }
    }

    fn compute_keepers(&mut self) {
        let n = self.ids.len();
        if self.streaming() {
            self.count_cluster_sizes();
            return;
        }
        let mut keeper: Vec<u32> = (0..n as u32).collect();
        for i in 0..n as u32 {
            let root = self.clusters.find(i);
            if self.better(i, keeper[root as usize]) {
                keeper[root as usize] = i;
            }
        }
        self.keeper_of = (0..n as u32).map(|i| keeper[self.clusters.find(i) as usize]).collect();
        self.count_cluster_sizes();
    }

    fn count_cluster_sizes(&mut self) {
        self.cluster_sizes = vec![0; self.keeper_of.len()];
        for &k in &self.keeper_of {
            self.cluster_sizes[k as usize] += 1;
        }
    }

    /// Whether document `i` shares its cluster with another document.
    fn in_cluster(&self, i: u32) -> bool {
        self.cluster_sizes[self.keeper_of[i as usize] as usize] > 1
    }

    fn annotate(&self, doc: &mut Document, i: u32, keeper: u32) {
        let keeper_id = self.ids.get(keeper).to_string();
        doc.meta.insert("dup_cluster".into(), keeper_id.clone().into());
        if keeper != i {
            doc.meta.insert("dup_of".into(), keeper_id.into());
            let similarity = self.best[i as usize].0;
            doc.meta
                .insert("dup_similarity".into(), serde_json::json!((similarity as f64 * 1e4).round() / 1e4));
        }
    }

    fn write_report(&mut self) -> Result<(), StageError> {
        let Some(path) = self.report_path.clone() else { return Ok(()) };
        let mut report = ClusterReport::create(&path, self.overwrite)?;
        for i in 0..self.ids.len() {
            let keeper = self.keeper_of[i] as usize;
            let similarity = self.best[i].0;
            let reason = match (keeper == i, self.in_cluster(i as u32)) {
                (true, false) => "unique",
                (true, true) => "keeper",
                (false, _) => NEAR_DUPLICATE.0,
            };
            report.row(&ReportRow {
                id: self.ids.get(i as u32),
                cluster: self.ids.get(keeper as u32),
                keeper: self.ids.get(keeper as u32),
                similarity: if keeper == i { 1.0 } else { (similarity as f64 * 1e4).round() / 1e4 },
                reason,
            })?;
        }
        report.commit()?;
        Ok(())
    }
}

fn compare_keys(a: &KeeperKey, b: &KeeperKey, larger_wins: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a, b) {
        (KeeperKey::None, KeeperKey::None) => Equal,
        (KeeperKey::None, _) => Less,
        (_, KeeperKey::None) => Greater,
        _ => {
            let ord = a.partial_cmp(b).unwrap_or(Equal);
            if larger_wins {
                ord
            } else {
                ord.reverse()
            }
        }
    }
}

impl Barrier for NearDedup {
    fn process(&mut self, batch: Batch, out: &mut Emit) -> Result<(), StageError> {
        for mut doc in batch.docs {
            let prepared = doc.take_scratch::<Prepared>().ok_or_else(|| StageError::Document {
                id: doc.id.clone(),
                message: "dedup.minhash: signature missing (prepare step did not run)".into(),
            })?;
            let (i, best) = self.add(doc.id.clone(), &prepared);
            if self.streaming() {
                match best {
                    Some(_) => {
                        let keeper = self.keeper_of[i as usize];
                        self.annotate(&mut doc, i, keeper);
                        match self.action {
                            Action::Drop => out.drop(doc, NEAR_DUPLICATE),
                            Action::Annotate => out.keep(doc),
                        }
                    }
                    None => out.keep(doc),
                }
            } else {
                if self.spill.is_none() {
                    self.spill = Some(SpillFile::create(self.spill_dir.as_deref())?);
                }
                self.spill.as_mut().expect("created above").push(doc)?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut Emit) -> Result<(), StageError> {
        self.compute_keepers();
        self.write_report()
    }

    fn drain(&mut self, out: &mut Emit, max_docs: usize) -> Result<bool, StageError> {
        let Some(mut spill) = self.spill.take() else { return Ok(false) };
        for _ in 0..max_docs {
            let Some(mut doc) = spill.read_next()? else {
                return Ok(false);
            };
            let i = self.drained;
            self.drained += 1;
            let keeper = self.keeper_of[i as usize];
            if self.in_cluster(i) {
                self.annotate(&mut doc, i, keeper);
            }
            if keeper != i && self.action == Action::Drop {
                out.drop(doc, NEAR_DUPLICATE);
            } else {
                out.keep(doc);
            }
        }
        self.spill = Some(spill);
        Ok(true)
    }

    fn retained_bytes(&self) -> usize {
        self.index.retained_bytes()
            + self.sketches.capacity() * 2
            + self.shingles.capacity() * 4
            + self.ids.retained_bytes()
            + self.keys.capacity() * std::mem::size_of::<KeeperKey>()
            + self.best.capacity() * 8
            + self.clusters.retained_bytes()
            + self.keeper_of.capacity() * 4
            + self.cluster_sizes.capacity() * 4
    }

    fn summary(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("lsh_bands", self.params.bands as u64),
            ("lsh_rows", self.params.rows as u64),
            ("pairs_verified", self.pairs_verified),
            ("pairs_matched", self.pairs_matched),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stage(config: &MinHashConfig) -> (SignatureStep, NearDedup) {
        let p = config.params();
        let step = SignatureStep {
            hasher: MinHasher::new(p.permutations, p.seed).unwrap(),
            shingler: Shingler::new(p.unit, p.ngram, p.normalize),
            bands: p.bands,
            rows: p.rows,
            keeper: KeyExtractor {
                policy: config.keeper,
                field: config.keeper_field.clone(),
                priority: config.priority.clone(),
            },
        };
        let mut barrier = NearDedup::new(p, config.keeper, config.action, None, true, None);
        barrier.streaming = config.streaming;
        (step, barrier)
    }

    /// Runs the stage on `docs` in batches of `batch` and returns (kept ids, dropped ids, barrier).
    fn run(
        config: &MinHashConfig,
        docs: Vec<Document>,
        batch: usize,
    ) -> (Vec<String>, Vec<String>, NearDedup) {
        let (step, mut barrier) = stage(config);
        let mut kept = Vec::new();
        let mut dropped = Vec::new();
        let mut collect = |emit: Emit| {
            let (k, d, _) = emit.into_parts();
            kept.extend(k.into_iter().map(|d| d.id.to_string()));
            dropped.extend(d.into_iter().map(|(_, d)| d.unwrap().id.to_string()));
        };
        for chunk in docs.chunks(batch.max(1)) {
            let mut prepared = Emit::new(false);
            for d in chunk {
                step.apply(d.clone(), &mut prepared).unwrap();
            }
            let mut out = Emit::new(true);
            barrier.process(Batch::new(0, prepared.into_parts().0), &mut out).unwrap();
            collect(out);
        }
        let mut out = Emit::new(true);
        barrier.finish(&mut out).unwrap();
        collect(out);
        loop {
            let mut out = Emit::new(true);
            let more = barrier.drain(&mut out, 3).unwrap();
            collect(out);
            if !more {
                break;
            }
        }
        (kept, dropped, barrier)
    }

    fn words(seed: u64, n: usize) -> String {
        let mut rng = millstone_testkit::news::Rng::new(seed);
        (0..n).map(|_| format!("w{}", rng.below(5000))).collect::<Vec<_>>().join(" ")
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
        let (kept, dropped, _) = run(&news, docs, 10);
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
        let news = |keeper, field: Option<&str>, priority: Vec<&str>| MinHashConfig {
            preset: Some(Preset::News),
            keeper,
            keeper_field: field.map(str::to_string),
            priority: priority.into_iter().map(str::to_string).collect(),
            ..Default::default()
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
        let bad = MinHashConfig { keeper: KeeperPolicy::Max, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err()[0].field, "keeper_field");
    }

    fn corpus() -> impl Strategy<Value = Vec<Document>> {
        // A few base texts, each copied with random word edits: clusters of varying similarity.
        (prop::collection::vec((0u64..6, prop::collection::vec((0usize..60, 0usize..5000), 0..25)), 1..30))
            .prop_map(|specs| {
                specs
                    .into_iter()
                    .enumerate()
                    .map(|(i, (base, edits))| {
                        let mut w: Vec<String> = words(base, 60).split(' ').map(str::to_string).collect();
                        for (pos, v) in edits {
                            w[pos] = format!("e{v}");
                        }
                        Document::new(format!("d{i:02}"), w.join(" ")).with_meta("len_rank", (i % 3) as u64)
                    })
                    .collect()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]
        #[test]
        fn lsh_with_one_row_bands_equals_naive_all_pairs(docs in corpus()) {
            let base = MinHashConfig { permutations: Some(64), bands: Some(64), rows: Some(1), threshold: Some(0.5),
                similarity: Some(Similarity::Jaccard), ngram: Some(2), max_bucket: Some(usize::MAX), max_candidates: Some(usize::MAX), ..Default::default() };
            let (step, _) = stage(&base);
            let sketches: Vec<Vec<u16>> = docs.iter().map(|d| {
                let mut e = Emit::new(false);
                step.apply(d.clone(), &mut e).unwrap();
                let mut d = e.into_parts().0.remove(0);
                d.take_scratch::<Prepared>().unwrap().sketch.clone()
            }).collect();
            let similar = |i: usize, j: usize| sketch_jaccard(&sketches[i], &sketches[j]) >= 0.5;
            let ids = |keep: Vec<usize>| keep.into_iter().map(|i| docs[i].id.to_string()).collect::<Vec<_>>();

            // Streaming: a document is dropped iff it matches an earlier document.
            let streaming = MinHashConfig { streaming: true, ..base.clone() };
            let (kept, _, _) = run(&streaming, docs.clone(), 7);
            prop_assert_eq!(kept, ids((0..docs.len()).filter(|&i| !(0..i).any(|j| similar(i, j))).collect()));

            // Otherwise clusters are transitive (union-find over all verified pairs).
            let shortest = MinHashConfig { keeper: KeeperPolicy::Shortest, ..base.clone() };
            let (mut kept, _, _) = run(&shortest, docs.clone(), 7);
            let mut uf = UnionFind::default();
            for i in 0..docs.len() {
                uf.find(i as u32);
                for j in 0..i {
                    if similar(i, j) {
                        uf.union(i as u32, j as u32);
                    }
                }
            }
            let mut best: std::collections::BTreeMap<u32, usize> = Default::default();
            for i in 0..docs.len() {
                let root = uf.find(i as u32);
                let len = |k: usize| docs[k].text.chars().count();
                let entry = best.entry(root).or_insert(i);
                if (len(i), &docs[i].id) < (len(*entry), &docs[*entry].id) {
                    *entry = i;
                }
            }
            let mut expected = ids(best.into_values().collect());
            kept.sort();
            expected.sort();
            prop_assert_eq!(kept, expected);
        }

        #[test]
        fn survivors_do_not_depend_on_input_order_or_batching(docs in corpus(), seed in 0u64..1000, batch in 1usize..9) {
            let config = MinHashConfig { preset: Some(Preset::News), keeper: KeeperPolicy::Longest, ngram: Some(2), ..Default::default() };
            let (mut a, _, _) = run(&config, docs.clone(), 5);
            let mut shuffled = docs.clone();
            let mut rng = millstone_testkit::news::Rng::new(seed);
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, rng.below(i + 1));
            }
            let (mut b, _, _) = run(&config, shuffled, batch);
            a.sort();
            b.sort();
            prop_assert_eq!(a, b);
        }

        #[test]
        fn running_on_its_own_output_removes_nothing(docs in corpus()) {
            let config = MinHashConfig { preset: Some(Preset::Web), ngram: Some(2), ..Default::default() };
            let (kept, _, _) = run(&config, docs.clone(), 4);
            let survivors: Vec<Document> = docs.into_iter().filter(|d| kept.contains(&d.id.to_string())).collect();
            let (again, dropped, _) = run(&config, survivors, 4);
            prop_assert!(dropped.is_empty());
            prop_assert_eq!(again, kept);
        }
    }
}
