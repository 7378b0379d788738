//! Replays every committed fuzz corpus (`fuzz/corpus/<target>/*`) through its target, on
//! stable: an input that once crashed a target stays a regression test.

use std::path::Path;

#[test]
fn every_fuzz_corpus_replays_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (name, target) in millstone::fuzzing::TARGETS {
        let dir = root.join(name);
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|_| panic!("no corpus for fuzz target `{name}` in {}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "the corpus of `{name}` is empty");
        for input in inputs {
            // A running fuzzer may remove inputs while it minimises its corpus.
            let Ok(data) = std::fs::read(&input) else { continue };
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "fuzz target `{name}` fails on {}", input.display());
        }
    }
}
