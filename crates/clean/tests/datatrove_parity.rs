//! Agreement with datatrove's verdicts (generated once with datatrove 0.x and committed in
//! `tests/data/datatrove_verdicts.jsonl`) on 265 synthetic documents built around each rule's
//! thresholds. Known deviations are listed in the crate's `quality` module docs and counted here.

use millstone_clean::quality::{
    C4Config, FineWeb, FineWebConfig, GopherQuality, GopherQualityConfig, GopherRepetition,
    GopherRepetitionConfig, C4,
};
use millstone_core::Verdict;

fn label(v: Verdict) -> String {
    match v {
        Verdict::Keep => "keep".into(),
        Verdict::Drop(r) => r.0.into(),
    }
}

#[test]
fn verdicts_agree_with_datatrove() {
    let rows: Vec<serde_json::Value> = include_str!("data/datatrove_verdicts.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let gq = GopherQuality::new(GopherQualityConfig::default());
    let gr = GopherRepetition::new(GopherRepetitionConfig::default());
    let c4 = C4::new(C4Config::default()).unwrap();
    let fw = FineWeb::new(FineWebConfig::default());
    let mut report = String::new();
    let mut agreement = Vec::new();
    for name in ["gopher_quality", "gopher_repetition", "c4", "fineweb"] {
        let mut same = 0;
        for row in &rows {
            let text = row["text"].as_str().unwrap();
            let ours = match name {
                "gopher_quality" => label(gq.verdict(text)),
                "gopher_repetition" => label(gr.verdict(text)),
                "c4" => match c4.apply_to(text) {
                    Ok(kept) => {
                        if row["c4_text"].as_str() == Some(kept.as_str()) {
                            "keep".into()
                        } else {
                            "keep(other text)".into()
                        }
                    }
                    Err(reason) => reason.into(),
                },
                _ => label(fw.verdict(text)),
            };
            let theirs = row[name].as_str().unwrap();
            if ours == theirs {
                same += 1;
            } else {
                report.push_str(&format!("{name} #{}: datatrove {theirs}, millstone {ours}\n", row["id"]));
            }
        }
        agreement.push((name, same as f64 / rows.len() as f64));
    }
    eprintln!("{report}");
    for (name, rate) in &agreement {
        eprintln!("{name}: {:.1}% agreement on {} documents", rate * 100.0, rows.len());
    }
    for (name, rate) in agreement {
        assert!(rate == 1.0, "{name}: {:.1}% agreement with datatrove; deviations:\n{report}", rate * 100.0);
    }
}
