//! The clustering machinery shared by the near-duplicate stages (`dedup.minhash`,
//! `dedup.simhash`): candidate verification against a threshold, deterministic clusters
//! (union-find whose root is the smallest member, or greedy leaders when streaming), keeper
//! policies, annotation, drop decisions, cluster reports and the spill file that lets keepers
//! be chosen after the last document.
//!
//! A stage supplies a [`NearIndex`]: how to find candidates for a signature and how similar a
//! candidate is. Everything else lives here once.

use std::path::PathBuf;
use std::sync::Arc;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    Barrier, Batch, Document, DropReason, Emit, FieldError, FieldRef, OnMatch, SpillFile, StageError,
    Transform,
};
use serde::{Deserialize, Serialize};

use crate::report::{ClusterReport, ReportRow};
use millstone_core::UnionFind;

/// For tests of annotated output: each kept document that joined a cluster (`dup_of` in meta),
/// with its keeper among `docs`.
#[cfg(test)]
pub(crate) fn members_with_keepers<'a>(
    docs: &'a [Document],
    kept: &'a [Document],
) -> Vec<(&'a Document, &'a Document)> {
    let by_id: std::collections::HashMap<&str, &Document> = docs.iter().map(|d| (&*d.id, d)).collect();
    kept.iter().filter_map(|doc| Some((by_id[doc.meta.get("dup_of")?.as_str()?], doc))).collect()
}

/// Which document of a cluster survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
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

/// What a cluster is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClusterMode {
    /// Every member is within the threshold of its cluster's keeper: linked candidates are
    /// split where they are not (no chaining of two stories through one over-long page).
    Verified,
    /// Connected components of the verified pairs (union-find, as datatrove and rensa do):
    /// higher recall when similarity is not transitive, but one loose pair merges two clusters.
    Connected,
}

/// The cluster and keeper settings every near-duplicate stage shares (flattened into its YAML).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ClusterOptions {
    /// `verified` (members within the threshold of their keeper) or `connected` (transitive
    /// components); the default depends on the preset.
    #[serde(default)]
    pub clusters: Option<ClusterMode>,
    /// Which member of a cluster survives: first, longest, shortest, min, max, priority.
    #[serde(default)]
    pub keeper: KeeperPolicy,
    /// The field keeper `min`, `max` and `priority` compare (`meta.date`, `meta.site`).
    #[serde(default)]
    pub keeper_field: Option<FieldRef>,
    /// Preferred values of `keeper_field`, best first (keeper `priority`).
    #[serde(default)]
    pub priority: Vec<String>,
    /// `drop` (every member but the keeper) or `annotate` (keep all; cluster in meta).
    #[serde(default = "OnMatch::default_drop")]
    pub on_match: OnMatch,
    /// Write a cluster report (one JSONL row per document) here.
    #[serde(default)]
    pub report: Option<PathBuf>,
    /// Where the spill file goes; default: the system temp folder.
    #[serde(default)]
    pub spill_dir: Option<PathBuf>,
    /// Decide as documents arrive, without a spill file: a document joins the cluster of its
    /// best earlier match and is dropped; keepers are always the first of their cluster and
    /// clusters are not merged transitively. For crawl-scale runs where disk spill is unwanted.
    #[serde(default)]
    pub streaming: bool,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            clusters: None,
            keeper: KeeperPolicy::default(),
            keeper_field: None,
            priority: Vec::new(),
            on_match: OnMatch::Drop,
            report: None,
            spill_dir: None,
            streaming: false,
        }
    }
}

impl ClusterOptions {
    /// These options for a run: `{shard}` in the report path substituted.
    pub fn for_run(&self, cx: &millstone_core::BuildContext) -> Self {
        ClusterOptions { report: self.report.as_deref().map(|p| cx.output_path(p)), ..self.clone() }
    }

    /// Field errors of these options.
    pub fn validate(&self, errors: &mut Vec<FieldError>) {
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
    }

    /// The key extractor for the prepare step.
    pub(crate) fn key_extractor(&self) -> KeyExtractor {
        KeyExtractor {
            policy: self.keeper,
            field: self.keeper_field.clone(),
            priority: self.priority.clone(),
        }
    }
}

/// A keeper's ordering key, extracted in parallel.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub(crate) enum KeeperKey {
    None,
    Number(f64),
    Text(Box<str>),
}

impl KeeperKey {
    /// Appends the key to a record (tag byte, then an `f64` or a length-prefixed text).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            KeeperKey::None => out.push(0),
            KeeperKey::Number(n) => {
                out.push(1);
                out.extend_from_slice(&n.to_le_bytes());
            }
            KeeperKey::Text(t) => {
                out.push(2);
                out.extend_from_slice(&(t.len() as u32).to_le_bytes());
                out.extend_from_slice(t.as_bytes());
            }
        }
    }

    /// Reads a key written by [`KeeperKey::encode`]; returns it and the bytes after it.
    pub(crate) fn decode(bytes: &[u8]) -> Result<(KeeperKey, &[u8]), StageError> {
        let bad = || StageError::other("a near-duplicate record is truncated or corrupt");
        let (&tag, rest) = bytes.split_first().ok_or_else(bad)?;
        match tag {
            0 => Ok((KeeperKey::None, rest)),
            1 => {
                let (n, rest) = rest.split_at_checked(8).ok_or_else(bad)?;
                Ok((KeeperKey::Number(f64::from_le_bytes(n.try_into().expect("8 bytes"))), rest))
            }
            2 => {
                let (text, rest) = take_str(rest).ok_or_else(bad)?;
                Ok((KeeperKey::Text(text.into()), rest))
            }
            _ => Err(bad()),
        }
    }
}

/// A `u32`-length-prefixed UTF-8 string at the start of `bytes`, and the bytes after it.
pub(crate) fn take_str(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let (len, rest) = bytes.split_at_checked(4)?;
    let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
    let (text, rest) = rest.split_at_checked(len)?;
    Some((std::str::from_utf8(text).ok()?, rest))
}

#[derive(Debug, Clone)]
pub(crate) struct KeyExtractor {
    policy: KeeperPolicy,
    field: Option<FieldRef>,
    priority: Vec<String>,
}

impl KeyExtractor {
    pub(crate) fn key(&self, doc: &Document) -> KeeperKey {
        let value = || match self.field.as_ref()? {
            FieldRef::Meta(key) => doc.meta.get(key).cloned(),
            other => other.get(doc).map(|text| serde_json::Value::String(text.into_owned())),
        };
        match self.policy {
            KeeperPolicy::First => KeeperKey::None,
            KeeperPolicy::Longest | KeeperPolicy::Shortest => {
                KeeperKey::Number(doc.text.chars().count() as f64)
            }
            KeeperPolicy::Min | KeeperPolicy::Max => match value() {
                Some(serde_json::Value::Number(n)) => n.as_f64().map_or(KeeperKey::None, KeeperKey::Number),
                Some(serde_json::Value::String(s)) => KeeperKey::Text(s.into_boxed_str()),
                _ => KeeperKey::None,
            },
            KeeperPolicy::Priority => {
                let rank = value()
                    .and_then(|v| v.as_str().and_then(|s| self.priority.iter().position(|p| p == s)))
                    .unwrap_or(self.priority.len());
                KeeperKey::Number(rank as f64)
            }
        }
    }
}

/// A similarity index: finds candidates for a signature and scores them.
pub trait NearIndex: Send + 'static {
    /// What the parallel prepare step computes per document.
    type Signature: Send + Sync + 'static;
    /// Earlier documents that may be similar, newest first, without repeats.
    fn candidates(&self, signature: &Self::Signature) -> Vec<u32>;
    /// Similarity of the document with `signature` to earlier document `other`.
    fn similarity(&self, signature: &Self::Signature, other: u32) -> f64;
    /// Adds the next document (numbered 0, 1, 2, ...).
    fn insert(&mut self, signature: &Self::Signature) -> Result<(), StageError>;
    /// Similarity of two indexed documents, as exact as the index can tell (the final check of
    /// every cluster member against its keeper). Pass the keeper as `a`.
    fn similarity_between(&mut self, a: u32, b: u32) -> Result<f64, StageError>;
    /// The threshold of [`NearIndex::similarity_between`] when it measures on another scale
    /// than candidates (SimHash: Jaccard of the true sets vs fingerprint agreement).
    fn verification_threshold(&self) -> Option<f64> {
        None
    }
    /// Whether the document can be compared at all (an empty text cannot).
    fn comparable(&self, _signature: &Self::Signature) -> bool {
        true
    }
    /// Heap bytes held.
    fn retained_bytes(&self) -> usize;
    /// About how many of those bytes each document adds.
    fn state_bytes_per_document(&self) -> u64;
    /// Stage counters (parameters chosen, etc.).
    fn summary(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// What the prepare step hands to the barrier.
pub(crate) struct Prepared<S> {
    pub(crate) signature: S,
    pub(crate) keeper_key: KeeperKey,
}

/// The parallel part of a near-duplicate stage: the signature and the keeper key.
pub(crate) struct PrepareStep<S, F> {
    pub(crate) signature: F,
    pub(crate) keeper: KeyExtractor,
    pub(crate) _marker: std::marker::PhantomData<fn() -> S>,
}

impl<S, F> Transform for PrepareStep<S, F>
where
    S: Send + Sync + 'static,
    F: Fn(&Document) -> S + Send + Sync,
{
    fn apply(&self, mut doc: Document, out: &mut Emit) -> Result<(), StageError> {
        let prepared = Prepared { signature: (self.signature)(&doc), keeper_key: self.keeper.key(&doc) };
        doc.scratch = Some(Arc::new(prepared));
        out.keep(doc);
        Ok(())
    }
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

pub(crate) const NEAR_DUPLICATE: DropReason = DropReason("near_duplicate");
const NO_MATCH: u32 = u32::MAX;

/// The sequential part of a near-duplicate stage.
pub struct NearDedup<I: NearIndex> {
    index: I,
    threshold: f64,
    options: ClusterOptions,
    overwrite: bool,
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
    clusters_split: u64,
    pending: Vec<Box<dyn millstone_core::PendingOutput>>,
    split: Option<Arc<dyn millstone_core::NearDuplicates>>,
}

impl<I: NearIndex> NearDedup<I> {
    /// This barrier with its distributed form.
    pub(crate) fn with_split(mut self, split: Arc<dyn millstone_core::NearDuplicates>) -> Self {
        self.split = Some(split);
        self
    }

    /// A barrier over `index`, matching at `threshold`.
    pub(crate) fn new(index: I, threshold: f64, options: ClusterOptions, overwrite: bool) -> Self {
        NearDedup {
            index,
            threshold,
            options,
            overwrite,
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
            clusters_split: 0,
            pending: Vec::new(),
            split: None,
        }
    }

    fn streaming(&self) -> bool {
        self.options.streaming
    }

    /// Indexes one document and returns its best verified match (similarity, earlier doc).
    fn add(
        &mut self,
        id: &str,
        prepared: &Prepared<I::Signature>,
    ) -> Result<(u32, Option<(f64, u32)>), StageError> {
        let n = self.ids.len() as u32;
        let mut best: Option<(f64, u32)> = None;
        self.clusters.find(n);
        if self.index.comparable(&prepared.signature) {
            for candidate in self.index.candidates(&prepared.signature) {
                // A candidate already in this document's cluster adds nothing (this keeps big
                // clusters of copies cheap: one lookup instead of a comparison).
                if !self.streaming() && self.clusters.find(candidate) == self.clusters.find(n) {
                    continue;
                }
                self.pairs_verified += 1;
                let score = self.index.similarity(&prepared.signature, candidate);
                if score < self.threshold {
                    continue;
                }
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
        self.index.insert(&prepared.signature)?;
        if self.streaming() {
            // Greedy leader clustering: join the cluster of the best earlier match; a document
            // that matches nothing leads its own cluster. Emitted decisions never change.
            let keeper = best.map_or(n, |(_, c)| self.keeper_of[c as usize]);
            self.keeper_of.push(keeper);
        }
        self.ids.push(id);
        if self.options.keeper != KeeperPolicy::First {
            self.keys.push(prepared.keeper_key.clone());
        }
        self.best.push(best.map_or((1.0, NO_MATCH), |(s, c)| (s as f32, c)));
        Ok((n, best))
    }

    /// Keepers of every document, component by component ([`component_keepers`]).
    fn compute_keepers(&mut self) -> Result<(), StageError> {
        let n = self.ids.len();
        if !self.streaming() {
            self.keeper_of = (0..n as u32).collect();
            let mut members: Vec<(u32, u32)> = (0..n as u32).map(|i| (self.clusters.find(i), i)).collect();
            members.sort_unstable();
            let mode = self.options.clusters.unwrap_or(ClusterMode::Verified);
            let mut start = 0;
            while start < members.len() {
                let root = members[start].0;
                let end = start + members[start..].iter().take_while(|(r, _)| *r == root).count();
                if end - start > 1 {
                    let group: Vec<u32> = members[start..end].iter().map(|(_, i)| *i).collect();
                    let index = &mut self.index;
                    let (ids, keys, policy) = (&self.ids, &self.keys, self.options.keeper);
                    let better = |a: u32, b: u32| better_keeper(policy, keys, ids, a, b);
                    let threshold = index.verification_threshold().unwrap_or(self.threshold);
                    let outcome = component_keepers(&group, mode, threshold, better, |a, b| {
                        index.similarity_between(a, b)
                    })?;
                    self.pairs_verified += outcome.compared;
                    self.clusters_split += outcome.splits;
                    for (&member, &(keeper, similarity)) in group.iter().zip(&outcome.keepers) {
                        let keeper = group[keeper];
                        self.keeper_of[member as usize] = keeper;
                        self.best[member as usize] = (similarity, keeper);
                    }
                }
                start = end;
            }
        }
        self.cluster_sizes = vec![0; n];
        for &k in &self.keeper_of {
            self.cluster_sizes[k as usize] += 1;
        }
        Ok(())
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
            doc.meta.insert("dup_similarity".into(), serde_json::json!(rounded(self.best[i as usize].0)));
        }
    }

    fn write_report(&mut self) -> Result<(), StageError> {
        let Some(path) = self.options.report.clone() else { return Ok(()) };
        let mut report = ClusterReport::create(&path, self.overwrite)?;
        for i in 0..self.ids.len() as u32 {
            let keeper = self.keeper_of[i as usize];
            let reason = if keeper == i { "keeper" } else { NEAR_DUPLICATE.0 };
            let similarity = if keeper == i { 1.0 } else { rounded(self.best[i as usize].0) };
            report.row(&ReportRow {
                id: self.ids.get(i),
                cluster: self.ids.get(keeper),
                keeper: self.ids.get(keeper),
                similarity,
                reason,
            })?;
        }
        self.pending.push(report.seal()?);
        Ok(())
    }

    fn decide(&self, mut doc: Document, i: u32, out: &mut Emit) {
        let keeper = self.keeper_of[i as usize];
        if self.in_cluster(i) {
            self.annotate(&mut doc, i, keeper);
            if keeper == i {
                out.observe("cluster_size", f64::from(self.cluster_sizes[i as usize]));
            }
        }
        if keeper != i && self.options.on_match == OnMatch::Drop {
            out.drop(doc, NEAR_DUPLICATE);
        } else {
            out.keep(doc);
        }
    }
}

/// Whether document `a` beats `b` as a cluster keeper under `policy` (ties: the smaller id;
/// keeper `first`: the earlier document).
fn better_keeper(policy: KeeperPolicy, keys: &[KeeperKey], ids: &IdArena, a: u32, b: u32) -> bool {
    if policy == KeeperPolicy::First {
        return a < b;
    }
    beats(policy, (&keys[a as usize], ids.get(a)), (&keys[b as usize], ids.get(b)))
}

/// Whether a document with keeper key and id `a` beats `b` under `policy` (not `first`,
/// which compares positions).
pub(crate) fn beats(policy: KeeperPolicy, a: (&KeeperKey, &str), b: (&KeeperKey, &str)) -> bool {
    let larger_wins = match policy {
        KeeperPolicy::First | KeeperPolicy::Longest | KeeperPolicy::Max => true,
        KeeperPolicy::Shortest | KeeperPolicy::Min | KeeperPolicy::Priority => false,
    };
    match compare_keys(a.0, b.0, larger_wins) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => a.1 < b.1,
    }
}

/// The part of a distributed near-duplicate record every index shares, after its sketch: the
/// keeper key and the id.
pub(crate) fn encode_keeper(key: &KeeperKey, id: &str, out: &mut Vec<u8>) {
    key.encode(out);
    out.extend_from_slice(&(id.len() as u32).to_le_bytes());
    out.extend_from_slice(id.as_bytes());
}

/// Reads what [`encode_keeper`] wrote; returns the key, the id and the bytes after them.
pub(crate) fn decode_keeper(bytes: &[u8]) -> Result<(KeeperKey, &str, &[u8]), StageError> {
    let (key, rest) = KeeperKey::decode(bytes)?;
    let (id, rest) =
        take_str(rest).ok_or_else(|| StageError::other("a near-duplicate record is truncated or corrupt"))?;
    Ok((key, id, rest))
}

/// Keepers of one component of a distributed run from its members' decoded records (in input
/// order): [`component_keepers`] with the keeper policy applied to `key_id` of each record.
pub(crate) fn records_keepers<R>(
    records: &[R],
    policy: KeeperPolicy,
    mode: ClusterMode,
    threshold: f64,
    key_id: impl Fn(&R) -> (&KeeperKey, &str),
    similarity: impl Fn(&R, &R) -> f64,
) -> Result<(Vec<(usize, f32)>, u64), StageError> {
    let group: Vec<u32> = (0..records.len() as u32).collect();
    // Keeper `first`: members come in input order, so the earliest is index 0 and `better`
    // never displaces it.
    let better = |a: u32, b: u32| {
        policy != KeeperPolicy::First
            && beats(policy, key_id(&records[a as usize]), key_id(&records[b as usize]))
    };
    let outcome = component_keepers(&group, mode, threshold, better, |a, b| {
        Ok(similarity(&records[a as usize], &records[b as usize]))
    })?;
    Ok((outcome.keepers, outcome.splits))
}

/// What [`component_keepers`] decided for one component.
pub(crate) struct ComponentKeepers {
    /// Per member (in the order given): the index of its keeper among the members, and its
    /// similarity to that keeper (1 for a keeper).
    pub(crate) keepers: Vec<(usize, f32)>,
    /// How many times the component was split.
    pub(crate) splits: u64,
    /// Comparisons made.
    pub(crate) compared: u64,
}

/// Keepers of one union-find component (`group`: member numbers in input order), in one
/// process and in the cluster step of a distributed run alike.
///
/// `connected`: one cluster, whose keeper is the best member by policy. `verified`: components
/// are only candidates, since an edge between near-duplicates of different stories (an
/// over-long page that quotes another story's lead) chains both stories together. So the
/// component is split: its keeper (by policy) takes the members similar enough to it; the rest
/// form the next group, with its own keeper, until none is left. Every member is then within the
/// threshold of its keeper, and the result depends only on the component and the policy.
/// `similarity(keeper, member)` is the index's most exact measure.
pub(crate) fn component_keepers(
    group: &[u32],
    mode: ClusterMode,
    threshold: f64,
    better: impl Fn(u32, u32) -> bool,
    mut similarity: impl FnMut(u32, u32) -> Result<f64, StageError>,
) -> Result<ComponentKeepers, StageError> {
    let mut outcome = ComponentKeepers { keepers: vec![(0, 1.0); group.len()], splits: 0, compared: 0 };
    let mut remaining: Vec<usize> = (0..group.len()).collect();
    while !remaining.is_empty() {
        let keeper = remaining
            .iter()
            .copied()
            .reduce(|best, i| if better(group[i], group[best]) { i } else { best })
            .expect("not empty");
        let mut outside = Vec::new();
        for &i in &remaining {
            if i == keeper {
                outcome.keepers[i] = (i, 1.0);
                continue;
            }
            let score = similarity(group[keeper], group[i])?;
            outcome.compared += 1;
            if mode == ClusterMode::Connected || score >= threshold {
                outcome.keepers[i] = (keeper, score as f32);
            } else {
                outside.push(i);
            }
        }
        if !outside.is_empty() {
            outcome.splits += 1;
        }
        remaining = outside;
    }
    Ok(outcome)
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

impl<I: NearIndex> Barrier for NearDedup<I> {
    fn process(&mut self, batch: Batch, out: &mut Emit) -> Result<(), StageError> {
        for mut doc in batch.docs {
            let prepared =
                doc.take_scratch::<Prepared<I::Signature>>().ok_or_else(|| StageError::Document {
                    id: doc.id.clone(),
                    message: "signature missing (the stage's prepare step did not run)".into(),
                })?;
            let (i, best) = self.add(&doc.id, &prepared)?;
            if self.streaming() {
                let keeper = self.keeper_of[i as usize];
                if best.is_some() {
                    self.annotate(&mut doc, i, keeper);
                    match self.options.on_match {
                        OnMatch::Drop => out.drop(doc, NEAR_DUPLICATE),
                        _ => out.keep(doc),
                    }
                } else {
                    out.keep(doc);
                }
            } else {
                if self.spill.is_none() {
                    self.spill = Some(SpillFile::create(self.options.spill_dir.as_deref())?);
                }
                self.spill.as_mut().expect("created above").push(doc)?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut Emit) -> Result<(), StageError> {
        self.compute_keepers()?;
        self.write_report()
    }

    fn drain(&mut self, out: &mut Emit, max_docs: usize) -> Result<bool, StageError> {
        let Some(mut spill) = self.spill.take() else { return Ok(false) };
        for _ in 0..max_docs {
            let Some(doc) = spill.read_next()? else { return Ok(false) };
            let i = self.drained;
            self.drained += 1;
            self.decide(doc, i, out);
        }
        self.spill = Some(spill);
        Ok(true)
    }

    fn take_pending(&mut self) -> Vec<Box<dyn millstone_core::PendingOutput>> {
        std::mem::take(&mut self.pending)
    }

    fn near_duplicates(&self) -> Option<Arc<dyn millstone_core::NearDuplicates>> {
        self.split.clone()
    }

    fn retained_bytes(&self) -> usize {
        self.index.retained_bytes()
            + self.ids.retained_bytes()
            + self.keys.capacity() * std::mem::size_of::<KeeperKey>()
            + self.best.capacity() * 8
            + self.clusters.retained_bytes()
            + self.keeper_of.capacity() * 4
            + self.cluster_sizes.capacity() * 4
    }

    fn state_bytes_per_document(&self) -> Option<u64> {
        // Id (offset + about 24 bytes of text), best match, union-find parent, keeper, cluster
        // size, and a keeper key unless the keeper is the first document.
        let keys = if self.options.keeper == KeeperPolicy::First { 0 } else { 32 };
        Some(self.index.state_bytes_per_document() + 32 + 8 + 4 + 4 + 4 + keys)
    }

    fn summary(&self) -> Vec<(&'static str, u64)> {
        let mut counters = self.index.summary();
        counters.push(("pairs_verified", self.pairs_verified));
        counters.push(("pairs_matched", self.pairs_matched));
        counters.push(("clusters_split", self.clusters_split));
        counters
    }
}

/// Applies the verdicts of a distributed near-duplicate run to one task's documents: the same
/// annotations, drops and report rows as [`NearDedup`] gives them in one process.
pub(crate) struct NearApply {
    verdicts: Vec<(u64, millstone_core::NearVerdict)>,
    next: usize,
    position: u64,
    on_match: OnMatch,
    report: crate::report::ReportSlot,
}

impl NearApply {
    pub(crate) fn new(
        verdicts: Vec<(u64, millstone_core::NearVerdict)>,
        options: &ClusterOptions,
        overwrite: bool,
    ) -> Self {
        NearApply {
            verdicts,
            next: 0,
            position: 0,
            on_match: options.on_match,
            report: crate::report::ReportSlot::new(options.report.clone(), overwrite),
        }
    }
}

/// Similarity as annotations and reports show it: four decimals.
fn rounded(similarity: f32) -> f64 {
    (similarity as f64 * 1e4).round() / 1e4
}

impl Barrier for NearApply {
    fn process(&mut self, batch: Batch, out: &mut Emit) -> Result<(), StageError> {
        for mut doc in batch.docs {
            let position = self.position;
            self.position += 1;
            let verdict = match self.verdicts.get(self.next) {
                Some((p, verdict)) if *p == position => {
                    self.next += 1;
                    Some(verdict)
                }
                _ => None,
            };
            let dropped = verdict.is_some_and(|v| !v.is_keeper);
            if let Some(verdict) = verdict.filter(|v| v.is_keeper) {
                out.observe("cluster_size", f64::from(verdict.cluster_size));
            }
            if let Some(verdict) = verdict {
                doc.meta.insert("dup_cluster".into(), verdict.keeper.to_string().into());
                if !verdict.is_keeper {
                    doc.meta.insert("dup_of".into(), verdict.keeper.to_string().into());
                    doc.meta.insert("dup_similarity".into(), serde_json::json!(rounded(verdict.similarity)));
                }
            }
            if let Some(report) = self.report.get()? {
                let keeper = verdict.map_or(&*doc.id, |v| &*v.keeper);
                report.row(&ReportRow {
                    id: &doc.id,
                    cluster: keeper,
                    keeper,
                    similarity: if dropped { rounded(verdict.expect("dropped").similarity) } else { 1.0 },
                    reason: if dropped { NEAR_DUPLICATE.0 } else { "keeper" },
                })?;
            }
            if dropped && self.on_match == OnMatch::Drop {
                out.drop(doc, NEAR_DUPLICATE);
            } else {
                out.keep(doc);
            }
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut Emit) -> Result<(), StageError> {
        if self.next != self.verdicts.len() {
            return Err(StageError::other(format!(
                "near-duplicate dedup: {} verdicts left over after {} documents: the task's input is not the one it signed",
                self.verdicts.len() - self.next,
                self.position
            )));
        }
        self.report.seal()
    }

    fn take_pending(&mut self) -> Vec<Box<dyn millstone_core::PendingOutput>> {
        self.report.take_pending()
    }

    fn retained_bytes(&self) -> usize {
        self.verdicts.iter().map(|(_, v)| v.keeper.len() + 40).sum()
    }
}
