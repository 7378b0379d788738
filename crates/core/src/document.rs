//! Documents and batches: the data that flows through a pipeline.

use std::any::Any;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A document identifier: stable across runs and cheap to clone.
pub type DocId = Arc<str>;

/// Document metadata: an ordered map of JSON values, so output is deterministic.
pub type Meta = BTreeMap<String, serde_json::Value>;

/// Where in its input a document (or a bad record) came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Provenance {
    /// The input file (or other source name) as given to the source stage.
    pub source: Arc<str>,
    /// The position of the record inside `source`.
    pub location: Location,
}

/// A position inside an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// The whole file is the record.
    File,
    /// A 1-based line number (JSONL, CSV).
    Line(u64),
    /// A byte offset (WARC records, compressed streams).
    Byte(u64),
    /// A 0-based record index (Parquet rows).
    Record(u64),
}

impl Provenance {
    /// A provenance for a whole file.
    pub fn file(source: impl Into<Arc<str>>) -> Self {
        Provenance { source: source.into(), location: Location::File }
    }
    /// A provenance for a line of a file.
    pub fn line(source: impl Into<Arc<str>>, line: u64) -> Self {
        Provenance { source: source.into(), location: Location::Line(line) }
    }
    /// A provenance for a byte offset into a file.
    pub fn byte(source: impl Into<Arc<str>>, offset: u64) -> Self {
        Provenance { source: source.into(), location: Location::Byte(offset) }
    }
    /// A provenance for documents made in memory (tests, generated data).
    pub fn memory() -> Self {
        Provenance::file("<memory>")
    }
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Location::File => write!(f, "{}", self.source),
            Location::Line(n) => write!(f, "{}:{n}", self.source),
            Location::Byte(n) => write!(f, "{} (byte {n})", self.source),
            Location::Record(n) => write!(f, "{} (record {n})", self.source),
        }
    }
}

/// An annotated byte range of a document's text, `start..end`, always on char boundaries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    /// First byte of the span.
    pub start: usize,
    /// One past the last byte of the span.
    pub end: usize,
    /// What the span is: `paragraph`, `sentence`, `boilerplate`, `duplicate`, ...
    pub label: Cow<'static, str>,
}

impl Span {
    /// A span with a static label.
    pub fn new(start: usize, end: usize, label: &'static str) -> Self {
        Span { start, end, label: Cow::Borrowed(label) }
    }
    /// The bytes this span covers, as a range.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start..self.end
    }
}

/// One unit of text and everything known about it.
///
/// `scratch` is a per-stage attachment used when a stage computes something in parallel
/// (a MinHash signature, a hash) that its sequential part consumes; it is never serialised.
#[derive(Clone)]
pub struct Document {
    /// Stable identifier.
    pub id: DocId,
    /// The text, always valid UTF-8.
    pub text: String,
    /// Metadata fields (title, url, lang, dup_cluster, ...).
    pub meta: Meta,
    /// Where the document came from.
    pub provenance: Provenance,
    /// Annotated byte ranges of `text`.
    pub spans: Vec<Span>,
    /// Transient data passed from a stage's parallel part to its sequential part.
    pub scratch: Option<Arc<dyn Any + Send + Sync>>,
}

impl Document {
    /// A document with the given id and text, no metadata, in-memory provenance.
    pub fn new(id: impl Into<DocId>, text: impl Into<String>) -> Self {
        Document {
            id: id.into(),
            text: text.into(),
            meta: Meta::new(),
            provenance: Provenance::memory(),
            spans: Vec::new(),
            scratch: None,
        }
    }

    /// Sets the provenance (builder style).
    pub fn with_provenance(mut self, provenance: Provenance) -> Self {
        self.provenance = provenance;
        self
    }

    /// Sets one metadata field (builder style).
    pub fn with_meta(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.meta.insert(key.into(), value.into());
        self
    }

    /// Replaces the text. Spans describe byte ranges of the old text, so they are cleared: the
    /// one way a stage rewrites a document's text.
    pub fn set_text(&mut self, text: String) {
        self.text = text;
        self.spans.clear();
    }

    /// A metadata field as text: strings as they are, other values as JSON (`3`, `true`).
    pub fn meta_text(&self, key: &str) -> Option<std::borrow::Cow<'_, str>> {
        self.meta.get(key).map(|v| match v.as_str() {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(v.to_string()),
        })
    }

    /// Approximate heap size of the document, used for byte-based batching and memory budgets.
    pub fn approx_bytes(&self) -> usize {
        self.text.len() + self.id.len() + self.spans.len() * std::mem::size_of::<Span>() + 64
    }

    /// Takes this document's scratch value if it has the expected type.
    pub fn take_scratch<T: Any + Send + Sync>(&mut self) -> Option<Arc<T>> {
        let scratch = self.scratch.take()?;
        match scratch.downcast::<T>() {
            Ok(value) => Some(value),
            Err(other) => {
                self.scratch = Some(other);
                None
            }
        }
    }
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("id", &self.id)
            .field("text", &self.text)
            .field("meta", &self.meta)
            .field("provenance", &self.provenance)
            .field("spans", &self.spans)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Document {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.text == other.text
            && self.meta == other.meta
            && self.provenance == other.provenance
            && self.spans == other.spans
    }
}

/// The unit of work: documents in input order, with a sequence number that restores that order
/// after parallel processing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// Position of this batch in the stream (0, 1, 2, ...).
    pub seq: u64,
    /// The documents, in input order.
    pub docs: Vec<Document>,
    /// Bytes the next sink's encoder produced for these documents, if the runner encoded them
    /// in parallel; consumed by that sink and dropped after it.
    pub encoded: Option<Vec<u8>>,
    /// The source stage that read these documents, while the runner has not yet profiled them
    /// as that source's output.
    pub origin: Option<usize>,
}

impl Batch {
    /// A batch with the given sequence number.
    pub fn new(seq: u64, docs: Vec<Document>) -> Self {
        Batch { seq, docs, encoded: None, origin: None }
    }
    /// Total text bytes in the batch.
    pub fn text_bytes(&self) -> usize {
        self.docs.iter().map(|d| d.text.len()).sum()
    }
}
