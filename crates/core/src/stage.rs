//! The four stage kinds, the [`Emit`] collector and the one-method adapters.

use std::ops::{ControlFlow, Range};
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::document::{Batch, Document, Provenance};
use crate::error::StageError;

/// What a stage is, as declared by its configuration type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    /// Produces documents from files.
    Source,
    /// Stateless, per document, run in parallel.
    Transform,
    /// Stateful, sees batches one at a time in input order.
    Barrier,
    /// Writes documents out; passes them on unchanged.
    Sink,
}

impl StageKind {
    /// Lowercase name, as shown by `millstone stages`.
    pub fn as_str(self) -> &'static str {
        match self {
            StageKind::Source => "source",
            StageKind::Transform => "transform",
            StageKind::Barrier => "barrier",
            StageKind::Sink => "sink",
        }
    }
}

/// Why a stage dropped a document: a documented snake_case code (`too_short`, `near_duplicate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct DropReason(pub &'static str);

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// The histogram of the lengths (in characters) of the documents a stage dropped.
pub const DROPPED_CHARS: &str = "dropped_chars";

/// Collects what a stage does with the documents it is given.
///
/// The runner creates one per batch and per stage, reads it once, and does all counting,
/// so stages never keep statistics themselves.
#[derive(Debug, Default)]
pub struct Emit {
    kept: Vec<Document>,
    dropped: Vec<(DropReason, Option<Document>)>,
    counters: Vec<(&'static str, u64)>,
    retain_dropped: bool,
    samples: crate::profile::Samples,
    observations: Vec<(&'static str, crate::profile::Histogram)>,
}

impl Emit {
    /// A new collector; with `retain_dropped` the dropped documents are kept for a rejects sink.
    pub fn new(retain_dropped: bool) -> Self {
        Emit { retain_dropped, ..Default::default() }
    }
    /// Passes a document on to the next stage.
    pub fn keep(&mut self, doc: Document) {
        self.kept.push(doc);
    }
    /// Drops a document with a reason.
    pub fn drop(&mut self, doc: Document, reason: DropReason) {
        self.observe(DROPPED_CHARS, crate::profile::count_chars(&doc.text) as f64);
        let rank = crate::profile::sample_rank(&doc.id);
        self.samples.offer(reason.0, rank, || crate::profile::Sample::of(&doc, rank));
        let doc = self.retain_dropped.then_some(doc);
        self.dropped.push((reason, doc));
    }
    /// Keeps `doc`, or drops it for `reason` — unless `tag` names a metadata key (`on_match:
    /// annotate`): then the document is kept and the verdict it would have had (`keep` or the
    /// reason) goes to that key.
    pub fn decide(&mut self, mut doc: Document, reason: Option<DropReason>, tag: Option<&str>) {
        match (tag, reason) {
            (Some(key), reason) => {
                doc.meta.insert(key.to_string(), reason.map_or("keep", |r| r.0).into());
                self.keep(doc);
            }
            (None, Some(reason)) => self.drop(doc, reason),
            (None, None) => self.keep(doc),
        }
    }
    /// Adds `n` to a stage counter (e.g. `lines_removed`).
    pub fn count(&mut self, name: &'static str, n: u64) {
        match self.counters.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => *v += n,
            None => self.counters.push((name, n)),
        }
    }
    /// Records a value of a distribution the stage observes (e.g. `cluster_size` per cluster);
    /// it appears as a histogram in the stage's profile.
    pub fn observe(&mut self, name: &'static str, value: f64) {
        match self.observations.iter_mut().find(|(n, _)| *n == name) {
            Some((_, h)) => h.record(value),
            None => {
                let mut h = crate::profile::Histogram::default();
                h.record(value);
                self.observations.push((name, h));
            }
        }
    }
    /// Takes the samples of dropped documents (by reason) and the observations.
    #[allow(clippy::type_complexity)]
    pub fn take_profile(
        &mut self,
    ) -> (crate::profile::Samples, Vec<(&'static str, crate::profile::Histogram)>) {
        (std::mem::take(&mut self.samples), std::mem::take(&mut self.observations))
    }
    /// Documents kept so far.
    pub fn kept(&self) -> &[Document] {
        &self.kept
    }
    /// Number of documents dropped so far.
    pub fn dropped_count(&self) -> usize {
        self.dropped.len()
    }
    /// Splits the collector into kept documents, drops and counters.
    #[allow(clippy::type_complexity)]
    pub fn into_parts(
        self,
    ) -> (Vec<Document>, Vec<(DropReason, Option<Document>)>, Vec<(&'static str, u64)>) {
        (self.kept, self.dropped, self.counters)
    }
}

/// A stateless per-document stage; the runner calls it from many threads at once.
pub trait Transform: Send + Sync {
    /// Processes one document, keeping or dropping it (or emitting several, for splitters).
    fn apply(&self, doc: Document, out: &mut Emit) -> Result<(), StageError>;
    /// True if one input can give more than one output (then the stage's stats report
    /// `emitted` instead of requiring `in == kept + dropped + failed`).
    fn is_flat_map(&self) -> bool {
        false
    }
    /// The thresholds the stage applies to fields it tags, for reports to draw in.
    fn thresholds(&self) -> Vec<crate::profile::Threshold> {
        Vec::new()
    }
}

/// A stateful stage that sees every batch, one at a time, in input order.
pub trait Barrier: Send {
    /// Processes one batch.
    fn process(&mut self, batch: Batch, out: &mut Emit) -> Result<(), StageError>;
    /// Called once after the last batch; may emit held-back documents.
    fn finish(&mut self, _out: &mut Emit) -> Result<(), StageError> {
        Ok(())
    }
    /// Called after `finish` until it returns `false`: emits held-back documents (e.g. read back
    /// from a spill file) in pieces of at most `max_docs`, so they flow on in bounded batches.
    fn drain(&mut self, _out: &mut Emit, _max_docs: usize) -> Result<bool, StageError> {
        Ok(false)
    }
    /// Outputs the stage wrote (cluster reports), waiting to be committed with the run's other
    /// outputs; called once, after the last `drain`.
    fn take_pending(&mut self) -> Vec<Box<dyn PendingOutput>> {
        Vec::new()
    }
    /// Bytes of state this stage holds; the runner reports it and enforces a budget.
    fn retained_bytes(&self) -> usize;
    /// Counters to add to the stage's statistics at the end of the run (e.g. clusters found).
    fn summary(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
    /// About how many bytes of state the barrier holds per document it has seen (for plans'
    /// memory estimates); `None` when it does not grow with the documents.
    fn state_bytes_per_document(&self) -> Option<u64> {
        None
    }
    /// The stage's distributed form, if it keeps the first document of each key (exact
    /// dedup): then a distributed run matches keys in parallel buckets instead of sending every
    /// document through one task.
    fn keep_first_by_key(&self) -> Option<Arc<dyn KeepFirstByKey>> {
        None
    }
    /// The stage's distributed form, if it clusters near duplicates through LSH buckets
    /// (MinHash): then a distributed run signs documents where they are, matches candidates per
    /// bucket in parallel and clusters only the documents that matched something.
    fn near_duplicates(&self) -> Option<Arc<dyn NearDuplicates>> {
        None
    }
    /// The stage's distributed form, if its decisions depend only on a fixed-size state that
    /// every earlier document adds to and that merges by union (a Bloom filter): then each task
    /// writes the state of its own documents, and task `r` starts from the merge of tasks
    /// `0..r`, exactly where one process would be.
    fn prefix_state(&self) -> Option<Arc<dyn PrefixState>> {
        None
    }
    /// The stage's distributed form, if it counts keys over every document and then decides
    /// each one by the totals (repeated lines): then keys are counted where the documents are,
    /// summed per key bucket, and the totals that matter carried back.
    fn count_by_key(&self) -> Option<Arc<dyn CountByKey>> {
        None
    }
    /// The stage's distributed form, if it decides each segment (paragraph, line) of a document
    /// by the other occurrences of the same segment (segment dedup): then occurrences are listed
    /// where the documents are, decided per segment-hash bucket, and carried back.
    fn segment_matches(&self) -> Option<Arc<dyn SegmentMatches>> {
        None
    }
}

/// A barrier split for distributed runs by segment ([`Barrier::segment_matches`]).
pub trait SegmentMatches: Send + Sync {
    /// The document's group (its source, if the stage scopes by one) and the hash of each of
    /// its segments, in order.
    fn segments(&self, doc: &Document) -> (Option<u64>, Vec<u128>);
    /// For every occurrence of one segment hash, in input order (document, then segment
    /// order), given as (group, document ordinal): whether it is a match.
    fn matches(&self, occurrences: &[(Option<u64>, u64)]) -> Vec<bool>;
    /// The name of the counter of distinct segments in the stage's statistics.
    fn distinct_counter(&self) -> &'static str;
    /// The barrier that applies the matches to one task's documents: (position of the
    /// document in the task's stream, index of the segment), ascending.
    fn apply(&self, matches: Vec<(u64, u32)>) -> Box<dyn Barrier>;
}

/// A barrier split for distributed runs by counting ([`Barrier::count_by_key`]).
pub trait CountByKey: Send + Sync {
    /// The document's group (its source) and its distinct keys; `None` when it has no group
    /// (such documents are neither counted nor changed).
    fn keys(&self, doc: &Document) -> Option<(u64, Vec<u64>)>;
    /// Keys counted fewer times than this never matter, so reduce tasks keep only the others.
    fn min_count(&self) -> u32;
    /// The names of the counters of distinct keys and of groups in the stage's statistics.
    fn counter_names(&self) -> (&'static str, &'static str);
    /// The barrier that applies the totals to one task's documents: documents per group, and
    /// the counts of the keys that reached [`CountByKey::min_count`].
    fn apply(
        &self,
        groups: std::collections::HashMap<u64, u32>,
        counts: std::collections::HashMap<u64, u32>,
    ) -> Box<dyn Barrier>;
}

/// A barrier split for distributed runs by its mergeable state ([`Barrier::prefix_state`]).
pub trait PrefixState: Send + Sync {
    /// A sink that adds the documents reaching it to an empty state and writes it to `path`.
    fn state_sink(&self, path: std::path::PathBuf) -> Box<dyn Sink>;
    /// The barrier for one task's documents, starting from the union of the states in
    /// `earlier` (the files of every earlier task, in order).
    fn resume(&self, earlier: &[std::path::PathBuf]) -> Result<Box<dyn Barrier>, StageError>;
}

/// The verdict of a distributed near-duplicate run for one document of a cluster of two or
/// more (documents alone in their cluster get none).
#[derive(Debug, Clone, PartialEq)]
pub struct NearVerdict {
    /// The id of the cluster's keeper (the document's own id if it is the keeper).
    pub keeper: crate::DocId,
    /// Whether the document is the keeper.
    pub is_keeper: bool,
    /// Its similarity to the keeper (1 for the keeper).
    pub similarity: f32,
    /// Documents in its cluster.
    pub cluster_size: u32,
}

/// A near-duplicate barrier split for distributed runs into four moves:
///
/// 1. **sign**, where the documents are: [`NearDuplicates::sign`] gives each document's LSH
///    band keys and a record (its sketch first, `sketch_bytes` long, then whatever clustering
///    needs: keeper key, id, shingle set);
/// 2. **match**, per key bucket: each document of a bucket is a candidate of the up to
///    `max_bucket` documents after it (input order) — as in one process, where a document is
///    compared with the newest `max_bucket` earlier documents of each of its buckets — and
///    [`NearDuplicates::candidate_similarity`] on the two sketches decides the edge;
/// 3. **cluster**, once: the connected components of the edges, each given keepers by
///    [`NearDuplicates::cluster`] exactly as in one process;
/// 4. **apply**, where the documents are: [`NearDuplicates::apply`] annotates, drops and reports.
pub trait NearDuplicates: Send + Sync {
    /// LSH bands (band keys per comparable document).
    fn bands(&self) -> usize;
    /// Documents taken from one bucket per query.
    fn max_bucket(&self) -> usize;
    /// Length of the sketch at the start of every record.
    fn sketch_bytes(&self) -> usize;
    /// Writes the document's band keys into `keys` (none when it cannot be compared) and its
    /// record into `record` (both cleared first).
    fn sign(&self, doc: &Document, keys: &mut Vec<u64>, record: &mut Vec<u8>);
    /// Similarity of a document to an earlier candidate, from their sketches.
    fn candidate_similarity(&self, later: &[u8], earlier: &[u8]) -> f64;
    /// The threshold an edge must reach.
    fn threshold(&self) -> f64;
    /// The id in a record.
    fn record_id<'a>(&self, record: &'a [u8]) -> &'a str;
    /// Keepers of one connected component, given its members' records in input order: for each
    /// member, the index of its keeper and its similarity to it; plus how many times the
    /// component was split.
    fn cluster(&self, members: &[&[u8]]) -> Result<(Vec<(usize, f32)>, u64), StageError>;
    /// The barrier that applies the verdicts to one task's documents, seen in the order they
    /// were signed: `verdicts` by ascending position in that stream.
    fn apply(&self, verdicts: Vec<(u64, NearVerdict)>) -> Box<dyn Barrier>;
    /// What the documents signed so far add to corpus-wide statistics that clustering needs
    /// (e.g. shingle document frequencies), written by each signing task once it has signed
    /// all its documents; `None` when the stage needs none.
    fn corpus_state(&self) -> Option<Vec<u8>> {
        None
    }
    /// Adds one signing task's [`NearDuplicates::corpus_state`] before clustering; the
    /// cluster step adds every task's, so the statistics are those of the whole corpus.
    fn add_corpus_state(&self, _state: &[u8]) -> Result<(), StageError> {
        Ok(())
    }
}

/// A barrier that keeps the first document (in input order) of each key and drops the rest,
/// split for distributed runs: keys are computed where the documents are, the first of each
/// key is found per key bucket, and [`KeepFirstByKey::apply`] carries the verdicts back to each
/// task's documents. The answer is that of the barrier in one process.
pub trait KeepFirstByKey: Send + Sync {
    /// The key of a document; `None` when it has none (such documents are always kept).
    fn key(&self, doc: &Document) -> Option<u128>;
    /// The barrier that applies the verdicts to one task's documents, seen in the order the
    /// keys were computed: `duplicates` lists, by ascending position in that stream, each
    /// dropped document's position and the id of the document kept for its key.
    fn apply(&self, duplicates: Vec<(u64, crate::DocId)>) -> Box<dyn Barrier>;
    /// The name of the counter of distinct keys in the stage's statistics (`distinct`).
    fn distinct_counter(&self) -> &'static str {
        "distinct"
    }
}

/// A unit of input a source can read independently: a file, or a byte range of one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Shard {
    /// The file.
    pub path: PathBuf,
    /// A byte range of the file, aligned to record starts; `None` for the whole file.
    pub range: Option<Range<u64>>,
    /// The 1-based line number at which the range starts, where the source knows it.
    pub first_line: u64,
}

impl Shard {
    /// A shard covering a whole file.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Shard { path: path.into(), range: None, first_line: 1 }
    }
    /// The file's path as records' provenance names it.
    pub fn file_label(&self) -> Arc<str> {
        self.path.display().to_string().into()
    }
    /// The file's name without its folders (default document ids are `<file name>:<line>`).
    pub fn file_name(&self) -> String {
        self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }
    /// A human-readable name (`path` or `path[start..end]`).
    pub fn label(&self) -> String {
        match &self.range {
            None => self.path.display().to_string(),
            Some(r) => format!("{}[{}..{}]", self.path.display(), r.start, r.end),
        }
    }
}

/// A record a source could not turn into a document; counted as failed with its location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordError {
    /// Where the bad record is.
    pub provenance: Provenance,
    /// What is wrong with it.
    pub message: String,
}

/// What a source yields: a document or a bad record.
#[derive(Debug)]
pub enum SourceItem {
    /// A good document.
    Doc(Document),
    /// A record that could not be read (counted as failed, the rest of the input goes on).
    Bad(RecordError),
    /// A record read but not made a document, for a documented reason (a WARC request record,
    /// an HTTP 404): counted as dropped by the source with that reason.
    Dropped(crate::Provenance, DropReason),
}

/// Reads documents from files, one shard at a time; shards may be read in parallel.
pub trait Source: Send + Sync {
    /// Lists the shards to read, in a deterministic order.
    fn shards(&self) -> Result<Vec<Shard>, StageError>;
    /// Reads one shard, passing each item to `emit`; stops early when `emit` says `Break`.
    /// An `Err` means the rest of the shard could not be read (the items before it stand).
    fn read(
        &self,
        shard: &Shard,
        emit: &mut dyn FnMut(SourceItem) -> ControlFlow<()>,
    ) -> Result<(), StageError>;

    /// For sources of one record per line (JSONL): the parser of a line. When there is one, the
    /// runner reads shards with [`Source::read_lines`] on its reader threads and parses the lines
    /// on its worker pool, so parsing, usually the larger cost, scales with the threads.
    fn line_parser(&self) -> Option<Arc<dyn LineParser>> {
        None
    }

    /// Reads the raw lines of one shard (a source with a [`Source::line_parser`] implements
    /// it): what [`Source::read`] would parse, line by line, and the records it cannot read.
    fn read_lines(
        &self,
        shard: &Shard,
        _emit: &mut dyn FnMut(RawLine<'_>) -> ControlFlow<()>,
    ) -> Result<(), StageError> {
        Err(StageError::other(format!("{}: this source does not read raw lines", shard.label())))
    }
}

/// One record of a line-per-record source, read but not parsed (see [`Source::line_parser`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawLine<'a> {
    /// A line without its terminator, with its 1-based number in the file.
    Line {
        /// The line's bytes.
        bytes: &'a [u8],
        /// Its line number.
        number: u64,
    },
    /// A record that cannot be read (larger than the source's limit): failed as it is.
    Bad(RecordError),
}

/// Parses one line of a line-per-record source into an item (see [`Source::line_parser`]).
pub trait LineParser: Send + Sync {
    /// Parses line `number` (without its terminator) of `file`, whose name without folders is
    /// `file_name`; `None` for a blank line.
    fn parse_line(&self, bytes: &[u8], file: &Arc<str>, number: u64, file_name: &str) -> Option<SourceItem>;
}

/// What a sink wrote, reported at the end of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SinkSummary {
    /// Files written (final names).
    pub files: Vec<PathBuf>,
    /// Documents written.
    pub docs: u64,
    /// Bytes written (after compression).
    pub bytes: u64,
}

/// An output written completely under a temporary name, waiting for the run to succeed: the
/// runner commits every pending output of a run together, after the last stage finished, so a
/// failed run commits none of them.
pub trait PendingOutput: Send {
    /// The final path.
    fn target(&self) -> &std::path::Path;
    /// Checks that the commit can succeed (the target is not taken by something of another
    /// kind), so that a run finds a blocked output before it commits any.
    fn ready(&self) -> std::io::Result<()> {
        Ok(())
    }
    /// Moves the output to its final path.
    fn commit(self: Box<Self>) -> std::io::Result<PathBuf>;
}

impl PendingOutput for crate::AtomicFile {
    fn target(&self) -> &std::path::Path {
        crate::AtomicFile::target(self)
    }
    fn ready(&self) -> std::io::Result<()> {
        let target = crate::AtomicFile::target(self);
        if target.is_dir() {
            return Err(std::io::Error::other(format!("{} is a folder", target.display())));
        }
        Ok(())
    }
    fn commit(self: Box<Self>) -> std::io::Result<PathBuf> {
        (*self).commit()
    }
}

/// What a sink prepared: its documents and the outputs to commit.
pub struct Prepared {
    /// Documents written.
    pub docs: u64,
    /// Outputs waiting for the run to succeed.
    pub pending: Vec<Box<dyn PendingOutput>>,
}

/// Commits pending outputs in order, after checking that every one of them can be; returns
/// their final paths and total size.
pub fn commit_all(pending: Vec<Box<dyn PendingOutput>>) -> std::io::Result<(Vec<PathBuf>, u64)> {
    for output in &pending {
        output.ready()?;
    }
    let mut files = Vec::with_capacity(pending.len());
    let mut bytes = 0;
    for output in pending {
        let path = output.commit()?;
        bytes += output_bytes(&path);
        files.push(path);
    }
    Ok((files, bytes))
}

fn output_bytes(path: &std::path::Path) -> u64 {
    millstone_storage::file::total_size(path).unwrap_or(0)
}

/// Writes documents; sees batches in input order on its own thread.
pub trait Sink: Send {
    /// Writes one batch.
    fn write(&mut self, batch: &Batch) -> Result<(), StageError>;
    /// Flushes everything under temporary names and returns what is to be committed. The
    /// runner calls this, and commits the outputs of all stages together once the run succeeded.
    fn prepare(&mut self) -> Result<Prepared, StageError>;
    /// Prepares and commits at once (library use outside the runner).
    fn finish(&mut self) -> Result<SinkSummary, StageError> {
        let prepared = self.prepare()?;
        let (files, bytes) =
            commit_all(prepared.pending).map_err(|e| StageError::io("committing outputs", e))?;
        Ok(SinkSummary { files, docs: prepared.docs, bytes })
    }
    /// An encoder the runner may run on worker threads, so that the sink's own thread only
    /// writes bytes; its output arrives in [`Sink::write_encoded`].
    fn encoder(&self) -> Option<Arc<dyn BatchEncoder>> {
        None
    }
    /// Writes a batch that the sink's [`BatchEncoder`] already turned into bytes.
    fn write_encoded(&mut self, batch: &Batch, _encoded: &[u8]) -> Result<(), StageError> {
        self.write(batch)
    }
}

/// Turns a batch into the bytes a sink writes (serialisation, not compression); pure and
/// thread-safe so the runner can run it in parallel.
pub trait BatchEncoder: Send + Sync {
    /// Encodes the documents of `batch`.
    fn encode(&self, batch: &Batch) -> Result<Vec<u8>, StageError>;

    /// Encodes the documents of `batch` into `out` (empty, maybe with capacity left from an
    /// earlier batch: the runner reuses buffers). Encoders that build their bytes in place
    /// override it to spare the copy.
    fn encode_into(&self, batch: &Batch, out: &mut Vec<u8>) -> Result<(), StageError> {
        out.extend_from_slice(&self.encode(batch)?);
        Ok(())
    }
}

/// A built stage, ready to run.
pub enum Stage {
    /// Produces documents.
    Source(Box<dyn Source>),
    /// Per-document, parallel.
    Transform(Arc<dyn Transform>),
    /// Sequential and stateful, optionally with a parallel `prepare` step that the runner fuses
    /// into the preceding transforms (e.g. computing signatures into [`Document::scratch`]).
    Barrier {
        /// Runs in parallel before the barrier; must keep every document.
        prepare: Option<Arc<dyn Transform>>,
        /// The sequential part.
        barrier: Box<dyn Barrier>,
    },
    /// Writes documents.
    Sink(Box<dyn Sink>),
}

impl Stage {
    /// Which kind of stage this is.
    pub fn kind(&self) -> StageKind {
        match self {
            Stage::Source(_) => StageKind::Source,
            Stage::Transform(_) => StageKind::Transform,
            Stage::Barrier { .. } => StageKind::Barrier,
            Stage::Sink(_) => StageKind::Sink,
        }
    }
    /// A transform stage from any [`Transform`].
    pub fn transform(t: impl Transform + 'static) -> Self {
        Stage::Transform(Arc::new(t))
    }

    /// A filter stage: it drops (`on_match: drop`) or, with `annotate`, keeps every document
    /// and writes its verdict to `meta.<key>` ([`TagFilter`]).
    pub fn filter<F: Filter + 'static>(filter: F, on_match: crate::OnMatch, key: &str) -> Self {
        match on_match {
            crate::OnMatch::Annotate => Stage::transform(TagFilter { filter, key: key.to_string() }),
            _ => Stage::transform(FilterStage(filter)),
        }
    }
    /// A barrier stage without a parallel prepare step.
    pub fn barrier(b: impl Barrier + 'static) -> Self {
        Stage::Barrier { prepare: None, barrier: Box::new(b) }
    }
}

/// The verdict of a [`Filter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Pass the document on.
    Keep,
    /// Drop it with this reason.
    Drop(DropReason),
}

impl Verdict {
    /// The drop reason, if any.
    pub fn drop_reason(self) -> Option<DropReason> {
        match self {
            Verdict::Keep => None,
            Verdict::Drop(reason) => Some(reason),
        }
    }
}

/// A stage that keeps or drops documents without changing them.
pub trait Filter: Send + Sync {
    /// Decides about one document.
    fn check(&self, doc: &Document) -> Result<Verdict, StageError>;
    /// The thresholds the filter applies to fields it tags, for reports to draw in.
    fn thresholds(&self) -> Vec<crate::profile::Threshold> {
        Vec::new()
    }
}

/// A stage that rewrites each document into exactly one document.
pub trait Map: Send + Sync {
    /// Rewrites one document.
    fn map(&self, doc: Document, out: &mut Emit) -> Result<Document, StageError>;
}

/// A stage that turns each document into zero or more documents.
pub trait Split: Send + Sync {
    /// Pushes the pieces of `doc` onto `out`.
    fn split(&self, doc: Document, out: &mut Vec<Document>) -> Result<(), StageError>;
}

/// Adapts a [`Filter`] into a [`Transform`].
pub struct FilterStage<F>(pub F);
/// Adapts a [`Map`] into a [`Transform`].
pub struct MapStage<M>(pub M);
/// Adapts a [`Split`] into a [`Transform`].
pub struct SplitStage<S>(pub S);

impl<F: Filter> Transform for FilterStage<F> {
    fn apply(&self, doc: Document, out: &mut Emit) -> Result<(), StageError> {
        match self.0.check(&doc)? {
            Verdict::Keep => out.keep(doc),
            Verdict::Drop(reason) => out.drop(doc, reason),
        }
        Ok(())
    }
    fn thresholds(&self) -> Vec<crate::profile::Threshold> {
        self.0.thresholds()
    }
}

/// Adapts a [`Filter`] into a [`Transform`] for `on_match: annotate`: every document is kept,
/// with the verdict the filter would have given in `meta.<key>` (`keep` or the drop reason).
pub struct TagFilter<F> {
    /// The filter.
    pub filter: F,
    /// The metadata key of the verdict (`quality.gopher.verdict`).
    pub key: String,
}

impl<F: Filter> Transform for TagFilter<F> {
    fn apply(&self, doc: Document, out: &mut Emit) -> Result<(), StageError> {
        let reason = self.filter.check(&doc)?.drop_reason();
        out.decide(doc, reason, Some(&self.key));
        Ok(())
    }
    fn thresholds(&self) -> Vec<crate::profile::Threshold> {
        self.filter.thresholds()
    }
}

impl<M: Map> Transform for MapStage<M> {
    fn apply(&self, doc: Document, out: &mut Emit) -> Result<(), StageError> {
        let doc = self.0.map(doc, out)?;
        out.keep(doc);
        Ok(())
    }
}

impl<S: Split> Transform for SplitStage<S> {
    fn apply(&self, doc: Document, out: &mut Emit) -> Result<(), StageError> {
        let mut pieces = Vec::new();
        self.0.split(doc, &mut pieces)?;
        for piece in pieces {
            out.keep(piece);
        }
        Ok(())
    }
    fn is_flat_map(&self) -> bool {
        true
    }
}
