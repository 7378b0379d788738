//! Deterministic bench corpora, generated at bench start (never downloaded).

#![allow(dead_code)]

use millstone_testkit::news::{render, Rng, SITES, STORIES};

/// About `bytes` of news-style text as documents: stories rendered by different sites with
/// comment threads, with word substitutions so that not every copy is identical.
pub fn news_texts(bytes: usize) -> Vec<String> {
    let mut rng = Rng::new(7);
    let mut out = Vec::new();
    let mut total = 0;
    const SWAPS: &[&str] = &[
        "council", "harbour", "minister", "village", "river", "school", "price", "storm", "market", "report",
    ];
    while total < bytes {
        let story = &STORIES[rng.below(STORIES.len())];
        let site = &SITES[rng.below(SITES.len())];
        let text = render(story, site, rng.below(8), &mut rng);
        let text: String = text
            .split(' ')
            .map(|w| if rng.chance(0.05) { SWAPS[rng.below(SWAPS.len())] } else { w })
            .collect::<Vec<_>>()
            .join(" ");
        total += text.len();
        out.push(text);
    }
    out
}

/// The texts as a JSONL file body.
pub fn jsonl(texts: &[String]) -> String {
    let mut s = String::new();
    for (i, t) in texts.iter().enumerate() {
        s.push_str(&serde_json::json!({"id": format!("doc-{i}"), "text": t, "url": format!("https://example.org/{i}")}).to_string());
        s.push('\n');
    }
    s
}
