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

/// Applies a built transform stage to every document (the way the runner's workers do).
pub fn apply_all(stage: &millstone_core::Stage, docs: &[millstone_core::Document]) -> usize {
    let millstone_core::Stage::Transform(t) = stage else { panic!("not a transform") };
    let mut emit = millstone_core::Emit::new(false);
    for d in docs {
        t.apply(d.clone(), &mut emit).unwrap();
    }
    emit.kept().len()
}

/// Documents from texts.
pub fn documents(texts: &[String]) -> Vec<millstone_core::Document> {
    texts.iter().enumerate().map(|(i, t)| millstone_core::Document::new(format!("d{i}"), t.clone())).collect()
}

/// Builds a stage from YAML fields with the built-in registry.
pub fn build(type_name: &str, yaml: &str) -> millstone_core::Stage {
    let registry = millstone::builtin_registry();
    let value: serde_json::Value =
        serde_yaml::from_str::<serde_json::Value>(yaml).unwrap_or(serde_json::json!({}));
    let value = if value.is_null() { serde_json::json!({}) } else { value };
    match registry.get(type_name).unwrap().build(&value, &millstone_core::BuildContext::for_tests()) {
        Ok(stage) => stage,
        Err(problems) => panic!("{type_name}: {problems:?}"),
    }
}
