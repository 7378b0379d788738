use millstone_core::{Document, Profile, Provenance};
use serde_json::json;

use super::*;

fn profile(docs: impl IntoIterator<Item = Document>, full: bool) -> serde_json::Value {
    let mut p = Profile::default();
    for d in docs {
        if full {
            p.record_full(&d);
        } else {
            p.record_shape(&d);
        }
    }
    serde_json::to_value(p).unwrap()
}

fn doc(i: usize) -> Document {
    let text = "word ".repeat(10 + i * 7);
    Document::new(format!("d{i}"), text)
        .with_provenance(Provenance::line("in/news.jsonl", i as u64 + 1))
        .with_meta("url", format!("https://site{}.example/a", i % 4))
        .with_meta("lang", if i % 5 == 0 { "de" } else { "en" })
        .with_meta("lang_score", 0.5 + (i % 50) as f64 / 100.0)
        .with_meta(
            "quality",
            json!({"gopher": {"verdict": if i % 3 == 0 { "gopher_short_document" } else { "keep" }}}),
        )
}

fn report() -> serde_json::Value {
    let docs: Vec<Document> = (0..120).map(doc).collect();
    json!({
        "pipeline": "explore <test>",
        "threads": 2,
        "elapsed_secs": 1.5,
        "peak_rss_bytes": 52_000_000u64,
        "totals": {"input": 121, "written": 100, "dropped": 20, "failed": 1},
        "stages": [
            {"id": "read", "type": "ingest.jsonl", "kind": "source", "docs_in": 121, "docs_out": 120, "failed": 1,
             "bytes_in": 100, "bytes_out": 100, "profile": profile(docs.clone(), false)},
            {"id": "filter", "type": "clean.filter", "kind": "transform", "docs_in": 120, "docs_out": 100,
             "dropped": {"expression_false": 20},
             "thresholds": [{"field": "lang_score", "op": ">=", "value": 0.65}]},
            {"id": "out", "type": "export.jsonl", "kind": "sink", "docs_in": 100, "docs_out": 100,
             "profile": profile(docs[..100].to_vec(), true)},
            {"id": "dedup", "type": "dedup.minhash", "kind": "barrier",
             "profile": {"histograms": {"cluster_size": {"count": 3, "min": 2.0, "max": 5.0, "positive": {"35": 2, "81": 1}}}}}
        ]
    })
}

#[test]
fn every_section_is_drawn() {
    let html = render(&report()).unwrap();
    for chart in [
        "funnel",
        "drop_reasons",
        "length_chars",
        "length_words",
        "field_lang_score",
        "category_lang",
        "category_quality.gopher.verdict",
        "sources",
        "clusters_dedup",
    ] {
        let at = html.find(&format!("data-chart=\"{chart}\"")).unwrap_or_else(|| panic!("no chart {chart}"));
        let figure = &html[at..at + html[at..].find("</figure>").unwrap()];
        assert!(figure.contains("<svg") && figure.contains("<rect"), "chart {chart} has no bars");
    }
    assert!(html.contains("filter &gt;="), "the threshold is drawn and labelled");
    assert!(html.contains("quality.gopher.verdict=gopher_short_document"), "verdict samples are listed");
    assert!(html.contains("in/news.jsonl:1"), "samples say where they came from");
}

#[test]
fn the_page_needs_no_network_and_no_script() {
    let html = render(&report()).unwrap();
    assert!(!html.contains("<script"));
    for attr in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(attr), "{attr}");
    }
}

#[test]
fn text_is_escaped() {
    let mut r = report();
    r["stages"][0]["id"] = json!("<b>x</b>");
    let html = render(&r).unwrap();
    assert!(!html.contains("<b>x</b>") && html.contains("&lt;b&gt;x&lt;/b&gt;"));
}

#[test]
fn empty_and_foreign_reports() {
    let html = render(&json!({})).unwrap();
    assert!(html.contains("No documents were profiled"));
    assert!(matches!(render(&json!({"stages": 3})), Err(Error::NotAReport(_))));
}
