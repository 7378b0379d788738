//! # millstone-testkit
//!
//! Shared test material: proptest strategies for hostile text (combining marks, RTL, emoji ZWJ
//! sequences, CRLF, NUL, very long lines), document generators, and a deterministic generator
//! of news-style corpora with planted duplicates and ground-truth labels ([`news`]), and the
//! stage laws every registered stage must obey ([`laws`]).
#![deny(missing_docs)]

pub mod laws;
pub mod news;

use millstone_core::Document;
use proptest::prelude::*;

/// Pieces that break naive text code.
const HOSTILE: &[&str] = &[
    "e\u{301}",
    "a\u{308}\u{332}",
    "שלום עולם",
    "مرحبا",
    "👩\u{200D}🚀",
    "🇫🇷",
    "\r\n",
    "\r",
    "\n",
    "\n\n",
    "\u{0}",
    "\t",
    "\u{200B}",
    "\u{FEFF}",
    "ﬁ",
    "Ｗ",
    "“quoted”",
    "—",
    "…",
    "Mr.",
    "U.S.",
    "3.14",
    " ",
    "  ",
    "中文字符",
    "ß",
    "İ",
    "\u{a0}",
    "a",
    "word",
    "The",
    ".",
    "!",
    "?",
    "\u{2028}",
];

/// Arbitrary text mixing ASCII words with hostile pieces; up to a few hundred bytes.
pub fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => "[a-zA-Z]{1,8}",
            1 => "[ .,!?\n]{1,3}",
            2 => prop::sample::select(HOSTILE).prop_map(str::to_string),
            1 => any::<char>().prop_map(|c| c.to_string()),
        ],
        0..60,
    )
    .prop_map(|parts| parts.concat())
}

/// Text that sometimes contains one very long line (tens of kilobytes).
pub fn text_with_long_lines() -> impl Strategy<Value = String> {
    (text(), prop::bool::weighted(0.1), 1000usize..20_000).prop_map(|(t, long, n)| {
        if long {
            format!("{t}{}", "long ".repeat(n / 5))
        } else {
            t
        }
    })
}

/// A list of documents with ids `d0, d1, ...`; some texts repeat (to exercise dedup).
pub fn documents(max: usize) -> impl Strategy<Value = Vec<Document>> {
    prop::collection::vec(prop_oneof![4 => text(), 1 => prop::sample::select(vec!["same text", "other text", ""]).prop_map(str::to_string)], 0..max)
        .prop_map(|texts| texts.into_iter().enumerate().map(|(i, t)| Document::new(format!("d{i}"), t)).collect())
}

/// Documents for the stage laws: hostile text, empty text, very long lines, CRLF, repeated
/// texts and lines, and a `site` in meta (two sites) so per-source stages have work to do.
pub fn law_documents(max: usize) -> impl Strategy<Value = Vec<Document>> {
    let shared = "Subscribe to our newsletter for more.\r\nShare this article";
    let piece = prop_oneof![
        4 => text(),
        1 => text_with_long_lines(),
        1 => prop::sample::select(vec!["same text", "", "The same sentence repeats here. The same sentence repeats here."])
            .prop_map(str::to_string),
        1 => text().prop_map(move |t| format!("{t}\r\n{shared}\r\n")),
    ];
    prop::collection::vec((piece, prop::bool::ANY), 0..max).prop_map(|texts| {
        texts
            .into_iter()
            .enumerate()
            .map(|(i, (t, site))| {
                Document::new(format!("d{i}"), t).with_meta("site", if site { "a.org" } else { "b.org" })
            })
            .collect()
    })
}

/// Near-duplicate test corpora: up to `max_docs` documents, each a copy of one of `bases`
/// random texts of `words` words (vocabulary `vocabulary`) with up to `max_edits` words
/// replaced: clusters of varying similarity. Ids are `d00`, `d01`, ...
pub fn edited_copies(
    bases: u64,
    words: usize,
    vocabulary: usize,
    max_edits: usize,
    max_docs: usize,
) -> impl Strategy<Value = Vec<Document>> {
    let edit = (0..words, 0usize..5000);
    proptest::collection::vec((0..bases, proptest::collection::vec(edit, 0..max_edits)), 1..max_docs)
        .prop_map(move |specs| {
            specs
                .into_iter()
                .enumerate()
                .map(|(i, (base, edits))| {
                    let mut rng = news::Rng::new(base);
                    let mut w: Vec<String> =
                        (0..words).map(|_| format!("w{}", rng.below(vocabulary))).collect();
                    for (pos, v) in edits {
                        w[pos] = format!("e{v}");
                    }
                    Document::new(format!("d{i:02}"), w.join(" "))
                })
                .collect()
        })
}

/// Asserts that every span of `doc` is non-empty, in bounds and on char boundaries.
pub fn assert_spans_valid(doc: &Document) {
    for span in &doc.spans {
        assert!(span.start < span.end, "empty or reversed span {span:?}");
        assert!(span.end <= doc.text.len(), "span {span:?} beyond text of {} bytes", doc.text.len());
        assert!(
            doc.text.is_char_boundary(span.start) && doc.text.is_char_boundary(span.end),
            "span {span:?} not on char boundaries"
        );
    }
}

/// Reads every shard of a source in order and returns all items (documents and bad records).
pub fn read_all(source: &dyn millstone_core::Source) -> Vec<millstone_core::SourceItem> {
    let mut items = Vec::new();
    for shard in source.shards().expect("listing shards") {
        source
            .read(&shard, &mut |item| {
                items.push(item);
                std::ops::ControlFlow::Continue(())
            })
            .expect("reading a shard");
    }
    items
}

/// The documents among `read_all`'s items.
pub fn read_docs(source: &dyn millstone_core::Source) -> Vec<Document> {
    read_all(source)
        .into_iter()
        .filter_map(|i| if let millstone_core::SourceItem::Doc(d) = i { Some(d) } else { None })
        .collect()
}

/// Runs a barrier stage (with its prepare step) the way the runner does — batches of
/// `batch_size`, then `finish`, then `drain` until done — and returns the kept and dropped
/// documents in output order.
pub fn run_barrier(
    stage: millstone_core::Stage,
    docs: Vec<Document>,
    batch_size: usize,
) -> (Vec<Document>, Vec<Document>) {
    use millstone_core::{Batch, Emit, Stage};
    let Stage::Barrier { prepare, mut barrier } = stage else { panic!("not a barrier stage") };
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    let mut collect = |emit: Emit| {
        let (k, d, _) = emit.into_parts();
        kept.extend(k);
        dropped.extend(d.into_iter().filter_map(|(_, d)| d));
    };
    for (seq, chunk) in docs.chunks(batch_size.max(1)).enumerate() {
        let mut prepared = Emit::new(false);
        for d in chunk {
            match &prepare {
                Some(p) => p.apply(d.clone(), &mut prepared).expect("prepare step"),
                None => prepared.keep(d.clone()),
            }
        }
        let mut out = Emit::new(true);
        barrier.process(Batch::new(seq as u64, prepared.into_parts().0), &mut out).expect("process");
        collect(out);
    }
    let mut out = Emit::new(true);
    barrier.finish(&mut out).expect("finish");
    collect(out);
    loop {
        let mut out = Emit::new(true);
        let more = barrier.drain(&mut out, 3).expect("drain");
        collect(out);
        if !more {
            break;
        }
    }
    (kept, dropped)
}
