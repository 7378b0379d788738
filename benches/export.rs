//! Sinks: JSONL plain and zstd, MB/s of text written.

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use millstone_core::{Batch, Stage};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let texts = common::news_texts(32 << 20);
    let docs = common::documents(&texts);
    let batches: Vec<Batch> =
        docs.chunks(1024).enumerate().map(|(i, c)| Batch::new(i as u64, c.to_vec())).collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    let mut group = c.benchmark_group("export.jsonl");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(10);
    for name in ["out.jsonl", "out.jsonl.zst"] {
        let path = dir.path().join(name);
        group.bench_function(name, |b| {
            b.iter(|| {
                let Stage::Sink(mut sink) =
                    common::build("export.jsonl", &format!("path: {}", path.display()))
                else {
                    panic!()
                };
                for batch in &batches {
                    sink.write(batch).unwrap();
                }
                sink.finish().unwrap()
            })
        });
    }
    group.finish();
    for (type_name, name) in [
        ("export.csv", "out.csv"),
        ("export.parquet", "out.parquet"),
        ("export.text_dir", "texts"),
        ("export.tokens", "tokens"),
    ] {
        let mut group = c.benchmark_group(type_name);
        group.throughput(Throughput::Bytes(bytes as u64));
        group.sample_size(10);
        let path = dir.path().join(name);
        group.bench_function(name, |b| {
            b.iter(|| {
                let Stage::Sink(mut sink) = common::build(type_name, &format!("path: {}", path.display()))
                else {
                    panic!()
                };
                for batch in &batches {
                    sink.write(batch).unwrap();
                }
                sink.finish().unwrap()
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
