//! Runner overhead: an identity pipeline (jsonl -> jsonl) at 1 and 2 threads against a plain
//! single-threaded read-parse-write loop over the same file; and the run profile every run
//! keeps (lengths and sources of what sources read, plus every tagged field of what sinks get),
//! per document, beside the identity pipeline's cost.

mod common;

use std::hint::black_box;
use std::io::{BufRead, BufReader, BufWriter, Write};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use millstone_config::{parse_plan, LoadOptions};
use millstone_core::Document;

fn plain_loop(input: &std::path::Path, output: &std::path::Path) {
    let reader = BufReader::with_capacity(1 << 20, std::fs::File::open(input).unwrap());
    let mut writer = BufWriter::with_capacity(1 << 20, std::fs::File::create(output).unwrap());
    let mut buf = Vec::new();
    for line in reader.lines() {
        let line = line.unwrap();
        let mut record: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&line).unwrap();
        let text = match record.remove("text") {
            Some(serde_json::Value::String(s)) => s,
            _ => unreachable!(),
        };
        let id = record.remove("id").and_then(|v| v.as_str().map(str::to_string)).unwrap();
        let mut doc = Document::new(id, text);
        doc.meta = record.into_iter().collect();
        buf.clear();
        millstone_export::jsonl::write_document(&mut buf, &doc, false, false).unwrap();
        writer.write_all(&buf).unwrap();
    }
    writer.flush().unwrap();
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let body = common::jsonl(&common::news_texts(32 << 20));
    std::fs::write(&input, &body).unwrap();
    let registry = millstone::builtin_registry();

    let mut group = c.benchmark_group("runner/identity_jsonl");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.sample_size(10);
    group.bench_function("plain_loop_1_thread", |b| {
        b.iter(|| plain_loop(&input, &dir.path().join("plain.jsonl")))
    });
    for threads in [1usize, 2] {
        let yaml = format!(
            "version: 1\nruntime: {{ out_dir: {o} }}\nstages:\n  - type: ingest.jsonl\n    path: {i}\n    shard_bytes: 4MiB\n  - type: export.jsonl\n    path: {o}/out.jsonl\n",
            i = input.display(),
            o = dir.path().display()
        );
        group.bench_function(format!("millstone_{threads}_threads"), |b| {
            b.iter(|| {
                let options = LoadOptions { threads: Some(threads), overwrite: true, ..Default::default() };
                let plan = parse_plan("bench.yaml", &yaml, &registry, &options).unwrap();
                black_box(millstone_runner::run(plan, &Default::default()).unwrap())
            })
        });
    }
    group.finish();
}

/// The profile a run records of each document: `record_shape` after every source,
/// `record_full` before every sink (here on documents tagged the way annotate-mode filters tag).
fn profile(c: &mut Criterion) {
    let docs = common::documents(&common::news_texts(8 << 20));
    let bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    let tagged: Vec<Document> = docs
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, mut doc)| {
            doc.meta.insert("lang".into(), "en".into());
            doc.meta.insert("lang_score".into(), (0.5 + (i % 50) as f64 / 100.0).into());
            let verdict = if i % 7 == 0 { "gopher_below_alpha_threshold" } else { "keep" };
            doc.meta.insert(
                "quality".into(),
                serde_json::json!({"gopher": {"verdict": verdict, "mean_word_length": 4.5 + (i % 9) as f64 / 10.0}}),
            );
            doc
        })
        .collect();
    let mut group = c.benchmark_group("runner/profile");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("record_shape", |b| {
        b.iter(|| {
            let mut profile = millstone_core::profile::Profile::default();
            docs.iter().for_each(|doc| profile.record_shape(doc));
            black_box(profile)
        })
    });
    group.bench_function("record_full_tagged", |b| {
        b.iter(|| {
            let mut profile = millstone_core::profile::Profile::default();
            tagged.iter().for_each(|doc| profile.record_full(doc));
            black_box(profile)
        })
    });
    group.finish();
}

criterion_group!(benches, bench, profile);
criterion_main!(benches);
