//! `pipelines/web.yaml` on the bundled crawl (`examples/web`, pages written for millstone):
//! where every WARC record ends, what the Parquet output holds. Needs the real lid.176 model
//! (`MILLSTONE_LID176`, set by .ci/python.sh); without it the test says so and skips.

mod common;

use common::{millstone, stderr};
use millstone_core::{Source, SourceItem};

#[test]
fn web_pipeline_runs_on_the_bundled_crawl_with_the_expected_counts() {
    let Some(model) = millstone_testkit::laws::lid176() else {
        eprintln!(
            "web pipeline test skipped: it needs lid.176.ftz (set MILLSTONE_LID176; .ci/python.sh does)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let out = millstone(&[
        "run",
        "pipelines/web.yaml",
        "--quiet",
        "--set",
        &format!("stages.3.model_path={}", model.display()),
        "--set",
        &format!("runtime.out_dir={d}"),
        "--set",
        &format!("stages.8.report={d}/near.jsonl"),
        "--set",
        &format!("stages.11.path={d}/web.parquet"),
        "--report",
        &format!("{d}/run.json"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("run.json")).unwrap()).unwrap();
    assert_eq!(report["conserved"], true);
    // 27 records: warcinfo, 13 requests, 13 responses (a 404 and an image among them).
    assert_eq!(report["totals"]["input"], 27);
    assert_eq!(report["totals"]["written"], 5);
    assert_eq!(report["totals"]["failed"], 0);
    let stages = report["stages"].as_array().unwrap();
    let dropped = |i: usize| stages[i]["dropped"].clone();
    let expected = [
        (0, serde_json::json!({"record_type": 14, "http_status": 1, "mime_type": 1})),
        (2, serde_json::json!({"blocked_domain": 1})),
        (3, serde_json::json!({"wrong_language": 1, "low_language_score": 1})),
        // The page built of repeated lines: `clean.html_to_text` drops its repeated lines
        // (`drop_repeated_lines`), and what is left repeats its 4-grams.
        (4, serde_json::json!({"top_4_gram": 1})),
        (6, serde_json::json!({"too_few_sentences": 1})),
        (8, serde_json::json!({"near_duplicate": 1})),
    ];
    for (i, reasons) in expected {
        assert_eq!(dropped(i), reasons, "drops of {}", stages[i]["id"]);
    }
    assert_eq!(stages[2]["counters"]["blocked_gambling"], 1);
    let decontaminate = &stages[9];
    assert_eq!(decontaminate["counters"]["contaminated_docs"], 1);
    assert_eq!(decontaminate["counters"]["matched.quiz"], 1);

    let source = millstone_ingest::parquet::ParquetSource::new(millstone_ingest::parquet::ParquetConfig {
        inputs: millstone_ingest::Inputs::path(dir.path().join("web.parquet")),
        text_field: "text".into(),
        id_field: "id".into(),
        fields: None,
        batch_rows: 1024,
        invalid_utf8: Default::default(),
    });
    let mut docs = Vec::new();
    for shard in source.shards().unwrap() {
        source
            .read(&shard, &mut |item| {
                if let SourceItem::Doc(doc) = item {
                    docs.push(doc);
                }
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
    }
    let urls: Vec<&str> = docs.iter().map(|d| d.meta["url"].as_str().unwrap()).collect();
    assert_eq!(
        urls,
        [
            "https://harbornews.example/2026/ferry-timetable",
            "https://harbornews.example/2026/library-reopens",
            "https://valleytimes.example/city/bridge-repairs",
            "https://valleytimes.example/science/bees",
            "https://harbornews.example/2026/school-garden",
        ]
    );
    for doc in &docs {
        assert_eq!(doc.meta["lang"], "en");
        let tokens = doc.meta["tokens"].as_u64().unwrap();
        let words = doc.text.split_whitespace().count() as u64;
        assert!(tokens >= words && tokens < 2 * words, "{} tokens for {words} words", tokens);
        assert!(!doc.text.contains("Privacy") && !doc.text.contains("Subscribe"), "{}", doc.text);
    }
    // The benchmark question was cut out of the bees page, with the text around it kept.
    let bees = &docs[3];
    assert!(!bees.text.contains("seventeen sheep"), "{}", bees.text);
    assert!(bees.text.contains("Beekeepers in the valley") && bees.text.contains("clover and dandelions"));
    let matched = bees.meta["contamination"].as_str().map(|s| serde_json::from_str(s).unwrap());
    let matched: serde_json::Value = matched.unwrap_or_else(|| bees.meta["contamination"].clone());
    assert_eq!(matched[0]["item"], "riddle-1");
    assert_eq!(matched[0]["benchmark"], "quiz");
}
