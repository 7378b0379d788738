//! Dedup: signature computation, LSH insert/query, and whole stages, MB/s.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use millstone_core::{Batch, Emit, Stage};
use millstone_dedup::shingle::{Shingler, Unit};
use millstone_dedup::{LshIndex, MinHasher, Normalization};

fn run_barrier(stage: Stage, docs: &[millstone_core::Document]) -> usize {
    let Stage::Barrier { prepare, mut barrier } = stage else { panic!("not a barrier") };
    let mut prepared = Emit::new(false);
    for d in docs {
        match &prepare {
            Some(p) => p.apply(d.clone(), &mut prepared).unwrap(),
            None => prepared.keep(d.clone()),
        }
    }
    let mut out = Emit::new(false);
    barrier.process(Batch::new(0, prepared.into_parts().0), &mut out).unwrap();
    barrier.finish(&mut out).unwrap();
    while barrier.drain(&mut out, 4096).unwrap() {}
    out.kept().len()
}

fn bench(c: &mut Criterion) {
    let texts = common::news_texts(8 << 20);
    let docs = common::documents(&texts);
    let bytes: u64 = texts.iter().map(|t| t.len() as u64).sum();

    let mut group = c.benchmark_group("dedup.minhash/signature");
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(10);
    for (perms, ngram) in [(112usize, 5usize), (256, 3)] {
        let hasher = MinHasher::new(perms, 1).unwrap();
        let shingler =
            Shingler::new(Unit::Words, ngram, Normalization { punctuation: true, ..Default::default() });
        group.bench_function(format!("{perms}_perms_{ngram}gram_words"), |b| {
            b.iter(|| texts.iter().map(|t| hasher.signature(&shingler, t).shingles as u64).sum::<u64>())
        });
    }
    group.finish();

    let hasher = MinHasher::new(112, 1).unwrap();
    let shingler = Shingler::new(Unit::Words, 5, Normalization::default());
    let keys: Vec<Vec<u64>> = texts
        .iter()
        .map(|t| millstone_dedup::lsh::band_keys(&hasher.signature(&shingler, t).values, 14, 8))
        .collect();
    let mut group = c.benchmark_group("dedup.minhash/lsh");
    group.throughput(Throughput::Elements(keys.len() as u64));
    group.bench_function("insert_and_query_14x8", |b| {
        b.iter(|| {
            let mut index = LshIndex::new(14);
            let mut found = 0;
            for k in &keys {
                found += index.candidates(k, 512).len();
                index.insert(k);
            }
            black_box(found)
        })
    });
    group.finish();

    for (type_name, yaml) in [
        ("dedup.exact", ""),
        ("dedup.minhash", "preset: web"),
        ("dedup.minhash", "preset: news"),
        ("dedup.simhash", "max_distance: 3"),
        ("dedup.bloom", "expected_items: 100000"),
        ("dedup.bloom", "unit: paragraph\nexpected_items: 2000000"),
        ("dedup.exact_segments", "unit: paragraphs"),
        ("dedup.exact_segments", "scope_field: meta.site"),
        ("dedup.substring", "min_length: 100"),
    ] {
        let mut group = c.benchmark_group(type_name);
        group.throughput(Throughput::Bytes(bytes));
        group.sample_size(10);
        let label =
            if yaml.is_empty() { "default".to_string() } else { yaml.replace(": ", "_").replace('\n', "_") };
        group.bench_function(format!("stage_{label}_8MiB"), |b| {
            b.iter(|| run_barrier(common::build(type_name, yaml), &docs))
        });
        group.finish();
    }

    // Decontamination against 10,000 benchmark items: every 50th item is a passage of the
    // corpus itself (so documents match and are cut), the rest are text of another seed.
    let dir = tempfile::tempdir().unwrap();
    let benchmark = dir.path().join("bench.jsonl");
    let other = common::news_texts(4 << 20);
    let items: Vec<String> = (0..10_000)
        .map(|i| {
            let source = if i % 50 == 0 { &texts[i % texts.len()] } else { &other[i % other.len()] };
            let words: Vec<&str> = source.split_whitespace().skip(i % 7 * 5).take(40).collect();
            serde_json::json!({ "id": i, "question": words.join(" ") }).to_string()
        })
        .collect();
    std::fs::write(&benchmark, items.join("\n")).unwrap();
    for on_match in ["drop", "remove"] {
        let yaml = format!(
            "benchmarks:\n  - name: bench\n    path: {}\n    fields: [question]\non_match: {on_match}",
            benchmark.display()
        );
        let stage = common::build("dedup.decontaminate", &yaml);
        let mut group = c.benchmark_group("dedup.decontaminate");
        group.throughput(Throughput::Bytes(bytes));
        group.sample_size(10);
        group.bench_function(format!("10k_items_{on_match}_8MiB"), |b| {
            b.iter(|| common::apply_all(&stage, &docs))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
