//! Sources: JSONL (plain and zstd) and text folders, MB/s of input.

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use millstone_core::{SourceItem, Stage};

fn read_all(stage: &Stage) -> usize {
    let Stage::Source(source) = stage else { panic!("not a source") };
    let mut n = 0;
    for shard in source.shards().unwrap() {
        source
            .read(&shard, &mut |item| {
                if let SourceItem::Doc(_) = item {
                    n += 1;
                }
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
    }
    n
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let texts = common::news_texts(32 << 20);
    let body = common::jsonl(&texts);
    let plain = dir.path().join("in.jsonl");
    std::fs::write(&plain, &body).unwrap();
    let zst = dir.path().join("in.jsonl.zst");
    std::fs::write(&zst, zstd::encode_all(body.as_bytes(), 3).unwrap()).unwrap();
    let folder = dir.path().join("txt");
    std::fs::create_dir_all(&folder).unwrap();
    for (i, t) in texts.iter().take(2000).enumerate() {
        std::fs::write(folder.join(format!("{i}.txt")), t).unwrap();
    }
    let folder_bytes: usize = texts.iter().take(2000).map(String::len).sum();

    let mut group = c.benchmark_group("ingest.jsonl");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.sample_size(10);
    for (name, path) in [("plain_32MiB", &plain), ("zstd_32MiB", &zst)] {
        let stage = common::build("ingest.jsonl", &format!("path: {}", path.display()));
        group.bench_function(name, |b| b.iter(|| read_all(&stage)));
    }
    group.finish();

    // CSV and WARC/WET versions of the same texts.
    let csv_path = dir.path().join("in.csv");
    let mut writer = csv::Writer::from_path(&csv_path).unwrap();
    writer.write_record(["id", "text", "url"]).unwrap();
    for (i, t) in texts.iter().enumerate() {
        writer.write_record([format!("doc-{i}"), t.clone(), format!("https://example.org/{i}")]).unwrap();
    }
    writer.flush().unwrap();
    let mut warc = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        warc.extend_from_slice(
            format!("WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: https://example.org/{i}\r\nWARC-Record-ID: <urn:uuid:{i}>\r\nContent-Length: {}\r\n\r\n", t.len()).as_bytes(),
        );
        warc.extend_from_slice(t.as_bytes());
        warc.extend_from_slice(b"\r\n\r\n");
    }
    let warc_path = dir.path().join("in.warc.wet");
    std::fs::write(&warc_path, &warc).unwrap();
    // Parquet written by the sink, in row groups of 4096 documents.
    let parquet_path = dir.path().join("in.parquet");
    {
        let millstone_core::Stage::Sink(mut sink) = common::build(
            "export.parquet",
            &format!("path: {}\nrow_group_rows: 4096\nfields: [url]", parquet_path.display()),
        ) else {
            panic!()
        };
        let docs = common::documents(&texts);
        for chunk in docs.chunks(4096) {
            sink.write(&millstone_core::Batch::new(0, chunk.to_vec())).unwrap();
        }
        sink.finish().unwrap();
    }
    let text_bytes: usize = texts.iter().map(String::len).sum();
    for (type_name, path, bytes) in [
        ("ingest.csv", &csv_path, body.len()),
        ("ingest.warc", &warc_path, warc.len()),
        ("ingest.parquet", &parquet_path, text_bytes),
    ] {
        let mut group = c.benchmark_group(type_name);
        group.throughput(Throughput::Bytes(bytes as u64));
        group.sample_size(10);
        let stage = common::build(type_name, &format!("path: {}", path.display()));
        group.bench_function("32MiB", |b| b.iter(|| read_all(&stage)));
        group.finish();
    }

    let html_dir = dir.path().join("html");
    std::fs::create_dir_all(&html_dir).unwrap();
    let mut html_bytes = 0;
    for (i, t) in texts.iter().take(2000).enumerate() {
        let page =
            format!("<html><body><article><p>{}</p></article></body></html>", t.replace("\n\n", "</p><p>"));
        html_bytes += page.len();
        std::fs::write(html_dir.join(format!("{i}.html")), page).unwrap();
    }
    let mut group = c.benchmark_group("ingest.html");
    group.throughput(Throughput::Bytes(html_bytes as u64));
    group.sample_size(10);
    let stage = common::build("ingest.html", &format!("paths: [\"{}/*.html\"]", html_dir.display()));
    group.bench_function("2000_files", |b| b.iter(|| read_all(&stage)));
    group.finish();

    let mut group = c.benchmark_group("ingest.text_dir");
    group.throughput(Throughput::Bytes(folder_bytes as u64));
    group.sample_size(10);
    let stage = common::build("ingest.text_dir", &format!("path: {}", folder.display()));
    group.bench_function("2000_files", |b| b.iter(|| read_all(&stage)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
