//! Pipeline properties: the same input gives byte-identical output for any thread count and
//! batch size, counts always add up, and no stage panics on hostile text.

use std::path::Path;

use millstone_config::{parse_plan, LoadOptions};
use millstone_runner::{run, RunOptions, RunReport};
use proptest::prelude::*;

fn write_input(dir: &Path, docs: &[String]) {
    let mut text = String::new();
    for (i, doc) in docs.iter().enumerate() {
        text.push_str(&serde_json::json!({"id": format!("d{i}"), "text": doc, "n": i}).to_string());
        text.push('\n');
    }
    std::fs::write(dir.join("in.jsonl"), text).unwrap();
}

fn run_pipeline(dir: &Path, threads: usize, batch_docs: usize, shard_bytes: u64) -> (Vec<u8>, RunReport) {
    let out = dir.join(format!("out-{threads}-{batch_docs}-{shard_bytes}"));
    let yaml = format!(
        "version: 1\nruntime: {{ batch_docs: {batch_docs}, max_in_flight: 3, out_dir: {o} }}\nstages:\n\
         - type: ingest.jsonl\n  path: {d}/in.jsonl\n  shard_bytes: {shard_bytes}\n\
         - type: clean.normalize_unicode\n  form: nfkc\n\
         - type: clean.strip_boilerplate\n\
         - type: clean.normalize_whitespace\n\
         - type: clean.length\n  min_chars: 3\n  keep_dropped: true\n\
         - type: segment.paragraphs\n\
         - type: dedup.exact\n  keep_dropped: true\n\
         - type: export.jsonl\n  path: {o}/out.jsonl\n  include_spans: true\n",
        d = dir.display(),
        o = out.display()
    );
    let registry = millstone::builtin_registry();
    let options = LoadOptions { threads: Some(threads), overwrite: true, ..Default::default() };
    let plan = parse_plan("props.yaml", &yaml, &registry, &options).unwrap();
    let report = run(plan, &RunOptions::default()).unwrap();
    let mut bytes = std::fs::read(out.join("out.jsonl")).unwrap();
    for side in ["rejects/clean.length#4.jsonl", "rejects/dedup.exact#6.jsonl"] {
        bytes.extend(std::fs::read(out.join(side)).unwrap_or_default());
    }
    (bytes, report)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn output_is_identical_for_any_threads_and_batches(
        docs in prop::collection::vec(millstone_testkit::text(), 0..80),
        batch_docs in 1usize..40,
    ) {
        let dir = tempfile::tempdir().unwrap();
        write_input(dir.path(), &docs);
        let (reference, report) = run_pipeline(dir.path(), 1, 1024, 1 << 30);
        prop_assert!(report.conserved, "{}", report.summary_table());
        // An empty input file holds no record, so nothing is counted as failed.
        prop_assert_eq!(report.totals.input, docs.len() as u64);
        prop_assert_eq!(report.totals.failed, 0);
        for stage in &report.stages {
            prop_assert!(stage.stats.conserved(), "{}: {:?}", stage.id, stage.stats);
        }
        for threads in [2, 4] {
            // Small byte-range shards make several readers work on one file at once.
            let (bytes, report) = run_pipeline(dir.path(), threads, batch_docs, 4096);
            prop_assert!(report.conserved);
            prop_assert!(bytes == reference, "output differs at {} threads, batch {}", threads, batch_docs);
        }
    }
}

#[test]
fn many_shards_of_one_file_read_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let docs: Vec<String> = (0..3000).map(|i| format!("document {i} {}", "word ".repeat(i % 37))).collect();
    write_input(dir.path(), &docs);
    let (reference, _) = run_pipeline(dir.path(), 1, 100, 1 << 30);
    let (sharded, report) = run_pipeline(dir.path(), 4, 7, 4096);
    assert!(report.shards_read > 20, "{}", report.shards_read);
    assert_eq!(sharded, reference);
}
