//! Runner overhead: an identity pipeline (jsonl -> jsonl) at 1 and 2 threads against a plain
//! single-threaded read-parse-write loop over the same file.

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

criterion_group!(benches, bench);
criterion_main!(benches);
