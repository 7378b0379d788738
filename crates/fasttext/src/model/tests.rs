use proptest::prelude::*;

use super::*;

/// Writes a small dense supervised model: words `good` and `bad`, labels `__label__pos` (3
/// examples) and `__label__neg` (1), 2 dimensions, `bucket` n-gram buckets of zeros.
fn tiny_model(loss: i32, minn: i32, maxn: i32, bucket: i32) -> Vec<u8> {
    let mut out = Vec::new();
    let i32_ = |out: &mut Vec<u8>, v: i32| out.extend_from_slice(&v.to_le_bytes());
    let i64_ = |out: &mut Vec<u8>, v: i64| out.extend_from_slice(&v.to_le_bytes());
    i32_(&mut out, MAGIC as i32);
    i32_(&mut out, 12);
    // dim ws epoch minCount neg wordNgrams loss model bucket minn maxn lrUpdateRate, t
    for v in [2, 5, 5, 1, 5, 1, loss, MODEL_SUPERVISED, bucket, minn, maxn, 100] {
        i32_(&mut out, v);
    }
    out.extend_from_slice(&1e-4f64.to_le_bytes());
    i32_(&mut out, 4);
    i32_(&mut out, 2);
    i32_(&mut out, 2);
    i64_(&mut out, 10);
    i64_(&mut out, -1);
    for (entry, count, kind) in
        [("good", 3i64, 0u8), ("bad", 1, 0), ("__label__pos", 3, 1), ("__label__neg", 1, 1)]
    {
        out.extend_from_slice(entry.as_bytes());
        out.push(0);
        i64_(&mut out, count);
        out.push(kind);
    }
    out.push(0);
    let rows = 2 + bucket as i64;
    i64_(&mut out, rows);
    i64_(&mut out, 2);
    let mut input = vec![1.0f32, 0.0, 0.0, 1.0];
    input.resize(rows as usize * 2, 0.0);
    for v in input {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.push(0);
    i64_(&mut out, 2);
    i64_(&mut out, 2);
    for v in [2.0f32, -1.0, -1.0, 2.0] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

#[test]
fn softmax_scores_the_average_of_word_rows() {
    let model = Model::read(&tiny_model(3, 0, 0, 0)[..]).unwrap();
    assert_eq!(model.loss(), Loss::Softmax);
    assert_eq!(model.labels(), ["__label__pos", "__label__neg"]);
    // hidden = (1, 0): scores 2 and -1.
    let got = model.predict("good", 2, 0.0);
    let pos = 1.0 / (1.0 + (-3.0f32).exp());
    assert_eq!(got[0].label(), "pos");
    assert!((got[0].probability - (pos + 1e-5)).abs() < 1e-6, "{got:?}");
    assert!((got[1].probability - (1.0 - pos + 1e-5)).abs() < 1e-6, "{got:?}");
    // Both words: hidden (0.5, 0.5), equal scores.
    let tie = model.predict("good\nbad", 1, 0.0);
    assert_eq!(tie.len(), 1);
    assert!((tie[0].probability - 0.5).abs() < 1e-4);
    assert_eq!(model.predict("bad", 1, 0.0)[0].label(), "neg");
    // Unknown words and labels alone give nothing; the threshold cuts.
    assert!(model.predict("unknown __label__pos", 2, 0.0).is_empty());
    assert_eq!(model.predict("good", 2, 0.5).len(), 1);
    assert!(model.predict("good", 0, 0.0).is_empty());
}

#[test]
fn hierarchical_softmax_walks_the_huffman_tree() {
    let model = Model::read(&tiny_model(1, 0, 0, 0)[..]).unwrap();
    // Two labels: one inner node (output row 0 = (2, -1)); right = the more frequent? fastText
    // picks the two smallest counts: leaf 1 (neg, 1) left, leaf 0 (pos, 3) right.
    let got = model.predict("good", 2, 0.0);
    let f = 1.0 / (1.0 + (-2.0f32).exp());
    assert_eq!(got[0].label(), "pos");
    assert!((got[0].probability - (f + 1e-5)).abs() < 1e-5, "{got:?}");
    assert!((got[1].probability - (1.0 - f + 1e-5)).abs() < 1e-5, "{got:?}");
}

#[test]
fn one_vs_all_gives_each_label_its_sigmoid() {
    let model = Model::read(&tiny_model(4, 0, 0, 0)[..]).unwrap();
    let got = model.predict("good", 2, 0.0);
    let s = |x: f32| 1.0 / (1.0 + (-x).exp()) + 1e-5;
    assert!((got[0].probability - s(2.0)).abs() < 1e-5 && (got[1].probability - s(-1.0)).abs() < 1e-5);
}

#[test]
fn subword_buckets_are_read_and_unknown_words_use_them() {
    // With buckets of zeros, an unknown word contributes zero rows to the average.
    let model = Model::read(&tiny_model(3, 2, 3, 16)[..]).unwrap();
    let with_unknown = model.predict("good zzz", 1, 0.0);
    let alone = model.predict("good", 1, 0.0);
    assert_eq!(with_unknown[0].label(), "pos");
    assert!(with_unknown[0].probability < alone[0].probability);
}

#[test]
fn bad_files_are_errors() {
    assert!(matches!(Model::read(&b"hello world, not a model"[..]), Err(Error::NotFastText { .. })));
    let mut wrong_version = tiny_model(3, 0, 0, 0);
    wrong_version[4] = 99;
    assert!(matches!(Model::read(&wrong_version[..]), Err(Error::Version(99))));
    let mut vectors = tiny_model(3, 0, 0, 0);
    vectors[8 + 7 * 4] = 2; // model = skipgram
    assert!(matches!(Model::read(&vectors[..]), Err(Error::NotSupervised("skipgram"))));
    let good = tiny_model(3, 0, 0, 0);
    assert!(matches!(Model::read(&good[..good.len() - 3]), Err(Error::Io(_))));
}

#[test]
fn huffman_tree_matches_fasttext_on_four_labels() {
    // counts sorted descending: leaves 0..4, inner 4..7, root 6.
    let tree = huffman_tree(&[10, 5, 2, 1]);
    assert_eq!((tree[4].left, tree[4].right), (3, 2));
    assert_eq!((tree[5].left, tree[5].right), (4, 1));
    assert_eq!((tree[6].left, tree[6].right), (5, 0));
    assert_eq!(tree[6].count, 18);
}

proptest! {
    #[test]
    fn predictions_are_sorted_bounded_probabilities(text in "\\PC{0,80}", k in 0usize..4, loss in 1i32..=4) {
        let model = Model::read(&tiny_model(loss, 2, 4, 8)[..]).unwrap();
        let got = model.predict(&text, k, 0.0);
        prop_assert!(got.len() <= k);
        for pair in got.windows(2) {
            prop_assert!(pair[0].probability >= pair[1].probability);
        }
        for p in &got {
            prop_assert!(p.probability > 0.0 && p.probability <= 1.0 + 1e-4, "{p:?}");
        }
    }

    #[test]
    fn any_prefix_of_a_model_is_an_error_not_a_panic(cut in 0usize..200) {
        let model = tiny_model(1, 2, 4, 8);
        let cut = cut.min(model.len() - 1);
        prop_assert!(Model::read(&model[..cut]).is_err());
    }

    #[test]
    fn any_corruption_is_an_error_or_a_model(at in 0usize..160, byte in any::<u8>()) {
        let mut model = tiny_model(1, 2, 4, 8);
        let at = at % model.len();
        model[at] = byte;
        if let Ok(m) = Model::read(&model[..]) {
            let _ = m.predict("good bad zz", 2, 0.0);
        }
    }
}
