use millstone_core::Document;
use proptest::prelude::*;

use super::*;

/// A reader of the layout, written from the published format (as Megatron's `_IndexReader`).
fn read_part(bin: &Path, idx: &Path) -> (u8, Vec<Vec<u32>>) {
    let idx = std::fs::read(idx).unwrap();
    assert_eq!(&idx[..9], MAGIC);
    assert_eq!(u64::from_le_bytes(idx[9..17].try_into().unwrap()), 1);
    let dtype = idx[17];
    let sequences = u64::from_le_bytes(idx[18..26].try_into().unwrap()) as usize;
    let documents = u64::from_le_bytes(idx[26..34].try_into().unwrap()) as usize;
    assert_eq!(documents, sequences + 1);
    let mut at = 34;
    let lengths: Vec<i32> = (0..sequences)
        .map(|i| i32::from_le_bytes(idx[at + 4 * i..at + 4 * i + 4].try_into().unwrap()))
        .collect();
    at += 4 * sequences;
    let pointers: Vec<i64> = (0..sequences)
        .map(|i| i64::from_le_bytes(idx[at + 8 * i..at + 8 * i + 8].try_into().unwrap()))
        .collect();
    at += 8 * sequences;
    let doc_index: Vec<i64> = (0..documents)
        .map(|i| i64::from_le_bytes(idx[at + 8 * i..at + 8 * i + 8].try_into().unwrap()))
        .collect();
    assert_eq!(at + 8 * documents, idx.len(), "trailing bytes in the index");
    assert_eq!(doc_index, (0..documents as i64).collect::<Vec<_>>());
    let width = if dtype == DTYPE_INT32 { 4 } else { 2 };
    let bin = std::fs::read(bin).unwrap();
    let total: i64 = lengths.iter().map(|&l| l as i64 * width as i64).sum();
    assert_eq!(total as usize, bin.len());
    let sequences = lengths
        .iter()
        .zip(&pointers)
        .map(|(&len, &ptr)| {
            let bytes = &bin[ptr as usize..ptr as usize + len as usize * width];
            bytes
                .chunks_exact(width)
                .map(|c| {
                    if width == 4 {
                        i32::from_le_bytes(c.try_into().unwrap()) as u32
                    } else {
                        u16::from_le_bytes(c.try_into().unwrap()) as u32
                    }
                })
                .collect()
        })
        .collect();
    (dtype, sequences)
}

fn write(config: TokensSinkConfig, docs: &[Document], batch: usize) -> Vec<PathBuf> {
    let Stage::Sink(mut sink) = config.build(&BuildContext::for_tests()).unwrap() else { panic!() };
    for (seq, chunk) in docs.chunks(batch).enumerate() {
        let batch = Batch::new(seq as u64, chunk.to_vec());
        let encoded = sink.encoder().unwrap().encode(&batch).unwrap();
        sink.write_encoded(&batch, &encoded).unwrap();
    }
    let summary = sink.finish().unwrap();
    assert_eq!(summary.docs, docs.len() as u64);
    summary.files
}

fn read_all(dir: &Path) -> (u8, Vec<Vec<u32>>) {
    let mut parts = 0;
    let mut all = Vec::new();
    let mut dtype = 0;
    while dir.join(format!("part-{parts:05}.idx")).exists() {
        let (d, seqs) =
            read_part(&dir.join(format!("part-{parts:05}.bin")), &dir.join(format!("part-{parts:05}.idx")));
        dtype = d;
        all.extend(seqs);
        parts += 1;
    }
    assert!(parts > 0);
    (dtype, all)
}

fn docs(texts: &[&str]) -> Vec<Document> {
    texts.iter().enumerate().map(|(i, t)| Document::new(format!("d{i}"), *t)).collect()
}

#[test]
fn documents_round_trip_through_bin_and_idx_with_end_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let texts = ["Hello world", "", "Le conseil a voté. 市议会 🚀", "a <|endoftext|> inside"];
    let files = write(TokensSinkConfig::to(&dir.path().join("tok")), &docs(&texts), 3);
    assert_eq!(files.len(), 2);
    let (dtype, sequences) = read_all(&dir.path().join("tok"));
    assert_eq!(dtype, DTYPE_INT32);
    let tokenizer = Tokenizer::named("cl100k_base").unwrap();
    for (text, seq) in texts.iter().zip(&sequences) {
        assert_eq!(seq.last(), Some(&100_257));
        assert_eq!(tokenizer.decode(&seq[..seq.len() - 1]).unwrap(), *text);
        assert_eq!(seq.iter().filter(|&&t| t == 100_257).count(), 1, "{text}: a text forged the end token");
    }
    assert_eq!(sequences[0], [9906, 1917, 100_257]);
}

#[test]
fn small_vocabularies_are_uint16_and_eod_is_optional() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = TokensSinkConfig::to(&dir.path().join("tok"));
    config.tokenizer = "gpt2".into();
    config.append_eod = false;
    write(config, &docs(&["Hello world"]), 1);
    let (dtype, sequences) = read_all(&dir.path().join("tok"));
    assert_eq!(dtype, DTYPE_UINT16);
    assert_eq!(sequences, [vec![15496, 995]]);
}

#[test]
fn parts_rotate_before_the_size_bound() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = TokensSinkConfig::to(&dir.path().join("tok"));
    config.max_file_bytes = Some(ByteSize(1024));
    let text = "word ".repeat(100); // 101 tokens with the end token: 404 bytes
    let many: Vec<Document> = (0..7).map(|i| Document::new(format!("d{i}"), text.clone())).collect();
    write(config, &many, 2);
    let dir = dir.path().join("tok");
    for part in 0..4 {
        let bin = dir.join(format!("part-{part:05}.bin"));
        assert!(std::fs::metadata(&bin).unwrap().len() <= 1024, "{}", bin.display());
    }
    assert!(!dir.join("part-00004.bin").exists());
    assert_eq!(read_all(&dir).1.len(), 7);
}

#[test]
fn no_documents_still_make_a_valid_empty_dataset() {
    let dir = tempfile::tempdir().unwrap();
    write(TokensSinkConfig::to(&dir.path().join("tok")), &[], 1);
    assert!(read_all(&dir.path().join("tok")).1.is_empty());
}

#[test]
fn bad_tokenizers_are_config_errors() {
    let mut config = TokensSinkConfig::to(Path::new("out"));
    config.tokenizer = "cl100k".into();
    let errors = config.validate().unwrap_err();
    assert!(errors[0].message.contains("did you mean cl100k_base"), "{errors:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn shuffled_output_is_a_permutation_independent_of_batching(
        texts in proptest::collection::vec("[a-z ]{0,30}", 0..20),
        batch in 1usize..6,
        seed in 0u64..4,
    ) {
        let documents: Vec<Document> =
            texts.iter().enumerate().map(|(i, t)| Document::new(format!("d{i}"), t.clone())).collect();
        let run = |batch: usize| {
            let dir = tempfile::tempdir().unwrap();
            let mut config = TokensSinkConfig::to(&dir.path().join("tok"));
            config.shuffle = true;
            config.seed = seed;
            write(config, &documents, batch);
            let leftovers = std::fs::read_dir(dir.path().join("tok")).unwrap().count();
            (read_all(&dir.path().join("tok")).1, leftovers)
        };
        let (one, files) = run(batch);
        let (other, _) = run(1000);
        prop_assert_eq!(&one, &other);
        prop_assert_eq!(files, 2, "the spill file is left behind");
        let tokenizer = Tokenizer::named("cl100k_base").unwrap();
        let mut decoded: Vec<String> = one.iter().map(|s| tokenizer.decode(&s[..s.len() - 1]).unwrap()).collect();
        let mut expected = texts.clone();
        decoded.sort();
        expected.sort();
        prop_assert_eq!(decoded, expected);
    }
}
