//! Writes news corpora with ground truth.
//!
//! * `gen-news OUT_DIR` — the bundled sample: `OUT_DIR/<site>/<story>.txt` and `labels.tsv`.
//! * `gen-news --synthetic OUT_DIR [SEED] [STORIES]` — a planted-duplicate corpus for dedup
//!   evaluation: `OUT_DIR/corpus.jsonl` (id, text, site) and `OUT_DIR/labels.tsv` (id, cluster).

use std::io::Write;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--synthetic") {
        let out = std::path::Path::new(args.get(1).map(String::as_str).unwrap_or("synthetic"));
        let seed = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
        let stories = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(300);
        let options = millstone_testkit::news::SyntheticOptions { stories, ..Default::default() };
        let docs = millstone_testkit::news::synthetic_corpus(seed, &options);
        std::fs::create_dir_all(out)?;
        let mut corpus = std::io::BufWriter::new(std::fs::File::create(out.join("corpus.jsonl"))?);
        let mut labels = std::fs::File::create(out.join("labels.tsv"))?;
        writeln!(labels, "id\tcluster")?;
        for doc in &docs {
            let line = format!(
                "{{\"id\":{:?},\"text\":{},\"site\":{:?}}}",
                doc.id,
                json_string(&doc.text),
                doc.site
            );
            writeln!(corpus, "{line}")?;
            writeln!(labels, "{}\t{}", doc.id, doc.cluster)?;
        }
        eprintln!("wrote {} documents to {}", docs.len(), out.display());
        return Ok(());
    }
    let out = std::path::Path::new(args.first().map(String::as_str).unwrap_or("examples/news"));
    let docs = millstone_testkit::news::sample_corpus();
    let mut labels = std::fs::File::create(out.join("labels.tsv"))?;
    writeln!(labels, "id\tcluster")?;
    for doc in &docs {
        let path = out.join(format!("{}.txt", doc.id));
        std::fs::create_dir_all(path.parent().expect("has a parent"))?;
        std::fs::write(&path, &doc.text)?;
        writeln!(labels, "{}\t{}", doc.id, doc.cluster)?;
    }
    eprintln!("wrote {} documents to {}", docs.len(), out.display());
    Ok(())
}

/// A JSON string literal (the testkit has no JSON dependency).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
