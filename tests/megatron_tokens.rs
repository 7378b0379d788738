//! `export.tokens` read by the real ecosystem: numpy reads the Megatron `.bin`/`.idx` layout
//! (a reader written from the published format, as Megatron's `_IndexReader`), and OpenAI's
//! `tiktoken` (PyPI) decodes the tokens; the texts must come back exactly. tiktoken cannot
//! download its tables here, so the test puts `cl100k_base` in tiktoken's cache from the table
//! `tiktoken-rs` ships (tiktoken checks its SHA-256, so it is the genuine file). It needs a Python
//! with `tiktoken` and `numpy` (`MILLSTONE_PYTHON`, else `python3`; `.ci/run` makes one) and
//! skips with a message otherwise.

use std::io::Write;
use std::process::Command;

const READER: &str = r#"
import base64, glob, hashlib, json, os, sys
import numpy as np

ranks_path, cache_dir, folder = sys.argv[1], sys.argv[2], sys.argv[3]
url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
with open(ranks_path) as ranks, open(os.path.join(cache_dir, hashlib.sha1(url.encode()).hexdigest()), "wb") as out:
    for line in ranks:
        hex_bytes, rank = line.split()
        out.write(base64.b64encode(bytes.fromhex(hex_bytes)) + b" " + rank.encode() + b"\n")
os.environ["TIKTOKEN_CACHE_DIR"] = cache_dir
import tiktoken
enc = tiktoken.get_encoding("cl100k_base")
eot = enc.eot_token
dtypes = {4: np.int32, 8: np.uint16}
texts = []
for idx_path in sorted(glob.glob(os.path.join(folder, "part-*.idx"))):
    raw = open(idx_path, "rb").read()
    assert raw[:9] == b"MMIDIDX\x00\x00", raw[:9]
    assert np.frombuffer(raw, np.uint64, 1, 9)[0] == 1
    dtype = dtypes[raw[17]]
    sequences = int(np.frombuffer(raw, np.uint64, 1, 18)[0])
    documents = int(np.frombuffer(raw, np.uint64, 1, 26)[0])
    lengths = np.frombuffer(raw, np.int32, sequences, 34)
    pointers = np.frombuffer(raw, np.int64, sequences, 34 + 4 * sequences)
    doc_idx = np.frombuffer(raw, np.int64, documents, 34 + 12 * sequences)
    assert len(raw) == 34 + 12 * sequences + 8 * documents
    assert list(doc_idx) == list(range(sequences + 1))
    data = np.memmap(idx_path[:-4] + ".bin", dtype=dtype, mode="r")
    for length, pointer in zip(lengths, pointers):
        start = int(pointer) // np.dtype(dtype).itemsize
        tokens = data[start:start + int(length)].tolist()
        assert tokens[-1] == eot and eot not in tokens[:-1], tokens
        texts.append(enc.decode(tokens[:-1]))
print(json.dumps(texts))
"#;

fn python() -> Option<String> {
    let python = std::env::var("MILLSTONE_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import tiktoken, numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: `{python}` cannot import tiktoken and numpy (pip install them in a venv and set MILLSTONE_PYTHON)");
    }
    ok.then_some(python)
}

#[test]
fn tiktoken_and_numpy_read_back_the_texts() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let texts: Vec<String> = vec![
        "The council approved the harbour budget on Tuesday.".into(),
        String::new(),
        "Grüße aus dem Hafen. 市议会周二批准了港口的新预算。 مرحبا 🚀🧑‍🚀".into(),
        "A document that mentions <|endoftext|> in its text.".into(),
        "Lines\nand\ttabs\r\n  and   spaces  ".into(),
        "word ".repeat(3000),
    ];
    let corpus = dir.path().join("corpus.jsonl");
    let mut out = std::fs::File::create(&corpus).unwrap();
    for (i, text) in texts.iter().enumerate() {
        writeln!(out, "{}", serde_json::json!({"id": format!("d{i}"), "text": text})).unwrap();
    }
    let pipeline = dir.path().join("pipeline.yaml");
    std::fs::write(
        &pipeline,
        format!(
            "stages:\n  - type: ingest.jsonl\n    paths: [{}]\n  - type: export.tokens\n    path: {}\n    tokenizer: cl100k_base\n    max_file_bytes: 4KiB\n",
            corpus.display(),
            dir.path().join("tokens").display()
        ),
    )
    .unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_millstone"))
        .args(["run", pipeline.to_str().unwrap(), "--quiet", "--report"])
        .arg(dir.path().join("run.json"))
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let parts = std::fs::read_dir(dir.path().join("tokens")).unwrap().count();
    assert!(parts >= 4, "expected the 4 KiB bound to split the output, found {parts} files");
    let tokenizer = millstone_tokens::Tokenizer::named("cl100k_base").unwrap();
    let ranks = dir.path().join("ranks.txt");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&ranks).unwrap());
    for id in 0..100_256 {
        let bytes = tokenizer.token_bytes(id).unwrap();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        writeln!(out, "{hex} {id}").unwrap();
    }
    drop(out);
    let cache = dir.path().join("tiktoken-cache");
    std::fs::create_dir_all(&cache).unwrap();
    let read = Command::new(&python)
        .args(["-c", READER])
        .arg(&ranks)
        .arg(&cache)
        .arg(dir.path().join("tokens"))
        .output()
        .unwrap();
    assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
    let back: Vec<String> = serde_json::from_slice(&read.stdout).unwrap();
    assert_eq!(back, texts);
}
