//! Segmenters, one group per stage type, MB/s.

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let texts = common::news_texts(8 << 20);
    let docs = common::documents(&texts);
    let bytes: usize = texts.iter().map(String::len).sum();
    for (type_name, yaml) in [
        ("segment.lines", ""),
        ("segment.paragraphs", ""),
        ("segment.sentences", ""),
        ("segment.chunks", "unit: words\nsize: 200\noverlap: 20"),
        ("segment.chunks", "unit: tokens\nsize: 512\noverlap: 64"),
        ("segment.tokens", "tokenizer: cl100k_base"),
    ] {
        let stage = common::build(type_name, yaml);
        let mut group = c.benchmark_group(type_name);
        group.throughput(Throughput::Bytes(bytes as u64));
        group.sample_size(10);
        let label = if yaml.is_empty() {
            "annotate_8MiB".to_string()
        } else {
            format!("annotate_{}_8MiB", yaml.split('\n').next().unwrap_or("").replace(": ", "_"))
        };
        group.bench_function(label, |b| b.iter(|| common::apply_all(&stage, &docs)));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
