use proptest::prelude::*;

use super::*;
use crate::document::Provenance;

fn doc(id: &str, text: &str) -> Document {
    Document::new(id, text).with_provenance(Provenance::line("in/a.jsonl", 3))
}

#[test]
fn quantiles_are_within_the_relative_accuracy() {
    let mut h = Histogram::default();
    for v in 1..=10_000 {
        h.record(v as f64);
    }
    for (q, exact) in [(0.0, 1.0), (0.5, 5000.0), (0.9, 9000.0), (1.0, 10_000.0)] {
        let got = h.quantile(q).unwrap();
        assert!((got - exact).abs() <= exact * RELATIVE_ACCURACY + 1.0, "q{q}: {got} vs {exact}");
    }
    assert_eq!((h.min, h.max, h.count), (1.0, 10_000.0, 10_000));
    assert!((h.fraction_at_most(1000.0) - 0.1).abs() < 0.01);
}

#[test]
fn zeros_negatives_and_non_finite_values() {
    let mut h = Histogram::default();
    for v in [0.0, -2.5, 3.0, f64::NAN, f64::INFINITY] {
        h.record(v);
    }
    assert_eq!(h.count, 3);
    assert_eq!(h.zeros, 1);
    assert_eq!(h.quantile(0.0), Some(-2.5));
    let values: Vec<f64> = h.buckets().iter().map(|(v, _)| *v).collect();
    assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
}

#[test]
fn histograms_survive_json() {
    let mut h = Histogram::default();
    for v in [0.2, 0.5, 7.0, -1.0, 0.0] {
        h.record(v);
    }
    let back: Histogram = serde_json::from_str(&serde_json::to_string(&h).unwrap()).unwrap();
    assert_eq!(back, h);
}

#[test]
fn full_profile_reads_tags_verdicts_and_sources() {
    let mut p = Profile::default();
    let d = doc("a", "one two  three\nfour")
        .with_meta("lang", "en")
        .with_meta("lang_score", 0.9)
        .with_meta("url", "https://News.example.org/x?y")
        .with_meta(
            "quality",
            serde_json::json!({"gopher": {"verdict": "too_short", "mean_word_length": 4.0}}),
        )
        .with_meta("dup", serde_json::json!({"cluster": 17}));
    p.record_full(&d);
    assert_eq!(p.docs, 1);
    assert_eq!(p.histograms["words"].max, 4.0);
    assert_eq!(p.histograms["chars"].max, 19.0);
    assert!(p.histograms.contains_key("meta.lang_score"));
    assert!(p.histograms.contains_key("meta.quality.gopher.mean_word_length"));
    assert!(!p.histograms.contains_key("meta.dup.cluster"), "identifiers are not measurements");
    assert_eq!(p.categories["meta.lang"]["en"], 1);
    assert_eq!(p.categories["meta.quality.gopher.verdict"]["too_short"], 1);
    assert_eq!(p.categories["source"]["news.example.org"], 1);
    let sample = &p.samples.0["quality.gopher.verdict=too_short"][0];
    assert_eq!(sample.location, "in/a.jsonl:3");
    assert_eq!(sample.signals["quality.gopher.mean_word_length"], 4.0);
}

#[test]
fn categories_stop_growing_at_the_cap() {
    let mut p = Profile::default();
    for i in 0..MAX_CATEGORY_VALUES + 5 {
        p.count("source", &i.to_string());
    }
    assert_eq!(p.categories["source"].len(), MAX_CATEGORY_VALUES + 1);
    assert_eq!(p.categories["source"]["(other)"], 5);
}

proptest! {
    #[test]
    fn merged_parts_equal_the_whole(values in prop::collection::vec(-1e6f64..1e6, 0..200), cut in 0usize..200) {
        let cut = cut.min(values.len());
        let mut whole = Histogram::default();
        values.iter().for_each(|v| whole.record(*v));
        let (mut a, mut b) = (Histogram::default(), Histogram::default());
        values[..cut].iter().for_each(|v| a.record(*v));
        values[cut..].iter().for_each(|v| b.record(*v));
        let mut ba = b.clone();
        a.merge(&b);
        ba.merge(&values[..cut].iter().fold(Histogram::default(), |mut h, v| { h.record(*v); h }));
        prop_assert_eq!(&a, &whole);
        prop_assert_eq!(&ba, &whole);
    }

    #[test]
    fn every_quantile_is_near_a_true_value(values in prop::collection::vec(0.001f64..1e6, 1..200), q in 0.0f64..=1.0) {
        let mut h = Histogram::default();
        values.iter().for_each(|v| h.record(*v));
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let exact = sorted[(q * (sorted.len() - 1) as f64).floor() as usize];
        let got = h.quantile(q).unwrap();
        prop_assert!((got - exact).abs() <= exact * RELATIVE_ACCURACY * 1.01, "{} vs {}", got, exact);
    }

    #[test]
    fn samples_do_not_depend_on_order_or_split(ids in prop::collection::vec("[a-z]{1,6}", 0..40), cut in 0usize..40) {
        let cut = cut.min(ids.len());
        let offer_all = |ids: &[String]| {
            let mut s = Samples::default();
            for id in ids {
                let d = doc(id, "text");
                s.offer("drop:x", sample_rank(id), || Sample::of(&d, sample_rank(id)));
            }
            s
        };
        let whole = offer_all(&ids);
        let mut reversed: Vec<String> = ids.clone();
        reversed.reverse();
        let mut parts = offer_all(&ids[cut..]);
        parts.merge(&offer_all(&ids[..cut]));
        prop_assert_eq!(&offer_all(&reversed), &whole);
        prop_assert_eq!(&parts, &whole);
        if let Some(kept) = whole.0.get("drop:x") {
            prop_assert!(kept.len() <= SAMPLES_PER_KEY);
        }
    }

    #[test]
    fn chars_and_words_count_like_std(text in "\\PC{0,60}|[ \\ta-zé\n]{0,60}") {
        prop_assert_eq!(count_chars(&text), text.chars().count() as u64);
        prop_assert_eq!(count_words(&text), text.split_ascii_whitespace().count() as u64);
    }

    /// Every control byte, DEL, and characters whose UTF-8 bytes are a whitespace byte with the
    /// high bit set (U+0149 is C5 89, U+0120 is C4 A0), across several 8-byte chunks.
    #[test]
    fn the_word_at_a_time_count_equals_the_byte_at_a_time_one(
        chars in prop::collection::vec(prop_oneof![
            (0u32..=0x20).prop_map(|c| char::from_u32(c).unwrap()),
            prop::sample::select(vec!['\u{7f}', '\u{149}', '\u{120}', '\u{a0}', '\u{8a}', 'é', '中', '😀', 'a', 'Z']),
        ], 0..200)
    ) {
        let text: String = chars.into_iter().collect();
        let shape = TextShape::of(&text);
        prop_assert_eq!(shape.chars, text.chars().count() as u64);
        prop_assert_eq!(shape.words, text.split_ascii_whitespace().count() as u64);
    }
}
