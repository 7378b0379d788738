//! Segmenters, one group per stage type, MB/s.

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let texts = common::news_texts(8 << 20);
    let docs = common::documents(&texts);
    let bytes: usize = texts.iter().map(String::len).sum();
    for type_name in ["segment.lines", "segment.paragraphs"] {
        let stage = common::build(type_name, "");
        let mut group = c.benchmark_group(type_name);
        group.throughput(Throughput::Bytes(bytes as u64));
        group.sample_size(10);
        group.bench_function("annotate_8MiB", |b| b.iter(|| common::apply_all(&stage, &docs)));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
