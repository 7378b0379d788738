//! The bodies of the fuzz targets in `fuzz/` (run with `cargo +nightly fuzz run <target>`),
//! here so that `tests/fuzz_corpora.rs` replays the committed corpora on stable in every test
//! run. Each function takes arbitrary bytes and must neither panic nor break an invariant.

use std::ops::ControlFlow;
use std::sync::{Arc, OnceLock};

use millstone_core::{BuildContext, Document, Emit, Registry, SpillFile, Stage, Transform};

/// The registry, built once per process rather than once per input.
fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(crate::builtin_registry)
}

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// The fuzz targets, by name (the folder names under `fuzz/corpus/`).
pub const TARGETS: [(&str, Target); 7] = [
    ("pipeline", pipeline),
    ("jsonl_line", jsonl_line),
    ("warc", warc),
    ("csv", csv),
    ("html_to_text", html_to_text),
    ("sentences", sentences),
    ("spill_codec", spill_codec),
];

/// The pipeline loader: the first line is a `--set` override, the rest the YAML file.
pub fn pipeline(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (first, yaml) = text.split_once('\n').unwrap_or(("", &text));
    let registry = registry();
    let overrides = if first.contains('=') { vec![first.to_string()] } else { Vec::new() };
    let options = millstone_config::LoadOptions { overrides, ..Default::default() };
    if let Err(millstone_config::Error::Invalid(diagnostics)) =
        millstone_config::parse_plan("fuzz.yaml", yaml, registry, &options)
    {
        // Rendering names positions inside the text: it must not slice out of bounds.
        let _ = diagnostics.to_string();
    }
}

/// One JSON Lines record.
pub fn jsonl_line(data: &[u8]) {
    let source = millstone_ingest::jsonl::JsonlSource::new(Vec::new());
    let _ = source.parse_line(data, &"fuzz.jsonl".into(), 1, "fuzz.jsonl");
}

/// Reads `data` as a whole file with the source `type_name`; every item is a document or a
/// bad record, and documents are valid.
fn read_as_file(type_name: &str, file_name: &str, data: &[u8]) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join(file_name);
    std::fs::write(&path, data).expect("writing the input");
    let info = registry().get(type_name).expect("registered");
    let fields = serde_json::json!({ "path": path.display().to_string() });
    let Ok(Stage::Source(source)) = info.build(&fields, &BuildContext::for_tests()) else { return };
    let Ok(shards) = source.shards() else { return };
    for shard in shards {
        let _ = source.read(&shard, &mut |item| {
            if let millstone_core::SourceItem::Doc(doc) = item {
                assert!(std::str::from_utf8(doc.text.as_bytes()).is_ok());
            }
            ControlFlow::Continue(())
        });
    }
}

/// A WARC/WET file.
pub fn warc(data: &[u8]) {
    read_as_file("ingest.warc", "fuzz.warc", data);
}

/// A CSV file.
pub fn csv(data: &[u8]) {
    read_as_file("ingest.csv", "fuzz.csv", data);
}

/// An HTML page through `clean.html_to_text`.
pub fn html_to_text(data: &[u8]) {
    static EXTRACTOR: OnceLock<Arc<dyn Transform>> = OnceLock::new();
    let transform = EXTRACTOR.get_or_init(|| {
        let info = registry().get("clean.html_to_text").expect("registered");
        match info.build(&serde_json::json!({}), &BuildContext::for_tests()) {
            Ok(Stage::Transform(transform)) => transform,
            _ => panic!("clean.html_to_text builds from its defaults"),
        }
    });
    let mut out = Emit::new(false);
    let _ = transform.apply(Document::new("fuzz", String::from_utf8_lossy(data).into_owned()), &mut out);
}

/// The sentence segmenter: ranges are ordered, non-empty, on char boundaries, and only
/// whitespace lies between them.
pub fn sentences(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut last = 0;
    for range in millstone_segment::sentences::sentence_ranges(&text, &Default::default()) {
        assert!(range.start >= last && range.start < range.end && range.end <= text.len(), "{range:?}");
        assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
        assert!(text[last..range.start].trim().is_empty(), "text lost between sentences");
        last = range.end;
    }
}

/// The spill-file record codec: decoding arbitrary bytes never panics, and whatever decodes
/// encodes back to a record that decodes to the same document.
pub fn spill_codec(data: &[u8]) {
    if let Ok(doc) = SpillFile::decode_record(data) {
        let mut again = Vec::new();
        SpillFile::encode_record(&doc, &mut again).expect("encoding a decoded document");
        assert_eq!(SpillFile::decode_record(&again).expect("decoding an encoded document"), doc);
    }
}
