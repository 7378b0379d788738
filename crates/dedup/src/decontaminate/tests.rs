use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use proptest::prelude::*;

use super::*;

const QUESTION: &str = "A train leaves the station at noon travelling sixty miles per hour toward a city two hundred miles away. When does it arrive?";
const ANSWER: &str = "It arrives at twenty past three in the afternoon.";

fn benchmark_file(dir: &Path) -> PathBuf {
    let path = dir.join("quiz.jsonl");
    let lines = [
        serde_json::json!({"id": "q1", "question": QUESTION, "answer": ANSWER}).to_string(),
        "not json at all".into(),
        serde_json::json!({"id": 2, "question": "Name the largest ocean on the planet Earth today please.", "answer": "Pacific"}).to_string(),
        serde_json::json!({"question": "Too short to match."}).to_string(),
        serde_json::json!({"other": "no indexed field"}).to_string(),
    ];
    std::fs::write(&path, lines.join("\n")).unwrap();
    path
}

fn config(path: &Path, on_match: OnMatch) -> DecontaminateConfig {
    DecontaminateConfig {
        benchmarks: vec![BenchmarkFiles {
            name: "quiz".into(),
            inputs: Inputs::path(path),
            fields: vec!["question".into(), "answer".into()],
            id_field: "id".into(),
        }],
        ngram: 13,
        min_words: 8,
        min_ngrams: 1,
        on_match,
        window: 20,
        max_cuts: 10,
        key: "contamination".into(),
    }
}

fn transform(config: &DecontaminateConfig) -> Arc<dyn Transform> {
    match config.build(&BuildContext::for_tests()).unwrap() {
        Stage::Transform(t) => t,
        _ => panic!("not a transform"),
    }
}

fn run(t: &dyn Transform, doc: Document) -> (Vec<Document>, Vec<String>) {
    let mut out = Emit::new(true);
    t.apply(doc, &mut out).unwrap();
    let (kept, dropped, _) = out.into_parts();
    (kept, dropped.into_iter().map(|(reason, _)| reason.0.to_string()).collect())
}

fn hashes(text: &str) -> Vec<u64> {
    let mut found = Vec::new();
    words(text, &mut found);
    found.into_iter().map(|w| w.hash).collect()
}

#[test]
fn words_ignore_case_punctuation_and_spacing_and_split_ideographs() {
    assert_eq!(hashes("Hello, World!"), hashes("hello world"));
    assert_eq!(hashes("ÉCOLE d'été"), hashes("école d ÉTÉ"));
    assert_eq!(hashes("東京都").len(), 3);
    assert_eq!(hashes("naïve café").len(), 2);
    assert!(hashes(" ... !!! ").is_empty());
    let mut found = Vec::new();
    words("über-Straße 42", &mut found);
    let pieces: Vec<&str> = found.iter().map(|w| &"über-Straße 42"[w.start..w.end]).collect();
    assert_eq!(pieces, ["über", "Straße", "42"]);
}

#[test]
fn thirteen_shared_words_match_and_twelve_do_not() {
    let mut index = NgramIndex::new(13, 8);
    assert!(index.add("quiz", "q1".into(), format!("{QUESTION}\n{ANSWER}")));
    let question_words: Vec<&str> = QUESTION.split_whitespace().collect();
    let thirteen = question_words[3..16].join(" ");
    let twelve = question_words[3..15].join(" ");
    let found = index.find(&format!("Unrelated opening words. {} and then more.", thirteen.to_uppercase()));
    assert_eq!(found.len(), 1);
    assert_eq!(index.item_id(found[0].item), ("quiz", "q1"));
    assert!(index.find(&format!("Unrelated opening words. {twelve} and then more.")).is_empty());
    // Across the question/answer boundary: the fields are indexed as one text.
    let boundary = format!("{} {}", question_words[question_words.len() - 6..].join(" "), ANSWER);
    assert!(!index.find(&boundary).is_empty());
}

#[test]
fn short_items_match_only_whole() {
    let mut index = NgramIndex::new(13, 5);
    assert!(!index.add("quiz", "tiny".into(), "two words".into()));
    assert!(index.add("quiz", "short".into(), "the capital of France is Paris".into()));
    assert_eq!(index.find("Quiz: The capital of France is Paris!").len(), 1);
    assert!(index.find("the capital of France is").is_empty());
    // Another item's 13-gram starting with the same words does not make a partial match count.
    assert!(index.add(
        "quiz",
        "long".into(),
        "the capital of France is a city of art museums cafes and old bridges".into()
    ));
    assert!(index.find("the capital of France is lovely").is_empty());
}

#[test]
fn drop_annotate_and_remove_report_the_item() {
    let dir = tempfile::tempdir().unwrap();
    let path = benchmark_file(dir.path());
    let leaked = format!(
        "Intro paragraph about trains and the people who ride them.\n\nPuzzle: {QUESTION} {ANSWER}\n\nThe end of the page, with more words to keep after the cut."
    );
    let clean = "A story about a train that left the station late and nothing else of note.";

    let (kept, dropped) = run(&*transform(&config(&path, OnMatch::Drop)), Document::new("d", leaked.clone()));
    assert!(kept.is_empty());
    assert_eq!(dropped, ["benchmark_overlap"]);
    let (kept, _) = run(&*transform(&config(&path, OnMatch::Drop)), Document::new("c", clean));
    assert_eq!(kept.len(), 1);
    assert!(!kept[0].meta.contains_key("contamination"));

    let (kept, _) = run(&*transform(&config(&path, OnMatch::Annotate)), Document::new("d", leaked.clone()));
    assert_eq!(kept[0].text, leaked);
    let listed = &kept[0].meta["contamination"][0];
    assert_eq!(listed["benchmark"], "quiz");
    assert_eq!(listed["item"], "q1");
    assert!(listed["ngrams"].as_u64().unwrap() > 10);
    let first = listed["start"].as_u64().unwrap() as usize..listed["end"].as_u64().unwrap() as usize;
    assert!(leaked[first].starts_with("A train leaves"));
    assert!(!kept[0].spans.is_empty());
    millstone_testkit::assert_spans_valid(&kept[0]);

    let (kept, _) = run(&*transform(&config(&path, OnMatch::Remove)), Document::new("d", leaked.clone()));
    let text = &kept[0].text;
    assert!(text.starts_with("Intro paragraph"), "{text}");
    assert!(text.ends_with("after the cut."), "{text}");
    assert!(!text.contains("train leaves") && !text.contains("twenty past"), "{text}");
    assert_eq!(kept[0].meta["contamination"][0]["item"], "q1");
}

#[test]
fn remove_cuts_the_window_around_each_match_and_drops_when_cut_too_often() {
    let dir = tempfile::tempdir().unwrap();
    let path = benchmark_file(dir.path());
    let filler = "lorem ipsum dolor sit amet ".repeat(20);
    let text = format!("{filler}{QUESTION}{filler}");
    let stage = transform(&config(&path, OnMatch::Remove));
    let (kept, _) = run(&*stage, Document::new("d", text.clone()));
    // 20 characters on either side go with the match.
    let (match_start, match_end) = (filler.len(), filler.len() + QUESTION.len() - 1);
    let expected = format!("{}\n{}", text[..match_start - 20].trim(), text[match_end + 20..].trim());
    assert_eq!(kept[0].text, expected);

    let many = (0..12).map(|_| format!("{filler}{QUESTION}")).collect::<String>();
    let (kept, dropped) = run(&*stage, Document::new("m", many));
    assert!(kept.is_empty());
    assert_eq!(dropped, ["benchmark_overlap_too_many_cuts"]);
    let (kept, dropped) = run(&*stage, Document::new("all", QUESTION));
    assert!(kept.is_empty());
    assert_eq!(dropped, ["benchmark_overlap"]);
}

#[test]
fn min_ngrams_sets_how_much_overlap_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = benchmark_file(dir.path());
    let mut strict = config(&path, OnMatch::Drop);
    strict.min_ngrams = 5;
    let words: Vec<&str> = QUESTION.split_whitespace().collect();
    let one_ngram = words[..13].join(" ");
    let (kept, _) = run(&*transform(&strict), Document::new("d", one_ngram));
    assert_eq!(kept.len(), 1);
    let (kept, _) = run(&*transform(&strict), Document::new("d", QUESTION));
    assert!(kept.is_empty());
}

#[test]
fn bad_benchmark_input_is_skipped_or_a_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let path = benchmark_file(dir.path());
    let Stage::Transform(_) = config(&path, OnMatch::Drop).build(&BuildContext::for_tests()).unwrap() else {
        panic!()
    };
    // Two of five lines are items: the bad JSON and the too-short and field-less ones are skipped.
    let mut index = NgramIndex::new(13, 8);
    let benchmark = &config(&path, OnMatch::Drop).benchmarks[0];
    let mut ids = Vec::new();
    read_items(&path, benchmark, &mut |id, text| {
        if index.add("quiz", id.clone(), text) {
            ids.push(id)
        }
    })
    .unwrap();
    assert_eq!(ids, ["q1", "2"]);

    let missing = config(&dir.path().join("nope.jsonl"), OnMatch::Drop);
    let err = missing
        .validate()
        .err()
        .map(|e| e[0].message.clone())
        .unwrap_or_else(|| missing.build(&BuildContext::for_tests()).err().unwrap().to_string());
    assert!(err.contains("nope.jsonl"), "{err}");

    let mut wrong_fields = config(&path, OnMatch::Drop);
    wrong_fields.benchmarks[0].fields = vec!["prompt".into()];
    let err = wrong_fields.build(&BuildContext::for_tests()).err().unwrap().to_string();
    assert!(err.contains("wrong `fields`"), "{err}");

    let mut twice = config(&path, OnMatch::Drop);
    twice.benchmarks.push(twice.benchmarks[0].clone());
    twice.ngram = 0;
    let problems = twice.validate().unwrap_err();
    let paths: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert!(paths.contains(&"benchmarks.1.name") && paths.contains(&"ngram"), "{paths:?}");
}

#[test]
fn parquet_and_text_benchmarks_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("quiz.parquet");
    let batch = RecordBatch::try_from_iter([
        ("question", Arc::new(StringArray::from(vec![QUESTION])) as ArrayRef),
        ("answer", Arc::new(StringArray::from(vec![ANSWER])) as ArrayRef),
    ])
    .unwrap();
    let file = std::fs::File::create(&parquet).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let text = dir.path().join("passages.txt");
    std::fs::write(&text, format!("\n{ANSWER} And so the puzzle ends here.\n")).unwrap();

    let mut both = config(&parquet, OnMatch::Annotate);
    both.benchmarks.push(BenchmarkFiles {
        name: "passages".into(),
        inputs: Inputs::path(&text),
        fields: default_fields(),
        id_field: default_id_field(),
    });
    let stage = transform(&both);
    let (kept, _) =
        run(&*stage, Document::new("d", format!("{QUESTION} {ANSWER} And so the puzzle ends here.")));
    let listed = kept[0].meta["contamination"].as_array().unwrap();
    let items: Vec<(&str, &str)> =
        listed.iter().map(|v| (v["benchmark"].as_str().unwrap(), v["item"].as_str().unwrap())).collect();
    assert_eq!(items, [("quiz", "quiz.parquet#0"), ("passages", "passages.txt:2")]);
}

/// The definition of a word, char by char: what the byte-level [`words`] must equal.
fn reference_words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let flush = |current: &mut Option<(usize, String)>, end: usize, out: &mut Vec<Word>| {
        if let Some((start, lowered)) = current.take() {
            out.push(Word { start, end, hash: xxhash_rust::xxh3::xxh3_64(lowered.as_bytes()) });
        }
    };
    for (i, c) in text.char_indices() {
        if !c.is_alphanumeric() {
            flush(&mut current, i, &mut out);
        } else if is_own_word(c) {
            flush(&mut current, i, &mut out);
            out.push(Word {
                start: i,
                end: i + c.len_utf8(),
                hash: xxhash_rust::xxh3::xxh3_64(c.to_lowercase().collect::<String>().as_bytes()),
            });
        } else {
            current.get_or_insert_with(|| (i, String::new())).1.extend(c.to_lowercase());
        }
    }
    flush(&mut current, text.len(), &mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn words_match_their_char_by_char_definition(text in millstone_testkit::text(), extra in "[A-Za-zÀ-ÿ東京 .,]{0,40}") {
        let text = format!("{text}{extra}");
        let mut fast = Vec::new();
        words(&text, &mut fast);
        prop_assert_eq!(fast, reference_words(&text));
    }

    /// No false negatives: any 13 consecutive words of an item, in any case and with any
    /// punctuation between them, embedded in any text, are found.
    #[test]
    fn any_item_window_is_found_wherever_it_is_written(
        item in prop::collection::vec("[a-z]{1,7}", 13..40),
        start in 0usize..27,
        before in millstone_testkit::text(),
        after in millstone_testkit::text(),
        separators in prop::collection::vec(prop::sample::select(vec![" ", ", ", "\n", " -- ", "! "]), 13),
        upper in any::<bool>(),
    ) {
        let mut index = NgramIndex::new(13, 8);
        index.add("b", "item".into(), item.join(" "));
        let start = start.min(item.len() - 13);
        let mut window = String::new();
        for (word, sep) in item[start..start + 13].iter().zip(&separators) {
            window.push_str(&if upper { word.to_uppercase() } else { word.clone() });
            window.push_str(sep);
        }
        let text = format!("{before} {window} {after}");
        let found = index.find(&text);
        prop_assert!(!found.is_empty(), "{text:?}");
        for m in &found {
            prop_assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end) && m.start < m.end);
        }
    }

    /// No false positives: text without the item's words never matches, however long.
    #[test]
    fn text_of_other_words_never_matches(
        item in prop::collection::vec("[a-m]{2,6}", 13..30),
        doc in prop::collection::vec("[n-z]{2,6}", 0..200),
    ) {
        let mut index = NgramIndex::new(13, 8);
        index.add("b", "item".into(), item.join(" "));
        prop_assert!(index.find(&doc.join(" ")).is_empty());
    }

    /// `remove` leaves no match of the item it cut, and keeps the text outside the windows.
    #[test]
    fn remove_leaves_none_of_the_matched_text(
        item in prop::collection::vec("[a-m]{2,6}", 13..20),
        before in prop::collection::vec("[n-z]{2,6}", 0..80),
        after in prop::collection::vec("[n-z]{2,6}", 0..80),
    ) {
        let mut index = NgramIndex::new(13, 8);
        index.add("b", "item".into(), item.join(" "));
        let text = format!("{} {} {}", before.join(" "), item.join(" "), after.join(" "));
        let found = index.find(&text);
        let ranges = cut_ranges(&text, &found, 5);
        prop_assert_eq!(ranges.len(), 1);
        let left = remove_and_join(&text, &ranges);
        prop_assert!(index.find(&left).is_empty());
        prop_assert!(left.len() <= text.len() - item.join(" ").len());
    }
}
